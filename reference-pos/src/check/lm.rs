//! The ЛМ ЧЗ as a direct-mode POS uses it (local-module.md §2, §3, §5, §6, §9): `outCheck` with the
//! КИ of the code (v2, falling back to v1 on 404) under Basic auth, the offline answer with its
//! `inst`/`version`/`reqId`/`reqTimestamp`, and the best-effort `sell` / `return` registration after a
//! fiscalised receipt. Not ready (4045/4050), refused credentials, errors → no usable answer.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::answer::{find_code, text, OfflineCode, Timestamp};
use super::{base, excerpt, Answer, Subject};
use crate::options::Options;
use crate::protocol::{LocalModuleEndpoint, ReceiptKind};

/// Least time worth starting a call with.
const MIN_CALL: Duration = Duration::from_millis(30);

/// A client of the store's ЛМ ЧЗ.
#[derive(Clone, Debug)]
pub struct LmClient {
    http: reqwest::Client,
    url: String,
    login: String,
    password: String,
    client_id: Option<String>,
    timeout: Duration,
    register_timeout: Duration,
}

impl LmClient {
    /// A client for `endpoint`; `fn_serial` goes into `X-ClientId` when known.
    pub fn new(
        http: reqwest::Client,
        endpoint: &LocalModuleEndpoint,
        fn_serial: Option<String>,
        opts: &Options,
    ) -> LmClient {
        LmClient {
            http,
            url: base(&endpoint.url).to_string(),
            login: endpoint.login.clone(),
            password: endpoint.password.clone(),
            client_id: fn_serial,
            timeout: opts.timeouts.lm,
            register_timeout: opts.timeouts.lm_register,
        }
    }

    fn post(&self, path: &str, body: &Value, timeout: Duration) -> reqwest::RequestBuilder {
        let mut rb = self
            .http
            .post(format!("{}{path}", self.url))
            .basic_auth(&self.login, Some(&self.password))
            .json(body)
            .timeout(timeout);
        if let Some(id) = &self.client_id {
            rb = rb.header("X-ClientId", id);
        }
        rb
    }

    /// `outCheck` of `codes` together (their КИ in one `cis_list`), giving up at `deadline`: one
    /// answer per code, in order.
    pub async fn out_check_many(&self, codes: &[Subject], deadline: Instant) -> Vec<Answer> {
        let all = |a: Answer| vec![a; codes.len()];
        let kis: Vec<&str> = codes.iter().map(|c| c.ki.as_str()).collect();
        let v2: Vec<Value> = kis.iter().map(|ki| json!({ "cis": ki })).collect();
        let calls = [
            ("/api/v2/cis/outCheck", json!({ "cis_list": v2 })),
            ("/api/v1/cis/outCheck", json!({ "cis_list": kis })),
        ];
        for (path, body) in calls {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining < MIN_CALL {
                return all(Answer::unavailable("ЛМ ЧЗ: no time left for the check"));
            }
            let response = match self.post(path, &body, self.timeout.min(remaining)).send().await {
                Ok(r) => r,
                Err(e) if e.is_timeout() => return all(Answer::unavailable("ЛМ ЧЗ did not answer in time")),
                Err(e) => return all(Answer::unavailable(format!("ЛМ ЧЗ unreachable: {e}"))),
            };
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            return match status {
                200 => match serde_json::from_str::<Value>(&text) {
                    Ok(v) => kis.iter().map(|ki| read_out_check(&v, ki)).collect(),
                    Err(e) => all(Answer::unavailable(format!("ЛМ ЧЗ answered unreadable JSON: {e}"))),
                },
                404 => continue,
                s => all(refusal(s, &text)),
            };
        }
        all(Answer::unavailable("ЛМ ЧЗ has no outCheck endpoint (404)"))
    }

    /// Register a fiscalised sale (`/api/v2/cis/sell`) or return (`/api/v2/cis/return`) of `kis`.
    pub async fn register(&self, kind: ReceiptKind, kis: &[String]) -> Result<(), String> {
        if kis.is_empty() {
            return Ok(());
        }
        let path = match kind {
            ReceiptKind::Sale => "/api/v2/cis/sell",
            ReceiptKind::Return => "/api/v2/cis/return",
        };
        let response = self
            .post(path, &json!({ "cis_list": kis }), self.register_timeout)
            .send()
            .await
            .map_err(|e| format!("ЛМ ЧЗ {path}: {e}"))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            let text = response.text().await.unwrap_or_default();
            Err(format!("ЛМ ЧЗ {path} answered {}: {}", status.as_u16(), excerpt(&text)))
        }
    }
}

