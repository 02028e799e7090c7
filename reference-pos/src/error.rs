//! The errors of the reference POS: [`PosError`] ends [`crate::serve`] (only the transport can fail
//! it), [`StepError`] turns one request into an `error` reply, [`KktError`] is what the KKT's ATOL web
//! API did wrong. Owns their texts and the `code` each reply carries.

/// Why [`crate::serve`] stopped early (the transport failed; requests never end the loop).
#[derive(Debug, thiserror::Error)]
pub enum PosError {
    /// Reading the adapter input failed.
    #[error("reading the adapter input: {0}")]
    Read(std::io::Error),
    /// Writing a reply failed.
    #[error("writing a reply: {0}")]
    Write(std::io::Error),
}

/// Why a request could not be carried out: answered with `{"type":"error","code":…,"text":…}`.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Not a well-formed message (JSON, types, fields, base64).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// An unknown message type.
    #[error("message type {0:?} is not supported")]
    NotSupported(String),
    /// A request before `init`.
    #[error("not initialised: send init first")]
    NotInitialised,
    /// `scan`, `close_receipt` or `cancel_receipt` without an open receipt.
    #[error("no open receipt on lane {0:?}")]
    NoReceipt(String),
    /// `init` cannot be honoured (unsupported URL scheme, missing endpoint, …).
    #[error("init: {0}")]
    Init(String),
    /// The KKT refused or failed.
    #[error("KKT: {0}")]
    Kkt(#[from] KktError),
}

impl StepError {
    /// The `code` of the `error` reply.
    pub fn code(&self) -> &'static str {
        match self {
            StepError::BadRequest(_) => "bad_request",
            StepError::NotSupported(_) => "not_supported",
            StepError::NotInitialised => "not_initialised",
            StepError::NoReceipt(_) => "no_receipt",
            StepError::Init(_) => "init_failed",
            StepError::Kkt(_) => "kkt_error",
        }
    }
}

/// A failure talking to the KKT.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KktError {
    /// `init` gave no KKT.
    #[error("no KKT configured (endpoints.kkt is missing)")]
    NotConfigured,
    /// The web server could not be reached or did not answer in time.
    #[error("the ATOL web server is unreachable: {0}")]
    Unreachable(String),
    /// The web server answered an unexpected HTTP status.
    #[error("the ATOL web server answered HTTP {status}: {body}")]
    Http {
        /// HTTP status.
        status: u16,
        /// Start of the body.
        body: String,
    },
    /// A task failed with a driver error.
    #[error("error {code}: {description}")]
    Driver {
        /// Driver error code (`results[].error.code`).
        code: i64,
        /// Its description.
        description: String,
    },
    /// The task did not finish in time.
    #[error("the {0} task did not finish in time")]
    Timeout(String),
    /// The answer could not be read.
    #[error("unreadable answer: {0}")]
    BadAnswer(String),
}

impl KktError {
    /// The driver error code, when the KKT gave one.
    pub fn driver_code(&self) -> Option<i64> {
        match self {
            KktError::Driver { code, .. } => Some(*code),
            _ => None,
        }
    }
}
