//! The POS-facing wire of the ТС ПИоТ (spec `tspiot.md` §3, §4, §6, §7): parsing `codes/check`
//! requests of API v1/v2/v3, checking `client_info`, and building every answer body the POS sees
//! (online and offline items, the per-version wrapper, 203, 514, the §7 error bodies, `/info`).
//!
//! Pure: no I/O, no clock, no state. It decides nothing about where an answer comes from (that is the
//! orchestrator's job) and never invents upstream values: `reqId`, `reqTimestamp` and per-code objects
//! are copied from the True API or ЛМ ЧЗ answer they come from.
//!
//! Decisions where the spec is silent:
//! - `codes[]` entries must be **standard base64 with `=` padding** (§3.2 says so); unpadded, URL-safe
//!   or line-broken base64 is refused with a 400 that names the exact problem, so a POS that would fail
//!   against a strict ТС ПИоТ fails here too, with a message that says what to fix.
//! - The decoded bytes must be non-empty UTF-8 (a marking code is ASCII plus ⟨GS⟩ 0x1D); the bytes are
//!   otherwise not judged — an invalid code is the True API's business (`valid: false`).
//! - v1/v2 entries must be strings and v3 entries objects `{"cis", "pg"?}`; `pg` is an integer
//!   0..=65535 or absent/null. At most [`MAX_CODES`] codes per request, like the True API.
//! - A request without `client_info` is not identified: 400 `FailedGetAppName` in both modes.
//! - Error bodies (§7): `message` is the text about this request, `details[0].info` the meaning of the
//!   kind; further details (514 causes) carry their own text. The 203 body is the literal §6 body
//!   (`details: []`); the 514 body has the §6 message but follows §7 (one `CheckServiceAreUnavailable`
//!   detail) where the §6 example shows `details: []` — a POS decides by the status either way.
//! - Offline items match ЛМ ЧЗ codes to the requested codes **by position** (the ЛМ ЧЗ answers in
//!   request order); `cis` is the full code the POS sent, `ogvs` is always `[]`.
//!
//! A mutation run (`TsPiotOptions::mutant`, or the `mutant` argument of [`parse_check_as`]) changes
//! the branches marked `// mutant: <name>`; without one every function is the reference.

use super::mutant::{self, TsPiotMutant};
use super::options::{ClientInfoMode, EmergencyBody, InstPlacement, TsPiotOptions};
use crate::world::World;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Map, Value};

/// At most this many codes per check request (as `trueapi.max_codes`, `true-api.md` §3).
pub const MAX_CODES: usize = 100;

/// The POS API version of a request (the `/api/vN/` path segment).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    /// `/api/v1/`: codes as base64 strings, double `codesResponse` wrapper.
    V1,
    /// `/api/v2/`: codes as base64 strings.
    V2,
    /// `/api/v3/`: codes as `{"cis": base64, "pg": int}` objects.
    V3,
}

impl ApiVersion {
    /// The version of a path segment `v1` / `v2` / `v3`.
    pub fn from_segment(segment: &str) -> Option<Self> {
        match segment {
            "v1" => Some(ApiVersion::V1),
            "v2" => Some(ApiVersion::V2),
            "v3" => Some(ApiVersion::V3),
            _ => None,
        }
    }

    /// The path segment (`v1`, `v2`, `v3`).
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V2 => "v2",
            ApiVersion::V3 => "v3",
        }
    }
}

/// A parsed `codes/check` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckRequest {
    /// The codes, in request order.
    pub codes: Vec<RequestedCode>,
    /// The POS program's identification (all fields `None` when the request had none).
    pub client_info: ClientInfo,
}

/// One requested code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedCode {
    /// The decoded bytes, exactly as the POS encoded them (⟨GS⟩ = 0x1D).
    pub raw: Vec<u8>,
    /// The same bytes as text; ⟨GS⟩ is the char `\u{1d}`.
    pub text: String,
    /// The product group of a v3 entry, if given.
    pub pg: Option<u16>,
}

/// `client_info` as sent; a field is `None` when absent or `null`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// POS program name.
    pub name: Option<String>,
    /// POS program version.
    pub version: Option<String>,
    /// Registry id of the POS program (ПМСР).
    pub id: Option<String>,
    /// Its key.
    pub token: Option<String>,
}

/// A refusal of the POS API with its §7 kind; [`WireError::body`] is what goes on the wire with
/// [`WireError::status`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {kind}: {message}")]
pub struct WireError {
    /// HTTP status.
    pub status: u16,
    /// The §7 kind (`FailedGetAppName`, …) or `BadRequest` for malformed input.
    pub kind: &'static str,
    /// What went wrong with this request.
    pub message: String,
}

/// The text of the 203 answer (§6).
pub const EMERGENCY_MESSAGE: &str = "Аварийный режим";

