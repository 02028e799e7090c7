//! The supporting tasks of the emulated KKT (`kkt.md` §10.2, §5.5, §8.5, `tspiot.md` §9.4): the shift
//! (`openShift`, `closeShift` with 2104/2112/2113, `getShiftStatus`, `reportX`), the device and ФН
//! status (`getDeviceStatus`, `getDeviceInfo`, `getFnInfo`), the ОФД/ОИСМ link (`pingIsm`,
//! `ismExchangeStatus`, `ofdExchangeStatus`), the keys (`updateFnmKeys`) and `markcertFnAuthenticate`.
//!
//! Owns the shapes of these results. Must not touch the marking check beyond what closing a shift
//! does to it.
//!
//! Decisions where the spec is silent:
//! - `openShift` in an open shift → 83 (libfptr "shift open, operation impossible"); `closeShift` in a
//!   closed one → 73. An expired shift can (and must) be closed.
//! - `closeShift` with a check in progress cancels that check (it would not survive into the next
//!   shift) and says so in `warnings`; accepted codes stay in the table until the next receipt.
//! - `reportX` makes no fiscal document and works in any shift state.
//! - `pingIsm` answers `ismConnected` from `ofd.reachable`, the autonomous flag and the fault table
//!   (path `check`); `timeMs` is `oism.latency_ms` plus any fault latency, not waited for.
//! - `ismExchangeStatus` and `ofdExchangeStatus` both report the notifications without a ticket (the
//!   emulated ОФД takes receipts at once).

use super::{fn_error, local_iso, DeviceState, KktDevice, FAULT_PATH_CHECK, OISM_HOST};
use crate::faults::{Action, CallInfo};
use crate::ffd::{Document, DocumentHeader, ShiftReport, ShiftReportKind};
use crate::kkt::atol::error::AtolError;
use crate::kkt::atol::wire::{
    result_json, DeviceInfo, DeviceInfoResult, DeviceStatus, DeviceStatusResult, DocumentFiscalParams,
    ExchangeStatus, FnAuthResult, FnInfo, FnInfoResult, FnWarnings, PingIsm, ShiftDocumentResult,
    ShiftParams, ShiftState, ShiftStatus, ShiftStatusResult,
};
use crate::kkt::grading::CheckOutcome;
use base64::Engine;
use serde_json::{json, Value};
use std::time::Duration;

/// libfptr: shift closed, operation impossible.
const DENIED_IN_CLOSED_SHIFT: u16 = 73;
/// libfptr: shift open, operation impossible.
const DENIED_IN_OPENED_SHIFT: u16 = 83;
/// 24 h, the life of a shift.
const SHIFT_LIFE_MS: i64 = 24 * 3_600_000;
/// `deviceInfo.model` (ATOL numbering has no emulator; 0 = unknown).
const MODEL: u16 = 0;
/// `deviceInfo.receiptLineLength`: the paper slip's width.
const LINE_LENGTH: u16 = crate::ffd::paper::WIDTH as u16;

impl KktDevice {
    /// A shift report (open or close), numbered, signed and journaled; its `fiscalParams`.
    fn shift_report(
        &self,
        st: &mut DeviceState,
        kind: ShiftReportKind,
        params: &ShiftParams,
        marking: Option<(u32, u8, u8)>,
        warnings: Vec<String>,
    ) -> Result<Value, AtolError> {
        let now = self.now_ms();
        let reg = st.fn_m.registration().clone();
        let mut report = ShiftReport {
            header: DocumentHeader {
                number: st.fn_m.peek_next_document_number(),
                local_time: self.local_time(st),
                fn_serial: reg.fn_serial.clone(),
                kkt_reg_number: reg.kkt_reg_number.clone(),
                user_inn: reg.user_inn.clone(),
                fiscal_sign: 0,
            },
            kind,
            shift_number: st.shift.number,
            operator_name: params.operator.as_ref().map(|o| o.name.clone()).filter(|n| !n.trim().is_empty()),
            receipts_in_shift: st.shift.receipts,
            unsent_notifications: marking.map(|m| m.0),
            incorrect_codes: marking.map(|m| m.1),
            incorrect_requests: marking.map(|m| m.2),
        };
        let bytes = Document::ShiftReport(report.clone())
            .to_tlv_bytes()
            .map_err(|e| AtolError::invalid_param(format!("the shift report cannot be written: {e}")))?;
        report.header.fiscal_sign = st.fn_m.fiscal_sign(&bytes);
        st.fn_m.next_document_number();
        let result = ShiftDocumentResult {
            fiscal_params: Some(DocumentFiscalParams {
                fiscal_document_number: report.header.number,
                fiscal_document_sign: format!("{:010}", report.header.fiscal_sign),
                fn_number: reg.fn_serial,
                registration_number: reg.kkt_reg_number,
                shift_number: report.shift_number,
                fiscal_document_date_time: local_iso(now, st.options.kkt.local_utc_offset_s),
                receipts_count: (kind == ShiftReportKind::Close).then_some(report.receipts_in_shift),
                fns_url: None,
            }),
            warnings: (!warnings.is_empty()).then(|| json!({ "marking": warnings })),
        };
        self.store(st, Document::ShiftReport(report), Vec::new(), warnings);
        result_json(&result)
    }

