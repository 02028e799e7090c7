//! The POS itself: one [`Pos`] answers every adapter request in turn — `init` (endpoints, mode, the
//! KKT's shift), `open_receipt`, `scan` (repair → permissive-mode check → decision → KKT check →
//! position), `scan_batch` (the same, the codes checked together in one request), `close_receipt` (fiscalise on the KKT, then in direct mode register the codes in the
//! ЛМ ЧЗ), `cancel_receipt` and `shutdown`. Owns the session and the open receipts; every rule it
//! applies lives in its own module (`repair`, `check`, `decision`, `requisite`, `kkt`, `receipt`).
//! The mutants of the scan flow and of the evidence (`strip-gs-before-check`, `no-decline`,
//! `return-as-sale-status`, `emergency-as-unavailable`, `accept-all`, `1260-in-emergency`,
//! `omit-inst-ver-offline`, `time-as-iso-date`) are branches here, each marked with its name.

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use markcert_codes::{Layout, MarkingCode};

use crate::check::answer::Timestamp;
use crate::check::direct::DirectClient;
use crate::check::lm::LmClient;
use crate::check::tspiot::TsPiotClient;
use crate::check::{check_tspiot_url, check_url, http_client, https_client, Answer, Subject};
use crate::decision::{
    emergency_verdict, infer_groups, no_answer_verdict, offline_verdict, online_verdict,
    remaining_units_rule, SaleContext, Verdict,
};
use crate::error::{KktError, StepError};
use crate::kkt::{Kkt, KktCheck};
use crate::log;
use crate::mutant::Mutant;
use crate::options::{ExpiryClock, Options};
use crate::protocol::{
    CancelReceipt, CloseReceipt, Incoming, Init, Mode, OpenReceipt, Product, Reason, ReceiptKind, Reply,
    ReplyBody, Request, Scan, ScanBatch, PROTOCOL_VERSION,
};
use crate::receipt::{
    is_last_part, plan_quantity, planned_status, position_sum, sell_task, validation_request, Item, Quantity,
    Receipt,
};
use crate::repair::{decode_scan, repair};
use crate::requisite::{tag_1265, Evidence, MAX_1265};

/// Whether the loop goes on after a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Read the next message.
    Continue,
    /// `shutdown` was answered: stop.
    Stop,
}

/// How codes are checked.
enum Checker {
    /// Through the ТС ПИоТ.
    TsPiot(TsPiotClient),
    /// True API directly, the ЛМ ЧЗ as fallback.
    Direct { cdn: DirectClient, lm: Option<LmClient> },
}

impl Checker {
    /// The check of one code (product group `pg` when known), ended by `deadline`.
    async fn check(&self, code: &Subject, pg: Option<u16>, deadline: Instant) -> Answer {
        let answers = self.check_many(std::slice::from_ref(code), &[pg], deadline).await;
        answers.into_iter().next().unwrap_or_else(|| Answer::unavailable("no answer"))
    }

    /// The check of `codes` together, in one request (their product groups `pgs` when known): one
    /// answer per code, in order. In direct mode the codes True API could not answer go to the ЛМ ЧЗ
    /// together, in one `outCheck`.
    async fn check_many(&self, codes: &[Subject], pgs: &[Option<u16>], deadline: Instant) -> Vec<Answer> {
        match self {
            Checker::TsPiot(t) => t.check_many(codes, pgs, deadline).await,
            Checker::Direct { cdn, lm } => {
                let mut answers = cdn.check_many(codes, deadline).await;
                let Some(lm) = lm else { return answers };
                let fallback: Vec<usize> = (0..answers.len())
                    .filter(|&i| matches!(answers[i], Answer::Unavailable { .. }))
                    .collect();
                if fallback.is_empty() {
                    return answers;
                }
                let subjects: Vec<Subject> = fallback.iter().map(|&i| codes[i].clone()).collect();
                let offline = lm.out_check_many(&subjects, deadline).await;
                for (&i, lm_answer) in fallback.iter().zip(offline) {
                    answers[i] = match (&answers[i], lm_answer) {
                        (Answer::Unavailable { why }, Answer::Unavailable { why: lm_why }) => {
                            Answer::unavailable(format!("{why}; {lm_why}"))
                        }
                        (_, offline) => offline,
                    };
                }
                answers
            }
        }
    }
}

