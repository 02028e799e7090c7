//! The marking check tasks of the emulated KKT (`kkt.md` §7 steps 2–5, §8.1, §8.2, §10.2–§10.3):
//! `beginMarkingCodeValidation`, `getMarkingCodeValidationStatus`, accept, decline, cancel, clear,
//! `checkMarkingCodeValidationsReady`, the driver-side batch `validateMarks`, `addMarksToBuffer` and
//! `checkImcWorkState`; and the decision, at `begin`, of what the ОФД and ОИСМ will do with the
//! request (see the parent module's table).
//!
//! Owns the mapping of ATOL parameters onto a [`CheckRequest`] and of the ФН's check onto the §10.3
//! result shapes. Must not decide ФН refusals (the ФН model does) nor compute answers (the ОИСМ does).

use super::{fn_error, CheckLink, DeviceState, Exchange, KktDevice, FAULT_PATH_CHECK, OISM_HOST};
use crate::faults::{Action, CallInfo};
use crate::ffd::{Document, FractionalQuantity, Quantity};
use crate::kkt::atol::error::{AtolError, DriverError, DriverErrorName};
use crate::kkt::atol::wire::{
    decode_imc, result_json, AcceptResult, BeginValidationResult, EcrStage, EcrState, EcrStatus, EcrType,
    FmCheckErrorReason, FmState, FmStatus, Fraction, ImcParams, ImcType, ImcWorkState, ItemInfoCheckResult,
    MarkOperatorItemStatus, MarkOperatorResponse, MarkOperatorResponseResult, NoticeFreeMemory,
    OfflineValidation, OnlineValidation, ValidateMarksResult, ValidatedMark, ValidationParams,
    ValidationStatus, ValidationsReady,
};
use crate::kkt::fn_m::{CheckRequest, FnWarning};
use crate::kkt::grading::{CheckOutcome, KktCheckRecord};
use crate::kkt::options::KktOptions;
use base64::Engine;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Longest sleep between two looks at a check in `validateMarks`.
const BATCH_POLL: Duration = Duration::from_millis(20);

/// Digits after the decimal point kept from an ATOL quantity.
pub(super) const QUANTITY_SCALE: u8 = 6;

/// `now + d`, or (for absurd settings) a year from now, never an overflow.
fn later(now: Instant, d: Duration) -> Instant {
    const YEAR: Duration = Duration::from_secs(365 * 86_400);
    now.checked_add(d.min(YEAR)).unwrap_or(now)
}

/// A decoded `imc`: the КМ as text and whether the base64 was strict.
pub(super) struct DecodedImc {
    pub code: String,
    /// Standard, padded base64 that re-encodes to itself.
    pub strict: bool,
}

/// Decode an `imc` (405 when it is not base64, empty, or not text).
pub(super) fn decode(imc: &str) -> Result<DecodedImc, AtolError> {
    let bytes = decode_imc(imc)?;
    let strict = base64::engine::general_purpose::STANDARD.encode(&bytes) == imc;
    let code = String::from_utf8(bytes)
        .map_err(|_| AtolError::invalid_gs1().with_description("imc does not decode to text"))?;
    Ok(DecodedImc { code, strict })
}

/// `itemFractionalAmount` as tag 1291 (409 unless `n/m` with n < m; the ФН checks n < m too).
pub(super) fn fraction(text: Option<&str>) -> Result<Option<FractionalQuantity>, AtolError> {
    let Some(text) = text else { return Ok(None) };
    let f = Fraction::parse(text).filter(|f| f.numerator < f.denominator).ok_or_else(|| {
        AtolError::invalid_marking_code().with_description(format!(
            "itemFractionalAmount {:?} is not n/m with 0 < n < m",
            text.chars().take(32).collect::<String>()
        ))
    })?;
    Ok(Some(FractionalQuantity {
        part: format!("{}/{}", f.numerator, f.denominator),
        numerator: f.numerator,
        denominator: f.denominator,
    }))
}

/// An ATOL quantity as tag 1023 (13 when negative, not finite or too large).
pub(super) fn quantity(value: f64, what: &str) -> Result<Quantity, AtolError> {
    Quantity::from_f64(value, QUANTITY_SCALE)
        .ok_or_else(|| AtolError::invalid_param(format!("{what} {value} is not a valid quantity")))
}

