//! [`FaultError`]: why a fault rule was refused. Owns the error type only; every check lives next to the
//! type it checks (`validate` in each fault-kind file, in `rule.rs` for targets and triggers).

/// A fault rule that cannot be used: malformed text, or a value outside its range.
///
/// Returned by [`FaultTable::add`](super::FaultTable::add), [`FaultTable::set_timeline`](super::FaultTable::set_timeline)
/// and the loaders ([`FaultRule::from_toml`](super::FaultRule::from_toml), [`FaultRule::from_json`](super::FaultRule::from_json), …).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultError {
    /// The text is not a fault rule (syntax error, unknown field, missing field, wrong type).
    #[error("invalid fault rule {format}: {message}")]
    Parse {
        /// `"TOML"` or `"JSON"`.
        format: &'static str,
        /// The parser's message.
        message: String,
    },
    /// `probability.p` is not a number in `0..=1`.
    #[error("probability {0} is outside 0..=1")]
    ProbabilityOutOfRange(f64),
    /// `nth.n` is 0 (calls are counted from 1).
    #[error("nth.n must be at least 1 (calls are counted from 1)")]
    ZeroNth,
    /// `nth.every` is 0.
    #[error("nth.every must be at least 1")]
    ZeroEvery,
    /// `window.to_ms` is not after `window.from_ms`.
    #[error("empty window: to_ms ({to_ms}) must be greater than from_ms ({from_ms})")]
    EmptyWindow {
        /// Start of the window (inclusive).
        from_ms: i64,
        /// End of the window (exclusive).
        to_ms: i64,
    },
    /// `matching_code.contains` is empty (it would match every call that carries a code).
    #[error("matching_code.contains must not be empty")]
    EmptyCodeMatch,
    /// `all_of` has no triggers.
    #[error("all_of must list at least one trigger")]
    EmptyAllOf,
    /// A `status` fault with an HTTP status outside `100..=599`.
    #[error("HTTP status {0} is outside 100..=599")]
    StatusOutOfRange(u16),
    /// A `content_type` that cannot be sent as an HTTP header value.
    #[error("content type {0:?} is empty or not printable ASCII")]
    BadContentType(String),
    /// A uniform latency whose `min_ms` exceeds `max_ms`.
    #[error("uniform latency: min_ms ({min_ms}) exceeds max_ms ({max_ms})")]
    UniformRange {
        /// Lower bound.
        min_ms: u64,
        /// Upper bound.
        max_ms: u64,
    },
    /// A `drip` fault with `bytes_per_chunk = 0`.
    #[error("drip.bytes_per_chunk must be at least 1")]
    ZeroChunk,
    /// `target.host` or `target.endpoint` is an empty string (omit it to match any).
    #[error("target.{0} is empty; omit it to match any {0}")]
    EmptyTarget(&'static str),
}