/// A scan ready for its check: what [`Pos::prepare`] settled.
struct Prepared {
    product: Product,
    kind: ReceiptKind,
    q: Quantity,
    code: MarkingCode,
    sent: String,
    repairs: Vec<String>,
    sum: u64,
    subject: Subject,
    pg: Option<u16>,
}

/// What `init` set up.
struct Session {
    lane: String,
    mode: Mode,
    checker: Checker,
    kkt: Option<Kkt>,
    /// Direct mode: where sales and returns are registered after the receipt.
    lm_register: Option<LmClient>,
}

/// The reference POS.
pub struct Pos {
    opts: Options,
    http: reqwest::Client,
    session: Option<Session>,
    receipts: HashMap<String, Receipt>,
    /// Product groups by GTIN, learned from online answers (offline answers name none).
    groups: HashMap<String, Vec<u16>>,
}

/// GTINs remembered at most.
const MAX_GROUP_CACHE: usize = 100_000;

/// This machine's clock, Unix ms.
fn machine_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `Time=` of tag 1265: the answer's `reqTimestamp` digits as they came.
fn time_of(time: &Timestamp, opts: &Options) -> String {
    if opts.has(Mutant::TimeAsIsoDate) {
        // Mutant `time-as-iso-date`: the POS keeps reqTimestamp as a date-time and prints it as one.
        let nanos = i128::from(time.ms) * 1_000_000;
        let format = time::format_description::well_known::Rfc3339;
        if let Some(iso) =
            time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok().and_then(|t| t.format(&format).ok())
        {
            return iso;
        }
    }
    time.digits.clone()
}

/// The decision on one answer and the evidence tag 1260 gets from it. Online answers are judged at
/// their `reqTimestamp` (or this machine's clock under [`ExpiryClock::Machine`]).
pub fn decide(answer: &Answer, ctx: &SaleContext, q: &Quantity, opts: &Options) -> (Verdict, Evidence) {
    let (verdict, evidence) = decide_correctly(answer, ctx, q, opts);
    if opts.has(Mutant::AcceptAll) {
        // Mutant `accept-all`: the check is made and logged, but its verdict is never enforced.
        return (Verdict::Allow, evidence);
    }
    (verdict, evidence)
}

fn decide_correctly(answer: &Answer, ctx: &SaleContext, q: &Quantity, opts: &Options) -> (Verdict, Evidence) {
    let policy = &opts.policy;
    match answer {
        Answer::Online { code, req_id, time, .. } => {
            let now_ms = match policy.expiry_clock {
                ExpiryClock::ReqTimestamp => time.ms,
                ExpiryClock::Machine => machine_now_ms(),
            };
            let is_block = ctx.is_block || code.package_type.as_deref() == Some("GROUP");
            let ctx = SaleContext { now_ms, is_block, ..ctx.clone() };
            let mut verdict = online_verdict(code, &ctx, policy);
            if let (Verdict::Allow, Quantity::Fraction { numerator, denominator }, ReceiptKind::Sale) =
                (&verdict, q, ctx.kind)
            {
                verdict = remaining_units_rule(code, *numerator, *denominator);
            }
            (verdict, Evidence::Online { req_id: req_id.clone(), time: time_of(time, opts) })
        }
        // Mutant `omit-inst-ver-offline`: the POS records every answer as an online one.
        Answer::Offline { code, req_id, time, .. } if opts.has(Mutant::OmitInstVerOffline) => (
            offline_verdict(code, ctx, policy),
            Evidence::Online { req_id: req_id.clone(), time: time_of(time, opts) },
        ),
        Answer::Offline { code, req_id, time, inst, version, .. } => (
            offline_verdict(code, ctx, policy),
            Evidence::Offline {
                req_id: req_id.clone(),
                time: time_of(time, opts),
                inst: inst.clone(),
                version: version.clone(),
            },
        ),
        // Mutant `1260-in-emergency`: the POS fills the missing check in with its own id and clock.
        Answer::Emergency { .. } if opts.has(Mutant::Tag1260InEmergency) => (
            emergency_verdict(ctx, policy),
            Evidence::Online { req_id: uuid::Uuid::new_v4().to_string(), time: machine_now_ms().to_string() },
        ),
        Answer::Emergency { .. } => (emergency_verdict(ctx, policy), Evidence::Emergency),
        Answer::Unavailable { why } | Answer::Refused { why } => {
            (no_answer_verdict(why, policy), Evidence::NoAnswer)
        }
    }
}

