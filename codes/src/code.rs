//! The parsed marking code ([`MarkingCode`]) and everything derived from it: GTIN, serial, crypto
//! tail, tobacco MRP and block price, weight/volume, printView / КИ, FFD tags 2100 and 1163, and the
//! product-group candidates. Also the options where the spec leaves a decision open (§6.6, §9.2–9.4).

use crate::error::Warning;
use crate::layout::{Layout, TailKind};
use serde::{Deserialize, Serialize};

/// Spec decisions that are configurable (`codes.md` "Uncertain" blocks). Defaults are the spec's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CodeOptions {
    /// `codes.ai8005_semantics` (§6.6).
    pub ai8005_semantics: Ai8005Semantics,
    /// `codes.crc32_rule` (§9.2): classify 44-char signatures by the CRC32 heuristic.
    pub crc32_rule: bool,
    /// `trueapi.pack_printview_len` (§9.4): printView length of a tobacco pack code.
    pub pack_printview_len: usize,
    /// `kkt.tag1306_form` (§9.3): the 1163/1306 value of a tobacco pack.
    pub tag1306_form: Tag1306Form,
}

impl Default for CodeOptions {
    fn default() -> Self {
        CodeOptions {
            ai8005_semantics: Ai8005Semantics::SumKopecks,
            crc32_rule: false,
            pack_printview_len: 21,
            tag1306_form: Tag1306Form::Gs1Rebuild,
        }
    }
}

/// What the 6 digits of AI 8005 in a block code mean (§6.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Ai8005Semantics {
    /// The sum of the pack MRPs in kopecks (default).
    #[default]
    SumKopecks,
    /// The per-pack price in roubles × 1000.
    PackRubX1000,
}

/// The 1163/1306 value of a tobacco pack (§9.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Tag1306Form {
    /// `01`+GTIN+`21`+serial (25 characters; default).
    #[default]
    Gs1Rebuild,
    /// The first 21 characters (GTIN + serial).
    First21,
    /// The first 25 characters (GTIN + serial + MRP).
    First25,
}

/// Price of a tobacco block derived from AI 8005.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BlockPrice {
    /// Price of the whole block in kopecks.
    pub block_kopecks: u64,
    /// Price of one pack in kopecks (rounded down if the block total does not divide).
    pub per_pack_kopecks: u64,
}

/// Net weight (AI 3103) or volume (AI 335n) of a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Quantity {
    /// `kg` for AI 3103, `l` for AI 335n.
    pub unit: QuantityUnit,
    /// The six digits as an integer.
    pub raw: u32,
    /// Number of decimals (3 for 3103, n for 335n).
    pub decimals: u8,
}

/// Unit of a [`Quantity`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QuantityUnit {
    /// Kilograms (AI 3103).
    Kg,
    /// Litres (AI 335n).
    L,
}

impl Quantity {
    /// Decimal text, e.g. `0.450`.
    pub fn decimal(&self) -> String {
        let d = usize::from(self.decimals);
        let digits = format!("{:0width$}", self.raw, width = d + 1);
        if d == 0 {
            digits
        } else {
            let (int, frac) = digits.split_at(digits.len() - d);
            format!("{int}.{frac}")
        }
    }
}

/// The verification part of a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tail<'a> {
    /// AI 93 value or the 4 check characters of a pack.
    Short(&'a str),
    /// AI 91 key id and AI 92 signature.
    Signature { key: &'a str, signature: &'a str },
    /// No verification part (KI-only).
    None,
}

pub(crate) type Span = (usize, usize);

/// A valid marking code. Holds its canonical text and the positions of its parts; every accessor
/// borrows from the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkingCode {
    pub(crate) text: String,
    pub(crate) layout: Layout,
    pub(crate) gtin: Span,
    pub(crate) serial: Span,
    pub(crate) check: Option<Span>,
    pub(crate) key: Option<Span>,
    pub(crate) signature: Option<Span>,
    pub(crate) mrp: Option<u32>,
    pub(crate) ai8005: Option<u32>,
    pub(crate) block_signature: Option<Span>,
    pub(crate) ai240: Option<Span>,
    pub(crate) quantity: Option<Quantity>,
    pub(crate) expiry: Option<Span>,
    pub(crate) warnings: Vec<Warning>,
}

impl MarkingCode {
    fn span(&self, s: Span) -> &str {
        &self.text[s.0..s.1]
    }

    /// The canonical code (with real ⟨GS⟩ bytes): exactly what must be sent onward.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The canonical code as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// The layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The 14-digit GTIN.
    pub fn gtin(&self) -> &str {
        self.span(self.gtin)
    }

    /// The serial.
    pub fn serial(&self) -> &str {
        self.span(self.serial)
    }

    /// Kind of the verification part.
    pub fn tail_kind(&self) -> TailKind {
        self.layout.tail_kind()
    }

