//! The ТС ПИоТ end to end, over the whole emulated stack (True API hosts, ЛМ ЧЗ, ФН authentication)
//! with the fault layer and a frozen world clock: every branch of the orchestration of `tspiot.md` §5
//! and `true-api.md` §13, asserted from the POS answer and from the trace of upstream calls.

use base64::Engine;
use markcert_emulators::clock::WorldClock;
use markcert_emulators::faults::{FaultKind, FaultRule, Latency, Trigger};
use markcert_emulators::lm::status::LmStatus;
use markcert_emulators::stack::{Stack, StackOptions, TsPiotStackOptions};
use markcert_emulators::trace::{Trace, TraceEvent, TraceFilter};
use markcert_emulators::tspiot::options::{AuthMode, ClientInfoMode, TsPiotOptions};
use markcert_emulators::world::default::{default_world, POS_SOFTWARE_ID, POS_SOFTWARE_TOKEN};
use serde_json::{json, Value};
use std::time::Duration;

/// 2026-11-01 00:00 UTC: after the default X-API-KEY cut-off.
const AFTER_CUTOFF: i64 = 1_793_491_200_000;
const CHECK: &str = "/api/v4/true-api/codes/check";

struct Env {
    stack: Stack,
    http: reqwest::Client,
}

async fn start_with(now: i64, tspiot: TsPiotOptions) -> Env {
    let opts = StackOptions {
        tspiot: Some(TsPiotStackOptions { options: tspiot, ..Default::default() }),
        ..StackOptions::default()
    };
    let stack = Stack::start(
        default_world(now).unwrap(),
        WorldClock::frozen_at(now),
        Trace::in_memory(100_000),
        opts,
    )
    .await
    .unwrap();
    Env { stack, http: reqwest::Client::new() }
}

async fn start() -> Env {
    start_with(AFTER_CUTOFF, TsPiotOptions::default()).await
}

fn b64(code: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(code.as_bytes())
}

impl Env {
    fn code(&self, case: &str) -> String {
        let w = self.stack.world.read().unwrap();
        w.codes().into_iter().find(|c| c.case.as_deref() == Some(case)).unwrap().code.clone()
    }

    fn url(&self) -> &str {
        &self.stack.endpoints.tspiot.as_ref().unwrap().url
    }

    async fn post(&self, version: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/api/{version}/codes/check", self.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn check(&self, code: &str) -> (u16, Value) {
        self.post("v2", json!({ "codes": [b64(code)], "client_info": client_info() })).await
    }

    fn events(&self) -> Vec<TraceEvent> {
        self.stack.trace.events(&TraceFilter::default())
    }

    /// Upstream `codes/check` calls per CDN component since trace position `from`.
    fn checks_since(&self, from: usize) -> Vec<String> {
        self.events()[from..].iter().filter(|e| e.path == CHECK).map(|e| e.component.to_string()).collect()
    }

    /// Component name (`cdn-N`) of the host the ТС ПИоТ tries first.
    fn first_host(&self) -> String {
        let t = self.stack.tspiot.as_ref().unwrap();
        let url = t.cdn().hosts()[0].url.clone();
        let i = self.stack.endpoints.true_api.hosts.iter().position(|h| *h == url).unwrap();
        format!("cdn-{}", i + 1)
    }

    fn advance(&self, d: Duration) {
        self.stack.clock.advance(d);
    }
}

fn client_info() -> Value {
    json!({ "name": "test-pos", "version": "1.0", "id": POS_SOFTWARE_ID, "token": POS_SOFTWARE_TOKEN })
}

fn item(v: &Value) -> &Value {
    &v["codesResponse"][0]
}

