//! The per-code checklist of spec `kkt.md` §11.1 (G-C1…G-C7): how the POS ran the KKT code checks
//! that led to the receipt — checked before registering, every check finished, banned codes declined,
//! planned status, processing mode and canonical bytes, fractions and measures, sale suspended.

use super::{ban_level, describe, status_name, CheckOutcome, Finding, Grader, KktCheckRecord, Marked};
use crate::ffd::{FractionalQuantity, OperationType};
use markcert_codes::NormalizeError;

pub(super) fn grade(g: &mut Grader<'_>) {
    c1_checked_before_registration(g);
    c2_every_check_finished(g);
    c3_banned_codes_declined(g);
    c4_planned_status(g);
    c5_mode_and_canonical_bytes(g);
    c6_fractions_and_measures(g);
    c7_sale_suspended_declined(g);
}

/// G-C1: every marked position has an accepted check of its КМ before close, made by the POS.
fn c1_checked_before_registration(g: &mut Grader<'_>) {
    let mut out = Vec::new();
    for m in &g.marked {
        let code = &m.marking.code;
        if m.pos.registered_without_check {
            let message = "the POS registered a code it never checked: the KKT validated it implicitly";
            out.push(Finding::must("G-C1", message).item(m.index).code(code).expect(
                "begin → poll → accept before the position",
                "implicit validation at registration (validateMarkingCodes)",
            ));
        } else if m.check.is_none() {
            let declined = g.checks().iter().any(|c| c.code == *code);
            let actual = if declined { "checked, but never accepted" } else { "no KKT check of this code" };
            out.push(
                Finding::must(
                    "G-C1",
                    "the position's code had no accepted KKT check before the receipt closed",
                )
                .item(m.index)
                .code(code)
                .expect("an accepted check of the same code", actual),
            );
        }
    }
    g.findings.extend(out);
}

/// G-C2: every check accepted or declined after `ready`; none abandoned or run over.
fn c2_every_check_finished(g: &mut Grader<'_>) {
    let mut out = Vec::new();
    for (i, c) in g.checks().iter().enumerate() {
        let problem = match c.outcome {
            CheckOutcome::Open => Some(("never accepted nor declined before the receipt closed", "open")),
            CheckOutcome::Replaced => {
                Some(("a new check was started over this unfinished one", "replaced by a new begin"))
            }
            CheckOutcome::Accepted if !c.polled_until_ready => {
                Some(("accepted without polling the check until ready", "accepted before seeing ready"))
            }
            CheckOutcome::Declined if !c.polled_until_ready => {
                Some(("declined without polling the check until ready", "declined before seeing ready"))
            }
            _ => None,
        };
        if let Some((message, actual)) = problem {
            out.push(
                Finding::must("G-C2", message)
                    .check(i)
                    .code(&c.code)
                    .expect("poll until ready, then accept or decline", actual),
            );
        }
    }
    g.findings.extend(out);
}

/// G-C3: an accepted check of a code the permissive-mode decision bans.
fn c3_banned_codes_declined(g: &mut Grader<'_>) {
    let mut out = Vec::new();
    for (i, c) in g.checks().iter().enumerate() {
        if c.outcome != CheckOutcome::Accepted {
            continue;
        }
        let position = g.marked_of_check(i);
        let answer = match position.and_then(Marked::answer) {
            Some(a) => Some(a.clone()),
            None => {
                g.evidence.last_answer(&c.code, c.finished_ms.unwrap_or(g.input.closed_ms)).map(|l| l.answer)
            }
        };
        let Some(answer) = answer else { continue };
        let v = g.verdict(&c.code, position, &answer);
        if !v.allowed {
            out.push(
                Finding::must("G-C3", format!("a banned code was accepted: {}", v.reason.description_en()))
                    .level(ban_level(&v))
                    .check(i)
                    .code(&c.code)
                    .expect(format!("declined: {}", describe(&v)), "accepted"),
            );
        }
    }
    g.findings.extend(out);
}

/// Statuses a receipt of `op` may use (`kkt.md` §4.1).
fn allowed_statuses(op: OperationType) -> &'static [u8] {
    match op {
        OperationType::Sale => &[1, 2, 5, 6],
        OperationType::SaleReturn => &[3, 4],
    }
}

