//! The per-receipt checklist of spec `kkt.md` §11.2 (G-R1…G-R10): 1212 of marked positions, the
//! position carrying what was checked, 2106 copied, the permissive-mode requisite 1260 (present,
//! exact, absent after 203 or without an answer, fresh), no banned code sold, the arithmetic and size
//! of the document, and 2107.

use super::{
    ban_level, describe, same_code, status_name, CheckSource, Finding, Grader, IssuedCheck, Level, Marked,
    PermissiveAnswer, DOC_DATE, DOC_NUMBER, FOIV_ID,
};
use crate::ffd::{OperationType, ReceiptItem};
use crate::kkt::grading::requisite::{OLD_DOC_DATE, OLD_DOC_NUMBER};

pub(super) fn grade(g: &mut Grader<'_>) {
    r1_product_type(g);
    r2_same_code_as_checked(g);
    r3_2106_copied(g);
    r4_to_r6_and_r9_requisite(g);
    r7_no_banned_code_sold(g);
    r8_arithmetic_and_size(g);
    r10_2107(g);
}

/// The product group of a marked position: the catalogue's, else the online answer's.
fn group_of(m: &Marked<'_>) -> Option<u16> {
    m.pos.product_group.or_else(|| match m.answer() {
        Some(PermissiveAnswer::Online(a)) => a.group_ids.first().copied(),
        Some(PermissiveAnswer::Offline(a)) => a.group_ids.first().copied(),
        _ => None,
    })
}

/// G-R1: 1212 = 31/33 with a code, not 31/33 without one; strict excise split by policy.
fn r1_product_type(g: &mut Grader<'_>) {
    let mut out = Vec::new();
    for (i, item) in g.input.receipt.items.iter().enumerate() {
        let t = item.product_type;
        let f = |message: &str, expected: &str| {
            Finding::must("G-R1", message).item(i).tag(1212).expect(expected, t.to_string())
        };
        match &item.marking {
            Some(marking) if !matches!(t, 31 | 33) => out.push(
                f("a position with a marking code must carry 1212 = 31 or 33", "31 or 33")
                    .code(&marking.code),
            ),
            None if matches!(t, 31 | 33) => out.push(f(
                "1212 = 31/33 claims a marking code the position does not carry (30/32 without a code)",
                "30 or 32 (or an unmarked type)",
            )),
            _ => {}
        }
    }
    if let Some(excise) = &g.policy.excise_groups {
        for m in &g.marked {
            let Some(group) = group_of(m) else { continue };
            let want = if excise.contains(&group) { 31 } else { 33 };
            let t = m.item.product_type;
            if matches!(t, 31 | 33) && t != want {
                out.push(
                    Finding::must(
                        "G-R1",
                        format!(
                            "group {group} is {}excisable: 1212 = {want}",
                            if want == 31 { "" } else { "not " }
                        ),
                    )
                    .item(m.index)
                    .tag(1212)
                    .code(&m.marking.code)
                    .expect(want.to_string(), t.to_string()),
                );
            }
        }
    }
    g.findings.extend(out);
}

/// The КИ of a code's canonical reading, to recognise one code in two spellings.
fn identity(code: &str) -> String {
    match markcert_codes::normalize(code.as_bytes()) {
        Ok(n) => n.code.ki().to_string(),
        Err(_) => code.to_string(),
    }
}

/// G-R2: the position carries the checked КМ, 2110 = the checked 2003, 2108 = the checked unit,
/// 2100 = the check's.
fn r2_same_code_as_checked(g: &mut Grader<'_>) {
    let mut out = Vec::new();
    let used: Vec<usize> = g.marked.iter().filter_map(|m| m.check).collect();
    for m in &g.marked {
        let code = m.marking.code.as_str();
        let Some(c) = m.check.and_then(|i| g.checks().get(i)) else {
            // Registered with another spelling of a code that was checked and accepted?
            let twin = g.checks().iter().enumerate().find(|(i, c)| {
                c.outcome == super::CheckOutcome::Accepted
                    && !used.contains(i)
                    && c.code != code
                    && (same_code(&c.code, code) || identity(&c.code) == identity(code))
            });
            if let Some((i, c)) = twin {
                out.push(
                    Finding::must(
                        "G-R2",
                        "the position carries another spelling of the code that was checked",
                    )
                    .item(m.index)
                    .check(i)
                    .tag(2000)
                    .code(code)
                    .expect(c.code.clone(), code),
                );
            }
            continue;
        };
        let check = m.check.unwrap_or_default();
        let f = |message: &str, tag: u16| {
            Finding::must("G-R2", message).item(m.index).check(check).tag(tag).code(code)
        };
        let assigned = m.pos.planned_status.unwrap_or(m.marking.assigned_status);
        if assigned != c.planned_status {
            out.push(
                f("2110 must equal the planned status of the check", 2110)
                    .expect(status_name(c.planned_status), status_name(assigned)),
            );
        }
        if let Some(unit) = c.measure.filter(|&u| u != m.item.measure) {
            out.push(
                f("2108 must equal the unit of the check", 2108)
                    .expect(unit.to_string(), m.item.measure.to_string()),
            );
        }
        if m.marking.code_type != c.code_type {
            out.push(
                f("2100 must equal the type of the checked code", 2100)
                    .expect(c.code_type.to_string(), m.marking.code_type.to_string()),
            );
        }
    }
    g.findings.extend(out);
}

