//! The permissive-mode sale-ban decision: what a POS or a ТС ПИоТ must conclude from a check answer
//! before it accepts a marked position (spec `true-api.md` §10–§12, `local-module.md` §7).
//!
//! Owns the rules, the policy knobs that tune them ([`DecisionPolicy`]) and the verdicts they give
//! ([`Verdict`], [`BanReason`]); the receipt grader (`kkt::grading`) and the harness checks ask it what
//! the implementation under test should have done. Pure logic: no HTTP, no clock reads, no world.
//!
//! - [`online_verdict`]: a True API per-code object ([`CodeCheck`]) — §10.1 rows 1–12 in order, the
//!   §10.2 grey zone, §10.3 prices, §10.4 expiry and `isOwner`; §11 for return positions.
//! - [`offline_verdict`]: an ЛМ ЧЗ per-code object ([`OfflineAnswer`]) — `local-module.md` §7 rows 1–4.
//! - [`emergency_verdict`]: a 203 — allowed without 1260 (§8, §12.2 rule 4).
//! - [`no_answer_verdict`]: 514 or no usable answer — §12.2 rule 5, `policy.no_answer`.
//!
//! The first matching row gives the reason; graders judge only `allowed`. A verdict marked
//! `advisory` is one the spec grades as SHOULD (offline price rules, the MRP decoded from a pack).

use crate::clock::parse_iso;
use crate::ffd::OperationType;
use crate::trueapi::CodeCheck;
use markcert_codes::Layout;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Milliseconds in a day, for local dates.
const DAY_MS: i64 = 86_400_000;

/// How the shelf life is compared (`policy.expiry_mode`, §10.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryMode {
    /// Ban when `now ≥ expireDate` (instants; default).
    #[default]
    Instant,
    /// Ban when the store's local date is on or after the local date of `expireDate`.
    LocalDate,
}

/// What `isOwner == false` means to a grader (`policy.not_owner`, §10.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotOwnerPolicy {
    /// Not a ban; the grader accepts either outcome (default).
    #[default]
    Ignore,
    /// The store refuses such sales: a ban ([`BanReason::NotOwner`]).
    ExpectBan,
    /// The sale must go ahead (same verdict as `ignore`; harness checks use it to grade refusals).
    ExpectAllow,
}

/// Whether `mrp`/`smp` of a block code are block totals or per pack (`trueapi.block_price_basis`,
/// §10.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockPriceBasis {
    /// Block totals, compared with the block position's price as they are (default).
    #[default]
    Block,
    /// Per pack: multiplied by `packageQuantity` before comparing with a block position's price.
    Pack,
}

/// What is expected when no check answer could be had (`policy.no_answer`, §12.2 rule 5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoAnswerPolicy {
    /// The sale is refused (default).
    #[default]
    Ban,
    /// The sale may go ahead, without tag 1260.
    AllowWithout1260,
}

/// The configurable parts of the decision (spec defaults).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecisionPolicy {
    /// `policy.max_price_groups`: groups whose `mrp` is a maximum (МРЦ), row 9.
    pub max_price_groups: Vec<u16>,
    /// `policy.min_price_groups`: groups whose `mrp` is a minimum (МЦ), row 11.
    pub min_price_groups: Vec<u16>,
    /// `policy.grey_zone_groups`: groups the grey-zone exception applies to (§10.2).
    pub grey_zone_groups: Vec<u16>,
    /// `policy.expiry_mode`.
    pub expiry_mode: ExpiryMode,
    /// `policy.not_owner`.
    pub not_owner: NotOwnerPolicy,
    /// `policy.return_basic_rules`: rows 1–5 apply to return positions (R1–R5, §11).
    pub return_basic_rules: bool,
    /// `trueapi.block_price_basis`.
    pub block_price_basis: BlockPriceBasis,
    /// `policy.no_answer`.
    pub no_answer: NoAnswerPolicy,
    /// Packs per block when a block's answer carries no `packageQuantity` (§5: default 10); used only
    /// under [`BlockPriceBasis::Pack`].
    pub default_package_quantity: u32,
}

impl Default for DecisionPolicy {
    fn default() -> Self {
        DecisionPolicy {
            max_price_groups: vec![3, 12],
            min_price_groups: vec![16],
            grey_zone_groups: vec![3],
            expiry_mode: ExpiryMode::Instant,
            not_owner: NotOwnerPolicy::Ignore,
            return_basic_rules: true,
            block_price_basis: BlockPriceBasis::Block,
            no_answer: NoAnswerPolicy::Ban,
            default_package_quantity: 10,
        }
    }
}

/// The position a code is sold (or returned) in, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleContext {
    /// Sale or return of a sale (1054).
    pub operation: OperationType,
    /// Per-unit selling price after discounts (1079), kopecks; `None` → price rules not applied.
    pub price_kopecks: Option<u64>,
    /// The position is a block (group package) rather than a pack.
    pub is_block: bool,
    /// The instant of the sale, Unix ms UTC.
    pub now_ms: i64,
    /// The store's offset from UTC, seconds (for [`ExpiryMode::LocalDate`]).
    pub utc_offset_s: i32,
    /// The position's product group when the caller knows it (catalogue); used when the answer
    /// names none, as offline answers never do. Unknown → rows 9 and 11 cannot apply.
    pub group: Option<u16>,
}

/// Why a sale is banned, or [`BanReason::None`] when it is allowed. Serialised as [`BanReason::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BanReason {
    /// Allowed.
    None,
    /// §10.1 row 1, `valid == false`.
    InvalidStructure,
    /// §10.1 row 2, `found == false`.
    NotFound,
    /// §10.1 row 3, `utilised == false`.
    NotApplied,
    /// §10.1 row 4, `verified == false`.
    NotVerified,
    /// §10.1 row 5, `isBlocked == true`.
    Blocked,
    /// §10.1 row 6, `sold == true`.
    AlreadySold,
    /// §10.1 row 7, `realizable == false` outside the grey-zone exception.
    NotInCirculation,
    /// §10.1 row 8, `now ≥ expireDate`.
    Expired,
    /// §10.1 row 9, price above МРЦ.
    AboveMaxPrice,
    /// §10.1 row 10, price below ЕМЦ.
    BelowSinglePrice,
    /// §10.1 row 11, price below МЦ.
    BelowMinPrice,
    /// §10.1 row 12, `errorCode != 0`.
    OtherError,
    /// §10.4, `isOwner == false` under `policy.not_owner = expect_ban`.
    NotOwner,
    /// §11 R6, returning a code that is still in circulation.
    ReturnNeverSold,
    /// `local-module.md` §7 row 1, blocked because the GTIN is on the grey list.
    OfflineGreyGtin,
    /// `local-module.md` §7 row 2, blocked.
    OfflineBlocked,
    /// `local-module.md` §7 row 3, sold through this module.
    OfflineSold,
    /// `local-module.md` §7 row 4, price above МРЦ (advisory).
    OfflineAboveMaxPrice,
    /// `local-module.md` §7 row 4, price below ЕМЦ (advisory).
    OfflineBelowSinglePrice,
    /// `local-module.md` §7 row 4, price below МЦ (advisory).
    OfflineBelowMinPrice,
    /// §10.3, no answer carries `mrp` and the price is above the MRP encoded in the pack (advisory).
    AbovePackMrp,
    /// §12.2 rule 5, no answer could be had, under `policy.no_answer = ban`.
    NoAnswer,
}

