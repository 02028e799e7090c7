//! The seam of the ФН authentication model (`tspiot.md` §9.6): a scheme issues challenges (True API
//! side), signs them with a ФН's secret (ФН side) and verifies signatures (True API side). The
//! endpoints, token lifetimes and the ТС ПИоТ's token manager do not depend on which scheme is used.

/// A challenge: random bytes the ФН must sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge(pub Vec<u8>);

/// A ФН's answer to a challenge (the raw MAC bytes; base64 on the wire).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mac(pub Vec<u8>);

/// One authentication mechanism.
pub trait FnAuthScheme: Send + Sync {
    /// Stable id, e.g. `markcert-hmac-v1`.
    fn id(&self) -> &'static str;
    /// The `alg` name on the wire, e.g. `HMAC-SHA256`.
    fn alg(&self) -> &'static str;
    /// A fresh challenge for `fn_serial`.
    fn issue_challenge(&self, fn_serial: &str) -> Challenge;
    /// What the ФН with secret `fn_secret` answers to `challenge`.
    fn sign(&self, fn_secret: &[u8], challenge: &Challenge, fn_serial: &str) -> Mac;
    /// Whether `mac` is the ФН's answer to `challenge`.
    fn verify(&self, fn_secret: &[u8], challenge: &Challenge, fn_serial: &str, mac: &Mac) -> bool;
}
