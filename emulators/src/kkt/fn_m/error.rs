//! What the ФН-М model refuses ([`FnError`], with the ФН error code of `kkt.md` §6.4 and the ATOL driver
//! code of §10.5 the KKT reports) and what it does with a warning instead ([`FnWarning`]).

use std::fmt;

/// A refused ФН-М operation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FnError {
    /// 0x32: the ФН is registered without the marking flag (1290 bit 8).
    #[error("marking work denied: the fiscal drive is not registered for marked goods")]
    MarkingNotAllowed,
    /// 0x33: a command out of sequence (no check to pass an answer to, a ticket for an unknown
    /// notification, …).
    #[error("wrong command sequence for marking codes: {0}")]
    WrongSequence(&'static str),
    /// 0x33: `begin…` while a finished check is neither accepted nor declined (strict sequence).
    #[error("invalid state: the previous check was neither accepted nor declined")]
    UnresolvedCheck,
    /// `begin…` while the previous check still waits for its answer.
    #[error("validation in progress")]
    CheckRunning,
    /// Accept/decline without a check.
    #[error("no marking code in the table: nothing was checked")]
    NoCheck,
    /// Accept/decline while the check still waits for its answer.
    #[error("check in progress")]
    CheckInProgress,
    /// 0x33: answer 83 for another request than the one waiting.
    #[error("answer to request {got} while request {expected} waits")]
    AnswerMismatch {
        /// 2001 of the waiting request.
        expected: u32,
        /// 2001 of the answer.
        got: u32,
    },
    /// 0x34: the notification store is full: send or unload notifications. `forced` when the scenario
    /// forces level 4 (`fn.notice_level`), not the unsent notifications themselves.
    #[error("marking work temporarily blocked: the notification store is full")]
    NoticeStoreFull {
        /// Forced by `fn.notice_level = 4`.
        forced: bool,
    },
    /// 0x35: the table of accepted codes is full.
    #[error("marking code table overflow ({capacity} codes)")]
    TableFull {
        /// `fn.km_table_capacity`.
        capacity: u32,
    },
    /// 0x3C: a required requisite is missing.
    #[error("required marking requisites missing: {0}")]
    MissingRequisites(&'static str),
    /// 0x3E: a notification item whose code was never checked and accepted in this ФН.
    #[error("marking code not checked in the fiscal drive: {code:?}")]
    CodeNotChecked {
        /// The code of the receipt item.
        code: String,
    },
    /// `fn.keys = update_required`: keys must be updated first.
    #[error("verification keys must be updated")]
    KeysUpdateRequired,
    /// The key server failed the update.
    #[error("verification key service error")]
    KeysService,
    /// The key server did not answer the update in time.
    #[error("verification key update timeout")]
    KeysTimeout,
    /// Planned status (2003) outside {1, 2, 3, 4, 5, 6, 255}.
    #[error("invalid planned status {0}")]
    InvalidStatus(u8),
    /// Assigned status (2110) of a receipt item differs from the planned status of its check.
    #[error("item status {assigned} differs from the checked status {checked} of {code:?}")]
    StatusMismatch {
        /// The code.
        code: String,
        /// 2003 of the check.
        checked: u8,
        /// 2110 of the item.
        assigned: u8,
    },
    /// 2102 ≠ 0.
    #[error("invalid marking code processing mode {0} (only 0 is defined)")]
    InvalidProcessingMode(u8),
    /// Fraction with n = 0, m = 0, n ≥ m, or a 1292 text that is not `n/m`.
    #[error("invalid fractional quantity {0:?}")]
    InvalidFraction(String),
    /// An explicit code type outside 0..=5, or an explicit type with a code that cannot be parsed.
    #[error("invalid marking code: {0}")]
    InvalidCode(String),
    /// Quantity or unit with a planned status other than 2 and 4.
    #[error("quantity and unit are allowed only with planned status 2 or 4, not {0}")]
    QuantityNotAllowed(u8),
}

impl FnError {
    /// The ФН's own error code (0x32–0x3E) when the ФН refuses; `None` for refusals of the driver.
    pub fn fn_code(&self) -> Option<u8> {
        Some(match self {
            FnError::MarkingNotAllowed => 0x32,
            FnError::WrongSequence(_) | FnError::UnresolvedCheck | FnError::AnswerMismatch { .. } => 0x33,
            FnError::NoticeStoreFull { .. } => 0x34,
            FnError::TableFull { .. } => 0x35,
            FnError::MissingRequisites(_) => 0x3C,
            FnError::CodeNotChecked { .. } => 0x3E,
            _ => return None,
        })
    }

    /// The ATOL driver error code (`kkt.md` §10.5).
    pub fn atol_code(&self) -> u16 {
        match self {
            FnError::CheckRunning => 401,
            FnError::InvalidStatus(_) | FnError::StatusMismatch { .. } => 404,
            FnError::MarkingNotAllowed => 406,
            FnError::NoticeStoreFull { forced: true } => 407,
            FnError::NoticeStoreFull { forced: false } => 417,
            FnError::TableFull { .. } => 408,
            FnError::InvalidProcessingMode(_) | FnError::InvalidFraction(_) | FnError::InvalidCode(_) => 409,
            FnError::WrongSequence(_)
            | FnError::UnresolvedCheck
            | FnError::AnswerMismatch { .. }
            | FnError::MissingRequisites(_) => 410,
            FnError::QuantityNotAllowed(_) => 413,
            FnError::KeysUpdateRequired => 418,
            FnError::KeysService => 419,
            FnError::CodeNotChecked { .. } => 420,
            FnError::NoCheck => 422,
            FnError::CheckInProgress => 423,
            FnError::KeysTimeout => 425,
        }
    }

    /// The description the driver reports (the error's text).
    pub fn description(&self) -> String {
        self.to_string()
    }
}

/// Something the ФН-M model let through but the KKT should report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FnWarning {
    /// `begin…` over a finished, unresolved check with `kkt.strict_check_sequence = false`: the previous
    /// result was discarded.
    PreviousCheckDiscarded {
        /// Its code.
        code: String,
    },
    /// The POS declared a code type (`imcType`) other than the classification of the code.
    TypeMismatch {
        /// The declared 2100.
        declared: u8,
        /// What the KKT would have classified (`None`: unparsable).
        classified: Option<u8>,
    },
    /// A code accepted into the table but not used by the receipt: discarded when it closed.
    UnusedCodeDiscarded {
        /// The code.
        code: String,
    },
    /// A receipt item's data differs from what the code was checked with; the notification carries
    /// the receipt's value.
    ItemDiffers {
        /// The code.
        code: String,
        /// Which requisite (`1023`, `2108`, `1291`, `2106`).
        field: &'static str,
    },
}

impl fmt::Display for FnWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FnWarning::PreviousCheckDiscarded { code } => {
                write!(f, "previous check of {code:?} was neither accepted nor declined: discarded")
            }
            FnWarning::TypeMismatch { declared, classified: Some(c) } => {
                write!(f, "declared code type {declared}, the code classifies as {c}")
            }
            FnWarning::TypeMismatch { declared, classified: None } => {
                write!(f, "declared code type {declared} for a code that cannot be parsed")
            }
            FnWarning::UnusedCodeDiscarded { code } => {
                write!(f, "accepted code {code:?} not used by the receipt: discarded")
            }
            FnWarning::ItemDiffers { code, field } => {
                write!(f, "{field} of the receipt item differs from the check of {code:?}")
            }
        }
    }
}