impl WireError {
    fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        WireError { status, kind, message: message.into() }
    }

    /// 203 `EmergencyMode`: the sale is allowed without a check. Its body is the §6 literal.
    pub fn emergency_mode() -> Self {
        Self::new(203, "EmergencyMode", EMERGENCY_MESSAGE)
    }

    /// 514 `CheckServiceAreUnavailable`: neither source answered within `timeout_ms`.
    pub fn check_service_unavailable(timeout_ms: u64) -> Self {
        Self::new(
            514,
            "CheckServiceAreUnavailable",
            format!("no answer from ГИС МТ or ЛМ ЧЗ within {timeout_ms} ms"),
        )
    }

    /// 514 `CdnNotFoundError`: no CDN host was available (a 514 cause, see [`unavailable_body_with`]).
    pub fn cdn_not_found(message: impl Into<String>) -> Self {
        Self::new(514, "CdnNotFoundError", message)
    }

    /// 514 `LocalModuleError`: the ЛМ ЧЗ failed when it was needed (a 514 cause).
    pub fn local_module(message: impl Into<String>) -> Self {
        Self::new(514, "LocalModuleError", message)
    }

    /// 500 `KkmError`: error on the KKT side.
    pub fn kkm(message: impl Into<String>) -> Self {
        Self::new(500, "KkmError", message)
    }

    /// 500 `FnSidError`: the trusted channel with the ФН could not be opened.
    pub fn fn_sid(message: impl Into<String>) -> Self {
        Self::new(500, "FnSidError", message)
    }

    /// 403 `NotRegistered`: the instance is not registered in ГИС МТ.
    pub fn not_registered(message: impl Into<String>) -> Self {
        Self::new(403, "NotRegistered", message)
    }

    /// 503 `NotConfigured`: the configuration was not received.
    pub fn not_configured(message: impl Into<String>) -> Self {
        Self::new(503, "NotConfigured", message)
    }

    /// 403 `LicenseExpired`: the ТС ПИоТ licence expired.
    pub fn license_expired(message: impl Into<String>) -> Self {
        Self::new(403, "LicenseExpired", message)
    }

    /// 401 `NotFoundPermission`: the POS program has no permission (manifest problem).
    pub fn not_found_permission(message: impl Into<String>) -> Self {
        Self::new(401, "NotFoundPermission", message)
    }

    /// 401 `NotFoundPmsrId`: `client_info.id` is not a registered POS program.
    pub fn not_found_pmsr_id(message: impl Into<String>) -> Self {
        Self::new(401, "NotFoundPmsrId", message)
    }

    /// 401 `NotFoundPmsrToken`: `client_info.token` is missing or wrong.
    pub fn not_found_pmsr_token(message: impl Into<String>) -> Self {
        Self::new(401, "NotFoundPmsrToken", message)
    }

    /// 400 `FailedGetAppName`: `client_info.name` missing.
    pub fn failed_get_app_name(message: impl Into<String>) -> Self {
        Self::new(400, "FailedGetAppName", message)
    }

    /// 400 `FailedGetAppVersion`: `client_info.version` missing.
    pub fn failed_get_app_version(message: impl Into<String>) -> Self {
        Self::new(400, "FailedGetAppVersion", message)
    }

    /// 500 `UnknownError`: anything else.
    pub fn unknown(message: impl Into<String>) -> Self {
        Self::new(500, "UnknownError", message)
    }

    /// 400 `BadRequest` (markcert's kind for malformed input: JSON, `codes`, base64).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// What the kind means (the §7 table), for `details[0].info`.
    pub fn meaning(&self) -> &'static str {
        match self.kind {
            "EmergencyMode" => "emergency mode: the sale is allowed without a check",
            "CheckServiceAreUnavailable" => "neither ГИС МТ nor ЛМ ЧЗ answered",
            "CdnNotFoundError" => "no CDN host available for the online check",
            "LocalModuleError" => "ЛМ ЧЗ error when it was needed",
            "KkmError" => "error on the KKT side",
            "FnSidError" => "could not open the trusted channel with the ФН (no fnSid)",
            "NotRegistered" => "instance not registered in ГИС МТ",
            "NotConfigured" => "configuration not received",
            "LicenseExpired" => "ТС ПИоТ licence expired",
            "NotFoundPermission" => "POS program manifest: permission not found",
            "NotFoundPmsrId" => "POS program (ПМСР) id not found",
            "NotFoundPmsrToken" => "POS program (ПМСР) token not found or wrong",
            "FailedGetAppName" => "client_info.name missing",
            "FailedGetAppVersion" => "client_info.version missing",
            "BadRequest" => "malformed request",
            _ => "unknown error",
        }
    }

    /// The §7 error body: `{"code": status, "message", "details": [{"kind", "info"}]}`; for
    /// `EmergencyMode` the §6 body `{"code": 203, "message": "Аварийный режим", "details": []}`.
    pub fn body(&self) -> Value {
        let details =
            if self.kind == "EmergencyMode" { json!([]) } else { json!([self.detail(self.meaning())]) };
        json!({ "code": self.status, "message": self.message, "details": details })
    }

    fn detail(&self, info: &str) -> Value {
        json!({ "kind": self.kind, "info": info })
    }
}