impl BanReason {
    /// The stable snake_case name (as serialised).
    pub fn name(self) -> &'static str {
        match self {
            BanReason::None => "none",
            BanReason::InvalidStructure => "invalid_structure",
            BanReason::NotFound => "not_found",
            BanReason::NotApplied => "not_applied",
            BanReason::NotVerified => "not_verified",
            BanReason::Blocked => "blocked",
            BanReason::AlreadySold => "already_sold",
            BanReason::NotInCirculation => "not_in_circulation",
            BanReason::Expired => "expired",
            BanReason::AboveMaxPrice => "above_max_price",
            BanReason::BelowSinglePrice => "below_single_price",
            BanReason::BelowMinPrice => "below_min_price",
            BanReason::OtherError => "other_error",
            BanReason::NotOwner => "not_owner",
            BanReason::ReturnNeverSold => "return_never_sold",
            BanReason::OfflineGreyGtin => "offline_grey_gtin",
            BanReason::OfflineBlocked => "offline_blocked",
            BanReason::OfflineSold => "offline_sold",
            BanReason::OfflineAboveMaxPrice => "offline_above_max_price",
            BanReason::OfflineBelowSinglePrice => "offline_below_single_price",
            BanReason::OfflineBelowMinPrice => "offline_below_min_price",
            BanReason::AbovePackMrp => "above_pack_mrp",
            BanReason::NoAnswer => "no_answer",
        }
    }

    /// The row of the spec table the reason comes from (0 when it is not a table row).
    pub fn row(self) -> u8 {
        match self {
            BanReason::None | BanReason::NotOwner | BanReason::AbovePackMrp => 0,
            BanReason::InvalidStructure | BanReason::OfflineGreyGtin => 1,
            BanReason::NotFound | BanReason::OfflineBlocked => 2,
            BanReason::NotApplied | BanReason::OfflineSold => 3,
            BanReason::NotVerified
            | BanReason::OfflineAboveMaxPrice
            | BanReason::OfflineBelowSinglePrice
            | BanReason::OfflineBelowMinPrice => 4,
            BanReason::Blocked | BanReason::NoAnswer => 5,
            BanReason::AlreadySold | BanReason::ReturnNeverSold => 6,
            BanReason::NotInCirculation => 7,
            BanReason::Expired => 8,
            BanReason::AboveMaxPrice => 9,
            BanReason::BelowSinglePrice => 10,
            BanReason::BelowMinPrice => 11,
            BanReason::OtherError => 12,
        }
    }

    /// Where the rule is written.
    pub fn rule(self) -> &'static str {
        match self {
            BanReason::None => "",
            BanReason::InvalidStructure
            | BanReason::NotFound
            | BanReason::NotApplied
            | BanReason::NotVerified
            | BanReason::Blocked
            | BanReason::AlreadySold
            | BanReason::NotInCirculation
            | BanReason::Expired
            | BanReason::AboveMaxPrice
            | BanReason::BelowSinglePrice
            | BanReason::BelowMinPrice
            | BanReason::OtherError => "true-api.md §10.1",
            BanReason::NotOwner => "true-api.md §10.4",
            BanReason::ReturnNeverSold => "true-api.md §11",
            BanReason::OfflineGreyGtin
            | BanReason::OfflineBlocked
            | BanReason::OfflineSold
            | BanReason::OfflineAboveMaxPrice
            | BanReason::OfflineBelowSinglePrice
            | BanReason::OfflineBelowMinPrice => "local-module.md §7",
            BanReason::AbovePackMrp => "true-api.md §10.3",
            BanReason::NoAnswer => "true-api.md §12.2",
        }
    }

    /// What the reason means, in Russian (as a POS would show it).
    pub fn description_ru(self) -> &'static str {
        match self {
            BanReason::None => "продажа разрешена",
            BanReason::InvalidStructure => "некорректная структура кода",
            BanReason::NotFound => "нет сведений о коде в ГИС МТ",
            BanReason::NotApplied => "нет сведений о нанесении кода",
            BanReason::NotVerified => "код не прошёл проверку подлинности",
            BanReason::Blocked => "продажа заблокирована органом власти",
            BanReason::AlreadySold => "товар уже выведен из оборота",
            BanReason::NotInCirculation => "товар не введён в оборот",
            BanReason::Expired => "истёк срок годности",
            BanReason::AboveMaxPrice => "цена выше МРЦ",
            BanReason::BelowSinglePrice => "цена ниже ЕМЦ",
            BanReason::BelowMinPrice => "цена ниже МЦ",
            BanReason::OtherError => "ошибка проверки кода",
            BanReason::NotOwner => "код принадлежит другому участнику",
            BanReason::ReturnNeverSold => "товар не продавался: возврат невозможен",
            BanReason::OfflineGreyGtin => "GTIN в сером списке: офлайн-решение невозможно",
            BanReason::OfflineBlocked => "код заблокирован (локальный модуль)",
            BanReason::OfflineSold => "код уже продан через локальный модуль",
            BanReason::OfflineAboveMaxPrice => "цена выше МРЦ (локальный модуль)",
            BanReason::OfflineBelowSinglePrice => "цена ниже ЕМЦ (локальный модуль)",
            BanReason::OfflineBelowMinPrice => "цена ниже МЦ (локальный модуль)",
            BanReason::AbovePackMrp => "цена выше МРЦ, указанной в коде пачки",
            BanReason::NoAnswer => "нет ответа о коде: продажа не подтверждена",
        }
    }

    /// What the reason means, in English.
    pub fn description_en(self) -> &'static str {
        match self {
            BanReason::None => "sale allowed",
            BanReason::InvalidStructure => "code structure invalid",
            BanReason::NotFound => "no data about the code in ГИС МТ",
            BanReason::NotApplied => "no data that the code was applied",
            BanReason::NotVerified => "not authentic (verification part wrong)",
            BanReason::Blocked => "blocked by a government body",
            BanReason::AlreadySold => "already withdrawn from circulation",
            BanReason::NotInCirculation => "not introduced into circulation",
            BanReason::Expired => "shelf life expired",
            BanReason::AboveMaxPrice => "price above МРЦ",
            BanReason::BelowSinglePrice => "price below ЕМЦ",
            BanReason::BelowMinPrice => "price below МЦ",
            BanReason::OtherError => "per-code error",
            BanReason::NotOwner => "the code belongs to another participant (store policy)",
            BanReason::ReturnNeverSold => "return of a code still in circulation (never sold)",
            BanReason::OfflineGreyGtin => "GTIN on the grey list: offline decision impossible",
            BanReason::OfflineBlocked => "blocked (local module)",
            BanReason::OfflineSold => "already sold through the local module",
            BanReason::OfflineAboveMaxPrice => "price above МРЦ (local module)",
            BanReason::OfflineBelowSinglePrice => "price below ЕМЦ (local module)",
            BanReason::OfflineBelowMinPrice => "price below МЦ (local module)",
            BanReason::AbovePackMrp => "price above the MRP encoded in the pack code",
            BanReason::NoAnswer => "no check answer: nothing authorises the sale",
        }
    }
}

