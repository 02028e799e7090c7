//! Valid-code generators (spec `codes.md` §13.1): owns [`CodeSpec`] (the parts of one valid code and
//! its canonical rendering), the seeded generator ([`random_spec`], [`generate`]), the `proptest`
//! strategies ([`spec_strategy`], [`any_spec`], [`spec_with_lookalikes`]) and the `arbitrary`
//! implementations ([`CodeSpec`], [`ScanBytes`]) used by the fuzz targets.
//!
//! Every code produced here is accepted by the strict [`crate::parse::parse`] as its own layout, with
//! the same GTIN and serial. Two shapes that are valid for the regex of §5.2 but read differently by
//! the classifier are never produced:
//!
//! - a tobacco pack matching `^01\d{14}21` (§9.1 step 2 excludes it from `TOB-PACK`, whether or not
//!   `[2..16]` is a valid GTIN);
//! - a KI-only code with a 13-character serial holding `93` at offset 25 of the code (it is then a
//!   beer code whose ⟨GS⟩ was lost, §11).
//!
//! The seeded generator regenerates such a draw; strategies and `arbitrary` change one serial
//! character instead, so that shrinking and fuzzing stay deterministic.

use crate::charset::{B64, CSET82, GS};
use crate::gtin;
use crate::layout::Layout;
use crate::mrp;
use crate::mutate::Mutation;
use arbitrary::{Arbitrary, Unstructured};
use base64::Engine;
use proptest::prelude::*;
use proptest::sample::Index;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt;

/// Key ids (AI 91) the generator prefers: hex-looking, as seen on real codes.
pub const KEY_IDS: &[&str] = &["EE05", "EE06", "EE07", "EE08", "EE09", "EE10", "FFD0", "0042"];

/// ТН ВЭД headings of footwear (chapter 64), used for the shoe AI 240.
pub const TNVED_SHOES: &[&str] = &["6401", "6402", "6403", "6404", "6405", "6406"];

/// Digit runs that look like AIs of Russian codes (§13.2 item 5): injected into serials and tails to
/// check that nothing splits a code on AI digits.
pub const AI_LOOKALIKES: &[&str] = &["91", "92", "93", "21", "8005", "3103", "240"];

/// GTIN-14 prefixes of foreign goods (indicator digit `0` + a GS1 prefix). `01…` makes GTINs that
/// begin with the AI digits `01`, the pack confuser of §5.3.
const FOREIGN_PREFIXES: &[&str] =
    &["0400", "0300", "0500", "0800", "0690", "0471", "0481", "0487", "0482", "0100", "0123"];

/// Packs per tobacco block (AI 8005 = packs × pack MRP, §13.1).
const PACKS_PER_BLOCK: u32 = 10;

/// The parts of one valid marking code. [`CodeSpec::render`] writes the canonical code.
///
/// Only the parts of `layout` are rendered; the others are `None` in every spec this module builds.
/// A spec built by hand with a required part missing renders an incomplete (invalid) code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSpec {
    /// The layout (§5).
    pub layout: Layout,
    /// 14 digits with a valid check digit.
    pub gtin: String,
    /// Serial of exactly the layout's length, CSET82.
    pub serial: String,
    /// AI 93 value (block, milk, beer, S13-93), or the 4 check characters of a tobacco pack.
    pub check: Option<String>,
    /// AI 91 key id, 4 characters (S13-44, S13-88, S20-44).
    pub key_id: Option<String>,
    /// AI 92 signature, canonical base64 of 32 bytes (44 chars) or 64 bytes (88 chars, S13-88).
    pub signature: Option<String>,
    /// Tobacco pack MRP in kopecks, written base 80 (values ≥ 80⁴ render as the largest MRP).
    pub mrp_kopecks: Option<u32>,
    /// Tobacco block AI 8005 value, rendered zero-padded to 6 digits.
    pub ai8005: Option<u32>,
    /// Weighed dairy AI 3103 raw value (grams), rendered zero-padded to 6 digits after AI 93.
    pub weight: Option<u32>,
    /// Beer AI 335n: `(n, raw)`, n = number of decimals 0..=5, raw rendered zero-padded to 6 digits.
    pub volume: Option<(u8, u32)>,
    /// Shoes AI 240: 4-digit ТН ВЭД code, rendered before AI 91.
    pub tnved: Option<String>,
}

