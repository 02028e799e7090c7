//! GTIN check digits (spec `codes.md` §4): mod-10 with weights 3,1,3,… from the rightmost data digit.
//! Works for GTIN-14, GTIN-13 (EAN-13) and GTIN-8 (EAN-8) alike.

/// Check digit for the data digits `body` (all ASCII digits), or `None` if a byte is not a digit.
pub fn check_digit(body: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, &d) in body.iter().rev().enumerate() {
        if !d.is_ascii_digit() {
            return None;
        }
        let w = if i % 2 == 0 { 3 } else { 1 };
        sum += u32::from(d - b'0') * w;
    }
    Some(((10 - sum % 10) % 10) as u8)
}

/// True when `g` is all digits and its last digit is the correct check digit (any length ≥ 2).
pub fn is_valid(g: &[u8]) -> bool {
    match g.split_last() {
        Some((&last, body)) if !body.is_empty() && last.is_ascii_digit() => {
            check_digit(body) == Some(last - b'0')
        }
        _ => false,
    }
}

/// True when `g` is a valid GTIN-14.
pub fn is_valid_gtin14(g: &[u8]) -> bool {
    g.len() == 14 && is_valid(g)
}

/// Complete a 13-digit body with its check digit into a GTIN-14.
pub fn complete(body13: &[u8; 13]) -> Option<[u8; 14]> {
    let c = check_digit(body13)?;
    let mut out = [0u8; 14];
    out[..13].copy_from_slice(body13);
    out[13] = b'0' + c;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_of_the_spec() {
        assert_eq!(check_digit(b"0461234500043"), Some(8));
        assert!(is_valid_gtin14(b"04612345000438"));
        assert!(!is_valid_gtin14(b"04612345000437"));
        assert_eq!(&complete(b"0461234500043").unwrap(), b"04612345000438");
    }

    #[test]
    fn spec_example_gtins_are_valid() {
        for g in [
            "04612345000124",
            "04612345000292",
            "04612345000360",
            "04612345000506",
            "04612345000674",
            "04612345000742",
            "04612345000988",
            "02900000123458",
            "04612345000810",
        ] {
            assert!(is_valid_gtin14(g.as_bytes()), "{g}");
        }
    }

    #[test]
    fn non_digits_and_wrong_lengths_are_invalid() {
        assert!(!is_valid_gtin14(b"0461234500043X"));
        assert!(!is_valid_gtin14(b"0461234500043"));
        assert!(!is_valid(b""));
        assert!(!is_valid(b"8"));
        assert!(is_valid(b"4600000000008") || !is_valid(b"4600000000008"));
        // EAN-13 and EAN-8 use the same rule.
        assert!(is_valid(b"4006381333931"));
        assert!(is_valid(b"96385074"));
    }
}
