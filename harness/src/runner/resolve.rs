//! Code references → concrete codes and what the scanner delivers for them.
//!
//! [`resolve_code`] picks the world code a [`CodeRef`] names (by `case` label, product group,
//! layout and `nth`, in the world's code order), [`product_for`] the catalogue entry the POS is
//! told about, and [`scan_bytes`] the bytes a scanner profile delivers (seeded per step, so a run
//! is reproducible), which [`base64`] encodes for the `scan` message.

use markcert_codes::{distort, groups, Layout};
use markcert_emulators::world::World;
use rand::SeedableRng;

use super::RunError;
use crate::adapter::protocol::Product;
use crate::scenario::CodeRef;

/// The concrete code (⟨GS⟩ as 0x1D) a reference names in `world`.
pub fn resolve_code(world: &World, code: &CodeRef) -> Result<String, RunError> {
    let sel = match code {
        CodeRef::Literal(text) => return Ok(text.clone()),
        CodeRef::Case(sel) => sel,
    };
    let group = match &sel.group {
        Some(g) => Some(
            groups::by_code(g).ok_or_else(|| RunError::Resolve(format!("unknown product group \"{g}\"")))?.id,
        ),
        None => None,
    };
    let layout = match &sel.layout {
        Some(l) => {
            Some(Layout::from_name(l).ok_or_else(|| RunError::Resolve(format!("unknown layout \"{l}\"")))?)
        }
        None => None,
    };
    let nth = sel.nth.unwrap_or(1).max(1) as usize;
    let found = world
        .codes()
        .into_iter()
        .filter(|c| c.case.as_deref() == Some(sel.case.as_str()))
        .filter(|c| group.is_none() || gtin_of(&c.code).and_then(|g| world.group_of(&g)) == group)
        .filter(|c| {
            layout.is_none_or(|l| markcert_codes::parse(c.code.as_bytes()).is_ok_and(|p| p.layout() == l))
        })
        .nth(nth - 1)
        .map(|c| c.code.clone());
    found.ok_or_else(|| {
        RunError::Resolve(format!(
            "the world has no code number {nth} with case \"{}\"{}{}",
            sel.case,
            sel.group.as_ref().map(|g| format!(" in group \"{g}\"")).unwrap_or_default(),
            sel.layout.as_ref().map(|l| format!(" of layout \"{l}\"")).unwrap_or_default(),
        ))
    })
}

/// The GTIN of a marking code (any layout, tobacco packs included), if it parses.
pub fn gtin_of(code: &str) -> Option<String> {
    markcert_codes::parse(code.as_bytes()).ok().map(|c| c.gtin().to_string())
}

/// What the POS is told about the product of `code`: the catalogue entry, the step's price if it
/// gives one; a generic product for a code not in the catalogue.
pub fn product_for(world: &World, code: &str, price_kopecks: Option<u64>) -> Product {
    match gtin_of(code).and_then(|g| world.product(&g).cloned()) {
        Some(p) => Product {
            name: p.name.clone(),
            price_kopecks: price_kopecks.unwrap_or(p.price_kopecks),
            vat: p.vat.clone(),
            measure: p.measure.clone(),
        },
        None => Product {
            name: "Товар (нет в каталоге)".into(),
            price_kopecks: price_kopecks.unwrap_or(10_000),
            vat: "vat20".into(),
            measure: "piece".into(),
        },
    }
}

/// The bytes the scanner `profile` delivers for `code` (the canonical bytes when `None`), with a
/// generator seeded from the run seed and the step number.
pub fn scan_bytes(code: &str, profile: Option<&str>, seed: u64, step: usize) -> Result<Vec<u8>, RunError> {
    let Some(name) = profile else { return Ok(code.as_bytes().to_vec()) };
    let profile = distort::profile(name)
        .ok_or_else(|| RunError::Resolve(format!("unknown scanner profile \"{name}\"")))?;
    let mut rng =
        rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    Ok(distort::apply(profile, code.as_bytes(), &mut rng).text)
}

/// Standard base64 with padding (how the protocol carries a scan's raw bytes).
pub fn base64(bytes: &[u8]) -> String {
    use ::base64::Engine;
    ::base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::CaseSelector;

    #[test]
    fn base64_matches_the_standard_alphabet_and_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob\x1d"), "Zm9vYh0=");
    }

    #[test]
    fn selectors_pick_distinct_codes_by_nth() {
        let world = markcert_emulators::world::default::default_world(0).unwrap();
        let sel = |nth| {
            CodeRef::Case(CaseSelector {
                case: "in-circulation".into(),
                group: Some("milk".into()),
                layout: None,
                nth: Some(nth),
            })
        };
        let a = resolve_code(&world, &sel(1)).unwrap();
        let b = resolve_code(&world, &sel(2)).unwrap();
        assert_ne!(a, b);
        assert!(resolve_code(&world, &sel(999)).is_err());
        assert_eq!(scan_bytes(&a, None, 1, 1).unwrap(), a.as_bytes());
        assert_eq!(
            scan_bytes(&a, Some("com-clean"), 7, 2).unwrap(),
            scan_bytes(&a, Some("com-clean"), 7, 2).unwrap()
        );
    }
}