/// G-C4: the planned status fits the operation, partial statuses come with a quantity or fraction.
fn c4_planned_status(g: &mut Grader<'_>) {
    let op = g.operation();
    let mut out = Vec::new();
    for (i, c) in g.checks().iter().enumerate() {
        let position = g.marked_of_check(i);
        let partial_evidence = c.fractional.is_some()
            || (c.quantity.is_some() && c.measure.is_some())
            || position.is_some_and(|m| m.item.fractional.is_some() || m.item.measure != 0);
        if let Some(f) = status_finding(op, c.planned_status, partial_evidence, c.fractional.is_some()) {
            out.push(f.check(i).code(&c.code));
        }
    }
    for m in g.marked.iter().filter(|m| m.check.is_none()) {
        let status = m.pos.planned_status.unwrap_or(m.marking.assigned_status);
        let partial = m.item.fractional.is_some() || m.item.measure != 0;
        if let Some(f) = status_finding(op, status, partial, m.item.fractional.is_some()) {
            out.push(f.item(m.index).code(&m.marking.code));
        }
    }
    g.findings.extend(out);
}

fn status_finding(op: OperationType, status: u8, partial: bool, fraction: bool) -> Option<Finding> {
    let allowed = allowed_statuses(op);
    let expected = match op {
        OperationType::Sale => "1 for a piece sale (2, 5, 6 for parts and measured goods)",
        OperationType::SaleReturn => "3 for a piece return (4 for a part)",
    };
    let f = |message: &str| Finding::must("G-C4", message).tag(2003).expect(expected, status_name(status));
    if op == OperationType::SaleReturn && status == 2 {
        return Some(f("planned status 2 (part being sold) in a return: a known POS bug, 4 or 3 is due"));
    }
    if !allowed.contains(&status) {
        return Some(f("the planned status does not fit the operation of the receipt"));
    }
    if matches!(status, 2 | 4 | 5 | 6) && !partial {
        return Some(f("a partial or measured status without a quantity and unit or a fraction"));
    }
    if matches!(status, 1 | 3) && fraction {
        return Some(f("a fractional quantity with a piece status (2 or 5 for a sale, 4 for a return)"));
    }
    None
}

/// Whether `code` is not the canonical code, and what it should have been: normalisation had to
/// repair it, or it is ambiguous. An unrepairable string is not judged here (it is no marking code
/// at all; the decision bans it).
fn non_canonical(code: &str) -> Option<String> {
    match markcert_codes::normalize(code.as_bytes()) {
        Ok(n) if n.code.as_str() != code => Some(escape(n.code.as_str())),
        Ok(_) => None,
        Err(NormalizeError::Ambiguous { candidates }) => {
            Some(format!("one of {}", candidates.iter().map(|c| escape(c)).collect::<Vec<_>>().join(", ")))
        }
        Err(NormalizeError::Unrepairable { repairs, .. }) if !repairs.is_empty() => Some(format!(
            "a code without {}",
            repairs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        )),
        Err(NormalizeError::Unrepairable { .. }) => None,
    }
}

/// A code for messages: ⟨GS⟩ written as the spec writes it, other control characters as `\u{…}`.
fn escape(code: &str) -> String {
    code.chars()
        .map(|c| match c {
            '\u{1d}' => "⟨GS⟩".to_string(),
            c if c.is_control() => format!("\\u{{{:x}}}", u32::from(c)),
            c => c.to_string(),
        })
        .collect()
}

/// G-C5: `imcModeProcessing` = 0, `imc` strict base64 of the canonical bytes — on every check, and on
/// every position (its own `imcParams`).
fn c5_mode_and_canonical_bytes(g: &mut Grader<'_>) {
    let mut out = Vec::new();
    for (i, c) in g.checks().iter().enumerate() {
        out.extend(c5_code(&c.code, c.processing_mode, c.imc_base64_ok).into_iter().map(|f| f.check(i)));
    }
    for m in &g.marked {
        let code = &m.marking.code;
        let mut found = c5_code(code, m.item.processing_mode.unwrap_or(0), m.pos.imc_base64_ok);
        if g.checks().iter().any(|c: &KktCheckRecord| c.code == *code) {
            found.retain(|f| f.tag != Some(2000)); // the check's finding already says it
        }
        out.extend(found.into_iter().map(|f| f.item(m.index)));
    }
    g.findings.extend(out);
}