    /// `openShift`.
    pub(super) fn open_shift(&self, st: &mut DeviceState, params: &ShiftParams) -> Result<Value, AtolError> {
        if st.shift.open {
            return Err(AtolError::new(DENIED_IN_OPENED_SHIFT, "shift already open"));
        }
        let previous = st.shift.clone();
        st.shift.number = st.shift.number.saturating_add(1);
        st.shift.open = true;
        st.shift.opened_ms = Some(self.now_ms());
        st.shift.receipts = 0;
        let result = self.shift_report(st, ShiftReportKind::Open, params, None, Vec::new());
        if result.is_err() {
            st.shift = previous;
        }
        result
    }

    /// `closeShift`: the report carries 2104, 2112, 2113 (`shift_close_marking`).
    pub(super) fn close_shift(&self, st: &mut DeviceState, params: &ShiftParams) -> Result<Value, AtolError> {
        if !st.shift.open {
            return Err(AtolError::new(DENIED_IN_CLOSED_SHIFT, "shift already closed"));
        }
        let mut warnings = Vec::new();
        if let Some(check) = st.fn_m.cancel_check() {
            warnings.push(format!(
                "the marking check of {:?} in progress was cancelled by the shift close",
                check.code
            ));
            st.end_link(CheckOutcome::Cancelled, self.now_ms());
        }
        let marking = st.fn_m.shift_close_marking();
        let result = self.shift_report(st, ShiftReportKind::Close, params, Some(marking), warnings)?;
        st.shift.open = false;
        Ok(result)
    }

    /// `getShiftStatus`.
    pub(super) fn shift_status(&self, st: &DeviceState) -> Result<Value, AtolError> {
        let now = self.now_ms();
        let offset = st.options.kkt.local_utc_offset_s;
        result_json(&ShiftStatusResult {
            shift_status: ShiftStatus {
                state: shift_state(st, now),
                number: st.shift.number,
                documents_count: st.shift.receipts,
                expired_time: st
                    .shift
                    .opened_ms
                    .filter(|_| st.shift.open)
                    .map(|o| local_iso(o.saturating_add(SHIFT_LIFE_MS), offset)),
            },
        })
    }

    /// `getDeviceStatus`.
    pub(super) fn device_status(&self, st: &DeviceState) -> Result<Value, AtolError> {
        let now = self.now_ms();
        result_json(&DeviceStatusResult {
            device_status: DeviceStatus {
                current_date_time: local_iso(now, st.options.kkt.local_utc_offset_s),
                shift: shift_state(st, now),
                blocked: st.fn_m.marking_status().state == 0,
                cover_opened: false,
                paper_present: true,
                fiscal: true,
                fn_fiscal: true,
                fn_present: true,
                cash_drawer_opened: false,
            },
        })
    }

