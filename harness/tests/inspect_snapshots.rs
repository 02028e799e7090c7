//! Wire-shape snapshots of `markcert codes inspect` over the fixture files in `fixtures/codes/`.
//! A change in any field, its order or its value shows up here for review.

use markcert::codes_cli::{run_inspect, InspectOptions};
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/codes").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn inspect(name: &str, repair: bool) -> String {
    let opts = InspectOptions { repair, escapes: true, ..InspectOptions::default() };
    let mut out = Vec::new();
    run_inspect(&fixture(name), &mut out, &opts).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn valid_codes() {
    let out = inspect("valid.txt", false);
    assert!(out.lines().all(|l| l.contains("\"valid\":true")), "{out}");
    insta::assert_snapshot!("inspect_valid", out);
}

#[test]
fn broken_codes() {
    let out = inspect("broken.txt", false);
    assert!(out.lines().all(|l| l.contains("\"valid\":false")), "{out}");
    insta::assert_snapshot!("inspect_broken", out);
}

#[test]
fn scanner_damaged_codes_strict() {
    let out = inspect("scanner-damaged.txt", false);
    // A scan that needs repair is invalid. Two lines are valid as they stand: `<GS>` is read as
    // ⟨GS⟩ by `--escapes` (docs/decisions.md C16), and a case-inverted pack is another structurally
    // valid pack, flagged only by its implausible MRP.
    let src = fixture("scanner-damaged.txt");
    let src: Vec<&[u8]> = src.split(|&b| b == b'\n').collect();
    let valid: Vec<(&[u8], &str)> = out
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("\"valid\":true"))
        .map(|(i, l)| (src[i], l))
        .collect();
    assert_eq!(valid.len(), 2, "{valid:#?}");
    assert!(valid[0].0.windows(4).any(|w| w == b"<GS>"));
    assert!(valid[1].1.contains("mrp_implausible"));
    insta::assert_snapshot!("inspect_damaged_strict", out);
}

#[test]
fn scanner_damaged_codes_repaired() {
    insta::assert_snapshot!("inspect_damaged_repair", inspect("scanner-damaged.txt", true));
}

#[test]
fn valid_codes_are_unchanged_by_repair() {
    let strict = inspect("valid.txt", false);
    let lenient = inspect("valid.txt", true);
    assert_eq!(strict, lenient);
}
