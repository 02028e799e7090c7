//! The permissive-mode sale-ban decision (true-api.md §10–§11, local-module.md §7, §12.2 rules 4–5):
//! from one check answer and the position being sold, [`Verdict::Allow`] or a [`Ban`] with the
//! protocol's reason.
//!
//! Pure logic, one named function per rule, so that a mutant can replace exactly one of them:
//! [`online_verdict`] (rows 1–12 in order, grey zone, prices, expiry), [`return_verdict`] (§11),
//! [`offline_verdict`] (ЛМ ЧЗ rows 1–4), [`emergency_verdict`] (203), [`no_answer_verdict`] (514 and
//! friends). Expiry is judged against the instant the caller gives — the answer's `reqTimestamp`, the
//! emulated world's time — never against this machine's clock. The decision mutants
//! (`policy.mutant`, see `mutant.rs`) are branches of these functions, each marked with its name.

use markcert_codes::{Layout, MarkingCode};

use crate::check::answer::{CodeAnswer, OfflineCode};
use crate::mutant::Mutant;
use crate::options::{BlockPriceBasis, NoAnswerPolicy, Policy};
use crate::protocol::{Reason, ReceiptKind};

/// The position a code is sold (or returned) in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaleContext {
    /// Sale or return.
    pub kind: ReceiptKind,
    /// Per-unit selling price (1079), kopecks.
    pub price_kopecks: u64,
    /// The position is a block (group package) of tobacco.
    pub is_block: bool,
    /// The instant expiry is judged at, Unix ms.
    pub now_ms: i64,
    /// Product groups known without the answer (cache of earlier answers, or the code's layout); used
    /// when the answer names none, as offline answers never do.
    pub groups_hint: Vec<u16>,
    /// MRP encoded in a tobacco pack code, kopecks.
    pub pack_mrp: Option<u64>,
}

/// A refusal: the protocol's reason and what the cashier is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ban {
    /// Protocol reason.
    pub reason: Reason,
    /// Message for the cashier.
    pub message: String,
}

/// The decision for one code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The sale (or return) may go ahead.
    Allow,
    /// It may not.
    Ban(Ban),
}

impl Verdict {
    fn ban(reason: Reason, message: impl Into<String>) -> Verdict {
        Verdict::Ban(Ban { reason, message: message.into() })
    }

    /// True for [`Verdict::Allow`].
    pub fn is_allowed(&self) -> bool {
        matches!(self, Verdict::Allow)
    }
}

/// The groups the rules look at: the answer's, else the caller's hint.
pub fn groups_of<'a>(answer_groups: &'a [u16], ctx: &'a SaleContext) -> &'a [u16] {
    if answer_groups.is_empty() {
        &ctx.groups_hint
    } else {
        answer_groups
    }
}

fn intersects(a: &[u16], b: &[u16]) -> bool {
    a.iter().any(|g| b.contains(g))
}

/// Product groups a code's layout proves without any answer: tobacco blocks are tobacco or АТП (both
/// with a maximum price); a pack with a non-zero encoded MRP is tobacco or АТП too (НСП packs carry
/// `AAAA`). Anything else: unknown (empty).
pub fn infer_groups(code: &MarkingCode) -> Vec<u16> {
    match code.layout() {
        Layout::TobaccoBlock => vec![3, 12],
        Layout::TobaccoPack if code.mrp_kopecks().is_some_and(|m| m > 0) => vec![3, 12],
        _ => Vec::new(),
    }
}