fn c5_code(code: &str, mode: u8, base64_ok: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    if mode != 0 {
        out.push(
            Finding::must("G-C5", "imcModeProcessing must be 0")
                .tag(2102)
                .code(code)
                .expect("0", mode.to_string()),
        );
    }
    if !base64_ok {
        out.push(
            Finding::must("G-C5", "imc is not strict, padded base64 of the code")
                .code(code)
                .expect("RFC 4648 base64 with padding", "base64 the KKT had to read leniently"),
        );
    }
    if let Some(canonical) = non_canonical(code) {
        out.push(
            Finding::must(
                "G-C5",
                "imc is not the exact canonical code (⟨GS⟩ kept, no escapes, no layout damage)",
            )
            .tag(2000)
            .code(code)
            .expect(canonical, escape(code)),
        );
    }
    out
}

/// A fraction's own consistency: 1 ≤ n < m, 1292 = "n/m".
fn fraction_problem(f: &FractionalQuantity) -> Option<String> {
    if f.numerator == 0 || f.denominator == 0 || f.numerator >= f.denominator {
        return Some(format!("n = {}, m = {}: 1 ≤ n < m is required", f.numerator, f.denominator));
    }
    let part = format!("{}/{}", f.numerator, f.denominator);
    (f.part != part).then(|| format!("1292 `{}` does not spell 1293/1294 = {part}", f.part))
}

/// Whether `quantity` is n/m: exactly, or rounded to at least 3 decimals (1/3 → 0.333).
fn quantity_is_fraction(q: crate::ffd::Quantity, f: &FractionalQuantity) -> bool {
    let scale = 10u128.pow(u32::from(q.scale.min(18)));
    let (n, m, mantissa) = (u128::from(f.numerator), u128::from(f.denominator), u128::from(q.mantissa));
    let (lhs, rhs) = (mantissa * m, n * scale);
    lhs == rhs || (q.scale >= 3 && 2 * lhs.abs_diff(rhs) <= m)
}

/// G-C6: fractions (n < m, 1023 = n/m, 2108 = 0) and measured goods (2108 ≠ 0).
fn c6_fractions_and_measures(g: &mut Grader<'_>) {
    let mut out = Vec::new();
    for (i, c) in g.checks().iter().enumerate() {
        if let Some(problem) = c.fractional.as_ref().and_then(fraction_problem) {
            out.push(fraction_finding(problem).check(i).code(&c.code));
        }
        if c.fractional.is_none() && c.quantity.is_some() && c.measure == Some(0) {
            out.push(
                Finding::must("G-C6", "a measured check with a quantity needs a unit other than piece")
                    .check(i)
                    .tag(2108)
                    .code(&c.code)
                    .expect("2108 ≠ 0", "0 (piece)"),
            );
        }
    }
    for m in &g.marked {
        let (item, code) = (m.item, m.marking.code.as_str());
        if let Some(f) = &item.fractional {
            if let Some(problem) = fraction_problem(f) {
                out.push(fraction_finding(problem).item(m.index).code(code));
            } else if !quantity_is_fraction(item.quantity, f) {
                out.push(
                    Finding::must("G-C6", "1023 must equal the fraction n/m")
                        .item(m.index)
                        .tag(1023)
                        .code(code)
                        .expect(f.part.clone(), format!("{}", item.quantity.as_f64())),
                );
            }
            if item.measure != 0 {
                out.push(
                    Finding::must("G-C6", "a fractional position counts pieces: 2108 must be 0")
                        .item(m.index)
                        .tag(2108)
                        .code(code)
                        .expect("0", item.measure.to_string()),
                );
            }
            continue;
        }
        let check = m.check.and_then(|i| g.checks().get(i));
        let status = check.map_or(m.marking.assigned_status, |c| c.planned_status);
        let measured = matches!(status, 2 | 4 | 6) || check.is_some_and(|c| c.quantity.is_some());
        if measured && item.measure == 0 {
            out.push(
                Finding::must("G-C6", "a measured position needs its unit: 2108 ≠ 0")
                    .item(m.index)
                    .tag(2108)
                    .code(code)
                    .expect("a unit (g, kg, l, …)", "0 (piece)"),
            );
        }
    }
    g.findings.extend(out);
}

