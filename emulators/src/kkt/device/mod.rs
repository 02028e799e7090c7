//! The emulated KKT (spec `kkt.md` §6–§11): a cash register with its ФН-М, the ОФД behind it and the
//! ОИСМ behind that, driven through the ATOL-compatible web API as a [`TaskRunner`]. It keeps the shift,
//! times each code check, builds and signs the receipts, forms and "sends" the notifications, grades
//! every closed receipt and keeps every document in a bounded journal.
//!
//! Owns the device's behaviour. Must not: parse the ATOL wire (`atol::wire` does), decide the ФН's
//! refusals (`fn_m` does), compute ОИСМ answers (`oism` does) or grade (`grading` does); it wires them
//! together and turns every refusal into an [`AtolError`] — no input of the POS may panic it.
//!
//! Files: `check.rs` (the marking check tasks and the timing of answers), `sell.rs` (`sell` /
//! `sellReturn`: positions → FFD receipt, notification, grading), `shift.rs` (shift, status, info, keys,
//! authentication, exchange status), `store.rs` (the document journal), `evidence.rs` (the
//! permissive-mode evidence for grading).
//!
//! # Timing of a check (lazy, no background task)
//!
//! `beginMarkingCodeValidation` asks the ФН (B1h, B5h) and decides at once, from the controls and the
//! fault table, what the ОФД and the ОИСМ will do with request 81. Every later task that looks at the
//! check first *settles* it against the real time elapsed since `begin`: the answer 83 is computed from
//! the world when it is due and passed to the ФН (B6h), or the check is finished without an answer.
//!
//! | Situation | When the check finishes | `driverError` |
//! |---|---|---|
//! | no request 81 (`notSendToServer`, `notFormRequest`, autonomous ФН) | at `begin` | — |
//! | `ofd.reachable = false` | at once | 402 |
//! | `oism.answer = false` | after `oism.timeout_ms` | 421 |
//! | answer due: `oism.latency_ms` + fault latency | then, with answer 83 | — |
//! | … when that exceeds `oism.timeout_ms` | after `oism.timeout_ms` | 421 |
//!
//! `sentImcRequest` is true when request 81 left the KKT (answered or not), false without a request and
//! for 402 and 411. `imcBarcode` (the КИ form, 2101 of the ФН) is given only with an answer 83.
//!
//! # Faults
//!
//! The fault table is asked with host `oism` (rule target `{"host":"oism"}`), the codes concerned, and
//! the path `check` at each `begin…` and `notification` each time a stored notification is to be sent:
//!
//! | Fault | `check` | `notification` |
//! |---|---|---|
//! | `latency` | added to the answer's delay (421 beyond the timeout) | ignored |
//! | `host-down`, `reset` | ОФД unreachable: 402 | not sent, stays in the ФН |
//! | `blackhole` | ОИСМ silent: 421 after the timeout | not sent |
//! | `status` 401–426 | that driver error (so a scenario can raise 414 "operation denied" or 424 "bad server address") | not sent |
//! | `status` (any other) | ОФД exchange error: 411 (`driverError.error` `serverNoConnect`, the closest name) | not sent |
//! | `drip` | no effect | no effect |
//!
//! # Decisions where the spec is silent
//!
//! - Stored notifications are sent (ОИСМ ticket 84, world updated) whenever the ОФД is reachable and
//!   the ФН is not autonomous, before every task except the pure polls; autonomous notifications leave
//!   only by `POST /kkt/notifications/unload`.
//! - `cancelMarkingCodeValidation` without a check does nothing; after a cancel, the next poll answers
//!   `ready` with `driverError` 403 (`imcCheckBreak`), the one after it 415.
//! - Grading runs at the close of every receipt, before its notification is sent (so the world is
//!   graded as the POS saw it, not with the receipt's own codes already sold).

mod check;
mod evidence;
mod sell;
mod shift;
mod store;

pub use store::{kind_name, DocumentQuery, StoredDocument, DEFAULT_DOCUMENT_CAPACITY, KIND_NAMES};

