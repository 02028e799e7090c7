//! The ТС ПИоТ's POS-facing wire shapes (spec `tspiot.md` §3, §4, §6, §7): snapshots of every answer
//! body (online and offline items per version, `inst` placement, string timestamps, 203, 514, the §7
//! error bodies, `/info`), checks against the spec's own examples, and properties of request parsing
//! (never panics; base64 of any code round-trips byte for byte, ⟨GS⟩ included).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use markcert_emulators::tspiot::options::{EmergencyBody, InstPlacement, TsPiotOptions};
use markcert_emulators::tspiot::wire::{self, ApiVersion, InfoFields, RequestedCode, WireError};
use proptest::prelude::*;
use serde_json::{json, Value};

fn requested(text: &str) -> RequestedCode {
    RequestedCode { raw: text.as_bytes().to_vec(), text: text.to_string(), pg: None }
}

/// The True API answer behind the spec's online example (§4.2).
fn true_api_answer() -> Value {
    json!({
        "code": 0,
        "description": "ok",
        "codes": [{
            "cis": "0104612345000438215aZ;q0\u{1d}93Jm4t", "valid": true, "printView": "0104612345000438215aZ;q0",
            "gtin": "04612345000438", "groupIds": [8], "verified": true, "found": true, "realizable": true,
            "utilised": true, "isBlocked": false, "expireDate": "2026-05-02T00:00:00.000Z", "errorCode": 0,
            "isTracking": false, "sold": false, "packageType": "UNIT", "grayZone": false
        }],
        "reqId": "a70a9fd2-2f2d-4846-babf-cd0492f6e047",
        "reqTimestamp": 1767225600123_i64
    })
}

/// An ЛМ ЧЗ v1 answer (`local-module.md` §6.1) for the code of the spec's offline example (§4.3).
fn lm_v1_answer() -> Value {
    json!({
        "code": 0,
        "description": "ok",
        "codes": [{
            "cis": "0104612345000674215Gh:2kP=vX8r%", "gtin": "04612345000674",
            "isBlocked": true, "isGreyGtin": false, "printView": "0104612345000674215Gh:2kP=vX8r%"
        }],
        "inst": "9333e653-5af4-4cc2-b969-7d9ec2900bc5",
        "version": "c58c2c44-b56e-44b9-92c9-2b0ebd10f428",
        "reqId": "bac05b79-f83c-46f7-9abc-6681e3299b9c",
        "reqTimestamp": 1767225612077_i64
    })
}

const OFFLINE_CODE: &str = "0104612345000674215Gh:2kP=vX8r%\u{1d}93Nf6d";

/// An ЛМ ЧЗ v2 answer (`local-module.md` §6.2): a tobacco pack with prices and a sold code.
fn lm_v2_answer() -> Value {
    json!({
        "results": [{
            "code": 0, "description": "ok",
            "reqId": "bac05b79-f83c-46f7-9abc-6681e3299b9c", "reqTimestamp": 1767225612077_i64,
            "inst": "9333e653-5af4-4cc2-b969-7d9ec2900bc5",
            "version": "c58c2c44-b56e-44b9-92c9-2b0ebd10f428",
            "codes": [
                { "cis": "04612345000124Kx7;pQa", "gtin": "04612345000124", "isBlocked": false,
                  "isGreyGtin": false, "sold": false, "mrp": 18500, "smp": 13500 },
                { "cis": "0104612345000438215aZ;q0", "gtin": "04612345000438", "isBlocked": false,
                  "isGreyGtin": false, "sold": true }
            ]
        }]
    })
}

fn v2_requested() -> Vec<RequestedCode> {
    vec![requested("04612345000124Kx7;pQaAB8QkRt"), requested("0104612345000438215aZ;q0\u{1d}93Jm4t")]
}

