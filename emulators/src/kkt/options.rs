//! The controls of the emulated KKT, its ФН-М, the ОФД and the ОИСМ (spec `kkt.md` §9, with the
//! defaults of §4.19, §6.3, §7, §8.5; `grading.excise_groups` of §4.14). Data and validation only: the
//! ФН-М model (`fn_m/`) and the emulated ОИСМ (`oism.rs`) read them, the KKT device applies the ОФД and
//! ОИСМ timings.
//!
//! Every field has a default (`#[serde(default)]`), so a partial TOML or JSON table is enough; unknown
//! names are refused so that a typo in a scenario file does not pass silently. Sections: `[fn]`,
//! `[ofd]`, `[oism]`, `[kkt]`, `[grading]`.

use markcert_codes::{CodeOptions, Tag1306Form};
use serde::{Deserialize, Serialize};

/// Every control of the emulated KKT (`kkt.md` §9).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KktOptions {
    /// `fn.*`: the ФН-М.
    #[serde(rename = "fn")]
    pub fn_m: FnOptions,
    /// `ofd.*`: the ОФД link.
    pub ofd: OfdOptions,
    /// `oism.*`: the ОИСМ behind the ОФД.
    pub oism: OismOptions,
    /// `kkt.*`: the cash register itself.
    pub kkt: KktDeviceOptions,
    /// `grading.*`: how strictly receipts are graded.
    pub grading: GradingOptions,
}

/// `fn.keys`: the КП verification keys held by the ФН (`kkt.md` §8.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeysState {
    /// Keys present: local checks run (default).
    #[default]
    Ok,
    /// Keys missing, for every key id or for those in `fn.missing_key_ids`: reason 2, 2004 = 0.
    Missing,
    /// A key update is required: `beginMarkingCodeValidation` → 418 until `updateFnmKeys` succeeds.
    UpdateRequired,
}

/// `fn.keys_update`: how the key server answers `updateFnmKeys` (`kkt.md` §8.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeysUpdate {
    /// The update succeeds (default).
    #[default]
    Ok,
    /// Key service error (ATOL 419).
    Error,
    /// Key service timeout (ATOL 425).
    Timeout,
}

/// `fn.check`: how the ФН's local КП check behaves (`kkt.md` §4.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FnCheckMode {
    /// Checks run (default).
    #[default]
    Normal,
    /// Every check the ФН would run fails with an internal error: 2004 = 0, reason 4.
    InternalError,
}

/// `fn.auth`: how the ФН answers `markcertFnAuthenticate` (`tspiot.md` §9.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FnAuthMode {
    /// A correct MAC (default).
    #[default]
    Ok,
    /// A wrong MAC (the scenario fault `fn.auth = broken`).
    Broken,
}

/// `fn.*`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FnOptions {
    /// Registered for marked goods (tag 1290 bit 8). False → every marking command fails with 0x32.
    pub marking_flag: bool,
    /// Registered in autonomous mode (no ОФД): no request 81, 2106 bit 4 set.
    pub autonomous: bool,
    /// Capacity of the table of accepted codes (`kkt.md` §6.3, default 100).
    pub km_table_capacity: u32,
    /// Capacity of the notification store (default 10 000).
    pub notice_capacity: u32,
    /// A forced fill level of the notification store, 0–4 (`kkt.md` §6.3); `None` = computed.
    pub notice_level: Option<u8>,
    /// The КП verification keys.
    pub keys: KeysState,
    /// With `keys = "missing"`: the AI 91 key ids the ФН lacks; empty = every key.
    pub missing_key_ids: Vec<String>,
    /// How `updateFnmKeys` ends.
    pub keys_update: KeysUpdate,
    /// Local check behaviour.
    pub check: FnCheckMode,
    /// Authentication behaviour.
    pub auth: FnAuthMode,
    /// ФН serial (16 digits) instead of the world's store ФН.
    pub serial: Option<String>,
    /// `K_fn` (64 hex digits) instead of the world's secret for this ФН.
    pub auth_secret: Option<String>,
}

impl Default for FnOptions {
    fn default() -> Self {
        FnOptions {
            marking_flag: true,
            autonomous: false,
            km_table_capacity: 100,
            notice_capacity: 10_000,
            notice_level: None,
            keys: KeysState::Ok,
            missing_key_ids: Vec::new(),
            keys_update: KeysUpdate::Ok,
            check: FnCheckMode::Normal,
            auth: FnAuthMode::Ok,
            serial: None,
            auth_secret: None,
        }
    }
}

impl FnOptions {
    /// True when the ФН lacks the key with AI 91 id `key_id`.
    pub fn key_missing(&self, key_id: &str) -> bool {
        self.keys == KeysState::Missing
            && (self.missing_key_ids.is_empty() || self.missing_key_ids.iter().any(|k| k == key_id))
    }
}