use crate::clock::{format_iso_ms, WorldClock};
use crate::faults::{Action, CallInfo, FaultTable};
use crate::ffd::{Document, MarkingAnswer, MarkingRequest};
use crate::kkt::atol::error::AtolError;
use crate::kkt::atol::queue::TaskRunner;
use crate::kkt::atol::wire::Task;
use crate::kkt::fn_m::{FiscalAccumulator, FnError, FnRegistration, MarkingStatus};
use crate::kkt::grading::{CheckOutcome, Finding, GradingPolicy, KktCheckRecord};
use crate::kkt::oism;
use crate::kkt::options::{KktOptions, OptionsError};
use crate::lm::model::LocalModule;
use crate::reqlog::ReqLog;
use crate::trace::Trace;
use crate::trueapi::TrueApiOptions;
use crate::world::World;
use serde::Serialize;
use serde_json::Value;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

/// Host name of the ОФД/ОИСМ link in fault rules.
pub const OISM_HOST: &str = "oism";
/// Fault path of request 81.
pub const FAULT_PATH_CHECK: &str = "check";
/// Fault path of notification 82.
pub const FAULT_PATH_NOTIFICATION: &str = "notification";
/// Registration number (1037) of the KKT when none is given.
pub const DEFAULT_KKT_REG_NUMBER: &str = "0000000001012345";
/// Check records kept between two receipts at most (the oldest are dropped).
const MAX_RECORDS: usize = 10_000;

/// The shared objects and settings the KKT works with.
#[derive(Clone)]
pub struct KktDeviceContext {
    /// The world (ОИСМ answers, the ФН's local check, True API answers for grading).
    pub world: Arc<RwLock<World>>,
    /// The world clock (document times, shift expiry, grading).
    pub clock: WorldClock,
    /// The trace (permissive-mode evidence for grading).
    pub trace: Trace,
    /// Every reqId the True API issued (online evidence).
    pub reqlog: ReqLog,
    /// Fault rules (host [`OISM_HOST`]).
    pub faults: FaultTable,
    /// The controls at start.
    pub options: KktOptions,
    /// How the True API answers (to recompute online answers when grading).
    pub true_api_options: Arc<TrueApiOptions>,
    /// The ЛМ ЧЗ of the run, if any (offline evidence).
    pub lm: Option<Arc<Mutex<LocalModule>>>,
    /// How receipts are graded; `excise_groups` and `utc_offset_s` are taken from the controls.
    pub grading: GradingPolicy,
    /// Documents kept in the journal.
    pub document_capacity: usize,
}

impl KktDeviceContext {
    /// A context with the default controls, grading policy and journal size.
    pub fn new(
        world: Arc<RwLock<World>>,
        clock: WorldClock,
        trace: Trace,
        reqlog: ReqLog,
        faults: FaultTable,
    ) -> KktDeviceContext {
        KktDeviceContext {
            world,
            clock,
            trace,
            reqlog,
            faults,
            options: KktOptions::default(),
            true_api_options: Arc::new(TrueApiOptions::default()),
            lm: None,
            grading: GradingPolicy::default(),
            document_capacity: DEFAULT_DOCUMENT_CAPACITY,
        }
    }
}

/// Why a KKT could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KktDeviceError {
    /// The controls are out of range.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// The world registers no fiscal drive for the store (or none with serial `fn.serial`).
    #[error("the world registers no fiscal drive {0} for the store")]
    NoFiscalDrive(String),
}

/// The shift (`getShiftStatus`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Shift {
    /// Number of the current (or last) shift; 0 before the first.
    pub number: u32,
    /// Open.
    pub open: bool,
    /// When it was opened, world time (Unix ms).
    pub opened_ms: Option<i64>,
    /// Receipts in the shift.
    pub receipts: u32,
}

/// A shift is older than 24 h (ФН 0x16).
const SHIFT_MAX_MS: i64 = 24 * 3_600_000;

impl Shift {
    /// Open for more than 24 h at `now_ms`.
    pub fn expired(&self, now_ms: i64) -> bool {
        self.open && self.opened_ms.is_some_and(|o| now_ms.saturating_sub(o) > SHIFT_MAX_MS)
    }
}

