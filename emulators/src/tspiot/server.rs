//! The ТС ПИоТ's POS-facing HTTP API (`tspiot.md` §3, §4, §6): `POST /api/v1|v2|v3/codes/check`,
//! `GET /api/v1|v2|v3/info`, `POST /api/v1/info` and `POST /info`, over plain HTTP or HTTPS with a
//! self-signed certificate, and the admin API (§8) on its own port.
//!
//! Owns the wire edge only: parsing and `client_info` checks come from `wire.rs`, the decision from
//! the orchestrator. Every POS call is recorded in the trace as component `tspiot`, with the codes, the
//! upstream `reqId` and the steps the orchestrator took; its upstream calls are traced by the True API
//! and ЛМ ЧЗ hosts themselves. A mutation run (`TsPiotOptions::mutant`) changes the branches marked
//! `// mutant: <name>`.

use super::admin::{self, AdminState};
use super::mutant::TsPiotMutant;
use super::orchestrator::{TsPiot, Verdict};
use super::tls::{self, TlsMaterial};
use super::wire::{self, ApiVersion, InfoFields};
use crate::clock::WorldClock;
use crate::trace::{Trace, TraceEvent};
use crate::world::World;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Component name of the ТС ПИоТ in the trace.
pub const COMPONENT: &str = "tspiot";

/// What the ТС ПИоТ server shares.
#[derive(Clone)]
pub struct TsPiotContext {
    /// The world (POS programs for strict `client_info`, fiscal drives for the admin API).
    pub world: Arc<RwLock<World>>,
    /// The world clock.
    pub clock: WorldClock,
    /// The trace.
    pub trace: Trace,
    /// The instance.
    pub tspiot: Arc<TsPiot>,
    /// KKT serial the instance is bound to.
    pub kkt_serial: String,
    /// INN of the KKT owner.
    pub kkt_inn: String,
    /// The admin API's view of the instance.
    pub admin: AdminState,
    /// Faults aimed at the ТС ПИоТ itself (host `tspiot`): `latency` delays the POS API's answer,
    /// `status` answers instead of it; the other kinds are not applied here. `None`: no faults.
    pub faults: Option<crate::faults::FaultTable>,
}

/// A fault aimed at the ТС ПИоТ's POS API for this call: waits its delay and returns the answer it
/// imposes (traced with the fault's name), or `None` to answer normally.
async fn imposed(ctx: &TsPiotContext, method: &Method, uri: &Uri, started: Instant) -> Option<Response> {
    let (resp, fault) = imposed_answer(ctx, uri.path()).await;
    let resp = resp?;
    let mut ev = TraceEvent::new(COMPONENT, method.as_str(), uri.path()).world_ms(ctx.clock.now_ms());
    if let Some(f) = fault {
        ev = ev.fault(f);
    }
    ctx.trace.record(ev.status(resp.status().as_u16()).latency(started.elapsed()));
    Some(resp)
}

async fn imposed_answer(ctx: &TsPiotContext, path: &str) -> (Option<Response>, Option<String>) {
    use crate::faults::{Action, CallInfo};
    let Some(table) = &ctx.faults else { return (None, None) };
    let d = table.decide(&CallInfo::new(COMPONENT, path, ctx.clock.now_ms()).with_codes(&[] as &[&str]));
    if d.is_pass() {
        return (None, None);
    }
    if !d.delay.is_zero() {
        tokio::time::sleep(d.delay).await;
    }
    let name = d.fault_name.as_deref().map(str::to_string);
    match d.action {
        Action::Respond { status, body, content_type } => {
            let mut r = Response::new(axum::body::Body::from(body.to_vec()));
            *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if let Some(ct) = content_type.and_then(|c| axum::http::HeaderValue::from_str(&c).ok()) {
                r.headers_mut().insert(axum::http::header::CONTENT_TYPE, ct);
            }
            (Some(r), name)
        }
        _ => (None, name),
    }
}

/// Where to listen.
#[derive(Clone, Debug)]
pub struct Listen {
    /// Address (loopback by default).
    pub ip: IpAddr,
    /// POS API port (the real default is 51401); ephemeral when `None`.
    pub port: Option<u16>,
    /// Admin API port (the real default is 51077); ephemeral when `None`.
    pub admin_port: Option<u16>,
    /// Serve the POS API over HTTPS with this certificate.
    pub tls: Option<TlsMaterial>,
}

