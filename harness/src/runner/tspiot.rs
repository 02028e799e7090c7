//! Role `tspiot`: the harness plays the POS against a ТС ПИоТ under test (`tspiot.md` §3, §4, §10).
//!
//! Owns the POS side of the wire — [`TspiotTarget`] sends `codes/check` (v1/v2/v3, codes as base64 of
//! their bytes, `client_info` of the POS program registered in the world) and `/info` — and the checks
//! every answer gets whatever the scenario expects ([`judge_check`], [`judge_info`]):
//! - the wrapping of the version (v1 double wrapper; v2/v3 a list) and every code matched by `cis`;
//! - an online item is a real upstream answer: its `reqId` was issued by an emulated True API host,
//!   its `reqTimestamp` is that check's, and its per-code objects are the ones the host sent
//!   (recomputed from the world, so an invented, edited or filtered answer shows);
//! - an offline item has `isCheckedOffline: true`, the online flags false and the ЛМ ЧЗ's `inst` /
//!   `version`;
//! - the code bytes that reached the True API are the decoded bytes, and the ЛМ ЧЗ got their КИ;
//! - the answer came within `codesCheckTimeout` (1800 ms) plus the run's timing tolerance.
//!
//! The scenario's `expect` adds status, offline/online, `isBlocked`, the issuing host and a tighter
//! time bound. Must not: panic on anything the implementation answers.

use std::time::{Duration, Instant};

use markcert_emulators::cdn::CODES_CHECK_PATH;
use markcert_emulators::stack::Stack;
use markcert_emulators::trace::TraceEvent;
use markcert_emulators::trueapi::{check_codes, Requester};
use serde_json::{json, Value};

use super::resolve::base64;
use crate::scenario::CheckExpect;

/// `codesCheckTimeout` (`tspiot.md` §5): from the POS request to the answer.
pub const CODES_CHECK_TIMEOUT_MS: u64 = 1800;

/// The default timing tolerance (`grading.timing_tolerance_ms`, `tspiot.md` §10).
pub const DEFAULT_TIMING_TOLERANCE_MS: u64 = 50;

/// How long the harness waits for one answer before it calls the call failed.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest answer read from the implementation.
const MAX_ANSWER_BYTES: usize = 4 << 20;

/// The ТС ПИоТ under test, as a POS sees it.
pub(crate) struct TspiotTarget {
    /// POS API base URL (no trailing `/`).
    pub base: String,
    http: reqwest::Client,
}

/// One call's outcome.
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    /// HTTP status, or `None` when no answer came.
    pub status: Option<u16>,
    /// The body as JSON, when it was JSON.
    pub body: Option<Value>,
    /// Real time from sending to the end of the body.
    pub elapsed_ms: u64,
    /// Why there was no answer.
    pub error: Option<String>,
}

/// A check the harness expects to hold, and what it saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Miss {
    pub expected: String,
    pub actual: String,
    pub message: String,
}

fn miss(expected: impl Into<String>, actual: impl Into<String>, message: impl Into<String>) -> Miss {
    Miss { expected: expected.into(), actual: actual.into(), message: message.into() }
}

