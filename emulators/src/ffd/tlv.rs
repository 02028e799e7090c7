//! The generic FFD TLV layer (spec `kkt.md` §2): typed values, `encode` and `decode`.
//!
//! Wire form of one requisite: `tag (u16 LE) | length (u16 LE) | value`. Value encodings:
//!
//! | type | bytes |
//! |---|---|
//! | byte | 1 |
//! | uint32, unixtime | 4, LE |
//! | VLN | minimal LE; **0 is written as one byte `00`**; decoding also accepts an empty value as 0 |
//! | FVLN | 1 byte of decimal places, then the minimal LE mantissa (0 → one byte `00`) |
//! | string | CP866 |
//! | bytes | raw |
//! | STLV | the encoded list of its TLVs |
//!
//! FVLN keeps the scale it is given: 1.500 stays scale 3, mantissa 1500 (`03 dc 05`), never 1.5.
//!
//! The decoder learns each tag's type from [`crate::ffd::tags`]; a tag missing from the table decodes
//! as [`TlvValue::Bytes`]. Both directions check value lengths against the table's maximum, so
//! whatever `encode` accepts `decode` reads back to the same tree. Decoding never panics: lengths past
//! the end, wrong fixed widths and STLV nesting deeper than [`MAX_DEPTH`] are typed errors.

use encoding_rs::IBM866;
use thiserror::Error;

use super::document::Quantity;
use super::tags::{tag_info, TagType};

/// Deepest STLV nesting `encode` writes and `decode` reads (a document's items nest two levels:
/// 1059 → 1163/1260/1291).
pub const MAX_DEPTH: usize = 8;

/// One requisite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tlv {
    /// The tag number.
    pub tag: u16,
    /// The typed value.
    pub value: TlvValue,
}

/// A typed requisite value; one variant per [`TagType`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlvValue {
    /// `byte`.
    Byte(u8),
    /// `uint32`.
    U32(u32),
    /// `VLN`.
    Vln(u64),
    /// `FVLN`.
    Fvln(Quantity),
    /// `unixtime` (local seconds).
    UnixTime(u32),
    /// `string` (CP866 on the wire).
    String(String),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `STLV`.
    Stlv(Vec<Tlv>),
}

impl TlvValue {
    /// The wire type of this value.
    pub fn ty(&self) -> TagType {
        match self {
            TlvValue::Byte(_) => TagType::Byte,
            TlvValue::U32(_) => TagType::U32,
            TlvValue::Vln(_) => TagType::Vln,
            TlvValue::Fvln(_) => TagType::Fvln,
            TlvValue::UnixTime(_) => TagType::UnixTime,
            TlvValue::String(_) => TagType::String,
            TlvValue::Bytes(_) => TagType::Bytes,
            TlvValue::Stlv(_) => TagType::Stlv,
        }
    }
}

impl TlvValue {
    /// The byte of a [`TlvValue::Byte`].
    pub fn as_byte(&self) -> Option<u8> {
        match self {
            TlvValue::Byte(v) => Some(*v),
            _ => None,
        }
    }

    /// The number of a [`TlvValue::U32`].
    pub fn as_u32(&self) -> Option<u32> {
        match self {
            TlvValue::U32(v) => Some(*v),
            _ => None,
        }
    }

    /// The number of a [`TlvValue::Vln`].
    pub fn as_vln(&self) -> Option<u64> {
        match self {
            TlvValue::Vln(v) => Some(*v),
            _ => None,
        }
    }

    /// The quantity of a [`TlvValue::Fvln`].
    pub fn as_fvln(&self) -> Option<Quantity> {
        match self {
            TlvValue::Fvln(v) => Some(*v),
            _ => None,
        }
    }

    /// The seconds of a [`TlvValue::UnixTime`].
    pub fn as_unixtime(&self) -> Option<u32> {
        match self {
            TlvValue::UnixTime(v) => Some(*v),
            _ => None,
        }
    }

    /// The text of a [`TlvValue::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            TlvValue::String(v) => Some(v),
            _ => None,
        }
    }

    /// The bytes of a [`TlvValue::Bytes`].
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            TlvValue::Bytes(v) => Some(v),
            _ => None,
        }
    }

    /// The children of a [`TlvValue::Stlv`].
    pub fn as_stlv(&self) -> Option<&[Tlv]> {
        match self {
            TlvValue::Stlv(v) => Some(v),
            _ => None,
        }
    }
}

