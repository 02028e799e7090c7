//! Adapter protocol v1: message JSON snapshots, the checked-in JSON Schema, the reply parser
//! (including a property test that arbitrary SUT output never panics), the stdio transport against
//! fake SUTs written in Python, and the HTTP transport against an axum server.

use std::time::Duration;

use markcert::adapter::protocol::{
    self, BatchScan, CancelReceipt, CloseReceipt, Decision, Empty, Endpoints, ErrorReply, Init, InitOk, Item,
    Items, KktEndpoint, LocalModuleEndpoint, Message, Mode, OpenReceipt, Payment, PaymentMethod, Product,
    Reason, ReceiptClosed, ReceiptKind, Reply, ReplyBody, Request, Role, Scan, ScanBatch, Shutdown,
    TrueApiEndpoints, TsPiotEndpoint,
};
use markcert::adapter::{AdapterClient, HttpAdapter, StdioAdapter, StdioOptions, Timeouts, ViolationKind};
use proptest::prelude::*;

fn endpoints() -> Endpoints {
    Endpoints {
        true_api: TrueApiEndpoints {
            discovery: "http://127.0.0.1:4001".into(),
            hosts: vec!["http://127.0.0.1:4002".into(), "http://127.0.0.1:4003".into()],
            api_key: Some("key-1".into()),
        },
        local_module: LocalModuleEndpoint {
            url: "http://127.0.0.1:5995".into(),
            login: "admin".into(),
            password: "admin".into(),
        },
        control: "http://127.0.0.1:4000".into(),
        tspiot: Some(TsPiotEndpoint {
            url: "http://127.0.0.1:4010".into(),
            admin: "http://127.0.0.1:4011".into(),
            client_id: Some("pos-1".into()),
            client_token: Some("token-1".into()),
            ca_pem: None,
        }),
        kkt: Some(KktEndpoint {
            url: "http://127.0.0.1:16732".into(),
            device_id: "kkt-1".into(),
            fn_serial: "7380440700000001".into(),
            kkt_serial: "00106700000001".into(),
        }),
    }
}

fn init() -> Request {
    Request::Init(Init {
        protocol_version: protocol::PROTOCOL_VERSION,
        role: Role::Pos,
        lane: "lane-1".into(),
        endpoints: endpoints(),
        mode: Mode::Tspiot,
        store_inn: "7700000001".into(),
    })
}

fn scan() -> Request {
    Request::Scan(Scan {
        lane: "lane-1".into(),
        scan_b64: "MDEwNDYwNzQyODc1ODg4NDIxNUh2J2ZWHTkzZEdWbQ==".into(),
        product: Product {
            name: "Молоко 3,2% 1 л".into(),
            price_kopecks: 8990,
            vat: "vat10".into(),
            measure: "piece".into(),
        },
        quantity: 1.0,
        fraction: None,
    })
}

fn scan_batch() -> Request {
    let Request::Scan(one) = scan() else { unreachable!() };
    let item = |scan_b64: &str| BatchScan {
        scan_b64: scan_b64.into(),
        product: one.product.clone(),
        quantity: 1.0,
        fraction: None,
    };
    Request::ScanBatch(ScanBatch {
        lane: "lane-1".into(),
        scans: vec![item(&one.scan_b64), item("MDEwNDYxMjM0NTAwMDQzODIxNWFaO3EwHTkzSm00dA==")],
    })
}

fn all_requests() -> Vec<Request> {
    vec![
        init(),
        Request::OpenReceipt(OpenReceipt { lane: "lane-1".into(), kind: ReceiptKind::Sale }),
        scan(),
        scan_batch(),
        Request::CloseReceipt(CloseReceipt {
            lane: "lane-1".into(),
            payment: Payment { method: PaymentMethod::Electronic, amount_kopecks: 8990 },
        }),
        Request::CancelReceipt(CancelReceipt { lane: "lane-1".into() }),
        Request::Shutdown(Shutdown {}),
    ]
}

