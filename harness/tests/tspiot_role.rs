//! Role `tspiot` end to end: the harness plays the POS against a ТС ПИоТ under test — the emulated
//! reference (passes), its deliberate mutants (each caught by the checks every answer gets), and an
//! external implementation behind the adapter protocol (a Python ТС ПИоТ that answers 203 to
//! everything: its `init_ok` carries `tspiot_url`, and it fails where a real answer is due). Also the
//! validator's role rules (and the scan `fraction` field). Needs `python3`.

use markcert::runner::{run_scenario, Outcome, RunOptions, ScenarioResult, Sut};
use markcert::scenario::{load_str, Role, Scenario};

const CHECKS: &str = r#"
id = "t-inline"
title = "online v2 and v1, info, offline, bad base64"
level = "MUST"
roles = ["tspiot"]

[[steps]]
do = "check"
codes = [{ case = "in-circulation", group = "milk" }, { case = "in-circulation", group = "tobacco" }]
expect = { status = 200, offline = false }

[[steps]]
do = "check"
version = 1
codes = [{ case = "in-circulation", group = "milk" }]
expect = { status = 200, offline = false }

[[steps]]
do = "info"

[[steps]]
do = "set_fault"
rule = { name = "cdn down", target = { host = "cdn-*" }, fault = { kind = "host-down" } }

[[steps]]
do = "check"
codes = [{ case = "in-circulation", group = "milk" }]
expect = { status = 200, offline = true }

[[steps]]
do = "check"
raw = ["%%% not base64"]
expect = { status = 400 }

[[assert]]
that = "auth"
scheme = "bearer"
from_step = 1
endpoint = "/api/v4/true-api/codes/check"
"#;

fn scenario(text: &str) -> Scenario {
    load_str("inline.toml", text).unwrap()
}

fn run(s: &Scenario, sut: Sut) -> ScenarioResult {
    let opts = RunOptions { role: Role::Tspiot, timing_tolerance_ms: 1_000, ..RunOptions::new(sut) };
    tokio::runtime::Runtime::new().unwrap().block_on(run_scenario(s, &opts))
}

fn mutant(name: &str) -> Sut {
    Sut::EmulatedTspiot { mutant: Some(name.into()) }
}

