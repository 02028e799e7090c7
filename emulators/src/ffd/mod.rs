//! FFD 1.2 (формат фискальных документов) as the emulated KKT writes it (spec `kkt.md` §2–§5): the
//! document model, the tag table, the TLV codec (CP866 strings, VLN/FVLN, local unixtime), the FNS JSON
//! export and the paper rendering with the `[М+]`/`[М-]`/`[М]` marks. Knows nothing of ATOL, HTTP or
//! the ФН's state: documents in, bytes/JSON/text out.

pub mod document;

pub use document::*;
