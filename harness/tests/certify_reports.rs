//! `markcert certify`'s reports and run controls through the binary, with the Python example POS
//! (`fixtures/adapters/minimal_pos.py`, which fails some scenarios and passes others) as the SUT:
//! the JSON report against its checked-in schema, the JUnit report against `docs/schemas/junit.xsd`,
//! the run folder (default `markcert-runs/<timestamp>/` and `latest`), `--known-failing`, `--suite`,
//! and `--jobs` keeping suite order.
//!
//! Schema validation runs `harness/tests/validate_reports.py` with the Python named by
//! `MARKCERT_PYTHON` (`.ci/run` sets it to a venv holding `jsonschema` and `xmlschema`), else `python3`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn minimal_pos() -> String {
    format!("python3 {ROOT}/fixtures/adapters/minimal_pos.py")
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("markcert-reports-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn certify(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_markcert"))
        .current_dir(cwd)
        .arg("certify")
        .args(["--no-progress", "--sut", &minimal_pos()])
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Validates `doc` against `schema` (`kind` json or junit); panics with the validator's errors.
fn validate(kind: &str, doc: &Path, schema: &Path) {
    let python = std::env::var("MARKCERT_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg(format!("{ROOT}/harness/tests/validate_reports.py"))
        .args([kind])
        .args([doc, schema])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    match out.status.code() {
        Some(0) => {}
        Some(2) => panic!(
            "{python} lacks the schema validators: {} — run `bash .ci/run`, or `python3 -m pip install \
             jsonschema xmlschema` and set MARKCERT_PYTHON",
            String::from_utf8_lossy(&out.stderr)
        ),
        _ => panic!("{} does not validate against {}:\n{}", doc.display(), schema.display(), text(&out)),
    }
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn json_schema_is_up_to_date() {
    let path = format!("{ROOT}/docs/schemas/markcert-report-1.schema.json");
    let fresh = serde_json::to_string_pretty(&markcert::report::json::json_schema()).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == fresh,
        "docs/schemas/markcert-report-1.schema.json is out of date with the Rust types; regenerate it with \
         `UPDATE_SCHEMAS=1 cargo test -p markcert --test certify_reports`"
    );
}

#[test]
fn reports_validate_and_the_run_folder_holds_the_evidence() {
    let dir = temp_dir("folder");
    let known = dir.join("known-failing.txt");
    std::fs::write(&known, "# tracked\nexpired-milk no scanner repair in the example POS\n").unwrap();
    let out = certify(
        &dir,
        &["--jobs", "3", "--known-failing", known.to_str().unwrap(), "--json", "r.json", "--junit", "j.xml"],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("[known failing: no scanner repair in the example POS]"), "{all}");
    assert!(all.contains("PASS  not-in-circulation"), "{all}");
    assert!(all.contains("SKIP  return-receipt"), "{all}");

    // Default run folder, with `latest` pointing at it.
    let base = dir.join("markcert-runs");
    let runs: Vec<PathBuf> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "latest")
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    assert!(
        all.contains(&format!("run folder: markcert-runs/{}", run.file_name().unwrap().to_str().unwrap()))
    );
    #[cfg(unix)]
    assert_eq!(std::fs::canonicalize(base.join("latest")).unwrap(), std::fs::canonicalize(run).unwrap());
    for f in ["report.json", "junit.xml", "summary.txt"] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    assert_eq!(
        std::fs::read_to_string(run.join("report.json")).unwrap(),
        std::fs::read_to_string(dir.join("r.json")).unwrap()
    );

    // Per scenario: result, trace, documents, SUT stderr.
    let s = run.join("sale-normal");
    let result = json(&s.join("result.json"));
    assert_eq!(result["id"], "sale-normal");
    let trace = std::fs::read_to_string(s.join("trace.ndjson")).unwrap();
    let events: Vec<serde_json::Value> = trace.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(
        events.iter().any(|e| e["component"] == "tspiot" && e["path"] == "/api/v2/codes/check"),
        "{trace}"
    );
    assert!(events.windows(2).all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64()));
    assert!(json(&s.join("documents.json")).is_array());
    assert!(std::fs::read_to_string(s.join("sut-stderr.log")).unwrap().contains("[minimal-pos] init lane"));

    // The JSON report: schema, totals, known-failing marks and trace excerpts.
    let report = json(&dir.join("r.json"));
    assert_eq!(report["schema"], "markcert-report/1");
    assert_eq!(report["summary"]["known_failing"], 1);
    let ids: Vec<&str> =
        report["scenarios"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    let builtin: Vec<String> = markcert::scenario::load_builtin()
        .unwrap()
        .into_iter()
        .filter(|s| {
            s.roles.contains(&markcert::scenario::Role::Pos)
                && s.profile == markcert::scenario::Profile::Default
        })
        .map(|s| s.id.get_ref().clone())
        .collect();
    assert_eq!(ids, builtin, "--jobs 3 must keep suite order");
    let expired = report["scenarios"].as_array().unwrap().iter().find(|s| s["id"] == "expired-milk").unwrap();
    assert_eq!(expired["outcome"], "fail");
    assert_eq!(expired["known_failing"], "no scanner repair in the example POS");
    let with_trace = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["failures"].as_array().unwrap())
        .filter(|f| f["trace"].as_array().is_some_and(|t| !t.is_empty()))
        .count();
    assert!(with_trace > 0, "failures come with trace excerpts");

    validate(
        "json",
        &dir.join("r.json"),
        Path::new(&format!("{ROOT}/docs/schemas/markcert-report-1.schema.json")),
    );
    validate("junit", &dir.join("j.xml"), Path::new(&format!("{ROOT}/docs/schemas/junit.xsd")));
    let junit = std::fs::read_to_string(dir.join("j.xml")).unwrap();
    assert!(junit.contains("<failure") && junit.contains("<skipped"), "{junit}");
    assert!(junit.contains(r#"name="markcert.known-failing" value="no scanner repair in the example POS""#));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_are_junit_errors_and_validate() {
    let dir = temp_dir("errors");
    let out = Command::new(env!("CARGO_BIN_EXE_markcert"))
        .current_dir(&dir)
        .args(["certify", "--no-progress", "--no-report-dir", "--filter", "sale-normal", "--junit", "j.xml"])
        .args([
            "--json",
            "r.json",
            "--sut",
            "python3 -c 'import sys; print(\"hello\", flush=True); sys.stdin.read()'",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(!dir.join("markcert-runs").exists(), "--no-report-dir leaves no folder");
    let junit = std::fs::read_to_string(dir.join("j.xml")).unwrap();
    assert!(junit.contains("<error") && junit.contains("not JSON"), "{junit}");
    validate("junit", &dir.join("j.xml"), Path::new(&format!("{ROOT}/docs/schemas/junit.xsd")));
    validate(
        "json",
        &dir.join("r.json"),
        Path::new(&format!("{ROOT}/docs/schemas/markcert-report-1.schema.json")),
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_known_failing_case_that_passes_fails_the_run() {
    let dir = temp_dir("known");
    let known = dir.join("kf.txt");
    std::fs::write(&known, "not-in-* believed broken\n").unwrap();
    let out = certify(
        &dir,
        &["--no-report-dir", "--filter", "not-in-circulation", "--known-failing", known.to_str().unwrap()],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("FAIL  not-in-circulation") && all.contains("remove the line"), "{all}");

    std::fs::write(&known, "not-in-circulation\n").unwrap();
    let out = certify(&dir, &["--no-report-dir", "--known-failing", known.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "a line without a reason is a usage error: {}", text(&out));
    assert!(text(&out).contains("kf.txt:1: \"not-in-circulation\" has no reason"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_suite_folder_replaces_the_embedded_suite() {
    let dir = temp_dir("suite");
    let suite = dir.join("suite");
    std::fs::create_dir_all(&suite).unwrap();
    let blocked = std::fs::read_to_string(format!("{ROOT}/scenarios/not-in-circulation.toml")).unwrap();
    std::fs::write(suite.join("mine.toml"), blocked.replace("id = \"not-in-circulation\"", "id = \"mine\""))
        .unwrap();
    let out = certify(&dir, &["--no-report-dir", "--suite", suite.to_str().unwrap()]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("1 scenario(s): 1 pass") && all.contains("PASS  mine"), "{all}");

    std::fs::write(suite.join("broken.toml"), "id = \"broken\"\nlevel = \"MAYBE\"\n").unwrap();
    let out = certify(&dir, &["--no-report-dir", "--suite", suite.to_str().unwrap()]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("broken.toml:"), "errors name the file: {all}");
    let _ = std::fs::remove_dir_all(&dir);
}
