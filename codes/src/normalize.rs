//! Lenient reading of what a scanner delivered (spec `codes.md` §11, §12.10).
//!
//! [`normalize`] turns a damaged scan back into the canonical code, or says why it cannot. It applies,
//! in the spec's order: Russian-layout revert (only when Cyrillic proves it), textual ⟨GS⟩ tokens,
//! transport prefixes and suffixes, ⟨GS⟩ restoration by the layout templates of §11 (fixed offsets
//! only: never by searching for AI digits), and Caps Lock inversion where a signal makes it
//! unambiguous. Every step it takes is returned as a [`Repair`]. When two readings remain, it refuses
//! with [`NormalizeError::Ambiguous`] rather than guess.

use crate::charset::GS;
use crate::code::MarkingCode;
use crate::error::{ParseError, Warning};
use crate::keyboard;
use crate::layout::{Layout, RepairTemplate, REPAIR_TEMPLATES};
use crate::mrp;
use crate::parse::{aim_prefix, parse_inner, parse_single};
use serde::Serialize;
use std::fmt;

/// One repair applied to a scan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Repair {
    /// Text typed with the Russian layout, reverted to the US key characters.
    RussianLayout,
    /// A textual stand-in for ⟨GS⟩ (`\u001d`, `<GS>`, …) converted to the byte; detail: the token.
    TextualGs(String),
    /// A transport prefix removed (`]d2`, `0xE8`, `<fcn>`, `GS`).
    StripPrefix(String),
    /// A transport suffix removed (`CR`, `LF`, `TAB`, `GS`).
    StripSuffix(String),
    /// ⟨GS⟩ restored by a layout template; detail: `template/separator`, e.g. `milk/dropped`.
    RestoreGs(String),
    /// Caps Lock inversion reverted; detail: `us` or `ru`.
    CapsLock(String),
}

impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repair::RussianLayout => f.write_str("reverted the Russian keyboard layout"),
            Repair::TextualGs(t) => write!(f, "converted textual {t} to ⟨GS⟩"),
            Repair::StripPrefix(p) => write!(f, "stripped prefix {p}"),
            Repair::StripSuffix(s) => write!(f, "stripped suffix {s}"),
            Repair::RestoreGs(t) => write!(f, "restored ⟨GS⟩ by template {t}"),
            Repair::CapsLock(v) => write!(f, "reverted Caps Lock ({v} layout)"),
        }
    }
}

/// A successfully normalised scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    /// The canonical code.
    pub code: MarkingCode,
    /// The repairs applied, in order; empty when the scan was already canonical.
    pub repairs: Vec<Repair>,
    /// Warnings about the scan itself (e.g. a non-GS1 symbology identifier).
    pub warnings: Vec<Warning>,
}

/// Why a scan could not be normalised.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    /// No reading gives a valid code; the error is the strict parse of the cleaned scan.
    #[error("cannot repair the scan: {error}")]
    Unrepairable {
        /// Strict parse of the scan after the repairs that did apply.
        error: ParseError,
        /// The repairs that applied before giving up.
        repairs: Vec<Repair>,
    },
    /// More than one valid code can be read from the scan; a rescan is needed.
    #[error("ambiguous scan: {} valid readings", candidates.len())]
    Ambiguous {
        /// The distinct canonical codes that fit.
        candidates: Vec<String>,
    },
}

/// Tells `normalize` which layouts codes of a GTIN may have (from a product catalogue), to decide the
/// collisions of §11 (a 31-character BEER vs a KI-only with 13-character serial).
pub trait LayoutCatalog {
    /// Layouts allowed for `gtin`, or `None` if the GTIN is unknown (then anything goes).
    fn layouts_for(&self, gtin: &str) -> Option<Vec<Layout>>;
}

/// Options of [`normalize_with`].
#[derive(Clone, Copy)]
pub struct NormalizeOptions<'a> {
    /// Single-character or short substitutes a keyboard-wedge scanner may type for ⟨GS⟩ (§12.2).
    /// They are only ever recognised at template offsets.
    pub substitutes: &'a [&'a [u8]],
    /// Optional catalogue used to rule out templates.
    pub catalog: Option<&'a dyn LayoutCatalog>,
    /// Detect and revert Caps Lock inversion where unambiguous.
    pub caps_lock: bool,
}

