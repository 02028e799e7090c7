//! The ФН-М fiscal accumulator's marking model (spec `kkt.md` §4.2, §4.7, §6, §7.2, §8): pure logic,
//! no HTTP, no JSON wire, no clock (the KKT passes local times in).
//!
//! [`FiscalAccumulator`] owns the check in progress (B1h → B5h → B6h → B2h), the table of accepted
//! codes, the notification store (B7h, tickets, unloads), the shift flags 2104/2112/2113, the document,
//! request (2001) and notification (2002) counters, the keys and the fiscal sign. The world decides
//! whether a code's verification part is authentic; the KKT device decides when answers arrive.
//!
//! Files: `check.rs` (the request, the local check, 2106, the pending and accepted entries),
//! `notices.rs` (the store, fill levels, shift flags), `status.rs` (`checkImcWorkState`), `sign.rs`
//! (secret, fiscal sign, `markcertFnAuthenticate`), `error.rs` ([`FnError`] with ФН and ATOL codes,
//! [`FnWarning`]).

mod check;
mod error;
mod notices;
mod sign;
mod status;

pub use check::{
    item_id, tag_2106, validate_fraction, AcceptedCode, BeginOutcome, CheckRequest, CheckStage,
    FnCheckReason, PendingCheck, ADMISSIBLE_2106, PLANNED_STATUSES,
};
pub use error::{FnError, FnWarning};
pub use notices::{
    fill_level, level_atol_name, INCORRECT_CODE_IN_ANSWER, INCORRECT_CODE_IN_TICKET, NEGATIVE_NOTIFICATION,
    NEGATIVE_REQUEST,
};
pub use sign::FnAuthAnswer;
pub use status::MarkingStatus;

use crate::ffd::{
    MarkingAnswer, MarkingRequest, Notification, NotificationItem, Receipt, ReceiptItem, Ticket,
};
use crate::fnauth::{FnAuthScheme, FnSecret, HmacSha256V1};
use crate::kkt::options::{FnAuthMode, KeysState, KeysUpdate, KktOptions};
use crate::world::World;
use markcert_codes::CodeOptions;
use notices::NoticeStore;
use std::fmt;
use std::sync::Arc;

/// How the ФН was registered (fiscalised).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnRegistration {
    /// 1041, ФН serial (16 digits).
    pub fn_serial: String,
    /// Serial of the KKT.
    pub kkt_serial: String,
    /// 1037, registration number of the KKT.
    pub kkt_reg_number: String,
    /// 1018, INN of the user.
    pub user_inn: String,
    /// 1290 bit 8: works with marked goods.
    pub marking: bool,
    /// Registered without an ОФД.
    pub autonomous: bool,
}

impl FnRegistration {
    /// The registration of a drive the world knows: `fn.serial` if set, else the first drive of the
    /// store's INN, with the drive's marking flag; not autonomous (the control `fn.autonomous` adds
    /// that at run time). `None` when the world has no such drive (build the registration by hand).
    pub fn from_world(world: &World, opts: &KktOptions, kkt_reg_number: impl Into<String>) -> Option<Self> {
        let drive = match &opts.fn_m.serial {
            Some(serial) => world.fiscal_drive(serial)?,
            None => world.fiscal_drives().iter().find(|d| d.inn == world.store_inn)?,
        };
        Some(FnRegistration {
            fn_serial: drive.serial.clone(),
            kkt_serial: drive.kkt_serial.clone(),
            kkt_reg_number: kkt_reg_number.into(),
            user_inn: drive.inn.clone(),
            marking: drive.marking,
            autonomous: false,
        })
    }
}

/// What B7h did when a receipt closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationOutcome {
    /// Notification 82, stored; `None` when the receipt has no marked item.
    pub notification: Option<Notification>,
    /// Accepted codes the receipt did not use (discarded), and receipt data that differs from the check.
    pub warnings: Vec<FnWarning>,
}

