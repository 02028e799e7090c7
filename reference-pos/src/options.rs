//! [`Options`]: every behaviour of the reference POS that the spec leaves configurable, or that a
//! deliberate mutant may later switch off or alter — the decision policy ([`Policy`]), the time
//! budgets ([`Timeouts`]), the declared features, and the switches of the scan / KKT flow. The
//! defaults are the spec's defaults; a correct POS is `Options::default()`, which has no [`Mutant`];
//! [`Options::with_mutant`] gives the options of one deliberate mutant.

use std::time::Duration;

use crate::mutant::Mutant;

/// What a scenario may rely on this POS to do (declared in `init_ok`).
pub const ALL_FEATURES: &[&str] =
    &["tspiot", "direct", "lm-fallback", "returns", "weighted", "fractional", "batch"];

/// The clock expiry dates are judged against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryClock {
    /// The check answer's `reqTimestamp` (the emulated world time; the default).
    ReqTimestamp,
    /// This machine's clock (what a naive POS does; a mutant).
    Machine,
}

/// What to do when no check answer could be had (`policy.no_answer`, true-api.md §12.2 rule 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoAnswerPolicy {
    /// Refuse the sale (default).
    Ban,
    /// Sell without tag 1260.
    AllowWithout1260,
}

/// Whether `mrp`/`smp` of a block are block totals or per pack (`trueapi.block_price_basis`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockPriceBasis {
    /// Block totals, compared with the block's price as they are (default).
    Block,
    /// Per pack: multiplied by `packageQuantity` first.
    Pack,
}

/// The sale-ban decision's knobs (true-api.md §10–§11, local-module.md §7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Groups whose `mrp` is a maximum (МРЦ), row 9.
    pub max_price_groups: Vec<u16>,
    /// Groups whose `mrp` is a minimum (МЦ), row 11.
    pub min_price_groups: Vec<u16>,
    /// Groups the grey-zone exception applies to (§10.2).
    pub grey_zone_groups: Vec<u16>,
    /// Groups sold as excise goods (1212 = 31 instead of 33).
    pub excise_groups: Vec<u16>,
    /// Apply the grey-zone exception at all.
    pub grey_zone_exception: bool,
    /// Judge expiry against this clock.
    pub expiry_clock: ExpiryClock,
    /// Rows 1–5 apply to returns (R1–R5).
    pub return_basic_rules: bool,
    /// Apply the return rules (§11) on return receipts; off = the sale rules.
    pub return_rules: bool,
    /// §12.2 rule 5.
    pub no_answer: NoAnswerPolicy,
    /// §10.3.
    pub block_price_basis: BlockPriceBasis,
    /// Packs per block when a block's answer has no `packageQuantity`.
    pub default_package_quantity: u64,
    /// §10.3 last rule: refuse a pack above the MRP encoded in its code when no answer gives `mrp`.
    pub pack_mrp_rule: bool,
    /// local-module.md §7 row 4 (offline price rules, a SHOULD).
    pub offline_price_rules: bool,
    /// Refuse a code whose KKT check says the ОИСМ suspended its sale (2109 = 3, kkt.md G-C7).
    pub decline_sale_stopped: bool,
    /// The deliberate defect of the decision, if any: a copy of [`Options::mutant`] (kept in step by
    /// [`Options::with_mutant`] and [`crate::Pos::new`]) so that the pure rules see it.
    pub mutant: Option<Mutant>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_price_groups: vec![3, 12],
            min_price_groups: vec![16],
            grey_zone_groups: vec![3],
            excise_groups: vec![3, 12, 15, 16],
            grey_zone_exception: true,
            expiry_clock: ExpiryClock::ReqTimestamp,
            return_basic_rules: true,
            return_rules: true,
            no_answer: NoAnswerPolicy::Ban,
            block_price_basis: BlockPriceBasis::Block,
            default_package_quantity: 10,
            pack_mrp_rule: true,
            offline_price_rules: true,
            decline_sale_stopped: true,
            mutant: None,
        }
    }
}

/// Time budgets. The harness gives every step 5 s; each step must fit in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Whole `scan` step: the check and the KKT flow must end by then.
    pub scan_budget: Duration,
    /// One call to the ТС ПИоТ (tspiot.md §6: SHOULD exceed its 1800 ms `codesCheckTimeout`).
    pub tspiot: Duration,
    /// Back-off before the one retry of a ТС ПИоТ 500/504.
    pub tspiot_retry_backoff: Duration,
    /// One `GET /api/v{N}/info` of the ТС ПИоТ's version discovery at `init`.
    pub tspiot_info: Duration,
    /// The whole version discovery at `init` (at most three `/info` calls).
    pub tspiot_discovery: Duration,
    /// Direct mode: online budget per check (true-api.md §13.3).
    pub online_budget: Duration,
    /// Direct mode: `cdn/info`.
    pub discovery: Duration,
    /// Direct mode: each `health/check`.
    pub health: Duration,
    /// Direct mode: host block after a failure.
    pub host_block: Duration,
    /// Direct mode: list refresh, not earlier than this…
    pub refresh_min: Duration,
    /// …and not later than this after the last one.
    pub refresh_max: Duration,
    /// Direct mode: at most one discovery retry per this interval after a failed one.
    pub discovery_retry: Duration,
    /// ЛМ ЧЗ `outCheck`.
    pub lm: Duration,
    /// ЛМ ЧЗ `sell` / `return` registration after a receipt (best effort).
    pub lm_register: Duration,
    /// One HTTP call to the KKT.
    pub kkt_http: Duration,
    /// Polling interval of KKT requests and checks.
    pub kkt_poll: Duration,
    /// Longest wait for a KKT marking check to become ready.
    pub kkt_check: Duration,
    /// Longest wait for an ordinary KKT request (shift, sell, accept, …) to finish.
    pub kkt_task: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            scan_budget: Duration::from_millis(4_700),
            tspiot: Duration::from_millis(2_500),
            tspiot_retry_backoff: Duration::from_millis(100),
            tspiot_info: Duration::from_millis(700),
            tspiot_discovery: Duration::from_millis(1_500),
            online_budget: Duration::from_millis(1_500),
            discovery: Duration::from_millis(2_000),
            health: Duration::from_millis(2_000),
            host_block: Duration::from_secs(900),
            refresh_min: Duration::from_secs(6 * 3600),
            refresh_max: Duration::from_secs(7 * 3600),
            discovery_retry: Duration::from_secs(60),
            lm: Duration::from_millis(1_500),
            lm_register: Duration::from_millis(700),
            kkt_http: Duration::from_millis(1_500),
            kkt_poll: Duration::from_millis(20),
            kkt_check: Duration::from_millis(3_300),
            kkt_task: Duration::from_millis(3_000),
        }
    }
}