impl CodeSpec {
    /// A spec with only layout, GTIN and serial set.
    pub fn bare(layout: Layout, gtin: String, serial: String) -> CodeSpec {
        CodeSpec {
            layout,
            gtin,
            serial,
            check: None,
            key_id: None,
            signature: None,
            mrp_kopecks: None,
            ai8005: None,
            weight: None,
            volume: None,
            tnved: None,
        }
    }

    /// The canonical code as bytes (§5.2; ⟨GS⟩ = 0x1D).
    pub fn render(&self) -> Vec<u8> {
        self.render_string().into_bytes()
    }

    /// The canonical code as text (⟨GS⟩ as U+001D).
    pub fn render_string(&self) -> String {
        let mut out = String::with_capacity(140);
        let check = self.check.as_deref().unwrap_or("");
        if self.layout == Layout::TobaccoPack {
            out.push_str(&self.gtin);
            out.push_str(&self.serial);
            let k = self.mrp_kopecks.unwrap_or(0).min(mrp::LIMIT - 1);
            // `k < LIMIT`, so `encode` always succeeds; the fallback is never used.
            let chars = mrp::encode(k).unwrap_or(*b"????");
            out.extend(chars.iter().map(|&b| char::from(b)));
            out.push_str(check);
            return out;
        }
        out.push_str("01");
        out.push_str(&self.gtin);
        out.push_str("21");
        out.push_str(&self.serial);
        let gs = char::from(GS);
        let mut element = |ai: &str, value: &str| {
            out.push(gs);
            out.push_str(ai);
            out.push_str(value);
        };
        match self.layout {
            Layout::TobaccoBlock => {
                if let Some(v) = self.ai8005 {
                    element("8005", &format!("{v:06}"));
                }
                if let Some(c) = &self.check {
                    element("93", c);
                }
            }
            Layout::Milk => {
                if let Some(c) = &self.check {
                    element("93", c);
                }
                if let Some(w) = self.weight {
                    element("3103", &format!("{w:06}"));
                }
            }
            Layout::Beer => {
                if let Some(c) = &self.check {
                    element("93", c);
                }
                if let Some((n, raw)) = self.volume {
                    element(&format!("335{n}"), &format!("{raw:06}"));
                }
            }
            Layout::S13T93 => {
                if let Some(c) = &self.check {
                    element("93", c);
                }
            }
            Layout::S13T44 | Layout::S13T88 | Layout::S20T44 => {
                if let Some(t) = &self.tnved {
                    if self.layout == Layout::S13T88 {
                        element("240", t);
                    }
                }
                if let Some(k) = &self.key_id {
                    element("91", k);
                }
                if let Some(s) = &self.signature {
                    element("92", s);
                }
            }
            Layout::KiOnly | Layout::TobaccoPack => {}
        }
        out
    }
}

impl fmt::Display for CodeSpec {
    /// The rendered code in the escaped text form (`\u001d` for ⟨GS⟩).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::escape::escape(&self.render()))
    }
}

// ---------------------------------------------------------------------------------------------
// One drawing routine for both a `rand` RNG and `arbitrary` bytes.

/// A source of choices: a seeded RNG or fuzzer bytes.
trait Draw {
    /// A value in `0..n`; 0 when `n == 0`.
    fn below(&mut self, n: usize) -> usize;
    /// Any byte.
    fn byte(&mut self) -> u8;
}

struct RngDraw<'r, R: ?Sized>(&'r mut R);

impl<R: Rng + ?Sized> Draw for RngDraw<'_, R> {
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.0.random_range(0..n)
        }
    }

    fn byte(&mut self) -> u8 {
        self.0.random()
    }
}

