//! Adapter protocol v1: how markcert talks to a system under test (`docs/adapter-protocol.md`).
//!
//! [`protocol`] holds the message types and the reply parser, [`error`] the typed protocol
//! violations, [`stdio`] the NDJSON-over-a-child-process transport and [`http`] the POST-each-message
//! transport. Both transports implement [`AdapterClient`]; [`Adapter`] is the enum of the two.

pub mod error;
pub mod http;
pub mod protocol;
pub mod stdio;

use std::future::Future;
use std::time::Duration;

pub use error::{ProtocolViolation, ViolationKind, DOCS};
pub use http::HttpAdapter;
pub use protocol::{Message, Reply, ReplyBody, Request};
pub use stdio::{StdioAdapter, StdioOptions};

/// Time limits of an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Limit for the first reply (the answer to `init`), which includes the SUT's start-up.
    pub startup: Duration,
    /// Limit for every later reply.
    pub step: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { startup: Duration::from_secs(10), step: Duration::from_secs(5) }
    }
}

impl Timeouts {
    /// The limit for a request, given whether it is the first one; names the phase for errors.
    pub(crate) fn for_request(&self, first: bool) -> (&'static str, Duration) {
        if first {
            ("start-up", self.startup)
        } else {
            ("step", self.step)
        }
    }
}

/// A connection to a SUT speaking protocol v1.
pub trait AdapterClient {
    /// Send `body` with the next message id and wait for the reply. An `error` reply from the SUT
    /// is `Ok`; anything that breaks the protocol is a [`ProtocolViolation`].
    fn request(&mut self, body: Request) -> impl Future<Output = Result<Reply, ProtocolViolation>> + Send;
}

/// Either transport.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per lane, never moved in a hot loop
pub enum Adapter {
    /// NDJSON over a child process's stdin/stdout.
    Stdio(StdioAdapter),
    /// HTTP POST of each message.
    Http(HttpAdapter),
}

impl Adapter {
    /// The SUT's last stderr lines (empty for HTTP).
    pub fn stderr_tail(&self) -> Vec<String> {
        match self {
            Adapter::Stdio(s) => s.stderr_tail(),
            Adapter::Http(_) => Vec::new(),
        }
    }
}

impl AdapterClient for Adapter {
    async fn request(&mut self, body: Request) -> Result<Reply, ProtocolViolation> {
        match self {
            Adapter::Stdio(s) => s.request(body).await,
            Adapter::Http(h) => h.request(body).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_request_gets_the_startup_timeout() {
        let t = Timeouts::default();
        assert_eq!(t.for_request(true), ("start-up", Duration::from_secs(10)));
        assert_eq!(t.for_request(false), ("step", Duration::from_secs(5)));
    }

    #[test]
    fn violation_display_points_to_docs_and_quotes_stderr() {
        let v = ProtocolViolation {
            kind: ViolationKind::Exited { status: "exit status: 2".into() },
            request: Some("scan #4".into()),
            stderr_tail: vec!["panic: no KKT".into()],
        };
        let text = v.to_string();
        assert!(text.contains("request scan #4"), "{text}");
        assert!(text.contains("docs/adapter-protocol.md#transports"), "{text}");
        assert!(text.contains("| panic: no KKT"), "{text}");
        let bare = ProtocolViolation::new(ViolationKind::Spawn("x".into())).to_string();
        assert!(bare.contains("wrote nothing on stderr"), "{bare}");
    }
}
