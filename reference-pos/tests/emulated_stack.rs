//! The reference POS against a real in-process emulator stack, driven through `serve` with JSON lines:
//! sales through the ТС ПИоТ and in direct mode, damaged scans, bans, the ЛМ ЧЗ fallback with the
//! offline 1265, emergency mode, returns, measured and fractional sales. Each ends by reading the
//! KKT's receipt (1260/1265 on the items) and the KKT grader's findings, which must be empty.

mod common;

use common::{
    code, code_of, distorted, fault, findings, lm_sync, receipt, stack, stack_with_cutoff, tag_1265, Pos,
    BEER, MILK,
};
use markcert_codes::Layout;
use serde_json::json;

fn is_online(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| v.starts_with("UUID=") && !v.contains("&Inst="))
}

fn is_offline(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| v.starts_with("UUID=") && v.contains("&Inst=") && v.contains("&Ver="))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tspiot_sale_with_a_repaired_scan_and_an_expired_code() {
    let stack = stack().await;
    let mut pos = Pos::start();
    let ok = pos.init(&stack, "tspiot").await;
    for f in ["tspiot", "direct", "lm-fallback", "returns", "weighted", "fractional"] {
        assert!(ok["features"].as_array().unwrap().contains(&json!(f)), "{ok}");
    }
    assert_eq!(ok["name"], "markcert-reference-pos");
    pos.open("sale").await;

    let (clean, product) = code(&stack, "in-circulation", MILK, 0);
    let item = pos.scan(clean.as_bytes(), &product).await;
    assert_eq!(item["decision"], "accepted", "{item}");

    let (damaged, _) = code(&stack, "in-circulation", MILK, 1);
    let scanned = distorted(&damaged, "hid-us-dropgs");
    assert_ne!(scanned, damaged.as_bytes(), "the profile damages the scan");
    let item = pos.scan(&scanned, &product).await;
    assert_eq!(item["decision"], "accepted", "{item}");

    let (expired, _) = code(&stack, "expired", MILK, 0);
    let item = pos.scan(&distorted(&expired, "hid-us-dropgs"), &product).await;
    assert_eq!(item["decision"], "rejected", "{item}");
    assert_eq!(item["reason"], "expired", "{item}");

    // The same code again in the same receipt is a second scan of one item.
    let again = pos.scan(clean.as_bytes(), &product).await;
    assert_eq!(again["decision"], "rejected");

    let price = product["price_kopecks"].as_u64().unwrap();
    let fdn = pos.close("electronic", 2 * price).await;
    let r = receipt(&stack, fdn);
    assert_eq!(r.items.len(), 2);
    let codes: Vec<&str> = r.items.iter().map(|i| i.marking.as_ref().unwrap().code.as_str()).collect();
    assert_eq!(codes, [clean.as_str(), damaged.as_str()], "canonical bytes on the KKT");
    let values = tag_1265(&r);
    assert!(values.iter().all(is_online), "{values:?}");
    assert_ne!(values[0], values[1], "each code its own check");
    assert!(r.items.iter().all(|i| i.check_result == Some(15)), "2106 copied: {:?}", r.items);
    assert_eq!(findings(&stack), Vec::<String>::new());
    pos.shutdown().await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tspiot_bans_and_cancel() {
    let stack = stack().await;
    let mut pos = Pos::start();
    pos.init(&stack, "tspiot").await;
    pos.open("sale").await;
    for (case, reason) in [
        ("blocked", "blocked"),
        ("sold", "sold"),
        ("emitted", "not_applied"),
        ("applied", "not_in_circulation"),
        ("crypto-invalid", "crypto"),
        ("permit-terminated", "blocked"),
        ("vet-certificate-annulled", "blocked"),
    ] {
        let (c, product) = code(&stack, case, MILK, 0);
        let item = pos.scan(c.as_bytes(), &product).await;
        assert_eq!(
            (item["decision"].as_str(), item["reason"].as_str()),
            (Some("rejected"), Some(reason)),
            "{case}: {item}"
        );
    }
    let item = pos
        .scan(b"hello, world", &json!({"name":"x","price_kopecks":100,"vat":"vat20","measure":"piece"}))
        .await;
    assert_eq!(item["reason"], "format");
    // A tobacco pack above its МРЦ, and at it.
    let (pack, product) = code_of(&stack, "in-circulation", 3, Some(Layout::TobaccoPack), 0);
    let mut pricey = product.clone();
    pricey["price_kopecks"] = json!(19_000);
    let item = pos.scan(pack.as_bytes(), &pricey).await;
    assert_eq!(item["reason"], "price_above_mrp", "{item}");
    let item = pos.scan(pack.as_bytes(), &product).await;
    assert_eq!(item["decision"], "accepted", "{item}");
    let reply = pos.send(json!({"type":"cancel_receipt","lane":"lane-1"})).await;
    assert_eq!(reply["type"], "receipt_cancelled");
    let reply = pos.send(json!({"type":"cancel_receipt","lane":"lane-1"})).await;
    assert_eq!(reply["type"], "error");
    // The cancelled code can be sold in the next receipt.
    pos.open("sale").await;
    let item = pos.scan(pack.as_bytes(), &product).await;
    assert_eq!(item["decision"], "accepted", "{item}");
    let fdn = pos.close("cash", 20_000).await;
    assert!(is_online(&tag_1265(&receipt(&stack, fdn))[0]));
    assert_eq!(findings(&stack), Vec::<String>::new());
    pos.shutdown().await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_mode_sale() {
    let stack = stack().await;
    let mut pos = Pos::start();
    pos.init(&stack, "direct").await;
    pos.open("sale").await;
    let (c, product) = code(&stack, "in-circulation", MILK, 0);
    let item = pos.scan(&distorted(&c, "hid-ru-dropgs"), &product).await;
    assert_eq!(item["decision"], "accepted", "{item}");
    let (expired, _) = code(&stack, "expired", MILK, 0);
    assert_eq!(pos.scan(expired.as_bytes(), &product).await["reason"], "expired");
    let fdn = pos.close("cash", product["price_kopecks"].as_u64().unwrap()).await;
    let values = tag_1265(&receipt(&stack, fdn));
    assert!(is_online(&values[0]), "{values:?}");
    assert_eq!(findings(&stack), Vec::<String>::new());
    // The check went to a CDN host, never to the discovery host.
    let calls = stack.trace.events(&markcert_emulators::trace::TraceFilter {
        path: Some("/api/v4/true-api/codes/check".into()),
        ..Default::default()
    });
    assert!(!calls.is_empty());
    assert!(
        calls.iter().all(|e| e.component.starts_with("cdn-")),
        "{:?}",
        calls.iter().map(|e| &e.component).collect::<Vec<_>>()
    );
    pos.shutdown().await;
    stack.shutdown().await;
}

/// After the `X-API-KEY` cut-off True API refuses the direct-mode POS (401): no host is switched to
/// because of it, and the sale goes through on the ЛМ ЧЗ's offline answer (AUTH-XAPIKEY-CUTOFF).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_mode_after_the_xapikey_cutoff_uses_the_local_module() {
    let stack = stack_with_cutoff(0).await;
    let mut pos = Pos::start();
    pos.init(&stack, "direct").await;
    pos.open("sale").await;
    let (c, product) = code(&stack, "in-circulation", MILK, 0);
    let item = pos.scan(c.as_bytes(), &product).await;
    assert_eq!(item["decision"], "accepted", "{item}");
    let fdn = pos.close("cash", product["price_kopecks"].as_u64().unwrap()).await;
    assert!(is_offline(&tag_1265(&receipt(&stack, fdn))[0]));
    assert_eq!(findings(&stack), Vec::<String>::new());
    pos.shutdown().await;
    stack.shutdown().await;
}

/// Every CDN host down after an ЛМ ЧЗ sync: the sale goes through on the offline answer, and 1265
/// carries `&Inst=…&Ver=…` — through the ТС ПИоТ, and in direct mode through the POS's own fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdn_outage_falls_back_to_the_local_module() {
    for mode in ["tspiot", "direct"] {
        let stack = stack().await;
        let mut pos = Pos::start();
        pos.init(&stack, mode).await;
        lm_sync(&stack);
        fault(&stack, json!({"name":"cdn down","target":{"host":"cdn-*"},"fault":{"kind":"host-down"}}));
        pos.open("sale").await;
        let (c, product) = code(&stack, "in-circulation", MILK, 0);
        let item = pos.scan(&distorted(&c, "hid-ru-dropgs"), &product).await;
        assert_eq!(item["decision"], "accepted", "{mode}: {item}");
        // The ЛМ ЧЗ knows blocks: a blocked code is still refused offline.
        let (blocked, _) = code(&stack, "blocked", MILK, 0);
        let item = pos.scan(blocked.as_bytes(), &product).await;
        assert_eq!(item["reason"], "blocked", "{mode}: {item}");
        let fdn = pos.close("electronic", product["price_kopecks"].as_u64().unwrap()).await;
        let values = tag_1265(&receipt(&stack, fdn));
        assert!(is_offline(&values[0]), "{mode}: {values:?}");
        assert_eq!(findings(&stack), Vec::<String>::new(), "{mode}");
        pos.shutdown().await;
        stack.shutdown().await;
    }
}

