//! The ЛМ ЧЗ HTTP API (spec `local-module.md` §2, §3, §5, §6, §9): v1 and v2 paths on one loopback
//! port, Basic authentication (and the optional `Token` scheme), the `X-ClientId` header, request
//! parsing, HTTP status semantics, faults and the trace.
//!
//! Owns only the wire: every answer comes from the [`LocalModule`] model, which this server brings up to
//! the world clock before each call. Lock order everywhere: the world (read) first, then the module.
//!
//! Decisions where the spec is silent (also in `docs/emulators.md`, L-decisions):
//! - `/init` answers `200 {"status":"initialization"}` (the spec only says any 2xx is success).
//! - A `cis_list` may hold at most [`MAX_CODES`] codes (400 above); an empty list is a 400.
//! - v2 `outCheck` also accepts plain strings in `cis_list` (some clients send the v1 form to v2).
//! - `GET …?cis=` is percent-decoded without turning `+` into a space (`+` is a valid code character).
//! - With `lm.require_client_id`, a call without `X-ClientId` gets 400; otherwise the header is only
//!   written to the trace note.
//! - With `lm.token_auth`, `Authorization: Token <UUID>` is accepted for any well-formed UUID.

use super::model::{InitRequest, LmError, LocalModule, NotReady};
use crate::clock::WorldClock;
use crate::faults::FaultTable;
use crate::http::{accept_loop, disturb, traced, HostNet, NoFastRoute};
use crate::trace::Trace;
use crate::world::World;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Most codes accepted in one `cis_list`.
pub const MAX_CODES: usize = 1000;

/// Component name of the module in the trace and in fault targets.
pub const COMPONENT: &str = "local-module";

/// What the ЛМ ЧЗ server shares with the other emulators.
#[derive(Clone)]
pub struct LmContext {
    /// The world (the module copies its black lists from it at each sync).
    pub world: Arc<RwLock<World>>,
    /// The world clock (timers: initialization, syncs, 72 h).
    pub clock: WorldClock,
    /// The trace every call goes to.
    pub trace: Trace,
    /// Faults (target host `local-module`).
    pub faults: FaultTable,
    /// The module itself (shared with the control API).
    pub module: Arc<Mutex<LocalModule>>,
}

/// A running ЛМ ЧЗ; [`LmServer::shutdown`] stops it.
pub struct LmServer {
    /// Base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl LmServer {
    /// Stop serving and wait for the accept loop to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum LmServeError {
    /// The listener could not be bound.
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

#[derive(Clone)]
struct LmState {
    ctx: LmContext,
    net: HostNet,
}

/// Start the module on `addr` (port 0 = ephemeral).
pub async fn spawn(ctx: LmContext, addr: SocketAddr) -> Result<LmServer, LmServeError> {
    let listener = TcpListener::bind(addr).await.map_err(|source| LmServeError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(|source| LmServeError::Bind { addr, source })?;
    let (stop, stop_rx) = watch::channel(false);
    let net = HostNet {
        component: COMPONENT.into(),
        addr: local.to_string().into(),
        faults: ctx.faults.clone(),
        clock: ctx.clock.clone(),
        trace: ctx.trace.clone(),
        stop: stop_rx,
    };
    let app = router(LmState { ctx, net: net.clone() });
    let task = tokio::spawn(accept_loop(listener, app, net, NoFastRoute));
    Ok(LmServer { url: format!("http://{local}"), stop, task })
}

fn router(state: LmState) -> Router {
    Router::new()
        .route("/api/v1/init", post(init))
        .route("/api/v2/init", post(init))
        .route("/api/v1/status", get(status))
        .route("/api/v2/status", get(status))
        .route("/api/v1/cis/check", get(check_v1).post(check_v1))
        .route("/api/v1/cis/outCheck", get(check_v1).post(check_v1))
        .route("/api/v2/cis/outCheck", post(check_v2))
        .route("/api/v2/cis/sell", post(sell))
        .route("/api/v2/cis/return", post(return_codes))
        .route("/api/v2/cis/sold", get(sold_list))
        .route("/api/v2/cis/sold/check", post(sold_check))
        .route("/api/v2/greyList", post(grey_list))
        .fallback(not_found)
        .with_state(state)
}

/// One parsed call: what the handler needs and what the trace records.
struct Call {
    method: Method,
    uri: Uri,
    started: Instant,
    client_id: Option<String>,
}

/// The outcome of a handler: the answer, plus the codes and reqId for the trace.
struct Outcome {
    response: Response,
    codes: Vec<String>,
    req_id: Option<String>,
}

impl From<Response> for Outcome {
    fn from(response: Response) -> Self {
        Outcome { response, codes: Vec::new(), req_id: None }
    }
}

fn error(status: StatusCode, code: u16, description: &str) -> Response {
    (status, Json(json!({ "code": code, "description": description }))).into_response()
}

fn not_ready(n: NotReady) -> Response {
    (StatusCode::from_u16(n.http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), Json(n.body))
        .into_response()
}

fn unauthorized() -> Response {
    let mut r = error(StatusCode::UNAUTHORIZED, 401, "Unauthorized");
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"regime\""));
    r
}

