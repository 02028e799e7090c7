//! Strict parsing and classification of a marking code (spec `codes.md` §5, §9.1, §10).
//!
//! [`parse`] accepts only the canonical form: no transport artefacts, every ⟨GS⟩ in place, every value
//! of the right length and alphabet. It never repairs anything (that is `normalize.rs`) and never
//! panics: every index is checked, because the input is whatever a scanner or a POS delivered.

use crate::ai::{self, ValueClass};
use crate::charset::{self, GS};
use crate::code::{MarkingCode, Quantity, QuantityUnit};
use crate::element::{read_at, Element, ElementRead};
use crate::error::{CodeError, Defect, Identifier, ParseError, Warning};
use crate::gtin;
use crate::layout::{Layout, REPAIR_TEMPLATES};
use crate::mrp;

/// Most defects listed for one input; more are summarised as `too_many_defects`.
const MAX_DEFECTS: usize = 16;
/// Most elements a marking code has (01 21 8005 93 92 240 is six).
const MAX_ELEMENTS: usize = 8;

/// Parse and classify a canonical marking code.
pub fn parse(input: &[u8]) -> Result<MarkingCode, ParseError> {
    parse_inner(input, true)
}

/// Parse, optionally without the "GS-less string that fits a repair template" rule (used by
/// `normalize` when a catalogue has ruled the template out, e.g. a 31-character KI-only whose serial
/// holds `93`). A failure is checked for a double scan, which names the defect better.
pub(crate) fn parse_inner(input: &[u8], gs_less_templates: bool) -> Result<MarkingCode, ParseError> {
    parse_single(input, gs_less_templates).map_err(|e| detect_double_scan(input).unwrap_or(e))
}

struct Defects(Vec<CodeError>);