/// What the ОФД and ОИСМ do with the request 81 of the check in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exchange {
    /// No request was formed: the ФН finished the check at once.
    NoRequest,
    /// Answer 83 arrives at `due`.
    Answer { due: Instant },
    /// The ОИСМ does not answer: the KKT gives up at `deadline` (421).
    Silent { deadline: Instant },
    /// The ОФД cannot be reached (402).
    Unreachable,
    /// The ОФД answered with an error: 411, or the driver error 401–426 a `status` fault names (e.g.
    /// 414 operation denied, 424 bad server address).
    OfdError { code: u16 },
}

/// The device side of the ФН's check in progress.
#[derive(Clone, Debug)]
pub(crate) struct CheckLink {
    /// What the POS asked and what came of it, for grading.
    pub record: KktCheckRecord,
    /// The request 81, when one was formed.
    pub request: Option<MarkingRequest>,
    /// What happens to it.
    pub exchange: Exchange,
    /// Set once settled: the driver error it finished with, if any.
    pub settled: Option<Option<AtolError>>,
}

impl CheckLink {
    /// Request 81 left the KKT.
    pub fn sent(&self) -> bool {
        matches!(self.exchange, Exchange::Answer { .. } | Exchange::Silent { .. })
    }
}

/// Everything behind the device's lock.
pub(crate) struct DeviceState {
    pub fn_m: FiscalAccumulator,
    pub options: KktOptions,
    pub shift: Shift,
    /// The check in progress (the ФН's `current_check`), device side.
    pub link: Option<CheckLink>,
    /// A check was cancelled and the POS has not polled since: `Some(request was sent)`.
    pub cancelled: Option<bool>,
    /// Finished check records since the last receipt.
    pub records: Vec<KktCheckRecord>,
    pub documents: store::DocumentStore,
}

impl DeviceState {
    /// Keep a finished check record for the next receipt's grading.
    pub fn push_record(&mut self, record: KktCheckRecord) {
        if self.records.len() >= MAX_RECORDS {
            self.records.remove(0);
        }
        self.records.push(record);
    }

    /// End the check in progress on the device side with `outcome` at `now_ms`.
    pub fn end_link(&mut self, outcome: CheckOutcome, now_ms: i64) {
        if let Some(mut link) = self.link.take() {
            link.record.outcome = outcome;
            link.record.finished_ms = Some(now_ms);
            self.push_record(link.record);
        }
    }
}

/// The emulated KKT. Cheap to share (`Arc<KktDevice>`); tasks run one at a time per device (the ATOL
/// queue guarantees it) and the control API reads it in between.
pub struct KktDevice {
    ctx: KktDeviceContext,
    state: Mutex<DeviceState>,
}

impl std::fmt::Debug for KktDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KktDevice").field("fn", self.lock().fn_m.registration()).finish_non_exhaustive()
    }
}

/// A view of the device for the control API (`GET /kkt/state`).
#[derive(Clone, Debug, Serialize)]
pub struct DeviceSnapshot {
    /// ФН serial, KKT serial, registration number, INN, flags.
    pub registration: RegistrationView,
    /// The shift, with `expired`.
    pub shift: ShiftView,
    /// The ФН's marking status (`checkImcWorkState.fm`).
    pub marking: MarkingView,
    /// Notifications without a ticket.
    pub unsent_notifications: Vec<UnsentView>,
    /// The check in progress.
    pub check: Option<CheckView>,
    /// Codes accepted into the ФН's table.
    pub table: Vec<TableEntryView>,
    /// Finished checks waiting for the next receipt.
    pub checks_since_receipt: usize,
    /// Documents in the journal.
    pub documents: usize,
}

/// See [`DeviceSnapshot::registration`].
#[derive(Clone, Debug, Serialize)]
pub struct RegistrationView {
    pub fn_serial: String,
    pub kkt_serial: String,
    pub kkt_reg_number: String,
    pub user_inn: String,
    pub marking: bool,
    pub autonomous: bool,
}

/// See [`DeviceSnapshot::shift`].
#[derive(Clone, Debug, Serialize)]
pub struct ShiftView {
    pub number: u32,
    pub open: bool,
    pub expired: bool,
    pub opened: Option<String>,
    pub receipts: u32,
}