/// Parse a `codes/check` request body of API `version`. Every refusal is a 400 `BadRequest` whose
/// message says exactly what to fix; `client_info` is parsed (types only) and judged separately by
/// [`check_client_info`].
pub fn parse_check(version: ApiVersion, body: &[u8]) -> Result<CheckRequest, WireError> {
    parse_check_as(version, body, None)
}

/// [`parse_check`] as an instance running with the deliberate defect `mutant` parses (mutation
/// testing; `None` is [`parse_check`]).
pub fn parse_check_as(
    version: ApiVersion,
    body: &[u8],
    mutant: Option<TsPiotMutant>,
) -> Result<CheckRequest, WireError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| WireError::bad_request(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(top) = value else {
        return Err(WireError::bad_request(
            "the body must be a JSON object {\"codes\": […], \"client_info\": {…}}",
        ));
    };
    let entries = match top.get("codes") {
        None | Some(Value::Null) => return Err(WireError::bad_request("`codes` is missing")),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(WireError::bad_request("`codes` must be an array")),
    };
    if entries.is_empty() {
        return Err(WireError::bad_request("`codes` is empty"));
    }
    if entries.len() > MAX_CODES {
        return Err(WireError::bad_request(format!(
            "`codes` has {} entries; at most {MAX_CODES} codes per request",
            entries.len()
        )));
    }
    let codes = entries
        .iter()
        .enumerate()
        .map(|(i, e)| parse_entry(version, i, e, mutant))
        .collect::<Result<Vec<_>, _>>()?;
    let client_info = parse_client_info(top.get("client_info"))?;
    Ok(CheckRequest { codes, client_info })
}

fn parse_entry(
    version: ApiVersion,
    i: usize,
    entry: &Value,
    mutant: Option<TsPiotMutant>,
) -> Result<RequestedCode, WireError> {
    match (version, entry) {
        (ApiVersion::V1 | ApiVersion::V2, Value::String(s)) => {
            decode_code(&format!("codes[{i}]"), s, None, mutant)
        }
        (ApiVersion::V1 | ApiVersion::V2, _) => Err(WireError::bad_request(format!(
            "codes[{i}] must be a base64 string in API {}; objects {{\"cis\", \"pg\"}} are API v3",
            version.as_str()
        ))),
        (ApiVersion::V3, Value::Object(o)) => {
            let pg = match o.get("pg") {
                None | Some(Value::Null) => None,
                Some(p) => match p.as_u64().and_then(|n| u16::try_from(n).ok()) {
                    Some(n) => Some(n),
                    None => {
                        return Err(WireError::bad_request(format!(
                            "codes[{i}].pg must be an integer 0..=65535 (a product group id)"
                        )))
                    }
                },
            };
            match o.get("cis") {
                Some(Value::String(s)) => decode_code(&format!("codes[{i}].cis"), s, pg, mutant),
                None | Some(Value::Null) => Err(WireError::bad_request(format!("codes[{i}].cis is missing"))),
                Some(_) => Err(WireError::bad_request(format!("codes[{i}].cis must be a base64 string"))),
            }
        }
        (ApiVersion::V3, _) => Err(WireError::bad_request(format!(
            "codes[{i}] must be an object {{\"cis\": base64, \"pg\": int}} in API v3"
        ))),
    }
}

/// Decode one base64 entry (`at` names it in messages).
fn decode_code(
    at: &str,
    b64: &str,
    pg: Option<u16>,
    mutant: Option<TsPiotMutant>,
) -> Result<RequestedCode, WireError> {
    if b64.is_empty() {
        return Err(WireError::bad_request(format!("{at} is empty")));
    }
    let raw = match STANDARD.decode(b64) {
        Ok(raw) => raw,
        // mutant: accept-bad-base64 (the entry's text goes upstream as it is)
        Err(_) if mutant == Some(TsPiotMutant::AcceptBadBase64) => b64.as_bytes().to_vec(),
        Err(_) => return Err(WireError::bad_request(format!("{at}: {}", base64_problem(b64)))),
    };
    if raw.is_empty() {
        return Err(WireError::bad_request(format!("{at} decodes to an empty code")));
    }
    let text = String::from_utf8(raw.clone()).map_err(|e| {
        let at_byte = e.utf8_error().valid_up_to();
        WireError::bad_request(format!(
            "{at}: the decoded bytes are not UTF-8 (byte 0x{:02X} at offset {at_byte}); a marking code \
             is ASCII with ⟨GS⟩ as the byte 0x1D",
            raw[at_byte]
        ))
    })?;
    Ok(RequestedCode { raw, text, pg })
}