fn all_replies() -> Vec<Reply> {
    let r = |id, body| Reply { in_reply_to: Some(id), body };
    vec![
        r(
            1,
            ReplyBody::InitOk(InitOk {
                name: "example-pos".into(),
                version: "1.0.0".into(),
                features: vec!["tspiot".into(), "returns".into()],
                tspiot_url: None,
            }),
        ),
        r(2, ReplyBody::ReceiptOpened(Empty {})),
        r(3, ReplyBody::Item(Item { decision: Decision::Accepted, reason: None, message: None })),
        r(
            3,
            ReplyBody::Item(Item {
                decision: Decision::Rejected,
                reason: Some(Reason::Expired),
                message: Some("Товар просрочен".into()),
            }),
        ),
        r(
            4,
            ReplyBody::Items(Items {
                items: vec![
                    Item { decision: Decision::Accepted, reason: None, message: None },
                    Item {
                        decision: Decision::Rejected,
                        reason: Some(Reason::Sold),
                        message: Some("Товар уже продан".into()),
                    },
                ],
            }),
        ),
        r(5, ReplyBody::ReceiptClosed(ReceiptClosed { fiscal_document_number: 17 })),
        r(6, ReplyBody::ReceiptCancelled(Empty {})),
        r(7, ReplyBody::ShutdownOk(Empty {})),
        Reply {
            in_reply_to: None,
            body: ReplyBody::Error(ErrorReply {
                code: "not_supported".into(),
                text: "returns are not implemented".into(),
            }),
        },
    ]
}

#[test]
fn snapshot_requests() {
    let msgs: Vec<Message> =
        all_requests().into_iter().enumerate().map(|(i, body)| Message { id: i as u64 + 1, body }).collect();
    insta::assert_json_snapshot!("requests", msgs);
    for m in &msgs {
        let text = serde_json::to_string(m).unwrap();
        let back: Message = serde_json::from_str(&text).unwrap();
        assert_eq!(&back, m, "round trip of {text}");
    }
}

#[test]
fn snapshot_replies() {
    let replies = all_replies();
    insta::assert_json_snapshot!("replies", replies);
    for r in &replies {
        let text = serde_json::to_string(r).unwrap();
        let back: Reply = serde_json::from_str(&text).unwrap();
        assert_eq!(&back, r, "round trip of {text}");
    }
}

#[test]
fn outgoing_messages_are_strict() {
    let extra = r#"{"id":1,"type":"cancel_receipt","lane":"l","surprise":1}"#;
    assert!(serde_json::from_str::<Message>(extra).is_err());
}

#[test]
fn endpoints_mirror_serve_output() {
    let e = endpoints();
    let v = serde_json::to_value(&e).unwrap();
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["control", "kkt", "local_module", "true_api", "tspiot"]);
}

#[test]
fn schema_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/schemas/adapter-protocol-v1.schema.json");
    let fresh = serde_json::to_string_pretty(&protocol::json_schema()).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
        std::fs::write(path, &fresh).unwrap();
        return;
    }
    let current = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        current == fresh,
        "docs/schemas/adapter-protocol-v1.schema.json is out of date with the Rust types; \
         regenerate it with `UPDATE_SCHEMAS=1 cargo test -p markcert --test adapter_protocol`"
    );
}

fn parse(line: &str, id: u64, req: &Request) -> Result<Reply, ViolationKind> {
    protocol::parse_reply(line.as_bytes(), id, req)
}