impl KktDevice {
    /// `beginMarkingCodeValidation`.
    pub(super) fn begin(&self, st: &mut DeviceState, p: &ValidationParams) -> Result<Value, AtolError> {
        let imc = decode(&p.imc)?;
        let quantity = p.item_quantity.map(|q| quantity(q, "itemQuantity")).transpose()?;
        let request = CheckRequest {
            code: imc.code.clone(),
            explicit_type: p.imc_type.ffd_2100(),
            planned_status: p.item_estimated_status.code(),
            quantity,
            measure: p.item_units.map(|u| u.code()),
            fractional: fraction(p.item_fractional_amount.as_deref())?,
            processing_mode: p.imc_mode_processing,
            form_request: !(p.not_send_to_server || p.not_form_request),
        };
        let record = KktCheckRecord {
            code: imc.code.clone(),
            imc_base64_ok: imc.strict,
            planned_status: request.planned_status,
            quantity: request.quantity,
            measure: request.measure,
            fractional: request.fractional.clone(),
            processing_mode: request.processing_mode,
            local_check: 0,
            code_type: 0,
            answer: None,
            tag_2106: None,
            outcome: CheckOutcome::Open,
            started_ms: self.now_ms(),
            finished_ms: None,
            polled_until_ready: false,
        };
        self.settle(st);
        let local_time = self.local_time(st);
        let outcome = {
            let world = self.world_read();
            st.fn_m.begin_check(request, &world, local_time).map_err(|e| fn_error(&e))?
        };
        if outcome.warnings.iter().any(|w| matches!(w, FnWarning::PreviousCheckDiscarded { .. })) {
            st.end_link(CheckOutcome::Replaced, self.now_ms());
        }
        st.cancelled = None;
        let exchange = match &outcome.request {
            None => Exchange::NoRequest,
            Some(_) => self.exchange_with(&st.options, &imc.code, true),
        };
        if let Some(request) = &outcome.request {
            self.store(st, Document::MarkingRequest(request.clone()), Vec::new(), Vec::new());
        }
        let record =
            KktCheckRecord { local_check: outcome.local_check, code_type: outcome.code_type, ..record };
        st.link = Some(CheckLink { record, request: outcome.request, exchange, settled: None });
        self.settle(st);
        result_json(&BeginValidationResult {
            offline_validation: OfflineValidation {
                fm_check: outcome.local_check & 0b01 != 0,
                fm_check_result: outcome.local_check & 0b10 != 0,
                fm_check_error_reason: FmCheckErrorReason::from_code(u64::from(outcome.reason.code()))
                    .unwrap_or(FmCheckErrorReason::Other),
            },
        })
    }

    /// What the ОФД and ОИСМ will do with a request about `code` sent now (controls, then faults).
    /// Without `wait` (the KKT's own implicit check) an answer counts at once, whatever its delay.
    pub(super) fn exchange_with(&self, options: &KktOptions, code: &str, wait: bool) -> Exchange {
        let oism = &options.oism;
        if !options.ofd.reachable {
            return Exchange::Unreachable;
        }
        let codes = [code];
        let call = CallInfo::new(OISM_HOST, FAULT_PATH_CHECK, self.now_ms()).with_codes(&codes);
        let decision = self.ctx.faults.decide(&call);
        let now = Instant::now();
        let deadline = later(now, Duration::from_millis(oism.timeout_ms));
        match decision.action {
            Action::Refuse | Action::Reset => return Exchange::Unreachable,
            Action::Respond { status, .. } => return Exchange::OfdError { code: status },
            Action::Hang => return Exchange::Silent { deadline },
            Action::Pass | Action::Drip { .. } => {}
        }
        if !oism.answer {
            return Exchange::Silent { deadline };
        }
        let latency = Duration::from_millis(oism.latency_ms).saturating_add(decision.delay);
        if !wait {
            Exchange::Answer { due: now }
        } else if latency > Duration::from_millis(oism.timeout_ms) {
            Exchange::Silent { deadline }
        } else {
            Exchange::Answer { due: later(now, latency) }
        }
    }

    /// `getMarkingCodeValidationStatus`.
    pub(super) fn poll(&self, st: &mut DeviceState) -> Result<Value, AtolError> {
        self.settle(st);
        if st.fn_m.current_check().is_none() {
            return match st.cancelled.take() {
                Some(sent) => result_json(&ValidationStatus {
                    ready: true,
                    sent_imc_request: sent,
                    driver_error: Some(DriverError::new(
                        &AtolError::validation_canceled(),
                        DriverErrorName::ImcCheckBreak,
                    )),
                    online_validation: None,
                }),
                None => Err(AtolError::no_data().with_description("no marking code check to report")),
            };
        }
        let status = self.validation_status(st);
        if status.ready {
            if let Some(link) = st.link.as_mut() {
                link.record.polled_until_ready = true;
            }
        }
        result_json(&status)
    }