/// The decision for one code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The sale (or return) may go ahead.
    pub allowed: bool,
    /// The first matching row, [`BanReason::None`] when allowed.
    pub reason: BanReason,
    /// The spec grades this ban only as SHOULD (offline prices, the pack's encoded MRP).
    pub advisory: bool,
}

impl Verdict {
    /// Sale allowed.
    pub fn allow() -> Verdict {
        Verdict { allowed: true, reason: BanReason::None, advisory: false }
    }

    /// Sale banned (MUST).
    pub fn ban(reason: BanReason) -> Verdict {
        Verdict { allowed: false, reason, advisory: false }
    }

    /// Sale banned, graded as SHOULD.
    pub fn advise(reason: BanReason) -> Verdict {
        Verdict { allowed: false, reason, advisory: true }
    }
}

/// The decision for an online (True API, or ТС ПИоТ with `isCheckedOffline: false`) answer.
pub fn online_verdict(answer: &CodeCheck, ctx: &SaleContext, policy: &DecisionPolicy) -> Verdict {
    let groups = groups_of(&answer.group_ids, ctx);
    if ctx.operation == OperationType::SaleReturn {
        return online_return(answer, policy);
    }
    if let Some(reason) = basic_rows(answer) {
        return Verdict::ban(reason);
    }
    if answer.sold {
        return Verdict::ban(BanReason::AlreadySold);
    }
    let grey_zone = answer.gray_zone && intersects(groups, &policy.grey_zone_groups);
    if !answer.realizable && !grey_zone {
        return Verdict::ban(BanReason::NotInCirculation);
    }
    let expire_ms = answer.expire_date.as_deref().and_then(|d| parse_iso(d).ok());
    if expire_ms.is_some_and(|e| is_expired(e, ctx, policy.expiry_mode)) {
        return Verdict::ban(BanReason::Expired);
    }
    let prices = Prices { mrp: answer.mrp, smp: answer.smp, package_quantity: answer.package_quantity };
    if let Some(rule) = price_rule(&prices, groups, ctx, policy) {
        return Verdict::ban(rule.online());
    }
    if answer.error_code != 0 {
        return Verdict::ban(BanReason::OtherError);
    }
    if policy.not_owner == NotOwnerPolicy::ExpectBan && answer.is_owner == Some(false) {
        return Verdict::ban(BanReason::NotOwner);
    }
    if has_price(answer.mrp) {
        return Verdict::allow();
    }
    pack_mrp_verdict(&answer.cis, groups, ctx, policy)
}

/// Rows 1–5 (also R1–R5 of returns).
fn basic_rows(a: &CodeCheck) -> Option<BanReason> {
    if !a.valid {
        Some(BanReason::InvalidStructure)
    } else if !a.found {
        Some(BanReason::NotFound)
    } else if !a.utilised {
        Some(BanReason::NotApplied)
    } else if !a.verified {
        Some(BanReason::NotVerified)
    } else if a.is_blocked {
        Some(BanReason::Blocked)
    } else {
        None
    }
}

/// §11: R1–R5 (when `return_basic_rules`), then R6; rows 6–11 are not applied, nor `isOwner`.
fn online_return(a: &CodeCheck, policy: &DecisionPolicy) -> Verdict {
    if policy.return_basic_rules {
        if let Some(reason) = basic_rows(a) {
            return Verdict::ban(reason);
        }
    }
    if a.realizable && !a.gray_zone {
        return Verdict::ban(BanReason::ReturnNeverSold);
    }
    Verdict::allow()
}

/// The groups the rules look at: the answer's, else the caller's.
fn groups_of<'a>(answer_groups: &'a [u16], ctx: &'a SaleContext) -> &'a [u16] {
    if answer_groups.is_empty() {
        ctx.group.as_slice()
    } else {
        answer_groups
    }
}

fn intersects(a: &[u16], b: &[u16]) -> bool {
    a.iter().any(|g| b.contains(g))
}

/// §10.4: instants, or local dates under the store's offset.
fn is_expired(expire_ms: i64, ctx: &SaleContext, mode: ExpiryMode) -> bool {
    match mode {
        ExpiryMode::Instant => ctx.now_ms >= expire_ms,
        ExpiryMode::LocalDate => {
            let offset_ms = i64::from(ctx.utc_offset_s) * 1000;
            let day = |ms: i64| ms.saturating_add(offset_ms).div_euclid(DAY_MS);
            day(ctx.now_ms) >= day(expire_ms)
        }
    }
}

/// The price fields of an answer.
struct Prices {
    mrp: Option<u64>,
    smp: Option<u64>,
    package_quantity: Option<u32>,
}

/// Which of rows 9–11 matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PriceRule {
    AboveMax,
    BelowSingle,
    BelowMin,
}

impl PriceRule {
    fn online(self) -> BanReason {
        match self {
            PriceRule::AboveMax => BanReason::AboveMaxPrice,
            PriceRule::BelowSingle => BanReason::BelowSinglePrice,
            PriceRule::BelowMin => BanReason::BelowMinPrice,
        }
    }

    fn offline(self) -> BanReason {
        match self {
            PriceRule::AboveMax => BanReason::OfflineAboveMaxPrice,
            PriceRule::BelowSingle => BanReason::OfflineBelowSinglePrice,
            PriceRule::BelowMin => BanReason::OfflineBelowMinPrice,
        }
    }
}

fn has_price(p: Option<u64>) -> bool {
    p.is_some_and(|v| v > 0)
}

/// Rows 9–11 (§10.3): kopecks, equality allowed, absent or 0 → the row does not apply; a block's
/// per-pack values scaled to the block under [`BlockPriceBasis::Pack`].
fn price_rule(p: &Prices, groups: &[u16], ctx: &SaleContext, policy: &DecisionPolicy) -> Option<PriceRule> {
    let price = ctx.price_kopecks?;
    let scale = if ctx.is_block && policy.block_price_basis == BlockPriceBasis::Pack {
        u64::from(p.package_quantity.unwrap_or(policy.default_package_quantity))
    } else {
        1
    };
    let limit = |v: Option<u64>| v.filter(|&v| v > 0).map(|v| v.saturating_mul(scale));
    let (mrp, smp) = (limit(p.mrp), limit(p.smp));
    if let Some(mrp) = mrp.filter(|_| intersects(groups, &policy.max_price_groups)) {
        if price > mrp {
            return Some(PriceRule::AboveMax);
        }
    }
    if smp.is_some_and(|smp| price < smp) {
        return Some(PriceRule::BelowSingle);
    }
    if let Some(mrp) = mrp.filter(|_| intersects(groups, &policy.min_price_groups)) {
        if price < mrp {
            return Some(PriceRule::BelowMin);
        }
    }
    None
}