/// See [`DeviceSnapshot::marking`].
#[derive(Clone, Debug, Serialize)]
pub struct MarkingView {
    pub state: u8,
    pub status: &'static str,
    pub checking_count: u32,
    pub sold_imc_count: u32,
    pub notice_state: u8,
    pub notice_level: u8,
    pub notice_free_memory: &'static str,
    pub notice_count: u32,
    pub keys: crate::kkt::options::KeysState,
    /// 2112 and 2113 gathered since the last shift close.
    pub flags_2112_2113: (u8, u8),
}

/// See [`DeviceSnapshot::unsent_notifications`].
#[derive(Clone, Debug, Serialize)]
pub struct UnsentView {
    pub notification_number: u32,
    pub receipt_number: u32,
    pub local_time: u32,
    pub items: usize,
}

/// See [`DeviceSnapshot::check`].
#[derive(Clone, Debug, Serialize)]
pub struct CheckView {
    pub code: String,
    pub planned_status: u8,
    pub code_type: u8,
    pub local_check: u8,
    /// 2–4 (§6.2).
    pub stage: u8,
    pub finished: bool,
    pub tag_2106: Option<u8>,
    pub request_number: Option<u32>,
    pub request_sent: bool,
    pub driver_error: Option<AtolError>,
}

/// See [`DeviceSnapshot::table`].
#[derive(Clone, Debug, Serialize)]
pub struct TableEntryView {
    pub code: String,
    pub planned_status: u8,
    pub check_result: u8,
}

impl KktDevice {
    /// A KKT with the ФН `registration`, its controls validated.
    pub fn new(ctx: KktDeviceContext, registration: FnRegistration) -> Result<KktDevice, KktDeviceError> {
        ctx.options.validate()?;
        let fn_m = {
            let world = ctx.world.read().unwrap_or_else(PoisonError::into_inner);
            FiscalAccumulator::new(registration, &ctx.options, &world)
        };
        let state = DeviceState {
            fn_m,
            options: ctx.options.clone(),
            shift: Shift::default(),
            link: None,
            cancelled: None,
            records: Vec::new(),
            documents: store::DocumentStore::new(ctx.document_capacity),
        };
        Ok(KktDevice { ctx, state: Mutex::new(state) })
    }

    /// The store's KKT: the world's fiscal drive of the store (`fn.serial` if set), registration number
    /// [`DEFAULT_KKT_REG_NUMBER`].
    pub fn for_store(ctx: KktDeviceContext) -> Result<KktDevice, KktDeviceError> {
        let registration = {
            let world = ctx.world.read().unwrap_or_else(PoisonError::into_inner);
            FnRegistration::from_world(&world, &ctx.options, DEFAULT_KKT_REG_NUMBER)
        };
        let registration = registration.ok_or_else(|| {
            KktDeviceError::NoFiscalDrive(ctx.options.fn_m.serial.clone().unwrap_or_default())
        })?;
        KktDevice::new(ctx, registration)
    }

    fn lock(&self) -> MutexGuard<'_, DeviceState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn world_read(&self) -> RwLockReadGuard<'_, World> {
        self.ctx.world.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn world_write(&self) -> RwLockWriteGuard<'_, World> {
        self.ctx.world.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.ctx.clock.now_ms()
    }

    /// The ФН's local time now (FFD unixtime).
    pub(crate) fn local_time(&self, st: &DeviceState) -> u32 {
        st.options.kkt.local_time(self.now_ms().div_euclid(1000))
    }

    /// The controls in force.
    pub fn options(&self) -> KktOptions {
        self.lock().options.clone()
    }

    /// Replace the controls (validated first). `fn.serial` is read only at construction.
    pub fn set_options(&self, options: KktOptions) -> Result<(), OptionsError> {
        options.validate()?;
        let mut st = self.lock();
        st.fn_m.set_options(&options);
        st.options = options;
        Ok(())
    }

    /// The ФН's registration.
    pub fn registration(&self) -> FnRegistration {
        self.lock().fn_m.registration().clone()
    }

