//! Structural mutation catalogue (spec `codes.md` §13.2, items 1–11): owns [`Mutation`], one variant
//! per concrete damage (⟨GS⟩ loss and substitutes, truncation, serial length, AI look-alikes,
//! duplicated and reordered AIs, GTIN damage, foreign characters, base64 tails, pack specifics,
//! double scans), and [`Mutation::must_be_rejected`], which says whether the strict parser must
//! reject every result.
//!
//! Mutations work on bytes, not on a [`crate::generate::CodeSpec`]: they locate the parts of a code
//! with the same element reading as the parser (AI table lookups, ⟨GS⟩-terminated variable values)
//! and never panic, whatever the input.

use crate::charset::{B64, CSET82, GS};
use crate::element::{read_at, Element, ElementRead};
use crate::generate::AI_LOOKALIKES;
use crate::gtin;
use crate::mrp;
use arbitrary::{Arbitrary, Unstructured};
use rand::Rng;
use serde::Serialize;

/// What a scanner or a program puts where ⟨GS⟩ belongs (§12.2, §12.7, §13.2 item 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GsSubstitute {
    /// The byte 0xE8 (the FNC1 codeword leaked as a character).
    Fnc1E8,
    /// The 4 characters `<GS>`.
    AngleGs,
    /// The 6 characters `\u001d` (escaped text).
    EscapedU001d,
    /// The 2 digits `29`.
    Digits29,
    /// `!` (a valid serial character).
    Bang,
    /// `~`.
    Tilde,
    /// `|`.
    Pipe,
    /// A space.
    Space,
    /// A TAB.
    Tab,
    /// The two letters `G`, `S` (typed into a label generator's source data).
    LettersGs,
    /// 0x1C (file separator), rendered by label generators after a mode change.
    Fs,
}

impl GsSubstitute {
    /// Every substitute.
    pub const ALL: [GsSubstitute; 11] = [
        GsSubstitute::Fnc1E8,
        GsSubstitute::AngleGs,
        GsSubstitute::EscapedU001d,
        GsSubstitute::Digits29,
        GsSubstitute::Bang,
        GsSubstitute::Tilde,
        GsSubstitute::Pipe,
        GsSubstitute::Space,
        GsSubstitute::Tab,
        GsSubstitute::LettersGs,
        GsSubstitute::Fs,
    ];

    /// The bytes written instead of ⟨GS⟩.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            GsSubstitute::Fnc1E8 => b"\xE8",
            GsSubstitute::AngleGs => b"<GS>",
            GsSubstitute::EscapedU001d => b"\\u001d",
            GsSubstitute::Digits29 => b"29",
            GsSubstitute::Bang => b"!",
            GsSubstitute::Tilde => b"~",
            GsSubstitute::Pipe => b"|",
            GsSubstitute::Space => b" ",
            GsSubstitute::Tab => b"\t",
            GsSubstitute::LettersGs => b"GS",
            GsSubstitute::Fs => b"\x1C",
        }
    }

    /// Stable snake_case name (as serialised).
    pub fn name(self) -> &'static str {
        match self {
            GsSubstitute::Fnc1E8 => "fnc1_e8",
            GsSubstitute::AngleGs => "angle_gs",
            GsSubstitute::EscapedU001d => "escaped_u001d",
            GsSubstitute::Digits29 => "digits29",
            GsSubstitute::Bang => "bang",
            GsSubstitute::Tilde => "tilde",
            GsSubstitute::Pipe => "pipe",
            GsSubstitute::Space => "space",
            GsSubstitute::Tab => "tab",
            GsSubstitute::LettersGs => "letters_gs",
            GsSubstitute::Fs => "fs",
        }
    }
}

