//! The ФН authentication model over HTTP, end to end (`tspiot.md` §9): challenge from the discovery
//! host, MAC by the ФН's secret, token exchange, `codes/check` with `Authorization: Bearer` after the
//! X-API-KEY cut-off, `fiscalDriveNumber` binding, `isOwner` against the token's INN, expiry and the
//! refusal table of §9.3.

use base64::Engine;
use markcert_emulators::cdn::{self, TrueApiContext, TrueApiServers};
use markcert_emulators::clock::WorldClock;
use markcert_emulators::fnauth::{Challenge, FnAuthScheme, HmacSha256V1};
use markcert_emulators::trace::Trace;
use markcert_emulators::world::default::{
    default_world, NON_MARKING_FN_SERIAL, OTHER_FN_SERIAL, STORE_API_KEY, STORE_FN_SERIAL, STORE_INN,
};
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// 2026-11-01: after the default X-API-KEY cut-off.
const NOW: i64 = 1_793_491_200_000;

struct Env {
    servers: TrueApiServers,
    ctx: TrueApiContext,
    http: reqwest::Client,
}

async fn start() -> Env {
    let world = Arc::new(RwLock::new(default_world(NOW).unwrap()));
    let ctx = TrueApiContext::new(world, WorldClock::frozen_at(NOW), Trace::in_memory(1000));
    let servers = cdn::spawn(ctx.clone(), IpAddr::V4(Ipv4Addr::LOCALHOST), 1).await.unwrap();
    Env { servers, ctx, http: reqwest::Client::new() }
}

