//! The ЛМ ЧЗ model (spec `local-module.md`) on the default world: the status state machine on the
//! world clock (§4.3, §5), snapshot lag and versions (§4.3, §8), the blocked / grey GTIN lists (§6),
//! the sold list (§9), and insta snapshots of the v1 / v2 answer shapes (§4.1, §4.2, §6).

use markcert_emulators::lm::{
    InitRequest, LmError, LmOptions, LmStatus, LocalModule, TimeUnit, V2Fields, VersionPolicy,
};
use markcert_emulators::world::default::default_world;
use markcert_emulators::world::{identity, World};
use proptest::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;

const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const S: i64 = 1_000;
const MIN: i64 = 60 * S;
const H: i64 = 3_600 * S;
const DAY: i64 = 24 * H;
/// The instant a module initialised at NOW becomes ready (default 30 s).
const READY: i64 = NOW + 30 * S;
const REQ: Uuid = Uuid::from_u128(0xbac05b79_f83c_46f7_9abc_6681e3299b9c);

fn world() -> World {
    default_world(NOW).expect("default world builds")
}

/// The first code of the default world labelled `case`.
fn code_of(w: &World, case: &str) -> String {
    w.codes()
        .into_iter()
        .find(|c| c.case.as_deref() == Some(case))
        .map(|c| c.code.clone())
        .unwrap_or_else(|| panic!("no {case}"))
}

/// The first code of a tobacco pack (29 characters, КИ = first 21).
fn pack_code(w: &World) -> String {
    w.codes()
        .into_iter()
        .map(|c| c.code.clone())
        .find(|c| c.len() == 29 && !c.starts_with("01"))
        .expect("a tobacco pack")
}

fn ki(code: &str) -> String {
    identity(code).expect("a valid code")
}

fn init_req() -> InitRequest {
    InitRequest { token: "token-1".into(), clear_sold: None, enable_grey_list: None }
}

/// A module initialised at NOW with `opts`, and ready at READY.
fn ready_module(w: &World, opts: LmOptions) -> LocalModule {
    let mut lm = LocalModule::new(opts);
    lm.init(w, NOW, init_req()).expect("init");
    assert_eq!(lm.status(w, READY), LmStatus::Ready);
    lm
}

/// The single per-code object of a v1 check of `cis`.
fn check1(lm: &mut LocalModule, w: &World, now: i64, cis: &str) -> Value {
    let v = lm.out_check_v1(w, now, &[cis.to_string()], REQ).expect("ready");
    v["codes"][0].clone()
}

/// The single per-code object of a v2 check of `cis`.
fn check2(lm: &mut LocalModule, w: &World, now: i64, cis: &str) -> Value {
    let v = lm.out_check_v2(w, now, &[(cis.to_string(), None)], REQ).expect("ready");
    v["results"][0]["codes"][0].clone()
}

