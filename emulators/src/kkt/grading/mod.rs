//! The grading of one closed receipt against the checklist of spec `kkt.md` §11.1 (G-C1…G-C7, the
//! code checks that led to it) and §11.2 (G-R1…G-R10, the receipt itself), with the permissive-mode
//! rules of `true-api.md` §10–§12 and `local-module.md` §7 from [`crate::decision`].
//!
//! Owns the input contract the KKT device fills ([`ReceiptEvidence`]: the receipt, what the POS sent
//! per position, every KKT code check since the previous receipt), the [`Finding`]s and the
//! [`GradingPolicy`]. Pure logic over plain data: the device supplies the permissive-mode side through
//! [`PermissiveEvidence`] (reqId log and trace). Files: `evidence.rs` (that trait and an in-memory
//! implementation), `requisite.rs` (1260/1265), `check_phase.rs` (G-C*), `receipt.rs` (G-R*).
//!
//! Positions and checks are matched by the exact КМ: a marked position goes with the latest accepted
//! check of the same code. Item and check numbers in findings are 0-based indexes into
//! `receipt.items` and `checks`.

mod check_phase;
mod evidence;
mod receipt;
mod requisite;

pub use evidence::{
    same_code, CheckSource, IssuedCheck, LastAnswer, MapEvidence, PermissiveAnswer, PermissiveEvidence,
};
pub use requisite::{
    parse_1265, OfflineStamp, Requisite1265, Requisite1265Error, DOC_DATE, DOC_NUMBER, FOIV_ID,
    MAX_1265_CHARS,
};

use crate::decision::{self, DecisionPolicy, SaleContext, Verdict};
use crate::ffd::{
    FractionalQuantity, IndustryRequisite, ItemMarking, MarkingAnswer, Quantity, Receipt, ReceiptItem,
};
use serde::{Deserialize, Serialize};

/// How a KKT code check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    /// `acceptMarkingCode`: the code is in the ФН's table.
    Accepted,
    /// `declineMarkingCode`.
    Declined,
    /// `cancelMarkingCodeValidation` while it ran.
    Cancelled,
    /// A new `beginMarkingCodeValidation` discarded it before it was accepted or declined.
    Replaced,
    /// Never finished by the time the receipt closed.
    Open,
}

/// What the KKT saw for one code check (`beginMarkingCodeValidation` … accept/decline).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KktCheckRecord {
    /// The КМ as received: `imc` base64-decoded (raw bytes as text).
    pub code: String,
    /// `imc` was strict, padded base64 (false: the KKT had to be lenient to decode it).
    pub imc_base64_ok: bool,
    /// 2003, `itemEstimatedStatus`.
    pub planned_status: u8,
    /// 1023, `itemQuantity` (statuses 2 and 4 only).
    pub quantity: Option<Quantity>,
    /// 2108, `itemUnits`.
    pub measure: Option<u8>,
    /// 1291, `itemFractionalAmount`.
    pub fractional: Option<FractionalQuantity>,
    /// 2102, `imcModeProcessing`.
    pub processing_mode: u8,
    /// 2004, the ФН's local check.
    pub local_check: u8,
    /// 2100.
    pub code_type: u8,
    /// Answer 83, when it arrived.
    pub answer: Option<MarkingAnswer>,
    /// 2106 as the ФН computed it once the check finished.
    pub tag_2106: Option<u8>,
    /// How it ended.
    pub outcome: CheckOutcome,
    /// When `begin…` was received, world time (Unix ms).
    pub started_ms: i64,
    /// When it was accepted, declined, cancelled or replaced.
    pub finished_ms: Option<i64>,
    /// The POS polled `getMarkingCodeValidationStatus` until it said `ready`.
    pub polled_until_ready: bool,
}

/// What the POS itself sent for one receipt position (`sell` / `sellReturn` item).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PosItemFacts {
    /// `imcParams.itemInfoCheckResult` as a 2106 value, when the POS passed it.
    pub pos_2106: Option<u8>,
    /// `imcParams.itemEstimatedStatus`, when passed.
    pub planned_status: Option<u8>,
    /// `imcParams.imc` was strict, padded base64.
    pub imc_base64_ok: bool,
    /// The KKT checked and accepted the code itself (`validateMarkingCodes`), without a POS check.
    pub registered_without_check: bool,
    /// The position's product group in the world catalogue, when known (for the price and excise
    /// rules when answers name none).
    pub product_group: Option<u16>,
}

impl Default for PosItemFacts {
    fn default() -> Self {
        PosItemFacts {
            pos_2106: None,
            planned_status: None,
            imc_base64_ok: true,
            registered_without_check: false,
            product_group: None,
        }
    }
}

/// Everything needed to grade one closed receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptEvidence {
    /// The receipt as the ФН signed it (`marking` on each marked item).
    pub receipt: Receipt,
    /// Per receipt item, in the same order (missing entries count as defaults).
    pub pos_items: Vec<PosItemFacts>,
    /// Every KKT code check since the previous receipt, in order.
    pub checks: Vec<KktCheckRecord>,
    /// When the receipt closed, world time (Unix ms UTC).
    pub closed_ms: i64,
    /// The TLV-encoded size of the document, when known.
    pub encoded_len: Option<usize>,
}