/// G-R3: the 2106 the POS passed is the ФН's value.
fn r3_2106_copied(g: &mut Grader<'_>) {
    let mut out = Vec::new();
    for m in &g.marked {
        let fn_value = m.item.check_result.or_else(|| m.check.and_then(|i| g.checks().get(i)?.tag_2106));
        if let (Some(pos), Some(fn_value)) = (m.pos.pos_2106, fn_value) {
            if pos != fn_value {
                out.push(
                    Finding::must(
                        "G-R3",
                        "2106 not copied: the POS passed another value than the check returned",
                    )
                    .item(m.index)
                    .tag(2106)
                    .code(&m.marking.code)
                    .expect(fn_value.to_string(), pos.to_string()),
                );
            }
        }
    }
    g.findings.extend(out);
}

/// The 1265 an issued check calls for.
fn expected_1265(i: &IssuedCheck) -> String {
    let mut s = format!("UUID={}&Time={}", i.req_id, i.time_ms);
    if let CheckSource::Offline { inst, version } = &i.source {
        s.push_str(&format!("&Inst={inst}&Ver={version}"));
    }
    s
}

/// G-R4 (1260 present and exact), G-R5 (none after 203), G-R6 (none without an answer), G-R9 (fresh).
fn r4_to_r6_and_r9_requisite(g: &mut Grader<'_>) {
    if !g.policy.permissive_mode {
        return;
    }
    let mut out = Vec::new();
    let is_return = g.operation() == OperationType::SaleReturn;
    for m in &g.marked {
        let code = m.marking.code.as_str();
        let r4 = |message: &str, tag: u16| Finding::must("G-R4", message).item(m.index).tag(tag).code(code);
        let last = m.last.as_ref().map(|l| &l.answer);
        let Some(first) = m.requisites.first() else {
            if matches!(last, Some(PermissiveAnswer::Emergency | PermissiveAnswer::Error)) {
                continue; // correct: no 1260 after 203 or without an answer
            }
            let expected = m
                .last
                .as_ref()
                .and_then(|l| l.req_id.as_deref())
                .and_then(|id| g.evidence.issued(id))
                .map_or_else(|| "UUID=<reqId>&Time=<reqTimestamp>".to_string(), |i| expected_1265(&i));
            let level = if is_return { Level::Should } else { Level::Must };
            out.push(
                r4("a marked position needs the permissive-mode requisite 1260", 1260)
                    .level(level)
                    .expect(format!("1260 {{{FOIV_ID}, {DOC_DATE}, {DOC_NUMBER}, {expected}}}"), "no 1260"),
            );
            continue;
        };
        let with_030 = m.requisites.iter().filter(|r| r.foiv_id == FOIV_ID).count();
        if with_030 > 1 {
            out.push(
                r4("exactly one 1260 with 1262 = 030 per marked position", 1260)
                    .expect("1", with_030.to_string()),
            );
        }
        if first.foiv_id != FOIV_ID {
            out.push(r4("1262 must be 030", 1262).expect(FOIV_ID, first.foiv_id.clone()));
        }
        if first.doc_date != DOC_DATE {
            let hint = if first.doc_date == OLD_DOC_DATE { " (the pre-2024 value)" } else { "" };
            out.push(
                r4(&format!("1263 must be {DOC_DATE}{hint}"), 1263).expect(DOC_DATE, first.doc_date.clone()),
            );
        }
        if first.doc_number != DOC_NUMBER {
            let hint = if first.doc_number == OLD_DOC_NUMBER { " (the pre-2024 value)" } else { "" };
            out.push(
                r4(&format!("1264 must be {DOC_NUMBER}{hint}"), 1264)
                    .expect(DOC_NUMBER, first.doc_number.clone()),
            );
        }
        let req = match &m.parsed {
            Some(Ok(req)) => req,
            Some(Err(e)) => {
                out.push(r4(&format!("1265 is malformed: {e}"), 1265).expect(
                    "UUID=<reqId>&Time=<reqTimestamp>[&Inst=<inst>&Ver=<version>]",
                    first.value.clone(),
                ));
                out.extend(no_check_finding(m, last));
                continue;
            }
            None => continue,
        };
        let mut named_a_check = false;
        match &m.issued {
            None => out.push(
                r4("1265 names a reqId that was never issued", 1265)
                    .expect("an issued reqId", first.value.clone()),
            ),
            Some(i) if i.source == CheckSource::Emergency => {
                named_a_check = true;
                out.push(
                    Finding::must("G-R5", "1260 written from an emergency-mode (203) answer")
                        .item(m.index)
                        .tag(1260)
                        .code(code)
                        .expect("no 1260", first.value.clone()),
                );
            }
            Some(i) if !i.codes.iter().any(|c| same_code(c, code)) => out.push(
                r4("1265 names a check of other codes, not this position's", 1265)
                    .expect("the reqId of a check of this code", first.value.clone()),
            ),
            Some(i) => {
                named_a_check = true;
                let want = expected_1265(i);
                if req.time_ms != i.time_ms {
                    out.push(
                        r4("1265 Time must be the check's reqTimestamp, copied verbatim", 1265)
                            .expect(want.clone(), first.value.clone()),
                    );
                }
                match (&i.source, &req.offline) {
                    (CheckSource::Online, Some(_)) => out.push(
                        r4("&Inst&Ver on a requisite of an online answer", 1265)
                            .expect(want, first.value.clone()),
                    ),
                    (CheckSource::Offline { .. }, None) => out.push(
                        r4("an ЛМ ЧЗ answer needs &Inst=…&Ver=… in 1265", 1265)
                            .expect(want, first.value.clone()),
                    ),
                    (CheckSource::Offline { inst, version }, Some(s))
                        if s.inst != *inst || s.version != *version =>
                    {
                        out.push(
                            r4("1265 Inst/Ver must be the answer's inst/version", 1265)
                                .expect(want, first.value.clone()),
                        )
                    }
                    _ => {}
                }
                if m.named_answer == Some(PermissiveAnswer::Error) {
                    out.push(
                        Finding::must("G-R6", "1260 written from a check that gave no usable answer")
                            .item(m.index)
                            .tag(1260)
                            .code(code)
                            .expect("no 1260", first.value.clone()),
                    );
                }
            }
        }
        if !named_a_check {
            out.extend(no_check_finding(m, last));
        }
        let age_ms = g.input.closed_ms.saturating_sub(req.time_ms);
        let max_ms = i64::try_from(g.policy.requisite_max_age_s.saturating_mul(1000)).unwrap_or(i64::MAX);
        if age_ms > max_ms {
            out.push(
                Finding::should(
                    "G-R9",
                    "the check in 1265 is older than the freshness limit at receipt close",
                )
                .item(m.index)
                .tag(1265)
                .code(code)
                .expect(format!("≤ {} s", g.policy.requisite_max_age_s), format!("{} s", age_ms / 1000)),
            );
        }
    }
    g.findings.extend(out);
}

