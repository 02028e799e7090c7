//! The log of every `reqId` the emulated True API issued, with its time, host and codes (spec
//! `README.md` §3.3): receipt grading checks tag 1265 against it. Bounded (oldest entries leave
//! first) so memory stays flat in a soak; lookups by reqId are O(1).

use std::collections::{HashMap, VecDeque};
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
    codes: Vec<String>,
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

/// Entries allocated up front (a larger log grows on demand): a full log then never rehashes under
/// its lock in the middle of a load test.
const PREALLOCATION: usize = 1 << 20;

struct Inner {
    by_id: UuidMap<Entry>,
    order: VecDeque<u128>,
}

/// Shared, bounded log of issued checks.
#[derive(Clone)]
pub struct ReqLog {
    inner: Arc<Mutex<Inner>>,
    capacity: usize,
}

impl ReqLog {
    /// A log keeping the newest `capacity` checks.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let pre = capacity.min(PREALLOCATION);
        let inner = Inner {
            by_id: UuidMap::with_capacity_and_hasher(pre, Default::default()),
            order: VecDeque::with_capacity(pre),
        };
        ReqLog { inner: Arc::new(Mutex::new(inner)), capacity }
    }

    /// Remember a check (the hot path of `codes/check`: no string is copied).
    pub fn record_issued(&self, req_id: uuid::Uuid, req_timestamp: i64, host: &Arc<str>, codes: Vec<String>) {
        let key = req_id.as_u128();
        let entry = Entry { req_timestamp, host: Arc::clone(host), codes };
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.order.len() >= self.capacity {
            if let Some(old) = g.order.pop_front() {
                g.by_id.remove(&old);
            }
        }
        g.order.push_back(key);
        g.by_id.insert(key, entry);
    }

    /// Remember a check. A `req_id` that is not a UUID cannot have been issued and is ignored.
    pub fn record(&self, check: IssuedCheck) {
        if let Ok(id) = uuid::Uuid::parse_str(&check.req_id) {
            self.record_issued(id, check.req_timestamp, &Arc::from(check.host.as_str()), check.codes);
        }
    }

    /// The check with `req_id`, if still remembered.
    pub fn get(&self, req_id: &str) -> Option<IssuedCheck> {
        let id = uuid::Uuid::parse_str(req_id.trim()).ok()?;
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let e = g.by_id.get(&id.as_u128())?;
        Some(IssuedCheck {
            req_id: id.to_string(),
            req_timestamp: e.req_timestamp,
            host: e.host.to_string(),
            codes: e.codes.clone(),
        })
    }

    /// Number of remembered checks.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).order.len()
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
    fn not_a_uuid_is_neither_recorded_nor_found() {
        let log = ReqLog::new(2);
        log.record(IssuedCheck { req_id: "x".into(), ..check(1) });
        assert!(log.is_empty());
        assert!(log.get("x").is_none());
    }
}
