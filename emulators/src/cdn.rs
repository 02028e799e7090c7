//! The True API HTTP hosts (spec `true-api.md` §1, §3, §8, §9, §13): one discovery host (`cdn/info`,
//! `auth/permissive-access`; `codes/check` there answers 404 like the real one) and N CDN hosts, each
//! on its own loopback port, serving `cdn/health/check` and `codes/check`.
//!
//! Owns request parsing, authentication (`X-API-KEY` with its cut-off date), HTTP status semantics,
//! tracing every call (with the credential kind the request presented as the note `auth=…` on
//! `cdn/info`, `cdn/health/check`, `codes/check` and `auth/fn/*`) and remembering every issued
//! `reqId`. The answers themselves come from [`crate::trueapi`]; the world, clock and trace are shared
//! with the other emulators.

use crate::clock::WorldClock;
use crate::faults::FaultTable;
use crate::fnauth::{FnAuthError, FnAuthService, TokenError};
use crate::http::{accept_loop, disturb, traced, FastRoute, HostNet, NoFastRoute};
use crate::reqlog::ReqLog;
use crate::signin::{self, Challenges, SignInError};
use crate::trace::{Trace, TraceEvent};
use crate::trueapi::{check_codes, Requester, TrueApiOptions};
use crate::world::{ApiKey, World};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// `X-API-KEY` cut-off (spec `README.md` §5 default: 2026-10-01 00:00 MSK).
pub const DEFAULT_XAPIKEY_CUTOFF_MS: i64 = 1_790_802_000_000;

/// Authentication settings (`true-api.md` §9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthOptions {
    /// `auth.xapikey_cutoff`: from this instant (world clock) `X-API-KEY` alone is refused.
    pub xapikey_cutoff_ms: i64,
    /// `auth.xapikey_cutoff_status`: 401 (default) or 410.
    pub cutoff_status: u16,
    /// `auth.xapikey_ttl_s`: lifetime of tokens issued by `permissive-access`.
    pub xapikey_ttl_s: i64,
}

impl Default for AuthOptions {
    fn default() -> Self {
        AuthOptions {
            xapikey_cutoff_ms: DEFAULT_XAPIKEY_CUTOFF_MS,
            cutoff_status: 401,
            xapikey_ttl_s: 86_400,
        }
    }
}

/// What the True API hosts share.
#[derive(Clone)]
pub struct TrueApiContext {
    /// The world (read on every check; written by token issuance and the control API).
    pub world: Arc<RwLock<World>>,
    /// The world clock.
    pub clock: WorldClock,
    /// The trace every call goes to.
    pub trace: Trace,
    /// Every issued reqId.
    pub reqlog: ReqLog,
    /// Answer options.
    pub options: Arc<TrueApiOptions>,
    /// Authentication options.
    pub auth: Arc<AuthOptions>,
    /// Faults applied to calls (changeable at run time).
    pub faults: FaultTable,
    /// ФН authentication: challenges and tokens (`tspiot.md` §9).
    pub fn_auth: Arc<FnAuthService>,
}

impl TrueApiContext {
    /// A context over `world` with the spec's defaults for everything else (no faults, 1 M reqIds
    /// remembered, default answer and authentication options).
    pub fn new(world: Arc<RwLock<World>>, clock: WorldClock, trace: Trace) -> Self {
        TrueApiContext {
            world,
            clock,
            trace,
            reqlog: ReqLog::new(1_000_000),
            options: Arc::new(TrueApiOptions::default()),
            auth: Arc::new(AuthOptions::default()),
            faults: FaultTable::new(),
            fn_auth: Arc::new(FnAuthService::default()),
        }
    }
}

/// Where the True API hosts listen.
#[derive(Clone, Debug)]
pub struct TrueApiEndpoints {
    /// Base URL of the discovery host.
    pub discovery: String,
    /// Base URLs of the CDN hosts, in `cdn/info` order.
    pub hosts: Vec<String>,
}

