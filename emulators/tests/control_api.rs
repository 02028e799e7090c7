//! The control API over real HTTP on loopback (every endpoint, the error shapes, the fault kinds
//! switchable at run time, the ЛМ ЧЗ controls), snapshots of the shapes scenario authors rely on, and
//! a property test that arbitrary requests get a 2xx or a 4xx with a JSON error, never a 5xx.

use axum::body::Body;
use axum::http::{Method, Request};
use markcert_emulators::clock::WorldClock;
use markcert_emulators::control::{self, ControlContext, ControlServer};
use markcert_emulators::faults::FaultTable;
use markcert_emulators::lm::model::LocalModule;
use markcert_emulators::lm::options::LmOptions;
use markcert_emulators::reqlog::{IssuedCheck, ReqLog};
use markcert_emulators::trace::{Trace, TraceEvent};
use markcert_emulators::world::default::default_world;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, RwLock};
use tower::ServiceExt;

const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const HOUR: i64 = 3_600_000;

struct Env {
    server: ControlServer,
    ctx: ControlContext,
    http: reqwest::Client,
}

fn context(with_lm: bool) -> ControlContext {
    ControlContext {
        world: Arc::new(RwLock::new(default_world(NOW).unwrap())),
        clock: WorldClock::frozen_at(NOW),
        trace: Trace::in_memory(1_000),
        faults: FaultTable::new(),
        reqlog: ReqLog::new(1_000),
        lm: with_lm.then(|| Arc::new(Mutex::new(LocalModule::new(LmOptions::default())))),
        tspiot: None,
        fn_signer: None,
        fn_auth: Default::default(),
        kkt: None,
    }
}

async fn start_with(ctx: ControlContext) -> Env {
    let server = control::spawn(ctx.clone(), IpAddr::V4(Ipv4Addr::LOCALHOST)).await.unwrap();
    Env { server, ctx, http: reqwest::Client::new() }
}

async fn start() -> Env {
    start_with(context(true)).await
}

/// Status and JSON body (`null` when the body is not JSON).
async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.url, path)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        send(self.http.get(self.url(path))).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        send(self.http.post(self.url(path)).json(&body)).await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        send(self.http.put(self.url(path)).json(&body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        send(self.http.patch(self.url(path)).json(&body)).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        send(self.http.delete(self.url(path))).await
    }

    fn code_of(&self, case: &str) -> String {
        let w = self.ctx.world.read().unwrap();
        w.codes().into_iter().find(|c| c.case.as_deref() == Some(case)).unwrap().code.clone()
    }
}

/// Percent-encodes everything but the unreserved characters (a code in a path segment).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn assert_error(status: u16, body: &Value, expected: u16, contains: &str) {
    assert_eq!(status, expected, "{body}");
    let message = body["error"].as_str().unwrap_or_else(|| panic!("no error message in {body}"));
    assert!(message.contains(contains), "{message:?} does not mention {contains:?}");
}

#[tokio::test]
async fn health_unknown_routes_and_methods() {
    let env = start().await;
    assert_eq!(env.get("/health").await, (200, json!({"status": "ok"})));
    let (status, body) = env.get("/no/such/route").await;
    assert_error(status, &body, 404, "/no/such/route");
    let (status, body) = env.delete("/clock").await;
    assert_error(status, &body, 405, "DELETE");
    env.server.shutdown().await;
}

