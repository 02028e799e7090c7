//! The KKT side of a sale under the controls of kkt.md §9 and the situations of §11.4: the ОИСМ
//! suspends the sale (the POS declines), the ОФД is unreachable or the ОИСМ silent (the sale goes on
//! with the ФН's 2106), a keys update is required (`updateFnmKeys`, then the check), the ФН has no
//! marking flag (refused), an empty receipt (the KKT refuses it: an `error` reply).

mod common;

use common::{code, findings, receipt, stack, tag_1265, Pos, MILK};
use markcert_emulators::kkt::options::{KeysState, KktOptions};
use markcert_emulators::stack::Stack;
use serde_json::json;

fn set(stack: &Stack, change: impl FnOnce(&mut KktOptions)) {
    let kkt = stack.kkt.as_ref().unwrap();
    let mut o = kkt.options();
    change(&mut o);
    kkt.set_options(o).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sale_suspended_by_the_oism_is_declined() {
    let stack = stack().await;
    let mut pos = Pos::start();
    pos.init(&stack, "tspiot").await;
    set(&stack, |o| o.oism.force_2109 = Some(3));
    pos.open("sale").await;
    let (c, product) = code(&stack, "in-circulation", MILK, 0);
    let item = pos.scan(c.as_bytes(), &product).await;
    assert_eq!(item["decision"], "rejected", "{item}");
    let reply = pos.send(json!({"type":"cancel_receipt","lane":"lane-1"})).await;
    assert_eq!(reply["type"], "receipt_cancelled");
    pos.shutdown().await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_ofd_and_silent_oism_do_not_stop_the_sale() {
    let stack = stack().await;
    let mut pos = Pos::start();
    pos.init(&stack, "tspiot").await;
    set(&stack, |o| o.ofd.reachable = false);
    pos.open("sale").await;
    let (a, product) = code(&stack, "in-circulation", MILK, 0);
    assert_eq!(pos.scan(a.as_bytes(), &product).await["decision"], "accepted");
    set(&stack, |o| {
        o.ofd.reachable = true;
        o.oism.answer = false;
    });
    let started = std::time::Instant::now();
    let (b, _) = code(&stack, "in-circulation", MILK, 1);
    let item = pos.scan(b.as_bytes(), &product).await;
    assert_eq!(item["decision"], "accepted", "{item}");
    assert!(started.elapsed() < std::time::Duration::from_millis(4_900), "within the step timeout");
    set(&stack, |o| o.oism.answer = true);
    let price = product["price_kopecks"].as_u64().unwrap();
    let fdn = pos.close("cash", 2 * price).await;
    let r = receipt(&stack, fdn);
    for item in &r.items {
        assert!(
            matches!(item.check_result, Some(0 | 1 | 3)),
            "2106 without an ОИСМ answer: {:?}",
            item.check_result
        );
    }
    assert_eq!(tag_1265(&r).len(), 2);
    assert_eq!(findings(&stack), Vec::<String>::new());
    pos.shutdown().await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_update_then_check_and_no_marking_flag() {
    let stack = stack().await;
    let mut pos = Pos::start();
    pos.init(&stack, "tspiot").await;
    set(&stack, |o| o.fn_m.keys = KeysState::UpdateRequired);
    pos.open("sale").await;
    let (a, product) = code(&stack, "in-circulation", MILK, 0);
    assert_eq!(pos.scan(a.as_bytes(), &product).await["decision"], "accepted");
    let fdn = pos.close("cash", product["price_kopecks"].as_u64().unwrap()).await;
    assert_eq!(receipt(&stack, fdn).items.len(), 1);
    assert_eq!(findings(&stack), Vec::<String>::new());

    set(&stack, |o| o.fn_m.marking_flag = false);
    pos.open("sale").await;
    let (b, _) = code(&stack, "in-circulation", MILK, 1);
    let item = pos.scan(b.as_bytes(), &product).await;
    assert_eq!(
        (item["decision"].as_str(), item["reason"].as_str()),
        (Some("rejected"), Some("other")),
        "{item}"
    );
    // Nothing accepted: the KKT refuses an empty receipt, and the POS says so.
    let reply = pos
        .send(json!({"type":"close_receipt","lane":"lane-1","payment":{"method":"cash","amount_kopecks":0}}))
        .await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "kkt_error");
    let reply = pos.send(json!({"type":"cancel_receipt","lane":"lane-1"})).await;
    assert_eq!(reply["type"], "receipt_cancelled");
    pos.shutdown().await;
    stack.shutdown().await;
}
