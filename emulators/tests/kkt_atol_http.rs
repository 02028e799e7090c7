//! The ATOL-compatible web API of the KKT over real HTTP on loopback (`kkt.md` §10.1), with a fake
//! device: the 201 answer, the results envelope (ready, error, blocked, interrupted, canceled), a
//! single task object, reused and unknown uuids, bad envelopes, device selection, Basic auth, flat
//! error fields, execution order within and across requests and devices, the bounded store, the
//! `operations/*` routes, the trace; the result structs' JSON; and arbitrary bodies that must never
//! panic the server or get a 5xx.

use markcert_emulators::kkt::atol::error::AtolError;
use markcert_emulators::kkt::atol::server::{self, AtolHandle, AtolServerOptions, TaskRunner};
use markcert_emulators::kkt::atol::wire::{self, Task};
use markcert_emulators::trace::{Trace, TraceFilter};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BEGIN_EXAMPLE: &str = r#"{"type":"beginMarkingCodeValidation",
   "params":{"imcType":"auto","imc":"MDEwNDYxMjM0NTAwMDQzODIxNWFaO3EwHTkzSm00dA==",
             "itemEstimatedStatus":"itemPieceSold","imcModeProcessing":0}}"#;

/// How long the fake device takes for `updateFnmKeys`.
const SLOW: Duration = Duration::from_millis(300);

/// A fake device: echoes the task type and device; `declineMarkingCode` fails with 420,
/// `updateFnmKeys` is slow, `getFnInfo` panics (the device "dies"), `getShiftStatus` answers a shift
/// status. Logs `device:type[:challenge]` in execution order.
#[derive(Default)]
struct FakeDevice {
    log: Mutex<Vec<String>>,
}