impl TspiotTarget {
    /// A target at `base` (`http://127.0.0.1:51401`; plain HTTP).
    pub fn new(base: &str) -> Result<Self, String> {
        if !base.starts_with("http://") {
            return Err(format!("{base}: the harness speaks plain HTTP to the ТС ПИоТ under test"));
        }
        let http = reqwest::Client::builder()
            .timeout(CLIENT_TIMEOUT)
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        Ok(TspiotTarget { base: base.trim_end_matches('/').to_string(), http })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let started = Instant::now();
        let result = async {
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await?;
            Ok::<_, reqwest::Error>((status, bytes))
        }
        .await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok((status, bytes)) => {
                let body =
                    (bytes.len() <= MAX_ANSWER_BYTES).then(|| serde_json::from_slice(&bytes).ok()).flatten();
                Answer { status: Some(status), body, elapsed_ms, error: None }
            }
            Err(e) => Answer { status: None, body: None, elapsed_ms, error: Some(e.to_string()) },
        }
    }

    /// `POST /api/v{version}/codes/check` with `codes` (base64 of their bytes) then `raw` (verbatim);
    /// `groups` are the codes' product groups (v3 `pg`), `program` the POS program's `(id, token)`.
    pub async fn check(
        &self,
        version: u8,
        codes: &[String],
        raw: &[String],
        groups: &[Option<u16>],
        program: Option<(String, String)>,
    ) -> Answer {
        let entries: Vec<String> =
            codes.iter().map(|c| base64(c.as_bytes())).chain(raw.iter().cloned()).collect();
        let codes_json: Vec<Value> = if version == 3 {
            entries
                .into_iter()
                .zip(groups.iter().copied().chain(std::iter::repeat(None)))
                .map(|(cis, pg)| match pg {
                    Some(pg) => json!({"cis": cis, "pg": pg}),
                    None => json!({"cis": cis}),
                })
                .collect()
        } else {
            entries.into_iter().map(Value::String).collect()
        };
        let (id, token) = program.unwrap_or_else(|| ("markcert".into(), "markcert".into()));
        let client_info =
            json!({"name": "markcert", "version": env!("CARGO_PKG_VERSION"), "id": id, "token": token});
        let body = json!({"codes": codes_json, "client_info": client_info});
        let url = format!("{}/api/v{version}/codes/check", self.base);
        self.send(self.http.post(url).json(&body)).await
    }

    /// `GET /api/v{version}/info`.
    pub async fn info(&self, version: u8) -> Answer {
        self.send(self.http.get(format!("{}/api/v{version}/info", self.base))).await
    }
}

/// The items of a 200 answer, unwrapped per version.
fn items(version: u8, body: &Value) -> Result<&Vec<Value>, String> {
    let outer = body.get("codesResponse").ok_or("no `codesResponse`")?;
    let list = if version == 1 {
        outer
            .get("codesResponse")
            .ok_or("v1 needs the double wrapper {\"codesResponse\":{\"codesResponse\":[…]}}")?
    } else {
        outer
    };
    list.as_array().ok_or_else(|| "`codesResponse` is not a list".to_string())
}

fn flag(o: &Value, name: &str) -> Option<bool> {
    o.get(name).and_then(Value::as_bool)
}

/// `reqTimestamp` as an integer or a string of digits.
fn timestamp(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Whether `host` matches a pattern (`cdn-*` is a prefix).
fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => host.starts_with(prefix),
        None => host == pattern,
    }
}