/// Running ТС ПИоТ servers.
pub struct TsPiotServers {
    /// POS API base URL (`https://…` with TLS).
    pub url: String,
    /// Admin API base URL.
    pub admin_url: String,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl TsPiotServers {
    /// Stop serving and wait.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Errors starting the servers.
#[derive(Debug, thiserror::Error)]
pub enum TsPiotServeError {
    /// A listener could not be bound.
    #[error("ТС ПИоТ: binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

async fn bind(ip: IpAddr, port: Option<u16>) -> Result<(TcpListener, SocketAddr), TsPiotServeError> {
    let addr = SocketAddr::new(ip, port.unwrap_or(0));
    let l = TcpListener::bind(addr).await.map_err(|source| TsPiotServeError::Bind { addr, source })?;
    let local = l.local_addr().map_err(|source| TsPiotServeError::Bind { addr, source })?;
    Ok((l, local))
}

/// Start the POS API and the admin API.
pub async fn spawn(ctx: TsPiotContext, listen: Listen) -> Result<TsPiotServers, TsPiotServeError> {
    let (stop, stop_rx) = watch::channel(false);
    let (pos_listener, pos_addr) = bind(listen.ip, listen.port).await?;
    let (admin_listener, admin_addr) = bind(listen.ip, listen.admin_port).await?;
    let app = router(ctx.clone());
    let admin_app = admin::router(ctx.admin.clone());
    let mut tasks = Vec::new();
    let scheme = if listen.tls.is_some() { "https" } else { "http" };
    match listen.tls {
        Some(material) => {
            let rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let _ = tls::serve_tls(pos_listener, app, &material, rx).await;
            }));
        }
        None => tasks.push(tokio::spawn(serve_plain(pos_listener, app, stop_rx.clone()))),
    }
    tasks.push(tokio::spawn(serve_plain(admin_listener, admin_app, stop_rx)));
    Ok(TsPiotServers {
        url: format!("{scheme}://{pos_addr}"),
        admin_url: format!("http://{admin_addr}"),
        stop,
        tasks,
    })
}

async fn serve_plain(listener: TcpListener, app: Router, mut stop: watch::Receiver<bool>) {
    let shutdown = async move {
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                break;
            }
        }
    };
    let _ = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
}

/// The POS API routes.
pub fn router(ctx: TsPiotContext) -> Router {
    Router::new()
        .route("/api/v1/codes/check", post(check_v1))
        .route("/api/v2/codes/check", post(check_v2))
        .route("/api/v3/codes/check", post(check_v3))
        .route("/api/v1/info", get(info).post(info))
        .route("/api/v2/info", get(info))
        .route("/api/v3/info", get(info))
        .route("/info", post(info))
        .fallback(not_found)
        .with_state(ctx)
}

async fn check_v1(State(ctx): State<TsPiotContext>, method: Method, uri: Uri, body: Bytes) -> Response {
    check(ctx, ApiVersion::V1, method, uri, body).await
}

async fn check_v2(State(ctx): State<TsPiotContext>, method: Method, uri: Uri, body: Bytes) -> Response {
    check(ctx, ApiVersion::V2, method, uri, body).await
}

async fn check_v3(State(ctx): State<TsPiotContext>, method: Method, uri: Uri, body: Bytes) -> Response {
    check(ctx, ApiVersion::V3, method, uri, body).await
}

fn json_status(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), Json(body)).into_response()
}

