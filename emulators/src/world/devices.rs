//! The devices and programs the world registers (spec `tspiot.md` §3.2, §9.1; `kkt.md`): fiscal
//! drives bound to a KKT serial and an INN, with their authentication secret, and POS programs (ПМСР)
//! with the `(id, token)` a strict ТС ПИоТ checks `client_info` against. Data only.

use serde::{Deserialize, Serialize};

/// A registered fiscal drive (ФН-М).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiscalDrive {
    /// ФН serial, 16 digits.
    pub serial: String,
    /// Serial of the KKT it is installed in, 14 to 20 digits.
    pub kkt_serial: String,
    /// INN of the KKT owner.
    pub inn: String,
    /// Registered for marked goods (tag 1290 bit 8).
    #[serde(default = "yes")]
    pub marking: bool,
    /// `K_fn` as 64 hex digits; derived from the world's master secret when absent (`tspiot.md` §9.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_secret: Option<String>,
}

fn yes() -> bool {
    true
}

/// A POS program (ПМСР) registered in ГИС МТ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosSoftware {
    /// Registry id (`client_info.id`).
    pub id: String,
    /// Key (`client_info.token`).
    pub token: String,
    /// Name, informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// True when `s` has `min..=max` ASCII digits.
pub(crate) fn digits(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}
