//! Deliberate mutants: the reference POS with exactly one realistic defect each, as real POS vendors
//! make them. The certification suite is worth what it catches: every mutant must fail at least one
//! MUST scenario while the unmutated POS passes them all (`markcert certify --sut
//! "markcert-reference-pos --mutant NAME"`).
//!
//! [`Mutant`] names the defect; [`Options::with_mutant`](crate::Options::with_mutant) puts it into the
//! options. A defect that an existing switch of [`Options`](crate::Options) already expresses is that
//! switch (e.g. `expiry-by-machine-clock` = [`ExpiryClock::Machine`](crate::options::ExpiryClock));
//! every other one is a small branch at the one place in the code where a real implementation gets it
//! wrong, commented with the mutant's name (`grep -rn "Mutant::" reference-pos/src`). A mutant declares
//! the same features in `init_ok` as the reference: it hides its defect.

/// One deliberate defect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mutant {
    /// `ignore-expiry`: no `expireDate` row.
    IgnoreExpiry,
    /// `expiry-by-machine-clock`: expiry judged at this machine's clock, not the answer's `reqTimestamp`.
    ExpiryByMachineClock,
    /// `ignore-mrp`: no "price above МРЦ" check (answer's `mrp`, nor the pack's encoded MRP).
    IgnoreMrp,
    /// `ignore-min-price`: no "price below ЕМЦ / МЦ" check.
    IgnoreMinPrice,
    /// `ban-grey-zone`: no grey-zone exception for tobacco.
    BanGreyZone,
    /// `no-scanner-repair`: the scan is checked and registered as it arrived.
    NoScannerRepair,
    /// `strip-gs-before-check`: only the КИ (no ⟨GS⟩, no crypto tail) is sent to the check.
    StripGsBeforeCheck,
    /// `sell-blocked`: `isBlocked` is ignored.
    SellBlocked,
    /// `ignore-sold`: `sold` is ignored.
    IgnoreSold,
    /// `ignore-not-in-circulation`: `utilised` and `realizable` are ignored.
    IgnoreNotInCirculation,
    /// `accept-eaeu-errors`: `errorCode` 8 / 11 (EAEU cross-border) read as warnings.
    AcceptEaeuErrors,
    /// `1265-from-first-check`: every position gets the 1260 of the receipt's first position.
    Tag1265FromFirstCheck,
    /// `1260-in-emergency`: a 1260 with an invented reqId after a 203.
    Tag1260InEmergency,
    /// `omit-inst-ver-offline`: an ЛМ ЧЗ answer's 1265 lacks `&Inst=…&Ver=…`.
    OmitInstVerOffline,
    /// `time-as-iso-date`: 1265 `Time=` written as an ISO date-time.
    TimeAsIsoDate,
    /// `old-1263-1264`: the pre-2024 basis document (26.03.2022 № 477) in 1263/1264.
    Old1263And1264,
    /// `no-1260`: no tag 1260 at all.
    No1260,
    /// `return-as-sale-status`: a return is checked and registered with the sale's planned status.
    ReturnAsSaleStatus,
    /// `invent-2106`: the POS writes its own 2106 instead of the ФН's.
    Invent2106,
    /// `register-without-kkt-check`: no begin/accept validation before `sell`.
    RegisterWithoutKktCheck,
    /// `no-decline`: the KKT check runs before the decision and a banned code is never declined.
    NoDecline,
    /// `wrong-1212`: 1212 = 33 (commodity with marking) also for excise goods.
    Wrong1212,
    /// `accept-all`: the check is made but nothing is ever refused.
    AcceptAll,
    /// `check-unavailable-allows`: sold without 1260 when no check answer could be had.
    CheckUnavailableAllows,
    /// `returns-judged-as-sales`: returns go through the sale rules.
    ReturnsJudgedAsSales,
    /// `emergency-as-unavailable`: HTTP 203 read as a failed call, so the sale is refused.
    EmergencyAsUnavailable,
    /// `refuse-offline-answers`: an ЛМ ЧЗ (offline) answer never authorises a sale.
    RefuseOfflineAnswers,
    /// `plain-http-to-tspiot`: the ТС ПИоТ is called over plain HTTP even when its URL is HTTPS.
    PlainHttpToTspiot,
    /// `batch-recheck-per-code`: each position of a batch takes the stamps of its own re-check.
    BatchRecheckPerCode,
}

/// A mutant's name (kebab-case, as `--mutant` takes it) and its defect in one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MutantInfo {
    /// Kebab-case name.
    pub name: &'static str,
    /// The defect.
    pub description: &'static str,
}

const fn info(name: &'static str, description: &'static str) -> MutantInfo {
    MutantInfo { name, description }
}

