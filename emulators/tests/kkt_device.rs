//! The emulated KKT over real HTTP (`kkt.md` §7–§11): the whole stack (world, True API, ЛМ ЧЗ), the
//! KKT behind the ATOL-compatible web server and the control API with its `/kkt/*` routes, on a frozen
//! world clock. The §10.3 happy path end to end with snapshots of the documents; every misuse and
//! special situation the ATOL errors of §10.5 name; grading findings through `GET /kkt/findings`;
//! `markcertFnAuthenticate` accepted by the True API. Check timings are shortened through the options
//! so the file runs in a few seconds.

use base64::Engine;
use markcert_codes::Layout;
use markcert_emulators::clock::WorldClock;
use markcert_emulators::control::{self, ControlContext, ControlServer};
use markcert_emulators::faults::{FaultKind, FaultRule, Latency};
use markcert_emulators::kkt::atol::server::{self as atol, AtolHandle, AtolServerOptions};
use markcert_emulators::kkt::device::{KktDevice, KktDeviceContext};
use markcert_emulators::kkt::options::{KktOptions, OismOptions};
use markcert_emulators::stack::{Stack, StackOptions};
use markcert_emulators::trace::Trace;
use markcert_emulators::world::default::{default_world, STORE_API_KEY, STORE_FN_SERIAL};
use markcert_emulators::world::CodeState;
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// 2026-01-01 00:00 UTC: before the X-API-KEY cut-off.
const NOW: i64 = 1_767_225_600_000;
/// Answer 83 delay and the ОИСМ timeout used by the tests.
const LATENCY_MS: u64 = 20;
const TIMEOUT_MS: u64 = 150;

struct Env {
    stack: Stack,
    kkt: Arc<KktDevice>,
    atol: AtolHandle,
    control: ControlServer,
    http: reqwest::Client,
}

/// Fast check timings.
fn fast() -> KktOptions {
    let mut o = KktOptions::default();
    o.oism.latency_ms = LATENCY_MS;
    o.oism.timeout_ms = TIMEOUT_MS;
    o
}

async fn start_with(options: KktOptions) -> Env {
    let stack = Stack::start(
        default_world(NOW).unwrap(),
        WorldClock::frozen_at(NOW),
        Trace::in_memory(100_000),
        StackOptions { cdn_hosts: 1, tspiot: None, ..StackOptions::default() },
    )
    .await
    .unwrap();
    let ctx = KktDeviceContext {
        options,
        lm: Some(stack.lm.clone()),
        ..KktDeviceContext::new(
            stack.world.clone(),
            stack.clock.clone(),
            stack.trace.clone(),
            stack.reqlog.clone(),
            stack.faults.clone(),
        )
    };
    let kkt = Arc::new(KktDevice::for_store(ctx).unwrap());
    let atol_opts = AtolServerOptions { clock: stack.clock.clone(), ..AtolServerOptions::default() };
    let atol = atol::spawn(atol_opts, kkt.clone(), stack.trace.clone()).await.unwrap();
    let control = control::spawn(
        ControlContext {
            world: stack.world.clone(),
            clock: stack.clock.clone(),
            trace: stack.trace.clone(),
            faults: stack.faults.clone(),
            reqlog: stack.reqlog.clone(),
            lm: Some(stack.lm.clone()),
            tspiot: None,
            fn_signer: None,
            fn_auth: stack.fn_auth.clone(),
            kkt: Some(kkt.clone()),
        },
        IpAddr::V4(Ipv4Addr::LOCALHOST),
    )
    .await
    .unwrap();
    Env { stack, kkt, atol, control, http: reqwest::Client::new() }
}

async fn start() -> Env {
    start_with(fast()).await
}

fn b64(code: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(code.as_bytes())
}

/// A driver error of a task: `(code, description)`.
type TaskError = (u64, String);

impl Env {
    async fn shutdown(self) {
        self.atol.shutdown().await;
        self.control.shutdown().await;
        self.stack.shutdown().await;
    }

    /// Codes of the default world with `layout` and `case`.
    fn codes(&self, layout: Layout, case: &str) -> Vec<String> {
        let w = self.stack.world.read().unwrap();
        let mut codes: Vec<String> = w
            .codes()
            .into_iter()
            .filter(|c| c.case.as_deref() == Some(case))
            .filter(|c| markcert_codes::parse(c.code.as_bytes()).is_ok_and(|p| p.layout() == layout))
            .map(|c| c.code.clone())
            .collect();
        codes.sort();
        assert!(!codes.is_empty(), "no {layout:?} {case} code");
        codes
    }

    fn milk(&self) -> String {
        self.codes(Layout::Milk, "in-circulation").remove(0)
    }

