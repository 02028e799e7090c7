//! Scenario language: the embedded suite loads and validates, the parsed model is stable (insta),
//! errors name `file:line:col`, and arbitrary input never panics the loader.

use markcert::scenario::{self, load_file, load_str, Duration, Reason, Scenario, ScenarioError, Step};
use proptest::prelude::*;

/// A small valid scenario; the error tests change one thing in it.
const MINI: &str = r#"id = "mini"
title = "Mini"
level = "MUST"

[[steps]]
do = "open"
kind = "sale"

[[steps]]
do = "scan"
code = { case = "in-circulation", group = "milk" }
expect = { decision = "accepted" }

[[steps]]
do = "close"
"#;

fn err(text: &str) -> String {
    match load_str("t.toml", text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn builtin_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name)
}

#[test]
fn the_mini_scenario_loads() {
    let s = load_str("t.toml", MINI).unwrap();
    assert_eq!(s.source, "t.toml");
    assert_eq!(s.steps.len(), 3);
}

#[test]
fn every_builtin_scenario_loads_and_validates() {
    let list = scenario::builtin();
    assert!(list.len() >= 3);
    let loaded = scenario::load_builtin().unwrap();
    assert_eq!(loaded.len(), list.len());
    for (name, _) in &list {
        // The same files from disk, with world base paths resolved.
        let s = load_file(builtin_path(name)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format!("{}.toml", s.id.get_ref()), *name, "file name = id");
    }
}

#[test]
fn every_scenario_file_on_disk_is_in_the_builtin_list() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let names: Vec<&str> = scenario::builtin().iter().map(|(n, _)| *n).collect();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".toml") {
            assert!(names.contains(&name.as_str()), "{name} is not in scenario::BUILTIN");
        }
    }
}

#[test]
fn parsed_model_snapshot() {
    let (_, text) =
        scenario::builtin().into_iter().find(|(n, _)| *n == "tspiot-outage-lm-fallback.toml").unwrap();
    let s: Scenario = load_str("scenarios/tspiot-outage-lm-fallback.toml", text).unwrap();
    insta::assert_json_snapshot!("tspiot_outage_lm_fallback", s);
}

#[test]
fn expired_milk_expectations() {
    let (_, text) = scenario::builtin().into_iter().find(|(n, _)| *n == "expired-milk.toml").unwrap();
    let s = load_str("expired-milk.toml", text).unwrap();
    let reasons: Vec<Option<Reason>> =
        s.steps.iter().filter_map(|st| st.get_ref().expect()).map(|e| e.reason).collect();
    assert_eq!(reasons, [None, Some(Reason::Expired), None, Some(Reason::Expired)]);
    assert!(matches!(s.steps[4].get_ref(), Step::AdvanceClock { by, .. } if by.ms == 25 * 3_600_000));
}

