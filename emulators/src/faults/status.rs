//! Fault kind `status`: answer with a chosen HTTP status and body instead of the normal answer.
//!
//! Owns the [`Status`] configuration, its checks, the rendering of its body (once, when the rule is
//! added) and the presets for the answers of `true-api.md` §8 (203 emergency, 418, 429, 5xx, cross-border
//! 5000, 401, 410). It does not know which host or path it is applied to.
//!
//! Server contract for [`Action::Respond`]: after the delay, send exactly this status, this body and, if
//! given, this `Content-Type`; no other body.
//!
//! Wire shape (inside a `fault` table): `kind = "status"`, `status` (100..=599), optional `body` (a JSON
//! value, sent as JSON; a string is sent as text), optional `content_type` (default `application/json`
//! for a JSON body, `text/plain; charset=utf-8` for text, none for an empty body).
//!
//! ```toml
//! fault = { kind = "status", status = 203, body = { code = 203, description = "Аварийный режим" } }
//! ```

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::decision::Action;
use super::error::FaultError;
use super::kind::{Effect, Fault, FaultKind};

/// Default `Content-Type` of a JSON body (`true-api.md` §2).
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// Default `Content-Type` of a text body.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// An answer chosen by the scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    /// HTTP status, 100..=599.
    pub status: u16,
    /// Body; none means an empty body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<StatusBody>,
    /// `Content-Type` override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// The body of a [`Status`] fault: a string is sent as text, anything else as JSON.
///
/// On the wire a string always reads back as [`StatusBody::Text`]; `Json(Value::String(_))` built in
/// code is sent as a quoted JSON string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StatusBody {
    /// Sent as these UTF-8 bytes.
    Text(String),
    /// Serialised as compact JSON.
    Json(serde_json::Value),
}

impl Status {
    /// The bytes and default `Content-Type` the server will send.
    fn render(&self) -> Result<(Vec<u8>, Option<&str>), FaultError> {
        Ok(match &self.body {
            None => (Vec::new(), None),
            Some(StatusBody::Text(text)) => (text.as_bytes().to_vec(), Some(TEXT_CONTENT_TYPE)),
            Some(StatusBody::Json(value)) => {
                let bytes = serde_json::to_vec(value)
                    .map_err(|e| FaultError::Parse { format: "JSON", message: e.to_string() })?;
                (bytes, Some(JSON_CONTENT_TYPE))
            }
        })
    }
}

impl Fault for Status {
    fn validate(&self) -> Result<(), FaultError> {
        if !(100..=599).contains(&self.status) {
            return Err(FaultError::StatusOutOfRange(self.status));
        }
        match &self.content_type {
            Some(ct) if ct.is_empty() || !ct.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) => {
                Err(FaultError::BadContentType(ct.clone()))
            }
            _ => Ok(()),
        }
    }

    fn effect(&self) -> Result<Effect, FaultError> {
        let (body, default_type) = self.render()?;
        let content_type = self.content_type.as_deref().or(default_type).map(Arc::from);
        Ok(Effect::Act(Action::Respond { status: self.status, body: Arc::from(body), content_type }))
    }

    fn label(&self) -> String {
        format!("status {}", self.status)
    }
}

/// Presets: the answers of `true-api.md` §8, exactly as the emulator sends them by default.
impl FaultKind {
    /// Any status with an empty body.
    pub fn status(status: u16) -> Self {
        FaultKind::Status(Status { status, body: None, content_type: None })
    }

    /// Any status with a JSON body.
    pub fn status_json(status: u16, body: serde_json::Value) -> Self {
        FaultKind::Status(Status { status, body: Some(StatusBody::Json(body)), content_type: None })
    }

    /// 203, ГИС МТ emergency mode: `{"code":203,"description":"Аварийный режим"}`.
    pub fn emergency_203() -> Self {
        Self::status_json(203, json!({"code": 203, "description": "Аварийный режим"}))
    }

    /// 418, empty body (one major client treats it like 203).
    pub fn teapot_418() -> Self {
        Self::status(418)
    }