#[tokio::test]
async fn world_summary_replace_and_reset() {
    let env = start().await;
    let (codes, products) = {
        let w = env.ctx.world.read().unwrap();
        (w.codes().len(), w.products().len())
    };
    let (status, summary) = env.get("/world").await;
    assert_eq!(status, 200);
    assert_eq!(summary["store_inn"], "7701000019");
    assert_eq!(summary["codes"], codes);
    assert_eq!(summary["products"], products);
    assert_eq!(summary["participants"], 2);
    let by_state: u64 =
        summary["codes_by_state"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(by_state, codes as u64);
    assert!(summary["codes_by_group"]["milk"].as_u64().unwrap() > 0);
    assert!(summary["codes_by_case"]["sold"].as_u64().unwrap() > 0);

    let world = r#"
store_inn = "7701000019"

[[product]]
gtin = "04612345000438"
group = 8
name = "Молоко 3,2% 1 л"
price_kopecks = 8990

[[code]]
code = "0104612345000438215aZ;q0\u001d93Jm4t"
expire = "-1h"
case = "expired"

[[code]]
code = "0104612345000438215K%x(1\u001d93pR7s"
state = "sold"
"#;
    let put = env.http.put(env.url("/world")).header("content-type", "application/toml").body(world);
    let (status, summary) = send(put).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["codes"], 2);
    assert_eq!(
        summary["codes_by_state"],
        json!({"applied":0,"emitted":0,"introduced":1,"sold":1,"withdrawn":0})
    );
    let (status, listed) = env.get("/world/codes").await;
    assert_eq!(status, 200);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["code"], "0104612345000438215K%x(1\u{1d}93pR7s", "sorted by code");
    assert_eq!(listed[1]["expired"], true);
    assert_eq!(listed[1]["expire"], "2025-12-31T23:00:00.000Z");
    assert_eq!(env.ctx.world.read().unwrap().codes().len(), 2, "the shared world was replaced");

    // Without a content type the body is TOML; as JSON the same shape is accepted.
    let (status, _) = send(env.http.put(env.url("/world")).body("store_inn = \"7701000019\"\n")).await;
    assert_eq!(status, 200);
    let json_world =
        json!({"product": [{"gtin": "04612345000438", "group": 8, "name": "x", "price_kopecks": 1}]});
    let (status, summary) = env.put("/world", json_world).await;
    assert_eq!((status, summary["products"].clone()), (200, json!(1)));

    // Errors: the loader's message, and the world is left as it was.
    let bad = "[[code]]\ncode = \"0104612345000438215aZ;q093Jm4t\"\n";
    let (status, body) =
        send(env.http.put(env.url("/world")).header("content-type", "application/toml").body(bad)).await;
    assert_error(status, &body, 400, "0104612345000438215aZ;q093Jm4t");
    let (status, body) = send(env.http.put(env.url("/world")).body("nonsense = 1")).await;
    assert_error(status, &body, 400, "unknown field");
    // `curl -d` labels any body as a form; it is read as the route's default format (TOML here).
    let form = env
        .http
        .put(env.url("/world"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a=1");
    let (status, body) = send(form).await;
    assert_error(status, &body, 400, "unknown field");
    let (status, body) =
        send(env.http.put(env.url("/world")).header("content-type", "image/png").body("a=1")).await;
    assert_error(status, &body, 415, "application/toml");
    let (status, body) = send(env.http.put(env.url("/world")).body(vec![0xff, 0xfe])).await;
    assert_error(status, &body, 400, "UTF-8");
    assert_eq!(env.get("/world").await.1["products"], 1);

    let (status, summary) = send(env.http.post(env.url("/world/reset"))).await;
    assert_eq!(status, 200);
    assert_eq!(summary["codes"], codes);
    assert_eq!(env.ctx.world.read().unwrap().codes().len(), codes);
    env.server.shutdown().await;
}

#[tokio::test]
async fn codes_filtered_by_state_and_group_carry_gs_raw() {
    let env = start().await;
    let r = env.http.get(env.url("/world/codes?state=sold&group=milk")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let total: usize = r.headers()["x-total-count"].to_str().unwrap().parse().unwrap();
    let text = r.text().await.unwrap();
    assert!(text.contains("\\u001d"), "GS travels as \\u001d in the JSON text");
    let codes: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(!codes.is_empty());
    assert_eq!(codes.len(), total);
    for c in &codes {
        assert_eq!(
            (c["state"].as_str(), c["group"].as_str(), c["group_id"].as_u64()),
            (Some("sold"), Some("milk"), Some(8))
        );
        assert!(c["code"].as_str().unwrap().contains('\u{1d}'));
    }
    let sorted: Vec<&str> = codes.iter().map(|c| c["code"].as_str().unwrap()).collect();
    assert!(sorted.windows(2).all(|w| w[0] < w[1]));
    // The group by its numeric id gives the same; the registry agrees.
    assert_eq!(env.get("/world/codes?state=sold&group=8").await.1.as_array().unwrap().len(), codes.len());
    let expected = {
        let w = env.ctx.world.read().unwrap();
        w.codes()
            .into_iter()
            .filter(|c| c.state.name() == "sold" && c.code.get(2..16).and_then(|g| w.group_of(g)) == Some(8))
            .count()
    };
    assert_eq!(codes.len(), expected);

    // Other filters.
    let (_, blocked) = env.get("/world/codes?blocked=true").await;
    let blocked = blocked.as_array().unwrap();
    assert!(
        !blocked.is_empty()
            && blocked.iter().all(|c| c["is_blocked"] == true && !c["ogvs"].as_array().unwrap().is_empty())
    );
    let (_, expired) = env.get("/world/codes?case=expired").await;
    assert!(expired.as_array().unwrap().iter().all(|c| c["expired"] == true && c["case"] == "expired"));
    let (_, not_owner) = env.get("/world/codes?case=not-owner&limit=1").await;
    assert_eq!(not_owner[0]["is_owner"], false);
    let gtin = codes[0]["gtin"].as_str().unwrap().to_string();
    let (_, same) = env.get(&format!("/world/codes?gtin={gtin}")).await;
    assert!(same.as_array().unwrap().iter().all(|c| c["gtin"] == gtin.as_str()));
    let (_, sold) = env.get("/world/codes?state=sold").await;
    let (_, page) = env.get("/world/codes?state=sold&offset=1&limit=2").await;
    assert_eq!(page.as_array().unwrap()[..], sold.as_array().unwrap()[1..3]);
    assert_eq!(env.get("/world/codes?state=sold&group=milk&offset=100000").await.1, json!([]));

    // Errors name the valid values.
    let (status, body) = env.get("/world/codes?state=bogus").await;
    assert_error(status, &body, 400, "bogus");
    assert_eq!(body["valid"], json!(["emitted", "applied", "introduced", "sold", "withdrawn"]));
    let (status, body) = env.get("/world/codes?group=cheese").await;
    assert_error(status, &body, 400, "cheese");
    assert!(body["valid"].as_array().unwrap().contains(&json!("milk (8)")));
    let (status, body) = env.get("/world/codes?group=999").await;
    assert_error(status, &body, 400, "999");
    let (status, body) = env.get("/world/codes?blocked=yes").await;
    assert_error(status, &body, 400, "blocked");
    let (status, body) = env.get("/world/codes?limit=-1").await;
    assert_error(status, &body, 400, "limit");
    let (status, body) = env.get("/world/codes?stat=sold").await;
    assert_error(status, &body, 400, "stat");
    env.server.shutdown().await;
}

#[tokio::test]
async fn one_code_by_code_or_ki_and_patched_at_run_time() {
    let env = start().await;
    let code = env.code_of("in-circulation");
    let (status, one) = env.get(&format!("/world/codes/{}", encode(&code))).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["code"], code.as_str());
    assert_eq!(
        (one["state"].as_str(), one["is_blocked"].as_bool(), one["is_owner"].as_bool()),
        (Some("introduced"), Some(false), Some(true))
    );
    let ki = one["ki"].as_str().unwrap().to_string();
    assert_eq!(env.get(&format!("/world/codes/{}", encode(&ki))).await.1["code"], code.as_str());
    let written = code.replace('\u{1d}', "<GS>");
    assert_eq!(env.get(&format!("/world/codes/{}", encode(&written))).await.1["code"], code.as_str());
    let (status, body) = env.get("/world/codes/0104600000000000215nosuch").await;
    assert_error(status, &body, 404, "no code");

    // The code gets blocked after the ЛМ ЧЗ's last sync.
    let path = format!("/world/codes/{}", encode(&code));
    let (status, patched) = env.patch(&path, json!({"blocked_by": ["RPN"]})).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!((patched["is_blocked"].clone(), patched["ogvs"].clone()), (json!(true), json!(["RPN"])));
    assert!(
        env.ctx.world.read().unwrap().code_by_identity(&ki).unwrap().is_blocked(),
        "the shared world changed"
    );
    let (_, patched) = env
        .patch(
            &path,
            json!({"state": "sold", "expire": "-1h", "owner_inn": "7702000016", "sold_unit_count": 2}),
        )
        .await;
    assert_eq!(patched["state"], "sold");
    assert_eq!(
        (patched["expired"].clone(), patched["expire"].clone()),
        (json!(true), json!("2025-12-31T23:00:00.000Z"))
    );
    assert_eq!((patched["is_owner"].clone(), patched["sold_unit_count"].clone()), (json!(false), json!(2)));
    let (_, patched) = env
        .patch(
            &path,
            json!({"expire": null, "blocked_by": [], "gray_zone": true, "crypto": "signature_invalid"}),
        )
        .await;
    assert_eq!(
        (patched["expire"].clone(), patched["expired"].clone(), patched["is_blocked"].clone()),
        (Value::Null, json!(false), json!(false))
    );
    assert_eq!(
        (patched["gray_zone"].clone(), patched["crypto"].clone()),
        (json!(true), json!("signature_invalid"))
    );

    let (status, body) = env.patch(&path, json!({"state": "lost"})).await;
    assert_error(status, &body, 400, "lost");
    let (status, body) = env.patch(&path, json!({"colour": "red"})).await;
    assert_error(status, &body, 400, "colour");
    let (status, body) = env.patch(&path, json!({"expire": "soon"})).await;
    assert_error(status, &body, 400, "soon");
    let (status, body) =
        send(env.http.patch(env.url(&path)).header("content-type", "application/json").body("{")).await;
    assert_error(status, &body, 400, "invalid JSON");
    let (status, body) =
        send(env.http.patch(env.url(&path)).header("content-type", "text/html").body("{}")).await;
    assert_error(status, &body, 415, "application/json");
    let (status, body) = send(env.http.patch(env.url(&path))).await;
    assert_error(status, &body, 400, "empty body");
    let (status, body) = env.patch("/world/codes/nosuch", json!({"state": "sold"})).await;
    assert_error(status, &body, 404, "no code");
    env.server.shutdown().await;
}

#[tokio::test]
async fn every_code_is_found_by_its_percent_encoded_code() {
    let ctx = context(false);
    let app = control::router(ctx.clone());
    let codes: Vec<String> = ctx.world.read().unwrap().codes().into_iter().map(|c| c.code.clone()).collect();
    assert!(
        codes.iter().any(|c| c.contains(['/', '%', '?', '#', '+'])),
        "the default world has codes needing care"
    );
    for code in codes {
        let request = Request::get(format!("/world/codes/{}", encode(&code))).body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200, "{code:?}");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let found: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(found["code"], code.as_str());
    }
}

