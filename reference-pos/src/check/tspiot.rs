//! The check through the ТС ПИоТ (tspiot.md §3–§6). At `init` the API version is discovered from
//! newest to oldest (`GET /api/v3/info`, `/api/v2/info`, `/api/v1/info`, §3.1); each check is then
//! `POST /api/v{N}/codes/check` with the code as base64 of its raw bytes — in v3 an object `{"cis",
//! "pg"}` with the product group when known (§3.3) — and `client_info`. The answer by status: 200 →
//! the item about our code, online or offline (`isCheckedOffline`, `inst`/`version` at item or code
//! level); 203 → emergency; 404 → the next older API version, remembered for the session; 500/504 →
//! one retry after a back-off; 514 and anything else → no usable answer. Plain HTTP only.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use super::answer::{find_code, text, CodeAnswer, OfflineCode, Timestamp};
use super::{base, excerpt, Answer, Subject};
use crate::options::Options;
use crate::protocol::TsPiotEndpoint;

/// Least time worth starting a call with.
const MIN_CALL: Duration = Duration::from_millis(50);

/// The newest POS API version this client speaks (tspiot.md §3.3).
pub const NEWEST_API: u8 = 3;

/// A client of one ТС ПИоТ instance.
#[derive(Clone, Debug)]
pub struct TsPiotClient {
    http: reqwest::Client,
    url: String,
    client_info: Value,
    timeout: Duration,
    info_timeout: Duration,
    retry: bool,
    backoff: Duration,
    /// The API version in use (3, 2 or 1): discovered at `init`, lowered by a 404.
    version: Arc<AtomicU8>,
}

/// The `codes/check` body of `codes` (each with its product group when known) in API `version`:
/// v1/v2 `{"codes":["<base64>", …]}`, v3 `{"codes":[{"cis":"<base64>","pg":N}, …]}` (`pg` only when
/// known); both with `client_info`.
pub fn check_body(version: u8, codes: &[(&str, Option<u16>)], client_info: &Value) -> Value {
    let entries: Vec<Value> = codes
        .iter()
        .map(|(code, pg)| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(code.as_bytes());
            match (version, pg) {
                (3, Some(pg)) => json!({ "cis": b64, "pg": pg }),
                (3, None) => json!({ "cis": b64 }),
                _ => Value::String(b64),
            }
        })
        .collect();
    json!({ "codes": entries, "client_info": client_info })
}