    /// The §10.3 shape of the check in progress (settled).
    fn validation_status(&self, st: &DeviceState) -> ValidationStatus {
        let sent = st.link.as_ref().is_some_and(CheckLink::sent);
        let Some(check) = st.fn_m.current_check() else {
            return ValidationStatus {
                ready: false,
                sent_imc_request: false,
                driver_error: None,
                online_validation: None,
            };
        };
        let Some(result) = check.check_result else {
            return ValidationStatus {
                ready: false,
                sent_imc_request: sent,
                driver_error: None,
                online_validation: None,
            };
        };
        let driver_error = st.link.as_ref().and_then(|l| l.settled.clone().flatten()).map(|e| {
            let name = DriverErrorName::for_code(e.code).unwrap_or(DriverErrorName::ServerNoConnect);
            DriverError::new(&e, name)
        });
        let answer = check.answer.as_ref();
        ValidationStatus {
            ready: true,
            sent_imc_request: sent,
            driver_error,
            online_validation: Some(OnlineValidation {
                item_info_check_result: ItemInfoCheckResult::from_2106(result),
                mark_operator_response: answer.map(|a| MarkOperatorResponse::from_2005(a.result)),
                mark_operator_item_status: answer
                    .and_then(|a| a.item_status)
                    .and_then(|s| MarkOperatorItemStatus::from_code(u64::from(s))),
                mark_operator_response_result: answer
                    .and_then(|a| MarkOperatorResponseResult::from_code(u64::from(a.processing_code))),
                imc_type: ImcType::from_2100(check.code_type),
                imc_barcode: answer.map(|_| check.item_id.clone()),
                imc_mode_processing: Some(check.processing_mode),
            }),
        }
    }

    /// `acceptMarkingCode`.
    pub(super) fn accept(&self, st: &mut DeviceState) -> Result<Value, AtolError> {
        self.settle(st);
        let entry = st.fn_m.accept().map_err(|e| fn_error(&e))?;
        if let Some(link) = st.link.as_mut() {
            link.record.tag_2106 = Some(entry.check_result);
        }
        st.end_link(CheckOutcome::Accepted, self.now_ms());
        result_json(&AcceptResult {
            item_info_check_result: ItemInfoCheckResult::from_2106(entry.check_result),
        })
    }

    /// `declineMarkingCode`.
    pub(super) fn decline(&self, st: &mut DeviceState) -> Result<Value, AtolError> {
        self.settle(st);
        st.fn_m.decline().map_err(|e| fn_error(&e))?;
        st.end_link(CheckOutcome::Declined, self.now_ms());
        Ok(Value::Null)
    }

    /// `cancelMarkingCodeValidation`: abort the check in progress, whatever its stage (nothing to do
    /// without one); the next poll reports 403.
    pub(super) fn cancel(&self, st: &mut DeviceState) -> Result<Value, AtolError> {
        if st.fn_m.cancel_check().is_some() {
            st.cancelled = Some(st.link.as_ref().is_some_and(CheckLink::sent));
            st.end_link(CheckOutcome::Cancelled, self.now_ms());
        }
        Ok(Value::Null)
    }

    /// `clearMarkingCodeValidationResult` (B3h): the table of accepted codes and the check in progress.
    pub(super) fn clear(&self, st: &mut DeviceState) -> Result<Value, AtolError> {
        st.fn_m.clear_table();
        st.end_link(CheckOutcome::Cancelled, self.now_ms());
        st.cancelled = None;
        Ok(Value::Null)
    }

    /// `checkMarkingCodeValidationsReady`: no check is waiting for its answer.
    pub(super) fn validations_ready(&self, st: &mut DeviceState) -> Result<Value, AtolError> {
        self.settle(st);
        let waiting = st.fn_m.current_check().is_some_and(|c| !c.is_finished());
        result_json(&ValidationsReady { validation_ready: !waiting })
    }