/// CDN hosts and the ЛМ ЧЗ both down: no answer, the sale is refused (no 1260 invented).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_at_all_is_a_refusal() {
    for mode in ["tspiot", "direct"] {
        let stack = stack().await;
        let mut pos = Pos::start();
        pos.init(&stack, mode).await;
        fault(&stack, json!({"target":{"host":"cdn-*"},"fault":{"kind":"host-down"}}));
        fault(&stack, json!({"target":{"host":"local-module"},"fault":{"kind":"host-down"}}));
        pos.open("sale").await;
        let (c, product) = code(&stack, "in-circulation", MILK, 0);
        let item = pos.scan(c.as_bytes(), &product).await;
        assert_eq!(item["reason"], "check_unavailable", "{mode}: {item}");
        pos.shutdown().await;
        stack.shutdown().await;
    }
}

/// ГИС МТ emergency mode (every CDN host answers 203): sold without 1260.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emergency_mode_sells_without_1260() {
    for mode in ["tspiot", "direct"] {
        let stack = stack().await;
        let mut pos = Pos::start();
        pos.init(&stack, mode).await;
        fault(
            &stack,
            json!({"target":{"host":"cdn-*","endpoint":"/api/v4/true-api/codes/check"},
            "fault":{"kind":"status","status":203}}),
        );
        pos.open("sale").await;
        let (c, product) = code(&stack, "in-circulation", MILK, 0);
        let item = pos.scan(c.as_bytes(), &product).await;
        assert_eq!(item["decision"], "accepted", "{mode}: {item}");
        let fdn = pos.close("cash", product["price_kopecks"].as_u64().unwrap()).await;
        assert_eq!(tag_1265(&receipt(&stack, fdn)), vec![None], "{mode}");
        assert_eq!(findings(&stack), Vec::<String>::new(), "{mode}");
        pos.shutdown().await;
        stack.shutdown().await;
    }
}

