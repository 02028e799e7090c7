//! The True API side of the ФН authentication model (`tspiot.md` §9.3, §9.5): one-time challenges
//! (lifetime 60 s of world time, at most [`MAX_PENDING`] outstanding), the exchange of a signed
//! challenge for a bearer token (lifetime 10 h of world time), bearer validation and revocation.
//!
//! Owns the pending challenges and the issued tokens; the world says which fiscal drives exist, to
//! which INN they are bound and what their secrets are. The scheme ([`FnAuthScheme`]) is pluggable.

use super::scheme::{Challenge, FnAuthScheme, Mac};
use crate::world::World;
use base64::Engine;
use rand::RngCore;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

/// Lifetime of a challenge (§9.3).
pub const CHALLENGE_TTL_MS: i64 = 60_000;
/// Lifetime of a token (`auth.fn_token_ttl_s` = 36 000 s).
pub const TOKEN_TTL_MS: i64 = 36_000_000;
/// Most challenges kept at once; the oldest are forgotten first.
pub const MAX_PENDING: usize = 10_000;

/// An issued bearer token.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FnToken {
    /// The token (43-character base64url of 32 random bytes).
    pub token: String,
    /// The fiscal drive it was issued to.
    pub fn_serial: String,
    /// The INN the drive is bound to (`isOwner` is judged against it).
    pub inn: String,
    /// Issue instant, world ms.
    pub issued_ms: i64,
    /// Expiry instant, world ms.
    pub expires_ms: i64,
}

/// Why a challenge or token request is refused (§9.3 table).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FnAuthError {
    /// Malformed body, unknown `alg`, MAC not base64.
    #[error("bad request")]
    BadRequest,
    /// Challenge unknown, expired or already used.
    #[error("challenge invalid")]
    ChallengeInvalid,
    /// The MAC does not verify.
    #[error("mac invalid")]
    MacInvalid,
    /// The ФН is unknown, not registered for marking, or not bound to the INN.
    #[error("fiscal drive not registered")]
    NotRegistered,
}

impl FnAuthError {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> u16 {
        match self {
            FnAuthError::BadRequest => 400,
            FnAuthError::ChallengeInvalid | FnAuthError::MacInvalid => 401,
            FnAuthError::NotRegistered => 403,
        }
    }
}

/// Why a bearer token is not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Never issued (or revoked).
    #[error("token invalid")]
    Unknown,
    /// Past its lifetime.
    #[error("token expired")]
    Expired,
}

/// A challenge handed out, waiting for its answer.
#[derive(Clone, Debug)]
struct Pending {
    challenge: Challenge,
    fn_serial: String,
    expires_ms: i64,
}

#[derive(Default)]
struct PendingStore {
    by_id: HashMap<String, Pending>,
    order: VecDeque<String>,
}

/// An issued challenge, as answered by `auth/fn/challenge`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedChallenge {
    /// `challengeId`.
    pub id: String,
    /// `challenge` (base64 on the wire).
    pub challenge: Challenge,
    /// `expiresAt`, world ms.
    pub expires_ms: i64,
}

/// Challenges and tokens of the True API side.
pub struct FnAuthService {
    scheme: Arc<dyn FnAuthScheme>,
    pending: Mutex<PendingStore>,
    tokens: RwLock<HashMap<String, FnToken>>,
    token_ttl_ms: i64,
}

impl std::fmt::Debug for FnAuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnAuthService").field("scheme", &self.scheme.id()).finish_non_exhaustive()
    }
}

impl Default for FnAuthService {
    fn default() -> Self {
        FnAuthService::new(Arc::new(super::HmacSha256V1))
    }
}

impl FnAuthService {
    /// A service using `scheme`, with the spec's lifetimes.
    pub fn new(scheme: Arc<dyn FnAuthScheme>) -> Self {
        FnAuthService {
            scheme,
            pending: Mutex::default(),
            tokens: RwLock::default(),
            token_ttl_ms: TOKEN_TTL_MS,
        }
    }

    /// The same with another token lifetime (`auth.fn_token_ttl_s`).
    pub fn with_token_ttl_ms(mut self, ttl_ms: i64) -> Self {
        self.token_ttl_ms = ttl_ms.max(1);
        self
    }