/// Everything that shapes the POS's behaviour.
#[derive(Clone, Debug)]
pub struct Options {
    /// The decision.
    pub policy: Policy,
    /// Time budgets.
    pub timeouts: Timeouts,
    /// Features declared in `init_ok`.
    pub features: Vec<String>,
    /// `client_info.name` / `version` sent to the ТС ПИоТ.
    pub client_name: String,
    /// See [`Options::client_name`].
    pub client_version: String,
    /// Repair damaged scans (lost ⟨GS⟩, layouts, Caps Lock, prefixes); off = accept canonical scans only.
    pub repair_scans: bool,
    /// Refuse a code without its verification part (KI only) before any check.
    pub require_crypto_tail: bool,
    /// Refuse a second scan of a code already in the open receipt.
    pub reject_duplicates: bool,
    /// Run the KKT check (begin → poll → accept/decline) before registering a code.
    pub kkt_check: bool,
    /// Direct mode: register sales and returns in the ЛМ ЧЗ after the receipt (local-module.md §9).
    pub lm_register: bool,
    /// Direct mode: fall back to the ЛМ ЧЗ when True API gives no answer.
    pub lm_fallback: bool,
    /// Retry a ТС ПИоТ 500/504 once (tspiot.md §6).
    pub tspiot_retry: bool,
    /// Operator name on receipts and shift reports.
    pub cashier: String,
    /// Write a log to stderr.
    pub log: bool,
    /// The deliberate defect this POS carries (`None`: the reference POS). See [`crate::mutant`].
    pub mutant: Option<Mutant>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            policy: Policy::default(),
            timeouts: Timeouts::default(),
            features: ALL_FEATURES.iter().map(|s| s.to_string()).collect(),
            client_name: crate::NAME.into(),
            client_version: crate::VERSION.into(),
            repair_scans: true,
            require_crypto_tail: true,
            reject_duplicates: true,
            kkt_check: true,
            lm_register: true,
            lm_fallback: true,
            tspiot_retry: true,
            cashier: "Кассир".into(),
            log: true,
            mutant: None,
        }
    }
}

impl Options {
    /// These options with the defect `mutant`. A defect an existing switch expresses is that switch;
    /// every other one is a named branch in the code, found by `opts.mutant` / `policy.mutant`.
    pub fn with_mutant(mut self, mutant: Mutant) -> Options {
        match mutant {
            Mutant::ExpiryByMachineClock => self.policy.expiry_clock = ExpiryClock::Machine,
            Mutant::BanGreyZone => self.policy.grey_zone_exception = false,
            Mutant::CheckUnavailableAllows => self.policy.no_answer = NoAnswerPolicy::AllowWithout1260,
            Mutant::ReturnsJudgedAsSales => self.policy.return_rules = false,
            Mutant::RegisterWithoutKktCheck => self.kkt_check = false,
            _ => {}
        }
        self.mutant = Some(mutant);
        self.policy.mutant = Some(mutant);
        self
    }

    /// Whether this POS carries the defect `mutant`.
    pub fn has(&self, mutant: Mutant) -> bool {
        self.mutant == Some(mutant)
    }
}

impl Policy {
    /// Whether the decision carries the defect `mutant`.
    pub fn has(&self, mutant: Mutant) -> bool {
        self.mutant == Some(mutant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_has_no_mutant() {
        let o = Options::default();
        assert_eq!(o.mutant, None);
        assert_eq!(o.policy.mutant, None);
        assert_eq!(o.policy, Policy::default());
    }

    #[test]
    fn a_mutant_keeps_the_features_and_maps_onto_existing_switches() {
        for (m, _) in crate::mutant::all() {
            let o = Options::default().with_mutant(*m);
            assert_eq!((o.mutant, o.policy.mutant), (Some(*m), Some(*m)));
            assert_eq!(o.features, Options::default().features, "{m}");
        }
        let machine = Options::default().with_mutant(Mutant::ExpiryByMachineClock);
        assert_eq!(machine.policy.expiry_clock, ExpiryClock::Machine);
        assert!(!Options::default().with_mutant(Mutant::BanGreyZone).policy.grey_zone_exception);
        assert!(!Options::default().with_mutant(Mutant::RegisterWithoutKktCheck).kkt_check);
    }
}