impl Defects {
    fn push(&mut self, offset: usize, d: Defect) {
        if self.0.len() < MAX_DEFECTS {
            self.0.push(CodeError::new(offset, d));
        } else if self.0.len() == MAX_DEFECTS {
            self.0.push(CodeError::new(offset, Defect::TooManyDefects));
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn fail(self, layout_guess: Option<Layout>) -> Result<MarkingCode, ParseError> {
        Err(ParseError { errors: self.0, layout_guess, identifier: None })
    }
}

/// Parse one code; no double-scan diagnosis (the cheap path for `normalize`'s trial readings).
pub(crate) fn parse_single(input: &[u8], gs_less_templates: bool) -> Result<MarkingCode, ParseError> {
    let mut d = Defects(Vec::new());
    if input.is_empty() {
        d.push(0, Defect::Empty);
        return d.fail(None);
    }
    scan_characters(input, &mut d);
    if !d.is_empty() {
        return d.fail(None);
    }
    scan_separators(input, &mut d);
    let has_gs = input.contains(&GS);

    if input.len() == 29 && !has_gs && !looks_gs1(input) {
        return parse_pack(input);
    }
    let leading_gs = input.iter().take_while(|&&b| b == GS).count();
    if input[leading_gs..].starts_with(b"01") {
        return parse_gs1(input, gs_less_templates, d);
    }
    if !d.is_empty() {
        return d.fail(None);
    }
    classify_other(input)
}

/// `^01\d{14}21`: such a 29-character string is read as GS1, never as a pack (§9.1 step 2).
fn looks_gs1(s: &[u8]) -> bool {
    s.len() >= 18 && s.starts_with(b"01") && s[2..16].iter().all(u8::is_ascii_digit) && &s[16..18] == b"21"
}

/// Report transport artefacts and every character outside CSET82 (⟨GS⟩ aside).
fn scan_characters(input: &[u8], d: &mut Defects) {
    let mut start = 0;
    let mut end = input.len();
    if let Some(p) = aim_prefix(input) {
        d.push(0, Defect::TransportPrefix(p));
        start = 3;
    } else if input[0] == 0xE8 {
        d.push(0, Defect::TransportPrefix("0xE8 (leaked FNC1)".into()));
        start = 1;
    } else if input.starts_with(b"<fcn>") {
        d.push(0, Defect::TransportPrefix("<fcn>".into()));
        start = 5;
    }
    let mut suffix_at = end;
    while suffix_at > start && matches!(input[suffix_at - 1], b'\r' | b'\n' | b'\t') {
        suffix_at -= 1;
    }
    if suffix_at < end {
        d.push(suffix_at, Defect::TransportSuffix(escape_bytes(&input[suffix_at..])));
        end = suffix_at;
    }
    let mut i = start;
    while i < end {
        let b = input[i];
        if b == GS || charset::is_cset82(b) {
            i += 1;
            continue;
        }
        let (shown, len) = describe_char(&input[i..end]);
        d.push(i, Defect::ForbiddenCharacter(shown));
        i += len;
    }
}

/// `]` + letter + digit at the start: an AIM symbology identifier.
pub(crate) fn aim_prefix(input: &[u8]) -> Option<String> {
    match input {
        [b']', l, n, ..] if l.is_ascii_alphabetic() && n.is_ascii_digit() => {
            Some(String::from_utf8_lossy(&input[..3]).into_owned())
        }
        _ => None,
    }
}

/// A readable name for the character at the start of `s`, and its length in bytes.
fn describe_char(s: &[u8]) -> (String, usize) {
    let len = match s[0] {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
    .min(s.len());
    match std::str::from_utf8(&s[..len]) {
        Ok(c) if len > 1 => (format!("'{c}' (U+{:04X})", c.chars().next().map_or(0, u32::from)), len),
        _ => {
            let b = s[0];
            if b.is_ascii_graphic() || b == b' ' {
                (format!("'{}' (0x{b:02X})", b as char), 1)
            } else {
                (format!("0x{b:02X}"), 1)
            }
        }
    }
}

/// Text of bytes with control characters named, for messages.
fn escape_bytes(s: &[u8]) -> String {
    s.iter()
        .map(|b| match b {
            b'\r' => "CR".to_string(),
            b'\n' => "LF".to_string(),
            b'\t' => "TAB".to_string(),
            _ => format!("0x{b:02X}"),
        })
        .collect::<Vec<_>>()
        .join("+")
}

/// Leading, trailing and doubled ⟨GS⟩.
fn scan_separators(input: &[u8], d: &mut Defects) {
    if input.first() == Some(&GS) {
        d.push(0, Defect::LeadingGs);
    }
    for i in 1..input.len() {
        if input[i] == GS && input[i - 1] == GS {
            d.push(i, Defect::DoubledGs);
        }
    }
    if input.len() > 1 && input.last() == Some(&GS) {
        d.push(input.len() - 1, Defect::TrailingGs);
    }
}

fn parse_pack(input: &[u8]) -> Result<MarkingCode, ParseError> {
    let mut d = Defects(Vec::new());
    check_gtin(&input[..14], 0, &mut d);
    let mrp_chars: [u8; 4] = [input[21], input[22], input[23], input[24]];
    let mrp = match mrp::decode(&mrp_chars) {
        Ok(v) => Some(v),
        Err(i) => {
            d.push(21 + i, Defect::MrpAlphabet);
            None
        }
    };
    if !d.is_empty() {
        return d.fail(Some(Layout::TobaccoPack));
    }
    let mut warnings = Vec::new();
    if let Some(k) = mrp.filter(|&k| !mrp::is_plausible(k)) {
        warnings.push(Warning::MrpImplausible(k));
    }
    Ok(MarkingCode {
        text: ascii_string(input),
        layout: Layout::TobaccoPack,
        gtin: (0, 14),
        serial: (14, 21),
        check: Some((25, 29)),
        key: None,
        signature: None,
        mrp,
        ai8005: None,
        block_signature: None,
        ai240: None,
        quantity: None,
        expiry: None,
        warnings,
    })
}

fn ascii_string(input: &[u8]) -> String {
    // Only called after scan_characters accepted every byte (CSET82 or GS: ASCII).
    input.iter().map(|&b| b as char).collect()
}

fn check_gtin(g: &[u8], at: usize, d: &mut Defects) {
    if g.len() != 14 || !g.iter().all(u8::is_ascii_digit) {
        d.push(at, Defect::GtinFormat);
        return;
    }
    let expected = gtin::check_digit(&g[..13]).unwrap_or(0);
    let found = g[13] - b'0';
    if expected != found {
        d.push(at + 13, Defect::GtinCheckDigit { expected, found });
    }
}

/// Identifiers that are not marking codes (§5.5), or an unknown format.
fn classify_other(input: &[u8]) -> Result<MarkingCode, ParseError> {
    let all_digits = input.iter().all(u8::is_ascii_digit);
    let identifier = match input.len() {
        13 if all_digits && gtin::is_valid(input) => Some(Identifier::Ean13),
        8 if all_digits && gtin::is_valid(input) => Some(Identifier::Ean8),
        14 if all_digits && gtin::is_valid(input) => Some(Identifier::Itf14),
        20 if all_digits && input.starts_with(b"00") && gtin::is_valid(&input[2..]) => Some(Identifier::Sscc),
        20 if is_fur_kiz(input) => Some(Identifier::FurKiz),
        _ => None,
    };
    let mut d = Defects(Vec::new());
    if let Some(id) = identifier {
        d.push(0, Defect::NotMarkingCode(id));
        return Err(ParseError { errors: d.0, layout_guess: None, identifier });
    }
    let pack_like = input.len() >= 14 && input[..14].iter().all(u8::is_ascii_digit) && !input.contains(&GS);
    if pack_like && (25..=33).contains(&input.len()) {
        d.push(0, Defect::PackLength(input.len()));
        return d.fail(Some(Layout::TobaccoPack));
    }
    if ai::lookup(input).is_some() {
        d.push(0, Defect::NoGtin);
    } else {
        d.push(0, Defect::UnknownFormat);
    }
    d.fail(None)
}

fn is_fur_kiz(s: &[u8]) -> bool {
    s.len() == 20
        && s[..2].iter().all(u8::is_ascii_uppercase)
        && s[2] == b'-'
        && s[3..9].iter().all(u8::is_ascii_digit)
        && s[9] == b'-'
        && s[10..13].iter().all(u8::is_ascii_uppercase)
        && s[13..].iter().all(u8::is_ascii_digit)
}

/// Split a GS1 element string into elements. Returns the elements and whether tokenising stopped
/// early on a defect.
fn tokenize(
    input: &[u8],
    d: &mut Defects,
    warnings: &mut Vec<Warning>,
) -> ([Option<Element>; MAX_ELEMENTS], usize) {
    let mut elems = [None; MAX_ELEMENTS];
    let mut n = 0;
    let mut pos = 0;
    let end = input.len();
    while pos < end {
        if input[pos] == GS {
            pos += 1;
            continue;
        }
        let e = match read_at(input, pos) {
            ElementRead::Element(e) => e,
            ElementRead::UnknownAi => {
                let shown = &input[pos..(pos + 4).min(end)];
                d.push(pos, Defect::UnknownAi(ascii_string(shown)));
                break;
            }
            ElementRead::Truncated(ai) => {
                d.push(pos, Defect::Truncated(ai.to_string()));
                break;
            }
        };
        let (vstart, vend) = e.value;
        if e.fixed && vend + 1 < end && input[vend] == GS {
            warnings.push(Warning::RedundantGs);
        }
        let numeric = ai::lookup(e.ai.as_bytes()).is_some_and(|spec| spec.class == ValueClass::Numeric);
        if numeric {
            if let Some(i) = input[vstart..vend].iter().position(|b| !b.is_ascii_digit()) {
                d.push(vstart + i, Defect::ValueNotNumeric(e.ai.to_string()));
            }
        }
        if n == MAX_ELEMENTS {
            d.push(pos, Defect::TooManyElements);
            break;
        }
        elems[n] = Some(e);
        n += 1;
        pos = vend;
    }
    (elems, n)
}

/// Canonical AI order of a layout: `(family, required)`.
fn layout_order(layout: Layout) -> &'static [(&'static str, bool)] {
    match layout {
        Layout::TobaccoBlock => {
            &[("01", true), ("21", true), ("8005", true), ("93", true), ("92", false), ("240", false)]
        }
        Layout::Milk => {
            &[("01", true), ("21", true), ("93", true), ("3103", false), ("17", false), ("7003", false)]
        }
        Layout::Beer => &[("01", true), ("21", true), ("93", true), ("335", false)],
        Layout::S13T93 => &[("01", true), ("21", true), ("93", true)],
        Layout::S13T44 | Layout::S20T44 => &[("01", true), ("21", true), ("91", true), ("92", true)],
        Layout::S13T88 => &[("01", true), ("21", true), ("240", false), ("91", true), ("92", true)],
        Layout::KiOnly | Layout::TobaccoPack => &[("01", true), ("21", true)],
    }
}

fn parse_gs1(input: &[u8], gs_less_templates: bool, mut d: Defects) -> Result<MarkingCode, ParseError> {
    let has_gs = input.contains(&GS);
    if !has_gs && gs_less_templates {
        if let Some(t) = REPAIR_TEMPLATES.iter().find(|t| t.fits(input)) {
            for &(off, ai) in t.separators {
                d.push(off, Defect::MissingGs(ai.to_string()));
            }
            return d.fail(Some(t.layout));
        }
    }
    let mut warnings = Vec::new();
    let before = d.0.len();
    let (elems, n) = tokenize(input, &mut d, &mut warnings);
    let stopped_early = d.0[before..]
        .iter()
        .any(|e| matches!(e.defect, Defect::UnknownAi(_) | Defect::Truncated(_) | Defect::TooManyElements));
    let elems: Vec<Element> = elems[..n].iter().flatten().copied().collect();
    let find = |fam: &str| elems.iter().find(|e| e.family() == fam).copied();
    let value = |e: &Element| &input[e.value.0..e.value.1];

    let Some(g) = elems.first().filter(|e| e.ai == "01") else {
        if !d.is_empty() {
            return d.fail(None);
        }
        d.push(0, Defect::NoGtin);
        return d.fail(None);
    };
    check_gtin(value(g), g.value.0, &mut d);
    let Some(serial) = elems.get(1).filter(|e| e.ai == "21").copied() else {
        d.push(elems.get(1).map_or(input.len(), |e| e.at), Defect::NoSerial);
        return d.fail(None);
    };
    for (i, e) in elems.iter().enumerate() {
        if elems[..i].iter().any(|p| p.family() == e.family()) {
            d.push(e.at, Defect::DuplicateAi(e.ai.to_string()));
        }
    }
    let serial_len = serial.value.1 - serial.value.0;
    let sig = find("92");
    let layout = if find("8005").is_some() {
        Some(Layout::TobaccoBlock)
    } else if find("91").is_some() || sig.is_some() {
        let sig_len = sig.map_or(0, |s| s.value.1 - s.value.0);
        Some(if sig_len > 60 || find("240").is_some() {
            Layout::S13T88
        } else if serial_len > 16 {
            Layout::S20T44
        } else {
            Layout::S13T44
        })
    } else if find("93").is_some() {
        Some(if find("3103").is_some() || find("17").is_some() || find("7003").is_some() {
            Layout::Milk
        } else if find("335").is_some() {
            Layout::Beer
        } else {
            match serial_len {
                0..=6 => Layout::Milk,
                7..=9 => Layout::Beer,
                _ => Layout::S13T93,
            }
        })
    } else if elems.len() == 2 && !stopped_early {
        Some(Layout::KiOnly)
    } else {
        None
    };
    let Some(layout) = layout else {
        if let Some(e) = elems.get(2) {
            d.push(e.at, Defect::UnknownFormat);
        }
        return d.fail(None);
    };

    check_order(layout, &elems, input.len(), &mut d, &mut warnings);
    check_serial(layout, input, serial, has_gs, &mut d);

    let mut code = MarkingCode {
        text: String::new(),
        layout,
        gtin: g.value,
        serial: serial.value,
        check: None,
        key: None,
        signature: None,
        mrp: None,
        ai8005: None,
        block_signature: None,
        ai240: None,
        quantity: None,
        expiry: None,
        warnings: Vec::new(),
    };
    for e in &elems[2..] {
        let v = value(e);
        let at = e.value.0;
        match e.family() {
            "93" => {
                expect_len(e, v, 4, &mut d);
                code.check = Some(e.value);
            }
            "91" => {
                expect_len(e, v, 4, &mut d);
                code.key = Some(e.value);
            }
            "92" if layout == Layout::TobaccoBlock => {
                check_block_signature(v, at, &mut d);
                code.block_signature = Some(e.value);
            }
            "92" => {
                let want = if layout == Layout::S13T88 { 88 } else { 44 };
                check_signature(v, at, want, &mut d, &mut warnings);
                code.signature = Some(e.value);
            }
            "8005" => {
                expect_len(e, v, 6, &mut d);
                code.ai8005 = parse_u32(v);
            }
            "3103" => {
                let raw = parse_u32(v).unwrap_or(0);
                if raw == 0 {
                    d.push(at, Defect::ZeroWeight);
                }
                code.quantity = Some(Quantity { unit: QuantityUnit::Kg, raw, decimals: 3 });
            }
            "335" => {
                let decimals = e.ai.as_bytes()[3] - b'0';
                let raw = parse_u32(v).unwrap_or(0);
                code.quantity = Some(Quantity { unit: QuantityUnit::L, raw, decimals });
            }
            "240" => {
                if layout == Layout::S13T88 {
                    expect_len(e, v, 4, &mut d);
                    if let Some(i) = v.iter().position(|b| !b.is_ascii_digit()) {
                        d.push(at + i, Defect::ValueNotNumeric("240".into()));
                    }
                } else if v.is_empty() || v.len() > 30 {
                    d.push(
                        at,
                        Defect::ValueLength { ai: "240".into(), len: v.len(), expected: "1..30".into() },
                    );
                }
                code.ai240 = Some(e.value);
            }
            "17" | "7003" => {
                if !valid_date(v, e.ai == "17") {
                    d.push(at, Defect::InvalidDate(e.ai.to_string()));
                }
                code.expiry = Some(e.value);
            }
            _ => {}
        }
    }
    if !d.is_empty() {
        return d.fail(Some(layout));
    }
    if matches!(layout, Layout::S13T93 | Layout::S13T44 | Layout::S20T44) {
        let c = input[serial.value.0] as char;
        if !matches!(c, '1'..='5' | 'E' | 'e') {
            warnings.push(Warning::CountryPrefix(c));
        }
    }
    warnings.dedup();
    code.warnings = warnings;
    code.text = ascii_string(input);
    Ok(code)
}

fn check_order(layout: Layout, elems: &[Element], end: usize, d: &mut Defects, warnings: &mut Vec<Warning>) {
    let order = layout_order(layout);
    let mut last = 0usize;
    for e in elems {
        match order.iter().position(|(fam, _)| *fam == e.family()) {
            None => d.push(e.at, Defect::UnexpectedAi { ai: e.ai.to_string(), layout }),
            Some(i) if i < last => {
                // §5.3: dairy weight may stand before 93 when parsing.
                if layout == Layout::Milk && e.family() == "93" {
                    warnings.push(Warning::NonStandardOrder("3103".into()));
                } else {
                    d.push(e.at, Defect::AiOrder(e.ai.to_string()));
                }
            }
            Some(i) => last = last.max(i),
        }
    }
    for (fam, required) in order {
        if *required && !elems.iter().any(|e| e.family() == *fam) {
            d.push(end, Defect::MissingAi(fam.to_string()));
        }
    }
}

fn check_serial(layout: Layout, input: &[u8], serial: Element, has_gs: bool, d: &mut Defects) {
    let len = serial.value.1 - serial.value.0;
    let ok = match layout.serial_len() {
        Some(want) => len == want,
        None => matches!(len, 6 | 7 | 13 | 20),
    };
    if !ok {
        let expected = layout.serial_len().map_or("6, 7, 13 or 20".to_string(), |n| n.to_string());
        d.push(serial.value.0, Defect::SerialLength { len, expected });
        if !has_gs && len > 20 {
            d.push(input.len(), Defect::MissingGs("(no ⟨GS⟩ anywhere in the code)".into()));
        }
    }
}

fn expect_len(e: &Element, v: &[u8], want: usize, d: &mut Defects) {
    if v.len() != want {
        d.push(
            e.value.0,
            Defect::ValueLength { ai: e.ai.to_string(), len: v.len(), expected: want.to_string() },
        );
    }
}

/// A 44- or 88-character base64 signature with exact padding and zero trailing bits.
fn check_signature(v: &[u8], at: usize, want: usize, d: &mut Defects, warnings: &mut Vec<Warning>) {
    let pad = if want == 88 { 2 } else { 1 };
    if v.len() != want {
        d.push(at, Defect::SignatureLength { len: v.len() });
        return;
    }
    let (data, padding) = v.split_at(want - pad);
    if let Some(i) = data.iter().position(|&b| !charset::is_b64(b)) {
        if data[i] == b'=' {
            d.push(at + i, Defect::SignaturePadding);
        } else {
            d.push(at + i, Defect::SignatureAlphabet);
        }
        return;
    }
    if padding.iter().any(|&b| b != b'=') {
        d.push(at + want - pad, Defect::SignaturePadding);
        return;
    }
    let mask = if pad == 1 { 0b11 } else { 0b1111 };
    if charset::b64_value(data[data.len() - 1]).unwrap_or(0) & mask != 0 {
        d.push(at + data.len() - 1, Defect::SignatureTrailingBits);
    }
    let letters = data.iter().filter(|b| b.is_ascii_alphabetic());
    let (mut upper, mut lower) = (false, false);
    for b in letters {
        upper |= b.is_ascii_uppercase();
        lower |= b.is_ascii_lowercase();
    }
    if upper != lower {
        warnings.push(Warning::SignatureSingleCase);
    }
}

/// The optional AI 92 of a block: base64 characters followed by any `=` padding.
fn check_block_signature(v: &[u8], at: usize, d: &mut Defects) {
    let data_len = v.iter().position(|&b| b == b'=').unwrap_or(v.len());
    if data_len == 0 {
        d.push(at, Defect::SignatureLength { len: v.len() });
    } else if let Some(i) = v[..data_len].iter().position(|&b| !charset::is_b64(b)) {
        d.push(at + i, Defect::SignatureAlphabet);
    } else if let Some(i) = v[data_len..].iter().position(|&b| b != b'=') {
        d.push(at + data_len + i, Defect::SignaturePadding);
    }
}

fn parse_u32(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 9 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0')))
}

/// YYMMDD (AI 17: day 00 allowed) or YYMMDDHHMM (AI 7003).
fn valid_date(v: &[u8], day_zero_ok: bool) -> bool {
    let want = if day_zero_ok { 6 } else { 10 };
    if v.len() != want || !v.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let num = |i: usize| u32::from(v[i] - b'0') * 10 + u32::from(v[i + 1] - b'0');
    let (yy, mm, dd) = (num(0), num(2), num(4));
    let leap = yy % 4 == 0;
    let days = match mm {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    let day_ok = dd <= days && (dd >= 1 || day_zero_ok);
    let time_ok = want == 6 || (num(6) < 24 && num(8) < 60);
    day_ok && time_ok
}

/// Two valid codes glued together (double scan, §10): the split point, if there is exactly such a
/// reading. Only tried on inputs that failed, and only at plausible split points.
fn detect_double_scan(input: &[u8]) -> Option<ParseError> {
    if input.len() < 48 || input.len() > 400 {
        return None;
    }
    for p in 24..=input.len() - 24 {
        let second = &input[p..];
        let plausible = second.starts_with(b"01") || (p == 29 && second.len() == 29);
        if !plausible {
            continue;
        }
        let mut first = &input[..p];
        if first.last() == Some(&GS) {
            first = &first[..first.len() - 1];
        }
        if parse_single(first, true).is_ok() && parse_single(second, true).is_ok() {
            return Some(ParseError {
                errors: vec![CodeError::new(p, Defect::DoubleScan(p))],
                layout_guess: None,
                identifier: None,
            });
        }
    }
    None
}
