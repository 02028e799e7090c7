//! Fault kind `host-down`: the whole host is down and refuses connections.
//!
//! Owns the [`HostDown`] kind (no configuration). Usually targeted at a host only (no endpoint) and
//! bounded by a `window` trigger, as a step of an outage timeline.
//!
//! Server contract for [`Action::Refuse`]: do not read the request; reset the connection at once. A
//! server may also ask [`FaultTable::connection_refused`](super::FaultTable::connection_refused) when it
//! accepts a connection and reset it before the TLS handshake, which is the closest a listening socket
//! gets to "connection refused". The client must treat it as a network error (block the host, try the
//! next).
//!
//! Wire shape: `fault = { kind = "host-down" }`.

use super::decision::Action;
use super::error::FaultError;
use super::kind::{Effect, Fault};

/// The host refuses connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostDown;

impl Fault for HostDown {
    fn validate(&self) -> Result<(), FaultError> {
        Ok(())
    }

    fn effect(&self) -> Result<Effect, FaultError> {
        Ok(Effect::Act(Action::Refuse))
    }

    fn label(&self) -> String {
        "host-down".to_string()
    }
}
