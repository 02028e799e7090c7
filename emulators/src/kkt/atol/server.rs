//! The ATOL-driver-compatible web server (`kkt.md` §10.1) on a loopback port: the request queue over
//! HTTP, the ping, the synchronous `operations/*`, device selection, optional Basic authentication,
//! and the trace (component `kkt`).
//!
//! Owns the wire only. Tasks are parsed by [`wire`](super::wire), queued and run by
//! [`queue`](super::queue), and carried out by the [`TaskRunner`] the caller supplies; the server never
//! knows what a task does.
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /`, `GET /api/v2` | 200 ping |
//! | `POST /api/v2/requests` | 201 `{"number","uuid","isBlocked":false,"blockedUUID":""}`; 400 bad envelope; 409 reused uuid |
//! | `GET /api/v2/requests/{uuid}` | 200 results envelope; 404 unknown |
//! | `DELETE /api/v2/requests/{uuid}` | 200 envelope after cancelling what still waits; 404; 409 nothing to cancel |
//! | `POST /api/v2/operations/{op}` | 200 with the task result: `queryShiftStatus`, `queryDeviceInfo`, `queryDeviceStatus`, `queryFnInfo` |
//! | `POST /api/v2/activateDevice` | 200 `{}` |
//!
//! Decisions where the spec is silent:
//! - Every HTTP-level error answers `{"error":{"code":<HTTP status>,"description":…}}`.
//! - `?deviceID=` is read on every route; an unknown one → 404. Results are found by uuid alone (a
//!   uuid is unique across devices), so `deviceID` does not filter `GET /requests/{uuid}`.
//! - An envelope must be a JSON object with a non-empty string `uuid` (≤ 256 bytes) and a `request`
//!   that is a non-empty array or one task object; anything else → 400. Each task is parsed on its own
//!   (a bad task is a per-task error, see [`Task::from_json`]).
//! - `operations/*` run through the device's queue (after what is already queued) and answer the
//!   task's result as the body; a driver error → 500 with the error object; unknown operation → 404.
//! - With Basic authentication configured, every route needs it (401 with `WWW-Authenticate`), except
//!   CORS preflights: `OPTIONS` → 204, and every answer allows any origin (browser POS programs).
//! - `activateDevice` only checks the device; it changes nothing.
//! - `Content-Type` is not checked.

pub use super::queue::TaskRunner;
use super::queue::{Queue, QueueError, ResultsEnvelope, DEFAULT_MAX_REQUESTS_KEPT, MAX_UUID_LEN};
use super::wire::{decode_imc, Task};
use crate::clock::WorldClock;
use crate::trace::{Trace, TraceEvent};
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Component name of the KKT in the trace.
pub const COMPONENT: &str = "kkt";

/// The real driver web server's port.
pub const DEFAULT_PORT: u16 = 16732;

/// Device id used when none is configured otherwise.
pub const DEFAULT_DEVICE: &str = "default";

/// How the web server is set up.
#[derive(Clone, Debug)]
pub struct AtolServerOptions {
    /// Address to listen on (loopback by default).
    pub bind: IpAddr,
    /// Port; ephemeral when `None` ([`DEFAULT_PORT`] is the real one).
    pub port: Option<u16>,
    /// Device ids for `?deviceID=`; the first is the default. Must not be empty.
    pub devices: Vec<String>,
    /// Require `Authorization: Basic` with this login and password.
    pub basic_auth: Option<(String, String)>,
    /// Add `errorCode`/`errorDescription` next to `error` in results (`kkt.atol.flat_error_fields`).
    pub flat_error_fields: bool,
    /// Finished requests kept for polling; the oldest go first.
    pub max_requests_kept: usize,
    /// World clock for the trace's `world_ms`.
    pub clock: WorldClock,
}

impl Default for AtolServerOptions {
    fn default() -> AtolServerOptions {
        AtolServerOptions {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: None,
            devices: vec![DEFAULT_DEVICE.to_string()],
            basic_auth: None,
            flat_error_fields: false,
            max_requests_kept: DEFAULT_MAX_REQUESTS_KEPT,
            clock: WorldClock::real(),
        }
    }
}

/// A running server; [`AtolHandle::shutdown`] stops it.
pub struct AtolHandle {
    /// Base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl AtolHandle {
    /// Stop serving and wait for open connections to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum AtolServeError {
    /// The listener could not be bound.
    #[error("KKT web server: binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    /// No device configured.
    #[error("KKT web server: no device configured")]
    NoDevices,
}

struct AppState {
    queue: Queue,
    opts: AtolServerOptions,
    trace: Trace,
    host: String,
}

type Shared = Arc<AppState>;

/// Start the server; tasks run on `runner`, calls go to `trace`.
pub async fn spawn(
    opts: AtolServerOptions,
    runner: Arc<dyn TaskRunner>,
    trace: Trace,
) -> Result<AtolHandle, AtolServeError> {
    if opts.devices.is_empty() {
        return Err(AtolServeError::NoDevices);
    }
    let addr = SocketAddr::new(opts.bind, opts.port.unwrap_or(0));
    let listener = TcpListener::bind(addr).await.map_err(|source| AtolServeError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(|source| AtolServeError::Bind { addr, source })?;
    let queue = Queue::start(opts.devices.clone(), runner, opts.max_requests_kept);
    let state = Arc::new(AppState { queue, opts, trace, host: local.to_string() });
    let app = router(state);
    let (stop, mut stop_rx) = watch::channel(false);
    let shutdown = async move {
        while !*stop_rx.borrow() {
            if stop_rx.changed().await.is_err() {
                break;
            }
        }
    };
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    });
    Ok(AtolHandle { url: format!("http://{local}"), addr: local, stop, task })
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(ping))
        .route("/api/v2", get(ping))
        .route("/api/v2/requests", post(submit))
        .route("/api/v2/requests/{uuid}", get(results).delete(cancel))
        .route("/api/v2/operations/{operation}", post(operation))
        .route("/api/v2/activateDevice", post(activate_device))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), edge))
        .with_state(state)
}

/// What a handler adds to the trace event of its call.
#[derive(Clone, Debug, Default)]
struct TraceInfo {
    note: Option<String>,
    codes: Vec<String>,
}

fn with_trace(mut response: Response, info: TraceInfo) -> Response {
    response.extensions_mut().insert(info);
    response
}

/// Every call: CORS, Basic authentication, then the handler; records the call in the trace.
async fn edge(State(s): State<Shared>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let world_ms = s.opts.clock.now_ms();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let origin = request.headers().get(header::ORIGIN).cloned();
    let mut response = if method == Method::OPTIONS {
        preflight(request.headers())
    } else if !authorized(&s.opts, request.headers()) {
        unauthorized()
    } else {
        next.run(request).await
    };
    let allow = origin.unwrap_or_else(|| HeaderValue::from_static("*"));
    response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
    let info = response.extensions_mut().remove::<TraceInfo>().unwrap_or_default();
    let mut ev = TraceEvent::new(COMPONENT, method.as_str(), path)
        .world_ms(world_ms)
        .host(s.host.as_str())
        .status(response.status().as_u16())
        .latency(started.elapsed())
        .codes(info.codes);
    if let Some(note) = info.note {
        ev = ev.note(note);
    }
    s.trace.record(ev);
    response
}

/// A CORS preflight: any origin, the methods of this API, the headers asked for.
fn preflight(headers: &HeaderMap) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, DELETE, OPTIONS"));
    let asked = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("authorization, content-type"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
    h.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    h.insert("access-control-allow-private-network", HeaderValue::from_static("true"));
    r
}

/// `Authorization: Basic base64(login:password)` when configured.
fn authorized(opts: &AtolServerOptions, headers: &HeaderMap) -> bool {
    use base64::Engine;
    let Some((login, password)) = &opts.basic_auth else { return true };
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some((scheme, rest)) = value.trim().split_once(' ') else { return false };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest.trim()) else {
        return false;
    };
    decoded == format!("{login}:{password}").as_bytes()
}

/// `{"error":{"code":<status>,"description":…}}` with that status.
fn http_error(status: StatusCode, description: impl Into<String>) -> Response {
    let body = json!({ "error": { "code": status.as_u16(), "description": description.into() } });
    (status, Json(body)).into_response()
}

fn unauthorized() -> Response {
    let mut r = http_error(StatusCode::UNAUTHORIZED, "authorization required");
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"atol\""));
    r
}

fn queue_error(e: &QueueError) -> Response {
    let status = match e {
        QueueError::Conflict(_) | QueueError::NothingToCancel(_) => StatusCode::CONFLICT,
        QueueError::UnknownDevice(_) | QueueError::NotFound(_) => StatusCode::NOT_FOUND,
        QueueError::DeviceStopped(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    http_error(status, e.to_string())
}

/// The `deviceID` query parameter, percent-decoded.
fn device_id(uri: &Uri) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let v = pair.strip_prefix("deviceID=")?;
        Some(percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
    })
}

/// The device the call is for (`?deviceID=`, else the default).
fn device<'a>(s: &'a AppState, uri: &Uri) -> Result<&'a str, QueueError> {
    s.queue.device(device_id(uri).as_deref())
}

async fn ping(State(s): State<Shared>, uri: Uri) -> Response {
    match device(&s, &uri) {
        Err(e) => queue_error(&e),
        Ok(_) => Json(json!({ "name": "markcert ATOL-compatible web server", "devices": s.queue.devices() }))
            .into_response(),
    }
}

/// A request envelope that cannot be queued.
struct BadEnvelope(String);

/// `{uuid, request}` → the uuid and the raw tasks.
fn parse_envelope(body: &[u8]) -> Result<(String, Vec<Value>), BadEnvelope> {
    let bad = |m: &str| BadEnvelope(m.to_string());
    let v: Value = serde_json::from_slice(body).map_err(|e| BadEnvelope(format!("invalid JSON: {e}")))?;
    let Value::Object(mut obj) = v else { return Err(bad("the request body must be a JSON object")) };
    let uuid = match obj.remove("uuid") {
        Some(Value::String(u)) if !u.is_empty() && u.len() <= MAX_UUID_LEN => u,
        Some(Value::String(u)) if !u.is_empty() => {
            return Err(BadEnvelope(format!("uuid is longer than {MAX_UUID_LEN} bytes")))
        }
        _ => return Err(bad("field 'uuid' is missing or empty")),
    };
    let tasks = match obj.remove("request") {
        Some(Value::Array(tasks)) if !tasks.is_empty() => tasks,
        Some(task @ Value::Object(_)) => vec![task],
        _ => return Err(bad("field 'request' is missing or empty")),
    };
    Ok((uuid, tasks))
}

/// `uuid=… tasks=a,b` for the trace, and the codes the tasks carry (decoded from base64).
fn describe(uuid: &str, tasks: &[Result<Task, super::error::AtolError>]) -> TraceInfo {
    let names: Vec<&str> = tasks.iter().map(|t| t.as_ref().map_or("(invalid)", Task::type_name)).collect();
    let codes = tasks
        .iter()
        .flatten()
        .flat_map(Task::imcs)
        .filter_map(|imc| decode_imc(imc).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect();
    TraceInfo { note: Some(format!("uuid={uuid} tasks={}", names.join(","))), codes }
}

async fn submit(State(s): State<Shared>, uri: Uri, body: Bytes) -> Response {
    let device = match device(&s, &uri) {
        Ok(d) => d,
        Err(e) => return queue_error(&e),
    };
    let (uuid, raw) = match parse_envelope(&body) {
        Ok(e) => e,
        Err(BadEnvelope(m)) => {
            return with_trace(
                http_error(StatusCode::BAD_REQUEST, m.clone()),
                TraceInfo { note: Some(m), codes: Vec::new() },
            )
        }
    };
    let tasks: Vec<_> = raw.iter().map(Task::from_json).collect();
    let info = describe(&uuid, &tasks);
    let response = match s.queue.submit(device, &uuid, tasks) {
        Ok(accepted) => (StatusCode::CREATED, Json(accepted)).into_response(),
        Err(e) => queue_error(&e),
    };
    with_trace(response, info)
}

fn envelope_note(uuid: &str, env: &ResultsEnvelope) -> TraceInfo {
    let statuses: Vec<String> = env
        .results
        .iter()
        .map(|r| {
            serde_json::to_value(r.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .collect();
    TraceInfo { note: Some(format!("uuid={uuid} statuses={}", statuses.join(","))), codes: Vec::new() }
}

async fn results(State(s): State<Shared>, uri: Uri, Path(uuid): Path<String>) -> Response {
    if let Err(e) = device(&s, &uri) {
        return queue_error(&e);
    }
    match s.queue.results(&uuid, s.opts.flat_error_fields) {
        Some(env) => {
            let info = envelope_note(&uuid, &env);
            with_trace(Json(env).into_response(), info)
        }
        None => queue_error(&QueueError::NotFound(uuid)),
    }
}

async fn cancel(State(s): State<Shared>, uri: Uri, Path(uuid): Path<String>) -> Response {
    if let Err(e) = device(&s, &uri) {
        return queue_error(&e);
    }
    match s.queue.cancel(&uuid, s.opts.flat_error_fields) {
        Ok(env) => {
            let info = envelope_note(&uuid, &env);
            with_trace(Json(env).into_response(), info)
        }
        Err(e) => queue_error(&e),
    }
}

/// The task an `operations/*` route runs.
fn operation_task(name: &str) -> Option<Task> {
    Some(match name {
        "queryShiftStatus" => Task::GetShiftStatus,
        "queryDeviceInfo" => Task::GetDeviceInfo,
        "queryDeviceStatus" => Task::GetDeviceStatus,
        "queryFnInfo" => Task::GetFnInfo,
        _ => return None,
    })
}

async fn operation(State(s): State<Shared>, uri: Uri, Path(name): Path<String>) -> Response {
    let device = match device(&s, &uri) {
        Ok(d) => d,
        Err(e) => return queue_error(&e),
    };
    let Some(task) = operation_task(&name) else {
        return http_error(StatusCode::NOT_FOUND, format!("unknown operation {name:?}"));
    };
    let note =
        TraceInfo { note: Some(format!("operation {name} → {}", task.type_name())), codes: Vec::new() };
    let response = match s.queue.run_now(device, task).await {
        Ok(Ok(result)) => Json(result).into_response(),
        Ok(Err(e)) => {
            let body = json!({ "error": { "code": e.code, "description": e.description } });
            (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
        }
        Err(e) => queue_error(&e),
    };
    with_trace(response, note)
}

async fn activate_device(State(s): State<Shared>, uri: Uri) -> Response {
    match device(&s, &uri) {
        Ok(_) => Json(json!({})).into_response(),
        Err(e) => queue_error(&e),
    }
}

async fn not_found() -> Response {
    http_error(StatusCode::NOT_FOUND, "not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes() {
        let ok = |b: &str| parse_envelope(b.as_bytes()).ok();
        assert_eq!(ok(r#"{"uuid":"a","request":{"type":"pingIsm"}}"#).unwrap().1.len(), 1);
        assert_eq!(ok(r#"{"uuid":"a","request":[1,2]}"#).unwrap().1.len(), 2);
        for bad in [
            "",
            "{",
            "[]",
            r#"{"request":[{}]}"#,
            r#"{"uuid":"","request":[{}]}"#,
            r#"{"uuid":5,"request":[{}]}"#,
            r#"{"uuid":"a"}"#,
            r#"{"uuid":"a","request":[]}"#,
            r#"{"uuid":"a","request":"x"}"#,
        ] {
            assert!(ok(bad).is_none(), "{bad}");
        }
        let long = format!(r#"{{"uuid":"{}","request":[{{}}]}}"#, "u".repeat(MAX_UUID_LEN + 1));
        assert!(ok(&long).is_none());
    }

    #[test]
    fn device_ids_from_the_query() {
        let uri: Uri = "/api/v2/requests?x=1&deviceID=kkt%202".parse().unwrap();
        assert_eq!(device_id(&uri).as_deref(), Some("kkt 2"));
        assert_eq!(device_id(&"/api/v2/requests".parse().unwrap()), None);
    }

    #[test]
    fn basic_auth() {
        use base64::Engine;
        let opts = AtolServerOptions { basic_auth: Some(("u".into(), "p".into())), ..Default::default() };
        let mut h = HeaderMap::new();
        assert!(!authorized(&opts, &h));
        let good = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("u:p"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(&good).unwrap());
        assert!(authorized(&opts, &h));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic dTp4"));
        assert!(!authorized(&opts, &h));
        assert!(authorized(&AtolServerOptions::default(), &HeaderMap::new()));
    }
}
