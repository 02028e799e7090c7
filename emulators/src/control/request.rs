//! Reading control requests: the body format from `Content-Type`, JSON and TOML bodies, UTF-8 text,
//! query flags and numbers, and durations written as text (`72h`, `1h30m`, `500ms`).
//!
//! Owns the rules every route shares, so that a wrong content type is always a 415 naming the types
//! accepted and a malformed body always a 400 naming what was expected. Knows no route.

use super::error::ApiError;
use axum::body::Bytes;
use axum::http::{header, HeaderMap};
use serde::de::DeserializeOwned;

/// A body format a route accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    /// `application/json` (or `…+json`).
    Json,
    /// `application/toml` (also `text/toml`, `text/x-toml`).
    Toml,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Toml => "application/toml",
        }
    }
}

/// The format of the body: `default` when `Content-Type` is absent (or `text/plain`,
/// `application/octet-stream` or `application/x-www-form-urlencoded`, which name no format we read:
/// the last is what `curl -d` sends whatever the body is), else the named one if the route accepts it.
pub(super) fn format(headers: &HeaderMap, accepted: &[Format], default: Format) -> Result<Format, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else { return Ok(default) };
    let refuse = |shown: &str| {
        let names: Vec<&str> = accepted.iter().map(|f| f.content_type()).collect();
        ApiError::unsupported_media_type(format!(
            "Content-Type {shown:?} is not accepted here; send {}",
            names.join(" or ")
        ))
        .with_valid(names)
    };
    let Ok(text) = value.to_str() else { return Err(refuse("(not ASCII)")) };
    let essence = text.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let named = match essence.as_str() {
        "" | "text/plain" | "application/octet-stream" | "application/x-www-form-urlencoded" => {
            return Ok(default)
        }
        "application/json" => Format::Json,
        e if e.ends_with("+json") => Format::Json,
        "application/toml" | "text/toml" | "text/x-toml" => Format::Toml,
        _ => return Err(refuse(text)),
    };
    if accepted.contains(&named) {
        Ok(named)
    } else {
        Err(refuse(text))
    }
}

/// The body as UTF-8 text.
pub(super) fn text(body: &Bytes) -> Result<&str, ApiError> {
    std::str::from_utf8(body)
        .map_err(|e| ApiError::bad_request(format!("body is not UTF-8 text (byte {})", e.valid_up_to())))
}

/// A JSON body (`Content-Type: application/json`, or none) read as `T`. `example` shows the expected
/// shape in the error message.
pub(super) fn json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
    example: &str,
) -> Result<T, ApiError> {
    format(headers, &[Format::Json], Format::Json)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(format!("empty body; expected JSON like {example}")));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}; expected JSON like {example}")))
}

/// A query parameter that must be `true` or `false`.
pub(super) fn flag(name: &str, value: Option<&str>) -> Result<Option<bool>, ApiError> {
    match value {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ApiError::bad_request(format!("{name}={other:?}: expected true or false"))
            .with_valid(["true", "false"])),
    }
}

/// A query parameter that must be a non-negative integer.
pub(super) fn number<T: std::str::FromStr>(name: &str, value: Option<&str>) -> Result<Option<T>, ApiError> {
    value
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| ApiError::bad_request(format!("{name}={v:?}: expected a non-negative integer")))
        })
        .transpose()
}

/// A duration written as whole numbers with units, largest first or not: `72h`, `1h30m`, `90s`,
/// `500ms`, `2d`. Milliseconds; never negative.
pub(super) fn duration_ms(text: &str) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "duration {text:?}: expected whole numbers with units d, h, m, s or ms, \
             e.g. \"72h\", \"1h30m\", \"500ms\""
        ))
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let (unit_ms, len) = if rest.starts_with("ms") {
            (1, 2)
        } else {
            match rest.as_bytes().first() {
                Some(b'd') => (86_400_000, 1),
                Some(b'h') => (3_600_000, 1),
                Some(b'm') => (60_000, 1),
                Some(b's') => (1_000, 1),
                _ => return Err(bad()),
            }
        };
        rest = &rest[len..];
        total = n.checked_mul(unit_ms).and_then(|ms| total.checked_add(ms)).ok_or_else(bad)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn durations() {
        let ok = |s: &str| duration_ms(s).ok();
        assert_eq!(ok("72h"), Some(72 * 3_600_000));
        assert_eq!(ok("1h30m"), Some(5_400_000));
        assert_eq!(ok("500ms"), Some(500));
        assert_eq!(ok("2d"), Some(172_800_000));
        assert_eq!(ok(" 90s "), Some(90_000));
        assert_eq!(ok("1m1ms"), Some(60_001));
        for bad in ["", "h", "72", "-1h", "1.5h", "1w", "1hh", "99999999999999999999d", "9999999999999999d"] {
            assert!(duration_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn content_types() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            h
        };
        let both = [Format::Json, Format::Toml];
        assert_eq!(format(&HeaderMap::new(), &both, Format::Json).ok(), Some(Format::Json));
        assert_eq!(
            format(&with("application/json; charset=utf-8"), &both, Format::Toml).ok(),
            Some(Format::Json)
        );
        assert_eq!(format(&with("Application/TOML"), &both, Format::Json).ok(), Some(Format::Toml));
        assert_eq!(format(&with("text/plain"), &both, Format::Toml).ok(), Some(Format::Toml));
        assert!(format(&with("application/toml"), &[Format::Json], Format::Json).is_err());
        assert_eq!(
            format(&with("application/x-www-form-urlencoded"), &both, Format::Json).ok(),
            Some(Format::Json),
            "what curl -d sends is read as the default"
        );
        assert!(format(&with("image/png"), &both, Format::Json).is_err());
    }
}
