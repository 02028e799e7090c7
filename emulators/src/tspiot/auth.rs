//! How the ТС ПИоТ authenticates to the True API (`tspiot.md` §9): the credential of each call, and
//! the ФН token's life — obtained through the fiscal accumulator of its KKT, renewed before expiry,
//! re-obtained once after a 401 — or `X-API-KEY` where the mode allows it.
//!
//! Owns the [`FnSigner`] seam (the ФН side: the KKT emulator's `markcertFnAuthenticate` task will
//! implement it; until then [`WorldFnSigner`] signs with the world's ФН secrets) and the
//! [`TokenManager`]. The scheme (how a challenge is signed) is behind [`crate::fnauth::FnAuthScheme`].
//! A mutation run sets its defect with [`TokenManager::set_mutant`] (branches marked `// mutant:`).

use super::mutant::TsPiotMutant;
use super::options::AuthMode;
use crate::clock::WorldClock;
use crate::fnauth::{Challenge, FnAuthScheme};
use crate::world::World;
use base64::Engine;
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// A credential for one True API call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// `X-API-KEY: <token>` (refused after the cut-off).
    XApiKey(String),
    /// `Authorization: Bearer <ФН token>`.
    Bearer(String),
}

impl Credential {
    /// The header name and value to send.
    pub fn header(&self) -> (&'static str, String) {
        match self {
            Credential::XApiKey(k) => ("X-API-KEY", k.clone()),
            Credential::Bearer(t) => ("Authorization", format!("Bearer {t}")),
        }
    }
}

/// A ФН's answer to a challenge (`tspiot.md` §9.4 result).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedChallenge {
    /// The ФН serial.
    pub fn_serial: String,
    /// The MAC, base64.
    pub mac: String,
    /// The scheme's `alg`.
    pub alg: String,
}

/// Why the ФН did not sign.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The challenge is not base64.
    #[error("challenge is not base64")]
    BadChallenge,
    /// The ФН is unknown or not registered for marked goods (ATOL 406).
    #[error("fiscal drive {0} is not registered for marked goods")]
    NotRegistered(String),
    /// The KKT / ФН channel failed (`FnSidError`).
    #[error("fiscal drive channel: {0}")]
    Channel(String),
}

/// A boxed future (the signer is used as a trait object).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The ФН side of the model: what the KKT does with `markcertFnAuthenticate`.
pub trait FnSigner: Send + Sync {
    /// Serial of the ФН this signer speaks for.
    fn fn_serial(&self) -> &str;
    /// Sign a challenge (base64 as received from the True API).
    fn sign<'a>(&'a self, challenge_b64: &'a str) -> BoxFuture<'a, Result<SignedChallenge, SignError>>;
}

/// Signs as a ФН registered in the world, with the world's secret for it — the stand-in for the KKT
/// emulator. `set_broken(true)` models the scenario fault `fn.auth = broken` (a wrong MAC).
pub struct WorldFnSigner {
    world: Arc<RwLock<World>>,
    fn_serial: String,
    scheme: Arc<dyn FnAuthScheme>,
    broken: AtomicBool,
}

impl WorldFnSigner {
    /// A signer for `fn_serial` using `scheme`.
    pub fn new(
        world: Arc<RwLock<World>>,
        fn_serial: impl Into<String>,
        scheme: Arc<dyn FnAuthScheme>,
    ) -> Self {
        WorldFnSigner { world, fn_serial: fn_serial.into(), scheme, broken: AtomicBool::new(false) }
    }

    /// Make every MAC wrong (or right again).
    pub fn set_broken(&self, broken: bool) {
        self.broken.store(broken, Ordering::Relaxed);
    }
}

impl FnSigner for WorldFnSigner {
    fn fn_serial(&self) -> &str {
        &self.fn_serial
    }

    fn sign<'a>(&'a self, challenge_b64: &'a str) -> BoxFuture<'a, Result<SignedChallenge, SignError>> {
        Box::pin(async move {
            let b64 = base64::engine::general_purpose::STANDARD;
            let challenge = b64.decode(challenge_b64.trim()).map_err(|_| SignError::BadChallenge)?;
            let secret = {
                let world = self.world.read().unwrap_or_else(|p| p.into_inner());
                let marking = world.fiscal_drive(&self.fn_serial).is_some_and(|d| d.marking);
                world.fn_secret(&self.fn_serial).filter(|_| marking)
            };
            let secret = secret.ok_or_else(|| SignError::NotRegistered(self.fn_serial.clone()))?;
            let mut mac = self.scheme.sign(&secret, &Challenge(challenge), &self.fn_serial).0;
            if self.broken.load(Ordering::Relaxed) {
                if let Some(b) = mac.first_mut() {
                    *b ^= 0xff;
                }
            }
            Ok(SignedChallenge {
                fn_serial: self.fn_serial.clone(),
                mac: b64.encode(mac),
                alg: self.scheme.alg().into(),
            })
        })
    }
}

