//! [`FaultTable`]: the run-time set of fault rules that every emulated server consults on every call.
//!
//! Owns the rules in the order they were added, their call counters and their seeded generators, and
//! the hot path [`FaultTable::decide`]. It does no I/O and never sleeps: servers apply the
//! [`Decision`] themselves.
//!
//! Cost model: with no rules, `decide` is one atomic load. With rules it takes a read lock on the rule
//! list, and for each rule whose target and filters match it bumps an atomic counter and, only if the
//! rule draws (probability, random latency), locks that rule's generator. It never allocates: bodies
//! and names were prepared by `add` and are shared by reference count.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::decision::{CallInfo, Decision};
use super::error::FaultError;
use super::kind::{Effect, FaultKind};
use super::rule::{strip_query, FaultRule, RuleId};

/// The fault rules in force, shared by every server of a run and by the control API.
///
/// Cloning is cheap and gives another handle on the same table. Every method takes `&self` and may be
/// called from any thread while others call [`decide`](Self::decide).
///
/// Rule precedence: latency rules that fire all add up; among the other rules that fire on a call, the
/// one added first chooses the action. Every rule whose target matches sees every call, whichever rule
/// wins, so "the 3rd call to cdn-1" means the 3rd call to cdn-1 whatever other faults do.
///
/// Reproducibility: each rule has its own ChaCha8 generator, seeded from the rule's `seed`, or else from
/// the table seed and the rule id (ids count from 1 in each table). The same table seed, the same
/// sequence of `add`s and the same sequence of calls give the same decisions.
#[derive(Clone, Default)]
pub struct FaultTable {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    seed: u64,
    next_id: AtomicU64,
    /// Number of rules, read without the lock so that an empty table costs one atomic load.
    len: AtomicUsize,
    rules: RwLock<Vec<ActiveRule>>,
}

/// A rule as the table holds it: the rule as written plus what `decide` needs, prepared once.
struct ActiveRule {
    id: RuleId,
    rule: FaultRule,
    label: Arc<str>,
    effect: Effect,
    /// Host-wide `host-down` that depends on time only: answered by `connection_refused`.
    refuses_connections: bool,
    /// Calls admitted by target and filters.
    calls: AtomicU64,
    rng: Mutex<ChaCha8Rng>,
}

impl ActiveRule {
    fn new(id: RuleId, mut rule: FaultRule, table_seed: u64) -> Result<Self, FaultError> {
        rule.validate()?;
        rule.id = Some(id);
        let effect = rule.fault.effect()?;
        let label: Arc<str> = match &rule.name {
            Some(name) => Arc::from(name.as_str()),
            None => Arc::from(rule.fault.label()),
        };
        let refuses_connections = matches!(rule.fault, FaultKind::HostDown)
            && rule.target.endpoint.is_none()
            && rule.trigger.depends_on_time_only();
        let seed = rule.seed.unwrap_or_else(|| splitmix64(table_seed ^ splitmix64(id.0)));
        Ok(ActiveRule {
            id,
            rule,
            label,
            effect,
            refuses_connections,
            calls: AtomicU64::new(0),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        })
    }
}

impl FaultTable {
    /// An empty table with seed 0.
    pub fn new() -> Self {
        FaultTable::default()
    }

    /// An empty table whose rules without a seed of their own derive it from `seed`.
    pub fn with_seed(seed: u64) -> Self {
        FaultTable { inner: Arc::new(Inner { seed, ..Inner::default() }) }
    }

    /// The table seed.
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// Checks `rule` and puts it after the existing rules. Its `id` field is ignored and a new id is
    /// returned.
    pub fn add(&self, rule: FaultRule) -> Result<RuleId, FaultError> {
        let mut rules = self.write();
        let active = ActiveRule::new(self.next_id(), rule, self.inner.seed)?;
        let id = active.id;
        rules.push(active);
        self.inner.len.store(rules.len(), Ordering::Release);
        Ok(id)
    }

    /// Like [`add`](Self::add), removing the rule again when the returned guard is dropped.
    pub fn add_scoped(&self, rule: FaultRule) -> Result<ScopedRule, FaultError> {
        let id = self.add(rule)?;
        Ok(ScopedRule { table: self.clone(), id })
    }