    /// The verification part.
    pub fn tail(&self) -> Tail<'_> {
        match (self.check, self.key, self.signature) {
            (Some(c), _, _) => Tail::Short(self.span(c)),
            (None, Some(k), Some(s)) => Tail::Signature { key: self.span(k), signature: self.span(s) },
            _ => Tail::None,
        }
    }

    /// Tobacco pack MRP in kopecks, decoded from base 80 (packs only).
    pub fn mrp_kopecks(&self) -> Option<u32> {
        self.mrp
    }

    /// Raw AI 8005 value of a block code.
    pub fn ai8005(&self) -> Option<u32> {
        self.ai8005
    }

    /// Block price for a block of `pack_count` packs under the given AI 8005 semantics.
    pub fn block_price(&self, semantics: Ai8005Semantics, pack_count: u32) -> Option<BlockPrice> {
        let v = u64::from(self.ai8005?);
        let packs = u64::from(pack_count.max(1));
        Some(match semantics {
            Ai8005Semantics::SumKopecks => BlockPrice { block_kopecks: v, per_pack_kopecks: v / packs },
            Ai8005Semantics::PackRubX1000 => {
                let per_pack = v / 10;
                BlockPrice { block_kopecks: per_pack * packs, per_pack_kopecks: per_pack }
            }
        })
    }

    /// Optional AI 92 signature of a block code (rare variant).
    pub fn block_signature(&self) -> Option<&str> {
        self.block_signature.map(|s| self.span(s))
    }

    /// AI 240 value: ТН ВЭД code on shoes, the 8-character trailing element on blocks.
    pub fn ai240(&self) -> Option<&str> {
        self.ai240.map(|s| self.span(s))
    }

    /// Net weight (3103) or volume (335n).
    pub fn quantity(&self) -> Option<Quantity> {
        self.quantity
    }

    /// AI 17 (YYMMDD) or 7003 (YYMMDDHHMM) expiry value, if the code carries one.
    pub fn expiry(&self) -> Option<&str> {
        self.expiry.map(|s| self.span(s))
    }

    /// КИ: `01`+GTIN+`21`+serial for GS1 codes; GTIN+serial (21 chars) for packs.
    pub fn ki(&self) -> &str {
        match self.layout {
            Layout::TobaccoPack => &self.text[..21],
            _ => &self.text[..self.serial.1],
        }
    }

    /// True API `printView`: everything before the first ⟨GS⟩ for GS1 codes; the first
    /// `pack_printview_len` characters of a pack.
    pub fn print_view(&self, opts: &CodeOptions) -> &str {
        match self.layout {
            Layout::TobaccoPack => &self.text[..opts.pack_printview_len.min(self.text.len())],
            _ => self.text.split('\u{1d}').next().unwrap_or(&self.text),
        }
    }

    /// FFD tag 1163 inner tag (1305 or 1306).
    pub fn tag_1163(&self) -> u16 {
        self.layout.tag_1163()
    }

    /// The 1163 value the KKT builds (also the 2101 ОИСМ item id).
    pub fn tag_1163_value(&self, opts: &CodeOptions) -> String {
        match (self.layout, opts.tag1306_form) {
            (Layout::TobaccoPack, Tag1306Form::Gs1Rebuild) => {
                format!("01{}21{}", self.gtin(), self.serial())
            }
            (Layout::TobaccoPack, Tag1306Form::First21) => self.text[..21].to_string(),
            (Layout::TobaccoPack, Tag1306Form::First25) => self.text[..25].to_string(),
            _ => self.ki().to_string(),
        }
    }

    /// FFD tag 2100 (type of marking code). `foreign` marks an EAEU code the ФН cannot verify.
    pub fn ffd_2100(&self, opts: &CodeOptions, foreign: bool) -> u8 {
        let base = self.layout.ffd_2100();
        if base != 4 {
            return base;
        }
        if foreign || (opts.crc32_rule && self.crc32_marks_not_for_fn()) {
            3
        } else {
            4
        }
    }

    /// The CRC32 heuristic of §9.2: the signature's 32 bytes carry the CRC32 of bytes 0..28 in
    /// bytes 28..32 (little-endian) → "not for ФН".
    pub fn crc32_marks_not_for_fn(&self) -> bool {
        use base64::Engine;
        let Some(sig) = self.signature.map(|s| self.span(s)) else { return false };
        if sig.len() != 44 {
            return false;
        }
        match base64::engine::general_purpose::STANDARD.decode(sig) {
            Ok(bytes) if bytes.len() == 32 => {
                let want = u32::from_le_bytes([bytes[28], bytes[29], bytes[30], bytes[31]]);
                crate::crc32::crc32(&bytes[..28]) == want
            }
            _ => false,
        }
    }

    /// Product groups whose Russian codes use this layout.
    pub fn group_candidates(&self) -> Vec<u16> {
        crate::groups::candidates(self.layout)
    }

    /// Warnings found while parsing.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_decimal_text() {
        let q = |raw, decimals| Quantity { unit: QuantityUnit::Kg, raw, decimals };
        assert_eq!(q(450, 3).decimal(), "0.450");
        assert_eq!(q(500, 3).decimal(), "0.500");
        assert_eq!(q(123456, 0).decimal(), "123456");
        assert_eq!(q(1, 5).decimal(), "0.00001");
        assert_eq!(q(999999, 2).decimal(), "9999.99");
    }

    #[test]
    fn options_deserialize_with_defaults() {
        let o: CodeOptions = toml::from_str("ai8005_semantics = \"pack_rub_x1000\"").unwrap();
        assert_eq!(o.ai8005_semantics, Ai8005Semantics::PackRubX1000);
        assert_eq!(o.pack_printview_len, 21);
        assert!(toml::from_str::<CodeOptions>("nonsense = 1").is_err());
    }
}
