//! The text form of codes on the command line and in fixtures: ⟨GS⟩ as `\u001d`, other control
//! bytes as `\u00XX`, invalid UTF-8 as `\xHH`, a backslash as `\\`. [`unescape`] reads it back and
//! also accepts `<GS>` for ⟨GS⟩, as typed by people and 1C scripts.

use crate::charset::GS;

/// Escape bytes into printable text (see the module doc). Valid non-ASCII UTF-8 (e.g. Cyrillic from a
/// Russian keyboard layout) is kept as is, so the text shows what a person would see. The `<` of a
/// literal `<GS>` is written `\u003c`, so that [`unescape`] gives back the four characters.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        for (i, c) in valid.char_indices() {
            match c {
                '\\' => out.push_str("\\\\"),
                // A literal `<GS>` text (a scanner typing it) must not read back as ⟨GS⟩.
                '<' if valid[i..].starts_with("<GS>") => out.push_str("\\u003c"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Read escaped text back into bytes: `\u001d` (any case) and `<GS>` become ⟨GS⟩, `\uXXXX` the UTF-8
/// of that character, `\xHH` the byte, `\\` a backslash. Anything else is kept literally.
pub fn unescape(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if rest.starts_with(b"<GS>") {
            out.push(GS);
            i += 4;
        } else if rest.starts_with(b"\\\\") {
            out.push(b'\\');
            i += 2;
        } else if let Some(cp) = rest.strip_prefix(b"\\u").and_then(|r| hex(r, 4)) {
            match char::from_u32(cp) {
                Some(c) => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                None => out.extend_from_slice(&rest[..6]),
            }
            i += 6;
        } else if let Some(b) = rest.strip_prefix(b"\\x").and_then(|r| hex(r, 2)) {
            out.push(b as u8);
            i += 4;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

fn hex(s: &[u8], n: usize) -> Option<u32> {
    let digits = s.get(..n)?;
    let text = std::str::from_utf8(digits).ok()?;
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gs_and_controls() {
        assert_eq!(escape(b"01\x1d93ab\r\n"), "01\\u001d93ab\\u000d\\u000a");
        assert_eq!(unescape(b"01\\u001d93<GS>x\\u001D"), b"01\x1d93\x1dx\x1d");
    }

    #[test]
    fn invalid_utf8_and_cyrillic() {
        assert_eq!(escape(b"\xe8ab"), "\\xe8ab");
        assert_eq!(escape("фЯж".as_bytes()), "фЯж");
        assert_eq!(unescape(b"\\xe8ab"), b"\xe8ab");
    }

    #[test]
    fn literal_escape_text_survives_a_round_trip() {
        // The 6-character text `\u001d` (double escaping, spec §12.8) is not ⟨GS⟩.
        let raw = b"01\\u001d93";
        assert_eq!(escape(raw), "01\\\\u001d93");
        assert_eq!(unescape(escape(raw).as_bytes()), raw);
    }

    #[test]
    fn literal_angle_gs_text_survives_a_round_trip() {
        assert_eq!(escape(b"a<GS>b<G"), "a\\u003cGS>b<G");
        assert_eq!(unescape(escape(b"<GS>").as_bytes()), b"<GS>");
        assert_eq!(unescape(b"a<GS>b"), b"a\x1db");
    }

    #[test]
    fn round_trip_on_all_bytes() {
        let all: Vec<u8> = (0u8..=255).collect();
        assert_eq!(unescape(escape(&all).as_bytes()), all);
    }

    #[test]
    fn malformed_escapes_are_literal() {
        assert_eq!(unescape(b"\\u00"), b"\\u00");
        assert_eq!(unescape(b"\\xZZ"), b"\\xZZ");
        assert_eq!(unescape(b"\\ud800"), b"\\ud800");
    }
}