async fn check(ctx: TsPiotContext, version: ApiVersion, method: Method, uri: Uri, body: Bytes) -> Response {
    let started = Instant::now();
    if let Some(resp) = imposed(&ctx, &method, &uri, started).await {
        return resp;
    }
    let opts = ctx.tspiot.options().clone();
    let parsed = wire::parse_check_as(version, &body, opts.mutant).and_then(|req| {
        let world = ctx.world.read().unwrap_or_else(|p| p.into_inner());
        wire::check_client_info(&req.client_info, opts.client_info, &world).map(|()| req)
    });
    let mut ev = TraceEvent::new(COMPONENT, method.as_str(), uri.path()).world_ms(ctx.clock.now_ms());
    // The shape of the answer: the request's version.
    let mut shape = version;
    // mutant: v1-as-v2 (v1 answered without its double wrapper)
    if opts.mutant == Some(TsPiotMutant::V1AsV2) && version == ApiVersion::V1 {
        shape = ApiVersion::V2;
    }
    let response = match parsed {
        Err(e) => {
            ev = ev.note(format!("{}: {}", e.kind, e.message));
            json_status(e.status, e.body())
        }
        Ok(req) => {
            let report = ctx.tspiot.check(&req.codes).await;
            ev = ev
                .codes(req.codes.iter().map(|c| c.text.clone()).collect::<Vec<_>>())
                .note(report.steps.join("; "));
            if let Some(id) = &report.req_id {
                ev = ev.req_id(id.clone());
            }
            match report.verdict {
                Verdict::Online { item } => json_status(200, wire::wrap(shape, vec![item])),
                Verdict::Offline { items } => json_status(200, wire::wrap(shape, items)),
                Verdict::Emergency => json_status(203, wire::emergency_body(&opts, shape)),
                Verdict::Unavailable { .. } => {
                    json_status(514, wire::unavailable_body(opts.codes_check_timeout_ms))
                }
            }
        }
    };
    ctx.trace.record(
        ev.world_ms(ctx.clock.now_ms()).status(response.status().as_u16()).latency(started.elapsed()),
    );
    response
}

/// `/info` (§3.1), with the ЛМ ЧЗ state asked of the module (200 ms at most).
async fn info(State(ctx): State<TsPiotContext>, method: Method, uri: Uri) -> Response {
    let started = Instant::now();
    if let Some(resp) = imposed(&ctx, &method, &uri, started).await {
        return resp;
    }
    let t = &ctx.tspiot;
    let lm = match t.lm() {
        None => None,
        Some(lm) => {
            let ep = lm.endpoint();
            let status = reqwest::Client::new()
                .get(format!("{}/api/v1/status", ep.url))
                .basic_auth(&ep.login, Some(&ep.password))
                .timeout(Duration::from_millis(200))
                .send()
                .await;
            let st: Value = match status {
                Ok(r) => r.json().await.unwrap_or(Value::Null),
                Err(_) => Value::Null,
            };
            let (ip, port) = host_port(&ep.url);
            Some(json!({
                "version": st.get("version").cloned().unwrap_or(Value::Null),
                "status": st.get("status").cloned().unwrap_or(json!("unreachable")),
                "lastSync": st.get("lastSync").cloned().unwrap_or(Value::Null),
                "ip": ip,
                "port": port,
            }))
        }
    };
    let fields = InfoFields {
        tspiot_id: t.options().tspiot_id.clone(),
        kkt_serial: ctx.kkt_serial.clone(),
        fn_serial: t.auth().fn_serial().to_string(),
        kkt_inn: ctx.kkt_inn.clone(),
        codes_check_timeout_ms: t.options().codes_check_timeout_ms,
        lm,
    };
    let resp = Json(wire::info_body(&fields)).into_response();
    ctx.trace.record(
        TraceEvent::new(COMPONENT, method.as_str(), uri.path())
            .world_ms(ctx.clock.now_ms())
            .status(resp.status().as_u16())
            .latency(started.elapsed()),
    );
    resp
}

/// `http://127.0.0.1:5995` → (`127.0.0.1`, 5995).
fn host_port(url: &str) -> (String, u16) {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or(80)),
        None => (authority.to_string(), 80),
    }
}

async fn not_found(State(ctx): State<TsPiotContext>, method: Method, uri: Uri) -> Response {
    let resp = json_status(404, json!({ "code": 404, "message": "Not Found", "details": [] }));
    ctx.trace.record(
        TraceEvent::new(COMPONENT, method.as_str(), uri.path()).world_ms(ctx.clock.now_ms()).status(404),
    );
    resp
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_port_of_urls() {
        assert_eq!(super::host_port("http://127.0.0.1:5995"), ("127.0.0.1".into(), 5995));
        assert_eq!(super::host_port("http://localhost/x"), ("localhost".into(), 80));
    }
}