/// Why `s` is not standard padded base64, in words a POS developer can act on.
fn base64_problem(s: &str) -> String {
    const REQUIRED: &str =
        "standard base64 (RFC 4648 §4, alphabet +/, '=' padding) of the code bytes is required";
    if let Some((i, c)) = s.char_indices().find(|(_, c)| c.is_whitespace()) {
        return format!("whitespace {c:?} at offset {i} inside the base64; {REQUIRED}");
    }
    if s.contains(['-', '_']) && (URL_SAFE.decode(s).is_ok() || URL_SAFE_NO_PAD.decode(s).is_ok()) {
        return format!("URL-safe base64 alphabet (-_); {REQUIRED}");
    }
    if STANDARD_NO_PAD.decode(s).is_ok() {
        return format!("base64 without '=' padding; {REQUIRED}");
    }
    if let Some((i, c)) = s.char_indices().find(|(_, c)| !(c.is_ascii_alphanumeric() || "+/=".contains(*c))) {
        return format!(
            "character {c:?} at offset {i} is not base64 (was the code sent as text?); {REQUIRED}"
        );
    }
    format!("not valid base64 (length or padding); {REQUIRED}")
}

fn parse_client_info(v: Option<&Value>) -> Result<ClientInfo, WireError> {
    let o = match v {
        None | Some(Value::Null) => return Ok(ClientInfo::default()),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(WireError::bad_request("client_info must be an object")),
    };
    let field = |name: &str| match o.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(WireError::bad_request(format!("client_info.{name} must be a string"))),
    };
    Ok(ClientInfo {
        name: field("name")?,
        version: field("version")?,
        id: field("id")?,
        token: field("token")?,
    })
}

fn non_blank(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.trim().is_empty())
}

/// Judge `client_info` (§3.2). Both modes: `name` and `version` non-blank (else 400
/// `FailedGetAppName` / `FailedGetAppVersion`; a request without `client_info` gets the former).
/// Strict: `id` must be a POS program of the world (else 401 `NotFoundPmsrId`) and `token` its key
/// (else 401 `NotFoundPmsrToken`). Lenient: `id` and `token` may be anything, or absent.
pub fn check_client_info(ci: &ClientInfo, mode: ClientInfoMode, world: &World) -> Result<(), WireError> {
    if *ci == ClientInfo::default() {
        return Err(WireError::failed_get_app_name(
            "client_info is missing: the POS program must identify itself (name, version, id, token)",
        ));
    }
    if non_blank(&ci.name).is_none() {
        return Err(WireError::failed_get_app_name("client_info.name is missing or empty"));
    }
    if non_blank(&ci.version).is_none() {
        return Err(WireError::failed_get_app_version("client_info.version is missing or empty"));
    }
    if mode == ClientInfoMode::Lenient {
        return Ok(());
    }
    let Some(id) = non_blank(&ci.id) else {
        return Err(WireError::not_found_pmsr_id("client_info.id is missing or empty"));
    };
    let Some(program) = world.pos_software_by_id(id) else {
        return Err(WireError::not_found_pmsr_id(format!(
            "client_info.id {id:?} is not a POS program registered in ГИС МТ"
        )));
    };
    match ci.token.as_deref() {
        None | Some("") => Err(WireError::not_found_pmsr_token("client_info.token is missing or empty")),
        Some(t) if t != program.token => Err(WireError::not_found_pmsr_token(format!(
            "client_info.token is not the key of POS program {id:?}"
        ))),
        Some(_) => Ok(()),
    }
}

/// `reqTimestamp` as the options want it: an integer, or its digits as a string. Values that are
/// neither an integer nor a string of one are copied verbatim.
fn timestamp(v: &Value, as_string: bool) -> Value {
    match v {
        Value::Number(n) if as_string && (n.is_i64() || n.is_u64()) => Value::String(n.to_string()),
        Value::String(s) if !as_string => match s.parse::<i64>() {
            Ok(n) if n.to_string() == *s => Value::from(n),
            _ => v.clone(),
        },
        _ => v.clone(),
    }
}

fn copy(from: &Value, to: &mut Map<String, Value>, field: &str) {
    if let Some(v) = from.get(field).filter(|v| !v.is_null()) {
        to.insert(field.to_string(), v.clone());
    }
}

fn copy_timestamp(from: &Value, to: &mut Map<String, Value>, opts: &TsPiotOptions) {
    if let Some(v) = from.get("reqTimestamp").filter(|v| !v.is_null()) {
        to.insert("reqTimestamp".into(), timestamp(v, opts.timestamp_as_string));
    }
}