/// Every mutant with its name and description, in a stable order.
const ALL: &[(Mutant, MutantInfo)] = &[
    (Mutant::IgnoreExpiry, info("ignore-expiry", "never refuses an expired product (no expireDate check)")),
    (
        Mutant::ExpiryByMachineClock,
        info(
            "expiry-by-machine-clock",
            "judges expiry by the till's clock instead of the answer's reqTimestamp",
        ),
    ),
    (
        Mutant::IgnoreMrp,
        info("ignore-mrp", "no price-above-МРЦ check (answer mrp and the pack's encoded MRP)"),
    ),
    (Mutant::IgnoreMinPrice, info("ignore-min-price", "no price-below-ЕМЦ/МЦ check")),
    (Mutant::BanGreyZone, info("ban-grey-zone", "refuses grey-zone tobacco (no §10.2 exception)")),
    (
        Mutant::NoScannerRepair,
        info("no-scanner-repair", "sends the raw scan as is (no ⟨GS⟩ restoration, no layout repair)"),
    ),
    (
        Mutant::StripGsBeforeCheck,
        info(
            "strip-gs-before-check",
            "cuts ⟨GS⟩ and the crypto tail off before the check: sends the КИ only",
        ),
    ),
    (
        Mutant::SellBlocked,
        info("sell-blocked", "ignores isBlocked: sells codes blocked by a government body"),
    ),
    (
        Mutant::IgnoreSold,
        info("ignore-sold", "ignores sold: sells a code already withdrawn from circulation"),
    ),
    (
        Mutant::IgnoreNotInCirculation,
        info("ignore-not-in-circulation", "ignores utilised/realizable: sells codes not in circulation"),
    ),
    (
        Mutant::AcceptEaeuErrors,
        info(
            "accept-eaeu-errors",
            "treats errorCode 8/11 (EAEU cross-border check failed) as warnings and sells",
        ),
    ),
    (
        Mutant::Tag1265FromFirstCheck,
        info("1265-from-first-check", "every position gets the 1260/1265 of the receipt's first check"),
    ),
    (
        Mutant::Tag1260InEmergency,
        info("1260-in-emergency", "writes a 1260 with an invented reqId when the check answered 203"),
    ),
    (
        Mutant::OmitInstVerOffline,
        info("omit-inst-ver-offline", "writes an ЛМ ЧЗ answer's 1265 without &Inst=…&Ver=…"),
    ),
    (
        Mutant::TimeAsIsoDate,
        info("time-as-iso-date", "writes 1265 Time= as an ISO date-time, not reqTimestamp"),
    ),
    (
        Mutant::Old1263And1264,
        info("old-1263-1264", "writes the pre-2024 basis document in 1263/1264 (26.03.2022 № 477)"),
    ),
    (Mutant::No1260, info("no-1260", "never writes tag 1260")),
    (
        Mutant::ReturnAsSaleStatus,
        info(
            "return-as-sale-status",
            "checks and registers a return with the sale's planned status (2003 = 1)",
        ),
    ),
    (
        Mutant::Invent2106,
        info("invent-2106", "writes its own 2106 (ФН-only result) instead of the KKT's itemInfoCheckResult"),
    ),
    (
        Mutant::RegisterWithoutKktCheck,
        info("register-without-kkt-check", "registers codes without begin/accept validation on the KKT"),
    ),
    (
        Mutant::NoDecline,
        info("no-decline", "validates on the KKT before deciding and never declines a banned code"),
    ),
    (Mutant::Wrong1212, info("wrong-1212", "writes 1212 = 33 for excise goods (tobacco) instead of 31")),
    (Mutant::AcceptAll, info("accept-all", "checks every code but never refuses a sale")),
    (
        Mutant::CheckUnavailableAllows,
        info("check-unavailable-allows", "sells without 1260 when the check is unreachable or answers 5xx"),
    ),
    (
        Mutant::ReturnsJudgedAsSales,
        info("returns-judged-as-sales", "applies the sale rules to returns (a sold code cannot come back)"),
    ),
    (
        Mutant::EmergencyAsUnavailable,
        info(
            "emergency-as-unavailable",
            "reads HTTP 203 (emergency mode) as a failed check and refuses the sale",
        ),
    ),
    (
        Mutant::RefuseOfflineAnswers,
        info("refuse-offline-answers", "refuses every sale checked offline through the ЛМ ЧЗ"),
    ),
    (
        Mutant::PlainHttpToTspiot,
        info("plain-http-to-tspiot", "calls the ТС ПИоТ over plain http:// even when its POS API is HTTPS"),
    ),
    (
        Mutant::BatchRecheckPerCode,
        info(
            "batch-recheck-per-code",
            "re-checks each code of a batch on its own and writes that check's 1265, not the batch's shared one",
        ),
    ),
];

/// Every mutant with its name and description.
pub fn all() -> &'static [(Mutant, MutantInfo)] {
    ALL
}

/// The `--list-mutants` text: one `name<TAB>description` line per mutant.
pub fn list() -> String {
    ALL.iter().map(|(_, i)| format!("{}\t{}\n", i.name, i.description)).collect()
}

impl Mutant {
    /// The mutant called `name` (kebab-case, exact).
    pub fn from_name(name: &str) -> Option<Mutant> {
        ALL.iter().find(|(_, i)| i.name == name).map(|(m, _)| *m)
    }

    /// Its name and description.
    pub fn info(self) -> MutantInfo {
        ALL.iter().find(|(m, _)| *m == self).map(|(_, i)| *i).unwrap_or(info("?", "?"))
    }

    /// Its kebab-case name.
    pub fn name(self) -> &'static str {
        self.info().name
    }
}

impl std::fmt::Display for Mutant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique_kebab_case() {
        assert!(all().len() >= 22);
        let mut seen = std::collections::HashSet::new();
        for (m, i) in all() {
            assert_eq!(Mutant::from_name(i.name), Some(*m), "{}", i.name);
            assert_eq!(m.name(), i.name);
            assert!(seen.insert(i.name), "duplicate {}", i.name);
            assert!(
                i.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                i.name
            );
            assert!(!i.description.is_empty() && !i.description.contains(['\t', '\n']));
        }
        let variants: std::collections::HashSet<Mutant> = all().iter().map(|(m, _)| *m).collect();
        assert_eq!(variants.len(), all().len(), "one entry per variant");
        assert_eq!(Mutant::from_name("no-such-defect"), None);
        assert_eq!(Mutant::from_name("IGNORE-EXPIRY"), None);
    }

    #[test]
    fn the_list_has_one_tab_separated_line_per_mutant() {
        let text = list();
        assert_eq!(text.lines().count(), all().len());
        assert!(text.lines().all(|l| l.split('\t').count() == 2));
    }
}
