//! `markcert codes …`: inspect, generate and distort marking codes from the command line.
//!
//! Owns the wire shape of `markcert codes inspect` ([`InspectRecord`], one JSON object per input
//! line, field order fixed) and the line-oriented loops of the three subcommands. The grammar itself
//! lives in `markcert-codes`; this module only reads lines, calls it and prints.

use markcert_codes::distort::{self, Delivery, ScannerProfile};
use markcert_codes::escape::{escape, unescape};
use markcert_codes::generate;
use markcert_codes::{
    normalize, parse, CodeError, CodeOptions, Defect, Layout, MarkingCode, NormalizeError, ParseError,
    Repair, Tail, Warning,
};
use rand::SeedableRng;
use serde::Serialize;
use std::io::{self, Read, Write};

/// Options of `markcert codes inspect`.
#[derive(Clone, Debug, Default)]
pub struct InspectOptions {
    /// Read the input leniently (`normalize`) and report the repairs.
    pub repair: bool,
    /// Read `\u001d`, `<GS>`, `\xHH` and `\\` in the input text as the bytes they stand for.
    pub escapes: bool,
    /// Packs per tobacco block for `block_pack_price_kopecks` (default 10).
    pub pack_count: Option<u32>,
    /// Spec decisions (AI 8005 semantics, printView length, …).
    pub code_options: CodeOptions,
}

/// Weight or volume of a code, as decimal text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuantityRecord {
    /// `kg` or `l`.
    pub unit: String,
    /// Decimal text, e.g. `0.450`.
    pub value: String,
}

/// One line of `markcert codes inspect` output. Field order is part of the wire format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InspectRecord {
    /// The input line as text (invalid UTF-8 replaced; see `input_hex`). ⟨GS⟩ appears as `\u001d`.
    pub input: String,
    /// The exact input bytes in hex when the input is not valid UTF-8, else null.
    pub input_hex: Option<String>,
    /// True when the line is a valid marking code (after repairs, with `--repair`).
    pub valid: bool,
    /// Layout name, or `unknown`; for invalid codes the layout the input most resembles.
    pub layout: String,
    /// A non-marking identifier the input is (`ean-13`, `ean-8`, `itf-14`, `sscc`, `fur-kiz`).
    pub identifier: Option<String>,
    /// GTIN (valid codes).
    pub gtin: Option<String>,
    /// Serial (valid codes).
    pub serial: Option<String>,
    /// `93`, `92-44`, `92-88` or `none`.
    pub tail_kind: String,
    /// AI 91 key id (signature layouts).
    pub key_id: Option<String>,
    /// The verification value: AI 93 / pack check characters, or the AI 92 signature.
    pub tail: Option<String>,
    /// Tobacco pack MRP in kopecks (base 80 decoded).
    pub mrp_kopecks: Option<u32>,
    /// Raw AI 8005 value of a block.
    pub ai8005: Option<u32>,
    /// Block price in kopecks under the configured AI 8005 semantics.
    pub block_price_kopecks: Option<u64>,
    /// Per-pack price of a block in kopecks for `--pack-count` packs.
    pub block_pack_price_kopecks: Option<u64>,
    /// Net weight (3103) or volume (335n).
    pub quantity: Option<QuantityRecord>,
    /// FFD tag 2100 (0 for invalid input).
    pub ffd_2100: u8,
    /// FFD tag 1163 inner tag.
    pub tag_1163: Option<u16>,
    /// FFD tag 1163 value built by the KKT.
    pub tag_1163_value: Option<String>,
    /// True API printView.
    pub print_view: Option<String>,
    /// The canonical code (⟨GS⟩ as `\u001d` in JSON).
    pub canonical: Option<String>,
    /// Product-group ids whose codes use this layout.
    pub groups: Vec<u16>,
    /// Repairs applied (`--repair` only).
    pub repairs: Vec<Repair>,
    /// Warnings.
    pub warnings: Vec<Warning>,
    /// Defects, `{code, offset, message}`. With `--repair`, offsets refer to the scan after the
    /// repairs listed in `repairs`.
    pub errors: Vec<CodeError>,
    /// Valid codes that fit an ambiguous scan (`--repair`).
    pub candidates: Vec<String>,
    /// True API per-code `errorCode` an online check would give the input (0 when valid).
    pub true_api_error_code: u8,
}