/// The item of an online answer (§4.2): `code` and `description` of the True API answer (0 / `"ok"`
/// when absent), its `codes` unchanged, its `reqId` and `reqTimestamp` (typed per
/// `timestamp_as_string`), `isCheckedOffline: false`. Fields the answer lacks are omitted, never
/// invented.
pub fn online_item(true_api_answer: &Value, opts: &TsPiotOptions) -> Value {
    let a = true_api_answer;
    let mut item = Map::new();
    item.insert("code".into(), a.get("code").filter(|c| c.is_i64()).cloned().unwrap_or(json!(0)));
    item.insert(
        "description".into(),
        a.get("description").filter(|d| d.is_string()).cloned().unwrap_or(json!("ok")),
    );
    copy(a, &mut item, "codes");
    // mutant: typed-passthrough (per-code objects through a struct of the classic fields)
    if opts.mutant == Some(TsPiotMutant::TypedPassthrough) {
        if let Some(codes) = item.get_mut("codes") {
            *codes = mutant::typed_passthrough(codes);
        }
    }
    copy(a, &mut item, "reqId");
    copy_timestamp(a, &mut item, opts);
    item.insert("isCheckedOffline".into(), Value::Bool(false));
    Value::Object(item)
}

/// Per-code fields copied from the ЛМ ЧЗ answer into an offline code object.
const LM_CODE_FIELDS: [&str; 7] = ["gtin", "printView", "isBlocked", "isGreyGtin", "sold", "mrp", "smp"];

/// Online-only flags, `false` in every offline code object (§4.4).
const ONLINE_FLAGS: [&str; 5] = ["found", "valid", "verified", "utilised", "realizable"];

/// The items of an offline answer (§4.3), one per ЛМ ЧЗ answer object: a v1 answer is one object, a
/// v2 answer (`{"results": […]}`) one per result. Codes are matched to `requested` by position,
/// continuing across results; `cis` is the full code the POS sent (the ЛМ ЧЗ's own `cis` only when
/// there are more ЛМ codes than requested ones). Each code object: the online flags `false`,
/// `groupIds: []`, `ogvs: []`, and `gtin`, `printView`, `isBlocked`, `isGreyGtin`, `sold`, `mrp`,
/// `smp` when the ЛМ ЧЗ gave them. Each item: `code: 0`, the ЛМ ЧЗ `reqId`/`reqTimestamp`,
/// `isCheckedOffline: true`, and `inst`/`version` placed per `inst_placement`.
pub fn offline_items(lm_answer: &Value, requested: &[RequestedCode], opts: &TsPiotOptions) -> Vec<Value> {
    let results: Vec<&Value> = match lm_answer.get("results") {
        Some(Value::Array(r)) => r.iter().collect(),
        _ => vec![lm_answer],
    };
    let mut next = 0;
    results
        .into_iter()
        .map(|r| {
            let (item, used) = offline_one(r, requested.get(next..).unwrap_or(&[]), opts);
            next += used;
            item
        })
        .collect()
}

/// The item of an offline answer whose ЛМ ЧЗ answer is one object (v1, or v2 with one result): the
/// first of [`offline_items`]. Use [`offline_items`] when a v2 answer may carry several results.
pub fn offline_item(lm_answer: &Value, requested: &[RequestedCode], opts: &TsPiotOptions) -> Value {
    offline_items(lm_answer, requested, opts)
        .into_iter()
        .next()
        .unwrap_or_else(|| offline_one(&Value::Null, &[], opts).0)
}

/// One offline item and how many ЛМ codes it used.
fn offline_one(r: &Value, requested: &[RequestedCode], opts: &TsPiotOptions) -> (Value, usize) {
    let on_code = matches!(opts.inst_placement, InstPlacement::Code | InstPlacement::Both);
    let on_item = matches!(opts.inst_placement, InstPlacement::Item | InstPlacement::Both);
    let lm_codes = r.get("codes").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let codes: Vec<Value> = lm_codes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut o = Map::new();
            match requested.get(i) {
                Some(q) => {
                    o.insert("cis".into(), Value::String(q.text.clone()));
                }
                None => copy(c, &mut o, "cis"),
            }
            for flag in ONLINE_FLAGS {
                o.insert(flag.into(), Value::Bool(false));
            }
            o.insert("groupIds".into(), json!([]));
            o.insert("ogvs".into(), json!([]));
            for f in LM_CODE_FIELDS {
                copy(c, &mut o, f);
            }
            if on_code {
                copy(r, &mut o, "inst");
                copy(r, &mut o, "version");
            }
            Value::Object(o)
        })
        .collect();
    let mut item = Map::new();
    item.insert("code".into(), json!(0));
    item.insert("codes".into(), Value::Array(codes));
    copy(r, &mut item, "reqId");
    copy_timestamp(r, &mut item, opts);
    // mutant: online-flags-offline (offline items flagged as online)
    let offline = opts.mutant != Some(TsPiotMutant::OnlineFlagsOffline);
    item.insert("isCheckedOffline".into(), Value::Bool(offline));
    if on_item {
        copy(r, &mut item, "inst");
        copy(r, &mut item, "version");
    }
    (Value::Object(item), lm_codes.len())
}

