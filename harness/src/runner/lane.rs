//! Driving one SUT lane through a scenario's steps against one isolated stack.
//!
//! [`Lane::run`] sends `init`, checks the declared features, then runs the steps in order: adapter
//! messages for `open` / `scan` / `return` / `close` / `cancel`, and direct effects on the stack for
//! `advance_clock`, `set_fault` / `clear_fault`, `lm_sync` and `wait`. The fault timeline is applied
//! before each step. Replies are compared with each step's `expect`; a protocol violation stops the
//! scenario. [`Lane::check_assertions`] then evaluates the `[[assert]]` tables it knows.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use markcert_emulators::faults::RuleId;
use markcert_emulators::ffd::Document;
use markcert_emulators::kkt::device::DocumentQuery;
use markcert_emulators::stack::Stack;
use markcert_emulators::trace::TraceFilter;
use markcert_emulators::world::{identity, World};

use super::resolve::{base64, product_for, resolve_code, scan_bytes};
use super::verdict::{Failure, FailureKind, Verdict};
use super::RunOptions;
use crate::adapter::protocol::{
    CancelReceipt, CloseReceipt, Init, Mode, OpenReceipt, Payment as WirePayment, PaymentMethod,
    ReceiptKind as WireKind, ReplyBody, Request, Role, Scan, PROTOCOL_VERSION,
};
use crate::adapter::{Adapter, AdapterClient, ProtocolViolation};
use crate::scenario::{
    Assertion, At, Decision, Expect, Feature, Payment, ReceiptKind, Scenario, Step, StepRef,
};

/// The lane id given to the SUT.
pub const LANE_ID: &str = "lane-1";

/// The longest real-time `wait` step the runner honours.
pub const MAX_WAIT: StdDuration = StdDuration::from_secs(60);

/// State of one scenario run on one lane.
pub(crate) struct Lane<'a> {
    scenario: &'a Scenario,
    stack: &'a Stack,
    opts: &'a RunOptions,
    verdict: &'a mut Verdict,
    /// World time at the start of the scenario.
    start_ms: i64,
    /// Code resolved by each scan / return step (by step number).
    codes: HashMap<usize, (String, Option<u64>)>,
    /// World time when each step ended (by step number).
    step_end_ms: HashMap<usize, i64>,
    /// Fault rules installed, by name.
    rules: HashMap<String, RuleId>,
    /// Timeline entries already applied.
    applied: Vec<bool>,
    /// Total of the accepted items of the open receipt.
    receipt_total: u64,
}

/// Why the steps stopped early.
pub(crate) enum Stop {
    /// The SUT broke the protocol (or crashed).
    Violation(ProtocolViolation),
    /// The SUT lacks a required feature.
    Skip(String),
    /// Harness-side problem (resolution, fault rule, …).
    Harness(String),
}

impl<'a> Lane<'a> {
    pub(crate) fn new(
        scenario: &'a Scenario,
        stack: &'a Stack,
        opts: &'a RunOptions,
        verdict: &'a mut Verdict,
    ) -> Self {
        Lane {
            scenario,
            stack,
            opts,
            verdict,
            start_ms: stack.clock.now_ms(),
            codes: HashMap::new(),
            step_end_ms: HashMap::new(),
            rules: HashMap::new(),
            applied: vec![false; scenario.faults.len()],
            receipt_total: 0,
        }
    }