/// One structural mutation of §13.2. [`Mutation::apply`] performs it on code bytes.
///
/// "Rejected" below means [`Mutation::must_be_rejected`] is true: applied to any code that
/// [`crate::generate::CodeSpec::render`] produces, the result never parses. The other mutations can
/// produce another valid code, for the reason given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mutation {
    /// Item 1: remove one ⟨GS⟩. Rejected.
    DropOneGs,
    /// Item 1: remove every ⟨GS⟩ (keyboard wedge). Rejected (the GS-less form is never accepted).
    DropAllGs,
    /// Item 1: insert ⟨GS⟩ inside an element (never next to another ⟨GS⟩, never after a
    /// pre-defined-length element, where it would be a harmless redundant separator). Rejected.
    InsertGsWrongPlace,
    /// Item 1: prepend ⟨GS⟩. Rejected.
    LeadingGs,
    /// Item 1: append ⟨GS⟩. Rejected.
    TrailingGs,
    /// Item 1: double one ⟨GS⟩. Rejected.
    DoubledGs,
    /// Item 2: replace every ⟨GS⟩ with a substitute. Rejected, except `!`: an S13-93 code with `!`
    /// for ⟨GS⟩ is a valid KI-only code with a 20-character serial.
    ReplaceGs {
        /// What stands where ⟨GS⟩ was.
        substitute: GsSubstitute,
    },
    /// Item 3: keep a random non-empty proper prefix. Not rejected: a prefix ending after the serial
    /// is a valid KI-only code, one ending after AI 93 of weighed milk a valid milk code.
    Truncate,
    /// Item 3: cut inside the AI 92 signature (after AI 91). Rejected.
    TruncateInSignature,
    /// Item 3: cut right after the AI 91 key id. Rejected.
    TruncateAfterKeyId,
    /// Item 3: cut inside the AI 93 value (0–3 of its 4 characters left). Rejected.
    TruncateInCheck,
    /// Item 4: one more serial character. Not rejected: milk (6) becomes beer (7), KI-only 6 ↔ 7.
    SerialLenPlusOne,
    /// Item 4: one serial character less. Not rejected: beer (7) becomes milk (6).
    SerialLenMinusOne,
    /// Item 4: the serial length of another group (6 ↔ 7 ↔ 13 ↔ 20), keeping the tail. Not
    /// rejected: S13-44 ↔ S20-44, S13-93 → milk/beer are valid.
    SerialOtherGroupLength,
    /// Item 5: overwrite AI look-alike digits (`91`, `93`, `8005`, …) into the serial or the AI 93 /
    /// pack check value, keeping lengths. Not rejected: it keeps the code valid by design (except
    /// where a KI-only code turns into a GS-less beer code).
    InjectLookalike,
    /// Item 6: repeat one element right after itself. Rejected.
    DuplicateAi,
    /// Item 6: swap two adjacent elements (never the AI 93 / 3103 pair). Rejected.
    ReorderAi,
    /// Item 6: move AI 3103 before AI 93 in weighed milk. Not rejected: §5.3 lets parsers accept it.
    WeightBefore93,
    /// Item 6: move the shoe AI 240 after AI 91. Rejected.
    Ai240AfterKeyId,
    /// Item 7: another GTIN check digit. Rejected.
    GtinWrongCheckDigit,
    /// Item 7: drop one GTIN digit (13 digits). Rejected.
    Gtin13Digits,
    /// Item 7: a letter in place of a GTIN digit. Rejected.
    GtinNonDigit,
    /// Item 7: give a tobacco pack a GTIN starting `01` (without `21` at offset 16). Not rejected: it is
    /// a valid pack (§5.3: `^01` alone does not mean GS1).
    PackGtin01,
    /// Item 7: a tobacco pack with a GTIN starting `01`, a valid GTIN-14 at `[2..16]` and `21` at
    /// offset 16, so that `^01\d{14}21` matches. Rejected: §9.1 step 2 excludes such a string from
    /// `TOB-PACK`, and as a GS1 string it has no valid reading.
    PackLooksGs1,
    /// Item 8: one byte replaced by a character outside CSET82 (`#`, `$`, `@`, `[`, `{`, `~`, `` ` ``,
    /// space, DEL, 0x00, ≥ 0x80). Rejected.
    ForbiddenChar,
    /// Item 8: one Latin letter replaced by its Cyrillic look-alike (`А В Е К М Н О Р С Т Х`, …).
    /// Rejected.
    CyrillicLookalike,
    /// Item 9: the `=` padding of AI 92 removed. Rejected.
    SignaturePaddingRemoved,
    /// Item 9: wrong padding at the right length (`…==` in 44, `…X=` in 88). Rejected.
    SignatureWrongPadding,
    /// Item 9: one base64 character more or less (43/45/87/89). Rejected.
    SignatureLengthOff,
    /// Item 10: `(` or `)` in the pack MRP field. Rejected.
    PackParenInMrp,
    /// Item 10: a pack MRP above 500 000 kopecks. Not rejected: implausible prices are a warning.
    PackMrpTooHigh,
    /// Item 10: a pack of 28 characters. Rejected.
    PackLength28,
    /// Item 10: a pack of 30 characters. Rejected.
    PackLength30,
    /// Item 11: the code twice in a row. Rejected.
    DoubleScan,
    /// Item 11: an EAN-13 right after the code. Not rejected: a KI-only code with a 7-character
    /// serial plus 13 digits is a KI-only code with a 20-character serial.
    EanAppended,
}