/// Wrap items per version (§4.1): v2/v3 `{"codesResponse": […]}`, v1
/// `{"codesResponse": {"codesResponse": […]}}`.
pub fn wrap(version: ApiVersion, items: Vec<Value>) -> Value {
    match version {
        ApiVersion::V1 => json!({ "codesResponse": { "codesResponse": items } }),
        ApiVersion::V2 | ApiVersion::V3 => json!({ "codesResponse": items }),
    }
}

/// The 203 body (§6): bare `{"code": 203, "message": "Аварийный режим", "details": []}`, or with
/// `emergency_body = with_results` the same plus a per-version `codesResponse` holding one item
/// `{"code": 203, "description": "Аварийный режим", "codes": [], "isCheckedOffline": false}` — no
/// `reqId`, no `reqTimestamp`, no code objects: there was no upstream check.
pub fn emergency_body(opts: &TsPiotOptions, version: ApiVersion) -> Value {
    let mut body = WireError::emergency_mode().body();
    if opts.emergency_body == EmergencyBody::WithResults {
        let item = json!({
            "code": 203,
            "description": EMERGENCY_MESSAGE,
            "codes": [],
            "isCheckedOffline": false,
        });
        if let (Value::Object(b), Value::Object(mut w)) = (&mut body, wrap(version, vec![item])) {
            if let Some(cr) = w.remove("codesResponse") {
                b.insert("codesResponse".into(), cr);
            }
        }
    }
    body
}

/// The 514 body (§6, §7): `{"code": 514, "message": "no answer from ГИС МТ or ЛМ ЧЗ within <t> ms",
/// "details": [{"kind": "CheckServiceAreUnavailable", …}]}`.
pub fn unavailable_body(timeout_ms: u64) -> Value {
    unavailable_body_with(timeout_ms, &[])
}

/// The 514 body with the causes as secondary details (`CdnNotFoundError`, `LocalModuleError`, …),
/// each `{"kind", "info": <its message>}`.
pub fn unavailable_body_with(timeout_ms: u64, causes: &[WireError]) -> Value {
    let mut body = WireError::check_service_unavailable(timeout_ms).body();
    if let Some(Value::Array(details)) = body.get_mut("details") {
        details.extend(causes.iter().map(|c| c.detail(&c.message)));
    }
    body
}

/// What `/info` reports (§3.1).
#[derive(Clone, Debug, PartialEq)]
pub struct InfoFields {
    /// Instance id assigned at registration.
    pub tspiot_id: String,
    /// KKT serial the instance is bound to.
    pub kkt_serial: String,
    /// ФН serial.
    pub fn_serial: String,
    /// INN of the KKT owner.
    pub kkt_inn: String,
    /// `codesCheckTimeout`, ms.
    pub codes_check_timeout_ms: u64,
    /// The ЛМ ЧЗ state object, when known.
    pub lm: Option<Value>,
}

