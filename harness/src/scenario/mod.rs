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