/// §10.3 last rule: with no `mrp` in the answer, a pack's price above the MRP encoded in the code is
/// still refused (SHOULD). Applies to tobacco packs whose group is unknown or has a maximum price.
fn pack_mrp_verdict(cis: &str, groups: &[u16], ctx: &SaleContext, policy: &DecisionPolicy) -> Verdict {
    if ctx.operation != OperationType::Sale || ctx.is_block {
        return Verdict::allow();
    }
    if !groups.is_empty() && !intersects(groups, &policy.max_price_groups) {
        return Verdict::allow();
    }
    let Some(price) = ctx.price_kopecks else { return Verdict::allow() };
    let Ok(code) = markcert_codes::parse(cis.as_bytes()) else { return Verdict::allow() };
    match code.mrp_kopecks() {
        Some(mrp) if code.layout() == Layout::TobaccoPack && mrp > 0 && price > u64::from(mrp) => {
            Verdict::advise(BanReason::AbovePackMrp)
        }
        _ => Verdict::allow(),
    }
}

/// The fields of an ЛМ ЧЗ per-code answer the offline rules need (`local-module.md` §6), plus the
/// stamps that go into tag 1265. Built from the module's JSON (direct, or wrapped by a ТС ПИоТ with
/// `isCheckedOffline: true`); the online-only flags are deliberately not read (§7).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineAnswer {
    /// The code as sent.
    pub cis: String,
    /// GTIN, when given.
    pub gtin: Option<String>,
    /// `isBlocked` (absent → false).
    pub is_blocked: bool,
    /// `isGreyGtin` (absent → false).
    pub is_grey_gtin: bool,
    /// `sold` (v2 only).
    pub sold: Option<bool>,
    /// `mrp`, kopecks (v2, when the price table knows it).
    pub mrp: Option<u64>,
    /// `smp`, kopecks.
    pub smp: Option<u64>,
    /// Product groups, when the answer names them (`groupIds`, or the request's `pg`).
    pub group_ids: Vec<u16>,
    /// `inst` (installation id).
    pub inst: Option<String>,
    /// `version` (black-list snapshot id).
    pub version: Option<String>,
    /// `reqId`.
    pub req_id: Option<String>,
    /// `reqTimestamp`, Unix ms (a JSON number, or a string of digits as some ТС ПИоТ send it).
    pub req_timestamp: Option<i64>,
}

impl OfflineAnswer {
    /// One per-code object (`{"cis","gtin","isBlocked","isGreyGtin","sold","mrp","smp",…}`); stamps
    /// (`inst`, `version`, `reqId`, `reqTimestamp`) are read when the object carries them. Never
    /// panics: fields of the wrong type count as absent, a non-object gives the default.
    pub fn from_json(v: &Value) -> OfflineAnswer {
        let mut a = OfflineAnswer {
            cis: str_field(v, "cis").unwrap_or_default(),
            gtin: str_field(v, "gtin"),
            is_blocked: v.get("isBlocked").and_then(Value::as_bool).unwrap_or(false),
            is_grey_gtin: v.get("isGreyGtin").and_then(Value::as_bool).unwrap_or(false),
            sold: v.get("sold").and_then(Value::as_bool),
            mrp: v.get("mrp").and_then(Value::as_u64),
            smp: v.get("smp").and_then(Value::as_u64),
            group_ids: groups_field(v),
            ..OfflineAnswer::default()
        };
        a.fill_stamps(v);
        a
    }

    /// The answer about `cis` inside a whole answer: an ЛМ ЧЗ v1 body (`{"codes":[…],"inst",…}`), a v2
    /// body (`{"results":[…]}`), a ТС ПИоТ body (`{"codesResponse":[…]}`, v1 nested once more), or
    /// one item of those. Codes match by `cis`, or by `printView` / КИ when the module was sent the
    /// КИ only. Stamps missing on the code object are taken from its enclosing item.
    pub fn from_answer(answer: &Value, cis: &str) -> Option<OfflineAnswer> {
        items_of(answer).into_iter().find_map(|item| {
            let codes = item.get("codes").and_then(Value::as_array)?;
            let code = codes.iter().find(|c| code_matches(c, cis))?;
            let mut a = OfflineAnswer::from_json(code);
            a.fill_stamps(item);
            Some(a)
        })
    }