/// The answer about every code of an `outCheck` the ЛМ ЧЗ refused with HTTP `status`.
fn refusal(status: u16, text: &str) -> Answer {
    match status {
        400 => {
            let code = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|v| v.get("errorCode").or_else(|| v.get("code")).and_then(Value::as_i64));
            match code {
                Some(4045) => Answer::unavailable("ЛМ ЧЗ is not ready (4045: not initialised)"),
                Some(4050) => Answer::unavailable("ЛМ ЧЗ is out of sync (4050: no sync for 72 h)"),
                _ => Answer::unavailable(format!("ЛМ ЧЗ refused the request: {}", excerpt(text))),
            }
        }
        401 => Answer::unavailable("ЛМ ЧЗ refused the credentials (401)"),
        s => Answer::unavailable(format!("ЛМ ЧЗ answered HTTP {s}: {}", excerpt(text))),
    }
}

/// The offline answer about the КИ `ki` in a 200 `outCheck` body: v2 `{"results":[…]}` or v1 (one
/// object).
pub fn read_out_check(body: &Value, ki: &str) -> Answer {
    let items: Vec<&Value> = match body.get("results") {
        Some(Value::Array(r)) => r.iter().collect(),
        _ => vec![body],
    };
    for item in items {
        let Some(codes) = item.get("codes").and_then(Value::as_array) else { continue };
        let Some(c) = find_code(codes, ki, ki) else { continue };
        let inner = item.get("code").and_then(Value::as_i64).unwrap_or(0);
        if inner != 0 {
            let d = text(item, "description").unwrap_or_default();
            return Answer::unavailable(format!("ЛМ ЧЗ answer code {inner}: {}", excerpt(&d)));
        }
        let code = OfflineCode::from_json(c);
        let req_id = text(item, "reqId");
        let time = item.get("reqTimestamp").and_then(Timestamp::from_json);
        let inst = text(item, "inst").or_else(|| code.inst.clone());
        let version = text(item, "version").or_else(|| code.version.clone());
        return match (req_id, time, inst, version) {
            (Some(req_id), Some(time), Some(inst), Some(version)) => {
                Answer::Offline { code, req_id, time, inst, version, source: "ЛМ ЧЗ" }
            }
            _ => Answer::unavailable("ЛМ ЧЗ answer without reqId / reqTimestamp / inst / version"),
        };
    }
    Answer::unavailable("the ЛМ ЧЗ answer says nothing about this code")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KI: &str = "0104612345000438215aZ;q0";

    #[test]
    fn v2_and_v1_answers() {
        let v2 = json!({"results":[{"code":0,"description":"ok","reqId":"r","reqTimestamp":1767225612077i64,
            "inst":"i","version":"v","codes":[{"cis":KI,"gtin":"04612345000438","isBlocked":false,
            "isGreyGtin":false,"sold":true,"mrp":18500}]}]});
        let Answer::Offline { code, inst, version, time, .. } = read_out_check(&v2, KI) else { panic!() };
        assert!(code.sold && !code.is_blocked);
        assert_eq!((inst.as_str(), version.as_str(), time.ms), ("i", "v", 1_767_225_612_077));
        let v1 = json!({"code":0,"description":"ok","codes":[{"cis":KI,"isBlocked":true}],
            "inst":"i","version":"v","reqId":"r","reqTimestamp":1});
        let Answer::Offline { code, .. } = read_out_check(&v1, KI) else { panic!() };
        assert!(code.is_blocked);
    }

    #[test]
    fn answers_missing_stamps_are_unusable() {
        let no_version = json!({"code":0,"codes":[{"cis":KI}],"inst":"i","reqId":"r","reqTimestamp":1});
        assert!(matches!(read_out_check(&no_version, KI), Answer::Unavailable { .. }));
        assert!(matches!(read_out_check(&json!({"results":[]}), KI), Answer::Unavailable { .. }));
        assert!(matches!(read_out_check(&json!(null), KI), Answer::Unavailable { .. }));
    }
}
