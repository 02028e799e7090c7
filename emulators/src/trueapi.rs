//! True API `codes/check` answers (spec `true-api.md` §4–§7): what ГИС МТ says about each code, built
//! from the world by the per-state templates of §6 and serialised by the rules of §5.1 (fields
//! without data omitted, `isBlocked` always present, dates always with milliseconds).
//!
//! Pure logic: no HTTP, no clock reads, no trace. The CDN-host server (to come) parses the request,
//! authenticates it, calls [`check_codes`] with the world clock's time and a fresh `reqId`, applies
//! faults and records the call.

use crate::clock::format_iso_ms;
use crate::world::{CodeState, Crypto, Origin, World};
use markcert_codes::CodeOptions;
use serde::{Deserialize, Serialize};

/// How fields without data are written (`trueapi.nulls`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Nulls {
    /// Omitted (default; what the real service does).
    #[default]
    Omit,
    /// Written as `null`.
    Null,
}

/// Configurable True API behaviour (spec defaults).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrueApiOptions {
    /// `trueapi.nulls`.
    pub nulls: Nulls,
    /// `trueapi.ogvs_always`: emit `ogvs: []` for codes that are not blocked.
    pub ogvs_always: bool,
    /// `trueapi.max_codes`: codes per request; more → 400.
    pub max_codes: usize,
    /// Groups whose `mrp` is a maximum (МРЦ) or a minimum (МЦ): both carry `mrp` (§10.3).
    pub mrp_groups: Vec<u16>,
    /// Groups whose codes carry `smp` (ЕМЦ).
    pub smp_groups: Vec<u16>,
    /// Code-grammar decisions (printView of packs, …).
    pub codes: CodeOptions,
    /// `trueapi.extra_code_fields`: fields added to every per-code object that does not already carry
    /// them — attributes a client does not know yet (§2: the attribute set may grow and clients MUST
    /// tolerate unknown fields). Default: none. A field of the answer is never overwritten.
    pub extra_code_fields: serde_json::Map<String, serde_json::Value>,
    /// `trueapi.extra_fields`: the same for the top level of every `codes/check` answer.
    pub extra_fields: serde_json::Map<String, serde_json::Value>,
    /// `trueapi.spare_hosts`: CDN hosts started after the listed ones (numbered on from them) that
    /// `cdn/info` does not list until the list is changed at run time ([`crate::cdn::CdnListing`],
    /// scenario step `cdn_list`): a host the next refresh adds (case CDN-LIST-CHANGE). Default 0.
    pub spare_hosts: usize,
}

impl Default for TrueApiOptions {
    fn default() -> Self {
        TrueApiOptions {
            nulls: Nulls::Omit,
            ogvs_always: false,
            max_codes: 100,
            mrp_groups: vec![3, 12, 16],
            smp_groups: vec![3],
            codes: CodeOptions::default(),
            extra_code_fields: serde_json::Map::new(),
            extra_fields: serde_json::Map::new(),
            spare_hosts: 0,
        }
    }
}

impl TrueApiOptions {
    /// True when answers are the structs as they serialise (no `null`s, no `ogvs: []`, no extra
    /// fields): the fast path of [`CheckResponse::to_json_bytes`].
    fn is_plain(&self) -> bool {
        self.nulls == Nulls::Omit
            && !self.ogvs_always
            && self.extra_code_fields.is_empty()
            && self.extra_fields.is_empty()
    }
}

/// The per-code object of a `codes/check` answer (§5). Optional fields are omitted when `None`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeCheck {
    pub cis: String,
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub print_view: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gtin: Option<String>,
    pub group_ids: Vec<u16>,
    pub verified: bool,
    pub found: bool,
    pub utilised: bool,
    pub realizable: bool,
    pub sold: bool,
    pub is_blocked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ogvs: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub production_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_owner: Option<bool>,
    pub error_code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub is_tracking: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elimination_state: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mrp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smp: Option<u64>,
    pub gray_zone: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_unit_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sold_unit_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_quantity: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub producer_inn: Option<String>,
}