impl Tlv {
    /// A `byte` requisite.
    pub fn byte(tag: u16, value: u8) -> Tlv {
        Tlv { tag, value: TlvValue::Byte(value) }
    }

    /// A `uint32` requisite.
    pub fn u32(tag: u16, value: u32) -> Tlv {
        Tlv { tag, value: TlvValue::U32(value) }
    }

    /// A `VLN` requisite.
    pub fn vln(tag: u16, value: u64) -> Tlv {
        Tlv { tag, value: TlvValue::Vln(value) }
    }

    /// An `FVLN` requisite.
    pub fn fvln(tag: u16, value: Quantity) -> Tlv {
        Tlv { tag, value: TlvValue::Fvln(value) }
    }

    /// A `unixtime` requisite.
    pub fn unixtime(tag: u16, value: u32) -> Tlv {
        Tlv { tag, value: TlvValue::UnixTime(value) }
    }

    /// A `string` requisite.
    pub fn string(tag: u16, value: impl Into<String>) -> Tlv {
        Tlv { tag, value: TlvValue::String(value.into()) }
    }

    /// A `bytes` requisite.
    pub fn bytes(tag: u16, value: Vec<u8>) -> Tlv {
        Tlv { tag, value: TlvValue::Bytes(value) }
    }

    /// An `STLV` requisite.
    pub fn stlv(tag: u16, children: Vec<Tlv>) -> Tlv {
        Tlv { tag, value: TlvValue::Stlv(children) }
    }
}

/// Why a TLV list could not be encoded or decoded.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TlvError {
    /// A string holds a character CP866 has no byte for.
    #[error("tag {tag}: {ch:?} cannot be written in CP866")]
    Unencodable {
        /// The tag.
        tag: u16,
        /// The first offending character.
        ch: char,
    },
    /// The value is longer than the tag table allows.
    #[error("tag {tag}: value of {len} bytes exceeds the maximum of {max}")]
    TooLong {
        /// The tag.
        tag: u16,
        /// Length of the value in bytes.
        len: usize,
        /// The table's maximum.
        max: u16,
    },
    /// The value does not fit the 16-bit length field.
    #[error("tag {tag}: value of {len} bytes does not fit a 16-bit length")]
    LengthOverflow {
        /// The tag.
        tag: u16,
        /// Length of the value in bytes.
        len: usize,
    },
    /// The value's type is not the tag's type in the table.
    #[error("tag {tag}: value of type {found:?}, the tag is {expected:?}")]
    TypeMismatch {
        /// The tag.
        tag: u16,
        /// The table's type.
        expected: TagType,
        /// The value's type.
        found: TagType,
    },
    /// A header or a value runs past the end of the input.
    #[error("truncated TLV at byte {offset}")]
    Truncated {
        /// Offset of the TLV header in the input.
        offset: usize,
    },
    /// A value's length is impossible for its type (a byte of 2 bytes, a VLN of 9, an empty FVLN).
    #[error("tag {tag}: length {len} is invalid for a {ty:?} value")]
    BadLength {
        /// The tag.
        tag: u16,
        /// The length read.
        len: usize,
        /// The tag's type.
        ty: TagType,
    },
    /// STLVs nested deeper than [`MAX_DEPTH`].
    #[error("tag {tag}: STLV nesting deeper than {MAX_DEPTH}")]
    TooDeep {
        /// The tag at which the limit was passed.
        tag: u16,
    },
}

/// Encodes a list of requisites.
pub fn encode(tlvs: &[Tlv]) -> Result<Vec<u8>, TlvError> {
    let mut out = Vec::new();
    encode_into(tlvs, 0, &mut out)?;
    Ok(out)
}

/// Decodes a list of requisites.
pub fn decode(bytes: &[u8]) -> Result<Vec<Tlv>, TlvError> {
    decode_at(bytes, 0, 0)
}

