//! What a scenario run leaves behind for the assertions and the failure reports: per step, the code it
//! put on the wire and where the step sits in the trace and in the KKT's document journal
//! ([`RunRecord`]); and the queries over the stack's records that the assertions share — the
//! permissive-mode check calls of a code, the KKT `sell` call of a code, the receipt item of a code —
//! plus the compact one-line form of trace events used in failure excerpts ([`excerpt`]).
//!
//! Owns no judgement: [`super::assertions`] decides what holds.

use std::collections::HashMap;

use markcert_emulators::cdn::CODES_CHECK_PATH;
use markcert_emulators::ffd::{Document, ReceiptItem};
use markcert_emulators::kkt::device::DocumentQuery;
use markcert_emulators::kkt::grading::same_code;
use markcert_emulators::stack::Stack;
use markcert_emulators::trace::{TraceEvent, TraceFilter};

/// Most trace lines quoted next to one failure.
pub const EXCERPT_LINES: usize = 24;

/// Where one step sits in the run's records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepSpan {
    /// The trace's last `seq` before the step began (0: empty trace).
    pub trace_before: u64,
    /// The trace's last `seq` when the step ended.
    pub trace_after: u64,
    /// The KKT journal's last document `seq` before the step began (0: none).
    pub docs_before: u64,
    /// World time when the step ended, Unix ms.
    pub world_end_ms: i64,
}

/// The per-step record of a run.
#[derive(Clone, Debug, Default)]
pub struct RunRecord {
    /// The code each `scan` / `return` step sent (canonical, ⟨GS⟩ as 0x1D) and its price, by step number.
    pub codes: HashMap<usize, (String, Option<u64>)>,
    /// Where each step that ran sits, by step number.
    pub spans: HashMap<usize, StepSpan>,
}

/// A receipt item that carries a code.
#[derive(Clone, Debug)]
pub struct FoundItem {
    /// The KKT journal `seq` of the receipt.
    pub doc_seq: u64,
    /// The receipt's fiscal document number (1040).
    pub fdn: u32,
    /// The item.
    pub item: ReceiptItem,
}

/// The trace's last `seq` (0 when empty).
pub fn trace_last(stack: &Stack) -> u64 {
    stack.trace.last_seq().unwrap_or(0)
}

/// The KKT journal's last document `seq` (0 when empty or no KKT), found from `known` onwards.
pub fn docs_last(stack: &Stack, known: u64) -> u64 {
    let Some(kkt) = &stack.kkt else { return known };
    let q = DocumentQuery { since: Some(known), ..DocumentQuery::default() };
    kkt.documents(&q).last().map_or(known, |d| d.seq)
}

/// Whether `e` is a permissive-mode check call: the ТС ПИоТ's `codes/check`, a True API CDN
/// `codes/check`, or the ЛМ ЧЗ's `outCheck` / `cis/check`.
pub fn is_check_call(e: &TraceEvent) -> bool {
    let (component, path) = (e.component.as_str(), e.path.as_str());
    path == CODES_CHECK_PATH
        || (component == markcert_emulators::tspiot::server::COMPONENT && path.ends_with("/codes/check"))
        || (component == markcert_emulators::lm::server::COMPONENT
            && (path.ends_with("/outCheck") || path.ends_with("/cis/check")))
}

/// Whether the check call got an answer (200, or 203 for the emergency mode).
pub fn answered(e: &TraceEvent) -> bool {
    matches!(e.status, 200 | 203)
}

/// Whether `e` concerns `code` (same КИ).
pub fn concerns(e: &TraceEvent, code: &str) -> bool {
    e.codes.shared().iter().any(|c| same_code(c, code))
}

/// The KKT task names of a KKT call (`uuid=… tasks=a,b` in its note).
pub fn kkt_tasks(e: &TraceEvent) -> Vec<&str> {
    if e.component.as_str() != markcert_emulators::kkt::atol::server::COMPONENT {
        return Vec::new();
    }
    e.note
        .as_deref()
        .and_then(|n| n.split(' ').find_map(|w| w.strip_prefix("tasks=")))
        .map(|t| t.split(',').collect())
        .unwrap_or_default()
}

/// Whether `e` is an accepted KKT submission with a `sell` / `sellReturn` task for `code`.
pub fn is_sell_of(e: &TraceEvent, code: &str) -> bool {
    e.status == 201 && kkt_tasks(e).iter().any(|t| matches!(*t, "sell" | "sellReturn")) && concerns(e, code)
}

/// Trace events after `since` (exclusive), oldest first.
pub fn events_after(stack: &Stack, since: u64) -> Vec<TraceEvent> {
    stack.trace.events(&TraceFilter { since_seq: Some(since), ..TraceFilter::default() })
}

/// The first receipt made after `docs_before` with an item carrying `code`.
pub fn receipt_item(stack: &Stack, docs_before: u64, code: &str) -> Option<FoundItem> {
    let kkt = stack.kkt.as_ref()?;
    let q = DocumentQuery { kind: Some("receipt".into()), since: Some(docs_before), limit: None };
    kkt.documents(&q).into_iter().find_map(|d| match d.document {
        Document::Receipt(r) => {
            let item = r
                .items
                .into_iter()
                .find(|it| it.marking.as_ref().is_some_and(|m| same_code(&m.code, code)))?;
            Some(FoundItem { doc_seq: d.seq, fdn: r.header.number, item })
        }
        _ => None,
    })
}

/// A code with ⟨GS⟩ shown as `\u001d`.
pub fn printable(code: &str) -> String {
    code.replace('\u{1d}', "\\u001d")
}

/// One trace event on one line: `#seq +world_ms component METHOD path → status reqId=… fault=… note`.
pub fn event_line(e: &TraceEvent, start_ms: i64) -> String {
    let mut line = format!(
        "#{} +{}ms {} {} {} → {}",
        e.seq,
        e.world_ms.saturating_sub(start_ms),
        e.component.as_str(),
        e.method.as_str(),
        e.path.as_str(),
        e.status
    );
    if let Some(r) = &e.req_id {
        line.push_str(&format!(" reqId={r}"));
    }
    if let Some(f) = &e.fault {
        line.push_str(&format!(" fault={f:?}"));
    }
    if let Some(n) = &e.note {
        let n: String = n.chars().take(80).collect();
        line.push_str(&format!(" ({n})"));
    }
    let codes = e.codes.shared();
    if let Some(first) = codes.first() {
        let c: String = printable(first).chars().take(40).collect();
        line.push_str(&format!(" code={c}"));
        if codes.len() > 1 {
            line.push_str(&format!(" +{}", codes.len() - 1));
        }
    }
    line
}

/// The lines of `events` (at most [`EXCERPT_LINES`]: the first and the last ones, with a gap line).
pub fn excerpt(events: &[TraceEvent], start_ms: i64) -> Vec<String> {
    if events.len() <= EXCERPT_LINES {
        return events.iter().map(|e| event_line(e, start_ms)).collect();
    }
    let half = EXCERPT_LINES / 2;
    let mut out: Vec<String> = events[..half].iter().map(|e| event_line(e, start_ms)).collect();
    out.push(format!("… {} more event(s) …", events.len() - 2 * half));
    out.extend(events[events.len() - half..].iter().map(|e| event_line(e, start_ms)));
    out
}