/// The optional fields of [`CodeCheck`], written as `null` under [`Nulls::Null`].
const OPTIONAL_FIELDS: &[&str] = &[
    "printView",
    "gtin",
    "ogvs",
    "expireDate",
    "productionDate",
    "isOwner",
    "message",
    "eliminationState",
    "mrp",
    "smp",
    "innerUnitCount",
    "soldUnitCount",
    "packageType",
    "packageQuantity",
    "parent",
    "producerInn",
];

impl CodeCheck {
    fn empty(cis: &str) -> Self {
        CodeCheck {
            cis: cis.to_string(),
            valid: false,
            print_view: None,
            gtin: None,
            group_ids: Vec::new(),
            verified: false,
            found: false,
            utilised: false,
            realizable: false,
            sold: false,
            is_blocked: false,
            ogvs: None,
            expire_date: None,
            production_date: None,
            is_owner: None,
            error_code: 0,
            message: None,
            is_tracking: false,
            elimination_state: None,
            mrp: None,
            smp: None,
            gray_zone: false,
            inner_unit_count: None,
            sold_unit_count: None,
            package_type: None,
            package_quantity: None,
            parent: None,
            producer_inn: None,
        }
    }

    /// JSON of this object under the serialisation options (§5.1).
    pub fn to_json(&self, opts: &TrueApiOptions) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let serde_json::Value::Object(map) = &mut v {
            if opts.nulls == Nulls::Null {
                for f in OPTIONAL_FIELDS {
                    map.entry(*f).or_insert(serde_json::Value::Null);
                }
            }
            if opts.ogvs_always && !self.is_blocked {
                map.insert("ogvs".into(), serde_json::json!([]));
            }
            for (k, extra) in &opts.extra_code_fields {
                map.entry(k.as_str()).or_insert_with(|| extra.clone());
            }
        }
        v
    }
}

/// Who asks: the INN behind the credential (or the request's `inn`), for `isOwner`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Requester<'a> {
    /// INN of the requester, if known.
    pub inn: Option<&'a str>,
}