/// `ofd.*`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OfdOptions {
    /// The ОФД answers (false → requests are not sent: ATOL 402 in `driverError`).
    pub reachable: bool,
}

impl Default for OfdOptions {
    fn default() -> Self {
        OfdOptions { reachable: true }
    }
}

/// `oism.*` (`kkt.md` §7.1, §7.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OismOptions {
    /// The ОИСМ answers request 81 (false → timeout, ATOL 421).
    pub answer: bool,
    /// Time the answer 83 takes to arrive, ms.
    pub latency_ms: u64,
    /// How long the KKT waits for answer 83, ms.
    pub timeout_ms: u64,
    /// Force 2109 (1 correct, 2 incorrect, 3 sale suspended) in every answer 83.
    pub force_2109: Option<u8>,
    /// Make every ticket 84 negative.
    pub force_ticket_negative: bool,
}

impl Default for OismOptions {
    fn default() -> Self {
        OismOptions {
            answer: true,
            latency_ms: 200,
            timeout_ms: 3000,
            force_2109: None,
            force_ticket_negative: false,
        }
    }
}

/// `kkt.implicit_validation`: a `sell` position whose code was not accepted in the ФН table, with
/// `validateMarkingCodes: true` (`kkt.md` §10.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImplicitValidation {
    /// The KKT checks and accepts the code itself and records a warning (default).
    #[default]
    Warn,
    /// The task fails with 420.
    Error,
    /// The KKT checks and accepts the code itself silently.
    Allow,
}

/// `kkt.tag2115`: how the control code 2115 is derived (`kkt.md` §4.19).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tag2115Mode {
    /// First 4 hex digits (upper case) of CRC-16/CCITT-FALSE over the КМ bytes (default).
    #[default]
    Crc16,
    /// Always [`Tag2115Mode::FIXED`].
    Fixed,
}

impl Tag2115Mode {
    /// The value written with `kkt.tag2115 = "fixed"`.
    pub const FIXED: &'static str = "0000";

    /// The 2115 control code of `code` (the raw КМ, ⟨GS⟩ included).
    pub fn control_code(self, code: &str) -> String {
        match self {
            Tag2115Mode::Crc16 => format!("{:04X}", crc16_ccitt_false(code.as_bytes())),
            Tag2115Mode::Fixed => Self::FIXED.to_string(),
        }
    }
}

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, no reflection, no final XOR.
pub fn crc16_ccitt_false(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

/// `kkt.*`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KktDeviceOptions {
    /// `begin…` over a finished check that was neither accepted nor declined fails with 410 (true) or
    /// discards it with a warning (false).
    pub strict_check_sequence: bool,
    /// A `sell` position whose code is not in the ФН table.
    pub implicit_validation: ImplicitValidation,
    /// Control code 2115.
    pub tag2115: Tag2115Mode,
    /// The 1163/1306 (and 2101) value of a tobacco pack (`codes.md` §9.3).
    pub tag1306_form: Tag1306Form,
    /// Offset of the KKT's local time from UTC, seconds (FFD unixtime is local time; Moscow +3 h).
    pub local_utc_offset_s: i32,
}

impl Default for KktDeviceOptions {
    fn default() -> Self {
        KktDeviceOptions {
            strict_check_sequence: true,
            implicit_validation: ImplicitValidation::Warn,
            tag2115: Tag2115Mode::Crc16,
            tag1306_form: Tag1306Form::Gs1Rebuild,
            local_utc_offset_s: 10_800,
        }
    }
}

impl KktDeviceOptions {
    /// Unix seconds (UTC) → FFD unixtime (the KKT's local time), saturating into `u32`.
    pub fn local_time(&self, unix_s: i64) -> u32 {
        let local = unix_s.saturating_add(i64::from(self.local_utc_offset_s));
        u32::try_from(local.max(0)).unwrap_or(u32::MAX)
    }
}

/// `grading.*` (`kkt.md` §4.14).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradingOptions {
    /// Product groups whose goods are excisable: 1212 must then be 31 (else 33). `None` = either
    /// value is accepted (default). Suggested set: 3, 12, 15, 16.
    pub excise_groups: Option<Vec<u16>>,
}

