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
    /// The check endpoint refused the request itself (HTTP 400, 404, 410 and the other 4xx except
    /// 401: true-api.md §13.3 `RequestError`): no answer, and no retry, no other host and no ЛМ ЧЗ
    /// fallback either — the same request would be refused again, and a deprecated endpoint (410) must
    /// not be worked around by selling on an offline answer.
    Refused {
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

/// The HTTP client every check uses: no proxies (the emulators are on loopback), short connect
/// timeout, and no built-in TLS roots (an `https://` endpoint is reached only through
/// [`https_client`], which trusts exactly the certificate it is given).
pub fn http_client() -> reqwest::Client {
    builder().build().unwrap_or_else(|_| reqwest::Client::new())
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_millis(1_000))
        .pool_idle_timeout(Duration::from_secs(90))
        .tls_built_in_root_certs(false)
}

/// A client for an `https://` ТС ПИоТ POS API (spec `tspiot.md` §2: self-signed certificate): it
/// trusts the PEM certificate(s) in the file at `ca_pem` and nothing else, so the connection is
/// verified (host name and chain), never blindly accepted.
pub fn https_client(ca_pem: &str) -> Result<reqwest::Client, String> {
    let pem = std::fs::read(ca_pem).map_err(|e| format!("endpoints.tspiot.ca_pem {ca_pem}: {e}"))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("endpoints.tspiot.ca_pem {ca_pem}: not a PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err(format!("endpoints.tspiot.ca_pem {ca_pem}: no certificate in the file"));
    }
    certs
        .into_iter()
        .fold(builder().use_rustls_tls(), |b, c| b.add_root_certificate(c))
        .build()
        .map_err(|e| format!("an HTTPS client for the ТС ПИоТ could not be built: {e}"))
}

/// `url` without a trailing `/`.
pub fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// Whether `url` can be used as a plain endpoint: `http://` only (`https://` is accepted for the
/// ТС ПИоТ alone, by [`check_tspiot_url`], where the endpoints name a certificate to trust).
pub fn check_url(what: &str, url: &str) -> Result<(), String> {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("https://") {
        Err(format!(
            "{what} is {url}: the reference POS speaks HTTPS only to a ТС ПИоТ whose certificate \
             endpoints.tspiot.ca_pem names; serve this endpoint over plain http://"
        ))
    } else if lower.starts_with("http://") && lower.len() > "http://".len() {
        Ok(())
    } else {
        Err(format!("{what} {url:?} is not an http:// URL"))
    }
}

/// Whether the ТС ПИоТ's POS API `url` can be used: `http://`, or `https://` when `ca_pem` names the
/// certificate to trust. Returns whether it is HTTPS.
pub fn check_tspiot_url(url: &str, ca_pem: Option<&str>) -> Result<bool, String> {
    let lower = url.trim().to_ascii_lowercase();
    match lower.strip_prefix("https://") {
        Some(rest) if !rest.is_empty() => match ca_pem.map(str::trim).filter(|p| !p.is_empty()) {
            Some(_) => Ok(true),
            None => Err(format!(
                "endpoints.tspiot.url is {url}, but endpoints.tspiot.ca_pem names no certificate to \
                 trust (the reference POS does not switch verification off)"
            )),
        },
        Some(_) => Err(format!("endpoints.tspiot.url {url:?} is not a URL")),
        None => check_url("endpoints.tspiot.url", url).map(|()| false),
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
        assert!(check_url("x", "https://127.0.0.1:1").unwrap_err().contains("ca_pem"));
        assert!(check_url("x", "ftp://a").is_err());
        assert!(check_url("x", "http://").is_err());
        assert_eq!(base("http://a/"), "http://a");
    }

    #[test]
    fn https_to_the_tspiot_only_with_a_certificate_to_trust() {
        assert_eq!(check_tspiot_url("http://127.0.0.1:1", None), Ok(false));
        assert_eq!(check_tspiot_url("https://127.0.0.1:1", Some("ca.pem")), Ok(true));
        assert!(check_tspiot_url("https://127.0.0.1:1", None).unwrap_err().contains("ca_pem"));
        assert!(check_tspiot_url("https://127.0.0.1:1", Some("  ")).is_err());
        assert!(check_tspiot_url("https://", Some("ca.pem")).is_err());
        assert!(check_tspiot_url("ftp://a", Some("ca.pem")).is_err());
    }

    #[test]
    fn an_unreadable_or_empty_certificate_file_is_an_error_not_a_panic() {
        let dir = std::env::temp_dir().join(format!("markcert-rp-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        assert!(https_client(missing.to_str().unwrap()).unwrap_err().contains("missing.pem"));
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        assert!(https_client(junk.to_str().unwrap()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
