//! Property tests of the guarantees `markcert-codes` makes on external input (issue acceptance):
//! `parse` and `normalize` never panic on any bytes; what `normalize` returns is canonical and a
//! fixed point; a strictly valid code is left alone; and GS-less repair never splits a code on AI
//! look-alike digits inside the data.

use markcert_codes::generate::{any_spec, spec_strategy, spec_with_lookalikes, ScanBytes};
use markcert_codes::layout::Layout;
use markcert_codes::{normalize, parse, Repair};
use proptest::prelude::*;

/// Cases per property: `PROPTEST_CASES` when set (for long stress runs), else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: cases(512), ..ProptestConfig::default() }
}

/// Checks that hold for any bytes: no panic, and a successful normalisation is canonical and stable.
fn check_any(bytes: &[u8]) -> Result<(), TestCaseError> {
    let strict = parse(bytes);
    if let Ok(n) = normalize(bytes) {
        let again = parse(n.code.as_bytes());
        prop_assert!(again.is_ok(), "normalize output must parse strictly: {:?}", again);
        let fixed = normalize(n.code.as_bytes()).expect("canonical output normalises");
        prop_assert_eq!(fixed.code.as_bytes(), n.code.as_bytes());
        prop_assert!(fixed.repairs.is_empty(), "second pass repaired again: {:?}", fixed.repairs);
        if n.repairs.is_empty() {
            prop_assert_eq!(n.code.as_bytes(), bytes, "no repair listed but the bytes changed");
        }
    }
    if let Ok(code) = strict {
        prop_assert_eq!(code.as_bytes(), bytes);
        let n = normalize(bytes).expect("a valid code normalises");
        // The only repair a strictly valid code can get is a Caps Lock revert of a pack whose MRP
        // proves the inversion (docs/decisions.md C7).
        if !n.repairs.is_empty() {
            prop_assert_eq!(code.layout(), Layout::TobaccoPack);
            prop_assert_eq!(&n.repairs, &vec![Repair::CapsLock("us".into())]);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parse_and_normalize_never_panic_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check_any(&bytes)?;
    }

    #[test]
    fn parse_and_normalize_never_panic_on_code_like_text(
        bytes in proptest::collection::vec(prop_oneof![
            8 => proptest::sample::select(b"0123456789".to_vec()),
            4 => proptest::sample::select(markcert_codes::charset::CSET82.to_vec()),
            2 => Just(0x1d_u8),
            1 => any::<u8>(),
        ], 0..160)
    ) {
        check_any(&bytes)?;
    }

    #[test]
    fn parse_and_normalize_never_panic_on_scan_bytes(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut u = arbitrary::Unstructured::new(&raw);
        if let Ok(ScanBytes(bytes)) = <ScanBytes as arbitrary::Arbitrary>::arbitrary(&mut u) {
            check_any(&bytes)?;
        }
    }

    #[test]
    fn valid_codes_normalise_to_themselves(spec in any_spec()) {
        let code = spec.render();
        let n = normalize(&code).expect("valid code");
        prop_assert_eq!(n.code.as_bytes(), code.as_slice());
    }

    #[test]
    fn repair_never_splits_on_ai_lookalikes(
        spec in prop_oneof![
            spec_with_lookalikes(Layout::Milk),
            spec_with_lookalikes(Layout::Beer),
            spec_with_lookalikes(Layout::S13T93),
            spec_with_lookalikes(Layout::S13T44),
            spec_with_lookalikes(Layout::S13T88),
            spec_with_lookalikes(Layout::S20T44),
            spec_with_lookalikes(Layout::TobaccoBlock),
        ]
    ) {
        let code = spec.render();
        let gsless: Vec<u8> = code.iter().copied().filter(|&b| b != 0x1d).collect();
        match normalize(&gsless) {
            Ok(n) => prop_assert_eq!(n.code.as_bytes(), code.as_slice(), "wrong split"),
            // Refusing is allowed (a rescan); a wrong split never is.
            Err(e) => prop_assert!(matches!(e, markcert_codes::NormalizeError::Ambiguous { .. }), "{e}"),
        }
    }

    #[test]
    fn every_lost_gs_layout_comes_back(spec in prop_oneof![
        spec_strategy(Layout::Milk), spec_strategy(Layout::Beer), spec_strategy(Layout::S13T93),
        spec_strategy(Layout::S13T44), spec_strategy(Layout::S13T88), spec_strategy(Layout::S20T44),
        spec_strategy(Layout::TobaccoBlock),
    ]) {
        let code = spec.render();
        let gsless: Vec<u8> = code.iter().copied().filter(|&b| b != 0x1d).collect();
        prop_assert!(parse(&gsless).is_err(), "GS-less code must be invalid strictly");
        match normalize(&gsless) {
            Ok(n) => prop_assert_eq!(n.code.as_bytes(), code.as_slice()),
            Err(e) => prop_assert!(matches!(e, markcert_codes::NormalizeError::Ambiguous { .. }), "{e}"),
        }
    }
}

/// The property tests above accept a refusal (`Ambiguous`) for a lost ⟨GS⟩; this counts how often
/// that happens over generated codes, so that accepting it can never hide a repair that stopped
/// working. Wrong repairs must be zero; refusals rare.
#[test]
fn lost_gs_is_repaired_exactly_for_almost_every_code() {
    use markcert_codes::generate::generate;
    for layout in [
        Layout::Milk,
        Layout::Beer,
        Layout::S13T93,
        Layout::S13T44,
        Layout::S13T88,
        Layout::S20T44,
        Layout::TobaccoBlock,
    ] {
        let (mut exact, mut refused, mut wrong) = (0, 0, 0);
        for code in generate(layout, 2000, 42) {
            let gsless: Vec<u8> = code.bytes().filter(|&b| b != 0x1d).collect();
            match normalize(&gsless) {
                Ok(n) if n.code.as_str() == code => exact += 1,
                Ok(_) => wrong += 1,
                Err(_) => refused += 1,
            }
        }
        assert_eq!(wrong, 0, "{layout}: wrong repairs");
        assert!(refused <= 20, "{layout}: {refused} of 2000 refused, {exact} exact");
    }
}