/// Running True API hosts; dropping it (or [`TrueApiServers::shutdown`]) stops them.
pub struct TrueApiServers {
    /// Their URLs (`hosts`: the CDN hosts listed at start).
    pub endpoints: TrueApiEndpoints,
    /// Which CDN hosts `cdn/info` lists (changeable at run time).
    pub listing: CdnListing,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl TrueApiServers {
    /// Stop every host and wait for them to finish.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// The CDN hosts that exist and the ones the discovery host's `cdn/info` lists, in its order.
/// Hosts are numbered from 1 (`cdn-1` …), as in the trace. Cloning shares the listing.
#[derive(Clone, Debug)]
pub struct CdnListing {
    urls: Arc<Vec<String>>,
    listed: Arc<std::sync::RwLock<Vec<usize>>>,
}

impl CdnListing {
    /// `urls` of every CDN host; the first `listed` of them are listed.
    fn new(urls: Vec<String>, listed: usize) -> CdnListing {
        let listed = (0..listed.min(urls.len())).collect();
        CdnListing { urls: Arc::new(urls), listed: Arc::new(std::sync::RwLock::new(listed)) }
    }

    /// The URLs `cdn/info` lists now.
    pub fn listed(&self) -> Vec<String> {
        let listed = self.listed.read().unwrap_or_else(|e| e.into_inner());
        listed.iter().filter_map(|&i| self.urls.get(i).cloned()).collect()
    }

    /// How many CDN hosts exist (listed or not).
    pub fn hosts(&self) -> usize {
        self.urls.len()
    }

    /// List these hosts (numbers from 1, in this order; none is allowed: a sandbox-like empty list)
    /// from the next `cdn/info` on.
    pub fn set(&self, numbers: &[usize]) -> Result<(), CdnListError> {
        let mut seen = Vec::with_capacity(numbers.len());
        for &n in numbers {
            if n == 0 || n > self.urls.len() {
                return Err(CdnListError::NoSuchHost { number: n, hosts: self.urls.len() });
            }
            if seen.contains(&(n - 1)) {
                return Err(CdnListError::Twice(n));
            }
            seen.push(n - 1);
        }
        *self.listed.write().unwrap_or_else(|e| e.into_inner()) = seen;
        Ok(())
    }
}

/// A CDN listing that cannot be set.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CdnListError {
    /// The number names no host.
    #[error(
        "there is no CDN host {number}: the stack has cdn-1 … cdn-{hosts} (more with trueapi.spare_hosts)"
    )]
    NoSuchHost {
        /// The number given.
        number: usize,
        /// How many hosts there are.
        hosts: usize,
    },
    /// A host named twice.
    #[error("CDN host {0} is listed twice")]
    Twice(usize),
}