impl Pos {
    /// A POS with `opts`, before `init`.
    pub fn new(mut opts: Options) -> Pos {
        opts.policy.mutant = opts.mutant;
        Pos { opts, http: http_client(), session: None, receipts: HashMap::new(), groups: HashMap::new() }
    }

    fn say(&self, msg: &str) {
        if self.opts.log {
            log(msg);
        }
    }

    /// Answer one message.
    pub async fn handle(&mut self, incoming: Incoming) -> (Reply, Flow) {
        let id = incoming.id;
        let (body, flow) = match incoming.request {
            Err(e) => (ReplyBody::error(&e), Flow::Continue),
            Ok(Request::Shutdown) => (ReplyBody::ShutdownOk, Flow::Stop),
            Ok(request) => match self.dispatch(request).await {
                Ok(body) => (body, Flow::Continue),
                Err(e) => (ReplyBody::error(&e), Flow::Continue),
            },
        };
        if let ReplyBody::Error { code, text } = &body {
            self.say(&format!("message {id:?}: error {code}: {text}"));
        }
        (Reply { in_reply_to: id, body }, flow)
    }

    async fn dispatch(&mut self, request: Request) -> Result<ReplyBody, StepError> {
        match request {
            Request::Init(init) => self.on_init(*init).await,
            Request::OpenReceipt(m) => self.on_open(m).await,
            Request::Scan(m) => self.on_scan(*m).await,
            Request::ScanBatch(m) => self.on_scan_batch(m).await,
            Request::CloseReceipt(m) => self.on_close(m).await,
            Request::CancelReceipt(m) => self.on_cancel(m).await,
            Request::Shutdown => Ok(ReplyBody::ShutdownOk),
        }
    }

    /// `init`: remember the endpoints and the mode, discover the CDN hosts (direct mode), make sure
    /// the KKT has an open shift.
    async fn on_init(&mut self, init: Init) -> Result<ReplyBody, StepError> {
        if init.protocol_version != PROTOCOL_VERSION {
            return Err(StepError::Init(format!(
                "protocol version {} is not supported (only {PROTOCOL_VERSION})",
                init.protocol_version
            )));
        }
        if init.role != "pos" {
            return Err(StepError::Init(format!("role {:?} is not supported (only pos)", init.role)));
        }
        let eps = &init.endpoints;
        let opts = &self.opts;
        let kkt = match &eps.kkt {
            Some(k) => {
                check_url("endpoints.kkt.url", &k.url).map_err(StepError::Init)?;
                Some(Kkt::new(self.http.clone(), k, opts))
            }
            None => None,
        };
        let fn_serial = eps.kkt.as_ref().and_then(|k| k.fn_serial.clone()).filter(|s| !s.is_empty());
        let lm_usable = check_url("endpoints.local_module.url", &eps.local_module.url);
        let lm = || LmClient::new(self.http.clone(), &eps.local_module, fn_serial.clone(), opts);
        let checker = match init.mode {
            Mode::Tspiot => {
                let t = eps
                    .tspiot
                    .as_ref()
                    .ok_or_else(|| StepError::Init("mode tspiot, but endpoints has no tspiot".into()))?;
                let https = check_tspiot_url(&t.url, t.ca_pem.as_deref()).map_err(StepError::Init)?;
                let (http, endpoint) = match (https, t.ca_pem.as_deref()) {
                    // mutant: plain-http-to-tspiot — the POS was only ever written for http://.
                    (true, _) if opts.has(Mutant::PlainHttpToTspiot) => {
                        let mut plain = t.clone();
                        plain.url =
                            format!("http://{}", t.url.trim().get("https://".len()..).unwrap_or_default());
                        (self.http.clone(), plain)
                    }
                    (true, Some(ca)) => (https_client(ca).map_err(StepError::Init)?, t.clone()),
                    _ => (self.http.clone(), t.clone()),
                };
                let client = TsPiotClient::new(http, &endpoint, opts);
                let version = client.discover(Instant::now() + opts.timeouts.tspiot_discovery).await;
                if opts.log {
                    log(&format!("init: ТС ПИоТ POS API v{version}"));
                }
                Checker::TsPiot(client)
            }
            Mode::Direct => {
                check_url("endpoints.true_api.discovery", &eps.true_api.discovery)
                    .map_err(StepError::Init)?;
                for h in &eps.true_api.hosts {
                    check_url("a host of endpoints.true_api.hosts", h).map_err(StepError::Init)?;
                }
                if opts.lm_fallback {
                    lm_usable.clone().map_err(StepError::Init)?;
                }
                let cdn =
                    DirectClient::start(self.http.clone(), &eps.true_api, fn_serial.clone(), opts).await;
                Checker::Direct { cdn, lm: opts.lm_fallback.then(lm) }
            }
        };
        let lm_register = (init.mode == Mode::Direct && opts.lm_register && lm_usable.is_ok()).then(lm);
        match &kkt {
            Some(k) => {
                if let Err(e) = k.ensure_shift().await {
                    self.say(&format!("init: the KKT's shift could not be prepared now: {e}"));
                }
            }
            None => self.say("init: no KKT in the endpoints: receipts cannot be fiscalised"),
        }
        self.say(&format!("init lane {} mode {:?} store INN {}", init.lane, init.mode, init.store_inn));
        self.receipts.clear();
        self.session = Some(Session { lane: init.lane, mode: init.mode, checker, kkt, lm_register });
        Ok(ReplyBody::InitOk {
            name: crate::NAME.into(),
            version: crate::VERSION.into(),
            features: self.opts.features.clone(),
        })
    }