/// Substitutes of §12.2/§12.7 recognised at template offsets by default: the decimal text `29`, `!`,
/// `~`, `|`, `^`, `#`, space, TAB, 0x1C, the letters `GS`, `<GS>`, `%1D` and a leaked 0xE8.
pub const DEFAULT_SUBSTITUTES: &[&[u8]] =
    &[b"29", b"!", b"~", b"|", b"^", b"#", b" ", b"\t", b"\x1c", b"GS", b"<GS>", b"%1D", b"\xe8"];

impl Default for NormalizeOptions<'_> {
    fn default() -> Self {
        NormalizeOptions { substitutes: DEFAULT_SUBSTITUTES, catalog: None, caps_lock: true }
    }
}

/// Textual ⟨GS⟩ tokens replaced anywhere: each contains a character that never occurs in a code.
const UNAMBIGUOUS_TOKENS: &[&[u8]] =
    &[b"\\\\u001d", b"\\\\u001D", b"\\u001d", b"\\u001D", b"\\x1d", b"\\x1D", b"^]", b"{GS}", b"[GS]"];

/// Normalise a scan with the default options.
pub fn normalize(input: &[u8]) -> Result<Normalized, NormalizeError> {
    normalize_with(input, &NormalizeOptions::default())
}

/// Normalise a scan.
pub fn normalize_with(input: &[u8], opts: &NormalizeOptions<'_>) -> Result<Normalized, NormalizeError> {
    // Fast path: a canonical scan needs nothing.
    if let Ok(code) = parse_single(input, true) {
        if !opts.caps_lock || !pack_caps_signal(&code) {
            return Ok(Normalized { code, repairs: Vec::new(), warnings: Vec::new() });
        }
    }
    let mut repairs = Vec::new();
    let mut warnings = Vec::new();
    let mut s = input.to_vec();

    let mut russian = false;
    if let Some(reverted) = revert_layout(&s) {
        s = reverted;
        russian = true;
        repairs.push(Repair::RussianLayout);
    }
    for token in UNAMBIGUOUS_TOKENS {
        if let Some(replaced) = replace_all(&s, token, &[GS]) {
            s = replaced;
            repairs.push(Repair::TextualGs(String::from_utf8_lossy(token).into_owned()));
        }
    }
    let caps_signal = strip_edges(&mut s, russian, &mut repairs, &mut warnings);

    let caps_variant = if russian { "ru" } else { "us" };
    let flip = |b: &[u8]| if russian { keyboard::caps_ru_reverted(b) } else { keyboard::caps_us(b) };
    let result = if opts.caps_lock && caps_signal {
        // The AIM prefix proves the inversion: the flipped reading is the only one, right or wrong.
        repairs.push(Repair::CapsLock(caps_variant.into()));
        read(&flip(&s), opts)
    } else {
        match read(&s, opts) {
            Ok((code, extra)) if opts.caps_lock && pack_caps_signal(&code) => match read(&flip(&s), opts) {
                Ok(flipped) => {
                    repairs.push(Repair::CapsLock(caps_variant.into()));
                    Ok(flipped)
                }
                Err(_) => Ok((code, extra)),
            },
            Ok(direct) => Ok(direct),
            Err(e) if opts.caps_lock => match read(&flip(&s), opts) {
                Ok(flipped) => {
                    repairs.push(Repair::CapsLock(caps_variant.into()));
                    Ok(flipped)
                }
                Err(_) => Err(e),
            },
            Err(e) => Err(e),
        }
    };
    match result {
        Ok((code, extra)) => {
            repairs.extend(extra);
            Ok(Normalized { code, repairs, warnings })
        }
        Err(Failure::Ambiguous(candidates)) => Err(NormalizeError::Ambiguous { candidates }),
        Err(Failure::Invalid(error)) => Err(NormalizeError::Unrepairable { error, repairs }),
    }
}

/// Revert the Russian layout if the scan holds Cyrillic; invalid UTF-8 bytes are kept as they are.
fn revert_layout(s: &[u8]) -> Option<Vec<u8>> {
    let has_russian = s.utf8_chunks().any(|c| c.valid().chars().any(keyboard::is_russian_only));
    if !has_russian {
        return None;
    }
    let mut out = Vec::with_capacity(s.len());
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            let mut buf = [0u8; 4];
            out.extend_from_slice(keyboard::ru_to_us(c).encode_utf8(&mut buf).as_bytes());
        }
        out.extend_from_slice(chunk.invalid());
    }
    Some(out)
}

