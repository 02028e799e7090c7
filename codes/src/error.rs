//! Typed defects and warnings of marking codes (spec `codes.md` §10): one [`CodeError`] per defect,
//! each with its byte offset, a stable snake_case code for machines, a message for people and the
//! True API `errorCode` it corresponds to (`true-api.md` §7). No parsing happens here.

use crate::layout::Layout;
use serde::Serialize;
use std::fmt;

/// What is wrong with a code. The `Display` text is the human message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Defect {
    #[error("the code is empty")]
    Empty,
    #[error("character {0} is not allowed in a marking code (CSET82 only)")]
    ForbiddenCharacter(String),
    #[error("transport prefix {0} in front of the code (scanner artefact; normalize strips it)")]
    TransportPrefix(String),
    #[error("transport suffix {0} after the code (scanner artefact; normalize strips it)")]
    TransportSuffix(String),
    #[error("the code starts with ⟨GS⟩")]
    LeadingGs,
    #[error("the code ends with ⟨GS⟩")]
    TrailingGs,
    #[error("doubled ⟨GS⟩")]
    DoubledGs,
    #[error(
        "⟨GS⟩ missing before AI {0} (keyboard-wedge loss; normalize restores it by the layout template)"
    )]
    MissingGs(String),
    #[error("the code has no GTIN (must start with AI 01)")]
    NoGtin,
    #[error("GTIN must be 14 digits")]
    GtinFormat,
    #[error("GTIN check digit is {found}, expected {expected}")]
    GtinCheckDigit { expected: u8, found: u8 },
    #[error("the code has no serial (AI 21 must follow the GTIN)")]
    NoSerial,
    #[error("serial has {len} characters, the layout needs {expected}")]
    SerialLength { len: usize, expected: String },
    #[error("unknown or unsupported AI starting with {0:?}")]
    UnknownAi(String),
    #[error("AI {ai} does not belong in a {layout} code")]
    UnexpectedAi { ai: String, layout: Layout },
    #[error("AI {0} is required by this layout and missing")]
    MissingAi(String),
    #[error("AI {0} occurs twice")]
    DuplicateAi(String),
    #[error("AI {0} is out of order for this layout")]
    AiOrder(String),
    #[error("AI {ai} value has {len} characters, expected {expected}")]
    ValueLength { ai: String, len: usize, expected: String },
    #[error("AI {0} value must be digits only")]
    ValueNotNumeric(String),
    #[error("AI {0} value is cut short")]
    Truncated(String),
    #[error("signature (AI 92) of {len} characters: expected 44 (…=) or 88 (…==)")]
    SignatureLength { len: usize },
    #[error("signature (AI 92) padding is wrong: 44 characters end with exactly one '=', 88 with '=='")]
    SignaturePadding,
    #[error("signature (AI 92) has a character outside base64")]
    SignatureAlphabet,
    #[error("signature (AI 92) is not canonical base64 (non-zero trailing bits; typical of inverted case)")]
    SignatureTrailingBits,
    #[error("net weight (AI 3103) must be greater than zero")]
    ZeroWeight,
    #[error("volume AI 335n needs n in 0..5")]
    VolumeDecimals,
    #[error("AI {0} is not a valid date")]
    InvalidDate(String),
    #[error("MRP character outside the base-80 alphabet")]
    MrpAlphabet,
    #[error("a tobacco pack code has 29 characters, this one has {0}")]
    PackLength(usize),
    #[error("two codes glued together: a second code starts at byte {0}")]
    DoubleScan(usize),
    #[error("this is {0}, not a marking code")]
    NotMarkingCode(Identifier),
    #[error("not a marking code of any known layout")]
    UnknownFormat,
    #[error("more elements than any marking code has")]
    TooManyElements,
    #[error("{0} valid codes fit this scan: ask for a rescan")]
    Ambiguous(usize),
    #[error("more defects than are listed")]
    TooManyDefects,
}

impl Defect {
    /// Stable machine code (snake_case), part of the wire format.
    pub fn code(&self) -> &'static str {
        match self {
            Defect::Empty => "empty",
            Defect::ForbiddenCharacter(_) => "forbidden_character",
            Defect::TransportPrefix(_) => "transport_prefix",
            Defect::TransportSuffix(_) => "transport_suffix",
            Defect::LeadingGs => "leading_gs",
            Defect::TrailingGs => "trailing_gs",
            Defect::DoubledGs => "doubled_gs",
            Defect::MissingGs(_) => "missing_gs",
            Defect::NoGtin => "no_gtin",
            Defect::GtinFormat => "gtin_format",
            Defect::GtinCheckDigit { .. } => "gtin_check_digit",
            Defect::NoSerial => "no_serial",
            Defect::SerialLength { .. } => "serial_length",
            Defect::UnknownAi(_) => "unknown_ai",
            Defect::UnexpectedAi { .. } => "unexpected_ai",
            Defect::MissingAi(_) => "missing_ai",
            Defect::DuplicateAi(_) => "duplicate_ai",
            Defect::AiOrder(_) => "ai_order",
            Defect::ValueLength { .. } => "value_length",
            Defect::ValueNotNumeric(_) => "value_not_numeric",
            Defect::Truncated(_) => "truncated",
            Defect::SignatureLength { .. } => "signature_length",
            Defect::SignaturePadding => "signature_padding",
            Defect::SignatureAlphabet => "signature_alphabet",
            Defect::SignatureTrailingBits => "signature_trailing_bits",
            Defect::ZeroWeight => "zero_weight",
            Defect::VolumeDecimals => "volume_decimals",
            Defect::InvalidDate(_) => "invalid_date",
            Defect::MrpAlphabet => "mrp_alphabet",
            Defect::PackLength(_) => "pack_length",
            Defect::DoubleScan(_) => "double_scan",
            Defect::NotMarkingCode(_) => "not_marking_code",
            Defect::UnknownFormat => "unknown_format",
            Defect::TooManyElements => "too_many_elements",
            Defect::Ambiguous(_) => "ambiguous",
            Defect::TooManyDefects => "too_many_defects",
        }
    }

    /// The True API per-code `errorCode` an online check reports for this defect (`true-api.md` §7).
    pub fn true_api_error_code(&self) -> u8 {
        match self {
            Defect::NoGtin => 2,
            Defect::NoSerial | Defect::SerialLength { .. } => 3,
            Defect::ForbiddenCharacter(_) => 4,
            Defect::SignatureLength { .. } => 5,
            Defect::UnknownAi(_) | Defect::UnexpectedAi { .. } => 9,
            _ => 1,
        }
    }
}