/// Answer one code from the world at world time `now_ms` (§6 templates).
pub fn check_code(
    world: &World,
    cis: &str,
    who: Requester<'_>,
    now_ms: i64,
    opts: &TrueApiOptions,
) -> CodeCheck {
    let _ = now_ms; // expiry is reported, not judged, by the True API: the POS compares expireDate
    let mut a = CodeCheck::empty(cis);
    let parsed = parse_cached(cis);
    let parsed = match parsed.as_ref() {
        Ok(p) => p,
        Err(e) => {
            // Invalid structure: printView/gtin only when extractable.
            if let Some(gtin) = extractable_gtin(cis) {
                a.group_ids = world.group_of(&gtin).into_iter().collect();
                a.gtin = Some(gtin);
            }
            a.error_code = e.true_api_error_code();
            a.message = Some(e.errors.first().map_or_else(|| e.to_string(), |d| d.defect.to_string()));
            return a;
        }
    };
    a.valid = true;
    a.print_view = Some(parsed.print_view(&opts.codes).to_string());
    a.gtin = Some(parsed.gtin().to_string());
    let product = world.product(parsed.gtin());
    a.group_ids = product.map(|p| vec![p.group]).unwrap_or_default();
    a.is_tracking = product.is_some_and(|p| world.tracking_groups.contains(&p.group));
    let Some(record) = world.code_by_identity(parsed.ki()) else {
        a.error_code = 10;
        a.message = Some("Код не найден в ГИС МТ".into());
        return a;
    };
    match record.origin {
        Origin::EaeuFailed => {
            a.error_code = 8;
            a.message = Some("Код не прошёл проверку в стране эмиссии".into());
            return a;
        }
        Origin::EaeuNotFound => {
            a.error_code = 11;
            a.message = Some("Код не найден в сервисе трансграничной проверки".into());
            return a;
        }
        Origin::Russia | Origin::EaeuOk => {}
    }
    a.found = true;
    let tail_matches = record.code == cis;
    a.verified = tail_matches && record.crypto == Crypto::Valid;
    if !a.verified {
        a.error_code = if tail_matches { record.crypto.error_code() } else { 6 };
        a.message = Some("Проверка криптоподписи не пройдена".into());
    }
    let (utilised, realizable, sold) = match record.state {
        CodeState::Emitted => (false, false, false),
        CodeState::Applied => (true, false, false),
        CodeState::Introduced => (true, true, false),
        CodeState::Sold | CodeState::Withdrawn => (true, false, true),
    };
    (a.utilised, a.realizable, a.sold) = (utilised, realizable, sold);
    let gtin_ban = product.map(|p| p.blocked_by.as_slice()).unwrap_or_default();
    a.is_blocked = record.is_blocked() || !gtin_ban.is_empty();
    a.ogvs = a.is_blocked.then(|| {
        let mut ogvs = record.blocked_by.clone();
        ogvs.extend(gtin_ban.iter().filter(|b| !record.blocked_by.contains(b)).cloned());
        ogvs
    });
    a.gray_zone = record.gray_zone;
    a.expire_date = record.expire_ms.map(format_iso_ms);
    a.production_date = record.production_ms.map(format_iso_ms);
    a.is_owner = who.inn.map(|inn| record.owner_inn.as_deref() == Some(inn));
    a.elimination_state = record.elimination_state;
    a.inner_unit_count = record.inner_unit_count;
    a.sold_unit_count = record.sold_unit_count;
    a.parent = record.parent.clone();
    if let Some(p) = product {
        if opts.mrp_groups.contains(&p.group) {
            a.mrp = p.mrp_kopecks;
        }
        if opts.smp_groups.contains(&p.group) {
            a.smp = p.smp_kopecks;
        }
        a.package_type = Some(if p.pack_count.is_some() { "GROUP" } else { "UNIT" }.into());
        a.package_quantity = p.pack_count;
        a.producer_inn = p.producer_inn.clone();
    }
    if let Some(code) = record.error_code.filter(|&c| c != 0 && a.error_code == 0) {
        a.error_code = code;
        a.message = Some(
            record.error_message.clone().unwrap_or_else(|| "Ошибка при проверке кода маркировки".into()),
        );
    }
    a
}

/// Parsed codes kept per thread, at most this many each.
const PARSE_CACHE_CAPACITY: usize = 16_384;

type ParseOutcome = Result<markcert_codes::MarkingCode, markcert_codes::ParseError>;

thread_local! {
    /// Parsing is a pure function of the code's bytes and the costliest step of an answer, and load
    /// tests send the same codes again and again: each serving thread remembers what it parsed. Bounded:
    /// once full, further new codes are parsed every time (a fuzzer cannot grow it).
    static PARSED: std::cell::RefCell<std::collections::HashMap<Box<str>, std::rc::Rc<ParseOutcome>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// `markcert_codes::parse` of `cis`, remembered per thread.
fn parse_cached(cis: &str) -> std::rc::Rc<ParseOutcome> {
    PARSED.with(|cache| {
        if let Some(hit) = cache.borrow().get(cis) {
            return std::rc::Rc::clone(hit);
        }
        let parsed = std::rc::Rc::new(markcert_codes::parse(cis.as_bytes()));
        let mut cache = cache.borrow_mut();
        if cache.len() < PARSE_CACHE_CAPACITY {
            cache.insert(cis.into(), std::rc::Rc::clone(&parsed));
        }
        parsed
    })
}

/// `01` + 14 digits at the start: the GTIN of an invalid GS1 code is still extractable.
fn extractable_gtin(cis: &str) -> Option<String> {
    let b = cis.as_bytes();
    (b.len() >= 16 && b.starts_with(b"01") && b[2..16].iter().all(u8::is_ascii_digit))
        .then(|| cis[2..16].to_string())
}

/// The top-level `codes/check` answer (§4).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResponse {
    pub code: i32,
    pub description: String,
    pub codes: Vec<CodeCheck>,
    pub req_id: String,
    pub req_timestamp: i64,
}