#[test]
fn online_item_v2_is_the_spec_example() {
    let body =
        wire::wrap(ApiVersion::V2, vec![wire::online_item(&true_api_answer(), &TsPiotOptions::default())]);
    let spec_example = json!({"codesResponse":[{"code":0,"description":"ok",
      "codes":[{"cis":"0104612345000438215aZ;q0\u{001d}93Jm4t","valid":true,"printView":"0104612345000438215aZ;q0",
                "gtin":"04612345000438","groupIds":[8],"verified":true,"found":true,"realizable":true,
                "utilised":true,"isBlocked":false,"expireDate":"2026-05-02T00:00:00.000Z","errorCode":0,
                "isTracking":false,"sold":false,"packageType":"UNIT","grayZone":false}],
      "reqId":"a70a9fd2-2f2d-4846-babf-cd0492f6e047","reqTimestamp":1767225600123_i64,"isCheckedOffline":false}]});
    assert_eq!(body, spec_example);
    insta::assert_json_snapshot!("online_item_v2", body);
}

#[test]
fn online_items_in_every_wrapper() {
    let item = wire::online_item(&true_api_answer(), &TsPiotOptions::default());
    let v1 = wire::wrap(ApiVersion::V1, vec![item.clone()]);
    let v3 = wire::wrap(ApiVersion::V3, vec![item.clone()]);
    assert_eq!(v1["codesResponse"]["codesResponse"][0], item);
    assert_eq!(v3["codesResponse"][0], item);
}

#[test]
fn offline_item_v1_matches_the_spec_example() {
    let item = wire::offline_item(&lm_v1_answer(), &[requested(OFFLINE_CODE)], &TsPiotOptions::default());
    let body = wire::wrap(ApiVersion::V1, vec![item]);
    let spec_example = json!({"codesResponse":{"codesResponse":[{"code":0,
      "codes":[{"cis":"0104612345000674215Gh:2kP=vX8r%\u{001d}93Nf6d","found":false,"valid":false,
                "printView":"0104612345000674215Gh:2kP=vX8r%","gtin":"04612345000674","groupIds":[],
                "verified":false,"realizable":false,"utilised":false,"isBlocked":true,"ogvs":[]}],
      "reqId":"bac05b79-f83c-46f7-9abc-6681e3299b9c","reqTimestamp":1767225612077_i64,"isCheckedOffline":true,
      "version":"c58c2c44-b56e-44b9-92c9-2b0ebd10f428","inst":"9333e653-5af4-4cc2-b969-7d9ec2900bc5"}]}});
    // Everything the spec shows, with the same values; the ЛМ ЧЗ's isGreyGtin comes along.
    let mut expected = spec_example;
    expected["codesResponse"]["codesResponse"][0]["codes"][0]["isGreyGtin"] = json!(false);
    assert_eq!(body, expected);
    insta::assert_json_snapshot!("offline_item_v1_from_lm_v1", body);
}

#[test]
fn offline_item_from_an_lm_v2_answer() {
    let item = wire::offline_item(&lm_v2_answer(), &v2_requested(), &TsPiotOptions::default());
    let codes = item["codes"].as_array().unwrap();
    assert_eq!(codes[0]["cis"], "04612345000124Kx7;pQaAB8QkRt", "the code the POS sent, not the КИ");
    assert_eq!((codes[0]["mrp"].clone(), codes[1]["sold"].clone()), (json!(18500), json!(true)));
    assert!(codes[0].get("printView").is_none(), "v2 gave no printView: none invented");
    insta::assert_json_snapshot!("offline_item_v2_from_lm_v2", wire::wrap(ApiVersion::V2, vec![item]));
}

#[test]
fn inst_placement_item_code_both() {
    let bodies: Vec<(String, Value)> = [InstPlacement::Item, InstPlacement::Code, InstPlacement::Both]
        .into_iter()
        .map(|p| {
            let opts = TsPiotOptions { inst_placement: p, ..TsPiotOptions::default() };
            (format!("{p:?}"), wire::offline_item(&lm_v1_answer(), &[requested(OFFLINE_CODE)], &opts))
        })
        .collect();
    for (name, item) in &bodies {
        let on_item = item.get("inst").is_some() && item.get("version").is_some();
        let on_code = item["codes"][0].get("inst").is_some() && item["codes"][0].get("version").is_some();
        assert_eq!((on_item, on_code), (name != "Code", name != "Item"), "{name}");
    }
    insta::assert_json_snapshot!("inst_placement", bodies);
}