/// One defect of a code, at a byte offset of the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {defect}")]
pub struct CodeError {
    /// Byte offset in the parsed input where the defect starts.
    pub offset: usize,
    /// What is wrong.
    pub defect: Defect,
}

impl CodeError {
    /// A defect at a byte offset.
    pub fn new(offset: usize, defect: Defect) -> Self {
        CodeError { offset, defect }
    }
}

impl Serialize for CodeError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("CodeError", 3)?;
        st.serialize_field("code", self.defect.code())?;
        st.serialize_field("offset", &self.offset)?;
        st.serialize_field("message", &self.defect.to_string())?;
        st.end()
    }
}

/// Why a byte string is not a valid marking code: every defect found, and the layout it most
/// resembles (if any), so tools can say "a milk code with a wrong check digit".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// Defects in input order; never empty.
    pub errors: Vec<CodeError>,
    /// The layout the input most resembles.
    pub layout_guess: Option<Layout>,
    /// A non-marking identifier the input is (EAN-13, …), if recognised.
    pub identifier: Option<Identifier>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid marking code")?;
        if let Some(l) = self.layout_guess {
            write!(f, " ({l})")?;
        }
        for (i, e) in self.errors.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl ParseError {
    /// The True API `errorCode` of the first defect.
    pub fn true_api_error_code(&self) -> u8 {
        self.errors.first().map_or(1, |e| e.defect.true_api_error_code())
    }
}

/// Something suspicious about a code that is still valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Warning {
    #[error("serial starts with {0:?}, not an EAEU country character (1–5, E, e)")]
    CountryPrefix(char),
    #[error("signature is entirely upper- or lower-case (statistically implausible; Caps Lock?)")]
    SignatureSingleCase,
    #[error("MRP decodes to {0} kopecks, not a plausible price (foreign 29-character code?)")]
    MrpImplausible(u32),
    #[error("redundant ⟨GS⟩ after a pre-defined-length element")]
    RedundantGs,
    #[error("AI {0} stands before AI 93 (accepted, but generators put it after)")]
    NonStandardOrder(String),
    #[error("symbology identifier {0} is not GS1 DataMatrix (]d2): not a valid marking symbol")]
    NonGs1Symbology(String),
}

impl Warning {
    /// Stable machine code (snake_case).
    pub fn code(&self) -> &'static str {
        match self {
            Warning::CountryPrefix(_) => "country_prefix",
            Warning::SignatureSingleCase => "signature_single_case",
            Warning::MrpImplausible(_) => "mrp_implausible",
            Warning::RedundantGs => "redundant_gs",
            Warning::NonStandardOrder(_) => "non_standard_order",
            Warning::NonGs1Symbology(_) => "non_gs1_symbology",
        }
    }
}

impl Serialize for Warning {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Warning", 2)?;
        st.serialize_field("code", self.code())?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}

/// Identifiers a till may scan that are not marking codes (spec `codes.md` §5.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Identifier {
    /// EAN-13 / GTIN-13 (1163 kind 1302).
    Ean13,
    /// EAN-8 (1163 kind 1301).
    Ean8,
    /// ITF-14 / bare GTIN-14 (1163 kind 1303).
    Itf14,
    /// SSCC of a transport package, `00` + 18 digits.
    Sscc,
    /// Fur КиЗ (RFID tag), e.g. `RU-401301-AAA0277031` (1163 kind 1307).
    FurKiz,
}

impl Identifier {
    /// FFD tag 1163 inner tag for this identifier.
    pub fn tag_1163(self) -> u16 {
        match self {
            Identifier::Ean13 => 1302,
            Identifier::Ean8 => 1301,
            Identifier::Itf14 => 1303,
            Identifier::Sscc => 1300,
            Identifier::FurKiz => 1307,
        }
    }

    /// Stable name.
    pub fn name(self) -> &'static str {
        match self {
            Identifier::Ean13 => "ean-13",
            Identifier::Ean8 => "ean-8",
            Identifier::Itf14 => "itf-14",
            Identifier::Sscc => "sscc",
            Identifier::FurKiz => "fur-kiz",
        }
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
