//! The check through the ТС ПИоТ (tspiot.md §3–§6): `POST /api/v2/codes/check` with the code as
//! base64 of its raw bytes and `client_info`, then the answer by status — 200 → the item about our
//! code, online or offline (`isCheckedOffline`, `inst`/`version` at item or code level); 203 →
//! emergency; 404 → the v1 API once; 500/504 → one retry after a back-off; 514 and anything else → no
//! usable answer. Plain HTTP only.

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use super::answer::{find_code, text, CodeAnswer, OfflineCode, Timestamp};
use super::{base, excerpt, Answer, Subject};
use crate::options::Options;
use crate::protocol::TsPiotEndpoint;

/// Least time worth starting a call with.
const MIN_CALL: Duration = Duration::from_millis(50);

/// A client of one ТС ПИоТ instance.
#[derive(Clone, Debug)]
pub struct TsPiotClient {
    http: reqwest::Client,
    url: String,
    client_info: Value,
    timeout: Duration,
    retry: bool,
    backoff: Duration,
}

impl TsPiotClient {
    /// A client for `endpoint`, identifying this POS program as `client_info` (tspiot.md §3.2).
    pub fn new(http: reqwest::Client, endpoint: &TsPiotEndpoint, opts: &Options) -> TsPiotClient {
        TsPiotClient {
            http,
            url: base(&endpoint.url).to_string(),
            client_info: json!({
                "name": opts.client_name,
                "version": opts.client_version,
                "id": endpoint.client_id.clone().unwrap_or_else(|| opts.client_name.clone()),
                "token": endpoint.client_token.clone().unwrap_or_default(),
            }),
            timeout: opts.timeouts.tspiot,
            retry: opts.tspiot_retry,
            backoff: opts.timeouts.tspiot_retry_backoff,
        }
    }

    /// Check `code`, giving up at `deadline`.
    pub async fn check(&self, code: &Subject, deadline: Instant) -> Answer {
        let body = json!({
            "codes": [base64::engine::general_purpose::STANDARD.encode(code.code.as_bytes())],
            "client_info": self.client_info,
        });
        let mut version = "v2";
        let mut retried = false;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining < MIN_CALL {
                return Answer::unavailable("ТС ПИоТ: no time left for the check");
            }
            let url = format!("{}/api/{version}/codes/check", self.url);
            let sent = self.http.post(&url).json(&body).timeout(self.timeout.min(remaining)).send().await;
            let response = match sent {
                Ok(r) => r,
                Err(e) if e.is_timeout() => return Answer::unavailable("ТС ПИоТ did not answer in time"),
                Err(e) => return Answer::unavailable(format!("ТС ПИоТ unreachable: {e}")),
            };
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            match status {
                200 => {
                    return match serde_json::from_str::<Value>(&text) {
                        Ok(v) => read_answer(&v, &code.code, &code.ki),
                        Err(e) => {
                            Answer::unavailable(format!("ТС ПИоТ answered 200 with unreadable JSON: {e}"))
                        }
                    }
                }
                203 => return Answer::Emergency { source: "ТС ПИоТ" },
                404 if version == "v2" => version = "v1",
                500 | 504 if self.retry && !retried => {
                    retried = true;
                    let pause = self.backoff.min(deadline.saturating_duration_since(Instant::now()));
                    tokio::time::sleep(pause).await;
                }
                514 => return Answer::unavailable("ТС ПИоТ: no answer from ГИС МТ nor ЛМ ЧЗ (514)"),
                s => return Answer::unavailable(format!("ТС ПИоТ answered HTTP {s}: {}", excerpt(&text))),
            }
        }
    }
}

