//! The mutation matrix: how much the suite is worth, measured. The suite runs against the reference
//! implementation and against each of its deliberate mutants (one realistic defect each); every mutant
//! must be caught — some MUST scenario fails against it — and the reference must pass every scenario.
//!
//! [`run_matrix`] gives a [`MutationReport`] (schema `markcert-mutation/1`): per mutant, the scenarios
//! that caught it (MUST `fail`) and every outcome; [`MutationReport::verdict`] says whether the suite
//! proves its detection power. `markcert certify --mutation-report FILE` writes it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{run_suite, Outcome, RunOptions, ScenarioResult, Sut};
use crate::scenario::{Level, Scenario};

/// The schema name carried in every mutation report.
pub const SCHEMA: &str = "markcert-mutation/1";

/// One implementation to run the suite against.
#[derive(Clone, Debug)]
pub struct Target {
    /// Mutant name (`reference` for the unmutated implementation).
    pub name: String,
    /// The defect, in one line.
    pub description: String,
    /// How to start it.
    pub sut: Sut,
}

/// What the suite did to one mutant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MutantRow {
    /// Mutant name.
    pub name: String,
    /// The defect.
    pub description: String,
    /// MUST scenarios that failed against it (its killers), in suite order.
    pub caught_by: Vec<String>,
    /// Every scenario's outcome against it.
    pub outcomes: BTreeMap<String, Outcome>,
}

impl MutantRow {
    /// True when some MUST scenario failed.
    pub fn caught(&self) -> bool {
        !self.caught_by.is_empty()
    }
}

/// The whole matrix.
#[derive(Clone, Debug, Serialize)]
pub struct MutationReport {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// False when each mutant ran only until its first catch (the killer lists are then partial).
    pub complete: bool,
    /// Scenario ids, in suite order.
    pub scenarios: Vec<String>,
    /// Outcomes of the reference implementation.
    pub reference: BTreeMap<String, Outcome>,
    /// One row per mutant.
    pub mutants: Vec<MutantRow>,
    /// Mutants caught.
    pub caught: usize,
    /// Mutation score: caught / mutants (1.0 when there are none).
    pub score: f64,
}

impl MutationReport {
    /// Scenarios the reference does not pass (must be none).
    pub fn reference_misses(&self) -> Vec<(&str, Outcome)> {
        self.reference
            .iter()
            .filter(|(_, o)| !matches!(o, Outcome::Pass))
            .map(|(id, o)| (id.as_str(), *o))
            .collect()
    }

    /// Mutants no MUST scenario caught.
    pub fn survivors(&self) -> Vec<&MutantRow> {
        self.mutants.iter().filter(|m| !m.caught()).collect()
    }

    /// True when the reference passes everything and every mutant is caught.
    pub fn verdict(&self) -> bool {
        self.reference_misses().is_empty() && self.survivors().is_empty()
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"schema\":\"{SCHEMA}\",\"error\":\"{e}\"}}"))
    }

    /// The matrix as text: one line per mutant with its killers.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let width = self.mutants.iter().map(|m| m.name.len()).max().unwrap_or(8).max(9);
        let misses = self.reference_misses();
        out.push_str(&format!(
            "{:<width$}  {}\n",
            "reference",
            if misses.is_empty() {
                format!("passes all {} scenario(s)", self.scenarios.len())
            } else {
                format!(
                    "DOES NOT PASS: {}",
                    misses.iter().map(|(id, o)| format!("{id} ({o})")).collect::<Vec<_>>().join(", ")
                )
            }
        ));
        for m in &self.mutants {
            let killers =
                if m.caught() { m.caught_by.join(", ") } else { "SURVIVES (no MUST scenario fails)".into() };
            out.push_str(&format!("{:<width$}  {killers}\n", m.name));
        }
        out.push_str(&format!(
            "mutation score {}/{} ({:.0} %)\n",
            self.caught,
            self.mutants.len(),
            self.score * 100.0
        ));
        out
    }
}

fn outcomes(results: &[ScenarioResult]) -> BTreeMap<String, Outcome> {
    results.iter().map(|r| (r.id.clone(), r.outcome)).collect()
}

/// Runs `scenarios` against `reference` and every mutant (one after the other; scenarios of one target
/// run `base.jobs` at once). With `first_catch`, a mutant's run stops at the first batch in which a
/// MUST scenario fails (its row then lists only the killers found so far: `complete` is false).
/// `progress` gets the target name and each result.
pub async fn run_matrix(
    scenarios: &[Scenario],
    base: &RunOptions,
    reference: Target,
    mutants: &[Target],
    first_catch: bool,
    mut progress: impl FnMut(&str, &ScenarioResult),
) -> MutationReport {
    let must: Vec<&str> =
        scenarios.iter().filter(|s| s.level == Level::Must).map(|s| s.id.get_ref().as_str()).collect();
    let run = |t: &Target| RunOptions { sut: t.sut.clone(), run_folder: None, ..base.clone() };
    let reference_results = run_suite(scenarios, &run(&reference), |r| progress(&reference.name, r)).await;
    let mut rows = Vec::with_capacity(mutants.len());
    for m in mutants {
        let results = if first_catch {
            // Batches of `jobs` scenarios, until one batch holds a MUST failure.
            let mut results = Vec::new();
            for batch in scenarios.chunks(base.jobs.max(1)) {
                let part = run_suite(batch, &run(m), |r| progress(&m.name, r)).await;
                let caught = part.iter().any(|r| r.outcome == Outcome::Fail && must.contains(&r.id.as_str()));
                results.extend(part);
                if caught {
                    break;
                }
            }
            results
        } else {
            run_suite(scenarios, &run(m), |r| progress(&m.name, r)).await
        };
        let caught_by = results
            .iter()
            .filter(|r| r.outcome == Outcome::Fail && must.contains(&r.id.as_str()))
            .map(|r| r.id.clone())
            .collect();
        rows.push(MutantRow {
            name: m.name.clone(),
            description: m.description.clone(),
            caught_by,
            outcomes: outcomes(&results),
        });
    }
    let caught = rows.iter().filter(|r| r.caught()).count();
    MutationReport {
        schema: SCHEMA,
        complete: !first_catch,
        scenarios: scenarios.iter().map(|s| s.id.get_ref().clone()).collect(),
        reference: outcomes(&reference_results),
        score: if rows.is_empty() { 1.0 } else { caught as f64 / rows.len() as f64 },
        caught,
        mutants: rows,
    }
}