#[test]
fn timestamp_as_string_online_and_offline() {
    let opts = TsPiotOptions { timestamp_as_string: true, ..TsPiotOptions::default() };
    let online = wire::online_item(&true_api_answer(), &opts);
    let offline = wire::offline_item(&lm_v1_answer(), &[requested(OFFLINE_CODE)], &opts);
    assert_eq!(online["reqTimestamp"], "1767225600123");
    assert_eq!(offline["reqTimestamp"], "1767225612077");
    insta::assert_json_snapshot!("timestamp_as_string", wire::wrap(ApiVersion::V2, vec![online, offline]));
}

#[test]
fn emergency_bodies() {
    let bare = wire::emergency_body(&TsPiotOptions::default(), ApiVersion::V2);
    assert_eq!(bare, json!({"code":203,"message":"Аварийный режим","details":[]}), "§6 literal");
    assert_eq!(bare, WireError::emergency_mode().body());
    let opts = TsPiotOptions { emergency_body: EmergencyBody::WithResults, ..TsPiotOptions::default() };
    let v1 = wire::emergency_body(&opts, ApiVersion::V1);
    let v2 = wire::emergency_body(&opts, ApiVersion::V2);
    assert!(v2["codesResponse"][0].get("reqId").is_none(), "no upstream check, no reqId");
    insta::assert_json_snapshot!(
        "emergency_203",
        json!({ "bare": bare, "with_results_v1": v1, "with_results_v2": v2 })
    );
}

#[test]
fn unavailable_bodies() {
    let plain = wire::unavailable_body(1800);
    assert_eq!(plain["code"], 514);
    assert_eq!(plain["message"], "no answer from ГИС МТ or ЛМ ЧЗ within 1800 ms");
    assert_eq!(wire::unavailable_body(2500)["message"], "no answer from ГИС МТ or ЛМ ЧЗ within 2500 ms");
    let with_causes = wire::unavailable_body_with(
        1800,
        &[
            WireError::cdn_not_found("all 3 CDN hosts blocked"),
            WireError::local_module("ЛМ ЧЗ answered 4045 (not ready)"),
        ],
    );
    insta::assert_json_snapshot!("unavailable_514", json!({ "plain": plain, "with_causes": with_causes }));
}

#[test]
fn every_error_body_of_the_taxonomy() {
    let errors = [
        WireError::emergency_mode(),
        WireError::check_service_unavailable(1800),
        WireError::cdn_not_found("every CDN host failed or is blocked"),
        WireError::local_module("ЛМ ЧЗ did not answer"),
        WireError::kkm("KKT did not answer"),
        WireError::fn_sid("the ФН refused to sign the challenge"),
        WireError::not_registered("instance 00107700000042 is not registered"),
        WireError::not_configured("no configuration received"),
        WireError::license_expired("licence expired on 2025-12-31"),
        WireError::not_found_permission("no permission for codes/check"),
        WireError::not_found_pmsr_id("client_info.id \"x\" is not a POS program registered in ГИС МТ"),
        WireError::not_found_pmsr_token("client_info.token is not the key of POS program \"x\""),
        WireError::failed_get_app_name("client_info.name is missing or empty"),
        WireError::failed_get_app_version("client_info.version is missing or empty"),
        WireError::unknown("something else"),
        WireError::bad_request("codes[0]: base64 without '=' padding"),
    ];
    let expected_status = [203, 514, 514, 514, 500, 500, 403, 503, 403, 401, 401, 401, 400, 400, 500, 400];
    for (e, s) in errors.iter().zip(expected_status) {
        assert_eq!(e.status, s, "{}", e.kind);
        let b = e.body();
        assert_eq!(
            (b["code"].as_u64(), b["message"].as_str()),
            (Some(u64::from(s)), Some(e.message.as_str()))
        );
        if e.kind != "EmergencyMode" {
            assert_eq!(b["details"][0]["kind"], e.kind);
        }
    }
    let bodies: Vec<(&str, Value)> = errors.iter().map(|e| (e.kind, e.body())).collect();
    insta::assert_json_snapshot!("error_bodies", bodies);
}