fn flags(code: &Value) -> (bool, bool) {
    (code["isBlocked"] == true, code["isGreyGtin"] == true)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// State machine

#[test]
fn not_configured_then_initialization_then_ready_after_30_s() {
    let w = world();
    let mut lm = LocalModule::new(LmOptions::default());
    assert_eq!(lm.status(&w, NOW), LmStatus::NotConfigured);
    assert_eq!(lm.current_version(), None);
    assert_eq!(lm.last_sync_ms(), None);
    let refused = lm.out_check_v1(&w, NOW, &strings(&["x"]), REQ).unwrap_err();
    assert_eq!(refused.http_status, 400);
    assert_eq!(
        refused.body,
        json!({"code": 4045, "errorCode": 4045, "description": "local module is not ready: not_configured"})
    );
    assert_eq!(lm.status_v1(&w, NOW)["requiresDownload"], true);

    lm.init(&w, NOW, init_req()).unwrap();
    assert_eq!(lm.status(&w, NOW), LmStatus::Initialization);
    let refused = lm.out_check_v2(&w, READY - 1, &[("x".into(), Some(8))], REQ).unwrap_err();
    assert_eq!((refused.status, refused.http_status), (LmStatus::Initialization, 400));
    assert_eq!(
        refused.body,
        json!({"code": 4045, "errorCode": 4045, "description": "local module is not ready: initialization"})
    );
    for r in [
        lm.sell(&w, READY - 1, &strings(&["x"])).unwrap_err(),
        lm.return_codes(&w, READY - 1, &strings(&["x"])).unwrap_err(),
        lm.sold_check(&w, READY - 1, &strings(&["x"])).unwrap_err(),
    ] {
        assert_eq!(r.body["errorCode"], 4045);
    }
    assert!(matches!(lm.sold_list(&w, READY - 1, 0, 10), Err(LmError::NotReady(_))));
    assert!(matches!(lm.sync_now(&w, READY - 1), Err(LmError::Initialising { until_ms: READY })));
    assert_eq!(lm.last_sync_ms(), None);

    assert_eq!(lm.status(&w, READY), LmStatus::Ready);
    assert_eq!(lm.last_sync_ms(), Some(READY));
    assert!(lm.current_version().is_some());
    assert_eq!(lm.token(), Some("token-1"));
    assert!(lm.out_check_v1(&w, READY, &strings(&["x"]), REQ).is_ok());
    let st = lm.status_v1(&w, READY);
    assert_eq!(
        (st["operationMode"].clone(), st["requiresDownload"].clone()),
        (json!("active"), json!(false))
    );
}

#[test]
fn empty_token_is_refused_and_changes_nothing() {
    let w = world();
    let mut lm = LocalModule::new(LmOptions::default());
    for token in ["", "   "] {
        let r = lm.init(&w, NOW, InitRequest { token: token.into(), ..init_req() });
        assert!(matches!(r, Err(LmError::EmptyToken)), "{token:?}");
    }
    assert_eq!(lm.status(&w, READY), LmStatus::NotConfigured);
    assert!(matches!(lm.sync_now(&w, READY), Err(LmError::NotInitialised)));
}

#[test]
fn link_down_gives_sync_error_after_more_than_72_h_and_restoring_it_gives_ready() {
    let w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    lm.set_operator_link(&w, READY + MIN, false);
    assert!(!lm.operator_link_up());
    assert!(matches!(lm.sync_now(&w, READY + MIN), Err(LmError::LinkDown)));
    // No sync while the link is down, however long.
    assert_eq!(lm.status(&w, READY + 72 * H), LmStatus::Ready, "exactly 72 h is still ready");
    assert_eq!(lm.last_sync_ms(), Some(READY));
    assert_eq!(lm.status(&w, READY + 72 * H + 1), LmStatus::SyncError);
    let refused = lm.out_check_v1(&w, READY + 72 * H + 1, &strings(&["x"]), REQ).unwrap_err();
    assert_eq!(refused.http_status, 400);
    assert_eq!(
        refused.body,
        json!({"code": 4050, "errorCode": 4050, "description": "local module is not ready: sync_error"})
    );
    assert_eq!(lm.sell(&w, READY + 73 * H, &strings(&["x"])).unwrap_err().body["errorCode"], 4050);
    let st = lm.status_v2(&w, READY + 73 * H);
    assert_eq!((st["status"].clone(), st["operationMode"].clone()), (json!("sync_error"), json!("service")));

    // Link restored: sync at that instant, ready again.
    let back = READY + 80 * H + 17;
    lm.set_operator_link(&w, back, true);
    assert_eq!(lm.last_sync_ms(), Some(back));
    assert_eq!(lm.status(&w, back), LmStatus::Ready);
    // And the schedule runs from there.
    assert_eq!(lm.status(&w, back + 5 * MIN - 1), LmStatus::Ready);
    assert_eq!(lm.last_sync_ms(), Some(back));
    lm.advance(&w, back + 12 * MIN);
    assert_eq!(lm.last_sync_ms(), Some(back + 10 * MIN));
}

#[test]
fn a_short_outage_neither_syncs_nor_restarts_the_schedule() {
    let w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    lm.set_operator_link(&w, READY + MIN, false);
    lm.set_operator_link(&w, READY + 2 * MIN, true);
    assert_eq!(lm.last_sync_ms(), Some(READY));
    lm.advance(&w, READY + 5 * MIN);
    assert_eq!(lm.last_sync_ms(), Some(READY + 5 * MIN));
}

#[test]
fn periodic_syncs_land_on_the_grid_and_collapse_when_the_clock_jumps() {
    let w = world();
    let mut lm =
        ready_module(&w, LmOptions { version_policy: VersionPolicy::PerSync, ..LmOptions::default() });
    let v0 = lm.current_version();
    lm.advance(&w, READY + 299 * S);
    assert_eq!((lm.last_sync_ms(), lm.current_version()), (Some(READY), v0));
    // A jump over a year: one sync, on the grid, one new version; no loop per interval.
    let far = READY + 400 * DAY + 123_456;
    lm.advance(&w, far);
    let grid = READY + (400 * DAY + 123_456) / (300 * S) * (300 * S);
    assert_eq!(lm.last_sync_ms(), Some(grid));
    assert_ne!(lm.current_version(), v0);
    assert_eq!(lm.status(&w, far), LmStatus::Ready);
}

#[test]
fn init_waits_for_the_operator_link() {
    let w = world();
    let mut lm = LocalModule::new(LmOptions::default());
    lm.set_operator_link(&w, NOW, false);
    lm.init(&w, NOW, init_req()).unwrap();
    assert_eq!(lm.status(&w, READY + H), LmStatus::Initialization);
    lm.set_operator_link(&w, READY + 2 * H, true);
    assert_eq!(lm.status(&w, READY + 2 * H), LmStatus::Ready);
    assert_eq!(lm.last_sync_ms(), Some(READY + 2 * H));
    // A link restored before the deadline does not shorten it.
    let mut lm = LocalModule::new(LmOptions::default());
    lm.init(&w, NOW, init_req()).unwrap();
    lm.set_operator_link(&w, NOW + S, false);
    lm.set_operator_link(&w, NOW + 2 * S, true);
    assert_eq!(lm.status(&w, READY - 1), LmStatus::Initialization);
    assert_eq!(lm.status(&w, READY), LmStatus::Ready);
}

#[test]
fn re_init_from_sync_error_and_from_ready() {
    let w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    lm.set_operator_link(&w, READY, false);
    let t = READY + 73 * H;
    assert_eq!(lm.status(&w, t), LmStatus::SyncError);
    // The client re-inits (allowed); with the link still down the download cannot finish.
    lm.init(&w, t, init_req()).unwrap();
    assert_eq!(lm.status(&w, t), LmStatus::Initialization);
    assert_eq!(lm.status(&w, t + H), LmStatus::Initialization);
    assert_eq!(lm.status_v1(&w, t + H)["lastSync"], READY, "old lastSync shown while re-initialising");
    lm.set_operator_link(&w, t + 2 * H, true);
    assert_eq!(lm.status(&w, t + 2 * H), LmStatus::Ready);
    assert_eq!(lm.last_sync_ms(), Some(t + 2 * H));

    // From ready: back to initialization for init_duration_s, then ready.
    let t = t + 3 * H;
    lm.init(&w, t, init_req()).unwrap();
    assert_eq!(lm.status(&w, t + 29 * S), LmStatus::Initialization);
    assert_eq!(lm.status(&w, t + 30 * S), LmStatus::Ready);
    assert_eq!(lm.last_sync_ms(), Some(t + 30 * S));
    // From initialization: the deadline restarts.
    lm.init(&w, t + H, init_req()).unwrap();
    lm.init(&w, t + H + 20 * S, init_req()).unwrap();
    assert_eq!(lm.status(&w, t + H + 30 * S), LmStatus::Initialization);
    assert_eq!(lm.status(&w, t + H + 50 * S), LmStatus::Ready);
}

#[test]
fn forced_failure_answers_500_until_cleared() {
    let w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    lm.force_status(Some(LmStatus::Failure));
    assert_eq!(lm.forced_status(), Some(LmStatus::Failure));
    assert_eq!(lm.status(&w, READY + S), LmStatus::Failure);
    let refused = lm.out_check_v1(&w, READY + S, &strings(&["x"]), REQ).unwrap_err();
    assert_eq!((refused.status, refused.http_status), (LmStatus::Failure, 500));
    assert_eq!(refused.body["description"], "local module is not ready: failure");
    assert_eq!(lm.sold_check(&w, READY + S, &strings(&["x"])).unwrap_err().http_status, 500);
    let st = lm.status_v1(&w, READY + S);
    assert_eq!((st["status"].clone(), st["operationMode"].clone()), (json!("failure"), json!("service")));
    // Timers keep running underneath.
    lm.advance(&w, READY + 10 * MIN);
    assert_eq!(lm.last_sync_ms(), Some(READY + 10 * MIN));
    lm.force_status(None);
    assert_eq!(lm.status(&w, READY + 10 * MIN), LmStatus::Ready);

    // Every other status can be forced too, with its own refusal.
    for (s, code) in
        [(LmStatus::NotConfigured, 4045), (LmStatus::Initialization, 4045), (LmStatus::SyncError, 4050)]
    {
        lm.force_status(Some(s));
        let r = lm.out_check_v1(&w, READY + 10 * MIN, &strings(&["x"]), REQ).unwrap_err();
        assert_eq!((r.status, r.http_status, r.body["errorCode"].clone()), (s, 400, json!(code)));
    }
    lm.force_status(None);
}

#[test]
fn forced_ready_before_the_first_sync_answers_from_empty_lists() {
    let w = world();
    let mut lm = LocalModule::new(LmOptions::default());
    lm.force_status(Some(LmStatus::Ready));
    let blocked = code_of(&w, "blocked");
    let v = lm.out_check_v1(&w, NOW, &[blocked], REQ).unwrap();
    assert_eq!(v["codes"][0]["isBlocked"], false);
    assert_eq!(v["version"], Uuid::nil().to_string());
    let st = lm.status_v1(&w, NOW);
    assert_eq!((st["lastSync"].clone(), st["lastUpdate"].clone()), (Value::Null, Value::Null));
    assert_eq!(st["replicationStatus"]["blocked_cis"]["localDocCount"], 0);
}

#[test]
fn clock_jumps_backwards_do_not_panic_and_stay_consistent() {
    let w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    lm.advance(&w, READY + 10 * H);
    let last = READY + 10 * H;
    assert_eq!(lm.last_sync_ms(), Some(last));
    // A few ms back (two racing requests): nothing happens.
    assert_eq!(lm.status(&w, last - 5), LmStatus::Ready);
    assert_eq!(lm.last_sync_ms(), Some(last));
    // Less than one interval back: still nothing; never sync_error with now < lastSync.
    lm.set_operator_link(&w, last - 4 * MIN, false);
    assert_eq!(lm.status(&w, last - 4 * MIN), LmStatus::Ready);
    lm.set_operator_link(&w, last - 4 * MIN, true);
    assert_eq!(lm.last_sync_ms(), Some(last));
    // Hours back with the link up: resync at the new now, schedule from there.
    assert_eq!(lm.status(&w, READY + H), LmStatus::Ready);
    assert_eq!(lm.last_sync_ms(), Some(READY + H));
    lm.advance(&w, READY + H + 5 * MIN);
    assert_eq!(lm.last_sync_ms(), Some(READY + H + 5 * MIN));
    // Hours back with the link down: lastSync is kept, status ready.
    lm.set_operator_link(&w, READY + H + 5 * MIN, false);
    assert_eq!(lm.status(&w, NOW - 5 * DAY), LmStatus::Ready);
    assert_eq!(lm.last_sync_ms(), Some(READY + H + 5 * MIN));

    // During initialization: the deadline stands.
    let mut lm = LocalModule::new(LmOptions::default());
    lm.init(&w, NOW, init_req()).unwrap();
    assert_eq!(lm.status(&w, NOW - DAY), LmStatus::Initialization);
    assert_eq!(lm.status(&w, READY), LmStatus::Ready);

    // Extreme instants in any order.
    for now in [i64::MAX, i64::MIN, 0, i64::MAX, -1, i64::MIN + 1] {
        let _ = lm.status(&w, now);
        let _ = lm.status_v1(&w, now);
        let _ = lm.sell(&w, now, &strings(&["x"]));
        let _ = lm.init(&w, now, init_req());
        let _ = lm.sync_now(&w, now);
        lm.set_last_sync(now);
    }
}

#[test]
fn set_last_sync_with_the_link_down_gives_sync_error() {
    let w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    let now = READY + H;
    lm.set_operator_link(&w, now, false);
    lm.set_last_sync(now - 73 * H);
    assert_eq!(lm.status(&w, now), LmStatus::SyncError);
    assert_eq!(lm.last_update_ms(), Some(now - 73 * H));
    lm.set_operator_link(&w, now, true);
    assert_eq!(lm.status(&w, now), LmStatus::Ready);
    assert_eq!(lm.last_sync_ms(), Some(now));
}

// ---------------------------------------------------------------------------------------------
// Lists

#[test]
fn a_code_blocked_after_the_last_sync_is_unknown_until_the_next_sync() {
    let mut w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    let code = code_of(&w, "in-circulation");
    let v0 = lm.current_version().unwrap();
    assert_eq!(flags(&check1(&mut lm, &w, READY, &code)), (false, false));

    let mut record = w.code_by_identity(&ki(&code)).unwrap().clone();
    record.blocked_by = vec!["RPN".into()];
    w.update_code(record).unwrap();
    // Offline knowledge: still not blocked, same version, until the next sync.
    let before = lm.out_check_v1(&w, READY + 299 * S, std::slice::from_ref(&code), REQ).unwrap();
    assert_eq!(before["codes"][0]["isBlocked"], false);
    assert_eq!(before["version"], v0.to_string());
    let after = lm.out_check_v1(&w, READY + 300 * S, std::slice::from_ref(&code), REQ).unwrap();
    assert_eq!(after["codes"][0]["isBlocked"], true);
    assert_ne!(after["version"], v0.to_string());
    assert_eq!(lm.last_sync_ms(), Some(READY + 300 * S));
    // The КИ form and the v2 answer agree.
    assert_eq!(flags(&check1(&mut lm, &w, READY + 301 * S, &ki(&code))), (true, false));
    assert_eq!(flags(&check2(&mut lm, &w, READY + 301 * S, &code)), (true, false));
}

#[test]
fn sync_now_picks_up_changes_at_once() {
    let mut w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    let code = code_of(&w, "blocked");
    assert_eq!(flags(&check1(&mut lm, &w, READY, &code)), (true, false));
    let mut record = w.code_by_identity(&ki(&code)).unwrap().clone();
    record.blocked_by.clear();
    w.update_code(record).unwrap();
    let out = lm.sync_now(&w, READY + S).unwrap();
    assert!(out.changed);
    assert_eq!(out.last_sync_ms, READY + S);
    assert_eq!(Some(out.version), lm.current_version());
    assert_eq!(flags(&check1(&mut lm, &w, READY + S, &code)), (false, false));
}

#[test]
fn blocked_codes_in_every_form() {
    let w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    for case in ["blocked", "permit-terminated", "vet-certificate-annulled"] {
        let code = code_of(&w, case);
        for form in [code.clone(), ki(&code)] {
            let c = check1(&mut lm, &w, READY, &form);
            assert_eq!(flags(&c), (true, false), "{case} {form:?}");
            assert_eq!(c["cis"], form.as_str());
            assert_eq!(c["printView"], ki(&code));
        }
    }
    // Every КИ of the world, sent as such, is looked up under itself.
    for r in w.codes() {
        let k = ki(&r.code);
        let c = check1(&mut lm, &w, READY, &k);
        assert_eq!(
            c["isBlocked"],
            r.is_blocked()
                || c["gtin"] != Value::Null && {
                    let p = w.product(c["gtin"].as_str().unwrap()).unwrap();
                    p.is_blocked() || p.grey_gtin
                },
            "{k}"
        );
        assert_eq!(c["printView"], k.as_str());
    }
    // A tobacco pack: full 29 characters or the 21-character КИ.
    let pack = pack_code(&w);
    let c = check1(&mut lm, &w, READY, &pack[..21]);
    assert_eq!(c["gtin"], &pack[..14]);
    assert_eq!(c["printView"], &pack[..21]);
    assert_eq!(check1(&mut lm, &w, READY, &pack)["printView"], &pack[..21]);
}

#[test]
fn unknown_and_garbage_codes_are_not_blocked() {
    let w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    let c = check1(&mut lm, &w, READY, "0104612345000438215aZ;q0");
    assert_eq!(flags(&c), (false, false));
    assert_eq!(c["gtin"], "04612345000438");
    let c = check1(&mut lm, &w, READY, "hello");
    assert_eq!(flags(&c), (false, false));
    assert_eq!(c.get("gtin"), None);
    assert_eq!(c["cis"], "hello");
}

#[test]
fn blocked_gtin_blocks_every_code_of_the_gtin() {
    let w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    let codes: Vec<String> = w
        .codes()
        .into_iter()
        .filter(|c| c.case.as_deref() == Some("gtin-blocked"))
        .map(|c| c.code.clone())
        .collect();
    assert_eq!(codes.len(), 3);
    for code in &codes {
        assert_eq!(flags(&check1(&mut lm, &w, READY, code)), (true, false));
        assert_eq!(flags(&check2(&mut lm, &w, READY, &ki(code))), (true, false));
    }
    // Even a code of that GTIN the world never registered.
    let gtin = &codes[0][2..16];
    assert_eq!(flags(&check1(&mut lm, &w, READY, &format!("01{gtin}21abcdefg"))), (true, false));
}

#[test]
fn grey_gtin_is_blocked_and_grey_unless_the_grey_list_is_off() {
    let w = world();
    let code = code_of(&w, "gtin-grey");
    let mut lm = ready_module(&w, LmOptions::default());
    assert!(lm.grey_list_enabled());
    assert_eq!(flags(&check1(&mut lm, &w, READY, &code)), (true, true));
    assert_eq!(flags(&check2(&mut lm, &w, READY, &code)), (true, true));
    lm.set_grey_list(false);
    assert_eq!(flags(&check1(&mut lm, &w, READY, &code)), (false, false));
    assert_eq!(lm.status_v1(&w, READY)["isGreyGtin"], false);
    lm.set_grey_list(true);
    assert_eq!(lm.status_v1(&w, READY)["isGreyGtin"], true);

    // The v2 init flag switches it too, and a later init without it keeps the setting.
    lm.init(&w, READY, InitRequest { enable_grey_list: Some(false), ..init_req() }).unwrap();
    let t = READY + 30 * S;
    assert_eq!(flags(&check2(&mut lm, &w, t, &code)), (false, false));
    lm.init(&w, t, init_req()).unwrap();
    assert_eq!(flags(&check2(&mut lm, &w, t + 30 * S, &code)), (false, false));
}

#[test]
fn prices_and_v2_field_switches() {
    let w = world();
    let pack = pack_code(&w);
    let mut lm = ready_module(&w, LmOptions::default());
    let c = check2(&mut lm, &w, READY, &pack);
    assert_eq!((c["mrp"].clone(), c["smp"].clone()), (json!(18_500), json!(13_500)));
    assert_eq!(c["sold"], false);
    assert_eq!(c.get("printView"), None);
    let milk = code_of(&w, "gtin-grey");
    let c = check2(&mut lm, &w, READY, &milk);
    assert_eq!((c.get("mrp"), c.get("smp")), (None, None));

    let opts = LmOptions {
        v2_fields: V2Fields { sold: false, mrp: false, smp: true },
        v2_print_view: true,
        ..LmOptions::default()
    };
    let mut lm = ready_module(&w, opts);
    let c = check2(&mut lm, &w, READY, &pack);
    assert_eq!((c.get("sold"), c.get("mrp"), c["smp"].clone()), (None, None, json!(13_500)));
    assert_eq!(c["printView"], &pack[..21]);
}

// ---------------------------------------------------------------------------------------------
// Sold list

#[test]
fn sell_return_list_and_check() {
    let w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    let a = code_of(&w, "in-circulation");
    let b = pack_code(&w);
    let c = code_of(&w, "blocked");
    let sold = lm.sell(&w, READY, &[a.clone(), ki(&b), c.clone(), String::new()]).unwrap();
    assert_eq!(
        sold,
        json!({"results": [
            {"success": true, "cis": a}, {"success": true, "cis": ki(&b)},
            {"success": true, "cis": c}, {"success": false, "cis": ""},
        ]})
    );
    assert_eq!(lm.sold_count(), 3);
    // Listed in sale order, in the form they were sold.
    assert_eq!(
        lm.sold_list(&w, READY, 0, 100).unwrap(),
        json!({"total_count": 3, "cis_list": [a, ki(&b), c]})
    );
    assert_eq!(lm.sold_list(&w, READY, 1, 1).unwrap(), json!({"total_count": 3, "cis_list": [ki(&b)]}));
    assert_eq!(lm.sold_list(&w, READY, 5, 1000).unwrap(), json!({"total_count": 3, "cis_list": []}));
    assert!(matches!(lm.sold_list(&w, READY, 0, 1001), Err(LmError::BadLimit { limit: 1001, max: 1000 })));
    // Any form finds the entry.
    assert_eq!(
        lm.sold_check(&w, READY, &[ki(&a), b.clone(), "x".into()]).unwrap(),
        json!({"results": [{"cis": ki(&a), "sold": true}, {"cis": b, "sold": true}, {"cis": "x", "sold": false}]})
    );
    assert_eq!(check2(&mut lm, &w, READY, &ki(&a))["sold"], true);
    assert_eq!(check2(&mut lm, &w, READY, &c)["isBlocked"], true);

    // Return removes (idempotently); re-selling moves the entry to the end.
    assert_eq!(
        lm.return_codes(&w, READY + S, &[ki(&a), ki(&a)]).unwrap(),
        json!({"results": [{"success": true, "cis": ki(&a)}, {"success": true, "cis": ki(&a)}]})
    );
    assert_eq!(check2(&mut lm, &w, READY + S, &a)["sold"], false);
    lm.sell(&w, READY + 2 * S, std::slice::from_ref(&b)).unwrap();
    assert_eq!(
        lm.sold_list(&w, READY + 2 * S, 0, 10).unwrap(),
        json!({"total_count": 2, "cis_list": [c, b]})
    );
}

#[test]
fn sold_entries_expire_after_the_retention_and_clear_sold_clears() {
    let w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    let a = code_of(&w, "in-circulation");
    let b = code_of(&w, "applied");
    lm.sell(&w, READY, std::slice::from_ref(&a)).unwrap();
    lm.sell(&w, READY + DAY, std::slice::from_ref(&b)).unwrap();
    assert_eq!(lm.sold_list(&w, READY + 30 * DAY, 0, 10).unwrap()["total_count"], 2);
    assert_eq!(
        lm.sold_list(&w, READY + 30 * DAY + 1, 0, 10).unwrap(),
        json!({"total_count": 1, "cis_list": [b]})
    );
    assert_eq!(lm.sold_check(&w, READY + 31 * DAY + 1, &[b]).unwrap()["results"][0]["sold"], false);

    lm.sell(&w, READY + 32 * DAY, std::slice::from_ref(&a)).unwrap();
    let t = READY + 32 * DAY;
    lm.init(&w, t, init_req()).unwrap();
    assert_eq!(lm.sold_count(), 1, "init without clearSold keeps the list");
    lm.init(&w, t, InitRequest { clear_sold: Some(false), ..init_req() }).unwrap();
    assert_eq!(lm.sold_count(), 1);
    lm.init(&w, t, InitRequest { clear_sold: Some(true), ..init_req() }).unwrap();
    assert_eq!(lm.sold_count(), 0);
}

// ---------------------------------------------------------------------------------------------
// inst and version

#[test]
fn per_change_keeps_the_version_while_the_lists_stay_the_same() {
    let mut w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    let v0 = lm.current_version().unwrap();
    assert_eq!(v0.get_version_num(), 4);
    let out = lm.sync_now(&w, READY + S).unwrap();
    assert_eq!((out.version, out.changed), (v0, false));
    lm.advance(&w, READY + 2 * H);
    assert_eq!(lm.current_version(), Some(v0));
    assert_eq!(lm.last_update_ms(), Some(READY), "lastUpdate stays at the last change");
    let mut record = w.code_by_identity(&ki(&code_of(&w, "applied"))).unwrap().clone();
    record.blocked_by = vec!["FNS".into()];
    w.update_code(record).unwrap();
    // The grid restarted at READY + 1 s: the last scheduled sync was at READY + 1 h 55 min + 1 s, so
    // this sync_now comes before the next one and sees the change itself.
    assert_eq!(lm.last_sync_ms(), Some(READY + S + 23 * 5 * MIN));
    let out = lm.sync_now(&w, READY + 2 * H).unwrap();
    assert!(out.changed);
    assert_ne!(out.version, v0);
    assert_eq!(lm.last_update_ms(), Some(READY + 2 * H));
}

#[test]
fn per_sync_draws_a_version_on_every_sync() {
    let w = world();
    let mut lm =
        ready_module(&w, LmOptions { version_policy: VersionPolicy::PerSync, ..LmOptions::default() });
    let mut seen = vec![lm.current_version().unwrap()];
    for i in 1..=3 {
        let out = lm.sync_now(&w, READY + i * S).unwrap();
        assert!(!out.changed);
        assert!(!seen.contains(&out.version));
        seen.push(out.version);
        assert_eq!(lm.last_update_ms(), Some(READY + i * S));
    }
}

#[test]
fn versions_are_deterministic_and_follow_the_seed() {
    let w = world();
    let run = |opts: LmOptions| {
        let mut lm = ready_module(&w, LmOptions { version_policy: VersionPolicy::PerSync, ..opts });
        (1..=3).map(|i| lm.sync_now(&w, READY + i * S).unwrap().version).collect::<Vec<_>>()
    };
    assert_eq!(run(LmOptions::default()), run(LmOptions::default()));
    let seeded = LmOptions { version_seed: Some(42), ..LmOptions::default() };
    assert_eq!(run(seeded.clone()), run(seeded.clone()));
    assert_ne!(run(seeded), run(LmOptions::default()));
    let other_inst = LmOptions { inst: Uuid::from_u128(1), ..LmOptions::default() };
    assert_ne!(run(other_inst), run(LmOptions::default()));
}

#[test]
fn inst_survives_re_init_unless_configured_otherwise() {
    let w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    assert_eq!(lm.inst().to_string(), "9333e653-5af4-4cc2-b969-7d9ec2900bc5");
    lm.init(&w, READY, init_req()).unwrap();
    assert_eq!(lm.inst().to_string(), "9333e653-5af4-4cc2-b969-7d9ec2900bc5");

    let opts = LmOptions { inst_changes_on_init: true, version_seed: Some(7), ..LmOptions::default() };
    let mut lm = LocalModule::new(opts.clone());
    let first = lm.inst();
    lm.init(&w, NOW, init_req()).unwrap();
    let second = lm.inst();
    lm.init(&w, NOW + S, init_req()).unwrap();
    assert!(first != second && second != lm.inst());
    let mut again = LocalModule::new(opts);
    again.init(&w, NOW, init_req()).unwrap();
    assert_eq!(again.inst(), second, "drawn from the seeded generator");
    let v = lm.out_check_v1(&w, NOW + 31 * S, &strings(&["x"]), REQ).unwrap();
    assert_eq!(v["inst"], lm.inst().to_string());
}

// ---------------------------------------------------------------------------------------------
// Shapes

/// The cases shown in the answer snapshots: one code each, in the form a POS would send.
fn snapshot_inputs(w: &World) -> Vec<String> {
    let mut v: Vec<String> = ["in-circulation", "blocked", "gtin-blocked", "gtin-grey"]
        .into_iter()
        .map(|case| code_of(w, case))
        .collect();
    v.push(ki(&code_of(w, "sold")));
    v.push(pack_code(w)[..21].to_string());
    v.push("not-a-code".into());
    v
}

#[test]
fn v1_answer_shapes() {
    let w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    let inputs = snapshot_inputs(&w);
    insta::assert_json_snapshot!("v1_out_check", lm.out_check_v1(&w, READY + 12_077, &inputs, REQ).unwrap());
    insta::assert_json_snapshot!("v1_status", lm.status_v1(&w, READY + 12_077));

    let mut quiet = ready_module(&w, LmOptions { v1_emit_version: false, ..LmOptions::default() });
    let v = quiet.out_check_v1(&w, READY, &inputs, REQ).unwrap();
    assert_eq!(v.get("version"), None);
    assert_eq!(v["codes"].as_array().map(Vec::len), Some(inputs.len()));
}

#[test]
fn v2_answer_shapes() {
    let w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    let inputs = snapshot_inputs(&w);
    lm.sell(&w, READY, std::slice::from_ref(&inputs[0])).unwrap();
    let items: Vec<(String, Option<u16>)> = inputs.iter().map(|c| (c.clone(), Some(8))).collect();
    insta::assert_json_snapshot!("v2_out_check", lm.out_check_v2(&w, READY + 12_077, &items, REQ).unwrap());
    insta::assert_json_snapshot!("v2_status", lm.status_v2(&w, READY + 12_077));
}

#[test]
fn status_before_init_and_in_seconds() {
    let w = world();
    let mut lm = LocalModule::new(LmOptions { time_unit: TimeUnit::S, ..LmOptions::default() });
    insta::assert_json_snapshot!("v1_status_not_configured", lm.status_v1(&w, NOW));
    lm.init(&w, NOW, init_req()).unwrap();
    let st = lm.status_v2(&w, READY + 12_077);
    assert_eq!(st["lastSync"], READY / 1000);
    assert_eq!(st["lastUpdate"], READY / 1000);
    let mut record = w.codes()[0].clone();
    record.blocked_by = vec!["RPN".into()];
    let mut w2 = w.clone();
    w2.update_code(record).unwrap();
    lm.sync_now(&w2, READY + 1_500).unwrap();
    assert_eq!(lm.status_v1(&w2, READY + 2_000)["lastSync"], (READY + 1_500) / 1000);
    assert_eq!(lm.last_sync_ms(), Some(READY + 1_500), "ms internally");
}

#[test]
fn status_counters_come_from_the_snapshot() {
    let mut w = world();
    let mut lm = ready_module(&w, LmOptions::default());
    let blocked = w.codes().into_iter().filter(|c| c.is_blocked()).count();
    let st = lm.status_v1(&w, READY);
    assert_eq!(st["replicationStatus"]["blocked_cis"]["localDocCount"], blocked);
    assert_eq!(st["replicationStatus"]["blocked_gtin"]["serverDocCount"], 1);
    assert_eq!(st["inn"], "7701000019");
    let st2 = lm.status_v2(&w, READY);
    assert_eq!(st2["dbState"]["blocked_cis"]["docCount"], blocked);
    assert_eq!(st2.get("replicationStatus"), None);
    assert_eq!(st.get("dbState"), None);
    // A change in the world shows only after a sync.
    let mut record = w.code_by_identity(&ki(&code_of(&w, "applied"))).unwrap().clone();
    record.blocked_by = vec!["FNS".into()];
    w.update_code(record).unwrap();
    assert_eq!(lm.status_v2(&w, READY + S)["dbState"]["blocked_cis"]["docCount"], blocked);
    assert_eq!(lm.status_v2(&w, READY + 5 * MIN)["dbState"]["blocked_cis"]["docCount"], blocked + 1);
}

// ---------------------------------------------------------------------------------------------
// Arbitrary input

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_cis_never_panic_and_get_one_answer_each(
        cis in proptest::collection::vec(any::<String>(), 0..8),
        pg in proptest::option::of(any::<u16>()),
        skip in any::<usize>(),
    ) {
        let w = world();
        let mut lm = ready_module(&w, LmOptions::default());
        let v1 = lm.out_check_v1(&w, READY, &cis, REQ).unwrap();
        let codes = v1["codes"].as_array().unwrap();
        prop_assert_eq!(codes.len(), cis.len());
        for (c, input) in codes.iter().zip(&cis) {
            prop_assert_eq!(c["cis"].as_str(), Some(input.as_str()));
            prop_assert!(c["isBlocked"].is_boolean() && c["isGreyGtin"].is_boolean());
        }
        let items: Vec<(String, Option<u16>)> = cis.iter().map(|c| (c.clone(), pg)).collect();
        let v2 = lm.out_check_v2(&w, READY, &items, REQ).unwrap();
        prop_assert_eq!(v2["results"][0]["codes"].as_array().map(Vec::len), Some(cis.len()));
        prop_assert_eq!(lm.sell(&w, READY, &cis).unwrap()["results"].as_array().map(Vec::len), Some(cis.len()));
        prop_assert_eq!(lm.sold_check(&w, READY, &cis).unwrap()["results"].as_array().map(Vec::len), Some(cis.len()));
        let _ = lm.sold_list(&w, READY, skip, 1000).unwrap();
        prop_assert_eq!(lm.return_codes(&w, READY, &cis).unwrap()["results"].as_array().map(Vec::len), Some(cis.len()));
        prop_assert_eq!(lm.sold_count(), 0);
    }

    #[test]
    fn any_sequence_of_instants_is_handled(instants in proptest::collection::vec(any::<i64>(), 1..12)) {
        let w = world();
        let mut lm = LocalModule::new(LmOptions::default());
        for (i, now) in instants.into_iter().enumerate() {
            match i % 5 {
                0 => { let _ = lm.init(&w, now, init_req()); }
                1 => lm.set_operator_link(&w, now, now % 2 == 0),
                2 => { let _ = lm.sync_now(&w, now); }
                3 => { let _ = lm.sell(&w, now, &strings(&["x"])); }
                _ => { let _ = lm.status_v2(&w, now); }
            }
            let _ = lm.status(&w, now);
        }
    }
}