    /// Stored documents matching `q`, oldest first.
    pub fn documents(&self, q: &DocumentQuery) -> Vec<StoredDocument> {
        self.lock().documents.query(q)
    }

    /// The stored document `seq`.
    pub fn document(&self, seq: u64) -> Option<StoredDocument> {
        self.lock().documents.get(seq)
    }

    /// Every finding of the stored receipts, with the receipt's `seq`.
    pub fn findings(&self) -> Vec<(u64, Finding)> {
        self.lock().documents.findings()
    }

    /// Forget every stored document; returns how many there were.
    pub fn clear_documents(&self) -> usize {
        self.lock().documents.clear()
    }

    /// Unload every stored notification to "external media" (autonomous KKT, `kkt.md` §8.2): they
    /// leave the ФН's store without a ticket and without reaching the ОИСМ.
    pub fn unload_notifications(&self) -> Vec<crate::ffd::Notification> {
        self.lock().fn_m.unload_notifications()
    }

    /// The device as the control API shows it (the check in progress settled first).
    pub fn snapshot(&self) -> DeviceSnapshot {
        let mut st = self.lock();
        self.settle(&mut st);
        let now = self.now_ms();
        let reg = st.fn_m.registration().clone();
        let ms: MarkingStatus = st.fn_m.marking_status();
        let check = st.fn_m.current_check().map(|c| {
            let link = st.link.as_ref();
            CheckView {
                code: c.code.clone(),
                planned_status: c.planned_status,
                code_type: c.code_type,
                local_check: c.local_check,
                stage: c.stage.state(),
                finished: c.is_finished(),
                tag_2106: c.check_result,
                request_number: c.request_number,
                request_sent: link.is_some_and(CheckLink::sent),
                driver_error: link.and_then(|l| l.settled.clone().flatten()),
            }
        });
        DeviceSnapshot {
            registration: RegistrationView {
                autonomous: st.fn_m.is_autonomous(),
                marking: st.fn_m.is_marking(),
                fn_serial: reg.fn_serial,
                kkt_serial: reg.kkt_serial,
                kkt_reg_number: reg.kkt_reg_number,
                user_inn: reg.user_inn,
            },
            shift: ShiftView {
                number: st.shift.number,
                open: st.shift.open,
                expired: st.shift.expired(now),
                opened: st.shift.opened_ms.map(format_iso_ms),
                receipts: st.shift.receipts,
            },
            marking: MarkingView {
                state: ms.state,
                status: ms.state_name(),
                checking_count: ms.checking_count,
                sold_imc_count: ms.sold_imc_count,
                notice_state: ms.notice_state,
                notice_level: ms.notice_level,
                notice_free_memory: ms.notice_level_name(),
                notice_count: ms.notice_count,
                keys: st.fn_m.keys_state(),
                flags_2112_2113: st.fn_m.marking_flags(),
            },
            unsent_notifications: st
                .fn_m
                .unsent()
                .map(|n| UnsentView {
                    notification_number: n.notification_number,
                    receipt_number: n.receipt_number,
                    local_time: n.local_time,
                    items: n.items.len(),
                })
                .collect(),
            check,
            table: st
                .fn_m
                .table()
                .iter()
                .map(|a| TableEntryView {
                    code: a.code.clone(),
                    planned_status: a.planned_status,
                    check_result: a.check_result,
                })
                .collect(),
            checks_since_receipt: st.records.len(),
            documents: st.documents.len(),
        }
    }

    /// Store a document in the journal.
    pub(crate) fn store(
        &self,
        st: &mut DeviceState,
        doc: Document,
        findings: Vec<Finding>,
        warnings: Vec<String>,
    ) -> u64 {
        st.documents.push(doc, self.now_ms(), findings, warnings)
    }