/// Errors starting the hosts.
#[derive(Debug, thiserror::Error)]
pub enum CdnError {
    /// A listener could not be bound.
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

#[derive(Clone)]
struct HostState {
    ctx: TrueApiContext,
    /// Name (`true-api-discovery` or `cdn-N`), address, faults, trace.
    net: HostNet,
    /// Every CDN host's URL, and which of them the discovery host's `cdn/info` lists.
    listing: CdnListing,
    /// Sign-in challenges handed out by `auth/key` (§9.3).
    challenges: Arc<Challenges>,
}

const V4: &str = "/api/v4/true-api";
/// The check endpoint of a CDN host.
pub const CODES_CHECK_PATH: &str = "/api/v4/true-api/codes/check";

/// Start the discovery host and `cdn_hosts` CDN hosts on `bind_ip` (ephemeral ports), plus
/// `ctx.options.spare_hosts` unlisted ones numbered after them.
pub async fn spawn(
    ctx: TrueApiContext,
    bind_ip: std::net::IpAddr,
    cdn_hosts: usize,
) -> Result<TrueApiServers, CdnError> {
    spawn_at(ctx, bind_ip, cdn_hosts, None).await
}

/// [`spawn`] with fixed ports when `base_port` is given: the discovery host on `base_port`, CDN host
/// `i` on `base_port + i` (for an implementation configured once with fixed upstream addresses).
pub async fn spawn_at(
    ctx: TrueApiContext,
    bind_ip: std::net::IpAddr,
    cdn_hosts: usize,
    base_port: Option<u16>,
) -> Result<TrueApiServers, CdnError> {
    let (stop, stop_rx) = watch::channel(false);
    let mut listeners = Vec::new();
    let listed_hosts = cdn_hosts;
    let cdn_hosts = cdn_hosts.saturating_add(ctx.options.spare_hosts);
    for i in 0..=cdn_hosts {
        let port = match base_port {
            None => 0,
            Some(b) => u16::try_from(i).ok().and_then(|i| b.checked_add(i)).unwrap_or(0),
        };
        let addr = SocketAddr::new(bind_ip, port);
        let l = TcpListener::bind(addr).await.map_err(|source| CdnError::Bind { addr, source })?;
        let local = l.local_addr().map_err(|source| CdnError::Bind { addr, source })?;
        listeners.push((l, local));
    }
    let urls: Vec<String> = listeners.iter().map(|(_, a)| format!("http://{a}")).collect();
    let listing = CdnListing::new(urls[1..].to_vec(), listed_hosts);
    let mut tasks = Vec::new();
    let challenges = Arc::new(Challenges::default());
    for (i, (listener, local)) in listeners.into_iter().enumerate() {
        let net = HostNet {
            component: if i == 0 { "true-api-discovery".into() } else { format!("cdn-{i}").into() },
            addr: local.to_string().into(),
            faults: ctx.faults.clone(),
            clock: ctx.clock.clone(),
            trace: ctx.trace.clone(),
            stop: stop_rx.clone(),
        };
        let state = Arc::new(HostState {
            ctx: ctx.clone(),
            net: net.clone(),
            listing: listing.clone(),
            challenges: challenges.clone(),
        });
        tasks.push(if i == 0 {
            tokio::spawn(accept_loop(listener, discovery_router(state), net, NoFastRoute))
        } else {
            let fast = CodesCheckRoute(Arc::clone(&state));
            tokio::spawn(accept_loop(listener, cdn_router(state), net, fast))
        });
    }
    Ok(TrueApiServers {
        endpoints: TrueApiEndpoints { discovery: urls[0].clone(), hosts: listing.listed() },
        listing,
        stop,
        tasks,
    })
}

fn discovery_router(state: Arc<HostState>) -> Router {
    Router::new()
        .route(&format!("{V4}/cdn/info"), get(cdn_info))
        .route(&format!("{V4}/codes/check"), any(not_found))
        .route("/api/v3/true-api/auth/permissive-access", post(permissive_access))
        .route(&format!("{V4}/auth/permissive-access"), post(permissive_access_v4))
        .route(&format!("{V4}/auth/fn/challenge"), post(fn_challenge))
        .route(&format!("{V4}/auth/fn/token"), post(fn_token))
        .route("/api/v3/true-api/auth/key", get(auth_key))
        .route("/api/v3/true-api/auth/simpleSignIn", post(simple_sign_in))
        .fallback(not_found)
        .with_state(state)
}

fn cdn_router(state: Arc<HostState>) -> Router {
    Router::new()
        .route(&format!("{V4}/cdn/health/check"), get(health))
        .route(CODES_CHECK_PATH, post(codes_check).get(codes_check))
        .route("/api/v3/true-api/codes/check", any(legacy))
        .fallback(not_found)
        .with_state(state)
}

/// `POST …/codes/check` on a CDN host, served past the router (the load-bearing call of the emulator).
#[derive(Clone)]
struct CodesCheckRoute(Arc<HostState>);

impl FastRoute for CodesCheckRoute {
    fn accepts(&self, method: &Method, path: &str) -> bool {
        method == Method::POST && path == CODES_CHECK_PATH
    }