/// The decision for an online answer (True API, or a ТС ПИоТ item with `isCheckedOffline: false`).
pub fn online_verdict(a: &CodeAnswer, ctx: &SaleContext, policy: &Policy) -> Verdict {
    if ctx.kind == ReceiptKind::Return && policy.return_rules {
        return return_verdict(a, policy);
    }
    // Mutant `accept-eaeu-errors`: the vendor's error table lists 8 and 11 (the EAEU cross-border
    // check) as "warnings, sell anyway".
    if policy.has(Mutant::AcceptEaeuErrors) && matches!(a.error_code, 8 | 11) {
        return Verdict::Allow;
    }
    if let Some(ban) = basic_rows(a, policy) {
        return Verdict::Ban(ban);
    }
    // Mutant `ignore-sold`: the `sold` flag is not looked at.
    if a.sold && !policy.has(Mutant::IgnoreSold) {
        return Verdict::ban(Reason::Sold, "Товар уже выведен из оборота (продан)");
    }
    let groups = groups_of(&a.group_ids, ctx);
    // Mutant `ignore-not-in-circulation`: `realizable` is not looked at.
    if !a.realizable && !grey_zone_exception(a, groups, policy) && !policy.has(Mutant::IgnoreNotInCirculation)
    {
        return Verdict::ban(Reason::NotInCirculation, "Товар не введён в оборот");
    }
    // Mutant `ignore-expiry`: `expireDate` is not looked at.
    if let Some(expire) = a.expire_date.as_deref().filter(|_| !policy.has(Mutant::IgnoreExpiry)) {
        if is_expired(expire, ctx.now_ms) {
            return Verdict::ban(Reason::Expired, format!("Истёк срок годности ({expire})"));
        }
    }
    if let Some(ban) = price_rules(a.mrp, a.smp, a.package_quantity, groups, ctx, policy) {
        return Verdict::Ban(ban);
    }
    if a.error_code != 0 {
        let text = a.message.as_deref().unwrap_or("без описания");
        return Verdict::ban(Reason::Other, format!("Ошибка проверки кода {}: {text}", a.error_code));
    }
    if a.mrp.is_some_and(|m| m > 0) {
        return Verdict::Allow;
    }
    pack_mrp_rule(groups, ctx, policy)
}

/// Rows 1–5 (also R1–R5 of returns).
pub fn basic_rows(a: &CodeAnswer, policy: &Policy) -> Option<Ban> {
    let ban = |reason, message: String| Some(Ban { reason, message });
    let detail = || match (a.error_code, a.message.as_deref()) {
        (0, _) => String::new(),
        (c, Some(m)) => format!(" (ошибка {c}: {m})"),
        (c, None) => format!(" (ошибка {c})"),
    };
    if !a.valid {
        ban(Reason::Format, format!("Некорректная структура кода{}", detail()))
    } else if !a.found {
        ban(Reason::NotFound, format!("Нет сведений о коде в ГИС МТ{}", detail()))
    } else if !a.utilised && !policy.has(Mutant::IgnoreNotInCirculation) {
        // (Mutant `ignore-not-in-circulation`: `utilised` is not looked at either.)
        ban(Reason::NotApplied, "Нет сведений о нанесении кода".into())
    } else if !a.verified {
        ban(Reason::Crypto, format!("Код не прошёл проверку подлинности{}", detail()))
    } else if a.is_blocked && !policy.has(Mutant::SellBlocked) {
        // (Mutant `sell-blocked`: `isBlocked` is not looked at.)
        let bodies = if a.ogvs.is_empty() { String::new() } else { format!(" ({})", a.ogvs.join(", ")) };
        ban(Reason::Blocked, format!("Продажа заблокирована органом власти{bodies}"))
    } else {
        None
    }
}

/// §10.2: grey-zone tobacco may be sold although not in circulation.
pub fn grey_zone_exception(a: &CodeAnswer, groups: &[u16], policy: &Policy) -> bool {
    policy.grey_zone_exception && a.gray_zone && intersects(groups, &policy.grey_zone_groups)
}

/// §10.4: `now ≥ expireDate`, instants; an unreadable date does not ban.
pub fn is_expired(expire_date: &str, now_ms: i64) -> bool {
    parse_instant_ms(expire_date).is_some_and(|e| now_ms >= e)
}