/// Fuzzer bytes; once they run out every choice is 0, which still yields a valid spec.
struct BytesDraw<'u, 'a>(&'u mut Unstructured<'a>);

impl Draw for BytesDraw<'_, '_> {
    fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            0
        } else {
            self.0.int_in_range(0..=n - 1).unwrap_or(0)
        }
    }

    fn byte(&mut self) -> u8 {
        self.0.arbitrary::<u8>().unwrap_or(0)
    }
}

fn pick<'t, T>(d: &mut impl Draw, table: &'t [T]) -> &'t T {
    // Every table passed here is a non-empty constant; `below` stays inside it.
    &table[d.below(table.len()).min(table.len() - 1)]
}

/// Complete a GTIN-14 from a prefix and filler digits (the prefix is cut or padded to 13 digits).
fn gtin_from(prefix: &str, digits: &[u8]) -> String {
    let mut body = [b'0'; 13];
    let fill = prefix.bytes().chain(digits.iter().map(|d| b'0' + d % 10));
    for (slot, b) in body.iter_mut().zip(fill) {
        *slot = if b.is_ascii_digit() { b } else { b'0' };
    }
    // `body` is 13 ASCII digits by construction, so `complete` succeeds.
    let g = gtin::complete(&body).unwrap_or([b'0'; 14]);
    g.iter().map(|&b| char::from(b)).collect()
}

fn draw_gtin(d: &mut impl Draw) -> String {
    let prefix = match d.below(10) {
        0..=7 => "046",
        8 => "029",
        _ => pick(d, FOREIGN_PREFIXES),
    };
    let digits: Vec<u8> = (0..10).map(|_| d.below(10) as u8).collect();
    gtin_from(prefix, &digits)
}

fn draw_from(d: &mut impl Draw, table: &[u8], len: usize) -> String {
    (0..len).map(|_| char::from(*pick(d, table))).collect()
}

/// True for the groups whose serial starts with the EAEU country character (§5.4); `5` = Russia.
fn country_serial(layout: Layout) -> bool {
    matches!(layout, Layout::S13T93 | Layout::S13T44 | Layout::S20T44)
}

/// Serial lengths of a KI-only code.
const KI_SERIAL_LENS: [usize; 4] = [6, 7, 13, 20];

