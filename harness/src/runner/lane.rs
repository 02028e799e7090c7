//! Driving one SUT lane through a scenario's steps against one isolated stack.
//!
//! [`Lane::run`] sends `init`, checks the declared features, then runs the steps in order: adapter
//! messages for `open` / `scan` / `return` / `close` / `cancel`, and direct effects on the stack for
//! `advance_clock`, `set_fault` / `clear_fault`, `lm_sync` and `wait`; the scans of a batch go as
//! one `scan_batch`. The fault timeline is applied before each step. Replies are compared with each
//! step's `expect`; a protocol violation stops the scenario. [`Lane::check_assertions`] then evaluates the `[[assert]]` tables it knows.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use markcert_emulators::faults::RuleId;
use markcert_emulators::ffd::Document;
use markcert_emulators::kkt::device::DocumentQuery;
use markcert_emulators::stack::Stack;
use markcert_emulators::world::World;

use super::assertions::{Judge, Judged};
use super::record::{self, events_after, excerpt, RunRecord, StepSpan};
use super::resolve::{base64, product_for, resolve_code, scan_bytes};
use super::verdict::{Failure, FailureKind, Verdict};
use super::RunOptions;
use crate::adapter::protocol::{
    BatchScan, CancelReceipt, CloseReceipt, Init, Mode, OpenReceipt, Payment as WirePayment, PaymentMethod,
    ReceiptKind as WireKind, ReplyBody, Request, Role, Scan, ScanBatch, PROTOCOL_VERSION,
};
use crate::adapter::{Adapter, AdapterClient, ProtocolViolation};
use crate::scenario::{At, Decision, Expect, Feature, Payment, ReceiptKind, Scenario, Step, StepRef};

/// The lane id given to the SUT.
pub const LANE_ID: &str = "lane-1";

/// The longest real-time `wait` step the runner honours in the default profile.
pub const MAX_WAIT: StdDuration = StdDuration::from_secs(60);

/// The longest real-time `wait` step of a `long`-profile scenario (soak cases: 6–10 h).
pub const LONG_MAX_WAIT: StdDuration = StdDuration::from_secs(12 * 3600);

