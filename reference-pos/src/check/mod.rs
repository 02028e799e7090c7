//! The permissive-mode check of one code, through the ТС ПИоТ ([`tspiot`]) or, in direct mode,
//! through True API's CDN hosts ([`direct`]) with the ЛМ ЧЗ as fallback ([`lm`]); answers are read
//! by [`answer`]. Every path ends in one [`Answer`]: an online or offline result with the stamps tag
//! 1265 needs, emergency mode (203), or no usable answer. The decision itself is `decision.rs`'s.

pub mod answer;
pub mod direct;
pub mod lm;
pub mod tspiot;

use std::time::Duration;

use answer::{CodeAnswer, OfflineCode, Timestamp};
use markcert_codes::MarkingCode;

/// What a check is asked about: the code as sent, and its КИ (what the ЛМ ЧЗ is sent, and how the
/// answer about it is recognised). The reference POS always sends the canonical code
/// ([`Subject::of`]); only a mutant sends anything else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// The code as sent to the ТС ПИоТ / True API.
    pub code: String,
    /// Its КИ (GTIN + serial).
    pub ki: String,
}

impl Subject {
    /// The canonical code and its КИ.
    pub fn of(code: &MarkingCode) -> Subject {
        Subject { code: code.as_str().to_string(), ki: code.ki().to_string() }
    }
}

/// What the check of one code produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// An online result (True API, directly or passed through by the ТС ПИоТ).
    Online {
        /// The per-code object.
        code: Box<CodeAnswer>,
        /// `reqId`.
        req_id: String,
        /// `reqTimestamp`.
        time: Timestamp,
        /// Where the answer came from, for the log.
        source: &'static str,
    },
    /// An offline result (ЛМ ЧЗ, directly or wrapped by the ТС ПИоТ with `isCheckedOffline`).
    Offline {
        /// The per-code object.
        code: OfflineCode,
        /// `reqId`.
        req_id: String,
        /// `reqTimestamp`.
        time: Timestamp,
        /// `inst`.
        inst: String,
        /// `version`.
        version: String,
        /// Where it came from, for the log.
        source: &'static str,
    },
    /// Emergency mode (HTTP 203): sell without a check and without 1260.
    Emergency {
        /// Who said so.
        source: &'static str,
    },
    /// No usable answer.
    Unavailable {
        /// Why (for the cashier's message).
        why: String,
    },
}

impl Answer {
    /// Shorthand for [`Answer::Unavailable`].
    pub fn unavailable(why: impl Into<String>) -> Answer {
        Answer::Unavailable { why: why.into() }
    }
}

/// The HTTP client every check uses: plain HTTP only (this build has no TLS), no proxies (the
/// emulators are on loopback), short connect timeout.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_millis(1_000))
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// `url` without a trailing `/`.
pub fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// Whether `url` can be used by this build: `http://` only.
pub fn check_url(what: &str, url: &str) -> Result<(), String> {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("https://") {
        Err(format!(
            "{what} is {url}: HTTPS is not supported by this build of the reference POS (reqwest without TLS); \
             serve the emulators over plain http://"
        ))
    } else if lower.starts_with("http://") && lower.len() > "http://".len() {
        Ok(())
    } else {
        Err(format!("{what} {url:?} is not an http:// URL"))
    }
}

/// At most 200 characters of a body, for messages.
pub fn excerpt(body: &str) -> String {
    let mut s: String = body.chars().take(200).collect();
    if body.chars().nth(200).is_some() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls() {
        assert!(check_url("x", "http://127.0.0.1:1").is_ok());
        assert!(check_url("x", "HTTP://host").is_ok());
        assert!(check_url("x", "https://127.0.0.1:1").unwrap_err().contains("HTTPS is not supported"));
        assert!(check_url("x", "ftp://a").is_err());
        assert!(check_url("x", "http://").is_err());
        assert_eq!(base("http://a/"), "http://a");
    }
}