/// MUST or SHOULD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// A violation.
    Must,
    /// Advisory.
    Should,
}

/// One violation of the checklist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Checklist id, `G-C1` … `G-R10`.
    pub id: &'static str,
    /// MUST or SHOULD.
    pub level: Level,
    /// Receipt item (0-based), when the finding is about one.
    pub item: Option<usize>,
    /// KKT check (0-based index into `checks`), when the finding is about one.
    pub check: Option<usize>,
    /// The FFD tag at fault, when one is.
    pub tag: Option<u16>,
    /// The marking code concerned.
    pub code: Option<String>,
    /// What was expected.
    pub expected: String,
    /// What was found.
    pub actual: String,
    /// One sentence for a person.
    pub message: String,
}

impl Finding {
    fn new(id: &'static str, level: Level, message: impl Into<String>) -> Finding {
        Finding {
            id,
            level,
            item: None,
            check: None,
            tag: None,
            code: None,
            expected: String::new(),
            actual: String::new(),
            message: message.into(),
        }
    }

    /// A MUST finding.
    fn must(id: &'static str, message: impl Into<String>) -> Finding {
        Finding::new(id, Level::Must, message)
    }

    /// A SHOULD finding.
    fn should(id: &'static str, message: impl Into<String>) -> Finding {
        Finding::new(id, Level::Should, message)
    }

    fn level(mut self, level: Level) -> Finding {
        self.level = level;
        self
    }

    fn item(mut self, index: usize) -> Finding {
        self.item = Some(index);
        self
    }

    fn check(mut self, index: usize) -> Finding {
        self.check = Some(index);
        self
    }

    fn tag(mut self, tag: u16) -> Finding {
        self.tag = Some(tag);
        self
    }

    fn code(mut self, code: &str) -> Finding {
        self.code = Some(code.to_string());
        self
    }

    fn expect(mut self, expected: impl Into<String>, actual: impl Into<String>) -> Finding {
        self.expected = expected.into();
        self.actual = actual.into();
        self
    }
}

/// Grading settings (spec defaults).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradingPolicy {
    /// The sale-ban decision's settings.
    pub decision: DecisionPolicy,
    /// The store works in permissive mode: marked positions need 1260 (G-R4).
    pub permissive_mode: bool,
    /// `policy.requisite_max_age_s` (G-R9; `true-api.md` §12.2 rule 8: 900).
    pub requisite_max_age_s: u64,
    /// `grading.excise_groups`: when set, 1212 must be 31 for these groups and 33 for others (G-R1).
    pub excise_groups: Option<Vec<u16>>,
    /// The store's offset from UTC, seconds (local-date expiry).
    pub utc_offset_s: i32,
    /// Largest admissible document (G-R8; `kkt.md` §10.4: about 32 KB).
    pub max_document_bytes: usize,
}

impl Default for GradingPolicy {
    fn default() -> Self {
        GradingPolicy {
            decision: DecisionPolicy::default(),
            permissive_mode: true,
            requisite_max_age_s: 900,
            excise_groups: None,
            utc_offset_s: 3 * 3600,
            max_document_bytes: 32 * 1024,
        }
    }
}

/// Grade one closed receipt: every finding of §11.1 and §11.2, check-phase ones first, each group in
/// item / check order.
pub fn grade_receipt(
    input: &ReceiptEvidence,
    evidence: &dyn PermissiveEvidence,
    policy: &GradingPolicy,
) -> Vec<Finding> {
    let mut g = Grader::new(input, evidence, policy);
    check_phase::grade(&mut g);
    receipt::grade(&mut g);
    // A finding about a check is also about the position registered with it.
    let items: Vec<Option<usize>> =
        (0..input.checks.len()).map(|i| g.marked_of_check(i).map(|m| m.index)).collect();
    for f in &mut g.findings {
        if let (Some(check), None) = (f.check, f.item) {
            f.item = items.get(check).copied().flatten();
        }
    }
    g.findings
}

/// A marked position and what it is matched with.
struct Marked<'a> {
    /// Index into `receipt.items`.
    index: usize,
    item: &'a ReceiptItem,
    marking: &'a ItemMarking,
    pos: PosItemFacts,
    /// The accepted check of the same code it was registered with (index into `checks`).
    check: Option<usize>,
    /// Its 1260 blocks with 1262 = 030 (and any other whose 1265 looks like a permissive one).
    requisites: Vec<&'a IndustryRequisite>,
    /// The 1265 of the first of them (a 030 one if any), parsed.
    parsed: Option<Result<Requisite1265, Requisite1265Error>>,
    /// The check that 1265 names, if it was issued.
    issued: Option<IssuedCheck>,
    /// The answer about this code in that check.
    named_answer: Option<PermissiveAnswer>,
    /// The latest answer about this code at close.
    last: Option<LastAnswer>,
}

