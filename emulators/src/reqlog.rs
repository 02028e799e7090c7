//! The log of every `reqId` the emulated True API issued, with its time, host and codes (spec
//! `README.md` §3.3): receipt grading checks tag 1265 against it. Bounded so memory stays flat in a
//! soak; lookups by reqId are O(1).
//!
//! Two generations of at most half the capacity each: new checks go into the current one; when it is
//! full, the previous one is dropped whole and the current one becomes the previous. So the newest
//! `capacity / 2` to `capacity` checks are remembered, the oldest leave first (a half at a time), and
//! no entry is ever removed one by one — a hash table that removes one entry per insert fills with
//! tombstones and regrows or rehashes itself in the middle of a load test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One issued check.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IssuedCheck {
    /// The reqId (lower-case hyphenated UUID).
    pub req_id: String,
    /// `reqTimestamp`, Unix ms of the world clock.
    pub req_timestamp: i64,
    /// Component that issued it (`cdn-1`, …).
    pub host: String,
    /// The codes of the request, in order.
    pub codes: Vec<String>,
}

/// One remembered check, compactly: the reqId is the map key, the host name is shared.
#[derive(Debug)]
struct Entry {
    req_timestamp: i64,
    host: Arc<str>,
    codes: Arc<[String]>,
}

/// Hashes a reqId key: the keys are random UUIDs from our own generator, so folding the 128 bits is
/// as good as SipHash here and far cheaper.
#[derive(Default)]
struct UuidHasher(u64);

impl std::hash::Hasher for UuidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = (n as u64) ^ ((n >> 64) as u64);
    }
}

type UuidMap<V> = HashMap<u128, V, std::hash::BuildHasherDefault<UuidHasher>>;

/// Entries allocated up front per generation (a larger generation grows on demand).
const PREALLOCATION: usize = 1 << 19;

struct Inner {
    current: UuidMap<Entry>,
    previous: UuidMap<Entry>,
}

/// Shared, bounded log of issued checks.
#[derive(Clone)]
pub struct ReqLog {
    inner: Arc<Mutex<Inner>>,
    capacity: usize,
    generation: usize,
}

fn generation_map(generation: usize) -> UuidMap<Entry> {
    UuidMap::with_capacity_and_hasher(generation.min(PREALLOCATION), Default::default())
}

impl ReqLog {
    /// A log keeping between the newest `capacity / 2` and `capacity` checks.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let generation = capacity.div_ceil(2);
        let inner = Inner { current: generation_map(generation), previous: UuidMap::default() };
        ReqLog { inner: Arc::new(Mutex::new(inner)), capacity, generation }
    }

    /// Remember a check (the hot path of `codes/check`: no string is copied; the trace event of the
    /// call may share the same `codes`).
    pub fn record_issued(
        &self,
        req_id: uuid::Uuid,
        req_timestamp: i64,
        host: &Arc<str>,
        codes: Arc<[String]>,
    ) {
        let entry = Entry { req_timestamp, host: Arc::clone(host), codes };
        let retired = {
            let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            let retired = if g.current.len() >= self.generation {
                let fresh = generation_map(self.generation);
                let full = std::mem::replace(&mut g.current, fresh);
                let keep = if self.capacity > 1 { full } else { UuidMap::default() };
                Some(std::mem::replace(&mut g.previous, keep))
            } else {
                None
            };
            g.current.insert(req_id.as_u128(), entry);
            retired
        };
        // The retired generation is freed outside the lock.
        drop(retired);
    }

    /// Remember a check. A `req_id` that is not a UUID cannot have been issued and is ignored.
    pub fn record(&self, check: IssuedCheck) {
        if let Ok(id) = uuid::Uuid::parse_str(&check.req_id) {
            self.record_issued(id, check.req_timestamp, &Arc::from(check.host.as_str()), check.codes.into());
        }
    }

    /// The check with `req_id`, if still remembered.
    pub fn get(&self, req_id: &str) -> Option<IssuedCheck> {
        let id = uuid::Uuid::parse_str(req_id.trim()).ok()?;
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let key = id.as_u128();
        let e = g.current.get(&key).or_else(|| g.previous.get(&key))?;
        Some(IssuedCheck {
            req_id: id.to_string(),
            req_timestamp: e.req_timestamp,
            host: e.host.to_string(),
            codes: e.codes.to_vec(),
        })
    }

    /// Number of remembered checks.
    pub fn len(&self) -> usize {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.current.len() + g.previous.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> String {
        uuid::Uuid::from_u128(n).to_string()
    }

    fn check(n: u128) -> IssuedCheck {
        IssuedCheck { req_id: id(n), req_timestamp: 1, host: "cdn-1".into(), codes: vec!["c".into()] }
    }

    #[test]
    fn bounded_and_oldest_first_out() {
        let log = ReqLog::new(2);
        log.record(check(1));
        log.record(check(2));
        log.record(check(3));
        assert_eq!(log.len(), 2);
        assert!(log.get(&id(1)).is_none());
        assert_eq!(log.get(&id(3)).unwrap(), check(3));
        assert_eq!(log.get(&id(3).to_uppercase()).unwrap().req_id, id(3), "any UUID spelling");
    }

    #[test]
    fn remembers_between_half_and_all_of_its_capacity_newest_first() {
        let log = ReqLog::new(10);
        for n in 0..1000 {
            log.record(check(n));
            assert!((5.min(n as usize + 1)..=10).contains(&log.len()), "{n}: {}", log.len());
            assert!(log.get(&id(n)).is_some(), "the newest is always there");
        }
        assert!(log.get(&id(989)).is_none(), "old ones leave");
        let single = ReqLog::new(1);
        single.record(check(1));
        single.record(check(2));
        assert_eq!(single.len(), 1);
    }

    #[test]
    fn not_a_uuid_is_neither_recorded_nor_found() {
        let log = ReqLog::new(2);
        log.record(IssuedCheck { req_id: "x".into(), ..check(1) });
        assert!(log.is_empty());
        assert!(log.get("x").is_none());
    }
}
