//! The True API hosts over real HTTP on loopback: discovery, health, `codes/check`, authentication and
//! the X-API-KEY cut-off, request errors, legacy and wrong-host paths, the trace and the reqId log
//! (spec `true-api.md` §3, §8, §9, §13).

use markcert_emulators::cdn::{self, AuthOptions, TrueApiContext, TrueApiServers};
use markcert_emulators::clock::WorldClock;
use markcert_emulators::faults::{FaultKind, FaultRule, FaultTable, Latency, Trigger};
use markcert_emulators::reqlog::ReqLog;
use markcert_emulators::trace::{Trace, TraceFilter};
use markcert_emulators::trueapi::TrueApiOptions;
use markcert_emulators::world::default::{default_world, STORE_API_KEY};
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, RwLock};

const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z, before the default X-API-KEY cut-off

struct Env {
    servers: TrueApiServers,
    ctx: TrueApiContext,
    http: reqwest::Client,
}

async fn start(cdn_hosts: usize) -> Env {
    let clock = WorldClock::frozen_at(NOW);
    let ctx = TrueApiContext {
        world: Arc::new(RwLock::new(default_world(NOW).unwrap())),
        clock,
        trace: Trace::in_memory(10_000),
        reqlog: ReqLog::new(10_000),
        options: Arc::new(TrueApiOptions::default()),
        auth: Arc::new(AuthOptions::default()),
        faults: FaultTable::new(),
        fn_auth: Default::default(),
    };
    let servers = cdn::spawn(ctx.clone(), IpAddr::V4(Ipv4Addr::LOCALHOST), cdn_hosts).await.unwrap();
    Env { servers, ctx, http: reqwest::Client::new() }
}

fn code_of(ctx: &TrueApiContext, case: &str) -> String {
    let w = ctx.world.read().unwrap();
    w.codes().into_iter().find(|c| c.case.as_deref() == Some(case)).unwrap().code.clone()
}

