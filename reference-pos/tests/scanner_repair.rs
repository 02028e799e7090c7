//! Scanner damage over every code of the default world (every layout) and every built-in scanner
//! profile (codes.md §12.9–§12.10): a repairable profile is read back as exactly the canonical code,
//! or refused when the code is ambiguous without its ⟨GS⟩ (§11 collisions) — never read as another
//! code. Lossy profiles (keystroke loss, Caps Lock without a signal, …) may be refused or read as a
//! code that does not exist, which the check then refuses (§12.10 step 5); nothing panics.

use markcert_emulators::world::default::default_world;
use markcert_reference_pos::repair::{repair, RepairError};
use markcert_reference_pos::Options;
use rand_chacha::rand_core::SeedableRng;

#[test]
fn never_a_wrong_code_and_repairable_profiles_come_back() {
    let world = default_world(1_767_225_600_000).unwrap();
    let opts = Options::default();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let (mut repaired, mut refused) = (0usize, 0usize);
    for c in world.codes() {
        let canonical = c.code.as_str();
        for profile in markcert_codes::distort::builtin_profiles() {
            let scanned = markcert_codes::distort::apply(profile, canonical.as_bytes(), &mut rng).text;
            match repair(&scanned, &opts) {
                Ok(r) if profile.repairable => {
                    assert_eq!(
                        r.code.as_str(),
                        canonical,
                        "profile {}: {:?} read as a different code",
                        profile.name,
                        String::from_utf8_lossy(&scanned)
                    );
                    repaired += 1;
                }
                Ok(_) => repaired += 1,
                Err(e) => {
                    refused += 1;
                    let expected = !profile.repairable || matches!(e, RepairError::Ambiguous(_));
                    assert!(
                        expected,
                        "repairable profile {} refused {:?} ({canonical:?}): {e}",
                        profile.name,
                        String::from_utf8_lossy(&scanned)
                    );
                }
            }
        }
    }
    assert!(repaired > refused, "{repaired} repaired, {refused} refused");
}