/// An ISO-8601 date-time (`2026-01-01T00:00:00.000Z`, other RFC 3339 offsets, without an offset =
/// UTC) or a bare date (midnight UTC), as Unix ms.
pub fn parse_instant_ms(s: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    let s = s.trim();
    let to_ms = |t: time::OffsetDateTime| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok();
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return to_ms(t);
    }
    let naive = format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    if let Ok(t) = time::PrimitiveDateTime::parse(s, &naive) {
        return to_ms(t.assume_utc());
    }
    let date = format_description!(version = 2, "[year]-[month]-[day]");
    time::Date::parse(s, &date).ok().and_then(|d| to_ms(d.midnight().assume_utc()))
}

/// Rows 9–11 (§10.3): kopecks, equality allowed, absent or 0 → the row does not apply.
pub fn price_rules(
    mrp: Option<u64>,
    smp: Option<u64>,
    package_quantity: Option<u64>,
    groups: &[u16],
    ctx: &SaleContext,
    policy: &Policy,
) -> Option<Ban> {
    let price = ctx.price_kopecks;
    let scale = if ctx.is_block && policy.block_price_basis == BlockPriceBasis::Pack {
        package_quantity.unwrap_or(policy.default_package_quantity).max(1)
    } else {
        1
    };
    let limit = |v: Option<u64>| v.filter(|&v| v > 0).map(|v| v.saturating_mul(scale));
    let rub = |k: u64| format!("{}.{:02}", k / 100, k % 100);
    // Mutant `ignore-mrp`: no maximum price at all.
    let max_price = !policy.has(Mutant::IgnoreMrp);
    // Mutant `ignore-min-price`: no minimum price at all.
    let min_price = !policy.has(Mutant::IgnoreMinPrice);
    if let Some(mrp) = limit(mrp).filter(|_| max_price && intersects(groups, &policy.max_price_groups)) {
        if price > mrp {
            return Some(Ban {
                reason: Reason::PriceAboveMrp,
                message: format!("Цена {} выше МРЦ {}", rub(price), rub(mrp)),
            });
        }
    }
    if let Some(smp) = limit(smp).filter(|&smp| min_price && price < smp) {
        return Some(Ban {
            reason: Reason::PriceBelowMin,
            message: format!("Цена {} ниже ЕМЦ {}", rub(price), rub(smp)),
        });
    }
    if let Some(mrp) = limit(mrp).filter(|_| min_price && intersects(groups, &policy.min_price_groups)) {
        if price < mrp {
            return Some(Ban {
                reason: Reason::PriceBelowMin,
                message: format!("Цена {} ниже МЦ {}", rub(price), rub(mrp)),
            });
        }
    }
    None
}

/// §10.3 last rule: without an `mrp` in the answer, a pack sold above the MRP encoded in its code is
/// refused (SHOULD). Tobacco packs whose group is unknown or has a maximum price; not blocks, not
/// returns.
pub fn pack_mrp_rule(groups: &[u16], ctx: &SaleContext, policy: &Policy) -> Verdict {
    // Mutant `ignore-mrp`: (the pack's encoded MRP neither).
    if !policy.pack_mrp_rule || ctx.kind != ReceiptKind::Sale || ctx.is_block || policy.has(Mutant::IgnoreMrp)
    {
        return Verdict::Allow;
    }
    if !groups.is_empty() && !intersects(groups, &policy.max_price_groups) {
        return Verdict::Allow;
    }
    match ctx.pack_mrp {
        Some(mrp) if mrp > 0 && ctx.price_kopecks > mrp => Verdict::ban(
            Reason::PriceAboveMrp,
            format!(
                "Цена {}.{:02} выше МРЦ {}.{:02}, указанной в коде пачки",
                ctx.price_kopecks / 100,
                ctx.price_kopecks % 100,
                mrp / 100,
                mrp % 100
            ),
        ),
        _ => Verdict::Allow,
    }
}

/// §11: rows 1–5 (when `return_basic_rules`), then R6 (a code still in circulation was never sold);
/// sold, circulation, expiry and prices do not apply.
pub fn return_verdict(a: &CodeAnswer, policy: &Policy) -> Verdict {
    if policy.return_basic_rules {
        if let Some(ban) = basic_rows(a, policy) {
            return Verdict::Ban(ban);
        }
    }
    if a.realizable && !a.gray_zone {
        return Verdict::ban(Reason::Other, "Товар не продавался (код в обороте): возврат невозможен");
    }
    Verdict::Allow
}