impl Mutation {
    /// Every mutation (each GS substitute separately).
    pub const ALL: &'static [Mutation] = &[
        Mutation::DropOneGs,
        Mutation::DropAllGs,
        Mutation::InsertGsWrongPlace,
        Mutation::LeadingGs,
        Mutation::TrailingGs,
        Mutation::DoubledGs,
        Mutation::ReplaceGs { substitute: GsSubstitute::Fnc1E8 },
        Mutation::ReplaceGs { substitute: GsSubstitute::AngleGs },
        Mutation::ReplaceGs { substitute: GsSubstitute::EscapedU001d },
        Mutation::ReplaceGs { substitute: GsSubstitute::Digits29 },
        Mutation::ReplaceGs { substitute: GsSubstitute::Bang },
        Mutation::ReplaceGs { substitute: GsSubstitute::Tilde },
        Mutation::ReplaceGs { substitute: GsSubstitute::Pipe },
        Mutation::ReplaceGs { substitute: GsSubstitute::Space },
        Mutation::ReplaceGs { substitute: GsSubstitute::Tab },
        Mutation::ReplaceGs { substitute: GsSubstitute::LettersGs },
        Mutation::ReplaceGs { substitute: GsSubstitute::Fs },
        Mutation::Truncate,
        Mutation::TruncateInSignature,
        Mutation::TruncateAfterKeyId,
        Mutation::TruncateInCheck,
        Mutation::SerialLenPlusOne,
        Mutation::SerialLenMinusOne,
        Mutation::SerialOtherGroupLength,
        Mutation::InjectLookalike,
        Mutation::DuplicateAi,
        Mutation::ReorderAi,
        Mutation::WeightBefore93,
        Mutation::Ai240AfterKeyId,
        Mutation::GtinWrongCheckDigit,
        Mutation::Gtin13Digits,
        Mutation::GtinNonDigit,
        Mutation::PackGtin01,
        Mutation::PackLooksGs1,
        Mutation::ForbiddenChar,
        Mutation::CyrillicLookalike,
        Mutation::SignaturePaddingRemoved,
        Mutation::SignatureWrongPadding,
        Mutation::SignatureLengthOff,
        Mutation::PackParenInMrp,
        Mutation::PackMrpTooHigh,
        Mutation::PackLength28,
        Mutation::PackLength30,
        Mutation::DoubleScan,
        Mutation::EanAppended,
    ];

    /// Stable snake_case name, unique per entry of [`Mutation::ALL`].
    pub fn name(&self) -> &'static str {
        match self {
            Mutation::DropOneGs => "drop_one_gs",
            Mutation::DropAllGs => "drop_all_gs",
            Mutation::InsertGsWrongPlace => "insert_gs_wrong_place",
            Mutation::LeadingGs => "leading_gs",
            Mutation::TrailingGs => "trailing_gs",
            Mutation::DoubledGs => "doubled_gs",
            Mutation::ReplaceGs { substitute } => match substitute {
                GsSubstitute::Fnc1E8 => "replace_gs_fnc1_e8",
                GsSubstitute::AngleGs => "replace_gs_angle_gs",
                GsSubstitute::EscapedU001d => "replace_gs_escaped_u001d",
                GsSubstitute::Digits29 => "replace_gs_digits29",
                GsSubstitute::Bang => "replace_gs_bang",
                GsSubstitute::Tilde => "replace_gs_tilde",
                GsSubstitute::Pipe => "replace_gs_pipe",
                GsSubstitute::Space => "replace_gs_space",
                GsSubstitute::Tab => "replace_gs_tab",
                GsSubstitute::LettersGs => "replace_gs_letters_gs",
                GsSubstitute::Fs => "replace_gs_fs",
            },
            Mutation::Truncate => "truncate",
            Mutation::TruncateInSignature => "truncate_in_signature",
            Mutation::TruncateAfterKeyId => "truncate_after_key_id",
            Mutation::TruncateInCheck => "truncate_in_check",
            Mutation::SerialLenPlusOne => "serial_len_plus_one",
            Mutation::SerialLenMinusOne => "serial_len_minus_one",
            Mutation::SerialOtherGroupLength => "serial_other_group_length",
            Mutation::InjectLookalike => "inject_lookalike",
            Mutation::DuplicateAi => "duplicate_ai",
            Mutation::ReorderAi => "reorder_ai",
            Mutation::WeightBefore93 => "weight_before_93",
            Mutation::Ai240AfterKeyId => "ai240_after_key_id",
            Mutation::GtinWrongCheckDigit => "gtin_wrong_check_digit",
            Mutation::Gtin13Digits => "gtin13_digits",
            Mutation::GtinNonDigit => "gtin_non_digit",
            Mutation::PackGtin01 => "pack_gtin01",
            Mutation::PackLooksGs1 => "pack_looks_gs1",
            Mutation::ForbiddenChar => "forbidden_char",
            Mutation::CyrillicLookalike => "cyrillic_lookalike",
            Mutation::SignaturePaddingRemoved => "signature_padding_removed",
            Mutation::SignatureWrongPadding => "signature_wrong_padding",
            Mutation::SignatureLengthOff => "signature_length_off",
            Mutation::PackParenInMrp => "pack_paren_in_mrp",
            Mutation::PackMrpTooHigh => "pack_mrp_too_high",
            Mutation::PackLength28 => "pack_length28",
            Mutation::PackLength30 => "pack_length30",
            Mutation::DoubleScan => "double_scan",
            Mutation::EanAppended => "ean_appended",
        }
    }

    /// The mutation named `name` (as printed by [`Mutation::name`]).
    pub fn from_name(name: &str) -> Option<Mutation> {
        Mutation::ALL.iter().copied().find(|m| m.name() == name)
    }

    /// The item of spec §13.2 this mutation belongs to (1–11).
    pub fn spec_item(&self) -> u8 {
        match self {
            Mutation::DropOneGs
            | Mutation::DropAllGs
            | Mutation::InsertGsWrongPlace
            | Mutation::LeadingGs
            | Mutation::TrailingGs
            | Mutation::DoubledGs => 1,
            Mutation::ReplaceGs { .. } => 2,
            Mutation::Truncate
            | Mutation::TruncateInSignature
            | Mutation::TruncateAfterKeyId
            | Mutation::TruncateInCheck => 3,
            Mutation::SerialLenPlusOne | Mutation::SerialLenMinusOne | Mutation::SerialOtherGroupLength => 4,
            Mutation::InjectLookalike => 5,
            Mutation::DuplicateAi
            | Mutation::ReorderAi
            | Mutation::WeightBefore93
            | Mutation::Ai240AfterKeyId => 6,
            Mutation::GtinWrongCheckDigit
            | Mutation::Gtin13Digits
            | Mutation::GtinNonDigit
            | Mutation::PackGtin01
            | Mutation::PackLooksGs1 => 7,
            Mutation::ForbiddenChar | Mutation::CyrillicLookalike => 8,
            Mutation::SignaturePaddingRemoved
            | Mutation::SignatureWrongPadding
            | Mutation::SignatureLengthOff => 9,
            Mutation::PackParenInMrp
            | Mutation::PackMrpTooHigh
            | Mutation::PackLength28
            | Mutation::PackLength30 => 10,
            Mutation::DoubleScan | Mutation::EanAppended => 11,
        }
    }

    /// True when applying this mutation to any code [`crate::generate::CodeSpec::render`] produces
    /// always yields bytes that the strict [`crate::parse::parse`] rejects (see each variant).
    ///
    /// The guarantee covers canonical codes of the shapes the generator emits; it does not cover the
    /// rare block variants with AI 92 / 240 (an extra ⟨GS⟩ inside such a free-length value can split
    /// it into two valid elements).
    pub fn must_be_rejected(&self) -> bool {
        match self {
            Mutation::ReplaceGs { substitute } => *substitute != GsSubstitute::Bang,
            Mutation::Truncate
            | Mutation::SerialLenPlusOne
            | Mutation::SerialLenMinusOne
            | Mutation::SerialOtherGroupLength
            | Mutation::InjectLookalike
            | Mutation::WeightBefore93
            | Mutation::PackGtin01
            | Mutation::PackMrpTooHigh
            | Mutation::EanAppended => false,
            _ => true,
        }
    }

    /// Apply the mutation to `code`. `None` when it does not apply (e.g. a signature mutation on a
    /// milk code, a ⟨GS⟩ mutation on a code without ⟨GS⟩, anything on empty input). Never panics.
    pub fn apply<R: Rng + ?Sized>(&self, code: &[u8], rng: &mut R) -> Option<Vec<u8>> {
        if code.is_empty() {
            return None;
        }
        match *self {
            Mutation::DropOneGs => {
                let at = pick(rng, &gs_positions(code))?;
                Some(remove(code, at))
            }
            Mutation::DropAllGs => {
                code.contains(&GS).then(|| code.iter().copied().filter(|&b| b != GS).collect())
            }
            Mutation::InsertGsWrongPlace => insert_gs_wrong_place(code, rng),
            Mutation::LeadingGs => Some([&[GS], code].concat()),
            Mutation::TrailingGs => Some([code, &[GS]].concat()),
            Mutation::DoubledGs => {
                let at = pick(rng, &gs_positions(code))?;
                Some(insert(code, at, &[GS]))
            }
            Mutation::ReplaceGs { substitute } => code.contains(&GS).then(|| {
                let mut out = Vec::with_capacity(code.len() + 16);
                for &b in code {
                    if b == GS {
                        out.extend_from_slice(substitute.bytes());
                    } else {
                        out.push(b);
                    }
                }
                out
            }),
            Mutation::Truncate => {
                let cut = 1 + below(rng, code.len() - 1)?;
                Some(code[..cut].to_vec())
            }
            Mutation::TruncateInSignature => {
                let sig = signature_element(code)?;
                let (s, e) = sig.value;
                let cut = s + below(rng, e - s)?;
                Some(code[..cut].to_vec())
            }
            Mutation::TruncateAfterKeyId => {
                let elems = elements(code)?;
                let i = elems.iter().position(|e| e.ai == "91")?;
                elems.get(i + 1)?;
                Some(code[..elems[i].value.1].to_vec())
            }
            Mutation::TruncateInCheck => {
                if !code.contains(&GS) {
                    return None;
                }
                let e = elements(code)?.into_iter().find(|e| e.ai == "93")?;
                let (s, end) = e.value;
                let cut = s + below(rng, end - s)?;
                Some(code[..cut].to_vec())
            }
            Mutation::SerialLenPlusOne => {
                let (s, e) = serial_span(code)?;
                let at = s + below(rng, e - s + 1)?;
                Some(insert(code, at, &[random_c82(rng)]))
            }
            Mutation::SerialLenMinusOne => {
                let (s, e) = serial_span(code)?;
                let at = s + below(rng, e - s)?;
                Some(remove(code, at))
            }
            Mutation::SerialOtherGroupLength => {
                let (s, e) = serial_span(code)?;
                let lens: Vec<usize> = [6, 7, 13, 20].into_iter().filter(|&n| n != e - s).collect();
                let want = *pick(rng, &lens).and_then(|i| lens.get(i))?;
                let mut serial = code[s..e.min(s + want)].to_vec();
                while serial.len() < want {
                    serial.push(random_c82(rng));
                }
                Some([&code[..s], &serial, &code[e..]].concat())
            }
            Mutation::InjectLookalike => inject_lookalike(code, rng),
            Mutation::DuplicateAi => {
                let mut elems = elements(code)?;
                let i = below(rng, elems.len())?;
                elems.insert(i + 1, elems[i]);
                Some(join(code, &elems))
            }
            Mutation::ReorderAi => {
                let mut elems = elements(code)?;
                let pairs: Vec<usize> = (0..elems.len().saturating_sub(1))
                    .filter(|&i| {
                        let (a, b) = (elems[i].family(), elems[i + 1].family());
                        !matches!((a, b), ("93", "3103") | ("3103", "93"))
                    })
                    .collect();
                let i = *pairs.get(pick(rng, &pairs)?)?;
                elems.swap(i, i + 1);
                Some(join(code, &elems))
            }
            Mutation::WeightBefore93 => {
                let mut elems = elements(code)?;
                let i = elems.iter().position(|e| e.ai == "93")?;
                let j = elems.iter().position(|e| e.ai == "3103").filter(|&j| j > i)?;
                let w = elems.remove(j);
                elems.insert(i, w);
                Some(join(code, &elems))
            }
            Mutation::Ai240AfterKeyId => {
                let mut elems = elements(code)?;
                let i = elems.iter().position(|e| e.ai == "240")?;
                let j = elems.iter().position(|e| e.ai == "91").filter(|&j| j > i)?;
                let t = elems.remove(i);
                elems.insert(j, t);
                Some(join(code, &elems))
            }
            Mutation::GtinWrongCheckDigit => {
                let at = gtin_start(code)? + 13;
                let d = code[at].wrapping_sub(b'0');
                let other = b'0' + (d + 1 + below(rng, 9)? as u8) % 10;
                let mut out = code.to_vec();
                out[at] = other;
                Some(out)
            }
            Mutation::Gtin13Digits => {
                let at = gtin_start(code)? + below(rng, 14)?;
                Some(remove(code, at))
            }
            Mutation::GtinNonDigit => {
                let at = gtin_start(code)? + below(rng, 14)?;
                let letters = &CSET82[CSET82.len() - 52..];
                let mut out = code.to_vec();
                out[at] = letters[below(rng, letters.len())?];
                Some(out)
            }
            Mutation::PackGtin01 => pack_gtin01(code, false, rng),
            Mutation::PackLooksGs1 => pack_gtin01(code, true, rng),
            Mutation::ForbiddenChar => {
                let at = below(rng, code.len())?;
                let mut out = code.to_vec();
                out[at] = forbidden_byte(rng);
                Some(out)
            }
            Mutation::CyrillicLookalike => {
                let spots: Vec<usize> =
                    (0..code.len()).filter(|&i| cyrillic_for(code[i]).is_some()).collect();
                let at = *spots.get(pick(rng, &spots)?)?;
                let cyr = cyrillic_for(code[at])?;
                let mut buf = [0u8; 4];
                let mut out = code[..at].to_vec();
                out.extend_from_slice(cyr.encode_utf8(&mut buf).as_bytes());
                out.extend_from_slice(&code[at + 1..]);
                Some(out)
            }
            Mutation::SignaturePaddingRemoved => {
                let (s, e) = signature_element(code)?.value;
                let data_end = e - code[s..e].iter().rev().take_while(|&&b| b == b'=').count();
                (data_end < e).then(|| [&code[..data_end], &code[e..]].concat())
            }
            Mutation::SignatureWrongPadding => {
                let (s, e) = signature_element(code)?.value;
                let v = &code[s..e];
                let mut out = code.to_vec();
                if v.len() >= 3 && v.ends_with(b"==") {
                    out[e - 2] = B64[below(rng, B64.len())?];
                } else if v.len() >= 2 && v.ends_with(b"=") {
                    out[e - 2] = b'=';
                } else {
                    return None;
                }
                Some(out)
            }
            Mutation::SignatureLengthOff => {
                let (s, e) = signature_element(code)?.value;
                let data_end = e - code[s..e].iter().rev().take_while(|&&b| b == b'=').count();
                if data_end == s {
                    return None;
                }
                if rng.random_bool(0.5) {
                    Some(remove(code, s + below(rng, data_end - s)?))
                } else {
                    let at = s + below(rng, data_end - s + 1)?;
                    Some(insert(code, at, &[B64[below(rng, B64.len())?]]))
                }
            }
            Mutation::PackParenInMrp => {
                if !is_pack_like(code) {
                    return None;
                }
                let mut out = code.to_vec();
                out[21 + below(rng, 4)?] = if rng.random_bool(0.5) { b'(' } else { b')' };
                Some(out)
            }
            Mutation::PackMrpTooHigh => {
                if !is_pack_like(code) {
                    return None;
                }
                let k = rng.random_range(mrp::PLAUSIBLE_MAX_KOPECKS + 1..mrp::LIMIT);
                let chars = mrp::encode(k)?;
                let mut out = code.to_vec();
                out[21..25].copy_from_slice(&chars);
                Some(out)
            }
            Mutation::PackLength28 => {
                if !is_pack_like(code) {
                    return None;
                }
                Some(remove(code, below(rng, code.len())?))
            }
            Mutation::PackLength30 => {
                if !is_pack_like(code) {
                    return None;
                }
                let at = below(rng, code.len() + 1)?;
                Some(insert(code, at, &[random_c82(rng)]))
            }
            Mutation::DoubleScan => Some([code, code].concat()),
            Mutation::EanAppended => {
                let mut ean = b"46".to_vec();
                for _ in 0..10 {
                    ean.push(b'0' + below(rng, 10)? as u8);
                }
                ean.push(b'0' + gtin::check_digit(&ean)?);
                Some([code, &ean].concat())
            }
        }
    }
}

