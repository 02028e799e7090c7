//! `sell` / `sellReturn` of the emulated KKT (`kkt.md` §7 steps 7–9, §10.4): the ATOL receipt is
//! checked and mapped onto an FFD 1.2 receipt, marked positions are bound to the codes the ФН accepted,
//! the receipt is numbered, signed, graded and journaled, the ФН forms notification 82 (B7h) and the
//! ОФД sends it when it can.
//!
//! Owns the field → tag mapping and the task's refusals. Must not grade (the grader does) or decide
//! the ФН's refusals (B7h does). The receipt changes nothing until every position has been checked,
//! except codes the KKT validates itself (`validateMarkingCodes`), which stay accepted if a later
//! step refuses the receipt.
//!
//! Refusals, in order:
//!
//! | Problem | Code |
//! |---|---|
//! | shift closed / older than 24 h | 73 / 68 (libfptr's "shift closed", "shift exceeded 24 h") |
//! | no position; price, quantity, amount not valid numbers; industry requisite out of §4.16 | 13 |
//! | `productCodes` with an unknown key or several keys | 13 |
//! | `imc` not base64 / not text | 405 |
//! | `imcModeProcessing` ≠ 0, fraction not n < m | 409 |
//! | `itemQuantity` / `itemUnits` with a status other than 2/4 | 413 |
//! | `imcParams` on a position that is not goods (1212 ∉ {1, 2, 30–33}) | 416 |
//! | `imcParams` on a position declared without a code (1212 = 30 or 32) | 426 |
//! | code checked with another planned status | 404 |
//! | code not accepted in the ФН (implicit validation off or `error`) | 420 |
//! | `total` given and ≠ Σ position sums | 227 (libfptr "invalid total") |
//! | payments < total / non-cash payments above the total | 66 (libfptr "not fully paid") / 13 |
//! | B7h refusal (store full, status mismatch, …) | the ФН's ATOL code (§6.4) |

use super::check::{decode, fraction, quantity};
use super::evidence::RunEvidence;
use super::{fn_error, local_iso, DeviceState, Exchange, KktDevice};
use crate::ffd::{
    Document, DocumentHeader, FractionalQuantity, IndustryRequisite, ItemMarking, Kopecks, OperationType,
    Payments, ProductCode, Receipt, ReceiptItem,
};
use crate::kkt::atol::error::AtolError;
use crate::kkt::atol::wire::{
    result_json, IndustryInfo, PaymentObject, Position, Receipt as ReceiptTask, ReceiptFiscalParams,
    SellResult, TaxType,
};
use crate::kkt::fn_m::{AcceptedCode, CheckRequest};
use crate::kkt::grading::{grade_receipt, GradingPolicy, PosItemFacts, ReceiptEvidence};
use crate::kkt::oism;
use crate::kkt::options::ImplicitValidation;
use serde_json::{json, Value};

/// libfptr: shift exceeded 24 hours.
const SHIFT_EXPIRED: u16 = 68;
/// libfptr: shift closed, operation impossible.
const DENIED_IN_CLOSED_SHIFT: u16 = 73;
/// libfptr: receipt not fully paid.
const NOT_FULLY_PAID: u16 = 66;
/// libfptr: invalid receipt total.
const INVALID_TOTAL: u16 = 227;
/// The ФНС address printed on receipts.
const FNS_URL: &str = "www.nalog.gov.ru";

/// What the POS sent about a marked position.
struct PosMarking {
    code: String,
    planned_status: u8,
    strict_imc: bool,
    pos_2106: Option<u8>,
    fractional: Option<FractionalQuantity>,
}

/// A position checked and mapped, before its code is bound to the ФН's table.
struct Planned {
    item: ReceiptItem,
    marking: Option<PosMarking>,
}

/// The shift state refusals of fiscal documents.
pub(super) fn ensure_shift_open(st: &DeviceState, now_ms: i64) -> Result<(), AtolError> {
    if !st.shift.open {
        return Err(AtolError::new(DENIED_IN_CLOSED_SHIFT, "shift closed: open a shift first"));
    }
    if st.shift.expired(now_ms) {
        return Err(AtolError::new(SHIFT_EXPIRED, "shift exceeded 24 hours: close it and open a new one"));
    }
    Ok(())
}

