//! The default ФН authentication scheme `markcert-hmac-v1` (`tspiot.md` §9.1): 32 random challenge
//! bytes; MAC = HMAC-SHA256(K_fn, challenge ‖ ASCII(fnSerial)); verification in constant time.

use super::scheme::{Challenge, FnAuthScheme, Mac};
use hmac::{Hmac, Mac as _};
use rand::RngCore;
use sha2::Sha256;

/// `markcert-hmac-v1`.
#[derive(Clone, Copy, Debug, Default)]
pub struct HmacSha256V1;

fn mac_of(fn_secret: &[u8], challenge: &Challenge, fn_serial: &str) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as hmac::Mac>::new_from_slice(fn_secret).expect("HMAC takes any key length");
    m.update(&challenge.0);
    m.update(fn_serial.as_bytes());
    m
}

impl FnAuthScheme for HmacSha256V1 {
    fn id(&self) -> &'static str {
        "markcert-hmac-v1"
    }

    fn alg(&self) -> &'static str {
        "HMAC-SHA256"
    }

    fn issue_challenge(&self, _fn_serial: &str) -> Challenge {
        let mut bytes = vec![0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Challenge(bytes)
    }

    fn sign(&self, fn_secret: &[u8], challenge: &Challenge, fn_serial: &str) -> Mac {
        Mac(mac_of(fn_secret, challenge, fn_serial).finalize().into_bytes().to_vec())
    }

    fn verify(&self, fn_secret: &[u8], challenge: &Challenge, fn_serial: &str, mac: &Mac) -> bool {
        mac_of(fn_secret, challenge, fn_serial).verify_slice(&mac.0).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    /// The test vector of `tspiot.md` §9.1.
    #[test]
    fn spec_test_vector() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let secret: Vec<u8> = (0u8..32).collect();
        let challenge = Challenge(b64.decode("OLTmUuRNp/I3DZ4mDicTZVCko6bQf1wMMy+LEiQIP9I=").unwrap());
        let mac = HmacSha256V1.sign(&secret, &challenge, "7380440700000123");
        assert_eq!(b64.encode(&mac.0), "bruw7MzWJOX5yIxKQHt2X7tkVzDJbxWh7d/Sg1Honk4=");
        assert!(HmacSha256V1.verify(&secret, &challenge, "7380440700000123", &mac));
        assert!(!HmacSha256V1.verify(&secret, &challenge, "7380440700000124", &mac), "bound to the serial");
        let mut wrong = mac.clone();
        wrong.0[0] ^= 1;
        assert!(!HmacSha256V1.verify(&secret, &challenge, "7380440700000123", &wrong));
        assert!(!HmacSha256V1.verify(&secret, &challenge, "7380440700000123", &Mac(vec![1, 2, 3])));
    }

    #[test]
    fn challenges_are_32_fresh_bytes() {
        let a = HmacSha256V1.issue_challenge("x");
        let b = HmacSha256V1.issue_challenge("x");
        assert_eq!(a.0.len(), 32);
        assert_ne!(a, b);
    }
}
