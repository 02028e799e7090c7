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
    Assertion, At, CaseSelector, CodeRef, Decision, Duration, Expect, FaultEvent, Feature, Level, Payment,
    Reason, ReceiptKind, Role, Scenario, Step, StepRef, WorldSpec,
};

/// The embedded suite: (file name, text), in suite order. Add new files here.
pub const BUILTIN: &[(&str, &str)] = &[
    ("sale-normal.toml", include_str!("../../../scenarios/sale-normal.toml")),
    ("expired-milk.toml", include_str!("../../../scenarios/expired-milk.toml")),
    ("tspiot-outage-lm-fallback.toml", include_str!("../../../scenarios/tspiot-outage-lm-fallback.toml")),
];

/// The embedded suite as (file name, text) pairs.
pub fn builtin() -> Vec<(&'static str, &'static str)> {
    BUILTIN.to_vec()
}

/// Loads every embedded scenario, and checks that their ids are unique.
pub fn load_builtin() -> Result<Vec<Scenario>, ScenarioError> {
    let mut seen = std::collections::HashMap::new();
    let mut out = Vec::new();
    for (name, text) in BUILTIN {
        let path = format!("scenarios/{name}");
        let s = load_str(&path, text)?;
        if let Some(first) = seen.insert(s.id.get_ref().clone(), path.clone()) {
            return Err(ScenarioError::Invalid {
                at: load::locate(&path, text, s.id.span().start),
                message: format!("duplicate scenario id \"{}\" (also in {first})", s.id.get_ref()),
            });
        }
        out.push(s);
    }
    Ok(out)
}