/// Judges one `check` answer; `codes` are the decoded codes sent, `events` the trace of the step.
pub(crate) fn judge_check(
    stack: &Stack,
    version: u8,
    codes: &[String],
    answer: &Answer,
    expect: Option<&CheckExpect>,
    events: &[TraceEvent],
    tolerance_ms: u64,
) -> Vec<Miss> {
    let mut misses = Vec::new();
    let Some(status) = answer.status else {
        misses.push(miss(
            expect.and_then(|e| e.status).map_or("an answer".to_string(), |s| format!("HTTP {s}")),
            "no answer",
            answer.error.clone().unwrap_or_default(),
        ));
        return misses;
    };
    let want_status = expect.and_then(|e| e.status);
    if let Some(want) = want_status {
        if want != status {
            misses.push(miss(format!("HTTP {want}"), format!("HTTP {status}"), body_text(answer)));
        }
    }
    let limit =
        expect.and_then(|e| e.within_ms).unwrap_or(CODES_CHECK_TIMEOUT_MS).min(CODES_CHECK_TIMEOUT_MS);
    if matches!(status, 200 | 203 | 514) && answer.elapsed_ms > limit + tolerance_ms {
        misses.push(miss(
            format!("an answer within {limit} ms (+{tolerance_ms} ms tolerance)"),
            format!("HTTP {status} after {} ms", answer.elapsed_ms),
            "tspiot.md §5, §10: the POS gets its answer within codesCheckTimeout; the online path is \
             abandoned by cdnCodesCheckTimeout",
        ));
    }
    misses.extend(judge_upstream_bytes(codes, events));
    if status != 200 {
        for (what, want) in
            [("offline", expect.and_then(|e| e.offline)), ("blocked", expect.and_then(|e| e.blocked))]
        {
            if want.is_some() && want_status.is_none() {
                misses.push(miss(
                    format!("HTTP 200 with {what} items"),
                    format!("HTTP {status}"),
                    body_text(answer),
                ));
            }
        }
        return misses;
    }
    let Some(body) = &answer.body else {
        misses.push(miss("a JSON body", "HTTP 200 without JSON", String::new()));
        return misses;
    };
    let items = match items(version, body) {
        Ok(i) => i,
        Err(why) => {
            misses.push(miss(format!("the v{version} wrapping (tspiot.md §4.1)"), why, compact(body)));
            return misses;
        }
    };
    for code in codes {
        let n = items
            .iter()
            .filter_map(|i| i.get("codes").and_then(Value::as_array))
            .flatten()
            .filter(|o| o.get("cis").and_then(Value::as_str) == Some(code.as_str()))
            .count();
        if n == 0 {
            misses.push(miss(
                format!("a code object with cis = {}", super::record::printable(code)),
                "none",
                "tspiot.md §4.1: `cis` is the decoded code with ⟨GS⟩; the POS matches codes by it",
            ));
        }
    }
    for item in items {
        let offline = flag(item, "isCheckedOffline").unwrap_or(false);
        if offline {
            misses.extend(judge_offline_item(stack, item));
        } else {
            misses.extend(judge_online_item(stack, item, expect.and_then(|e| e.host.as_deref())));
        }
        if let Some(want) = expect.and_then(|e| e.offline) {
            if want != offline {
                misses.push(miss(
                    if want { "an offline item (isCheckedOffline: true)" } else { "an online item" },
                    if offline { "an offline item" } else { "an online item" },
                    compact(item),
                ));
            }
        }
        if let Some(want) = expect.and_then(|e| e.blocked) {
            for o in item.get("codes").and_then(Value::as_array).into_iter().flatten() {
                if flag(o, "isBlocked") != Some(want) {
                    misses.push(miss(
                        format!("isBlocked: {want}"),
                        format!("isBlocked: {:?}", o.get("isBlocked")),
                        compact(o),
                    ));
                }
            }
        }
    }
    misses
}

/// The bytes the True API and the ЛМ ЧЗ received during the step are the decoded codes / their КИ.
fn judge_upstream_bytes(codes: &[String], events: &[TraceEvent]) -> Vec<Miss> {
    let kis: Vec<String> = codes.iter().map(|c| markcert_emulators::tspiot::lm_client::ki_of(c)).collect();
    let mut misses = Vec::new();
    for e in events {
        let lm = e.component.as_str() == markcert_emulators::lm::server::COMPONENT
            && (e.path.as_str().ends_with("/outCheck") || e.path.as_str().ends_with("/cis/check"));
        let true_api = e.path.as_str() == CODES_CHECK_PATH;
        if !(lm || true_api) {
            continue;
        }
        for got in e.codes.iter() {
            let ok = if true_api {
                codes.iter().any(|c| c == got)
            } else {
                kis.iter().any(|k| k == got) || codes.iter().any(|c| c == got)
            };
            if !ok {
                misses.push(miss(
                    if true_api { "the decoded code bytes sent to the True API" } else { "the КИ of the code sent to the ЛМ ЧЗ" },
                    format!("{} received {}", e.component.as_str(), super::record::printable(got)),
                    "tspiot.md §5: the code bytes sent upstream equal the decoded bytes (True API: the full code \
                     with ⟨GS⟩; ЛМ ЧЗ: its КИ)",
                ));
            }
        }
    }
    misses
}