/// The ФН-М.
#[derive(Clone)]
pub struct FiscalAccumulator {
    reg: FnRegistration,
    opts: KktOptions,
    code_options: CodeOptions,
    world_secret: FnSecret,
    secret: FnSecret,
    fiscal_key: [u8; 32],
    scheme: Arc<dyn FnAuthScheme>,
    keys_update_pending: bool,
    check: Option<PendingCheck>,
    table: Vec<AcceptedCode>,
    checks_begun: u32,
    notices: NoticeStore,
    last_document: u32,
    last_request: u32,
    last_notification: u32,
}

impl fmt::Debug for FiscalAccumulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FiscalAccumulator")
            .field("reg", &self.reg)
            .field("check", &self.check)
            .field("table", &self.table.len())
            .field("notices", &self.notices.len())
            .field("last_document", &self.last_document)
            .finish_non_exhaustive()
    }
}

impl FiscalAccumulator {
    /// A fiscalised ФН-М with empty table and store. Its secret `K_fn` is `fn.auth_secret`, else the
    /// world's secret for `reg.fn_serial`, else derived from the world's master secret.
    pub fn new(reg: FnRegistration, opts: &KktOptions, world: &World) -> FiscalAccumulator {
        let world_secret = sign::resolve_secret(world, &reg.fn_serial, None);
        let secret = sign::resolve_secret(world, &reg.fn_serial, opts.fn_m.auth_secret.as_deref());
        FiscalAccumulator {
            reg,
            opts: opts.clone(),
            code_options: opts.code_options(),
            world_secret,
            secret,
            fiscal_key: sign::fiscal_key(&secret),
            scheme: Arc::new(HmacSha256V1),
            keys_update_pending: opts.fn_m.keys == KeysState::UpdateRequired,
            check: None,
            table: Vec::new(),
            checks_begun: 0,
            notices: NoticeStore::default(),
            last_document: 0,
            last_request: 0,
            last_notification: 0,
        }
    }

    /// Apply changed controls at run time. A change of `fn.keys` to `update_required` arms the key
    /// update (until [`FiscalAccumulator::update_keys`]); `kkt.tag1306_form` replaces the 1306 form;
    /// `fn.auth_secret` replaces (or, unset, restores) `K_fn`. `fn.serial` is read only when the
    /// registration is built: a ФН keeps its serial.
    pub fn set_options(&mut self, opts: &KktOptions) {
        if opts.fn_m.keys != self.opts.fn_m.keys {
            self.keys_update_pending = opts.fn_m.keys == KeysState::UpdateRequired;
        }
        self.code_options.tag1306_form = opts.kkt.tag1306_form;
        self.secret = opts
            .fn_m
            .auth_secret
            .as_deref()
            .and_then(crate::fnauth::secrets::parse_hex32)
            .unwrap_or(self.world_secret);
        self.fiscal_key = sign::fiscal_key(&self.secret);
        self.opts = opts.clone();
    }

    /// Replace the code options (classification, 1163/2101 forms), e.g. the workspace's `codes.*`.
    pub fn set_code_options(&mut self, code_options: CodeOptions) {
        self.code_options = code_options;
    }

    /// Replace the authentication scheme (default `markcert-hmac-v1`).
    pub fn set_auth_scheme(&mut self, scheme: Arc<dyn FnAuthScheme>) {
        self.scheme = scheme;
    }

    /// The registration.
    pub fn registration(&self) -> &FnRegistration {
        &self.reg
    }

    /// The controls in force.
    pub fn options(&self) -> &KktOptions {
        &self.opts
    }

    /// The code options in force.
    pub fn code_options(&self) -> &CodeOptions {
        &self.code_options
    }

    /// Works with marked goods: registered with the flag and `fn.marking_flag` on.
    pub fn is_marking(&self) -> bool {
        self.reg.marking && self.opts.fn_m.marking_flag
    }

    /// Autonomous: registered so, or `fn.autonomous` on.
    pub fn is_autonomous(&self) -> bool {
        self.reg.autonomous || self.opts.fn_m.autonomous
    }

    /// The state of the verification keys (`update_required` until updated).
    pub fn keys_state(&self) -> KeysState {
        match self.opts.fn_m.keys {
            _ if self.keys_update_pending => KeysState::UpdateRequired,
            KeysState::Missing => KeysState::Missing,
            _ => KeysState::Ok,
        }
    }

