//! Generators and mutations against the strict parser (spec `codes.md` §13): every generated code
//! parses back to its parts, every mutation marked `must_be_rejected` is rejected, and nothing panics
//! on arbitrary bytes.

use arbitrary::{Arbitrary, Unstructured};
use markcert_codes::escape::escape;
use markcert_codes::generate::{
    any_spec, generate, random_spec, spec_strategy, spec_with_lookalikes, CodeSpec, ScanBytes, AI_LOOKALIKES,
};
use markcert_codes::mutate::Mutation;
use markcert_codes::{parse, Layout, QuantityUnit, Tail, Warning};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Cases per property: `PROPTEST_CASES` when set (for long stress runs), else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The spec's code parses as its own layout with every part equal to the spec's.
fn check_round_trip(spec: &CodeSpec) -> Result<(), TestCaseError> {
    let bytes = spec.render();
    let shown = escape(&bytes);
    let code = parse(&bytes).map_err(|e| TestCaseError::fail(format!("{shown}: {e}")))?;
    prop_assert_eq!(code.as_bytes(), &bytes[..], "{}", shown);
    prop_assert_eq!(code.layout(), spec.layout, "{}", shown);
    prop_assert_eq!(code.gtin(), spec.gtin.as_str(), "{}", shown);
    prop_assert_eq!(code.serial(), spec.serial.as_str(), "{}", shown);
    prop_assert_eq!(code.mrp_kopecks(), spec.mrp_kopecks, "{}", shown);
    prop_assert_eq!(code.ai8005(), spec.ai8005, "{}", shown);
    match code.tail() {
        Tail::Short(c) => prop_assert_eq!(Some(c), spec.check.as_deref(), "{}", shown),
        Tail::Signature { key, signature } => {
            prop_assert_eq!(Some(key), spec.key_id.as_deref(), "{}", shown);
            prop_assert_eq!(Some(signature), spec.signature.as_deref(), "{}", shown);
        }
        Tail::None => prop_assert_eq!(spec.layout, Layout::KiOnly, "{}", shown),
    }
    let quantity = code.quantity().map(|q| (q.unit, q.raw, q.decimals));
    let expected = match (spec.weight, spec.volume) {
        (Some(w), _) => Some((QuantityUnit::Kg, w, 3)),
        (None, Some((n, raw))) => Some((QuantityUnit::L, raw, n)),
        (None, None) => None,
    };
    prop_assert_eq!(quantity, expected, "{}", shown);
    if spec.layout == Layout::S13T88 {
        prop_assert_eq!(code.ai240(), spec.tnved.as_deref(), "{}", shown);
    }
    Ok(())
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

#[test]
fn every_layout_renders_and_parses_back() {
    for layout in Layout::ALL {
        let mut r = runner(cases(256));
        let result = r.run(&spec_strategy(layout), |spec| {
            prop_assert_eq!(spec.layout, layout);
            check_round_trip(&spec)
        });
        if let Err(e) = result {
            panic!("{layout}: {e}");
        }
    }
}

#[test]
fn lookalike_specs_stay_valid() {
    for layout in Layout::ALL {
        let mut r = runner(cases(256));
        let result = r.run(&spec_with_lookalikes(layout), |spec| check_round_trip(&spec));
        if let Err(e) = result {
            panic!("{layout}: {e}");
        }
    }
}

#[test]
fn lookalike_specs_do_carry_lookalikes() {
    // The digits must survive into the rendered code beyond the GTIN (and `01`/`21`) most of the time.
    let mut r = runner(1);
    for layout in Layout::ALL {
        let strategy = spec_with_lookalikes(layout);
        let mut hits = 0;
        for _ in 0..100 {
            let spec = strategy.new_tree(&mut r).unwrap().current();
            let head = if layout == Layout::TobaccoPack { 14 } else { 18 };
            let body = &spec.render_string()[head..];
            if AI_LOOKALIKES.iter().any(|t| body.contains(t)) {
                hits += 1;
            }
        }
        assert!(hits >= 90, "{layout}: only {hits} of 100 specs carry a look-alike");
    }
}

#[test]
fn generate_is_deterministic_and_valid() {
    for layout in Layout::ALL {
        let a = generate(layout, 200, 42);
        assert_eq!(a.len(), 200);
        assert_eq!(a, generate(layout, 200, 42), "{layout}");
        assert_ne!(a, generate(layout, 200, 43), "{layout}");
        for code in &a {
            match parse(code.as_bytes()) {
                Ok(c) => assert_eq!(c.layout(), layout, "{}", escape(code.as_bytes())),
                Err(e) => panic!("{layout}: {}: {e}", escape(code.as_bytes())),
            }
        }
    }
    assert!(generate(Layout::Milk, 0, 1).is_empty());
}

#[test]
fn random_spec_round_trips_and_follows_13_1() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut weighed = 0;
    let mut ki_lengths = std::collections::BTreeSet::new();
    let mut prefixes = std::collections::BTreeSet::new();
    for layout in Layout::ALL {
        for _ in 0..300 {
            let spec = random_spec(layout, &mut rng);
            if let Err(e) = check_round_trip(&spec) {
                panic!("{e}");
            }
            prefixes.insert(spec.gtin[..3].to_string());
            match layout {
                Layout::S13T93 | Layout::S13T44 | Layout::S20T44 => assert!(spec.serial.starts_with('5')),
                Layout::TobaccoPack => {
                    let k = spec.mrp_kopecks.unwrap();
                    assert!((5_000..=50_000).contains(&k) && k % 100 == 0, "{k}");
                }
                Layout::TobaccoBlock => {
                    let v = spec.ai8005.unwrap();
                    assert!(v % 1000 == 0 && (50_000..=500_000).contains(&v), "{v}");
                }
                Layout::Milk => weighed += usize::from(spec.weight.is_some()),
                Layout::KiOnly => {
                    ki_lengths.insert(spec.serial.len());
                }
                _ => {}
            }
            if let Some(sig) = &spec.signature {
                let want = if layout == Layout::S13T88 { 88 } else { 44 };
                assert_eq!(sig.len(), want);
            }
        }
    }
    assert!(weighed > 50 && weighed < 250, "{weighed}");
    assert_eq!(ki_lengths.into_iter().collect::<Vec<_>>(), [6, 7, 13, 20]);
    assert!(prefixes.contains("046") && prefixes.contains("029") && prefixes.len() > 3, "{prefixes:?}");
}

