//! True API per-code answers from the default world: the §6 template flags for every case, the §5.1
//! serialisation rules, and a snapshot of one answer per case (spec `true-api.md`).

use markcert_emulators::trueapi::{check_code, check_codes, Nulls, Requester, TrueApiOptions};
use markcert_emulators::world::default::{default_world, OTHER_INN, STORE_INN};
use markcert_emulators::world::World;
use proptest::prelude::*;

const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn world() -> World {
    default_world(NOW).expect("default world builds")
}

/// The first code of the default world labelled `case`.
fn code_of(w: &World, case: &str) -> String {
    w.codes()
        .into_iter()
        .find(|c| c.case.as_deref() == Some(case))
        .map(|c| c.code.clone())
        .unwrap_or_else(|| panic!("no {case}"))
}

fn answer(w: &World, cis: &str) -> serde_json::Value {
    let opts = TrueApiOptions::default();
    check_code(w, cis, Requester { inn: Some(STORE_INN) }, NOW, &opts).to_json(&opts)
}

type Flags = (bool, bool, bool, bool, bool, bool, bool, u64);

/// `(valid, found, verified, utilised, realizable, sold, isBlocked, errorCode)`.
fn flags(v: &serde_json::Value) -> Flags {
    let b = |k: &str| v[k].as_bool().unwrap_or_else(|| panic!("{k} missing in {v}"));
    let ec = v["errorCode"].as_u64().unwrap_or(999);
    (b("valid"), b("found"), b("verified"), b("utilised"), b("realizable"), b("sold"), b("isBlocked"), ec)
}

#[test]
fn per_state_templates_of_section_6() {
    let w = world();
    let (t, f) = (true, false);
    let table: &[(&str, Flags)] = &[
        ("in-circulation", (t, t, t, t, t, f, f, 0)),
        ("emitted", (t, t, t, f, f, f, f, 0)),
        ("applied", (t, t, t, t, f, f, f, 0)),
        ("grey-zone", (t, t, t, t, f, f, f, 0)),
        ("sold", (t, t, t, t, f, t, f, 0)),
        ("withdrawn", (t, t, t, t, f, t, f, 0)),
        ("blocked", (t, t, t, t, t, f, t, 0)),
        ("permit-terminated", (t, t, t, t, t, f, t, 0)),
        ("vet-certificate-annulled", (t, t, t, t, t, f, t, 0)),
        ("expired", (t, t, t, t, t, f, f, 0)),
        ("crypto-invalid", (t, t, f, t, t, f, f, 6)),
        ("eaeu-failed-in-issuing-country", (t, f, f, f, f, f, f, 8)),
        ("eaeu-not-in-cross-border-service", (t, f, f, f, f, f, f, 11)),
        ("eaeu-ok", (t, t, t, t, t, f, f, 0)),
    ];
    for (case, want) in table {
        let v = answer(&w, &code_of(&w, case));
        assert_eq!(flags(&v), *want, "{case}: {v}");
    }
    assert_eq!(answer(&w, &code_of(&w, "grey-zone"))["grayZone"], true);
    assert_eq!(answer(&w, &code_of(&w, "blocked"))["ogvs"], serde_json::json!(["RPN"]));
    assert_eq!(answer(&w, &code_of(&w, "permit-terminated"))["ogvs"], serde_json::json!(["RD"]));
    assert_eq!(answer(&w, &code_of(&w, "vet-certificate-annulled"))["ogvs"], serde_json::json!(["VETRF"]));
    assert_eq!(answer(&w, &code_of(&w, "expired"))["expireDate"], "2025-12-31T23:00:00.000Z");
}

#[test]
fn not_found_invalid_and_wrong_tail() {
    let w = world();
    // A valid code the world does not know: found false, errorCode 10.
    let known = code_of(&w, "in-circulation");
    let layout = markcert_codes::parse(known.as_bytes()).unwrap().layout();
    let unknown = markcert_codes::generate::generate(layout, 1, 99).remove(0);
    let v = answer(&w, &unknown);
    assert_eq!(flags(&v), (true, false, false, false, false, false, false, 10));
    assert!(v["message"].is_string());
    // Invalid structure: valid false; printView omitted; GTIN still extractable.
    let v = answer(&w, "0104612345000438215aZ;q093Jm4t");
    assert_eq!((v["valid"].as_bool(), v["errorCode"].as_u64()), (Some(false), Some(1)));
    assert!(v.get("printView").is_none());
    assert_eq!(v["gtin"], "04612345000438");
    // Same identity, another crypto tail: found, not verified, errorCode 6.
    let milk = w
        .codes()
        .into_iter()
        .find(|c| c.code.contains("\u{1d}93") && c.case.as_deref() == Some("in-circulation"))
        .map(|c| c.code.clone())
        .unwrap();
    let forged = format!("{}ZZZZ", &milk[..milk.len() - 4]);
    let v = answer(&w, &forged);
    assert_eq!(
        (v["found"].as_bool(), v["verified"].as_bool(), v["errorCode"].as_u64()),
        (Some(true), Some(false), Some(6))
    );
}

