//! Deliberate mutants of the emulated ТС ПИоТ: the reference implementation with exactly one realistic
//! defect each, for mutation testing of the certification suite. The suite is worth what it catches:
//! every mutant must fail at least one scenario that the unmutated ТС ПИоТ passes.
//!
//! Owns [`TsPiotMutant`] (names, one-line defects) and the small helpers a hook needs to misbehave
//! (the GS-stripping, the classic-fields struct of `typed-passthrough`, the invented online item of
//! `invent-online-on-203`). The hooks themselves sit at the one place in the code where a real
//! implementation gets it wrong, each a small branch commented `// mutant: <name>`
//! (`grep -rn "mutant:" emulators/src/tspiot`).
//!
//! How a mutant reaches its hook: [`TsPiotOptions::mutant`] is read directly by the orchestrator, the
//! server, and the wire functions that take the options (`wire::parse_check_as` takes it as an
//! argument); `TsPiot::new` hands it to the True API client ([`CdnClient::with_mutant`]) and to the
//! token manager ([`TokenManager::set_mutant`]), which are built before the instance. With
//! `mutant = None` nothing changes.
//!
//! [`CdnClient::with_mutant`]: super::upstream::CdnClient::with_mutant
//! [`TokenManager::set_mutant`]: super::auth::TokenManager::set_mutant

use super::options::TsPiotOptions;
use super::wire::RequestedCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// One deliberate defect of the ТС ПИоТ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TsPiotMutant {
    /// `no-lm-fallback`: online failed → 514 without asking the ЛМ ЧЗ.
    NoLmFallback,
    /// `late-lm-fallback`: online budget 3000 ms instead of 1500 ms; the ЛМ ЧЗ asked too late.
    LateLmFallback,
    /// `ignores-host-block`: blocked hosts are called anyway.
    IgnoresHostBlock,
    /// `no-health-order`: hosts kept in `cdn/info` order, not sorted by health-check latency.
    NoHealthOrder,
    /// `switch-on-429`: a 429 blocks the host at once (no retry on the same host).
    #[serde(rename = "switch-on-429")]
    SwitchOn429,
    /// `retry-on-400`: a 400 is retried and then blocks the host, like a 5xx.
    #[serde(rename = "retry-on-400")]
    RetryOn400,
    /// `switch-on-401`: a 401/403 blocks the host and the next host is tried (no re-authentication).
    #[serde(rename = "switch-on-401")]
    SwitchOn401,
    /// `block-on-5000`: a cross-border 5000 answer blocks the host like an ordinary 5xx.
    #[serde(rename = "block-on-5000")]
    BlockOn5000,
    /// `strip-gs-upstream`: ⟨GS⟩ removed from the codes sent to the True API.
    StripGsUpstream,
    /// `typed-passthrough`: per-code objects re-serialised through a struct of the classic fields only.
    TypedPassthrough,
    /// `invent-online-on-203`: a True API 203 answered with a made-up online item (200).
    #[serde(rename = "invent-online-on-203")]
    InventOnlineOn203,
    /// `online-flags-offline`: offline items sent with `isCheckedOffline: false`.
    OnlineFlagsOffline,
    /// `xapikey-after-cutoff`: always `X-API-KEY`, never a ФН token.
    XapikeyAfterCutoff,
    /// `no-reauth-on-401`: a 401 with a ФН token is not followed by re-authentication.
    #[serde(rename = "no-reauth-on-401")]
    NoReauthOn401,
    /// `accept-bad-base64`: an entry that is not base64 is forwarded upstream as raw text.
    #[serde(rename = "accept-bad-base64")]
    AcceptBadBase64,
    /// `v1-as-v2`: API v1 requests answered in the v2 shape (no double wrapper).
    #[serde(rename = "v1-as-v2")]
    V1AsV2,
}

