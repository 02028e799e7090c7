//! The code registry of the world: for each marking code its life-cycle state, bans, dates, owner and
//! the verdicts of its crypto tail and of the cross-border service (spec `true-api.md` §5–§7). Keyed
//! by the code's identity (КИ), so a scan with a wrong crypto tail still finds its record.

use serde::{Deserialize, Serialize};

/// Life-cycle state of a code in ГИС МТ (`true-api.md` §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeState {
    /// Emitted, not yet reported as applied to the item.
    Emitted,
    /// Applied, not introduced into circulation.
    Applied,
    /// In circulation: may be sold.
    Introduced,
    /// Withdrawn by a retail sale.
    Sold,
    /// Withdrawn otherwise (export, write-off, …); `elimination_state` may still permit a sale.
    Withdrawn,
}

impl CodeState {
    /// Stable name.
    pub fn name(self) -> &'static str {
        match self {
            CodeState::Emitted => "emitted",
            CodeState::Applied => "applied",
            CodeState::Introduced => "introduced",
            CodeState::Sold => "sold",
            CodeState::Withdrawn => "withdrawn",
        }
    }
}

/// What the True API's crypto check says about the code's verification part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Crypto {
    /// The tail is correct.
    #[default]
    Valid,
    /// errorCode 5: signature format does not match the code type.
    FormatMismatch,
    /// errorCode 6: signature invalid.
    SignatureInvalid,
    /// errorCode 7: key invalid.
    KeyInvalid,
}

impl Crypto {
    /// The True API errorCode (0 when valid).
    pub fn error_code(self) -> u8 {
        match self {
            Crypto::Valid => 0,
            Crypto::FormatMismatch => 5,
            Crypto::SignatureInvalid => 6,
            Crypto::KeyInvalid => 7,
        }
    }
}

/// Where the code was issued and how the cross-border service answers for it (`codes.md` §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A Russian code, checked by ГИС МТ itself.
    #[default]
    Russia,
    /// EAEU code that passes the check in the issuing country.
    EaeuOk,
    /// EAEU code that failed verification in the issuing country (errorCode 8).
    EaeuFailed,
    /// EAEU code unknown to the cross-border service (errorCode 11).
    EaeuNotFound,
}

/// One code of the registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRecord {
    /// The full canonical code (with ⟨GS⟩ and the correct crypto tail).
    pub code: String,
    /// Life-cycle state.
    pub state: CodeState,
    /// Blocking bodies (`ogvs`): non-empty means `isBlocked`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_by: Vec<String>,
    /// Best-before instant, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_ms: Option<i64>,
    /// Production instant, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_ms: Option<i64>,
    /// INN of the current owner (drives `isOwner`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_inn: Option<String>,
    /// Tobacco in the grey zone (`grayZone`).
    #[serde(default)]
    pub gray_zone: bool,
    /// Verdict of the crypto check.
    #[serde(default)]
    pub crypto: Crypto,
    /// Issuing country and cross-border verdict.
    #[serde(default)]
    pub origin: Origin,
    /// `eliminationState` of a withdrawn code (1 distance sale / samples, 2 own needs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elimination_state: Option<u8>,
    /// `innerUnitCount` (partial sales).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inner_unit_count: Option<u32>,
    /// `soldUnitCount` (partial sales).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sold_unit_count: Option<u32>,
    /// Aggregate (parent) code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// A per-code `errorCode` the True API reports for this code although nothing else is wrong with it
    /// (`true-api.md` §10.1 row 12, "any other per-code error"), e.g. 7 with every flag positive. Only
    /// used when the answer has no error of its own. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u8>,
    /// The `message` that goes with [`CodeRecord::error_code`] (default: a generic text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Free-text label saying which case this code is for (fixtures, control API listings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
}

impl CodeRecord {
    /// A code in circulation with nothing special about it.
    pub fn introduced(code: impl Into<String>) -> Self {
        CodeRecord {
            code: code.into(),
            state: CodeState::Introduced,
            blocked_by: Vec::new(),
            expire_ms: None,
            production_ms: None,
            owner_inn: None,
            gray_zone: false,
            crypto: Crypto::Valid,
            origin: Origin::Russia,
            elimination_state: None,
            inner_unit_count: None,
            sold_unit_count: None,
            parent: None,
            error_code: None,
            error_message: None,
            case: None,
        }
    }

    /// True when a government body blocks the sale.
    pub fn is_blocked(&self) -> bool {
        !self.blocked_by.is_empty()
    }
}