impl Marked<'_> {
    /// The answer the sale rests on: the one its 1265 names, else the latest one.
    fn answer(&self) -> Option<&PermissiveAnswer> {
        self.named_answer.as_ref().or(self.last.as_ref().map(|l| &l.answer))
    }
}

/// Shared state of one grading run.
struct Grader<'a> {
    input: &'a ReceiptEvidence,
    evidence: &'a dyn PermissiveEvidence,
    policy: &'a GradingPolicy,
    marked: Vec<Marked<'a>>,
    findings: Vec<Finding>,
}

impl<'a> Grader<'a> {
    fn new(
        input: &'a ReceiptEvidence,
        evidence: &'a dyn PermissiveEvidence,
        policy: &'a GradingPolicy,
    ) -> Self {
        let mut g = Grader { input, evidence, policy, marked: Vec::new(), findings: Vec::new() };
        for (index, item) in input.receipt.items.iter().enumerate() {
            let Some(marking) = item.marking.as_ref() else { continue };
            let pos = input.pos_items.get(index).cloned().unwrap_or_default();
            let check = if pos.registered_without_check { None } else { g.accepted_check_of(&marking.code) };
            let mut requisites: Vec<&IndustryRequisite> = item
                .industry
                .iter()
                .filter(|r| r.foiv_id == FOIV_ID || r.value.starts_with("UUID="))
                .collect();
            requisites.sort_by_key(|r| r.foiv_id != FOIV_ID); // the 030 one first
            let parsed = requisites.first().map(|r| parse_1265(&r.value));
            let issued = match &parsed {
                Some(Ok(r)) => evidence.issued(&r.req_id),
                _ => None,
            };
            let named_answer = issued.as_ref().and_then(|i| evidence.answer(&i.req_id, &marking.code));
            let last = evidence.last_answer(&marking.code, input.closed_ms);
            g.marked.push(Marked {
                index,
                item,
                marking,
                pos,
                check,
                requisites,
                parsed,
                issued,
                named_answer,
                last,
            });
        }
        g
    }

    fn checks(&self) -> &'a [KktCheckRecord] {
        &self.input.checks
    }

    fn operation(&self) -> crate::ffd::OperationType {
        self.input.receipt.operation
    }

    /// The latest check of `code` accepted before the receipt closed.
    fn accepted_check_of(&self, code: &str) -> Option<usize> {
        self.checks().iter().enumerate().rev().find_map(|(i, c)| {
            let done = c.finished_ms.unwrap_or(c.started_ms);
            (c.outcome == CheckOutcome::Accepted && c.code == code && done <= self.input.closed_ms)
                .then_some(i)
        })
    }

    /// The marked position registered with check `index`.
    fn marked_of_check(&self, index: usize) -> Option<&Marked<'a>> {
        self.marked.iter().find(|m| m.check == Some(index))
    }

    /// The sale context of a code, priced by its position when it has one.
    fn context(&self, code: &str, position: Option<&Marked<'_>>, answer: &PermissiveAnswer) -> SaleContext {
        let is_block = markcert_codes::parse(code.as_bytes())
            .is_ok_and(|c| c.layout() == markcert_codes::Layout::TobaccoBlock)
            || matches!(answer, PermissiveAnswer::Online(a) if a.package_type.as_deref() == Some("GROUP"));
        SaleContext {
            operation: self.operation(),
            price_kopecks: position.map(|m| m.item.price.0),
            is_block,
            now_ms: self.input.closed_ms,
            utc_offset_s: self.policy.utc_offset_s,
            group: position.and_then(|m| m.pos.product_group),
        }
    }

    /// The decision for `code` given `answer`.
    fn verdict(&self, code: &str, position: Option<&Marked<'_>>, answer: &PermissiveAnswer) -> Verdict {
        let ctx = self.context(code, position, answer);
        let p = &self.policy.decision;
        match answer {
            PermissiveAnswer::Online(a) => decision::online_verdict(a, &ctx, p),
            PermissiveAnswer::Offline(a) => decision::offline_verdict(a, &ctx, p),
            PermissiveAnswer::Emergency => decision::emergency_verdict(code, &ctx, p),
            PermissiveAnswer::Error => decision::no_answer_verdict(p),
        }
    }

    fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}

/// The level of a finding about a ban: SHOULD when the verdict is advisory.
fn ban_level(v: &Verdict) -> Level {
    if v.advisory {
        Level::Should
    } else {
        Level::Must
    }
}

/// A verdict in words, for `expected`.
fn describe(v: &Verdict) -> String {
    format!("{} ({}, {})", v.reason.name(), v.reason.description_en(), v.reason.rule())
}

/// The name of a planned status (2003).
fn status_name(s: u8) -> String {
    let name = match s {
        1 => "piece sold",
        2 => "measured, part being sold",
        3 => "piece returned",
        4 => "measured, part returned",
        5 => "piece, part being sold",
        6 => "measured sold",
        255 => "unchanged",
        _ => "not a status",
    };
    format!("{s} ({name})")
}
