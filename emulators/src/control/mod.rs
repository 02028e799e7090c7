//! The control API: HTTP on its own loopback port, for scenario authors and the harness to drive the
//! emulated world (documented for its users in `docs/control-api.md`).
//!
//! Owns the routes and their JSON shapes: the world (`world.rs`: summary, load/replace/reset,
//! products; `codes.rs`: codes with their states and ban attributes, changed at run time), the world
//! clock (`clock.rs`), the fault rules (`faults.rs`), the trace and the reqId log (`trace.rs`), the
//! ЛМ ЧЗ controls (`lm.rs`), the ТС ПИоТ and ФН-token controls (`tspiot.rs`), the KKT's journal,
//! findings, state and controls (`kkt.rs`); plus the request
//! plumbing every route shares (`request.rs`: bodies,
//! content types, durations) and the error answers (`error.rs`: `{"error": …}` with a 4xx).
//!
//! Must not: judge any rule (it only reads and writes the shared objects the emulators answer from),
//! answer a 5xx for any input, or record its own calls in the trace — the trace is what the
//! implementation under test did, and control calls would pollute it (decision documented in
//! `docs/control-api.md`).

mod clock;
mod codes;
mod error;
mod faults;
mod kkt;
mod lm;
mod request;
mod trace;
mod tspiot;
mod world;

use crate::clock::WorldClock;
use crate::faults::FaultTable;
use crate::reqlog::ReqLog;
use crate::trace::Trace;
use crate::world::World;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Json, Router};
use error::ApiError;
use serde_json::{json, Value};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Largest body accepted by most routes (fault rules, patches, clock changes).
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Largest world file accepted by `PUT /world`.
pub const WORLD_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// The shared objects the control API reads and changes; the same handles the emulators use.
#[derive(Clone)]
pub struct ControlContext {
    /// The world, shared with the emulators.
    pub world: Arc<RwLock<World>>,
    /// The world clock.
    pub clock: WorldClock,
    /// The trace of the emulators' calls.
    pub trace: Trace,
    /// The fault rules in force.
    pub faults: FaultTable,
    /// Every reqId the True API issued.
    pub reqlog: ReqLog,
    /// The ЛМ ЧЗ emulator, when this run has one.
    pub lm: Option<Arc<Mutex<crate::lm::model::LocalModule>>>,
    /// The ТС ПИоТ emulator, when this run has one.
    pub tspiot: Option<Arc<crate::tspiot::orchestrator::TsPiot>>,
    /// The ФН signer the ТС ПИоТ uses (scenarios break it).
    pub fn_signer: Option<Arc<crate::tspiot::auth::WorldFnSigner>>,
    /// ФН tokens issued by the True API.
    pub fn_auth: Arc<crate::fnauth::FnAuthService>,
    /// The KKT emulator, when this run has one.
    pub kkt: Option<Arc<crate::kkt::device::KktDevice>>,
}

impl ControlContext {
    /// The world for reading (a poisoned lock is taken over: the world stays consistent, every change
    /// to it is a whole-record replacement).
    pub(crate) fn world_read(&self) -> RwLockReadGuard<'_, World> {
        self.world.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The world for writing.
    pub(crate) fn world_write(&self) -> RwLockWriteGuard<'_, World> {
        self.world.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Errors starting the control API.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The listener could not be bound.
    #[error("control API: binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

/// Every route of the control API, for tests and embedding. Bodies are limited to [`BODY_LIMIT`]
/// ([`WORLD_BODY_LIMIT`] for `PUT /world`); unknown routes and methods answer JSON 404 / 405.
pub fn router(ctx: ControlContext) -> Router {
    Router::new()
        .route("/health", get(health))
        .merge(world::routes())
        .merge(codes::routes())
        .merge(clock::routes())
        .merge(faults::routes())
        .merge(trace::routes())
        .merge(lm::routes())
        .merge(tspiot::routes())
        .merge(kkt::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(ctx)
}

/// The control API listening on its own port; dropping it stops the server too (gracefully).
pub struct ControlServer {
    /// Base URL, `http://ip:port`.
    pub url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl ControlServer {
    /// Stop accepting, let calls in progress finish, and wait for the server to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Start the control API on `bind_ip` with an ephemeral port.
pub async fn spawn(ctx: ControlContext, bind_ip: IpAddr) -> Result<ControlServer, ControlError> {
    let addr = SocketAddr::new(bind_ip, 0);
    let listener = TcpListener::bind(addr).await.map_err(|source| ControlError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(|source| ControlError::Bind { addr, source })?;
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(ctx);
    let task = tokio::spawn(async move {
        // Either a send or the sender being dropped ends the server.
        let shutdown = async move {
            let _ = stopped.await;
        };
        // An accept error is retried by axum itself; `serve` only returns once shut down.
        let _ = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    });
    Ok(ControlServer { url: format!("http://{local}"), addr: local, stop, task })
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such control route: {}; see docs/control-api.md", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        format!("{} is not allowed on {}; see docs/control-api.md", method, uri.path()),
    )
}