    // ----- check: B1h, B5h, B6h, B2h, B3h -------------------------------------------------------

    /// B1h (+ B5h unless `req.form_request` is false or the ФН is autonomous): check a code.
    ///
    /// Refusals, in order: the driver's parameter checks (409 mode/fraction/type, 404 status, 413
    /// quantity, 0x3C empty code); 0x32 without the marking flag; 401 while the previous check waits
    /// for its answer; 0x33 (410) over a finished unresolved check when `kkt.strict_check_sequence`
    /// (else it is discarded with a warning); 418 while keys need an update; 0x35 with the table full;
    /// 0x34 with the notification store full. Without a request the check is finished at once.
    pub fn begin_check(
        &mut self,
        req: CheckRequest,
        world: &World,
        local_time: u32,
    ) -> Result<BeginOutcome, FnError> {
        check::validate_request(&req)?;
        if !self.is_marking() {
            return Err(FnError::MarkingNotAllowed);
        }
        let mut warnings = Vec::new();
        if let Some(previous) = &self.check {
            if !previous.is_finished() {
                return Err(FnError::CheckRunning);
            }
            if self.opts.kkt.strict_check_sequence {
                return Err(FnError::UnresolvedCheck);
            }
            warnings.push(FnWarning::PreviousCheckDiscarded { code: previous.code.clone() });
        }
        if self.keys_update_pending {
            return Err(FnError::KeysUpdateRequired);
        }
        self.ensure_table_room(None)?;
        self.ensure_store_room()?;
        let local = check::local_check(&req, world, &self.opts.fn_m, &self.code_options)?;
        warnings.extend(local.warning);

        let mut pending = PendingCheck {
            code: req.code,
            code_type: local.code_type,
            item_id: local.item_id,
            planned_status: req.planned_status,
            local_check: local.local_check,
            reason: local.reason,
            quantity: req.quantity,
            measure: req.measure,
            fractional: req.fractional,
            processing_mode: req.processing_mode,
            request_number: None,
            answer: None,
            check_result: None,
            stage: CheckStage::Received,
        };
        let request = if req.form_request && !self.is_autonomous() {
            let request = self.form_request(&pending, local_time);
            pending.request_number = Some(request.request_number);
            pending.stage = CheckStage::Requested;
            Some(request)
        } else {
            pending.check_result = Some(tag_2106(pending.local_check, None, self.is_autonomous()));
            None
        };
        self.checks_begun = self.checks_begun.saturating_add(1);
        let outcome = BeginOutcome {
            local_check: pending.local_check,
            reason: pending.reason,
            code_type: pending.code_type,
            request,
            warnings,
        };
        self.check = Some(pending);
        Ok(outcome)
    }

    /// B5h: request 81 for `check` (takes the next 2001).
    fn form_request(&mut self, check: &PendingCheck, local_time: u32) -> MarkingRequest {
        self.last_request = self.last_request.wrapping_add(1).max(1);
        let measured = matches!(check.planned_status, 2 | 4);
        let mut request = MarkingRequest {
            request_number: self.last_request,
            user_inn: self.reg.user_inn.clone(),
            local_time,
            fn_serial: self.reg.fn_serial.clone(),
            local_check: check.local_check,
            planned_status: check.planned_status,
            quantity: check.quantity.filter(|_| measured),
            measure: check.measure.filter(|_| measured),
            fractional: check.fractional.clone(),
            code_type: check.code_type,
            marking_code: check.code.clone(),
            processing_mode: check.processing_mode,
            fiscal_sign: 0,
        };
        request.fiscal_sign = self.sign_document(&request);
        request
    }