    /// Removes a rule; false if there is no such rule.
    pub fn remove(&self, id: RuleId) -> bool {
        let mut rules = self.write();
        let before = rules.len();
        rules.retain(|rule| rule.id != id);
        self.inner.len.store(rules.len(), Ordering::Release);
        rules.len() != before
    }

    /// Removes every rule.
    pub fn clear(&self) {
        let mut rules = self.write();
        rules.clear();
        self.inner.len.store(0, Ordering::Release);
    }

    /// Replaces every rule with `rules` (typically an outage timeline of `window` rules), in order.
    /// All are checked first: on error the table is left unchanged.
    pub fn set_timeline(&self, rules: Vec<FaultRule>) -> Result<Vec<RuleId>, FaultError> {
        rules.iter().try_for_each(FaultRule::validate)?;
        let mut current = self.write();
        let fresh = rules
            .into_iter()
            .map(|rule| ActiveRule::new(self.next_id(), rule, self.inner.seed))
            .collect::<Result<Vec<_>, _>>()?;
        let ids = fresh.iter().map(|rule| rule.id).collect();
        *current = fresh;
        self.inner.len.store(current.len(), Ordering::Release);
        Ok(ids)
    }

    /// The rules in force, in precedence order, with their ids.
    pub fn list(&self) -> Vec<FaultRule> {
        self.read().iter().map(|rule| rule.rule.clone()).collect()
    }

    /// One rule.
    pub fn get(&self, id: RuleId) -> Option<FaultRule> {
        self.read().iter().find(|rule| rule.id == id).map(|rule| rule.rule.clone())
    }