    /// Bring the check in progress up to now: pass the answer 83 that is due, or finish it without one
    /// (see the module doc). Idempotent.
    pub(crate) fn settle(&self, st: &mut DeviceState) {
        let Some(link) = st.link.as_ref() else { return };
        if link.settled.is_some() {
            return;
        }
        let now = Instant::now();
        let outcome: Option<Option<AtolError>> = match link.exchange {
            Exchange::NoRequest => Some(None),
            Exchange::Unreachable => Some(Some(AtolError::no_connection_with_server())),
            Exchange::OfdError { code } => Some(Some(exchange_error(code))),
            Exchange::Silent { deadline } if now >= deadline => Some(Some(AtolError::mark_check_timeout())),
            Exchange::Answer { due } if now >= due => None, // computed below
            Exchange::Silent { .. } | Exchange::Answer { .. } => return,
        };
        let settled = match outcome {
            Some(error) => {
                st.fn_m.finish_without_answer();
                error
            }
            None => self.pass_answer(st),
        };
        let result = st.fn_m.current_check().and_then(|c| c.check_result);
        let answer = st.fn_m.current_check().and_then(|c| c.answer.clone());
        if let Some(link) = st.link.as_mut() {
            link.record.tag_2106 = result;
            link.record.answer = answer;
            link.settled = Some(settled);
        }
    }

    /// The answer 83 to the waiting request, computed from the world now, passed to the ФН and
    /// journaled. A refusal of the ФН (it cannot happen with a well-formed answer) finishes the check
    /// without the answer and is reported as 410.
    fn pass_answer(&self, st: &mut DeviceState) -> Option<AtolError> {
        let Some(request) = st.link.as_ref().and_then(|l| l.request.clone()) else {
            st.fn_m.finish_without_answer();
            return None;
        };
        let answer: MarkingAnswer = {
            let world = self.world_read();
            oism::answer(&request, &world, &st.options, st.fn_m.code_options())
        };
        match st.fn_m.pass_answer(&answer) {
            Ok(_) => {
                self.store(st, Document::MarkingAnswer(answer), Vec::new(), Vec::new());
                None
            }
            Err(e) => {
                st.fn_m.finish_without_answer();
                Some(fn_error(&e))
            }
        }
    }

    /// Send every stored notification the ОФД takes now (see the module doc): the ОИСМ answers a
    /// ticket 84 and applies the notification to the world; the ticket goes to the ФН and the journal.
    pub(crate) fn flush_notifications(&self, st: &mut DeviceState) {
        if st.fn_m.is_autonomous() || !st.options.ofd.reachable || st.fn_m.unsent_count() == 0 {
            return;
        }
        let pending: Vec<crate::ffd::Notification> = st.fn_m.unsent().cloned().collect();
        let now = self.now_ms();
        for n in pending {
            let codes: Vec<&str> = n.items.iter().map(|i| i.marking_code.as_str()).collect();
            let call = CallInfo::new(OISM_HOST, FAULT_PATH_NOTIFICATION, now).with_codes(&codes);
            if !matches!(self.ctx.faults.decide(&call).action, Action::Pass | Action::Drip { .. }) {
                break;
            }
            let local = self.local_time(st);
            let ticket = {
                let mut world = self.world_write();
                oism::process_notification(&n, &mut world, &st.options, local)
            };
            if st.fn_m.take_ticket(&ticket).is_ok() {
                self.store(st, Document::Ticket(ticket), Vec::new(), Vec::new());
            }
        }
    }