impl CheckResponse {
    /// The answer as JSON under the serialisation options (§5.1). With the defaults (fields without
    /// data omitted, no `ogvs: []`) the structs serialise directly, without an intermediate
    /// `serde_json::Value`: this is the hot path of every load test.
    pub fn to_json_bytes(&self, opts: &TrueApiOptions) -> Vec<u8> {
        if opts.is_plain() {
            // Sized for a typical answer (≈ 150 bytes + ≈ 450 per code) so the buffer is not regrown.
            let mut out = Vec::with_capacity(160 + 480 * self.codes.len());
            return match serde_json::to_writer(&mut out, self) {
                Ok(()) => out,
                Err(_) => Vec::new(),
            };
        }
        let codes: Vec<serde_json::Value> = self.codes.iter().map(|c| c.to_json(opts)).collect();
        let mut v = serde_json::json!({
            "code": self.code,
            "description": self.description,
            "codes": codes,
            "reqId": self.req_id,
            "reqTimestamp": self.req_timestamp,
        });
        if let serde_json::Value::Object(map) = &mut v {
            for (k, extra) in &opts.extra_fields {
                map.entry(k.as_str()).or_insert_with(|| extra.clone());
            }
        }
        serde_json::to_vec(&v).unwrap_or_default()
    }
}

