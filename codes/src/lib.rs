//! markcert-codes: the grammar of Russian «Честный знак» marking codes (spec `codes.md`).
//!
//! - [`parse`] — strict parsing and classification of a canonical code into a [`MarkingCode`]
//!   (layout, GTIN, serial, crypto tail, MRP, block price, weight/volume, FFD tags 2100/1163), or a
//!   [`ParseError`] listing every defect with its byte offset;
//! - [`normalize`] — lenient reading of what a scanner delivered: strips transport artefacts,
//!   restores lost ⟨GS⟩ by layout templates, reverts the Russian keyboard layout and Caps Lock where
//!   unambiguous, and reports every repair it applied;
//! - [`generate`], [`mutate`], [`distort`] — valid-code generators (seeded RNG, `proptest`,
//!   `arbitrary`), the structural mutation catalogue and the scanner defect profiles;
//! - [`escape`] — the text form of codes on the command line (`\u001d` for ⟨GS⟩).
//!
//! Nothing here panics on any input: every public function taking bytes is property-tested and fuzzed.

pub mod ai;
pub mod charset;
pub mod code;
pub mod crc32;
pub mod distort;
mod element;
pub mod error;
pub mod escape;
pub mod generate;
pub mod groups;
pub mod gtin;
pub mod keyboard;
pub mod layout;
pub mod mrp;
pub mod mutate;
pub mod normalize;
pub mod parse;

pub use code::{
    Ai8005Semantics, BlockPrice, CodeOptions, MarkingCode, Quantity, QuantityUnit, Tag1306Form, Tail,
};
pub use error::{CodeError, Defect, Identifier, ParseError, Warning};
pub use layout::{Layout, TailKind};
pub use normalize::{normalize, normalize_with, NormalizeError, NormalizeOptions, Normalized, Repair};
pub use parse::parse;
