//! [`FaultRule`]: which calls a fault applies to ([`FaultTarget`]), when it fires ([`Trigger`]) and what
//! it does ([`FaultKind`]); plus the rule loaders (TOML, JSON) and their checks.
//!
//! Owns targeting and trigger logic. It holds no run-time state: call counters and random generators
//! belong to the table (`table.rs`), which feeds them in.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::decision::CallInfo;
use super::error::FaultError;
use super::kind::FaultKind;

/// Identifier of a rule in a [`FaultTable`](super::FaultTable), assigned by `add` (from 1, never reused
/// within a table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RuleId(pub u64);

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Which calls a rule looks at. `None` matches anything; a value ending in `*` is a prefix
/// (`"cdn-*"`, `"/api/v4/true-api/*"`); any other value must match exactly. Hosts compare ASCII
/// case-insensitively; endpoints compare case-sensitively and ignore the query string of the call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultTarget {
    /// Emulated host name (`"cdn-1"`, `"cdn-*"`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Request path (`"/api/v4/true-api/codes/check"`, `"/api/v4/true-api/cdn/*"`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

impl FaultTarget {
    /// Every call.
    pub fn any() -> Self {
        FaultTarget::default()
    }

    /// True when it matches every call.
    pub fn is_any(&self) -> bool {
        self.host.is_none() && self.endpoint.is_none()
    }

    /// True when the call is one this target looks at.
    pub fn matches(&self, host: &str, endpoint: &str) -> bool {
        self.matches_path(host, strip_query(endpoint))
    }

    /// [`matches`](Self::matches) for an endpoint already without its query string.
    pub(super) fn matches_path(&self, host: &str, endpoint: &str) -> bool {
        let host_ok = self.host.as_deref().is_none_or(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => {
                host.len() >= prefix.len()
                    && host.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
            }
            None => host.eq_ignore_ascii_case(pattern),
        });
        host_ok
            && self.endpoint.as_deref().is_none_or(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => endpoint.starts_with(prefix),
                None => endpoint == pattern,
            })
    }

    fn validate(&self) -> Result<(), FaultError> {
        if self.host.as_deref() == Some("") {
            return Err(FaultError::EmptyTarget("host"));
        }
        if self.endpoint.as_deref() == Some("") {
            return Err(FaultError::EmptyTarget("endpoint"));
        }
        Ok(())
    }
}

/// When a rule fires, among the calls its target matches.
///
/// Wire shape: externally tagged, snake_case: `"always"`, `{ nth = { n = 3, every = 2 } }`,
/// `{ probability = { p = 0.05 } }`, `{ matching_code = { contains = "0104600439931256" } }`,
/// `{ window = { from_ms = 0, to_ms = 900_000 } }`, `{ all_of = [ …triggers… ] }`.
///
/// Evaluation of one call, for one rule whose target matches:
/// 1. *Filters* — `window` and `matching_code` (and `always`) — are checked; if one fails, the call
///    does not concern the rule at all.
/// 2. Otherwise the rule's call counter goes up by one; that number (1-based) is what `nth` looks at.
///    So `all_of = [window, nth 3]` fires on the 3rd call *inside the window*, and
///    `all_of = [matching_code, nth 2]` on the 2nd call concerning that code.
/// 3. `nth` and `probability` are then checked (in the written order, stopping at the first that
///    fails); `probability` draws from the rule's seeded generator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// Every call.
    #[default]
    Always,
    /// The `n`-th call (1-based), then, if `every` is given, every `every`-th call after it
    /// (`n`, `n + every`, `n + 2·every`, …).
    Nth {
        /// First call that fails, from 1.
        n: u64,
        /// Period after the first, at least 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        every: Option<u64>,
    },
    /// Each call with probability `p` (0..=1), from the rule's seeded generator.
    Probability {
        /// Probability that a call fails.
        p: f64,
    },
    /// Calls concerning a marking code that contains this text.
    MatchingCode {
        /// Text searched in each code of the call.
        contains: String,
    },
    /// Calls whose world time is in `[from_ms, to_ms)`.
    Window {
        /// Start, world-clock ms, inclusive.
        from_ms: i64,
        /// End, world-clock ms, exclusive.
        to_ms: i64,
    },
    /// Every listed trigger (see the evaluation order above).
    AllOf(Vec<Trigger>),
}

impl Trigger {
    /// The `n`-th call only.
    pub fn nth(n: u64) -> Self {
        Trigger::Nth { n, every: None }
    }

    /// The `n`-th call, then every `every`-th call after it.
    pub fn nth_every(n: u64, every: u64) -> Self {
        Trigger::Nth { n, every: Some(every) }
    }

    /// Each call with probability `p`.
    pub fn probability(p: f64) -> Self {
        Trigger::Probability { p }
    }

    /// Calls concerning a code that contains `text`.
    pub fn matching_code(text: impl Into<String>) -> Self {
        Trigger::MatchingCode { contains: text.into() }
    }

    /// Calls in `[from_ms, to_ms)` of world time.
    pub fn window(from_ms: i64, to_ms: i64) -> Self {
        Trigger::Window { from_ms, to_ms }
    }

