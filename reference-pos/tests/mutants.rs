//! Deliberate mutants against the in-process emulator stack, for the defects the embedded suite
//! cannot see yet (see the report of `markcert certify --sut "markcert-reference-pos --mutant NAME"`):
//! each test shows the reference POS doing the right thing and the mutant not, under the emulator
//! setting that makes the defect observable.

mod common;

use common::{code, code_of, fault, findings, receipt, stack, Pos, MILK};
use markcert_codes::Layout;
use markcert_emulators::kkt::options::KktOptions;
use markcert_emulators::stack::Stack;
use markcert_reference_pos::{Mutant, Options};
use serde_json::json;

/// Product group of tobacco.
const TOBACCO: u16 = 3;
/// Product group of water.
const WATER: u16 = 13;

fn set(stack: &Stack, change: impl FnOnce(&mut KktOptions)) {
    let kkt = stack.kkt.as_ref().unwrap();
    let mut o = kkt.options();
    change(&mut o);
    kkt.set_options(o).unwrap();
}

fn pos(mutant: Option<Mutant>) -> Pos {
    let opts = Options { log: std::env::var_os("POS_LOG").is_some(), ..Options::default() };
    Pos::start_with(match mutant {
        Some(m) => opts.with_mutant(m),
        None => opts,
    })
}

/// `wrong-1212`: caught by G-R1 once the KKT grades the excise split (`grading.excise_groups`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_1212_is_caught_by_the_excise_grading() {
    for (mutant, n) in [(None, 0), (Some(Mutant::Wrong1212), 1)] {
        let stack = stack().await;
        set(&stack, |o| o.grading.excise_groups = Some(vec![3, 12, 15, 16]));
        let mut pos = pos(mutant);
        pos.init(&stack, "tspiot").await;
        pos.open("sale").await;
        let (c, product) = code_of(&stack, "in-circulation", TOBACCO, Some(Layout::TobaccoPack), n);
        assert_eq!(pos.scan(c.as_bytes(), &product).await["decision"], "accepted");
        let fdn = pos.close("cash", product["price_kopecks"].as_u64().unwrap()).await;
        let r = receipt(&stack, fdn);
        let found = findings(&stack);
        match mutant {
            None => {
                assert_eq!(r.items[0].product_type, 31);
                assert!(found.is_empty(), "{found:?}");
            }
            Some(_) => {
                assert_eq!(r.items[0].product_type, 33);
                assert!(found.iter().any(|f| f.starts_with("G-R1")), "{found:?}");
            }
        }
        pos.shutdown().await;
        stack.shutdown().await;
    }
}

/// `sell-blocked`: visible once the ОИСМ cannot say "sale suspended" (402), so that only the
/// answer's `isBlocked` stands in the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sell_blocked_shows_when_the_oism_is_unreachable() {
    for (mutant, want) in [(None, "rejected"), (Some(Mutant::SellBlocked), "accepted")] {
        let stack = stack().await;
        set(&stack, |o| o.ofd.reachable = false);
        let mut pos = pos(mutant);
        pos.init(&stack, "tspiot").await;
        pos.open("sale").await;
        let (c, product) = code(&stack, "blocked", MILK, 0);
        let item = pos.scan(c.as_bytes(), &product).await;
        assert_eq!(item["decision"], want, "{mutant:?}: {item}");
        pos.send(json!({"type":"cancel_receipt","lane":"lane-1"})).await;
        pos.shutdown().await;
        stack.shutdown().await;
    }
}

/// `check-unavailable-allows`: sells when the ТС ПИоТ answers 514 (no True API, no ЛМ ЧЗ).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_unavailable_allows_sells_on_514() {
    for (mutant, want) in [(None, "rejected"), (Some(Mutant::CheckUnavailableAllows), "accepted")] {
        let stack = stack().await;
        fault(&stack, json!({"target":{"host":"cdn-*"},"fault":{"kind":"host-down"}}));
        fault(&stack, json!({"target":{"host":"local-module"},"fault":{"kind":"host-down"}}));
        let mut pos = pos(mutant);
        pos.init(&stack, "tspiot").await;
        pos.open("sale").await;
        let (c, product) = code(&stack, "in-circulation", WATER, 0);
        let item = pos.scan(c.as_bytes(), &product).await;
        assert_eq!(item["decision"], want, "{mutant:?}: {item}");
        if mutant.is_none() {
            assert_eq!(item["reason"], "check_unavailable", "{item}");
        }
        pos.send(json!({"type":"cancel_receipt","lane":"lane-1"})).await;
        pos.shutdown().await;
        stack.shutdown().await;
    }
}

/// `no-decline`: the KKT check of a banned code is left open (G-C2) when the receipt closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_decline_leaves_the_kkt_check_open() {
    for mutant in [None, Some(Mutant::NoDecline)] {
        let stack = stack().await;
        let mut pos = pos(mutant);
        pos.init(&stack, "tspiot").await;
        pos.open("sale").await;
        let (ok, product) = code(&stack, "in-circulation", MILK, 0);
        assert_eq!(pos.scan(ok.as_bytes(), &product).await["decision"], "accepted");
        let (sold, _) = code(&stack, "sold", MILK, 0);
        assert_eq!(pos.scan(sold.as_bytes(), &product).await["reason"], "sold");
        pos.close("cash", product["price_kopecks"].as_u64().unwrap()).await;
        let found = findings(&stack);
        match mutant {
            None => assert!(found.is_empty(), "{found:?}"),
            Some(_) => assert!(found.iter().any(|f| f.starts_with("G-C2")), "{found:?}"),
        }
        pos.shutdown().await;
        stack.shutdown().await;
    }
}
