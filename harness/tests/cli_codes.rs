//! End-to-end tests of the `markcert codes` subcommands through the real binary: exit codes,
//! stdin/stdout handling, and the pipelines a vendor would write (gen | inspect, gen | distort |
//! inspect --repair).

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn markcert(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_markcert"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn markcert");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn inspect_reads_raw_gs_bytes_and_prints_one_object_per_line() {
    let out =
        markcert(&["codes", "inspect"], b"0104612345000438215aZ;q0\x1d93Jm4t\n04612345000124Kx7;pQaAC/UZt9+");
    assert!(out.status.success());
    let v = json_lines(&out);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["layout"], "milk");
    assert_eq!(v[0]["valid"], true);
    assert_eq!(v[0]["canonical"], "0104612345000438215aZ;q0\u{1d}93Jm4t");
    assert_eq!(v[0]["ffd_2100"], 5);
    assert_eq!(v[1]["layout"], "tobacco-pack");
    assert_eq!(v[1]["mrp_kopecks"], 18500);
    assert_eq!(v[1]["block_price_kopecks"], serde_json::Value::Null);
}

#[test]
fn escapes_are_literal_text_without_the_flag() {
    let out = markcert(&["codes", "inspect"], b"0104612345000438215aZ;q0\\u001d93Jm4t\n");
    let v = json_lines(&out);
    assert_eq!(v[0]["valid"], false);
    let out = markcert(&["codes", "inspect", "--escapes"], b"0104612345000438215aZ;q0\\u001d93Jm4t\n");
    assert_eq!(json_lines(&out)[0]["valid"], true);
}

#[test]
fn check_flag_sets_the_exit_status() {
    let ok = markcert(&["codes", "inspect", "--check"], b"0104612345000438215aZ;q0\x1d93Jm4t\n");
    assert_eq!(ok.status.code(), Some(0));
    let bad = markcert(&["codes", "inspect", "--check"], b"0104612345000438215aZ;q093Jm4t\n");
    assert_eq!(bad.status.code(), Some(1));
    let repaired =
        markcert(&["codes", "inspect", "--check", "--repair"], b"0104612345000438215aZ;q093Jm4t\n");
    assert_eq!(repaired.status.code(), Some(0));
}

#[test]
fn block_price_follows_the_ai8005_option() {
    let code = b"010461234500036021Hq'7Lz:\x1d8005185000\x1d93Rk3p\n";
    let v = json_lines(&markcert(&["codes", "inspect"], code));
    assert_eq!(
        (v[0]["block_price_kopecks"].as_u64(), v[0]["block_pack_price_kopecks"].as_u64()),
        (Some(185000), Some(18500))
    );
    let v = json_lines(&markcert(
        &["codes", "inspect", "--ai8005", "pack-rub-x1000", "--pack-count", "20"],
        code,
    ));
    assert_eq!(
        (v[0]["block_price_kopecks"].as_u64(), v[0]["block_pack_price_kopecks"].as_u64()),
        (Some(370000), Some(18500))
    );
}

#[test]
fn invalid_utf8_input_is_reported_with_hex_and_never_crashes() {
    let out = markcert(&["codes", "inspect", "--repair"], b"\xff\xfe\x00\x1d\n\xe8\n");
    assert!(out.status.success());
    let v = json_lines(&out);
    assert_eq!(v[0]["input_hex"], "fffe001d");
    assert_eq!(v[0]["valid"], false);
    assert_eq!(v.len(), 2);
}

#[test]
fn gen_then_inspect_round_trips_for_every_layout() {
    for layout in
        ["tobacco-pack", "tobacco-block", "milk", "beer", "s13-93", "s13-44", "s13-88", "s20-44", "ki-only"]
    {
        let gen = markcert(&["codes", "gen", "--layout", layout, "--count", "25", "--seed", "7"], b"");
        assert!(gen.status.success(), "{layout}: {}", String::from_utf8_lossy(&gen.stderr));
        let again = markcert(&["codes", "gen", "--layout", layout, "--count", "25", "--seed", "7"], b"");
        assert_eq!(gen.stdout, again.stdout, "deterministic per seed");
        let v = json_lines(&markcert(&["codes", "inspect", "--escapes", "--check"], &gen.stdout));
        assert_eq!(v.len(), 25);
        for r in v {
            assert_eq!(r["valid"], true, "{r}");
            assert_eq!(r["layout"], layout, "{r}");
        }
    }
}

#[test]
fn gen_rejects_an_unknown_layout() {
    let out = markcert(&["codes", "gen", "--layout", "caviar"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown layout"));
}

#[test]
fn distort_then_repair_gives_back_the_original() {
    let gen = markcert(&["codes", "gen", "--layout", "all", "--count", "5", "--seed", "3"], b"");
    let originals: Vec<String> =
        String::from_utf8(gen.stdout.clone()).unwrap().lines().map(String::from).collect();
    for profile in [
        "com-clean",
        "hid-us-dropgs",
        "hid-ru-dropgs",
        "aim-on",
        "camera-libdmtx",
        "1c-text-gs",
        "hid-altcodes",
    ] {
        let d = markcert(&["codes", "distort", "--profile", profile, "--output", "raw"], &gen.stdout);
        assert!(d.status.success(), "{profile}: {}", String::from_utf8_lossy(&d.stderr));
        let v = json_lines(&markcert(&["codes", "inspect", "--repair"], &d.stdout));
        assert_eq!(v.len(), originals.len(), "{profile}");
        for (r, orig) in v.iter().zip(&originals) {
            let canonical = r["canonical"].as_str().unwrap_or_default().replace('\u{1d}', "\\u001d");
            assert_eq!(&canonical, orig, "{profile}: {r}");
        }
    }
}

#[test]
fn distort_json_carries_text_and_key_events() {
    let milk = b"0104612345000438215aZ;q0\\u001d93Jm4t\n";
    let v = json_lines(&markcert(&["codes", "distort", "--profile", "hid-f8", "--output", "json"], milk));
    assert_eq!(v[0]["text"], "0104612345000438215aZ;q093Jm4t\r", "a GUI field gets nothing for F8");
    assert_eq!(v[0]["text_hex"], serde_json::Value::Null);
    let keys = v[0]["keys"].as_array().unwrap();
    assert_eq!(keys[24], serde_json::json!({"key": "fkey", "value": 8}));
    let v =
        json_lines(&markcert(&["codes", "distort", "--profile", "leading-fnc1", "--output", "json"], milk));
    assert_eq!(v[0]["keys"], serde_json::Value::Null, "a COM scanner delivers bytes");
    assert!(v[0]["text_hex"].as_str().unwrap().starts_with("e83031"));
}

#[test]
fn distort_rejects_an_unknown_profile() {
    let out = markcert(&["codes", "distort", "--profile", "nope"], b"x\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("com-clean"));
}

#[test]
fn profiles_lists_the_spec_defaults() {
    let v = json_lines(&markcert(&["codes", "profiles"], b""));
    let names: Vec<&str> = v.iter().filter_map(|p| p["name"].as_str()).collect();
    for &want in markcert_codes::distort::SPEC_DEFAULT_PROFILES {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
}
