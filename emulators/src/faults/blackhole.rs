//! Fault kind `blackhole`: accept the call and never answer.
//!
//! Owns the [`Blackhole`] kind (no configuration). Models a host that is reachable but stuck; the
//! client's own timeout is what is being tested (`true-api.md` §13.3: the 1500 ms online budget).
//!
//! Server contract for [`Action::Hang`]: read the request, then write nothing and keep the connection
//! open until the client closes it (or until the server shuts down). Never answer late.
//!
//! Wire shape: `fault = { kind = "blackhole" }`.

use super::decision::Action;
use super::error::FaultError;
use super::kind::{Effect, Fault};

/// Accept and never answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Blackhole;

impl Fault for Blackhole {
    fn validate(&self) -> Result<(), FaultError> {
        Ok(())
    }

    fn effect(&self) -> Result<Effect, FaultError> {
        Ok(Effect::Act(Action::Hang))
    }

    fn label(&self) -> String {
        "blackhole".to_string()
    }
}
