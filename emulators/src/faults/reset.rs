//! Fault kind `reset`: close the connection without a response.
//!
//! Owns the [`Reset`] kind (no configuration). Models a proxy or server that dies mid-request.
//!
//! Server contract for [`Action::Reset`]: read the request (so the client has sent it), wait the
//! delay, then close the socket abortively (`SO_LINGER` 0, so the client sees a TCP RST, not a clean
//! FIN) without writing a byte. The client must treat it as a network error (`true-api.md` §8: block the
//! host, try the next).
//!
//! Wire shape: `fault = { kind = "reset" }`.

use super::decision::Action;
use super::error::FaultError;
use super::kind::{Effect, Fault};

/// Close the connection without a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reset;

impl Fault for Reset {
    fn validate(&self) -> Result<(), FaultError> {
        Ok(())
    }

    fn effect(&self) -> Result<Effect, FaultError> {
        Ok(Effect::Act(Action::Reset))
    }

    fn label(&self) -> String {
        "reset".to_string()
    }
}
