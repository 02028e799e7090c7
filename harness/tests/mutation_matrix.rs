//! The suite's detection power, proved: `markcert certify --mutation-report` runs the embedded suite
//! against a reference implementation and each of its deliberate mutants (one realistic defect each);
//! the reference must pass every scenario and every mutant must be caught by a MUST scenario. Both
//! roles: the reference POS with its mutants (role `pos`) and the emulated ТС ПИоТ with its mutants
//! (role `tspiot`). The test stops each mutant at its first catch (`--first-catch`) to stay fast; the
//! full matrix is `markcert certify [--role tspiot] --mutation-report FILE`.

use std::process::Command;

use markcert::scenario::Role;

/// Runs the matrix of `role` and checks it; `mutants` is how many the implementation has.
fn matrix(role: Role, mutants_expected: usize) {
    let name = if role == Role::Pos { "pos" } else { "tspiot" };
    let dir = std::env::temp_dir().join(format!("markcert-mutation-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("mutation.json");
    let out = Command::new(env!("CARGO_BIN_EXE_markcert"))
        .args([
            "certify",
            "--role",
            name,
            "--no-progress",
            "--jobs",
            "2",
            "--first-catch",
            "--mutation-report",
        ])
        .arg(&report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(m["schema"], "markcert-mutation/1");
    let n = markcert::scenario::load_builtin()
        .unwrap()
        .iter()
        .filter(|s| s.roles.contains(&role) && s.profile == markcert::scenario::Profile::Default)
        .count();
    let reference = m["reference"].as_object().unwrap();
    assert_eq!(reference.len(), n);
    assert!(reference.values().all(|o| o == "pass"), "{reference:?}");
    let mutants = m["mutants"].as_array().unwrap();
    assert_eq!(mutants.len(), mutants_expected);
    for row in mutants {
        let killers = row["caught_by"].as_array().unwrap();
        assert!(!killers.is_empty(), "mutant {} survives: {stdout}", row["name"]);
        for k in killers {
            assert_eq!(row["outcomes"][k.as_str().unwrap()], "fail", "{row}");
        }
    }
    assert_eq!(m["caught"], mutants.len());
    assert_eq!(m["score"], 1.0);
    assert!(stdout.contains(&format!("mutation score {0}/{0} (100 %)", mutants.len())), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_reference_pos_passes_and_every_pos_mutant_is_caught() {
    let n = markcert_reference_pos::mutant::all().len();
    assert!(n >= 20, "at least 20 POS mutants: {n}");
    matrix(Role::Pos, n);
}

#[test]
fn the_emulated_tspiot_passes_and_every_tspiot_mutant_is_caught() {
    let n = markcert_emulators::tspiot::mutant::TsPiotMutant::ALL.len();
    assert!(n >= 10, "at least 10 ТС ПИоТ mutants: {n}");
    matrix(Role::Tspiot, n);
}