/// A sold code comes back on a return receipt; a code still in circulation cannot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns() {
    for mode in ["tspiot", "direct"] {
        let stack = stack().await;
        let mut pos = Pos::start();
        pos.init(&stack, mode).await;
        pos.open("sale").await;
        let (c, product) = code(&stack, "in-circulation", MILK, 0);
        assert_eq!(pos.scan(c.as_bytes(), &product).await["decision"], "accepted");
        let price = product["price_kopecks"].as_u64().unwrap();
        pos.close("cash", price).await;
        pos.open("return").await;
        let item = pos.scan(c.as_bytes(), &product).await;
        assert_eq!(item["decision"], "accepted", "{mode}: {item}");
        let (never, _) = code(&stack, "in-circulation", MILK, 1);
        assert_eq!(pos.scan(never.as_bytes(), &product).await["decision"], "rejected", "{mode}");
        let fdn = pos.close("cash", price).await;
        let r = receipt(&stack, fdn);
        assert_eq!(r.items[0].marking.as_ref().unwrap().assigned_status, 3);
        assert!(is_online(&tag_1265(&r)[0]));
        assert_eq!(findings(&stack), Vec::<String>::new(), "{mode}");
        pos.shutdown().await;
        stack.shutdown().await;
    }
}

/// Draught beer by the litre, and a part of a package, through the KKT (2003 = 2 / 5, 2108, 1291).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measured_and_fractional_sales() {
    let stack = stack().await;
    let mut pos = Pos::start();
    pos.init(&stack, "tspiot").await;
    pos.open("sale").await;
    let (keg, beer) = code(&stack, "in-circulation", BEER, 0);
    let mut draught = beer.clone();
    draught["measure"] = json!("liter");
    draught["price_kopecks"] = json!(30_000);
    let item = pos.scan_with(keg.as_bytes(), &draught, 0.5, None).await;
    assert_eq!(item["decision"], "accepted", "{item}");
    let (pack, beer_pack) = code(&stack, "partially-sold", BEER, 0);
    let item = pos.scan_with(pack.as_bytes(), &beer_pack, 0.1, Some((1, 10))).await;
    assert_eq!(item["decision"], "accepted", "{item}");
    let fdn = pos.close("cash", 15_000 + beer_pack["price_kopecks"].as_u64().unwrap().div_ceil(10)).await;
    let r = receipt(&stack, fdn);
    assert_eq!(r.items[0].measure, 41, "litres");
    assert_eq!(r.items[0].marking.as_ref().unwrap().assigned_status, 2);
    assert_eq!(r.items[1].marking.as_ref().unwrap().assigned_status, 5);
    assert_eq!(r.items[1].fractional.as_ref().map(|f| f.part.as_str()), Some("1/10"));
    assert!(tag_1265(&r).iter().all(is_online));
    assert_eq!(findings(&stack), Vec::<String>::new());
    // More than remains of the package (3 of 10 sold already): refused.
    pos.open("sale").await;
    let (other, _) = code(&stack, "partially-sold", BEER, 0);
    assert_eq!(other, pack);
    let item = pos.scan_with(pack.as_bytes(), &beer_pack, 0.8, Some((8, 10))).await;
    assert_eq!(item["decision"], "rejected", "{item}");
    pos.shutdown().await;
    stack.shutdown().await;
}

/// After 25 h of world time a code that expired meanwhile is refused: expiry is judged by the
/// answer's `reqTimestamp`, not by this machine's clock; the expired shift is replaced on the KKT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_follows_the_world_clock() {
    let stack = stack().await;
    let mut pos = Pos::start();
    pos.init(&stack, "tspiot").await;
    stack.clock.advance(std::time::Duration::from_secs(25 * 3600));
    pos.open("sale").await;
    let (tomorrow, product) = code(&stack, "expires-tomorrow", MILK, 0);
    let item = pos.scan(tomorrow.as_bytes(), &product).await;
    assert_eq!(item["reason"], "expired", "{item}");
    let (c, _) = code(&stack, "in-circulation", MILK, 0);
    assert_eq!(pos.scan(c.as_bytes(), &product).await["decision"], "accepted");
    pos.close("cash", product["price_kopecks"].as_u64().unwrap()).await;
    assert_eq!(findings(&stack), Vec::<String>::new());
    pos.shutdown().await;
    stack.shutdown().await;
}
