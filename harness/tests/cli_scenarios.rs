//! End-to-end tests of `markcert scenarios list|show|check`: the embedded suite is listed and shown,
//! valid files pass, an invalid file fails with its `file:line:col` and exit status 1, an unknown id
//! exits 2.

use std::process::{Command, Output};

fn markcert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_markcert")).args(args).output().expect("the markcert binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn list_names_every_embedded_scenario() {
    let o = markcert(&["scenarios", "list"]);
    assert!(o.status.success(), "{o:?}");
    let text = stdout(&o);
    for (file, _) in markcert::scenario::builtin() {
        let id = file.trim_end_matches(".toml");
        assert!(text.lines().any(|l| l.starts_with(id)), "{id} missing from:\n{text}");
    }
    let count = markcert::scenario::builtin().len();
    assert!(text.ends_with(&format!("{count} scenarios\n")), "{text}");
}

#[test]
fn show_prints_the_model_of_an_embedded_scenario_and_refuses_an_unknown_one() {
    let o = markcert(&["scenarios", "show", "expired-milk"]);
    assert!(o.status.success(), "{o:?}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["id"], "expired-milk");
    assert_eq!(v["level"], "MUST");
    assert!(v["steps"].as_array().is_some_and(|s| !s.is_empty()), "{v}");

    let o = markcert(&["scenarios", "show", "no-such-scenario"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("no embedded scenario"), "{o:?}");
}

#[test]
fn check_passes_the_suite_and_points_at_errors() {
    let dir = std::env::temp_dir().join(format!("markcert-cli-scenarios-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "id = \"bad\"\ntitle = 3\n").unwrap();
    let suite: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(!suite.is_empty());

    let mut args = vec!["scenarios", "check"];
    args.extend(suite.iter().map(String::as_str));
    let o = markcert(&args);
    assert!(o.status.success(), "{o:?}");
    assert!(stdout(&o).ends_with(&format!("{} checked, 0 invalid\n", suite.len())), "{o:?}");

    let bad_path = bad.display().to_string();
    args.push(&bad_path);
    let o = markcert(&args);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let text = stdout(&o);
    assert!(text.contains(&format!("error {bad_path}:2:9: ")), "{text}");
    assert!(text.ends_with(&format!("{} checked, 1 invalid\n", suite.len() + 1)), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}
