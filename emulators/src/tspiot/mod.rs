//! The ТС ПИоТ emulator (spec `tspiot.md`): the certified module a POS calls to check marking codes.
//! It runs the CDN algorithm of `true-api.md` §13 against the True API hosts, falls back to the ЛМ ЧЗ,
//! handles emergency mode, authenticates through the ФН of its KKT, and answers the POS in the shapes
//! of API v1/v2/v3. Its orchestration is the reference behaviour ТС ПИоТ implementations are graded
//! against.
//!
//! Files: `options.rs` (budgets and `tspiot.*` settings), `upstream.rs` (the True API client: discovery,
//! health checks, host blocking, the per-check algorithm), `lm_client.rs` (the ЛМ ЧЗ client), `auth.rs`
//! (credentials: X-API-KEY until the cut-off, ФН tokens obtained and renewed through a [`auth::FnSigner`]),
//! `orchestrator.rs` (§5: online, then ЛМ ЧЗ, 203, 514), `wire.rs` (POS-facing request parsing and
//! response shapes per version), `server.rs` (the POS API over HTTP or HTTPS), `admin.rs` (the admin API),
//! `tls.rs` (the self-signed certificate and the TLS accept loop), `mutant.rs` (deliberate defects for
//! mutation testing, off unless `tspiot.mutant` is set).

pub mod admin;
pub mod auth;
pub mod lm_client;
pub mod mutant;
pub mod options;
pub mod orchestrator;
pub mod server;
pub mod tls;
pub mod upstream;
pub mod wire;
