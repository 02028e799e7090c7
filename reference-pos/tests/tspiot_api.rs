//! The reference POS and the emulated ТС ПИоТ's API versions (tspiot.md §3.1, §3.3): the version is
//! discovered at `init` (the emulator serves v3), checks then use `POST /api/v3/codes/check` with
//! `{"cis","pg"}` objects, online and offline answers are read from it, and `client_info` passes the
//! strict check of the registered POS program.

mod common;

use common::{code, fault, findings, lm_sync, receipt, stack, tag_1265, Pos, MILK};
use markcert_emulators::trace::TraceFilter;
use serde_json::json;

/// The ТС ПИоТ's `codes/check` calls of the run, as `(path, status)`.
fn tspiot_checks(stack: &markcert_emulators::stack::Stack) -> Vec<(String, u16)> {
    stack
        .trace
        .events(&TraceFilter { component: Some("tspiot".into()), ..TraceFilter::default() })
        .into_iter()
        .filter(|e| e.path.as_str().ends_with("/codes/check"))
        .map(|e| (e.path.as_str().to_string(), e.status))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_go_through_the_discovered_v3_api_online_and_offline() {
    let stack = stack().await;
    let infos =
        stack.trace.events(&TraceFilter { component: Some("tspiot".into()), ..TraceFilter::default() }).len();
    assert_eq!(infos, 0);
    let mut pos = Pos::start();
    pos.init(&stack, "tspiot").await;
    let probes: Vec<String> = stack
        .trace
        .events(&TraceFilter { component: Some("tspiot".into()), ..TraceFilter::default() })
        .into_iter()
        .map(|e| format!("{} {}", e.method.as_str(), e.path.as_str()))
        .collect();
    assert_eq!(probes, ["GET /api/v3/info"], "the newest version answers first");

    pos.open("sale").await;
    let (online, product) = code(&stack, "in-circulation", MILK, 0);
    let item = pos.scan(online.as_bytes(), &product).await;
    assert_eq!(item["decision"], "accepted", "{item}");

    lm_sync(&stack);
    fault(&stack, json!({"name":"cdn down","target":{"host":"cdn-*"},"fault":{"kind":"host-down"}}));
    let (offline, _) = code(&stack, "in-circulation", MILK, 1);
    let item = pos.scan(offline.as_bytes(), &product).await;
    assert_eq!(item["decision"], "accepted", "{item}");

    let price = product["price_kopecks"].as_u64().unwrap();
    let fdn = pos.close("cash", 2 * price).await;
    let values = tag_1265(&receipt(&stack, fdn));
    assert!(values[0].as_deref().is_some_and(|v| !v.contains("&Inst=")), "{values:?}");
    assert!(values[1].as_deref().is_some_and(|v| v.contains("&Inst=") && v.contains("&Ver=")), "{values:?}");
    assert_eq!(
        tspiot_checks(&stack),
        [("/api/v3/codes/check".to_string(), 200), ("/api/v3/codes/check".to_string(), 200)]
    );
    assert_eq!(findings(&stack), Vec::<String>::new());
    pos.shutdown().await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_info_passes_the_strict_check() {
    use markcert_emulators::stack::{Stack, StackOptions};
    use markcert_emulators::tspiot::options::ClientInfoMode;
    let clock = markcert_emulators::clock::WorldClock::real();
    let world = markcert_emulators::world::default::default_world(clock.now_ms()).unwrap();
    let mut opts = StackOptions { xapikey_cutoff_ms: i64::MAX, ..StackOptions::default() };
    opts.tspiot.as_mut().unwrap().options.client_info = ClientInfoMode::Strict;
    let stack =
        Stack::start(world, clock, markcert_emulators::trace::Trace::in_memory(10_000), opts).await.unwrap();
    let mut pos = Pos::start();
    pos.init(&stack, "tspiot").await;
    pos.open("sale").await;
    let (c, product) = code(&stack, "in-circulation", MILK, 0);
    let item = pos.scan(c.as_bytes(), &product).await;
    assert_eq!(item["decision"], "accepted", "{item}");
    assert_eq!(tspiot_checks(&stack), [("/api/v3/codes/check".to_string(), 200)]);
    pos.shutdown().await;
    stack.shutdown().await;
}