    fn session(&self) -> Result<&Session, StepError> {
        self.session.as_ref().ok_or(StepError::NotInitialised)
    }

    /// Drop a receipt; clear the KKT's table of checked codes if the receipt used it.
    async fn drop_receipt(&self, receipt: &Receipt) {
        if !receipt.kkt_touched {
            return;
        }
        if let Some(kkt) = self.session.as_ref().and_then(|s| s.kkt.as_ref()) {
            if let Err(e) = kkt.clear_checks().await {
                self.say(&format!("clearMarkingCodeValidationResult failed: {e}"));
            }
        }
    }

    /// `open_receipt` (a receipt still open on the lane is dropped first).
    async fn on_open(&mut self, m: OpenReceipt) -> Result<ReplyBody, StepError> {
        let lane = self.session()?.lane.clone();
        if m.lane != lane {
            self.say(&format!("open_receipt on lane {:?} (init said {lane:?})", m.lane));
        }
        if let Some(old) = self.receipts.remove(&m.lane) {
            self.say("a receipt was still open: dropped");
            self.drop_receipt(&old).await;
        }
        self.receipts.insert(m.lane, Receipt::new(m.kind));
        Ok(ReplyBody::ReceiptOpened)
    }

    /// `scan`: repair → check → decide → KKT → position.
    async fn on_scan(&mut self, m: Scan) -> Result<ReplyBody, StepError> {
        let deadline = Instant::now() + self.opts.timeouts.scan_budget;
        let lane = m.lane.clone();
        let p = match self.prepare(m, &[])? {
            Ok(p) => p,
            Err(refusal) => return Ok(refusal),
        };
        let answer = self.session()?.checker.check(&p.subject, p.pg, deadline).await;
        self.finish(&lane, p, answer, deadline).await
    }