#[tokio::test]
async fn products_listed_and_banned_at_gtin_level() {
    let env = start().await;
    let (status, products) = env.get("/world/products").await;
    assert_eq!(status, 200);
    let products = products.as_array().unwrap();
    let milk = products.iter().find(|p| p["group"] == "milk" && p["grey_gtin"] == false).unwrap();
    let gtin = milk["gtin"].as_str().unwrap();
    assert!(milk["codes"].as_u64().unwrap() > 0);
    assert_eq!(env.get(&format!("/world/products/{gtin}")).await.1["gtin"], gtin);

    let (status, patched) = env
        .patch(&format!("/world/products/{gtin}"), json!({"blocked_by": ["RPN"], "grey_gtin": true}))
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!((patched["gtin_blocked"].clone(), patched["grey_gtin"].clone()), (json!(true), json!(true)));
    let (_, codes) = env.get(&format!("/world/codes?gtin={gtin}")).await;
    for c in codes.as_array().unwrap() {
        assert_eq!(
            (c["gtin_blocked"].clone(), c["is_blocked"].clone(), c["grey_gtin"].clone()),
            (json!(true), json!(true), json!(true))
        );
        assert!(c["ogvs"].as_array().unwrap().contains(&json!("RPN")));
    }
    assert_eq!(
        env.get("/world").await.1["codes"],
        env.ctx.world.read().unwrap().codes().len(),
        "nothing lost in the rebuild"
    );
    let (status, body) = env.patch("/world/products/00000000000000", json!({"grey_gtin": true})).await;
    assert_error(status, &body, 404, "GTIN");
    let (status, body) = env.patch(&format!("/world/products/{gtin}"), json!({"group": 3})).await;
    assert_error(status, &body, 400, "group");
    env.server.shutdown().await;
}