    async fn serve(&self, req: axum::extract::Request) -> Response {
        codes_check(State(Arc::clone(&self.0)), req).await
    }
}

/// Codes named in a parsed request body, best effort (for faults that match on a code).
fn codes_in(body: Option<&Value>) -> Vec<&str> {
    body.and_then(|v| v.get("codes"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error_message": message }))).into_response()
}

/// Why a request is not authenticated.
enum AuthFailure {
    Missing,
    Invalid,
    CutOff,
    TokenInvalid,
    TokenExpired,
}

/// Who is calling: the INN behind the credential, and the ФН when it is a ФН token.
struct Caller {
    inn: String,
    fn_serial: Option<String>,
}

/// The caller behind the request's credentials (`true-api.md` §9, `tspiot.md` §9.5): a valid ФН token
/// (`Authorization: Bearer`, at any date) or a valid `X-API-KEY` (until the cut-off); any one valid
/// credential suffices. When none is valid, the bearer token's failure is reported first.
fn authenticate(s: &HostState, headers: &HeaderMap) -> Result<Caller, AuthFailure> {
    let now = s.ctx.clock.now_ms();
    let mut failure = None;
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    if let Some(token) = bearer {
        match s.ctx.fn_auth.validate(token, now) {
            Ok(t) => return Ok(Caller { inn: t.inn, fn_serial: Some(t.fn_serial) }),
            Err(TokenError::Expired) => failure = Some(AuthFailure::TokenExpired),
            Err(TokenError::Unknown) => failure = Some(AuthFailure::TokenInvalid),
        }
    }
    let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) else {
        return Err(failure.unwrap_or(AuthFailure::Missing));
    };
    let world = s.ctx.world.read().unwrap_or_else(|p| p.into_inner());
    let Some(inn) = world.participant_by_api_key(key.trim(), now).map(|p| p.inn.clone()) else {
        return Err(failure.unwrap_or(AuthFailure::Invalid));
    };
    if now >= s.ctx.auth.xapikey_cutoff_ms {
        return Err(failure.unwrap_or(AuthFailure::CutOff));
    }
    Ok(Caller { inn, fn_serial: None })
}

/// The trace note naming the credential a request presented: `auth=bearer` (an `Authorization:
/// Bearer …` header), `auth=x-api-key`, `auth=bearer+x-api-key` (both) or `auth=none`. Whether the
/// credential is valid is not judged here.
fn auth_note(headers: &HeaderMap) -> &'static str {
    let bearer = headers.get_all(axum::http::header::AUTHORIZATION).iter().any(|v| {
        v.to_str()
            .ok()
            .and_then(|v| v.split_whitespace().next())
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
    });
    let key = headers.contains_key("x-api-key");
    match (bearer, key) {
        (true, true) => "auth=bearer+x-api-key",
        (true, false) => "auth=bearer",
        (false, true) => "auth=x-api-key",
        (false, false) => "auth=none",
    }
}

/// `ev` with `note` added to its note (after `; ` when it already has one).
fn add_note(mut ev: TraceEvent, note: &str) -> TraceEvent {
    ev.note = Some(match ev.note.take() {
        Some(n) if !n.is_empty() => format!("{n}; {note}"),
        _ => note.to_string(),
    });
    ev
}

fn auth_error(s: &HostState, f: AuthFailure) -> Response {
    match f {
        AuthFailure::Missing => error(StatusCode::UNAUTHORIZED, "Требуется авторизация: передайте X-API-KEY"),
        AuthFailure::Invalid => error(StatusCode::UNAUTHORIZED, "Токен недействителен, получите новый токен"),
        AuthFailure::CutOff => error(
            StatusCode::from_u16(s.ctx.auth.cutoff_status).unwrap_or(StatusCode::UNAUTHORIZED),
            "X-API-KEY authentication is no longer accepted",
        ),
        AuthFailure::TokenInvalid => error(StatusCode::UNAUTHORIZED, "token invalid"),
        AuthFailure::TokenExpired => error(StatusCode::UNAUTHORIZED, "token expired"),
    }
}

async fn cdn_info(State(s): State<Arc<HostState>>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    served(&s, &method, &uri, &headers, || match authenticate(&s, &headers) {
        Err(f) => auth_error(&s, f),
        Ok(_) => {
            let hosts: Vec<Value> = s.listing.listed().into_iter().map(|h| json!({ "host": h })).collect();
            Json(json!({ "code": 0, "description": "ok", "hosts": hosts })).into_response()
        }
    })
    .await
}

async fn health(State(s): State<Arc<HostState>>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    served(&s, &method, &uri, &headers, || match authenticate(&s, &headers) {
        Err(f) => auth_error(&s, f),
        Ok(_) => Json(json!({ "code": 0, "description": "ok", "avgTimeMs": 1 })).into_response(),
    })
    .await
}

/// Serve one call that carries no codes: the fault layer first, then `answer` (unless a fault answered
/// instead), the slow-body fault on the way out, and one trace event noting the credential presented.
async fn served(
    s: &HostState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    answer: impl FnOnce() -> Response,
) -> Response {
    let started = Instant::now();
    let mut dist = disturb(&s.net, uri.path(), &[] as &[&str]).await;
    let resp = match dist.response.take() {
        Some(r) => r,
        None => answer(),
    };
    let resp = dist.finish(resp).await;
    let ev = dist.mark(traced(&s.net, method, uri, resp.status(), started));
    s.ctx.trace.record(add_note(ev, auth_note(headers)));
    resp
}

/// Answer with a fixed error, traced.
fn fixed_error(s: &HostState, method: &Method, uri: &Uri, status: StatusCode, message: &str) -> Response {
    let started = Instant::now();
    let resp = error(status, message);
    s.ctx.trace.record(traced(&s.net, method, uri, resp.status(), started));
    resp
}

async fn not_found(State(s): State<Arc<HostState>>, method: Method, uri: Uri) -> Response {
    fixed_error(&s, &method, &uri, StatusCode::NOT_FOUND, "Not Found")
}

async fn legacy(State(s): State<Arc<HostState>>, method: Method, uri: Uri) -> Response {
    fixed_error(&s, &method, &uri, StatusCode::GONE, "Устаревшее API")
}

/// A checked `codes/check` body.
struct CheckBody {
    /// Shared with the reqId log and the trace event: stored once.
    codes: Arc<[String]>,
    inn: Option<String>,
    fiscal_drive_number: Option<String>,
}

/// Check a `codes/check` body: `{"codes":[…], "fiscalDriveNumber"?, "inn"?, "timeZone"?}`. Takes the
/// parsed body and moves the strings out of it.
fn parse_check_body(body: Result<Value, serde_json::Error>, max_codes: usize) -> Result<CheckBody, String> {
    let mut v = body.map_err(|e| format!("Некорректный JSON: {e}"))?;
    let text = |v: &mut Value, k: &str| match v.get_mut(k).map(Value::take) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let (inn, fiscal_drive_number) = (text(&mut v, "inn"), text(&mut v, "fiscalDriveNumber"));
    let Some(Value::Array(codes)) = v.get_mut("codes").map(Value::take) else {
        return Err("Поле codes обязательно".into());
    };
    if codes.is_empty() {
        return Err("Список codes пуст".into());
    }
    if codes.len() > max_codes {
        return Err(format!("Не более {max_codes} кодов в запросе"));
    }
    let codes = codes
        .into_iter()
        .map(|c| match c {
            Value::String(s) => Ok(s),
            _ => Err("Элементы codes должны быть строками"),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CheckBody { codes: codes.into(), inn, fiscal_drive_number })
}

/// Largest `codes/check` body read (axum's default limit elsewhere): more → 413.
const CHECK_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The usual `codes/check` body, read without building a JSON tree (the hot path); anything this
/// does not read is judged by [`parse_check_body`] for the exact error message.
#[derive(serde::Deserialize)]
struct CheckBodyWire<'a> {
    #[serde(borrow)]
    codes: Vec<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    inn: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow, rename = "fiscalDriveNumber")]
    fiscal_drive_number: Option<std::borrow::Cow<'a, str>>,
}