/// local-module.md §7 for an ЛМ ЧЗ answer: rows 1–4; the online-only flags are ignored. A return is
/// refused only when blocked (the basic rules an offline answer can speak to).
pub fn offline_verdict(o: &OfflineCode, ctx: &SaleContext, policy: &Policy) -> Verdict {
    // Mutant `refuse-offline-answers`: only an online answer is trusted to authorise a sale.
    if policy.has(Mutant::RefuseOfflineAnswers) {
        return Verdict::ban(Reason::CheckUnavailable, "Нет онлайн-проверки: офлайн-ответ не принимается");
    }
    // Mutant `sell-blocked`: `isBlocked` is not looked at (here neither).
    let is_blocked = o.is_blocked && !policy.has(Mutant::SellBlocked);
    let blocked = if is_blocked && o.is_grey_gtin {
        Some("GTIN в сером списке: офлайн-решение невозможно, нужна онлайн-проверка")
    } else if is_blocked {
        Some("Код заблокирован (локальный модуль)")
    } else {
        None
    };
    if ctx.kind == ReceiptKind::Return && policy.return_rules {
        return match blocked {
            Some(m) if policy.return_basic_rules => Verdict::ban(Reason::Blocked, m),
            _ => Verdict::Allow,
        };
    }
    if let Some(m) = blocked {
        return Verdict::ban(Reason::Blocked, m);
    }
    // Mutant `ignore-sold`: (here neither).
    if o.sold && !policy.has(Mutant::IgnoreSold) {
        return Verdict::ban(Reason::Sold, "Код уже продан через локальный модуль");
    }
    let groups = ctx.groups_hint.as_slice();
    if policy.offline_price_rules {
        if let Some(ban) = price_rules(o.mrp, o.smp, None, groups, ctx, policy) {
            return Verdict::Ban(ban);
        }
    }
    if o.mrp.is_some_and(|m| m > 0) {
        return Verdict::Allow;
    }
    pack_mrp_rule(groups, ctx, policy)
}

/// 203 (emergency mode): the sale goes ahead without a check and without tag 1260, except a pack
/// above its encoded MRP (§10.3, SHOULD).
pub fn emergency_verdict(ctx: &SaleContext, policy: &Policy) -> Verdict {
    pack_mrp_rule(&ctx.groups_hint, ctx, policy)
}

/// kkt.md §8.3 (FRAC-REMAINING): selling a part n/m of a package is refused when more would be sold
/// than remains (`innerUnitCount − soldUnitCount`, when the answer gives them).
pub fn remaining_units_rule(a: &CodeAnswer, numerator: u64, denominator: u64) -> Verdict {
    let Some(inner) = a.inner_unit_count.filter(|&i| i > 0) else { return Verdict::Allow };
    let remaining = inner.saturating_sub(a.sold_unit_count.unwrap_or(0));
    // n/m of `inner` units > remaining ⇔ n·inner > remaining·m
    if u128::from(numerator) * u128::from(inner) > u128::from(remaining) * u128::from(denominator) {
        return Verdict::ban(
            Reason::Other,
            format!("В упаковке осталось {remaining} из {inner}: нельзя продать {numerator}/{denominator}"),
        );
    }
    Verdict::Allow
}