/// Inspect one input line.
pub fn inspect_line(line: &[u8], opts: &InspectOptions) -> InspectRecord {
    let bytes = if opts.escapes { unescape(line) } else { line.to_vec() };
    let (input, input_hex) = match std::str::from_utf8(&bytes) {
        Ok(s) => (s.to_string(), None),
        Err(_) => (String::from_utf8_lossy(&bytes).into_owned(), Some(hex(&bytes))),
    };
    let mut rec = InspectRecord {
        input,
        input_hex,
        valid: false,
        layout: "unknown".into(),
        identifier: None,
        gtin: None,
        serial: None,
        tail_kind: "none".into(),
        key_id: None,
        tail: None,
        mrp_kopecks: None,
        ai8005: None,
        block_price_kopecks: None,
        block_pack_price_kopecks: None,
        quantity: None,
        ffd_2100: 0,
        tag_1163: None,
        tag_1163_value: None,
        print_view: None,
        canonical: None,
        groups: Vec::new(),
        repairs: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
        candidates: Vec::new(),
        true_api_error_code: 0,
    };
    if opts.repair {
        match normalize(&bytes) {
            Ok(n) => {
                rec.repairs = n.repairs;
                rec.warnings = n.warnings;
                fill_valid(&mut rec, &n.code, opts);
            }
            Err(NormalizeError::Unrepairable { error, repairs }) => {
                rec.repairs = repairs;
                fill_invalid(&mut rec, error);
            }
            Err(NormalizeError::Ambiguous { candidates }) => {
                rec.errors.push(ambiguity(candidates.len()));
                rec.candidates = candidates;
                rec.true_api_error_code = 1;
            }
        }
    } else {
        match parse(&bytes) {
            Ok(code) => fill_valid(&mut rec, &code, opts),
            Err(e) => fill_invalid(&mut rec, e),
        }
    }
    rec
}

fn ambiguity(n: usize) -> CodeError {
    CodeError::new(0, Defect::Ambiguous(n))
}

fn fill_valid(rec: &mut InspectRecord, code: &MarkingCode, opts: &InspectOptions) {
    let o = &opts.code_options;
    rec.valid = true;
    rec.layout = code.layout().name().into();
    rec.gtin = Some(code.gtin().into());
    rec.serial = Some(code.serial().into());
    rec.tail_kind = code.tail_kind().name().into();
    match code.tail() {
        Tail::Short(v) => rec.tail = Some(v.into()),
        Tail::Signature { key, signature } => {
            rec.key_id = Some(key.into());
            rec.tail = Some(signature.into());
        }
        Tail::None => {}
    }
    rec.mrp_kopecks = code.mrp_kopecks();
    rec.ai8005 = code.ai8005();
    if let Some(p) = code.block_price(o.ai8005_semantics, opts.pack_count.unwrap_or(10)) {
        rec.block_price_kopecks = Some(p.block_kopecks);
        rec.block_pack_price_kopecks = Some(p.per_pack_kopecks);
    }
    rec.quantity = code.quantity().map(|q| QuantityRecord {
        unit: match q.unit {
            markcert_codes::QuantityUnit::Kg => "kg".into(),
            markcert_codes::QuantityUnit::L => "l".into(),
        },
        value: q.decimal(),
    });
    rec.ffd_2100 = code.ffd_2100(o, false);
    rec.tag_1163 = Some(code.tag_1163());
    rec.tag_1163_value = Some(code.tag_1163_value(o));
    rec.print_view = Some(code.print_view(o).into());
    rec.canonical = Some(code.as_str().into());
    rec.groups = code.group_candidates();
    rec.warnings.extend(code.warnings().iter().cloned());
}

fn fill_invalid(rec: &mut InspectRecord, e: ParseError) {
    rec.true_api_error_code = e.true_api_error_code();
    if let Some(l) = e.layout_guess {
        rec.layout = l.name().into();
        rec.tail_kind = l.tail_kind().name().into();
    }
    if let Some(id) = e.identifier {
        rec.identifier = Some(id.name().into());
        rec.tag_1163 = Some(id.tag_1163());
    }
    rec.errors = e.errors;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Split input into lines on LF. A final line without LF counts; the empty remainder after a final LF
/// does not. CR is kept: it is part of the scan (a scanner suffix).
pub fn lines(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = input.strip_suffix(b"\n").unwrap_or(input);
    let empty = input.is_empty();
    body.split(|&b| b == b'\n').filter(move |_| !empty)
}

/// Totals of an inspect run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InspectSummary {
    /// Lines read.
    pub lines: usize,
    /// Lines that were valid codes.
    pub valid: usize,
}