    /// Run one task (see [`TaskRunner`]).
    fn run_task(&self, task: &Task) -> Result<Value, AtolError> {
        let mut st = self.lock();
        if !matches!(task, Task::GetMarkingCodeValidationStatus | Task::CheckMarkingCodeValidationsReady) {
            self.flush_notifications(&mut st);
        }
        match task {
            Task::BeginMarkingCodeValidation(p) => self.begin(&mut st, p),
            Task::GetMarkingCodeValidationStatus => self.poll(&mut st),
            Task::AcceptMarkingCode => self.accept(&mut st),
            Task::DeclineMarkingCode => self.decline(&mut st),
            Task::CancelMarkingCodeValidation => self.cancel(&mut st),
            Task::ClearMarkingCodeValidationResult => self.clear(&mut st),
            Task::CheckMarkingCodeValidationsReady => self.validations_ready(&mut st),
            Task::ValidateMarks(m) => {
                drop(st);
                self.validate_marks(&m.marks)
            }
            Task::AddMarksToBuffer(m) => self.add_marks_to_buffer(&mut st, &m.marks),
            Task::CheckImcWorkState => self.imc_work_state(&mut st),
            Task::PingIsm => self.ping_ism(&mut st),
            Task::IsmExchangeStatus | Task::OfdExchangeStatus => self.exchange_status(&st),
            Task::UpdateFnmKeys => self.update_keys(&mut st),
            Task::MarkcertFnAuthenticate(p) => self.authenticate(&st, &p.challenge),
            Task::OpenShift(p) => self.open_shift(&mut st, p),
            Task::CloseShift(p) => self.close_shift(&mut st, p),
            Task::Sell(r) => self.sell(&mut st, r, crate::ffd::OperationType::Sale),
            Task::SellReturn(r) => self.sell(&mut st, r, crate::ffd::OperationType::SaleReturn),
            Task::GetShiftStatus => self.shift_status(&st),
            Task::GetDeviceStatus => self.device_status(&st),
            Task::GetDeviceInfo => self.device_info(&st),
            Task::GetFnInfo => self.fn_info(&st),
            Task::ReportX(_) => self.report_x(&st),
        }
    }
}

impl TaskRunner for KktDevice {
    /// One device: `device_id` is not looked at.
    fn run(&self, _device_id: &str, task: &Task) -> Result<Value, AtolError> {
        self.run_task(task)
    }
}

/// A ФН refusal as the driver reports it (`kkt.md` §6.4, §10.5).
pub(crate) fn fn_error(e: &FnError) -> AtolError {
    AtolError::new(e.atol_code(), e.description())
}

/// `unix_ms` as the KKT's local ISO date-time with its offset, e.g. `2026-01-01T03:00:00+03:00`.
pub(crate) fn local_iso(unix_ms: i64, offset_s: i32) -> String {
    let shifted = unix_ms.saturating_add(i64::from(offset_s) * 1000);
    let iso = format_iso_ms(shifted);
    let sign = if offset_s < 0 { '-' } else { '+' };
    let off = offset_s.unsigned_abs();
    format!("{}{sign}{:02}:{:02}", iso.get(..19).unwrap_or(&iso), off / 3600, off / 60 % 60)
}

