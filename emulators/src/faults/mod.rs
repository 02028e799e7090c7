//! The fault layer: how each call to an emulated host is disturbed.
//!
//! Owns the fault model only (pure logic, no I/O, no clock of its own): rules that say which calls
//! ([`FaultTarget`]: host, endpoint), when ([`Trigger`]: always, the n-th call, with a probability, calls
//! about a code, a window of world time) and what happens ([`FaultKind`]: latency, a chosen status and
//! body, reset, blackhole, slow body, host down). A [`FaultTable`] holds the rules of a run; it can be
//! changed at any time (control API, scenario steps) and is reproducible from a seed.
//!
//! An emulated server calls [`FaultTable::decide`] with a [`CallInfo`] for every call and carries out the
//! [`Decision`]: wait [`Decision::delay`], then perform the [`Action`]. Each fault-kind module documents
//! what the server must do for its action.
//!
//! Files: one per fault kind (`latency`, `status`, `reset`, `blackhole`, `drip`, `host_down`), all
//! behind the interface in `kind.rs`; `rule.rs` (targets, triggers, loaders); `table.rs` (the run-time
//! table and `decide`); `decision.rs` (what goes in and out of `decide`); `error.rs`.
//!
//! # An outage timeline
//!
//! Times are world-clock milliseconds. CDN host 1 is down for the first 15 minutes, then rate-limits
//! the 3rd check it gets; CDN host 2 is slow throughout; every host answers the cross-border 5000
//! for one code.
//!
//! ```
//! use markcert_emulators::faults::{Action, CallInfo, FaultRule, FaultTable};
//! use std::time::Duration;
//!
//! let timeline = FaultRule::list_from_toml(r#"
//!     [[rule]]
//!     name = "cdn-1 down for 15 min"
//!     target = { host = "cdn-1" }
//!     trigger = { window = { from_ms = 0, to_ms = 900_000 } }
//!     fault = { kind = "host-down" }
//!
//!     [[rule]]
//!     name = "cdn-1 rate-limits its 3rd check after it is back"
//!     target = { host = "cdn-1", endpoint = "/api/v4/true-api/codes/check" }
//!     trigger = { all_of = [ { window = { from_ms = 900_000, to_ms = 3_600_000 } }, { nth = { n = 3 } } ] }
//!     fault = { kind = "status", status = 429 }
//!
//!     [[rule]]
//!     name = "cdn-2 slow"
//!     target = { host = "cdn-2" }
//!     fault = { kind = "latency", distribution = "uniform", min_ms = 300, max_ms = 600 }
//!     seed = 7
//!
//!     [[rule]]
//!     name = "cross-border service down for one code"
//!     target = { host = "cdn-*", endpoint = "/api/v4/true-api/codes/check" }
//!     trigger = { matching_code = { contains = "0104600439931256" } }
//!     fault = { kind = "status", status = 503, body = { code = 5000, error_message = "5000", description = "cross-border check service unavailable" } }
//! "#)?;
//!
//! let faults = FaultTable::with_seed(42);
//! faults.set_timeline(timeline)?;
//!
//! let check = "/api/v4/true-api/codes/check";
//! let at = |host, world_ms| CallInfo::new(host, check, world_ms);
//! assert!(faults.connection_refused("cdn-1", 60_000));
//! assert_eq!(faults.decide(&at("cdn-1", 60_000)).action, Action::Refuse);
//!
//! let after: Vec<_> = (0..4).map(|i| faults.decide(&at("cdn-1", 900_000 + i)).action).collect();
//! assert!(matches!(after[2], Action::Respond { status: 429, .. }));
//! assert_eq!([&after[0], &after[1], &after[3]], [&Action::Pass; 3]);
//!
//! let slow = faults.decide(&at("cdn-2", 0));
//! assert!(slow.delay >= Duration::from_millis(300) && slow.delay < Duration::from_millis(600));
//!
//! let codes = ["0104600439931256215Sb&(x"];
//! let xb = faults.decide(&at("cdn-3", 0).with_codes(&codes));
//! assert!(matches!(xb.action, Action::Respond { status: 503, .. }));
//! assert_eq!(xb.fault_name.as_deref(), Some("cross-border service down for one code"));
//! # Ok::<(), markcert_emulators::faults::FaultError>(())
//! ```
//!
//! The same rules as JSON (control API bodies):
//! `{"name":"cdn-1 429","target":{"host":"cdn-1"},"trigger":{"nth":{"n":3}},"fault":{"kind":"status","status":429}}`.

pub mod blackhole;
mod decision;
pub mod drip;
mod error;
pub mod host_down;
mod kind;
pub mod latency;
pub mod reset;
mod rule;
pub mod status;
mod table;

pub use blackhole::Blackhole;
pub use decision::{Action, CallInfo, Decision};
pub use drip::Drip;
pub use error::FaultError;
pub use host_down::HostDown;
pub use kind::FaultKind;
pub use latency::Latency;
pub use reset::Reset;
pub use rule::{FaultRule, FaultTarget, RuleId, Trigger};
pub use status::{Status, StatusBody, JSON_CONTENT_TYPE, TEXT_CONTENT_TYPE};
pub use table::{FaultTable, ScopedRule};