fn draw_serial(layout: Layout, d: &mut impl Draw) -> String {
    let len = layout.serial_len().unwrap_or_else(|| *pick(d, &KI_SERIAL_LENS));
    if country_serial(layout) {
        let mut s = String::from("5");
        s.push_str(&draw_from(d, CSET82, len - 1));
        s
    } else {
        draw_from(d, CSET82, len)
    }
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

fn draw_key(d: &mut impl Draw) -> String {
    if d.below(4) < 3 {
        pick(d, KEY_IDS).to_string()
    } else if d.below(2) == 0 {
        draw_from(d, HEX_UPPER, 4)
    } else {
        draw_from(d, HEX_LOWER, 4)
    }
}

fn encode_signature(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn draw_signature(d: &mut impl Draw, nbytes: usize) -> String {
    let bytes: Vec<u8> = (0..nbytes).map(|_| d.byte()).collect();
    encode_signature(&bytes)
}

fn draw_spec(layout: Layout, d: &mut impl Draw) -> CodeSpec {
    let gtin = draw_gtin(d);
    let serial = draw_serial(layout, d);
    let mut spec = CodeSpec::bare(layout, gtin, serial);
    match layout {
        Layout::TobaccoPack => {
            spec.mrp_kopecks = Some(pack_mrp(50 + d.below(451) as u32));
            spec.check = Some(draw_from(d, CSET82, 4));
        }
        Layout::TobaccoBlock => {
            spec.ai8005 = Some(PACKS_PER_BLOCK * pack_mrp(50 + d.below(451) as u32));
            spec.check = Some(draw_from(d, B64, 4));
        }
        Layout::Milk => {
            spec.check = Some(draw_from(d, B64, 4));
            if d.below(2) == 0 {
                spec.weight = Some(1 + d.below(999_999) as u32);
            }
        }
        Layout::Beer => {
            spec.check = Some(draw_from(d, B64, 4));
            if d.below(2) == 0 {
                spec.volume = Some((d.below(6) as u8, 1 + d.below(999_999) as u32));
            }
        }
        Layout::S13T93 => spec.check = Some(draw_from(d, B64, 4)),
        Layout::S13T44 | Layout::S20T44 => {
            spec.key_id = Some(draw_key(d));
            spec.signature = Some(draw_signature(d, 32));
        }
        Layout::S13T88 => {
            if d.below(2) == 0 {
                spec.tnved = Some(if d.below(4) == 0 {
                    draw_from(d, b"0123456789", 4)
                } else {
                    pick(d, TNVED_SHOES).to_string()
                });
            }
            spec.key_id = Some(draw_key(d));
            spec.signature = Some(draw_signature(d, 64));
        }
        Layout::KiOnly => {}
    }
    spec
}

/// Kopecks of a whole number of roubles.
fn pack_mrp(roubles: u32) -> u32 {
    roubles * 100
}

/// True when the strict parser would read the spec's code as something else (module docs).
fn is_ambiguous(spec: &CodeSpec) -> bool {
    let s = spec.serial.as_bytes();
    match spec.layout {
        Layout::TobaccoPack => {
            let code = spec.render();
            code.len() >= 18
                && code.starts_with(b"01")
                && code[2..16].iter().all(u8::is_ascii_digit)
                && &code[16..18] == b"21"
        }
        Layout::KiOnly => s.len() == 13 && s.get(7..9) == Some(b"93".as_slice()),
        _ => false,
    }
}

/// Make an ambiguous spec unambiguous by changing one serial character (module docs).
fn settle(spec: &mut CodeSpec) {
    if !is_ambiguous(spec) {
        return;
    }
    // Pack: code[16] is serial[2] (a '2'); KI-only: code[26] is serial[8] (a '3').
    let at = if spec.layout == Layout::TobaccoPack { 2 } else { 8 };
    if spec.serial.is_ascii() && at < spec.serial.len() {
        spec.serial.replace_range(at..at + 1, "x");
    }
}

/// A random valid spec of `layout` (§13.1), drawn from `rng`.
///
/// GTINs are mostly `046…`, sometimes `029…` or foreign; serials of the newer groups (S13-93, S13-44,
/// S20-44) start with `5`; milk is weighed, beer carries a volume and shoes a ТН ВЭД code about half
/// of the time. A draw the classifier would read as another layout is drawn again.
pub fn random_spec<R: Rng + ?Sized>(layout: Layout, rng: &mut R) -> CodeSpec {
    let mut d = RngDraw(rng);
    let mut spec = draw_spec(layout, &mut d);
    let mut tries = 0;
    while is_ambiguous(&spec) && tries < 64 {
        spec = draw_spec(layout, &mut d);
        tries += 1;
    }
    settle(&mut spec);
    spec
}

/// `count` rendered codes of `layout`, deterministic in `seed` (ChaCha8).
pub fn generate(layout: Layout, count: usize, seed: u64) -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count).map(|_| random_spec(layout, &mut rng).render_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// proptest strategies, built from combinators over the parts so that failures shrink.

fn chars_strategy(table: &'static [u8], len: usize) -> impl Strategy<Value = String> + Clone {
    proptest::collection::vec(0..table.len(), len)
        .prop_map(move |ix| ix.into_iter().map(|i| char::from(table[i])).collect())
}

fn gtin_strategy() -> impl Strategy<Value = String> {
    let prefix = prop_oneof![
        8 => Just("046"),
        1 => Just("029"),
        1 => proptest::sample::select(FOREIGN_PREFIXES),
    ];
    (prefix, proptest::collection::vec(0u8..10, 10)).prop_map(|(p, digits)| gtin_from(p, &digits))
}

fn serial_strategy(layout: Layout) -> BoxedStrategy<String> {
    match layout.serial_len() {
        Some(len) if country_serial(layout) => {
            chars_strategy(CSET82, len - 1).prop_map(|s| format!("5{s}")).boxed()
        }
        Some(len) => chars_strategy(CSET82, len).boxed(),
        None => prop_oneof![
            chars_strategy(CSET82, 6),
            chars_strategy(CSET82, 7),
            chars_strategy(CSET82, 13),
            chars_strategy(CSET82, 20),
        ]
        .boxed(),
    }
}

fn key_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(KEY_IDS).prop_map(str::to_string),
        1 => chars_strategy(HEX_UPPER, 4),
        1 => chars_strategy(HEX_LOWER, 4),
    ]
}