async fn codes_check(State(s): State<Arc<HostState>>, req: axum::extract::Request) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let (method, uri, headers) = (&parts.method, &parts.uri, &parts.headers);
    let body = match axum::body::to_bytes(body, CHECK_BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            let resp = error(StatusCode::PAYLOAD_TOO_LARGE, "Тело запроса слишком велико");
            let ev = traced(&s.net, method, uri, resp.status(), started);
            s.ctx.trace.record(add_note(ev, auth_note(headers)));
            return resp;
        }
    };
    let typed = serde_json::from_slice::<CheckBodyWire>(&body).ok();
    let json = if typed.is_some() { Ok(Value::Null) } else { serde_json::from_slice::<Value>(&body) };
    let (mut dist, mut event_codes) = {
        let hint: Vec<&str> = match &typed {
            Some(t) => t.codes.iter().map(|c| c.as_ref()).collect(),
            None => codes_in(json.as_ref().ok()),
        };
        let dist = disturb(&s.net, uri.path(), &hint).await;
        let owned: Arc<[String]> =
            if dist.response.is_some() { hint.iter().map(|c| c.to_string()).collect() } else { Arc::new([]) };
        (dist, owned)
    };
    let checked = match typed {
        Some(t) if t.codes.is_empty() => Err("Список codes пуст".to_string()),
        Some(t) if t.codes.len() > s.ctx.options.max_codes => {
            Err(format!("Не более {} кодов в запросе", s.ctx.options.max_codes))
        }
        Some(t) => Ok(CheckBody {
            codes: t.codes.into_iter().map(std::borrow::Cow::into_owned).collect::<Arc<[String]>>(),
            inn: t.inn.map(std::borrow::Cow::into_owned),
            fiscal_drive_number: t.fiscal_drive_number.map(std::borrow::Cow::into_owned),
        }),
        None => parse_check_body(json, s.ctx.options.max_codes),
    };
    let mut req_id = None;
    let resp = if let Some(r) = dist.response.take() {
        r
    } else {
        match authenticate(&s, headers) {
            Err(f) => auth_error(&s, f),
            Ok(caller) => match checked {
                Err(msg) => error(StatusCode::BAD_REQUEST, &msg),
                Ok(CheckBody { fiscal_drive_number: Some(fdn), .. })
                    if caller.fn_serial.as_ref().is_some_and(|f| *f != fdn) =>
                {
                    error(StatusCode::FORBIDDEN, "fiscalDriveNumber does not match the token's fiscal drive")
                }
                Ok(CheckBody { codes, inn: body_inn, .. }) => {
                    let now = s.ctx.clock.now_ms();
                    let id = uuid::Uuid::new_v4();
                    // `isOwner` is judged against a ФН token's INN; with X-API-KEY, `inn` in the body wins.
                    let who_inn = match caller.fn_serial {
                        Some(_) => caller.inn,
                        None => body_inn.unwrap_or(caller.inn),
                    };
                    let answer = {
                        let world = s.ctx.world.read().unwrap_or_else(|p| p.into_inner());
                        check_codes(
                            &world,
                            &codes,
                            Requester { inn: Some(&who_inn) },
                            now,
                            id,
                            &s.ctx.options,
                        )
                    };
                    let body = answer.to_json_bytes(&s.ctx.options);
                    req_id = Some(answer.req_id);
                    s.ctx.reqlog.record_issued(id, now, &s.net.component, Arc::clone(&codes));
                    event_codes = codes;
                    ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
                }
            },
        }
    };
    let resp = dist.finish(resp).await;
    let mut ev = dist.mark(traced(&s.net, method, uri, resp.status(), started)).shared_codes(event_codes);
    if let Some(id) = req_id {
        ev = ev.req_id(id);
    }
    s.ctx.trace.record(add_note(ev, auth_note(headers)));
    resp
}