/// A token held by the ТС ПИоТ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldToken {
    /// The bearer token.
    pub token: String,
    /// Its ФН.
    pub fn_serial: String,
    /// Expiry, world ms (computed from `expiresIn` at receipt).
    pub expires_ms: i64,
    /// When it was obtained, world ms.
    pub obtained_ms: i64,
}

/// Why no token could be obtained.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The True API refused or could not be reached.
    #[error("True API {step}: {reason}")]
    TrueApi { step: &'static str, reason: String },
    /// The ФН did not sign.
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// What the ТС ПИоТ knows to authenticate.
pub struct TokenManager {
    http: reqwest::Client,
    discovery: String,
    clock: WorldClock,
    signer: Arc<dyn FnSigner>,
    mode: AuthMode,
    api_key: Option<String>,
    inn: String,
    kkt_serial: String,
    tspiot_id: String,
    renew_before_ms: i64,
    held: Mutex<Option<HeldToken>>,
    /// Held while a token is being obtained, so that concurrent checks do not all ask.
    obtaining: tokio::sync::Mutex<()>,
    renewing: AtomicBool,
    /// The deliberate defect of a mutation run (`None`: the reference).
    mutant: Mutex<Option<TsPiotMutant>>,
    /// X-API-KEY is a fallback only before this instant (world ms).
    xapikey_until_ms: Option<i64>,
}

/// Who the instance is and how it may authenticate.
#[derive(Clone, Debug)]
pub struct TokenSettings {
    /// ФН token, X-API-KEY, or a token when it can be had and the key otherwise.
    pub mode: AuthMode,
    /// The store's `X-API-KEY`, if it has one.
    pub api_key: Option<String>,
    /// INN of the KKT owner.
    pub inn: String,
    /// Serial of the KKT the instance is bound to.
    pub kkt_serial: String,
    /// The instance id.
    pub tspiot_id: String,
    /// Renew the token when less than this many world seconds are left.
    pub renew_before_s: u64,
    /// The published X-API-KEY cut-off (Unix ms, world clock): in `fn_then_x_api_key` mode the key is
    /// a fallback only before it (`true-api.md` §9.1; cases.md AUTH-FN-BAD-MAC: no X-API-KEY after the
    /// cut-off). `None`: no known cut-off.
    pub xapikey_until_ms: Option<i64>,
}

/// How long obtaining a token may take in the foreground (real time).
const OBTAIN_TIMEOUT: Duration = Duration::from_millis(1000);

impl TokenManager {
    /// A manager for the instance bound to `signer`'s ФН.
    pub fn new(
        http: reqwest::Client,
        discovery: String,
        clock: WorldClock,
        signer: Arc<dyn FnSigner>,
        settings: TokenSettings,
    ) -> Self {
        TokenManager {
            http,
            discovery,
            clock,
            signer,
            mode: settings.mode,
            api_key: settings.api_key,
            inn: settings.inn,
            kkt_serial: settings.kkt_serial,
            tspiot_id: settings.tspiot_id,
            renew_before_ms: i64::try_from(settings.renew_before_s.saturating_mul(1000)).unwrap_or(i64::MAX),
            xapikey_until_ms: settings.xapikey_until_ms,
            held: Mutex::new(None),
            obtaining: tokio::sync::Mutex::new(()),
            renewing: AtomicBool::new(false),
            mutant: Mutex::new(None),
        }
    }

    /// Run with a deliberate defect (mutation testing only; `None`: the reference). Set by
    /// `TsPiot::new` from `TsPiotOptions::mutant`, since the manager is shared before the instance exists.
    pub fn set_mutant(&self, mutant: Option<TsPiotMutant>) {
        *self.mutant.lock().unwrap_or_else(|p| p.into_inner()) = mutant;
    }

    /// The deliberate defect this manager runs with, if any.
    pub fn mutant(&self) -> Option<TsPiotMutant> {
        *self.mutant.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The ФН serial of this instance.
    pub fn fn_serial(&self) -> &str {
        self.signer.fn_serial()
    }

    /// The token held now, if any (expired or not).
    pub fn held(&self) -> Option<HeldToken> {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Forget the held token (after a 401).
    pub fn invalidate(&self) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn valid_token(&self, now: i64) -> Option<HeldToken> {
        self.held().filter(|t| now < t.expires_ms)
    }

    /// The credential for the next call: a valid ФН token (obtained now if there is none; renewed in
    /// the background when less than `token_renew_before_s` is left), else `X-API-KEY` where the mode
    /// allows it, else `None` (no online check possible).
    pub async fn credential(self: &Arc<Self>) -> Option<Credential> {
        // mutant: xapikey-after-cutoff (the key, whatever the mode and the date)
        if self.mutant() == Some(TsPiotMutant::XapikeyAfterCutoff) {
            return self.api_key.clone().map(Credential::XApiKey);
        }
        if self.mode == AuthMode::XApiKey {
            return self.api_key.clone().map(Credential::XApiKey);
        }
        let now = self.clock.now_ms();
        match self.valid_token(now) {
            Some(t) => {
                if t.expires_ms - now <= self.renew_before_ms && !self.renewing.swap(true, Ordering::AcqRel) {
                    let me = Arc::clone(self);
                    tokio::spawn(async move {
                        let _ = me.obtain().await;
                        me.renewing.store(false, Ordering::Release);
                    });
                }
                Some(Credential::Bearer(t.token))
            }
            None => match tokio::time::timeout(OBTAIN_TIMEOUT, self.obtain()).await {
                Ok(Ok(t)) => Some(Credential::Bearer(t.token)),
                _ if self.mode == AuthMode::FnThenXApiKey
                    && self.xapikey_until_ms.is_none_or(|until| self.clock.now_ms() < until) =>
                {
                    self.api_key.clone().map(Credential::XApiKey)
                }
                _ => None,
            },
        }
    }

    /// Obtain a fresh token: challenge from the True API, MAC from the ФН, exchange (§9.2). Concurrent
    /// callers wait for one exchange; a caller that finds a token obtained while it waited takes it.
    pub async fn obtain(&self) -> Result<HeldToken, AuthError> {
        let asked_at = self.clock.now_ms();
        let _guard = self.obtaining.lock().await;
        if let Some(t) =
            self.held().filter(|t| t.obtained_ms >= asked_at && self.clock.now_ms() < t.expires_ms)
        {
            return Ok(t);
        }
        let fn_serial = self.signer.fn_serial().to_string();
        let challenge = self
            .post(
                "challenge",
                json!({ "fnSerial": fn_serial, "kktSerial": self.kkt_serial, "inn": self.inn, "tspiotId": self.tspiot_id }),
            )
            .await?;
        let (Some(id), Some(ch)) = (challenge["challengeId"].as_str(), challenge["challenge"].as_str())
        else {
            return Err(AuthError::TrueApi { step: "challenge", reason: "no challengeId/challenge".into() });
        };
        let signed = self.signer.sign(ch).await?;
        let token = self
            .post(
                "token",
                json!({ "challengeId": id, "fnSerial": signed.fn_serial, "mac": signed.mac, "alg": signed.alg }),
            )
            .await?;
        let Some(t) = token["token"].as_str() else {
            return Err(AuthError::TrueApi { step: "token", reason: "no token".into() });
        };
        let now = self.clock.now_ms();
        let expires_in_s = token["expiresIn"].as_i64().unwrap_or(0).max(0);
        let held = HeldToken {
            token: t.to_string(),
            fn_serial,
            expires_ms: now.saturating_add(expires_in_s.saturating_mul(1000)),
            obtained_ms: now,
        };
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = Some(held.clone());
        Ok(held)
    }

    async fn post(&self, step: &'static str, body: Value) -> Result<Value, AuthError> {
        let url = format!("{}/api/v4/true-api/auth/fn/{step}", self.discovery);
        let err = |reason: String| AuthError::TrueApi { step, reason };
        let r = self.http.post(url).json(&body).send().await.map_err(|e| err(e.to_string()))?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(err(format!("HTTP {status}: {}", v["error_message"].as_str().unwrap_or(""))));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fnauth::HmacSha256V1;
    use crate::world::default::{default_world, NON_MARKING_FN_SERIAL, STORE_FN_SERIAL};

    #[tokio::test]
    async fn the_world_signer_signs_as_a_registered_marking_fn_only() {
        let world = Arc::new(RwLock::new(default_world(0).unwrap()));
        let challenge = "OLTmUuRNp/I3DZ4mDicTZVCko6bQf1wMMy+LEiQIP9I=";
        let s = WorldFnSigner::new(world.clone(), STORE_FN_SERIAL, Arc::new(HmacSha256V1));
        let good = s.sign(challenge).await.unwrap();
        assert_eq!((good.fn_serial.as_str(), good.alg.as_str()), (STORE_FN_SERIAL, "HMAC-SHA256"));
        s.set_broken(true);
        assert_ne!(s.sign(challenge).await.unwrap().mac, good.mac, "broken: a wrong MAC");
        assert_eq!(s.sign("%%").await, Err(SignError::BadChallenge));
        let nm = WorldFnSigner::new(world, NON_MARKING_FN_SERIAL, Arc::new(HmacSha256V1));
        assert!(matches!(nm.sign(challenge).await, Err(SignError::NotRegistered(_))));
    }

    /// `fn_then_x_api_key` falls back to the key only before the published cut-off.
    #[tokio::test]
    async fn the_key_is_a_fallback_only_before_the_cut_off() {
        let world = Arc::new(RwLock::new(default_world(0).unwrap()));
        let signer = Arc::new(WorldFnSigner::new(world, STORE_FN_SERIAL, Arc::new(HmacSha256V1)));
        let manager = |until: Option<i64>| {
            let settings = TokenSettings {
                mode: AuthMode::FnThenXApiKey,
                api_key: Some("key".into()),
                inn: "7700000000".into(),
                kkt_serial: "1".into(),
                tspiot_id: "t".into(),
                renew_before_s: 600,
                xapikey_until_ms: until,
            };
            let http = reqwest::Client::builder().no_proxy().build().unwrap();
            let discovery = "http://127.0.0.1:9".to_string(); // nothing listens: no token
            Arc::new(TokenManager::new(
                http,
                discovery,
                WorldClock::frozen_at(1_000),
                signer.clone(),
                settings,
            ))
        };
        assert_eq!(manager(Some(1_001)).credential().await, Some(Credential::XApiKey("key".into())));
        assert_eq!(manager(None).credential().await, Some(Credential::XApiKey("key".into())));
        assert_eq!(manager(Some(1_000)).credential().await, None, "at the cut-off: no key");
    }

    /// `xapikey-after-cutoff`: with a ФН-only mode and no reachable True API, the reference has no
    /// credential; the mutant presents the store's key without trying to obtain a token.
    #[tokio::test]
    async fn xapikey_after_cutoff_presents_the_key_whatever_the_mode() {
        let world = Arc::new(RwLock::new(default_world(0).unwrap()));
        let signer = Arc::new(WorldFnSigner::new(world, STORE_FN_SERIAL, Arc::new(HmacSha256V1)));
        let manager = || {
            let settings = TokenSettings {
                mode: AuthMode::Fn,
                api_key: Some("key".into()),
                inn: "7700000000".into(),
                kkt_serial: "1".into(),
                tspiot_id: "t".into(),
                renew_before_s: 600,
                xapikey_until_ms: None,
            };
            let http = reqwest::Client::builder().no_proxy().build().unwrap();
            let discovery = "http://127.0.0.1:9".to_string(); // nothing listens: no token
            Arc::new(TokenManager::new(http, discovery, WorldClock::frozen_at(0), signer.clone(), settings))
        };
        let reference = manager();
        assert_eq!(reference.mutant(), None);
        assert_eq!(reference.credential().await, None, "ФН mode: no token, no credential");
        let mutant = manager();
        mutant.set_mutant(Some(TsPiotMutant::XapikeyAfterCutoff));
        assert_eq!(mutant.credential().await, Some(Credential::XApiKey("key".into())));
        assert!(mutant.held().is_none(), "no token was obtained");
        mutant.set_mutant(None);
        assert_eq!(mutant.credential().await, None, "back to the reference");
    }

    #[test]
    fn credential_headers() {
        assert_eq!(Credential::XApiKey("k".into()).header(), ("X-API-KEY", "k".to_string()));
        assert_eq!(Credential::Bearer("t".into()).header(), ("Authorization", "Bearer t".to_string()));
    }
}