    /// All of `triggers`.
    pub fn all_of(triggers: impl IntoIterator<Item = Trigger>) -> Self {
        Trigger::AllOf(triggers.into_iter().collect())
    }

    /// True for [`Trigger::Always`].
    pub fn is_always(&self) -> bool {
        matches!(self, Trigger::Always)
    }

    /// Refuses values outside their range.
    pub fn validate(&self) -> Result<(), FaultError> {
        match self {
            Trigger::Always => Ok(()),
            Trigger::Nth { n: 0, .. } => Err(FaultError::ZeroNth),
            Trigger::Nth { every: Some(0), .. } => Err(FaultError::ZeroEvery),
            Trigger::Nth { .. } => Ok(()),
            Trigger::Probability { p } if !(0.0..=1.0).contains(p) => {
                Err(FaultError::ProbabilityOutOfRange(*p))
            }
            Trigger::Probability { .. } => Ok(()),
            Trigger::MatchingCode { contains } if contains.is_empty() => Err(FaultError::EmptyCodeMatch),
            Trigger::MatchingCode { .. } => Ok(()),
            Trigger::Window { from_ms, to_ms } if to_ms <= from_ms => {
                Err(FaultError::EmptyWindow { from_ms: *from_ms, to_ms: *to_ms })
            }
            Trigger::Window { .. } => Ok(()),
            Trigger::AllOf(triggers) if triggers.is_empty() => Err(FaultError::EmptyAllOf),
            Trigger::AllOf(triggers) => triggers.iter().try_for_each(Trigger::validate),
        }
    }

    /// Step 1: the filters (`window`, `matching_code`). Counting triggers pass here.
    pub(super) fn admits<C: AsRef<str>>(&self, call: &CallInfo<'_, C>) -> bool {
        match self {
            Trigger::Always | Trigger::Nth { .. } | Trigger::Probability { .. } => true,
            Trigger::MatchingCode { contains } => {
                call.codes.iter().any(|code| code.as_ref().contains(contains.as_str()))
            }
            Trigger::Window { from_ms, to_ms } => (*from_ms..*to_ms).contains(&call.world_ms),
            Trigger::AllOf(triggers) => triggers.iter().all(|t| t.admits(call)),
        }
    }

    /// Step 3: `nth` against the 1-based count of admitted calls, `probability` with draws from
    /// `unit` (uniform in `[0, 1)`). Filters pass here.
    pub(super) fn fires(&self, count: u64, unit: &mut impl FnMut() -> f64) -> bool {
        match self {
            Trigger::Always | Trigger::MatchingCode { .. } | Trigger::Window { .. } => true,
            Trigger::Nth { n, every } => match every {
                Some(every) if count > *n => (count - n) % every == 0,
                _ => count == *n,
            },
            Trigger::Probability { p } => unit() < *p,
            Trigger::AllOf(triggers) => triggers.iter().all(|t| t.fires(count, unit)),
        }
    }

    /// True when the outcome depends on the time only (no counter, no draw, no codes), so it can be
    /// asked at connection time without disturbing anything.
    pub(super) fn depends_on_time_only(&self) -> bool {
        match self {
            Trigger::Always | Trigger::Window { .. } => true,
            Trigger::AllOf(triggers) => triggers.iter().all(Trigger::depends_on_time_only),
            _ => false,
        }
    }
}

/// One fault rule: the unit a scenario file, the control API and [`FaultTable`](super::FaultTable) deal in.
///
/// Wire shape (TOML shown; JSON has the same fields):
///
/// ```toml
/// name = "cdn-1 rate-limits its 3rd check"           # optional, shown in the trace
/// target = { host = "cdn-1", endpoint = "/api/v4/true-api/codes/check" }   # optional, default any
/// trigger = { nth = { n = 3 } }                       # optional, default "always"
/// fault = { kind = "status", status = 429 }           # required
/// seed = 7                                            # optional, for probability / random latency
/// ```
///
/// `id` is assigned by the table; it appears in [`FaultTable::list`](super::FaultTable::list) and is
/// ignored by `add`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Assigned by [`FaultTable::add`](super::FaultTable::add).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<RuleId>,
    /// Shown in the trace; a label is generated when absent (e.g. `status 429`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Which calls the rule looks at.
    #[serde(default, skip_serializing_if = "FaultTarget::is_any")]
    pub target: FaultTarget,
    /// When it fires.
    #[serde(default, skip_serializing_if = "Trigger::is_always")]
    pub trigger: Trigger,
    /// What it does.
    pub fault: FaultKind,
    /// Seed of the rule's generator; when absent, derived from the table seed and the rule id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// A document holding several rules: `[[rule]]` tables in TOML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleList {
    #[serde(default)]
    rule: Vec<FaultRule>,
}

impl FaultRule {
    /// A rule applying `fault` to every call.
    pub fn new(fault: FaultKind) -> Self {
        FaultRule {
            id: None,
            name: None,
            target: FaultTarget::any(),
            trigger: Trigger::Always,
            fault,
            seed: None,
        }
    }

