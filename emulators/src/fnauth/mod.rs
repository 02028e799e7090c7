//! The fiscal-accumulator authentication model of `tspiot.md` §9 — markcert's own, pluggable model of
//! how a ТС ПИоТ authenticates to ГИС МТ through the ФН of its KKT instead of an `X-API-KEY`.
//!
//! Files: `scheme.rs` (the [`FnAuthScheme`] trait: challenge, sign, verify — the seam a real mechanism
//! replaces), `hmac_v1.rs` (the default `markcert-hmac-v1` scheme: HMAC-SHA256 over challenge ‖
//! serial), `secrets.rs` (per-ФН secrets: configured or derived from the world's master secret),
//! `service.rs` (the True API side: one-time challenges with a 60 s lifetime, tokens with a 10 h
//! lifetime on the world clock, bearer validation, revocation). The ФН side (`markcertFnAuthenticate`)
//! belongs to the KKT emulator; until it exists [`secrets`] lets any party sign as a registered ФН.

pub mod hmac_v1;
pub mod scheme;
pub mod secrets;
pub mod service;

pub use hmac_v1::HmacSha256V1;
pub use scheme::{Challenge, FnAuthScheme, Mac};
pub use secrets::{derive_fn_secret, FnSecret};
pub use service::{FnAuthError, FnAuthService, FnToken, TokenError};