/// A string as CP866 bytes (`tag` only names the requisite in the error).
pub fn encode_cp866(tag: u16, text: &str) -> Result<Vec<u8>, TlvError> {
    let (bytes, _, had_errors) = IBM866.encode(text);
    if had_errors {
        let ch = text.chars().find(|c| IBM866.encode(c.encode_utf8(&mut [0; 4])).2).unwrap_or('\u{fffd}');
        return Err(TlvError::Unencodable { tag, ch });
    }
    Ok(bytes.into_owned())
}

fn encode_into(tlvs: &[Tlv], depth: usize, out: &mut Vec<u8>) -> Result<(), TlvError> {
    for tlv in tlvs {
        let info = tag_info(tlv.tag);
        if let Some(info) = info.filter(|info| info.ty != tlv.value.ty()) {
            return Err(TlvError::TypeMismatch { tag: tlv.tag, expected: info.ty, found: tlv.value.ty() });
        }
        let value = encode_value(tlv, depth)?;
        if let Some(info) = info.filter(|info| value.len() > usize::from(info.max_len)) {
            return Err(TlvError::TooLong { tag: tlv.tag, len: value.len(), max: info.max_len });
        }
        let len = u16::try_from(value.len())
            .map_err(|_| TlvError::LengthOverflow { tag: tlv.tag, len: value.len() })?;
        out.extend_from_slice(&tlv.tag.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&value);
    }
    Ok(())
}

fn encode_value(tlv: &Tlv, depth: usize) -> Result<Vec<u8>, TlvError> {
    Ok(match &tlv.value {
        TlvValue::Byte(b) => vec![*b],
        TlvValue::U32(v) | TlvValue::UnixTime(v) => v.to_le_bytes().to_vec(),
        TlvValue::Vln(v) => minimal_le(*v),
        TlvValue::Fvln(q) => {
            let mut bytes = vec![q.scale];
            bytes.extend(minimal_le(q.mantissa));
            bytes
        }
        TlvValue::String(s) => encode_cp866(tlv.tag, s)?,
        TlvValue::Bytes(b) => b.clone(),
        TlvValue::Stlv(children) => {
            if depth + 1 > MAX_DEPTH {
                return Err(TlvError::TooDeep { tag: tlv.tag });
            }
            let mut bytes = Vec::new();
            encode_into(children, depth + 1, &mut bytes)?;
            bytes
        }
    })
}

/// The LE bytes of `v` without high zero bytes; at least one byte.
fn minimal_le(v: u64) -> Vec<u8> {
    let bytes = v.to_le_bytes();
    let used = (8 - v.leading_zeros() as usize / 8).max(1);
    bytes.get(..used).unwrap_or(&bytes).to_vec()
}

