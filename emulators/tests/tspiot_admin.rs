//! The ТС ПИоТ admin API (spec `tspiot.md` §8) through its router: creating the instance, registering
//! it against the world's fiscal drives (every refusal of §8), settings, the ЛМ ЧЗ binding, removal,
//! and malformed input that must get a 4xx JSON body, never a 5xx.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use markcert_emulators::tspiot::admin::{self, AdminState, InstanceInfo, ALREADY_REGISTERED};
use markcert_emulators::world::default::{
    default_world, NON_MARKING_FN_SERIAL, OTHER_FN_SERIAL, OTHER_INN, STORE_FN_SERIAL, STORE_INN,
    STORE_KKT_SERIAL,
};
use serde_json::{json, Value};
use std::sync::{Arc, RwLock};
use tower::ServiceExt;

const TSPIOT_ID: &str = "00107700000099";

fn state(instance: InstanceInfo) -> AdminState {
    AdminState {
        world: Arc::new(RwLock::new(default_world(0).unwrap())),
        instance: Arc::new(RwLock::new(instance)),
    }
}

async fn call(s: &AdminState, method: Method, path: &str, body: Option<&[u8]>) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(body.map(|b| Body::from(b.to_vec())).unwrap_or_else(Body::empty))
        .unwrap();
    let resp = admin::router(s.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{path}: not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, v)
}

async fn send(s: &AdminState, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
    call(s, method, path, Some(body.to_string().as_bytes())).await
}

fn registration(kkt: &str, fn_serial: &str, inn: &str) -> Value {
    json!({ "id": kkt, "kktSerial": kkt, "fnSerial": fn_serial, "kktInn": inn })
}

