//! The black lists the ЛМ ЧЗ holds between two syncs (spec `local-module.md` §1, §4.3 "snapshot
//! lag"): blocked КИ, blocked GTINs, grey GTINs and the price table, copied from the world at one sync
//! and stamped with the snapshot `version` UUID and the instant it was taken.
//!
//! A snapshot is immutable once taken and never reads the world again: checks answered from it say
//! what the operator's lists said at the last sync, which is the whole point of an offline module.
//! Lookups are hash-set lookups (the check path calls them for every code). Which version a snapshot
//! gets and when one is taken is decided by `model.rs`.

use crate::world::{identity, World};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Price-table values of one GTIN, kopecks (same meaning as True API `mrp` / `smp`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Prices {
    /// МРЦ / МЦ.
    pub mrp: Option<u64>,
    /// ЕМЦ.
    pub smp: Option<u64>,
}

/// The lists copied from the world at one sync.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LmSnapshot {
    /// Snapshot id: `version` in check answers and tag 1265 `Ver=`.
    pub version: Uuid,
    /// World instant the snapshot stands for (Unix ms): the sync it was taken at.
    pub taken_ms: i64,
    blocked_cis: HashSet<String>,
    blocked_gtin: HashSet<String>,
    grey_gtin: HashSet<String>,
    prices: HashMap<String, Prices>,
}

impl LmSnapshot {
    /// Copy the lists from `world` as it is now: the КИ of every code whose record is blocked, the
    /// GTIN of every product with a GTIN-level ban, every GTIN on the grey list, and the `mrp` / `smp`
    /// of every product that has at least one of them.
    pub fn take(world: &World, taken_ms: i64, version: Uuid) -> Self {
        let blocked_cis = world
            .codes()
            .into_iter()
            .filter(|r| r.is_blocked())
            .map(|r| identity(&r.code).unwrap_or_else(|| r.code.clone()))
            .collect();
        let products = world.products();
        let blocked_gtin = products.iter().filter(|p| p.is_blocked()).map(|p| p.gtin.clone()).collect();
        let grey_gtin = products.iter().filter(|p| p.grey_gtin).map(|p| p.gtin.clone()).collect();
        let prices = products
            .iter()
            .filter(|p| p.mrp_kopecks.is_some() || p.smp_kopecks.is_some())
            .map(|p| (p.gtin.clone(), Prices { mrp: p.mrp_kopecks, smp: p.smp_kopecks }))
            .collect();
        LmSnapshot { version, taken_ms, blocked_cis, blocked_gtin, grey_gtin, prices }
    }

    /// An empty snapshot (no list entries), e.g. for a module forced `ready` before its first sync.
    pub fn empty(taken_ms: i64, version: Uuid) -> Self {
        LmSnapshot { version, taken_ms, ..LmSnapshot::default() }
    }

    /// True when both snapshots hold the same lists (versions and instants aside).
    pub fn same_lists(&self, other: &LmSnapshot) -> bool {
        self.blocked_cis == other.blocked_cis
            && self.blocked_gtin == other.blocked_gtin
            && self.grey_gtin == other.grey_gtin
            && self.prices == other.prices
    }

    /// The code with identity `ki` is on the blocked-code list.
    pub fn is_blocked_cis(&self, ki: &str) -> bool {
        self.blocked_cis.contains(ki)
    }

    /// `gtin` is on the blocked-GTIN list.
    pub fn is_blocked_gtin(&self, gtin: &str) -> bool {
        self.blocked_gtin.contains(gtin)
    }

    /// `gtin` is on the grey GTIN list.
    pub fn is_grey_gtin(&self, gtin: &str) -> bool {
        self.grey_gtin.contains(gtin)
    }

    /// Price-table values of `gtin`, when the table knows it.
    pub fn prices(&self, gtin: &str) -> Option<Prices> {
        self.prices.get(gtin).copied()
    }

    /// Entries of the blocked-code list (`blocked_cis` docCount).
    pub fn blocked_cis_count(&self) -> usize {
        self.blocked_cis.len()
    }

    /// Entries of the blocked-GTIN list (`blocked_gtin` docCount).
    pub fn blocked_gtin_count(&self) -> usize {
        self.blocked_gtin.len()
    }

    /// Entries of the grey GTIN list.
    pub fn grey_gtin_count(&self) -> usize {
        self.grey_gtin.len()
    }