/// No answer could be had (514, both sources down, errors): `policy.no_answer`.
pub fn no_answer_verdict(why: &str, policy: &Policy) -> Verdict {
    match policy.no_answer {
        NoAnswerPolicy::Ban => Verdict::ban(
            Reason::CheckUnavailable,
            format!("Проверка кода невозможна: {why}. Продажа запрещена"),
        ),
        NoAnswerPolicy::AllowWithout1260 => Verdict::Allow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    fn milk() -> CodeAnswer {
        CodeAnswer {
            cis: Some("0104612345000438215aZ;q0\u{1d}93Jm4t".into()),
            valid: true,
            found: true,
            utilised: true,
            verified: true,
            realizable: true,
            group_ids: vec![8],
            expire_date: Some("2026-01-02T00:00:00.000Z".into()),
            ..CodeAnswer::default()
        }
    }

    fn pack() -> CodeAnswer {
        CodeAnswer { group_ids: vec![3], expire_date: None, mrp: Some(18_500), smp: Some(13_500), ..milk() }
    }

    fn sale(price: u64) -> SaleContext {
        SaleContext {
            kind: ReceiptKind::Sale,
            price_kopecks: price,
            is_block: false,
            now_ms: NOW,
            groups_hint: Vec::new(),
            pack_mrp: None,
        }
    }

    fn ret(price: u64) -> SaleContext {
        SaleContext { kind: ReceiptKind::Return, ..sale(price) }
    }

    fn reason(v: Verdict) -> Option<Reason> {
        match v {
            Verdict::Allow => None,
            Verdict::Ban(b) => Some(b.reason),
        }
    }

    fn on(a: &CodeAnswer, ctx: &SaleContext) -> Option<Reason> {
        reason(online_verdict(a, ctx, &Policy::default()))
    }

    #[test]
    fn every_row_in_order() {
        let p = sale(9_000);
        assert_eq!(on(&milk(), &p), None);
        assert_eq!(
            on(&CodeAnswer { valid: false, found: false, error_code: 1, ..milk() }, &p),
            Some(Reason::Format)
        );
        assert_eq!(on(&CodeAnswer { found: false, error_code: 10, ..milk() }, &p), Some(Reason::NotFound));
        assert_eq!(on(&CodeAnswer { found: false, error_code: 8, ..milk() }, &p), Some(Reason::NotFound));
        assert_eq!(
            on(&CodeAnswer { utilised: false, realizable: false, ..milk() }, &p),
            Some(Reason::NotApplied)
        );
        assert_eq!(on(&CodeAnswer { verified: false, error_code: 6, ..milk() }, &p), Some(Reason::Crypto));
        assert_eq!(
            on(&CodeAnswer { is_blocked: true, ogvs: vec!["RD".into()], ..milk() }, &p),
            Some(Reason::Blocked)
        );
        assert_eq!(on(&CodeAnswer { sold: true, realizable: false, ..milk() }, &p), Some(Reason::Sold));
        assert_eq!(on(&CodeAnswer { realizable: false, ..milk() }, &p), Some(Reason::NotInCirculation));
        assert_eq!(
            on(&CodeAnswer { expire_date: Some("2025-12-31T00:00:00.000Z".into()), ..milk() }, &p),
            Some(Reason::Expired)
        );
        assert_eq!(on(&pack(), &sale(19_000)), Some(Reason::PriceAboveMrp));
        assert_eq!(on(&pack(), &sale(13_000)), Some(Reason::PriceBelowMin));
        let ncp = CodeAnswer { group_ids: vec![16], mrp: Some(20_000), smp: None, ..pack() };
        assert_eq!(on(&ncp, &sale(15_000)), Some(Reason::PriceBelowMin));
        assert_eq!(
            on(&CodeAnswer { error_code: 7, message: Some("x".into()), ..milk() }, &p),
            Some(Reason::Other)
        );
        // The first matching row wins.
        let many = CodeAnswer { is_blocked: true, sold: true, realizable: false, ..milk() };
        assert_eq!(on(&many, &p), Some(Reason::Blocked));
    }

    #[test]
    fn grey_zone_tobacco_is_sold_but_only_tobacco() {
        let grey = CodeAnswer { realizable: false, gray_zone: true, ..pack() };
        assert_eq!(on(&grey, &sale(18_500)), None);
        // All other rules still apply.
        assert_eq!(on(&grey, &sale(19_000)), Some(Reason::PriceAboveMrp));
        let grey_milk = CodeAnswer { realizable: false, gray_zone: true, ..milk() };
        assert_eq!(on(&grey_milk, &sale(9_000)), Some(Reason::NotInCirculation));
        let strict = Policy { grey_zone_exception: false, ..Policy::default() };
        assert!(!online_verdict(&grey, &sale(18_500), &strict).is_allowed());
        // Groups from the hint when the answer has none.
        let grey_no_groups = CodeAnswer { group_ids: vec![], ..grey };
        assert_eq!(on(&grey_no_groups, &sale(18_500)), Some(Reason::NotInCirculation));
        assert_eq!(on(&grey_no_groups, &SaleContext { groups_hint: vec![3], ..sale(18_500) }), None);
    }

    #[test]
    fn prices_allow_equality_and_ignore_absent_values() {
        assert_eq!(on(&pack(), &sale(18_500)), None);
        assert_eq!(on(&pack(), &sale(13_500)), None);
        assert_eq!(on(&pack(), &sale(15_000)), None);
        let ncp = CodeAnswer { group_ids: vec![16], mrp: Some(20_000), smp: None, ..pack() };
        assert_eq!(on(&ncp, &sale(20_000)), None);
        assert_eq!(on(&ncp, &sale(25_000)), None);
        assert_eq!(on(&CodeAnswer { mrp: Some(0), smp: None, ..pack() }, &sale(99_999)), None);
        // A milk answer never has a price rule, even with an mrp.
        assert_eq!(on(&CodeAnswer { mrp: Some(100), ..milk() }, &sale(9_000)), None);
        // Blocks: totals by default, per pack under the other basis.
        let block =
            CodeAnswer { mrp: Some(185_000), smp: Some(135_000), package_quantity: Some(10), ..pack() };
        let b = |price| SaleContext { is_block: true, ..sale(price) };
        assert_eq!(on(&block, &b(190_000)), Some(Reason::PriceAboveMrp));
        assert_eq!(on(&block, &b(185_000)), None);
        assert_eq!(on(&block, &b(130_000)), Some(Reason::PriceBelowMin));
        let per_pack = Policy { block_price_basis: BlockPriceBasis::Pack, ..Policy::default() };
        let packs = CodeAnswer { mrp: Some(18_500), smp: Some(13_500), ..block };
        assert!(!online_verdict(&packs, &b(190_000), &per_pack).is_allowed());
        assert!(online_verdict(&packs, &b(185_000), &per_pack).is_allowed());
    }

    #[test]
    fn the_pack_mrp_applies_only_without_an_answer_price() {
        let no_price = CodeAnswer { mrp: None, smp: None, ..pack() };
        let ctx = SaleContext { pack_mrp: Some(18_500), ..sale(19_000) };
        assert_eq!(on(&no_price, &ctx), Some(Reason::PriceAboveMrp));
        assert_eq!(on(&no_price, &SaleContext { pack_mrp: Some(18_500), ..sale(18_500) }), None);
        assert_eq!(on(&pack(), &SaleContext { pack_mrp: Some(10_000), ..sale(18_500) }), None);
        // Not for a nicotine product (its group says МЦ, not МРЦ), not in a return.
        let ncp = CodeAnswer { group_ids: vec![16], ..no_price.clone() };
        assert_eq!(on(&ncp, &ctx), None);
        assert_eq!(reason(emergency_verdict(&ctx, &Policy::default())), Some(Reason::PriceAboveMrp));
        assert_eq!(reason(emergency_verdict(&sale(19_000), &Policy::default())), None);
    }

    #[test]
    fn expiry_is_judged_at_the_given_instant() {
        let a = CodeAnswer { expire_date: Some("2026-01-01T00:00:05.000Z".into()), ..milk() };
        assert_eq!(on(&a, &sale(9_000)), None);
        assert_eq!(on(&a, &SaleContext { now_ms: NOW + 5_000, ..sale(9_000) }), Some(Reason::Expired));
        assert_eq!(
            on(&a, &SaleContext { now_ms: NOW + 25 * 3_600_000, ..sale(9_000) }),
            Some(Reason::Expired)
        );
        // Unreadable dates do not ban; other spellings are read.
        assert_eq!(on(&CodeAnswer { expire_date: Some("soon".into()), ..milk() }, &sale(9_000)), None);
        assert_eq!(parse_instant_ms("2026-01-01T00:00:00.000Z"), Some(NOW));
        assert_eq!(parse_instant_ms("2026-01-01T03:00:00+03:00"), Some(NOW));
        assert_eq!(parse_instant_ms("2026-01-01T00:00:00"), Some(NOW));
        assert_eq!(parse_instant_ms("2026-01-01T00:00:00.250"), Some(NOW + 250));
        assert_eq!(parse_instant_ms("2026-01-01"), Some(NOW));
        assert_eq!(parse_instant_ms(""), None);
    }

    #[test]
    fn returns_follow_section_11() {
        let sold = CodeAnswer { sold: true, realizable: false, ..milk() };
        assert_eq!(on(&sold, &ret(9_000)), None);
        // Expired, above the price, sold: not applied to returns.
        let expired = CodeAnswer { expire_date: Some("2020-01-01T00:00:00.000Z".into()), ..sold.clone() };
        assert_eq!(on(&expired, &ret(9_000)), None);
        let pricey = CodeAnswer { sold: true, realizable: false, ..pack() };
        assert_eq!(on(&pricey, &ret(99_000)), None);
        // R6: still in circulation → never sold.
        assert_eq!(on(&milk(), &ret(9_000)), Some(Reason::Other));
        let grey = CodeAnswer { realizable: true, gray_zone: true, ..pack() };
        assert_eq!(on(&grey, &ret(9_000)), None);
        // R5: blocked.
        assert_eq!(on(&CodeAnswer { is_blocked: true, ..sold.clone() }, &ret(9_000)), Some(Reason::Blocked));
        let no_basic = Policy { return_basic_rules: false, ..Policy::default() };
        assert!(online_verdict(&CodeAnswer { is_blocked: true, ..sold }, &ret(9_000), &no_basic).is_allowed());
    }

    #[test]
    fn offline_rules_ignore_the_online_flags() {
        let p = Policy::default();
        let free = OfflineCode::default();
        assert!(offline_verdict(&free, &sale(9_000), &p).is_allowed());
        let grey = OfflineCode { is_blocked: true, is_grey_gtin: true, ..free.clone() };
        assert_eq!(reason(offline_verdict(&grey, &sale(9_000), &p)), Some(Reason::Blocked));
        let blocked = OfflineCode { is_blocked: true, ..free.clone() };
        assert_eq!(reason(offline_verdict(&blocked, &sale(9_000), &p)), Some(Reason::Blocked));
        assert_eq!(reason(offline_verdict(&blocked, &ret(9_000), &p)), Some(Reason::Blocked));
        let sold = OfflineCode { sold: true, ..free.clone() };
        assert_eq!(reason(offline_verdict(&sold, &sale(9_000), &p)), Some(Reason::Sold));
        assert!(offline_verdict(&sold, &ret(9_000), &p).is_allowed());
        // Prices: ЕМЦ always, МРЦ when the group is known (here from the pack's layout).
        let priced = OfflineCode { mrp: Some(18_500), smp: Some(13_500), ..free };
        assert!(offline_verdict(&priced, &sale(19_000), &p).is_allowed());
        let tobacco = SaleContext { groups_hint: vec![3, 12], ..sale(19_000) };
        assert_eq!(reason(offline_verdict(&priced, &tobacco, &p)), Some(Reason::PriceAboveMrp));
        assert_eq!(reason(offline_verdict(&priced, &sale(13_000), &p)), Some(Reason::PriceBelowMin));
        let lax = Policy { offline_price_rules: false, ..Policy::default() };
        assert!(offline_verdict(&priced, &tobacco, &lax).is_allowed());
    }

    #[test]
    fn a_part_cannot_exceed_what_remains() {
        let partly = CodeAnswer { inner_unit_count: Some(10), sold_unit_count: Some(9), ..milk() };
        assert_eq!(reason(remaining_units_rule(&partly, 1, 10)), None);
        assert_eq!(reason(remaining_units_rule(&partly, 2, 10)), Some(Reason::Other));
        assert_eq!(reason(remaining_units_rule(&partly, 1, 5)), Some(Reason::Other));
        assert_eq!(reason(remaining_units_rule(&milk(), 9, 10)), None);
    }

    #[test]
    fn no_answer_follows_the_policy() {
        assert_eq!(reason(no_answer_verdict("514", &Policy::default())), Some(Reason::CheckUnavailable));
        let allow = Policy { no_answer: NoAnswerPolicy::AllowWithout1260, ..Policy::default() };
        assert!(no_answer_verdict("514", &allow).is_allowed());
    }

    #[test]
    fn decision_mutants_drop_exactly_their_row() {
        let m = |mutant| Policy { mutant: Some(mutant), ..Policy::default() };
        let p = sale(9_000);
        let expired = CodeAnswer { expire_date: Some("2025-12-31T00:00:00.000Z".into()), ..milk() };
        assert!(online_verdict(&expired, &p, &m(Mutant::IgnoreExpiry)).is_allowed());
        assert!(online_verdict(&pack(), &sale(19_000), &m(Mutant::IgnoreMrp)).is_allowed());
        assert_eq!(
            reason(online_verdict(&pack(), &sale(13_000), &m(Mutant::IgnoreMrp))),
            Some(Reason::PriceBelowMin)
        );
        assert!(online_verdict(&pack(), &sale(13_000), &m(Mutant::IgnoreMinPrice)).is_allowed());
        let no_price = CodeAnswer { mrp: None, smp: None, ..pack() };
        let above_pack = SaleContext { pack_mrp: Some(18_500), ..sale(19_000) };
        assert!(online_verdict(&no_price, &above_pack, &m(Mutant::IgnoreMrp)).is_allowed());
        let blocked = CodeAnswer { is_blocked: true, ..milk() };
        assert!(online_verdict(&blocked, &p, &m(Mutant::SellBlocked)).is_allowed());
        let off_blocked = OfflineCode { is_blocked: true, ..OfflineCode::default() };
        assert!(offline_verdict(&off_blocked, &p, &m(Mutant::SellBlocked)).is_allowed());
        let sold = CodeAnswer { sold: true, realizable: false, ..milk() };
        assert_eq!(reason(online_verdict(&sold, &p, &m(Mutant::IgnoreSold))), Some(Reason::NotInCirculation));
        let sold_grey = CodeAnswer { sold: true, ..milk() };
        assert!(online_verdict(&sold_grey, &p, &m(Mutant::IgnoreSold)).is_allowed());
        let emitted = CodeAnswer { utilised: false, realizable: false, ..milk() };
        assert!(online_verdict(&emitted, &p, &m(Mutant::IgnoreNotInCirculation)).is_allowed());
        let eaeu = CodeAnswer { found: false, verified: false, error_code: 8, ..CodeAnswer::default() };
        assert_eq!(on(&CodeAnswer { valid: true, ..eaeu.clone() }, &p), Some(Reason::NotFound));
        assert!(online_verdict(&eaeu, &p, &m(Mutant::AcceptEaeuErrors)).is_allowed());
        assert_eq!(
            reason(offline_verdict(&OfflineCode::default(), &p, &m(Mutant::RefuseOfflineAnswers))),
            Some(Reason::CheckUnavailable)
        );
        // Another row is untouched by each.
        assert_eq!(reason(online_verdict(&blocked, &p, &m(Mutant::IgnoreExpiry))), Some(Reason::Blocked));
    }

    #[test]
    fn groups_inferred_from_the_layout() {
        let pack = markcert_codes::parse(b"04612345000124Kx7;pQaAC/UZt9+").unwrap();
        assert_eq!(infer_groups(&pack), vec![3, 12]);
        let ncp = markcert_codes::parse(b"04612345000292m(4R%sEAAAAQw2b").unwrap();
        assert!(infer_groups(&ncp).is_empty());
        let milk = markcert_codes::parse(b"0104612345000438215aZ;q0\x1d93Jm4t").unwrap();
        assert!(infer_groups(&milk).is_empty());
    }
}