    /// `scan_batch`: every scan repaired, the usable codes checked together in one request, then
    /// each decided and put on the KKT in order, as `scan` does. Positions checked together carry
    /// the one 1265 of that check (true-api.md §12.2 rule 2).
    async fn on_scan_batch(&mut self, m: ScanBatch) -> Result<ReplyBody, StepError> {
        let budget = self.opts.timeouts.scan_budget;
        let deadline =
            Instant::now() + budget.saturating_mul(u32::try_from(m.scans.len().max(1)).unwrap_or(1));
        if m.scans.is_empty() {
            return Err(StepError::BadRequest("scan_batch: no scans".into()));
        }
        let mut slots: Vec<Result<Prepared, ReplyBody>> = Vec::with_capacity(m.scans.len());
        for b in m.scans {
            let earlier: Vec<&str> =
                slots.iter().filter_map(|s| s.as_ref().ok()).map(|p| p.sent.as_str()).collect();
            let slot = self.prepare(Scan::of_batch(&m.lane, b), &earlier)?;
            slots.push(slot);
        }
        let (subjects, pgs): (Vec<Subject>, Vec<Option<u16>>) =
            slots.iter().filter_map(|s| s.as_ref().ok()).map(|p| (p.subject.clone(), p.pg)).unzip();
        let mut answers = if subjects.is_empty() {
            Vec::new()
        } else {
            self.session()?.checker.check_many(&subjects, &pgs, deadline).await
        }
        .into_iter();
        let mut items = Vec::with_capacity(slots.len());
        for slot in slots {
            let reply = match slot {
                Err(refusal) => refusal,
                Ok(p) => {
                    let answer = answers.next().unwrap_or_else(|| Answer::unavailable("no answer"));
                    let answer = if self.opts.has(Mutant::BatchRecheckPerCode) {
                        // Mutant `batch-recheck-per-code`: the batch answer decides, but every position
                        // is checked once more on its own right before it is added, and takes that
                        // check's stamps — so the positions of one batch carry different 1265 values.
                        self.session()?.checker.check(&p.subject, p.pg, deadline).await
                    } else {
                        answer
                    };
                    self.finish(&m.lane, p, answer, deadline).await?
                }
            };
            items.push(reply.into_item());
        }
        Ok(ReplyBody::Items { items })
    }

    /// The part of a scan settled before any check: the receipt, the quantity, the repaired code,
    /// duplicates (in the receipt and among `earlier` codes of the same batch), the position's sum,
    /// what is sent to the check. `Ok(Err(reply))` refuses the scan with that reply.
    fn prepare(&self, m: Scan, earlier: &[&str]) -> Result<Result<Prepared, ReplyBody>, StepError> {
        let raw = decode_scan(&m.scan_b64)
            .ok_or_else(|| StepError::BadRequest("scan_b64 is not standard base64".into()))?;
        self.session()?;
        let Some(receipt) = self.receipts.get(&m.lane) else { return Err(StepError::NoReceipt(m.lane)) };
        let kind = receipt.kind;
        let q = match plan_quantity(&m.product.measure, m.quantity, m.fraction) {
            Ok(q) => q,
            Err(msg) => return Ok(Err(ReplyBody::rejected(Reason::Other, msg))),
        };
        let repaired = match repair(&raw, &self.opts) {
            Ok(r) => r,
            Err(e) => return Ok(Err(ReplyBody::rejected(Reason::Format, e.to_string()))),
        };
        let code = repaired.code;
        let sent = repaired.sent;
        if !repaired.repairs.is_empty() || !repaired.warnings.is_empty() {
            self.say(&format!("scan repaired: {:?}; warnings: {:?}", repaired.repairs, repaired.warnings));
        }
        if self.opts.reject_duplicates
            && (receipt.contains(code.as_str()) || earlier.contains(&sent.as_str()))
        {
            return Ok(Err(ReplyBody::rejected(
                Reason::Other,
                "Этот код уже есть в чеке: повторное сканирование",
            )));
        }
        let Some(sum) = position_sum(m.product.price_kopecks, &q) else {
            return Ok(Err(ReplyBody::rejected(Reason::Other, "Недопустимая цена или сумма позиции")));
        };
        let subject = if self.opts.has(Mutant::StripGsBeforeCheck) {
            // Mutant `strip-gs-before-check`: everything from the first ⟨GS⟩ on is cut off "for the
            // check", so only the КИ is sent (the KKT still gets the whole code).
            Subject { code: code.ki().to_string(), ki: code.ki().to_string() }
        } else if sent != code.as_str() {
            Subject { code: sent.clone(), ki: sent.clone() }
        } else {
            Subject::of(&code)
        };
        let pg = product_group(&code, self.groups.get(code.gtin()).map(Vec::as_slice));
        Ok(Ok(Prepared {
            product: m.product,
            kind,
            q,
            code,
            sent,
            repairs: repaired.repairs,
            sum,
            subject,
            pg,
        }))
    }