/// The driver error of a failed ОФД exchange: the code a `status` fault names when it is a driver code
/// (401–426), else 411.
fn exchange_error(code: u16) -> AtolError {
    match code {
        414 => AtolError::marking_operation_denied(),
        424 => AtolError::bad_server_address(),
        401..=426 => AtolError::new(code, "ОФД exchange failed (fault)"),
        _ => AtolError::ofd_exchange(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::default::default_world;
    use serde_json::json;

    const NOW: i64 = 1_767_225_600_000;

    fn device(options: KktOptions) -> KktDevice {
        let world = Arc::new(RwLock::new(default_world(NOW).unwrap()));
        let ctx = KktDeviceContext {
            options,
            ..KktDeviceContext::new(
                world,
                WorldClock::frozen_at(NOW),
                Trace::in_memory(100),
                ReqLog::new(100),
                FaultTable::new(),
            )
        };
        KktDevice::for_store(ctx).unwrap()
    }

    fn run(d: &KktDevice, task: Value) -> Result<Value, AtolError> {
        d.run("default", &Task::from_json(&task)?)
    }

    fn milk(d: &KktDevice) -> String {
        let w = d.world_read();
        let mut codes: Vec<String> = w
            .codes()
            .into_iter()
            .filter(|c| c.case.as_deref() == Some("in-circulation"))
            .filter(|c| {
                markcert_codes::parse(c.code.as_bytes())
                    .is_ok_and(|p| p.layout() == markcert_codes::Layout::Milk)
            })
            .map(|c| c.code.clone())
            .collect();
        codes.sort();
        codes.remove(0)
    }

    #[test]
    fn a_check_settles_lazily_and_the_receipt_is_journaled() {
        let mut options = KktOptions::default();
        options.oism.latency_ms = 0;
        let d = device(options);
        let code = milk(&d);
        let imc = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, code.as_bytes());
        run(&d, json!({"type":"openShift"})).unwrap();
        run(&d, json!({"type":"beginMarkingCodeValidation","imc":imc,"itemEstimatedStatus":1})).unwrap();
        let v = run(&d, json!({"type":"getMarkingCodeValidationStatus"})).unwrap();
        assert_eq!(v["onlineValidation"]["itemInfoCheckResult"]["imcEstimatedStatusCorrect"], true);
        run(&d, json!({"type":"acceptMarkingCode"})).unwrap();
        let sell = json!({"type":"sell","items":[{"name":"Кефир","price":10,"quantity":1,"amount":10,
            "paymentObject":"commodityWithMarking","imcParams":{"imc":imc,"itemEstimatedStatus":1}}],
            "payments":[{"type":"cash","sum":20}]});
        let r = run(&d, sell).unwrap();
        assert_eq!(r["fiscalParams"]["fiscalDocumentNumber"], 2);
        let kinds: Vec<&str> = d.documents(&DocumentQuery::default()).iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            ["shift_report", "marking_request", "marking_answer", "receipt", "notification", "ticket"]
        );
        let receipt = d.documents(&DocumentQuery { kind: Some("receipt".into()), ..Default::default() });
        let Document::Receipt(r) = &receipt[0].document else { panic!() };
        assert_eq!((r.payments.cash.0, r.total.0), (1000, 1000), "change comes out of cash");
        let ids: Vec<&str> = receipt[0].findings.iter().map(|f| f.id).collect();
        assert!(ids.contains(&"G-R4"), "no 1260: {ids:?}");
        let snap = d.snapshot();
        assert!(snap.check.is_none() && snap.table.is_empty() && snap.unsent_notifications.is_empty());
    }

    #[test]
    fn no_task_panics_on_odd_input() {
        let d = device(KktOptions::default());
        run(&d, json!({"type":"openShift"})).unwrap();
        let odd = [
            json!({"type":"sell","items":[{"name":"x","price":1e300,"quantity":1,"amount":1}]}),
            json!({"type":"sell","items":[{"name":"x","price":1,"quantity":-1,"amount":1}]}),
            json!({"type":"sell","items":[]}),
            json!({"type":"sell","items":[{"name":"x","price":1,"quantity":1,"amount":1,"productCodes":{"ean13":"1","ean8":"2"}}],"payments":[{"type":"cash","sum":1}]}),
            json!({"type":"sell","items":[{"name":"\u{1F600}","price":1,"quantity":1,"amount":1}],"payments":[{"type":"cash","sum":1}]}),
            json!({"type":"sell","items":[{"name":"x","price":1,"quantity":1,"amount":1}],"payments":[{"type":"electronically","sum":5}]}),
            json!({"type":"sell","items":[{"name":"x","price":1,"quantity":1,"amount":1}],"total":2,"payments":[{"type":"cash","sum":1}]}),
            json!({"type":"beginMarkingCodeValidation","imc":"AA==","itemEstimatedStatus":1,"imcType":"imcShort"}),
            json!({"type":"beginMarkingCodeValidation","imc":"QQ==","itemEstimatedStatus":1,"itemQuantity":1e300,"itemUnits":0}),
            json!({"type":"markcertFnAuthenticate","challenge":""}),
            json!({"type":"addMarksToBuffer","marks":[{"imc":"@","itemEstimatedStatus":1}]}),
        ];
        for task in odd {
            if let Ok(t) = Task::from_json(&task) {
                assert!(d.run("default", &t).is_err(), "{task}");
            }
        }
    }

    #[test]
    fn local_iso_carries_the_offset() {
        assert_eq!(local_iso(1_767_225_600_000, 10_800), "2026-01-01T03:00:00+03:00");
        assert_eq!(local_iso(1_767_225_600_000, -3_600), "2025-12-31T23:00:00-01:00");
    }

    #[test]
    fn shift_expires_after_24_hours() {
        let s = Shift { number: 1, open: true, opened_ms: Some(0), receipts: 0 };
        assert!(!s.expired(SHIFT_MAX_MS));
        assert!(s.expired(SHIFT_MAX_MS + 1));
        assert!(!Shift { open: false, ..s }.expired(SHIFT_MAX_MS + 1));
    }
}
