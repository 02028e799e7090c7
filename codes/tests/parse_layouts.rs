//! Strict parsing: every layout of spec `codes.md` §5.3 with its derived fields, and every defect of
//! §10 with its code, byte offset and True API errorCode.

use markcert_codes::escape::unescape;
use markcert_codes::{parse, Ai8005Semantics, CodeOptions, Layout, Tag1306Form, Tail, TailKind};

fn p(escaped: &str) -> markcert_codes::MarkingCode {
    let bytes = unescape(escaped.as_bytes());
    parse(&bytes).unwrap_or_else(|e| panic!("{escaped}: {e}"))
}

fn err(escaped: &str) -> markcert_codes::ParseError {
    let bytes = unescape(escaped.as_bytes());
    match parse(&bytes) {
        Ok(c) => panic!("{escaped} parsed as {}", c.layout()),
        Err(e) => e,
    }
}

/// First defect code and offset.
fn first(escaped: &str) -> (String, usize, u8) {
    let e = err(escaped);
    (e.errors[0].defect.code().to_string(), e.errors[0].offset, e.true_api_error_code())
}

const MILK: &str = "0104612345000438215aZ;q0\\u001d93Jm4t";
const MILK_W: &str = "0104612345000438215K%x(1\\u001d93pR7s\\u001d3103000450";
const BEER: &str = "0104612345000506215fT'k2w\\u001d93Yc8n";
const BEER_V: &str = "0104612345000506215Lq.9Rb\\u001d93eW1u\\u001d3353000500";
const S13_93: &str = "0104612345000674215Gh:2kP=vX8r%\\u001d93Nf6d";
const S13_44: &str =
    "0104612345000742215Rt;K8m'Qz2w_\\u001d91EE07\\u001d92fnM34GrkagZlCyLK4hzkXeL5wTxJfOd8H/NJCBwAEjk=";
const S13_88: &str = "010290000012345821Mv3&Yp;t.Q8Kc\\u001d910042\\u001d92n8nshgBfBvWRsGZrjnijcJPJNGX/Bn5osQEAhkOmxYo6Hpv1KP4xi7iZLTzPJXP93vbbYVDZZr0B/KQNSGCeuw==";
const S13_88_240: &str = "0102900000123458215Jr%Tn2=Wq4Ls\\u001d2406403\\u001d910042\\u001d927kCtKNWL/I8ZtOElIf4WqdUkwfdZ0okfQtN6MzS13VnjunJkmtC7JhXIwTamRx0lvOpHdeTLZKxOonxb3bT1wQ==";
const S20_44: &str = "0104612345000810215cV'8Lm;Qx2Rt.Pz/9Kd\\u001d91EE09\\u001d92ITnQPugJTWdjNU3RsoB/SWKIhliny5NASNle//lzU+A=";
const BLOCK: &str = "010461234500036021Hq'7Lz:\\u001d8005185000\\u001d93Rk3p";
const PACK: &str = "04612345000124Kx7;pQaAC/UZt9+";
const PACK_NCP: &str = "04612345000292m(4R%sEAAAAQw2b";

#[test]
fn tobacco_pack() {
    let c = p(PACK);
    assert_eq!(c.layout(), Layout::TobaccoPack);
    assert_eq!(c.gtin(), "04612345000124");
    assert_eq!(c.serial(), "Kx7;pQa");
    assert_eq!(c.mrp_kopecks(), Some(18_500));
    assert_eq!(c.tail(), Tail::Short("Zt9+"));
    let o = CodeOptions::default();
    assert_eq!(c.print_view(&o), "04612345000124Kx7;pQa");
    assert_eq!(c.ffd_2100(&o, false), 1);
    assert_eq!(c.tag_1163(), 1306);
    assert_eq!(c.tag_1163_value(&o), "010461234500012421Kx7;pQa");
    let o25 = CodeOptions { tag1306_form: Tag1306Form::First25, ..o.clone() };
    assert_eq!(c.tag_1163_value(&o25), "04612345000124Kx7;pQaAC/U");
    assert_eq!(c.group_candidates(), vec![3, 12, 16]);
    assert!(c.warnings().is_empty());
    // НСП pack without an MRP, and a serial with '('.
    let n = p(PACK_NCP);
    assert_eq!(n.mrp_kopecks(), Some(0));
    assert_eq!(n.serial(), "m(4R%sE");
}

