//! Integration tests of the fault layer (`markcert_emulators::faults`): each fault kind, the spec
//! presets, targeting, triggers, reproducibility, run-time changes under concurrency, the loaders, and
//! the allocation-free hot path. `decide_cost` (ignored) prints the cost of `decide`; run it with
//! `cargo test --release -p markcert-emulators --test faults -- --ignored --nocapture`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use markcert_emulators::faults::{
    Action, CallInfo, Decision, Drip, FaultError, FaultKind, FaultRule, FaultTable, FaultTarget, Latency,
    RuleId, Status, StatusBody, Trigger,
};
use proptest::prelude::*;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Allocation counting (per thread), to prove that `decide` does not allocate.

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

// ---------------------------------------------------------------------------------------------
// Helpers.

const CHECK: &str = "/api/v4/true-api/codes/check";
const HEALTH: &str = "/api/v4/true-api/cdn/health/check";

fn check(host: &str) -> CallInfo<'_> {
    CallInfo::new(host, CHECK, 0)
}

fn table_with(rules: impl IntoIterator<Item = FaultRule>) -> FaultTable {
    let table = FaultTable::new();
    for rule in rules {
        if let Err(e) = table.add(rule) {
            panic!("rule refused: {e}");
        }
    }
    table
}

fn decide_once(rule: FaultRule) -> Decision {
    table_with([rule]).decide(&check("cdn-1"))
}

fn respond_parts(decision: &Decision) -> (u16, Value, Option<&str>) {
    match &decision.action {
        Action::Respond { status, body, content_type } => {
            let body = if body.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(body).unwrap_or_else(|e| panic!("body is not JSON: {e}"))
            };
            (*status, body, content_type.as_deref())
        }
        other => panic!("expected a response, got {other:?}"),
    }
}