/// `late-lm-fallback`: how long the mutant waits for the online path (real ms).
pub const LATE_ONLINE_BUDGET_MS: u64 = 3000;
/// `late-lm-fallback`: what the mutant gives the ЛМ ЧЗ after its online budget (real ms), as the
/// reference does (`codesCheckTimeout` − `cdnCodesCheckTimeout` = 1800 − 1500).
pub const LATE_LM_MARGIN_MS: u64 = 300;

impl TsPiotMutant {
    /// Every mutant, in a stable order.
    pub const ALL: &'static [TsPiotMutant] = &[
        TsPiotMutant::NoLmFallback,
        TsPiotMutant::LateLmFallback,
        TsPiotMutant::IgnoresHostBlock,
        TsPiotMutant::NoHealthOrder,
        TsPiotMutant::SwitchOn429,
        TsPiotMutant::RetryOn400,
        TsPiotMutant::SwitchOn401,
        TsPiotMutant::BlockOn5000,
        TsPiotMutant::StripGsUpstream,
        TsPiotMutant::TypedPassthrough,
        TsPiotMutant::InventOnlineOn203,
        TsPiotMutant::OnlineFlagsOffline,
        TsPiotMutant::XapikeyAfterCutoff,
        TsPiotMutant::NoReauthOn401,
        TsPiotMutant::AcceptBadBase64,
        TsPiotMutant::V1AsV2,
    ];

    /// The kebab-case name (as in options files and on command lines).
    pub fn name(self) -> &'static str {
        match self {
            TsPiotMutant::NoLmFallback => "no-lm-fallback",
            TsPiotMutant::LateLmFallback => "late-lm-fallback",
            TsPiotMutant::IgnoresHostBlock => "ignores-host-block",
            TsPiotMutant::NoHealthOrder => "no-health-order",
            TsPiotMutant::SwitchOn429 => "switch-on-429",
            TsPiotMutant::RetryOn400 => "retry-on-400",
            TsPiotMutant::SwitchOn401 => "switch-on-401",
            TsPiotMutant::BlockOn5000 => "block-on-5000",
            TsPiotMutant::StripGsUpstream => "strip-gs-upstream",
            TsPiotMutant::TypedPassthrough => "typed-passthrough",
            TsPiotMutant::InventOnlineOn203 => "invent-online-on-203",
            TsPiotMutant::OnlineFlagsOffline => "online-flags-offline",
            TsPiotMutant::XapikeyAfterCutoff => "xapikey-after-cutoff",
            TsPiotMutant::NoReauthOn401 => "no-reauth-on-401",
            TsPiotMutant::AcceptBadBase64 => "accept-bad-base64",
            TsPiotMutant::V1AsV2 => "v1-as-v2",
        }
    }

    /// The realistic defect, in one line.
    pub fn describe(self) -> &'static str {
        match self {
            TsPiotMutant::NoLmFallback => {
                "when the online check fails (not 203) answers 514 without asking the ЛМ ЧЗ"
            }
            TsPiotMutant::LateLmFallback => {
                "waits 3000 ms for the online check instead of cdnCodesCheckTimeout (1500 ms) before \
                 asking the ЛМ ЧЗ, so the POS gets its answer after codesCheckTimeout"
            }
            TsPiotMutant::IgnoresHostBlock => {
                "never skips blocked CDN hosts: keeps calling a host it blocked"
            }
            TsPiotMutant::NoHealthOrder => {
                "keeps the cdn/info order of the CDN hosts instead of sorting them by health-check latency"
            }
            TsPiotMutant::SwitchOn429 => {
                "on a 429 blocks the host and moves to the next one at once, without the one retry"
            }
            TsPiotMutant::RetryOn400 => {
                "treats a 400 like a 5xx: retries on the same host, then blocks it and tries the next"
            }
            TsPiotMutant::SwitchOn401 => {
                "treats 401/403 as a host failure: blocks the host and tries the next one instead of \
                 re-authenticating once"
            }
            TsPiotMutant::BlockOn5000 => {
                "blocks a host that answered the cross-border 5000 error, like an ordinary 5xx"
            }
            TsPiotMutant::StripGsUpstream => {
                "removes the GS (0x1D) separators from each code before sending it to the True API"
            }
            TsPiotMutant::TypedPassthrough => {
                "re-serialises each per-code object through a struct of the classic fields, dropping \
                 isOwner, message, eliminationState and every other field it does not know"
            }
            TsPiotMutant::InventOnlineOn203 => {
                "answers a True API 203 with a made-up online item (200, all flags positive, its own \
                 reqId and reqTimestamp) instead of 203"
            }
            TsPiotMutant::OnlineFlagsOffline => "sends offline (ЛМ ЧЗ) items with isCheckedOffline: false",
            TsPiotMutant::XapikeyAfterCutoff => {
                "always authenticates with X-API-KEY and never obtains a ФН token, whatever the auth mode"
            }
            TsPiotMutant::NoReauthOn401 => {
                "on a 401 keeps the refused ФН token (no re-authentication) and answers from the ЛМ ЧЗ"
            }
            TsPiotMutant::AcceptBadBase64 => {
                "does not refuse an entry that is not base64 with 400: forwards it upstream as raw text"
            }
            TsPiotMutant::V1AsV2 => "answers API v1 requests in the v2 shape (no v1 double wrapper)",
        }
    }

    /// The mutant called `s` (kebab-case, exact).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.name() == s)
    }
}