    /// POST a request of `tasks` and poll its results until every task is final.
    async fn request(&self, tasks: Vec<Value>) -> Vec<Value> {
        let uuid = uuid::Uuid::new_v4().to_string();
        let url = format!("{}/api/v2/requests", self.atol.url);
        let r = self.http.post(&url).json(&json!({ "uuid": uuid, "request": tasks })).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let body: Value =
                self.http.get(format!("{url}/{uuid}")).send().await.unwrap().json().await.unwrap();
            let results = body["results"].as_array().unwrap().clone();
            if results.iter().all(|r| !matches!(r["status"].as_str(), Some("wait" | "inProgress"))) {
                return results;
            }
            assert!(Instant::now() < deadline, "request never finished: {body}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Run one task: its result, or its driver error.
    async fn task(&self, task: Value) -> Result<Value, TaskError> {
        let r = self.request(vec![task]).await.remove(0);
        match r["status"].as_str() {
            Some("ready") => Ok(r["result"].clone()),
            _ => Err((
                r["error"]["code"].as_u64().unwrap(),
                r["error"]["description"].as_str().unwrap().into(),
            )),
        }
    }

    async fn ok(&self, task: Value) -> Value {
        let t = task.clone();
        self.task(task).await.unwrap_or_else(|e| panic!("{t}: {e:?}"))
    }

    async fn err(&self, task: Value) -> u64 {
        let t = task.clone();
        match self.task(task).await {
            Ok(v) => panic!("{t} succeeded: {v}"),
            Err((code, _)) => code,
        }
    }

    async fn begin(&self, code: &str, status: &str) -> Result<Value, TaskError> {
        self.task(begin(code, status)).await
    }

    /// Poll until `ready`, returning the final status.
    async fn poll_ready(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let v = self.ok(json!({"type":"getMarkingCodeValidationStatus"})).await;
            if v["ready"] == true {
                return v;
            }
            assert!(Instant::now() < deadline, "never ready: {v}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// begin → poll until ready → accept; the 2106 flags of the accept.
    async fn check_and_accept(&self, code: &str) -> Value {
        self.begin(code, "itemPieceSold").await.unwrap();
        self.poll_ready().await;
        self.ok(json!({"type":"acceptMarkingCode"})).await["itemInfoCheckResult"].clone()
    }

    /// A True API check through the CDN host: `(reqId, reqTimestamp)`.
    async fn true_api_check(&self, code: &str) -> (String, i64) {
        let url = format!("{}/api/v4/true-api/codes/check", self.stack.endpoints.true_api.hosts[0]);
        let r = self.http.post(url).header("X-API-KEY", STORE_API_KEY).json(&json!({"codes":[code]})).send();
        let v: Value = r.await.unwrap().json().await.unwrap();
        (v["reqId"].as_str().unwrap().to_string(), v["reqTimestamp"].as_i64().unwrap())
    }

    async fn control_get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}{path}", self.control.url)).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn patch_options(&self, patch: Value) -> Value {
        let r =
            self.http.patch(format!("{}/kkt/options", self.control.url)).json(&patch).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    async fn open_shift(&self) {
        self.ok(json!({"type":"openShift","operator":{"name":"Кассир 1"}})).await;
    }

    /// Documents of `kind` in the journal.
    async fn documents(&self, kind: &str) -> Vec<Value> {
        let (s, v) = self.control_get(&format!("/kkt/documents?kind={kind}")).await;
        assert_eq!(s, 200, "{v}");
        v.as_array().unwrap().clone()
    }
}

fn begin(code: &str, status: &str) -> Value {
    json!({"type":"beginMarkingCodeValidation",
           "params":{"imcType":"auto","imc":b64(code),"itemEstimatedStatus":status,"imcModeProcessing":0}})
}

/// The §10.3 sale of one code with `imcParams` and `industryInfo`.
fn sell(code: &str, info_2106: u8, industry: Option<&str>) -> Value {
    let flags = |bit: u8| info_2106 & (1 << bit) != 0;
    let mut position = json!({
        "type":"position","name":"Кефир 2,5% 900 г","price":94.90,"quantity":1,"amount":94.90,
        "measurementUnit":"piece","paymentMethod":"fullPayment","paymentObject":"commodityWithMarking",
        "tax":{"type":"vat10"},
        "imcParams":{"imcType":"auto","imc":b64(code),"itemEstimatedStatus":"itemPieceSold","imcModeProcessing":0,
            "itemInfoCheckResult":{"imcCheckFlag":flags(0),"imcCheckResult":flags(1),"imcStatusInfo":flags(2),
                                   "imcEstimatedStatusCorrect":flags(3),"ecrStandAloneFlag":flags(4)}}
    });
    if let Some(attr) = industry {
        position["industryInfo"] =
            json!([{"fois":"030","date":"2023.11.21","number":"1944","industryAttribute":attr}]);
    }
    json!({"type":"sell","taxationType":"osn","operator":{"name":"Кассир 1","vatin":"770100001273"},
           "items":[position],"payments":[{"type":"cash","sum":94.90}],"total":94.90})
}

/// `UUID=…&Time=…` of a True API check.
fn requisite(req_id: &str, time: i64) -> String {
    format!("UUID={req_id}&Time={time}")
}

/// `value` with every occurrence of `from` replaced (for snapshots).
fn redact(value: &Value, from: &str, to: &str) -> Value {
    serde_json::from_str(&value.to_string().replace(from, to)).unwrap()
}

/// `fiscalSign` set to a placeholder (it signs the random reqId too).
fn without_sign(mut v: Value) -> Value {
    v["fiscalSign"] = json!("<fiscalSign>");
    v
}

#[tokio::test]
async fn happy_path_of_the_spec() {
    // An answer slow enough that the first poll surely comes before it.
    let env = start_with(KktOptions {
        oism: OismOptions { latency_ms: 300, timeout_ms: 1000, ..fast().oism },
        ..fast()
    })
    .await;
    env.open_shift().await;
    let code = env.milk();
    let (req_id, req_ts) = env.true_api_check(&code).await;

    let begun = env.begin(&code, "itemPieceSold").await.unwrap();
    assert_eq!(
        begun,
        json!({"offlineValidation":{"fmCheck":false,"fmCheckResult":false,"fmCheckErrorReason":"typeIncorrect"}})
    );
    let first = env.ok(json!({"type":"getMarkingCodeValidationStatus"})).await;
    assert_eq!(first, json!({"ready":false,"sentImcRequest":true}), "the answer takes 300 ms");
    let ready = env.poll_ready().await;
    let ki = markcert_codes::parse(code.as_bytes()).unwrap().ki().to_string();
    assert_eq!(
        ready,
        json!({"ready":true,"sentImcRequest":true,"onlineValidation":{
            "itemInfoCheckResult":{"imcCheckFlag":true,"imcCheckResult":true,"imcStatusInfo":true,
                                   "imcEstimatedStatusCorrect":true,"ecrStandAloneFlag":false},
            "markOperatorResponse":{"responseStatus":true,"itemStatusCheck":true},
            "markOperatorItemStatus":"itemEstimatedStatusCorrect",
            "markOperatorResponseResult":"correct",
            "imcType":"imcVerifyCode4","imcBarcode":ki,"imcModeProcessing":0}})
    );
    let accepted = env.ok(json!({"type":"acceptMarkingCode"})).await;
    assert_eq!(accepted["itemInfoCheckResult"], ready["onlineValidation"]["itemInfoCheckResult"]);

    let sold = env.ok(sell(&code, 15, Some(&requisite(&req_id, req_ts)))).await;
    let fp = &sold["fiscalParams"];
    assert_eq!((fp["fnNumber"].as_str(), fp["shiftNumber"].as_u64()), (Some(STORE_FN_SERIAL), Some(1)));
    assert_eq!((fp["fiscalReceiptNumber"].as_u64(), fp["receiptSum"].as_f64()), (Some(1), Some(94.9)));
    assert_eq!(fp["fiscalDocumentDateTime"], "2026-01-01T03:00:00+03:00");
    assert!(sold.get("warnings").is_none(), "{sold}");

    let receipts = env.documents("receipt").await;
    assert_eq!(receipts.len(), 1);
    let receipt = &receipts[0];
    assert_eq!(receipt["findings"], json!([]), "the happy path has no findings");
    assert_eq!(receipt["fns_json"]["items"][0]["checkingProdInformationResult"], 15);
    assert_eq!(receipt["fns_json"]["checkingLabeledProdResult"], 0);
    let notes = env.documents("notification").await;
    assert_eq!(notes.len(), 1);
    let item_2007 = &notes[0]["fns_json"]["items"][0];
    let item_1059 = &receipt["fns_json"]["items"][0];
    assert_eq!(item_2007["labelCode"], code.as_str());
    assert_eq!(item_2007["productId"], ki.as_str());
    assert_eq!(item_2007["assignedProdStatus"], 1);
    for key in ["checkingProdInformationResult", "controlCode", "price", "sum", "name", "nds", "ndsSum"] {
        assert_eq!(item_2007[key], item_1059[key], "{key} of 2007 equals the receipt's");
    }
    assert_eq!(item_2007["itemsIndustryDetails"], item_1059["itemsIndustryDetails"]);
    // The ОИСМ ticketed the notification: the code is sold in the world.
    let tickets = env.documents("ticket").await;
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0]["fns_json"]["code"], 84);
    {
        let w = env.stack.world.read().unwrap();
        assert_eq!(w.code_by_identity(&ki).unwrap().state, CodeState::Sold);
    }
    let (_, state) = env.control_get("/kkt/state").await;
    assert_eq!(state["unsent_notifications"], json!([]));
    assert_eq!(state["shift"]["receipts"], 1);

    // Snapshots of the documents (the reqId and the fiscal signs vary from run to run).
    let receipt_json = without_sign(redact(&receipt["fns_json"], &req_id, "<reqId>"));
    insta::assert_json_snapshot!("happy_receipt_fns_json", receipt_json);
    let note_json = without_sign(redact(&notes[0]["fns_json"], &req_id, "<reqId>"));
    insta::assert_json_snapshot!("happy_notification_fns_json", note_json);
    let (s, one) = env.control_get(&format!("/kkt/documents/{}", receipt["seq"])).await;
    assert_eq!(s, 200);
    let sign = format!("{:010}", receipt["fns_json"]["fiscalSign"].as_u64().unwrap());
    let paper = one["paper"].as_str().unwrap().replace(&sign, "<fiscalSign>");
    insta::assert_snapshot!("happy_receipt_paper", paper);

    // A second check of the sold code: 2109 = 2, 2106 = 7, [М-].
    env.begin(&code, "itemPieceSold").await.unwrap();
    let again = env.poll_ready().await;
    assert_eq!(again["onlineValidation"]["markOperatorItemStatus"], "itemEstimatedStatusIncorrect");
    let flags = &again["onlineValidation"]["itemInfoCheckResult"];
    assert_eq!(
        (flags["imcCheckFlag"].clone(), flags["imcCheckResult"].clone(), flags["imcStatusInfo"].clone()),
        (json!(true), json!(true), json!(true))
    );
    assert_eq!(flags["imcEstimatedStatusCorrect"], false, "2106 = 7");
    env.ok(json!({"type":"declineMarkingCode"})).await;
    env.shutdown().await;
}

#[tokio::test]
async fn misuse_gets_the_atol_errors() {
    let env = start().await;
    env.open_shift().await;
    let codes = env.codes(Layout::Milk, "in-circulation");
    let (a, b) = (&codes[0], &codes[1]);

    // No check at all.
    assert_eq!(env.err(json!({"type":"getMarkingCodeValidationStatus"})).await, 415);
    assert_eq!(env.err(json!({"type":"acceptMarkingCode"})).await, 422);
    assert_eq!(env.err(json!({"type":"declineMarkingCode"})).await, 422);
    assert_eq!(env.err(sell(a, 15, None)).await, 420, "sell without a check");

    // Bad parameters of a check.
    let mut bad = begin(a, "itemPieceSold");
    bad["params"]["imc"] = json!("@@not base64@@");
    assert_eq!(env.err(bad).await, 405);
    let mut mode = begin(a, "itemPieceSold");
    mode["params"]["imcModeProcessing"] = json!(1);
    assert_eq!(env.err(mode).await, 409);
    let mut qty = begin(a, "itemPieceSold");
    qty["params"]["itemQuantity"] = json!(0.5);
    qty["params"]["itemUnits"] = json!("kilogram");
    assert_eq!(env.err(qty).await, 413);
    let mut unit = begin(a, "itemDryForSale");
    unit["params"]["itemUnits"] = json!("bucket");
    assert_eq!(env.err(unit).await, 412);
    let mut frac = begin(a, "itemPieceForSale");
    frac["params"]["itemFractionalAmount"] = json!("10/10");
    assert_eq!(env.err(frac).await, 409);

    // A running check (an answer that takes 5 s): 401 over it, 423 to accept it; cancelling it makes
    // the next poll say 403, the one after 415.
    env.patch_options(json!({"oism":{"latency_ms":5000,"timeout_ms":10000}})).await;
    env.begin(a, "itemPieceSold").await.unwrap();
    assert_eq!(env.begin(b, "itemPieceSold").await.unwrap_err().0, 401, "still waiting for the answer");
    assert_eq!(env.err(json!({"type":"acceptMarkingCode"})).await, 423, "accept while running");
    let ready = env.ok(json!({"type":"checkMarkingCodeValidationsReady"})).await;
    assert_eq!(ready, json!({"validationReady":false}));
    env.ok(json!({"type":"cancelMarkingCodeValidation"})).await;
    let cancelled = env.ok(json!({"type":"getMarkingCodeValidationStatus"})).await;
    assert_eq!(cancelled["driverError"]["code"], 403);
    assert_eq!(cancelled["driverError"]["error"], "imcCheckBreak");
    assert_eq!(env.err(json!({"type":"getMarkingCodeValidationStatus"})).await, 415);
    env.patch_options(json!({"oism":{"latency_ms":LATENCY_MS,"timeout_ms":TIMEOUT_MS}})).await;

    // A finished check neither accepted nor declined (the ОФД is down, so it finishes at once): 410.
    env.patch_options(json!({"ofd":{"reachable":false}})).await;
    env.begin(a, "itemPieceSold").await.unwrap();
    env.poll_ready().await;
    assert_eq!(env.begin(b, "itemPieceSold").await.unwrap_err().0, 410, "neither accepted nor declined");
    env.ok(json!({"type":"acceptMarkingCode"})).await;
    env.patch_options(json!({"ofd":{"reachable":true}})).await;

    // Sell with another status than the check's, with an unknown unit, with mode 1.
    let mut wrong_status = sell(a, 15, None);
    wrong_status["items"][0]["imcParams"]["itemEstimatedStatus"] = json!("itemPieceForSale");
    assert_eq!(env.err(wrong_status).await, 404);
    let mut unit = sell(a, 15, None);
    unit["items"][0]["measurementUnit"] = json!("bucket");
    assert_eq!(env.err(unit).await, 412);
    let mut mode = sell(a, 15, None);
    mode["items"][0]["imcParams"]["imcModeProcessing"] = json!(1);
    assert_eq!(env.err(mode).await, 409);
    let mut service = sell(a, 15, None);
    service["items"][0]["paymentObject"] = json!("service");
    assert_eq!(env.err(service).await, 416, "a service cannot carry a code");
    let mut without = sell(a, 15, None);
    without["items"][0]["paymentObject"] = json!("commodityWithoutMarking");
    assert_eq!(env.err(without).await, 426, "declared without a code");
    let mut bad_1262 = sell(a, 15, Some("UUID=x&Time=1"));
    bad_1262["items"][0]["industryInfo"][0]["fois"] = json!("30");
    assert_eq!(env.err(bad_1262).await, 13);
    let mut long_1265 = sell(a, 15, None);
    long_1265["items"][0]["industryInfo"] =
        json!([{"fois":"030","date":"2023.11.21","number":"1944","industryAttribute":"x".repeat(257)}]);
    assert_eq!(env.err(long_1265).await, 13);
    let mut unpaid = sell(a, 15, None);
    unpaid["payments"] = json!([{"type":"cash","sum":10}]);
    assert_eq!(env.err(unpaid).await, 66);

    // The accepted code still sells after all those refusals.
    env.ok(sell(a, 15, None)).await;
    // Closed shift: 73; a shift older than 24 h: 68.
    env.ok(json!({"type":"closeShift"})).await;
    assert_eq!(env.err(sell(b, 15, None)).await, 73);
    env.open_shift().await;
    assert_eq!(env.err(json!({"type":"openShift"})).await, 83);
    env.stack.clock.advance(Duration::from_secs(24 * 3600 + 1));
    let status = env.ok(json!({"type":"getShiftStatus"})).await;
    assert_eq!(status["shiftStatus"]["state"], "expired");
    assert_eq!(env.err(sell(b, 15, None)).await, 68);
    env.shutdown().await;
}

#[tokio::test]
async fn fiscal_drive_states_refuse_marking_work() {
    let env = start().await;
    env.open_shift().await;
    let codes = env.codes(Layout::Milk, "in-circulation");

    // Registered without the marking flag: 406.
    env.patch_options(json!({"fn":{"marking_flag":false}})).await;
    assert_eq!(env.begin(&codes[0], "itemPieceSold").await.unwrap_err().0, 406);
    env.patch_options(json!({"fn":{"marking_flag":true}})).await;

    // Keys update required: 418 until updateFnmKeys; a failing key service: 419 / 425.
    env.patch_options(json!({"fn":{"keys":"update_required","keys_update":"error"}})).await;
    assert_eq!(env.begin(&codes[0], "itemPieceSold").await.unwrap_err().0, 418);
    assert_eq!(env.err(json!({"type":"updateFnmKeys"})).await, 419);
    env.patch_options(json!({"fn":{"keys_update":"timeout"}})).await;
    assert_eq!(env.err(json!({"type":"updateFnmKeys"})).await, 425);
    env.patch_options(json!({"fn":{"keys_update":"ok"}})).await;
    env.ok(json!({"type":"updateFnmKeys"})).await;
    env.check_and_accept(&codes[0]).await;

    // Table of one code: the second check is refused with 408.
    env.patch_options(json!({"fn":{"km_table_capacity":1}})).await;
    assert_eq!(env.begin(&codes[1], "itemPieceSold").await.unwrap_err().0, 408);
    env.ok(json!({"type":"clearMarkingCodeValidationResult"})).await;
    env.patch_options(json!({"fn":{"km_table_capacity":100}})).await;

    // A forced full notification store: 407; the work state says so.
    env.patch_options(json!({"fn":{"notice_level":4}})).await;
    assert_eq!(env.begin(&codes[0], "itemPieceSold").await.unwrap_err().0, 407);
    let ws = env.ok(json!({"type":"checkImcWorkState"})).await;
    assert_eq!(
        (ws["fm"]["status"].as_str(), ws["fm"]["noticeFreeMemory"].as_str()),
        (Some("blocked"), Some("outOfMemory"))
    );
    env.patch_options(json!({"fn":{"notice_level":null}})).await;

    // A store of one notification filled by an unreachable ОФД: 417, the close report counts it.
    env.patch_options(json!({"fn":{"notice_capacity":1},"ofd":{"reachable":false}})).await;
    env.check_and_accept(&codes[0]).await;
    env.ok(sell(&codes[0], 0, None)).await;
    let exchange = env.ok(json!({"type":"ismExchangeStatus"})).await;
    assert_eq!((exchange["queueCount"].as_u64(), exchange["firstNumber"].as_u64()), (Some(1), Some(1)));
    assert_eq!(env.begin(&codes[1], "itemPieceSold").await.unwrap_err().0, 417);
    env.ok(json!({"type":"closeShift"})).await;
    let reports = env.documents("shift_report").await;
    let close = &reports.last().unwrap()["document"];
    assert!(close.is_null(), "listings carry no model");
    let close = &reports.last().unwrap()["fns_json"];
    assert_eq!(close["code"], 5);
    let (_, one) = env.control_get(&format!("/kkt/documents/{}", reports.last().unwrap()["seq"])).await;
    assert_eq!(one["document"]["unsent_notifications"], 1, "2104 on the close report");
    // The ОФД comes back: the next task sends the notification, the store empties.
    env.patch_options(json!({"ofd":{"reachable":true}})).await;
    let exchange = env.ok(json!({"type":"ofdExchangeStatus"})).await;
    assert_eq!(exchange["queueCount"], 0);
    assert_eq!(env.documents("ticket").await.len(), 1);

    // Bad option values are refused by PATCH.
    let r =
        env.http.patch(format!("{}/kkt/options", env.control.url)).json(&json!({"fn":{"notice_level":9}}));
    assert_eq!(r.send().await.unwrap().status(), 400);
    let r = env.http.patch(format!("{}/kkt/options", env.control.url)).json(&json!({"fn":{"typo":1}}));
    assert_eq!(r.send().await.unwrap().status(), 400);
    env.shutdown().await;
}

#[tokio::test]
async fn ofd_and_oism_situations() {
    let env = start().await;
    let codes = env.codes(Layout::Milk, "in-circulation");
    let code = &codes[0];

    // ОФД unreachable: ready at once, 402, 2106 from the local check only.
    env.patch_options(json!({"ofd":{"reachable":false}})).await;
    env.begin(code, "itemPieceSold").await.unwrap();
    let v = env.ok(json!({"type":"getMarkingCodeValidationStatus"})).await;
    assert_eq!(
        v,
        json!({"ready":true,"sentImcRequest":false,
            "driverError":{"code":402,"error":"serverNoConnect","description":"no connection to the server"},
            "onlineValidation":{"itemInfoCheckResult":{"imcCheckFlag":false,"imcCheckResult":false,
                "imcStatusInfo":false,"imcEstimatedStatusCorrect":false,"ecrStandAloneFlag":false},
                "imcType":"imcVerifyCode4","imcModeProcessing":0}})
    );
    env.ok(json!({"type":"declineMarkingCode"})).await;
    env.patch_options(json!({"ofd":{"reachable":true}})).await;

    // ОИСМ silent: not ready until the timeout, then 421.
    env.patch_options(json!({"oism":{"answer":false,"timeout_ms":400}})).await;
    let started = Instant::now();
    env.begin(code, "itemPieceSold").await.unwrap();
    let v = env.ok(json!({"type":"getMarkingCodeValidationStatus"})).await;
    assert_eq!(v["ready"], false);
    let v = env.poll_ready().await;
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!((v["driverError"]["code"].as_u64(), v["sentImcRequest"].as_bool()), (Some(421), Some(true)));
    assert_eq!(v["driverError"]["error"], "responseTimeout");
    env.ok(json!({"type":"declineMarkingCode"})).await;
    env.patch_options(json!({"oism":{"answer":true,"timeout_ms":TIMEOUT_MS}})).await;

    // The same situations from the fault table (host "oism").
    let cases: [(FaultKind, u64); 6] = [
        (FaultKind::HostDown, 402),
        (FaultKind::Blackhole, 421),
        (FaultKind::server_error(503), 411),
        (FaultKind::server_error(414), 414),
        (FaultKind::server_error(424), 424),
        (FaultKind::Latency(Latency::fixed(TIMEOUT_MS + 50)), 421),
    ];
    for (kind, want) in cases {
        let id = env.stack.faults.add(FaultRule::new(kind).on_host("oism")).unwrap();
        env.begin(code, "itemPieceSold").await.unwrap();
        let v = env.poll_ready().await;
        assert_eq!(v["driverError"]["code"], want, "{v}");
        env.ok(json!({"type":"declineMarkingCode"})).await;
        env.stack.faults.remove(id);
    }
    let id =
        env.stack.faults.add(FaultRule::new(FaultKind::Latency(Latency::fixed(40))).on_host("oism")).unwrap();
    env.begin(code, "itemPieceSold").await.unwrap();
    let v = env.poll_ready().await;
    assert!(v.get("driverError").is_none(), "a small latency only delays the answer: {v}");
    env.ok(json!({"type":"declineMarkingCode"})).await;
    env.stack.faults.remove(id);
    let ping = env.ok(json!({"type":"pingIsm"})).await;
    assert_eq!((ping["ismConnected"].as_bool(), ping["timeMs"].as_u64()), (Some(true), Some(LATENCY_MS)));

    // Autonomous: no request, 2106 = 16 / 17 / 19.
    env.patch_options(json!({"fn":{"autonomous":true}})).await;
    let authentic = env.codes(Layout::S13T44, "in-circulation").remove(0);
    let forged = env.codes(Layout::S13T44, "crypto-invalid").remove(0);
    for (c, want) in [(code.as_str(), 16), (forged.as_str(), 17), (authentic.as_str(), 19)] {
        env.begin(c, "itemPieceSold").await.unwrap();
        let v = env.ok(json!({"type":"getMarkingCodeValidationStatus"})).await;
        assert_eq!((v["ready"].as_bool(), v["sentImcRequest"].as_bool()), (Some(true), Some(false)), "{v}");
        assert!(v.get("driverError").is_none());
        let flags = env.ok(json!({"type":"acceptMarkingCode"})).await["itemInfoCheckResult"].clone();
        let value = [
            "imcCheckFlag",
            "imcCheckResult",
            "imcStatusInfo",
            "imcEstimatedStatusCorrect",
            "ecrStandAloneFlag",
        ]
        .iter()
        .enumerate()
        .map(|(bit, k)| u8::from(flags[k] == true) << bit)
        .sum::<u8>();
        assert_eq!(value, want, "{c}");
    }
    let ws = env.ok(json!({"type":"checkImcWorkState"})).await;
    assert_eq!(ws["ecr"]["type"], "modeStandAlone");
    assert_eq!(env.ok(json!({"type":"pingIsm"})).await["ismConnected"], false);
    // Autonomous notifications stay until unloaded through the control API.
    env.open_shift().await;
    let three = json!({"type":"sell","items":[
        sell(code, 16, None)["items"][0].clone(),
        {"name":"x","price":1,"quantity":1,"amount":1,"paymentObject":"commodityWithMarking",
         "imcParams":{"imc":b64(&forged),"itemEstimatedStatus":"itemPieceSold"}},
        {"name":"y","price":1,"quantity":1,"amount":1,"paymentObject":"commodityWithMarking",
         "imcParams":{"imc":b64(&authentic),"itemEstimatedStatus":"itemPieceSold"}}],
        "payments":[{"type":"cash","sum":96.90}]});
    env.ok(three).await;
    let (_, state) = env.control_get("/kkt/state").await;
    assert_eq!(state["unsent_notifications"].as_array().map(Vec::len), Some(1));
    let r = env.http.post(format!("{}/kkt/notifications/unload", env.control.url)).send().await.unwrap();
    let unloaded: Value = r.json().await.unwrap();
    assert_eq!(unloaded["unloaded"], 1);
    assert_eq!(unloaded["notifications"][0]["items"].as_array().map(Vec::len), Some(3));
    let (_, state) = env.control_get("/kkt/state").await;
    assert_eq!(state["unsent_notifications"], json!([]));
    env.shutdown().await;
}

#[tokio::test]
async fn grading_findings_reach_the_control_api() {
    let env = start().await;
    env.open_shift().await;
    let codes = env.codes(Layout::Milk, "in-circulation");

    // A 1265 naming a reqId never issued: G-R4.
    let (_, ts) = env.true_api_check(&codes[0]).await;
    env.check_and_accept(&codes[0]).await;
    let invented = requisite("5b0f3c5e-0000-4000-8000-000000000000", ts);
    env.ok(sell(&codes[0], 15, Some(&invented))).await;

    // 2106 invented by the POS (15, the check said 0): G-R3.
    env.patch_options(json!({"ofd":{"reachable":false}})).await;
    let (req_id, ts) = env.true_api_check(&codes[1]).await;
    let flags = env.check_and_accept(&codes[1]).await;
    assert_eq!(flags["imcCheckFlag"], false);
    env.ok(sell(&codes[1], 15, Some(&requisite(&req_id, ts)))).await;

    let (s, findings) = env.control_get("/kkt/findings").await;
    assert_eq!(s, 200);
    let ids: Vec<(&str, u64)> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_str().unwrap(), f["seq"].as_u64().unwrap()))
        .collect();
    let receipts = env.documents("receipt").await;
    let (first, second) = (receipts[0]["seq"].as_u64().unwrap(), receipts[1]["seq"].as_u64().unwrap());
    assert!(ids.contains(&("G-R4", first)), "{findings}");
    assert!(ids.contains(&("G-R3", second)), "{findings}");
    assert!(!ids.iter().any(|&(id, seq)| id == "G-R4" && seq == second), "a correct 1265: {findings}");

    // The ЛМ ЧЗ's answer with Inst/Ver is accepted as such.
    env.patch_options(json!({"ofd":{"reachable":true}})).await;
    let lm = &env.stack.endpoints.local_module;
    let r = env
        .http
        .post(format!("{}/api/v2/cis/outCheck", lm.url))
        .basic_auth(&lm.login, Some(&lm.password))
        .json(&json!({"cis_list":[{"cis":codes[2]}]}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    let item = &v["results"][0];
    let offline = format!(
        "UUID={}&Time={}&Inst={}&Ver={}",
        item["reqId"].as_str().unwrap(),
        item["reqTimestamp"],
        item["inst"].as_str().unwrap(),
        item["version"].as_str().unwrap()
    );
    env.check_and_accept(&codes[2]).await;
    env.ok(sell(&codes[2], 15, Some(&offline))).await;
    let receipts = env.documents("receipt").await;
    assert_eq!(receipts[2]["findings"], json!([]), "offline 1265 is exact");

    // Implicit validation: the KKT checks the code itself, warns, and the grader says G-C1.
    let r = sell(&codes[3 % codes.len()], 15, None);
    let mut implicit = r.clone();
    implicit["validateMarkingCodes"] = json!(true);
    let sold = env.ok(implicit).await;
    assert!(sold["warnings"]["marking"][0].as_str().unwrap().contains("checked and accepted it itself"));
    let receipts = env.documents("receipt").await;
    let ids: Vec<&str> =
        receipts[3]["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"G-C1"), "{ids:?}");
    env.patch_options(json!({"kkt":{"implicit_validation":"error"}})).await;
    let mut refused = sell(&codes[0], 15, None);
    refused["validateMarkingCodes"] = json!(true);
    assert_eq!(env.err(refused).await, 420);
    env.shutdown().await;
}

#[tokio::test]
async fn batch_validation_and_fn_authentication() {
    let env = start().await;
    let milk = env.codes(Layout::Milk, "in-circulation");
    let sold = env.codes(Layout::Milk, "sold").remove(0);
    let marks = json!([
        {"imc":b64(&milk[0]),"itemEstimatedStatus":"itemPieceSold"},
        {"imc":b64(&sold),"itemEstimatedStatus":"itemPieceSold"}]);
    let v = env.ok(json!({"type":"validateMarks","params":{"marks":marks}})).await;
    assert_eq!(v["marks"][0]["accepted"], true);
    assert_eq!(v["marks"][1]["accepted"], false, "2109 = 2: declined");
    let (_, state) = env.control_get("/kkt/state").await;
    assert_eq!(state["table"].as_array().map(Vec::len), Some(1));
    env.ok(
        json!({"type":"addMarksToBuffer","params":{"marks":[{"imc":b64(&milk[0]),"itemEstimatedStatus":1}]}}),
    )
    .await;
    let add =
        json!({"type":"addMarksToBuffer","params":{"marks":[{"imc":b64(&sold),"itemEstimatedStatus":1}]}});
    assert_eq!(env.err(add).await, 420);

    // markcertFnAuthenticate answers a True API challenge the token endpoint accepts.
    let discovery = &env.stack.endpoints.true_api.discovery;
    let c: Value = env
        .http
        .post(format!("{discovery}/api/v4/true-api/auth/fn/challenge"))
        .json(&json!({"fnSerial": STORE_FN_SERIAL}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let a = env.ok(json!({"type":"markcertFnAuthenticate","params":{"challenge":c["challenge"]}})).await;
    assert_eq!((a["fnSerial"].as_str(), a["alg"].as_str()), (Some(STORE_FN_SERIAL), Some("HMAC-SHA256")));
    let body =
        json!({"challengeId":c["challengeId"],"fnSerial":STORE_FN_SERIAL,"mac":a["mac"],"alg":a["alg"]});
    let r =
        env.http.post(format!("{discovery}/api/v4/true-api/auth/fn/token")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(env.err(json!({"type":"markcertFnAuthenticate","params":{"challenge":"@@"}})).await, 13);

    // The information tasks answer.
    for ty in
        ["getDeviceStatus", "getDeviceInfo", "getFnInfo", "reportX", "getShiftStatus", "checkImcWorkState"]
    {
        env.ok(json!({ "type": ty })).await;
    }
    let info = env.ok(json!({"type":"getFnInfo"})).await;
    assert_eq!(info["fnInfo"]["serial"], STORE_FN_SERIAL);
    // Control routes without such a document or with a bad query.
    assert_eq!(env.control_get("/kkt/documents/999").await.0, 404);
    assert_eq!(env.control_get("/kkt/documents?kind=bill").await.0, 400);
    assert_eq!(env.control_get("/kkt/documents?since=x").await.0, 400);
    let r = env.http.delete(format!("{}/kkt/documents", env.control.url)).send().await.unwrap();
    let cleared: Value = r.json().await.unwrap();
    assert!(cleared["cleared"].as_u64().unwrap() > 0);
    assert_eq!(env.kkt.documents(&Default::default()).len(), 0);
    env.shutdown().await;
}
