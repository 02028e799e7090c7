//! Character sets of marking codes (spec `codes.md` §3): CSET82, the 80-character MRP alphabet R80 and
//! the base64 alphabet of AI 92 signatures. Pure byte predicates; no allocation, no parsing.

/// The group separator byte ⟨GS⟩ (0x1D), FNC1 in separator position.
pub const GS: u8 = 0x1D;

/// GS1 CSET82: `!"%&'()*+,-./0-9:;<=>?A-Z_a-z`.
pub const fn is_cset82(b: u8) -> bool {
    matches!(b,
        b'!' | b'"' | b'%' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b'-' | b'.' | b'/'
        | b'0'..=b'9' | b':' | b';' | b'<' | b'=' | b'>' | b'?' | b'A'..=b'Z' | b'_' | b'a'..=b'z')
}

/// R80: CSET82 without `(` and `)` — the characters of the tobacco MRP field.
pub const fn is_r80(b: u8) -> bool {
    is_cset82(b) && b != b'(' && b != b')'
}

/// Base64 alphabet without padding: `A-Za-z0-9+/`.
pub const fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// Value of a base64 character (`A`=0 … `/`=63), or `None`.
pub const fn b64_value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Index of the first byte of `s` that fails `pred`.
pub fn first_invalid(s: &[u8], pred: fn(u8) -> bool) -> Option<usize> {
    s.iter().position(|&b| !pred(b))
}

/// All 82 CSET82 characters, in ASCII order (used by generators).
pub const CSET82: &[u8; 82] =
    b"!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/// The 64 base64 characters, in value order.
pub const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cset82_has_82_members_and_table_agrees() {
        let n = (0u8..=255).filter(|&b| is_cset82(b)).count();
        assert_eq!(n, 82);
        assert!(CSET82.iter().all(|&b| is_cset82(b)));
        assert_eq!((0u8..=255).filter(|&b| is_r80(b)).count(), 80);
    }

    #[test]
    fn forbidden_characters_are_outside_cset82() {
        for b in b"#$@[\\]^`{|}~ \x1d\x7f" {
            assert!(!is_cset82(*b), "{}", *b as char);
        }
        assert!((0x80u8..=0xff).all(|b| !is_cset82(b)));
    }

    #[test]
    fn b64_values_follow_the_alphabet() {
        for (i, &c) in B64.iter().enumerate() {
            assert_eq!(b64_value(c), Some(i as u8));
            assert!(is_b64(c));
        }
        assert_eq!(b64_value(b'='), None);
    }
}
