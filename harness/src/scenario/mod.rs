//! The scenario language: certification scenarios as TOML files (`docs/scenarios.md`).
//!
//! [`load_str`] / [`load_file`] parse a file into the typed [`model`] and [`validate`] it; every
//! error names the file, line and column ([`ScenarioError`]). [`builtin`] lists the suite embedded
//! in the binary (`scenarios/*.toml`). Running scenarios is the runner's job, not this module's.

pub mod error;
pub mod load;
pub mod model;
pub mod validate;

pub use error::{Location, ScenarioError};
pub use load::{load_file, load_str};
pub use model::{
    Assertion, At, AuthScheme, CaseSelector, CheckExpect, CodeRef, Decision, Duration, Expect, FaultEvent,
    Feature, Level, Payment, Profile, Reason, ReceiptKind, Role, Scenario, Step, StepRef, WorldSpec,
};

/// The embedded suite: (file name, text), in suite order. Add new files here.
pub const BUILTIN: &[(&str, &str)] = &[
    ("sale-normal.toml", include_str!("../../../scenarios/sale-normal.toml")),
    ("expired-milk.toml", include_str!("../../../scenarios/expired-milk.toml")),
    ("tobacco-price-mrp.toml", include_str!("../../../scenarios/tobacco-price-mrp.toml")),
    ("blocked-code.toml", include_str!("../../../scenarios/blocked-code.toml")),
    ("already-sold.toml", include_str!("../../../scenarios/already-sold.toml")),
    ("not-in-circulation.toml", include_str!("../../../scenarios/not-in-circulation.toml")),
    ("belarusian-not-verified.toml", include_str!("../../../scenarios/belarusian-not-verified.toml")),
    ("tobacco-grey-zone.toml", include_str!("../../../scenarios/tobacco-grey-zone.toml")),
    ("tspiot-outage-lm-fallback.toml", include_str!("../../../scenarios/tspiot-outage-lm-fallback.toml")),
    ("emergency-203-no-1260.toml", include_str!("../../../scenarios/emergency-203-no-1260.toml")),
    ("lost-gs-keyboard-scanner.toml", include_str!("../../../scenarios/lost-gs-keyboard-scanner.toml")),
    ("return-receipt.toml", include_str!("../../../scenarios/return-receipt.toml")),
    ("receipt-1265-matches-check.toml", include_str!("../../../scenarios/receipt-1265-matches-check.toml")),
    ("blocked-oism-unreachable.toml", include_str!("../../../scenarios/blocked-oism-unreachable.toml")),
    ("tspiot-no-answer-refused.toml", include_str!("../../../scenarios/tspiot-no-answer-refused.toml")),
    ("off-lm-blocked.toml", include_str!("../../../scenarios/off-lm-blocked.toml")),
    ("off-online-delayed.toml", include_str!("../../../scenarios/off-online-delayed.toml")),
    ("off-lm-sync-error.toml", include_str!("../../../scenarios/off-lm-sync-error.toml")),
    ("off-lm-price.toml", include_str!("../../../scenarios/off-lm-price.toml")),
    ("kkt-poll-ready.toml", include_str!("../../../scenarios/kkt-poll-ready.toml")),
    ("ban-block-above-mrp.toml", include_str!("../../../scenarios/ban-block-above-mrp.toml")),
    ("ban-crypto.toml", include_str!("../../../scenarios/ban-crypto.toml")),
    ("ban-expired-edge.toml", include_str!("../../../scenarios/ban-expired-edge.toml")),
    ("ban-format.toml", include_str!("../../../scenarios/ban-format.toml")),
    ("ban-ncp-below-mc.toml", include_str!("../../../scenarios/ban-ncp-below-mc.toml")),
    ("ban-not-found.toml", include_str!("../../../scenarios/ban-not-found.toml")),
    ("ban-not-introduced-tob.toml", include_str!("../../../scenarios/ban-not-introduced-tob.toml")),
    ("ban-pack-decoded-mrp.toml", include_str!("../../../scenarios/ban-pack-decoded-mrp.toml")),
    ("ban-vet-cert.toml", include_str!("../../../scenarios/ban-vet-cert.toml")),
    ("allow-no-tracking.toml", include_str!("../../../scenarios/allow-no-tracking.toml")),
    ("allow-pack-in-range.toml", include_str!("../../../scenarios/allow-pack-in-range.toml")),
    ("xb-layout.toml", include_str!("../../../scenarios/xb-layout.toml")),
    ("scan-aim-prefix.toml", include_str!("../../../scenarios/scan-aim-prefix.toml")),
    ("scan-altcodes.toml", include_str!("../../../scenarios/scan-altcodes.toml")),
    ("scan-camera.toml", include_str!("../../../scenarios/scan-camera.toml")),
    ("scan-caps-lock.toml", include_str!("../../../scenarios/scan-caps-lock.toml")),
    ("scan-caps-lock-revert.toml", include_str!("../../../scenarios/scan-caps-lock-revert.toml")),
    ("scan-com-clean.toml", include_str!("../../../scenarios/scan-com-clean.toml")),
    ("scan-double-scan.toml", include_str!("../../../scenarios/scan-double-scan.toml")),
    ("scan-f8.toml", include_str!("../../../scenarios/scan-f8.toml")),
    ("scan-foreign-29.toml", include_str!("../../../scenarios/scan-foreign-29.toml")),
    ("scan-gs-lookalike.toml", include_str!("../../../scenarios/scan-gs-lookalike.toml")),
    ("scan-leading-fnc1.toml", include_str!("../../../scenarios/scan-leading-fnc1.toml")),
    ("scan-suffix.toml", include_str!("../../../scenarios/scan-suffix.toml")),
    ("scan-text-gs.toml", include_str!("../../../scenarios/scan-text-gs.toml")),
    ("scan-tobacco-01.toml", include_str!("../../../scenarios/scan-tobacco-01.toml")),
    ("ret-blocked.toml", include_str!("../../../scenarios/ret-blocked.toml")),
    ("ret-expired.toml", include_str!("../../../scenarios/ret-expired.toml")),
    ("ret-never-sold.toml", include_str!("../../../scenarios/ret-never-sold.toml")),
    ("ret-offline.toml", include_str!("../../../scenarios/ret-offline.toml")),
    ("ret-price.toml", include_str!("../../../scenarios/ret-price.toml")),
    ("frac-measured.toml", include_str!("../../../scenarios/frac-measured.toml")),
    ("kkt-2003-sale.toml", include_str!("../../../scenarios/kkt-2003-sale.toml")),
    ("kkt-autonomous.toml", include_str!("../../../scenarios/kkt-autonomous.toml")),
    ("kkt-implicit-validation.toml", include_str!("../../../scenarios/kkt-implicit-validation.toml")),
    ("kkt-keys-missing.toml", include_str!("../../../scenarios/kkt-keys-missing.toml")),
    ("kkt-keys-update.toml", include_str!("../../../scenarios/kkt-keys-update.toml")),
    ("kkt-no-marking-flag.toml", include_str!("../../../scenarios/kkt-no-marking-flag.toml")),
    ("kkt-no-ofd.toml", include_str!("../../../scenarios/kkt-no-ofd.toml")),
    ("kkt-no-overlap.toml", include_str!("../../../scenarios/kkt-no-overlap.toml")),
    ("kkt-notice-full.toml", include_str!("../../../scenarios/kkt-notice-full.toml")),
    ("kkt-notice-warn.toml", include_str!("../../../scenarios/kkt-notice-warn.toml")),
    ("kkt-oism-incorrect.toml", include_str!("../../../scenarios/kkt-oism-incorrect.toml")),
    (
        "kkt-oism-suspended-emergency.toml",
        include_str!("../../../scenarios/kkt-oism-suspended-emergency.toml"),
    ),
    ("kkt-oism-suspended.toml", include_str!("../../../scenarios/kkt-oism-suspended.toml")),
    ("kkt-oism-timeout.toml", include_str!("../../../scenarios/kkt-oism-timeout.toml")),
    ("kkt-table-full.toml", include_str!("../../../scenarios/kkt-table-full.toml")),
    ("req-1265-stale.toml", include_str!("../../../scenarios/req-1265-stale.toml")),
    ("req-return-1260.toml", include_str!("../../../scenarios/req-return-1260.toml")),
    ("t-auth-fn-bad-mac.toml", include_str!("../../../scenarios/t-auth-fn-bad-mac.toml")),
    ("t-auth-fn-expiry.toml", include_str!("../../../scenarios/t-auth-fn-expiry.toml")),
    ("t-auth-fn-proactive.toml", include_str!("../../../scenarios/t-auth-fn-proactive.toml")),
    ("t-auth-fn-replay.toml", include_str!("../../../scenarios/t-auth-fn-replay.toml")),
    ("t-auth-fn-token.toml", include_str!("../../../scenarios/t-auth-fn-token.toml")),
    ("t-auth-lm-basic.toml", include_str!("../../../scenarios/t-auth-lm-basic.toml")),
    ("t-auth-xapikey-cutoff.toml", include_str!("../../../scenarios/t-auth-xapikey-cutoff.toml")),
    ("t-auth-xapikey-ok.toml", include_str!("../../../scenarios/t-auth-xapikey-ok.toml")),
    ("t-cdn-400.toml", include_str!("../../../scenarios/t-cdn-400.toml")),
    ("t-cdn-401.toml", include_str!("../../../scenarios/t-cdn-401.toml")),
    ("t-cdn-429-once.toml", include_str!("../../../scenarios/t-cdn-429-once.toml")),
    ("t-cdn-429-twice.toml", include_str!("../../../scenarios/t-cdn-429-twice.toml")),
    ("t-cdn-5xx-once.toml", include_str!("../../../scenarios/t-cdn-5xx-once.toml")),
    ("t-cdn-5xx-twice.toml", include_str!("../../../scenarios/t-cdn-5xx-twice.toml")),
    ("t-cdn-all-fail-refresh.toml", include_str!("../../../scenarios/t-cdn-all-fail-refresh.toml")),
    ("t-cdn-block-15min.toml", include_str!("../../../scenarios/t-cdn-block-15min.toml")),
    ("t-cdn-block-reuse.toml", include_str!("../../../scenarios/t-cdn-block-reuse.toml")),
    ("t-cdn-discovery.toml", include_str!("../../../scenarios/t-cdn-discovery.toml")),
    ("t-cdn-health-order.toml", include_str!("../../../scenarios/t-cdn-health-order.toml")),
    ("t-cdn-host-down.toml", include_str!("../../../scenarios/t-cdn-host-down.toml")),
    ("t-cdn-host-slow.toml", include_str!("../../../scenarios/t-cdn-host-slow.toml")),
    ("t-cdn-refresh.toml", include_str!("../../../scenarios/t-cdn-refresh.toml")),
    ("t-cdn-sandbox-empty.toml", include_str!("../../../scenarios/t-cdn-sandbox-empty.toml")),
    ("t-emg-418.toml", include_str!("../../../scenarios/t-emg-418.toml")),
    ("t-emg-exit.toml", include_str!("../../../scenarios/t-emg-exit.toml")),
    ("t-emg-trueapi-203-status.toml", include_str!("../../../scenarios/t-emg-trueapi-203-status.toml")),
    ("t-emg-trueapi-203.toml", include_str!("../../../scenarios/t-emg-trueapi-203.toml")),
    ("t-off-both-down.toml", include_str!("../../../scenarios/t-off-both-down.toml")),
    ("t-off-lm-allowed.toml", include_str!("../../../scenarios/t-off-lm-allowed.toml")),
    ("t-off-lm-not-ready.toml", include_str!("../../../scenarios/t-off-lm-not-ready.toml")),
    ("t-off-lm-sync-error.toml", include_str!("../../../scenarios/t-off-lm-sync-error.toml")),
    ("t-off-online-delayed.toml", include_str!("../../../scenarios/t-off-online-delayed.toml")),
    ("t-off-parallel-ok.toml", include_str!("../../../scenarios/t-off-parallel-ok.toml")),
    ("t-off-stale-snapshot.toml", include_str!("../../../scenarios/t-off-stale-snapshot.toml")),
    ("t-off-sync-recovery.toml", include_str!("../../../scenarios/t-off-sync-recovery.toml")),
    ("t-tsp-bad-base64.toml", include_str!("../../../scenarios/t-tsp-bad-base64.toml")),
    ("t-tsp-bytes-upstream.toml", include_str!("../../../scenarios/t-tsp-bytes-upstream.toml")),
    ("t-tsp-info-fields.toml", include_str!("../../../scenarios/t-tsp-info-fields.toml")),
    ("t-tsp-passthrough.toml", include_str!("../../../scenarios/t-tsp-passthrough.toml")),
    ("t-tsp-wrap.toml", include_str!("../../../scenarios/t-tsp-wrap.toml")),
    ("t-xb-5000-once.toml", include_str!("../../../scenarios/t-xb-5000-once.toml")),
    ("t-xb-5000-repeat.toml", include_str!("../../../scenarios/t-xb-5000-repeat.toml")),
    ("allow-many-fields.toml", include_str!("../../../scenarios/allow-many-fields.toml")),
    ("allow-not-owner.toml", include_str!("../../../scenarios/allow-not-owner.toml")),
    ("auth-client-info.toml", include_str!("../../../scenarios/auth-client-info.toml")),
    ("ban-other-error.toml", include_str!("../../../scenarios/ban-other-error.toml")),
    ("emg-body-with-results.toml", include_str!("../../../scenarios/emg-body-with-results.toml")),
    ("emg-exit.toml", include_str!("../../../scenarios/emg-exit.toml")),
    ("off-inst-per-code.toml", include_str!("../../../scenarios/off-inst-per-code.toml")),
    ("off-lm-not-ready.toml", include_str!("../../../scenarios/off-lm-not-ready.toml")),
    ("off-lm-sold.toml", include_str!("../../../scenarios/off-lm-sold.toml")),
    ("off-timestamp-string.toml", include_str!("../../../scenarios/off-timestamp-string.toml")),
    ("perf-pos-receipt.toml", include_str!("../../../scenarios/perf-pos-receipt.toml")),
    ("perf-pos-scan-rate.toml", include_str!("../../../scenarios/perf-pos-scan-rate.toml")),
    ("scan-hri.toml", include_str!("../../../scenarios/scan-hri.toml")),
    ("tsp-base64.toml", include_str!("../../../scenarios/tsp-base64.toml")),
    ("tsp-client-timeout.toml", include_str!("../../../scenarios/tsp-client-timeout.toml")),
    ("tsp-v3.toml", include_str!("../../../scenarios/tsp-v3.toml")),
    ("auth-client-refused.toml", include_str!("../../../scenarios/auth-client-refused.toml")),
    ("tsp-400.toml", include_str!("../../../scenarios/tsp-400.toml")),
    ("tsp-500-once.toml", include_str!("../../../scenarios/tsp-500-once.toml")),
    ("tsp-500.toml", include_str!("../../../scenarios/tsp-500.toml")),
    ("tsp-info.toml", include_str!("../../../scenarios/tsp-info.toml")),
    ("tsp-multi-item.toml", include_str!("../../../scenarios/tsp-multi-item.toml")),
    ("frac-n-lt-m.toml", include_str!("../../../scenarios/frac-n-lt-m.toml")),
    ("frac-piece.toml", include_str!("../../../scenarios/frac-piece.toml")),
    ("frac-remaining.toml", include_str!("../../../scenarios/frac-remaining.toml")),
    ("tsp-v1.toml", include_str!("../../../scenarios/tsp-v1.toml")),
    ("tsp-tls.toml", include_str!("../../../scenarios/tsp-tls.toml")),
    ("frac-lm-sell.toml", include_str!("../../../scenarios/frac-lm-sell.toml")),
    ("ret-lm-return.toml", include_str!("../../../scenarios/ret-lm-return.toml")),
    ("cdn-legacy-410.toml", include_str!("../../../scenarios/cdn-legacy-410.toml")),
    ("t-cdn-list-change.toml", include_str!("../../../scenarios/t-cdn-list-change.toml")),
    ("req-1265-batch-direct.toml", include_str!("../../../scenarios/req-1265-batch-direct.toml")),
    ("req-1265-batch-offline.toml", include_str!("../../../scenarios/req-1265-batch-offline.toml")),
    ("req-1265-batch.toml", include_str!("../../../scenarios/req-1265-batch.toml")),
];

