//! Lenient normalisation (spec `codes.md` §11, §12): each repair on its own, the look-alike rule,
//! ambiguity, Caps Lock signals and the catalogue tie-break of §11.

use markcert_codes::escape::{escape, unescape};
use markcert_codes::normalize::{LayoutCatalog, NormalizeOptions};
use markcert_codes::{normalize, normalize_with, Layout, NormalizeError, Repair};

const MILK: &str = "0104612345000438215aZ;q0\\u001d93Jm4t";
const S13_44: &str =
    "0104612345000742215Rt;K8m'Qz2w_\\u001d91EE07\\u001d92fnM34GrkagZlCyLK4hzkXeL5wTxJfOd8H/NJCBwAEjk=";
const S13_88: &str = "010290000012345821Mv3&Yp;t.Q8Kc\\u001d910042\\u001d92n8nshgBfBvWRsGZrjnijcJPJNGX/Bn5osQEAhkOmxYo6Hpv1KP4xi7iZLTzPJXP93vbbYVDZZr0B/KQNSGCeuw==";
const BLOCK: &str = "010461234500036021Hq'7Lz:\\u001d8005185000\\u001d93Rk3p";
const BEER_V: &str = "0104612345000506215Lq.9Rb\\u001d93eW1u\\u001d3353000500";
const PACK: &str = "04612345000124Kx7;pQaAC/UZt9+";

fn u(s: &str) -> Vec<u8> {
    unescape(s.as_bytes())
}

/// Normalise `scan` and expect `canonical`, returning the repair kinds.
fn fixes(scan: &[u8], canonical: &str) -> Vec<Repair> {
    let n = normalize(scan).unwrap_or_else(|e| panic!("{}: {e}", escape(scan)));
    assert_eq!(escape(n.code.as_bytes()), canonical, "{}", escape(scan));
    n.repairs
}

#[test]
fn canonical_input_needs_no_repair() {
    for c in [MILK, S13_44, S13_88, BLOCK, BEER_V, PACK] {
        assert!(fixes(&u(c), c).is_empty(), "{c}");
    }
}

#[test]
fn transport_artefacts_are_stripped() {
    let cases: &[(&str, &[Repair])] = &[
        (
            "]d2{}\r\n",
            &[
                Repair::StripPrefix("]d2".into()),
                Repair::StripSuffix("LF".into()),
                Repair::StripSuffix("CR".into()),
            ],
        ),
        ("]C1{}", &[Repair::StripPrefix("]C1".into())]),
        ("]Q3{}", &[Repair::StripPrefix("]Q3".into())]),
        ("]e0{}\t", &[Repair::StripPrefix("]e0".into()), Repair::StripSuffix("TAB".into())]),
        ("\u{1d}{}\u{1d}", &[Repair::StripPrefix("GS".into()), Repair::StripSuffix("GS".into())]),
        ("<fcn>{}", &[Repair::StripPrefix("<fcn>".into())]),
    ];
    for (shape, want) in cases {
        let scan = shape.replace("{}", &String::from_utf8(u(MILK)).unwrap());
        assert_eq!(fixes(scan.as_bytes(), MILK), *want, "{shape}");
    }
    let mut e8 = vec![0xE8];
    e8.extend(u(MILK));
    assert_eq!(fixes(&e8, MILK), [Repair::StripPrefix("0xE8".into())]);
}

#[test]
fn non_gs1_symbology_is_stripped_with_a_warning() {
    let scan = [b"]d1".as_slice(), &u(MILK)].concat();
    let n = normalize(&scan).unwrap();
    assert_eq!(n.warnings[0].code(), "non_gs1_symbology");
}