/// `POST /api/v3/true-api/auth/permissive-access` (§9.1): a CMS signature in, an `X-API-KEY` out. The
/// CMS is not verified; `data` must be base64 of a DER sequence (first byte 0x30).
async fn permissive_access(
    State(s): State<Arc<HostState>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    use base64::Engine;
    let started = Instant::now();
    let data = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("data").and_then(Value::as_str).map(str::to_string));
    let decoded = data.and_then(|d| base64::engine::general_purpose::STANDARD.decode(d.trim()).ok());
    let resp = match decoded {
        Some(der) if der.first() == Some(&0x30) => {
            let token = uuid::Uuid::new_v4().to_string();
            let ttl = s.ctx.auth.xapikey_ttl_s;
            let expires_ms = s.ctx.clock.now_ms().saturating_add(ttl.saturating_mul(1000));
            let issued = {
                let mut world = s.ctx.world.write().unwrap_or_else(|p| p.into_inner());
                let store = world.store_inn.clone();
                world.add_api_key(&store, ApiKey { token: token.clone(), expires_ms: Some(expires_ms) })
            };
            if issued {
                Json(json!({ "access_token": token, "id_token": "", "expires_in": ttl, "token_type": "Bearer" }))
                    .into_response()
            } else {
                error(StatusCode::UNAUTHORIZED, "Участник не зарегистрирован")
            }
        }
        _ => error(StatusCode::BAD_REQUEST, "Поле data должно содержать подпись CMS в base64"),
    };
    s.ctx.trace.record(traced(&s.net, &method, &uri, resp.status(), started));
    resp
}

/// `POST /api/v4/true-api/auth/fn/challenge` (`tspiot.md` §9.3): a challenge for a registered ФН.
async fn fn_challenge(
    State(s): State<Arc<HostState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    use base64::Engine;
    served(&s, &method, &uri, &headers, || {
        let v = serde_json::from_slice::<Value>(&body).ok();
        let field = |k: &str| v.as_ref().and_then(|v| v.get(k)).and_then(Value::as_str);
        let Some(serial) = field("fnSerial") else { return fn_auth_error(FnAuthError::BadRequest) };
        let issued = {
            let world = s.ctx.world.read().unwrap_or_else(|p| p.into_inner());
            s.ctx.fn_auth.challenge(&world, serial, field("inn"), s.ctx.clock.now_ms())
        };
        match issued {
            Ok(c) => Json(json!({
                "challengeId": c.id,
                "challenge": base64::engine::general_purpose::STANDARD.encode(&c.challenge.0),
                "expiresAt": c.expires_ms,
            }))
            .into_response(),
            Err(e) => fn_auth_error(e),
        }
    })
    .await
}

/// `POST /api/v4/true-api/auth/fn/token` (`tspiot.md` §9.3): a signed challenge in, a token out.
async fn fn_token(
    State(s): State<Arc<HostState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    served(&s, &method, &uri, &headers, || {
        let v = serde_json::from_slice::<Value>(&body).ok();
        let field = |k: &str| v.as_ref().and_then(|v| v.get(k)).and_then(Value::as_str);
        let (Some(id), Some(serial), Some(mac)) = (field("challengeId"), field("fnSerial"), field("mac"))
        else {
            return fn_auth_error(FnAuthError::BadRequest);
        };
        let now = s.ctx.clock.now_ms();
        let issued = {
            let world = s.ctx.world.read().unwrap_or_else(|p| p.into_inner());
            s.ctx.fn_auth.exchange(&world, id, serial, mac, field("alg"), now)
        };
        match issued {
            Ok(t) => Json(json!({
                "token": t.token,
                "tokenType": "Bearer",
                "expiresIn": (t.expires_ms - now) / 1000,
                "fnSerial": t.fn_serial,
                "inn": t.inn,
            }))
            .into_response(),
            Err(e) => fn_auth_error(e),
        }
    })
    .await
}

