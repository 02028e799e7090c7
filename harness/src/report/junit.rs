//! The JUnit XML report (`--junit FILE`), in the Jenkins / XUnit form CI systems read, built with
//! `quick-junit` and described by `docs/schemas/junit.xsd`.
//!
//! One `<testsuite name="markcert">` with a `<testcase>` per scenario (`classname` = `markcert.MUST` or
//! `markcert.SHOULD`). Mapping: `pass` → success; `fail` → `<failure>` (an expectation or assertion
//! missed); `error` → `<error>` (harness, setup, SUT crash or protocol violation); `skip` → `<skipped>`;
//! `warn` (only SHOULD misses) → success with the misses in `<system-out>` and the property
//! `markcert.outcome=warn`. A known-failing case keeps its status and gets the property
//! `markcert.known-failing` with the reason. Each failure's text lists every miss with its trace
//! excerpt; SUT stderr goes to `<system-err>`.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::runner::{Failure, Outcome, ScenarioResult};

/// The JUnit report of `results` as XML text.
pub fn to_xml(
    sut: &str,
    seed: u64,
    results: &[ScenarioResult],
) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("markcert certify");
    let mut suite = TestSuite::new("markcert");
    suite.add_property(Property::new("markcert.sut", sut));
    suite.add_property(Property::new("markcert.seed", seed.to_string()));
    let mut total = Duration::ZERO;
    for r in results {
        let time = Duration::from_millis(r.duration_ms);
        total += time;
        suite.add_test_case(test_case(r, time));
    }
    suite.set_time(total);
    report.set_time(total);
    report.add_test_suite(suite);
    report.to_string()
}

fn test_case(r: &ScenarioResult, time: Duration) -> TestCase {
    let details = describe(&r.failures);
    let first = r.failures.first().map(summary).unwrap_or_default();
    let status = match r.outcome {
        Outcome::Pass | Outcome::Warn => TestCaseStatus::success(),
        Outcome::Fail | Outcome::Error => {
            let kind =
                if r.outcome == Outcome::Fail { NonSuccessKind::Failure } else { NonSuccessKind::Error };
            let mut s = TestCaseStatus::non_success(kind);
            s.set_message(first.clone());
            s.set_type(if r.outcome == Outcome::Fail { "expectation" } else { "error" });
            s.set_description(details.clone());
            s
        }
        Outcome::Skip => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(first.clone());
            s
        }
    };
    let mut case = TestCase::new(r.id.as_str(), status);
    case.set_classname(format!("markcert.{}", level_name(r)));
    case.set_time(time);
    case.add_property(Property::new("markcert.outcome", r.outcome.as_str()));
    if let Some(reason) = &r.known_failing {
        case.add_property(Property::new("markcert.known-failing", reason.as_str()));
    }
    if r.outcome == Outcome::Warn {
        case.set_system_out(details);
    }
    if !r.stderr_tail.is_empty() {
        case.set_system_err(r.stderr_tail.join("\n"));
    }
    case
}

fn level_name(r: &ScenarioResult) -> &'static str {
    match r.level {
        crate::scenario::Level::Must => "MUST",
        crate::scenario::Level::Should => "SHOULD",
    }
}

/// One line for a failure: `step 3: expected rejected/expired, got accepted`.
fn summary(f: &Failure) -> String {
    let at = f.step.map(|s| format!("step {s}: ")).unwrap_or_default();
    if f.expected.is_empty() {
        format!("{at}{}", f.message.lines().next().unwrap_or(""))
    } else {
        format!("{at}expected {}, got {}", f.expected, f.actual)
    }
}

/// Every failure with its message and trace excerpt.
fn describe(failures: &[Failure]) -> String {
    let mut out = String::new();
    for f in failures {
        out.push_str(&summary(f));
        out.push('\n');
        if !f.message.is_empty() && !f.expected.is_empty() {
            out.push_str(&format!("  {}\n", f.message));
        }
        for line in &f.trace {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out
}