    /// The part of a scan after its check: decide on `answer`, check the code on the KKT, add the
    /// position to the receipt on `lane`.
    async fn finish(
        &mut self,
        lane: &str,
        p: Prepared,
        answer: Answer,
        deadline: Instant,
    ) -> Result<ReplyBody, StepError> {
        let Prepared { product, kind, q, code, sent, repairs, sum, subject, .. } = p;
        self.say(&format!("check of {}: {}", printable(&subject.code), describe(&answer)));
        let answer = match answer {
            // Mutant `emergency-as-unavailable`: only HTTP 200 counts as an answer; 203 is an error.
            Answer::Emergency { source } if self.opts.has(Mutant::EmergencyAsUnavailable) => {
                Answer::unavailable(format!("{source} answered HTTP 203"))
            }
            answer => answer,
        };
        if let Answer::Online { code: a, .. } = &answer {
            if !a.group_ids.is_empty() {
                if self.groups.len() >= MAX_GROUP_CACHE {
                    self.groups.clear();
                }
                self.groups.insert(code.gtin().to_string(), a.group_ids.clone());
            }
        }
        let groups_hint = self.groups.get(code.gtin()).cloned().unwrap_or_else(|| infer_groups(&code));
        let ctx = SaleContext {
            kind,
            price_kopecks: product.price_kopecks,
            is_block: code.layout() == Layout::TobaccoBlock,
            now_ms: machine_now_ms(),
            groups_hint,
            pack_mrp: (code.layout() == Layout::TobaccoPack)
                .then(|| code.mrp_kopecks().map(u64::from))
                .flatten(),
        };
        // Mutant `return-as-sale-status`: the planned status does not look at the receipt's kind.
        let status_kind = if self.opts.has(Mutant::ReturnAsSaleStatus) { ReceiptKind::Sale } else { kind };
        let status = planned_status(status_kind, &q);
        let kkt = if self.opts.kkt_check { self.session()?.kkt.clone() } else { None };
        let kkt_deadline = deadline.min(Instant::now() + self.opts.timeouts.kkt_check);
        let request = validation_request(sent.as_bytes(), &q, status);
        let mut ready = None;
        if let (Some(kkt), true) = (&kkt, self.opts.has(Mutant::NoDecline)) {
            // Mutant `no-decline`: the KKT check is begun right after the scan, before the decision
            // (and a code the decision bans is then left without acceptMarkingCode or declineMarkingCode).
            if let Some(r) = self.receipts.get_mut(lane) {
                r.kkt_touched = true;
            }
            match kkt.start(&request, kkt_deadline).await {
                Ok(status) => ready = Some(status),
                Err(failed) => return Ok(kkt_refusal(failed)),
            }
        }
        let (verdict, evidence) = decide(&answer, &ctx, &q, &self.opts);
        if let Verdict::Ban(ban) = verdict {
            return Ok(ReplyBody::rejected(ban.reason, ban.message));
        }
        if tag_1265(&evidence).is_some_and(|v| v.chars().count() > MAX_1265) {
            return Ok(ReplyBody::rejected(
                Reason::CheckUnavailable,
                "Ответ проверки не помещается в реквизит 1265 (более 256 символов)",
            ));
        }
        let groups = match &answer {
            Answer::Online { code: a, .. } if !a.group_ids.is_empty() => a.group_ids.clone(),
            _ => ctx.groups_hint.clone(),
        };
        let (inner, sold) = match &answer {
            Answer::Online { code: a, .. } => (a.inner_unit_count, a.sold_unit_count),
            _ => (None, None),
        };

        let mut check_result = None;
        if let Some(kkt) = kkt {
            if let Some(r) = self.receipts.get_mut(lane) {
                r.kkt_touched = true;
            }
            let decline = self.opts.policy.decline_sale_stopped;
            let outcome = match ready {
                Some(status) => kkt.finish(status, decline).await,
                None => kkt.validate(&request, kkt_deadline, decline).await,
            };
            match outcome {
                KktCheck::Accepted { check_result: r, note } => {
                    if let Some(note) = note {
                        self.say(&note);
                    }
                    check_result = Some(r);
                }
                refused => return Ok(kkt_refusal(refused)),
            }
        }

        let message = accepted_message(&evidence, &repairs);
        let item = Item {
            code: sent,
            ki: code.ki().to_string(),
            name: product.name,
            price_kopecks: product.price_kopecks,
            vat: product.vat,
            last_part: is_last_part(&q, inner, sold),
            quantity: q,
            sum_kopecks: sum,
            status,
            check_result,
            evidence,
            excise: groups.iter().any(|g| self.opts.policy.excise_groups.contains(g)),
        };
        match self.receipts.get_mut(lane) {
            Some(r) => r.items.push(item),
            None => return Err(StepError::NoReceipt(lane.to_string())),
        }
        Ok(ReplyBody::accepted(message))
    }