    /// `validateMarks`: per mark, begin, wait for the result (real time, at most `oism.timeout_ms`
    /// beyond the answer's delay), accept when 2106 bits 0–3 are all set, else decline. The first
    /// refusal fails the task; marks handled before it stay accepted or declined.
    pub(super) fn validate_marks(&self, marks: &[ValidationParams]) -> Result<Value, AtolError> {
        let mut out = Vec::with_capacity(marks.len());
        for mark in marks {
            let timeout = {
                let mut st = self.lock();
                self.begin(&mut st, mark)?;
                Duration::from_millis(st.options.oism.timeout_ms)
            };
            let started = Instant::now();
            let result = loop {
                let mut st = self.lock();
                self.settle(&mut st);
                let finished = st.fn_m.current_check().and_then(|c| c.check_result);
                if let Some(result) = finished {
                    if let Some(link) = st.link.as_mut() {
                        link.record.polled_until_ready = true;
                    }
                    let accepted = result & 0b1111 == 0b1111;
                    if accepted {
                        self.accept(&mut st)?;
                    } else {
                        self.decline(&mut st)?;
                    }
                    break ItemInfoCheckResult::from_2106(result);
                }
                if started.elapsed() > timeout.saturating_mul(2) {
                    // Cannot happen (a check settles by its deadline); never wait for ever.
                    st.fn_m.finish_without_answer();
                    continue;
                }
                let wait = match st.link.as_ref().map(|l| l.exchange) {
                    Some(Exchange::Answer { due }) => due.saturating_duration_since(Instant::now()),
                    Some(Exchange::Silent { deadline }) => deadline.saturating_duration_since(Instant::now()),
                    _ => Duration::ZERO,
                };
                drop(st);
                std::thread::sleep(wait.clamp(Duration::from_millis(1), BATCH_POLL));
            };
            let accepted = result.to_2106() & 0b1111 == 0b1111;
            out.push(ValidatedMark { imc: mark.imc.clone(), item_info_check_result: result, accepted });
        }
        result_json(&ValidateMarksResult { marks: out })
    }

    /// `addMarksToBuffer`: every mark must already be accepted in the ФН's table with the same planned
    /// status (404), else 420. Changes nothing.
    pub(super) fn add_marks_to_buffer(
        &self,
        st: &mut DeviceState,
        marks: &[ImcParams],
    ) -> Result<Value, AtolError> {
        for mark in marks {
            let imc = decode(&mark.imc)?;
            let Some(entry) = st.fn_m.accepted(&imc.code) else {
                return Err(AtolError::mark_not_checked()
                    .with_description("the code was not checked and accepted in the fiscal drive"));
            };
            if entry.planned_status != mark.item_estimated_status.code() {
                return Err(AtolError::invalid_mark_status().with_description(format!(
                    "the code was checked with status {}, not {}",
                    entry.planned_status,
                    mark.item_estimated_status.code()
                )));
            }
        }
        Ok(Value::Null)
    }

    /// `checkImcWorkState`.
    pub(super) fn imc_work_state(&self, st: &mut DeviceState) -> Result<Value, AtolError> {
        self.settle(st);
        let ms = st.fn_m.marking_status();
        let check = st.fn_m.current_check();
        let link = st.link.as_ref();
        let (status, stage) = match check {
            None => (EcrStatus::NotExecuted, EcrStage::WaitForTask),
            Some(c) if !c.is_finished() => (EcrStatus::Executed, EcrStage::WaitForResult),
            Some(c) if c.answer.is_some() => (EcrStatus::ReceivedResult, EcrStage::Completed),
            Some(_) => (EcrStatus::Completed, EcrStage::Completed),
        };
        let kind = if st.fn_m.is_autonomous() {
            EcrType::ModeStandAlone
        } else if link.is_some_and(|l| l.exchange == Exchange::NoRequest) {
            EcrType::NotSendToServer
        } else {
            EcrType::WaitForResult
        };
        result_json(&ImcWorkState {
            fm: FmState {
                status: FmStatus::from_code(u64::from(ms.state)).unwrap_or(FmStatus::Blocked),
                checking_count: ms.checking_count,
                sold_imc_count: ms.sold_imc_count,
                notice_is_begin: ms.notice_is_begin(),
                notice_free_memory: NoticeFreeMemory::from_code(u64::from(ms.notice_level))
                    .unwrap_or(NoticeFreeMemory::OutOfMemory),
                notice_count: ms.notice_count,
            },
            ecr: EcrState { status, kind, stage },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imc_decoding_and_strictness() {
        let d = decode("MDEwNDYxMjM0NTAwMDQzODIxNWFaO3EwHTkzSm00dA==").unwrap();
        assert_eq!(d.code, "0104612345000438215aZ;q0\u{1d}93Jm4t");
        assert!(d.strict);
        let lenient = decode("MDEwNDYxMjM0NTAwMDQzODIxNWFaO3EwHTkzSm00dA").unwrap();
        assert!(!lenient.strict);
        assert_eq!(decode("@@").err().map(|e| e.code), Some(405));
        assert_eq!(decode("/w==").err().map(|e| e.code), Some(405), "0xFF is not text");
    }

    #[test]
    fn fractions() {
        assert_eq!(fraction(Some("1/10")).unwrap().map(|f| f.part), Some("1/10".into()));
        assert_eq!(fraction(None).unwrap(), None);
        for bad in ["10/10", "11/10", "0/1", "x"] {
            assert_eq!(fraction(Some(bad)).err().map(|e| e.code), Some(409), "{bad}");
        }
    }
}