fn failure_texts(r: &ScenarioResult) -> String {
    r.failures
        .iter()
        .map(|f| format!("{:?}: {} / {}", f.step, f.expected, f.actual))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_emulated_reference_passes_every_check() {
    let r = run(&scenario(CHECKS), Sut::EmulatedTspiot { mutant: None });
    assert_eq!(r.outcome, Outcome::Pass, "{r:#?}");
}

#[test]
fn mutants_are_caught_by_the_checks_every_answer_gets() {
    let s = scenario(CHECKS);
    for (name, step, needle) in [
        ("typed-passthrough", 1, "the True API's code object"),
        ("strip-gs-upstream", 1, "decoded code bytes"),
        ("v1-as-v2", 2, "v1 wrapping"),
        ("online-flags-offline", 5, "reqId of a True API answer"),
        ("accept-bad-base64", 6, "HTTP 400"),
        ("xapikey-after-cutoff", 1, "an online item"),
    ] {
        let r = run(&s, mutant(name));
        assert_eq!(r.outcome, Outcome::Fail, "{name}: {r:#?}");
        let hit = r.failures.iter().any(|f| f.step == Some(step) && f.expected.contains(needle));
        assert!(hit, "{name}: no failure at step {step} about {needle:?}:\n{}", failure_texts(&r));
    }
}

#[test]
fn an_unknown_mutant_is_a_setup_error() {
    let r = run(&scenario(CHECKS), mutant("no-such-defect"));
    assert_eq!(r.outcome, Outcome::Error);
    assert!(r.failures.iter().any(|f| f.message.contains("no-such-defect")), "{r:#?}");
}

/// A ТС ПИоТ behind the adapter protocol: it serves every check with 203 and its `/info` with the
/// wrong KKT serial.
const ALWAYS_EMERGENCY: &str = r#"import json, sys, threading
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.answer(203, {"code": 203, "message": "Аварийный режим", "details": []})
    def do_GET(self):
        self.answer(200, {"kktSerial": "00000000000000", "fnSerial": "0", "kktInn": "0", "codesCheckTimeout": "1800"})
srv = HTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
for line in sys.stdin:
    m = json.loads(line)
    if m["type"] == "init":
        assert m["role"] == "tspiot" and "true_api" in m["endpoints"]
        out = {"in_reply_to": m["id"], "type": "init_ok", "name": "always-203", "version": "0", "features": [],
               "tspiot_url": "http://127.0.0.1:%d" % srv.server_port}
    else:
        out = {"in_reply_to": m["id"], "type": "shutdown_ok"}
    print(json.dumps(out), flush=True)
    if m["type"] == "shutdown": break
"#;

#[test]
fn an_external_tspiot_behind_the_adapter_is_driven_and_judged() {
    let dir = std::env::temp_dir().join(format!("markcert-tspiot-role-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("always_203.py");
    std::fs::write(&script, ALWAYS_EMERGENCY).unwrap();
    let sut = Sut::Command(format!("python3 {}", script.display()));
    let r = run(&scenario(CHECKS), sut);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.outcome, Outcome::Fail, "{r:#?}");
    let texts = failure_texts(&r);
    assert!(texts.contains("Some(1): HTTP 200 / HTTP 203"), "{texts}");
    assert!(texts.contains("kktSerial"), "{texts}");
}

#[test]
fn the_validator_keeps_roles_apart() {
    let pos_step_in_tspiot = "id = \"x\"\ntitle = \"x\"\nlevel = \"MUST\"\nroles = [\"tspiot\"]\n\
                              [[steps]]\ndo = \"open\"\nkind = \"sale\"\n[[steps]]\ndo = \"cancel\"\n";
    let err = load_str("x.toml", pos_step_in_tspiot).unwrap_err().to_string();
    assert!(err.contains("drives a pos implementation"), "{err}");
    let check_in_pos =
        "id = \"x\"\ntitle = \"x\"\nlevel = \"MUST\"\n[[steps]]\ndo = \"check\"\nraw = [\"a\"]\n";
    let err = load_str("x.toml", check_in_pos).unwrap_err().to_string();
    assert!(err.contains("drives a tspiot implementation"), "{err}");
    let settings_of_the_sut =
        "id = \"x\"\ntitle = \"x\"\nlevel = \"MUST\"\nroles = [\"tspiot\"]\n[tspiot]\nlm_in_parallel = true\n\
         [[steps]]\ndo = \"info\"\n";
    let err = load_str("x.toml", settings_of_the_sut).unwrap_err().to_string();
    assert!(err.contains("implementation under test"), "{err}");
    let bad_version = "id = \"x\"\ntitle = \"x\"\nlevel = \"MUST\"\nroles = [\"tspiot\"]\n\
                       [[steps]]\ndo = \"check\"\nversion = 4\nraw = [\"a\"]\n";
    let err = load_str("x.toml", bad_version).unwrap_err().to_string();
    assert!(err.contains("versions 1, 2 and 3"), "{err}");
    let bad_patch = "id = \"x\"\ntitle = \"x\"\nlevel = \"MUST\"\n[lm]\nno_such = 1\n\
                     [[steps]]\ndo = \"advance_clock\"\nby = \"1m\"\n";
    let err = load_str("x.toml", bad_patch).unwrap_err().to_string();
    assert!(err.contains("lm:") && err.contains("no_such"), "{err}");
}

/// A ТС ПИоТ already running at a URL: it answers 203 when the True API discovery host is reachable at
/// the fixed port it was configured with (argv[1]), 500 when it is not.
const FIXED_UPSTREAM: &str = r#"import json, socket, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
upstream = int(sys.argv[1])
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            socket.create_connection(("127.0.0.1", upstream), timeout=1).close(); status = 203
        except OSError:
            status = 500
        data = json.dumps({"code": status, "message": "", "details": []}).encode()
        self.send_response(status); self.send_header("Content-Length", str(len(data))); self.end_headers()
        self.wfile.write(data)
srv = HTTPServer(("127.0.0.1", 0), H)
print(srv.server_port, flush=True)
srv.serve_forever()
"#;

#[test]
fn a_running_tspiot_at_a_url_finds_the_upstreams_on_their_fixed_ports() {
    use std::io::BufRead;
    let dir = std::env::temp_dir().join(format!("markcert-tspiot-url-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("fixed_upstream.py");
    std::fs::write(&script, FIXED_UPSTREAM).unwrap();
    // A port base unlikely to collide with other tests of this run.
    let base = 20_000 + (std::process::id() % 20_000) as u16;
    let mut child = std::process::Command::new("python3")
        .arg(&script)
        .arg(base.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = format!("http://127.0.0.1:{}", line.trim());
    let s = scenario(
        "id = \"t-url\"\ntitle = \"t\"\nlevel = \"MUST\"\nroles = [\"tspiot\"]\n\
         [[steps]]\ndo = \"check\"\ncodes = [{ case = \"in-circulation\", group = \"milk\" }]\nexpect = { status = 203 }\n",
    );
    let opts = RunOptions { role: Role::Tspiot, upstream_port: base, ..RunOptions::new(Sut::Url(url)) };
    let r = tokio::runtime::Runtime::new().unwrap().block_on(run_scenario(&s, &opts));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.outcome, Outcome::Pass, "{r:#?}");
}

#[test]
fn a_scan_fraction_is_read_as_n_over_m_and_needs_the_fractional_feature() {
    let base = "id = \"x\"\ntitle = \"x\"\nlevel = \"MUST\"\nfeatures = [FEATURES]\n[[steps]]\ndo = \"open\"\nkind = \"sale\"\n\
                [[steps]]\ndo = \"scan\"\ncode = { case = \"in-circulation\", group = \"milk\" }\nfraction = \"FRACTION\"\n\
                [[steps]]\ndo = \"cancel\"\n";
    let text =
        |features: &str, fraction: &str| base.replace("FEATURES", features).replace("FRACTION", fraction);
    assert!(load_str("x.toml", &text("\"fractional\"", "1/10")).is_ok());
    assert!(
        load_str("x.toml", &text("\"fractional\"", "10/10")).is_ok(),
        "n ≥ m is a stimulus (FRAC-N-LT-M)"
    );
    let err = load_str("x.toml", &text("", "1/10")).unwrap_err().to_string();
    assert!(err.contains("needs `fractional`"), "{err}");
    for bad in ["0/10", "1/0", "1.5/10", "half"] {
        let err = load_str("x.toml", &text("\"fractional\"", bad)).unwrap_err().to_string();
        assert!(err.contains("fraction"), "{bad}: {err}");
    }
}