fn signature_strategy(nbytes: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<u8>(), nbytes).prop_map(|b| encode_signature(&b))
}

fn tnved_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(TNVED_SHOES).prop_map(str::to_string),
        1 => chars_strategy(b"0123456789", 4),
    ]
}

/// Valid specs of one layout, built from strategies over each part (GTIN digits, serial characters,
/// signature bytes, MRP, weight, …) so that a failing case shrinks to a small one.
pub fn spec_strategy(layout: Layout) -> impl Strategy<Value = CodeSpec> {
    let base = (gtin_strategy(), serial_strategy(layout));
    let check = || chars_strategy(B64, 4);
    let spec: BoxedStrategy<CodeSpec> = match layout {
        Layout::TobaccoPack => (base, 50u32..=500, chars_strategy(CSET82, 4))
            .prop_map(move |((g, s), roubles, check)| CodeSpec {
                mrp_kopecks: Some(pack_mrp(roubles)),
                check: Some(check),
                ..CodeSpec::bare(layout, g, s)
            })
            .boxed(),
        Layout::TobaccoBlock => (base, 50u32..=500, check())
            .prop_map(move |((g, s), roubles, check)| CodeSpec {
                ai8005: Some(PACKS_PER_BLOCK * pack_mrp(roubles)),
                check: Some(check),
                ..CodeSpec::bare(layout, g, s)
            })
            .boxed(),
        Layout::Milk => (base, check(), proptest::option::of(1u32..=999_999))
            .prop_map(move |((g, s), check, weight)| CodeSpec {
                check: Some(check),
                weight,
                ..CodeSpec::bare(layout, g, s)
            })
            .boxed(),
        Layout::Beer => (base, check(), proptest::option::of((0u8..=5, 1u32..=999_999)))
            .prop_map(move |((g, s), check, volume)| CodeSpec {
                check: Some(check),
                volume,
                ..CodeSpec::bare(layout, g, s)
            })
            .boxed(),
        Layout::S13T93 => (base, check())
            .prop_map(move |((g, s), check)| CodeSpec { check: Some(check), ..CodeSpec::bare(layout, g, s) })
            .boxed(),
        Layout::S13T44 | Layout::S20T44 => (base, key_strategy(), signature_strategy(32))
            .prop_map(move |((g, s), key, sig)| CodeSpec {
                key_id: Some(key),
                signature: Some(sig),
                ..CodeSpec::bare(layout, g, s)
            })
            .boxed(),
        Layout::S13T88 => {
            (base, proptest::option::of(tnved_strategy()), key_strategy(), signature_strategy(64))
                .prop_map(move |((g, s), tnved, key, sig)| CodeSpec {
                    tnved,
                    key_id: Some(key),
                    signature: Some(sig),
                    ..CodeSpec::bare(layout, g, s)
                })
                .boxed()
        }
        Layout::KiOnly => base.prop_map(move |(g, s)| CodeSpec::bare(layout, g, s)).boxed(),
    };
    spec.prop_map(|mut s| {
        settle(&mut s);
        s
    })
}