fn rejected_mutations() -> Vec<Mutation> {
    Mutation::ALL.iter().copied().filter(|m| m.must_be_rejected()).collect()
}

fn check_rejected(spec: &CodeSpec, seed: u64) -> Result<(), TestCaseError> {
    let code = spec.render();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for m in rejected_mutations() {
        if let Some(bad) = m.apply(&code, &mut rng) {
            if let Ok(c) = parse(&bad) {
                return Err(TestCaseError::fail(format!(
                    "{} of {} gave {} which parses as {}",
                    m.name(),
                    escape(&code),
                    escape(&bad),
                    c.layout()
                )));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config { cases: cases(256), failure_persistence: None, ..Config::default() })]

    #[test]
    fn any_spec_round_trips(spec in any_spec()) {
        check_round_trip(&spec)?;
    }

    #[test]
    fn must_be_rejected_mutations_are_rejected(spec in any_spec(), seed in any::<u64>()) {
        check_rejected(&spec, seed)?;
    }

    #[test]
    fn must_be_rejected_holds_for_lookalike_codes(
        spec in proptest::sample::select(Layout::ALL.to_vec()).prop_flat_map(spec_with_lookalikes),
        seed in any::<u64>(),
    ) {
        check_rejected(&spec, seed)?;
    }

    #[test]
    fn other_mutations_of_valid_codes_never_panic(spec in any_spec(), seed in any::<u64>()) {
        let code = spec.render();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for m in Mutation::ALL {
            if let Some(out) = m.apply(&code, &mut rng) {
                let _ = parse(&out);
            }
        }
    }

    #[test]
    fn mutations_never_panic_on_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        seed in any::<u64>(),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for m in Mutation::ALL {
            if let Some(out) = m.apply(&bytes, &mut rng) {
                let _ = parse(&out);
            }
        }
    }

    #[test]
    fn mutations_never_panic_on_code_like_bytes(
        spec in any_spec(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in any::<prop::sample::Index>(),
        seed in any::<u64>(),
    ) {
        // A valid code with a few random bytes replaced and a random cut: near-miss input.
        let mut code = spec.render();
        for (at, b) in edits {
            let i = at.index(code.len());
            code[i] = b;
        }
        code.truncate(cut.index(code.len() + 1));
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for m in Mutation::ALL {
            // Chain two mutations so that damaged input meets every mutation too.
            if let Some(out) = m.apply(&code, &mut rng) {
                let _ = parse(&out);
                for n in Mutation::ALL {
                    if let Some(out2) = n.apply(&out, &mut rng) {
                        let _ = parse(&out2);
                    }
                }
            }
        }
    }
}

#[test]
fn every_mutation_applies_to_some_generated_code() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let codes: Vec<Vec<u8>> = Layout::ALL
        .iter()
        .flat_map(|&l| (0..20).map(move |i| (l, i)))
        .map(|(l, _)| random_spec(l, &mut rng).render())
        .collect();
    for m in Mutation::ALL {
        let applied = codes.iter().filter(|c| m.apply(c, &mut rng).is_some()).count();
        assert!(applied > 0, "{} never applies to a generated code", m.name());
    }
}