/// A control out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    /// The text is not TOML of the expected shape (unknown key, wrong type, …).
    #[error("kkt options: {0}")]
    Toml(String),
    /// A capacity of zero.
    #[error("{key} must be at least 1")]
    ZeroCapacity {
        /// `fn.km_table_capacity` or `fn.notice_capacity`.
        key: &'static str,
    },
    /// `fn.notice_level` above 4.
    #[error("fn.notice_level must be 0..=4, got {0}")]
    NoticeLevel(u8),
    /// `oism.force_2109` outside 1..=3.
    #[error("oism.force_2109 must be 1, 2 or 3, got {0}")]
    Force2109(u8),
    /// `fn.serial` not 16 digits.
    #[error("fn.serial must be 16 digits, got {0:?}")]
    Serial(String),
    /// `fn.auth_secret` not 64 hex digits.
    #[error("fn.auth_secret must be 64 hex digits")]
    AuthSecret,
    /// `kkt.local_utc_offset_s` beyond ±14 h.
    #[error("kkt.local_utc_offset_s must be within ±50400, got {0}")]
    UtcOffset(i32),
    /// `oism.timeout_ms` of zero.
    #[error("oism.timeout_ms must be at least 1")]
    ZeroTimeout,
}

/// RFC 7396 JSON merge patch of `target` by `patch`.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    use serde_json::Value;
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Object(serde_json::Map::new())), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

impl KktOptions {
    /// Parse a TOML document (sections `[fn]`, `[ofd]`, `[oism]`, `[kkt]`, `[grading]`) and validate it.
    pub fn from_toml(text: &str) -> Result<KktOptions, OptionsError> {
        let opts: KktOptions = toml::from_str(text).map_err(|e| OptionsError::Toml(e.to_string()))?;
        opts.validate()?;
        Ok(opts)
    }

    /// These options with an RFC 7396 JSON merge patch applied (objects merge key by key, `null`
    /// removes a key — back to its default —, anything else replaces), validated. What
    /// `PATCH /kkt/options` and a scenario's `[kkt]` table do.
    pub fn patched(&self, patch: &serde_json::Value) -> Result<KktOptions, OptionsError> {
        let mut current = serde_json::to_value(self).map_err(|e| OptionsError::Toml(e.to_string()))?;
        merge_patch(&mut current, patch);
        let next: KktOptions =
            serde_json::from_value(current).map_err(|e| OptionsError::Toml(e.to_string()))?;
        next.validate()?;
        Ok(next)
    }

    /// The options as a TOML document.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Refuse out-of-range values.
    pub fn validate(&self) -> Result<(), OptionsError> {
        let f = &self.fn_m;
        if f.km_table_capacity == 0 {
            return Err(OptionsError::ZeroCapacity { key: "fn.km_table_capacity" });
        }
        if f.notice_capacity == 0 {
            return Err(OptionsError::ZeroCapacity { key: "fn.notice_capacity" });
        }
        if let Some(level) = f.notice_level.filter(|&l| l > 4) {
            return Err(OptionsError::NoticeLevel(level));
        }
        if let Some(serial) =
            f.serial.as_ref().filter(|s| s.len() != 16 || !s.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(OptionsError::Serial(serial.clone()));
        }
        if f.auth_secret.as_deref().is_some_and(|h| crate::fnauth::secrets::parse_hex32(h).is_none()) {
            return Err(OptionsError::AuthSecret);
        }
        if let Some(v) = self.oism.force_2109.filter(|v| !(1..=3).contains(v)) {
            return Err(OptionsError::Force2109(v));
        }
        if self.oism.timeout_ms == 0 {
            return Err(OptionsError::ZeroTimeout);
        }
        if self.kkt.local_utc_offset_s.unsigned_abs() > 50_400 {
            return Err(OptionsError::UtcOffset(self.kkt.local_utc_offset_s));
        }
        Ok(())
    }

    /// The code options the KKT classifies and derives 1163/2101 with: the defaults of `codes.md`
    /// with `kkt.tag1306_form`.
    pub fn code_options(&self) -> CodeOptions {
        CodeOptions { tag1306_form: self.kkt.tag1306_form, ..CodeOptions::default() }
    }