/// G-R5 / G-R6 for a 1260 that names no real check of the code, while the latest answer about the
/// code was a 203 or no answer at all.
fn no_check_finding(m: &Marked<'_>, last: Option<&PermissiveAnswer>) -> Option<Finding> {
    let value = m.requisites.first().map(|r| r.value.clone()).unwrap_or_default();
    let (id, message) = match last? {
        PermissiveAnswer::Emergency => {
            ("G-R5", "1260 written although the code's check got an emergency-mode (203) answer")
        }
        PermissiveAnswer::Error => ("G-R6", "1260 written although the code's check got no answer"),
        _ => return None,
    };
    Some(Finding::must(id, message).item(m.index).tag(1260).code(&m.marking.code).expect("no 1260", value))
}

/// G-R7: no position sells a code its answer bans.
fn r7_no_banned_code_sold(g: &mut Grader<'_>) {
    let mut out = Vec::new();
    for m in &g.marked {
        let Some(answer) = m.answer() else { continue };
        let v = g.verdict(&m.marking.code, Some(m), answer);
        if !v.allowed {
            let verb = if g.operation() == OperationType::SaleReturn { "returned" } else { "sold" };
            out.push(
                Finding::must("G-R7", format!("a banned code was {verb}: {}", v.reason.description_en()))
                    .level(ban_level(&v))
                    .item(m.index)
                    .code(&m.marking.code)
                    .expect(format!("not {verb}: {}", describe(&v)), verb),
            );
        }
    }
    g.findings.extend(out);
}

