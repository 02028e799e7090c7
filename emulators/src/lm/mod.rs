//! The ЛМ ЧЗ emulator (spec `local-module.md`): the on-premises local module that answers code checks
//! from a snapshot of the operator's black lists when the online check is unavailable.
//!
//! Files: `options.rs` (the `lm.*` settings), `status.rs` (status values), `snapshot.rs` (the lists
//! copied from the world at each sync), `model.rs` (the state machine, the sold list and the answers,
//! pure logic on the world clock), `server.rs` (the HTTP API, v1 and v2, Basic auth, faults, trace).

pub mod model;
pub mod options;
pub mod server;
pub mod snapshot;
pub mod status;

pub use model::{InitRequest, LmError, LocalModule, NotReady, SyncOutcome};
pub use options::{LmOptions, TimeUnit, V2Fields, VersionPolicy};
pub use snapshot::{LmSnapshot, Prices};
pub use status::LmStatus;