impl FakeDevice {
    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl TaskRunner for FakeDevice {
    fn run(&self, device_id: &str, task: &Task) -> Result<Value, AtolError> {
        let mut entry = format!("{device_id}:{}", task.type_name());
        if let Task::MarkcertFnAuthenticate(p) = task {
            entry = format!("{entry}:{}", p.challenge);
        }
        self.log.lock().unwrap().push(entry);
        match task {
            Task::DeclineMarkingCode => Err(AtolError::mark_not_checked()),
            Task::UpdateFnmKeys => {
                std::thread::sleep(SLOW);
                Ok(Value::Null)
            }
            Task::GetFnInfo => panic!("the fake device lost power"),
            Task::GetShiftStatus => wire::result_json(&wire::ShiftStatusResult {
                shift_status: wire::ShiftStatus {
                    state: wire::ShiftState::Opened,
                    number: 7,
                    documents_count: 3,
                    expired_time: Some("2026-01-02T00:00:00+03:00".into()),
                },
            }),
            _ => Ok(json!({ "echo": task.type_name(), "device": device_id })),
        }
    }
}

struct Env {
    server: AtolHandle,
    device: Arc<FakeDevice>,
    trace: Trace,
    http: reqwest::Client,
}

async fn start(opts: AtolServerOptions) -> Env {
    let device = Arc::new(FakeDevice::default());
    let trace = Trace::in_memory(10_000);
    let server = server::spawn(opts, device.clone(), trace.clone()).await.unwrap();
    Env { server, device, trace, http: reqwest::Client::new() }
}

async fn start_default() -> Env {
    start(AtolServerOptions::default()).await
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        self.send(self.http.post(self.url(path)).body(body)).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_raw(path, body.to_string()).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(self.url(path))).await
    }

    /// The body of a GET as sent (key order included).
    async fn raw(&self, path: &str) -> String {
        self.http.get(self.url(path)).send().await.unwrap().text().await.unwrap()
    }

    /// POST a request and expect 201.
    async fn submit(&self, uuid: &str, request: Value) -> Value {
        let (status, body) = self.post("/api/v2/requests", json!({ "uuid": uuid, "request": request })).await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Poll until every task of `uuid` has a final status.
    async fn finished(&self, uuid: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = self.get(&format!("/api/v2/requests/{uuid}")).await;
            assert_eq!(status, 200, "{body}");
            let done = body["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| !matches!(r["status"].as_str(), Some("wait" | "inProgress")));
            if done {
                return body;
            }
            assert!(Instant::now() < deadline, "request {uuid} never finished: {body}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn statuses(env: &Value) -> Vec<&str> {
    env["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn ping() {
    let env = start_default().await;
    assert_eq!(env.get("/").await.0, 200);
    assert_eq!(env.get("/api/v2").await.0, 200);
    let (status, body) = env.get("/nope").await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!(404)));
}

#[tokio::test]
async fn post_then_get_the_spec_example() {
    let env = start_default().await;
    let begin: Value = serde_json::from_str(BEGIN_EXAMPLE).unwrap();
    let uuid = "1b7e2f44-5c0a-4f7e-8d1e-0a9c3b6d2e11";
    env.submit(uuid, json!([begin, {"type":"getMarkingCodeValidationStatus"}])).await;
    let body = env.finished(uuid).await;
    assert_eq!(statuses(&body), ["ready", "ready"]);
    assert_eq!(body["results"][0]["result"], json!({"echo":"beginMarkingCodeValidation","device":"default"}));
    assert_eq!(body["results"][0]["error"], json!({"code":0,"description":"Ошибок нет"}));
    assert_eq!(
        env.device.log(),
        ["default:beginMarkingCodeValidation", "default:getMarkingCodeValidationStatus"]
    );
    // Any non-empty string is a uuid.
    env.submit("a1b2c3", json!([{"type":"pingIsm"}])).await;
    env.submit("0123456789abcdef0123456789abcdef", json!([{"type":"pingIsm"}])).await;
}

#[tokio::test]
async fn accepted_201_shape() {
    let env = start_default().await;
    let body = json!({"uuid":"1b7e2f44-5c0a-4f7e-8d1e-0a9c3b6d2e11","request":[{"type":"pingIsm"}]});
    let r = env.http.post(env.url("/api/v2/requests")).body(body.to_string()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(r.headers()["content-type"], "application/json");
    insta::assert_snapshot!("accepted_201", r.text().await.unwrap());
    let second = env.submit("second", json!({"type":"pingIsm"})).await;
    assert_eq!(second["number"], 2);
}

#[tokio::test]
async fn envelope_with_ready_error_blocked() {
    let env = start_default().await;
    env.submit(
        "u1",
        json!([{"type":"pingIsm"}, {"type":"declineMarkingCode"}, {"type":"acceptMarkingCode"}]),
    )
    .await;
    let failed = env.finished("u1").await;
    assert_eq!(statuses(&failed), ["ready", "error", "blocked"]);
    // A task that does not parse fails on its own and blocks the rest; the others before it run.
    env.submit(
        "u2",
        json!([
            {"type":"checkImcWorkState"},
            {"type":"beginMarkingCodeValidation","params":{"imc":"QQ==","itemEstimatedStatus":"itemSoldTwice"}},
            {"type":"printBanner"},
        ]),
    )
    .await;
    let unparsed = env.finished("u2").await;
    assert_eq!(statuses(&unparsed), ["ready", "error", "blocked"]);
    // Exactly as sent, key order included.
    let text =
        format!("{}\n{}\n", env.raw("/api/v2/requests/u1").await, env.raw("/api/v2/requests/u2").await);
    insta::assert_snapshot!("envelope_ready_error_blocked", text);
    // The blocked task never ran.
    assert_eq!(
        env.device.log(),
        ["default:pingIsm", "default:declineMarkingCode", "default:checkImcWorkState"]
    );
}

#[tokio::test]
async fn a_single_task_object_is_accepted() {
    let env = start_default().await;
    env.submit("single", json!({"type":"ofdExchangeStatus"})).await;
    let body = env.finished("single").await;
    assert_eq!(statuses(&body), ["ready"]);
    assert_eq!(body["results"][0]["result"]["echo"], "ofdExchangeStatus");
}

#[tokio::test]
async fn reused_uuid_is_409() {
    let env = start_default().await;
    env.submit("same", json!([{"type":"pingIsm"}])).await;
    let (status, body) =
        env.post("/api/v2/requests", json!({"uuid":"same","request":[{"type":"pingIsm"}]})).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], 409);
    assert!(body["error"]["description"].as_str().unwrap().contains("same"));
}

#[tokio::test]
async fn bad_envelopes_are_400() {
    let env = start_default().await;
    let mut answers = serde_json::Map::new();
    for (name, body) in [
        ("not_json", "{\"uuid\":"),
        ("not_an_object", "[1,2]"),
        ("no_uuid", r#"{"request":[{"type":"pingIsm"}]}"#),
        ("empty_uuid", r#"{"uuid":"","request":[{"type":"pingIsm"}]}"#),
        ("no_request", r#"{"uuid":"x"}"#),
        ("empty_request", r#"{"uuid":"x","request":[]}"#),
    ] {
        let (status, answer) = env.post_raw("/api/v2/requests", body).await;
        assert_eq!(status, 400, "{name}");
        answers.insert(name.into(), answer);
    }
    insta::assert_json_snapshot!("bad_json_400", answers);
    // Nothing was queued.
    assert_eq!(env.get("/api/v2/requests/x").await.0, 404);
}

#[tokio::test]
async fn unknown_uuid_is_404() {
    let env = start_default().await;
    let (status, body) = env.get("/api/v2/requests/never-posted").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], 404);
}

#[tokio::test]
async fn device_selection() {
    let opts = AtolServerOptions { devices: vec!["kkt-a".into(), "kkt-b".into()], ..Default::default() };
    let env = start(opts).await;
    env.submit("to-default", json!([{"type":"pingIsm"}])).await;
    let (status, _) = env
        .post("/api/v2/requests?deviceID=kkt-b", json!({"uuid":"to-b","request":[{"type":"pingIsm"}]}))
        .await;
    assert_eq!(status, 201);
    assert_eq!(env.finished("to-default").await["results"][0]["result"]["device"], "kkt-a");
    assert_eq!(env.finished("to-b").await["results"][0]["result"]["device"], "kkt-b");
    let (status, body) = env
        .post("/api/v2/requests?deviceID=kkt-z", json!({"uuid":"to-z","request":[{"type":"pingIsm"}]}))
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], 404);
    assert_eq!(env.get("/api/v2/requests/to-z").await.0, 404);
    assert_eq!(env.get("/api/v2/requests/to-b?deviceID=kkt-z").await.0, 404);
    assert_eq!(env.post_raw("/api/v2/activateDevice?deviceID=kkt-b", "").await.0, 200);
    assert_eq!(env.post_raw("/api/v2/activateDevice?deviceID=kkt-z", "").await.0, 404);
    // A device's queue does not wait for another device's.
    env.submit("slow-a", json!([{"type":"updateFnmKeys"}])).await;
    let (status, _) = env
        .post("/api/v2/requests?deviceID=kkt-b", json!({"uuid":"fast-b","request":[{"type":"pingIsm"}]}))
        .await;
    assert_eq!(status, 201);
    let started = Instant::now();
    env.finished("fast-b").await;
    assert!(started.elapsed() < SLOW, "kkt-b waited for kkt-a");
    env.finished("slow-a").await;
}

#[tokio::test]
async fn basic_auth() {
    let opts =
        AtolServerOptions { basic_auth: Some(("admin".into(), "s3cret".into())), ..Default::default() };
    let env = start(opts).await;
    let body = json!({"uuid":"auth","request":[{"type":"pingIsm"}]}).to_string();
    let r = env.http.post(env.url("/api/v2/requests")).body(body.clone()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().get("www-authenticate").unwrap().to_str().unwrap().starts_with("Basic"));
    let (status, _) = env
        .send(
            env.http.post(env.url("/api/v2/requests")).basic_auth("admin", Some("wrong")).body(body.clone()),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = env
        .send(env.http.post(env.url("/api/v2/requests")).basic_auth("admin", Some("s3cret")).body(body))
        .await;
    assert_eq!(status, 201);
    assert_eq!(env.get("/").await.0, 401);
    let (status, _) =
        env.send(env.http.get(env.url("/api/v2/requests/auth")).basic_auth("admin", Some("s3cret"))).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn flat_error_fields() {
    let env = start(AtolServerOptions { flat_error_fields: true, ..Default::default() }).await;
    env.submit("flat", json!([{"type":"pingIsm"}, {"type":"declineMarkingCode"}])).await;
    let body = env.finished("flat").await;
    let r = &body["results"];
    assert_eq!((&r[0]["errorCode"], &r[0]["errorDescription"]), (&json!(0), &json!("Ошибок нет")));
    assert_eq!((&r[1]["errorCode"], &r[1]["errorDescription"]), (&json!(420), &json!("mark not checked")));
    assert_eq!(r[1]["error"], json!({"code":420,"description":"mark not checked"}));
    // Without the switch the flat fields are absent.
    let plain = start_default().await;
    plain.submit("plain", json!([{"type":"pingIsm"}])).await;
    assert!(plain.finished("plain").await["results"][0].get("errorCode").is_none());
}

#[tokio::test]
async fn order_of_execution_across_requests() {
    let env = start_default().await;
    let auth = |c: &str| json!({"type":"markcertFnAuthenticate","params":{"challenge":c}});
    env.submit("first", json!([{"type":"updateFnmKeys"}, auth("A1"), auth("A2")])).await;
    // Right after the POST the first request has not finished.
    let (_, early) = env.get("/api/v2/requests/first").await;
    assert!(matches!(statuses(&early)[0], "wait" | "inProgress"), "{early}");
    assert_eq!(statuses(&early)[1], "wait");
    env.submit("second", json!([auth("B1")])).await;
    env.submit("third", json!({"type":"markcertFnAuthenticate","challenge":"C1"})).await;
    let (_, waiting) = env.get("/api/v2/requests/second").await;
    assert_eq!(statuses(&waiting), ["wait"]);
    env.finished("third").await;
    assert_eq!(
        env.device.log(),
        [
            "default:updateFnmKeys",
            "default:markcertFnAuthenticate:A1",
            "default:markcertFnAuthenticate:A2",
            "default:markcertFnAuthenticate:B1",
            "default:markcertFnAuthenticate:C1",
        ]
    );
}

#[tokio::test]
async fn the_store_is_bounded() {
    let env = start(AtolServerOptions { max_requests_kept: 3, ..Default::default() }).await;
    for i in 0..5 {
        env.submit(&format!("r{i}"), json!([{"type":"pingIsm"}])).await;
        env.finished(&format!("r{i}")).await;
    }
    for i in 0..2 {
        assert_eq!(env.get(&format!("/api/v2/requests/r{i}")).await.0, 404, "r{i}");
    }
    for i in 2..5 {
        assert_eq!(env.get(&format!("/api/v2/requests/r{i}")).await.0, 200, "r{i}");
    }
    // A dropped uuid is free again.
    env.submit("r0", json!([{"type":"pingIsm"}])).await;
}

#[tokio::test]
async fn a_dying_device_interrupts_and_cancel_stops_what_waits() {
    let env = start_default().await;
    env.submit("dies", json!([{"type":"getFnInfo"}, {"type":"pingIsm"}])).await;
    let body = env.finished("dies").await;
    assert_eq!(statuses(&body), ["interrupted", "blocked"]);
    assert_eq!(body["results"][0]["error"]["code"], 6);
    // The worker survives the panic.
    env.submit("after", json!([{"type":"pingIsm"}])).await;
    assert_eq!(statuses(&env.finished("after").await), ["ready"]);

    env.submit("slow", json!([{"type":"updateFnmKeys"}, {"type":"pingIsm"}])).await;
    let (status, body) = env.send(env.http.delete(env.url("/api/v2/requests/slow"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(statuses(&body)[1], "canceled");
    assert_eq!(statuses(&env.finished("slow").await), ["ready", "canceled"]);
    assert_eq!(env.send(env.http.delete(env.url("/api/v2/requests/slow"))).await.0, 409);
    assert_eq!(env.send(env.http.delete(env.url("/api/v2/requests/none"))).await.0, 404);
}

#[tokio::test]
async fn operations_run_on_the_device() {
    let env = start_default().await;
    let (status, body) = env.post_raw("/api/v2/operations/queryShiftStatus", "").await;
    assert_eq!(status, 200);
    assert_eq!(body["shiftStatus"]["state"], "opened");
    let (status, body) = env.post_raw("/api/v2/operations/queryDeviceInfo", "").await;
    assert_eq!((status, &body["echo"]), (200, &json!("getDeviceInfo")));
    let (status, body) = env.post_raw("/api/v2/operations/queryFnInfo", "").await;
    assert_eq!((status, &body["error"]["code"]), (500, &json!(6)));
    assert_eq!(env.post_raw("/api/v2/operations/printFish", "").await.0, 404);
    assert_eq!(env.post_raw("/api/v2/activateDevice", "").await.0, 200);
}

#[tokio::test]
async fn every_call_is_traced() {
    let env = start_default().await;
    let begin: Value = serde_json::from_str(BEGIN_EXAMPLE).unwrap();
    env.submit("traced", json!([begin, {"type":"nope"}])).await;
    env.finished("traced").await;
    env.get("/api/v2/requests/unknown").await;
    env.get("/no/such/path").await;
    let events = env.trace.events(&TraceFilter { component: Some("kkt".into()), ..Default::default() });
    let post = &events[0];
    assert_eq!((post.method.as_str(), post.path.as_str(), post.status), ("POST", "/api/v2/requests", 201));
    assert_eq!(post.host, env.server.addr.to_string());
    assert_eq!(post.note.as_deref(), Some("uuid=traced tasks=beginMarkingCodeValidation,(invalid)"));
    assert_eq!(post.codes, ["0104612345000438215aZ;q0\u{1d}93Jm4t"]);
    let last = &events[events.len() - 2];
    assert_eq!(
        (last.method.as_str(), last.path.as_str(), last.status),
        ("GET", "/api/v2/requests/unknown", 404)
    );
    assert!(events.iter().any(|e| e.note.as_deref() == Some("uuid=traced statuses=ready,error")));
    // The fallback is traced too.
    let fallback = events.last().unwrap();
    assert_eq!((fallback.path.as_str(), fallback.status), ("/no/such/path", 404));
}

#[tokio::test]
async fn cors_preflight() {
    let env =
        start(AtolServerOptions { basic_auth: Some(("a".into(), "b".into())), ..Default::default() }).await;
    let r = env
        .http
        .request(reqwest::Method::OPTIONS, env.url("/api/v2/requests"))
        .header("Origin", "https://pos.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], "https://pos.example");
}

/// The result structs as the KKT writes them (§10.2, §10.3 and the supporting fiscal tasks).
#[test]
fn result_structs_json() {
    use wire::*;
    let all_ok = ItemInfoCheckResult::from_2106(15);
    let results: Vec<(&str, String)> = vec![
        (
            "beginMarkingCodeValidation",
            serde_json::to_string(&BeginValidationResult {
                offline_validation: OfflineValidation {
                    fm_check: false,
                    fm_check_result: false,
                    fm_check_error_reason: FmCheckErrorReason::TypeIncorrect,
                },
            })
            .unwrap(),
        ),
        (
            "getMarkingCodeValidationStatus (online)",
            serde_json::to_string(&ValidationStatus {
                ready: true,
                sent_imc_request: true,
                driver_error: None,
                online_validation: Some(OnlineValidation {
                    item_info_check_result: all_ok,
                    mark_operator_response: Some(MarkOperatorResponse::from_2005(15)),
                    mark_operator_item_status: Some(MarkOperatorItemStatus::EstimatedStatusCorrect),
                    mark_operator_response_result: Some(MarkOperatorResponseResult::Correct),
                    imc_type: Some(ImcType::VerifyCode4),
                    imc_barcode: Some("0104612345000438215aZ;q0".into()),
                    imc_mode_processing: Some(0),
                }),
            })
            .unwrap(),
        ),
        (
            "getMarkingCodeValidationStatus (ОФД unreachable)",
            serde_json::to_string(&ValidationStatus {
                ready: true,
                sent_imc_request: false,
                driver_error: AtolError::no_connection_with_server().to_driver_error(),
                online_validation: Some(OnlineValidation {
                    item_info_check_result: ItemInfoCheckResult::from_2106(0),
                    mark_operator_response: None,
                    mark_operator_item_status: None,
                    mark_operator_response_result: None,
                    imc_type: Some(ImcType::VerifyCode4),
                    imc_barcode: None,
                    imc_mode_processing: Some(0),
                }),
            })
            .unwrap(),
        ),
        (
            "getMarkingCodeValidationStatus (running)",
            serde_json::to_string(&ValidationStatus {
                ready: false,
                sent_imc_request: true,
                driver_error: AtolError::validation_in_progress().to_driver_error(),
                online_validation: None,
            })
            .unwrap(),
        ),
        (
            "acceptMarkingCode",
            serde_json::to_string(&AcceptResult { item_info_check_result: all_ok }).unwrap(),
        ),
        (
            "checkMarkingCodeValidationsReady",
            serde_json::to_string(&ValidationsReady { validation_ready: true }).unwrap(),
        ),
        (
            "validateMarks",
            serde_json::to_string(&ValidateMarksResult {
                marks: vec![ValidatedMark {
                    imc: "QQ==".into(),
                    item_info_check_result: all_ok,
                    accepted: true,
                }],
            })
            .unwrap(),
        ),
        (
            "checkImcWorkState",
            serde_json::to_string(&ImcWorkState {
                fm: FmState {
                    status: FmStatus::NoImcForCheck,
                    checking_count: 0,
                    sold_imc_count: 2,
                    notice_is_begin: false,
                    notice_free_memory: NoticeFreeMemory::From50To80,
                    notice_count: 5,
                },
                ecr: EcrState {
                    status: EcrStatus::Completed,
                    kind: EcrType::WaitForResult,
                    stage: EcrStage::Completed,
                },
            })
            .unwrap(),
        ),
        ("pingIsm", serde_json::to_string(&PingIsm { ism_connected: true, time_ms: 200 }).unwrap()),
        (
            "ismExchangeStatus",
            serde_json::to_string(&ExchangeStatus {
                queue_count: 1,
                first_number: 42,
                first_date_time: Some("2026-01-01T03:00:00+03:00".into()),
            })
            .unwrap(),
        ),
        (
            "ofdExchangeStatus (empty)",
            serde_json::to_string(&ExchangeStatus { queue_count: 0, first_number: 0, first_date_time: None })
                .unwrap(),
        ),
        (
            "markcertFnAuthenticate",
            serde_json::to_string(&FnAuthResult {
                fn_serial: "7380440700000123".into(),
                mac: "bWFj".into(),
                alg: "HMAC-SHA256".into(),
            })
            .unwrap(),
        ),
        (
            "getShiftStatus",
            serde_json::to_string(&ShiftStatusResult {
                shift_status: ShiftStatus {
                    state: ShiftState::Opened,
                    number: 7,
                    documents_count: 3,
                    expired_time: Some("2026-01-02T00:00:00+03:00".into()),
                },
            })
            .unwrap(),
        ),
        (
            "getDeviceStatus",
            serde_json::to_string(&DeviceStatusResult {
                device_status: DeviceStatus {
                    current_date_time: "2026-01-01T03:00:00+03:00".into(),
                    shift: ShiftState::Opened,
                    blocked: false,
                    cover_opened: false,
                    paper_present: true,
                    fiscal: true,
                    fn_fiscal: true,
                    fn_present: true,
                    cash_drawer_opened: false,
                },
            })
            .unwrap(),
        ),
        (
            "getDeviceInfo",
            serde_json::to_string(&DeviceInfoResult {
                device_info: DeviceInfo {
                    model: 67,
                    model_name: "markcert KKT".into(),
                    serial: "00107700000042".into(),
                    firmware_version: "5.8.100".into(),
                    configuration_version: None,
                    receipt_line_length: 48,
                    ffd_version: "1.2".into(),
                    fn_ffd_version: "1.2".into(),
                },
            })
            .unwrap(),
        ),
        (
            "getFnInfo",
            serde_json::to_string(&FnInfoResult {
                fn_info: FnInfo {
                    serial: "7380440700000123".into(),
                    ffd_version: "1.2".into(),
                    fn_ffd_version: Some("1.2".into()),
                    version: None,
                    live_phase: Some("fiscalMode".into()),
                    validity_date: Some("2027-01-01".into()),
                    number_of_registrations: Some(1),
                    registrations_remaining: Some(29),
                    warnings: Some(FnWarnings::default()),
                },
            })
            .unwrap(),
        ),
        (
            "sell",
            serde_json::to_string(&SellResult {
                fiscal_params: ReceiptFiscalParams {
                    fiscal_document_number: 12,
                    fiscal_document_sign: "2849214321".into(),
                    fn_number: "7380440700000123".into(),
                    registration_number: "0000000001012345".into(),
                    fiscal_receipt_number: 4,
                    shift_number: 7,
                    receipt_sum: 94.9,
                    fiscal_document_date_time: "2026-01-01T03:00:00+03:00".into(),
                    fns_url: "www.nalog.gov.ru".into(),
                },
                warnings: None,
            })
            .unwrap(),
        ),
        (
            "closeShift",
            serde_json::to_string(&ShiftDocumentResult {
                fiscal_params: Some(DocumentFiscalParams {
                    fiscal_document_number: 13,
                    fiscal_document_sign: "1234567890".into(),
                    fn_number: "7380440700000123".into(),
                    registration_number: "0000000001012345".into(),
                    shift_number: 7,
                    fiscal_document_date_time: "2026-01-01T23:00:00+03:00".into(),
                    receipts_count: Some(4),
                    fns_url: None,
                }),
                warnings: None,
            })
            .unwrap(),
        ),
    ];
    let text: String = results.iter().map(|(name, json)| format!("{name}: {json}\n")).collect();
    insta::assert_snapshot!("result_structs", text);
}

mod never_panics {
    //! Arbitrary bodies posted to the queue: never a panic (the server keeps answering), never a 5xx.
    use super::*;
    use proptest::prelude::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    struct Shared {
        rt: tokio::runtime::Runtime,
        url: String,
        http: reqwest::Client,
        next: AtomicU64,
    }

    fn shared() -> &'static Shared {
        static SHARED: OnceLock<Shared> = OnceLock::new();
        SHARED.get_or_init(|| {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
            let server = rt.block_on(async {
                let runner: Arc<dyn TaskRunner> = Arc::new(|_: &str, t: &Task| -> Result<Value, AtolError> {
                    Ok(json!({ "echo": t.type_name() }))
                });
                server::spawn(AtolServerOptions::default(), runner, Trace::in_memory(1000)).await.unwrap()
            });
            let url = server.url.clone();
            std::mem::forget(server); // served for the whole test binary
            Shared { rt, url, http: reqwest::Client::new(), next: AtomicU64::new(0) }
        })
    }

    /// POST `body`; then, if queued, poll its results. Returns the statuses seen.
    fn exercise(body: Vec<u8>, uuid: Option<String>) -> Vec<u16> {
        let s = shared();
        s.rt.block_on(async {
            let post = s.http.post(format!("{}/api/v2/requests", s.url)).body(body).send().await.unwrap();
            let mut seen = vec![post.status().as_u16()];
            if let (201, Some(uuid)) = (seen[0], uuid) {
                let deadline = Instant::now() + Duration::from_secs(5);
                loop {
                    let r = s.http.get(format!("{}/api/v2/requests/{uuid}", s.url)).send().await.unwrap();
                    seen.push(r.status().as_u16());
                    let v: Value = r.json().await.unwrap();
                    let done = v["results"].as_array().unwrap().iter().all(|r| {
                        matches!(r["status"].as_str(), Some("ready" | "error" | "blocked" | "interrupted"))
                    });
                    if done || Instant::now() > deadline {
                        assert!(done, "{v}");
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            let ping = s.http.get(format!("{}/", s.url)).send().await.unwrap();
            seen.push(ping.status().as_u16());
            seen
        })
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            proptest::sample::select(vec![
                "type",
                "params",
                "imc",
                "imcType",
                "itemEstimatedStatus",
                "imcModeProcessing",
                "items",
                "marks",
                "measurementUnit",
                "imcParams",
                "industryInfo",
                "payments",
                "uuid",
                "request",
                "name",
                "price",
                "quantity",
                "amount",
                "challenge",
            ])
            .prop_map(str::to_string),
            "[a-zA-Z]{0,6}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            proptest::sample::select(wire::TASK_TYPES).prop_map(Value::from),
            "\\PC{0,10}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 40, 5, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::vec((key.clone(), inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn fine(statuses: &[u16]) -> bool {
        statuses.iter().all(|s| matches!(s, 200 | 201 | 400 | 409))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let seen = exercise(bytes, None);
            prop_assert!(fine(&seen), "{seen:?}");
        }

        #[test]
        fn arbitrary_json_as_the_body_or_the_tasks(v in json_value(), as_list in any::<bool>()) {
            let s = shared();
            let seen = exercise(v.to_string().into_bytes(), None);
            prop_assert!(fine(&seen), "{seen:?}");
            let uuid = format!("prop-{}", s.next.fetch_add(1, Ordering::Relaxed));
            let request = if as_list { json!([v]) } else { v };
            let body = json!({ "uuid": uuid, "request": request }).to_string().into_bytes();
            let seen = exercise(body, Some(uuid));
            prop_assert!(fine(&seen), "{seen:?}");
        }
    }
}
