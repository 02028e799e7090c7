//! [`FaultKind`]: the closed list of fault kinds and the uniform interface every kind implements.
//!
//! Each kind lives in its own file (`latency.rs`, `status.rs`, `reset.rs`, `blackhole.rs`, `drip.rs`,
//! `host_down.rs`) with its configuration, its checks and the contract the server must honour. This file
//! only names them, gives them their wire shape and dispatches to them. It must not grow per-kind logic.

use serde::{Deserialize, Serialize};

use super::blackhole::Blackhole;
use super::decision::Action;
use super::drip::Drip;
use super::error::FaultError;
use super::host_down::HostDown;
use super::latency::Latency;
use super::reset::Reset;
use super::status::Status;

/// What a fault rule does to the calls it fires on.
///
/// Wire shape (TOML and JSON): a table tagged by `kind`, kebab-case, no unknown fields:
///
/// | `kind` | fields | [`Action`] |
/// |---|---|---|
/// | `latency` | `fixed_ms`, or `distribution` = `uniform` (`min_ms`, `max_ms`), `normal` (`mean_ms`, `stddev_ms`), `exponential` (`mean_ms`) | adds to [`Decision::delay`](super::Decision::delay) |
/// | `status` | `status`, optional `body` (JSON value or text), optional `content_type` | [`Action::Respond`] |
/// | `reset` | — | [`Action::Reset`] |
/// | `blackhole` | — | [`Action::Hang`] |
/// | `drip` | `bytes_per_chunk`, `chunk_delay_ms` | [`Action::Drip`] |
/// | `host-down` | — | [`Action::Refuse`] |
///
/// ```
/// use markcert_emulators::faults::FaultKind;
/// let kind: FaultKind = serde_json::from_str(r#"{"kind":"status","status":429}"#).unwrap();
/// assert_eq!(kind, FaultKind::rate_limited_429());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", from = "FaultKindFields")]
pub enum FaultKind {
    /// Delay the answer (fixed or drawn from a distribution). Latency rules add up and combine with
    /// the action of another rule.
    Latency(Latency),
    /// Answer with a chosen status and body (203, 418, 429, 5xx, 5000, …).
    Status(Status),
    /// Close the connection without a response.
    Reset,
    /// Accept and never answer.
    Blackhole,
    /// Answer normally, with a slow (dripping) body.
    Drip(Drip),
    /// The whole host is down: connections are refused.
    HostDown,
}

/// The wire form for reading: as [`FaultKind`], with the field-less kinds as empty struct variants, so
/// that unknown fields next to them are refused too (serde ignores them for unit variants).
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum FaultKindFields {
    Latency(Latency),
    Status(Status),
    Reset {},
    Blackhole {},
    Drip(Drip),
    HostDown {},
}

impl From<FaultKindFields> for FaultKind {
    fn from(fields: FaultKindFields) -> Self {
        match fields {
            FaultKindFields::Latency(latency) => FaultKind::Latency(latency),
            FaultKindFields::Status(status) => FaultKind::Status(status),
            FaultKindFields::Reset {} => FaultKind::Reset,
            FaultKindFields::Blackhole {} => FaultKind::Blackhole,
            FaultKindFields::Drip(drip) => FaultKind::Drip(drip),
            FaultKindFields::HostDown {} => FaultKind::HostDown,
        }
    }
}

/// What a kind turns into once its rule is in the table: prepared once in `add`, used on every call.
#[derive(Debug, Clone)]
pub(super) enum Effect {
    /// Sampled on every call the rule fires on.
    Delay(Latency),
    /// Cloned (reference counts only) on every call the rule fires on.
    Act(Action),
}

/// The interface every fault kind implements (one implementation per file).
pub(super) trait Fault {
    /// Refuses values outside their range.
    fn validate(&self) -> Result<(), FaultError>;
    /// Prepares what the table applies on each call. Called after [`validate`](Self::validate).
    fn effect(&self) -> Result<Effect, FaultError>;
    /// Short label for the trace when the rule has no name (e.g. `status 429`).
    fn label(&self) -> String;
}

impl FaultKind {
    fn as_fault(&self) -> &dyn Fault {
        match self {
            FaultKind::Latency(latency) => latency,
            FaultKind::Status(status) => status,
            FaultKind::Reset => &Reset,
            FaultKind::Blackhole => &Blackhole,
            FaultKind::Drip(drip) => drip,
            FaultKind::HostDown => &HostDown,
        }
    }

    /// Checks the values of this kind (status range, chunk size, …).
    pub fn validate(&self) -> Result<(), FaultError> {
        self.as_fault().validate()
    }

    pub(super) fn effect(&self) -> Result<Effect, FaultError> {
        let fault = self.as_fault();
        fault.validate()?;
        fault.effect()
    }

    pub(super) fn label(&self) -> String {
        self.as_fault().label()
    }
}
