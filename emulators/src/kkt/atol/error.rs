//! Driver errors of the ATOL-compatible API (`kkt.md` §10.5): the `{code, description}` pair carried in
//! `results[].error` and in `driverError`, with one constructor per marking code 401–426 and the few
//! generic driver codes the web layer needs, plus the `driverError.error` names of
//! `getMarkingCodeValidationStatus`.
//!
//! These are driver error codes, not HTTP statuses: the `GET` that returns them is still a 200. The
//! generic codes are the vendor driver's own numbering (libfptr): 6 internal error, 8 required
//! parameter missing, 11 not supported, 13 invalid parameter value, 501 JSON task parse error.
//! Descriptions are short English phrases; the successful "no error" body of the envelope is built by
//! the queue, not here.

use serde::{Deserialize, Serialize};

/// Description the envelope gives a task that finished without error (ATOL's own wording).
pub const NO_ERROR_DESCRIPTION: &str = "Ошибок нет";

/// One driver error: `{"code":420,"description":"mark not checked"}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[error("ATOL driver error {code}: {description}")]
pub struct AtolError {
    /// Driver error code (never 0: a task without error has no `AtolError`).
    pub code: u16,
    /// Short human-readable explanation.
    pub description: String,
}

/// Codes of the generic driver errors (libfptr numbering).
pub mod codes {
    /// Internal driver error.
    pub const INTERNAL: u16 = 6;
    /// A required parameter of the task is missing.
    pub const NO_REQUIRED_PARAM: u16 = 8;
    /// The task (or an operation) is not supported.
    pub const NOT_SUPPORTED: u16 = 11;
    /// A parameter has an invalid value.
    pub const INVALID_PARAM: u16 = 13;
    /// The JSON task could not be parsed at all.
    pub const TASK_PARSE_ERROR: u16 = 501;
}

impl AtolError {
    /// An error with any code and description.
    pub fn new(code: u16, description: impl Into<String>) -> AtolError {
        AtolError { code, description: description.into() }
    }

    /// The same code with another description (e.g. to say which field was wrong).
    pub fn with_description(mut self, description: impl Into<String>) -> AtolError {
        self.description = description.into();
        self
    }

    /// 6: the driver (the emulated device) failed internally.
    pub fn internal(detail: impl Into<String>) -> AtolError {
        AtolError::new(codes::INTERNAL, detail)
    }

    /// 8: a required parameter is missing.
    pub fn missing_param(detail: impl Into<String>) -> AtolError {
        AtolError::new(codes::NO_REQUIRED_PARAM, detail)
    }

    /// 11: the task type is not supported.
    pub fn not_supported(detail: impl Into<String>) -> AtolError {
        AtolError::new(codes::NOT_SUPPORTED, detail)
    }

    /// 13: a parameter has an invalid value.
    pub fn invalid_param(detail: impl Into<String>) -> AtolError {
        AtolError::new(codes::INVALID_PARAM, detail)
    }

    /// 501: the task is not a JSON task at all (not an object, …).
    pub fn task_parse_error(detail: impl Into<String>) -> AtolError {
        AtolError::new(codes::TASK_PARSE_ERROR, detail)
    }

    /// 401: `begin…` while the previous check is still running.
    pub fn validation_in_progress() -> AtolError {
        AtolError::new(401, "marking code validation in progress")
    }

    /// 402: the ОФД is unreachable.
    pub fn no_connection_with_server() -> AtolError {
        AtolError::new(402, "no connection to the server")
    }

    /// 403: the check was cancelled.
    pub fn validation_canceled() -> AtolError {
        AtolError::new(403, "marking code validation canceled")
    }

    /// 404: planned/assigned status mismatch, or wrong for the operation.
    pub fn invalid_mark_status() -> AtolError {
        AtolError::new(404, "invalid marking code status")
    }

    /// 405: `imc` is not base64 or not decodable.
    pub fn invalid_gs1() -> AtolError {
        AtolError::new(405, "invalid GS1 data")
    }

    /// 406: marking work denied (ФН 0x32).
    pub fn marking_work_denied() -> AtolError {
        AtolError::new(406, "marking work denied")
    }

    /// 407: marking work temporarily blocked (ФН 0x34).
    pub fn marking_temporarily_blocked() -> AtolError {
        AtolError::new(407, "marking work temporarily blocked")
    }

    /// 408: the table of checked codes is full (ФН 0x35).
    pub fn marks_overflow() -> AtolError {
        AtolError::new(408, "marking code table overflow")
    }

    /// 409: invalid marking code (bad `imcModeProcessing`, bad fraction, unparsable code).
    pub fn invalid_marking_code() -> AtolError {
        AtolError::new(409, "invalid marking code")
    }

    /// 410: invalid state (ФН 0x33/0x3C, unfinished previous check).
    pub fn invalid_state() -> AtolError {
        AtolError::new(410, "invalid state")
    }

    /// 411: ОФД exchange error.
    pub fn ofd_exchange() -> AtolError {
        AtolError::new(411, "OFD exchange error")
    }

    /// 412: unknown measurement unit.
    pub fn invalid_measurement_unit() -> AtolError {
        AtolError::new(412, "invalid measurement unit")
    }

    /// 413: operation denied in the current FFD (quantity/unit with a status other than 2/4).
    pub fn denied_in_current_ffd() -> AtolError {
        AtolError::new(413, "operation denied in the current FFD version")
    }

    /// 414: marking operation denied.
    pub fn marking_operation_denied() -> AtolError {
        AtolError::new(414, "marking operation denied")
    }

    /// 415: no data (poll without any check).
    pub fn no_data() -> AtolError {
        AtolError::new(415, "no data")
    }