/// Money in roubles as kopecks (13 when negative or not a number).
fn kopecks(roubles: f64, what: &str) -> Result<Kopecks, AtolError> {
    Kopecks::from_roubles(roubles)
        .ok_or_else(|| AtolError::invalid_param(format!("{what} {roubles} is not a valid sum")))
}

/// 1200 for a sum at a VAT rate: the tax included in `sum`, rounded half up; `None` without VAT.
fn vat_sum(rate: TaxType, sum: Kopecks) -> Option<Kopecks> {
    let (num, den): (u64, u64) = match rate {
        TaxType::None => return None,
        TaxType::Vat0 => (0, 1),
        TaxType::Vat20 | TaxType::Vat120 => (20, 120),
        TaxType::Vat10 | TaxType::Vat110 => (10, 110),
        TaxType::Vat5 | TaxType::Vat105 => (5, 105),
        TaxType::Vat7 | TaxType::Vat107 => (7, 107),
        TaxType::Vat22 | TaxType::Vat122 => (22, 122),
    };
    Some(Kopecks(
        (u128::from(sum.0) * u128::from(num) + u128::from(den / 2)).div_euclid(u128::from(den)) as u64
    ))
}

/// `yyyy.MM.dd` → `DD.MM.YYYY`, a real calendar date.
fn convert_date(date: &str) -> Option<String> {
    let mut parts = date.split('.');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !digits(y, 4) || !digits(m, 2) || !digits(d, 2) {
        return None;
    }
    let (year, month, day): (u32, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days).contains(&day).then(|| format!("{d}.{m}.{y}"))
}

/// An `industryInfo` entry as 1260/1261, with the §4.16 checks (13 on a violation).
fn industry(info: &IndustryInfo, tag: u16) -> Result<IndustryRequisite, AtolError> {
    let bad = |what: String| AtolError::invalid_param(format!("industryInfo ({tag}): {what}"));
    if info.fois.chars().count() != 3 {
        return Err(bad(format!("fois (1262) must be exactly 3 characters, got {:?}", short(&info.fois))));
    }
    let doc_date = convert_date(&info.date)
        .ok_or_else(|| bad(format!("date (1263) must be a date yyyy.MM.dd, got {:?}", short(&info.date))))?;
    if info.number.chars().count() > 32 {
        return Err(bad(format!(
            "number (1264) is longer than 32 characters: {}",
            info.number.chars().count()
        )));
    }
    let len = info.industry_attribute.chars().count();
    if len > 256 {
        return Err(bad(format!("industryAttribute (1265) is longer than 256 characters: {len}")));
    }
    Ok(IndustryRequisite {
        foiv_id: info.fois.clone(),
        doc_date,
        doc_number: info.number.clone(),
        value: info.industry_attribute.clone(),
    })
}

/// A client's text cut short for a message.
fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

/// The 1163 inner tag of a `productCodes` key (`kkt.md` §4.15).
fn product_code_tag(key: &str) -> Option<u16> {
    Some(match key {
        "undefined" => 1300,
        "ean8" => 1301,
        "ean13" => 1302,
        "itf14" => 1303,
        "gs1" => 1304,
        "gs1m" => 1305,
        "kmk" => 1306,
        "mi" => 1307,
        "egais2" => 1308,
        "egais3" => 1309,
        "f1" => 1320,
        "f2" => 1321,
        "f3" => 1322,
        "f4" => 1323,
        "f5" => 1324,
        "f6" => 1325,
        _ => return None,
    })
}

/// 1212 values that are goods and may carry a marking code at all.
fn can_carry_code(object: PaymentObject) -> bool {
    matches!(
        object,
        PaymentObject::Commodity
            | PaymentObject::Excise
            | PaymentObject::ExciseWithoutMarking
            | PaymentObject::ExciseWithMarking
            | PaymentObject::CommodityWithoutMarking
            | PaymentObject::CommodityWithMarking
    )
}

