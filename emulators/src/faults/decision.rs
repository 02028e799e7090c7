//! The two values that cross the boundary between the fault table and an emulated server: the
//! [`CallInfo`] a server passes in for every call, and the [`Decision`] (delay + [`Action`]) it gets back.
//! Owns no logic beyond constructors; it must stay cheap to build and to clone (no allocation: shared
//! bytes and names are `Arc`s prepared when the rule was added).

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use super::rule::RuleId;

/// One call as an emulated server sees it, before answering.
///
/// `C` is the element type of the code list, so a server can pass the codes it already holds
/// (`&[String]` or `&[&str]`) without building a new vector.
#[derive(Debug, Clone, Copy)]
pub struct CallInfo<'a, C = &'a str> {
    /// Emulated host name, as used in rule targets: the trace component name (`"cdn-1"`,
    /// `"true-api-discovery"`, …).
    pub host: &'a str,
    /// Request path (e.g. `"/api/v4/true-api/codes/check"`). A query string (`?…`) is ignored.
    pub endpoint: &'a str,
    /// The marking codes the request concerns (for `matching_code` triggers); empty if none.
    pub codes: &'a [C],
    /// World-clock time of the call, in milliseconds (for `window` triggers).
    pub world_ms: i64,
}

impl<'a> CallInfo<'a> {
    /// A call that carries no codes.
    pub fn new(host: &'a str, endpoint: &'a str, world_ms: i64) -> Self {
        CallInfo { host, endpoint, codes: &[], world_ms }
    }
}

impl<'a, C: AsRef<str>> CallInfo<'a, C> {
    /// The same call, concerning `codes`.
    pub fn with_codes<D: AsRef<str>>(self, codes: &'a [D]) -> CallInfo<'a, D> {
        CallInfo { host: self.host, endpoint: self.endpoint, codes, world_ms: self.world_ms }
    }
}

/// What the server must do with the call.
///
/// The server first waits [`Decision::delay`], then performs the action. See the fault-kind modules
/// for the exact contract of each action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Answer normally.
    Pass,
    /// Answer with this status and body instead of the normal answer
    /// ([`status`](super::status) fault).
    Respond {
        /// HTTP status.
        status: u16,
        /// Response body, rendered when the rule was added (possibly empty).
        body: Arc<[u8]>,
        /// `Content-Type` header value; `None` for an empty body without an explicit type.
        content_type: Option<Arc<str>>,
    },
    /// Read the request, then close the connection without a response, abortively (TCP RST)
    /// ([`reset`](super::reset) fault).
    Reset,
    /// Read the request and never answer; keep the connection open until the client gives up
    /// ([`blackhole`](super::blackhole) fault).
    Hang,
    /// Answer normally, but write the body `bytes_per_chunk` bytes at a time with `chunk_delay`
    /// between chunks ([`drip`](super::drip) fault).
    Drip {
        /// Bytes per write (at least 1).
        bytes_per_chunk: NonZeroUsize,
        /// Pause before each chunk after the first.
        chunk_delay: Duration,
    },
    /// The host is down: reset the connection at once, without reading the request
    /// ([`host_down`](super::host_down) fault).
    Refuse,
}

/// The fault table's answer for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Wait this long before acting: the sum of every matching latency rule.
    pub delay: Duration,
    /// What to do after the delay: the first matching non-latency rule, in the order rules were added.
    pub action: Action,
    /// For the trace: the name (or a generated label) of the rule that chose [`action`](Self::action),
    /// or of the first latency rule if the action is [`Action::Pass`]; `None` when no rule fired.
    pub fault_name: Option<Arc<str>>,
    /// The rule that chose [`action`](Self::action), or the first latency rule if none did.
    pub rule: Option<RuleId>,
}

impl Decision {
    /// No fault: answer normally, at once.
    pub const fn pass() -> Self {
        Decision { delay: Duration::ZERO, action: Action::Pass, fault_name: None, rule: None }
    }

    /// True when no rule fired (no delay, normal answer).
    pub fn is_pass(&self) -> bool {
        self.action == Action::Pass && self.delay.is_zero()
    }
}

impl Default for Decision {
    fn default() -> Self {
        Decision::pass()
    }
}