    /// 416: marking parameters on a position that cannot carry them.
    pub fn no_marked_position() -> AtolError {
        AtolError::new(416, "no marked position")
    }

    /// 417: unsent notifications block marking work.
    pub fn unsent_notices() -> AtolError {
        AtolError::new(417, "unsent notifications")
    }

    /// 418: the ФН verification keys must be updated.
    pub fn update_keys_required() -> AtolError {
        AtolError::new(418, "verification keys update required")
    }

    /// 419: the key update service failed.
    pub fn update_keys_service() -> AtolError {
        AtolError::new(419, "verification keys service error")
    }

    /// 420: the code was never checked in the ФН (0x3E).
    pub fn mark_not_checked() -> AtolError {
        AtolError::new(420, "mark not checked")
    }

    /// 421: the ОИСМ did not answer in time.
    pub fn mark_check_timeout() -> AtolError {
        AtolError::new(421, "mark check timeout expired")
    }

    /// 422: accept/decline without a finished check.
    pub fn no_mark_in_table() -> AtolError {
        AtolError::new(422, "no marking code in the table")
    }

    /// 423: accept/decline while the check is running.
    pub fn check_in_progress() -> AtolError {
        AtolError::new(423, "mark check in progress")
    }

    /// 424: bad server address.
    pub fn bad_server_address() -> AtolError {
        AtolError::new(424, "bad server address")
    }

    /// 425: the key update timed out.
    pub fn update_keys_timeout() -> AtolError {
        AtolError::new(425, "verification keys update timeout")
    }

    /// 426: an `imcParams`-only property on an unmarked position.
    pub fn marked_positions_only() -> AtolError {
        AtolError::new(426, "property allowed for marked positions only")
    }

    /// This error as a `driverError` object, when its code has a `driverError.error` name.
    pub fn to_driver_error(&self) -> Option<DriverError> {
        DriverErrorName::for_code(self.code).map(|name| DriverError::new(self, name))
    }
}

/// The `driverError.error` names of `getMarkingCodeValidationStatus` (§10.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DriverErrorName {
    /// A check is still running (401).
    ImcCheckIsRun,
    /// No connection to the ОФД (402).
    ServerNoConnect,
    /// The check was cancelled (403).
    ImcCheckBreak,
    /// The check is in a wrong state (410).
    ImcCheckWrongState,
    /// The ОИСМ did not answer in time (421).
    ResponseTimeout,
    /// No code in the table (422).
    NoImcInTable,
}

impl DriverErrorName {
    /// The name used for a driver code, if it has one.
    pub fn for_code(code: u16) -> Option<DriverErrorName> {
        Some(match code {
            401 => DriverErrorName::ImcCheckIsRun,
            402 => DriverErrorName::ServerNoConnect,
            403 => DriverErrorName::ImcCheckBreak,
            410 => DriverErrorName::ImcCheckWrongState,
            421 => DriverErrorName::ResponseTimeout,
            422 => DriverErrorName::NoImcInTable,
            _ => return None,
        })
    }

    /// The driver code this name stands for.
    pub fn code(self) -> u16 {
        match self {
            DriverErrorName::ImcCheckIsRun => 401,
            DriverErrorName::ServerNoConnect => 402,
            DriverErrorName::ImcCheckBreak => 403,
            DriverErrorName::ImcCheckWrongState => 410,
            DriverErrorName::ResponseTimeout => 421,
            DriverErrorName::NoImcInTable => 422,
        }
    }
}

/// `driverError` of a validation status: `{"code":402,"error":"serverNoConnect","description":…}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DriverError {
    pub code: u16,
    pub error: DriverErrorName,
    pub description: String,
}

impl DriverError {
    /// `err` under the given name (the code and description are the error's).
    pub fn new(err: &AtolError, name: DriverErrorName) -> DriverError {
        DriverError { code: err.code, error: name, description: err.description.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marking_codes_are_those_of_the_spec() {
        let all = [
            AtolError::validation_in_progress(),
            AtolError::no_connection_with_server(),
            AtolError::validation_canceled(),
            AtolError::invalid_mark_status(),
            AtolError::invalid_gs1(),
            AtolError::marking_work_denied(),
            AtolError::marking_temporarily_blocked(),
            AtolError::marks_overflow(),
            AtolError::invalid_marking_code(),
            AtolError::invalid_state(),
            AtolError::ofd_exchange(),
            AtolError::invalid_measurement_unit(),
            AtolError::denied_in_current_ffd(),
            AtolError::marking_operation_denied(),
            AtolError::no_data(),
            AtolError::no_marked_position(),
            AtolError::unsent_notices(),
            AtolError::update_keys_required(),
            AtolError::update_keys_service(),
            AtolError::mark_not_checked(),
            AtolError::mark_check_timeout(),
            AtolError::no_mark_in_table(),
            AtolError::check_in_progress(),
            AtolError::bad_server_address(),
            AtolError::update_keys_timeout(),
            AtolError::marked_positions_only(),
        ];
        let codes: Vec<u16> = all.iter().map(|e| e.code).collect();
        assert_eq!(codes, (401..=426).collect::<Vec<u16>>());
        assert!(all.iter().all(|e| !e.description.is_empty()));
    }

    #[test]
    fn driver_error_names_round_trip() {
        for code in 400..430 {
            if let Some(name) = DriverErrorName::for_code(code) {
                assert_eq!(name.code(), code);
            }
        }
        let d = AtolError::no_connection_with_server().to_driver_error().unwrap();
        assert_eq!(
            serde_json::to_value(d).unwrap(),
            serde_json::json!({"code":402,"error":"serverNoConnect","description":"no connection to the server"})
        );
        assert!(AtolError::mark_not_checked().to_driver_error().is_none());
    }
}