impl TsPiotClient {
    /// A client for `endpoint`, identifying this POS program as `client_info` (tspiot.md §3.2). It
    /// speaks the newest API until [`TsPiotClient::discover`] or a 404 says otherwise.
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
            info_timeout: opts.timeouts.tspiot_info,
            retry: opts.tspiot_retry,
            backoff: opts.timeouts.tspiot_retry_backoff,
            version: Arc::new(AtomicU8::new(NEWEST_API)),
        }
    }

    /// The API version checks use now (3, 2 or 1).
    pub fn api_version(&self) -> u8 {
        self.version.load(Ordering::Relaxed)
    }

    /// §3.1: `GET /api/v3/info`, then v2, then v1; the first answered 200 sets the version. A 404
    /// goes on to the next older version; anything else (unreachable, slow, 5xx) ends the probe and
    /// leaves the version as it is — the `codes/check` 404 fallback still works then. Returns the
    /// version in use afterwards.
    pub async fn discover(&self, deadline: Instant) -> u8 {
        for v in (1..=NEWEST_API).rev() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining < MIN_CALL {
                break;
            }
            let url = format!("{}/api/v{v}/info", self.url);
            match self.http.get(&url).timeout(self.info_timeout.min(remaining)).send().await {
                Ok(r) if r.status().as_u16() == 200 => {
                    self.version.store(v, Ordering::Relaxed);
                    break;
                }
                Ok(r) if r.status().as_u16() == 404 => continue,
                _ => break,
            }
        }
        self.api_version()
    }

    /// Check `codes` together in one request (their product groups `pgs`, in the same order, when
    /// known), giving up at `deadline`: one answer per code, in order. A status that is not 200 is the
    /// answer about every code.
    pub async fn check_many(&self, codes: &[Subject], pgs: &[Option<u16>], deadline: Instant) -> Vec<Answer> {
        let all = |a: Answer| vec![a; codes.len()];
        let entries: Vec<(&str, Option<u16>)> =
            codes.iter().enumerate().map(|(i, c)| (c.code.as_str(), pgs.get(i).copied().flatten())).collect();
        let mut retried = false;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining < MIN_CALL {
                return all(Answer::unavailable("ТС ПИоТ: no time left for the check"));
            }
            let version = self.api_version();
            let body = check_body(version, &entries, &self.client_info);
            let url = format!("{}/api/v{version}/codes/check", self.url);
            let sent = self.http.post(&url).json(&body).timeout(self.timeout.min(remaining)).send().await;
            let response = match sent {
                Ok(r) => r,
                Err(e) if e.is_timeout() => {
                    return all(Answer::unavailable("ТС ПИоТ did not answer in time"))
                }
                Err(e) => return all(Answer::unavailable(format!("ТС ПИоТ unreachable: {e}"))),
            };
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            match status {
                200 => {
                    return match serde_json::from_str::<Value>(&text) {
                        Ok(v) => codes.iter().map(|c| read_answer(&v, &c.code, &c.ki)).collect(),
                        Err(e) => all(Answer::unavailable(format!(
                            "ТС ПИоТ answered 200 with unreadable JSON: {e}"
                        ))),
                    }
                }
                203 => return all(Answer::Emergency { source: "ТС ПИоТ" }),
                404 if version > 1 => {
                    // An older ТС ПИоТ: the next older API, for this and every later check.
                    let _ = self.version.compare_exchange(
                        version,
                        version - 1,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                }
                500 | 504 if self.retry && !retried => {
                    retried = true;
                    let pause = self.backoff.min(deadline.saturating_duration_since(Instant::now()));
                    tokio::time::sleep(pause).await;
                }
                514 => return all(Answer::unavailable("ТС ПИоТ: no answer from ГИС МТ nor ЛМ ЧЗ (514)")),
                s => {
                    return all(Answer::unavailable(format!("ТС ПИоТ answered HTTP {s}: {}", excerpt(&text))))
                }
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
    fn request_bodies_per_version() {
        let ci = json!({"name":"n","version":"1","id":"i","token":"t"});
        let b64 = "MDEwNDYxMjM0NTAwMDQzODIxNWFaO3EwHTkzSm00dA==";
        assert_eq!(check_body(2, &[(MILK, Some(8))], &ci), json!({"codes":[b64],"client_info":ci}));
        assert_eq!(check_body(1, &[(MILK, None)], &ci), json!({"codes":[b64],"client_info":ci}));
        assert_eq!(
            check_body(3, &[(MILK, Some(8))], &ci),
            json!({"codes":[{"cis":b64,"pg":8}],"client_info":ci})
        );
        assert_eq!(check_body(3, &[(MILK, None)], &ci), json!({"codes":[{"cis":b64}],"client_info":ci}));
        // A batch: every code in one array, in order, each with its own group.
        assert_eq!(
            check_body(3, &[(MILK, Some(8)), ("x", None)], &ci),
            json!({"codes":[{"cis":b64,"pg":8},{"cis":"eA=="}],"client_info":ci})
        );
        assert_eq!(
            check_body(2, &[(MILK, None), ("x", Some(3))], &ci),
            json!({"codes":[b64,"eA=="],"client_info":ci})
        );
    }

    /// A fake ТС ПИоТ on loopback: `answer(method, path, body)` gives (status, body); every request
    /// is recorded as `"METHOD path body"`.
    async fn fake_tspiot(
        answer: fn(&str, &str, &Value) -> (u16, Value),
    ) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = Arc::clone(&log);
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let (head_end, length) = loop {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                            let len = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (i + 4, len);
                        }
                    };
                    while buf.len() < head_end + length {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let mut first = head.split_whitespace();
                    let (method, path) =
                        (first.next().unwrap_or("").to_string(), first.next().unwrap_or("").to_string());
                    let body: Value =
                        serde_json::from_slice(&buf[head_end..head_end + length]).unwrap_or(Value::Null);
                    seen.lock().unwrap().push(format!("{method} {path} {body}"));
                    let (status, reply) = answer(&method, &path, &body);
                    let reply = reply.to_string();
                    let out = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                        reply.len()
                    );
                    let _ = sock.write_all(out.as_bytes()).await;
                });
            }
        });
        (url, log)
    }

    fn online_answer() -> Value {
        json!({"codesResponse":[{"code":0,"description":"ok","codes":[{"cis":MILK,"valid":true}],
            "reqId":"a70a9fd2-2f2d-4846-babf-cd0492f6e047","reqTimestamp":1767225600123i64,"isCheckedOffline":false}]})
    }

    fn client(url: &str) -> TsPiotClient {
        let ep = TsPiotEndpoint {
            url: url.into(),
            admin: None,
            client_id: None,
            client_token: None,
            ca_pem: None,
        };
        TsPiotClient::new(crate::check::http_client(), &ep, &Options::default())
    }

    fn subject() -> Subject {
        Subject { code: MILK.into(), ki: KI.into() }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(3)
    }

    /// The answer about [`subject`] alone, within [`soon`].
    async fn one(c: &TsPiotClient, pg: Option<u16>) -> Answer {
        c.check_many(&[subject()], &[pg], soon()).await.remove(0)
    }

    #[tokio::test]
    async fn discovery_picks_the_newest_served_version_and_checks_speak_it() {
        // Only v2 served: /api/v3/* is 404.
        let (url, log) = fake_tspiot(|_, path, _| match path {
            p if p.starts_with("/api/v3/") => (404, json!({"code":404})),
            "/api/v2/info" => (200, json!({"tspiotId":"1"})),
            "/api/v2/codes/check" => (200, online_answer()),
            _ => (404, json!({})),
        })
        .await;
        let c = client(&url);
        assert_eq!(c.api_version(), 3, "newest until discovered");
        assert_eq!(c.discover(soon()).await, 2);
        assert!(matches!(one(&c, Some(8)).await, Answer::Online { .. }));
        let log = log.lock().unwrap().clone();
        assert_eq!(log.len(), 3, "{log:?}");
        assert!(log[0].starts_with("GET /api/v3/info") && log[1].starts_with("GET /api/v2/info"), "{log:?}");
        assert!(log[2].starts_with("POST /api/v2/codes/check {\"client_info\""), "{log:?}");
        assert!(log[2].contains("\"codes\":[\"MDEw"), "v2 sends base64 strings: {log:?}");

        // v3 served: objects with pg.
        let (url, log) = fake_tspiot(|_, path, body| match path {
            "/api/v3/info" => (200, json!({})),
            "/api/v3/codes/check" if body["codes"][0]["cis"].is_string() => (200, online_answer()),
            _ => (400, json!({})),
        })
        .await;
        let c = client(&url);
        assert_eq!(c.discover(soon()).await, 3);
        assert!(matches!(one(&c, Some(8)).await, Answer::Online { .. }));
        let log = log.lock().unwrap().clone();
        assert!(log[1].contains("\"pg\":8"), "{log:?}");
    }

    #[tokio::test]
    async fn a_404_steps_down_one_version_and_is_remembered() {
        let (url, log) = fake_tspiot(|_, path, _| match path {
            "/api/v1/codes/check" => (200, json!({"codesResponse": online_answer()})),
            _ => (404, json!({})),
        })
        .await;
        let c = client(&url);
        assert_eq!(c.discover(soon()).await, 3, "no /info at all: the version stays");
        assert!(matches!(one(&c, None).await, Answer::Online { .. }));
        assert_eq!(c.api_version(), 1);
        assert!(matches!(one(&c, None).await, Answer::Online { .. }));
        let checks: Vec<String> = log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("codes/check"))
            .map(|l| l[..24].to_string())
            .collect();
        assert_eq!(
            checks,
            [
                "POST /api/v3/codes/check",
                "POST /api/v2/codes/check",
                "POST /api/v1/codes/check",
                "POST /api/v1/codes/check"
            ]
        );
        // A v1 404 is the end.
        let (url, _) = fake_tspiot(|_, _, _| (404, json!({}))).await;
        let c = client(&url);
        assert!(matches!(one(&c, None).await, Answer::Unavailable { .. }));
    }

    #[tokio::test]
    async fn statuses_other_than_404_do_not_change_the_version() {
        let (url, log) = fake_tspiot(|_, path, _| match path {
            "/api/v3/info" => (500, json!({})),
            _ => (400, json!({"code":400,"message":"bad","details":[]})),
        })
        .await;
        let c = client(&url);
        assert_eq!(c.discover(soon()).await, 3, "a failing /info ends the probe");
        assert!(matches!(one(&c, None).await, Answer::Unavailable { .. }));
        assert_eq!(c.api_version(), 3);
        let n = log.lock().unwrap().iter().filter(|l| l.contains("codes/check")).count();
        assert_eq!(n, 1, "400: no retry");
    }

    #[tokio::test]
    async fn a_batch_is_one_request_and_every_code_is_read_from_its_answer() {
        const WATER: &str = "0104612345000674215Gh:2kP=vX8r%\u{1d}93Nf6d";
        let (url, log) = fake_tspiot(|_, path, body| match (path, body["codes"].as_array().map(Vec::len)) {
            ("/api/v3/codes/check", Some(2)) => (
                200,
                json!({"codesResponse":[{"code":0,"codes":[{"cis":WATER,"valid":true},{"cis":MILK,"valid":true}],
                    "reqId":"r-1","reqTimestamp":7,"isCheckedOffline":false}]}),
            ),
            _ => (400, json!({})),
        })
        .await;
        let c = client(&url);
        let water = Subject { code: WATER.into(), ki: "0104612345000674215Gh:2kP=vX8r%".into() };
        let answers = c.check_many(&[subject(), water], &[Some(8), None], soon()).await;
        let ids: Vec<&str> = answers
            .iter()
            .map(|a| match a {
                Answer::Online { req_id, code, .. } if code.valid => req_id.as_str(),
                _ => "not online",
            })
            .collect();
        assert_eq!(ids, ["r-1", "r-1"]);
        let log = log.lock().unwrap().clone();
        assert_eq!(log.len(), 1, "one request for the batch: {log:?}");
        assert!(log[0].contains("\"pg\":8"), "{log:?}");

        // A status about the request is the answer about every code of it.
        let (url, _) = fake_tspiot(|_, _, _| (203, json!({}))).await;
        let answers = client(&url).check_many(&[subject(), subject()], &[None, None], soon()).await;
        assert!(answers.len() == 2 && answers.iter().all(|a| matches!(a, Answer::Emergency { .. })));
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
