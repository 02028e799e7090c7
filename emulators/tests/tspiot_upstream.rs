//! The ТС ПИоТ's True API client against real emulated True API hosts (3 CDN hosts, the fault layer, a
//! frozen world clock): discovery and latency ordering, health-check drops, host blocking in world
//! time, retries on 429 / 5xx / 5000, the 203 / 418 / 401 / 4xx outcomes, the online budget, and the
//! refresh schedule (spec `true-api.md` §8, §13). Which host got which call is read from the trace.

use markcert_emulators::cdn::{self, TrueApiContext, TrueApiServers};
use markcert_emulators::clock::WorldClock;
use markcert_emulators::faults::{FaultKind, FaultRule, Latency, Trigger};
use markcert_emulators::trace::{Trace, TraceEvent, TraceFilter};
use markcert_emulators::tspiot::auth::Credential;
use markcert_emulators::tspiot::options::UpstreamOptions;
use markcert_emulators::tspiot::upstream::{CdnClient, CheckOutcome, UpstreamError};
use markcert_emulators::world::default::{default_world, STORE_API_KEY};
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::time::Instant;

const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z, before the default X-API-KEY cut-off
const CHECK: &str = "/api/v4/true-api/codes/check";
const HEALTH: &str = "/api/v4/true-api/cdn/health/check";
const HOUR_MS: i64 = 3_600_000;

struct Env {
    servers: TrueApiServers,
    ctx: TrueApiContext,
    client: CdnClient,
    cred: Credential,
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// `cdn_hosts` emulated CDN hosts and a client over them (not refreshed yet).
async fn start_bare(cdn_hosts: usize, opts: UpstreamOptions) -> Env {
    let world = Arc::new(RwLock::new(default_world(NOW).unwrap()));
    let ctx = TrueApiContext::new(world, WorldClock::frozen_at(NOW), Trace::in_memory(10_000));
    let servers = cdn::spawn(ctx.clone(), IpAddr::V4(Ipv4Addr::LOCALHOST), cdn_hosts).await.unwrap();
    let client = CdnClient::new(servers.endpoints.discovery.clone(), ctx.clock.clone(), opts, http());
    Env { servers, ctx, client, cred: Credential::XApiKey(STORE_API_KEY.into()) }
}

/// 3 CDN hosts, refreshed once.
async fn start() -> Env {
    start_with(UpstreamOptions::default()).await
}

async fn start_with(opts: UpstreamOptions) -> Env {
    let env = start_bare(3, opts).await;
    let report = env.client.refresh(&env.cred).await.unwrap();
    assert_eq!((report.listed, report.healthy), (3, 3));
    env
}

impl Env {
    /// The trace name (`cdn-N`) of a host base URL.
    fn name(&self, url: &str) -> String {
        let i = self.servers.endpoints.hosts.iter().position(|h| h == url).expect("a CDN host");
        format!("cdn-{}", i + 1)
    }

    /// Trace names of the hosts in use, in the client's order.
    fn order(&self) -> Vec<String> {
        self.client.hosts().iter().map(|h| self.name(&h.url)).collect()
    }

    /// Base URL of the `i`-th host in the client's order.
    fn url(&self, i: usize) -> String {
        self.client.hosts()[i].url.clone()
    }

    fn code(&self, case: &str) -> String {
        let w = self.ctx.world.read().unwrap();
        w.codes().into_iter().find(|c| c.case.as_deref() == Some(case)).unwrap().code.clone()
    }

    async fn check(&self) -> CheckOutcome {
        let codes = [self.code("in-circulation")];
        self.client.check(&codes, None, &self.cred, Instant::now()).await
    }

    fn fault(&self, rule: FaultRule) {
        self.ctx.faults.add(rule).unwrap();
    }

    fn last_seq(&self) -> u64 {
        self.ctx.trace.last_seq().unwrap_or(0)
    }

    /// Every event after `seq`.
    fn events_since(&self, seq: u64) -> Vec<TraceEvent> {
        self.ctx.trace.events(&TraceFilter { since_seq: Some(seq), ..TraceFilter::default() })
    }

