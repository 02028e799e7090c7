//! The ЛМ ЧЗ over real HTTP on loopback (spec `local-module.md` §2, §3, §5, §6, §9): Basic auth,
//! `X-ClientId`, every v1/v2 path, refusals while not ready, the stale snapshot, sale registration,
//! faults on the module's host, the trace, and malformed input that must get a 4xx and never a panic.

use markcert_emulators::clock::WorldClock;
use markcert_emulators::faults::{FaultKind, FaultRule, FaultTable};
use markcert_emulators::lm::model::{InitRequest, LocalModule};
use markcert_emulators::lm::options::LmOptions;
use markcert_emulators::lm::server::{self, LmContext, LmServer};
use markcert_emulators::trace::{Trace, TraceFilter};
use markcert_emulators::world::default::default_world;
use markcert_emulators::world::World;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

struct Env {
    server: LmServer,
    ctx: LmContext,
    http: reqwest::Client,
}

/// A module that is ready (initialised one init duration ago) unless `fresh`.
async fn start(opts: LmOptions, fresh: bool) -> Env {
    let clock = WorldClock::frozen_at(NOW);
    let world = default_world(NOW).unwrap();
    let mut module = LocalModule::new(opts.clone());
    if !fresh {
        let req = InitRequest { token: "t".into(), clear_sold: None, enable_grey_list: None };
        module.init(&world, NOW - opts.init_duration_ms(), req).unwrap();
        module.advance(&world, NOW);
    }
    let ctx = LmContext {
        world: Arc::new(RwLock::new(world)),
        clock,
        trace: Trace::in_memory(10_000),
        faults: FaultTable::new(),
        module: Arc::new(Mutex::new(module)),
    };
    let server = server::spawn(ctx.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    Env { server, ctx, http: reqwest::Client::new() }
}

fn code_of(w: &World, case: &str) -> String {
    w.codes().into_iter().find(|c| c.case.as_deref() == Some(case)).unwrap().code.clone()
}

fn code(env: &Env, case: &str) -> String {
    code_of(&env.ctx.world.read().unwrap(), case)
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url)
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .basic_auth("admin", Some("admin"))
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(self.url(path)).basic_auth("admin", Some("admin")).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn basic_auth_is_required_and_checked() {
    let env = start(LmOptions::default(), false).await;
    let st = env.http.get(env.url("/api/v1/status")).send().await.unwrap();
    assert_eq!(st.status(), 401);
    assert!(st.headers().get("www-authenticate").is_some());
    let wrong =
        env.http.get(env.url("/api/v1/status")).basic_auth("admin", Some("nimda")).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let token = env
        .http
        .get(env.url("/api/v1/status"))
        .header("Authorization", "Token 9333e653-5af4-4cc2-b969-7d9ec2900bc5")
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 401, "Token auth is off by default");
    let raw =
        env.http.get(env.url("/api/v1/status")).header("Authorization", "Basic YWRtaW46YWRtaW4=").send();
    assert_eq!(raw.await.unwrap().status(), 200, "the factory default admin:admin");
    env.server.shutdown().await;

    let opts = LmOptions {
        token_auth: true,
        login: "kassa".into(),
        password: "s3cret".into(),
        ..Default::default()
    };
    let env = start(opts, false).await;
    let token = env
        .http
        .get(env.url("/api/v2/status"))
        .header("Authorization", "Token 9333e653-5af4-4cc2-b969-7d9ec2900bc5")
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    let basic =
        env.http.get(env.url("/api/v2/status")).basic_auth("kassa", Some("s3cret")).send().await.unwrap();
    assert_eq!(basic.status(), 200);
    env.server.shutdown().await;
}

#[tokio::test]
async fn x_client_id_is_logged_and_optionally_required() {
    let env = start(LmOptions::default(), false).await;
    let r = env
        .http
        .get(env.url("/api/v1/status"))
        .basic_auth("admin", Some("admin"))
        .header("X-ClientId", "7380440700076549")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ev = env.ctx.trace.events(&TraceFilter::default()).pop().unwrap();
    assert_eq!(ev.note.as_deref(), Some("X-ClientId: 7380440700076549"));
    env.server.shutdown().await;

    let env = start(LmOptions { require_client_id: true, ..Default::default() }, false).await;
    assert_eq!(env.get("/api/v1/status").await.0, 400);
    env.server.shutdown().await;
}