fn fn_auth_error(e: FnAuthError) -> Response {
    error(StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST), &e.to_string())
}

/// `GET /api/v3/true-api/auth/key` (§9.3): a one-time challenge.
async fn auth_key(State(s): State<Arc<HostState>>, method: Method, uri: Uri) -> Response {
    let started = Instant::now();
    let ch = s.challenges.issue(s.ctx.clock.now_ms());
    let resp = Json(json!({ "uuid": ch.uuid, "data": ch.data })).into_response();
    s.ctx.trace.record(traced(&s.net, &method, &uri, resp.status(), started));
    resp
}

/// `POST /api/v3/true-api/auth/simpleSignIn` (§9.3): the signed challenge in, a 10-hour token out.
async fn simple_sign_in(State(s): State<Arc<HostState>>, method: Method, uri: Uri, body: Bytes) -> Response {
    let started = Instant::now();
    let now = s.ctx.clock.now_ms();
    let resp = match serde_json::from_slice::<Value>(&body) {
        Err(_) => error(StatusCode::BAD_REQUEST, &SignInError::BadRequest.to_string()),
        Ok(v) => {
            let known = |inn: &str| {
                let world = s.ctx.world.read().unwrap_or_else(|p| p.into_inner());
                world.participants().iter().any(|p| p.inn == inn)
            };
            match signin::sign_in(&s.challenges, &v, now, known) {
                Ok(inn) => Json(json!({ "token": signin::token_for(&inn, now) })).into_response(),
                Err(e @ SignInError::BadRequest) => error(StatusCode::BAD_REQUEST, &e.to_string()),
                Err(e) => error(StatusCode::UNAUTHORIZED, &e.to_string()),
            }
        }
    };
    s.ctx.trace.record(traced(&s.net, &method, &uri, resp.status(), started));
    resp
}

