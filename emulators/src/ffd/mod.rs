//! FFD 1.2 (формат фискальных документов) as the emulated KKT writes it (spec `kkt.md` §2–§5): the
//! document model, the tag table, the TLV codec (CP866 strings, VLN/FVLN, local unixtime), the FNS JSON
//! export and the paper rendering with the `[М+]`/`[М-]`/`[М]` marks. Knows nothing of ATOL, HTTP or
//! the ФН's state: documents in, bytes/JSON/text out.
//!
//! - [`document`] — the model;
//! - [`tags`] — the tag table (names, FNS JSON names, types, maximum lengths);
//! - [`tlv`] — the generic TLV layer, `encode` / `decode`;
//! - [`convert`] — documents ↔ requisites, `Document::to_tlv_bytes` / `Document::from_tlv_bytes`;
//! - [`json`] — `Document::to_fns_json`;
//! - [`paper`] — `Document::to_paper`, the receipt slip, `marking_mark`.

pub mod convert;
pub mod document;
pub mod json;
pub mod paper;
pub mod tags;
pub mod tlv;

pub use convert::DocumentError;
pub use document::*;
pub use paper::{is_admissible_2106, marking_mark};
pub use tlv::{Tlv, TlvError, TlvValue};
