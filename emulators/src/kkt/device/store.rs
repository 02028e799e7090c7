//! The KKT's document journal: every fiscal and marking document the emulated KKT produced (receipts,
//! requests 81, answers 83, notifications 82, tickets 84, shift reports), each with a sequence number,
//! its FNS JSON, its TLV size, its paper form, the findings of its grading (receipts) and the warnings
//! the KKT gave. Bounded: the oldest documents leave first.
//!
//! Owns storage and lookup only; it must not build, sign or grade documents (the device does).

use crate::ffd::Document;
use crate::kkt::grading::Finding;
use serde::Serialize;
use serde_json::Value;
use std::collections::VecDeque;

/// Documents kept unless configured otherwise.
pub const DEFAULT_DOCUMENT_CAPACITY: usize = 10_000;

/// One stored document.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredDocument {
    /// Sequence number in the journal, from 1, never reused (also after a clear).
    pub seq: u64,
    /// `receipt`, `marking_request`, `marking_answer`, `notification`, `ticket`, `shift_report`.
    pub kind: &'static str,
    /// FFD document type: 3, 81, 83, 82, 84, 2 (shift open), 5 (shift close).
    pub ffd_type: u16,
    /// When it was made, world time (Unix ms).
    pub world_ms: i64,
    /// The document model.
    pub document: Document,
    /// Its FNS JSON form.
    pub fns_json: Value,
    /// Its TLV size in bytes (`None` when it cannot be encoded).
    pub tlv_len: Option<usize>,
    /// Grading findings (receipts only; empty otherwise).
    pub findings: Vec<Finding>,
    /// Its paper form.
    pub paper: String,
    /// What the KKT reported besides the result (unused codes discarded, implicit validation, …).
    pub warnings: Vec<String>,
}

/// The name of a document's kind (the `kind` of [`StoredDocument`]).
pub fn kind_name(doc: &Document) -> &'static str {
    match doc {
        Document::Receipt(_) => "receipt",
        Document::MarkingRequest(_) => "marking_request",
        Document::MarkingAnswer(_) => "marking_answer",
        Document::Notification(_) => "notification",
        Document::Ticket(_) => "ticket",
        Document::ShiftReport(_) => "shift_report",
    }
}

/// Every kind name, for error messages.
pub const KIND_NAMES: [&str; 6] =
    ["receipt", "marking_request", "marking_answer", "notification", "ticket", "shift_report"];

/// Which documents a listing returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocumentQuery {
    /// Only this kind.
    pub kind: Option<String>,
    /// Only documents with a greater `seq`.
    pub since: Option<u64>,
    /// At most this many, the oldest matching first.
    pub limit: Option<usize>,
}

/// The bounded journal.
#[derive(Debug)]
pub(crate) struct DocumentStore {
    docs: VecDeque<StoredDocument>,
    capacity: usize,
    last_seq: u64,
}

impl DocumentStore {
    pub fn new(capacity: usize) -> DocumentStore {
        DocumentStore { docs: VecDeque::new(), capacity: capacity.max(1), last_seq: 0 }
    }

    /// Store `document` with what goes with it; returns its `seq`.
    pub fn push(
        &mut self,
        document: Document,
        world_ms: i64,
        findings: Vec<Finding>,
        warnings: Vec<String>,
    ) -> u64 {
        self.last_seq += 1;
        let tlv_len = document.to_tlv_bytes().ok().map(|b| b.len());
        let stored = StoredDocument {
            seq: self.last_seq,
            kind: kind_name(&document),
            ffd_type: document.ffd_type(),
            world_ms,
            fns_json: document.to_fns_json(),
            paper: document.to_paper(),
            tlv_len,
            findings,
            warnings,
            document,
        };
        if self.docs.len() >= self.capacity {
            self.docs.pop_front();
        }
        self.docs.push_back(stored);
        self.last_seq
    }

    pub fn query(&self, q: &DocumentQuery) -> Vec<StoredDocument> {
        self.docs
            .iter()
            .filter(|d| q.since.is_none_or(|s| d.seq > s))
            .filter(|d| q.kind.as_deref().is_none_or(|k| d.kind == k))
            .take(q.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    pub fn get(&self, seq: u64) -> Option<StoredDocument> {
        // Sequence numbers are increasing: binary search.
        let i = self.docs.binary_search_by_key(&seq, |d| d.seq).ok()?;
        self.docs.get(i).cloned()
    }

    /// Every finding of the stored receipts, with the receipt's `seq`.
    pub fn findings(&self) -> Vec<(u64, Finding)> {
        self.docs.iter().flat_map(|d| d.findings.iter().map(move |f| (d.seq, f.clone()))).collect()
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Forget every document; returns how many there were.
    pub fn clear(&mut self) -> usize {
        std::mem::take(&mut self.docs).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffd::Ticket;

    fn ticket(n: u32) -> Document {
        Document::Ticket(Ticket { notification_number: n, local_time: 0, result: 0, items_result: Some(0) })
    }

    #[test]
    fn bounded_with_increasing_seq() {
        let mut s = DocumentStore::new(2);
        for n in 1..=3 {
            s.push(ticket(n), 0, Vec::new(), Vec::new());
        }
        assert_eq!(s.len(), 2);
        assert!(s.get(1).is_none());
        assert_eq!(s.get(3).map(|d| (d.kind, d.ffd_type)), Some(("ticket", 84)));
        let q = DocumentQuery { since: Some(2), ..Default::default() };
        assert_eq!(s.query(&q).iter().map(|d| d.seq).collect::<Vec<_>>(), [3]);
        let q = DocumentQuery { kind: Some("receipt".into()), ..Default::default() };
        assert!(s.query(&q).is_empty());
        assert_eq!(s.clear(), 2);
        assert_eq!(s.push(ticket(4), 0, Vec::new(), Vec::new()), 4, "seq is never reused");
    }
}