#[test]
fn durations() {
    assert_eq!(Duration::parse("73h").unwrap().ms, 73 * 3_600_000);
    assert_eq!(Duration::parse("1h30m").unwrap().ms, 90 * 60_000);
    assert_eq!(Duration::parse("500ms").unwrap().ms, 500);
    assert_eq!(Duration::parse("1d2h3m4s5ms").unwrap().to_string(), "1d2h3m4s5ms");
    for bad in ["", "h", "5", "5w", "-5m", "1.5h", "99999999999999999999d", "5 m"] {
        assert!(Duration::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn syntax_error_names_file_line_col() {
    let text = MINI.replace("kind = \"sale\"", "kind = sale");
    assert_eq!(err(&text), "t.toml:7:8: invalid string; expected `\"`, `'`");
}

#[test]
fn unknown_field_at_top_level() {
    let text = MINI.replace("title = \"Mini\"", "title = \"Mini\"\nbogus = 1");
    assert_eq!(
        err(&text),
        "t.toml:3:1: unknown field `bogus`, expected one of `id`, `title`, `requirements`, `cases`, `level`, \
         `roles`, `features`, `tags`, `profile`, `world`, `kkt`, `xapikey_cutoff_after`, `tspiot`, `true_api`, \
         `lm`, `tspiot_tls`, `faults`, `steps`, `assert`"
    );
}

#[test]
fn unknown_field_in_a_step_points_at_the_key() {
    let text = MINI.replace("kind = \"sale\"", "kind = \"sale\"\n  colour = 1");
    assert_eq!(err(&text), "t.toml:8:3: step 1 (open): unknown field `colour`, expected `id` or `kind`");
}

#[test]
fn expect_on_a_step_that_cannot_have_one() {
    let text = format!("{MINI}\n[[steps]]\ndo = \"lm_sync\"\nexpect = {{ decision = \"accepted\" }}\n");
    assert_eq!(
        err(&text),
        "t.toml:19:1: step 4 (lm_sync): unknown field `expect`, expected `id` \
         (only scan, return and close steps take `expect`)"
    );
}

#[test]
fn bad_reason_points_at_the_value() {
    let text = MINI.replace(
        "expect = { decision = \"accepted\" }",
        "expect = { decision = \"rejected\", reason = \"stale\" }",
    );
    assert_eq!(
        err(&text),
        "t.toml:12:44: step 2 (scan): unknown variant `stale`, expected one of `format`, `not_found`, \
         `not_applied`, `crypto`, `blocked`, `sold`, `not_in_circulation`, `expired`, `price_above_mrp`, \
         `price_below_min`, `check_unavailable`, `other`"
    );
}

#[test]
fn reason_with_accepted_is_refused() {
    let text = MINI.replace(
        "expect = { decision = \"accepted\" }",
        "expect = { decision = \"accepted\", reason = \"sold\" }",
    );
    assert_eq!(
        err(&text),
        "t.toml:9:1: step 2 (scan): expect: a reason goes only with decision = \"rejected\""
    );
}

#[test]
fn bad_duration_points_at_the_value() {
    let text = format!("{MINI}\n[[steps]]\ndo = \"advance_clock\"\nby = \"3x\"\n");
    assert_eq!(
        err(&text),
        "t.toml:19:6: step 4 (advance_clock): bad duration \"3x\": unknown unit (write e.g. \"73h\", \"1h30m\", \"500ms\")"
    );
    let text = format!("{MINI}\n[[faults]]\nat = \"5q\"\nclear = \"*\"\n");
    assert_eq!(
        err(&text),
        "t.toml:18:6: bad duration \"5q\": unknown unit (write e.g. \"73h\", \"1h30m\", \"500ms\")"
    );
}

#[test]
fn step_reference_out_of_range() {
    let text = format!("{MINI}\n[[assert]]\nthat = \"check_before_sell\"\nstep = 9\n");
    assert_eq!(
        err(&text),
        "t.toml:17:1: assert 1 (check_before_sell): refers to step 9, which does not exist"
    );
    let text = format!("{MINI}\n[[assert]]\nthat = \"code_not_in_any_receipt\"\nstep = 1\n");
    assert_eq!(
        err(&text),
        "t.toml:17:1: assert 1 (code_not_in_any_receipt): step 1 is a open step; it must be a scan or return step"
    );
    let text = format!("{MINI}\n[[faults]]\nat = \"step:nope\"\nclear = \"*\"\n");
    assert_eq!(err(&text), "t.toml:17:1: fault 1: `at` refers to step \"nope\", which does not exist");
}

#[test]
fn duplicate_step_ids() {
    let text = MINI
        .replace("do = \"open\"", "id = \"a\"\ndo = \"open\"")
        .replace("do = \"close\"", "id = \"a\"\ndo = \"close\"");
    assert_eq!(err(&text), "t.toml:15:1: step 3 (close): duplicate step id \"a\" (also step 1)");
}

#[test]
fn other_semantic_errors() {
    let cases = [
        (
            MINI.replace("id = \"mini\"", "id = \"Mini Scenario\""),
            "t.toml:1:6: id \"Mini Scenario\": use lowercase letters, digits and `-`",
        ),
        (MINI.replace("group = \"milk\"", "group = \"cheese\""), "unknown product group \"cheese\""),
        (
            MINI.replace("\"in-circulation\"", "\"nonesuch\""),
            "no code of the default world has case \"nonesuch\"",
        ),
        (
            MINI.replace("expect =", "scanner = \"hid-nope\"\nexpect ="),
            "unknown scanner profile \"hid-nope\"",
        ),
        (
            MINI.replace("expect =", "quantity = 0.5\nexpect ="),
            "needs `fractional` or `weighted` in features",
        ),
        (
            MINI.replace("[[steps]]\ndo = \"close\"\n", ""),
            "the receipt opened at step 1 is never closed or cancelled",
        ),
        (
            MINI.replace("kind = \"sale\"", "kind = \"return\""),
            "a return receipt needs `returns` in features",
        ),
        (format!("{MINI}\n[[faults]]\nat = 1\nclear = \"ghost\"\n"), "no `set` defines"),
        (format!("{MINI}\n[[faults]]\nat = 1\n"), "give exactly one of `set` and `clear`"),
        (
            format!("{MINI}\n[[faults]]\nat = 1\nset = {{ fault = {{ kind = \"status\", status = 99 }} }}\n"),
            "fault 1: bad rule",
        ),
        (
            MINI.replace("level = \"MUST\"", "level = \"MUST\"\nfeatures = [\"tspiot\", \"direct\"]"),
            "one mode",
        ),
        (
            MINI.replace("level = \"MUST\"", "level = \"MUST\"\nfeatures = [\"direct\"]\ntspiot_tls = true"),
            "tspiot_tls: only a POS that works through the emulated ТС ПИоТ",
        ),
        (format!("{MINI}\n[[steps]]\ndo = \"cdn_list\"\nhosts = [2, 0]\n"), "0 is not a CDN host number"),
        (
            format!("{MINI}\n[[steps]]\ndo = \"cdn_list\"\nhosts = [2, 3, 2]\n"),
            "cdn-2 is listed twice (entry 3)",
        ),
    ];
    for (text, want) in cases {
        let got = err(&text);
        assert!(got.contains(want), "{got:?} does not contain {want:?}");
        assert!(got.starts_with("t.toml:"), "{got}");
    }
}

/// MINI with its scan doubled into a batch `b` (steps 2 and 3), features `batch`.
fn batch_mini() -> String {
    let scan =
        "[[steps]]\ndo = \"scan\"\ncode = { case = \"in-circulation\", group = \"milk\" }\nbatch = \"b\"\n";
    let two = format!("{scan}\n{}", scan.replace("\"milk\" }", "\"water\" }"));
    MINI.replace("level = \"MUST\"", "level = \"MUST\"\nfeatures = [\"batch\"]").replace(
        "[[steps]]\ndo = \"scan\"\ncode = { case = \"in-circulation\", group = \"milk\" }\nexpect = { decision = \"accepted\" }\n",
        &two,
    )
}

#[test]
fn batches_are_consecutive_scans_of_a_declared_feature() {
    let ok = batch_mini();
    let s =
        load_str("t.toml", &format!("{ok}\n[[assert]]\nthat = \"receipt_1265_shared\"\nsteps = [2, 3]\n"))
            .unwrap();
    assert!(matches!(&s.steps[2].get_ref(), Step::Scan { batch: Some(b), .. } if b == "b"));
    let cases = [
        (ok.replace("features = [\"batch\"]", "features = []"), "batch \"b\": needs `batch` in features"),
        (ok.replacen("batch = \"b\"\n", "batch = \"a\"\n", 1), "batch \"a\" has one scan"),
        (ok.replace("batch = \"b\"", "batch = \" \""), "the label must not be empty"),
        (
            ok.replacen("batch = \"b\"\n", "batch = \"b\"\n\n[[steps]]\ndo = \"lm_sync\"\n", 1),
            "batch \"b\" has one scan",
        ),
        (
            ok.replace("[[steps]]\ndo = \"close\"", "[[steps]]\ndo = \"lm_sync\"\n\n[[steps]]\ndo = \"scan\"\ncode = { case = \"in-circulation\", group = \"beer\" }\nbatch = \"b\"\n\n[[steps]]\ndo = \"scan\"\ncode = { case = \"in-circulation\", group = \"lp\" }\nbatch = \"b\"\n\n[[steps]]\ndo = \"close\""),
            "batch \"b\" already ran from step 2",
        ),
        (format!("{ok}\n[[faults]]\nat = 3\nclear = \"*\"\n"), "inside batch \"b\", which is sent at once"),
        (
            format!("{ok}\n[[assert]]\nthat = \"receipt_1265_shared\"\nsteps = [2]\n"),
            "`steps` must name two or more scans of one batch",
        ),
        (
            format!("{ok}\n[[assert]]\nthat = \"receipt_1265_shared\"\nsteps = [2, 4]\n"),
            "it must be a scan or return step",
        ),
    ];
    for (text, want) in cases {
        let got = err(&text);
        assert!(got.contains(want), "{got:?} does not contain {want:?}");
        assert!(got.starts_with("t.toml:"), "{got}");
    }
    // A fault at the batch's first step is fine.
    load_str("t.toml", &format!("{ok}\n[[faults]]\nat = 2\nclear = \"*\"\n")).unwrap();
}

#[test]
fn inline_world_is_checked_by_building_it() {
    let text = MINI.replace(
        "[[steps]]\ndo = \"open\"",
        "[[world.code]]\ncode = \"0104612345000438215aZ;q093Jm4t\"\ncase = \"mine\"\n\n[[steps]]\ndo = \"open\"",
    );
    let got = err(&text);
    assert!(got.starts_with("t.toml:5:1: world: "), "{got}");
}

#[test]
fn io_error_names_the_file() {
    let e = load_file("/nonexistent/x.toml").unwrap_err();
    assert!(matches!(e, ScenarioError::Io { .. }));
    assert!(e.to_string().starts_with("/nonexistent/x.toml: cannot read"), "{e}");
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(text in "\\PC*") {
        let _ = load_str("p.toml", &text);
    }

    #[test]
    fn mutated_scenarios_never_panic(cut in 0usize..400, insert in "[ -~\\n]{0,12}") {
        let mut text = MINI.to_string();
        let at = cut.min(text.len());
        text.insert_str(at, &insert);
        if let Err(e) = load_str("p.toml", &text) {
            let at = e.location().unwrap();
            prop_assert!(at.line >= 1 && at.col >= 1);
        }
    }
}

#[test]
fn the_example_in_the_docs_loads() {
    let doc = include_str!("../../docs/scenarios.md");
    let start = doc.find("```toml\n").unwrap() + "```toml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let s = load_str("docs/scenarios.md", &doc[start..end]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.asserts.len(), 3);
}