/// What the steps are driven against.
pub(crate) enum Driver<'d> {
    /// A POS behind the adapter protocol.
    Pos(&'d mut Adapter),
    /// A ТС ПИоТ's POS API.
    Tspiot(&'d super::tspiot::TspiotTarget),
}

fn wrong_role() -> Stop {
    Stop::Harness("a step does not fit the role under test".into())
}

/// State of one scenario run on one lane.
pub(crate) struct Lane<'a> {
    scenario: &'a Scenario,
    stack: &'a Stack,
    opts: &'a RunOptions,
    verdict: &'a mut Verdict,
    /// World time at the start of the scenario.
    start_ms: i64,
    /// Codes sent and where each step sits in the trace and the KKT journal.
    pub(crate) record: RunRecord,
    /// The KKT journal's last document seq seen.
    docs_seen: u64,
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
            record: RunRecord::default(),
            docs_seen: 0,
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

    /// `init` (role `pos`), the feature check, then every step.
    pub(crate) async fn run(&mut self, sut: &mut Adapter) -> Result<(), Stop> {
        self.init_pos(sut).await?;
        self.run_steps(Driver::Pos(sut)).await
    }

    /// `init` of a ТС ПИоТ implementation behind an adapter (role `tspiot`): its POS API URL.
    pub(crate) async fn init_tspiot(&mut self, sut: &mut Adapter) -> Result<String, Stop> {
        let init = Init {
            protocol_version: PROTOCOL_VERSION,
            role: Role::Tspiot,
            lane: LANE_ID.into(),
            endpoints: (&self.stack.endpoints).into(),
            mode: Mode::Direct,
            store_inn: self.world().store_inn.clone(),
        };
        let reply = sut.request(Request::Init(init)).await.map_err(Stop::Violation)?;
        match reply.body {
            ReplyBody::InitOk(ok) => ok.tspiot_url.ok_or_else(|| {
                Stop::Harness(
                    "the ТС ПИоТ adapter answered init without `tspiot_url` (its POS API URL)".into(),
                )
            }),
            ReplyBody::Error(e) => {
                Err(Stop::Harness(format!("the SUT refused init: {}: {}", e.code, e.text)))
            }
            other => Err(Stop::Harness(format!("unexpected reply to init: {}", other.type_name()))),
        }
    }

    async fn init_pos(&mut self, sut: &mut Adapter) -> Result<(), Stop> {
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
        Ok(())
    }

    /// Every step, in order, against `driver`; the scans of a batch go together as one `scan_batch`
    /// and share one span of the trace.
    pub(crate) async fn run_steps(&mut self, mut driver: Driver<'_>) -> Result<(), Stop> {
        let mut n = 1;
        while n <= self.scenario.steps.len() {
            let last = self.batch_end(n);
            self.apply_timeline(Some(n))?;
            self.docs_seen = record::docs_last(self.stack, self.docs_seen);
            let before = StepSpan {
                trace_before: record::trace_last(self.stack),
                docs_before: self.docs_seen,
                ..StepSpan::default()
            };
            for k in n..=last {
                self.record.spans.insert(k, before);
            }
            let misses_before = self.verdict.failures.len();
            let result = if last > n {
                match &mut driver {
                    Driver::Pos(sut) => self.scan_batch(sut, n..=last).await,
                    Driver::Tspiot(_) => Err(wrong_role()),
                }
            } else {
                self.step(&mut driver, n, self.scenario.steps[n - 1].get_ref()).await
            };
            let span = StepSpan {
                trace_after: record::trace_last(self.stack),
                world_end_ms: self.stack.clock.now_ms(),
                ..before
            };
            for k in n..=last {
                self.record.spans.insert(k, span);
            }
            self.attach_excerpts(misses_before, span);
            result?;
            n = last + 1;
        }
        self.apply_timeline(None)?;
        Ok(())
    }

    /// The last step of the batch starting at step `n` (`n` itself when it starts none).
    fn batch_end(&self, n: usize) -> usize {
        let Some(b) = self.scenario.batch_of(n) else { return n };
        let mut last = n;
        while self.scenario.batch_of(last + 1) == Some(b) {
            last += 1;
        }
        last
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

    async fn step(&mut self, driver: &mut Driver<'_>, n: usize, step: &Step) -> Result<(), Stop> {
        if let Some(role) = step.role() {
            let fits = matches!(
                (role, &*driver),
                (crate::scenario::Role::Pos, Driver::Pos(_))
                    | (crate::scenario::Role::Tspiot, Driver::Tspiot(_))
            );
            if !fits {
                return Err(Stop::Harness(format!(
                    "step {n} ({}) does not fit the role under test",
                    step.name()
                )));
            }
        }
        match step {
            Step::Check { codes, raw, version, expect, .. } => {
                let Driver::Tspiot(target) = driver else { return Err(wrong_role()) };
                let codes = {
                    let world = self.world();
                    codes
                        .iter()
                        .map(|c| resolve_code(&world, c).map_err(|e| Stop::Harness(e.to_string())))
                        .collect::<Result<Vec<_>, _>>()?
                };
                if let Some(first) = codes.first() {
                    self.record.codes.insert(n, (first.clone(), None));
                }
                let (groups, program) = {
                    let world = self.world();
                    let groups: Vec<Option<u16>> = codes
                        .iter()
                        .map(|c| super::resolve::gtin_of(c).and_then(|g| world.group_of(&g)))
                        .collect();
                    (groups, world.pos_software().first().map(|p| (p.id.clone(), p.token.clone())))
                };
                let before = record::trace_last(self.stack);
                let answer = target.check(*version, &codes, raw, &groups, program).await;
                let events: Vec<_> = events_after(self.stack, before);
                let misses = super::tspiot::judge_check(
                    self.stack,
                    *version,
                    &codes,
                    &answer,
                    expect.as_ref(),
                    &events,
                    self.opts.timing_tolerance_ms,
                );
                self.push_misses(n, misses);
                return Ok(());
            }
            Step::Info { version, .. } => {
                let Driver::Tspiot(target) = driver else { return Err(wrong_role()) };
                let answer = target.info(*version).await;
                let misses = super::tspiot::judge_info(self.stack, &answer);
                self.push_misses(n, misses);
                return Ok(());
            }
            Step::SetCode { code, set, .. } => {
                let code = resolve_code(&self.world(), code).map_err(|e| Stop::Harness(e.to_string()))?;
                let mut world = self.stack.world.write().unwrap_or_else(|e| e.into_inner());
                let ki = markcert_emulators::world::identity(&code).unwrap_or_else(|| code.clone());
                let Some(record) = world.code_by_identity(&ki).cloned() else {
                    return Err(Stop::Harness(format!("set_code: {code:?} is not a code of the world")));
                };
                let next = super::options::patched(&record, set)
                    .map_err(|e| Stop::Harness(format!("set_code: {e}")))?;
                world.update_code(next).map_err(|e| Stop::Harness(format!("set_code: {e}")))?;
                return Ok(());
            }
            Step::CdnList { hosts, .. } => {
                self.stack.set_cdn_list(hosts).map_err(|e| Stop::Harness(format!("cdn_list: {e}")))?;
                return Ok(());
            }
            _ => {}
        }
        let sut = match driver {
            Driver::Pos(sut) => &mut **sut,
            Driver::Tspiot(_) => {
                return self.world_step(step).await;
            }
        };
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
            Step::Scan { code, scanner, price_kopecks, quantity, fraction, expect, .. } => {
                let (code, fraction) = self.scan_code(n, code, *price_kopecks, fraction.as_deref())?;
                let q = quantity.unwrap_or(1.0);
                self.scan(sut, n, &code, scanner.as_deref(), *price_kopecks, (q, fraction), expect).await?;
            }
            Step::Return { of, scanner, expect, .. } => {
                let Some((code, price)) =
                    self.step_number(of).and_then(|s| self.record.codes.get(&s)).cloned()
                else {
                    return Err(Stop::Harness(format!("return: {of} has no scanned code")));
                };
                self.record.codes.insert(n, (code.clone(), price));
                self.scan(sut, n, &code, scanner.as_deref(), price, (1.0, None), expect).await?;
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
            _ => return self.world_step(step).await,
        }
        Ok(())
    }

    /// The steps on the emulated world (clock, faults, ЛМ ЧЗ), whatever the role.
    async fn world_step(&mut self, step: &Step) -> Result<(), Stop> {
        match step {
            Step::AdvanceClock { by, .. } => {
                self.stack.clock.advance(StdDuration::from_millis(by.ms));
            }
            Step::SetFault { rule, .. } => self.set_fault(rule.clone())?,
            Step::ClearFault { name, .. } => self.clear_fault(name.as_deref()),
            Step::LmLink { up, .. } => {
                let now = self.stack.clock.now_ms();
                let world = self.stack.world.read().unwrap_or_else(|e| e.into_inner());
                let mut lm = self.stack.lm.lock().unwrap_or_else(|e| e.into_inner());
                lm.set_operator_link(&world, now, *up);
            }
            Step::LmSync { .. } => {
                let now = self.stack.clock.now_ms();
                let world = self.stack.world.read().unwrap_or_else(|e| e.into_inner());
                let mut lm = self.stack.lm.lock().unwrap_or_else(|e| e.into_inner());
                lm.sync_now(&world, now)
                    .map_err(|e| Stop::Harness(format!("lm_sync: the ЛМ ЧЗ could not sync: {e}")))?;
            }
            Step::Wait { duration, .. } => {
                let cap = match self.scenario.profile {
                    crate::scenario::Profile::Default => self.opts.max_wait.min(MAX_WAIT),
                    crate::scenario::Profile::Long => LONG_MAX_WAIT,
                };
                let d = StdDuration::from_millis(duration.ms).min(cap);
                tokio::time::sleep(d).await;
            }
            other => {
                return Err(Stop::Harness(format!(
                    "step `{}` does not fit the role under test",
                    other.name()
                )))
            }
        }
        Ok(())
    }

    fn push_misses(&mut self, n: usize, misses: Vec<super::tspiot::Miss>) {
        for m in misses {
            self.verdict.push(
                FailureKind::Missed,
                Failure {
                    step: Some(n),
                    expected: m.expected,
                    actual: m.actual,
                    message: m.message,
                    trace: Vec::new(),
                },
            );
        }
    }

    /// Step `n`'s code, resolved and recorded (with its price), and its fraction in wire form.
    fn scan_code(
        &mut self,
        n: usize,
        code: &crate::scenario::CodeRef,
        price: Option<u64>,
        fraction: Option<&str>,
    ) -> Result<(String, Option<crate::adapter::protocol::Fraction>), Stop> {
        let code = resolve_code(&self.world(), code).map_err(|e| Stop::Harness(e.to_string()))?;
        self.record.codes.insert(n, (code.clone(), price));
        let fraction = match fraction.map(crate::scenario::model::parse_fraction) {
            None => None,
            Some(Ok((numerator, denominator))) => {
                Some(crate::adapter::protocol::Fraction { numerator, denominator })
            }
            Some(Err(e)) => return Err(Stop::Harness(e)),
        };
        Ok((code, fraction))
    }

    /// What step `n`'s `scan` sends: the code, its bytes as the scanner delivers them, the product.
    fn scan_input(
        &self,
        n: usize,
        code: &str,
        scanner: Option<&str>,
        price: Option<u64>,
    ) -> Result<(Vec<u8>, crate::adapter::protocol::Product), Stop> {
        let bytes = scan_bytes(code, scanner, self.opts.seed, n).map_err(|e| Stop::Harness(e.to_string()))?;
        Ok((bytes, product_for(&self.world(), code, price)))
    }

    #[allow(clippy::too_many_arguments)]
    async fn scan(
        &mut self,
        sut: &mut Adapter,
        n: usize,
        code: &str,
        scanner: Option<&str>,
        price: Option<u64>,
        (quantity, fraction): (f64, Option<crate::adapter::protocol::Fraction>),
        expect: &Option<Expect>,
    ) -> Result<(), Stop> {
        let (bytes, product) = self.scan_input(n, code, scanner, price)?;
        let price = product.price_kopecks;
        let body = Scan { lane: LANE_ID.into(), scan_b64: base64(&bytes), product, quantity, fraction };
        let reply = sut.request(Request::Scan(body)).await.map_err(Stop::Violation)?;
        let answer = match &reply.body {
            ReplyBody::Item(item) => Ok(item),
            ReplyBody::Error(e) => Err((format!("error {}", e.code), e.text.clone())),
            other => Err((other.type_name().to_string(), String::new())),
        };
        self.judge_item(n, price, quantity, answer, expect.as_ref());
        Ok(())
    }

    /// The scan steps `steps` (one batch) as one `scan_batch`; each item is judged by its step.
    async fn scan_batch(
        &mut self,
        sut: &mut Adapter,
        steps: std::ops::RangeInclusive<usize>,
    ) -> Result<(), Stop> {
        let mut scans = Vec::new();
        let mut judged = Vec::new();
        for n in steps {
            let Step::Scan { code, scanner, price_kopecks, quantity, fraction, expect, .. } =
                self.scenario.steps[n - 1].get_ref()
            else {
                return Err(Stop::Harness(format!("step {n} is in a batch but is not a scan")));
            };
            let (code, fraction) = self.scan_code(n, code, *price_kopecks, fraction.as_deref())?;
            let quantity = quantity.unwrap_or(1.0);
            let (bytes, product) = self.scan_input(n, &code, scanner.as_deref(), *price_kopecks)?;
            judged.push((n, product.price_kopecks, quantity, expect.clone()));
            scans.push(BatchScan { scan_b64: base64(&bytes), product, quantity, fraction });
        }
        let body = ScanBatch { lane: LANE_ID.into(), scans };
        let reply = sut.request(Request::ScanBatch(body)).await.map_err(Stop::Violation)?;
        for (i, (n, price, quantity, expect)) in judged.into_iter().enumerate() {
            let answer = match &reply.body {
                ReplyBody::Items(items) => {
                    items.items.get(i).ok_or_else(|| ("no item".to_string(), String::new()))
                }
                ReplyBody::Error(e) => Err((format!("error {}", e.code), e.text.clone())),
                other => Err((other.type_name().to_string(), String::new())),
            };
            self.judge_item(n, price, quantity, answer, expect.as_ref());
        }
        Ok(())
    }

    /// Step `n`'s item (or what came instead: the reply type, or `error CODE`, and its text) against
    /// its `expect`; an accepted item adds to the receipt total.
    fn judge_item(
        &mut self,
        n: usize,
        price: u64,
        quantity: f64,
        answer: Result<&crate::adapter::protocol::Item, (String, String)>,
        expect: Option<&Expect>,
    ) {
        if let Ok(item) = answer {
            if item.decision == Decision::Accepted {
                self.receipt_total += (price as f64 * quantity).round() as u64;
            }
        }
        let Some(expect) = expect else { return };
        let (actual, message) = match answer {
            Ok(item) => {
                if item.decision == expect.decision
                    && (expect.reason.is_none() || item.reason == expect.reason)
                {
                    return;
                }
                let actual = match item.reason {
                    Some(r) if item.decision == Decision::Rejected => format!("rejected/{}", reason_name(r)),
                    _ => decision_name(item.decision).to_string(),
                };
                (actual, item.message.clone().unwrap_or_default())
            }
            Err(other) => other,
        };
        self.verdict.push(
            FailureKind::Missed,
            Failure { step: Some(n), expected: expect_text(expect), actual, message, trace: Vec::new() },
        );
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
                    trace: Vec::new(),
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
            self.verdict.push(
                FailureKind::Missed,
                Failure { step: Some(n), expected, actual, message, trace: Vec::new() },
            );
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

    /// Quotes the trace of step `span` next to the failures recorded since `from` that have none.
    fn attach_excerpts(&mut self, from: usize, span: StepSpan) {
        if self.verdict.failures.len() <= from {
            return;
        }
        let events: Vec<_> = events_after(self.stack, span.trace_before)
            .into_iter()
            .take_while(|e| e.seq <= span.trace_after)
            .collect();
        let lines = excerpt(&events, self.start_ms);
        for (_, f) in &mut self.verdict.failures[from..] {
            if f.trace.is_empty() {
                f.trace = lines.clone();
            }
        }
    }

    /// Judges every `[[assert]]` table.
    pub(crate) fn check_assertions(&mut self) {
        let judge = Judge { stack: self.stack, record: &self.record, start_ms: self.start_ms };
        let mut results = Vec::new();
        for a in &self.scenario.asserts {
            let a = a.get_ref();
            results.push((a.name(), judge.judge(a, |r| self.step_number(r))));
        }
        for (name, judged) in results {
            match judged {
                Judged::Holds => {}
                Judged::Misses { message, trace } => self.verdict.push(
                    FailureKind::Missed,
                    Failure {
                        step: None,
                        expected: name.to_string(),
                        actual: "does not hold".into(),
                        message,
                        trace,
                    },
                ),
                Judged::Error(why) => self.verdict.error(None, format!("{name}: {why}")),
            }
        }
    }
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
        Feature::Batch => "batch",
    }
}