    /// `close_receipt`: `sell` / `sellReturn` on the KKT; in direct mode the codes are then registered
    /// in the ЛМ ЧЗ. A refused receipt stays open (it can be cancelled).
    async fn on_close(&mut self, m: CloseReceipt) -> Result<ReplyBody, StepError> {
        let session = self.session()?;
        let Some(receipt) = self.receipts.get(&m.lane) else { return Err(StepError::NoReceipt(m.lane)) };
        let kkt = session.kkt.as_ref().ok_or(StepError::Kkt(KktError::NotConfigured))?;
        let task = sell_task(receipt, &m.payment, &self.opts.cashier, self.opts.mutant);
        let fdn = kkt.sell(task).await?;
        self.say(&format!("receipt closed: fiscal document {fdn}"));
        if let Some(lm) = &session.lm_register {
            let kis: Vec<String> = receipt
                .items
                .iter()
                .filter(|i| match receipt.kind {
                    ReceiptKind::Sale => i.last_part,
                    ReceiptKind::Return => i.quantity == Quantity::Piece,
                })
                .map(|i| i.ki.clone())
                .collect();
            if let Err(e) = lm.register(receipt.kind, &kis).await {
                self.say(&format!("ЛМ ЧЗ registration failed (the receipt stands): {e}"));
            }
        }
        self.receipts.remove(&m.lane);
        Ok(ReplyBody::ReceiptClosed { fiscal_document_number: fdn })
    }

    /// `cancel_receipt`.
    async fn on_cancel(&mut self, m: CancelReceipt) -> Result<ReplyBody, StepError> {
        self.session()?;
        let Some(receipt) = self.receipts.remove(&m.lane) else { return Err(StepError::NoReceipt(m.lane)) };
        self.drop_receipt(&receipt).await;
        Ok(ReplyBody::ReceiptCancelled)
    }

    /// The mode `init` chose, if any.
    pub fn mode(&self) -> Option<Mode> {
        self.session.as_ref().map(|s| s.mode)
    }
}

/// The product group of a code for the ТС ПИоТ's v3 `pg` (tspiot.md §3.3), when it is certain: the one
/// group learned from an earlier online answer about its GTIN, else the one group whose codes have its
/// layout (dairy, shoes, cameras); `None` when several groups share the layout (tobacco, S13-93, …).
pub fn product_group(code: &MarkingCode, learned: Option<&[u16]>) -> Option<u16> {
    if let Some(&[g]) = learned {
        return Some(g);
    }
    let layout = code.layout();
    let mut groups = markcert_codes::groups::all().iter().filter(|g| g.layouts.contains(&layout));
    match (groups.next(), groups.next()) {
        (Some(g), None) => Some(g.id),
        _ => None,
    }
}

/// The reply for a KKT check that did not end in acceptance.
fn kkt_refusal(check: KktCheck) -> ReplyBody {
    match check {
        KktCheck::Declined { message } => ReplyBody::rejected(Reason::Blocked, message),
        KktCheck::Failed { message } => ReplyBody::rejected(Reason::Other, message),
        KktCheck::Accepted { .. } => ReplyBody::rejected(Reason::Other, "ККТ: неожиданный итог проверки"),
    }
}