    fn world(&self) -> std::sync::RwLockReadGuard<'_, World> {
        self.stack.world.read().unwrap_or_else(|e| e.into_inner())
    }

    fn step_number(&self, r: &StepRef) -> Option<usize> {
        match r {
            StepRef::Number(n) => usize::try_from(*n).ok(),
            StepRef::Label(l) => {
                self.scenario.steps.iter().position(|s| s.get_ref().id() == Some(l.as_str())).map(|i| i + 1)
            }
        }
    }

    /// `init`, the feature check, then every step.
    pub(crate) async fn run(&mut self, sut: &mut Adapter) -> Result<(), Stop> {
        let mode =
            if self.scenario.features.contains(&Feature::Direct) { Mode::Direct } else { Mode::Tspiot };
        let init = Init {
            protocol_version: PROTOCOL_VERSION,
            role: Role::Pos,
            lane: LANE_ID.into(),
            endpoints: (&self.stack.endpoints).into(),
            mode,
            store_inn: self.world().store_inn.clone(),
        };
        let reply = sut.request(Request::Init(init)).await.map_err(Stop::Violation)?;
        let declared = match reply.body {
            ReplyBody::InitOk(ok) => ok.features,
            ReplyBody::Error(e) => {
                return Err(Stop::Harness(format!("the SUT refused init: {}: {}", e.code, e.text)));
            }
            other => return Err(Stop::Harness(format!("unexpected reply to init: {}", other.type_name()))),
        };
        let missing: Vec<String> = self
            .scenario
            .features
            .iter()
            .map(|f| feature_name(*f).to_string())
            .filter(|f| !declared.contains(f))
            .collect();
        if !missing.is_empty() {
            return Err(Stop::Skip(format!("the SUT does not declare feature(s): {}", missing.join(", "))));
        }
        for (i, step) in self.scenario.steps.iter().enumerate() {
            let n = i + 1;
            self.apply_timeline(Some(n))?;
            self.step(sut, n, step.get_ref()).await?;
            self.step_end_ms.insert(n, self.stack.clock.now_ms());
        }
        self.apply_timeline(None)?;
        Ok(())
    }

    /// Applies the timeline entries due before step `next` (`None`: after the last step), and
    /// those whose world-time offset has passed.
    fn apply_timeline(&mut self, next: Option<usize>) -> Result<(), Stop> {
        let elapsed = self.stack.clock.now_ms().saturating_sub(self.start_ms);
        for (i, ev) in self.scenario.faults.iter().enumerate() {
            if self.applied[i] {
                continue;
            }
            let ev = ev.get_ref();
            let due = match &ev.at {
                At::Step(r) => match (next, self.step_number(r)) {
                    (Some(n), Some(at)) => at <= n,
                    (None, _) => true,
                    (Some(_), None) => false,
                },
                At::Offset(d) => elapsed >= i64::try_from(d.ms).unwrap_or(i64::MAX),
            };
            if !due {
                continue;
            }
            self.applied[i] = true;
            if let Some(rule) = &ev.set {
                self.set_fault(rule.clone())?;
            }
            if let Some(name) = &ev.clear {
                self.clear_fault(Some(name));
            }
        }
        Ok(())
    }

    fn set_fault(&mut self, rule: markcert_emulators::faults::FaultRule) -> Result<(), Stop> {
        let name = rule.name.clone();
        let id = self.stack.faults.add(rule).map_err(|e| Stop::Harness(format!("fault rule: {e}")))?;
        if let Some(name) = name {
            self.rules.insert(name, id);
        }
        Ok(())
    }

    fn clear_fault(&mut self, name: Option<&str>) {
        match name {
            None | Some("*") => {
                self.stack.faults.clear();
                self.rules.clear();
            }
            Some(n) => {
                if let Some(id) = self.rules.remove(n) {
                    self.stack.faults.remove(id);
                }
            }
        }
    }

    async fn step(&mut self, sut: &mut Adapter, n: usize, step: &Step) -> Result<(), Stop> {
        match step {
            Step::Open { kind, .. } => {
                self.receipt_total = 0;
                let kind = match kind {
                    ReceiptKind::Sale => WireKind::Sale,
                    ReceiptKind::Return => WireKind::Return,
                };
                let reply = sut
                    .request(Request::OpenReceipt(OpenReceipt { lane: LANE_ID.into(), kind }))
                    .await
                    .map_err(Stop::Violation)?;
                self.expect_plain(n, "receipt_opened", &reply.body);
            }
            Step::Cancel { .. } => {
                let reply = sut
                    .request(Request::CancelReceipt(CancelReceipt { lane: LANE_ID.into() }))
                    .await
                    .map_err(Stop::Violation)?;
                self.expect_plain(n, "receipt_cancelled", &reply.body);
            }
            Step::Scan { code, scanner, price_kopecks, quantity, expect, .. } => {
                let code = resolve_code(&self.world(), code).map_err(|e| Stop::Harness(e.to_string()))?;
                self.codes.insert(n, (code.clone(), *price_kopecks));
                self.scan(sut, n, &code, scanner.as_deref(), *price_kopecks, quantity.unwrap_or(1.0), expect)
                    .await?;
            }
            Step::Return { of, scanner, expect, .. } => {
                let Some((code, price)) = self.step_number(of).and_then(|s| self.codes.get(&s)).cloned()
                else {
                    return Err(Stop::Harness(format!("return: {of} has no scanned code")));
                };
                self.codes.insert(n, (code.clone(), price));
                self.scan(sut, n, &code, scanner.as_deref(), price, 1.0, expect).await?;
            }
            Step::Close { payment, expect, .. } => {
                let method = match payment {
                    Payment::Cash => PaymentMethod::Cash,
                    Payment::Card => PaymentMethod::Electronic,
                };
                let body = CloseReceipt {
                    lane: LANE_ID.into(),
                    payment: WirePayment { method, amount_kopecks: self.receipt_total },
                };
                let reply = sut.request(Request::CloseReceipt(body)).await.map_err(Stop::Violation)?;
                self.check_close(n, expect.as_ref(), &reply.body);
            }
            Step::AdvanceClock { by, .. } => {
                self.stack.clock.advance(StdDuration::from_millis(by.ms));
            }
            Step::SetFault { rule, .. } => self.set_fault(rule.clone())?,
            Step::ClearFault { name, .. } => self.clear_fault(name.as_deref()),
            Step::LmSync { .. } => {
                let now = self.stack.clock.now_ms();
                let world = self.stack.world.read().unwrap_or_else(|e| e.into_inner());
                let mut lm = self.stack.lm.lock().unwrap_or_else(|e| e.into_inner());
                lm.sync_now(&world, now)
                    .map_err(|e| Stop::Harness(format!("lm_sync: the ЛМ ЧЗ could not sync: {e}")))?;
            }
            Step::Wait { duration, .. } => {
                let d = StdDuration::from_millis(duration.ms).min(self.opts.max_wait.min(MAX_WAIT));
                tokio::time::sleep(d).await;
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn scan(
        &mut self,
        sut: &mut Adapter,
        n: usize,
        code: &str,
        scanner: Option<&str>,
        price: Option<u64>,
        quantity: f64,
        expect: &Option<Expect>,
    ) -> Result<(), Stop> {
        let bytes = scan_bytes(code, scanner, self.opts.seed, n).map_err(|e| Stop::Harness(e.to_string()))?;
        let product = product_for(&self.world(), code, price);
        let price = product.price_kopecks;
        let body = Scan { lane: LANE_ID.into(), scan_b64: base64(&bytes), product, quantity, fraction: None };
        let reply = sut.request(Request::Scan(body)).await.map_err(Stop::Violation)?;
        let (actual, message) = match &reply.body {
            ReplyBody::Item(item) => {
                if item.decision == Decision::Accepted {
                    self.receipt_total += (price as f64 * quantity).round() as u64;
                }
                let actual = match item.reason {
                    Some(r) if item.decision == Decision::Rejected => format!("rejected/{}", reason_name(r)),
                    _ => decision_name(item.decision).to_string(),
                };
                (actual, item.message.clone().unwrap_or_default())
            }
            ReplyBody::Error(e) => (format!("error {}", e.code), e.text.clone()),
            other => (other.type_name().to_string(), String::new()),
        };
        if let Some(expect) = expect {
            let ok = match &reply.body {
                ReplyBody::Item(item) => {
                    item.decision == expect.decision
                        && (expect.reason.is_none() || item.reason == expect.reason)
                }
                _ => false,
            };
            if !ok {
                self.verdict.push(
                    FailureKind::Missed,
                    Failure { step: Some(n), expected: expect_text(expect), actual, message },
                );
            }
        }
        Ok(())
    }

    /// A step without `expect`: the SUT must answer with `want`, not `error`.
    fn expect_plain(&mut self, n: usize, want: &str, body: &ReplyBody) {
        if let ReplyBody::Error(e) = body {
            self.verdict.push(
                FailureKind::Missed,
                Failure {
                    step: Some(n),
                    expected: want.into(),
                    actual: format!("error {}", e.code),
                    message: e.text.clone(),
                },
            );
        }
    }

    /// `close`: `accepted` means `receipt_closed` with a fiscal document the KKT really made.
    fn check_close(&mut self, n: usize, expect: Option<&Expect>, body: &ReplyBody) {
        let want = expect.map(|e| e.decision).unwrap_or(Decision::Accepted);
        let (actual, message, closed_ok) = match body {
            ReplyBody::ReceiptClosed(c) => {
                let fdn = c.fiscal_document_number;
                match self.kkt_has_receipt(fdn) {
                    Some(true) | None => ("accepted".to_string(), String::new(), true),
                    Some(false) => (
                        format!("receipt_closed #{fdn}, but the KKT has no receipt with that number"),
                        format!(
                            "the SUT reported fiscal document {fdn}, which the KKT never produced: a closed \
                             receipt must be fiscalised on the KKT (docs/kkt.md)"
                        ),
                        false,
                    ),
                }
            }
            ReplyBody::Error(e) => (format!("error {}", e.code), e.text.clone(), false),
            other => (other.type_name().to_string(), String::new(), false),
        };
        let ok = match want {
            Decision::Accepted => closed_ok,
            Decision::Rejected => !closed_ok,
        };
        if !ok {
            let expected = match want {
                Decision::Accepted => "accepted (receipt closed with a fiscal document)".to_string(),
                Decision::Rejected => "rejected".to_string(),
            };
            self.verdict.push(FailureKind::Missed, Failure { step: Some(n), expected, actual, message });
        }
    }

    /// Whether the KKT holds a receipt with fiscal document number `fdn` (`None`: no KKT).
    fn kkt_has_receipt(&self, fdn: u64) -> Option<bool> {
        let kkt = self.stack.kkt.as_ref()?;
        let q = DocumentQuery { kind: Some("receipt".into()), ..DocumentQuery::default() };
        Some(kkt.documents(&q).iter().any(|d| match &d.document {
            Document::Receipt(r) => u64::from(r.header.number) == fdn,
            _ => false,
        }))
    }

    /// Evaluates the assertions; ones not implemented yet are recorded as unchecked.
    pub(crate) fn check_assertions(&mut self) {
        for a in &self.scenario.asserts {
            let a = a.get_ref();
            let name = a.name();
            let miss = |message: String| Failure {
                step: None,
                expected: name.to_string(),
                actual: "does not hold".into(),
                message,
            };
            match a {
                Assertion::NoKktFindings {} => match &self.stack.kkt {
                    None => self.verdict.error(None, "no_kkt_findings: this run has no KKT"),
                    Some(kkt) => {
                        let findings = kkt.findings();
                        if !findings.is_empty() {
                            let list: Vec<String> = findings
                                .iter()
                                .map(|(seq, f)| format!("{} (document {seq}): {}", f.id, f.message))
                                .collect();
                            self.verdict.push(FailureKind::Missed, miss(list.join("; ")));
                        }
                    }
                },
                Assertion::KktFinding { id } => match &self.stack.kkt {
                    None => self.verdict.error(None, "kkt_finding: this run has no KKT"),
                    Some(kkt) => {
                        if !kkt.findings().iter().any(|(_, f)| f.id == id.as_str()) {
                            self.verdict
                                .push(FailureKind::Missed, miss(format!("the KKT reported no finding {id}")));
                        }
                    }
                },
                Assertion::CodeNotInAnyReceipt { step } => {
                    let Some((code, _)) = self.step_number(step).and_then(|s| self.codes.get(&s)).cloned()
                    else {
                        self.verdict.error(None, format!("{name}: {step} did not run"));
                        continue;
                    };
                    let Some(kkt) = &self.stack.kkt else {
                        self.verdict.error(None, format!("{name}: this run has no KKT"));
                        continue;
                    };
                    let ki = identity(&code).unwrap_or_else(|| code.clone());
                    let q = DocumentQuery { kind: Some("receipt".into()), ..DocumentQuery::default() };
                    let hit = kkt.documents(&q).into_iter().find_map(|d| match &d.document {
                        Document::Receipt(r) => r
                            .items
                            .iter()
                            .any(|it| {
                                it.marking.as_ref().is_some_and(|m| {
                                    identity(&m.code).unwrap_or_else(|| m.code.clone()) == ki
                                })
                            })
                            .then_some(r.header.number),
                        _ => None,
                    });
                    if let Some(fdn) = hit {
                        self.verdict.push(
                            FailureKind::Missed,
                            miss(format!(
                                "the code of {step} is an item of receipt #{fdn}: {}",
                                printable(&code)
                            )),
                        );
                    }
                }
                Assertion::NoCalls { host, endpoint, window, after_step } => {
                    let Some(from) =
                        self.step_number(after_step).and_then(|s| self.step_end_ms.get(&s)).copied()
                    else {
                        self.verdict.error(None, format!("{name}: {after_step} did not run"));
                        continue;
                    };
                    let to = from.saturating_add(i64::try_from(window.ms).unwrap_or(i64::MAX));
                    let filter = TraceFilter {
                        component: Some(host.clone()),
                        path: endpoint.clone(),
                        ..TraceFilter::default()
                    };
                    let calls: Vec<_> = self
                        .stack
                        .trace
                        .events(&filter)
                        .into_iter()
                        .filter(|e| e.world_ms >= from && e.world_ms <= to)
                        .collect();
                    if let Some(first) = calls.first() {
                        self.verdict.push(
                            FailureKind::Missed,
                            miss(format!(
                                "{} call(s) reached {host} within {window} after {after_step}; first: {} {} (trace #{})",
                                calls.len(),
                                first.method.as_str(),
                                first.path.as_str(),
                                first.seq
                            )),
                        );
                    }
                }
                Assertion::CheckBeforeSell { .. }
                | Assertion::Receipt1265MatchesCheck { .. }
                | Assertion::Receipt1265Contains { .. }
                | Assertion::No1260 { .. } => {
                    self.verdict.push(
                        FailureKind::Unchecked,
                        Failure {
                            step: None,
                            expected: name.to_string(),
                            actual: "not checked".into(),
                            message: format!("assertion {name} not implemented yet"),
                        },
                    );
                }
            }
        }
    }
}

/// A code with ⟨GS⟩ shown as `\u001d`.
fn printable(code: &str) -> String {
    code.replace('\u{1d}', "\\u001d")
}

fn expect_text(e: &Expect) -> String {
    match e.reason {
        Some(r) => format!("{}/{}", decision_name(e.decision), reason_name(r)),
        None => decision_name(e.decision).to_string(),
    }
}

fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Accepted => "accepted",
        Decision::Rejected => "rejected",
    }
}

fn reason_name(r: crate::scenario::Reason) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{r:?}"))
}

/// The protocol name of a feature.
pub fn feature_name(f: Feature) -> &'static str {
    match f {
        Feature::Tspiot => "tspiot",
        Feature::Direct => "direct",
        Feature::LmFallback => "lm-fallback",
        Feature::Returns => "returns",
        Feature::Weighted => "weighted",
        Feature::Fractional => "fractional",
    }
}