/// The `/info` body (§3.1); `codesCheckTimeout` is a string of digits (`"1800"`), `lm` only when
/// known.
pub fn info_body(f: &InfoFields) -> Value {
    let mut body = json!({
        "tspiotId": f.tspiot_id,
        "kktSerial": f.kkt_serial,
        "fnSerial": f.fn_serial,
        "kktInn": f.kkt_inn,
        "codesCheckTimeout": f.codes_check_timeout_ms.to_string(),
    });
    if let (Value::Object(b), Some(lm)) = (&mut body, &f.lm) {
        b.insert("lm".into(), lm.clone());
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::default::{default_world, POS_SOFTWARE_ID, POS_SOFTWARE_TOKEN};

    const EXAMPLE: &str = "MDEwNDYxMjM0NTAwMDQzODIxNWFaO3EwHTkzSm00dA==";

    fn msg(r: Result<CheckRequest, WireError>) -> String {
        let e = r.unwrap_err();
        assert_eq!((e.status, e.kind), (400, "BadRequest"), "{e}");
        e.message
    }

    #[test]
    fn the_spec_example_decodes_with_gs() {
        let body = format!(r#"{{"codes":["{EXAMPLE}"],"client_info":{{"name":"p","version":"1"}}}}"#);
        let r = parse_check(ApiVersion::V2, body.as_bytes()).unwrap();
        assert_eq!(r.codes[0].text, "0104612345000438215aZ;q0\u{1d}93Jm4t");
        assert_eq!(r.codes[0].raw[24], 0x1d);
        assert_eq!(r.client_info.name.as_deref(), Some("p"));
        assert_eq!(r.client_info.id, None);
    }

    #[test]
    fn v3_objects_with_and_without_pg() {
        let body = format!(r#"{{"codes":[{{"cis":"{EXAMPLE}","pg":8}},{{"cis":"{EXAMPLE}","pg":null}}]}}"#);
        let r = parse_check(ApiVersion::V3, body.as_bytes()).unwrap();
        assert_eq!((r.codes[0].pg, r.codes[1].pg), (Some(8), None));
        assert!(msg(parse_check(ApiVersion::V3, br#"{"codes":[{"cis":"QQ==","pg":-1}]}"#)).contains("pg"));
        assert!(msg(parse_check(ApiVersion::V3, br#"{"codes":[{"pg":1}]}"#)).contains("cis is missing"));
        assert!(msg(parse_check(ApiVersion::V3, br#"{"codes":["QQ=="]}"#)).contains("object"));
        assert!(msg(parse_check(ApiVersion::V2, br#"{"codes":[{"cis":"QQ=="}]}"#)).contains("API v3"));
    }

    #[test]
    fn malformed_requests_say_what_to_fix() {
        let cases: [(&[u8], &str); 12] = [
            (b"", "not valid JSON"),
            (b"[]", "JSON object"),
            (b"{}", "`codes` is missing"),
            (br#"{"codes":"QQ=="}"#, "must be an array"),
            (br#"{"codes":[]}"#, "empty"),
            (br#"{"codes":[""]}"#, "codes[0] is empty"),
            (br#"{"codes":["MDEwNDYxMjM0NTAwMDQzODIxNWFaO3EwHTkzSm00dA"]}"#, "without '=' padding"),
            (br#"{"codes":["MDEw-A=="]}"#, "URL-safe"),
            (br#"{"codes":["MDEw\nNDYx"]}"#, "whitespace"),
            (br#"{"codes":["0104612345000438215aZ;q0"]}"#, "character ';'"),
            (br#"{"codes":["//79"]}"#, "not UTF-8 (byte 0xFF at offset 0)"),
            (br#"{"codes":["QQ=="],"client_info":"pos"}"#, "client_info must be an object"),
        ];
        for (body, expected) in cases {
            let m = msg(parse_check(ApiVersion::V1, body));
            assert!(m.contains(expected), "{:?}: {m}", String::from_utf8_lossy(body));
        }
        let too_many = json!({ "codes": vec!["QQ=="; MAX_CODES + 1] }).to_string();
        assert!(msg(parse_check(ApiVersion::V2, too_many.as_bytes())).contains("at most 100"));
        let just_enough = json!({ "codes": vec!["QQ=="; MAX_CODES] }).to_string();
        assert_eq!(parse_check(ApiVersion::V2, just_enough.as_bytes()).unwrap().codes.len(), MAX_CODES);
        let typed = br#"{"codes":["QQ=="],"client_info":{"name":"p","version":3}}"#;
        assert!(msg(parse_check(ApiVersion::V2, typed)).contains("client_info.version must be a string"));
    }

    fn ci(name: &str, version: &str, id: Option<&str>, token: Option<&str>) -> ClientInfo {
        ClientInfo {
            name: Some(name.into()),
            version: Some(version.into()),
            id: id.map(Into::into),
            token: token.map(Into::into),
        }
    }

    #[test]
    fn client_info_modes() {
        let w = default_world(0).unwrap();
        let kind = |c: &ClientInfo, m| check_client_info(c, m, &w).map_err(|e| (e.status, e.kind));
        use ClientInfoMode::{Lenient, Strict};
        assert_eq!(kind(&ClientInfo::default(), Lenient), Err((400, "FailedGetAppName")));
        assert_eq!(kind(&ClientInfo::default(), Strict), Err((400, "FailedGetAppName")));
        assert_eq!(kind(&ci(" ", "1", None, None), Lenient), Err((400, "FailedGetAppName")));
        assert_eq!(kind(&ci("pos", "", None, None), Lenient), Err((400, "FailedGetAppVersion")));
        assert_eq!(kind(&ci("pos", "1", None, None), Lenient), Ok(()));
        assert_eq!(kind(&ci("pos", "1", Some("x"), Some("y")), Lenient), Ok(()));
        assert_eq!(kind(&ci("pos", "1", None, None), Strict), Err((401, "NotFoundPmsrId")));
        assert_eq!(kind(&ci("pos", "1", Some("x"), Some("y")), Strict), Err((401, "NotFoundPmsrId")));
        let id = Some(POS_SOFTWARE_ID);
        assert_eq!(kind(&ci("pos", "1", id, None), Strict), Err((401, "NotFoundPmsrToken")));
        assert_eq!(kind(&ci("pos", "1", id, Some("y")), Strict), Err((401, "NotFoundPmsrToken")));
        assert_eq!(kind(&ci("pos", "1", id, Some(POS_SOFTWARE_TOKEN)), Strict), Ok(()));
    }

    #[test]
    fn timestamps_keep_their_digits() {
        assert_eq!(timestamp(&json!(1767225600123_i64), true), json!("1767225600123"));
        assert_eq!(timestamp(&json!("1767225600123"), false), json!(1767225600123_i64));
        assert_eq!(timestamp(&json!("0123"), false), json!("0123"), "digits unchanged");
        assert_eq!(timestamp(&json!(1.5), true), json!(1.5));
    }

    #[test]
    fn online_items_never_invent_upstream_values() {
        let item = online_item(&json!({ "code": 0, "codes": [] }), &TsPiotOptions::default());
        assert_eq!(item, json!({ "code": 0, "description": "ok", "codes": [], "isCheckedOffline": false }));
    }

    #[test]
    fn offline_codes_are_matched_by_position_across_v2_results() {
        let req = |t: &str| RequestedCode { raw: t.as_bytes().to_vec(), text: t.into(), pg: None };
        let lm = json!({ "results": [
            { "reqId": "a", "codes": [{ "cis": "A" }] },
            { "reqId": "b", "codes": [{ "cis": "B" }, { "cis": "C" }] },
        ]});
        let items = offline_items(&lm, &[req("A\u{1d}x"), req("B\u{1d}y")], &TsPiotOptions::default());
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["codes"][0]["cis"], "A\u{1d}x");
        assert_eq!(items[1]["codes"][0]["cis"], "B\u{1d}y");
        assert_eq!(items[1]["codes"][1]["cis"], "C", "more ЛМ codes than requested: the ЛМ's cis");
        assert_eq!(offline_item(&lm, &[], &TsPiotOptions::default())["reqId"], "a");
    }

    #[test]
    fn typed_passthrough_drops_the_fields_it_does_not_know() {
        let answer = json!({ "code": 0, "reqId": "r", "reqTimestamp": 1, "codes": [{
            "cis": "A", "valid": true, "found": true, "groupIds": [3], "errorCode": 0, "mrp": 12000,
            "isOwner": true, "message": "m", "eliminationState": 2, "productionDate": "2025-01-01",
            "someFutureField": { "x": 1 },
        }]});
        let reference = online_item(&answer, &TsPiotOptions::default());
        assert_eq!(reference["codes"], answer["codes"], "the reference passes every field through");
        let opts = TsPiotOptions { mutant: Some(TsPiotMutant::TypedPassthrough), ..Default::default() };
        let typed = online_item(&answer, &opts);
        assert_eq!(
            typed["codes"],
            json!([{
                "cis": "A", "valid": true, "found": true, "groupIds": [3], "errorCode": 0, "mrp": 12000,
            }])
        );
        assert_eq!((typed["reqId"].clone(), typed["isCheckedOffline"].clone()), (json!("r"), json!(false)));
    }

    #[test]
    fn online_flags_offline_marks_offline_items_online() {
        let req = [RequestedCode { raw: b"A".to_vec(), text: "A".into(), pg: None }];
        let lm = json!({ "reqId": "a", "codes": [{ "cis": "A" }] });
        assert_eq!(offline_items(&lm, &req, &TsPiotOptions::default())[0]["isCheckedOffline"], true);
        let opts = TsPiotOptions { mutant: Some(TsPiotMutant::OnlineFlagsOffline), ..Default::default() };
        let items = offline_items(&lm, &req, &opts);
        assert_eq!(items[0]["isCheckedOffline"], false);
        assert_eq!(items[0]["codes"][0]["found"], false, "the flags stay offline");
    }

    #[test]
    fn accept_bad_base64_forwards_the_raw_text() {
        let body = br#"{"codes":["0104612345000438215aZ;q0"],"client_info":{"name":"p","version":"1"}}"#;
        assert!(msg(parse_check(ApiVersion::V2, body)).contains("character ';'"));
        assert!(msg(parse_check_as(ApiVersion::V2, body, None)).contains("character ';'"));
        let r = parse_check_as(ApiVersion::V2, body, Some(TsPiotMutant::AcceptBadBase64)).unwrap();
        assert_eq!(r.codes[0].text, "0104612345000438215aZ;q0");
        assert_eq!(r.codes[0].raw, b"0104612345000438215aZ;q0");
        let v3 = br#"{"codes":[{"cis":"MDEw-A=="}]}"#;
        let r = parse_check_as(ApiVersion::V3, v3, Some(TsPiotMutant::AcceptBadBase64)).unwrap();
        assert_eq!(r.codes[0].text, "MDEw-A==");
        // Valid base64 is decoded as usual, and an empty entry is still refused.
        let ok = format!(r#"{{"codes":["{EXAMPLE}"]}}"#);
        let r = parse_check_as(ApiVersion::V2, ok.as_bytes(), Some(TsPiotMutant::AcceptBadBase64)).unwrap();
        assert_eq!(r.codes[0].text, "0104612345000438215aZ;q0\u{1d}93Jm4t");
        assert!(parse_check_as(ApiVersion::V2, br#"{"codes":[""]}"#, Some(TsPiotMutant::AcceptBadBase64))
            .is_err());
    }

    #[test]
    fn api_version_segments() {
        for v in [ApiVersion::V1, ApiVersion::V2, ApiVersion::V3] {
            assert_eq!(ApiVersion::from_segment(v.as_str()), Some(v));
        }
        assert_eq!(ApiVersion::from_segment("v4"), None);
    }
}