    /// How many calls a rule has counted so far (calls matching its target and filters).
    pub fn calls(&self, id: RuleId) -> Option<u64> {
        self.read().iter().find(|rule| rule.id == id).map(|rule| rule.calls.load(Ordering::Relaxed))
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.inner.len.load(Ordering::Acquire)
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What to do with one call. Counts the call for every rule whose target and filters match, and
    /// draws from the generators of the rules that need it.
    pub fn decide<C: AsRef<str>>(&self, call: &CallInfo<'_, C>) -> Decision {
        if self.inner.len.load(Ordering::Acquire) == 0 {
            return Decision::pass();
        }
        let rules = self.read();
        let endpoint = strip_query(call.endpoint);
        let mut decision = Decision::pass();
        let mut acted = false;
        let mut first_latency: Option<&ActiveRule> = None;
        for rule in rules.iter() {
            if !rule.rule.target.matches_path(call.host, endpoint) || !rule.rule.trigger.admits(call) {
                continue;
            }
            let count = rule.calls.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            let mut rng: Option<MutexGuard<'_, ChaCha8Rng>> = None;
            let mut unit = || {
                rng.get_or_insert_with(|| rule.rng.lock().unwrap_or_else(PoisonError::into_inner)).random()
            };
            if !rule.rule.trigger.fires(count, &mut unit) {
                continue;
            }
            match &rule.effect {
                Effect::Delay(latency) => {
                    decision.delay = decision.delay.saturating_add(latency.sample(&mut unit));
                    first_latency.get_or_insert(rule);
                }
                Effect::Act(action) if !acted => {
                    acted = true;
                    decision.action = action.clone();
                    decision.fault_name = Some(Arc::clone(&rule.label));
                    decision.rule = Some(rule.id);
                }
                Effect::Act(_) => {}
            }
        }
        if let (false, Some(rule)) = (acted, first_latency) {
            decision.fault_name = Some(Arc::clone(&rule.label));
            decision.rule = Some(rule.id);
        }
        decision
    }

    /// True when `host` is down at `world_ms` by a `host-down` rule that targets the whole host (no
    /// endpoint) and whose trigger depends on time only (`always`, `window`, `all_of` of those). For a
    /// server that wants to reset a connection as soon as it is accepted. Counts nothing and draws
    /// nothing; at connection time such a rule takes precedence over rules added before it.
    pub fn connection_refused(&self, host: &str, world_ms: i64) -> bool {
        if self.inner.len.load(Ordering::Acquire) == 0 {
            return false;
        }
        let call = CallInfo::new(host, "", world_ms);
        self.read().iter().any(|rule| {
            rule.refuses_connections && rule.rule.target.matches(host, "") && rule.rule.trigger.admits(&call)
        })
    }

    fn next_id(&self) -> RuleId {
        RuleId(self.inner.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn read(&self) -> RwLockReadGuard<'_, Vec<ActiveRule>> {
        self.inner.rules.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Vec<ActiveRule>> {
        self.inner.rules.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for FaultTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultTable").field("seed", &self.inner.seed).field("rules", &self.list()).finish()
    }
}

/// A rule that is removed from its table when this guard is dropped (see
/// [`FaultTable::add_scoped`]).
#[must_use = "the rule is removed as soon as the guard is dropped"]
#[derive(Debug)]
pub struct ScopedRule {
    table: FaultTable,
    id: RuleId,
}

impl ScopedRule {
    /// The rule's id.
    pub fn id(&self) -> RuleId {
        self.id
    }
}

impl Drop for ScopedRule {
    fn drop(&mut self) {
        self.table.remove(self.id);
    }
}

/// A well-mixed 64-bit function (SplitMix64 finaliser), to derive rule seeds from the table seed.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::{Action, Latency, Trigger};
    use std::time::Duration;

    fn call(host: &str) -> CallInfo<'_> {
        CallInfo::new(host, "/api/v4/true-api/codes/check", 0)
    }

    #[test]
    fn empty_table_passes() {
        let table = FaultTable::new();
        assert!(table.is_empty());
        assert_eq!(table.decide(&call("cdn-1")), Decision::pass());
        assert!(!table.connection_refused("cdn-1", 0));
    }

    #[test]
    fn first_added_action_wins_and_latencies_add_up() {
        let table = FaultTable::new();
        table.add(FaultRule::new(FaultKind::Latency(Latency::fixed(30)))).ok();
        let first = table.add(FaultRule::new(FaultKind::rate_limited_429()).named("first")).ok();
        table.add(FaultRule::new(FaultKind::Reset)).ok();
        table.add(FaultRule::new(FaultKind::Latency(Latency::fixed(20)))).ok();
        let decision = table.decide(&call("cdn-1"));
        assert_eq!(decision.delay, Duration::from_millis(50));
        assert!(matches!(decision.action, Action::Respond { status: 429, .. }));
        assert_eq!(decision.fault_name.as_deref(), Some("first"));
        assert_eq!(decision.rule, first);
    }

    #[test]
    fn latency_alone_names_the_first_latency_rule() {
        let table = FaultTable::new();
        let id = table.add(FaultRule::new(FaultKind::Latency(Latency::fixed(5)))).ok();
        let decision = table.decide(&call("cdn-1"));
        assert_eq!(decision.action, Action::Pass);
        assert_eq!(decision.fault_name.as_deref(), Some("latency 5 ms"));
        assert_eq!(decision.rule, id);
    }

    #[test]
    fn every_matching_rule_counts_even_when_another_wins() {
        let table = FaultTable::new();
        table.add(FaultRule::new(FaultKind::Reset).when(Trigger::nth(1))).ok();
        let third = table.add(FaultRule::new(FaultKind::rate_limited_429()).when(Trigger::nth(3))).ok();
        let actions: Vec<Action> = (0..4).map(|_| table.decide(&call("cdn-1")).action).collect();
        assert_eq!(actions[0], Action::Reset);
        assert_eq!(actions[1], Action::Pass);
        assert!(matches!(actions[2], Action::Respond { status: 429, .. }));
        assert_eq!(actions[3], Action::Pass);
        assert_eq!(third.and_then(|id| table.calls(id)), Some(4));
    }

    #[test]
    fn set_timeline_is_all_or_nothing() {
        let table = FaultTable::new();
        table.add(FaultRule::new(FaultKind::Reset)).ok();
        let bad = vec![FaultRule::new(FaultKind::Blackhole), FaultRule::new(FaultKind::status(42))];
        assert_eq!(table.set_timeline(bad), Err(FaultError::StatusOutOfRange(42)));
        assert_eq!(table.list().len(), 1);
        let ids = table.set_timeline(vec![FaultRule::new(FaultKind::Blackhole)]);
        assert_eq!(ids.map(|ids| ids.len()), Ok(1));
        assert_eq!(table.list()[0].fault, FaultKind::Blackhole);
    }

    #[test]
    fn scoped_rule_is_removed_on_drop() {
        let table = FaultTable::new();
        {
            let _guard = table.add_scoped(FaultRule::new(FaultKind::Reset));
            assert_eq!(table.len(), 1);
        }
        assert!(table.is_empty());
    }
}