#[test]
fn info_body_with_and_without_lm() {
    let mut f = InfoFields {
        tspiot_id: "00107700000099".into(),
        kkt_serial: "00107700000042".into(),
        fn_serial: "7380440700000123".into(),
        kkt_inn: "7701000019".into(),
        codes_check_timeout_ms: 1800,
        lm: None,
    };
    let without = wire::info_body(&f);
    assert_eq!(without["codesCheckTimeout"], "1800");
    assert!(without.get("lm").is_none());
    f.lm = Some(json!({"version":"1.4.2","status":"ready","lastSync":1767225600123_i64,
        "token":"5d1f","expDate":"2026-12-31T00:00:00Z","ip":"127.0.0.1","port":5995}));
    insta::assert_json_snapshot!("info", json!({ "with_lm": wire::info_body(&f), "without_lm": without }));
}

const VERSIONS: [ApiVersion; 3] = [ApiVersion::V1, ApiVersion::V2, ApiVersion::V3];

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| Value::from(STANDARD.encode(b))),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("cis".to_string()),
                    Just("pg".to_string()),
                    Just("name".to_string()),
                    ".{0,6}"
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_check_never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        for v in VERSIONS {
            if let Err(e) = wire::parse_check(v, &body) {
                prop_assert_eq!((e.status, e.kind), (400, "BadRequest"));
            }
        }
    }

    #[test]
    fn parse_check_never_panics_on_json(codes in any_json(), client_info in any_json()) {
        let body = json!({ "codes": codes, "client_info": client_info }).to_string();
        for v in VERSIONS {
            if let Err(e) = wire::parse_check(v, body.as_bytes()) {
                prop_assert_eq!(e.status, 400);
            }
        }
    }

    #[test]
    fn base64_of_any_code_round_trips(
        codes in proptest::collection::vec(
            prop_oneof!["[\\x1d\\x21-\\x7e]{1,120}", ".{1,40}"].prop_filter("non-empty", |s: &String| !s.is_empty()),
            1..8,
        ),
        pg in proptest::option::of(any::<u16>()),
    ) {
        let b64: Vec<String> = codes.iter().map(|c| STANDARD.encode(c.as_bytes())).collect();
        let v2 = json!({ "codes": b64 }).to_string();
        let v3 = json!({ "codes": b64.iter().map(|c| json!({ "cis": c, "pg": pg })).collect::<Vec<_>>() }).to_string();
        for (version, body) in [(ApiVersion::V1, &v2), (ApiVersion::V2, &v2), (ApiVersion::V3, &v3)] {
            let parsed = wire::parse_check(version, body.as_bytes()).unwrap();
            prop_assert_eq!(parsed.codes.len(), codes.len());
            for (got, sent) in parsed.codes.iter().zip(&codes) {
                prop_assert_eq!(&got.raw, &sent.as_bytes().to_vec());
                prop_assert_eq!(&got.text, sent);
                prop_assert_eq!(got.raw.iter().filter(|&&b| b == 0x1d).count(), sent.matches('\u{1d}').count());
                prop_assert_eq!(got.pg, if version == ApiVersion::V3 { pg } else { None });
            }
        }
    }

    #[test]
    fn non_utf8_code_bytes_are_refused_not_mangled(mut raw in proptest::collection::vec(any::<u8>(), 1..64)) {
        raw.push(0xff);
        let body = json!({ "codes": [STANDARD.encode(&raw)] }).to_string();
        let e = wire::parse_check(ApiVersion::V2, body.as_bytes()).unwrap_err();
        prop_assert!(e.message.contains("not UTF-8"), "{}", e.message);
    }
}