/// An LE integer of at most 8 bytes.
fn read_le(bytes: &[u8]) -> Option<u64> {
    if bytes.len() > 8 {
        return None;
    }
    Some(bytes.iter().rev().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

fn decode_at(bytes: &[u8], base: usize, depth: usize) -> Result<Vec<Tlv>, TlvError> {
    let mut tlvs = Vec::new();
    let mut rest = bytes;
    let mut offset = base;
    while !rest.is_empty() {
        let (header, after) = rest.split_at_checked(4).ok_or(TlvError::Truncated { offset })?;
        let [t0, t1, l0, l1] = <[u8; 4]>::try_from(header).map_err(|_| TlvError::Truncated { offset })?;
        let tag = u16::from_le_bytes([t0, t1]);
        let len = usize::from(u16::from_le_bytes([l0, l1]));
        let (value, after) = after.split_at_checked(len).ok_or(TlvError::Truncated { offset })?;
        tlvs.push(Tlv { tag, value: decode_value(tag, value, offset + 4, depth)? });
        rest = after;
        offset += 4 + len;
    }
    Ok(tlvs)
}

fn decode_value(tag: u16, value: &[u8], offset: usize, depth: usize) -> Result<TlvValue, TlvError> {
    let Some(info) = tag_info(tag) else {
        return Ok(TlvValue::Bytes(value.to_vec()));
    };
    if value.len() > usize::from(info.max_len) {
        return Err(TlvError::TooLong { tag, len: value.len(), max: info.max_len });
    }
    let bad_length = TlvError::BadLength { tag, len: value.len(), ty: info.ty };
    Ok(match info.ty {
        TagType::Byte => match value {
            [b] => TlvValue::Byte(*b),
            _ => return Err(bad_length),
        },
        TagType::U32 | TagType::UnixTime => {
            let v = u32::from_le_bytes(<[u8; 4]>::try_from(value).map_err(|_| bad_length)?);
            if info.ty == TagType::U32 {
                TlvValue::U32(v)
            } else {
                TlvValue::UnixTime(v)
            }
        }
        TagType::Vln => TlvValue::Vln(read_le(value).ok_or(bad_length)?),
        TagType::Fvln => {
            let (scale, mantissa) = value.split_first().ok_or(bad_length.clone())?;
            let mantissa = read_le(mantissa).ok_or(bad_length)?;
            TlvValue::Fvln(Quantity { mantissa, scale: *scale })
        }
        TagType::String => TlvValue::String(IBM866.decode_without_bom_handling(value).0.into_owned()),
        TagType::Bytes => TlvValue::Bytes(value.to_vec()),
        TagType::Stlv => {
            if depth + 1 > MAX_DEPTH {
                return Err(TlvError::TooDeep { tag });
            }
            TlvValue::Stlv(decode_at(value, offset, depth + 1)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
    }

    fn enc(tlv: Tlv) -> String {
        hex(&encode(&[tlv]).unwrap())
    }

    fn industry(value: &str) -> Tlv {
        Tlv::stlv(
            1260,
            vec![
                Tlv::string(1262, "030"),
                Tlv::string(1263, "21.11.2023"),
                Tlv::string(1264, "1944"),
                Tlv::string(1265, value),
            ],
        )
    }

    #[test]
    fn spec_examples_byte_exact() {
        assert_eq!(enc(Tlv::string(1262, "030")), "ee 04 03 00 30 33 30");
        assert_eq!(enc(Tlv::string(1263, "21.11.2023")), "ef 04 0a 00 32 31 2e 31 31 2e 32 30 32 33");
        assert_eq!(enc(Tlv::string(1264, "1944")), "f0 04 04 00 31 39 34 34");
        assert_eq!(enc(Tlv::fvln(1023, Quantity { mantissa: 5, scale: 1 })), "ff 03 02 00 01 05");
        assert_eq!(enc(Tlv::fvln(1023, Quantity { mantissa: 1500, scale: 3 })), "ff 03 03 00 03 dc 05");
        assert_eq!(enc(Tlv::byte(2106, 15)), "3a 08 01 00 0f");
    }

    #[test]
    fn spec_example_1260_header() {
        let value = "UUID=25cd22e1-af86-4a28-a0c2-8696e5ea1b8e&Time=1723182931610";
        assert_eq!(value.len(), 60);
        let bytes = encode(&[industry(value)]).unwrap();
        assert_eq!(hex(&bytes[..4]), "ec 04 5d 00");
        assert_eq!(bytes.len(), 4 + 93);
        assert_eq!(decode(&bytes).unwrap(), vec![industry(value)]);
    }

    #[test]
    fn vln_is_minimal_and_zero_is_one_byte() {
        assert_eq!(enc(Tlv::vln(1043, 0)), "13 04 01 00 00");
        assert_eq!(enc(Tlv::vln(1043, 255)), "13 04 01 00 ff");
        assert_eq!(enc(Tlv::vln(1043, 256)), "13 04 02 00 00 01");
        assert_eq!(enc(Tlv::vln(1043, 9490)), "13 04 02 00 12 25");
        assert_eq!(decode(&[0x13, 0x04, 0x00, 0x00]).unwrap(), vec![Tlv::vln(1043, 0)]);
        let too_big = Tlv::vln(1043, 1 << 48);
        assert_eq!(encode(&[too_big]), Err(TlvError::TooLong { tag: 1043, len: 7, max: 6 }));
        assert_eq!(enc(Tlv::vln(1293, u64::MAX)), "0d 05 08 00 ff ff ff ff ff ff ff ff");
    }

    #[test]
    fn fvln_keeps_the_given_scale() {
        let q = Quantity { mantissa: 1500, scale: 3 };
        let bytes = encode(&[Tlv::fvln(1023, q)]).unwrap();
        assert_eq!(decode(&bytes).unwrap(), vec![Tlv::fvln(1023, q)]);
        assert_eq!(enc(Tlv::fvln(1023, Quantity::whole(0))), "ff 03 02 00 00 00");
        assert_eq!(
            decode(&[0xff, 0x03, 0x01, 0x00, 0x02]).unwrap(),
            vec![Tlv::fvln(1023, Quantity { mantissa: 0, scale: 2 })]
        );
        assert!(matches!(decode(&[0xff, 0x03, 0x00, 0x00]), Err(TlvError::BadLength { tag: 1023, .. })));
    }

    #[test]
    fn strings_are_cp866() {
        let bytes = encode(&[Tlv::string(1030, "Молоко ё")]).unwrap();
        assert_eq!(hex(&bytes), "06 04 08 00 8c ae ab ae aa ae 20 f1");
        assert_eq!(decode(&bytes).unwrap(), vec![Tlv::string(1030, "Молоко ё")]);
        assert_eq!(encode(&[Tlv::string(1030, "€")]), Err(TlvError::Unencodable { tag: 1030, ch: '€' }));
        // A ⟨GS⟩ inside a marking code passes unchanged.
        assert_eq!(hex(&encode(&[Tlv::string(2000, "a\u{1d}b")]).unwrap()), "d0 07 03 00 61 1d 62");
    }

    #[test]
    fn lengths_are_checked_against_the_table() {
        let name = "я".repeat(129);
        assert_eq!(
            encode(&[Tlv::string(1030, name)]),
            Err(TlvError::TooLong { tag: 1030, len: 129, max: 128 })
        );
        assert!(encode(&[Tlv::string(1030, "я".repeat(128))]).is_ok());
        assert_eq!(
            decode(&[0x43, 0x08, 0x05, 0x00, 0x31, 0x32, 0x33, 0x34, 0x35]),
            Err(TlvError::TooLong { tag: 2115, len: 5, max: 4 })
        );
        let unknown = Tlv::bytes(9999, vec![0; 70_000]);
        assert_eq!(encode(&[unknown]), Err(TlvError::LengthOverflow { tag: 9999, len: 70_000 }));
    }

    #[test]
    fn types_are_checked_against_the_table() {
        assert_eq!(
            encode(&[Tlv::u32(2106, 15)]),
            Err(TlvError::TypeMismatch { tag: 2106, expected: TagType::Byte, found: TagType::U32 })
        );
        // Unknown tags take any value and come back as bytes.
        let bytes = encode(&[Tlv::u32(9999, 7)]).unwrap();
        assert_eq!(decode(&bytes).unwrap(), vec![Tlv::bytes(9999, vec![7, 0, 0, 0])]);
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert_eq!(decode(&[]).unwrap(), vec![]);
        assert_eq!(decode(&[0x3a, 0x08, 0x01]), Err(TlvError::Truncated { offset: 0 }));
        assert_eq!(decode(&[0x3a, 0x08, 0x02, 0x00, 0x0f]), Err(TlvError::Truncated { offset: 0 }));
        assert!(matches!(decode(&[0x3a, 0x08, 0x00, 0x00]), Err(TlvError::BadLength { tag: 2106, .. })));
        assert!(matches!(
            decode(&[0x0e, 0x04, 0x02, 0x00, 1, 2]),
            Err(TlvError::BadLength { tag: 1038, .. })
        ));
        // Garbage inside an STLV.
        assert_eq!(
            decode(&[0x23, 0x04, 0x03, 0x00, 0xee, 0x04, 0x09]),
            Err(TlvError::Truncated { offset: 4 })
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let mut deep = Tlv::bytes(9999, vec![]);
        for _ in 0..=MAX_DEPTH {
            deep = Tlv::stlv(1059, vec![deep]);
        }
        assert_eq!(encode(&[deep]), Err(TlvError::TooDeep { tag: 1059 }));
        // Hand-built bytes: 1059 nested MAX_DEPTH + 1 times.
        let mut bytes: Vec<u8> = Vec::new();
        for _ in 0..=MAX_DEPTH {
            let mut outer = vec![0x23, 0x04];
            outer.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
            outer.extend_from_slice(&bytes);
            bytes = outer;
        }
        assert_eq!(decode(&bytes), Err(TlvError::TooDeep { tag: 1059 }));
    }
}