/// The v4 path of `permissive-access` has been seen to refuse (§9.1).
async fn permissive_access_v4(State(s): State<Arc<HostState>>, method: Method, uri: Uri) -> Response {
    fixed_error(&s, &method, &uri, StatusCode::UNAUTHORIZED, "Метод недоступен, используйте /api/v3")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TraceFilter;
    use crate::world::default::{default_world, STORE_API_KEY};
    use std::net::{IpAddr, Ipv4Addr};

    const NOW: i64 = 1_767_225_600_000; // 2026-01-01, before the X-API-KEY cut-off

    #[test]
    fn auth_notes_name_the_credential_presented() {
        let mut h = HeaderMap::new();
        assert_eq!(auth_note(&h), "auth=none");
        h.insert("x-api-key", "k".parse().unwrap());
        assert_eq!(auth_note(&h), "auth=x-api-key");
        h.insert(axum::http::header::AUTHORIZATION, "bearer t".parse().unwrap());
        assert_eq!(auth_note(&h), "auth=bearer+x-api-key");
        h.remove("x-api-key");
        assert_eq!(auth_note(&h), "auth=bearer");
        h.insert(axum::http::header::AUTHORIZATION, "Basic dTpw".parse().unwrap());
        assert_eq!(auth_note(&h), "auth=none", "another scheme is not a bearer token");
        let ev = add_note(TraceEvent::new("cdn-1", "GET", "/x").note("slow"), "auth=none");
        assert_eq!(ev.note.as_deref(), Some("slow; auth=none"));
        assert_eq!(
            add_note(TraceEvent::new("cdn-1", "GET", "/x"), "auth=bearer").note.as_deref(),
            Some("auth=bearer")
        );
    }

    /// Spare hosts run unlisted; the listing changes what the next `cdn/info` returns, and only to
    /// hosts that exist, each once.
    #[tokio::test]
    async fn the_cdn_listing_changes_at_run_time_within_the_hosts_that_exist() {
        let world = Arc::new(RwLock::new(default_world(NOW).unwrap()));
        let mut ctx = TrueApiContext::new(world, WorldClock::frozen_at(NOW), Trace::in_memory(1000));
        ctx.options = Arc::new(TrueApiOptions { spare_hosts: 1, ..TrueApiOptions::default() });
        let servers = spawn(ctx, IpAddr::V4(Ipv4Addr::LOCALHOST), 2).await.unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let info = || async {
            let v: Value = http
                .get(format!("{}{V4}/cdn/info", servers.endpoints.discovery))
                .header("X-API-KEY", STORE_API_KEY)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["host"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(servers.listing.hosts(), 3);
        assert_eq!(servers.endpoints.hosts.len(), 2);
        assert_eq!(info().await, servers.endpoints.hosts);
        servers.listing.set(&[3, 2]).unwrap();
        let now = info().await;
        assert_eq!(now.len(), 2);
        assert_eq!(now[1], servers.endpoints.hosts[1]);
        assert!(!servers.endpoints.hosts.contains(&now[0]), "host 3 was a spare: {now:?}");
        let spare = http.get(format!("{}{V4}/cdn/health/check", now[0])).header("X-API-KEY", STORE_API_KEY);
        assert_eq!(spare.send().await.unwrap().status(), 200);
        assert_eq!(servers.listing.set(&[4]), Err(CdnListError::NoSuchHost { number: 4, hosts: 3 }));
        assert_eq!(servers.listing.set(&[0]), Err(CdnListError::NoSuchHost { number: 0, hosts: 3 }));
        assert_eq!(servers.listing.set(&[1, 1]), Err(CdnListError::Twice(1)));
        assert_eq!(info().await, now, "a refused listing changes nothing");
        servers.listing.set(&[]).unwrap();
        assert!(info().await.is_empty());
        servers.shutdown().await;
    }

    /// Every traced True API call of the ТС ПИоТ's algorithm carries the credential kind it presented.
    #[tokio::test]
    async fn traced_calls_note_the_credential_kind() {
        let world = Arc::new(RwLock::new(default_world(NOW).unwrap()));
        let ctx = TrueApiContext::new(world, WorldClock::frozen_at(NOW), Trace::in_memory(1000));
        let servers = spawn(ctx.clone(), IpAddr::V4(Ipv4Addr::LOCALHOST), 1).await.unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let (discovery, host) = (&servers.endpoints.discovery, &servers.endpoints.hosts[0]);
        let code = {
            let w = ctx.world.read().unwrap();
            w.codes().into_iter().find(|c| c.case.as_deref() == Some("in-circulation")).unwrap().code.clone()
        };
        let body = json!({ "codes": [code] });
        let check = format!("{host}{CODES_CHECK_PATH}");
        let calls = [
            http.post(&check).json(&body).header("X-API-KEY", STORE_API_KEY),
            http.post(&check).json(&body).bearer_auth("not-a-token"),
            http.post(&check).json(&body).bearer_auth("not-a-token").header("X-API-KEY", STORE_API_KEY),
            http.post(&check).json(&body),
            http.get(format!("{discovery}{V4}/cdn/info")).header("X-API-KEY", STORE_API_KEY),
            http.get(format!("{host}{V4}/cdn/health/check")).bearer_auth("not-a-token"),
            http.post(format!("{discovery}{V4}/auth/fn/challenge")).json(&json!({})),
        ];
        for c in calls {
            c.send().await.unwrap();
        }
        let seen: Vec<(String, u16, Option<String>)> = ctx
            .trace
            .events(&TraceFilter::default())
            .into_iter()
            .map(|e| (e.path.as_str().rsplit('/').next().unwrap_or("").to_string(), e.status, e.note))
            .collect();
        let n = |s: &str| Some(s.to_string());
        assert_eq!(
            seen,
            vec![
                ("check".into(), 200, n("auth=x-api-key")),
                ("check".into(), 401, n("auth=bearer")),
                ("check".into(), 200, n("auth=bearer+x-api-key")),
                ("check".into(), 401, n("auth=none")),
                ("info".into(), 200, n("auth=x-api-key")),
                ("check".into(), 401, n("auth=bearer")),
                ("challenge".into(), 400, n("auth=none")),
            ]
        );
        servers.shutdown().await;
    }

    #[test]
    fn default_cut_off_is_2026_10_01_msk() {
        let iso = crate::clock::format_iso_ms(super::DEFAULT_XAPIKEY_CUTOFF_MS);
        assert_eq!(iso, "2026-09-30T21:00:00.000Z");
        assert_eq!(
            crate::clock::parse_iso("2026-10-01T00:00:00+03:00").ok(),
            Some(super::DEFAULT_XAPIKEY_CUTOFF_MS)
        );
    }
}