/// An online item must be what an emulated True API host answered.
fn judge_online_item(stack: &Stack, item: &Value, want_host: Option<&str>) -> Vec<Miss> {
    let mut misses = Vec::new();
    let Some(req_id) = item.get("reqId").and_then(Value::as_str) else {
        misses.push(miss("the upstream reqId", "an online item without reqId", compact(item)));
        return misses;
    };
    let Some(issued) = stack.reqlog.get(req_id) else {
        misses.push(miss(
            "the reqId of a True API answer",
            format!("reqId {req_id}, which no True API host issued"),
            "tspiot.md §4.1: a ТС ПИоТ MUST NOT invent reqId; an online item comes only from a real upstream answer",
        ));
        return misses;
    };
    if let Some(pattern) = want_host {
        if !host_matches(pattern, &issued.host) {
            misses.push(miss(
                format!("an answer from {pattern}"),
                format!("an answer from {}", issued.host),
                String::new(),
            ));
        }
    }
    let ts = item.get("reqTimestamp").and_then(timestamp);
    if ts != Some(issued.req_timestamp) {
        misses.push(miss(
            format!("reqTimestamp {} (the True API's)", issued.req_timestamp),
            format!("reqTimestamp {:?}", item.get("reqTimestamp")),
            "tspiot.md §4.1, §10: reqId and reqTimestamp pass through unchanged",
        ));
    }
    let Ok(uuid) = uuid_of(req_id) else { return misses };
    let expected = {
        let world = stack.world.read().unwrap_or_else(|e| e.into_inner());
        let who = Requester { inn: Some(world.store_inn.as_str()) };
        let answer =
            check_codes(&world, &issued.codes, who, issued.req_timestamp, uuid, &stack.true_api_options);
        serde_json::from_slice::<Value>(&answer.to_json_bytes(&stack.true_api_options)).unwrap_or(Value::Null)
    };
    let upstream: Vec<&Value> =
        expected.get("codes").and_then(Value::as_array).into_iter().flatten().collect();
    for o in item.get("codes").and_then(Value::as_array).into_iter().flatten() {
        let cis = o.get("cis");
        match upstream.iter().find(|u| u.get("cis") == cis) {
            Some(u) if *u == o => {}
            Some(u) => misses.push(miss(
                format!("the True API's code object {}", compact(u)),
                compact(o),
                "tspiot.md §4.1, §10: per-code objects pass through unchanged (every field, including ones the \
                 ТС ПИоТ does not know)",
            )),
            None => misses.push(miss(
                "code objects of the True API answer only",
                format!("a code object the answer {req_id} did not have: {}", compact(o)),
                String::new(),
            )),
        }
    }
    misses
}

fn uuid_of(s: &str) -> Result<uuid::Uuid, uuid::Error> {
    uuid::Uuid::parse_str(s.trim())
}