fn replace_all(s: &[u8], token: &[u8], with: &[u8]) -> Option<Vec<u8>> {
    if token.is_empty() || !s.windows(token.len()).any(|w| w == token) {
        return None;
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i..].starts_with(token) {
            out.extend_from_slice(with);
            i += token.len();
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Strip transport prefixes and suffixes (§12.3–12.4). Returns true when the AIM prefix shows the
/// case was inverted (`]D2` for `]d2`, `]c1` for `]C1`, `}D2` after a Russian-layout revert).
fn strip_edges(
    s: &mut Vec<u8>,
    russian: bool,
    repairs: &mut Vec<Repair>,
    warnings: &mut Vec<Warning>,
) -> bool {
    let mut caps = false;
    loop {
        let inverted_aim =
            russian && s.len() >= 3 && s[0] == b'}' && s[1].is_ascii_alphabetic() && s[2].is_ascii_digit();
        if let Some(p) =
            aim_prefix(s).or_else(|| inverted_aim.then(|| String::from_utf8_lossy(&s[..3]).into_owned()))
        {
            let (sym, digit) = (s[1], s[2]);
            let std_letter = match sym.to_ascii_lowercase() {
                b'd' | b'e' => sym.to_ascii_lowercase(),
                _ => sym.to_ascii_uppercase(),
            };
            if sym != std_letter || s[0] == b'}' {
                caps = true;
            }
            if std_letter == b'd' && digit != b'2' {
                warnings.push(Warning::NonGs1Symbology(format!("]{}{}", std_letter as char, digit as char)));
            }
            s.drain(..3);
            repairs.push(Repair::StripPrefix(p));
        } else if s.first() == Some(&0xE8) {
            s.remove(0);
            repairs.push(Repair::StripPrefix("0xE8".into()));
        } else if s.starts_with("è".as_bytes()) {
            s.drain(..2);
            repairs.push(Repair::StripPrefix("0xE8 (as UTF-8 è)".into()));
        } else if s.first() == Some(&GS) {
            s.remove(0);
            repairs.push(Repair::StripPrefix("GS".into()));
        } else if let Some(n) =
            [&b"<fcn>"[..], b"<FNC1>", b"<FCN>", b"<fnc1>"].iter().find(|t| s.starts_with(t)).map(|t| t.len())
        {
            let p = String::from_utf8_lossy(&s[..n]).into_owned();
            s.drain(..n);
            repairs.push(Repair::StripPrefix(p));
        } else {
            break;
        }
    }
    while let Some(&last) = s.last() {
        let name = match last {
            b'\r' => "CR",
            b'\n' => "LF",
            b'\t' => "TAB",
            GS => "GS",
            _ => break,
        };
        s.pop();
        repairs.push(Repair::StripSuffix(name.into()));
    }
    caps
}

/// A tobacco pack whose MRP is implausible while its case-inverted MRP is plausible (§6.5 + §12.6).
fn pack_caps_signal(code: &MarkingCode) -> bool {
    if code.layout() != Layout::TobaccoPack {
        return false;
    }
    let Some(k) = code.mrp_kopecks() else { return false };
    let chars = &code.as_bytes()[21..25];
    let flipped = keyboard::caps_us(chars);
    let inverted = flipped.as_slice().try_into().ok().and_then(|c: [u8; 4]| mrp::decode(&c).ok());
    !mrp::is_plausible(k) && inverted.is_some_and(mrp::is_plausible)
}

enum Failure {
    Invalid(ParseError),
    Ambiguous(Vec<String>),
}

/// Read a cleaned scan: as it is, or through the ⟨GS⟩ templates. Trial readings use the cheap
/// parse; only the final error is diagnosed in full (double scan).
fn read(s: &[u8], opts: &NormalizeOptions<'_>) -> Result<(MarkingCode, Vec<Repair>), Failure> {
    if let Ok(code) = parse_single(s, true) {
        return Ok((code, Vec::new()));
    }
    let mut found: Vec<(MarkingCode, String)> = Vec::new();
    let mut out = Vec::with_capacity(s.len() + 4);
    if s.starts_with(b"01") {
        for t in REPAIR_TEMPLATES {
            let slots = t.separators.len();
            for sub in std::iter::once(&b""[..]).chain(opts.substitutes.iter().copied()) {
                // Each slot holds ⟨GS⟩ (1 byte), `sub`, or nothing: the length must fit.
                let widest = sub.len().max(1);
                if s.len() < t.gsless_len || s.len() > t.gsless_len + slots * widest {
                    continue;
                }
                out.clear();
                if !match_template(s, t, sub, 0, 0, false, &mut out) {
                    continue;
                }
                let Ok(code) = parse_single(&out, true) else { continue };
                if code.layout() != t.layout || !catalog_allows(opts, &code) {
                    continue;
                }
                if !found.iter().any(|(c, _)| c.as_bytes() == code.as_bytes()) {
                    let sep = match sub {
                        b"" => "dropped".to_string(),
                        _ if sub.iter().all(|b| b.is_ascii_graphic()) => String::from_utf8_lossy(sub).into(),
                        _ => crate::escape::escape(sub),
                    };
                    found.push((code, format!("{}/{}", t.name, sep)));
                }
            }
        }
    }
    match found.len() {
        0 => {
            // A template-shaped string the catalogue ruled out may still be a valid KI-only.
            if opts.catalog.is_some() {
                if let Ok(code) = parse_single(s, false) {
                    if catalog_allows(opts, &code) {
                        return Ok((code, Vec::new()));
                    }
                }
            }
            match parse_inner(s, true) {
                Ok(code) => Ok((code, Vec::new())),
                Err(e) => Err(Failure::Invalid(e)),
            }
        }
        1 => {
            let (code, how) = found.pop().expect("one candidate");
            Ok((code, vec![Repair::RestoreGs(how)]))
        }
        _ => Err(Failure::Ambiguous(found.into_iter().map(|(c, _)| c.as_str().to_string()).collect())),
    }
}

fn catalog_allows(opts: &NormalizeOptions<'_>, code: &MarkingCode) -> bool {
    match opts.catalog.and_then(|c| c.layouts_for(code.gtin())) {
        Some(layouts) => layouts.contains(&code.layout()),
        None => true,
    }
}

/// Match `s` against template `t`, where each separator slot holds ⟨GS⟩, `sub`, or nothing, and build
/// the canonical string into `out`. `slot` is the next separator, `pos` the position in `s`. A
/// non-empty `sub` must stand in at least one slot (`used_sub`): without it the reading is the one
/// the dropped-⟨GS⟩ pass finds.
fn match_template(
    s: &[u8],
    t: &RepairTemplate,
    sub: &[u8],
    slot: usize,
    pos: usize,
    used_sub: bool,
    out: &mut Vec<u8>,
) -> bool {
    // Canonical offset where this segment starts and ends (GS-less coordinates).
    let seg_start = if slot == 0 { 0 } else { t.separators[slot - 1].0 };
    let seg_end = t.separators.get(slot).map_or(t.gsless_len, |&(o, _)| o);
    let seg_len = seg_end - seg_start;
    let Some(segment) = s.get(pos..pos + seg_len) else { return false };
    if segment.contains(&GS) {
        return false;
    }
    let mark = out.len();
    out.extend_from_slice(segment);
    let next = pos + seg_len;
    if slot == t.separators.len() {
        if next == s.len() && (used_sub || sub.is_empty()) {
            return fits_with_gs(t, out);
        }
        out.truncate(mark);
        return false;
    }
    // The slot holds ⟨GS⟩, the substitute, or nothing (an empty substitute is "nothing" already).
    let options = [&[GS][..], sub, b""];
    for (i, tok) in options.into_iter().enumerate() {
        if i == 1 && sub.is_empty() {
            continue;
        }
        if s[next..].starts_with(tok) {
            out.push(GS);
            if match_template(s, t, sub, slot + 1, next + tok.len(), used_sub || i == 1, out) {
                return true;
            }
            out.truncate(mark + seg_len);
        }
    }
    out.truncate(mark);
    false
}

/// [`RepairTemplate::fits`] on `out` with its ⟨GS⟩ bytes skipped, without allocating.
fn fits_with_gs(t: &RepairTemplate, out: &[u8]) -> bool {
    let mut buf = [0u8; 160];
    let mut n = 0;
    for &b in out.iter().filter(|&&b| b != GS) {
        match buf.get_mut(n) {
            Some(slot) => *slot = b,
            None => return false,
        }
        n += 1;
    }
    t.fits(&buf[..n])
}