#[test]
fn textual_separators_become_gs() {
    assert_eq!(fixes(b"0104612345000438215aZ;q0\\u001d93Jm4t", MILK), [Repair::TextualGs("\\u001d".into())]);
    assert_eq!(fixes(b"0104612345000438215aZ;q0<GS>93Jm4t", MILK), [Repair::RestoreGs("milk/<GS>".into())]);
    assert_eq!(fixes(b"0104612345000438215aZ;q02993Jm4t", MILK), [Repair::RestoreGs("milk/29".into())]);
    // `!` is also a serial character: milk with `!` for ⟨GS⟩, or beer with serial `5aZ;q0!`.
    match normalize(b"0104612345000438215aZ;q0!93Jm4t") {
        Err(NormalizeError::Ambiguous { candidates }) => assert_eq!(candidates.len(), 2),
        other => panic!("{other:?}"),
    }
    struct Dairy;
    impl LayoutCatalog for Dairy {
        fn layouts_for(&self, _gtin: &str) -> Option<Vec<Layout>> {
            Some(vec![Layout::Milk])
        }
    }
    let opts = NormalizeOptions { catalog: Some(&Dairy), ..NormalizeOptions::default() };
    let n = normalize_with(b"0104612345000438215aZ;q0!93Jm4t", &opts).unwrap();
    assert_eq!(escape(n.code.as_bytes()), MILK);
    assert_eq!(n.repairs, [Repair::RestoreGs("milk/!".into())]);
    let text = String::from_utf8(u(S13_44)).unwrap().replace('\u{1d}', "~");
    assert_eq!(fixes(text.as_bytes(), S13_44), [Repair::RestoreGs("s13-44/~".into())]);
}

#[test]
fn lost_gs_is_restored_by_template_for_every_layout() {
    for (c, template) in [
        (MILK, "milk"),
        (BEER_V, "beer+335n"),
        (BLOCK, "tobacco-block"),
        (S13_44, "s13-44"),
        (S13_88, "s13-88"),
        ("0104612345000674215Gh:2kP=vX8r%\\u001d93Nf6d", "s13-93"),
        ("0104612345000438215K%x(1\\u001d93pR7s\\u001d3103000450", "milk+3103"),
        ("0104612345000506215fT'k2w\\u001d93Yc8n", "beer"),
        ("0104612345000810215cV'8Lm;Qx2Rt.Pz/9Kd\\u001d91EE09\\u001d92ITnQPugJTWdjNU3RsoB/SWKIhliny5NASNle//lzU+A=", "s20-44"),
        ("0102900000123458215Jr%Tn2=Wq4Ls\\u001d2406403\\u001d910042\\u001d927kCtKNWL/I8ZtOElIf4WqdUkwfdZ0okfQtN6MzS13VnjunJkmtC7JhXIwTamRx0lvOpHdeTLZKxOonxb3bT1wQ==", "s13-88+240"),
    ] {
        let gsless: Vec<u8> = u(c).into_iter().filter(|&b| b != 0x1d).collect();
        assert_eq!(fixes(&gsless, c), [Repair::RestoreGs(format!("{template}/dropped"))], "{c}");
    }
}

#[test]
fn one_lost_gs_of_two_is_restored() {
    let bytes = u(S13_44);
    let second_gs = bytes.iter().rposition(|&b| b == 0x1d).unwrap();
    let mut scan = bytes.clone();
    scan.remove(second_gs);
    assert_eq!(fixes(&scan, S13_44), [Repair::RestoreGs("s13-44/dropped".into())]);
}

#[test]
fn look_alike_digits_inside_data_never_split() {
    // serial "5939193921800" holds 93, 91, 92, 21, 8005-ish runs; the tail "9391" too.
    let code = "0104612345000674215939193921800\\u001d939391";
    let c = markcert_codes::parse(&u(code)).unwrap();
    assert_eq!(c.serial(), "5939193921800");
    let gsless: Vec<u8> = u(code).into_iter().filter(|&b| b != 0x1d).collect();
    assert_eq!(fixes(&gsless, code), [Repair::RestoreGs("s13-93/dropped".into())]);
}