    /// Sets the name shown in the trace.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Restricts the rule to a host (exact, or prefix with a trailing `*`).
    pub fn on_host(mut self, host: impl Into<String>) -> Self {
        self.target.host = Some(host.into());
        self
    }

    /// Restricts the rule to an endpoint (exact path, or prefix with a trailing `*`).
    pub fn on_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.target.endpoint = Some(endpoint.into());
        self
    }

    /// Sets the trigger.
    pub fn when(mut self, trigger: Trigger) -> Self {
        self.trigger = trigger;
        self
    }

    /// Sets the seed of the rule's generator.
    pub fn seeded(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Checks target, trigger and fault.
    pub fn validate(&self) -> Result<(), FaultError> {
        self.target.validate()?;
        self.trigger.validate()?;
        self.fault.validate()
    }

    /// Reads and checks one rule written as a TOML table.
    pub fn from_toml(text: &str) -> Result<Self, FaultError> {
        let rule: FaultRule = toml::from_str(text).map_err(|e| parse_error("TOML", e))?;
        rule.validate()?;
        Ok(rule)
    }

    /// Reads and checks one rule written as a JSON object.
    pub fn from_json(text: &str) -> Result<Self, FaultError> {
        let rule: FaultRule = serde_json::from_str(text).map_err(|e| parse_error("JSON", e))?;
        rule.validate()?;
        Ok(rule)
    }

    /// Reads and checks a TOML document of `[[rule]]` tables (an outage timeline), in order.
    pub fn list_from_toml(text: &str) -> Result<Vec<Self>, FaultError> {
        let list: RuleList = toml::from_str(text).map_err(|e| parse_error("TOML", e))?;
        list.rule.iter().try_for_each(FaultRule::validate)?;
        Ok(list.rule)
    }

    /// Reads and checks a JSON array of rules, in order.
    pub fn list_from_json(text: &str) -> Result<Vec<Self>, FaultError> {
        let rules: Vec<FaultRule> = serde_json::from_str(text).map_err(|e| parse_error("JSON", e))?;
        rules.iter().try_for_each(FaultRule::validate)?;
        Ok(rules)
    }
}

/// The path part of an endpoint (without `?query`).
pub(super) fn strip_query(endpoint: &str) -> &str {
    endpoint.split_once('?').map_or(endpoint, |(path, _)| path)
}

fn parse_error(format: &'static str, error: impl fmt::Display) -> FaultError {
    FaultError::Parse { format, message: error.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_patterns() {
        let exact = FaultTarget { host: Some("cdn-1".into()), endpoint: Some("/a/b".into()) };
        assert!(exact.matches("cdn-1", "/a/b"));
        assert!(exact.matches("CDN-1", "/a/b?x=1"));
        assert!(!exact.matches("cdn-10", "/a/b"));
        assert!(!exact.matches("cdn-1", "/a/b/c"));
        let prefix = FaultTarget { host: Some("cdn-*".into()), endpoint: Some("/a/*".into()) };
        assert!(prefix.matches("cdn-7", "/a/x/y"));
        assert!(!prefix.matches("lm", "/a/x"));
        assert!(!prefix.matches("cdn-7", "/b/x"));
        assert!(FaultTarget::any().matches("anything", "/"));
    }

    #[test]
    fn nth_counts_from_one_with_a_period() {
        let mut never = || -> f64 { panic!("nth must not draw") };
        let once: Vec<u64> = (1..=10).filter(|c| Trigger::nth(3).fires(*c, &mut never)).collect();
        assert_eq!(once, vec![3]);
        let every: Vec<u64> = (1..=12).filter(|c| Trigger::nth_every(3, 4).fires(*c, &mut never)).collect();
        assert_eq!(every, vec![3, 7, 11]);
        let all: Vec<u64> = (1..=4).filter(|c| Trigger::nth_every(1, 1).fires(*c, &mut never)).collect();
        assert_eq!(all, vec![1, 2, 3, 4]);
    }

    #[test]
    fn invalid_triggers_are_refused() {
        assert_eq!(Trigger::nth(0).validate(), Err(FaultError::ZeroNth));
        assert_eq!(Trigger::nth_every(1, 0).validate(), Err(FaultError::ZeroEvery));
        assert_eq!(Trigger::probability(1.5).validate(), Err(FaultError::ProbabilityOutOfRange(1.5)));
        assert!(Trigger::probability(f64::NAN).validate().is_err());
        assert_eq!(Trigger::window(5, 5).validate(), Err(FaultError::EmptyWindow { from_ms: 5, to_ms: 5 }));
        assert_eq!(Trigger::matching_code("").validate(), Err(FaultError::EmptyCodeMatch));
        assert_eq!(Trigger::all_of([]).validate(), Err(FaultError::EmptyAllOf));
        assert_eq!(Trigger::all_of([Trigger::nth(0)]).validate(), Err(FaultError::ZeroNth));
    }

    #[test]
    fn empty_target_strings_are_refused() {
        let rule = FaultRule::new(FaultKind::Reset).on_host("");
        assert_eq!(rule.validate(), Err(FaultError::EmptyTarget("host")));
    }
}