    /// The scheme in use.
    pub fn scheme(&self) -> &dyn FnAuthScheme {
        self.scheme.as_ref()
    }

    /// Token lifetime in ms.
    pub fn token_ttl_ms(&self) -> i64 {
        self.token_ttl_ms
    }

    /// `auth/fn/challenge`: a challenge for a registered marking ФН (bound to `inn` when given).
    pub fn challenge(
        &self,
        world: &World,
        fn_serial: &str,
        inn: Option<&str>,
        now_ms: i64,
    ) -> Result<IssuedChallenge, FnAuthError> {
        registered(world, fn_serial, inn)?;
        let challenge = self.scheme.issue_challenge(fn_serial);
        let id = uuid::Uuid::new_v4().to_string();
        let expires_ms = now_ms.saturating_add(CHALLENGE_TTL_MS);
        let mut store = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        while store.order.len() >= MAX_PENDING {
            if let Some(old) = store.order.pop_front() {
                store.by_id.remove(&old);
            }
        }
        store.by_id.insert(
            id.clone(),
            Pending { challenge: challenge.clone(), fn_serial: fn_serial.to_string(), expires_ms },
        );
        store.order.push_back(id.clone());
        Ok(IssuedChallenge { id, challenge, expires_ms })
    }

    /// `auth/fn/token`: exchange a signed challenge for a token. The challenge is used up whatever the
    /// outcome (a wrong MAC cannot be retried against the same challenge).
    pub fn exchange(
        &self,
        world: &World,
        challenge_id: &str,
        fn_serial: &str,
        mac_b64: &str,
        alg: Option<&str>,
        now_ms: i64,
    ) -> Result<FnToken, FnAuthError> {
        if alg.is_some_and(|a| a != self.scheme.alg()) {
            return Err(FnAuthError::BadRequest);
        }
        let mac = base64::engine::general_purpose::STANDARD
            .decode(mac_b64.trim())
            .map_err(|_| FnAuthError::BadRequest)?;
        let pending = {
            let mut store = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let p = store.by_id.remove(challenge_id);
            if p.is_some() {
                store.order.retain(|id| id != challenge_id);
            }
            p
        };
        let pending = pending.ok_or(FnAuthError::ChallengeInvalid)?;
        if now_ms > pending.expires_ms || pending.fn_serial != fn_serial {
            return Err(FnAuthError::ChallengeInvalid);
        }
        let drive = registered(world, fn_serial, None)?;
        let secret = world.fn_secret(fn_serial).ok_or(FnAuthError::NotRegistered)?;
        if !self.scheme.verify(&secret, &pending.challenge, fn_serial, &Mac(mac)) {
            return Err(FnAuthError::MacInvalid);
        }
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = FnToken {
            token: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw),
            fn_serial: fn_serial.to_string(),
            inn: drive.inn.clone(),
            issued_ms: now_ms,
            expires_ms: now_ms.saturating_add(self.token_ttl_ms),
        };
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        tokens.retain(|_, t| t.expires_ms > now_ms);
        tokens.insert(token.token.clone(), token.clone());
        Ok(token)
    }

    /// The token behind `Authorization: Bearer <token>` at `now_ms`.
    pub fn validate(&self, token: &str, now_ms: i64) -> Result<FnToken, TokenError> {
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        let t = tokens.get(token.trim()).ok_or(TokenError::Unknown)?;
        if now_ms >= t.expires_ms {
            return Err(TokenError::Expired);
        }
        Ok(t.clone())
    }

    /// Revoke one token (scenarios); false when it was not issued.
    pub fn revoke(&self, token: &str) -> bool {
        self.tokens.write().unwrap_or_else(|p| p.into_inner()).remove(token).is_some()
    }

    /// Expire every token at once (a scenario's "the operator revoked the tokens").
    pub fn revoke_all(&self) -> usize {
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        let n = tokens.len();
        tokens.clear();
        n
    }

    /// Issued tokens, oldest first.
    pub fn tokens(&self) -> Vec<FnToken> {
        let mut v: Vec<FnToken> =
            self.tokens.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        v.sort_by(|a, b| (a.issued_ms, &a.token).cmp(&(b.issued_ms, &b.token)));
        v
    }
}