fn fraction_finding(problem: String) -> Finding {
    Finding::must("G-C6", format!("invalid fractional quantity: {problem}"))
        .tag(1291)
        .expect("1 ≤ n < m, 1292 = \"n/m\"", problem)
}

/// G-C7: a code whose answer 83 says 2109 = 3 (sale suspended) SHOULD be declined.
fn c7_sale_suspended_declined(g: &mut Grader<'_>) {
    let mut out = Vec::new();
    for (i, c) in g.checks().iter().enumerate() {
        let suspended = c.answer.as_ref().is_some_and(|a| a.item_status == Some(3));
        if c.outcome == CheckOutcome::Accepted && suspended {
            out.push(
                Finding::should(
                    "G-C7",
                    "accepted although the ОИСМ answered that the sale is suspended (2109 = 3)",
                )
                .check(i)
                .tag(2109)
                .code(&c.code)
                .expect("declined", "accepted"),
            );
        }
    }
    g.findings.extend(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffd::Quantity;

    fn frac(n: u64, m: u64) -> FractionalQuantity {
        FractionalQuantity { part: format!("{n}/{m}"), numerator: n, denominator: m }
    }

    #[test]
    fn statuses_by_operation() {
        use OperationType::{Sale, SaleReturn};
        let ok = |op, s, partial, fraction| status_finding(op, s, partial, fraction).is_none();
        assert!(ok(Sale, 1, false, false));
        assert!(ok(SaleReturn, 3, false, false));
        assert!(ok(Sale, 2, true, false) && ok(Sale, 5, true, true) && ok(Sale, 6, true, false));
        assert!(ok(SaleReturn, 4, true, true));
        assert!(!ok(Sale, 3, false, false) && !ok(Sale, 4, true, false) && !ok(Sale, 255, false, false));
        assert!(!ok(SaleReturn, 1, false, false) && !ok(SaleReturn, 2, true, false));
        assert!(!ok(Sale, 2, false, false), "partial without quantity");
        assert!(!ok(Sale, 1, true, true), "fraction with a piece status");
        let bug = status_finding(SaleReturn, 2, true, false).map(|f| f.message).unwrap_or_default();
        assert!(bug.contains("known POS bug"), "{bug}");
    }

    #[test]
    fn fractions() {
        assert_eq!(fraction_problem(&frac(1, 10)), None);
        assert!(fraction_problem(&frac(10, 10)).is_some());
        assert!(fraction_problem(&frac(0, 10)).is_some());
        assert!(fraction_problem(&FractionalQuantity { part: "1/5".into(), numerator: 1, denominator: 10 })
            .is_some());
        let q = |mantissa, scale| Quantity { mantissa, scale };
        assert!(quantity_is_fraction(q(1, 1), &frac(1, 10)));
        assert!(quantity_is_fraction(q(333, 3), &frac(1, 3)));
        assert!(quantity_is_fraction(q(667, 3), &frac(2, 3)));
        assert!(!quantity_is_fraction(q(33, 2), &frac(1, 3)), "two decimals are too coarse");
        assert!(!quantity_is_fraction(q(2, 1), &frac(1, 10)));
        assert!(!quantity_is_fraction(q(1, 0), &frac(1, 10)));
    }

    #[test]
    fn canonical_codes() {
        let milk = "0104612345000438215aZ;q0\u{1d}93Jm4t";
        assert_eq!(non_canonical(milk), None);
        assert!(non_canonical("0104612345000438215aZ;q0\\u001d93Jm4t").is_some(), "textual escape");
        assert!(non_canonical("0104612345000438215aZ;q093Jm4t").is_some(), "⟨GS⟩ dropped");
        assert!(non_canonical(&format!("]C1{milk}")).is_some(), "symbology prefix");
        assert_eq!(non_canonical("hello"), None, "not a code: not judged");
        assert_eq!(escape(milk), "0104612345000438215aZ;q0⟨GS⟩93Jm4t");
        assert_eq!(escape("a\rb"), "a\\u{d}b");
    }
}
