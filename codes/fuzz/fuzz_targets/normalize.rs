//! Fuzz target `normalize`: raw bytes into `markcert_codes::normalize`.
//!
//! Never panics; on success the canonical output parses strictly to the same code, and normalising it
//! again is a fixed point with no repairs.

#![no_main]

use libfuzzer_sys::fuzz_target;
use markcert_codes::escape::escape;

fuzz_target!(|data: &[u8]| {
    let Ok(n) = markcert_codes::normalize(data) else {
        return;
    };
    let input = escape(data);
    let canonical = n.code.as_bytes();
    let out = escape(canonical);
    let strict = markcert_codes::parse(canonical)
        .unwrap_or_else(|e| panic!("normalize({input}) = {out}, which does not parse strictly: {e}"));
    assert_eq!(strict.as_bytes(), canonical, "parse changed the canonical text {out}");
    assert_eq!(strict.layout(), n.code.layout(), "normalize({input}) = {out}: layout differs from parse");
    match markcert_codes::normalize(canonical) {
        Ok(again) => {
            assert_eq!(
                again.code.as_bytes(),
                canonical,
                "normalize is not idempotent on {input}: {out} -> {}",
                escape(again.code.as_bytes())
            );
            assert!(
                again.repairs.is_empty(),
                "normalize({out}) repaired its own output: {:?}",
                again.repairs
            );
        }
        Err(e) => panic!("normalize({input}) = {out}, but normalize({out}) fails: {e}"),
    }
});