    /// The 2115 control code of `code` under `kkt.tag2115`.
    pub fn control_code(&self, code: &str) -> String {
        self.kkt.tag2115.control_code(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_spec_s() {
        let o = KktOptions::default();
        assert!(o.fn_m.marking_flag && !o.fn_m.autonomous);
        assert_eq!((o.fn_m.km_table_capacity, o.fn_m.notice_capacity), (100, 10_000));
        assert_eq!(
            (o.fn_m.notice_level, o.fn_m.keys, o.fn_m.check),
            (None, KeysState::Ok, FnCheckMode::Normal)
        );
        assert!(o.ofd.reachable && o.oism.answer);
        assert_eq!((o.oism.latency_ms, o.oism.timeout_ms, o.oism.force_2109), (200, 3000, None));
        assert!(!o.oism.force_ticket_negative);
        assert!(o.kkt.strict_check_sequence);
        assert_eq!(o.kkt.implicit_validation, ImplicitValidation::Warn);
        assert_eq!(o.kkt.tag2115, Tag2115Mode::Crc16);
        assert_eq!(o.kkt.tag1306_form, Tag1306Form::Gs1Rebuild);
        assert_eq!(o.kkt.local_utc_offset_s, 10_800);
        assert_eq!(o.grading.excise_groups, None);
        assert_eq!(o.validate(), Ok(()));
    }

    #[test]
    fn toml_round_trip_and_partial_tables() {
        let text = r#"
            [fn]
            marking_flag = false
            notice_level = 3
            keys = "missing"
            missing_key_ids = ["0001"]
            check = "internal_error"
            auth = "broken"
            keys_update = "timeout"
            serial = "7380440700000123"

            [oism]
            force_2109 = 3
            latency_ms = 5000

            [kkt]
            implicit_validation = "error"
            tag2115 = "fixed"
            tag1306_form = "first21"
            local_utc_offset_s = 0

            [grading]
            excise_groups = [3, 12, 15, 16]
        "#;
        let o = KktOptions::from_toml(text).unwrap();
        assert!(!o.fn_m.marking_flag);
        assert_eq!(o.fn_m.notice_level, Some(3));
        assert!(o.fn_m.key_missing("0001") && !o.fn_m.key_missing("0002"));
        assert_eq!(
            (o.fn_m.check, o.fn_m.auth, o.fn_m.keys_update),
            (FnCheckMode::InternalError, FnAuthMode::Broken, KeysUpdate::Timeout)
        );
        assert_eq!(o.fn_m.km_table_capacity, 100, "untouched keys keep their default");
        assert_eq!((o.oism.force_2109, o.oism.latency_ms, o.oism.timeout_ms), (Some(3), 5000, 3000));
        assert_eq!(o.kkt.tag1306_form, Tag1306Form::First21);
        assert_eq!(o.code_options().tag1306_form, Tag1306Form::First21);
        assert_eq!(o.grading.excise_groups.as_deref(), Some(&[3, 12, 15, 16][..]));
        assert_eq!(KktOptions::from_toml(&o.to_toml()).unwrap(), o);
        assert_eq!(KktOptions::from_toml(&KktOptions::default().to_toml()).unwrap(), KktOptions::default());
        assert_eq!(KktOptions::from_toml("").unwrap(), KktOptions::default());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(matches!(KktOptions::from_toml("[fn]\nmarkin_flag = true"), Err(OptionsError::Toml(_))));
        assert!(matches!(KktOptions::from_toml("[ofd]\nreachable = 1"), Err(OptionsError::Toml(_))));
        assert!(matches!(KktOptions::from_toml("[fn]\nkeys = \"lost\""), Err(OptionsError::Toml(_))));
        let cases = [
            ("[fn]\nkm_table_capacity = 0", OptionsError::ZeroCapacity { key: "fn.km_table_capacity" }),
            ("[fn]\nnotice_capacity = 0", OptionsError::ZeroCapacity { key: "fn.notice_capacity" }),
            ("[fn]\nnotice_level = 5", OptionsError::NoticeLevel(5)),
            ("[oism]\nforce_2109 = 0", OptionsError::Force2109(0)),
            ("[oism]\nforce_2109 = 4", OptionsError::Force2109(4)),
            ("[oism]\ntimeout_ms = 0", OptionsError::ZeroTimeout),
            ("[fn]\nserial = \"123\"", OptionsError::Serial("123".into())),
            ("[fn]\nauth_secret = \"00\"", OptionsError::AuthSecret),
            ("[kkt]\nlocal_utc_offset_s = 90000", OptionsError::UtcOffset(90_000)),
        ];
        for (text, want) in cases {
            assert_eq!(KktOptions::from_toml(text), Err(want), "{text}");
        }
        for level in 0..=4 {
            assert!(KktOptions::from_toml(&format!("[fn]\nnotice_level = {level}")).is_ok());
        }
    }

    #[test]
    fn control_code_is_crc16_ccitt_false() {
        assert_eq!(crc16_ccitt_false(b"123456789"), 0x29B1, "the CRC catalogue check value");
        assert_eq!(Tag2115Mode::Crc16.control_code("123456789"), "29B1");
        assert_eq!(Tag2115Mode::Fixed.control_code("123456789"), "0000");
        assert_eq!(Tag2115Mode::Crc16.control_code("").len(), 4);
    }

    #[test]
    fn local_time_applies_the_offset() {
        let k = KktDeviceOptions::default();
        assert_eq!(k.local_time(1_767_225_600), 1_767_236_400);
        assert_eq!(k.local_time(-100_000), 0);
    }
}