#[tokio::test]
async fn clock_read_set_advance_and_modes() {
    let env = start().await;
    let (status, clock) = env.get("/clock").await;
    assert_eq!(status, 200);
    assert_eq!(
        (clock["now_ms"].clone(), clock["now"].clone(), clock["mode"].clone()),
        (json!(NOW), json!("2026-01-01T00:00:00.000Z"), json!("frozen"))
    );

    let (_, clock) = env.post("/clock", json!({"set": "2026-03-01T10:00:00+03:00"})).await;
    assert_eq!(clock["now"], "2026-03-01T07:00:00.000Z");
    let (_, clock) = env.post("/clock", json!({"set_ms": NOW})).await;
    assert_eq!(clock["now_ms"], NOW);
    let (_, clock) = env.post("/clock", json!({"advance": "72h"})).await;
    assert_eq!(clock["now_ms"], NOW + 72 * HOUR);
    let (_, clock) = env.post("/clock", json!({"advance": "1h30m"})).await;
    assert_eq!(clock["now_ms"], NOW + 72 * HOUR + 90 * 60_000);
    let (_, clock) = env.post("/clock", json!({"advance_ms": 1})).await;
    assert_eq!(clock["now_ms"], NOW + 72 * HOUR + 90 * 60_000 + 1);
    let (_, clock) = env.post("/clock", json!({"set": "-1d"})).await;
    assert_eq!(clock["now_ms"], NOW + 48 * HOUR + 90 * 60_000 + 1);
    assert_eq!(env.ctx.clock.now_ms(), NOW + 48 * HOUR + 90 * 60_000 + 1, "the shared clock moved");

    let (_, clock) = env.post("/clock", json!({"mode": "real"})).await;
    assert_eq!(clock["mode"], "real");
    let (_, clock) = env.post("/clock", json!({"mode": "frozen", "set_ms": NOW})).await;
    assert_eq!((clock["mode"].clone(), clock["now_ms"].clone()), (json!("frozen"), json!(NOW)));

    let (status, body) = env.post("/clock", json!({"set_ms": 1, "advance": "1h"})).await;
    assert_error(status, &body, 400, "at most one");
    let (status, body) = env.post("/clock", json!({"advance_ms": -5})).await;
    assert_error(status, &body, 400, "negative");
    let (status, body) = env.post("/clock", json!({"advance": "3 weeks"})).await;
    assert_error(status, &body, 400, "3 weeks");
    let (status, body) = env.post("/clock", json!({"set": "yesterday"})).await;
    assert_error(status, &body, 400, "yesterday");
    let (status, body) = env.post("/clock", json!({"mode": "fast"})).await;
    assert_error(status, &body, 400, "fast");
    let (status, body) = env.post("/clock", json!({})).await;
    assert_error(status, &body, 400, "nothing to change");
    assert_eq!(env.ctx.clock.now_ms(), NOW, "refused changes change nothing");
    env.server.shutdown().await;
}

