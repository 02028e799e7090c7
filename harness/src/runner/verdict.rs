//! Scenario outcomes: what one scenario run concluded ([`ScenarioResult`]), the expectation misses
//! that led there ([`Failure`]) and the totals of a run ([`Summary`]).
//!
//! Precedence when several things happened: a protocol violation / SUT crash / setup problem is
//! `error`; otherwise a missed MUST expectation is `fail`; otherwise an assertion the runner cannot
//! check yet makes the scenario `error` (never `pass`); otherwise a missed SHOULD expectation is
//! `warn`; otherwise `pass`.

use schemars::JsonSchema;
use serde::Serialize;

use crate::scenario::Level;

/// The verdict of one scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every expectation and assertion held.
    Pass,
    /// A MUST expectation or assertion was missed.
    Fail,
    /// Only SHOULD expectations were missed.
    Warn,
    /// The SUT does not declare a feature the scenario needs.
    Skip,
    /// Harness or setup problem, SUT crash, protocol violation, or an assertion not implemented yet.
    Error,
}

impl Outcome {
    /// Lower-case name, as in the reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Warn => "warn",
            Outcome::Skip => "skip",
            Outcome::Error => "error",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One missed expectation (or failed / unchecked assertion, or the error that ended the scenario).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Failure {
    /// The step number (from 1); `None` for assertions checked after the last step and for setup.
    pub step: Option<usize>,
    /// What the scenario expected (e.g. `rejected/expired`).
    pub expected: String,
    /// What happened (e.g. `accepted`).
    pub actual: String,
    /// Explanation; for a step, the SUT's own `message` when it gave one.
    pub message: String,
    /// The trace around the miss, one event per line (`#seq +ms component METHOD path → status …`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<String>,
}

/// Why a failure was recorded; decides the outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// An expectation or assertion did not hold.
    Missed,
    /// An assertion the runner cannot check yet.
    Unchecked,
    /// Protocol violation, SUT crash, harness or setup error: the scenario stopped.
    Error,
}

/// The result of running one scenario.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct ScenarioResult {
    /// Scenario id.
    pub id: String,
    /// The verdict.
    pub outcome: Outcome,
    /// The scenario's level.
    pub level: Level,
    /// Misses and errors, in the order they happened.
    pub failures: Vec<Failure>,
    /// Wall time of the scenario, stack start-up and SUT start included.
    pub duration_ms: u64,
    /// The SUT's last stderr lines (stdio), kept for `error` outcomes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stderr_tail: Vec<String>,
    /// Set when the case is listed in `--known-failing` and did not pass: the listed reason. Such a
    /// case does not count as `fail` / `error` / `warn` in the totals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_failing: Option<String>,
}

/// Collects failures while a scenario runs and turns them into an [`Outcome`].
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    pub(crate) failures: Vec<(FailureKind, Failure)>,
    pub(crate) skipped: Option<String>,
}

impl Verdict {
    pub(crate) fn push(&mut self, kind: FailureKind, failure: Failure) {
        self.failures.push((kind, failure));
    }

    /// Records a harness / SUT error with no expectation behind it.
    pub(crate) fn error(&mut self, step: Option<usize>, message: impl Into<String>) {
        self.push(
            FailureKind::Error,
            Failure {
                step,
                expected: String::new(),
                actual: "error".into(),
                message: message.into(),
                trace: Vec::new(),
            },
        );
    }

    /// The outcome for a scenario of `level`, following the module's precedence.
    pub(crate) fn outcome(&self, level: Level) -> Outcome {
        let has = |k: FailureKind| self.failures.iter().any(|(kind, _)| *kind == k);
        if has(FailureKind::Error) {
            Outcome::Error
        } else if self.skipped.is_some() {
            Outcome::Skip
        } else if has(FailureKind::Missed) && level == Level::Must {
            Outcome::Fail
        } else if has(FailureKind::Unchecked) {
            Outcome::Error
        } else if has(FailureKind::Missed) {
            Outcome::Warn
        } else {
            Outcome::Pass
        }
    }

    pub(crate) fn into_failures(self) -> Vec<Failure> {
        let mut out: Vec<Failure> = self.failures.into_iter().map(|(_, f)| f).collect();
        if let Some(why) = self.skipped {
            out.push(Failure {
                step: None,
                expected: String::new(),
                actual: "skip".into(),
                message: why,
                trace: Vec::new(),
            });
        }
        out
    }
}

/// Totals of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Summary {
    /// Scenarios passed.
    pub pass: usize,
    /// Scenarios failed (a MUST missed).
    pub fail: usize,
    /// Scenarios with SHOULD misses only.
    pub warn: usize,
    /// Scenarios skipped.
    pub skip: usize,
    /// Scenarios ended by an error.
    pub error: usize,
    /// Scenarios that did not pass and are listed in `--known-failing`.
    pub known_failing: usize,
}

impl Summary {
    /// Counts the outcomes of `results`.
    pub fn of(results: &[ScenarioResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            if r.known_failing.is_some() && r.outcome != Outcome::Pass && r.outcome != Outcome::Skip {
                s.known_failing += 1;
                continue;
            }
            match r.outcome {
                Outcome::Pass => s.pass += 1,
                Outcome::Fail => s.fail += 1,
                Outcome::Warn => s.warn += 1,
                Outcome::Skip => s.skip += 1,
                Outcome::Error => s.error += 1,
            }
        }
        s
    }

    /// The process exit code: 3 if any error, else 1 if any fail, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.error > 0 {
            3
        } else if self.fail > 0 {
            1
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f() -> Failure {
        Failure {
            step: Some(1),
            expected: "a".into(),
            actual: "b".into(),
            message: String::new(),
            trace: Vec::new(),
        }
    }

    #[test]
    fn precedence_never_turns_an_unchecked_assertion_into_a_pass() {
        let mut v = Verdict::default();
        assert_eq!(v.outcome(Level::Must), Outcome::Pass);
        v.push(FailureKind::Unchecked, f());
        assert_eq!(v.outcome(Level::Must), Outcome::Error);
        assert_eq!(v.outcome(Level::Should), Outcome::Error);
        v.push(FailureKind::Missed, f());
        assert_eq!(v.outcome(Level::Must), Outcome::Fail);
        v.error(None, "boom");
        assert_eq!(v.outcome(Level::Must), Outcome::Error);
        let mut w = Verdict::default();
        w.push(FailureKind::Missed, f());
        assert_eq!(w.outcome(Level::Should), Outcome::Warn);
    }
}