impl<'a> Arbitrary<'a> for Mutation {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        u.choose(Mutation::ALL).copied()
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers. Every index is checked; nothing here may panic on arbitrary bytes.

/// A value in `0..n`, or `None` when `n == 0`.
fn below<R: Rng + ?Sized>(rng: &mut R, n: usize) -> Option<usize> {
    (n > 0).then(|| rng.random_range(0..n))
}

/// A random index into `items`, or `None` when it is empty.
fn pick<R: Rng + ?Sized, T>(rng: &mut R, items: &[T]) -> Option<usize> {
    below(rng, items.len())
}

fn random_c82<R: Rng + ?Sized>(rng: &mut R) -> u8 {
    CSET82[rng.random_range(0..CSET82.len())]
}

fn gs_positions(code: &[u8]) -> Vec<usize> {
    (0..code.len()).filter(|&i| code[i] == GS).collect()
}

fn remove(code: &[u8], at: usize) -> Vec<u8> {
    let mut out = code.to_vec();
    if at < out.len() {
        out.remove(at);
    }
    out
}

fn insert(code: &[u8], at: usize, bytes: &[u8]) -> Vec<u8> {
    let at = at.min(code.len());
    [&code[..at], bytes, &code[at..]].concat()
}

/// 29 bytes, no ⟨GS⟩, 14 leading digits: read as a tobacco pack.
fn is_pack_like(code: &[u8]) -> bool {
    code.len() == 29 && !code.contains(&GS) && code[..14].iter().all(u8::is_ascii_digit)
}

/// Offset of the 14 GTIN digits: 0 in a pack, 2 after AI `01`.
fn gtin_start(code: &[u8]) -> Option<usize> {
    if is_pack_like(code) {
        Some(0)
    } else if code.starts_with(b"01") && code.len() >= 16 && code[2..16].iter().all(u8::is_ascii_digit) {
        Some(2)
    } else {
        None
    }
}

/// Most elements read before giving up (a marking code has at most six).
const MAX_ELEMENTS: usize = 16;

/// The elements of a GS1 code, read like the parser does; `None` for packs, codes not starting with
/// `01`, unknown AIs and cut pre-defined values.
fn elements(code: &[u8]) -> Option<Vec<Element>> {
    if !code.starts_with(b"01") || is_pack_like(code) {
        return None;
    }
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < code.len() {
        if code[pos] == GS {
            pos += 1;
            continue;
        }
        let ElementRead::Element(e) = read_at(code, pos) else { return None };
        if out.len() == MAX_ELEMENTS {
            return None;
        }
        out.push(e);
        let vend = e.value.1;
        pos = vend;
    }
    Some(out)
}

/// Write elements back in the given order, ⟨GS⟩ after each variable-length element but the last.
fn join(code: &[u8], elems: &[Element]) -> Vec<u8> {
    let mut out = Vec::with_capacity(code.len() + 4);
    for (i, e) in elems.iter().enumerate() {
        out.extend_from_slice(code.get(e.at..e.value.1).unwrap_or_default());
        if !e.fixed && i + 1 < elems.len() {
            out.push(GS);
        }
    }
    out
}

/// The serial span: 14..21 of a pack, the AI 21 value of a GS1 code.
fn serial_span(code: &[u8]) -> Option<(usize, usize)> {
    if is_pack_like(code) {
        return Some((14, 21));
    }
    elements(code)?.get(1).filter(|e| e.ai == "21").map(|e| e.value)
}

/// The AI 92 element of a code that has an AI 91 before it.
fn signature_element(code: &[u8]) -> Option<Element> {
    let elems = elements(code)?;
    let key = elems.iter().position(|e| e.ai == "91")?;
    elems[key..].iter().find(|e| e.ai == "92").copied()
}

fn insert_gs_wrong_place<R: Rng + ?Sized>(code: &[u8], rng: &mut R) -> Option<Vec<u8>> {
    let fixed_ends: Vec<usize> =
        elements(code).unwrap_or_default().iter().filter(|e| e.fixed).map(|e| e.value.1).collect();
    // In a GS1 code without any ⟨GS⟩ (KI-only) a ⟨GS⟩ inside the serial can make a valid code of
    // another layout (`…21S6⟨GS⟩17YYMMDD93T4` is milk): stay within `01 GTIN 21`.
    let gs_less_gs1 = !code.contains(&GS) && !is_pack_like(code);
    let last = if gs_less_gs1 { 18 } else { code.len() };
    let spots: Vec<usize> = (1..code.len().min(last + 1))
        .filter(|&p| code[p - 1] != GS && code[p] != GS && !fixed_ends.contains(&p))
        .collect();
    let at = *spots.get(pick(rng, &spots)?)?;
    Some(insert(code, at, &[GS]))
}

fn inject_lookalike<R: Rng + ?Sized>(code: &[u8], rng: &mut R) -> Option<Vec<u8>> {
    let mut regions = Vec::new();
    if let Some((s, e)) = serial_span(code) {
        // Keep the EAEU country character of 13/20-character serials.
        let from = if e - s >= 13 { s + 1 } else { s };
        regions.push((from, e));
    }
    if is_pack_like(code) {
        regions.push((25, 29));
    } else if let Some(e) = elements(code).unwrap_or_default().iter().find(|e| e.ai == "93") {
        regions.push(e.value);
    }
    let (s, e) = regions[pick(rng, &regions)?];
    let token = AI_LOOKALIKES[below(rng, AI_LOOKALIKES.len())?].as_bytes();
    let room = (e - s).checked_sub(token.len())?;
    let at = s + below(rng, room + 1)?;
    let mut out = code.to_vec();
    out.get_mut(at..at + token.len())?.copy_from_slice(token);
    Some(out)
}

fn pack_gtin01<R: Rng + ?Sized>(code: &[u8], looks_gs1: bool, rng: &mut R) -> Option<Vec<u8>> {
    if !is_pack_like(code) {
        return None;
    }
    // Pack GTIN g0..g13 = `01` + 11 digits + check digit.
    let mut g = b"01".to_vec();
    for _ in 0..11 {
        g.push(b'0' + below(rng, 10)? as u8);
    }
    g.push(b'0' + gtin::check_digit(&g)?);
    let mut out = g.clone();
    if looks_gs1 {
        // Serial s0 s1 `21` …, where g2..g13 s0 s1 is itself a valid GTIN-14.
        let mut inner = g[2..14].to_vec();
        inner.push(b'0' + below(rng, 10)? as u8);
        out.push(inner[12]);
        out.push(b'0' + gtin::check_digit(&inner)?);
        out.extend_from_slice(b"21");
        out.extend_from_slice(&code[18..]);
    } else {
        out.extend_from_slice(&code[14..]);
        if &out[16..18] == b"21" {
            out[16] = b'x';
        }
    }
    Some(out)
}

/// Characters outside CSET82 (§13.2 item 8); a byte ≥ 0x80 is drawn separately.
const FORBIDDEN: &[u8] = b"#$@[{~` \x7F\x00";

fn forbidden_byte<R: Rng + ?Sized>(rng: &mut R) -> u8 {
    let i = rng.random_range(0..=FORBIDDEN.len());
    FORBIDDEN.get(i).copied().unwrap_or_else(|| rng.random_range(0x80..=0xFF))
}

/// Latin letters and their Cyrillic look-alikes.
const CYRILLIC_LOOKALIKES: &[(u8, char)] = &[
    (b'A', 'А'),
    (b'B', 'В'),
    (b'E', 'Е'),
    (b'K', 'К'),
    (b'M', 'М'),
    (b'H', 'Н'),
    (b'O', 'О'),
    (b'P', 'Р'),
    (b'C', 'С'),
    (b'T', 'Т'),
    (b'X', 'Х'),
    (b'a', 'а'),
    (b'e', 'е'),
    (b'o', 'о'),
    (b'p', 'р'),
    (b'c', 'с'),
    (b'x', 'х'),
    (b'y', 'у'),
];

fn cyrillic_for(b: u8) -> Option<char> {
    CYRILLIC_LOOKALIKES.iter().find(|(l, _)| *l == b).map(|&(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const MILK: &[u8] = b"0104612345000438215K%x(1\x1d93pR7s\x1d3103000450";

    #[test]
    fn names_are_unique_and_round_trip() {
        for (i, m) in Mutation::ALL.iter().enumerate() {
            assert_eq!(Mutation::from_name(m.name()), Some(*m));
            assert!(Mutation::ALL[..i].iter().all(|p| p.name() != m.name()), "{}", m.name());
            assert!((1..=11).contains(&m.spec_item()));
        }
        let json = serde_json::to_string(&Mutation::ReplaceGs { substitute: GsSubstitute::Tilde }).unwrap();
        assert_eq!(json, r#"{"replace_gs":{"substitute":"tilde"}}"#);
        assert_eq!(serde_json::to_string(&Mutation::DropOneGs).unwrap(), r#""drop_one_gs""#);
    }

    #[test]
    fn element_reading_matches_the_layout() {
        let e = elements(MILK).unwrap();
        let ais: Vec<&str> = e.iter().map(|e| e.ai).collect();
        assert_eq!(ais, ["01", "21", "93", "3103"]);
        assert_eq!(join(MILK, &e), MILK);
        assert_eq!(serial_span(MILK), Some((18, 24)));
    }

    #[test]
    fn weight_before_93_writes_no_gs_after_the_weight() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let out = Mutation::WeightBefore93.apply(MILK, &mut rng).unwrap();
        assert_eq!(out, b"0104612345000438215K%x(1\x1d310300045093pR7s");
    }

    #[test]
    fn pack_gtin01_variants() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let pack = b"04612345000124Kx7;pQaAC/UZt9+";
        for _ in 0..50 {
            let plain = Mutation::PackGtin01.apply(pack, &mut rng).unwrap();
            assert_eq!(plain.len(), 29);
            assert!(plain.starts_with(b"01") && gtin::is_valid_gtin14(&plain[..14]));
            assert_ne!(&plain[16..18], b"21");
            let confuser = Mutation::PackLooksGs1.apply(pack, &mut rng).unwrap();
            assert_eq!(confuser.len(), 29);
            assert!(confuser.starts_with(b"01") && gtin::is_valid_gtin14(&confuser[..14]));
            assert!(gtin::is_valid_gtin14(&confuser[2..16]) && &confuser[16..18] == b"21");
        }
    }
}