    /// B6h: pass answer 83 to the waiting check; returns 2106. A negative answer sets the shift
    /// flags (2112 bit 1 for an incorrect КМ, 2113 bit 0 for any negative result).
    pub fn pass_answer(&mut self, answer: &MarkingAnswer) -> Result<u8, FnError> {
        let autonomous = self.is_autonomous();
        let check = self.check.as_mut().ok_or(FnError::WrongSequence("no check waits for an answer"))?;
        if check.is_finished() {
            return Err(FnError::WrongSequence("the check is already finished"));
        }
        let expected = check.request_number.ok_or(FnError::WrongSequence("no request was formed"))?;
        if answer.request_number != expected {
            return Err(FnError::AnswerMismatch { expected, got: answer.request_number });
        }
        let result = tag_2106(check.local_check, Some((answer.result, answer.item_status)), autonomous);
        check.answer = Some(answer.clone());
        check.check_result = Some(result);
        check.stage = CheckStage::Answered;
        self.notices.note_answer(answer);
        Ok(result)
    }

    /// Finish the waiting check without an answer (ОИСМ timeout, no connection): 2106 from the local
    /// result only. Returns the check's 2106 (also when it was already finished); `None` without a
    /// check.
    pub fn finish_without_answer(&mut self) -> Option<u8> {
        let autonomous = self.is_autonomous();
        let check = self.check.as_mut()?;
        Some(*check.check_result.get_or_insert_with(|| tag_2106(check.local_check, None, autonomous)))
    }

    /// The check in progress (until accepted, declined, cancelled or cleared).
    pub fn current_check(&self) -> Option<&PendingCheck> {
        self.check.as_ref()
    }

    /// B2h = 1: accept the finished check into the table (a code already there is replaced).
    pub fn accept(&mut self) -> Result<AcceptedCode, FnError> {
        let check = self.finished_check()?;
        if !self.is_marking() {
            return Err(FnError::MarkingNotAllowed);
        }
        self.ensure_table_room(Some(&check.code))?;
        let Some(check) = self.check.take() else { return Err(FnError::NoCheck) };
        let result = check.check_result.unwrap_or_default();
        let entry = AcceptedCode::from_check(check, result);
        match self.table.iter_mut().find(|a| a.code == entry.code) {
            Some(slot) => *slot = entry.clone(),
            None => self.table.push(entry.clone()),
        }
        Ok(entry)
    }

    /// B2h = 0: discard the finished check.
    pub fn decline(&mut self) -> Result<(), FnError> {
        self.finished_check()?;
        self.check = None;
        Ok(())
    }

    fn finished_check(&self) -> Result<&PendingCheck, FnError> {
        match &self.check {
            None => Err(FnError::NoCheck),
            Some(c) if !c.is_finished() => Err(FnError::CheckInProgress),
            Some(c) => Ok(c),
        }
    }

    /// Abort the check in progress, whatever its stage; returns it.
    pub fn cancel_check(&mut self) -> Option<PendingCheck> {
        self.check.take()
    }

    /// B3h: clear the table of accepted codes (and the check in progress); returns how many codes
    /// were dropped.
    pub fn clear_table(&mut self) -> usize {
        self.check = None;
        self.checks_begun = 0;
        std::mem::take(&mut self.table).len()
    }

    /// The accepted entry of `code`.
    pub fn accepted(&self, code: &str) -> Option<&AcceptedCode> {
        self.table.iter().find(|a| a.code == code)
    }

    /// Every accepted code, in order of acceptance.
    pub fn table(&self) -> &[AcceptedCode] {
        &self.table
    }

    fn ensure_table_room(&self, replacing: Option<&str>) -> Result<(), FnError> {
        let capacity = self.opts.fn_m.km_table_capacity;
        let replaces = replacing.is_some_and(|code| self.accepted(code).is_some());
        if !replaces && self.table.len() >= capacity as usize {
            return Err(FnError::TableFull { capacity });
        }
        Ok(())
    }

    fn ensure_store_room(&self) -> Result<(), FnError> {
        if self.notice_level() >= 4 {
            return Err(FnError::NoticeStoreFull { forced: self.opts.fn_m.notice_level.is_some() });
        }
        Ok(())
    }

    // ----- notifications: B7h, tickets, unload -----------------------------------------------------