impl std::fmt::Display for TsPiotMutant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `strip-gs-upstream`: the codes without their ⟨GS⟩ separators.
pub fn strip_gs(codes: &[String]) -> Vec<String> {
    codes.iter().map(|c| c.replace('\u{1d}', "")).collect()
}

/// `typed-passthrough`: the per-code object as a client that models only the classic fields holds it.
/// Every field is kept as the JSON it was (so no value is retyped), but fields it does not name are
/// gone.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct ClassicCode {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cis: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    valid: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    print_view: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gtin: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group_ids: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verified: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    found: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    realizable: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    utilised: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_blocked: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expire_date: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error_code: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is_tracking: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sold: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    package_type: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    producer_inn: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gray_zone: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sold_unit_count: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    inner_unit_count: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mrp: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    smp: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ogvs: Option<Value>,
}

/// `typed-passthrough`: the `codes` array of an online answer with each object re-serialised through
/// a struct of the classic fields (`cis`, `valid`, `printView`, … `ogvs`), so every other field is
/// dropped. A value that is not an array, and entries that are not objects, are returned unchanged.
pub fn typed_passthrough(codes: &Value) -> Value {
    let Value::Array(items) = codes else { return codes.clone() };
    let retyped = items
        .iter()
        .map(|c| {
            c.is_object()
                .then(|| serde_json::from_value::<ClassicCode>(c.clone()).ok())
                .flatten()
                .and_then(|typed| serde_json::to_value(typed).ok())
                .unwrap_or_else(|| c.clone())
        })
        .collect();
    Value::Array(retyped)
}