fn statuses(table: &FaultTable, host: &str, calls: usize) -> Vec<Option<u16>> {
    (0..calls)
        .map(|_| match table.decide(&check(host)).action {
            Action::Respond { status, .. } => Some(status),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Each fault kind.

#[test]
fn latency_fixed_delays_and_passes() {
    let decision = decide_once(FaultRule::new(FaultKind::Latency(Latency::fixed(1500))));
    assert_eq!(decision.delay, Duration::from_millis(1500));
    assert_eq!(decision.action, Action::Pass);
    assert_eq!(decision.fault_name.as_deref(), Some("latency 1500 ms"));
    assert!(!decision.is_pass());
}

#[test]
fn latency_distributions_stay_in_their_bounds() {
    let table = table_with([FaultRule::new(FaultKind::Latency(Latency::uniform(40, 120)))]);
    for _ in 0..1000 {
        let delay = table.decide(&check("cdn-1")).delay;
        assert!(delay >= Duration::from_millis(40) && delay < Duration::from_millis(120), "{delay:?}");
    }
    let table = table_with([FaultRule::new(FaultKind::Latency(Latency::normal(10, 30)))]);
    let delays: Vec<Duration> = (0..2000).map(|_| table.decide(&check("cdn-1")).delay).collect();
    assert!(delays.contains(&Duration::ZERO), "normal draws below 0 are clamped to 0");
    let table = table_with([FaultRule::new(FaultKind::Latency(Latency::exponential(80)))]);
    let mean_ms = (0..20_000).map(|_| table.decide(&check("cdn-1")).delay.as_secs_f64()).sum::<f64>() / 20.0;
    assert!((mean_ms - 80.0).abs() < 4.0, "exponential mean {mean_ms}");
}

#[test]
fn status_responds_with_body_and_content_type() {
    let decision = decide_once(FaultRule::new(FaultKind::Status(Status {
        status: 200,
        body: Some(StatusBody::Json(json!({"code": 1, "description": "bad request"}))),
        content_type: None,
    })));
    assert_eq!(
        respond_parts(&decision),
        (200, json!({"code":1,"description":"bad request"}), Some("application/json"))
    );
    assert_eq!(decision.delay, Duration::ZERO);
    assert_eq!(decision.fault_name.as_deref(), Some("status 200"));
}

#[test]
fn reset_blackhole_drip_and_host_down() {
    assert_eq!(decide_once(FaultRule::new(FaultKind::Reset)).action, Action::Reset);
    assert_eq!(decide_once(FaultRule::new(FaultKind::Blackhole)).action, Action::Hang);
    assert_eq!(decide_once(FaultRule::new(FaultKind::HostDown)).action, Action::Refuse);
    let drip = decide_once(FaultRule::new(FaultKind::Drip(Drip { bytes_per_chunk: 8, chunk_delay_ms: 250 })));
    assert_eq!(
        drip.action,
        Action::Drip {
            bytes_per_chunk: NonZeroUsize::MIN.saturating_add(7),
            chunk_delay: Duration::from_millis(250)
        }
    );
}

#[test]
fn latency_combines_with_the_first_action() {
    let table = table_with([
        FaultRule::new(FaultKind::Latency(Latency::fixed(100))),
        FaultRule::new(FaultKind::Blackhole).named("hang"),
        FaultRule::new(FaultKind::Reset),
        FaultRule::new(FaultKind::Latency(Latency::fixed(25))),
    ]);
    let decision = table.decide(&check("cdn-1"));
    assert_eq!((decision.delay, &decision.action), (Duration::from_millis(125), &Action::Hang));
    assert_eq!(decision.fault_name.as_deref(), Some("hang"));
}

// ---------------------------------------------------------------------------------------------
// Presets: true-api.md §8.

#[test]
fn presets_are_the_spec_answers() {
    let json_ct = Some("application/json");
    let cases = [
        (FaultKind::emergency_203(), 203, json!({"code":203,"description":"Аварийный режим"}), json_ct),
        (
            FaultKind::cross_border_5000(),
            503,
            json!({"code":5000,"error_message":"5000","description":"cross-border check service unavailable"}),
            json_ct,
        ),
        (FaultKind::teapot_418(), 418, Value::Null, None),
        (FaultKind::rate_limited_429(), 429, Value::Null, None),
        (FaultKind::server_error(500), 500, Value::Null, None),
        (FaultKind::server_error(502), 502, Value::Null, None),
        (FaultKind::deprecated_410(), 410, json!({"error_message":"Устаревшее API"}), json_ct),
    ];
    for (kind, status, body, content_type) in cases {
        let decision = decide_once(FaultRule::new(kind));
        assert_eq!(respond_parts(&decision), (status, body, content_type));
    }
    let unauthorized = decide_once(FaultRule::new(FaultKind::unauthorized_401()));
    let (status, body, _) = respond_parts(&unauthorized);
    assert_eq!(status, 401);
    assert!(body["error_message"].is_string());
    let (status, _, _) =
        respond_parts(&decide_once(FaultRule::new(FaultKind::cross_border_5000_with_status(500))));
    assert_eq!(status, 500);
}

#[test]
fn presets_read_back_from_their_wire_form() {
    let kind: Result<FaultKind, _> = serde_json::from_str(
        r#"{"kind":"status","status":503,"body":{"code":5000,"error_message":"5000","description":"cross-border check service unavailable"}}"#,
    );
    assert_eq!(kind.ok(), Some(FaultKind::cross_border_5000()));
    let kind: Result<FaultKind, _> = toml::from_str(
        r#"kind = "status"
status = 203
body = { code = 203, description = "Аварийный режим" }"#,
    );
    assert_eq!(kind.ok(), Some(FaultKind::emergency_203()));
}

// ---------------------------------------------------------------------------------------------
// Targeting.

#[test]
fn targets_host_and_endpoint_prefix() {
    let table = table_with([
        FaultRule::new(FaultKind::Reset).on_host("cdn-1").on_endpoint("/api/v4/true-api/cdn/*"),
        FaultRule::new(FaultKind::rate_limited_429()).on_host("cdn-2").on_endpoint(CHECK),
        FaultRule::new(FaultKind::Blackhole).on_host("lm"),
    ]);
    let action = |host, endpoint| table.decide(&CallInfo::new(host, endpoint, 0)).action;
    assert_eq!(action("cdn-1", HEALTH), Action::Reset);
    assert_eq!(action("cdn-1", CHECK), Action::Pass);
    assert!(matches!(action("cdn-2", CHECK), Action::Respond { status: 429, .. }));
    assert!(matches!(
        action("cdn-2", "/api/v4/true-api/codes/check?x=1"),
        Action::Respond { status: 429, .. }
    ));
    assert_eq!(action("cdn-2", "/api/v4/true-api/codes/check/history/create"), Action::Pass);
    assert_eq!(action("cdn-2", HEALTH), Action::Pass);
    assert_eq!(action("cdn-3", CHECK), Action::Pass);
    assert_eq!(action("lm", "/api/v1/cis/outCheck"), Action::Hang);
}

#[test]
fn host_prefix_covers_every_cdn_host() {
    let table = table_with([FaultRule::new(FaultKind::HostDown).on_host("cdn-*")]);
    for host in ["cdn-1", "cdn-2", "CDN-11"] {
        assert_eq!(table.decide(&check(host)).action, Action::Refuse);
        assert!(table.connection_refused(host, 0));
    }
    assert_eq!(table.decide(&check("true-api-discovery")).action, Action::Pass);
    assert!(!table.connection_refused("true-api-discovery", 0));
}

// ---------------------------------------------------------------------------------------------
// Triggers.

#[test]
fn nth_counts_calls_matching_the_target_only() {
    let table =
        table_with([FaultRule::new(FaultKind::rate_limited_429()).on_host("cdn-1").when(Trigger::nth(3))]);
    // Calls to other hosts do not count.
    assert_eq!(statuses(&table, "cdn-2", 5), vec![None; 5]);
    assert_eq!(statuses(&table, "cdn-1", 6), vec![None, None, Some(429), None, None, None]);
}

#[test]
fn nth_every_repeats() {
    let table = table_with([FaultRule::new(FaultKind::server_error(502)).when(Trigger::nth_every(2, 3))]);
    let failed: Vec<usize> =
        statuses(&table, "cdn-1", 12).iter().enumerate().filter_map(|(i, s)| s.map(|_| i + 1)).collect();
    assert_eq!(failed, vec![2, 5, 8, 11]);
}

#[test]
fn five_xx_twice_then_healthy() {
    // CDN-5XX-TWICE: the first two checks fail, the rest succeed.
    let table = table_with([
        FaultRule::new(FaultKind::server_error(502)).when(Trigger::nth(1)),
        FaultRule::new(FaultKind::server_error(502)).when(Trigger::nth(2)),
    ]);
    assert_eq!(statuses(&table, "cdn-1", 4), vec![Some(502), Some(502), None, None]);
}

#[test]
fn matching_code_looks_at_every_code_of_the_call() {
    let table = table_with([
        FaultRule::new(FaultKind::cross_border_5000()).when(Trigger::matching_code("04600439931256"))
    ]);
    let codes: Vec<String> = vec!["0104601234567893215abcd".into(), "0104600439931256215Sb&(x".into()];
    let hit = table.decide(&check("cdn-1").with_codes(&codes));
    assert!(matches!(hit.action, Action::Respond { status: 503, .. }));
    let other = ["0104601234567893215abcd"];
    assert_eq!(table.decide(&check("cdn-1").with_codes(&other)).action, Action::Pass);
    assert_eq!(table.decide(&check("cdn-1")).action, Action::Pass);
}

#[test]
fn matching_code_with_nth_counts_calls_about_that_code() {
    // XB-5000-ONCE for one code: its first check fails, its second passes; other codes never fail
    // and do not advance the count.
    let table = table_with([FaultRule::new(FaultKind::cross_border_5000())
        .when(Trigger::all_of([Trigger::matching_code("XB"), Trigger::nth(1)]))]);
    let xb = ["01XB"];
    let plain = ["01PLAIN"];
    let action = |codes: &[&str]| table.decide(&check("cdn-1").with_codes(codes)).action;
    assert_eq!(action(&plain), Action::Pass);
    assert!(matches!(action(&xb), Action::Respond { status: 503, .. }));
    assert_eq!(action(&xb), Action::Pass);
}

#[test]
fn window_follows_world_time() {
    let table = table_with([FaultRule::new(FaultKind::HostDown)
        .on_host("cdn-1")
        .when(Trigger::window(1_000, 2_000))]);
    let at = |ms| table.decide(&CallInfo::new("cdn-1", CHECK, ms)).action;
    assert_eq!(at(999), Action::Pass);
    assert_eq!(at(1_000), Action::Refuse);
    assert_eq!(at(1_999), Action::Refuse);
    assert_eq!(at(2_000), Action::Pass);
    assert!(!table.connection_refused("cdn-1", 500));
    assert!(table.connection_refused("cdn-1", 1_500));
}

#[test]
fn connection_refused_ignores_counted_and_endpoint_rules() {
    let table = table_with([
        FaultRule::new(FaultKind::HostDown).on_host("cdn-1").when(Trigger::nth(1)),
        FaultRule::new(FaultKind::HostDown).on_host("cdn-2").on_endpoint(CHECK),
        FaultRule::new(FaultKind::Reset).on_host("cdn-3"),
    ]);
    for host in ["cdn-1", "cdn-2", "cdn-3"] {
        assert!(!table.connection_refused(host, 0), "{host}");
    }
    let first = table.list()[0].id;
    assert_eq!(first.and_then(|id| table.calls(id)), Some(0), "connection_refused counts nothing");
}

#[test]
fn outage_timeline_steps_through_time() {
    // CDN-BLOCK-15MIN: cdn-1 fails at t = 0 (reset), is healthy from 5 min; cdn-2 is slow after 10 min.
    let minute = 60_000;
    let table = FaultTable::new();
    let ids = table.set_timeline(vec![
        FaultRule::new(FaultKind::Reset).on_host("cdn-1").when(Trigger::window(0, 5 * minute)),
        FaultRule::new(FaultKind::Latency(Latency::fixed(2_000)))
            .on_host("cdn-2")
            .when(Trigger::window(10 * minute, 20 * minute)),
    ]);
    assert_eq!(ids.map(|ids| ids.len()), Ok(2));
    let at = |host, ms| table.decide(&CallInfo::new(host, CHECK, ms));
    assert_eq!(at("cdn-1", 0).action, Action::Reset);
    assert_eq!(at("cdn-1", 5 * minute).action, Action::Pass);
    assert_eq!(at("cdn-2", 9 * minute).delay, Duration::ZERO);
    assert_eq!(at("cdn-2", 10 * minute).delay, Duration::from_secs(2));
}

// ---------------------------------------------------------------------------------------------
// Reproducibility.

fn probability_rules() -> Vec<FaultRule> {
    vec![
        FaultRule::new(FaultKind::server_error(500)).when(Trigger::probability(0.05)),
        FaultRule::new(FaultKind::Reset).when(Trigger::probability(0.02)),
        FaultRule::new(FaultKind::Latency(Latency::uniform(40, 120))).when(Trigger::probability(0.5)),
        FaultRule::new(FaultKind::Latency(Latency::normal(50, 10))).seeded(99),
    ]
}

fn run(table: &FaultTable, calls: usize) -> Vec<Decision> {
    (0..calls).map(|i| table.decide(&check(if i % 3 == 0 { "cdn-1" } else { "cdn-2" }))).collect()
}

#[test]
fn same_seed_same_decisions() {
    let a = FaultTable::with_seed(2024);
    let b = FaultTable::with_seed(2024);
    assert!(a.set_timeline(probability_rules()).is_ok() && b.set_timeline(probability_rules()).is_ok());
    let (run_a, run_b) = (run(&a, 10_000), run(&b, 10_000));
    assert_eq!(run_a, run_b);

    let c = FaultTable::with_seed(2025);
    assert!(c.set_timeline(probability_rules()).is_ok());
    assert_ne!(run_a, run(&c, 10_000), "another table seed gives other decisions");
}

#[test]
fn a_rule_seed_does_not_depend_on_the_table() {
    let rule = FaultRule::new(FaultKind::Latency(Latency::exponential(100))).seeded(5);
    let a = table_with([rule.clone()]);
    let b = FaultTable::with_seed(77);
    assert!(b.add(FaultRule::new(FaultKind::Reset).on_host("elsewhere")).is_ok());
    assert!(b.add(rule).is_ok());
    let delays = |t: &FaultTable| (0..1000).map(|_| t.decide(&check("cdn-1")).delay).collect::<Vec<_>>();
    assert_eq!(delays(&a), delays(&b));
}

#[test]
fn probability_frequency_is_close_to_p() {
    for (p, seed) in [(0.05, 1u64), (0.5, 2), (0.9, 3)] {
        let table = table_with([FaultRule::new(FaultKind::server_error(503))
            .when(Trigger::probability(p))
            .seeded(seed)]);
        let n = 10_000.0;
        let hits = statuses(&table, "cdn-1", 10_000).iter().flatten().count() as f64;
        let sd = (n * p * (1.0 - p)).sqrt();
        assert!((hits - n * p).abs() < 5.0 * sd, "p = {p}: {hits} hits of {n}");
    }
    let never = table_with([FaultRule::new(FaultKind::Reset).when(Trigger::probability(0.0))]);
    let always = table_with([FaultRule::new(FaultKind::Reset).when(Trigger::probability(1.0))]);
    for _ in 0..1000 {
        assert_eq!(never.decide(&check("cdn-1")).action, Action::Pass);
        assert_eq!(always.decide(&check("cdn-1")).action, Action::Reset);
    }
}

// ---------------------------------------------------------------------------------------------
// Run-time changes.

#[test]
fn add_remove_list_clear() {
    let table = FaultTable::new();
    let a = table.add(FaultRule::new(FaultKind::Reset).named("a"));
    let b = table.add(FaultRule::new(FaultKind::Blackhole).named("b"));
    let (Ok(a), Ok(b)) = (a, b) else { panic!("rules refused") };
    assert_eq!((a, b), (RuleId(1), RuleId(2)));
    let listed = table.list();
    assert_eq!(listed.iter().map(|r| r.id).collect::<Vec<_>>(), vec![Some(a), Some(b)]);
    assert_eq!(table.decide(&check("cdn-1")).action, Action::Reset);
    assert!(table.remove(a));
    assert!(!table.remove(a));
    assert_eq!(table.decide(&check("cdn-1")).action, Action::Hang);
    assert_eq!(table.get(b).and_then(|r| r.name), Some("b".to_string()));
    table.clear();
    assert!(table.is_empty());
    assert_eq!(table.decide(&check("cdn-1")), Decision::pass());
    // Ids are never reused; an id given in the rule is ignored.
    let mut rule = FaultRule::new(FaultKind::Reset);
    rule.id = Some(RuleId(1));
    assert_eq!(table.add(rule), Ok(RuleId(3)));
}

#[test]
fn clones_share_the_table() {
    let table = FaultTable::new();
    let server_side = table.clone();
    assert!(table.add(FaultRule::new(FaultKind::HostDown)).is_ok());
    assert_eq!(server_side.decide(&check("cdn-1")).action, Action::Refuse);
}

#[test]
fn concurrent_changes_while_deciding() {
    let table = FaultTable::with_seed(3);
    std::thread::scope(|scope| {
        for worker in 0..4 {
            let table = table.clone();
            scope.spawn(move || {
                let codes = ["0104600439931256215abc"];
                for i in 0..20_000i64 {
                    let host = if worker % 2 == 0 { "cdn-1" } else { "cdn-2" };
                    let decision = table.decide(&CallInfo::new(host, CHECK, i).with_codes(&codes));
                    // At most one latency rule (≤ 200 ms) per mutator is in force at any time.
                    assert!(decision.delay <= Duration::from_millis(2 * 200));
                }
            });
        }
        for mutator in 0..2u64 {
            let table = table.clone();
            scope.spawn(move || {
                let mut mine = Vec::new();
                for i in 0..2_000u64 {
                    let rule = match i % 5 {
                        0 => FaultRule::new(FaultKind::Latency(Latency::uniform(0, 200)))
                            .when(Trigger::probability(0.3)),
                        1 => FaultRule::new(FaultKind::rate_limited_429())
                            .on_host("cdn-1")
                            .when(Trigger::nth_every(2, 2)),
                        2 => FaultRule::new(FaultKind::Reset).when(Trigger::matching_code("0460")),
                        3 => FaultRule::new(FaultKind::HostDown)
                            .on_host("cdn-*")
                            .when(Trigger::window(0, 5_000)),
                        _ => FaultRule::new(FaultKind::Drip(Drip { bytes_per_chunk: 4, chunk_delay_ms: 1 })),
                    };
                    match table.add(rule) {
                        Ok(id) => mine.push(id),
                        Err(e) => panic!("valid rule refused: {e}"),
                    }
                    // Keep my 3 newest rules: at most one of them is a latency rule (≤ 200 ms).
                    if mine.len() > 3 {
                        let oldest = mine.remove(0);
                        table.remove(oldest);
                    }
                    if mutator == 1 && i % 500 == 499 {
                        table.clear();
                    }
                    let _ = table.list();
                    let _ = table.connection_refused("cdn-1", i as i64);
                }
            });
        }
    });
    assert!(table.len() <= 8);
}

#[test]
fn decide_does_not_allocate() {
    let table = FaultTable::with_seed(1);
    let empty = FaultTable::new();
    for rule in ten_rules() {
        assert!(table.add(rule).is_ok());
    }
    let codes = ["0104600439931256215Sb&(x"];
    // Warm up (first lock of each generator, lazily initialised state).
    for i in 0..100 {
        let _ = table.decide(&CallInfo::new("cdn-1", CHECK, i).with_codes(&codes));
    }
    let before = allocations();
    let mut responded = 0;
    for i in 0..10_000 {
        let decision = table.decide(&CallInfo::new("cdn-1", CHECK, i).with_codes(&codes));
        responded += usize::from(matches!(decision.action, Action::Respond { .. }));
        let _ = empty.decide(&check("cdn-1"));
    }
    assert_eq!(allocations() - before, 0);
    assert!(responded > 0, "the loop exercised Respond");
}

// ---------------------------------------------------------------------------------------------
// Loaders and wire shapes.

#[test]
fn json_shape() {
    let rule = FaultRule::new(FaultKind::rate_limited_429())
        .named("cdn-1 429 on the 3rd check")
        .on_host("cdn-1")
        .on_endpoint(CHECK)
        .when(Trigger::nth(3))
        .seeded(42);
    let text = serde_json::to_string(&rule).unwrap_or_default();
    assert_eq!(
        text,
        r#"{"name":"cdn-1 429 on the 3rd check","target":{"host":"cdn-1","endpoint":"/api/v4/true-api/codes/check"},"trigger":{"nth":{"n":3}},"fault":{"kind":"status","status":429},"seed":42}"#
    );
    assert_eq!(FaultRule::from_json(&text), Ok(rule));
    let minimal = FaultRule::from_json(r#"{"fault":{"kind":"blackhole"}}"#);
    assert_eq!(minimal, Ok(FaultRule::new(FaultKind::Blackhole)));
    let latency =
        serde_json::to_value(FaultRule::new(FaultKind::Latency(Latency::normal(80, 20)))).unwrap_or_default();
    assert_eq!(
        latency,
        json!({"fault":{"kind":"latency","distribution":"normal","mean_ms":80,"stddev_ms":20}})
    );
    let drip = serde_json::to_value(FaultKind::Drip(Drip { bytes_per_chunk: 1, chunk_delay_ms: 50 }))
        .unwrap_or_default();
    assert_eq!(drip, json!({"kind":"drip","bytes_per_chunk":1,"chunk_delay_ms":50}));
    assert_eq!(serde_json::to_value(FaultKind::HostDown).unwrap_or_default(), json!({"kind":"host-down"}));
}

#[test]
fn toml_shape_and_lists() {
    let rule = FaultRule::from_toml(
        r#"
        name = "flapping"
        target = { host = "cdn-*" }
        trigger = { all_of = [ { window = { from_ms = 0, to_ms = 600_000 } }, { probability = { p = 0.05 } } ] }
        fault = { kind = "status", status = 502, body = "Bad Gateway", content_type = "text/html" }
        seed = 1
        "#,
    );
    let expected = FaultRule::new(FaultKind::Status(Status {
        status: 502,
        body: Some(StatusBody::Text("Bad Gateway".into())),
        content_type: Some("text/html".into()),
    }))
    .named("flapping")
    .on_host("cdn-*")
    .when(Trigger::all_of([Trigger::window(0, 600_000), Trigger::probability(0.05)]))
    .seeded(1);
    assert_eq!(rule, Ok(expected));

    let list = FaultRule::list_from_toml(
        r#"
        [[rule]]
        fault = { kind = "reset" }
        [[rule]]
        trigger = "always"
        fault = { kind = "latency", fixed_ms = 10 }
        "#,
    );
    assert_eq!(list.map(|l| l.len()), Ok(2));
    assert_eq!(FaultRule::list_from_toml(""), Ok(vec![]));
    let json_list =
        FaultRule::list_from_json(r#"[{"fault":{"kind":"host-down"},"target":{"host":"cdn-2"}}]"#);
    assert_eq!(json_list, Ok(vec![FaultRule::new(FaultKind::HostDown).on_host("cdn-2")]));
}

#[test]
fn unknown_fields_are_refused_everywhere() {
    let bad = [
        r#"{"fault":{"kind":"reset"},"extra":1}"#,
        r#"{"fault":{"kind":"reset","extra":1}}"#,
        r#"{"fault":{"kind":"status","status":429,"extra":1}}"#,
        r#"{"fault":{"kind":"latency","fixed_ms":1,"jitter_ms":2}}"#,
        r#"{"fault":{"kind":"drip","bytes_per_chunk":1,"chunk_delay_ms":1,"extra":1}}"#,
        r#"{"fault":{"kind":"reset"},"target":{"hostname":"cdn-1"}}"#,
        r#"{"fault":{"kind":"reset"},"trigger":{"nth":{"n":1,"extra":1}}}"#,
        r#"{"fault":{"kind":"reset"},"trigger":{"sometimes":{}}}"#,
        r#"{"fault":{"kind":"teleport"}}"#,
        r#"{"fault":{"kind":"HostDown"}}"#,
        r#"{"target":{"host":"cdn-1"}}"#,
    ];
    for text in bad {
        assert!(
            matches!(FaultRule::from_json(text), Err(FaultError::Parse { format: "JSON", .. })),
            "{text}"
        );
    }
    assert!(matches!(
        FaultRule::list_from_toml("[[rules]]\nfault = { kind = \"reset\" }"),
        Err(FaultError::Parse { .. })
    ));
}

#[test]
fn invalid_values_are_refused_by_loaders_and_add() {
    let cases = [
        (
            r#"{"fault":{"kind":"reset"},"trigger":{"probability":{"p":1.5}}}"#,
            FaultError::ProbabilityOutOfRange(1.5),
        ),
        (r#"{"fault":{"kind":"reset"},"trigger":{"nth":{"n":0}}}"#, FaultError::ZeroNth),
        (r#"{"fault":{"kind":"reset"},"trigger":{"nth":{"n":1,"every":0}}}"#, FaultError::ZeroEvery),
        (
            r#"{"fault":{"kind":"reset"},"trigger":{"window":{"from_ms":10,"to_ms":10}}}"#,
            FaultError::EmptyWindow { from_ms: 10, to_ms: 10 },
        ),
        (
            r#"{"fault":{"kind":"reset"},"trigger":{"matching_code":{"contains":""}}}"#,
            FaultError::EmptyCodeMatch,
        ),
        (r#"{"fault":{"kind":"reset"},"trigger":{"all_of":[]}}"#, FaultError::EmptyAllOf),
        (r#"{"fault":{"kind":"status","status":600}}"#, FaultError::StatusOutOfRange(600)),
        (r#"{"fault":{"kind":"status","status":42}}"#, FaultError::StatusOutOfRange(42)),
        (
            r#"{"fault":{"kind":"latency","distribution":"uniform","min_ms":5,"max_ms":1}}"#,
            FaultError::UniformRange { min_ms: 5, max_ms: 1 },
        ),
        (r#"{"fault":{"kind":"drip","bytes_per_chunk":0,"chunk_delay_ms":1}}"#, FaultError::ZeroChunk),
        (r#"{"fault":{"kind":"reset"},"target":{"endpoint":""}}"#, FaultError::EmptyTarget("endpoint")),
    ];
    let table = FaultTable::new();
    for (text, error) in cases {
        assert_eq!(FaultRule::from_json(text), Err(error.clone()), "{text}");
        let raw: FaultRule = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(table.add(raw), Err(error), "{text}");
    }
    assert!(table.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Property tests.

fn trigger_leaf() -> impl Strategy<Value = Trigger> {
    prop_oneof![
        Just(Trigger::Always),
        (1u64..50, proptest::option::of(1u64..10)).prop_map(|(n, every)| Trigger::Nth { n, every }),
        // Decimal probabilities, as people write them: serde_json's default float parser may be one ulp
        // off on arbitrary 17-digit floats (exact parsing needs its `float_roundtrip` feature).
        (0u32..=10_000).prop_map(|k| Trigger::probability(f64::from(k) / 10_000.0)),
        "[0-9A-Za-z]{1,12}".prop_map(Trigger::matching_code),
        (-1_000_000_000_000i64..1_000_000_000_000, 1i64..10_000_000)
            .prop_map(|(from, len)| Trigger::window(from, from + len)),
    ]
}

fn trigger() -> impl Strategy<Value = Trigger> {
    trigger_leaf()
        .prop_recursive(2, 8, 4, |inner| proptest::collection::vec(inner, 1..4).prop_map(Trigger::AllOf))
}

fn fault_kind() -> impl Strategy<Value = FaultKind> {
    let body = prop_oneof![
        Just(None),
        "[ -~а-я]{0,20}".prop_map(|t| Some(StatusBody::Text(t))),
        (any::<i32>(), "[ -~а-я]{0,20}")
            .prop_map(|(code, d)| Some(StatusBody::Json(json!({"code": code, "description": d})))),
    ];
    let content_type = proptest::option::of(prop_oneof![
        Just("application/json".to_string()),
        Just("text/html; charset=utf-8".to_string())
    ]);
    prop_oneof![
        (0u64..100_000).prop_map(|ms| FaultKind::Latency(Latency::fixed(ms))),
        (0u64..1000, 0u64..1000).prop_map(|(a, b)| FaultKind::Latency(Latency::uniform(a.min(b), a.max(b)))),
        (0u64..1000, 0u64..1000).prop_map(|(m, s)| FaultKind::Latency(Latency::normal(m, s))),
        (0u64..1000).prop_map(|m| FaultKind::Latency(Latency::exponential(m))),
        (100u16..=599, body, content_type).prop_map(|(status, body, content_type)| FaultKind::Status(
            Status { status, body, content_type }
        )),
        Just(FaultKind::Reset),
        Just(FaultKind::Blackhole),
        Just(FaultKind::HostDown),
        (1usize..4096, 0u64..10_000)
            .prop_map(|(b, d)| FaultKind::Drip(Drip { bytes_per_chunk: b, chunk_delay_ms: d })),
    ]
}

fn fault_rule() -> impl Strategy<Value = FaultRule> {
    (
        proptest::option::of("[a-z0-9 ]{1,16}"),
        proptest::option::of("[a-z0-9-]{1,8}\\*?"),
        proptest::option::of("/[a-z0-9/]{0,24}\\*?"),
        trigger(),
        fault_kind(),
        proptest::option::of(0u64..=i64::MAX as u64),
    )
        .prop_map(|(name, host, endpoint, trigger, fault, seed)| FaultRule {
            id: None,
            name,
            target: FaultTarget { host, endpoint },
            trigger,
            fault,
            seed,
        })
}

/// JSON built from the words of the wire format, so that the loaders get past the first checks.
fn wire_like_json() -> impl Strategy<Value = Value> {
    let word = proptest::sample::select(vec![
        "kind",
        "fault",
        "target",
        "trigger",
        "host",
        "endpoint",
        "name",
        "seed",
        "status",
        "body",
        "content_type",
        "latency",
        "status",
        "reset",
        "blackhole",
        "drip",
        "host-down",
        "fixed_ms",
        "distribution",
        "uniform",
        "normal",
        "exponential",
        "min_ms",
        "max_ms",
        "mean_ms",
        "stddev_ms",
        "nth",
        "n",
        "every",
        "probability",
        "p",
        "matching_code",
        "contains",
        "window",
        "from_ms",
        "to_ms",
        "all_of",
        "always",
        "bytes_per_chunk",
        "chunk_delay_ms",
        "rule",
        "id",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        word.clone().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(word.clone().prop_map(String::from), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn loaders_never_panic_on_text(text in "\\PC{0,200}") {
        let _ = FaultRule::from_json(&text);
        let _ = FaultRule::from_toml(&text);
        let _ = FaultRule::list_from_json(&text);
        let _ = FaultRule::list_from_toml(&text);
    }

    #[test]
    fn loaders_never_panic_on_wire_like_values(value in wire_like_json()) {
        let text = value.to_string();
        if let Ok(rule) = FaultRule::from_json(&text) {
            // Whatever loads is usable.
            let table = FaultTable::new();
            prop_assert!(table.add(rule).is_ok());
            let _ = table.decide(&check("cdn-1"));
        }
        let _ = FaultRule::list_from_json(&text);
        if let Ok(toml_text) = toml::to_string(&value) {
            let _ = FaultRule::from_toml(&toml_text);
            let _ = FaultRule::list_from_toml(&toml_text);
        }
    }

    #[test]
    fn valid_rules_round_trip(rule in fault_rule()) {
        prop_assert_eq!(rule.validate(), Ok(()));
        let json_text = serde_json::to_string(&rule).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(FaultRule::from_json(&json_text), Ok(rule.clone()));
        let toml_text = toml::to_string(&rule).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(FaultRule::from_toml(&toml_text), Ok(rule.clone()), "{}", toml_text);
        let table = FaultTable::new();
        let id = table.add(rule.clone());
        prop_assert!(id.is_ok());
        let listed = table.list();
        prop_assert_eq!(listed.len(), 1);
        prop_assert_eq!(FaultRule { id: None, ..listed[0].clone() }, rule);
    }
}

// ---------------------------------------------------------------------------------------------
// Cost of `decide`.

/// Ten rules of a busy scenario; for a check on cdn-1 with the code below, seven look at the call.
fn ten_rules() -> Vec<FaultRule> {
    vec![
        FaultRule::new(FaultKind::HostDown).on_host("cdn-3").when(Trigger::window(0, 900_000)),
        FaultRule::new(FaultKind::Latency(Latency::uniform(40, 120))).on_host("cdn-1"),
        FaultRule::new(FaultKind::Latency(Latency::normal(80, 20))).on_host("cdn-2"),
        FaultRule::new(FaultKind::server_error(502))
            .on_host("cdn-1")
            .on_endpoint(CHECK)
            .when(Trigger::probability(0.05)),
        FaultRule::new(FaultKind::rate_limited_429()).on_host("cdn-*").when(Trigger::nth_every(3, 100)),
        FaultRule::new(FaultKind::cross_border_5000()).when(Trigger::matching_code("04600439931256")),
        FaultRule::new(FaultKind::emergency_203()).when(Trigger::window(3_600_000, 7_200_000)),
        FaultRule::new(FaultKind::Reset).on_endpoint("/api/v4/true-api/cdn/*"),
        FaultRule::new(FaultKind::Blackhole).on_host("lm"),
        FaultRule::new(FaultKind::Latency(Latency::exponential(30))).when(Trigger::probability(0.1)),
    ]
}

fn ns_per_call(table: &FaultTable, host: &str, calls: u64) -> f64 {
    let codes = ["0104600439931256215Sb&(x"];
    let start = Instant::now();
    for i in 0..calls {
        let call = CallInfo::new(host, CHECK, i as i64).with_codes(&codes);
        std::hint::black_box(table.decide(std::hint::black_box(&call)));
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

#[test]
#[ignore = "timing; run with --release -- --ignored --nocapture"]
fn decide_cost() {
    const CALLS: u64 = 2_000_000;
    let empty = FaultTable::new();
    let one = table_with([FaultRule::new(FaultKind::rate_limited_429())
        .on_host("cdn-1")
        .when(Trigger::nth_every(3, 100))]);
    let ten = table_with(ten_rules());
    let cases = [
        ("0 rules", &empty, "cdn-1"),
        ("1 rule", &one, "cdn-1"),
        ("10 rules, 7 look at the call", &ten, "cdn-1"),
        ("10 rules, 2 look at the call", &ten, "true-api-discovery"),
    ];
    let codes = ["0104600439931256215Sb&(x"];
    let start = Instant::now();
    for i in 0..CALLS {
        std::hint::black_box(&CallInfo::new("cdn-1", CHECK, i as i64).with_codes(&codes));
    }
    let overhead = start.elapsed().as_nanos() as f64 / CALLS as f64;
    println!("loop without decide (included below)     : {overhead:7.1} ns/call");
    for (label, table, host) in cases {
        let _ = ns_per_call(table, host, CALLS / 10);
        println!("decide, {label:<30} 1 thread : {:7.1} ns/call", ns_per_call(table, host, CALLS));
    }
    for (label, table, host) in cases {
        let start = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| ns_per_call(table, host, CALLS));
            }
        });
        let ns = start.elapsed().as_nanos() as f64 / (2 * CALLS) as f64;
        println!("decide, {label:<30} 2 threads: {ns:7.1} ns/call (wall time / total calls)");
    }
}