/// The embedded suite as (file name, text) pairs.
pub fn builtin() -> Vec<(&'static str, &'static str)> {
    BUILTIN.to_vec()
}

/// Loads every embedded scenario, and checks that their ids are unique.
pub fn load_builtin() -> Result<Vec<Scenario>, ScenarioError> {
    let mut out = Vec::new();
    for (name, text) in BUILTIN {
        out.push((load_str(&format!("scenarios/{name}"), text)?, text.to_string()));
    }
    unique_ids(out).map_err(|mut e| e.remove(0))
}

/// Loads every `*.toml` file of `dir` (not recursive), in file-name order, and checks that their ids
/// are unique; every problem is returned.
pub fn load_dir(dir: &std::path::Path) -> Result<Vec<Scenario>, Vec<ScenarioError>> {
    let io = |file: &std::path::Path, message: String| ScenarioError::Io {
        file: file.display().to_string(),
        message,
    };
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| vec![io(dir, e.to_string())])?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for f in &files {
        match std::fs::read_to_string(f) {
            Err(e) => errors.push(io(f, e.to_string())),
            Ok(text) => match load_file(f) {
                Ok(s) => loaded.push((s, text)),
                Err(e) => errors.push(e),
            },
        }
    }
    if files.is_empty() {
        errors.push(io(dir, "no *.toml scenario files in this folder".into()));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    unique_ids(loaded)
}

/// The scenarios, or one error per repeated id.
fn unique_ids(loaded: Vec<(Scenario, String)>) -> Result<Vec<Scenario>, Vec<ScenarioError>> {
    let mut seen = std::collections::HashMap::new();
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for (s, text) in loaded {
        if let Some(first) = seen.insert(s.id.get_ref().clone(), s.source.clone()) {
            errors.push(ScenarioError::Invalid {
                at: load::locate(&s.source, &text, s.id.span().start),
                message: format!("duplicate scenario id \"{}\" (also in {first})", s.id.get_ref()),
            });
        }
        out.push(s);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