/// The drive, if it is registered, marked for marking and (when `inn` is given) bound to `inn`.
fn registered<'w>(
    world: &'w World,
    fn_serial: &str,
    inn: Option<&str>,
) -> Result<&'w crate::world::FiscalDrive, FnAuthError> {
    let d = world.fiscal_drive(fn_serial).ok_or(FnAuthError::NotRegistered)?;
    if !d.marking || inn.is_some_and(|i| i != d.inn) {
        return Err(FnAuthError::NotRegistered);
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::FiscalDrive;

    const FN: &str = "7380440700000123";

    fn world() -> World {
        let mut w = World::new("7701000019");
        w.add_fiscal_drive(FiscalDrive {
            serial: FN.into(),
            kkt_serial: "00107700000042".into(),
            inn: "7701000019".into(),
            marking: true,
            auth_secret: None,
        })
        .unwrap();
        w
    }

    fn signed(s: &FnAuthService, w: &World, c: &IssuedChallenge) -> String {
        let mac = s.scheme().sign(&w.fn_secret(FN).unwrap(), &c.challenge, FN);
        base64::engine::general_purpose::STANDARD.encode(mac.0)
    }

    #[test]
    fn challenge_sign_exchange_validate_expire() {
        let (s, w) = (FnAuthService::default(), world());
        let c = s.challenge(&w, FN, Some("7701000019"), 0).unwrap();
        assert_eq!(c.challenge.0.len(), 32);
        let t = s.exchange(&w, &c.id, FN, &signed(&s, &w, &c), Some("HMAC-SHA256"), 1_000).unwrap();
        assert_eq!(t.token.len(), 43);
        assert_eq!((t.inn.as_str(), t.expires_ms), ("7701000019", 1_000 + TOKEN_TTL_MS));
        assert_eq!(s.validate(&t.token, 2_000), Ok(t.clone()));
        assert_eq!(s.validate(&t.token, t.expires_ms), Err(TokenError::Expired));
        assert_eq!(s.validate("nope", 0), Err(TokenError::Unknown));
        assert!(s.revoke(&t.token));
        assert_eq!(s.validate(&t.token, 2_000), Err(TokenError::Unknown));
    }

    #[test]
    fn refusals_follow_the_spec_table() {
        let (s, w) = (FnAuthService::default(), world());
        assert_eq!(s.challenge(&w, "0000000000000000", None, 0).unwrap_err(), FnAuthError::NotRegistered);
        assert_eq!(s.challenge(&w, FN, Some("7702000016"), 0).unwrap_err(), FnAuthError::NotRegistered);
        let c = s.challenge(&w, FN, None, 0).unwrap();
        let mac = signed(&s, &w, &c);
        assert_eq!(s.exchange(&w, &c.id, FN, &mac, Some("MD5"), 0).unwrap_err(), FnAuthError::BadRequest);
        assert_eq!(s.exchange(&w, &c.id, FN, "%%%", None, 0).unwrap_err(), FnAuthError::BadRequest);
        // A wrong MAC uses the challenge up.
        let wrong = base64::engine::general_purpose::STANDARD.encode([0u8; 32]);
        assert_eq!(s.exchange(&w, &c.id, FN, &wrong, None, 0).unwrap_err(), FnAuthError::MacInvalid);
        assert_eq!(s.exchange(&w, &c.id, FN, &mac, None, 0).unwrap_err(), FnAuthError::ChallengeInvalid);
        // Expired after 60 s.
        let c = s.challenge(&w, FN, None, 0).unwrap();
        let mac = signed(&s, &w, &c);
        assert_eq!(
            s.exchange(&w, &c.id, FN, &mac, None, CHALLENGE_TTL_MS + 1).unwrap_err(),
            FnAuthError::ChallengeInvalid
        );
        assert_eq!(FnAuthError::NotRegistered.status(), 403);
        assert_eq!(FnAuthError::MacInvalid.status(), 401);
    }
}