#[test]
fn russian_layout_is_reverted() {
    // §12.5 example: GS dropped as well.
    let repairs = fixes("0104612345000438215фЯжй093Оь4е".as_bytes(), MILK);
    assert_eq!(repairs, [Repair::RussianLayout, Repair::RestoreGs("milk/dropped".into())]);
    // AIM prefix typed with the Russian layout arrives as ъв2.
    let repairs = fixes("ъв20104612345000438215фЯжй093Оь4е\r".as_bytes(), MILK);
    assert_eq!(repairs[..2], [Repair::RussianLayout, Repair::StripPrefix("]d2".into())]);
}

#[test]
fn no_russian_revert_without_cyrillic() {
    // `.`, `,` and `?` are valid characters: a code containing them is left alone.
    let code = "0104612345000506215Lq.9R,\\u001d93e?1u";
    assert!(fixes(&u(code), code).is_empty());
}

#[test]
fn caps_lock_is_reverted_when_a_signal_makes_it_unambiguous() {
    // 88-character signature: inverted case always breaks canonical base64.
    let inverted = markcert_codes::keyboard::caps_us(&u(S13_88));
    assert_eq!(fixes(&inverted, S13_88), [Repair::CapsLock("us".into())]);
    // Pack: the inverted MRP is implausible, the original plausible.
    let inverted = markcert_codes::keyboard::caps_us(&u(PACK));
    assert_eq!(fixes(&inverted, PACK), [Repair::CapsLock("us".into())]);
    // AIM prefix in the wrong case (]D2) is a signal for 93-tail codes.
    let inverted = [b"]D2".as_slice(), &markcert_codes::keyboard::caps_us(&u(MILK))].concat();
    assert_eq!(fixes(&inverted, MILK), [Repair::StripPrefix("]D2".into()), Repair::CapsLock("us".into())]);
    // Russian layout + Caps Lock with GS dropped (§12.6 example) and an inverted AIM prefix.
    let scan = "ЪВ20104612345000438215ФяЖЙ093оЬ4Е";
    let repairs = fixes(scan.as_bytes(), MILK);
    assert!(repairs.contains(&Repair::CapsLock("ru".into())), "{repairs:?}");
}

#[test]
fn caps_lock_without_a_signal_is_left_to_the_check() {
    // A milk code with inverted case is another structurally valid code: nothing to detect.
    let inverted = markcert_codes::keyboard::caps_us(&u(MILK));
    let n = normalize(&inverted).unwrap();
    assert_eq!(n.code.as_bytes(), inverted.as_slice());
    assert!(n.repairs.is_empty());
}

#[test]
fn beer_versus_ki_only_collision_uses_the_catalogue() {
    // 31 characters with 93 at offset 25: BEER without GS, or a KI-only with a 13-char serial.
    let scan = b"0104612345000506215fT'k2w93Yc8n";
    let beer = "0104612345000506215fT'k2w\\u001d93Yc8n";
    assert_eq!(fixes(scan, beer), [Repair::RestoreGs("beer/dropped".into())]);
    struct Water;
    impl LayoutCatalog for Water {
        fn layouts_for(&self, _gtin: &str) -> Option<Vec<Layout>> {
            Some(vec![Layout::S13T93, Layout::KiOnly])
        }
    }
    let opts = NormalizeOptions { catalog: Some(&Water), ..NormalizeOptions::default() };
    let n = normalize_with(scan, &opts).unwrap();
    assert_eq!(n.code.layout(), Layout::KiOnly);
    assert!(n.repairs.is_empty());
}

#[test]
fn unrepairable_and_ambiguous_inputs_are_refused() {
    match normalize(b"0104612345000438215aZ;q093Jm") {
        Err(NormalizeError::Unrepairable { error, .. }) => assert!(!error.errors.is_empty()),
        other => panic!("{other:?}"),
    }
    // A double scan is never repaired.
    let twice = [u(MILK), u(MILK)].concat();
    assert!(normalize(&twice).is_err());
    assert!(normalize(b"").is_err());
    assert!(normalize(b"\r\n").is_err());
}