    /// Copy `inst`, `version`, `reqId`, `reqTimestamp` from `v` where still unknown.
    fn fill_stamps(&mut self, v: &Value) {
        self.inst = self.inst.take().or_else(|| str_field(v, "inst"));
        self.version = self.version.take().or_else(|| str_field(v, "version"));
        self.req_id = self.req_id.take().or_else(|| str_field(v, "reqId"));
        self.req_timestamp = self.req_timestamp.or_else(|| {
            let t = v.get("reqTimestamp")?;
            t.as_i64().or_else(|| t.as_str().and_then(|s| s.parse().ok()))
        });
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// `groupIds` (non-empty) or `pg`.
fn groups_field(v: &Value) -> Vec<u16> {
    let from_list = v.get("groupIds").and_then(Value::as_array).map(|ids| {
        ids.iter().filter_map(|g| g.as_u64().and_then(|g| u16::try_from(g).ok())).collect::<Vec<_>>()
    });
    match from_list {
        Some(ids) if !ids.is_empty() => ids,
        _ => v.get("pg").and_then(Value::as_u64).and_then(|g| u16::try_from(g).ok()).into_iter().collect(),
    }
}

/// The objects that carry a `codes` list, wherever the answer's shape puts them.
fn items_of(answer: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    let mut stack = vec![answer];
    while let Some(v) = stack.pop() {
        if v.get("codes").is_some_and(Value::is_array) {
            out.push(v);
        }
        for key in ["results", "codesResponse"] {
            match v.get(key) {
                Some(Value::Array(items)) => stack.extend(items.iter().rev()),
                Some(inner @ Value::Object(_)) => stack.push(inner),
                _ => {}
            }
        }
    }
    out
}

/// A code object answers `cis` when its `cis` is `cis`, or its `cis`/`printView` is the КИ of `cis`.
fn code_matches(code: &Value, cis: &str) -> bool {
    let ki = markcert_codes::parse(cis.as_bytes()).map(|c| c.ki().to_string()).ok();
    ["cis", "printView"].iter().filter_map(|k| code.get(*k).and_then(Value::as_str)).any(|given| {
        given == cis
            || ki.as_deref() == Some(given)
            || markcert_codes::parse(given.as_bytes()).is_ok_and(|g| ki.as_deref() == Some(g.ki()))
    })
}

/// The decision for an ЛМ ЧЗ answer (`local-module.md` §7): rows 1–4 for a sale; the online-only
/// flags are ignored. A return is banned only by rows 1–2 (the basic rules R1–R5 that an offline
/// answer can speak to: blocked), under `return_basic_rules`.
pub fn offline_verdict(answer: &OfflineAnswer, ctx: &SaleContext, policy: &DecisionPolicy) -> Verdict {
    let blocked = if answer.is_blocked && answer.is_grey_gtin {
        Some(BanReason::OfflineGreyGtin)
    } else if answer.is_blocked {
        Some(BanReason::OfflineBlocked)
    } else {
        None
    };
    if ctx.operation == OperationType::SaleReturn {
        return match blocked {
            Some(reason) if policy.return_basic_rules => Verdict::ban(reason),
            _ => Verdict::allow(),
        };
    }
    if let Some(reason) = blocked {
        return Verdict::ban(reason);
    }
    if answer.sold == Some(true) {
        return Verdict::ban(BanReason::OfflineSold);
    }
    let groups = groups_of(&answer.group_ids, ctx);
    let prices = Prices { mrp: answer.mrp, smp: answer.smp, package_quantity: None };
    if let Some(rule) = price_rule(&prices, groups, ctx, policy) {
        return Verdict::advise(rule.offline());
    }
    if has_price(answer.mrp) {
        return Verdict::allow();
    }
    pack_mrp_verdict(&answer.cis, groups, ctx, policy)
}

/// The decision after a 203 (emergency mode): the sale goes ahead without a check and without 1260
/// (`true-api.md` §8, §12.2 rule 4), except that a pack above its encoded MRP SHOULD be refused (§10.3).
pub fn emergency_verdict(cis: &str, ctx: &SaleContext, policy: &DecisionPolicy) -> Verdict {
    pack_mrp_verdict(cis, ctx.group.as_slice(), ctx, policy)
}

/// The decision when no answer could be had (online failed and ЛМ ЧЗ unusable, 514, errors): by
/// `policy.no_answer` (§12.2 rule 5).
pub fn no_answer_verdict(policy: &DecisionPolicy) -> Verdict {
    match policy.no_answer {
        NoAnswerPolicy::Ban => Verdict::ban(BanReason::NoAnswer),
        NoAnswerPolicy::AllowWithout1260 => Verdict::allow(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    const MILK: &str = "0104612345000438215aZ;q0\u{1d}93Jm4t";
    /// A tobacco pack whose encoded MRP is 185.00.
    const PACK: &str = "04612345000124Kx7;pQaAC/UZt9+";

    /// A dairy code in circulation, expiring in a day.
    fn milk() -> CodeCheck {
        CodeCheck {
            cis: MILK.into(),
            valid: true,
            print_view: Some("0104612345000438215aZ;q0".into()),
            gtin: Some("04612345000438".into()),
            group_ids: vec![8],
            verified: true,
            found: true,
            utilised: true,
            realizable: true,
            sold: false,
            is_blocked: false,
            ogvs: None,
            expire_date: Some("2026-01-02T00:00:00.000Z".into()),
            production_date: None,
            is_owner: Some(true),
            error_code: 0,
            message: None,
            is_tracking: false,
            elimination_state: None,
            mrp: None,
            smp: None,
            gray_zone: false,
            inner_unit_count: None,
            sold_unit_count: None,
            package_type: Some("UNIT".into()),
            package_quantity: None,
            parent: None,
            producer_inn: None,
        }
    }

    /// A tobacco pack in circulation, МРЦ 185.00, ЕМЦ 135.00.
    fn pack() -> CodeCheck {
        CodeCheck {
            cis: PACK.into(),
            group_ids: vec![3],
            expire_date: None,
            mrp: Some(18_500),
            smp: Some(13_500),
            ..milk()
        }
    }

    fn sale(price: u64) -> SaleContext {
        SaleContext {
            operation: OperationType::Sale,
            price_kopecks: Some(price),
            is_block: false,
            now_ms: NOW,
            utc_offset_s: 3 * 3600,
            group: None,
        }
    }

    fn ret() -> SaleContext {
        SaleContext { operation: OperationType::SaleReturn, ..sale(9_000) }
    }

    fn reason(a: &CodeCheck, ctx: &SaleContext) -> BanReason {
        online_verdict(a, ctx, &DecisionPolicy::default()).reason
    }

    /// A table row: name, how the answer differs, the price, the reason expected.
    type Row = (&'static str, fn(&mut CodeCheck), u64, BanReason);

    #[test]
    fn every_row_of_the_canonical_order() {
        let rows: &[Row] = &[
            ("in circulation", |_| {}, 9_000, BanReason::None),
            (
                "1 invalid",
                |a| (a.valid, a.found, a.error_code) = (false, false, 1),
                9_000,
                BanReason::InvalidStructure,
            ),
            ("2 not found", |a| (a.found, a.error_code) = (false, 10), 9_000, BanReason::NotFound),
            (
                "2 eaeu 8",
                |a| (a.found, a.verified, a.error_code) = (false, false, 8),
                9_000,
                BanReason::NotFound,
            ),
            ("3 emitted", |a| (a.utilised, a.realizable) = (false, false), 9_000, BanReason::NotApplied),
            ("4 crypto", |a| (a.verified, a.error_code) = (false, 6), 9_000, BanReason::NotVerified),
            ("5 blocked", |a| a.is_blocked = true, 9_000, BanReason::Blocked),
            ("6 sold", |a| (a.sold, a.realizable) = (true, false), 9_000, BanReason::AlreadySold),
            ("7 applied", |a| a.realizable = false, 9_000, BanReason::NotInCirculation),
            (
                "8 expired",
                |a| a.expire_date = Some("2025-12-31T23:00:00.000Z".into()),
                9_000,
                BanReason::Expired,
            ),
            ("12 other error", |a| a.error_code = 5, 9_000, BanReason::OtherError),
        ];
        for (name, edit, price, want) in rows {
            let mut a = milk();
            edit(&mut a);
            assert_eq!(reason(&a, &sale(*price)), *want, "{name}");
            let v = online_verdict(&a, &sale(*price), &DecisionPolicy::default());
            assert_eq!(v.allowed, *want == BanReason::None, "{name}");
            assert!(!v.advisory, "{name}");
        }
        let prices: &[Row] = &[
            ("at МРЦ", |_| {}, 18_500, BanReason::None),
            ("9 above МРЦ", |_| {}, 18_501, BanReason::AboveMaxPrice),
            ("at ЕМЦ", |_| {}, 13_500, BanReason::None),
            ("10 below ЕМЦ", |_| {}, 13_499, BanReason::BelowSinglePrice),
            (
                "alt tobacco above МРЦ",
                |a| (a.group_ids, a.smp) = (vec![12], None),
                18_501,
                BanReason::AboveMaxPrice,
            ),
            ("11 below МЦ", |a| (a.group_ids, a.smp) = (vec![16], None), 18_499, BanReason::BelowMinPrice),
            ("at МЦ", |a| (a.group_ids, a.smp) = (vec![16], None), 18_500, BanReason::None),
            ("МЦ is no maximum", |a| (a.group_ids, a.smp) = (vec![16], None), 99_999, BanReason::None),
            ("mrp 0: rows 9, 10 off", |a| (a.mrp, a.smp) = (Some(0), Some(0)), 100, BanReason::None),
            ("dairy mrp ignored", |a| (a.group_ids, a.smp) = (vec![8], None), 99_999, BanReason::None),
        ];
        for (name, edit, price, want) in prices {
            let mut a = pack();
            edit(&mut a);
            assert_eq!(reason(&a, &sale(*price)), *want, "{name}");
        }
    }

    #[test]
    fn first_matching_row_gives_the_reason() {
        let mut a = milk();
        (a.valid, a.found, a.is_blocked, a.sold) = (false, false, true, true);
        assert_eq!(reason(&a, &sale(1)), BanReason::InvalidStructure);
        let mut a = milk();
        (a.is_blocked, a.sold, a.realizable) = (true, true, false);
        assert_eq!(reason(&a, &sale(1)), BanReason::Blocked);
        let mut a = milk();
        (a.sold, a.realizable, a.expire_date) = (true, false, Some("2000-01-01T00:00:00.000Z".into()));
        assert_eq!(reason(&a, &sale(1)), BanReason::AlreadySold);
        let mut a = pack();
        (a.error_code, a.is_owner) = (5, Some(false));
        assert_eq!(reason(&a, &sale(99_999)), BanReason::AboveMaxPrice, "price before errorCode");
    }

    #[test]
    fn grey_zone_exception_skips_only_row_7() {
        let mut a = pack();
        (a.realizable, a.gray_zone) = (false, true);
        assert_eq!(reason(&a, &sale(15_000)), BanReason::None);
        assert_eq!(reason(&a, &sale(20_000)), BanReason::AboveMaxPrice, "other rows still apply");
        a.is_blocked = true;
        assert_eq!(reason(&a, &sale(15_000)), BanReason::Blocked);
        let mut dairy = milk();
        (dairy.realizable, dairy.gray_zone) = (false, true);
        assert_eq!(reason(&dairy, &sale(9_000)), BanReason::NotInCirculation, "not a grey-zone group");
        let strict = DecisionPolicy { grey_zone_groups: vec![], ..DecisionPolicy::default() };
        let mut a = pack();
        (a.realizable, a.gray_zone) = (false, true);
        assert_eq!(online_verdict(&a, &sale(15_000), &strict).reason, BanReason::NotInCirculation);
    }

    #[test]
    fn price_rules_need_a_price_and_a_known_group() {
        let a = pack();
        let no_price = SaleContext { price_kopecks: None, ..sale(0) };
        assert_eq!(reason(&a, &no_price), BanReason::None);
        let mut nameless = pack();
        nameless.group_ids.clear();
        assert_eq!(reason(&nameless, &sale(99_999)), BanReason::None, "group unknown: row 9 cannot apply");
        let known = SaleContext { group: Some(3), ..sale(99_999) };
        assert_eq!(reason(&nameless, &known), BanReason::AboveMaxPrice, "group from the caller");
        assert_eq!(
            reason(&nameless, &sale(100)),
            BanReason::BelowSinglePrice,
            "row 10 has no group condition"
        );
    }

    #[test]
    fn block_prices_by_basis() {
        let block = CodeCheck {
            mrp: Some(185_000),
            smp: Some(135_000),
            package_type: Some("GROUP".into()),
            package_quantity: Some(10),
            ..pack()
        };
        let ctx = |price| SaleContext { is_block: true, ..sale(price) };
        assert_eq!(reason(&block, &ctx(185_000)), BanReason::None);
        assert_eq!(reason(&block, &ctx(185_001)), BanReason::AboveMaxPrice);
        assert_eq!(reason(&block, &ctx(134_999)), BanReason::BelowSinglePrice);
        let per_pack =
            DecisionPolicy { block_price_basis: BlockPriceBasis::Pack, ..DecisionPolicy::default() };
        let pack_values = CodeCheck { mrp: Some(18_500), smp: Some(13_500), ..block.clone() };
        assert_eq!(online_verdict(&pack_values, &ctx(185_000), &per_pack).reason, BanReason::None);
        assert_eq!(online_verdict(&pack_values, &ctx(185_001), &per_pack).reason, BanReason::AboveMaxPrice);
        let no_quantity = CodeCheck { package_quantity: None, ..pack_values.clone() };
        assert_eq!(online_verdict(&no_quantity, &ctx(185_001), &per_pack).reason, BanReason::AboveMaxPrice);
        assert_eq!(reason(&pack_values, &ctx(185_000)), BanReason::AboveMaxPrice, "block basis: as given");
    }

    #[test]
    fn expiry_by_instant_and_by_local_date() {
        let mut a = milk();
        a.expire_date = Some("2026-01-01T00:00:00.000Z".into());
        assert_eq!(reason(&a, &sale(9_000)), BanReason::Expired, "now == expireDate is expired");
        a.expire_date = Some("2026-01-01T00:00:00.001Z".into());
        assert_eq!(reason(&a, &sale(9_000)), BanReason::None);
        a.expire_date = Some("not a date".into());
        assert_eq!(reason(&a, &sale(9_000)), BanReason::None, "unreadable: row 8 cannot apply");
        // Expires 2026-01-02T00:00Z = 03:00 MSK on the 2nd; now 22:00Z on the 1st = 01:00 MSK on the 2nd.
        a.expire_date = Some("2026-01-02T00:00:00.000Z".into());
        let late = SaleContext { now_ms: NOW + 22 * 3_600_000, ..sale(9_000) };
        let local = DecisionPolicy { expiry_mode: ExpiryMode::LocalDate, ..DecisionPolicy::default() };
        assert_eq!(reason(&a, &late), BanReason::None);
        assert_eq!(online_verdict(&a, &late, &local).reason, BanReason::Expired);
        let utc = SaleContext { utc_offset_s: 0, ..late };
        assert_eq!(online_verdict(&a, &utc, &local).reason, BanReason::None, "still the 1st in UTC");
    }

    #[test]
    fn not_owner_by_policy() {
        let mut a = milk();
        a.is_owner = Some(false);
        let with = |not_owner| DecisionPolicy { not_owner, ..DecisionPolicy::default() };
        assert_eq!(online_verdict(&a, &sale(9_000), &with(NotOwnerPolicy::Ignore)), Verdict::allow());
        assert_eq!(online_verdict(&a, &sale(9_000), &with(NotOwnerPolicy::ExpectAllow)), Verdict::allow());
        assert_eq!(
            online_verdict(&a, &sale(9_000), &with(NotOwnerPolicy::ExpectBan)),
            Verdict::ban(BanReason::NotOwner)
        );
        a.is_owner = None;
        assert!(online_verdict(&a, &sale(9_000), &with(NotOwnerPolicy::ExpectBan)).allowed);
        let mut sold = milk();
        (sold.sold, sold.realizable, sold.is_owner) = (true, false, Some(false));
        assert!(online_verdict(&sold, &ret(), &with(NotOwnerPolicy::ExpectBan)).allowed, "not for returns");
    }

    #[test]
    fn return_rules() {
        let mut sold = milk();
        (sold.sold, sold.realizable) = (true, false);
        sold.expire_date = Some("2000-01-01T00:00:00.000Z".into());
        assert_eq!(reason(&sold, &ret()), BanReason::None, "sold, expired: returnable");
        assert_eq!(reason(&milk(), &ret()), BanReason::ReturnNeverSold, "R6");
        let mut grey = pack();
        grey.gray_zone = true;
        assert_eq!(reason(&grey, &ret()), BanReason::None, "R6 spares the grey zone");
        let mut applied = milk();
        applied.realizable = false;
        assert_eq!(reason(&applied, &ret()), BanReason::None, "rule 7 not applied");
        let mut blocked = sold.clone();
        blocked.is_blocked = true;
        assert_eq!(reason(&blocked, &ret()), BanReason::Blocked, "R5");
        let mut forged = sold.clone();
        forged.verified = false;
        assert_eq!(reason(&forged, &ret()), BanReason::NotVerified, "R4");
        let lax = DecisionPolicy { return_basic_rules: false, ..DecisionPolicy::default() };
        assert!(online_verdict(&blocked, &ret(), &lax).allowed, "R1–R5 off");
        let cheap = SaleContext { price_kopecks: Some(1), ..ret() };
        let mut sold_pack = pack();
        (sold_pack.sold, sold_pack.realizable) = (true, false);
        assert!(online_verdict(&sold_pack, &cheap, &DecisionPolicy::default()).allowed, "no price rules");
    }

    #[test]
    fn pack_mrp_when_no_answer_carries_one() {
        let mut a = pack();
        (a.mrp, a.smp) = (None, None);
        assert_eq!(online_verdict(&a, &sale(18_500), &DecisionPolicy::default()), Verdict::allow());
        assert_eq!(
            online_verdict(&a, &sale(18_501), &DecisionPolicy::default()),
            Verdict::advise(BanReason::AbovePackMrp)
        );
        a.group_ids = vec![16];
        assert!(online_verdict(&a, &sale(18_501), &DecisionPolicy::default()).allowed, "МЦ group");
        let policy = DecisionPolicy::default();
        assert_eq!(emergency_verdict(PACK, &sale(18_501), &policy), Verdict::advise(BanReason::AbovePackMrp));
        assert_eq!(emergency_verdict(PACK, &sale(18_500), &policy), Verdict::allow());
        assert_eq!(emergency_verdict(MILK, &sale(99_999), &policy), Verdict::allow());
        assert_eq!(emergency_verdict(PACK, &ret(), &policy), Verdict::allow());
        let nsp = SaleContext { group: Some(16), ..sale(99_999) };
        assert_eq!(emergency_verdict(PACK, &nsp, &policy), Verdict::allow());
    }

    fn offline(v: Value) -> OfflineAnswer {
        OfflineAnswer::from_json(&v)
    }

    #[test]
    fn offline_rows() {
        let p = DecisionPolicy::default();
        let rows: &[(&str, Value, SaleContext, Verdict)] = &[
            (
                "clear",
                json!({"cis": MILK, "isBlocked": false, "isGreyGtin": false}),
                sale(9_000),
                Verdict::allow(),
            ),
            (
                "1 grey",
                json!({"cis": MILK, "isBlocked": true, "isGreyGtin": true}),
                sale(9_000),
                Verdict::ban(BanReason::OfflineGreyGtin),
            ),
            (
                "2 blocked",
                json!({"cis": MILK, "isBlocked": true, "isGreyGtin": false, "sold": true}),
                sale(9_000),
                Verdict::ban(BanReason::OfflineBlocked),
            ),
            (
                "3 sold",
                json!({"cis": MILK, "isBlocked": false, "sold": true}),
                sale(9_000),
                Verdict::ban(BanReason::OfflineSold),
            ),
            (
                "4 above МРЦ",
                json!({"cis": PACK, "isBlocked": false, "sold": false, "mrp": 18_500, "smp": 13_500}),
                SaleContext { group: Some(3), ..sale(18_501) },
                Verdict::advise(BanReason::OfflineAboveMaxPrice),
            ),
            (
                "4 below ЕМЦ",
                json!({"cis": PACK, "isBlocked": false, "mrp": 18_500, "smp": 13_500}),
                sale(13_499),
                Verdict::advise(BanReason::OfflineBelowSinglePrice),
            ),
            (
                "4 below МЦ",
                json!({"cis": PACK, "isBlocked": false, "mrp": 16_000, "pg": 16}),
                sale(15_999),
                Verdict::advise(BanReason::OfflineBelowMinPrice),
            ),
            (
                "4 at МРЦ",
                json!({"cis": PACK, "isBlocked": false, "mrp": 18_500, "groupIds": [3]}),
                sale(18_500),
                Verdict::allow(),
            ),
            (
                "4 no prices: the pack's MRP",
                json!({"cis": PACK, "isBlocked": false}),
                sale(18_501),
                Verdict::advise(BanReason::AbovePackMrp),
            ),
            (
                "online flags ignored",
                json!({"cis": MILK, "isBlocked": false, "isGreyGtin": false, "found": false,
                       "valid": false, "verified": false, "utilised": false, "realizable": false,
                       "groupIds": [], "ogvs": []}),
                sale(9_000),
                Verdict::allow(),
            ),
            (
                "return of a sold code",
                json!({"cis": MILK, "isBlocked": false, "sold": true}),
                ret(),
                Verdict::allow(),
            ),
            (
                "return of a blocked code",
                json!({"cis": MILK, "isBlocked": true}),
                ret(),
                Verdict::ban(BanReason::OfflineBlocked),
            ),
        ];
        for (name, v, ctx, want) in rows {
            assert_eq!(offline_verdict(&offline(v.clone()), ctx, &p), *want, "{name}");
        }
        let lax = DecisionPolicy { return_basic_rules: false, ..DecisionPolicy::default() };
        assert!(offline_verdict(&offline(json!({"cis": MILK, "isBlocked": true})), &ret(), &lax).allowed);
    }

    #[test]
    fn no_answer_by_policy() {
        assert_eq!(no_answer_verdict(&DecisionPolicy::default()), Verdict::ban(BanReason::NoAnswer));
        let allow =
            DecisionPolicy { no_answer: NoAnswerPolicy::AllowWithout1260, ..DecisionPolicy::default() };
        assert_eq!(no_answer_verdict(&allow), Verdict::allow());
    }

    #[test]
    fn offline_answer_from_any_json_never_panics() {
        for v in
            [json!(null), json!([1, 2]), json!("x"), json!({"isBlocked": "yes", "mrp": -5, "groupIds": "3"})]
        {
            let a = OfflineAnswer::from_json(&v);
            assert!(!a.is_blocked && a.mrp.is_none() && a.group_ids.is_empty(), "{v}");
            assert_eq!(OfflineAnswer::from_answer(&v, MILK), None);
        }
        let a = offline(json!({"cis": "x", "reqTimestamp": "1767225612077", "groupIds": [70000, 8]}));
        assert_eq!((a.req_timestamp, a.group_ids), (Some(1_767_225_612_077), vec![8]));
    }

    #[test]
    fn offline_answer_found_in_every_answer_shape() {
        let ki = "0104612345000438215aZ;q0";
        let code = json!({"cis": ki, "gtin": "04612345000438", "isBlocked": true, "isGreyGtin": false});
        let stamps = |mut v: Value| {
            v["inst"] = json!("inst-1");
            v["version"] = json!("ver-1");
            v["reqId"] = json!("req-1");
            v["reqTimestamp"] = json!(1_767_225_612_077_i64);
            v
        };
        let v1 = stamps(json!({"code": 0, "codes": [code.clone()]}));
        let v2 = json!({"results": [stamps(json!({"code": 0, "codes": [code.clone()]}))]});
        let tspiot = json!({"codesResponse": [stamps(json!({"isCheckedOffline": true,
            "codes": [{"cis": MILK, "printView": ki, "isBlocked": true, "found": false}]}))]});
        let tspiot_v1 =
            json!({"codesResponse": {"codesResponse": [stamps(json!({"codes": [code.clone()]}))]}});
        for (name, v) in [("v1", v1), ("v2", v2), ("tspiot", tspiot), ("tspiot v1", tspiot_v1)] {
            let a = OfflineAnswer::from_answer(&v, MILK).unwrap_or_else(|| panic!("{name}"));
            assert!(a.is_blocked, "{name}");
            assert_eq!(
                (a.inst.as_deref(), a.version.as_deref(), a.req_id.as_deref(), a.req_timestamp),
                (Some("inst-1"), Some("ver-1"), Some("req-1"), Some(1_767_225_612_077)),
                "{name}"
            );
            assert_eq!(OfflineAnswer::from_answer(&v, PACK), None, "{name}: another code");
        }
        let on_code =
            json!({"codes": [{"cis": MILK, "isBlocked": false, "inst": "code-inst"}], "inst": "item-inst"});
        assert_eq!(OfflineAnswer::from_answer(&on_code, MILK).and_then(|a| a.inst), Some("code-inst".into()));
    }

    #[test]
    fn reasons_have_stable_names_and_descriptions() {
        use BanReason::*;
        let all = [
            None,
            InvalidStructure,
            NotFound,
            NotApplied,
            NotVerified,
            Blocked,
            AlreadySold,
            NotInCirculation,
            Expired,
            AboveMaxPrice,
            BelowSinglePrice,
            BelowMinPrice,
            OtherError,
            NotOwner,
            ReturnNeverSold,
            OfflineGreyGtin,
            OfflineBlocked,
            OfflineSold,
            OfflineAboveMaxPrice,
            OfflineBelowSinglePrice,
            OfflineBelowMinPrice,
            AbovePackMrp,
            NoAnswer,
        ];
        let mut names = std::collections::BTreeSet::new();
        for r in all {
            assert_eq!(serde_json::to_value(r).ok(), Some(json!(r.name())), "{r:?}");
            assert!(names.insert(r.name()), "duplicate {}", r.name());
            assert!(!r.description_ru().is_empty() && !r.description_en().is_empty());
            assert_eq!(r.rule().is_empty(), r == None);
        }
        let rows: Vec<u8> = all[1..13].iter().map(|r| r.row()).collect();
        assert_eq!(rows, (1..=12).collect::<Vec<u8>>(), "§10.1 rows in order");
    }

    #[test]
    fn policy_defaults_and_serde() {
        let p: DecisionPolicy = serde_json::from_value(json!({})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p, DecisionPolicy::default());
        let p: DecisionPolicy =
            serde_json::from_value(json!({"expiry_mode": "local_date", "not_owner": "expect_ban",
                "block_price_basis": "pack", "no_answer": "allow_without1260"}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (p.expiry_mode, p.not_owner, p.block_price_basis, p.no_answer),
            (
                ExpiryMode::LocalDate,
                NotOwnerPolicy::ExpectBan,
                BlockPriceBasis::Pack,
                NoAnswerPolicy::AllowWithout1260
            )
        );
        assert!(serde_json::from_value::<DecisionPolicy>(json!({"bogus": 1})).is_err());
    }

    /// Every labelled code of the default world, answered by the emulator's True API and decided at
    /// its catalogue price: the verdict the certification cases expect.
    #[test]
    fn default_world_cases() {
        use crate::trueapi::{check_code, Requester, TrueApiOptions};
        let world = crate::world::default::default_world(NOW).unwrap_or_else(|e| panic!("{e}"));
        let opts = TrueApiOptions::default();
        let who = Requester { inn: Some(crate::world::default::STORE_INN) };
        let expected = |case: &str| match case {
            "in-circulation" | "expires-tomorrow" | "not-owner" | "grey-zone" | "partially-sold"
            | "eaeu-ok" | "gtin-grey" => Some(BanReason::None),
            "emitted" => Some(BanReason::NotApplied),
            "applied" => Some(BanReason::NotInCirculation),
            "sold" | "withdrawn" => Some(BanReason::AlreadySold),
            "blocked" | "permit-terminated" | "vet-certificate-annulled" | "gtin-blocked" => {
                Some(BanReason::Blocked)
            }
            "expired" => Some(BanReason::Expired),
            "crypto-invalid" => Some(BanReason::NotVerified),
            "eaeu-failed-in-issuing-country" | "eaeu-not-in-cross-border-service" => {
                Some(BanReason::NotFound)
            }
            _ => Option::None,
        };
        let mut seen = 0;
        for rec in world.codes() {
            let Some(want) = rec.case.as_deref().and_then(expected) else { continue };
            let answer = check_code(&world, &rec.code, who, NOW, &opts);
            let product = answer.gtin.as_deref().and_then(|g| world.product(g));
            let ctx = SaleContext {
                price_kopecks: product.map(|p| p.price_kopecks),
                is_block: product.is_some_and(|p| p.pack_count.is_some()),
                ..sale(0)
            };
            assert_eq!(reason(&answer, &ctx), want, "{:?}: {}", rec.case, rec.code);
            seen += 1;
        }
        assert!(seen > 400, "{seen}");
    }
}
