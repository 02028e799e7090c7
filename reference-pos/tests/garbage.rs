//! Garbage in, one well-formed reply out, never a panic: arbitrary bytes and JSON-shaped nonsense
//! before `init` (property tests), and after `init` against a real stack a catalogue of broken
//! messages — not JSON, wrong types, huge numbers, bad base64, impossible quantities, a line over the
//! size limit — after which the POS still sells.

mod common;

use common::{code, stack, Pos, MILK};
use markcert_reference_pos::{serve, Options};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Run `serve` over `lines` (joined with `\n`); the reply lines.
fn replies(lines: &[Vec<u8>]) -> Vec<Value> {
    let mut input = Vec::new();
    for l in lines {
        input.extend_from_slice(l);
        input.push(b'\n');
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut out = Vec::new();
    runtime
        .block_on(serve(&input[..], &mut out, Options { log: false, ..Options::default() }))
        .expect("serve ends cleanly");
    String::from_utf8(out)
        .expect("replies are UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("reply not JSON ({e}): {l:?}")))
        .collect()
}

fn non_blank(lines: &[Vec<u8>]) -> usize {
    lines.iter().filter(|l| !l.iter().all(u8::is_ascii_whitespace)).count()
}

/// JSON values biased toward the names the POS looks at (never a valid `init` or `shutdown`).
fn message() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("id".to_string()),
        Just("type".to_string()),
        Just("lane".to_string()),
        Just("scan_b64".to_string()),
        Just("product".to_string()),
        Just("price_kopecks".to_string()),
        Just("quantity".to_string()),
        Just("fraction".to_string()),
        Just("payment".to_string()),
        Just("kind".to_string()),
        Just("scans".to_string()),
        "[a-z_]{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("scan"),
            Just("scan_batch"),
            Just("open_receipt"),
            Just("close_receipt"),
            Just("cancel_receipt"),
            Just("sale"),
            Just("return"),
            Just("piece"),
            Just("cash"),
        ]
        .prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_get_one_error_reply_per_line(
        lines in proptest::collection::vec(proptest::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..200), 1..8)
    ) {
        let got = replies(&lines);
        prop_assert_eq!(got.len(), non_blank(&lines));
        for r in &got {
            prop_assert_eq!(&r["type"], "error", "{}", r);
            prop_assert!(r["code"].is_string() && r["text"].is_string());
        }
    }

    #[test]
    fn json_shaped_nonsense_gets_one_reply_per_line(msgs in proptest::collection::vec(message(), 1..8)) {
        let lines: Vec<Vec<u8>> = msgs.iter().map(|m| m.to_string().into_bytes()).collect();
        let got = replies(&lines);
        prop_assert_eq!(got.len(), lines.len());
        for (r, m) in got.iter().zip(&msgs) {
            prop_assert_eq!(&r["type"], "error", "{} → {}", m, r);
            if let Some(id) = m.get("id").and_then(Value::as_u64) {
                prop_assert_eq!(&r["in_reply_to"], &json!(id));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_messages_after_init_each_get_a_reply_and_the_pos_survives() {
    let stack = stack().await;
    let mut pos = Pos::start();
    pos.init(&stack, "tspiot").await;
    let (c, product) = code(&stack, "in-circulation", MILK, 0);
    use base64::Engine;
    let good = base64::engine::general_purpose::STANDARD.encode(c.as_bytes());

    // Before a receipt is open.
    let reply = pos
        .send(json!({"type":"scan","lane":"lane-1","scan_b64":good,"product":product,"quantity":1.0}))
        .await;
    assert_eq!(
        (reply["type"].as_str(), reply["code"].as_str()),
        (Some("error"), Some("no_receipt")),
        "{reply}"
    );
    pos.open("sale").await;

    let errors: Vec<&[u8]> = vec![
        b"not json at all",
        b"{\"id\":",
        b"[1,2,3]",
        b"\"just a string\"",
        b"{\"id\":100}",
        b"{\"id\":101,\"type\":null}",
        b"{\"id\":102,\"type\":\"fly\"}",
        b"{\"id\":1e400,\"type\":\"scan\"}",
        b"{\"id\":103,\"type\":\"scan\",\"lane\":\"lane-1\",\"scan_b64\":\"@@@@\",\"product\":{\"name\":\"x\",\"price_kopecks\":1},\"quantity\":1}",
        b"{\"id\":104,\"type\":\"scan\",\"lane\":\"lane-1\",\"scan_b64\":7,\"product\":{\"name\":\"x\",\"price_kopecks\":1}}",
        b"{\"id\":105,\"type\":\"scan\",\"lane\":\"lane-1\",\"scan_b64\":\"QQ==\",\"product\":{\"name\":\"x\",\"price_kopecks\":\"cheap\"}}",
        b"{\"id\":106,\"type\":\"scan\",\"lane\":\"lane-1\",\"scan_b64\":\"QQ==\",\"product\":{\"name\":\"x\",\"price_kopecks\":1e30}}",
        b"{\"id\":107,\"type\":\"scan\",\"lane\":\"lane-1\",\"scan_b64\":\"QQ==\",\"product\":{\"name\":\"x\",\"price_kopecks\":-5}}",
        b"{\"id\":108,\"type\":\"scan\",\"lane\":\"lane-1\",\"scan_b64\":\"QQ==\",\"product\":{\"name\":\"x\",\"price_kopecks\":1},\"quantity\":\"many\"}",
        b"{\"id\":109,\"type\":\"close_receipt\",\"lane\":\"lane-1\",\"payment\":{\"method\":\"cash\",\"amount_kopecks\":123456789012345678901234567890}}",
        b"{\"id\":110,\"type\":\"open_receipt\",\"lane\":\"lane-1\",\"kind\":\"gift\"}",
        b"{\"id\":111,\"type\":\"init\",\"protocol_version\":1}",
        b"{\"id\":112,\"type\":\"scan_batch\",\"lane\":\"lane-1\"}",
        b"{\"id\":113,\"type\":\"scan_batch\",\"lane\":\"lane-1\",\"scans\":[]}",
        b"{\"id\":114,\"type\":\"scan_batch\",\"lane\":\"lane-1\",\"scans\":[{\"scan_b64\":7}]}",
        b"{\"id\":115,\"type\":\"scan_batch\",\"lane\":\"lane-1\",\"scans\":{\"scan_b64\":\"QQ==\"}}",
        b"\xff\xfe\xfd",
    ];
    for line in errors {
        let reply = pos.raw(line).await;
        assert_eq!(reply["type"], "error", "{} → {reply}", String::from_utf8_lossy(line));
    }
    let huge = vec![b'x'; markcert_reference_pos::MAX_LINE + 10];
    let reply = pos.raw(&huge).await;
    assert_eq!(reply["type"], "error", "{reply}");

    // Well-formed but impossible scans: refused items, not errors.
    let bad_items = [
        json!({"type":"scan","lane":"lane-1","scan_b64":"","product":product,"quantity":1.0}),
        json!({"type":"scan","lane":"lane-1","scan_b64":good,"product":product,"quantity":3.0}),
        json!({"type":"scan","lane":"lane-1","scan_b64":good,"product":product,"quantity":1.0,
            "fraction":{"numerator":0,"denominator":0}}),
        json!({"type":"scan","lane":"lane-1","scan_b64":good,"product":product,"quantity":1.0,
            "fraction":{"numerator":u64::MAX,"denominator":1}}),
        json!({"type":"scan","lane":"lane-1","scan_b64":good,
            "product":{"name":"x","price_kopecks":u64::MAX,"vat":"vat20","measure":"piece"},"quantity":1.0}),
        json!({"type":"scan","lane":"lane-1","scan_b64":good,
            "product":{"name":"x","price_kopecks":100,"vat":"vat20","measure":"liter"},"quantity":1e308}),
        json!({"type":"scan","lane":"lane-1","scan_b64":good,
            "product":{"name":"x","price_kopecks":100,"vat":"vat20","measure":"liter"},"quantity":-1.0}),
    ];
    for msg in bad_items {
        let reply = pos.send(msg.clone()).await;
        assert_eq!(
            (reply["type"].as_str(), reply["decision"].as_str()),
            (Some("item"), Some("rejected")),
            "{msg} → {reply}"
        );
    }

    // A batch with an unreadable scan and a code scanned twice: one item per scan, each refusal on its
    // own; the good code is accepted once.
    let (c2, product2) = code(&stack, "in-circulation", MILK, 1);
    let good2 = base64::engine::general_purpose::STANDARD.encode(c2.as_bytes());
    let reply = pos
        .send(json!({"type":"scan_batch","lane":"lane-1","scans":[
            {"scan_b64":good2,"product":product2,"quantity":1.0},
            {"scan_b64":"","product":product2,"quantity":1.0},
            {"scan_b64":good2,"product":product2,"quantity":1.0}]}))
        .await;
    let decisions: Vec<(&str, &str)> = reply["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| (i["decision"].as_str().unwrap_or("?"), i["reason"].as_str().unwrap_or("-")))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(reply["type"], "items", "{reply}");
    assert_eq!(decisions, [("accepted", "-"), ("rejected", "format"), ("rejected", "other")], "{reply}");

    // Still a working POS.
    let item = pos.scan(c.as_bytes(), &product).await;
    assert_eq!(item["decision"], "accepted", "{item}");
    let total = product["price_kopecks"].as_u64().unwrap() + product2["price_kopecks"].as_u64().unwrap();
    pos.close("cash", total).await;
    pos.shutdown().await;
    stack.shutdown().await;
}

/// HTTPS only to a ТС ПИоТ whose certificate the endpoints name: every other `https://` endpoint, an
/// `https://` ТС ПИоТ without `ca_pem`, and an unreadable `ca_pem` are clear `init` errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_endpoints_without_a_certificate_to_trust_are_refused_at_init() {
    let missing_ca = std::env::temp_dir().join(format!("markcert-no-such-ca-{}.pem", std::process::id()));
    let missing_ca = missing_ca.to_string_lossy().into_owned();
    let endpoints = |tspiot: &str, discovery: &str, ca: Option<&str>| {
        json!({"true_api":{"discovery":discovery,"hosts":[],"api_key":"k"},
            "local_module":{"url":"http://127.0.0.1:1","login":"admin","password":"admin"},
            "control":"http://127.0.0.1:1",
            "tspiot":{"url":tspiot,"admin":"http://127.0.0.1:1","client_id":null,"client_token":null,"ca_pem":ca}})
    };
    for (mode, eps, want) in [
        (
            "tspiot",
            endpoints("https://127.0.0.1:51401", "http://127.0.0.1:1", None),
            ["endpoints.tspiot.url", "names no certificate"],
        ),
        (
            "tspiot",
            endpoints("https://127.0.0.1:51401", "http://127.0.0.1:1", Some(&missing_ca)),
            ["endpoints.tspiot.ca_pem", missing_ca.as_str()],
        ),
        (
            "direct",
            endpoints("http://127.0.0.1:1", "https://cdn.crpt.ru", Some(&missing_ca)),
            ["endpoints.true_api.discovery", "serve this endpoint over plain http://"],
        ),
    ] {
        let mut pos = Pos::start();
        let reply = pos
            .send(json!({"type":"init","protocol_version":1,"role":"pos","lane":"l","endpoints":eps,
                "mode":mode,"store_inn":"7701000019"}))
            .await;
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["code"], "init_failed");
        let text = reply["text"].as_str().unwrap();
        assert!(want.iter().all(|w| text.contains(w)), "{text} lacks {want:?}");
        pos.shutdown().await;
    }
}