#[test]
fn mutations_that_may_stay_valid_do_so_where_documented() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..100 {
        // Weighed milk with 3103 before 93 is accepted with a warning (§5.3).
        let mut spec = random_spec(Layout::Milk, &mut rng);
        spec.weight.get_or_insert(450);
        let moved = Mutation::WeightBefore93.apply(&spec.render(), &mut rng).unwrap();
        let code = parse(&moved).unwrap_or_else(|e| panic!("{}: {e}", escape(&moved)));
        assert_eq!(code.layout(), Layout::Milk);
        assert!(code.warnings().iter().any(|w| matches!(w, Warning::NonStandardOrder(_))));

        // A pack whose GTIN starts `01` with a `21` after a valid inner GTIN is still a pack.
        let pack = random_spec(Layout::TobaccoPack, &mut rng).render();
        let confuser = Mutation::PackGtin01.apply(&pack, &mut rng).unwrap();
        let code = parse(&confuser).unwrap_or_else(|e| panic!("{}: {e}", escape(&confuser)));
        assert_eq!(code.layout(), Layout::TobaccoPack, "{}", escape(&confuser));

        // An implausible MRP is only a warning.
        let high = Mutation::PackMrpTooHigh.apply(&pack, &mut rng).unwrap();
        let code = parse(&high).unwrap_or_else(|e| panic!("{}: {e}", escape(&high)));
        assert!(code.warnings().iter().any(|w| matches!(w, Warning::MrpImplausible(_))));

        // `!` for ⟨GS⟩ in an S13-93 code is a KI-only code with a 20-character serial.
        let s13 = random_spec(Layout::S13T93, &mut rng).render();
        let bang = Mutation::ReplaceGs { substitute: markcert_codes::mutate::GsSubstitute::Bang }
            .apply(&s13, &mut rng)
            .unwrap();
        let code = parse(&bang).unwrap_or_else(|e| panic!("{}: {e}", escape(&bang)));
        assert_eq!(code.layout(), Layout::KiOnly);
        assert_eq!(code.serial().len(), 20);
    }
}

/// Spec §9.1 step 2: a 29-character string matching `^01\d{14}21` is not a `TOB-PACK`; as a GS1
/// string without ⟨GS⟩ it fits no template and no KI-only length, so it is invalid.
#[test]
fn pack_matching_the_gs1_prefix_is_not_a_pack() {
    // Pack GTIN 01000000000009 (valid), `[2..16]` = 00000000000901 (valid), then `21`.
    for input in ["010000000000090121AAAAAAAAAAA", "010000000000090021AAAAAAAAAAA"] {
        if let Ok(c) = parse(input.as_bytes()) {
            panic!("{input} parses as {}", c.layout());
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for _ in 0..200 {
        let pack = random_spec(Layout::TobaccoPack, &mut rng).render();
        let confuser = Mutation::PackLooksGs1.apply(&pack, &mut rng).unwrap();
        if let Ok(c) = parse(&confuser) {
            panic!("{} parses as {}", escape(&confuser), c.layout());
        }
    }
}

#[test]
fn arbitrary_specs_are_valid() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut seen = std::collections::BTreeSet::new();
    for round in 0..2_000 {
        let len = rng.random_range(0..400);
        let buf: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let mut u = Unstructured::new(&buf);
        let spec = CodeSpec::arbitrary(&mut u).unwrap_or_else(|e| panic!("round {round}: {e}"));
        seen.insert(spec.layout);
        if let Err(e) = check_round_trip(&spec) {
            panic!("round {round}: {e}");
        }
    }
    assert_eq!(seen.len(), Layout::ALL.len());
    // Exhausted input still yields a valid spec.
    let spec = CodeSpec::arbitrary(&mut Unstructured::new(&[])).unwrap();
    check_round_trip(&spec).unwrap();
}

#[test]
fn arbitrary_scan_bytes_never_break_parse() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let (mut valid, mut invalid) = (0, 0);
    for _ in 0..3_000 {
        let len = rng.random_range(0..300);
        let buf: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let scan = ScanBytes::arbitrary(&mut Unstructured::new(&buf)).unwrap();
        match parse(&scan.0) {
            Ok(_) => valid += 1,
            Err(_) => invalid += 1,
        }
    }
    assert!(valid > 300 && invalid > 300, "valid {valid}, invalid {invalid}");
}