#[tokio::test]
async fn online_answers_in_the_shape_of_each_version_and_pass_through_upstream() {
    let env = start().await;
    let code = env.code("in-circulation");
    let (s, v2) = env.check(&code).await;
    assert_eq!(s, 200, "{v2}");
    let it = item(&v2);
    assert_eq!(it["isCheckedOffline"], false);
    assert_eq!(it["codes"][0]["cis"], code.as_str(), "the decoded code with ⟨GS⟩");
    assert_eq!(it["codes"][0]["found"], true);
    let req_id = it["reqId"].as_str().unwrap();
    let issued = env.stack.reqlog.get(req_id).expect("a reqId the True API really issued");
    assert_eq!(issued.codes, vec![code.clone()]);
    assert_eq!(it["reqTimestamp"], issued.req_timestamp);
    let (s, v1) = env.post("v1", json!({ "codes": [b64(&code)], "client_info": client_info() })).await;
    assert_eq!(s, 200);
    assert_eq!(v1["codesResponse"]["codesResponse"][0]["isCheckedOffline"], false, "v1 double wrapper");
    let (s, v3) = env
        .post("v3", json!({ "codes": [{ "cis": b64(&code), "pg": 1 }], "client_info": client_info() }))
        .await;
    assert_eq!(s, 200);
    assert_eq!(item(&v3)["codes"][0]["cis"], code.as_str());
    // The ФН token was obtained before the first check (the X-API-KEY cut-off has passed).
    let paths: Vec<String> = env.events().iter().map(|e| e.path.to_string()).collect();
    let token_at = paths.iter().position(|p| p.ends_with("/auth/fn/token")).expect("token obtained");
    assert!(token_at < paths.iter().position(|p| p == CHECK).unwrap());
    env.stack.shutdown().await;
}

#[tokio::test]
async fn bad_input_and_client_info() {
    let env = start().await;
    let (s, v) = env.post("v2", json!({ "codes": ["%%%"], "client_info": client_info() })).await;
    assert_eq!((s, v["code"].clone()), (400, json!(400)));
    let (s, _) = env.post("v2", json!({ "codes": [b64("x")], "client_info": { "version": "1" } })).await;
    assert_eq!(s, 400, "no name");
    env.stack.shutdown().await;

    let strict = TsPiotOptions { client_info: ClientInfoMode::Strict, ..Default::default() };
    let env = start_with(AFTER_CUTOFF, strict).await;
    let code = env.code("in-circulation");
    let wrong = json!({ "name": "p", "version": "1", "id": POS_SOFTWARE_ID, "token": "nope" });
    let (s, v) = env.post("v2", json!({ "codes": [b64(&code)], "client_info": wrong })).await;
    assert_eq!((s, v["details"][0]["kind"].clone()), (401, json!("NotFoundPmsrToken")));
    assert_eq!(env.check(&code).await.0, 200, "the registered program passes");
    env.stack.shutdown().await;
}

#[tokio::test]
async fn a_failing_host_is_skipped_and_blocked_for_15_minutes() {
    let env = start().await;
    let code = env.code("in-circulation");
    let first = env.first_host();
    env.stack
        .faults
        .add(FaultRule::new(FaultKind::Reset).on_host(first.clone()).when(Trigger::nth(1)))
        .unwrap();
    let mark = env.events().len();
    let (s, v) = env.check(&code).await;
    assert_eq!((s, item(&v)["isCheckedOffline"].clone()), (200, json!(false)), "answered by the next host");
    let tried = env.checks_since(mark);
    assert_eq!(tried.first(), Some(&first), "the first host was tried first: {tried:?}");
    assert!(tried.len() >= 2 && tried[1] != first);
    // Within 15 min of world time, no check reaches the blocked host.
    let mark = env.events().len();
    for _ in 0..3 {
        env.advance(Duration::from_secs(290));
        assert_eq!(env.check(&code).await.0, 200);
    }
    assert!(!env.checks_since(mark).contains(&first), "blocked for 15 min");
    // After 15 min it is eligible again (and, being the fastest, used first).
    env.advance(Duration::from_secs(31));
    let mark = env.events().len();
    assert_eq!(env.check(&code).await.0, 200);
    assert_eq!(env.checks_since(mark), vec![first], "the block is lifted");
    env.stack.shutdown().await;
}