#[tokio::test]
async fn faults_added_listed_counted_and_removed() {
    let env = start().await;
    assert_eq!(env.get("/faults").await, (200, json!([])));
    let rule = json!({
        "name": "cdn-1 429",
        "target": {"host": "cdn-1"},
        "trigger": {"nth": {"n": 3}},
        "fault": {"kind": "status", "status": 429},
    });
    let (status, added) = env.post("/faults", rule).await;
    assert_eq!((status, added.clone()), (201, json!({"ids": [1]})));
    env.ctx.faults.decide(&markcert_emulators::faults::CallInfo::new("cdn-1", "/x", NOW));
    let (_, listed) = env.get("/faults").await;
    assert_eq!(listed[0]["id"], 1);
    assert_eq!(listed[0]["calls"], 1);
    assert_eq!(listed[0]["fault"], json!({"kind": "status", "status": 429}));
    assert_eq!(env.get("/faults/1").await.1["name"], "cdn-1 429");

    let (status, added) =
        env.post("/faults", json!([{"fault": {"kind": "reset"}}, {"fault": {"kind": "blackhole"}}])).await;
    assert_eq!((status, added), (201, json!({"ids": [2, 3]})));
    assert_eq!(env.ctx.faults.len(), 3);
    assert_eq!(env.delete("/faults/2").await, (200, json!({"removed": 2})));
    let (status, body) = env.delete("/faults/2").await;
    assert_error(status, &body, 404, "no fault rule with id 2");
    let (status, body) = env.get("/faults/abc").await;
    assert_error(status, &body, 400, "abc");

    // PUT replaces everything (a timeline), TOML accepted.
    let timeline = r#"
[[rule]]
name = "cdn-1 down for 15 min"
target = { host = "cdn-1" }
trigger = { window = { from_ms = 0, to_ms = 900_000 } }
fault = { kind = "host-down" }

[[rule]]
target = { host = "cdn-2" }
fault = { kind = "latency", distribution = "uniform", min_ms = 300, max_ms = 600 }
"#;
    let put = env.http.put(env.url("/faults")).header("content-type", "application/toml").body(timeline);
    assert_eq!(send(put).await, (200, json!({"ids": [4, 5]})));
    let (_, listed) = env.get("/faults").await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["name"], "cdn-1 down for 15 min");
    let single = "fault = { kind = \"reset\" }\ntarget = { endpoint = \"/api/*\" }\n";
    let post = env.http.post(env.url("/faults")).header("content-type", "application/toml").body(single);
    assert_eq!(send(post).await, (201, json!({"ids": [6]})));

    // Refused rules: the FaultError text, nothing added.
    let (status, body) = env.post("/faults", json!({"fault": {"kind": "status", "status": 42}})).await;
    assert_error(status, &body, 400, "HTTP status 42 is outside 100..=599");
    let zero_chunk = json!({"kind": "drip", "bytes_per_chunk": 0, "chunk_delay_ms": 1});
    let (status, body) =
        env.post("/faults", json!([{"fault": {"kind": "reset"}}, {"fault": zero_chunk}])).await;
    assert_error(status, &body, 400, "bytes_per_chunk");
    let (status, body) = env.post("/faults", json!({"fault": {"kind": "teleport"}})).await;
    assert_error(status, &body, 400, "teleport");
    let (status, body) =
        env.post("/faults", json!({"trigger": {"nth": {"n": 0}}, "fault": {"kind": "reset"}})).await;
    assert_error(status, &body, 400, "nth.n");
    assert_eq!(env.ctx.faults.len(), 3);
    let (status, body) =
        send(env.http.post(env.url("/faults")).header("content-type", "text/csv").body("a,b")).await;
    assert_error(status, &body, 415, "application/toml");

    assert_eq!(env.delete("/faults").await, (200, json!({"removed": 3})));
    assert!(env.ctx.faults.is_empty());
    assert_eq!(env.put("/faults", json!([])).await, (200, json!({"ids": []})));
    env.server.shutdown().await;
}

/// One rule per fault kind, as documented in `docs/control-api.md`.
fn one_rule_per_kind() -> Vec<(&'static str, Value)> {
    vec![
        ("latency", json!({"target": {"host": "cdn-2"}, "fault": {"kind": "latency", "fixed_ms": 800}})),
        (
            "status",
            json!({
                "target": {"host": "cdn-*", "endpoint": "/api/v4/true-api/codes/check"},
                "fault": {"kind": "status", "status": 503, "body": {
                    "code": 5000,
                    "error_message": "5000",
                    "description": "cross-border check service unavailable",
                }},
            }),
        ),
        (
            "reset",
            json!({
                "target": {"host": "cdn-1"},
                "trigger": {"nth": {"n": 2, "every": 2}},
                "fault": {"kind": "reset"},
            }),
        ),
        (
            "blackhole",
            json!({
                "target": {"host": "local-module"},
                "trigger": {"probability": {"p": 0.1}},
                "fault": {"kind": "blackhole"},
                "seed": 7,
            }),
        ),
        (
            "drip",
            json!({
                "target": {"host": "cdn-1"},
                "fault": {"kind": "drip", "bytes_per_chunk": 16, "chunk_delay_ms": 100},
            }),
        ),
        (
            "host-down",
            json!({
                "target": {"host": "cdn-1"},
                "trigger": {"window": {"from_ms": 0, "to_ms": 900_000}},
                "fault": {"kind": "host-down"},
            }),
        ),
    ]
}

