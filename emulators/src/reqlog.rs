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

#[derive(Default)]
struct Inner {
    by_id: HashMap<String, IssuedCheck>,
    order: VecDeque<String>,
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
        ReqLog { inner: Arc::new(Mutex::new(Inner::default())), capacity: capacity.max(1) }
    }

    /// Remember a check.
    pub fn record(&self, check: IssuedCheck) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.order.len() == self.capacity {
            if let Some(old) = g.order.pop_front() {
                g.by_id.remove(&old);
            }
        }
        g.order.push_back(check.req_id.clone());
        g.by_id.insert(check.req_id.clone(), check);
    }

    /// The check with `req_id`, if still remembered.
    pub fn get(&self, req_id: &str) -> Option<IssuedCheck> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).by_id.get(req_id).cloned()
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

    fn check(id: &str) -> IssuedCheck {
        IssuedCheck { req_id: id.into(), req_timestamp: 1, host: "cdn-1".into(), codes: vec!["c".into()] }
    }

    #[test]
    fn bounded_and_oldest_first_out() {
        let log = ReqLog::new(2);
        log.record(check("a"));
        log.record(check("b"));
        log.record(check("c"));
        assert_eq!(log.len(), 2);
        assert!(log.get("a").is_none());
        assert_eq!(log.get("c").unwrap().host, "cdn-1");
    }
}