/// `invent-online-on-203`: an online-looking item for `codes` that no True API issued — every flag
/// positive, a fresh random `reqId`, `reqTimestamp` = `now_ms` — and that `reqId`.
pub fn invented_online_item(codes: &[RequestedCode], now_ms: i64, opts: &TsPiotOptions) -> (Value, String) {
    let req_id = uuid::Uuid::new_v4().to_string();
    let objects: Vec<Value> = codes
        .iter()
        .map(|c| {
            json!({
                "cis": c.text,
                "valid": true,
                "found": true,
                "verified": true,
                "realizable": true,
                "utilised": true,
                "isBlocked": false,
                "sold": false,
                "errorCode": 0,
                "groupIds": [],
            })
        })
        .collect();
    let timestamp = if opts.timestamp_as_string { json!(now_ms.to_string()) } else { json!(now_ms) };
    let mut item = Map::new();
    item.insert("code".into(), json!(0));
    item.insert("description".into(), json!("ok"));
    item.insert("codes".into(), Value::Array(objects));
    item.insert("reqId".into(), json!(req_id));
    item.insert("reqTimestamp".into(), timestamp);
    item.insert("isCheckedOffline".into(), json!(false));
    (Value::Object(item), req_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const NAMES: [&str; 16] = [
        "no-lm-fallback",
        "late-lm-fallback",
        "ignores-host-block",
        "no-health-order",
        "switch-on-429",
        "retry-on-400",
        "switch-on-401",
        "block-on-5000",
        "strip-gs-upstream",
        "typed-passthrough",
        "invent-online-on-203",
        "online-flags-offline",
        "xapikey-after-cutoff",
        "no-reauth-on-401",
        "accept-bad-base64",
        "v1-as-v2",
    ];

    #[test]
    fn all_sixteen_have_distinct_names_that_round_trip() {
        assert_eq!(TsPiotMutant::ALL.len(), 16);
        let names: Vec<&str> = TsPiotMutant::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names, NAMES, "the agreed names, in order");
        assert_eq!(names.iter().collect::<HashSet<_>>().len(), 16, "distinct names");
        assert_eq!(TsPiotMutant::ALL.iter().collect::<HashSet<_>>().len(), 16, "distinct variants");
        for &m in TsPiotMutant::ALL {
            assert_eq!(TsPiotMutant::from_name(m.name()), Some(m));
            assert_eq!(m.to_string(), m.name());
            // serde writes and reads the same kebab name (digits included: `switch-on-429`).
            assert_eq!(serde_json::to_value(m).unwrap(), json!(m.name()));
            assert_eq!(serde_json::from_value::<TsPiotMutant>(json!(m.name())).unwrap(), m);
            let d = m.describe();
            assert!(!d.is_empty() && !d.contains(['\n', '\t']), "{m}: one line");
            assert!(m.name().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        }
        assert_eq!(TsPiotMutant::from_name("no-such-defect"), None);
        assert_eq!(TsPiotMutant::from_name("NO-LM-FALLBACK"), None);
        assert!(serde_json::from_value::<TsPiotMutant>(json!("switch-on429")).is_err());
    }

    #[test]
    fn helpers_never_panic_and_do_what_the_hooks_need() {
        assert_eq!(strip_gs(&["01\u{1d}91\u{1d}92".to_string()]), ["019192"]);
        assert_eq!(typed_passthrough(&json!("x")), json!("x"));
        let mixed = json!([1, ["x"], {"cis": "A", "isOwner": true}]);
        assert_eq!(typed_passthrough(&mixed), json!([1, ["x"], {"cis": "A"}]));
        let code = RequestedCode { raw: b"A\x1dB".to_vec(), text: "A\u{1d}B".into(), pg: None };
        let opts = TsPiotOptions { timestamp_as_string: true, ..TsPiotOptions::default() };
        let (item, req_id) = invented_online_item(&[code], 42, &opts);
        assert_eq!(item["reqId"], req_id.as_str());
        assert!(uuid::Uuid::parse_str(&req_id).is_ok());
        assert_eq!(
            (item["reqTimestamp"].clone(), item["isCheckedOffline"].clone()),
            (json!("42"), json!(false))
        );
        for flag in ["valid", "found", "verified", "realizable", "utilised"] {
            assert_eq!(item["codes"][0][flag], true, "{flag}");
        }
        assert_eq!(item["codes"][0]["cis"], "A\u{1d}B");
    }

    /// The orchestrator, server and wire mutants over the whole emulated stack (True API hosts, ЛМ ЧЗ,
    /// ФН authentication, the fault layer, a frozen world clock), each beside the reference.
    mod stack {
        use super::*;
        use crate::clock::WorldClock;
        use crate::faults::{FaultKind, FaultRule, Latency};
        use crate::stack::{Stack, StackOptions, TsPiotStackOptions};
        use crate::trace::{Trace, TraceEvent, TraceFilter};
        use crate::world::default::default_world;
        use base64::Engine;
        use std::time::{Duration, Instant};

        /// 2026-11-01 00:00 UTC: after the default X-API-KEY cut-off (ФН tokens in use).
        const AFTER_CUTOFF: i64 = 1_793_491_200_000;
        const CHECK: &str = "/api/v4/true-api/codes/check";

        struct Env {
            stack: Stack,
            http: reqwest::Client,
        }

        async fn start_with(mutant: Option<TsPiotMutant>, options: TsPiotOptions) -> Env {
            let options = TsPiotOptions { mutant, ..options };
            let opts = StackOptions {
                tspiot: Some(TsPiotStackOptions { options, ..Default::default() }),
                kkt: None,
                ..StackOptions::default()
            };
            let world = default_world(AFTER_CUTOFF).unwrap();
            let clock = WorldClock::frozen_at(AFTER_CUTOFF);
            let stack = Stack::start(world, clock, Trace::in_memory(100_000), opts).await.unwrap();
            let t = stack.tspiot.as_ref().unwrap();
            assert_eq!((t.cdn().mutant(), t.auth().mutant()), (mutant, mutant), "passed on by TsPiot::new");
            Env { stack, http: reqwest::Client::builder().no_proxy().build().unwrap() }
        }

        async fn start(mutant: Option<TsPiotMutant>) -> Env {
            start_with(mutant, TsPiotOptions::default()).await
        }

        fn b64(code: &str) -> String {
            base64::engine::general_purpose::STANDARD.encode(code.as_bytes())
        }

        fn client_info() -> Value {
            json!({ "name": "test-pos", "version": "1.0" })
        }

        impl Env {
            fn code(&self) -> String {
                let w = self.stack.world.read().unwrap();
                let c = w.codes().into_iter().find(|c| c.case.as_deref() == Some("in-circulation"));
                c.unwrap().code.clone()
            }

            async fn post(&self, version: &str, body: Value) -> (u16, Value) {
                let url = &self.stack.endpoints.tspiot.as_ref().unwrap().url;
                let r = self.http.post(format!("{url}/api/{version}/codes/check")).json(&body).send().await;
                let r = r.unwrap();
                (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
            }

            /// A v2 check of `code`.
            async fn check(&self, code: &str) -> (u16, Value) {
                self.post("v2", json!({ "codes": [b64(code)], "client_info": client_info() })).await
            }

            fn events(&self) -> Vec<TraceEvent> {
                self.stack.trace.events(&TraceFilter::default())
            }

            fn fault(&self, rule: FaultRule) {
                self.stack.faults.add(rule).unwrap();
            }
        }

        fn item(v: &Value) -> &Value {
            &v["codesResponse"][0]
        }

        fn offline(v: &Value) -> Value {
            item(v)["isCheckedOffline"].clone()
        }

        #[tokio::test]
        async fn no_lm_fallback_answers_514_without_asking_the_local_module() {
            let cases = [
                (None, false),
                (Some(TsPiotMutant::NoLmFallback), false),
                (Some(TsPiotMutant::NoLmFallback), true),
            ];
            for (mutant, lm_in_parallel) in cases {
                let env = start_with(mutant, TsPiotOptions { lm_in_parallel, ..Default::default() }).await;
                env.fault(FaultRule::new(FaultKind::HostDown).on_host("cdn-*"));
                let mark = env.events().len();
                let (s, v) = env.check(&env.code()).await;
                let asked_lm = env.events()[mark..].iter().any(|e| e.component == "local-module");
                if mutant.is_none() {
                    assert_eq!((s, offline(&v)), (200, json!(true)), "{v}");
                    assert!(asked_lm);
                } else {
                    assert_eq!((s, v["code"].clone()), (514, json!(514)), "parallel {lm_in_parallel}");
                    assert!(!asked_lm, "the ЛМ ЧЗ is never asked (parallel {lm_in_parallel})");
                }
                env.stack.shutdown().await;
            }
        }

        #[tokio::test]
        async fn late_lm_fallback_answers_after_the_codes_check_timeout() {
            for mutant in [None, Some(TsPiotMutant::LateLmFallback)] {
                let env = start(mutant).await;
                let hang = FaultKind::Latency(Latency::Fixed { fixed_ms: 5000 });
                env.fault(FaultRule::new(hang).on_host("cdn-*").on_endpoint(CHECK));
                let t0 = Instant::now();
                let (s, v) = env.check(&env.code()).await;
                let took = t0.elapsed();
                assert_eq!((s, offline(&v)), (200, json!(true)), "{v}");
                if mutant.is_none() {
                    // Generous (1800 ms plus scheduling slack): online was abandoned by 1500 ms.
                    assert!(took < Duration::from_millis(2500), "within codesCheckTimeout: {took:?}");
                } else {
                    assert!(took >= Duration::from_millis(3000), "online awaited for 3000 ms: {took:?}");
                    assert!(took < Duration::from_millis(4500), "ЛМ ЧЗ deadline t0 + 3300 ms: {took:?}");
                }
                env.stack.shutdown().await;
            }
        }

        #[tokio::test]
        async fn invent_online_on_203_makes_up_an_online_item() {
            for mutant in [None, Some(TsPiotMutant::InventOnlineOn203)] {
                let env = start(mutant).await;
                env.fault(FaultRule::new(FaultKind::emergency_203()).on_host("cdn-*"));
                let code = env.code();
                let (s, v) = env.check(&code).await;
                if mutant.is_none() {
                    assert_eq!((s, v["code"].clone()), (203, json!(203)), "{v}");
                } else {
                    assert_eq!((s, offline(&v)), (200, json!(false)), "{v}");
                    let it = item(&v);
                    assert_eq!(
                        (it["codes"][0]["cis"].as_str(), it["codes"][0]["found"].clone()),
                        (Some(code.as_str()), json!(true))
                    );
                    let req_id = it["reqId"].as_str().unwrap();
                    assert!(env.stack.reqlog.get(req_id).is_none(), "a reqId no True API issued");
                }
                env.stack.shutdown().await;
            }
        }

        #[tokio::test]
        async fn online_flags_offline_sends_offline_items_as_online() {
            for mutant in [None, Some(TsPiotMutant::OnlineFlagsOffline)] {
                let env = start(mutant).await;
                env.fault(FaultRule::new(FaultKind::HostDown).on_host("cdn-*"));
                let (s, v) = env.check(&env.code()).await;
                assert_eq!(
                    (s, item(&v)["codes"][0]["found"].clone()),
                    (200, json!(false)),
                    "an ЛМ ЧЗ answer"
                );
                assert_eq!(offline(&v), json!(mutant.is_none()), "{v}");
                env.stack.shutdown().await;
            }
        }

        #[tokio::test]
        async fn typed_passthrough_loses_is_owner() {
            for mutant in [None, Some(TsPiotMutant::TypedPassthrough)] {
                let env = start(mutant).await;
                let (s, v) = env.check(&env.code()).await;
                assert_eq!((s, offline(&v)), (200, json!(false)), "{v}");
                let code = &item(&v)["codes"][0];
                assert_eq!(code["found"], true);
                // The True API computes isOwner against the ФН token's INN.
                assert_eq!(code.get("isOwner").is_some(), mutant.is_none(), "{code}");
                env.stack.shutdown().await;
            }
        }

        #[tokio::test]
        async fn xapikey_after_cutoff_never_obtains_a_token() {
            for mutant in [None, Some(TsPiotMutant::XapikeyAfterCutoff)] {
                let env = start(mutant).await;
                let (s, v) = env.check(&env.code()).await;
                let events = env.events();
                let upstream: Vec<&TraceEvent> = events
                    .iter()
                    .filter(|e| e.path.as_str().ends_with("/cdn/info") || e.path == CHECK)
                    .collect();
                let notes: HashSet<&str> = upstream.iter().filter_map(|e| e.note.as_deref()).collect();
                let token_calls = events.iter().filter(|e| e.path.as_str().contains("/auth/fn/")).count();
                if mutant.is_none() {
                    assert_eq!((s, offline(&v)), (200, json!(false)), "{v}");
                    assert!(token_calls > 0);
                    assert_eq!(notes, HashSet::from(["auth=bearer"]));
                } else {
                    assert_eq!((s, offline(&v)), (200, json!(true)), "the key is refused: {v}");
                    assert_eq!(token_calls, 0, "no ФН token asked for");
                    assert_eq!(notes, HashSet::from(["auth=x-api-key"]));
                    assert!(upstream.iter().all(|e| e.status == 401), "refused after the cut-off");
                }
                env.stack.shutdown().await;
            }
        }

        #[tokio::test]
        async fn no_reauth_on_401_keeps_the_refused_token() {
            for mutant in [None, Some(TsPiotMutant::NoReauthOn401)] {
                let env = start(mutant).await;
                let code = env.code();
                assert_eq!(env.check(&code).await.0, 200);
                let auth = env.stack.tspiot.as_ref().unwrap().auth().clone();
                let before = auth.held().unwrap();
                env.stack.fn_auth.revoke_all();
                let mark = env.events().len();
                let (s, v) = env.check(&code).await;
                let calls: Vec<(String, u16)> = env.events()[mark..]
                    .iter()
                    .filter(|e| e.path == CHECK || e.path.as_str().contains("/auth/fn/"))
                    .map(|e| (e.path.as_str().rsplit('/').next().unwrap_or("").to_string(), e.status))
                    .collect();
                let call = |p: &str, s: u16| (p.to_string(), s);
                if mutant.is_none() {
                    assert_eq!((s, offline(&v)), (200, json!(false)), "{v}");
                    let expected =
                        [call("check", 401), call("challenge", 200), call("token", 200), call("check", 200)];
                    assert_eq!(calls, expected);
                    assert_ne!(auth.held().unwrap().token, before.token);
                } else {
                    assert_eq!((s, offline(&v)), (200, json!(true)), "answered from the ЛМ ЧЗ: {v}");
                    assert_eq!(calls, [call("check", 401)], "no re-authentication");
                    assert_eq!(auth.held().unwrap().token, before.token, "the refused token is kept");
                }
                env.stack.shutdown().await;
            }
        }

        #[tokio::test]
        async fn accept_bad_base64_forwards_the_text_upstream() {
            for mutant in [None, Some(TsPiotMutant::AcceptBadBase64)] {
                let env = start(mutant).await;
                let text = "0104612345000438215aZ;q0";
                let mark = env.events().len();
                let (s, v) = env.post("v2", json!({ "codes": [text], "client_info": client_info() })).await;
                let sent: Vec<String> = env.events()[mark..]
                    .iter()
                    .filter(|e| e.path == CHECK)
                    .flat_map(|e| e.codes.shared().to_vec())
                    .collect();
                if mutant.is_none() {
                    assert_eq!((s, v["code"].clone()), (400, json!(400)), "{v}");
                    assert!(sent.is_empty());
                } else {
                    assert_eq!(s, 200, "{v}");
                    assert_eq!(sent, [text], "the raw text went upstream");
                }
                env.stack.shutdown().await;
            }
        }

        #[tokio::test]
        async fn v1_as_v2_drops_the_double_wrapper() {
            for mutant in [None, Some(TsPiotMutant::V1AsV2)] {
                let env = start(mutant).await;
                let body = json!({ "codes": [b64(&env.code())], "client_info": client_info() });
                let (s, v1) = env.post("v1", body.clone()).await;
                assert_eq!(s, 200, "{v1}");
                if mutant.is_none() {
                    assert_eq!(v1["codesResponse"]["codesResponse"][0]["isCheckedOffline"], false, "{v1}");
                } else {
                    assert_eq!(v1["codesResponse"][0]["isCheckedOffline"], false, "v2 shape: {v1}");
                }
                let (_, v2) = env.post("v2", body).await;
                assert_eq!(offline(&v2), json!(false), "v2 unchanged");
                env.stack.shutdown().await;
            }
        }
    }
}