/// Valid specs of every layout (a union of [`spec_strategy`] over [`Layout::ALL`]).
pub fn any_spec() -> impl Strategy<Value = CodeSpec> {
    proptest::strategy::Union::new(Layout::ALL.iter().map(|&l| spec_strategy(l).boxed()))
}

/// Where a look-alike is injected.
#[derive(Clone, Copy, Debug)]
enum Target {
    Serial,
    Check,
    Key,
    Signature,
    Quantity,
    Tnved,
}

const TARGETS: [Target; 6] =
    [Target::Serial, Target::Check, Target::Key, Target::Signature, Target::Quantity, Target::Tnved];

/// Overwrite `token` into `field[from..to]` at a position chosen by `at`. False if it does not fit.
fn overwrite(field: &mut String, from: usize, to: usize, token: &str, at: Index) -> bool {
    let to = to.min(field.len());
    if !field.is_ascii() || from > to || token.len() > to - from {
        return false;
    }
    let p = from + at.index(to - from - token.len() + 1);
    field.replace_range(p..p + token.len(), token);
    true
}

/// Overwrite `token` into the 6 digits of a numeric value; every look-alike has a non-zero digit, so
/// the value stays > 0.
fn overwrite_number(v: u32, token: &str, at: Index) -> u32 {
    let mut s = format!("{:06}", v.min(999_999));
    if overwrite(&mut s, 0, 6, token, at) {
        s.parse().unwrap_or(v)
    } else {
        v
    }
}

fn inject(spec: &mut CodeSpec, target: Target, token: &str, at: Index) {
    let done = match target {
        Target::Serial => false,
        Target::Check => spec.check.as_mut().is_some_and(|c| overwrite(c, 0, 4, token, at)),
        Target::Key => spec.key_id.as_mut().is_some_and(|k| overwrite(k, 0, 4, token, at)),
        Target::Signature => spec.signature.as_mut().is_some_and(|s| {
            // Keep the padding and the last data character (it carries the zero trailing bits).
            let data = s.trim_end_matches('=').len();
            overwrite(s, 0, data.saturating_sub(1), token, at)
        }),
        Target::Quantity => {
            if let Some(w) = spec.weight.as_mut() {
                *w = overwrite_number(*w, token, at);
                true
            } else if let Some((_, raw)) = spec.volume.as_mut() {
                *raw = overwrite_number(*raw, token, at);
                true
            } else {
                false
            }
        }
        Target::Tnved => {
            let numeric = token.bytes().all(|b| b.is_ascii_digit());
            numeric && spec.tnved.as_mut().is_some_and(|t| overwrite(t, 0, 4, token, at))
        }
    };
    if !done {
        let from = usize::from(country_serial(spec.layout));
        let len = spec.serial.len();
        overwrite(&mut spec.serial, from, len, token, at);
    }
}

/// Valid specs of `layout` whose serial and tails deliberately contain AI look-alike digit runs
/// ([`AI_LOOKALIKES`]) at various positions (§13.2 item 5): one to three injections into the serial,
/// the AI 93 / pack check value, the key id, the signature, the weight/volume digits or the ТН ВЭД
/// code. The result is still a valid code of `layout`.
pub fn spec_with_lookalikes(layout: Layout) -> impl Strategy<Value = CodeSpec> {
    let injection = (
        proptest::sample::select(TARGETS.as_slice()),
        proptest::sample::select(AI_LOOKALIKES),
        any::<Index>(),
    );
    (spec_strategy(layout), proptest::collection::vec(injection, 1..=3)).prop_map(|(mut spec, injections)| {
        for (target, token, at) in injections {
            inject(&mut spec, target, token, at);
        }
        settle(&mut spec);
        spec
    })
}

// ---------------------------------------------------------------------------------------------
// arbitrary

impl<'a> Arbitrary<'a> for CodeSpec {
    /// Always a valid spec, whatever the bytes (exhausted input draws zeros).
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut d = BytesDraw(u);
        let layout = *pick(&mut d, &Layout::ALL);
        let mut spec = draw_spec(layout, &mut d);
        settle(&mut spec);
        Ok(spec)
    }
}