/// `Authorization: Basic base64(login:password)` (or `Token <UUID>` when enabled).
fn authorized(s: &LmState, headers: &HeaderMap) -> bool {
    use base64::Engine;
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
    let module = s.ctx.module.lock().unwrap_or_else(|p| p.into_inner());
    let opts = module.options();
    if scheme.eq_ignore_ascii_case("basic") {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest.trim()) else {
            return false;
        };
        let expected = format!("{}:{}", opts.login, opts.password);
        decoded == expected.as_bytes()
    } else if scheme.eq_ignore_ascii_case("token") {
        opts.token_auth && uuid::Uuid::parse_str(rest.trim()).is_ok()
    } else {
        false
    }
}

/// Run `f` on the module and the world, brought up to the world clock, after the common gates: faults,
/// authentication and `X-ClientId`. Records the call in the trace.
async fn handle(
    s: &LmState,
    method: Method,
    uri: Uri,
    headers: &HeaderMap,
    codes_hint: &[String],
    f: impl FnOnce(&mut LocalModule, &World, i64) -> Outcome,
) -> Response {
    let call = Call {
        method,
        uri,
        started: Instant::now(),
        client_id: headers.get("x-clientid").and_then(|v| v.to_str().ok()).map(str::to_string),
    };
    let mut dist = disturb(&s.net, call.uri.path(), codes_hint).await;
    let outcome: Outcome = if let Some(r) = dist.response.take() {
        Outcome { response: r, codes: codes_hint.to_vec(), req_id: None }
    } else if !authorized(s, headers) {
        unauthorized().into()
    } else if call.client_id.is_none() && s.ctx.module.lock().is_ok_and(|m| m.options().require_client_id) {
        error(StatusCode::BAD_REQUEST, 400, "X-ClientId header is required").into()
    } else {
        let now = s.ctx.clock.now_ms();
        let world = s.ctx.world.read().unwrap_or_else(|p| p.into_inner());
        let mut module = s.ctx.module.lock().unwrap_or_else(|p| p.into_inner());
        module.advance(&world, now);
        f(&mut module, &world, now)
    };
    let response = dist.finish(outcome.response).await;
    let mut ev = dist.mark(traced(&s.net, &call.method, &call.uri, response.status(), call.started));
    if !outcome.codes.is_empty() {
        ev = ev.codes(outcome.codes);
    }
    if let Some(id) = outcome.req_id {
        ev = ev.req_id(id);
    }
    if let Some(c) = call.client_id {
        ev = ev.note(format!("X-ClientId: {c}"));
    }
    s.ctx.trace.record(ev);
    response
}

/// A request the module refuses with 400, and why.
#[derive(Debug)]
struct BadRequest(String);

impl From<BadRequest> for Outcome {
    fn from(b: BadRequest) -> Self {
        error(StatusCode::BAD_REQUEST, 400, &b.0).into()
    }
}