/// The items of a ТС ПИоТ answer: v2/v3 `{"codesResponse":[…]}`, v1 `{"codesResponse":{"codesResponse":[…]}}`.
fn items(body: &Value) -> Vec<&Value> {
    match body.get("codesResponse") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(inner @ Value::Object(_)) => match inner.get("codesResponse") {
            Some(Value::Array(items)) => items.iter().collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The answer about `code` (КИ `ki`) in a 200 body of the ТС ПИоТ.
pub fn read_answer(body: &Value, code: &str, ki: &str) -> Answer {
    for item in items(body) {
        let Some(codes) = item.get("codes").and_then(Value::as_array) else { continue };
        let Some(c) = find_code(codes, code, ki) else { continue };
        let inner = item.get("code").and_then(Value::as_i64).unwrap_or(0);
        if inner != 0 && inner != 204 {
            let d = text(item, "description").unwrap_or_default();
            return Answer::unavailable(format!("ТС ПИоТ item code {inner}: {}", excerpt(&d)));
        }
        let req_id = text(item, "reqId").or_else(|| text(c, "reqId"));
        let time = item.get("reqTimestamp").or_else(|| c.get("reqTimestamp")).and_then(Timestamp::from_json);
        let (Some(req_id), Some(time)) = (req_id, time) else {
            return Answer::unavailable("ТС ПИоТ answer without a usable reqId / reqTimestamp");
        };
        let offline = item.get("isCheckedOffline").and_then(Value::as_bool).unwrap_or(false);
        if !offline {
            return Answer::Online {
                code: Box::new(CodeAnswer::from_json(c)),
                req_id,
                time,
                source: "ТС ПИоТ",
            };
        }
        let offline_code = OfflineCode::from_json(c);
        let inst = text(item, "inst").or_else(|| offline_code.inst.clone());
        let version = text(item, "version").or_else(|| offline_code.version.clone());
        let (Some(inst), Some(version)) = (inst, version) else {
            return Answer::unavailable(
                "offline ТС ПИоТ answer without inst / version: no valid 1265 possible",
            );
        };
        return Answer::Offline {
            code: offline_code,
            req_id,
            time,
            inst,
            version,
            source: "ТС ПИоТ (ЛМ ЧЗ)",
        };
    }
    Answer::unavailable("the ТС ПИоТ answer says nothing about this code")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MILK: &str = "0104612345000438215aZ;q0\u{1d}93Jm4t";
    const KI: &str = "0104612345000438215aZ;q0";

    #[test]
    fn online_v2_item() {
        let body = json!({"codesResponse":[{"code":0,"description":"ok",
            "codes":[{"cis":MILK,"valid":true,"found":true,"groupIds":[8]}],
            "reqId":"a70a9fd2-2f2d-4846-babf-cd0492f6e047","reqTimestamp":1767225600123i64,"isCheckedOffline":false}]});
        let Answer::Online { code, req_id, time, .. } = read_answer(&body, MILK, KI) else { panic!() };
        assert!(code.valid && code.found);
        assert_eq!(req_id, "a70a9fd2-2f2d-4846-babf-cd0492f6e047");
        assert_eq!(time.digits, "1767225600123");
    }

    #[test]
    fn offline_v1_item_with_stamps_at_either_level() {
        let body = json!({"codesResponse":{"codesResponse":[{"code":0,
            "codes":[{"cis":MILK,"found":false,"valid":false,"isBlocked":false,"ogvs":[]}],
            "reqId":"bac05b79-f83c-46f7-9abc-6681e3299b9c","reqTimestamp":"1767225612077","isCheckedOffline":true,
            "version":"c58c2c44-b56e-44b9-92c9-2b0ebd10f428","inst":"9333e653-5af4-4cc2-b969-7d9ec2900bc5"}]}});
        let Answer::Offline { time, inst, version, .. } = read_answer(&body, MILK, KI) else { panic!() };
        assert_eq!(time.digits, "1767225612077");
        assert_eq!(inst, "9333e653-5af4-4cc2-b969-7d9ec2900bc5");
        assert_eq!(version, "c58c2c44-b56e-44b9-92c9-2b0ebd10f428");
        let per_code = json!({"codesResponse":[{"code":0,
            "codes":[{"cis":MILK,"isBlocked":false,"inst":"i-1","version":"v-1"}],
            "reqId":"r","reqTimestamp":1,"isCheckedOffline":true}]});
        let Answer::Offline { inst, version, .. } = read_answer(&per_code, MILK, KI) else { panic!() };
        assert_eq!((inst.as_str(), version.as_str()), ("i-1", "v-1"));
        let bare = json!({"codesResponse":[{"code":0,"codes":[{"cis":MILK}],"reqId":"r","reqTimestamp":1,
            "isCheckedOffline":true}]});
        assert!(matches!(read_answer(&bare, MILK, KI), Answer::Unavailable { .. }));
    }

    #[test]
    fn items_are_matched_by_cis() {
        let body = json!({"codesResponse":[
            {"code":0,"codes":[{"cis":"other"}],"reqId":"r1","reqTimestamp":1,"isCheckedOffline":false},
            {"code":0,"codes":[{"cis":MILK}],"reqId":"r2","reqTimestamp":2,"isCheckedOffline":false}]});
        let Answer::Online { req_id, .. } = read_answer(&body, MILK, KI) else { panic!() };
        assert_eq!(req_id, "r2");
    }

    #[test]
    fn unusable_answers() {
        for body in [
            json!({}),
            json!({"codesResponse":[]}),
            json!({"codesResponse":[{"code":0,"codes":[{"cis":MILK}],"isCheckedOffline":false}]}),
            json!({"codesResponse":[{"code":5,"codes":[{"cis":MILK}],"reqId":"r","reqTimestamp":1}]}),
            json!({"codesResponse":[{"code":203,"description":"Аварийный режим","codes":[],"isCheckedOffline":false}]}),
        ] {
            assert!(matches!(read_answer(&body, MILK, KI), Answer::Unavailable { .. }), "{body}");
        }
        let post_emergency =
            json!({"codesResponse":[{"code":204,"codes":[{"cis":MILK}],"reqId":"r","reqTimestamp":1}]});
        assert!(matches!(read_answer(&post_emergency, MILK, KI), Answer::Online { .. }));
    }
}