#[tokio::test]
async fn every_host_down_falls_back_to_the_local_module() {
    let env = start().await;
    let code = env.code("in-circulation");
    env.stack.faults.add(FaultRule::new(FaultKind::HostDown).on_host("cdn-*")).unwrap();
    let (s, v) = env.check(&code).await;
    assert_eq!(s, 200, "{v}");
    let it = item(&v);
    assert_eq!(it["isCheckedOffline"], true);
    assert_eq!(it["codes"][0]["cis"], code.as_str());
    for flag in ["found", "valid", "verified", "utilised", "realizable"] {
        assert_eq!(it["codes"][0][flag], false, "{flag} is false offline");
    }
    let (inst, version) = {
        let lm = env.stack.lm.lock().unwrap();
        (lm.inst().to_string(), lm.current_version().unwrap().to_string())
    };
    assert_eq!((it["inst"].as_str(), it["version"].as_str()), (Some(inst.as_str()), Some(version.as_str())));
    let lm_call = env.events().into_iter().rev().find(|e| e.component == "local-module").unwrap();
    assert_eq!(it["reqId"].as_str(), lm_call.req_id.as_deref(), "the ЛМ ЧЗ reqId, not an invented one");
    // A code blocked in the ЛМ lists is answered blocked.
    let (_, v) = env.check(&env.code("blocked")).await;
    assert_eq!(item(&v)["codes"][0]["isBlocked"], true);
    env.stack.shutdown().await;
}

#[tokio::test]
async fn neither_source_gives_514() {
    let env = start().await;
    let code = env.code("in-circulation");
    env.stack.faults.add(FaultRule::new(FaultKind::HostDown).on_host("cdn-*")).unwrap();
    env.stack.lm.lock().unwrap().force_status(Some(LmStatus::SyncError));
    let (s, v) = env.check(&code).await;
    assert_eq!((s, v["code"].clone()), (514, json!(514)));
    env.stack.lm.lock().unwrap().force_status(Some(LmStatus::Initialization));
    assert_eq!(env.check(&code).await.0, 514, "4045 too");
    env.stack.lm.lock().unwrap().force_status(None);
    env.stack.faults.add(FaultRule::new(FaultKind::HostDown).on_host("local-module")).unwrap();
    assert_eq!(env.check(&code).await.0, 514, "ЛМ ЧЗ unreachable");
    let ev = env.events().into_iter().rev().find(|e| e.component == "tspiot").unwrap();
    assert_eq!(ev.status, 514);
    assert!(ev.note.as_deref().is_some_and(|n| n.contains("ЛМ ЧЗ")), "{ev:?}");
    env.stack.shutdown().await;
}

#[tokio::test]
async fn a_slow_true_api_beyond_the_budget_gives_the_offline_answer() {
    let env = start().await;
    let code = env.code("in-circulation");
    env.stack
        .faults
        .add(
            FaultRule::new(FaultKind::Latency(Latency::Fixed { fixed_ms: 3000 }))
                .on_host("cdn-*")
                .on_endpoint(CHECK),
        )
        .unwrap();
    let started = std::time::Instant::now();
    let (s, v) = env.check(&code).await;
    assert_eq!((s, item(&v)["isCheckedOffline"].clone()), (200, json!(true)), "{v}");
    // Generous bound: proves the budget cut the slow call short (3 s per host otherwise).
    assert!(started.elapsed() < Duration::from_millis(2900), "{:?}", started.elapsed());
    env.stack.shutdown().await;
}

#[tokio::test]
async fn emergency_mode_203_holds_then_a_probe_ends_it() {
    let env = start().await;
    let code = env.code("in-circulation");
    let rule = env.stack.faults.add(FaultRule::new(FaultKind::emergency_203()).on_host("cdn-*")).unwrap();
    let (s, v) = env.check(&code).await;
    assert_eq!((s, v["code"].clone()), (203, json!(203)));
    // While it holds, 203 at once, without asking upstream.
    let mark = env.events().len();
    assert_eq!(env.check(&code).await.0, 203);
    assert!(env.checks_since(mark).is_empty(), "no upstream call in emergency mode");
    env.stack.faults.remove(rule);
    env.advance(Duration::from_secs(61));
    let (s, v) = env.check(&code).await;
    assert_eq!((s, item(&v)["isCheckedOffline"].clone()), (200, json!(false)), "a probe after 60 s ends it");
    assert_eq!(env.check(&code).await.0, 200);
    // A scripted emergency.
    env.stack.tspiot.as_ref().unwrap().set_emergency(true);
    assert_eq!(env.check(&code).await.0, 203);
    env.stack.tspiot.as_ref().unwrap().set_emergency(false);
    assert_eq!(env.check(&code).await.0, 200);
    env.stack.shutdown().await;
}