#[test]
fn tobacco_block_price_under_both_semantics() {
    let c = p(BLOCK);
    assert_eq!(c.layout(), Layout::TobaccoBlock);
    assert_eq!(c.serial(), "Hq'7Lz:");
    assert_eq!(c.ai8005(), Some(185_000));
    assert_eq!(c.tail(), Tail::Short("Rk3p"));
    let sum = c.block_price(Ai8005Semantics::SumKopecks, 10).unwrap();
    assert_eq!((sum.block_kopecks, sum.per_pack_kopecks), (185_000, 18_500));
    let x1000 = c.block_price(Ai8005Semantics::PackRubX1000, 20).unwrap();
    assert_eq!((x1000.block_kopecks, x1000.per_pack_kopecks), (370_000, 18_500));
    assert_eq!(c.ffd_2100(&CodeOptions::default(), false), 5);
    assert_eq!(c.print_view(&CodeOptions::default()), "010461234500036021Hq'7Lz:");
    // Rare variants: a 92 element and a trailing 240 element.
    let v = p("010461234500036021Hq'7Lz:\\u001d8005185000\\u001d93Rk3p\\u001d92dGVzdA==\\u001d240ABCD1234");
    assert_eq!(v.block_signature(), Some("dGVzdA=="));
    assert_eq!(v.ai240(), Some("ABCD1234"));
}

#[test]
fn milk_plain_weighed_and_reordered() {
    let c = p(MILK);
    assert_eq!((c.layout(), c.serial(), c.tail_kind()), (Layout::Milk, "5aZ;q0", TailKind::Short93));
    assert_eq!(c.ki(), "0104612345000438215aZ;q0");
    assert_eq!(c.quantity(), None);
    let w = p(MILK_W);
    assert_eq!(w.quantity().unwrap().decimal(), "0.450");
    // 3103 before 93 is accepted with a warning (§5.3).
    let r = p("0104612345000438215K%x(1\\u001d3103000450\\u001d93pR7s");
    assert_eq!(r.layout(), Layout::Milk);
    assert_eq!(r.warnings()[0].code(), "redundant_gs");
    assert!(r.warnings().iter().any(|w| w.code() == "non_standard_order"));
    assert_eq!(c.ffd_2100(&CodeOptions::default(), false), 5);
    assert_eq!(c.group_candidates(), vec![8]);
}

#[test]
fn beer_with_and_without_volume() {
    assert_eq!(p(BEER).layout(), Layout::Beer);
    let v = p(BEER_V);
    assert_eq!(v.layout(), Layout::Beer);
    assert_eq!(v.quantity().unwrap().decimal(), "0.500");
    assert_eq!(v.group_candidates(), vec![15, 22]);
}

#[test]
fn s13_93() {
    let c = p(S13_93);
    assert_eq!((c.layout(), c.serial()), (Layout::S13T93, "5Gh:2kP=vX8r%"));
    assert_eq!(c.tail(), Tail::Short("Nf6d"));
    assert!(c.group_candidates().contains(&13));
}

#[test]
fn signature_layouts() {
    let c = p(S13_44);
    assert_eq!(c.layout(), Layout::S13T44);
    assert_eq!(c.tail_kind(), TailKind::Sig44);
    assert_eq!(
        c.tail(),
        Tail::Signature { key: "EE07", signature: "fnM34GrkagZlCyLK4hzkXeL5wTxJfOd8H/NJCBwAEjk=" }
    );
    let o = CodeOptions::default();
    assert_eq!(c.ffd_2100(&o, false), 4);
    assert_eq!(c.ffd_2100(&o, true), 3, "foreign codes are 3");
    assert_eq!(c.print_view(&o), "0104612345000742215Rt;K8m'Qz2w_");
    let s = p(S13_88);
    assert_eq!((s.layout(), s.tail_kind(), s.ffd_2100(&o, false)), (Layout::S13T88, TailKind::Sig88, 2));
    let t = p(S13_88_240);
    assert_eq!((t.layout(), t.ai240()), (Layout::S13T88, Some("6403")));
    let e = p(S20_44);
    assert_eq!((e.layout(), e.serial().len()), (Layout::S20T44, 20));
    assert_eq!(e.group_candidates(), vec![6]);
}