    /// `(component, status)` of each `codes/check` call after `seq`, in order.
    fn checks_since(&self, seq: u64) -> Vec<(String, u16)> {
        self.events_since(seq)
            .into_iter()
            .filter(|e| e.path == CHECK)
            .map(|e| (e.component.to_string(), e.status))
            .collect()
    }

    fn blocked(&self) -> Vec<String> {
        self.client
            .hosts()
            .iter()
            .filter(|h| h.blocked_until_ms.is_some())
            .map(|h| self.name(&h.url))
            .collect()
    }

    fn advance_ms(&self, ms: i64) {
        self.ctx.clock.advance(Duration::from_millis(ms as u64));
    }
}

fn on(kind: FaultKind, host: &str, endpoint: &str) -> FaultRule {
    FaultRule::new(kind).on_host(host).on_endpoint(endpoint)
}

fn result_host(o: &CheckOutcome) -> &str {
    match o {
        CheckOutcome::Result { host, status: 200, .. } => host,
        other => panic!("expected a result, got {other:?}"),
    }
}

#[tokio::test]
async fn refresh_lists_every_host_and_sorts_by_round_trip() {
    let env = start_bare(3, UpstreamOptions::default()).await;
    assert!(env.client.refresh_due(), "no list yet");
    env.fault(on(FaultKind::Latency(Latency::Fixed { fixed_ms: 150 }), "cdn-1", HEALTH));
    let report = env.client.refresh(&env.cred).await.unwrap();
    assert_eq!((report.listed, report.healthy), (3, 3));
    let hosts = env.client.hosts();
    assert_eq!(env.order().last().map(String::as_str), Some("cdn-1"), "the slow host goes last");
    assert!(hosts[2].rtt_ms.unwrap() >= 150 && hosts[0].rtt_ms.unwrap() < 150, "{hosts:?}");
    assert!(hosts.iter().all(|h| h.blocked_until_ms.is_none()));
    assert!(!env.client.refresh_due());
    // One cdn/info on the discovery host, one health check per CDN host.
    let events = env.ctx.trace.events(&TraceFilter::default());
    let count = |component: &str, path: &str| {
        events.iter().filter(|e| e.component == component && e.path == path && e.status == 200).count()
    };
    assert_eq!(count("true-api-discovery", "/api/v4/true-api/cdn/info"), 1);
    for h in ["cdn-1", "cdn-2", "cdn-3"] {
        assert_eq!(count(h, HEALTH), 1, "{h}");
    }
    env.servers.shutdown().await;
}

#[tokio::test]
async fn failing_health_checks_drop_hosts() {
    let opts = UpstreamOptions { health_timeout_ms: 300, ..UpstreamOptions::default() };
    let env = start_bare(3, opts).await;
    env.fault(on(FaultKind::server_error(503), "cdn-2", HEALTH));
    env.fault(on(FaultKind::Blackhole, "cdn-3", HEALTH));
    let report = env.client.refresh(&env.cred).await.unwrap();
    assert_eq!((report.listed, report.healthy), (3, 1));
    assert_eq!(env.order(), ["cdn-1"]);
    let seq = env.last_seq();
    for _ in 0..3 {
        assert_eq!(env.name(result_host(&env.check().await)), "cdn-1");
    }
    assert_eq!(env.checks_since(seq), vec![("cdn-1".to_string(), 200); 3]);
    env.servers.shutdown().await;
}

#[tokio::test]
async fn a_down_host_is_skipped_and_blocked_for_15_minutes_of_world_time() {
    let env = start().await;
    let (first, second) = (env.order()[0].clone(), env.order()[1].clone());
    let first_url = env.url(0);
    env.fault(FaultRule::new(FaultKind::HostDown).on_host(first.as_str()));
    let o = env.check().await;
    assert_eq!(env.name(result_host(&o)), second, "moved on to the next host");
    assert_eq!(env.blocked(), std::slice::from_ref(&first));
    let until = env.client.hosts()[0].blocked_until_ms.unwrap();
    assert_eq!(until, NOW + 900_000);
    // While blocked, nothing reaches it (even once the host is back up).
    env.ctx.faults.clear();
    let seq = env.last_seq();
    for _ in 0..3 {
        assert_eq!(env.name(result_host(&env.check().await)), second);
    }
    env.advance_ms(900_000 - 1);
    assert_eq!(env.name(result_host(&env.check().await)), second, "still blocked 1 ms before the end");
    assert!(env.events_since(seq).iter().all(|e| e.component != first), "no call to the blocked host");
    assert!(!env.client.refresh_due(), "one host blocked is not every host");
    // 15 min after the failure it is eligible again, first in latency order.
    env.advance_ms(1);
    assert!(env.blocked().is_empty());
    let seq = env.last_seq();
    let o = env.check().await;
    assert_eq!(result_host(&o), first_url);
    assert_eq!(env.checks_since(seq), [(first, 200)]);
    env.servers.shutdown().await;
}

#[tokio::test]
async fn rate_limited_once_is_retried_on_the_same_host() {
    let env = start().await;
    let first = env.order()[0].clone();
    env.fault(on(FaultKind::rate_limited_429(), &first, CHECK).when(Trigger::nth(1)));
    let seq = env.last_seq();
    let o = env.check().await;
    assert_eq!(env.name(result_host(&o)), first);
    assert_eq!(env.checks_since(seq), [(first.clone(), 429), (first, 200)]);
    assert!(env.blocked().is_empty());
    env.servers.shutdown().await;
}

#[tokio::test]
async fn rate_limited_twice_blocks_the_host_and_moves_on() {
    let env = start().await;
    let (first, second) = (env.order()[0].clone(), env.order()[1].clone());
    env.fault(on(FaultKind::rate_limited_429(), &first, CHECK));
    let seq = env.last_seq();
    let o = env.check().await;
    assert_eq!(env.name(result_host(&o)), second);
    assert_eq!(env.checks_since(seq), [(first.clone(), 429), (first.clone(), 429), (second, 200)]);
    assert_eq!(env.blocked(), [first]);
    env.servers.shutdown().await;
}

#[tokio::test]
async fn server_errors_are_retried_once_then_block_the_host() {
    let env = start().await;
    let (first, second) = (env.order()[0].clone(), env.order()[1].clone());
    // Once: retried on the same host.
    let once =
        env.ctx.faults.add(on(FaultKind::server_error(503), &first, CHECK).when(Trigger::nth(1))).unwrap();
    let seq = env.last_seq();
    assert_eq!(env.name(result_host(&env.check().await)), first);
    assert_eq!(env.checks_since(seq), [(first.clone(), 503), (first.clone(), 200)]);
    assert!(env.blocked().is_empty());
    env.ctx.faults.remove(once);
    // Twice: blocked, next host.
    env.fault(on(FaultKind::server_error(500), &first, CHECK));
    let seq = env.last_seq();
    assert_eq!(env.name(result_host(&env.check().await)), second);
    assert_eq!(env.checks_since(seq), [(first.clone(), 500), (first.clone(), 500), (second, 200)]);
    assert_eq!(env.blocked(), [first]);
    env.servers.shutdown().await;
}

#[tokio::test]
async fn an_unreadable_200_counts_as_a_server_error() {
    let env = start().await;
    let (first, second) = (env.order()[0].clone(), env.order()[1].clone());
    env.fault(on(FaultKind::status(200), &first, CHECK));
    let seq = env.last_seq();
    assert_eq!(env.name(result_host(&env.check().await)), second);
    assert_eq!(env.checks_since(seq), [(first.clone(), 200), (first.clone(), 200), (second, 200)]);
    assert_eq!(env.blocked(), [first]);
    env.servers.shutdown().await;
}

#[tokio::test]
async fn cross_border_5000_is_retried_once_and_never_blocks() {
    let env = start().await;
    let first = env.order()[0].clone();
    // Once: retried, then the answer.
    let once =
        env.ctx.faults.add(on(FaultKind::cross_border_5000(), &first, CHECK).when(Trigger::nth(1))).unwrap();
    let seq = env.last_seq();
    assert_eq!(env.name(result_host(&env.check().await)), first);
    assert_eq!(env.checks_since(seq), [(first.clone(), 503), (first.clone(), 200)]);
    env.ctx.faults.remove(once);
    // Twice on every host: give up after the same host, no block, no other host called.
    env.fault(on(FaultKind::cross_border_5000(), "cdn-*", CHECK));
    let seq = env.last_seq();
    let o = env.check().await;
    assert_eq!(o, CheckOutcome::CrossBorderUnavailable { host: env.url(0) });
    assert_eq!(env.checks_since(seq), [(first.clone(), 503), (first, 503)]);
    assert!(env.blocked().is_empty());
    assert!(!env.client.refresh_due());
    env.servers.shutdown().await;
}

#[tokio::test]
async fn emergency_203_and_teapot_418_end_the_check_on_that_host() {
    let env = start().await;
    let first = env.order()[0].clone();
    let id = env.ctx.faults.add(on(FaultKind::emergency_203(), &first, CHECK)).unwrap();
    let seq = env.last_seq();
    match env.check().await {
        CheckOutcome::Emergency { host, body } => {
            assert_eq!(host, env.url(0));
            assert_eq!(body.unwrap()["code"], 203);
        }
        other => panic!("{other:?}"),
    }
    env.ctx.faults.remove(id);
    env.fault(on(FaultKind::teapot_418(), &first, CHECK));
    assert_eq!(env.check().await, CheckOutcome::Teapot { host: env.url(0) });
    assert_eq!(env.checks_since(seq), [(first.clone(), 203), (first, 418)]);
    assert!(env.blocked().is_empty());
    env.servers.shutdown().await;
}

#[tokio::test]
async fn auth_error_401_does_not_switch_hosts() {
    let env = start().await;
    let first = env.order()[0].clone();
    let bad = Credential::XApiKey("00000000-0000-0000-0000-000000000000".into());
    let seq = env.last_seq();
    let codes = [env.code("in-circulation")];
    let o = env.client.check(&codes, None, &bad, Instant::now()).await;
    assert_eq!(o, CheckOutcome::AuthError { host: env.url(0), status: 401 });
    assert_eq!(env.checks_since(seq), [(first.clone(), 401)], "no retry, no other host");
    assert!(env.blocked().is_empty());
    // The same from an imposed 401, with a good credential.
    env.fault(on(FaultKind::unauthorized_401(), &first, CHECK));
    assert_eq!(env.check().await, CheckOutcome::AuthError { host: env.url(0), status: 401 });
    // Discovery refuses a bad credential too, and the list in use stays.
    match env.client.refresh(&bad).await {
        Err(UpstreamError::Unauthorized { status: 401 }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(env.client.hosts().len(), 3);
    env.servers.shutdown().await;
}

#[tokio::test]
async fn request_errors_do_not_switch_hosts() {
    let env = start().await;
    let first = env.order()[0].clone();
    let seq = env.last_seq();
    // An empty codes list: the host answers 400.
    match env.client.check(&[], None, &env.cred, Instant::now()).await {
        CheckOutcome::RequestError { host, status: 400, body } => {
            assert_eq!(host, env.url(0));
            assert!(body.unwrap()["error_message"].is_string());
        }
        other => panic!("{other:?}"),
    }
    // 200 with a request-level error code.
    env.fault(on(FaultKind::status_json(200, json!({"code": 7, "description": "нет"})), &first, CHECK));
    match env.check().await {
        CheckOutcome::RequestError { status: 200, body, .. } => assert_eq!(body.unwrap()["code"], 7),
        other => panic!("{other:?}"),
    }
    env.ctx.faults.clear();
    env.fault(on(FaultKind::deprecated_410(), &first, CHECK));
    assert!(matches!(env.check().await, CheckOutcome::RequestError { status: 410, .. }));
    assert_eq!(env.checks_since(seq), [(first.clone(), 400), (first.clone(), 200), (first, 410)]);
    assert!(env.blocked().is_empty());
    env.servers.shutdown().await;
}

#[tokio::test]
async fn codes_go_out_with_gs_and_the_fiscal_drive_and_the_whole_answer_comes_back() {
    let env = start().await;
    let code = env.code("in-circulation");
    let seq = env.last_seq();
    let o = env
        .client
        .check(std::slice::from_ref(&code), Some("7380440700000123"), &env.cred, Instant::now())
        .await;
    let CheckOutcome::Result { body, .. } = &o else { panic!("{o:?}") };
    assert_eq!((body["code"].as_i64(), body["reqTimestamp"].as_i64()), (Some(0), Some(NOW)));
    assert_eq!(body["codes"][0]["cis"], code.as_str());
    let ev = env.events_since(seq).into_iter().find(|e| e.path == CHECK).unwrap();
    assert_eq!(ev.codes, [code], "the code bytes reach the host unchanged");
    assert_eq!(ev.req_id.as_deref(), body["reqId"].as_str());
    env.servers.shutdown().await;
}

#[tokio::test]
async fn slow_hosts_beyond_the_budget_give_online_unavailable() {
    let env = start().await;
    env.fault(on(FaultKind::Latency(Latency::Fixed { fixed_ms: 2000 }), "cdn-*", CHECK));
    let t0 = std::time::Instant::now();
    let o = env.check().await;
    assert!(t0.elapsed() < Duration::from_secs(5), "does not hang");
    assert_eq!(o, CheckOutcome::OnlineUnavailable { tried: vec![env.url(0)] });
    assert_eq!(env.blocked(), [env.order()[0].clone()], "the host that timed out is blocked");
    env.servers.shutdown().await;
}

#[tokio::test]
async fn blackholed_hosts_give_online_unavailable() {
    let env = start().await;
    env.fault(on(FaultKind::Blackhole, "cdn-*", CHECK));
    let t0 = std::time::Instant::now();
    let o = env.check().await;
    assert!(t0.elapsed() < Duration::from_secs(5), "does not hang");
    assert!(matches!(o, CheckOutcome::OnlineUnavailable { .. }), "{o:?}");
    env.servers.shutdown().await;
}

#[tokio::test]
async fn every_host_blocked_asks_for_one_refresh_that_keeps_the_blocks() {
    let env = start().await;
    env.fault(FaultRule::new(FaultKind::HostDown).on_host("cdn-*"));
    let o = env.check().await;
    let all: Vec<String> = env.client.hosts().into_iter().map(|h| h.url).collect();
    assert_eq!(o, CheckOutcome::OnlineUnavailable { tried: all });
    assert_eq!(env.blocked().len(), 3);
    assert!(env.client.refresh_due(), "every host blocked");
    // The hosts are back; the refresh keeps their blocks, so the next check calls nobody.
    env.ctx.faults.clear();
    let report = env.client.refresh(&env.cred).await.unwrap();
    assert_eq!(report.healthy, 3);
    assert!(!env.client.refresh_due());
    assert_eq!(env.blocked().len(), 3);
    let seq = env.last_seq();
    assert_eq!(env.check().await, CheckOutcome::OnlineUnavailable { tried: vec![] });
    assert!(env.checks_since(seq).is_empty());
    assert!(!env.client.refresh_due(), "one extra refresh per block period (15 min), not one per check");
    env.advance_ms(900_000);
    result_host(&env.check().await);
    env.servers.shutdown().await;
}

#[tokio::test]
async fn the_list_is_refreshed_between_6_and_7_hours_of_world_time() {
    let env = start().await;
    let next = env.client.next_refresh_ms().unwrap();
    assert!((NOW + 6 * HOUR_MS..=NOW + 7 * HOUR_MS).contains(&next), "{next}");
    env.advance_ms(6 * HOUR_MS - 1);
    assert!(!env.client.refresh_due(), "not before 6 h");
    env.advance_ms(next - env.ctx.clock.now_ms() - 1);
    assert!(!env.client.refresh_due());
    env.advance_ms(1);
    assert!(env.client.refresh_due(), "at the drawn instant");
    env.advance_ms(NOW + 7 * HOUR_MS - env.ctx.clock.now_ms());
    assert!(env.client.refresh_due(), "at 7 h at the latest");
    let report = env.client.refresh(&env.cred).await.unwrap();
    let now = env.ctx.clock.now_ms();
    assert!((now + 6 * HOUR_MS..=now + 7 * HOUR_MS).contains(&report.next_refresh_ms));
    assert!(!env.client.refresh_due());
    env.servers.shutdown().await;
}

#[tokio::test]
async fn the_refresh_instant_is_reproducible_from_the_seed() {
    let env = start_bare(1, UpstreamOptions { seed: 7, ..UpstreamOptions::default() }).await;
    let client = |seed| {
        let opts = UpstreamOptions { seed, ..UpstreamOptions::default() };
        CdnClient::new(env.servers.endpoints.discovery.clone(), env.ctx.clock.clone(), opts, http())
    };
    let mut draws = Vec::new();
    for c in [client(7), client(7), client(8)] {
        let mut instants = Vec::new();
        for _ in 0..3 {
            instants.push(c.refresh(&env.cred).await.unwrap().next_refresh_ms);
        }
        draws.push(instants);
    }
    assert_eq!(draws[0], draws[1], "same seed, same instants");
    assert_ne!(draws[0], draws[2], "another seed, other instants");
    assert!(draws.iter().flatten().all(|t| (NOW + 6 * HOUR_MS..=NOW + 7 * HOUR_MS).contains(t)));
    env.servers.shutdown().await;
}

#[tokio::test]
async fn no_list_yet_and_discovery_failures() {
    let env = start_bare(2, UpstreamOptions::default()).await;
    assert_eq!(env.check().await, CheckOutcome::OnlineUnavailable { tried: vec![] });
    assert!(env.client.refresh_due());
    let id = env.ctx.faults.add(FaultRule::new(FaultKind::HostDown).on_host("true-api-discovery")).unwrap();
    assert!(matches!(env.client.refresh(&env.cred).await, Err(UpstreamError::Unreachable { .. })));
    env.ctx.faults.remove(id);
    let id = env
        .ctx
        .faults
        .add(FaultRule::new(FaultKind::server_error(502)).on_host("true-api-discovery"))
        .unwrap();
    assert!(matches!(env.client.refresh(&env.cred).await, Err(UpstreamError::Status { status: 502, .. })));
    env.ctx.faults.remove(id);
    env.fault(FaultRule::new(FaultKind::status_json(200, json!({"hosts": 3}))).on_host("true-api-discovery"));
    assert!(matches!(env.client.refresh(&env.cred).await, Err(UpstreamError::BadAnswer { .. })));
    env.ctx.faults.clear();
    env.fault(FaultRule::new(FaultKind::Blackhole).on_host("true-api-discovery"));
    let quick = env.client.clone().with_discovery_timeout(Duration::from_millis(200));
    assert!(matches!(quick.refresh(&env.cred).await, Err(UpstreamError::Timeout { after_ms: 200, .. })));
    assert!(env.client.refresh_due() && env.client.hosts().is_empty(), "still no list");
    env.ctx.faults.clear();
    assert_eq!(env.client.refresh(&env.cred).await.unwrap().healthy, 2);
    env.servers.shutdown().await;
}

#[tokio::test]
async fn an_empty_list_means_checking_on_the_discovery_base() {
    // Sandbox profile (`true-api.md` §1): no CDN hosts listed. The emulated discovery host answers
    // `codes/check` with 404, a request error.
    let env = start_bare(0, UpstreamOptions::default()).await;
    let report = env.client.refresh(&env.cred).await.unwrap();
    assert_eq!((report.listed, report.healthy), (0, 0));
    let discovery = env.servers.endpoints.discovery.clone();
    let hosts = env.client.hosts();
    assert_eq!((hosts.len(), hosts[0].url.as_str(), hosts[0].rtt_ms), (1, discovery.as_str(), None));
    let o = env.check().await;
    assert!(
        matches!(&o, CheckOutcome::RequestError { host, status: 404, .. } if *host == discovery),
        "{o:?}"
    );
    env.servers.shutdown().await;
}