/// The cashier's message for an accepted item: how it was checked and what was repaired.
fn accepted_message(evidence: &Evidence, repairs: &[String]) -> Option<String> {
    let mut parts = Vec::new();
    match evidence {
        Evidence::Offline { .. } => parts.push("проверено через локальный модуль (офлайн)".to_string()),
        Evidence::Emergency => {
            parts.push("аварийный режим ГИС МТ: продажа без проверки и без реквизита 1260".into())
        }
        Evidence::NoAnswer => parts.push("проверка недоступна: продажа без реквизита 1260".into()),
        Evidence::Online { .. } => {}
    }
    if !repairs.is_empty() {
        parts.push(format!("скан исправлен ({})", repairs.join("; ")));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// A code for the log, ⟨GS⟩ shown as `\u001d`.
fn printable(code: &str) -> String {
    code.replace('\u{1d}', "\\u001d")
}

/// An answer for the log.
fn describe(a: &Answer) -> String {
    match a {
        Answer::Online { req_id, time, source, .. } => {
            format!("online from {source}, reqId {req_id}, Time {}", time.digits)
        }
        Answer::Offline { req_id, inst, version, source, .. } => {
            format!("offline from {source}, reqId {req_id}, inst {inst}, version {version}")
        }
        Answer::Emergency { source } => format!("emergency mode ({source} answered 203)"),
        Answer::Unavailable { why } => format!("no answer: {why}"),
        Answer::Refused { why } => format!("refused, no fallback: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::answer::{CodeAnswer, OfflineCode};

    fn ctx() -> SaleContext {
        SaleContext {
            kind: ReceiptKind::Sale,
            price_kopecks: 9_000,
            is_block: false,
            now_ms: 0,
            groups_hint: Vec::new(),
            pack_mrp: None,
        }
    }

    fn time() -> Timestamp {
        Timestamp { digits: "1767225600123".into(), ms: 1_767_225_600_123 }
    }

    fn online(a: CodeAnswer) -> Answer {
        Answer::Online { code: Box::new(a), req_id: "r".into(), time: time(), source: "test" }
    }

    fn with(m: Mutant) -> Options {
        Options::default().with_mutant(m)
    }

    #[test]
    fn product_group_only_when_certain() {
        let parse = |c: &str| markcert_codes::parse(c.as_bytes()).unwrap();
        let milk = parse("0104612345000438215aZ;q0\u{1d}93Jm4t");
        assert_eq!(product_group(&milk, None), Some(8), "the dairy layout is group 8's alone");
        assert_eq!(product_group(&milk, Some(&[13])), Some(13), "a learned group wins");
        let pack = parse("04612345000124Kx7;pQaAC/UZt9+");
        assert_eq!(product_group(&pack, None), None, "tobacco packs: groups 3, 12, 16");
        assert_eq!(product_group(&pack, Some(&[3, 12])), None);
        assert_eq!(product_group(&pack, Some(&[3])), Some(3));
    }

    #[test]
    fn evidence_mutants() {
        let fine = CodeAnswer {
            valid: true,
            found: true,
            utilised: true,
            verified: true,
            realizable: true,
            ..CodeAnswer::default()
        };
        let reference = decide(&online(fine.clone()), &ctx(), &Quantity::Piece, &Options::default());
        assert_eq!(
            reference,
            (Verdict::Allow, Evidence::Online { req_id: "r".into(), time: "1767225600123".into() })
        );
        let iso = decide(&online(fine), &ctx(), &Quantity::Piece, &with(Mutant::TimeAsIsoDate)).1;
        assert_eq!(iso, Evidence::Online { req_id: "r".into(), time: "2026-01-01T00:00:00.123Z".into() });

        let offline = Answer::Offline {
            code: OfflineCode::default(),
            req_id: "r".into(),
            time: time(),
            inst: "i".into(),
            version: "v".into(),
            source: "test",
        };
        let (_, e) = decide(&offline, &ctx(), &Quantity::Piece, &Options::default());
        assert!(matches!(e, Evidence::Offline { .. }));
        let (_, e) = decide(&offline, &ctx(), &Quantity::Piece, &with(Mutant::OmitInstVerOffline));
        assert_eq!(e, Evidence::Online { req_id: "r".into(), time: "1767225600123".into() });

        let emergency = Answer::Emergency { source: "test" };
        assert_eq!(decide(&emergency, &ctx(), &Quantity::Piece, &Options::default()).1, Evidence::Emergency);
        let (_, e) = decide(&emergency, &ctx(), &Quantity::Piece, &with(Mutant::Tag1260InEmergency));
        assert!(matches!(e, Evidence::Online { .. }), "{e:?}");

        let banned = online(CodeAnswer { valid: true, ..CodeAnswer::default() });
        assert!(!decide(&banned, &ctx(), &Quantity::Piece, &Options::default()).0.is_allowed());
        assert!(decide(&banned, &ctx(), &Quantity::Piece, &with(Mutant::AcceptAll)).0.is_allowed());
        let none = Answer::unavailable("514");
        assert!(!decide(&none, &ctx(), &Quantity::Piece, &Options::default()).0.is_allowed());
        assert!(decide(&none, &ctx(), &Quantity::Piece, &with(Mutant::CheckUnavailableAllows))
            .0
            .is_allowed());
    }
}