    /// Entries of the price table (`min_price` docCount).
    pub fn min_price_count(&self) -> usize {
        self.prices.len()
    }

    /// The blocked-code list, sorted (for the control API).
    pub fn blocked_cis_list(&self) -> Vec<&str> {
        sorted(&self.blocked_cis)
    }

    /// The blocked-GTIN list, sorted.
    pub fn blocked_gtin_list(&self) -> Vec<&str> {
        sorted(&self.blocked_gtin)
    }

    /// The grey GTIN list, sorted.
    pub fn grey_gtin_list(&self) -> Vec<&str> {
        sorted(&self.grey_gtin)
    }

    /// The price table, sorted by GTIN.
    pub fn price_list(&self) -> Vec<(&str, Prices)> {
        let mut v: Vec<(&str, Prices)> = self.prices.iter().map(|(g, p)| (g.as_str(), *p)).collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }
}

fn sorted(set: &HashSet<String>) -> Vec<&str> {
    let mut v: Vec<&str> = set.iter().map(String::as_str).collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::default::{default_world, TOBACCO_PACK_MRP, TOBACCO_PACK_SMP};
    use crate::world::CodeRecord;

    const NOW: i64 = 1_767_225_600_000;

    fn code_of(w: &World, case: &str) -> CodeRecord {
        w.codes().into_iter().find(|c| c.case.as_deref() == Some(case)).cloned().unwrap()
    }

    #[test]
    fn copies_the_lists_of_the_world() {
        let w = default_world(NOW).unwrap();
        let s = LmSnapshot::take(&w, NOW, Uuid::nil());
        assert_eq!(s.taken_ms, NOW);
        let blocked = w.codes().into_iter().filter(|c| c.is_blocked()).count();
        assert!(blocked > 0);
        assert_eq!(s.blocked_cis_count(), blocked);
        let b = code_of(&w, "blocked");
        assert!(s.is_blocked_cis(&identity(&b.code).unwrap()));
        assert!(!s.is_blocked_cis(&b.code), "keyed by КИ, not by the full code");
        let ok = code_of(&w, "in-circulation");
        assert!(!s.is_blocked_cis(&identity(&ok.code).unwrap()));

        let gtin_of = |r: &CodeRecord| markcert_codes::parse(r.code.as_bytes()).unwrap().gtin().to_string();
        let water = gtin_of(&code_of(&w, "gtin-blocked"));
        let milk = gtin_of(&code_of(&w, "gtin-grey"));
        assert_eq!(s.blocked_gtin_list(), vec![water.as_str()]);
        assert_eq!(s.grey_gtin_list(), vec![milk.as_str()]);
        assert!(s.is_blocked_gtin(&water) && !s.is_grey_gtin(&water));
        assert!(s.is_grey_gtin(&milk) && !s.is_blocked_gtin(&milk));
        assert_eq!(s.prices(&milk), None);

        let tobacco = w.products().into_iter().find(|p| p.smp_kopecks.is_some()).unwrap();
        assert_eq!(
            s.prices(&tobacco.gtin),
            Some(Prices { mrp: Some(TOBACCO_PACK_MRP), smp: Some(TOBACCO_PACK_SMP) })
        );
        let priced = w.products().into_iter().filter(|p| p.mrp_kopecks.is_some() || p.smp_kopecks.is_some());
        assert_eq!(s.min_price_count(), priced.count());
        assert_eq!(s.price_list().len(), s.min_price_count());
    }

    #[test]
    fn same_lists_ignores_version_and_instant_but_sees_changes() {
        let mut w = default_world(NOW).unwrap();
        let a = LmSnapshot::take(&w, NOW, Uuid::nil());
        let b = LmSnapshot::take(&w, NOW + 1, Uuid::max());
        assert!(a.same_lists(&b));
        let mut r = code_of(&w, "in-circulation");
        r.blocked_by = vec!["RPN".into()];
        w.update_code(r).unwrap();
        let c = LmSnapshot::take(&w, NOW + 2, Uuid::nil());
        assert!(!a.same_lists(&c));
        assert_eq!(c.blocked_cis_count(), a.blocked_cis_count() + 1);
        assert!(LmSnapshot::empty(NOW, Uuid::nil()).same_lists(&LmSnapshot::take(
            &World::new("1"),
            0,
            Uuid::nil()
        )));
    }
}
