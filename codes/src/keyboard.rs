//! Keyboard-wedge effects on scanned text (spec `codes.md` §12.5–12.6): the Russian ЙЦУКЕН layout
//! and Caps Lock. Forward maps (what a scanner in that state types) serve the distortion profiles;
//! reverse maps serve `normalize`. The Russian map is injective on CSET82, so reverting is exact.

/// US key → Russian character, for every key whose character changes (standard Windows layout).
pub const US_TO_RU: &[(char, char)] = &[
    ('q', 'й'),
    ('w', 'ц'),
    ('e', 'у'),
    ('r', 'к'),
    ('t', 'е'),
    ('y', 'н'),
    ('u', 'г'),
    ('i', 'ш'),
    ('o', 'щ'),
    ('p', 'з'),
    ('a', 'ф'),
    ('s', 'ы'),
    ('d', 'в'),
    ('f', 'а'),
    ('g', 'п'),
    ('h', 'р'),
    ('j', 'о'),
    ('k', 'л'),
    ('l', 'д'),
    ('z', 'я'),
    ('x', 'ч'),
    ('c', 'с'),
    ('v', 'м'),
    ('b', 'и'),
    ('n', 'т'),
    ('m', 'ь'),
    ('Q', 'Й'),
    ('W', 'Ц'),
    ('E', 'У'),
    ('R', 'К'),
    ('T', 'Е'),
    ('Y', 'Н'),
    ('U', 'Г'),
    ('I', 'Ш'),
    ('O', 'Щ'),
    ('P', 'З'),
    ('A', 'Ф'),
    ('S', 'Ы'),
    ('D', 'В'),
    ('F', 'А'),
    ('G', 'П'),
    ('H', 'Р'),
    ('J', 'О'),
    ('K', 'Л'),
    ('L', 'Д'),
    ('Z', 'Я'),
    ('X', 'Ч'),
    ('C', 'С'),
    ('V', 'М'),
    ('B', 'И'),
    ('N', 'Т'),
    ('M', 'Ь'),
    ('"', 'Э'),
    ('\'', 'э'),
    ('&', '?'),
    ('/', '.'),
    ('?', ','),
    (',', 'б'),
    ('<', 'Б'),
    ('.', 'ю'),
    ('>', 'Ю'),
    (':', 'Ж'),
    (';', 'ж'),
    ('[', 'х'),
    (']', 'ъ'),
    ('{', 'Х'),
    ('}', 'Ъ'),
    ('`', 'ё'),
    ('~', 'Ё'),
    ('@', '"'),
    ('#', '№'),
    ('$', ';'),
    ('^', ':'),
    ('|', '/'),
];

/// The character a scanner on the US key position of `c` types when the Russian layout is active.
pub fn us_to_ru(c: char) -> char {
    US_TO_RU.iter().find(|(us, _)| *us == c).map_or(c, |&(_, ru)| ru)
}

/// The US character behind a character typed with the Russian layout active.
pub fn ru_to_us(c: char) -> char {
    US_TO_RU.iter().find(|(_, ru)| *ru == c).map_or(c, |&(us, _)| us)
}

/// Type ASCII text with the Russian layout active.
pub fn type_russian(text: &str) -> String {
    text.chars().map(us_to_ru).collect()
}

/// True when `c` can only come from the Russian layout (Cyrillic letters and `№`).
pub fn is_russian_only(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{04FF}' | '№')
}

/// Revert text typed with the Russian layout, but only if it contains a character that proves the
/// layout was Russian (spec §12.5: `.`, `,`, `?` are valid code characters on their own).
pub fn revert_russian(text: &str) -> Option<String> {
    if !text.chars().any(is_russian_only) {
        return None;
    }
    Some(text.chars().map(ru_to_us).collect())
}

/// Caps Lock on the US layout: every ASCII letter changes case.
pub fn caps_us(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().map(|&b| if b.is_ascii_alphabetic() { b ^ 0x20 } else { b }).collect()
}

/// Caps Lock on the Russian layout, as typed text: every Cyrillic letter changes case.
pub fn caps_russian_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_lowercase() {
                c.to_uppercase().next().unwrap_or(c)
            } else if c.is_uppercase() && is_russian_only(c) {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

/// Caps Lock on the Russian layout, seen after the layout was reverted to US characters: letters
/// change case, and so do the characters on the Russian letter keys `ж э б ю х ъ ё`.
pub fn caps_ru_reverted(bytes: &[u8]) -> Vec<u8> {
    const PAIRS: &[(u8, u8)] =
        &[(b';', b':'), (b'\'', b'"'), (b',', b'<'), (b'.', b'>'), (b'[', b'{'), (b']', b'}'), (b'`', b'~')];
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphabetic() {
                return b ^ 0x20;
            }
            for &(x, y) in PAIRS {
                if b == x {
                    return y;
                }
                if b == y {
                    return x;
                }
            }
            b
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charset::CSET82;

    #[test]
    fn spec_example_russian_layout() {
        // §12.5: milk code with GS dropped.
        assert_eq!(type_russian("0104612345000438215aZ;q093Jm4t"), "0104612345000438215фЯжй093Оь4е");
        assert_eq!(type_russian("]d2"), "ъв2");
        assert_eq!(
            revert_russian("0104612345000438215фЯжй093Оь4е").unwrap(),
            "0104612345000438215aZ;q093Jm4t"
        );
    }

    #[test]
    fn spec_example_caps_lock() {
        assert_eq!(caps_us(b"0104612345000438215aZ;q0\x1d93Jm4t"), b"0104612345000438215Az;Q0\x1d93jM4T");
        let ru_caps = caps_russian_text(&type_russian("0104612345000438215aZ;q093Jm4t"));
        assert_eq!(ru_caps, "0104612345000438215ФяЖЙ093оЬ4Е");
        let reverted = revert_russian(&ru_caps).unwrap();
        assert_eq!(caps_ru_reverted(reverted.as_bytes()), b"0104612345000438215aZ;q093Jm4t");
    }

    #[test]
    fn russian_map_is_injective_on_cset82_and_reverts_exactly() {
        let typed: Vec<char> = CSET82.iter().map(|&b| us_to_ru(b as char)).collect();
        let mut dedup = typed.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), typed.len());
        for &b in CSET82 {
            assert_eq!(ru_to_us(us_to_ru(b as char)), b as char);
        }
    }

    #[test]
    fn no_revert_without_proof() {
        assert_eq!(revert_russian("01046?.,"), None);
    }
}
