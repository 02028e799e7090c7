//! `markcert serve` as a process: it writes the endpoints file once listening, answers on loopback,
//! applies the X-API-KEY cut-off, and exits cleanly on SIGTERM with the trace file complete.

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// The child is returned to the caller, which reaps it in `terminate`; every early exit here kills and
// waits for it. Clippy cannot follow the returned handle.
#[allow(clippy::zombie_processes)]
fn start(dir: &Path, extra: &[&str]) -> (Child, Value) {
    let endpoints = dir.join("endpoints.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_markcert"))
        .arg("serve")
        .arg("--endpoints-file")
        .arg(&endpoints)
        .arg("--trace-file")
        .arg(dir.join("trace.ndjson"))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn markcert serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&endpoints) {
            match serde_json::from_str(&text) {
                Ok(v) => return (child, v),
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("endpoints file is not JSON: {e}: {text}");
                }
            }
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no endpoints file within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn terminate(mut child: Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "serve did not exit within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("markcert-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn first_code() -> String {
    // A code of the default world: generated deterministically, so ask the library for it.
    let w = markcert_emulators::world::default::default_world(0).unwrap();
    w.codes().into_iter().find(|c| c.case.as_deref() == Some("in-circulation")).unwrap().code.clone()
}

#[tokio::test]
async fn serve_writes_endpoints_answers_and_exits_on_sigterm() {
    let dir = tempdir("ok");
    let (child, endpoints) = start(&dir, &["--cdn-hosts", "2", "--xapikey-cutoff", "2100-01-01T00:00:00Z"]);
    let hosts = endpoints["true_api"]["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 2);
    for url in hosts.iter().chain([&endpoints["true_api"]["discovery"]]) {
        assert!(url.as_str().unwrap().starts_with("http://127.0.0.1:"), "loopback by default: {url}");
    }
    let key = endpoints["true_api"]["api_key"].as_str().unwrap();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v4/true-api/codes/check", hosts[0].as_str().unwrap()))
        .header("X-API-KEY", key)
        .json(&json!({ "codes": [first_code()] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let req_id = v["reqId"].as_str().unwrap().to_string();
    assert_eq!(v["codes"][0]["found"], true);

    // The ЛМ ЧЗ starts ready (initialised and synced) and answers with Basic auth.
    let lm = &endpoints["local_module"];
    let lm_url = lm["url"].as_str().unwrap();
    assert!(lm_url.starts_with("http://127.0.0.1:"));
    let (login, password) = (lm["login"].as_str().unwrap(), lm["password"].as_str().unwrap());
    let st: Value = http
        .get(format!("{lm_url}/api/v1/status"))
        .basic_auth(login, Some(password))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["status"], "ready");
    let r = http
        .post(format!("{lm_url}/api/v1/cis/outCheck"))
        .basic_auth(login, Some(password))
        .json(&json!({ "cis_list": [first_code()] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["codes"][0]["isBlocked"], false);
    assert_eq!(v["inst"], st["inst"]);

    // The control API drives the same world and faults: list sold milk, then break CDN host 1.
    let control = endpoints["control"].as_str().unwrap();
    let sold: Value = http
        .get(format!("{control}/world/codes?state=sold&group=milk"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sold = sold.as_array().unwrap();
    assert!(!sold.is_empty() && sold.iter().all(|c| c["state"] == "sold" && c["group"] == "milk"));
    let rule = json!({ "target": { "host": "cdn-1" }, "fault": { "kind": "status", "status": 503 } });
    assert!(http.post(format!("{control}/faults")).json(&rule).send().await.unwrap().status().is_success());
    let r = http
        .post(format!("{}/api/v4/true-api/codes/check", hosts[0].as_str().unwrap()))
        .header("X-API-KEY", key)
        .json(&json!({ "codes": [first_code()] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "the fault set through the control API is applied");

    // The ТС ПИоТ answers a POS (the fault on cdn-1 only makes it use another host).
    let t = &endpoints["tspiot"];
    let b64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(first_code())
    };
    let client_info =
        json!({ "name": "test", "version": "1", "id": t["client_id"], "token": t["client_token"] });
    let r = http
        .post(format!("{}/api/v2/codes/check", t["url"].as_str().unwrap()))
        .json(&json!({ "codes": [b64], "client_info": client_info }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["codesResponse"][0]["codes"][0]["cis"], first_code());

    // The KKT takes an ATOL request for its ФН's marking state; the control API shows its state.
    let k = &endpoints["kkt"];
    assert_eq!(k["device_id"], "default");
    assert_eq!(k["fn_serial"].as_str().unwrap().len(), 16);
    let kkt = k["url"].as_str().unwrap();
    let task = json!({ "uuid": "serve-1", "request": [{ "type": "checkImcWorkState" }] });
    let r = http.post(format!("{kkt}/api/v2/requests")).json(&task).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let mut results = Value::Null;
    for _ in 0..200 {
        results =
            http.get(format!("{kkt}/api/v2/requests/serve-1")).send().await.unwrap().json().await.unwrap();
        if results["results"][0]["status"] == "ready" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(results["results"][0]["status"], "ready", "{results}");
    assert_eq!(results["results"][0]["result"]["fm"]["status"], "noImcForCheck", "{results}");
    let state: Value = http.get(format!("{control}/kkt/state")).send().await.unwrap().json().await.unwrap();
    assert_eq!(state["registration"]["fn_serial"], k["fn_serial"], "{state}");

    let status = terminate(child);
    assert!(status.success(), "clean exit: {status:?}");
    let trace = std::fs::read_to_string(dir.join("trace.ndjson")).unwrap();
    assert!(trace.lines().any(|l| l.contains(&req_id)), "the check is in the trace file");
    assert!(trace.lines().any(|l| l.contains("local-module") && l.contains("outCheck")), "ЛМ calls traced");
}

#[tokio::test]
async fn serve_can_start_the_local_module_not_configured() {
    let dir = tempdir("lm-fresh");
    let (child, endpoints) = start(&dir, &["--cdn-hosts", "1", "--lm-state", "not-configured", "--no-kkt"]);
    assert!(endpoints.get("kkt").is_none(), "--no-kkt leaves the KKT out: {endpoints}");
    let lm_url = endpoints["local_module"]["url"].as_str().unwrap();
    let r = reqwest::Client::new()
        .post(format!("{lm_url}/api/v2/cis/outCheck"))
        .basic_auth("admin", Some("admin"))
        .json(&json!({ "cis_list": [{ "cis": first_code() }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errorCode"], 4045);
    assert!(terminate(child).success());
}

#[tokio::test]
async fn serve_refuses_x_api_key_after_the_default_cut_off() {
    // The world clock follows real time; the spec's default cut-off is 2026-10-01 MSK.
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let dir = tempdir("cutoff");
    let (child, endpoints) = start(&dir, &["--cdn-hosts", "1"]);
    let key = endpoints["true_api"]["api_key"].as_str().unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/api/v4/true-api/codes/check", endpoints["true_api"]["hosts"][0].as_str().unwrap()))
        .header("X-API-KEY", key)
        .json(&json!({ "codes": [first_code()] }))
        .send()
        .await
        .unwrap();
    let want = if now_ms >= markcert_emulators::cdn::DEFAULT_XAPIKEY_CUTOFF_MS { 401 } else { 200 };
    assert_eq!(r.status().as_u16(), want);
    assert!(terminate(child).success());
}

#[tokio::test]
async fn serve_can_put_the_tspiot_behind_https_and_writes_its_certificate() {
    let dir = tempdir("tls");
    let (child, endpoints) = start(&dir, &["--cdn-hosts", "1", "--tspiot-tls"]);
    let t = &endpoints["tspiot"];
    assert!(t["url"].as_str().unwrap().starts_with("https://127.0.0.1:"), "{t}");
    let pem_path = t["ca_pem"].as_str().unwrap();
    assert_eq!(std::path::Path::new(pem_path), dir.join("tspiot-ca.pem"));
    let pem = std::fs::read_to_string(pem_path).unwrap();
    assert!(pem.contains("BEGIN CERTIFICATE") && !pem.contains("PRIVATE KEY"), "only the certificate");
    assert!(terminate(child).success());
}