    /// 429, empty body: rate limited (retry once, then block the host).
    pub fn rate_limited_429() -> Self {
        Self::status(429)
    }

    /// A 5xx server error with an empty body (retry once, then block the host). `status` should be in
    /// 500..=599; [`FaultTable::add`](super::FaultTable::add) refuses anything outside 100..=599.
    pub fn server_error(status: u16) -> Self {
        Self::status(status)
    }

    /// Cross-border service unavailable, HTTP 503:
    /// `{"code":5000,"error_message":"5000","description":"cross-border check service unavailable"}`.
    pub fn cross_border_5000() -> Self {
        Self::cross_border_5000_with_status(503)
    }

    /// The 5000 body with another HTTP status (`trueapi.err5000_status`).
    pub fn cross_border_5000_with_status(status: u16) -> Self {
        Self::status_json(
            status,
            json!({
                "code": 5000,
                "error_message": "5000",
                "description": "cross-border check service unavailable",
            }),
        )
    }

    /// 401 with an `error_message` (invalid or expired credential: no host switch, no retry).
    pub fn unauthorized_401() -> Self {
        Self::status_json(
            401,
            json!({"error_message": "Токен недействителен или истёк, необходимо получить новый токен"}),
        )
    }

    /// 410 `{"error_message":"Устаревшее API"}` (deprecated endpoint).
    pub fn deprecated_410() -> Self {
        Self::status_json(410, json!({"error_message": "Устаревшее API"}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn respond(kind: &FaultKind) -> (u16, serde_json::Value, Option<String>) {
        match kind.effect() {
            Ok(Effect::Act(Action::Respond { status, body, content_type })) => {
                let value = if body.is_empty() {
                    serde_json::Value::Null
                } else {
                    serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null)
                };
                (status, value, content_type.map(|c| c.to_string()))
            }
            other => panic!("not a response: {other:?}"),
        }
    }

    #[test]
    fn presets_match_the_spec() {
        let json = Some(JSON_CONTENT_TYPE.to_string());
        assert_eq!(
            respond(&FaultKind::emergency_203()),
            (203, json!({"code":203,"description":"Аварийный режим"}), json.clone())
        );
        assert_eq!(
            respond(&FaultKind::cross_border_5000()),
            (
                503,
                json!({"code":5000,"error_message":"5000","description":"cross-border check service unavailable"}),
                json.clone()
            )
        );
        assert_eq!(respond(&FaultKind::cross_border_5000_with_status(500)).0, 500);
        assert_eq!(respond(&FaultKind::teapot_418()), (418, serde_json::Value::Null, None));
        assert_eq!(respond(&FaultKind::rate_limited_429()), (429, serde_json::Value::Null, None));
        assert_eq!(respond(&FaultKind::server_error(502)), (502, serde_json::Value::Null, None));
        assert_eq!(
            respond(&FaultKind::deprecated_410()),
            (410, json!({"error_message":"Устаревшее API"}), json)
        );
        assert_eq!(respond(&FaultKind::unauthorized_401()).0, 401);
    }

    #[test]
    fn text_body_and_content_type_override() {
        let kind = FaultKind::Status(Status {
            status: 502,
            body: Some(StatusBody::Text("<html>Bad Gateway</html>".into())),
            content_type: Some("text/html".into()),
        });
        match kind.effect() {
            Ok(Effect::Act(Action::Respond { body, content_type, .. })) => {
                assert_eq!(&*body, b"<html>Bad Gateway</html>");
                assert_eq!(content_type.as_deref(), Some("text/html"));
            }
            other => panic!("not a response: {other:?}"),
        }
    }

    #[test]
    fn out_of_range_status_and_bad_content_type_are_refused() {
        assert_eq!(FaultKind::status(99).validate(), Err(FaultError::StatusOutOfRange(99)));
        assert_eq!(FaultKind::status(600).validate(), Err(FaultError::StatusOutOfRange(600)));
        let kind = FaultKind::Status(Status {
            status: 200,
            body: None,
            content_type: Some("text/plain\r\nX-Evil: 1".into()),
        });
        assert!(matches!(kind.validate(), Err(FaultError::BadContentType(_))));
    }
}