    /// B7h at receipt close: notification 82 with one 2007 per marked item (`marking: Some`), built from
    /// the item and its accepted entry; stored; the used codes leave the table, the unused ones are
    /// discarded with a warning. `control_code` gives 2115 of a code.
    ///
    /// Refusals (nothing changes): 0x32 without the marking flag, 0x34 with the store full, 0x3E for
    /// an item whose code is not in the table (or is used twice), 404 when the item's 2110 differs
    /// from the checked 2003, 0x3C for an item without a name.
    pub fn form_notification(
        &mut self,
        receipt: &Receipt,
        local_time: u32,
        control_code: impl Fn(&str) -> String,
    ) -> Result<NotificationOutcome, FnError> {
        let marked: Vec<&ReceiptItem> = receipt.items.iter().filter(|i| i.marking.is_some()).collect();
        let mut warnings = Vec::new();
        if marked.is_empty() {
            warnings.extend(self.discard_table());
            return Ok(NotificationOutcome { notification: None, warnings });
        }
        if !self.is_marking() {
            return Err(FnError::MarkingNotAllowed);
        }
        self.ensure_store_room()?;
        let mut used = vec![false; self.table.len()];
        let mut items = Vec::with_capacity(marked.len());
        for item in marked {
            let Some(marking) = &item.marking else { continue };
            let index = self
                .table
                .iter()
                .enumerate()
                .position(|(i, a)| !used[i] && a.code == marking.code)
                .ok_or_else(|| FnError::CodeNotChecked { code: marking.code.clone() })?;
            used[index] = true;
            let entry = &self.table[index];
            if marking.assigned_status != entry.planned_status {
                return Err(FnError::StatusMismatch {
                    code: entry.code.clone(),
                    checked: entry.planned_status,
                    assigned: marking.assigned_status,
                });
            }
            if item.name.trim().is_empty() {
                return Err(FnError::MissingRequisites("1030 (item name)"));
            }
            warnings.extend(item_differences(item, entry));
            items.push(notification_item(item, entry, control_code(&entry.code)));
        }
        let number = self.last_notification.wrapping_add(1).max(1);
        let mut notification = Notification {
            notification_number: number,
            local_time,
            fn_serial: self.reg.fn_serial.clone(),
            user_inn: Some(self.reg.user_inn.clone()),
            taxation: receipt.taxation,
            operation: receipt.operation,
            operation_kind: 0b1,
            items,
            industry: receipt.industry.clone(),
            receipt_number: receipt.header.number,
            fiscal_sign: 0,
        };
        notification.fiscal_sign = self.sign_document(&notification);
        self.last_notification = number;
        self.notices.push(notification.clone());
        let mut used = used.into_iter();
        self.table.retain(|_| !used.next().unwrap_or(false));
        warnings.extend(self.discard_table());
        Ok(NotificationOutcome { notification: Some(notification), warnings })
    }

    /// Empty the table after a receipt: every remaining code becomes an "unused, discarded" warning.
    fn discard_table(&mut self) -> Vec<FnWarning> {
        self.checks_begun = 0;
        std::mem::take(&mut self.table)
            .into_iter()
            .map(|a| FnWarning::UnusedCodeDiscarded { code: a.code })
            .collect()
    }

    /// Fill level of the notification store, 0–4: `fn.notice_level` when forced, else computed from
    /// the notifications without a ticket and `fn.notice_capacity`.
    pub fn notice_level(&self) -> u8 {
        self.opts
            .fn_m
            .notice_level
            .unwrap_or_else(|| fill_level(self.notices.len(), self.opts.fn_m.notice_capacity))
    }

    /// Notifications without a ticket, oldest first.
    pub fn unsent(&self) -> impl Iterator<Item = &Notification> {
        self.notices.unsent()
    }

    /// Number of notifications without a ticket (2104).
    pub fn unsent_count(&self) -> u32 {
        u32::try_from(self.notices.len()).unwrap_or(u32::MAX)
    }

