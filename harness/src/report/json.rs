//! The versioned JSON report (`--json FILE`, and `report.json` in the run folder), schema
//! `markcert-report/1`: `{"schema", "generator", "sut", "seed", "scenarios":[{id, outcome, level,
//! failures:[{step, expected, actual, message, trace?}], duration_ms, stderr_tail?, known_failing?}],
//! "summary":{pass, fail, warn, skip, error, known_failing}}`.
//!
//! [`json_schema`] is the JSON Schema of that shape, generated from the Rust types and checked in as
//! `docs/schemas/markcert-report-1.schema.json` (a test fails on drift). Fields are only ever added
//! within version 1.

use schemars::JsonSchema;
use serde::Serialize;

use crate::runner::{ScenarioResult, Summary};

/// The schema name carried in every report.
pub const SCHEMA: &str = "markcert-report/1";

/// The whole report.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JsonReport<'a> {
    /// Always `markcert-report/1`.
    pub schema: &'static str,
    /// `markcert <version>`.
    pub generator: String,
    /// How the SUT was reached (`stdio: CMD` or `http: URL`).
    pub sut: String,
    /// The run seed.
    pub seed: u64,
    /// One entry per scenario run, in suite order.
    pub scenarios: &'a [ScenarioResult],
    /// Totals.
    pub summary: Summary,
}

impl<'a> JsonReport<'a> {
    /// The report of `results`.
    pub fn new(sut: String, seed: u64, results: &'a [ScenarioResult]) -> Self {
        JsonReport {
            schema: SCHEMA,
            generator: format!("markcert {}", env!("CARGO_PKG_VERSION")),
            sut,
            seed,
            scenarios: results,
            summary: Summary::of(results),
        }
    }

    /// Pretty JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"schema\":\"{SCHEMA}\",\"error\":\"{e}\"}}"))
    }
}

/// The JSON Schema (draft 2020-12) of the report.
pub fn json_schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(
        schemars::generate::SchemaSettings::draft2020_12()
            .into_generator()
            .into_root_schema_for::<JsonReport>(),
    )
    .unwrap_or_default();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("title".into(), "markcert report, version 1 (markcert-report/1)".into());
        obj.insert(
            "description".into(),
            "What `markcert certify --json` writes; see docs/scenarios.md, \"Running scenarios\".".into(),
        );
        if let Some(props) = obj.get_mut("properties").and_then(|p| p.as_object_mut()) {
            props.insert("schema".into(), serde_json::json!({ "const": SCHEMA }));
        }
    }
    schema
}