/// Check and map one position (no change to the device).
fn plan(index: usize, p: &Position) -> Result<Planned, AtolError> {
    let at = |e: AtolError| {
        let description = format!("position {}: {}", index + 1, e.description);
        e.with_description(description)
    };
    let price = kopecks(p.price, "price").map_err(at)?;
    let sum = kopecks(p.amount, "amount").map_err(at)?;
    let qty = quantity(p.quantity, "quantity").map_err(at)?;
    if qty.mantissa == 0 {
        return Err(at(AtolError::invalid_param("quantity must be positive")));
    }
    let object = p.payment_object.unwrap_or(PaymentObject::Commodity);
    let rate = p.tax.as_ref().map_or(TaxType::None, |t| t.kind);
    let industry_reqs =
        p.industry_info.iter().map(|i| industry(i, 1260)).collect::<Result<Vec<_>, _>>().map_err(at)?;
    let product_code = match &p.product_codes {
        None => None,
        Some(map) if map.len() == 1 => map
            .iter()
            .next()
            .and_then(|(k, v)| product_code_tag(k).map(|tag| ProductCode { tag, value: v.clone() })),
        Some(_) => None,
    };
    if p.product_codes.is_some() && product_code.is_none() {
        return Err(at(AtolError::invalid_param(
            "productCodes must hold exactly one of undefined, ean8, ean13, itf14, gs1, gs1m, kmk, mi, egais2, \
             egais3, f1…f6",
        )));
    }
    let mut item = ReceiptItem {
        name: p.name.clone(),
        price,
        quantity: qty,
        sum,
        measure: p.measurement_unit.map_or(0, |u| u.code()),
        product_type: object.code(),
        payment_type: p.payment_method.map_or(4, |m| m.code()),
        vat_rate: rate.ffd_1199(),
        vat_sum: vat_sum(rate, sum),
        product_code,
        control_code: None,
        processing_mode: None,
        check_result: None,
        fractional: None,
        industry: industry_reqs,
        additional: p.additional_attribute.clone(),
        marking: None,
    };
    let Some(imc) = &p.imc_params else { return Ok(Planned { item, marking: None }) };
    if !can_carry_code(object) {
        return Err(at(AtolError::no_marked_position().with_description(format!(
            "imcParams on a position of paymentObject {} that cannot carry a marking code",
            object.name()
        ))));
    }
    if matches!(object, PaymentObject::ExciseWithoutMarking | PaymentObject::CommodityWithoutMarking) {
        return Err(at(AtolError::marked_positions_only().with_description(format!(
            "imcParams on a position declared without a marking code (paymentObject {})",
            object.name()
        ))));
    }
    let decoded = decode(&imc.imc).map_err(at)?;
    if imc.imc_mode_processing != 0 {
        return Err(at(AtolError::invalid_marking_code().with_description(format!(
            "imcModeProcessing {} (only 0 is defined)",
            imc.imc_mode_processing
        ))));
    }
    let fractional = fraction(imc.item_fractional_amount.as_deref()).map_err(at)?;
    let status = imc.item_estimated_status;
    if (imc.item_quantity.is_some() || imc.item_units.is_some()) && !status.carries_quantity() {
        return Err(at(AtolError::denied_in_current_ffd().with_description(format!(
            "itemQuantity/itemUnits only with itemDryForSale or itemDryReturn, not {}",
            status.name()
        ))));
    }
    item.processing_mode = Some(imc.imc_mode_processing);
    item.fractional = fractional.clone();
    Ok(Planned {
        item,
        marking: Some(PosMarking {
            code: decoded.code,
            planned_status: status.code(),
            strict_imc: decoded.strict,
            pos_2106: imc.item_info_check_result.map(|r| r.to_2106()),
            fractional,
        }),
    })
}

/// Payments by kind, with the change taken from cash (66 when they do not cover `total`, 13 when
/// non-cash payments exceed it).
fn payments(task: &ReceiptTask, total: Kopecks) -> Result<Payments, AtolError> {
    let mut p = Payments::default();
    for payment in &task.payments {
        let sum = kopecks(payment.sum, "payment")?;
        let slot = match payment.kind.ffd_tag() {
            1031 => &mut p.cash,
            1081 => &mut p.electronic,
            1215 => &mut p.prepaid,
            1216 => &mut p.credit,
            _ => &mut p.other,
        };
        slot.0 = slot.0.saturating_add(sum.0);
    }
    let paid = p.total();
    if paid < total.0 {
        return Err(AtolError::new(
            NOT_FULLY_PAID,
            format!("receipt not fully paid: {} of {} kopecks", paid, total.0),
        ));
    }
    let change = paid - total.0;
    if change > p.cash.0 {
        return Err(AtolError::invalid_param("non-cash payments exceed the receipt total"));
    }
    p.cash.0 -= change;
    Ok(p)
}