/// Run `inspect` over all of `input`, writing one JSON line per input line.
pub fn run_inspect(input: &[u8], out: &mut impl Write, opts: &InspectOptions) -> io::Result<InspectSummary> {
    let mut summary = InspectSummary::default();
    for line in lines(input) {
        let rec = inspect_line(line, opts);
        summary.lines += 1;
        summary.valid += usize::from(rec.valid);
        serde_json::to_writer(&mut *out, &rec)?;
        out.write_all(b"\n")?;
    }
    Ok(summary)
}

/// Errors of `gen` and `distort` arguments.
#[derive(Debug, thiserror::Error)]
pub enum CodesCliError {
    /// Unknown layout name.
    #[error("unknown layout {0:?}; known: {1}")]
    UnknownLayout(String, String),
    /// Unknown scanner profile.
    #[error("unknown scanner profile {0:?}; known: {1}")]
    UnknownProfile(String, String),
    /// Output failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// `markcert codes gen`: `count` valid codes of `layout` (or of every layout for `all`), escaped.
pub fn run_gen(layout: &str, count: usize, seed: u64, out: &mut impl Write) -> Result<(), CodesCliError> {
    let layouts: Vec<Layout> = if layout == "all" {
        Layout::ALL.to_vec()
    } else {
        vec![Layout::from_name(layout).ok_or_else(|| {
            let names: Vec<&str> = Layout::ALL.iter().map(|l| l.name()).collect();
            CodesCliError::UnknownLayout(layout.into(), format!("all, {}", names.join(", ")))
        })?]
    };
    for l in layouts {
        for code in generate::generate(l, count, seed) {
            writeln!(out, "{}", escape(code.as_bytes()))?;
        }
    }
    Ok(())
}

/// How `distort` prints what the scanner delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DistortOutput {
    /// The text an application field receives, escaped (default).
    #[default]
    Escaped,
    /// The same text as raw bytes, one delivery per line (no extra LF after a delivery that
    /// already ends with the scanner's LF suffix).
    Raw,
    /// JSON: `text` (the delivered text; `text_hex` when it is not UTF-8) and `keys`, the key-event
    /// sequence of keyboard profiles (null for byte-delivering ones).
    Json,
}

/// `markcert codes distort`: what scanner `profile` delivers for each input code (escaped input
/// read as in `inspect --escapes`). Seeded per line, so output is reproducible.
pub fn run_distort(
    input: &[u8],
    profile_name: &str,
    seed: u64,
    output: DistortOutput,
    out: &mut impl Write,
) -> Result<(), CodesCliError> {
    let profile = find_profile(profile_name)?;
    for (i, line) in lines(input).enumerate() {
        let code = unescape(line);
        let mut rng =
            rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let d: Delivery = distort::apply(profile, &code, &mut rng);
        match output {
            DistortOutput::Escaped => writeln!(out, "{}", escape(&d.text))?,
            DistortOutput::Raw => {
                out.write_all(&d.text)?;
                // A scanner suffix ending in LF already ends the line.
                if !d.text.ends_with(b"\n") {
                    out.write_all(b"\n")?;
                }
            }
            DistortOutput::Json => {
                // As in `inspect`: the text itself in the JSON string, exact bytes in hex when it is
                // not UTF-8.
                let text_hex = std::str::from_utf8(&d.text).is_err().then(|| hex(&d.text));
                let v = serde_json::json!({
                    "text": String::from_utf8_lossy(&d.text),
                    "text_hex": text_hex,
                    "keys": d.keys,
                });
                writeln!(out, "{v}")?;
            }
        }
    }
    Ok(())
}

fn find_profile(name: &str) -> Result<&'static ScannerProfile, CodesCliError> {
    distort::profile(name).ok_or_else(|| {
        let names: Vec<&str> = distort::builtin_profiles().iter().map(|p| p.name.as_str()).collect();
        CodesCliError::UnknownProfile(name.into(), names.join(", "))
    })
}

/// `markcert codes profiles`: the built-in scanner profiles, one JSON object per line.
pub fn run_profiles(out: &mut impl Write) -> io::Result<()> {
    for p in distort::builtin_profiles() {
        serde_json::to_writer(&mut *out, p)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Read all of standard input.
pub fn read_stdin() -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    io::stdin().lock().read_to_end(&mut buf)?;
    Ok(buf)
}