/// Answer a whole request: every code in request order, sharing `req_id` and `now_ms`.
pub fn check_codes(
    world: &World,
    codes: &[String],
    who: Requester<'_>,
    now_ms: i64,
    req_id: uuid::Uuid,
    opts: &TrueApiOptions,
) -> CheckResponse {
    CheckResponse {
        code: 0,
        description: "ok".into(),
        codes: codes.iter().map(|c| check_code(world, c, who, now_ms, opts)).collect(),
        req_id: req_id.to_string(),
        req_timestamp: now_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_767_225_600_000;

    /// A dairy code in circulation (AI 93 tail: changing its last character keeps it well-formed).
    fn in_circulation(world: &World) -> String {
        world
            .codes()
            .iter()
            .find(|r| {
                r.case.as_deref() == Some("in-circulation")
                    && crate::world::identity(&r.code)
                        .and_then(|ki| world.group_of(&ki[2..16]))
                        .is_some_and(|g| g == 8)
            })
            .unwrap()
            .code
            .clone()
    }

    #[test]
    fn extra_fields_are_off_by_default_added_when_asked_and_never_overwrite() {
        let world = crate::world::default::default_world(NOW).unwrap();
        let code = in_circulation(&world);
        let who = Requester { inn: Some("7701000019") };
        let id = uuid::Uuid::nil();
        let plain = TrueApiOptions::default();
        assert!(plain.is_plain());
        let answer = check_codes(&world, std::slice::from_ref(&code), who, NOW, id, &plain);
        let v: serde_json::Value = serde_json::from_slice(&answer.to_json_bytes(&plain)).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 5, "{v}");
        assert!(v["codes"][0].get("futureAttribute").is_none());

        let patch = json!({
            "nulls": "null",
            "extra_code_fields": {"futureAttribute": {"kind": "x", "list": [1, "a", {"deep": true}]},
                                  "tnVed": "0401201100", "valid": false},
            "extra_fields": {"serverVersion": "4.12.0", "warnings": []},
        });
        let mut base = serde_json::to_value(TrueApiOptions::default()).unwrap();
        crate::kkt::options::merge_patch(&mut base, &patch);
        let rich: TrueApiOptions = serde_json::from_value(base).unwrap();
        assert!(!rich.is_plain());
        let answer = check_codes(&world, std::slice::from_ref(&code), who, NOW, id, &rich);
        let v: serde_json::Value = serde_json::from_slice(&answer.to_json_bytes(&rich)).unwrap();
        let c = &v["codes"][0];
        assert_eq!(c["futureAttribute"]["list"][2]["deep"], true, "{c}");
        assert_eq!(c["tnVed"], "0401201100");
        assert_eq!(c["valid"], true, "an extra field never overwrites a real one");
        assert!(c.get("parent").is_some_and(serde_json::Value::is_null), "nulls still apply: {c}");
        assert_eq!(
            (v["serverVersion"].as_str(), v["warnings"].as_array().map(Vec::len)),
            (Some("4.12.0"), Some(0))
        );
        assert_eq!(v["reqId"], id.to_string());

        // The same answer otherwise: the flags do not change.
        let strip = |mut v: serde_json::Value| {
            v.as_object_mut().unwrap().retain(|_, x| !x.is_null());
            v
        };
        let base_code = strip(check_code(&world, &code, who, NOW, &plain).to_json(&plain));
        let mut rich_code = strip(c.clone());
        for k in ["futureAttribute", "tnVed"] {
            rich_code.as_object_mut().unwrap().remove(k);
        }
        assert_eq!(rich_code, base_code);
    }

    #[test]
    fn a_record_error_code_is_reported_with_positive_flags_and_never_hides_a_real_error() {
        let mut world = crate::world::default::default_world(NOW).unwrap();
        let opts = TrueApiOptions::default();
        let who = Requester { inn: Some("7701000019") };
        let code = in_circulation(&world);
        let ki = crate::world::identity(&code).unwrap();
        let mut r = world.code_by_identity(&ki).unwrap().clone();
        r.error_code = Some(7);
        r.error_message = Some("Ключ проверки недействителен".into());
        world.update_code(r.clone()).unwrap();
        let a = check_code(&world, &code, who, NOW, &opts);
        assert!(a.valid && a.found && a.verified && a.utilised && a.realizable && !a.sold && !a.is_blocked);
        assert_eq!((a.error_code, a.message.as_deref()), (7, Some("Ключ проверки недействителен")));
        r.error_message = None;
        world.update_code(r.clone()).unwrap();
        let a = check_code(&world, &code, who, NOW, &opts);
        assert_eq!(a.error_code, 7);
        assert!(a.message.is_some_and(|m| !m.is_empty()), "errorCode ≠ 0 always comes with a message");
        // A real error (a wrong tail: 6) wins; 0 means none.
        let mut wrong_tail = code.clone();
        wrong_tail.pop();
        wrong_tail.push(if code.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(check_code(&world, &wrong_tail, who, NOW, &opts).error_code, 6);
        r.error_code = Some(0);
        world.update_code(r).unwrap();
        let a = check_code(&world, &code, who, NOW, &opts);
        assert_eq!((a.error_code, a.message), (0, None));
    }

    #[test]
    fn remembered_parses_answer_like_fresh_ones_and_the_memory_is_bounded() {
        let now = 1_767_225_600_000;
        let world = crate::world::default::default_world(now).unwrap();
        let opts = TrueApiOptions::default();
        let who = Requester { inn: Some(world.store_inn.as_str()) };
        let known: Vec<String> = world.codes().iter().take(20).map(|r| r.code.clone()).collect();
        let odd = ["", "0104601234567890", "not a code at all", "\u{1d}\u{1d}"];
        for code in known.iter().map(String::as_str).chain(odd) {
            let first = check_code(&world, code, who, now, &opts);
            let again = check_code(&world, code, who, now, &opts);
            assert_eq!(first, again, "{code:?}");
            let fresh = markcert_codes::parse(code.as_bytes());
            assert_eq!(*parse_cached(code), fresh, "{code:?}");
        }
        for n in 0..PARSE_CACHE_CAPACITY + 100 {
            let _ = parse_cached(&format!("filler {n}"));
        }
        assert_eq!(PARSED.with(|c| c.borrow().len()), PARSE_CACHE_CAPACITY);
        let late = "010460123456789021late";
        assert_eq!(*parse_cached(late), markcert_codes::parse(late.as_bytes()), "parsed even when full");
    }
}