/// An offline item: flags false, `inst` / `version` of the ЛМ ЧЗ.
fn judge_offline_item(stack: &Stack, item: &Value) -> Vec<Miss> {
    let mut misses = Vec::new();
    let (inst, version) = {
        let lm = stack.lm.lock().unwrap_or_else(|e| e.into_inner());
        (lm.inst().to_string(), lm.current_version().map(|v| v.to_string()))
    };
    let codes: Vec<&Value> = item.get("codes").and_then(Value::as_array).into_iter().flatten().collect();
    let field = |name: &str| -> Option<String> {
        item.get(name)
            .or_else(|| codes.first().and_then(|c| c.get(name)))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if field("inst").as_deref() != Some(inst.as_str()) {
        misses.push(miss(
            format!("inst {inst} (the ЛМ ЧЗ's)"),
            format!("inst {:?}", field("inst")),
            "tspiot.md §4.1, §10: an offline item carries the ЛМ ЧЗ's installation id",
        ));
    }
    if field("version") != version {
        misses.push(miss(
            format!("version {} (the ЛМ ЧЗ's current snapshot)", version.as_deref().unwrap_or("none")),
            format!("version {:?}", field("version")),
            "tspiot.md §4.1; local-module.md §8: the snapshot the ЛМ ЧЗ answered from",
        ));
    }
    for o in codes {
        for f in ["found", "valid", "verified", "utilised", "realizable"] {
            if flag(o, f) == Some(true) {
                misses.push(miss(
                    format!("{f}: false in an offline item"),
                    format!("{f}: true"),
                    "tspiot.md §4.4: the ЛМ ЧЗ does not know the online flags; an offline item has them false",
                ));
            }
        }
    }
    misses
}

/// Judges one `/info` answer against the KKT and ФН of the stack.
pub(crate) fn judge_info(stack: &Stack, answer: &Answer) -> Vec<Miss> {
    let mut misses = Vec::new();
    if answer.status != Some(200) {
        misses.push(miss(
            "HTTP 200",
            answer.status.map_or("no answer".into(), |s| format!("HTTP {s}")),
            body_text(answer),
        ));
        return misses;
    }
    let Some(body) = &answer.body else {
        misses.push(miss("a JSON body", "no JSON", String::new()));
        return misses;
    };
    let store_inn = stack.world.read().unwrap_or_else(|e| e.into_inner()).store_inn.clone();
    let mut want: Vec<(&str, String)> = vec![("kktInn", store_inn)];
    if let Some(k) = &stack.endpoints.kkt {
        want.push(("kktSerial", k.kkt_serial.clone()));
        want.push(("fnSerial", k.fn_serial.clone()));
    }
    for (name, value) in want {
        let got = body.get(name).and_then(Value::as_str);
        if got != Some(value.as_str()) {
            misses.push(miss(format!("{name} = {value}"), format!("{name} = {got:?}"), "tspiot.md §3.1"));
        }
    }
    let timeout = body.get("codesCheckTimeout").and_then(timestamp);
    if timeout.is_none() {
        misses.push(miss(
            "codesCheckTimeout (ms, integer or string)",
            format!("{:?}", body.get("codesCheckTimeout")),
            "tspiot.md §3.1",
        ));
    }
    misses
}

fn body_text(a: &Answer) -> String {
    a.body.as_ref().map(compact).unwrap_or_default()
}

fn compact(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 400 {
        let mut cut = 400;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_unwrap_per_version_and_refuse_the_wrong_wrapping() {
        let v2 = json!({"codesResponse": [{"code": 0}]});
        let v1 = json!({"codesResponse": {"codesResponse": [{"code": 0}]}});
        assert_eq!(items(2, &v2).unwrap().len(), 1);
        assert_eq!(items(1, &v1).unwrap().len(), 1);
        assert!(items(1, &v2).is_err());
        assert!(items(2, &v1).is_err());
        assert!(items(3, &json!({})).is_err());
    }

    #[test]
    fn timestamps_read_integers_and_digit_strings_only() {
        assert_eq!(timestamp(&json!(1767225600123_i64)), Some(1767225600123));
        assert_eq!(timestamp(&json!("1767225600123")), Some(1767225600123));
        assert_eq!(timestamp(&json!("soon")), None);
        assert_eq!(timestamp(&json!(null)), None);
    }

    #[test]
    fn host_patterns_are_exact_or_prefixes() {
        assert!(host_matches("cdn-*", "cdn-2"));
        assert!(host_matches("cdn-2", "cdn-2"));
        assert!(!host_matches("cdn-2", "cdn-1"));
    }

    #[test]
    fn upstream_bytes_must_be_the_decoded_code_or_its_ki() {
        let code = "0104612345000438215aZ;q0\u{1d}93Jm4t".to_string();
        let ok = TraceEvent::new("cdn-1", "POST", CODES_CHECK_PATH).codes([code.clone()]);
        let stripped = TraceEvent::new("cdn-1", "POST", CODES_CHECK_PATH).codes([code.replace('\u{1d}', "")]);
        let lm_ki =
            TraceEvent::new(markcert_emulators::lm::server::COMPONENT, "POST", "/api/v1/cis/outCheck")
                .codes(["0104612345000438215aZ;q0".to_string()]);
        assert!(judge_upstream_bytes(std::slice::from_ref(&code), &[ok, lm_ki]).is_empty());
        assert_eq!(judge_upstream_bytes(&[code], &[stripped]).len(), 1);
    }
}
