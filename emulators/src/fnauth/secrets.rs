//! Per-ФН secrets `K_fn` (`tspiot.md` §9.1): either set per fiscal drive in the world file
//! (`auth_secret`, 64 hex digits) or derived as HMAC-SHA256(master_secret, "markcert/fn-auth/v1/" ‖
//! fnSerial) from the world's master secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A 32-byte ФН secret.
pub type FnSecret = [u8; 32];

/// `K_fn` derived from the world's master secret.
pub fn derive_fn_secret(master_secret: &[u8; 32], fn_serial: &str) -> FnSecret {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(master_secret).expect("HMAC takes any key length");
    m.update(b"markcert/fn-auth/v1/");
    m.update(fn_serial.as_bytes());
    m.finalize().into_bytes().into()
}

/// 64 hex digits as 32 bytes.
pub fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    let t = text.trim();
    if t.len() != 64 || !t.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// 32 bytes as 64 lowercase hex digits.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The derivation check of `tspiot.md` §9.1.
    #[test]
    fn spec_derivation_check() {
        let k = derive_fn_secret(&[0u8; 32], "7380440700000123");
        assert_eq!(to_hex(&k), "d712bd4256b91069287c30191043c437ca1356fd8ee247aeefdc06f859c6026a");
    }

    #[test]
    fn hex_round_trip_and_refusals() {
        let k = derive_fn_secret(&[7u8; 32], "1");
        assert_eq!(parse_hex32(&to_hex(&k)), Some(k));
        assert_eq!(parse_hex32("00"), None);
        assert_eq!(parse_hex32(&"zz".repeat(32)), None);
        assert_eq!(parse_hex32(&"é".repeat(32)), None);
    }
}