#[tokio::test]
async fn create_register_inspect_remove() {
    let s = state(InstanceInfo::unconfigured(TSPIOT_ID));
    let (st, info) = call(&s, Method::GET, "/api/v1/info", None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(info["appPath"].is_string() && info["logPath"].is_string() && info["version"].is_string());
    assert_eq!(call(&s, Method::GET, "/api/v1/instances/info", None).await.1, json!({ "instances": [] }));

    // Registering before the instance exists.
    let reg = registration(STORE_KKT_SERIAL, STORE_FN_SERIAL, STORE_INN);
    assert_eq!(send(&s, Method::PUT, "/api/v1/tspiot", reg.clone()).await.0, StatusCode::NOT_FOUND);

    let create = json!({ "id": STORE_KKT_SERIAL, "port": 50401, "softPort": 51401, "dkktPort": 4042 });
    let (st, created) = send(&s, Method::POST, "/api/v1/tspiot", create.clone()).await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(created["id"], STORE_KKT_SERIAL);
    assert_eq!(created["serviceState"], "running");
    assert_eq!(send(&s, Method::POST, "/api/v1/tspiot", create).await.0, StatusCode::CONFLICT);
    assert_eq!(
        call(&s, Method::GET, "/api/v1/instances/info", None).await.1,
        json!({ "instances": [{ "id": STORE_KKT_SERIAL }] })
    );
    let path = format!("/api/v1/instances/info/{STORE_KKT_SERIAL}");
    let (_, before) = call(&s, Method::GET, &path, None).await;
    assert_eq!(before["regData"]["tspiotId"], "", "no tspiotId before registration");

    let (st, registered) = send(&s, Method::PUT, "/api/v1/tspiot", reg.clone()).await;
    assert_eq!((st, registered), (StatusCode::OK, json!({ "tspiotId": TSPIOT_ID })));
    let (st, again) = send(&s, Method::PUT, "/api/v1/tspiot", reg).await;
    assert_eq!((st, again["code"].as_u64()), (StatusCode::BAD_REQUEST, Some(u64::from(ALREADY_REGISTERED))));

    let (st, info) = call(&s, Method::GET, &path, None).await;
    assert_eq!(st, StatusCode::OK);
    let rd = &info["regData"];
    assert_eq!(
        (&rd["tspiotId"], &rd["kktSerial"], &rd["fnSerial"], &rd["kktInn"]),
        (&json!(TSPIOT_ID), &json!(STORE_KKT_SERIAL), &json!(STORE_FN_SERIAL), &json!(STORE_INN))
    );
    assert_eq!(rd["gismtTspiotId"].as_str().map(str::len), Some(36));
    assert!(rd["espToken"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(info["licenses"][0]["isActive"], true);
    {
        let i = s.instance.read().unwrap();
        assert!(i.registered && i.fn_serial == STORE_FN_SERIAL);
    }

    assert_eq!(
        call(&s, Method::GET, "/api/v1/instances/info/00107700000000", None).await.0,
        StatusCode::NOT_FOUND
    );
    let del = format!("/api/v1/tspiot/{STORE_KKT_SERIAL}");
    let (st, gone) = call(&s, Method::DELETE, &del, None).await;
    assert_eq!((st, &gone["id"]), (StatusCode::OK, &json!(STORE_KKT_SERIAL)));
    assert_eq!(call(&s, Method::DELETE, &del, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&s, Method::GET, "/api/v1/instances/info", None).await.1, json!({ "instances": [] }));
    let i = s.instance.read().unwrap();
    assert!(!i.registered && i.ports.is_none() && i.tspiot_id == TSPIOT_ID);
}

#[tokio::test]
async fn registration_refusals() {
    let s = state(InstanceInfo::unconfigured(TSPIOT_ID));
    let create = json!({ "id": STORE_KKT_SERIAL });
    assert_eq!(send(&s, Method::POST, "/api/v1/tspiot", create).await.0, StatusCode::CREATED);
    let cases = [
        (
            json!({ "id": STORE_KKT_SERIAL, "kktSerial": "0010770000004", "fnSerial": STORE_FN_SERIAL, "kktInn": STORE_INN }),
            400,
            "kktSerial must be 14 digits",
        ),
        (
            json!({ "id": STORE_KKT_SERIAL, "kktSerial": "00107700000059", "fnSerial": OTHER_FN_SERIAL, "kktInn": OTHER_INN }),
            400,
            "is bound to KKT",
        ),
        (registration(STORE_KKT_SERIAL, "738044070000012X", STORE_INN), 400, "fnSerial must be 16 digits"),
        (registration(STORE_KKT_SERIAL, STORE_FN_SERIAL, "770100001"), 400, "kktInn"),
        (registration(STORE_KKT_SERIAL, "7380440700009999", STORE_INN), 400, "not known"),
        (registration(STORE_KKT_SERIAL, OTHER_FN_SERIAL, OTHER_INN), 400, "installed in KKT"),
        (registration(STORE_KKT_SERIAL, STORE_FN_SERIAL, OTHER_INN), 403, "another INN"),
        (json!({ "kktSerial": STORE_KKT_SERIAL, "fnSerial": STORE_FN_SERIAL }), 400, "kktInn"),
        (
            json!({ "id": "00107700000059", "kktSerial": "00107700000059", "fnSerial": OTHER_FN_SERIAL, "kktInn": OTHER_INN }),
            404,
            "no ТС ПИоТ instance",
        ),
    ];
    for (body, status, text) in cases {
        let (st, b) = send(&s, Method::PUT, "/api/v1/tspiot", body.clone()).await;
        assert_eq!(st.as_u16(), status, "{body}: {b}");
        assert_eq!(b["code"].as_u64(), Some(u64::from(status)), "{b}");
        assert!(b["message"].as_str().unwrap().contains(text), "{body}: {b}");
    }
    assert!(!s.instance.read().unwrap().registered);

    // A ФН that is not registered for marked goods (its own KKT, the store's INN).
    let s = state(InstanceInfo::unconfigured(TSPIOT_ID));
    send(&s, Method::POST, "/api/v1/tspiot", json!({ "id": "00107700000066" })).await;
    let (st, b) = send(
        &s,
        Method::PUT,
        "/api/v1/tspiot",
        registration("00107700000066", NON_MARKING_FN_SERIAL, STORE_INN),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{b}");
    assert!(b["message"].as_str().unwrap().contains("marked goods"));
}

#[tokio::test]
async fn settings_and_lm_binding() {
    let drive = default_world(0).unwrap().fiscal_drive(STORE_FN_SERIAL).unwrap().clone();
    let s = state(InstanceInfo::registered(TSPIOT_ID, &drive));
    let path = format!("/api/v1/settings/{STORE_KKT_SERIAL}");
    let (st, defaults) = call(&s, Method::GET, &path, None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        defaults,
        json!({"compatibilityMode":true,"allowRemoteConnection":true,"gismtAddress":"","cdnCodesCheckTimeout":1500,
               "cdnHealthCheckTimeout":2000,"httpProxyType":"","httpProxyHost":"","httpProxyPort":0})
    );
    let (st, updated) = send(
        &s,
        Method::PUT,
        &path,
        json!({ "cdnCodesCheckTimeout": 1200, "httpProxyHost": "proxy", "unknown": 1 }),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (updated["cdnCodesCheckTimeout"].as_u64(), updated["cdnHealthCheckTimeout"].as_u64()),
        (Some(1200), Some(2000))
    );
    assert_eq!(updated["httpProxyHost"], "proxy");
    assert_eq!(call(&s, Method::GET, &path, None).await.1, updated);
    assert_eq!(s.instance.read().unwrap().settings.cdn_codes_check_timeout, 1200);
    for bad in [
        json!({ "cdnCodesCheckTimeout": 0 }),
        json!({ "httpProxyPort": 70000 }),
        json!({ "compatibilityMode": "yes" }),
        json!([]),
    ] {
        assert_eq!(send(&s, Method::PUT, &path, bad.clone()).await.0, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(call(&s, Method::GET, "/api/v1/settings/00107700000000", None).await.0, StatusCode::NOT_FOUND);

    let lm_path = format!("/api/v1/settings/lm/{STORE_KKT_SERIAL}");
    let binding = json!({ "address": "127.0.0.1", "port": 50063, "login": "admin", "password": "s3cret" });
    let (st, answer) = send(&s, Method::PUT, &lm_path, binding).await;
    assert_eq!(
        (st, answer),
        (StatusCode::OK, json!({ "address": "127.0.0.1", "port": 50063, "login": "admin" }))
    );
    let lm = s.instance.read().unwrap().lm.clone().unwrap();
    assert_eq!((lm.port, lm.password.as_str()), (50063, "s3cret"));
    for bad in [
        json!({ "address": "", "port": 1, "login": "a", "password": "b" }),
        json!({ "address": "h", "port": 0, "login": "a", "password": "b" }),
        json!({ "address": "h", "port": 1 }),
    ] {
        assert_eq!(send(&s, Method::PUT, &lm_path, bad.clone()).await.0, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(
        send(
            &s,
            Method::PUT,
            "/api/v1/settings/lm/1",
            json!({ "address": "h", "port": 1, "login": "a", "password": "b" })
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn dkkt_list_shows_the_worlds_fiscal_drives() {
    let s = state(InstanceInfo::default());
    let (st, list) = call(&s, Method::GET, "/api/v1/dkktList", None).await;
    assert_eq!(st, StatusCode::OK);
    let entries = list["dkktList"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert!(entries.contains(&json!({
        "kktSerial": STORE_KKT_SERIAL, "fnSerial": STORE_FN_SERIAL, "kktInn": STORE_INN, "marking": true
    })));
}

#[tokio::test]
async fn malformed_input_gets_a_4xx_json_body() {
    let drive = default_world(0).unwrap().fiscal_drive(STORE_FN_SERIAL).unwrap().clone();
    let s = state(InstanceInfo::registered(TSPIOT_ID, &drive));
    let bodies: [&[u8]; 8] = [
        b"",
        b"{",
        b"null",
        b"[]",
        b"\"x\"",
        br#"{"id":[],"compatibilityMode":1,"address":7}"#,
        b"\xff\xfe",
        br#"{"httpProxyPort":-1,"port":-1,"id":5}"#,
    ];
    let routes = [
        (Method::POST, "/api/v1/tspiot".to_string()),
        (Method::PUT, "/api/v1/tspiot".to_string()),
        (Method::PUT, format!("/api/v1/settings/{STORE_KKT_SERIAL}")),
        (Method::PUT, format!("/api/v1/settings/lm/{STORE_KKT_SERIAL}")),
        (Method::PUT, "/api/v1/settings/%FF%FE".to_string()),
        (Method::DELETE, "/api/v1/tspiot/%FF".to_string()),
    ];
    for (method, path) in &routes {
        for body in bodies {
            let (st, b) = call(&s, method.clone(), path, Some(body)).await;
            assert!(st.is_client_error(), "{method} {path} {body:?}: {st}");
            assert!(b["code"].is_u64() && b["message"].is_string(), "{method} {path}: {b}");
        }
    }
    let (st, b) = call(&s, Method::GET, "/api/v1/nowhere", None).await;
    assert_eq!((st, b["code"].as_u64()), (StatusCode::NOT_FOUND, Some(404)));
    let (st, b) = call(&s, Method::PATCH, "/api/v1/tspiot", None).await;
    assert_eq!((st, b["code"].as_u64()), (StatusCode::METHOD_NOT_ALLOWED, Some(405)));
    assert!(s.instance.read().unwrap().registered, "nothing malformed changed the instance");
}