#[test]
fn crc32_rule_marks_signatures_not_for_fn() {
    use base64::Engine;
    let mut bytes = [7u8; 32];
    let crc = markcert_codes::crc32::crc32(&bytes[..28]);
    bytes[28..].copy_from_slice(&crc.to_le_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(bytes);
    let code = p(&format!("0104612345000742215Rt;K8m'Qz2w_\\u001d91EE07\\u001d92{sig}"));
    let on = CodeOptions { crc32_rule: true, ..CodeOptions::default() };
    assert_eq!(code.ffd_2100(&on, false), 3);
    assert_eq!(code.ffd_2100(&CodeOptions::default(), false), 4);
    assert_eq!(p(S13_44).ffd_2100(&on, false), 4);
}

#[test]
fn ki_only() {
    let c = p("0104612345000674215Gh:2kP=vX8r%");
    assert_eq!(
        (c.layout(), c.tail_kind(), c.ffd_2100(&CodeOptions::default(), false)),
        (Layout::KiOnly, TailKind::None, 0)
    );
    assert_eq!(p("0104612345000438215aZ;q0").layout(), Layout::KiOnly);
    // serial lengths outside 6, 7, 13, 20 are not KI-only
    assert_eq!(first("0104612345000438215aZ;q0xx").0, "serial_length");
}

#[test]
fn pack_whose_gtin_starts_with_01() {
    // GTIN 01234567890128: the string starts with `01` and 14 digits, but no `21` follows them, so
    // it is not `^01\d{14}21` and reads as a pack (§9.1, SCAN-TOBACCO-01).
    let gtin = "01234567890128";
    assert!(markcert_codes::gtin::is_valid_gtin14(gtin.as_bytes()));
    let c = p(&format!("{gtin}21Ab:cdACVUx9Qe"));
    assert_eq!(c.layout(), Layout::TobaccoPack);
    assert_eq!(c.mrp_kopecks(), Some(14_500));
    // With `21` after the 14 digits it is read as GS1 only, and no such reading is valid (§9.1).
    assert!(parse(b"010000000000090121AAAAAAAAAAA").is_err());
}

#[test]
fn defects_have_codes_offsets_and_true_api_error_codes() {
    let cases: &[(&str, &str, usize, u8)] = &[
        ("", "empty", 0, 1),
        ("0104612345000437215aZ;q0\\u001d93Jm4t", "gtin_check_digit", 15, 1),
        ("0104612345000438215aZ;q\\u001d93Jm4t", "serial_length", 18, 3),
        ("0104612345000438\\u001d93Jm4t", "no_serial", 17, 3),
        ("2104612345000438", "no_gtin", 0, 2),
        ("0104612345000438215aZ;q0\\u001d93Jm4", "value_length", 27, 1),
        ("0104612345000438215aZ;q0\\u001d99Jm4t", "unknown_ai", 25, 9),
        ("0104612345000438215aZ;q0\\u001d93Jm4t\\u001d93Jm4t", "duplicate_ai", 32, 1),
        ("0104612345000438215aZ;q0\\u001d\\u001d93Jm4t", "doubled_gs", 25, 1),
        ("\\u001d0104612345000438215aZ;q0\\u001d93Jm4t", "leading_gs", 0, 1),
        ("0104612345000438215aZ;q0\\u001d93Jm4t\\u001d", "trailing_gs", 31, 1),
        ("0104612345000438215aZ;q093Jm4t", "missing_gs", 24, 1),
        ("0104612345000438215aZ;q0\\u001d93Jm4t\\u001d3103000000", "zero_weight", 36, 1),
        ("0104612345000438215aZ;q0\\u001d93J#4t", "forbidden_character", 28, 4),
        ("0104612345000438215aZ;q0\\u001d93J\u{0416}4t", "forbidden_character", 28, 4),
        ("]d20104612345000438215aZ;q0\\u001d93Jm4t", "transport_prefix", 0, 1),
        ("0104612345000438215aZ;q0\\u001d93Jm4t\\u000d\\u000a", "transport_suffix", 31, 1),
        ("04612345000124Kx7;pQaAC(UZt9+", "mrp_alphabet", 23, 1),
        ("04612345000124Kx7;pQaAC/UZt9", "pack_length", 0, 1),
        ("04612345000124Kx7;pQaAC/UZt9+x", "pack_length", 0, 1),
        ("4600000000008", "not_marking_code", 0, 1),
        ("hello", "unknown_format", 0, 1),
        ("0104612345000742215Rt;K8m'Qz2w_\\u001d91EE07\\u001d92fnM34GrkagZlCyLK4hzkXeL5wTxJfOd8H/NJCBwAEjk", "signature_length", 41, 5),
        ("0104612345000742215Rt;K8m'Qz2w_\\u001d91EE07\\u001d92fnM34GrkagZlCyLK4hzkXeL5wTxJfOd8H/NJCBwAEj==", "signature_padding", 83, 1),
        ("0104612345000742215Rt;K8m'Qz2w_\\u001d91EE07\\u001d92fnM34GrkagZlCyLK4hzkXeL5wTxJfOd8H/NJCBwAEjl=", "signature_trailing_bits", 83, 1),
        ("0104612345000742215Rt;K8m'Qz2w_\\u001d91EE07\\u001d92fnM34GrkagZlCyLK4hzkXeL5wTxJfOd8H!NJCBwAEjk=", "signature_alphabet", 74, 1),
        ("0104612345000742215Rt;K8m'Qz2w_\\u001d92fnM34GrkagZlCyLK4hzkXeL5wTxJfOd8H/NJCBwAEjk=\\u001d91EE07", "ai_order", 79, 1),
        ("0104612345000742215Rt;K8m'Qz2w_\\u001d91EE07", "missing_ai", 38, 1),
        ("0104612345000438215aZ;q0\\u001d93Jm4t\\u001d8005185000", "ai_order", 32, 1),
        ("0104612345000438215aZ;q0\\u001d93Jm4t\\u001d240ABCD", "unexpected_ai", 32, 9),
        ("0104612345000438215aZ;q0\\u001d93Jm4t\\u001d17251332", "invalid_date", 34, 1),
        ("010461234500036021Hq'7Lz:\\u001d8005185X00\\u001d93Rk3p", "value_not_numeric", 33, 1),
        ("0104612345000438215aZ;q0\\u001d93Jm4t0104612345000438215aZ;q0\\u001d93Jm4t", "double_scan", 31, 1),
        ("04612345000124Kx7;pQaAC/UZt9+04612345000124Kx7;pQaAC/UZt9+", "double_scan", 29, 1),
    ];
    let mismatches: Vec<String> = cases
        .iter()
        .filter_map(|&(code, want, off, ec)| {
            let got = first(code);
            (got != (want.to_string(), off, ec))
                .then(|| format!("{code}: got {got:?}, want ({want}, {off}, {ec})"))
        })
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn every_defect_is_reported_not_only_the_first() {
    let e = err("0104612345000437215aZ;q\\u001d93Jm4");
    let codes: Vec<&str> = e.errors.iter().map(|x| x.defect.code()).collect();
    assert_eq!(codes, ["gtin_check_digit", "serial_length", "value_length"]);
    assert_eq!(e.layout_guess, Some(Layout::Milk));
}

#[test]
fn warnings_do_not_invalidate() {
    let c = p("0104612345000674215Gh:2kP=vX8r%\\u001d93Nf6d".replace("5Gh", "9Gh").as_str());
    assert_eq!(c.warnings()[0].code(), "country_prefix");
    let upper = p(
        "0104612345000742215Rt;K8m'Qz2w_\\u001d91EE07\\u001d92FNMAAGRKAGZLCYLK4HZKXEL5WTXJFOD8H/NJCBWAEJA=",
    );
    assert!(upper.warnings().iter().any(|w| w.code() == "signature_single_case"));
    let garbage_mrp = p("04612345000124Kx7;pQa??zzZt9+");
    assert_eq!(garbage_mrp.warnings()[0].code(), "mrp_implausible");
}