#[tokio::test]
async fn every_fault_kind_is_switched_on_and_off() {
    let env = start().await;
    for (kind, rule) in one_rule_per_kind() {
        let (status, added) = env.post("/faults", rule.clone()).await;
        assert_eq!(status, 201, "{kind}: {added}");
        let id = added["ids"][0].as_u64().unwrap();
        let (_, listed) = env.get("/faults").await;
        let listed = listed.as_array().unwrap();
        assert_eq!(listed.len(), 1, "{kind}");
        assert_eq!(listed[0]["id"], id);
        assert_eq!(listed[0]["fault"]["kind"], kind);
        assert_eq!(listed[0]["fault"], rule["fault"], "{kind}: the rule reads back as written");
        assert_eq!(env.delete(&format!("/faults/{id}")).await.0, 200, "{kind}");
        assert_eq!(env.get("/faults").await.1, json!([]), "{kind}");
    }
    // All at once, then all off.
    let all: Vec<Value> = one_rule_per_kind().into_iter().map(|(_, r)| r).collect();
    assert_eq!(env.post("/faults", Value::Array(all)).await.1["ids"].as_array().unwrap().len(), 6);
    assert_eq!(env.delete("/faults").await.1, json!({"removed": 6}));
    env.server.shutdown().await;
}

#[tokio::test]
async fn trace_read_filtered_streamed_and_cleared() {
    let env = start().await;
    for i in 0..5 {
        let component = if i % 2 == 0 { "cdn-1" } else { "local-module" };
        env.ctx.trace.record(
            TraceEvent::new(component, "POST", "/api/v4/true-api/codes/check")
                .world_ms(NOW)
                .status(200)
                .code("0104600439931256215!abcd\u{1d}93dGVz"),
        );
    }
    let (status, events) = env.get("/trace").await;
    assert_eq!(status, 200);
    assert_eq!(events.as_array().unwrap().len(), 5);
    assert_eq!(events[0]["codes"][0], "0104600439931256215!abcd\u{1d}93dGVz");
    let seqs =
        |v: &Value| v.as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect::<Vec<_>>();
    assert_eq!(seqs(&env.get("/trace?component=cdn-1").await.1), [1, 3, 5]);
    assert_eq!(seqs(&env.get("/trace?since_seq=3").await.1), [4, 5]);
    assert_eq!(seqs(&env.get("/trace?component=cdn-1&since_seq=1&limit=1").await.1), [3]);
    assert_eq!(seqs(&env.get("/trace?path=/nope").await.1), Vec::<u64>::new());

    let r = env.http.get(env.url("/trace?format=ndjson&component=local-module")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let text = r.text().await.unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().map(|e| e["seq"].as_u64().unwrap()).collect::<Vec<_>>(), [2, 4]);
    assert!(text.ends_with('\n'));
    let text =
        env.http.get(env.url("/trace?format=ndjson&limit=3")).send().await.unwrap().text().await.unwrap();
    assert_eq!(text.lines().count(), 3);

    let (status, body) = env.get("/trace?format=xml").await;
    assert_error(status, &body, 400, "xml");
    let (status, body) = env.get("/trace?since_seq=abc").await;
    assert_error(status, &body, 400, "since_seq");

    assert_eq!(
        env.get("/trace/stats").await.1,
        json!({"total": 5, "evicted": 0, "last_seq": 5, "ndjson_file": null})
    );
    assert_eq!(env.delete("/trace").await, (200, json!({"cleared": true, "last_seq": 5})));
    assert_eq!(env.get("/trace").await.1, json!([]));
    assert_eq!(env.get("/trace/stats").await.1["total"], 5, "seq numbers go on");
    assert_eq!(env.ctx.trace.total(), 5, "control calls are not traced");
    env.server.shutdown().await;
}