/// Waits (real time, bounded) for a trace event matching `pred` after position `mark`.
async fn wait_for(env: &Env, mark: usize, pred: impl Fn(&TraceEvent) -> bool) -> bool {
    for _ in 0..100 {
        if env.events()[mark..].iter().any(&pred) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn the_host_list_is_refreshed_between_6_and_7_hours() {
    let env = start().await;
    let code = env.code("in-circulation");
    let is_info = |e: &TraceEvent| e.path.ends_with("/cdn/info");
    env.advance(Duration::from_secs(6 * 3600 - 60));
    let mark = env.events().len();
    assert_eq!(env.check(&code).await.0, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!env.events()[mark..].iter().any(is_info), "not before 6 h");
    env.advance(Duration::from_secs(3600 + 61));
    let mark = env.events().len();
    assert_eq!(env.check(&code).await.0, 200);
    assert!(wait_for(&env, mark, is_info).await, "refreshed by 7 h");
    env.stack.shutdown().await;
}

#[tokio::test]
async fn the_token_is_renewed_before_expiry_and_reobtained_after_a_401() {
    let env = start().await;
    let code = env.code("in-circulation");
    let is_token = |e: &TraceEvent| e.path.ends_with("/auth/fn/token") && e.status == 200;
    let first = env.stack.tspiot.as_ref().unwrap().auth().held().unwrap();
    // 9 h 55 min later: less than 10 min left, renewed in the background.
    env.advance(Duration::from_secs(9 * 3600 + 55 * 60));
    let mark = env.events().len();
    assert_eq!(env.check(&code).await.0, 200);
    assert!(wait_for(&env, mark, is_token).await, "renewed");
    let auth = env.stack.tspiot.as_ref().unwrap().auth().clone();
    let mut renewed = auth.held().unwrap();
    for _ in 0..100 {
        if renewed.token != first.token {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        renewed = auth.held().unwrap();
    }
    assert_ne!(renewed.token, first.token, "the new token is held");
    // The operator revokes every token: the next check meets a 401, re-authenticates once, retries.
    env.stack.fn_auth.revoke_all();
    let mark = env.events().len();
    let (s, v) = env.check(&code).await;
    assert_eq!((s, item(&v)["isCheckedOffline"].clone()), (200, json!(false)), "{v}");
    let after: Vec<TraceEvent> = env.events()[mark..].to_vec();
    let statuses: Vec<(String, u16)> = env.events()[mark..]
        .iter()
        .filter(|e| e.path == CHECK || e.path.contains("/auth/fn/"))
        .map(|e| (e.path.rsplit('/').next().unwrap().to_string(), e.status))
        .collect();
    assert_eq!(
        statuses,
        vec![("check".into(), 401), ("challenge".into(), 200), ("token".into(), 200), ("check".into(), 200)],
        "one 401, one re-authentication, one retry: {after:?}"
    );
    env.stack.shutdown().await;
}

#[tokio::test]
async fn x_api_key_works_before_the_cut_off_and_not_after() {
    let key_only = TsPiotOptions { auth: AuthMode::XApiKey, ..Default::default() };
    let before = 1_767_225_600_000; // 2026-01-01
    let env = start_with(before, key_only.clone()).await;
    let code = env.code("in-circulation");
    let (s, v) = env.check(&code).await;
    assert_eq!((s, item(&v)["isCheckedOffline"].clone()), (200, json!(false)));
    env.stack.shutdown().await;

    let env = start_with(AFTER_CUTOFF, key_only).await;
    let mark = env.events().len();
    let (s, v) = env.check(&code).await;
    assert_eq!((s, item(&v)["isCheckedOffline"].clone()), (200, json!(true)), "401 online → ЛМ ЧЗ");
    // The key is refused at discovery already, so no host list, no online check.
    let calls: Vec<(String, u16)> = env.events()[mark..]
        .iter()
        .filter(|e| e.component != "tspiot" && e.component != "local-module")
        .map(|e| (e.path.rsplit('/').next().unwrap().to_string(), e.status))
        .collect();
    assert_eq!(calls, vec![("info".to_string(), 401)], "only the refused discovery call");
    env.stack.shutdown().await;
}

/// The control API drives the ТС ПИоТ: a scripted emergency, a broken ФН, revoked tokens.
#[tokio::test]
async fn the_control_api_drives_the_tspiot() {
    let env = start().await;
    let code = env.code("in-circulation");
    let c = env.stack.endpoints.control.clone();
    let st: Value = env.http.get(format!("{c}/tspiot")).send().await.unwrap().json().await.unwrap();
    assert_eq!(st["emergency"], false);
    assert_eq!(st["hosts"].as_array().unwrap().len(), 3);
    assert!(st["token"]["token"].is_string());
    let on =
        env.http.post(format!("{c}/tspiot/emergency")).json(&json!({ "on": true })).send().await.unwrap();
    assert_eq!(on.status(), 200);
    assert_eq!(env.check(&code).await.0, 203);
    env.http.post(format!("{c}/tspiot/emergency")).json(&json!({ "on": false })).send().await.unwrap();
    assert_eq!(env.check(&code).await.0, 200);
    // The ФН answers wrongly and every token is revoked: 401, re-authentication fails, ЛМ ЧЗ answers.
    let tokens: Value =
        env.http.get(format!("{c}/fn-auth/tokens")).send().await.unwrap().json().await.unwrap();
    assert_eq!(tokens.as_array().unwrap().len(), 1);
    env.http.post(format!("{c}/tspiot/fn-auth")).json(&json!({ "broken": true })).send().await.unwrap();
    let revoked: Value =
        env.http.delete(format!("{c}/fn-auth/tokens")).send().await.unwrap().json().await.unwrap();
    assert_eq!(revoked["revoked"], 1);
    let mark = env.events().len();
    let (s, v) = env.check(&code).await;
    assert_eq!((s, item(&v)["isCheckedOffline"].clone()), (200, json!(true)), "{v}");
    let token_calls: Vec<u16> = env.events()[mark..]
        .iter()
        .filter(|e| e.path.ends_with("/auth/fn/token"))
        .map(|e| e.status)
        .collect();
    assert_eq!(token_calls, vec![401], "one re-authentication, refused: mac invalid");
    env.stack.shutdown().await;
}

#[tokio::test]
async fn faults_aimed_at_the_tspiot_itself_answer_instead_of_it_once() {
    use markcert_emulators::faults::Status;
    let env = start().await;
    let code = env.code("in-circulation");
    let rule = FaultRule::new(FaultKind::Status(Status { status: 500, body: None, content_type: None }))
        .on_host("tspiot")
        .when(Trigger::nth(1));
    env.stack.faults.add(rule).unwrap();
    let before = env.events().len();
    let (status, _) = env.check(&code).await;
    assert_eq!(status, 500, "the fault answers instead of the ТС ПИоТ");
    assert!(env.checks_since(before).is_empty(), "no upstream call behind an imposed answer");
    let traced: Vec<_> =
        env.events()[before..].iter().filter(|e| e.component.as_str() == "tspiot").cloned().collect();
    assert_eq!(traced.len(), 1);
    assert_eq!(traced[0].status, 500);
    assert!(traced[0].fault.is_some(), "the trace names the fault");
    let (status, body) = env.check(&code).await;
    assert_eq!(status, 200, "second call answered normally: {body}");
}