/// The codes of a `{"cis_list":[…]}` body: strings, or (v2) objects with `cis` and an optional `pg`.
fn cis_list(body: &Bytes) -> Result<Vec<(String, Option<u16>)>, BadRequest> {
    let bad = |msg: &str| BadRequest(msg.to_string());
    let v: Value = serde_json::from_slice(body).map_err(|e| bad(&format!("invalid JSON: {e}")))?;
    let list = v.get("cis_list").and_then(Value::as_array).ok_or_else(|| bad("cis_list is required"))?;
    if list.is_empty() {
        return Err(bad("cis_list is empty"));
    }
    if list.len() > MAX_CODES {
        return Err(bad(&format!("at most {MAX_CODES} codes per request")));
    }
    list.iter()
        .map(|item| match item {
            Value::String(c) => Ok((c.clone(), None)),
            Value::Object(o) => {
                let cis =
                    o.get("cis").and_then(Value::as_str).ok_or_else(|| bad("cis_list[].cis is required"))?;
                let pg = match o.get("pg") {
                    None | Some(Value::Null) => None,
                    Some(p) => Some(
                        p.as_u64()
                            .and_then(|n| u16::try_from(n).ok())
                            .ok_or_else(|| bad("cis_list[].pg must be a product-group number"))?,
                    ),
                };
                Ok((cis.to_string(), pg))
            }
            _ => Err(bad("cis_list items must be strings or {\"cis\":…} objects")),
        })
        .collect()
}

/// The `cis` query parameter, percent-decoded (a literal `+` stays a `+`).
fn query_cis(uri: &Uri) -> Option<String> {
    let q = uri.query()?;
    q.split('&').find_map(|pair| {
        let v = pair.strip_prefix("cis=")?;
        Some(percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
    })
}

/// A query parameter as a number.
fn query_usize(uri: &Uri, name: &str) -> Result<Option<usize>, BadRequest> {
    let Some(q) = uri.query() else { return Ok(None) };
    for pair in q.split('&') {
        if let Some(v) = pair.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return v
                .parse()
                .map(Some)
                .map_err(|_| BadRequest(format!("{name} must be a non-negative integer")));
        }
    }
    Ok(None)
}

fn hint(body: &Bytes) -> Vec<String> {
    cis_list(body).map(|l| l.into_iter().map(|(c, _)| c).collect()).unwrap_or_default()
}

async fn init(
    State(s): State<LmState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&s, method, uri, &headers, &[], |m, world, now| {
        let v: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return error(StatusCode::BAD_REQUEST, 400, &format!("invalid JSON: {e}")).into(),
        };
        let req = InitRequest {
            token: v.get("token").and_then(Value::as_str).unwrap_or_default().to_string(),
            clear_sold: v.get("clearSold").and_then(Value::as_bool),
            enable_grey_list: v.get("enableGreyList").and_then(Value::as_bool),
        };
        match m.init(world, now, req) {
            Ok(()) => Json(json!({ "status": m.status(world, now).name() })).into_response().into(),
            Err(e) => error(StatusCode::BAD_REQUEST, 400, &e.to_string()).into(),
        }
    })
    .await
}

async fn status(State(s): State<LmState>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let v2 = uri.path().starts_with("/api/v2/");
    handle(&s, method, uri, &headers, &[], |m, world, now| {
        let body = if v2 { m.status_v2(world, now) } else { m.status_v1(world, now) };
        Json(body).into_response().into()
    })
    .await
}