    /// Pass ticket 84: its notification leaves the store and is returned. A negative ticket (2006 = 1)
    /// sets 2112 bit 2 and, with 2111 = 1 or 2006 = 1, 2113 bit 1. 0x33 for an unknown notification.
    pub fn take_ticket(&mut self, ticket: &Ticket) -> Result<Notification, FnError> {
        self.notices.take_ticket(ticket).ok_or(FnError::WrongSequence("ticket for an unknown notification"))
    }

    /// Unload every stored notification to external media (autonomous KKT, `kkt.md` §8.2): they leave
    /// the store.
    pub fn unload_notifications(&mut self) -> Vec<Notification> {
        self.notices.unload()
    }

    /// The 2112 and 2113 bits gathered since the last shift close.
    pub fn marking_flags(&self) -> (u8, u8) {
        self.notices.flags()
    }

    /// The shift-close report additions (2104, 2112, 2113); resets 2112 and 2113.
    pub fn shift_close_marking(&mut self) -> (u32, u8, u8) {
        let (codes, requests) = self.notices.flags();
        self.notices.reset_flags();
        (self.unsent_count(), codes, requests)
    }

    // ----- status, counters, keys, signatures ------------------------------------------------------

    /// `checkImcWorkState` (`kkt.md` §6.2).
    pub fn marking_status(&self) -> MarkingStatus {
        let level = self.notice_level();
        let table_full = self.table.len() >= self.opts.fn_m.km_table_capacity as usize;
        let state = if !self.is_marking() || table_full || level >= 4 {
            0
        } else {
            self.check.as_ref().map_or(1, |c| c.stage.state())
        };
        MarkingStatus {
            state,
            checking_count: self.checks_begun,
            sold_imc_count: u32::try_from(self.table.len()).unwrap_or(u32::MAX),
            notice_state: if level >= 4 { 2 } else { u8::from(!self.table.is_empty()) },
            notice_level: level,
            notice_count: self.unsent_count(),
        }
    }

    /// The next fiscal document number (1040); the first is 1.
    pub fn next_document_number(&mut self) -> u32 {
        self.last_document = self.peek_next_document_number();
        self.last_document
    }

    /// The number [`Self::next_document_number`] will give, without taking it (for a document that
    /// may still be refused).
    pub fn peek_next_document_number(&self) -> u32 {
        self.last_document.wrapping_add(1).max(1)
    }

    /// The last fiscal document number given (0 before the first).
    pub fn last_document_number(&self) -> u32 {
        self.last_document
    }

    /// The last request number (2001) given.
    pub fn last_request_number(&self) -> u32 {
        self.last_request
    }

    /// The last notification number (2002) given.
    pub fn last_notification_number(&self) -> u32 {
        self.last_notification
    }

    /// The fiscal sign of a document's bytes: HMAC-SHA256 under a key derived from `K_fn`, first 4
    /// bytes big-endian. Deterministic for a given ФН secret.
    pub fn fiscal_sign(&self, bytes: &[u8]) -> u32 {
        sign::fiscal_sign(&self.fiscal_key, bytes)
    }

    /// The fiscal sign of a document model: over its JSON serialisation (with the sign field 0).
    fn sign_document<T: serde::Serialize>(&self, doc: &T) -> u32 {
        self.fiscal_sign(&serde_json::to_vec(doc).unwrap_or_default())
    }

    /// `markcertFnAuthenticate` (`tspiot.md` §9.4): the MAC of `challenge` under `K_fn` by the
    /// authentication scheme; wrong with `fn.auth = broken`. 0x32 (406) without the marking flag.
    pub fn authenticate(&self, challenge: &[u8]) -> Result<FnAuthAnswer, FnError> {
        if !self.is_marking() {
            return Err(FnError::MarkingNotAllowed);
        }
        let broken = self.opts.fn_m.auth == FnAuthMode::Broken;
        Ok(sign::authenticate(self.scheme.as_ref(), &self.secret, &self.reg.fn_serial, challenge, broken))
    }