#[tokio::test]
async fn status_v1_and_v2_shapes() {
    let env = start(LmOptions::default(), false).await;
    let (s1, v1) = env.get("/api/v1/status").await;
    assert_eq!(s1, 200);
    assert_eq!(v1["status"], "ready");
    assert_eq!(v1["lastSync"], NOW);
    assert_eq!(v1["inn"], "7701000019");
    assert!(v1["replicationStatus"]["blocked_cis"]["localDocCount"].as_u64().unwrap() > 0);
    let (s2, v2) = env.get("/api/v2/status").await;
    assert_eq!(s2, 200);
    assert!(v2.get("replicationStatus").is_none());
    assert!(v2["dbState"]["blocked_gtin"]["docCount"].as_u64().unwrap() >= 1);
    assert!(v2["dbState"]["min_price"]["docCount"].as_u64().unwrap() >= 1);
    env.server.shutdown().await;
}

#[tokio::test]
async fn out_check_v1_paths_get_and_post() {
    let env = start(LmOptions::default(), false).await;
    let ok = code(&env, "in-circulation");
    let blocked = code(&env, "blocked");
    for path in ["/api/v1/cis/outCheck", "/api/v1/cis/check"] {
        let (s, v) = env.post(path, json!({ "cis_list": [ok, blocked] })).await;
        assert_eq!(s, 200, "{path}");
        assert_eq!(v["code"], 0);
        assert_eq!(v["codes"][0]["cis"], ok.as_str());
        assert_eq!(v["codes"][0]["isBlocked"], false);
        assert_eq!(v["codes"][1]["isBlocked"], true);
        assert!(v["version"].is_string() && v["inst"].is_string() && v["reqId"].is_string());
        assert_eq!(v["reqTimestamp"], NOW);
    }
    // GET with the code percent-encoded (GS as %1D); a literal `+` is not a space.
    let enc: String = percent(&blocked);
    for path in ["/api/v1/cis/outCheck", "/api/v1/cis/check"] {
        let (s, v) = env.get(&format!("{path}?cis={enc}")).await;
        assert_eq!(s, 200, "{path}");
        assert_eq!(v["codes"][0]["cis"], blocked.as_str());
        assert_eq!(v["codes"][0]["isBlocked"], true);
    }
    let (s, _) = env.get("/api/v1/cis/outCheck").await;
    assert_eq!(s, 400, "GET without cis");
    // The trace has the codes and the reqId.
    let ev = env.ctx.trace.events(&TraceFilter::default()).into_iter().rev().nth(1).unwrap();
    assert_eq!(ev.component, "local-module");
    assert_eq!(ev.codes, vec![blocked.clone()]);
    assert!(ev.req_id.is_some());
    env.server.shutdown().await;
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'+' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn out_check_v2_lists_gtins_grey_and_prices() {
    let env = start(LmOptions::default(), false).await;
    let (gtin_blocked, grey, ok) =
        (code(&env, "gtin-blocked"), code(&env, "gtin-grey"), code(&env, "in-circulation"));
    let pack = {
        let w = env.ctx.world.read().unwrap();
        w.codes()
            .into_iter()
            .find(|c| {
                c.case.as_deref() == Some("in-circulation")
                    && markcert_codes::parse(c.code.as_bytes())
                        .is_ok_and(|p| p.layout() == markcert_codes::Layout::TobaccoPack)
            })
            .unwrap()
            .code
            .clone()
    };
    let body =
        json!({ "cis_list": [{ "cis": gtin_blocked, "pg": 13 }, { "cis": grey }, { "cis": ok }, pack] });
    let (s, v) = env.post("/api/v2/cis/outCheck", body).await;
    assert_eq!(s, 200);
    let r = &v["results"][0];
    assert_eq!(r["code"], 0);
    let codes = r["codes"].as_array().unwrap();
    assert_eq!((codes[0]["isBlocked"].clone(), codes[0]["isGreyGtin"].clone()), (json!(true), json!(false)));
    assert_eq!((codes[1]["isBlocked"].clone(), codes[1]["isGreyGtin"].clone()), (json!(true), json!(true)));
    assert_eq!((codes[2]["isBlocked"].clone(), codes[2]["sold"].clone()), (json!(false), json!(false)));
    assert_eq!(codes[3]["mrp"], 18_500);
    assert_eq!(codes[3]["smp"], 13_500);
    // Grey list off: the grey GTIN is no longer blocked offline.
    let (s, _) = env.post("/api/v2/greyList", json!({ "enableGreyList": false })).await;
    assert_eq!(s, 200);
    let (_, v) = env.post("/api/v2/cis/outCheck", json!({ "cis_list": [{ "cis": grey }] })).await;
    assert_eq!(v["results"][0]["codes"][0]["isBlocked"], false);
    assert_eq!(env.post("/api/v2/greyList", json!({})).await.0, 400);
    env.server.shutdown().await;
}

/// Offline answers come from the snapshot of the last sync: a code blocked later is not known until
/// the next sync, which also brings a new `version`.
#[tokio::test]
async fn the_snapshot_is_stale_until_the_next_sync() {
    let env = start(LmOptions::default(), false).await;
    let ok = code(&env, "in-circulation");
    let (_, before) = env.post("/api/v1/cis/outCheck", json!({ "cis_list": [ok] })).await;
    {
        let mut w = env.ctx.world.write().unwrap();
        let mut rec = w.code_by_identity(&markcert_emulators::world::identity(&ok).unwrap()).unwrap().clone();
        rec.blocked_by = vec!["RPN".into()];
        w.update_code(rec).unwrap();
    }
    let (_, stale) = env.post("/api/v1/cis/outCheck", json!({ "cis_list": [ok] })).await;
    assert_eq!(stale["codes"][0]["isBlocked"], false, "not known offline yet");
    assert_eq!(stale["version"], before["version"]);
    env.ctx.clock.advance(Duration::from_secs(300));
    let (_, fresh) = env.post("/api/v1/cis/outCheck", json!({ "cis_list": [ok] })).await;
    assert_eq!(fresh["codes"][0]["isBlocked"], true, "known after the next sync");
    assert_ne!(fresh["version"], before["version"]);
    env.server.shutdown().await;
}

#[tokio::test]
async fn refusals_while_not_ready_4045_and_4050() {
    let env = start(LmOptions::default(), true).await;
    let ok = code(&env, "in-circulation");
    let (s, v) = env.post("/api/v1/cis/outCheck", json!({ "cis_list": [ok] })).await;
    assert_eq!((s, v["errorCode"].clone()), (400, json!(4045)));
    assert_eq!(env.get("/api/v1/status").await.1["status"], "not_configured");
    let (s, v) = env.post("/api/v2/init", json!({ "token": "abc", "clearSold": false })).await;
    assert_eq!((s, v["status"].clone()), (200, json!("initialization")));
    let (s, v) = env.post("/api/v2/cis/outCheck", json!({ "cis_list": [{ "cis": ok }] })).await;
    assert_eq!((s, v["errorCode"].clone()), (400, json!(4045)));
    env.ctx.clock.advance(Duration::from_secs(30));
    assert_eq!(env.post("/api/v1/cis/outCheck", json!({ "cis_list": [ok] })).await.0, 200);
    // Operator link down for more than 72 h: sync_error, 4050 on every check path.
    {
        let w = env.ctx.world.read().unwrap();
        env.ctx.module.lock().unwrap().set_operator_link(&w, env.ctx.clock.now_ms(), false);
    }
    env.ctx.clock.advance(Duration::from_secs(72 * 3600 + 1));
    assert_eq!(env.get("/api/v2/status").await.1["status"], "sync_error");
    for (path, body) in [
        ("/api/v1/cis/outCheck", json!({ "cis_list": [ok] })),
        ("/api/v2/cis/outCheck", json!({ "cis_list": [{ "cis": ok }] })),
        ("/api/v2/cis/sell", json!({ "cis_list": [ok] })),
    ] {
        let (s, v) = env.post(path, body).await;
        assert_eq!((s, v["errorCode"].clone()), (400, json!(4050)), "{path}");
    }
    assert_eq!(env.get("/api/v2/cis/sold").await.1["errorCode"], 4050);
    // Forced failure: HTTP 500.
    env.ctx.module.lock().unwrap().force_status(Some(markcert_emulators::lm::status::LmStatus::Failure));
    assert_eq!(env.post("/api/v1/cis/outCheck", json!({ "cis_list": [ok] })).await.0, 500);
    env.server.shutdown().await;
}

#[tokio::test]
async fn sell_return_and_the_sold_list() {
    let env = start(LmOptions::default(), false).await;
    let ok = code(&env, "in-circulation");
    let (s, v) = env.post("/api/v2/cis/sell", json!({ "cis_list": [ok] })).await;
    assert_eq!(s, 201);
    assert_eq!(v, json!({ "results": [{ "success": true, "cis": ok }] }));
    let (_, v) = env.post("/api/v2/cis/outCheck", json!({ "cis_list": [{ "cis": ok }] })).await;
    assert_eq!(v["results"][0]["codes"][0]["sold"], true);
    let (s, v) = env.get("/api/v2/cis/sold?skip=0&limit=100").await;
    assert_eq!((s, v["total_count"].clone()), (200, json!(1)));
    assert_eq!(v["cis_list"], json!([ok]));
    let (s, v) = env.post("/api/v2/cis/sold/check", json!({ "cis_list": [ok] })).await;
    assert_eq!((s, v["results"][0]["sold"].clone()), (200, json!(true)));
    let (s, _) = env.post("/api/v2/cis/return", json!({ "cis_list": [ok] })).await;
    assert_eq!(s, 200);
    assert_eq!(env.get("/api/v2/cis/sold").await.1["total_count"], 0);
    assert_eq!(env.get("/api/v2/cis/sold?limit=1001").await.0, 400);
    assert_eq!(env.get("/api/v2/cis/sold?skip=-1").await.0, 400);
    env.server.shutdown().await;
}

#[tokio::test]
async fn faults_on_the_module_host() {
    let env = start(LmOptions::default(), false).await;
    let ok = code(&env, "in-circulation");
    let id =
        env.ctx.faults.add(FaultRule::new(FaultKind::server_error(500)).on_host("local-module")).unwrap();
    assert_eq!(env.post("/api/v1/cis/outCheck", json!({ "cis_list": [ok] })).await.0, 500);
    let ev = env.ctx.trace.events(&TraceFilter::default()).pop().unwrap();
    assert!(ev.fault.is_some() && ev.codes == vec![ok.clone()], "{ev:?}");
    env.ctx.faults.remove(id);
    env.ctx.faults.add(FaultRule::new(FaultKind::HostDown).on_host("local-module")).unwrap();
    let r =
        reqwest::Client::new().get(env.url("/api/v1/status")).basic_auth("admin", Some("admin")).send().await;
    assert!(r.is_err(), "connection refused: {r:?}");
    env.ctx.faults.clear();
    assert_eq!(env.get("/api/v1/status").await.0, 200);
    env.server.shutdown().await;
}

/// Arbitrary bytes and wrong shapes on every POST path get a 4xx (never a 5xx), and the module keeps
/// serving.
#[tokio::test]
async fn malformed_bodies_get_a_4xx() {
    use proptest::strategy::{Strategy, ValueTree};
    let env = start(LmOptions::default(), false).await;
    let paths = [
        "/api/v1/init",
        "/api/v2/init",
        "/api/v1/cis/check",
        "/api/v1/cis/outCheck",
        "/api/v2/cis/outCheck",
        "/api/v2/cis/sell",
        "/api/v2/cis/return",
        "/api/v2/cis/sold/check",
        "/api/v2/greyList",
    ];
    let fixed: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"[]".to_vec(),
        br#"{"cis_list":[]}"#.to_vec(),
        br#"{"cis_list":"x"}"#.to_vec(),
        br#"{"cis_list":[1,2]}"#.to_vec(),
        br#"{"cis_list":[{"pg":8}]}"#.to_vec(),
        br#"{"cis_list":[{"cis":"x","pg":"milk"}]}"#.to_vec(),
        format!(r#"{{"cis_list":[{}]}}"#, vec!["\"a\""; 1001].join(",")).into_bytes(),
        br#"{"token":""}"#.to_vec(),
    ];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let random = proptest::collection::vec(proptest::num::u8::ANY, 0..200);
    let mut bodies = fixed;
    for _ in 0..40 {
        bodies.push(random.new_tree(&mut runner).unwrap().current());
    }
    for path in paths {
        for body in &bodies {
            let r = env
                .http
                .post(env.url(path))
                .basic_auth("admin", Some("admin"))
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            assert!((400..500).contains(&s) || s < 300, "{path} {:?} → {s}", String::from_utf8_lossy(body));
        }
    }
    assert_eq!(env.get("/api/v9/nothing").await.0, 404);
    assert_eq!(env.get("/api/v1/status").await.0, 200, "still serving");
    env.server.shutdown().await;
}
