//! Tobacco MRP (МРЦ) in base 80 (spec `codes.md` §6): four characters of the pack code, most
//! significant first, over the alphabet `A-Z a-z 0-9 !"%&'*+-./_,:;=<>?`. Case-sensitive.

/// The MRP alphabet, in value order.
pub const ALPHABET: &[u8; 80] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!\"%&'*+-./_,:;=<>?";

/// Exclusive upper bound of an encodable MRP in kopecks (80⁴).
pub const LIMIT: u32 = 80 * 80 * 80 * 80;

/// Largest MRP (kopecks) the plausibility heuristic accepts (§6.5).
pub const PLAUSIBLE_MAX_KOPECKS: u32 = 500_000;

const fn build_index() -> [u8; 256] {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 80 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
}

const INDEX: [u8; 256] = build_index();

/// Value of one MRP character, or `None` outside the alphabet (including `(` and `)`).
pub const fn digit(c: u8) -> Option<u32> {
    match INDEX[c as usize] {
        0xFF => None,
        v => Some(v as u32),
    }
}

/// Decode four MRP characters into kopecks; `Err(i)` names the first character outside the alphabet.
pub fn decode(chars: &[u8; 4]) -> Result<u32, usize> {
    let mut v = 0u32;
    for (i, &c) in chars.iter().enumerate() {
        v = v * 80 + digit(c).ok_or(i)?;
    }
    Ok(v)
}

/// Encode kopecks (< 80⁴) as four MRP characters.
pub fn encode(kopecks: u32) -> Option<[u8; 4]> {
    if kopecks >= LIMIT {
        return None;
    }
    let mut out = [0u8; 4];
    let mut k = kopecks;
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(k % 80) as usize];
        k /= 80;
    }
    Some(out)
}

/// The §6.5 heuristic: a real MRP is at most 5 000 roubles and a whole number of roubles.
pub fn is_plausible(kopecks: u32) -> bool {
    kopecks <= PLAUSIBLE_MAX_KOPECKS && kopecks % 100 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_examples_of_the_spec() {
        let table = [
            (8_100, "ABVU"),
            (9_500, "ABm8"),
            (14_500, "ACVU"),
            (14_630, "ACW."),
            (16_800, "ACyA"),
            (18_500, "AC/U"),
            (19_900, "ADI8"),
            (0, "AAAA"),
        ];
        for (k, s) in table {
            let c: [u8; 4] = s.as_bytes().try_into().unwrap();
            assert_eq!(decode(&c), Ok(k), "{s}");
            assert_eq!(&encode(k).unwrap(), s.as_bytes(), "{k}");
        }
    }

    #[test]
    fn lookup_is_case_sensitive_and_rejects_parentheses() {
        assert_eq!(digit(b'a'), Some(26));
        assert_eq!(digit(b'A'), Some(0));
        assert_eq!(decode(b"AC(U"), Err(2));
        assert_eq!(decode(b")AAA"), Err(0));
        assert_eq!(encode(LIMIT), None);
        assert_eq!(decode(b"????"), Ok(LIMIT - 1));
    }

    #[test]
    fn alphabet_is_r80() {
        let mut seen = [false; 256];
        for &c in ALPHABET {
            assert!(crate::charset::is_r80(c));
            assert!(!seen[c as usize]);
            seen[c as usize] = true;
        }
    }

    #[test]
    fn plausibility() {
        assert!(is_plausible(18_500));
        assert!(is_plausible(0));
        assert!(!is_plausible(14_630));
        assert!(!is_plausible(600_000));
    }
}