/// Scanner-like input for fuzzing `parse` and `normalize`: a valid code, a valid code with one or
/// two [`Mutation`]s applied, or raw bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct ScanBytes(pub Vec<u8>);

impl fmt::Debug for ScanBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ScanBytes").field(&crate::escape::escape(&self.0)).finish()
    }
}

impl<'a> Arbitrary<'a> for ScanBytes {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let kind = u.int_in_range(0u8..=2).unwrap_or(0);
        if kind == 2 {
            return Ok(ScanBytes(u.arbitrary::<Vec<u8>>().unwrap_or_default()));
        }
        let mut code = CodeSpec::arbitrary(u)?.render();
        if kind == 1 {
            let rounds = 1 + usize::from(u.ratio(1u8, 4u8).unwrap_or(false));
            let mut rng = ChaCha8Rng::seed_from_u64(u.arbitrary::<u64>().unwrap_or(0));
            for _ in 0..rounds {
                let m = Mutation::arbitrary(u)?;
                if let Some(next) = m.apply(&code, &mut rng) {
                    code = next;
                }
            }
        }
        Ok(ScanBytes(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples_render_exactly() {
        let milk = CodeSpec {
            check: Some("pR7s".into()),
            weight: Some(450),
            ..CodeSpec::bare(Layout::Milk, "04612345000438".into(), "5K%x(1".into())
        };
        assert_eq!(milk.render_string(), "0104612345000438215K%x(1\u{1d}93pR7s\u{1d}3103000450");
        let pack = CodeSpec {
            mrp_kopecks: Some(18_500),
            check: Some("Zt9+".into()),
            ..CodeSpec::bare(Layout::TobaccoPack, "04612345000124".into(), "Kx7;pQa".into())
        };
        assert_eq!(pack.render_string(), "04612345000124Kx7;pQaAC/UZt9+");
        let shoes = CodeSpec {
            tnved: Some("6403".into()),
            key_id: Some("0042".into()),
            signature: Some("s".into()),
            ..CodeSpec::bare(Layout::S13T88, "02900000123458".into(), "5Jr%Tn2=Wq4Ls".into())
        };
        assert_eq!(
            shoes.render_string(),
            "0102900000123458215Jr%Tn2=Wq4Ls\u{1d}2406403\u{1d}910042\u{1d}92s"
        );
        let block = CodeSpec {
            ai8005: Some(185_000),
            check: Some("Rk3p".into()),
            ..CodeSpec::bare(Layout::TobaccoBlock, "04612345000360".into(), "Hq'7Lz:".into())
        };
        assert_eq!(block.render_string(), "010461234500036021Hq'7Lz:\u{1d}8005185000\u{1d}93Rk3p");
    }

    #[test]
    fn ambiguous_pack_and_ki_only_are_settled() {
        // A pack whose GS1 reading would start `01` + valid GTIN + `21`.
        let mut pack = CodeSpec {
            mrp_kopecks: Some(10_000),
            check: Some("AAAA".into()),
            ..CodeSpec::bare(Layout::TobaccoPack, gtin_from("0100", &[0; 10]), String::new())
        };
        let inner = &pack.gtin.as_bytes()[2..14];
        let mut body = [b'0'; 13];
        body[..12].copy_from_slice(inner);
        body[12] = b'7';
        let c = gtin::check_digit(&body).unwrap();
        pack.serial = format!("7{c}21abc");
        assert!(is_ambiguous(&pack));
        settle(&mut pack);
        assert!(!is_ambiguous(&pack));
        let mut ki = CodeSpec::bare(Layout::KiOnly, gtin_from("046", &[1; 10]), "5abcdef93wxyz".into());
        assert!(is_ambiguous(&ki));
        settle(&mut ki);
        assert!(!is_ambiguous(&ki));
    }
}