    /// `updateFnmKeys`: clears a required key update; 419/425 when `fn.keys_update` says the key
    /// service fails or times out. Missing keys (`fn.keys = missing`) stay missing.
    pub fn update_keys(&mut self) -> Result<(), FnError> {
        if !self.is_marking() {
            return Err(FnError::MarkingNotAllowed);
        }
        match self.opts.fn_m.keys_update {
            KeysUpdate::Error => Err(FnError::KeysService),
            KeysUpdate::Timeout => Err(FnError::KeysTimeout),
            KeysUpdate::Ok => {
                self.keys_update_pending = false;
                Ok(())
            }
        }
    }
}

/// One 2007 from a receipt item and its accepted entry: the code, 2100, 2101 and 2106 of the check; the
/// status, quantities and commercial data of the receipt.
fn notification_item(item: &ReceiptItem, entry: &AcceptedCode, control_code: String) -> NotificationItem {
    let status = item.marking.as_ref().map_or(entry.planned_status, |m| m.assigned_status);
    let measured = matches!(status, 2 | 4);
    NotificationItem {
        marking_code: entry.code.clone(),
        code_type: entry.code_type,
        item_id: entry.item_id.clone(),
        control_code,
        assigned_status: status,
        check_result: entry.check_result,
        quantity: measured.then_some(item.quantity),
        measure: measured.then_some(item.measure),
        fractional: item.fractional.clone().or_else(|| entry.fractional.clone()),
        processing_mode: item.processing_mode.unwrap_or(entry.processing_mode),
        payment_type: item.payment_type,
        name: item.name.clone(),
        price: item.price,
        sum: item.sum,
        vat_rate: item.vat_rate,
        vat_sum: item.vat_sum.unwrap_or_default(),
        industry: item.industry.clone(),
    }
}

/// Receipt data that differs from the check of its code (the notification carries the receipt's).
fn item_differences(item: &ReceiptItem, entry: &AcceptedCode) -> Vec<FnWarning> {
    let mut fields = Vec::new();
    if let Some(m) = &item.marking {
        if m.code_type != entry.code_type {
            fields.push("2100");
        }
    }
    if item.check_result.is_some_and(|v| v != entry.check_result) {
        fields.push("2106");
    }
    if entry.quantity.is_some_and(|q| q != item.quantity) {
        fields.push("1023");
    }
    if entry.measure.is_some_and(|m| m != item.measure) {
        fields.push("2108");
    }
    if item.fractional.is_some() && entry.fractional.is_some() && item.fractional != entry.fractional {
        fields.push("1291");
    }
    fields.into_iter().map(|field| FnWarning::ItemDiffers { code: entry.code.clone(), field }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::default::{default_world, STORE_FN_SERIAL};
    use markcert_codes::Layout;

    fn code_of(w: &World, layout: Layout, case: &str) -> String {
        w.codes()
            .into_iter()
            .find(|c| {
                c.case.as_deref() == Some(case)
                    && markcert_codes::parse(c.code.as_bytes()).is_ok_and(|p| p.layout() == layout)
            })
            .map(|c| c.code.clone())
            .unwrap()
    }

    #[test]
    fn a_44_code_is_checked_positively_and_requested() {
        let w = default_world(1_767_225_600_000).unwrap();
        let opts = KktOptions::default();
        let reg = FnRegistration::from_world(&w, &opts, "0000000001012345").unwrap();
        assert_eq!(reg.fn_serial, STORE_FN_SERIAL);
        let mut f = FiscalAccumulator::new(reg, &opts, &w);
        let code = code_of(&w, Layout::S13T44, "in-circulation");
        let out = f.begin_check(CheckRequest::sale(code.clone()), &w, 1000).unwrap();
        assert_eq!((out.local_check, out.reason, out.code_type), (3, FnCheckReason::Checked, 4));
        let req = out.request.unwrap();
        assert_eq!((req.request_number, req.local_time, req.marking_code.as_str()), (1, 1000, code.as_str()));
        assert_eq!(f.marking_status().state, 3);
        assert_eq!(f.finish_without_answer(), Some(3));
        let accepted = f.accept().unwrap();
        assert_eq!(accepted.check_result, 3);
        assert_eq!(f.marking_status().state, 1);
        assert_eq!(f.accepted(&code).map(|a| a.request_number), Some(Some(1)));
    }
}
