//! The general True API sign-in of `true-api.md` §9.3: `GET auth/key` hands out a one-time challenge
//! (`uuid` + a random 30-character `data`), `POST auth/simpleSignIn` exchanges it, with a CMS signature
//! over `data`, for a bearer token that lives 10 hours.
//!
//! Owns the challenge store (bounded, one-time, with a lifetime on the world clock) and the token format.
//! The CMS is handled leniently, as for `permissive-access`: it must be base64 of a DER sequence (first
//! byte 0x30); the signature itself is not verified. The token is a JWT-shaped string (unsigned header,
//! claims `inn`, `iat`, `exp`); only non-till methods would accept it, and `codes/check` does not.

use rand::Rng;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// How long a challenge may be answered (world time). The spec is silent; 5 minutes.
pub const CHALLENGE_TTL_MS: i64 = 5 * 60 * 1000;
/// Lifetime of a sign-in token (§9.3: about 10 hours).
pub const TOKEN_TTL_S: i64 = 10 * 3600;
/// Most challenges kept at once; the oldest are forgotten first.
pub const MAX_CHALLENGES: usize = 10_000;

/// A challenge handed out by `auth/key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// `uuid` of the answer.
    pub uuid: String,
    /// `data`: the string to sign.
    pub data: String,
}

/// Why a sign-in is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// The body is not `{"uuid":…,"data":…,"inn":…}` with base64 DER in `data`.
    #[error("uuid, data (base64 CMS) and inn are required")]
    BadRequest,
    /// The challenge is unknown, used already or expired.
    #[error("unknown or expired uuid; request a new one from auth/key")]
    UnknownChallenge,
    /// The INN is not a participant of the world.
    #[error("participant {0} is not registered")]
    UnknownParticipant(String),
}

/// Challenges not answered yet.
#[derive(Debug, Default)]
pub struct Challenges {
    inner: Mutex<ChallengeStore>,
}

#[derive(Debug, Default)]
struct ChallengeStore {
    by_uuid: HashMap<String, (String, i64)>,
    order: VecDeque<String>,
}

impl Challenges {
    /// Issue a new challenge at world time `now_ms`.
    pub fn issue(&self, now_ms: i64) -> Challenge {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::rng();
        let data: String =
            (0..30).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect();
        let uuid = uuid::Uuid::new_v4().to_string();
        let mut store = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        while store.order.len() >= MAX_CHALLENGES {
            if let Some(old) = store.order.pop_front() {
                store.by_uuid.remove(&old);
            }
        }
        store.by_uuid.insert(uuid.clone(), (data.clone(), now_ms));
        store.order.push_back(uuid.clone());
        Challenge { uuid, data }
    }

    /// Consume the challenge `uuid` if it exists and is younger than [`CHALLENGE_TTL_MS`].
    pub fn take(&self, uuid: &str, now_ms: i64) -> Option<String> {
        let mut store = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (data, issued) = store.by_uuid.remove(uuid)?;
        store.order.retain(|u| u != uuid);
        (now_ms >= issued && now_ms - issued <= CHALLENGE_TTL_MS).then_some(data)
    }
}

/// Check a `simpleSignIn` body against the challenges; the signer's INN on success.
pub fn sign_in(
    challenges: &Challenges,
    body: &serde_json::Value,
    now_ms: i64,
    is_participant: impl Fn(&str) -> bool,
) -> Result<String, SignInError> {
    use base64::Engine;
    let field = |k: &str| body.get(k).and_then(serde_json::Value::as_str);
    let (Some(uuid), Some(data), Some(inn)) = (field("uuid"), field("data"), field("inn")) else {
        return Err(SignInError::BadRequest);
    };
    let der =
        base64::engine::general_purpose::STANDARD.decode(data.trim()).map_err(|_| SignInError::BadRequest)?;
    if der.first() != Some(&0x30) {
        return Err(SignInError::BadRequest);
    }
    challenges.take(uuid, now_ms).ok_or(SignInError::UnknownChallenge)?;
    if !is_participant(inn) {
        return Err(SignInError::UnknownParticipant(inn.to_string()));
    }
    Ok(inn.to_string())
}

/// A JWT-shaped bearer token for `inn`, issued at `now_ms` (unsigned: `alg` is `none`).
pub fn token_for(inn: &str, now_ms: i64) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let iat = now_ms.div_euclid(1000);
    let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims =
        serde_json::json!({ "inn": inn, "iat": iat, "exp": iat + TOKEN_TTL_S, "jti": uuid::Uuid::new_v4() });
    format!("{header}.{}.", b64.encode(claims.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CMS: &str = "MAoGCCqGSIb3DQEHAg=="; // 0x30 … : a DER sequence

    #[test]
    fn a_challenge_is_answered_once_and_only_in_time() {
        let c = Challenges::default();
        let ch = c.issue(1_000);
        assert_eq!(ch.data.len(), 30);
        let body = json!({ "uuid": ch.uuid, "data": CMS, "inn": "7701000019" });
        assert_eq!(sign_in(&c, &body, 2_000, |_| true), Ok("7701000019".into()));
        assert_eq!(sign_in(&c, &body, 2_000, |_| true), Err(SignInError::UnknownChallenge), "one time only");
        let late = c.issue(0);
        let body = json!({ "uuid": late.uuid, "data": CMS, "inn": "7701000019" });
        assert_eq!(sign_in(&c, &body, CHALLENGE_TTL_MS + 1, |_| true), Err(SignInError::UnknownChallenge));
    }

    #[test]
    fn bad_bodies_and_unknown_participants_are_refused() {
        let c = Challenges::default();
        let ch = c.issue(0);
        assert_eq!(sign_in(&c, &json!({ "uuid": ch.uuid }), 0, |_| true), Err(SignInError::BadRequest));
        let not_der = json!({ "uuid": ch.uuid, "data": "aGVsbG8=", "inn": "1" });
        assert_eq!(sign_in(&c, &not_der, 0, |_| true), Err(SignInError::BadRequest));
        let body = json!({ "uuid": ch.uuid, "data": CMS, "inn": "1" });
        assert_eq!(sign_in(&c, &body, 0, |_| false), Err(SignInError::UnknownParticipant("1".into())));
    }

    #[test]
    fn the_store_is_bounded() {
        let c = Challenges::default();
        let first = c.issue(0);
        for _ in 0..MAX_CHALLENGES {
            c.issue(0);
        }
        assert_eq!(c.take(&first.uuid, 0), None, "the oldest challenge was forgotten");
    }

    #[test]
    fn the_token_is_jwt_shaped_with_a_10_hour_lifetime() {
        use base64::Engine;
        let t = token_for("7701000019", 1_767_225_600_000);
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap(),
        )
        .unwrap();
        assert_eq!(claims["inn"], "7701000019");
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), TOKEN_TTL_S);
    }
}