async fn check_v1(
    State(s): State<LmState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Result<Vec<String>, BadRequest> = if method == Method::GET {
        query_cis(&uri)
            .filter(|c| !c.is_empty())
            .map(|c| vec![c])
            .ok_or_else(|| BadRequest("query parameter cis is required".into()))
    } else {
        cis_list(&body).map(|l| l.into_iter().map(|(c, _)| c).collect())
    };
    let codes_hint = parsed.as_ref().map(Vec::clone).unwrap_or_default();
    handle(&s, method, uri, &headers, &codes_hint, move |m, world, now| match parsed {
        Err(r) => r.into(),
        Ok(codes) => {
            let id = uuid::Uuid::new_v4();
            match m.out_check_v1(world, now, &codes, id) {
                Ok(v) => Outcome { response: Json(v).into_response(), codes, req_id: Some(id.to_string()) },
                Err(n) => Outcome { response: not_ready(n), codes, req_id: None },
            }
        }
    })
    .await
}

async fn check_v2(
    State(s): State<LmState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let codes_hint = hint(&body);
    handle(&s, method, uri, &headers, &codes_hint, |m, world, now| match cis_list(&body) {
        Err(r) => r.into(),
        Ok(items) => {
            let id = uuid::Uuid::new_v4();
            let codes: Vec<String> = items.iter().map(|(c, _)| c.clone()).collect();
            match m.out_check_v2(world, now, &items, id) {
                Ok(v) => Outcome { response: Json(v).into_response(), codes, req_id: Some(id.to_string()) },
                Err(n) => Outcome { response: not_ready(n), codes, req_id: None },
            }
        }
    })
    .await
}

/// `sell`, `return` and `sold/check`: a `cis_list` in, a module answer out.
async fn list_call(
    s: LmState,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    ok_status: StatusCode,
    op: fn(&mut LocalModule, &World, i64, &[String]) -> Result<Value, NotReady>,
) -> Response {
    let codes_hint = hint(&body);
    handle(&s, method, uri, &headers, &codes_hint, |m, world, now| match cis_list(&body) {
        Err(r) => r.into(),
        Ok(items) => {
            let codes: Vec<String> = items.into_iter().map(|(c, _)| c).collect();
            let response = match op(m, world, now, &codes) {
                Ok(v) => (ok_status, Json(v)).into_response(),
                Err(n) => not_ready(n),
            };
            Outcome { response, codes, req_id: None }
        }
    })
    .await
}

async fn sell(
    State(s): State<LmState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    list_call(s, method, uri, headers, body, StatusCode::CREATED, |m, w, now, c| m.sell(w, now, c)).await
}

async fn return_codes(
    State(s): State<LmState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    list_call(s, method, uri, headers, body, StatusCode::OK, |m, w, now, c| m.return_codes(w, now, c)).await
}

async fn sold_check(
    State(s): State<LmState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    list_call(s, method, uri, headers, body, StatusCode::OK, |m, w, now, c| m.sold_check(w, now, c)).await
}

async fn sold_list(State(s): State<LmState>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let paging = query_usize(&uri, "skip").and_then(|skip| Ok((skip, query_usize(&uri, "limit")?)));
    handle(&s, method, uri, &headers, &[], |m, world, now| match paging {
        Err(r) => r.into(),
        Ok((skip, limit)) => match m.sold_list(world, now, skip.unwrap_or(0), limit.unwrap_or(100)) {
            Ok(v) => Json(v).into_response().into(),
            Err(LmError::NotReady(n)) => not_ready(n).into(),
            Err(e) => error(StatusCode::BAD_REQUEST, 400, &e.to_string()).into(),
        },
    })
    .await
}

async fn grey_list(
    State(s): State<LmState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&s, method, uri, &headers, &[], |m, _, _| {
        let enabled = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("enableGreyList").and_then(Value::as_bool));
        match enabled {
            Some(e) => {
                m.set_grey_list(e);
                Json(json!({ "enableGreyList": e })).into_response().into()
            }
            None => error(StatusCode::BAD_REQUEST, 400, "enableGreyList (bool) is required").into(),
        }
    })
    .await
}

async fn not_found(State(s): State<LmState>, method: Method, uri: Uri) -> Response {
    let started = Instant::now();
    let resp = error(StatusCode::NOT_FOUND, 404, "Not Found");
    s.ctx.trace.record(traced(&s.net, &method, &uri, resp.status(), started));
    resp
}