/// An authenticated GET; status and JSON body.
async fn get(env: &Env, url: String) -> (u16, Value) {
    let r = env.http.get(url).header("X-API-KEY", STORE_API_KEY).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn check(env: &Env, host: usize, body: Value, key: Option<&str>) -> (u16, Value) {
    let url = format!("{}/api/v4/true-api/codes/check", env.servers.endpoints.hosts[host]);
    let mut req = env.http.post(url).json(&body);
    if let Some(k) = key {
        req = req.header("X-API-KEY", k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn discovery_lists_every_cdn_host_each_on_its_own_port() {
    let env = start(3).await;
    let e = &env.servers.endpoints;
    assert_eq!(e.hosts.len(), 3);
    let mut all: Vec<&String> = e.hosts.iter().chain([&e.discovery]).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 4, "distinct ports");
    let (status, v) = get(&env, format!("{}/api/v4/true-api/cdn/info", e.discovery)).await;
    assert_eq!(status, 200);
    let hosts: Vec<&str> =
        v["hosts"].as_array().unwrap().iter().map(|h| h["host"].as_str().unwrap()).collect();
    assert_eq!(hosts, e.hosts.iter().map(String::as_str).collect::<Vec<_>>());
    // Without a credential: 401.
    let r = env.http.get(format!("{}/api/v4/true-api/cdn/info", e.discovery)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // codes/check on the discovery host: 404, like the real one.
    let r = env
        .http
        .post(format!("{}/api/v4/true-api/codes/check", e.discovery))
        .header("X-API-KEY", STORE_API_KEY)
        .json(&json!({"codes": ["x"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    env.servers.shutdown().await;
}

#[tokio::test]
async fn health_check_answers_on_every_cdn_host() {
    let env = start(2).await;
    for h in &env.servers.endpoints.hosts {
        let (status, v) = get(&env, format!("{h}/api/v4/true-api/cdn/health/check")).await;
        assert_eq!(status, 200);
        assert_eq!((v["code"].as_i64(), v["avgTimeMs"].is_number()), (Some(0), true));
    }
    env.servers.shutdown().await;
}

#[tokio::test]
async fn codes_check_answers_from_the_world_and_remembers_the_req_id() {
    let env = start(1).await;
    let sold = code_of(&env.ctx, "sold");
    let ok = code_of(&env.ctx, "in-circulation");
    let (status, v) = check(
        &env,
        0,
        json!({"codes": [sold, ok], "fiscalDriveNumber": "7380440700000123"}),
        Some(STORE_API_KEY),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["code"], 0);
    assert_eq!(v["reqTimestamp"], NOW);
    assert_eq!(v["codes"][0]["cis"], sold.as_str());
    assert_eq!(v["codes"][0]["sold"], true);
    assert_eq!(v["codes"][1]["realizable"], true);
    assert_eq!(v["codes"][1]["isOwner"], true);
    let req_id = v["reqId"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(req_id).is_ok() && req_id == req_id.to_lowercase());
    let issued = env.ctx.reqlog.get(req_id).expect("reqId remembered");
    assert_eq!((issued.req_timestamp, issued.codes.len(), issued.host.as_str()), (NOW, 2, "cdn-1"));
    // The trace has the call with its reqId and codes.
    let events = env.ctx.trace.events(&TraceFilter::default());
    let e = events.iter().find(|e| e.req_id.as_deref() == Some(req_id)).expect("traced");
    assert_eq!((e.component.as_str(), e.status, e.codes.len()), ("cdn-1", 200, 2));
    env.servers.shutdown().await;
}

#[tokio::test]
async fn request_errors_are_400_and_auth_errors_401() {
    let env = start(1).await;
    let ok = code_of(&env.ctx, "in-circulation");
    for (body, why) in [
        (json!({"codes": []}), "empty codes"),
        (json!({"codes": [1]}), "non-string element"),
        (json!({"nothing": true}), "no codes"),
        (json!({"codes": vec![ok.clone(); 101]}), "over the batch limit"),
    ] {
        let (status, v) = check(&env, 0, body, Some(STORE_API_KEY)).await;
        assert_eq!(status, 400, "{why}: {v}");
        assert!(v["error_message"].is_string(), "{why}: {v}");
    }
    let url = format!("{}/api/v4/true-api/codes/check", env.servers.endpoints.hosts[0]);
    let r = env.http.post(&url).header("X-API-KEY", STORE_API_KEY).body("{not json").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let (status, _) = check(&env, 0, json!({"codes": [ok]}), None).await;
    assert_eq!(status, 401, "no credential");
    let (status, _) =
        check(&env, 0, json!({"codes": [ok]}), Some("00000000-0000-0000-0000-000000000000")).await;
    assert_eq!(status, 401, "unknown token");
    let (status, _) = check(&env, 0, json!({"codes": vec![ok; 100]}), Some(STORE_API_KEY)).await;
    assert_eq!(status, 200, "exactly the batch limit");
    env.servers.shutdown().await;
}

#[tokio::test]
async fn sloppy_clients_are_answered_like_the_real_service() {
    let env = start(1).await;
    let ok = code_of(&env.ctx, "in-circulation");
    let url = format!("{}/api/v4/true-api/codes/check", env.servers.endpoints.hosts[0]);
    let body = json!({"codes": [ok]}).to_string();
    // A wrong Content-Type and a GET with a body are both answered (§5.1).
    let r = env
        .http
        .post(&url)
        .header("X-API-KEY", STORE_API_KEY)
        .header("Content-Type", "application\\json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = env.http.get(&url).header("X-API-KEY", STORE_API_KEY).body(body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    env.servers.shutdown().await;
}

#[tokio::test]
async fn x_api_key_is_refused_after_the_cut_off() {
    let env = start(1).await;
    let ok = code_of(&env.ctx, "in-circulation");
    env.ctx.clock.set_ms(AuthOptions::default().xapikey_cutoff_ms);
    let (status, v) = check(&env, 0, json!({"codes": [ok]}), Some(STORE_API_KEY)).await;
    assert_eq!(status, 401);
    assert_eq!(v["error_message"], "X-API-KEY authentication is no longer accepted");
    env.servers.shutdown().await;
}

#[tokio::test]
async fn legacy_path_is_gone_and_permissive_access_issues_a_working_token() {
    use base64::Engine;
    let env = start(1).await;
    let r = env
        .http
        .post(format!("{}/api/v3/true-api/codes/check", env.servers.endpoints.hosts[0]))
        .json(&json!({"codes": ["x"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    let auth = format!("{}/api/v3/true-api/auth/permissive-access", env.servers.endpoints.discovery);
    let der = base64::engine::general_purpose::STANDARD.encode([0x30, 0x82, 0x01, 0x00]);
    let r = env.http.post(&auth).json(&json!({ "data": der })).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["expires_in"], 86_400);
    let token = v["access_token"].as_str().unwrap().to_string();
    let ok = code_of(&env.ctx, "in-circulation");
    let (status, _) = check(&env, 0, json!({"codes": [ok]}), Some(&token)).await;
    assert_eq!(status, 200, "the issued token works");
    let r = env.http.post(&auth).json(&json!({ "data": "bm90IGRlcg==" })).send().await.unwrap();
    assert_eq!(r.status(), 400, "not a DER sequence");
    let v4 = format!("{}/api/v4/true-api/auth/permissive-access", env.servers.endpoints.discovery);
    assert_eq!(env.http.post(&v4).json(&json!({ "data": der })).send().await.unwrap().status(), 401);
    env.servers.shutdown().await;
}

const CHECK: &str = "/api/v4/true-api/codes/check";

#[tokio::test]
async fn faults_answer_instead_of_the_host_and_are_traced() {
    let env = start(2).await;
    let ok = code_of(&env.ctx, "in-circulation");
    // 429 on the 2nd codes/check to cdn-1 only.
    let id = env
        .ctx
        .faults
        .add(
            FaultRule::new(FaultKind::rate_limited_429())
                .named("cdn-1 429")
                .on_host("cdn-1")
                .on_endpoint(CHECK)
                .when(Trigger::nth(2)),
        )
        .unwrap();
    let body = json!({ "codes": [ok.clone()] });
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for host in [0, 0, 0, 1] {
            v.push(check(&env, host, body.clone(), Some(STORE_API_KEY)).await.0);
        }
        v
    };
    assert_eq!(statuses, [200, 429, 200, 200]);
    let events = env.ctx.trace.events(&TraceFilter::default());
    assert_eq!(events.iter().filter(|e| e.fault.as_deref() == Some("cdn-1 429")).count(), 1);
    assert!(env.ctx.faults.remove(id));
    // The emergency preset: 203 with the spec's body, before authentication.
    env.ctx.faults.add(FaultRule::new(FaultKind::emergency_203()).on_host("cdn-2")).unwrap();
    let (status, v) = check(&env, 1, body.clone(), None).await;
    assert_eq!((status, v["code"].as_i64()), (203, Some(203)));
    env.ctx.faults.clear();
    // A fault that matches one code: 5000 for the Belarusian code only.
    let eaeu = code_of(&env.ctx, "eaeu-ok");
    env.ctx
        .faults
        .add(FaultRule::new(FaultKind::cross_border_5000()).when(Trigger::matching_code(&eaeu[..20])))
        .unwrap();
    let (status, v) = check(&env, 0, json!({ "codes": [eaeu] }), Some(STORE_API_KEY)).await;
    assert_eq!((status, v["code"].as_i64(), v["error_message"].as_str()), (503, Some(5000), Some("5000")));
    assert_eq!(check(&env, 0, body, Some(STORE_API_KEY)).await.0, 200);
    env.servers.shutdown().await;
}

#[tokio::test]
async fn latency_and_hang_faults_delay_or_hold_the_answer() {
    let env = start(1).await;
    let ok = code_of(&env.ctx, "in-circulation");
    env.ctx
        .faults
        .add(FaultRule::new(FaultKind::Latency(Latency::Fixed { fixed_ms: 150 })).named("slow"))
        .unwrap();
    assert_eq!(check(&env, 0, json!({ "codes": [ok.clone()] }), Some(STORE_API_KEY)).await.0, 200);
    let ev = env.ctx.trace.events(&TraceFilter::default()).pop().unwrap();
    // A sleep never ends early: the recorded latency is at least the fault's delay.
    assert!(ev.latency_us >= 150_000, "{ev:?}");
    assert_eq!(ev.fault.as_deref(), Some("slow"));
    env.ctx.faults.clear();
    env.ctx.faults.add(FaultRule::new(FaultKind::Blackhole)).unwrap();
    let url = format!("{}{CHECK}", env.servers.endpoints.hosts[0]);
    let held = env
        .http
        .post(url)
        .header("X-API-KEY", STORE_API_KEY)
        .json(&json!({ "codes": [ok] }))
        .timeout(std::time::Duration::from_millis(300))
        .send()
        .await;
    assert!(held.is_err_and(|e| e.is_timeout()), "a blackholed request never answers");
    // Shutdown is not blocked by the held request.
    env.servers.shutdown().await;
}

#[tokio::test]
async fn reset_and_host_down_drop_the_connection() {
    let env = start(2).await;
    let ok = code_of(&env.ctx, "in-circulation");
    let body = json!({ "codes": [ok] });
    let send = |host: usize| {
        env.http
            .post(format!("{}{CHECK}", env.servers.endpoints.hosts[host]))
            .header("X-API-KEY", STORE_API_KEY)
            .json(&body)
            .send()
    };
    // A per-request reset: the connection closes without an answer.
    let id = env.ctx.faults.add(FaultRule::new(FaultKind::Reset).named("reset").on_host("cdn-1")).unwrap();
    let r = send(0).await;
    assert!(r.is_err(), "reset gives no HTTP answer: {r:?}");
    let ev = env.ctx.trace.events(&TraceFilter::default()).pop().unwrap();
    assert_eq!(
        (ev.component.as_str(), ev.status, ev.fault.as_deref()),
        ("cdn-1", 0, Some("reset")),
        "no answer: 0"
    );
    assert_eq!(send(1).await.unwrap().status(), 200, "other hosts unaffected");
    env.ctx.faults.remove(id);
    assert_eq!(send(0).await.unwrap().status(), 200, "a fresh connection works again");
    // The whole host down: connections are refused.
    env.ctx.faults.add(FaultRule::new(FaultKind::HostDown).on_host("cdn-2")).unwrap();
    let fresh = reqwest::Client::new();
    let r = fresh
        .post(format!("{}{CHECK}", env.servers.endpoints.hosts[1]))
        .header("X-API-KEY", STORE_API_KEY)
        .json(&body)
        .send()
        .await;
    assert!(r.is_err(), "host down: {r:?}");
    let refused = env.ctx.trace.events(&TraceFilter::default());
    assert!(refused.iter().any(|e| e.component == "cdn-2" && e.status == 0), "the refusal is traced");
    env.ctx.faults.clear();
    env.servers.shutdown().await;
}

/// A `drip` fault: the status and the full `Content-Length` come at once, the body in small pieces with
/// a pause before each piece after the first; the answer is complete and unchanged.
#[tokio::test]
async fn drip_sends_the_whole_body_slowly() {
    let env = start(1).await;
    let ok = code_of(&env.ctx, "in-circulation");
    let url = format!("{}{CHECK}", env.servers.endpoints.hosts[0]);
    let (chunk, delay_ms) = (64usize, 20u64);
    env.ctx
        .faults
        .add(
            FaultRule::new(FaultKind::Drip(markcert_emulators::faults::Drip {
                bytes_per_chunk: chunk,
                chunk_delay_ms: delay_ms,
            }))
            .named("drip"),
        )
        .unwrap();
    let started = std::time::Instant::now();
    let mut r = env
        .http
        .post(url)
        .header("X-API-KEY", STORE_API_KEY)
        .json(&json!({ "codes": [ok] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let announced = r.content_length().expect("Content-Length announced up front");
    let mut body = Vec::new();
    let mut pieces = 0;
    while let Some(c) = r.chunk().await.unwrap() {
        assert!(c.len() <= chunk, "no piece larger than bytes_per_chunk");
        body.extend_from_slice(&c);
        pieces += 1;
    }
    assert_eq!(body.len() as u64, announced);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["codes"][0]["cis"], ok, "the answer itself is unchanged");
    let expected_pieces = body.len().div_ceil(chunk);
    assert!(pieces >= 2, "{pieces} pieces");
    // Sleeps guarantee a lower bound: one pause before every piece after the first.
    let floor = std::time::Duration::from_millis(delay_ms * (expected_pieces as u64 - 1));
    assert!(started.elapsed() >= floor, "{:?} < {floor:?}", started.elapsed());
    let ev = env.ctx.trace.events(&TraceFilter::default()).pop().unwrap();
    assert_eq!(ev.fault.as_deref(), Some("drip"));
    env.servers.shutdown().await;
}

/// Arbitrary bytes, malformed JSON and wrong shapes get a 4xx (never a 5xx, never a dead host), and a
/// body over the limit gets 413 (axum's default 2 MB limit).
#[tokio::test]
async fn malformed_and_huge_bodies_get_a_4xx_and_the_host_survives() {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;
    let env = start(1).await;
    let url = format!("{}{CHECK}", env.servers.endpoints.hosts[0]);
    let mut runner = TestRunner::deterministic();
    let bodies = proptest::prop_oneof![
        proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..512),
        "\\PC{0,200}".prop_map(String::into_bytes),
        proptest::prop_oneof![
            proptest::strategy::Just(br#"{"codes": "not a list"}"#.to_vec()),
            proptest::strategy::Just(br#"{"codes": [null]}"#.to_vec()),
            proptest::strategy::Just(br#"[1,2,3]"#.to_vec()),
            proptest::strategy::Just(br#"{"codes": [{"cis": 1}]}"#.to_vec()),
        ],
    ];
    for _ in 0..200 {
        let body = bodies.new_tree(&mut runner).unwrap().current();
        for ct in ["application/json", "text/plain", "application\\json"] {
            let r = env
                .http
                .post(&url)
                .header("X-API-KEY", STORE_API_KEY)
                .header("Content-Type", ct)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let valid_request = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
                let codes = v.get("codes")?.as_array()?.clone();
                Some(!codes.is_empty() && codes.len() <= 100 && codes.iter().all(Value::is_string))
            });
            let want = if valid_request == Some(true) { 200 } else { 400 };
            assert_eq!(status, want, "for {:?} ({ct})", String::from_utf8_lossy(&body));
        }
    }
    let huge = vec![b' '; 3 * 1024 * 1024];
    let r = env.http.post(&url).header("X-API-KEY", STORE_API_KEY).body(huge).send().await;
    assert!(r.map(|r| r.status().as_u16()).map_or(true, |s| s == 413), "huge body: 413 or connection closed");
    let ok = code_of(&env.ctx, "in-circulation");
    assert_eq!(
        check(&env, 0, json!({ "codes": [ok] }), Some(STORE_API_KEY)).await.0,
        200,
        "host still serves"
    );
    env.servers.shutdown().await;
}

/// `auth/key` + `simpleSignIn` (§9.3): a challenge, answered once with a CMS, gives a 10-hour token.
#[tokio::test]
async fn auth_key_and_simple_sign_in() {
    let env = start(1).await;
    let base = format!("{}/api/v3/true-api/auth", env.servers.endpoints.discovery);
    let key: Value = env.http.get(format!("{base}/key")).send().await.unwrap().json().await.unwrap();
    let uuid = key["uuid"].as_str().unwrap().to_string();
    assert_eq!(key["data"].as_str().unwrap().len(), 30);
    let sign = |uuid: &str, inn: &str| {
        env.http
            .post(format!("{base}/simpleSignIn"))
            .json(&json!({ "uuid": uuid, "data": "MAoGCCqGSIb3DQEHAg==", "inn": inn }))
            .send()
    };
    let r = sign(&uuid, "7701000019").await.unwrap();
    assert_eq!(r.status(), 200);
    let token: Value = r.json().await.unwrap();
    assert_eq!(token["token"].as_str().unwrap().split('.').count(), 3, "JWT-shaped");
    assert_eq!(sign(&uuid, "7701000019").await.unwrap().status(), 401, "a challenge is answered once");
    let other: Value = env.http.get(format!("{base}/key")).send().await.unwrap().json().await.unwrap();
    let unknown = sign(other["uuid"].as_str().unwrap(), "0000000000").await.unwrap();
    assert_eq!(unknown.status(), 401, "not a participant");
    let bad = env.http.post(format!("{base}/simpleSignIn")).body("{").send().await.unwrap();
    assert_eq!(bad.status(), 400);
    env.servers.shutdown().await;
}
