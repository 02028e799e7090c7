//! Typed protocol violations. Each one renders as a human explanation that names the request,
//! points to the relevant section of `docs/adapter-protocol.md` and quotes the SUT's last stderr
//! lines (stdio transport).

use std::fmt;
use std::time::Duration;

/// The document every explanation points to.
pub const DOCS: &str = "docs/adapter-protocol.md";

/// What exactly the SUT did wrong (or what went wrong reaching it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ViolationKind {
    /// A reply line (or HTTP body) is not JSON.
    #[error("the SUT wrote something that is not JSON: {line:?} ({error}); replies are one JSON object per line, and logs belong on stderr")]
    NotJson {
        /// The offending line (shortened).
        line: String,
        /// The JSON parser's message.
        error: String,
    },
    /// The reply is JSON but not an object.
    #[error("the SUT's reply is JSON but not an object: {line:?}")]
    NotAnObject {
        /// The offending line (shortened).
        line: String,
    },
    /// The reply has no string `type`.
    #[error("the SUT's reply has no string `type`: {line:?}")]
    MissingType {
        /// The offending line (shortened).
        line: String,
    },
    /// The reply's `type` is not a v1 reply type.
    #[error("the SUT's reply has unknown type {got:?} (v1 reply types: init_ok, receipt_opened, item, receipt_closed, receipt_cancelled, shutdown_ok, error): {line:?}")]
    UnknownType {
        /// The type received.
        got: String,
        /// The offending line (shortened).
        line: String,
    },
    /// The reply has no `in_reply_to`.
    #[error("the SUT's reply has no `in_reply_to` (every reply except `error` must echo the request's `id`): {line:?}")]
    MissingInReplyTo {
        /// The offending line (shortened).
        line: String,
    },
    /// `in_reply_to` is not the id of the request in flight.
    #[error("the SUT's reply has `in_reply_to` {got} but the request in flight has `id` {expected}")]
    WrongInReplyTo {
        /// The id of the request in flight.
        expected: u64,
        /// What the SUT sent (as JSON text).
        got: String,
    },
    /// The reply's type is valid but not an answer to this request.
    #[error("the SUT answered `{request}` with `{got}`; expected `{expected}` or `error`")]
    UnexpectedReplyType {
        /// The request type.
        request: &'static str,
        /// The reply type expected.
        expected: &'static str,
        /// The reply type received.
        got: String,
    },
    /// The reply's fields do not match its type.
    #[error("the SUT's `{reply_type}` reply has wrong or missing fields: {error}")]
    Malformed {
        /// The reply type.
        reply_type: String,
        /// What is wrong.
        error: String,
    },
    /// No reply within the time limit.
    #[error("the SUT did not answer within {:.1} s ({phase} timeout)", after.as_secs_f64())]
    Timeout {
        /// `start-up` (the first request) or `step`.
        phase: &'static str,
        /// The limit that elapsed.
        after: Duration,
    },
    /// The SUT process exited (or closed its stdout).
    #[error("the SUT exited ({status}) before answering")]
    Exited {
        /// Exit status as text, e.g. `exit status: 3` or `still running, stdout closed`.
        status: String,
    },
    /// The SUT process could not be started.
    #[error("the SUT could not be started: {0}")]
    Spawn(String),
    /// Transport failure: writing to stdin, or the HTTP request failed.
    #[error("could not talk to the SUT: {0}")]
    Transport(String),
    /// HTTP transport: non-success status whose body is not a protocol reply.
    #[error("the SUT answered HTTP {status} with a body that is not a protocol reply: {body:?}")]
    HttpStatus {
        /// HTTP status code.
        status: u16,
        /// The body (shortened).
        body: String,
    },
}

impl ViolationKind {
    /// The section of [`DOCS`] that explains this violation.
    pub fn docs_anchor(&self) -> &'static str {
        match self {
            ViolationKind::NotJson { .. }
            | ViolationKind::NotAnObject { .. }
            | ViolationKind::MissingType { .. }
            | ViolationKind::UnknownType { .. }
            | ViolationKind::Malformed { .. } => "#messages",
            ViolationKind::MissingInReplyTo { .. }
            | ViolationKind::WrongInReplyTo { .. }
            | ViolationKind::UnexpectedReplyType { .. } => "#envelope",
            ViolationKind::Timeout { .. } => "#timeouts",
            ViolationKind::Exited { .. }
            | ViolationKind::Spawn(_)
            | ViolationKind::Transport(_)
            | ViolationKind::HttpStatus { .. } => "#transports",
        }
    }

    /// A short stable name of the violation (`not_json`, `timeout`, …) for reports.
    pub fn code(&self) -> &'static str {
        match self {
            ViolationKind::NotJson { .. } => "not_json",
            ViolationKind::NotAnObject { .. } => "not_an_object",
            ViolationKind::MissingType { .. } => "missing_type",
            ViolationKind::UnknownType { .. } => "unknown_type",
            ViolationKind::MissingInReplyTo { .. } => "missing_in_reply_to",
            ViolationKind::WrongInReplyTo { .. } => "wrong_in_reply_to",
            ViolationKind::UnexpectedReplyType { .. } => "unexpected_reply_type",
            ViolationKind::Malformed { .. } => "malformed",
            ViolationKind::Timeout { .. } => "timeout",
            ViolationKind::Exited { .. } => "exited",
            ViolationKind::Spawn(_) => "spawn",
            ViolationKind::Transport(_) => "transport",
            ViolationKind::HttpStatus { .. } => "http_status",
        }
    }
}

/// A protocol violation: what happened, during which request, and the SUT's last stderr lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolViolation {
    /// What happened.
    pub kind: ViolationKind,
    /// `type` and `id` of the request in flight, e.g. `scan #3`, if any.
    pub request: Option<String>,
    /// The SUT's last stderr lines (stdio transport; empty for HTTP).
    pub stderr_tail: Vec<String>,
}

impl ProtocolViolation {
    /// A violation without request context or stderr.
    pub fn new(kind: ViolationKind) -> Self {
        ProtocolViolation { kind, request: None, stderr_tail: Vec::new() }
    }
}

impl fmt::Display for ProtocolViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "adapter protocol violation")?;
        if let Some(r) = &self.request {
            write!(f, " (request {r})")?;
        }
        write!(
            f,
            ": {}.\n  See {}{} for what the harness expects.",
            self.kind,
            DOCS,
            self.kind.docs_anchor()
        )?;
        if self.stderr_tail.is_empty() {
            write!(f, "\n  The SUT wrote nothing on stderr.")?;
        } else {
            write!(f, "\n  Last lines of the SUT's stderr:")?;
            for line in &self.stderr_tail {
                write!(f, "\n    | {line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ProtocolViolation {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.kind)
    }
}

impl From<ViolationKind> for ProtocolViolation {
    fn from(kind: ViolationKind) -> Self {
        ProtocolViolation::new(kind)
    }
}