#[tokio::test]
async fn reqlog_lookup() {
    let env = start().await;
    let req_id = "5f0c7a52-3b8e-4a0f-9d1c-0e6b2a4c8d10";
    env.ctx.reqlog.record(IssuedCheck {
        req_id: req_id.into(),
        req_timestamp: NOW,
        host: "cdn-1".into(),
        codes: vec!["0104600439931256215!abcd\u{1d}93dGVz".into()],
    });
    let (status, check) = env.get(&format!("/reqlog/{req_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        check,
        json!({
            "req_id": req_id,
            "req_timestamp": NOW,
            "req_time": "2026-01-01T00:00:00.000Z",
            "host": "cdn-1",
            "codes": ["0104600439931256215!abcd\u{1d}93dGVz"],
        })
    );
    let (status, body) = env.get("/reqlog/00000000-0000-0000-0000-000000000000").await;
    assert_error(status, &body, 404, "not issued");
    env.server.shutdown().await;
}

#[tokio::test]
async fn lm_controls() {
    let env = start().await;
    let (status, lm) = env.get("/lm").await;
    assert_eq!(status, 200, "{lm}");
    assert_eq!(lm["status"], "not_configured");
    assert_eq!(lm["status_v1"]["status"], "not_configured");
    assert_eq!((lm["operator_link_up"].clone(), lm["version"].clone()), (json!(true), Value::Null));
    let (status, body) = send(env.http.post(env.url("/lm/sync"))).await;
    assert_error(status, &body, 409, "init");

    let (status, lm) = env.post("/lm/init", json!({"token": "b8c2e1b4-8a1d-4d3e-9f7a-2c4b6d8e0f12"})).await;
    assert_eq!((status, lm["status"].clone()), (200, json!("initialization")));
    let (status, body) = env.post("/lm/init", json!({"token": " "})).await;
    assert_error(status, &body, 400, "token");
    env.post("/clock", json!({"advance": "31s"})).await;
    let (_, lm) = env.get("/lm").await;
    assert_eq!(lm["status"], "ready");
    let first = lm["version"].as_str().unwrap().to_string();
    assert_eq!(lm["last_sync_ms"], NOW + 30_000);

    // The code gets blocked after the last sync; a sync picks it up.
    let code = env.code_of("in-circulation");
    env.patch(&format!("/world/codes/{}", encode(&code)), json!({"blocked_by": ["RPN"]})).await;
    let (status, synced) = send(env.http.post(env.url("/lm/sync"))).await;
    assert_eq!(status, 200, "{synced}");
    assert_eq!(synced["changed"], true);
    assert_ne!(synced["version"], first.as_str());
    assert_eq!(synced["last_sync_ms"], NOW + 31_000);
    assert_eq!(synced["state"]["version"], synced["version"]);

    // Link down and a last sync 73 h ago: sync_error; link up again: a sync, ready.
    let (_, lm) = env.post("/lm/link", json!({"up": false})).await;
    assert_eq!(lm["operator_link_up"], false);
    let (status, body) = send(env.http.post(env.url("/lm/sync"))).await;
    assert_error(status, &body, 409, "link");
    let (_, lm) = env.post("/lm/last-sync", json!({"ago": "73h"})).await;
    assert_eq!(
        (lm["status"].clone(), lm["since_last_sync_ms"].clone()),
        (json!("sync_error"), json!(73 * HOUR))
    );
    let (_, lm) = env.post("/lm/last-sync", json!({"ms": NOW})).await;
    assert_eq!((lm["status"].clone(), lm["last_sync_ms"].clone()), (json!("ready"), json!(NOW)));
    let (_, lm) = env.post("/lm/last-sync", json!({"at": "-80h"})).await;
    assert_eq!(lm["status"], "sync_error");
    let (_, lm) = env.post("/lm/link", json!({"up": true})).await;
    assert_eq!((lm["status"].clone(), lm["last_sync_ms"].clone()), (json!("ready"), json!(NOW + 31_000)));

    // Forced statuses and the grey list.
    let (_, lm) = env.post("/lm/status", json!({"status": "failure"})).await;
    assert_eq!((lm["status"].clone(), lm["forced_status"].clone()), (json!("failure"), json!("failure")));
    let (_, lm) = env.post("/lm/status", json!({"status": null})).await;
    assert_eq!((lm["status"].clone(), lm["forced_status"].clone()), (json!("ready"), Value::Null));
    let (_, lm) = env.post("/lm/grey-list", json!({"enabled": false})).await;
    assert_eq!(lm["grey_list_enabled"], false);

    let (status, body) = env.post("/lm/status", json!({"status": "sleeping"})).await;
    assert_error(status, &body, 400, "sleeping");
    assert_eq!(body["valid"], json!(["not_configured", "initialization", "ready", "sync_error", "failure"]));
    let (status, body) = env.post("/lm/last-sync", json!({"ms": 1, "ago": "1h"})).await;
    assert_error(status, &body, 400, "exactly one");
    let (status, body) = env.post("/lm/link", json!({"up": "yes"})).await;
    assert_error(status, &body, 400, "invalid JSON");
    env.server.shutdown().await;
}

#[tokio::test]
async fn lm_routes_without_a_module_are_404() {
    let env = start_with(context(false)).await;
    for (method, path) in [(Method::GET, "/lm"), (Method::POST, "/lm/sync"), (Method::POST, "/lm/grey-list")]
    {
        let req = env.http.request(method, env.url(path)).json(&json!({"enabled": true}));
        let (status, body) = send(req).await;
        assert_error(status, &body, 404, "no ЛМ ЧЗ emulator");
    }
    env.server.shutdown().await;
}

#[tokio::test]
async fn bodies_are_limited() {
    let env = start().await;
    let big = vec![b' '; control::BODY_LIMIT + 1];
    let (status, body) =
        send(env.http.post(env.url("/faults")).header("content-type", "application/json").body(big)).await;
    assert_error(status, &body, 413, "too large");
    // A world may be larger than that.
    let mut world = String::from("store_inn = \"7701000019\"\n");
    world.push_str(&"# padding\n".repeat(control::BODY_LIMIT / 10 + 10));
    let (status, _) = send(env.http.put(env.url("/world")).body(world)).await;
    assert_eq!(status, 200);
    env.server.shutdown().await;
}

#[tokio::test]
async fn dropping_or_shutting_down_stops_the_server() {
    let env = start().await;
    let url = env.server.url.clone();
    env.server.shutdown().await;
    assert!(env.http.get(format!("{url}/health")).send().await.is_err());
    let env = start().await;
    let url = env.server.url.clone();
    drop(env.server);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(reqwest::Client::new().get(format!("{url}/health")).send().await.is_err());
}

#[tokio::test]
async fn snapshot_of_a_code() {
    let env = start().await;
    let (_, codes) = env.get("/world/codes?state=sold&group=milk&limit=1").await;
    insta::assert_json_snapshot!("code_element", codes[0]);
    env.server.shutdown().await;
}

#[tokio::test]
async fn snapshot_of_the_clock() {
    let env = start().await;
    let (_, mut clock) = env.get("/clock").await;
    assert!(clock["offset_ms"].is_i64());
    clock["offset_ms"] = json!("[world minus system time]");
    insta::assert_json_snapshot!("clock", clock);
    env.server.shutdown().await;
}

#[tokio::test]
async fn snapshot_of_the_faults() {
    let env = start().await;
    for (_, rule) in one_rule_per_kind() {
        env.post("/faults", rule).await;
    }
    let named = json!({
        "name": "cdn-1 rate-limits its 3rd check",
        "target": {"host": "cdn-1", "endpoint": "/api/v4/true-api/codes/check"},
        "trigger": {"all_of": [{"matching_code": {"contains": "0104600439931256"}}, {"nth": {"n": 3}}]},
        "fault": {"kind": "status", "status": 429},
    });
    env.post("/faults", named).await;
    let (_, faults) = env.get("/faults").await;
    insta::assert_json_snapshot!("faults", faults);
    env.server.shutdown().await;
}

// --- Arbitrary input never gets a 5xx ---

const ROUTES: &[&str] = &[
    "/health",
    "/world",
    "/world/reset",
    "/world/codes",
    "/world/codes/{}",
    "/world/products",
    "/world/products/{}",
    "/clock",
    "/faults",
    "/faults/{}",
    "/trace",
    "/trace/stats",
    "/reqlog/{}",
    "/lm",
    "/lm/init",
    "/lm/sync",
    "/lm/link",
    "/lm/status",
    "/lm/last-sync",
    "/lm/grey-list",
    "/nowhere",
];

const METHODS: &[Method] = &[Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/json"),
    Some("application/toml"),
    Some("text/plain"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=x"),
    Some(";;;"),
];

/// Bytes as URI text: unreserved and query punctuation kept (a lone `%` too), the rest `%XX`.
fn uri_text(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'='
            | b'&'
            | b'%'
            | b'+' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        ".{0,200}".prop_map(String::into_bytes),
        prop_oneof![
            Just(r#"{"set":"x"}"#.to_string()),
            Just(r#"{"advance_ms":9223372036854775807}"#.to_string()),
            Just(r#"{"set_ms":-9223372036854775808}"#.to_string()),
            Just(r#"{"advance":"999999999999999999d"}"#.to_string()),
            Just(r#"[{"fault":{"kind":"latency","fixed_ms":18446744073709551615}}]"#.to_string()),
            Just(r#"{"up":true}"#.to_string()),
            Just(r#"{"ago":"9999999999999999d"}"#.to_string()),
            Just(r#"{"status":null}"#.to_string()),
            Just("[[rule]]\nfault = { kind = \"reset\" }".to_string()),
            Just(r#"{"expire":"+99999999999999d","state":"sold"}"#.to_string()),
        ]
        .prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_requests_never_get_a_5xx(
        method in prop::sample::select(METHODS),
        route in prop::sample::select(ROUTES),
        segment in proptest::collection::vec(any::<u8>(), 0..40),
        query in proptest::collection::vec(any::<u8>(), 0..80),
        content_type in prop::sample::select(CONTENT_TYPES),
        body in body_strategy(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let ctx = context(true);
        let app = control::router(ctx);
        let segment = if segment.is_empty() { "x".to_string() } else { uri_text(&segment) };
        let path = route.replace("{}", &segment);
        let uri = format!("{path}?{}", uri_text(&query));
        let uri = if axum::http::Uri::try_from(uri.as_str()).is_ok() { uri } else { path };
        let mut request = Request::builder().method(method.clone()).uri(&uri);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let request = request.body(Body::from(body)).unwrap();
        let (status, bytes) = runtime.block_on(async move {
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            (status, bytes)
        });
        let shown = String::from_utf8_lossy(&bytes);
        prop_assert!(!status.is_server_error(), "{method} {uri} gave {status}: {shown}");
        if status.is_client_error() {
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            prop_assert!(body["error"].is_string(), "{method} {uri}: {status} without a JSON error: {shown}");
        }
    }
}