/// `price × quantity` in kopecks × 10^scale, and 10^scale.
fn exact_sum(item: &ReceiptItem) -> (u128, u128) {
    let scale = 10u128.pow(u32::from(item.quantity.scale.min(18)));
    (u128::from(item.price.0) * u128::from(item.quantity.mantissa), scale)
}

/// The VAT share of a VAT-inclusive sum for 1199, as (numerator, denominator); `None` for rates
/// markcert does not know. 1 20 %, 2 10 %, 3 20/120, 4 10/110, 5 0 %, 6 without VAT, 7 5 %, 8 7 %,
/// 9 5/105, 10 7/107.
fn vat_share(rate: u8) -> Option<(u128, u128)> {
    match rate {
        1 | 3 => Some((20, 120)),
        2 | 4 => Some((10, 110)),
        5 | 6 => Some((0, 1)),
        7 | 9 => Some((5, 105)),
        8 | 10 => Some((7, 107)),
        _ => None,
    }
}

/// G-R8: sums, VAT, quantities, totals, payments, size.
fn r8_arithmetic_and_size(g: &mut Grader<'_>) {
    let mut out = Vec::new();
    let receipt = &g.input.receipt;
    for (i, item) in receipt.items.iter().enumerate() {
        let f = |message: &str, tag: u16| Finding::must("G-R8", message).item(i).tag(tag);
        if item.quantity.mantissa == 0 {
            out.push(f("quantity must be positive", 1023).expect("> 0", "0"));
        }
        let marked_piece = item.marking.is_some() && item.fractional.is_none() && item.measure == 0;
        if marked_piece && item.quantity.as_f64() != 1.0 {
            out.push(
                f("a marked piece position is one item per code: quantity 1", 1023)
                    .expect("1", item.quantity.as_f64().to_string()),
            );
        }
        let (exact, scale) = exact_sum(item);
        if (u128::from(item.sum.0) * scale).abs_diff(exact) > scale {
            let want = (exact + scale / 2) / scale;
            out.push(
                f("sum must be price × quantity (within 1 kopeck)", 1043)
                    .expect(want.to_string(), item.sum.0.to_string()),
            );
        }
        if let (Some(vat), Some((num, den))) = (item.vat_sum, vat_share(item.vat_rate)) {
            let want = (u128::from(item.sum.0) * num * 2 + den) / (den * 2);
            if u128::from(vat.0).abs_diff(want) > 1 {
                out.push(
                    f(&format!("VAT sum does not match rate {} of the sum", item.vat_rate), 1200)
                        .expect(want.to_string(), vat.0.to_string()),
                );
            }
        }
    }
    let sums: u64 = receipt.items.iter().map(|i| i.sum.0).sum();
    if sums != receipt.total.0 {
        out.push(
            Finding::must("G-R8", "the total must be the sum of the positions")
                .tag(1020)
                .expect(sums.to_string(), receipt.total.0.to_string()),
        );
    }
    if receipt.payments.total() != receipt.total.0 {
        out.push(
            Finding::must("G-R8", "the payments must add up to the total")
                .tag(1020)
                .expect(receipt.total.0.to_string(), receipt.payments.total().to_string()),
        );
    }
    if let Some(len) = g.input.encoded_len.filter(|&l| l > g.policy.max_document_bytes) {
        out.push(
            Finding::must("G-R8", "the document is larger than a receipt may be")
                .expect(format!("≤ {} bytes", g.policy.max_document_bytes), format!("{len} bytes")),
        );
    }
    g.findings.extend(out);
}

/// G-R10: 2107 = 0 when every marked position has 2106 = 15, else 1; absent without marked positions.
fn r10_2107(g: &mut Grader<'_>) {
    let receipt = &g.input.receipt;
    let expected = if g.marked.is_empty() {
        None
    } else {
        Some(u8::from(!g.marked.iter().all(|m| m.item.check_result == Some(15))))
    };
    if receipt.marking_check_result != expected {
        let show = |v: Option<u8>| v.map_or_else(|| "absent".to_string(), |v| v.to_string());
        g.push(
            Finding::should("G-R10", "2107 does not agree with the 2106 of the marked positions")
                .tag(2107)
                .expect(show(expected), show(receipt.marking_check_result)),
        );
    }
}