#[test]
fn parse_reply_accepts_extra_fields_and_error_without_in_reply_to() {
    let r = parse(r#"{"type":"item","in_reply_to":3,"decision":"accepted","debug":{"x":1}}"#, 3, &scan())
        .unwrap();
    assert!(matches!(r.body, ReplyBody::Item(Item { decision: Decision::Accepted, .. })));
    let r = parse(r#"{"type":"error","code":"internal","text":"boom"}"#, 3, &scan()).unwrap();
    assert!(matches!(r.body, ReplyBody::Error(_)));
}

#[test]
fn parse_reply_violations() {
    let s = scan();
    let code = |line: &str| parse(line, 3, &s).unwrap_err().code();
    assert_eq!(code("hello"), "not_json");
    assert_eq!(code("[1,2]"), "not_an_object");
    assert_eq!(code(r#"{"in_reply_to":3}"#), "missing_type");
    assert_eq!(code(r#"{"type":"frobnicate","in_reply_to":3}"#), "unknown_type");
    assert_eq!(code(r#"{"type":"item","decision":"accepted"}"#), "missing_in_reply_to");
    assert_eq!(code(r#"{"type":"item","in_reply_to":2,"decision":"accepted"}"#), "wrong_in_reply_to");
    assert_eq!(
        code(r#"{"type":"init_ok","in_reply_to":3,"name":"a","version":"1"}"#),
        "unexpected_reply_type"
    );
    assert_eq!(code(r#"{"type":"item","in_reply_to":3,"decision":"maybe"}"#), "malformed");
    assert_eq!(code(r#"{"type":"item","in_reply_to":3,"decision":"rejected"}"#), "malformed");
    assert_eq!(
        code(r#"{"type":"item","in_reply_to":3,"decision":"rejected","reason":"cosmic_rays"}"#),
        "malformed"
    );
    // `items` to `scan_batch`: one per scan, each rejection with its reason; `item` is not the answer.
    let b = scan_batch();
    let batch = |line: &str| parse(line, 4, &b);
    let ok = batch(r#"{"type":"items","in_reply_to":4,"items":[{"decision":"accepted"},{"decision":"rejected","reason":"sold"}]}"#)
        .unwrap();
    assert!(matches!(&ok.body, ReplyBody::Items(Items { items }) if items.len() == 2));
    let err = batch(r#"{"type":"items","in_reply_to":4,"items":[{"decision":"accepted"}]}"#).unwrap_err();
    assert_eq!(err.code(), "malformed");
    assert!(err.to_string().contains("1 item(s) for a batch of 2 scans"), "{err}");
    let err = batch(
        r#"{"type":"items","in_reply_to":4,"items":[{"decision":"accepted"},{"decision":"rejected"}]}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("item 2 of `items` is rejected without a `reason`"), "{err}");
    assert_eq!(batch(r#"{"type":"items","in_reply_to":4}"#).unwrap_err().code(), "malformed");
    assert_eq!(
        batch(r#"{"type":"item","in_reply_to":4,"decision":"accepted"}"#).unwrap_err().code(),
        "unexpected_reply_type"
    );
    assert_eq!(code(r#"{"type":"items","in_reply_to":3,"items":[]}"#), "unexpected_reply_type");
    // `item` to `init`
    assert_eq!(
        parse(r#"{"type":"item","in_reply_to":1,"decision":"accepted"}"#, 1, &init()).unwrap_err().code(),
        "unexpected_reply_type"
    );
}

proptest! {
    #[test]
    fn parse_reply_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256), id in 0u64..5) {
        let _ = protocol::parse_reply(&bytes, id, &scan());
    }

    #[test]
    fn parse_reply_never_panics_on_jsonish(
        ty in prop_oneof![Just("item".to_string()), Just("init_ok".to_string()), Just("error".to_string()), Just("receipt_closed".to_string()), "[a-z_]{0,12}"],
        irt in prop_oneof![Just("3".to_string()), Just("-1".to_string()), Just("null".to_string()), Just("1e40".to_string()), "[0-9]{1,25}"],
        extra in "[ -~]{0,40}",
    ) {
        let line = format!(r#"{{"type":"{ty}","in_reply_to":{irt},"decision":"rejected","reason":"{extra}","fiscal_document_number":{irt},"name":"{extra}"}}"#);
        match protocol::parse_reply(line.as_bytes(), 3, &scan()) {
            Ok(r) => prop_assert!(matches!(r.body, ReplyBody::Item(_) | ReplyBody::Error(_))),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

// ---- stdio transport -------------------------------------------------------------------------

fn has_python() -> bool {
    std::process::Command::new("python3").arg("--version").output().is_ok()
}

/// A fake SUT: `python3 -c SCRIPT`; `behaviour` is Python code run for each request `m`
/// (a dict) with `reply(obj)` and `sys` in scope.
async fn fake_sut(behaviour: &str, timeouts: Timeouts) -> StdioAdapter {
    let script = format!(
        "import sys, json\n\
         def reply(o):\n    sys.stdout.write(json.dumps(o) + '\\n'); sys.stdout.flush()\n\
         for line in sys.stdin:\n    m = json.loads(line)\n{}\n",
        behaviour.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
    );
    StdioAdapter::spawn(
        "python3",
        &["-u".into(), "-c".into(), script],
        StdioOptions { timeouts, ..StdioOptions::default() },
    )
    .await
    .unwrap()
}

const GOOD: &str = r#"t = m['type']
if t == 'init':
    sys.stderr.write('init for lane %s\n' % m['lane']); sys.stderr.flush()
    reply({'type': 'init_ok', 'in_reply_to': m['id'], 'name': 'fake', 'version': '0', 'features': ['tspiot'], 'extra': True})
elif t == 'open_receipt':
    reply({'type': 'receipt_opened', 'in_reply_to': m['id']})
elif t == 'scan':
    reply({'type': 'item', 'in_reply_to': m['id'], 'decision': 'rejected', 'reason': 'expired', 'message': 'old milk'})
elif t == 'scan_batch':
    reply({'type': 'items', 'in_reply_to': m['id'], 'items': [{'decision': 'accepted'} for _ in m['scans']]})
elif t == 'close_receipt':
    reply({'type': 'receipt_closed', 'in_reply_to': m['id'], 'fiscal_document_number': 42})
elif t == 'cancel_receipt':
    reply({'type': 'error', 'code': 'not_supported', 'text': 'no cancel'})
elif t == 'shutdown':
    reply({'type': 'shutdown_ok', 'in_reply_to': m['id']})
    break"#;

fn quick() -> Timeouts {
    Timeouts { startup: Duration::from_secs(10), step: Duration::from_secs(5) }
}

#[tokio::test]
async fn stdio_good_exchange() {
    if !has_python() {
        return;
    }
    let mut sut = fake_sut(GOOD, quick()).await;
    let mut bodies = Vec::new();
    for req in all_requests() {
        let r = sut.request(req).await.unwrap();
        bodies.push(r.body.type_name());
    }
    assert_eq!(
        bodies,
        ["init_ok", "receipt_opened", "item", "items", "receipt_closed", "error", "shutdown_ok"]
    );
    let status = sut.finish(Duration::from_secs(5)).await;
    assert!(status.contains("exit status: 0"), "{status}");
}

#[tokio::test]
async fn stdio_init_ok_carries_features_and_stderr_is_kept() {
    if !has_python() {
        return;
    }
    let mut sut = fake_sut(GOOD, quick()).await;
    let r = sut.request(init()).await.unwrap();
    let ReplyBody::InitOk(ok) = r.body else { panic!("{r:?}") };
    assert_eq!(ok.features, ["tspiot"]);
    // The stderr reader runs beside the reply: wait for it (bounded).
    for _ in 0..200 {
        if !sut.stderr_tail().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sut.stderr_tail(), ["init for lane lane-1"]);
}

async fn violation_of(behaviour: &str, timeouts: Timeouts) -> markcert::adapter::ProtocolViolation {
    let mut sut = fake_sut(behaviour, timeouts).await;
    sut.request(init()).await.unwrap_err()
}

#[tokio::test]
async fn stdio_garbage_output() {
    if !has_python() {
        return;
    }
    let v = violation_of(
        "sys.stderr.write('about to print garbage\\n'); sys.stderr.flush()\nprint('Hello from POS!', flush=True)",
        quick(),
    )
    .await;
    assert_eq!(v.kind.code(), "not_json");
    let text = v.to_string();
    assert!(text.contains("docs/adapter-protocol.md#messages"), "{text}");
    assert!(text.contains("Hello from POS!"), "{text}");
    assert!(text.contains("about to print garbage"), "{text}");
    assert!(text.contains("request init #1"), "{text}");
}

#[tokio::test]
async fn stdio_missing_in_reply_to() {
    if !has_python() {
        return;
    }
    let v = violation_of("reply({'type': 'init_ok', 'name': 'x', 'version': '1', 'features': []})", quick())
        .await;
    assert_eq!(v.kind.code(), "missing_in_reply_to");
}

#[tokio::test]
async fn stdio_wrong_in_reply_to() {
    if !has_python() {
        return;
    }
    let v = violation_of(
        "reply({'type': 'init_ok', 'in_reply_to': m['id'] + 7, 'name': 'x', 'version': '1'})",
        quick(),
    )
    .await;
    assert_eq!(v.kind, ViolationKind::WrongInReplyTo { expected: 1, got: "8".into() });
}

#[tokio::test]
async fn stdio_item_to_init() {
    if !has_python() {
        return;
    }
    let v = violation_of("reply({'type': 'item', 'in_reply_to': m['id'], 'decision': 'accepted'})", quick())
        .await;
    assert_eq!(v.kind.code(), "unexpected_reply_type");
}

#[tokio::test]
async fn stdio_timeout() {
    if !has_python() {
        return;
    }
    let t = Timeouts { startup: Duration::from_millis(300), step: Duration::from_millis(300) };
    let v = violation_of("import time\ntime.sleep(30)", t).await;
    assert_eq!(v.kind, ViolationKind::Timeout { phase: "start-up", after: Duration::from_millis(300) });
    assert!(v.to_string().contains("#timeouts"));
}

#[tokio::test]
async fn stdio_step_timeout_after_init() {
    if !has_python() {
        return;
    }
    let t = Timeouts { startup: Duration::from_secs(10), step: Duration::from_millis(300) };
    let mut sut = fake_sut(
        "if m['type'] == 'init':\n    reply({'type': 'init_ok', 'in_reply_to': m['id'], 'name': 'x', 'version': '1'})",
        t,
    )
    .await;
    sut.request(init()).await.unwrap();
    let v = sut.request(scan()).await.unwrap_err();
    assert!(matches!(v.kind, ViolationKind::Timeout { phase: "step", .. }), "{v}");
    assert_eq!(v.request.as_deref(), Some("scan #2"));
}

#[tokio::test]
async fn stdio_crash_with_stderr() {
    if !has_python() {
        return;
    }
    let v = violation_of("raise RuntimeError('KKT driver not found')", quick()).await;
    let ViolationKind::Exited { status } = &v.kind else { panic!("{v}") };
    assert!(status.contains("exit status: 1"), "{status}");
    let text = v.to_string();
    assert!(text.contains("RuntimeError: KKT driver not found"), "{text}");
    assert!(text.contains("Traceback"), "{text}");
}

#[tokio::test]
async fn stdio_spawn_failure_is_typed() {
    let err = StdioAdapter::spawn_command_line("/nonexistent/markcert-sut --x", StdioOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind.code(), "spawn");
    let err = StdioAdapter::spawn_command_line("   ", StdioOptions::default()).await.unwrap_err();
    assert_eq!(err.kind.code(), "spawn");
}

#[tokio::test]
async fn stdio_stderr_copied_to_file() {
    if !has_python() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("markcert-adapter-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sut.stderr");
    let sut = StdioAdapter::spawn(
        "python3",
        &["-c".into(), "import sys\nsys.stderr.write('one\\ntwo\\n')\nsys.stdin.read()".into()],
        StdioOptions { stderr_file: Some(file.clone()), ..StdioOptions::default() },
    )
    .await
    .unwrap();
    // Wait (bounded) for the child to start and write: a loaded machine can take seconds.
    for _ in 0..200 {
        if sut.stderr_tail().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sut.stderr_tail(), ["one", "two"]);
    let _ = sut.finish(Duration::from_secs(5)).await;
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "one\ntwo\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn command_line_split() {
    use markcert::adapter::stdio::split_command_line;
    assert_eq!(
        split_command_line(r#"python3 "my pos.py" --name 'a b' x\ y """#),
        ["python3", "my pos.py", "--name", "a b", "x y", ""]
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    /// Arbitrary bytes written by a real child process: a typed error or a reply, never a panic.
    #[test]
    fn stdio_arbitrary_output_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if !has_python() {
            return Ok(());
        }
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let script = format!(
                "import sys\nsys.stdin.readline()\nsys.stdout.buffer.write(bytes.fromhex('{hex}'))\nsys.stdout.flush()"
            );
            let mut sut = StdioAdapter::spawn(
                "python3",
                &["-c".into(), script],
                StdioOptions { timeouts: Timeouts { startup: Duration::from_secs(5), step: Duration::from_secs(5) }, ..StdioOptions::default() },
            )
            .await
            .unwrap();
            let _ = sut.request(init()).await;
        });
    }
}

// ---- HTTP transport --------------------------------------------------------------------------

async fn http_sut() -> String {
    use axum::{http::StatusCode, routing::post, Json, Router};
    async fn handle(Json(m): Json<serde_json::Value>) -> (StatusCode, String) {
        let id = m["id"].as_u64().unwrap_or(0);
        let body = match m["type"].as_str().unwrap_or("") {
            "init" => serde_json::json!({"type":"init_ok","in_reply_to":id,"name":"http-pos","version":"2","features":["direct"]}).to_string(),
            "open_receipt" => serde_json::json!({"type":"receipt_opened","in_reply_to":id}).to_string(),
            "scan" => serde_json::json!({"type":"item","in_reply_to":id + 1,"decision":"accepted"}).to_string(),
            "cancel_receipt" => return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error".into()),
            "close_receipt" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                String::new()
            }
            _ => serde_json::json!({"type":"error","code":"not_supported","text":"nope"}).to_string(),
        };
        (StatusCode::OK, body)
    }
    let app = Router::new().route("/markcert", post(handle));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}/markcert")
}

#[tokio::test]
async fn http_exchange_and_violations() {
    let url = http_sut().await;
    let mut sut = HttpAdapter::new(
        &url,
        Timeouts { startup: Duration::from_secs(5), step: Duration::from_millis(300) },
    )
    .unwrap();
    let r = sut.request(init()).await.unwrap();
    assert_eq!(r.in_reply_to, Some(1));
    let ReplyBody::InitOk(ok) = r.body else { panic!() };
    assert_eq!(ok.name, "http-pos");
    let r = sut
        .request(Request::OpenReceipt(OpenReceipt { lane: "lane-1".into(), kind: ReceiptKind::Return }))
        .await
        .unwrap();
    assert_eq!(r.body.type_name(), "receipt_opened");
    let v = sut.request(scan()).await.unwrap_err();
    assert_eq!(v.kind.code(), "wrong_in_reply_to");
    let v = sut.request(Request::CancelReceipt(CancelReceipt { lane: "lane-1".into() })).await.unwrap_err();
    assert_eq!(v.kind.code(), "http_status");
    let v = sut
        .request(Request::CloseReceipt(CloseReceipt {
            lane: "lane-1".into(),
            payment: Payment { method: PaymentMethod::Cash, amount_kopecks: 100 },
        }))
        .await
        .unwrap_err();
    assert!(matches!(v.kind, ViolationKind::Timeout { phase: "step", .. }), "{v}");
    let r = sut.request(Request::Shutdown(Shutdown {})).await.unwrap();
    assert_eq!(r.body.type_name(), "error");
}

#[tokio::test]
async fn http_unreachable_is_transport_violation() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut sut = HttpAdapter::new(format!("http://{addr}/"), Timeouts::default()).unwrap();
    let v = sut.request(init()).await.unwrap_err();
    assert_eq!(v.kind.code(), "transport");
    assert!(v.to_string().contains("#transports"));
}
