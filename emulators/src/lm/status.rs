//! The `status` values of the ЛМ ЧЗ (spec `local-module.md` §4.3) and what each means for the check
//! endpoints (§5): the `errorCode` and HTTP status of a refusal. Which status the module is in is
//! decided by `model.rs`; this file only names the values.

use serde::{Deserialize, Serialize};

/// `status` of `/api/v1/status` and `/api/v2/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LmStatus {
    /// Not initialised; `/init` has not been called.
    NotConfigured,
    /// Downloading the database after `/init`.
    Initialization,
    /// Usable: checks are answered.
    Ready,
    /// No successful sync with the operator side for longer than `lm.sync_error_after_s`.
    SyncError,
    /// Generic failure; reachable only by fault injection (a forced status).
    Failure,
}

impl LmStatus {
    /// Every status, in the order of the spec's table.
    pub const ALL: [LmStatus; 5] = [
        LmStatus::NotConfigured,
        LmStatus::Initialization,
        LmStatus::Ready,
        LmStatus::SyncError,
        LmStatus::Failure,
    ];

    /// The wire name (`not_configured`, `initialization`, `ready`, `sync_error`, `failure`).
    pub fn name(self) -> &'static str {
        match self {
            LmStatus::NotConfigured => "not_configured",
            LmStatus::Initialization => "initialization",
            LmStatus::Ready => "ready",
            LmStatus::SyncError => "sync_error",
            LmStatus::Failure => "failure",
        }
    }

    /// The status with wire name `name`.
    pub fn from_name(name: &str) -> Option<LmStatus> {
        LmStatus::ALL.into_iter().find(|s| s.name() == name)
    }

    /// True when checks are answered.
    pub fn is_ready(self) -> bool {
        self == LmStatus::Ready
    }

    /// The documented `errorCode` of a refused check (§5): 4045 while `not_configured` or
    /// `initialization`, 4050 in `sync_error`. `None` for `ready` (not refused) and for `failure`,
    /// which has no documented code: it is refused with HTTP 500 (see [`LmStatus::refusal_http_status`]).
    pub fn not_ready_error_code(self) -> Option<u16> {
        match self {
            LmStatus::NotConfigured | LmStatus::Initialization => Some(4045),
            LmStatus::SyncError => Some(4050),
            LmStatus::Ready | LmStatus::Failure => None,
        }
    }

    /// HTTP status of a refused check: 400 (§5), 500 for `failure` (§4.3), `None` when ready.
    pub fn refusal_http_status(self) -> Option<u16> {
        match self {
            LmStatus::Ready => None,
            LmStatus::Failure => Some(500),
            LmStatus::NotConfigured | LmStatus::Initialization | LmStatus::SyncError => Some(400),
        }
    }
}

impl std::fmt::Display for LmStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_name() {
        for s in LmStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::Value::from(s.name()));
            assert_eq!(serde_json::from_value::<LmStatus>(s.name().into()).unwrap(), s);
            assert_eq!(LmStatus::from_name(s.name()), Some(s));
            assert_eq!(s.to_string(), s.name());
        }
        assert_eq!(LmStatus::from_name("offline"), None);
    }

    #[test]
    fn refusals_follow_section_5() {
        use LmStatus::*;
        let table = [
            (NotConfigured, Some(4045), Some(400)),
            (Initialization, Some(4045), Some(400)),
            (Ready, None, None),
            (SyncError, Some(4050), Some(400)),
            (Failure, None, Some(500)),
        ];
        for (s, code, http) in table {
            assert_eq!((s.not_ready_error_code(), s.refusal_http_status()), (code, http), "{s}");
            assert_eq!(s.is_ready(), http.is_none());
        }
    }
}