impl KktDevice {
    /// `sell` / `sellReturn` (see the module doc).
    pub(super) fn sell(
        &self,
        st: &mut DeviceState,
        task: &ReceiptTask,
        operation: OperationType,
    ) -> Result<Value, AtolError> {
        let now = self.now_ms();
        ensure_shift_open(st, now)?;
        let planned = task.positions().enumerate().map(|(i, p)| plan(i, p)).collect::<Result<Vec<_>, _>>()?;
        if planned.is_empty() {
            return Err(AtolError::invalid_param("a receipt needs at least one position"));
        }
        let total = Kopecks(planned.iter().map(|p| p.item.sum.0).fold(0u64, u64::saturating_add));
        if let Some(given) = task.total {
            if kopecks(given, "total")? != total {
                return Err(AtolError::new(
                    INVALID_TOTAL,
                    format!("total {given} differs from the sum of the positions ({} kopecks)", total.0),
                ));
            }
        }
        let payments = payments(task, total)?;
        let receipt_industry =
            task.industry_info.iter().map(|i| industry(i, 1261)).collect::<Result<Vec<_>, _>>()?;

        // Bind marked positions to the ФН's table: refusals first, then the KKT's own checks.
        let implicit =
            task.validate_marking_codes && st.options.kkt.implicit_validation != ImplicitValidation::Error;
        for (i, m) in planned.iter().enumerate().filter_map(|(i, p)| p.marking.as_ref().map(|m| (i, m))) {
            match st.fn_m.accepted(&m.code) {
                Some(entry) if entry.planned_status != m.planned_status => {
                    return Err(AtolError::invalid_mark_status().with_description(format!(
                        "position {}: the code was checked with planned status {}, the position says {}",
                        i + 1,
                        entry.planned_status,
                        m.planned_status
                    )))
                }
                Some(_) => {}
                None if implicit => {}
                None => {
                    return Err(AtolError::mark_not_checked().with_description(format!(
                        "position {}: the code was not checked and accepted in the fiscal drive",
                        i + 1
                    )))
                }
            }
        }
        let mut warnings = Vec::new();
        let mut implicitly = vec![false; planned.len()];
        let mut entries: Vec<Option<AcceptedCode>> = Vec::with_capacity(planned.len());
        for (i, p) in planned.iter().enumerate() {
            let Some(m) = &p.marking else {
                entries.push(None);
                continue;
            };
            let entry = match st.fn_m.accepted(&m.code) {
                Some(e) => e.clone(),
                None => {
                    implicitly[i] = true;
                    let e = self.implicit_check(st, m)?;
                    if st.options.kkt.implicit_validation == ImplicitValidation::Warn {
                        warnings.push(format!(
                            "position {}: the code was not checked by the POS; the KKT checked and accepted it \
                             itself (2106 = {})",
                            i + 1,
                            e.check_result
                        ));
                    }
                    e
                }
            };
            entries.push(Some(entry));
        }

        // The receipt.
        let code_options = st.fn_m.code_options().clone();
        let mut items = Vec::with_capacity(planned.len());
        let mut pos_items = Vec::with_capacity(planned.len());
        let world_groups: Vec<Option<u16>> = {
            let world = self.world_read();
            planned
                .iter()
                .map(|p| {
                    let code = p.marking.as_ref()?;
                    let parsed = markcert_codes::parse(code.code.as_bytes()).ok()?;
                    world.group_of(parsed.gtin())
                })
                .collect()
        };
        for (i, (p, entry)) in planned.into_iter().zip(entries).enumerate() {
            let mut item = p.item;
            let mut facts = PosItemFacts::default();
            if let (Some(m), Some(entry)) = (p.marking, entry) {
                let parsed = markcert_codes::parse(m.code.as_bytes()).ok();
                item.product_code = Some(match &parsed {
                    Some(c) => ProductCode { tag: c.tag_1163(), value: c.tag_1163_value(&code_options) },
                    None => ProductCode { tag: 1300, value: entry.item_id.chars().take(32).collect() },
                });
                item.control_code = Some(st.options.control_code(&m.code));
                item.check_result = Some(entry.check_result);
                item.marking = Some(ItemMarking {
                    code: m.code.clone(),
                    code_type: entry.code_type,
                    item_id: entry.item_id.clone(),
                    assigned_status: m.planned_status,
                });
                facts = PosItemFacts {
                    pos_2106: m.pos_2106,
                    planned_status: Some(m.planned_status),
                    imc_base64_ok: m.strict_imc,
                    registered_without_check: implicitly.get(i).copied().unwrap_or(false),
                    product_group: world_groups.get(i).copied().flatten(),
                };
                item.fractional = m.fractional;
            }
            items.push(item);
            pos_items.push(facts);
        }
        let marked: Vec<u8> =
            items.iter().filter(|i| i.marking.is_some()).filter_map(|i| i.check_result).collect();
        let local_time = self.local_time(st);
        let reg = st.fn_m.registration().clone();
        let operator = task.operator.as_ref();
        let mut receipt = Receipt {
            header: DocumentHeader {
                number: st.fn_m.peek_next_document_number(),
                local_time,
                fn_serial: reg.fn_serial.clone(),
                kkt_reg_number: reg.kkt_reg_number.clone(),
                user_inn: reg.user_inn.clone(),
                fiscal_sign: 0,
            },
            shift_number: st.shift.number,
            receipt_number: st.shift.receipts.saturating_add(1),
            operation,
            taxation: task.taxation_type.map_or(1, |t| t.ffd_1055()),
            operator_name: operator.map(|o| o.name.clone()).filter(|n| !n.trim().is_empty()),
            operator_inn: operator.and_then(|o| o.vatin.clone()).filter(|v| !v.trim().is_empty()),
            items,
            total,
            payments,
            marking_check_result: (!marked.is_empty()).then(|| u8::from(marked.iter().any(|&v| v != 15))),
            industry: receipt_industry,
        };
        let bytes = Document::Receipt(receipt.clone())
            .to_tlv_bytes()
            .map_err(|e| AtolError::invalid_param(format!("the receipt cannot be written: {e}")))?;
        receipt.header.fiscal_sign = st.fn_m.fiscal_sign(&bytes);

        // B7h, then the receipt is final.
        let control = st.options.clone();
        let outcome = st
            .fn_m
            .form_notification(&receipt, local_time, |c| control.control_code(c))
            .map_err(|e| fn_error(&e))?;
        st.fn_m.next_document_number();
        st.shift.receipts = receipt.receipt_number;
        warnings.extend(outcome.warnings.iter().map(ToString::to_string));

        let findings = self.grade(st, &receipt, pos_items, bytes.len(), now);
        let params = ReceiptFiscalParams {
            fiscal_document_number: receipt.header.number,
            fiscal_document_sign: format!("{:010}", receipt.header.fiscal_sign),
            fn_number: reg.fn_serial,
            registration_number: reg.kkt_reg_number,
            fiscal_receipt_number: receipt.receipt_number,
            shift_number: receipt.shift_number,
            receipt_sum: receipt.total.0 as f64 / 100.0,
            fiscal_document_date_time: local_iso(now, st.options.kkt.local_utc_offset_s),
            fns_url: FNS_URL.into(),
        };
        self.store(st, Document::Receipt(receipt), findings, warnings.clone());
        if let Some(n) = outcome.notification {
            self.store(st, Document::Notification(n), Vec::new(), Vec::new());
        }
        self.flush_notifications(st);
        result_json(&SellResult {
            fiscal_params: params,
            warnings: (!warnings.is_empty()).then(|| json!({ "marking": warnings })),
        })
    }

