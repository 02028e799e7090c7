//! The versioned JSON report (`--json FILE`), schema `markcert-report/1`:
//! `{"schema", "sut", "seed", "scenarios":[{id, outcome, level, failures:[{step, expected, actual,
//! message}], duration_ms, stderr_tail?}], "summary":{pass, fail, warn, skip, error}}`.

use serde::Serialize;

use crate::runner::{ScenarioResult, Summary};

/// The schema name carried in every report.
pub const SCHEMA: &str = "markcert-report/1";

/// The whole report.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// How the SUT was reached (`stdio: CMD` or `http: URL`).
    pub sut: String,
    /// The run seed.
    pub seed: u64,
    /// One entry per scenario run, in run order.
    pub scenarios: &'a [ScenarioResult],
    /// Totals.
    pub summary: Summary,
}

impl<'a> JsonReport<'a> {
    /// The report of `results`.
    pub fn new(sut: String, seed: u64, results: &'a [ScenarioResult]) -> Self {
        JsonReport { schema: SCHEMA, sut, seed, scenarios: results, summary: Summary::of(results) }
    }

    /// Pretty JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"schema\":\"{SCHEMA}\",\"error\":\"{e}\"}}"))
    }
}