#[test]
fn serialisation_rules_of_section_5_1() {
    let w = world();
    let cis = code_of(&w, "in-circulation");
    let v = answer(&w, &cis);
    for always in [
        "cis",
        "valid",
        "printView",
        "gtin",
        "groupIds",
        "verified",
        "found",
        "utilised",
        "realizable",
        "sold",
        "isBlocked",
        "errorCode",
        "isTracking",
        "grayZone",
    ] {
        assert!(v.get(always).is_some(), "{always} missing: {v}");
    }
    assert!(v.get("ogvs").is_none() && v.get("message").is_none(), "{v}");
    assert!(v.as_object().unwrap().values().all(|x| !x.is_null()), "no nulls by default: {v}");
    let nulls = TrueApiOptions { nulls: Nulls::Null, ogvs_always: true, ..TrueApiOptions::default() };
    let v = check_code(&w, &cis, Requester::default(), NOW, &nulls).to_json(&nulls);
    assert_eq!(v["message"], serde_json::Value::Null);
    assert_eq!(v["isOwner"], serde_json::Value::Null, "unknown requester: no isOwner");
    assert_eq!(v["ogvs"], serde_json::json!([]));
    let not_owned = code_of(&w, "not-owner");
    assert_eq!(answer(&w, &not_owned)["isOwner"], false);
    let theirs =
        check_code(&w, &not_owned, Requester { inn: Some(OTHER_INN) }, NOW, &TrueApiOptions::default());
    assert_eq!(theirs.is_owner, Some(true));
}

#[test]
fn tobacco_prices_and_packages() {
    let w = world();
    let layout_of = |c: &str| markcert_codes::parse(c.as_bytes()).map(|p| p.layout()).ok();
    let packs: Vec<serde_json::Value> = w
        .codes()
        .into_iter()
        .filter(|c| layout_of(&c.code) == Some(markcert_codes::Layout::TobaccoPack))
        .map(|c| answer(&w, &c.code))
        .collect();
    let tobacco = packs.iter().find(|v| v["groupIds"] == serde_json::json!([3])).unwrap();
    assert_eq!((tobacco["mrp"].as_u64(), tobacco["smp"].as_u64()), (Some(18_500), Some(13_500)));
    assert_eq!(tobacco["packageType"], "UNIT");
    assert_eq!(tobacco["isTracking"], true);
    let ncp = packs.iter().find(|v| v["groupIds"] == serde_json::json!([16])).unwrap();
    assert_eq!(ncp["mrp"].as_u64(), Some(45_000), "МЦ for nicotine products");
    assert!(ncp.get("smp").is_none());
    let block = w
        .codes()
        .into_iter()
        .find(|c| {
            layout_of(&c.code) == Some(markcert_codes::Layout::TobaccoBlock)
                && w.group_of(&c.code[2..16]) == Some(3)
        })
        .map(|c| answer(&w, &c.code))
        .unwrap();
    assert_eq!(
        (block["mrp"].as_u64(), block["smp"].as_u64()),
        (Some(185_000), Some(135_000)),
        "block totals"
    );
    assert_eq!((block["packageType"].as_str(), block["packageQuantity"].as_u64()), (Some("GROUP"), Some(10)));
}

#[test]
fn a_request_shares_req_id_and_timestamp_and_keeps_order() {
    let w = world();
    let codes = vec![code_of(&w, "sold"), code_of(&w, "in-circulation"), "garbage".to_string()];
    let id = uuid::Uuid::from_u128(0x1234);
    let r = check_codes(&w, &codes, Requester::default(), NOW, id, &TrueApiOptions::default());
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["code"], 0);
    assert_eq!(v["reqId"], "00000000-0000-0000-0000-000000001234");
    assert_eq!(v["reqTimestamp"], NOW);
    let cis: Vec<&str> = v["codes"].as_array().unwrap().iter().map(|c| c["cis"].as_str().unwrap()).collect();
    assert_eq!(cis, codes.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn one_answer_per_case_snapshot() {
    let w = world();
    let mut seen = std::collections::BTreeMap::new();
    for c in w.codes() {
        if let Some(case) = c.case.as_deref() {
            seen.entry(case.to_string()).or_insert_with(|| answer(&w, &c.code));
        }
    }
    insta::assert_json_snapshot!("answers_by_case", seen);
}

fn world_cached() -> &'static World {
    static W: std::sync::OnceLock<World> = std::sync::OnceLock::new();
    W.get_or_init(world)
}

proptest! {
    #[test]
    fn any_input_gets_an_answer_and_no_panic(s in "\\PC{0,200}") {
        let v = answer(world_cached(), &s);
        prop_assert_eq!(v["cis"].as_str(), Some(s.as_str()));
        prop_assert!(v["isBlocked"].is_boolean());
    }
}

/// The fast serialisation of a whole answer (no intermediate `Value`) says exactly what the per-code
/// `to_json` says, for every code of the default world; other options take the `Value` path.
#[test]
fn direct_serialisation_equals_the_value_path() {
    let w = world();
    let codes: Vec<String> = w.codes().iter().map(|c| c.code.clone()).collect();
    let id = uuid::Uuid::from_u128(7);
    for opts in [
        TrueApiOptions::default(),
        TrueApiOptions { nulls: Nulls::Null, ..TrueApiOptions::default() },
        TrueApiOptions { ogvs_always: true, ..TrueApiOptions::default() },
    ] {
        for chunk in codes.chunks(100) {
            let r = check_codes(&w, chunk, Requester { inn: Some(STORE_INN) }, NOW, id, &opts);
            let fast: serde_json::Value = serde_json::from_slice(&r.to_json_bytes(&opts)).unwrap();
            let slow: Vec<serde_json::Value> = r.codes.iter().map(|c| c.to_json(&opts)).collect();
            assert_eq!(fast["codes"], serde_json::Value::Array(slow));
            assert_eq!(fast["reqId"], id.to_string());
            assert_eq!(fast["reqTimestamp"], NOW);
        }
    }
}