    /// The KKT checks and accepts a code the POS did not (`validateMarkingCodes`): B1h, the answer 83
    /// computed at once when the ОФД and ОИСМ would answer, B2h. 410 while another check is in
    /// progress (it is the POS's, the KKT does not discard it).
    fn implicit_check(&self, st: &mut DeviceState, m: &PosMarking) -> Result<AcceptedCode, AtolError> {
        self.settle(st);
        if st.fn_m.current_check().is_some() {
            return Err(AtolError::invalid_state().with_description(
                "a marking check is in progress: accept, decline or cancel it before registering codes the KKT \
                 must check itself",
            ));
        }
        let request = CheckRequest {
            fractional: m.fractional.clone(),
            ..CheckRequest::with_status(m.code.clone(), m.planned_status)
        };
        let local_time = self.local_time(st);
        let outcome = {
            let world = self.world_read();
            st.fn_m.begin_check(request, &world, local_time).map_err(|e| fn_error(&e))?
        };
        if let Some(request) = outcome.request {
            self.store(st, Document::MarkingRequest(request.clone()), Vec::new(), Vec::new());
            if matches!(self.exchange_with(&st.options, &m.code, false), Exchange::Answer { .. }) {
                let answer = {
                    let world = self.world_read();
                    oism::answer(&request, &world, &st.options, st.fn_m.code_options())
                };
                if st.fn_m.pass_answer(&answer).is_ok() {
                    self.store(st, Document::MarkingAnswer(answer), Vec::new(), Vec::new());
                }
            }
        }
        st.fn_m.finish_without_answer();
        st.fn_m.accept().map_err(|e| {
            // Leave no check of the KKT's own behind for the POS to trip over.
            st.fn_m.cancel_check();
            fn_error(&e)
        })
    }

