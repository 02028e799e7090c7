//! The ФН-М's keys: its secret `K_fn` (`fn.auth_secret`, else the world's secret for the drive, else
//! derived from the world's master secret), the fiscal sign of its documents (HMAC-SHA256 under a key
//! derived from `K_fn`, truncated to 32 bits) and its answer to a `markcertFnAuthenticate` challenge
//! (`tspiot.md` §9.4, through a [`FnAuthScheme`] so the True API's `auth/fn/token` accepts it).

use crate::fnauth::{derive_fn_secret, Challenge, FnAuthScheme, FnSecret};
use crate::world::World;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The ФН's answer to a challenge: `{"fnSerial","mac","alg"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnAuthAnswer {
    /// The ФН serial.
    pub fn_serial: String,
    /// The MAC, base64.
    pub mac: String,
    /// The scheme's `alg`, e.g. `HMAC-SHA256`.
    pub alg: String,
}

/// `K_fn` of `serial`: the override, else the world's, else derived from the world's master secret.
pub(crate) fn resolve_secret(world: &World, serial: &str, override_hex: Option<&str>) -> FnSecret {
    override_hex
        .and_then(crate::fnauth::secrets::parse_hex32)
        .or_else(|| world.fn_secret(serial))
        .unwrap_or_else(|| derive_fn_secret(&world.master_secret, serial))
}

/// The key of fiscal signs, separate from `K_fn` itself: HMAC-SHA256(K_fn, "markcert/fiscal-sign/v1").
pub(crate) fn fiscal_key(secret: &FnSecret) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(b"markcert/fiscal-sign/v1");
    m.finalize().into_bytes().into()
}

/// The first 4 bytes (big-endian) of HMAC-SHA256(key, bytes).
pub(crate) fn fiscal_sign(key: &[u8; 32], bytes: &[u8]) -> u32 {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(bytes);
    let out = m.finalize().into_bytes();
    u32::from_be_bytes([out[0], out[1], out[2], out[3]])
}

/// Sign `challenge` as the ФН `fn_serial` with `scheme`; `broken` flips the MAC's first byte.
pub(crate) fn authenticate(
    scheme: &dyn FnAuthScheme,
    secret: &FnSecret,
    fn_serial: &str,
    challenge: &[u8],
    broken: bool,
) -> FnAuthAnswer {
    let mut mac = scheme.sign(secret, &Challenge(challenge.to_vec()), fn_serial).0;
    if broken {
        if let Some(b) = mac.first_mut() {
            *b ^= 0xff;
        }
    }
    FnAuthAnswer {
        fn_serial: fn_serial.to_string(),
        mac: base64::engine::general_purpose::STANDARD.encode(mac),
        alg: scheme.alg().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fnauth::HmacSha256V1;

    #[test]
    fn spec_test_vector_through_the_fn_side() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let secret: FnSecret = core::array::from_fn(|i| i as u8);
        let challenge = b64.decode("OLTmUuRNp/I3DZ4mDicTZVCko6bQf1wMMy+LEiQIP9I=").unwrap();
        let a = authenticate(&HmacSha256V1, &secret, "7380440700000123", &challenge, false);
        assert_eq!(a.mac, "bruw7MzWJOX5yIxKQHt2X7tkVzDJbxWh7d/Sg1Honk4=");
        assert_eq!(a.alg, "HMAC-SHA256");
        let broken = authenticate(&HmacSha256V1, &secret, "7380440700000123", &challenge, true);
        assert_ne!(broken.mac, a.mac);
    }

    #[test]
    fn secret_resolution_order() {
        let w = World::new("7701000019");
        let hex = "00".repeat(31) + "01";
        let over = resolve_secret(&w, "7380440700000123", Some(&hex));
        assert_eq!(over[31], 1);
        // Not registered: derived from the master secret (zeros): the spec's derivation check.
        let derived = resolve_secret(&w, "7380440700000123", None);
        assert_eq!(
            crate::fnauth::secrets::to_hex(&derived),
            "d712bd4256b91069287c30191043c437ca1356fd8ee247aeefdc06f859c6026a"
        );
    }

    #[test]
    fn fiscal_signs_are_deterministic_and_keyed() {
        let k1 = fiscal_key(&[1u8; 32]);
        let k2 = fiscal_key(&[2u8; 32]);
        assert_eq!(fiscal_sign(&k1, b"doc"), fiscal_sign(&k1, b"doc"));
        assert_ne!(fiscal_sign(&k1, b"doc"), fiscal_sign(&k2, b"doc"));
        assert_ne!(fiscal_sign(&k1, b"doc"), fiscal_sign(&k1, b"doc2"));
    }
}
