//! The built-in reference POS through the runner: `markcert certify` with no `--sut` passes the whole
//! embedded suite, and the receipt assertions do fail on real KKT receipts when what they claim is
//! false (a scenario asserting the opposite of what a correct POS does).

use std::process::Command;

use markcert::runner::{run_scenario, Outcome, RunOptions, Sut};
use markcert::scenario::load_str;

fn reference_pos() -> Sut {
    Sut::Program {
        program: env!("CARGO_BIN_EXE_markcert").into(),
        args: vec!["reference-pos".into()],
        label: "reference-pos".into(),
    }
}

#[test]
fn certify_without_a_sut_passes_the_embedded_suite() {
    let dir = std::env::temp_dir().join(format!("markcert-refpos-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("r.json");
    let out = Command::new(env!("CARGO_BIN_EXE_markcert"))
        .args(["certify", "--no-progress", "--no-report-dir", "--jobs", "2", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let n = markcert::scenario::load_builtin()
        .unwrap()
        .into_iter()
        .filter(|s| {
            s.roles.contains(&markcert::scenario::Role::Pos)
                && s.profile == markcert::scenario::Profile::Default
        })
        .count();
    assert!(stdout.contains(&format!("{n} scenario(s): {n} pass, 0 fail")), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["summary"]["pass"], n);
    assert!(report["sut"].as_str().unwrap().contains("reference POS"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A correct sale, with assertions that are false about it.
const WRONG_CLAIMS: &str = r#"
id = "wrong-claims"
title = "Assertions that a correct POS makes false"
level = "MUST"

[[steps]]
do = "open"
kind = "sale"

[[steps]]
id = "sold"
do = "scan"
code = { case = "in-circulation", group = "milk" }
expect = { decision = "accepted" }

[[steps]]
id = "refused"
do = "scan"
code = { case = "blocked", group = "milk" }
expect = { decision = "rejected", reason = "blocked" }

[[steps]]
do = "close"
expect = { decision = "accepted" }

[[assert]]
that = "no_1260"
step = "sold"

[[assert]]
that = "receipt_1265_contains"
step = "sold"
text = "&Inst="

[[assert]]
that = "check_before_sell"
step = "refused"

[[assert]]
that = "code_not_in_any_receipt"
step = "sold"

[[assert]]
that = "receipt_1265_matches_check"
step = "refused"

[[assert]]
that = "kkt_finding"
id = "G-R4"

[[assert]]
that = "receipt_1265_matches_check"
step = "sold"
"#;

#[test]
fn receipt_assertions_fail_when_false_of_real_receipts() {
    let s = load_str("wrong-claims.toml", WRONG_CLAIMS).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(run_scenario(&s, &RunOptions::new(reference_pos())));
    assert_eq!(r.outcome, Outcome::Fail, "{r:#?}");
    let missed: Vec<(&str, &str)> = r
        .failures
        .iter()
        .filter(|f| f.actual == "does not hold")
        .map(|f| (f.expected.as_str(), f.message.as_str()))
        .collect();
    let names: Vec<&str> = missed.iter().map(|(n, _)| *n).collect();
    // Every false claim is caught; the one true claim (the sold item's 1265 matches its check) holds.
    assert_eq!(
        names,
        [
            "no_1260",
            "receipt_1265_contains",
            "check_before_sell",
            "code_not_in_any_receipt",
            "receipt_1265_matches_check",
            "kkt_finding"
        ],
        "{r:#?}"
    );
    assert!(missed[0].1.contains("carries tag 1260 (1265 \"UUID="), "{}", missed[0].1);
    assert!(missed[1].1.contains("contains \"&Inst=\""), "{}", missed[1].1);
    assert!(missed[2].1.contains("never sent to the KKT"), "{}", missed[2].1);
    assert!(missed[3].1.contains("is an item of receipt #"), "{}", missed[3].1);
    assert!(missed[4].1.contains("no receipt made after step 3"), "{}", missed[4].1);
    assert!(r.failures.iter().any(|f| !f.trace.is_empty()), "misses quote the trace: {r:#?}");
}

/// A batch whose positions do not share one 1265 (the mutant re-checks each code on its own) misses
/// `receipt_1265_shared`, naming both values; the reference passes the same scenario.
#[test]
fn receipt_1265_shared_fails_when_a_batch_is_rechecked_per_code() {
    let s = markcert::scenario::load_builtin()
        .unwrap()
        .into_iter()
        .find(|s| s.id.get_ref() == "req-1265-batch")
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pass = rt.block_on(run_scenario(&s, &RunOptions::new(reference_pos())));
    assert_eq!(pass.outcome, Outcome::Pass, "{pass:#?}");

    let mutant = Sut::Program {
        program: env!("CARGO_BIN_EXE_markcert").into(),
        args: vec!["reference-pos".into(), "--mutant".into(), "batch-recheck-per-code".into()],
        label: "batch-recheck-per-code".into(),
    };
    let r = rt.block_on(run_scenario(&s, &RunOptions::new(mutant)));
    assert_eq!(r.outcome, Outcome::Fail, "{r:#?}");
    let shared = r.failures.iter().find(|f| f.expected == "receipt_1265_shared").expect("shared 1265 missed");
    assert!(
        shared.message.contains("step 2: \"UUID=") && shared.message.contains("step 3: \"UUID="),
        "{}",
        shared.message
    );
    assert!(!shared.trace.is_empty(), "the miss quotes the checks: {shared:#?}");
    // One request for the basket was asserted too: the mutant made three.
    assert!(r.failures.iter().any(|f| f.expected == "calls" && f.message.starts_with("3 call(s)")), "{r:#?}");
}