impl Env {
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let url = format!("{}/api/v4/true-api{path}", self.servers.endpoints.discovery);
        let r = self.http.post(url).json(&body).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// What the ФН `serial` answers to a challenge (the KKT's job; here from the world's secrets).
    fn sign(&self, serial: &str, challenge_b64: &str) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let secret = self.ctx.world.read().unwrap().fn_secret(serial).unwrap();
        let mac = HmacSha256V1.sign(&secret, &Challenge(b64.decode(challenge_b64).unwrap()), serial);
        b64.encode(mac.0)
    }

    async fn token_for(&self, serial: &str) -> (u16, Value) {
        let (s, c) = self.post("/auth/fn/challenge", json!({ "fnSerial": serial })).await;
        assert_eq!(s, 200, "{c}");
        let mac = self.sign(serial, c["challenge"].as_str().unwrap());
        let body =
            json!({ "challengeId": c["challengeId"], "fnSerial": serial, "mac": mac, "alg": "HMAC-SHA256" });
        self.post("/auth/fn/token", body).await
    }

    async fn check(&self, auth: &[(&str, &str)], body: Value) -> (u16, Value) {
        let url = format!("{}/api/v4/true-api/codes/check", self.servers.endpoints.hosts[0]);
        let mut req = self.http.post(url).json(&body);
        for (k, v) in auth {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

fn code_of(env: &Env, case: &str) -> String {
    let w = env.ctx.world.read().unwrap();
    w.codes().into_iter().find(|c| c.case.as_deref() == Some(case)).unwrap().code.clone()
}

#[tokio::test]
async fn a_fn_token_works_after_the_cut_off_and_expires_after_10_hours() {
    let env = start().await;
    let code = code_of(&env, "in-circulation");
    let body = json!({ "codes": [code] });
    let (s, _) = env.check(&[("X-API-KEY", STORE_API_KEY)], body.clone()).await;
    assert_eq!(s, 401, "X-API-KEY alone is refused after the cut-off");

    let (s, t) = env.token_for(STORE_FN_SERIAL).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!((t["tokenType"].clone(), t["expiresIn"].clone()), (json!("Bearer"), json!(36_000)));
    assert_eq!((t["fnSerial"].clone(), t["inn"].clone()), (json!(STORE_FN_SERIAL), json!(STORE_INN)));
    let token = t["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 43);
    let bearer = format!("Bearer {token}");
    let (s, v) = env.check(&[("Authorization", &bearer)], body.clone()).await;
    assert_eq!(s, 200);
    assert_eq!(v["codes"][0]["isOwner"], true, "judged against the token's INN");
    // Any one valid credential suffices.
    let (s, _) = env.check(&[("Authorization", &bearer), ("X-API-KEY", STORE_API_KEY)], body.clone()).await;
    assert_eq!(s, 200);
    // Health and cdn/info accept it too.
    for url in [
        format!("{}/api/v4/true-api/cdn/health/check", env.servers.endpoints.hosts[0]),
        format!("{}/api/v4/true-api/cdn/info", env.servers.endpoints.discovery),
    ] {
        let r = env.http.get(url).header("Authorization", &bearer).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    // fiscalDriveNumber must be the token's ФН.
    let with_fdn = |fdn: &str| json!({ "codes": [code], "fiscalDriveNumber": fdn });
    assert_eq!(env.check(&[("Authorization", &bearer)], with_fdn(STORE_FN_SERIAL)).await.0, 200);
    assert_eq!(env.check(&[("Authorization", &bearer)], with_fdn(OTHER_FN_SERIAL)).await.0, 403);
    // 10 h of world time later: expired.
    env.ctx.clock.advance(Duration::from_secs(36_000));
    let (s, v) = env.check(&[("Authorization", &bearer)], body).await;
    assert_eq!((s, v["error_message"].clone()), (401, json!("token expired")));
    env.servers.shutdown().await;
}

#[tokio::test]
async fn is_owner_follows_the_token_inn() {
    let env = start().await;
    let (_, t) = env.token_for(OTHER_FN_SERIAL).await;
    let bearer = format!("Bearer {}", t["token"].as_str().unwrap());
    let (s, v) =
        env.check(&[("Authorization", &bearer)], json!({ "codes": [code_of(&env, "not-owner")] })).await;
    assert_eq!(s, 200);
    assert_eq!(v["codes"][0]["isOwner"], true, "the not-owner codes belong to the other participant");
    env.servers.shutdown().await;
}

#[tokio::test]
async fn refusals_of_section_9_3() {
    let env = start().await;
    // Unknown, non-marking, or not bound to the INN: 403.
    for body in [
        json!({ "fnSerial": "9999999999999999" }),
        json!({ "fnSerial": NON_MARKING_FN_SERIAL }),
        json!({ "fnSerial": STORE_FN_SERIAL, "inn": "7702000016" }),
    ] {
        let (s, v) = env.post("/auth/fn/challenge", body).await;
        assert_eq!((s, v["error_message"].clone()), (403, json!("fiscal drive not registered")));
    }
    assert_eq!(env.post("/auth/fn/challenge", json!({})).await.0, 400);
    let (_, c) = env.post("/auth/fn/challenge", json!({ "fnSerial": STORE_FN_SERIAL })).await;
    let id = c["challengeId"].clone();
    let good = env.sign(STORE_FN_SERIAL, c["challenge"].as_str().unwrap());
    // Wrong alg: 400; malformed: 400.
    let (s, _) = env
        .post(
            "/auth/fn/token",
            json!({ "challengeId": id, "fnSerial": STORE_FN_SERIAL, "mac": good, "alg": "MD5" }),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(env.post("/auth/fn/token", json!({ "challengeId": id })).await.0, 400);
    // A wrong MAC: 401 mac invalid, and the challenge is used up.
    let wrong = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let (s, v) = env
        .post("/auth/fn/token", json!({ "challengeId": id, "fnSerial": STORE_FN_SERIAL, "mac": wrong }))
        .await;
    assert_eq!((s, v["error_message"].clone()), (401, json!("mac invalid")));
    let (s, v) = env
        .post("/auth/fn/token", json!({ "challengeId": id, "fnSerial": STORE_FN_SERIAL, "mac": good }))
        .await;
    assert_eq!((s, v["error_message"].clone()), (401, json!("challenge invalid")));
    // An expired challenge (TTL 60 s).
    let (_, c) = env.post("/auth/fn/challenge", json!({ "fnSerial": STORE_FN_SERIAL })).await;
    let mac = env.sign(STORE_FN_SERIAL, c["challenge"].as_str().unwrap());
    env.ctx.clock.advance(Duration::from_secs(61));
    let (s, _) = env
        .post(
            "/auth/fn/token",
            json!({ "challengeId": c["challengeId"], "fnSerial": STORE_FN_SERIAL, "mac": mac }),
        )
        .await;
    assert_eq!(s, 401);
    // A made-up bearer token.
    let (s, v) = env.check(&[("Authorization", "Bearer AAAA")], json!({ "codes": ["x"] })).await;
    assert_eq!((s, v["error_message"].clone()), (401, json!("token invalid")));
    env.servers.shutdown().await;
}