    /// Grade the closed receipt (see `evidence.rs` for what the evidence can and cannot say).
    fn grade(
        &self,
        st: &mut DeviceState,
        receipt: &Receipt,
        pos_items: Vec<PosItemFacts>,
        encoded_len: usize,
        now_ms: i64,
    ) -> Vec<crate::kkt::grading::Finding> {
        let mut checks = std::mem::take(&mut st.records);
        if let Some(link) = &st.link {
            checks.push(link.record.clone());
        }
        let input = ReceiptEvidence {
            receipt: receipt.clone(),
            pos_items,
            checks,
            closed_ms: now_ms,
            encoded_len: Some(encoded_len),
        };
        let policy = GradingPolicy {
            excise_groups: st.options.grading.excise_groups.clone(),
            utc_offset_s: st.options.kkt.local_utc_offset_s,
            ..self.ctx.grading.clone()
        };
        let world = self.world_read();
        let requisites = receipt.items.iter().flat_map(|i| i.industry.iter().map(|r| r.value.as_str()));
        let evidence = RunEvidence::new(
            &world,
            &self.ctx.reqlog,
            &self.ctx.trace,
            &self.ctx.true_api_options,
            self.ctx.lm.as_deref(),
            now_ms,
            requisites,
        );
        grade_receipt(&input, &evidence, &policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_convert_and_must_exist() {
        assert_eq!(convert_date("2023.11.21").as_deref(), Some("21.11.2023"));
        assert_eq!(convert_date("2024.02.29").as_deref(), Some("29.02.2024"));
        for bad in ["2023.02.29", "2023.13.01", "2023.00.10", "21.11.2023", "2023.1.21", "2023.11.21.1", ""] {
            assert_eq!(convert_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn vat_is_included_and_rounded_half_up() {
        assert_eq!(vat_sum(TaxType::Vat10, Kopecks(9490)), Some(Kopecks(863)));
        assert_eq!(vat_sum(TaxType::Vat20, Kopecks(459_900)), Some(Kopecks(76_650)));
        assert_eq!(vat_sum(TaxType::Vat0, Kopecks(100)), Some(Kopecks(0)));
        assert_eq!(vat_sum(TaxType::None, Kopecks(100)), None);
        assert!(vat_sum(TaxType::Vat22, Kopecks(u64::MAX)).is_some());
    }

    #[test]
    fn industry_requisites_are_checked() {
        let ok = IndustryInfo {
            fois: "030".into(),
            date: "2023.11.21".into(),
            number: "1944".into(),
            industry_attribute: "UUID=x&Time=1".into(),
        };
        assert_eq!(industry(&ok, 1260).map(|r| r.doc_date), Ok("21.11.2023".into()));
        let with = |f: &dyn Fn(&mut IndustryInfo)| {
            let mut i = ok.clone();
            f(&mut i);
            industry(&i, 1260).err().map(|e| e.code)
        };
        assert_eq!(with(&|i| i.fois = "30".into()), Some(13));
        assert_eq!(with(&|i| i.date = "21.11.2023".into()), Some(13));
        assert_eq!(with(&|i| i.number = "9".repeat(33)), Some(13));
        assert_eq!(with(&|i| i.industry_attribute = "x".repeat(257)), Some(13));
        assert_eq!(with(&|i| i.industry_attribute = "x".repeat(256)), None);
    }
}