    /// `getDeviceInfo`.
    pub(super) fn device_info(&self, st: &DeviceState) -> Result<Value, AtolError> {
        result_json(&DeviceInfoResult {
            device_info: DeviceInfo {
                model: MODEL,
                model_name: "markcert KKT".into(),
                serial: st.fn_m.registration().kkt_serial.clone(),
                firmware_version: env!("CARGO_PKG_VERSION").into(),
                configuration_version: None,
                receipt_line_length: LINE_LENGTH,
                ffd_version: "1.2".into(),
                fn_ffd_version: "1.2".into(),
            },
        })
    }

    /// `getFnInfo`.
    pub(super) fn fn_info(&self, st: &DeviceState) -> Result<Value, AtolError> {
        result_json(&FnInfoResult {
            fn_info: FnInfo {
                serial: st.fn_m.registration().fn_serial.clone(),
                ffd_version: "1.2".into(),
                fn_ffd_version: Some("1.2".into()),
                version: Some(format!("markcert ФН-М {}", env!("CARGO_PKG_VERSION"))),
                live_phase: Some("fiscalMode".into()),
                validity_date: None,
                number_of_registrations: Some(1),
                registrations_remaining: Some(29),
                warnings: Some(FnWarnings {
                    memory_overflow: st.fn_m.notice_level() >= 4,
                    ..FnWarnings::default()
                }),
            },
        })
    }

    /// `reportX`: no fiscal document.
    pub(super) fn report_x(&self, _st: &DeviceState) -> Result<Value, AtolError> {
        result_json(&ShiftDocumentResult { fiscal_params: None, warnings: None })
    }

    /// `pingIsm`.
    pub(super) fn ping_ism(&self, st: &mut DeviceState) -> Result<Value, AtolError> {
        let call = CallInfo::new(OISM_HOST, FAULT_PATH_CHECK, self.now_ms());
        let decision = self.ctx.faults.decide(&call);
        let connected = st.options.ofd.reachable
            && !st.fn_m.is_autonomous()
            && matches!(decision.action, Action::Pass | Action::Drip { .. });
        let time = Duration::from_millis(st.options.oism.latency_ms).saturating_add(decision.delay);
        result_json(&PingIsm {
            ism_connected: connected,
            time_ms: if connected { u64::try_from(time.as_millis()).unwrap_or(u64::MAX) } else { 0 },
        })
    }

    /// `ismExchangeStatus` / `ofdExchangeStatus`: notifications without a ticket.
    pub(super) fn exchange_status(&self, st: &DeviceState) -> Result<Value, AtolError> {
        let first = st.fn_m.unsent().next();
        result_json(&ExchangeStatus {
            queue_count: st.fn_m.unsent_count(),
            first_number: first.map_or(0, |n| n.notification_number),
            first_date_time: first
                .map(|n| local_seconds_iso(n.local_time, st.options.kkt.local_utc_offset_s)),
        })
    }

    /// `updateFnmKeys` (419/425 from `fn.keys_update`).
    pub(super) fn update_keys(&self, st: &mut DeviceState) -> Result<Value, AtolError> {
        st.fn_m.update_keys().map_err(|e| fn_error(&e))?;
        Ok(Value::Null)
    }

    /// `markcertFnAuthenticate`: the ФН's MAC of the base64 challenge (13 when it is not base64).
    pub(super) fn authenticate(&self, st: &DeviceState, challenge: &str) -> Result<Value, AtolError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let bytes = b64
            .decode(challenge.trim())
            .ok()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| AtolError::invalid_param("challenge must be non-empty base64"))?;
        let answer = st.fn_m.authenticate(&bytes).map_err(|e| fn_error(&e))?;
        result_json(&FnAuthResult { fn_serial: answer.fn_serial, mac: answer.mac, alg: answer.alg })
    }
}

/// The shift's ATOL state at `now_ms`.
fn shift_state(st: &DeviceState, now_ms: i64) -> ShiftState {
    if !st.shift.open {
        ShiftState::Closed
    } else if st.shift.expired(now_ms) {
        ShiftState::Expired
    } else {
        ShiftState::Opened
    }
}

/// FFD local seconds as an ISO date-time with the KKT's offset.
fn local_seconds_iso(local_s: u32, offset_s: i32) -> String {
    let utc_ms = (i64::from(local_s) - i64::from(offset_s)).saturating_mul(1000);
    local_iso(utc_ms, offset_s)
}
