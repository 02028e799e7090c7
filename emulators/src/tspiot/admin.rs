//! The ТС ПИоТ admin API (spec `tspiot.md` §8, ЕСМ's `http://127.0.0.1:51077`): creating the one
//! instance this emulator plays, registering it to a KKT / ФН / INN of the world, its settings and its
//! ЛМ ЧЗ binding, and the information pages POS setup tools read.
//!
//! Owns [`InstanceInfo`] (the instance's registration, settings and binding) and the routes. Served on
//! its own port and not graded; it decides nothing about checks (the POS API reads `registered`
//! and the binding from the shared state if it wants to). Every refusal is a 4xx JSON body
//! `{"code": <vendor code or status>, "message": "…"}`; malformed input never yields a 5xx.
//!
//! Decisions where the spec is silent (vendor-specific, not graded):
//! - One instance at most; its id is its KKT serial (14 digits). `POST` while one exists → 409.
//! - `PUT /api/v1/tspiot` checks, in order: the instance exists (404), the serial/INN formats (400),
//!   `kktSerial` is the instance's KKT (400), not yet registered (400, code 1010), the ФН is known to
//!   the world (400) and installed in that KKT (400), bound to that INN (403, the "several INNs" case)
//!   and registered for marked goods (403).
//! - `gismtTspiotId` and `espToken` are derived from the registration (SHA-256), so runs reproduce.
//! - `PUT /api/v1/settings/{id}` is a partial update (absent fields keep their value, unknown fields
//!   are ignored); the LM binding answer never echoes the password.
//! - `GET /api/v1/dkktList` lists the world's fiscal drives as `{"dkktList": [{kktSerial, fnSerial,
//!   kktInn, marking}]}`.

use crate::world::{FiscalDrive, World};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Vendor code of "already registered" (§8).
pub const ALREADY_REGISTERED: u16 = 1010;

/// Default ports of a created instance (§2): POS API pair base, client port, ДККТ.
pub const DEFAULT_PORTS: InstancePorts = InstancePorts { port: 50401, soft_port: 51401, dkkt_port: 4042 };

/// The instance settings of `GET|PUT /api/v1/settings/{id}` (§8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminSettings {
    /// Compatibility mode.
    pub compatibility_mode: bool,
    /// Accept POS connections from other hosts.
    pub allow_remote_connection: bool,
    /// ГИС МТ address override (empty: default).
    pub gismt_address: String,
    /// Online budget, ms.
    pub cdn_codes_check_timeout: u64,
    /// Health-check timeout, ms.
    pub cdn_health_check_timeout: u64,
    /// Proxy type (empty: none).
    pub http_proxy_type: String,
    /// Proxy host.
    pub http_proxy_host: String,
    /// Proxy port.
    pub http_proxy_port: u16,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            compatibility_mode: true,
            allow_remote_connection: true,
            gismt_address: String::new(),
            cdn_codes_check_timeout: 1500,
            cdn_health_check_timeout: 2000,
            http_proxy_type: String::new(),
            http_proxy_host: String::new(),
            http_proxy_port: 0,
        }
    }
}

/// The ЛМ ЧЗ (controller) the instance is bound to (`PUT /api/v1/settings/lm/{id}`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LmBinding {
    /// Host or IP.
    pub address: String,
    /// Port.
    pub port: u16,
    /// Login.
    pub login: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for LmBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LmBinding")
            .field("address", &self.address)
            .field("port", &self.port)
            .field("login", &self.login)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The ports of a created instance (`POST /api/v1/tspiot`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstancePorts {
    /// Instance port.
    pub port: u16,
    /// POS (client) port.
    pub soft_port: u16,
    /// ДККТ port.
    pub dkkt_port: u16,
}

/// The instance's licence, as `GET /api/v1/instances/info/{id}` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct License {
    /// Active.
    pub is_active: bool,
    /// End of validity, ISO-8601.
    pub active_till: String,
    /// Last licence sync, ISO-8601.
    pub last_sync: String,
}

impl Default for License {
    fn default() -> Self {
        License {
            is_active: true,
            active_till: "2099-12-31T00:00:00Z".into(),
            last_sync: "2026-01-01T00:00:00Z".into(),
        }
    }
}

/// The one ТС ПИоТ instance this emulator plays: whether it exists, its registration in ГИС МТ, its
/// settings and its ЛМ ЧЗ binding. Its id (in the admin paths) is the KKT serial.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceInfo {
    /// Instance id reported to the POS (`tspiotId`); kept across registrations.
    pub tspiot_id: String,
    /// Id assigned by ГИС МТ at registration (empty before).
    pub gismt_tspiot_id: String,
    /// KKT serial: the instance id (empty when there is no instance).
    pub kkt_serial: String,
    /// ФН serial (empty before registration).
    pub fn_serial: String,
    /// INN of the KKT owner (empty before registration).
    pub kkt_inn: String,
    /// Vendor token issued at registration (empty before).
    pub esp_token: String,
    /// Settings.
    pub settings: AdminSettings,
    /// ЛМ ЧЗ binding.
    pub lm: Option<LmBinding>,
    /// Registered in ГИС МТ.
    pub registered: bool,
    /// `Some` while the instance exists (created by `POST /api/v1/tspiot`).
    pub ports: Option<InstancePorts>,
    /// The licence.
    pub license: License,
}

impl Default for InstanceInfo {
    fn default() -> Self {
        InstanceInfo::unconfigured("")
    }
}

impl InstanceInfo {
    /// No instance yet; `tspiot_id` is what registration will report.
    pub fn unconfigured(tspiot_id: impl Into<String>) -> Self {
        InstanceInfo {
            tspiot_id: tspiot_id.into(),
            gismt_tspiot_id: String::new(),
            kkt_serial: String::new(),
            fn_serial: String::new(),
            kkt_inn: String::new(),
            esp_token: String::new(),
            settings: AdminSettings::default(),
            lm: None,
            registered: false,
            ports: None,
            license: License::default(),
        }
    }

    /// An instance created with the default ports and registered to `drive` (its KKT, ФН and INN), as
    /// the emulator starts when it plays a ready ТС ПИоТ.
    pub fn registered(tspiot_id: impl Into<String>, drive: &FiscalDrive) -> Self {
        let mut i = InstanceInfo::unconfigured(tspiot_id);
        i.kkt_serial = drive.kkt_serial.clone();
        i.ports = Some(DEFAULT_PORTS);
        i.register(drive);
        i
    }

    /// The instance exists and its id is `id`.
    pub fn is(&self, id: &str) -> bool {
        self.ports.is_some() && self.kkt_serial == id
    }

    fn register(&mut self, drive: &FiscalDrive) {
        let seed = format!("{}/{}/{}/{}", self.tspiot_id, drive.kkt_serial, drive.serial, drive.inn);
        let h = |what: &str| Sha256::digest(format!("markcert/tspiot/{what}/{seed}").as_bytes());
        let mut id_bytes = [0u8; 16];
        id_bytes.copy_from_slice(&h("gismt-id")[..16]);
        if self.tspiot_id.is_empty() {
            let digest = h("tspiot-id");
            let mut n = [0u8; 8];
            n.copy_from_slice(&digest[..8]);
            self.tspiot_id = format!("{:014}", u64::from_be_bytes(n) % 100_000_000_000_000);
        }
        self.gismt_tspiot_id = uuid::Builder::from_random_bytes(id_bytes).into_uuid().to_string();
        self.esp_token = h("esp-token")[..16].iter().map(|b| format!("{b:02x}")).collect();
        self.fn_serial = drive.serial.clone();
        self.kkt_inn = drive.inn.clone();
        self.registered = true;
    }
}

/// What the admin routes share.
#[derive(Clone)]
pub struct AdminState {
    /// The world (fiscal drives a registration must match).
    pub world: Arc<RwLock<World>>,
    /// The instance.
    pub instance: Arc<RwLock<InstanceInfo>>,
}

impl AdminState {
    fn instance(&self) -> RwLockReadGuard<'_, InstanceInfo> {
        self.instance.read().unwrap_or_else(|p| p.into_inner())
    }

    fn instance_mut(&self) -> RwLockWriteGuard<'_, InstanceInfo> {
        self.instance.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// The admin API routes (§8).
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/api/v1/info", get(app_info))
        .route("/api/v1/instances/info", get(instances))
        .route("/api/v1/instances/info/{id}", get(instance_info))
        .route("/api/v1/dkktList", get(dkkt_list))
        .route("/api/v1/tspiot", put(register).post(create))
        .route("/api/v1/tspiot/{id}", axum::routing::delete(remove))
        .route("/api/v1/settings/{id}", get(settings).put(update_settings))
        .route("/api/v1/settings/lm/{id}", put(bind_lm))
        .fallback(|| async { Refusal::new(StatusCode::NOT_FOUND, "no such admin endpoint") })
        .method_not_allowed_fallback(|| async {
            Refusal::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this endpoint")
        })
        .with_state(state)
}

/// An admin refusal, answered as `{"code": <vendor code or status>, "message"}`.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: u16,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Refusal { status, code: status.as_u16(), message: message.into() }
    }

    fn bad(message: impl Into<String>) -> Self {
        Refusal::new(StatusCode::BAD_REQUEST, message)
    }

    fn no_instance(id: &str) -> Self {
        Refusal::new(StatusCode::NOT_FOUND, format!("no ТС ПИоТ instance {id:?}"))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "code": self.code, "message": self.message }))).into_response()
    }
}

/// What an admin handler answers.
type Answer = Result<Response, Refusal>;

fn ok(status: StatusCode, body: Value) -> Answer {
    Ok((status, Json(body)).into_response())
}

/// The path id, or a refusal.
fn path_id(p: Result<Path<String>, PathRejection>) -> Result<String, Refusal> {
    p.map(|Path(id)| id).map_err(|e| Refusal::bad(format!("path: {}", e.body_text())))
}

/// The JSON body as `T`, or a refusal that says what is wrong.
fn body_as<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, Refusal> {
    let bytes = body.map_err(|e| Refusal::new(e.status(), e.body_text()))?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Refusal::bad(format!("the body is not valid JSON: {e}")))?;
    serde_json::from_value(value).map_err(|e| Refusal::bad(format!("body: {e}")))
}

/// A copy of the instance named by the path, or a refusal.
fn require(
    state: &AdminState,
    p: Result<Path<String>, PathRejection>,
) -> Result<(String, InstanceInfo), Refusal> {
    let id = path_id(p)?;
    let i = state.instance();
    if i.is(&id) {
        Ok((id, i.clone()))
    } else {
        Err(Refusal::no_instance(&id))
    }
}

fn digits(s: &str, lens: &[usize]) -> bool {
    lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

async fn app_info() -> Answer {
    ok(
        StatusCode::OK,
        json!({
            "appPath": "/opt/markcert/tspiot",
            "logPath": "/var/log/markcert/tspiot",
            "version": format!("markcert-{}", env!("CARGO_PKG_VERSION")),
        }),
    )
}

async fn instances(State(state): State<AdminState>) -> Answer {
    let i = state.instance();
    let list: Vec<Value> = if i.ports.is_some() { vec![json!({ "id": i.kkt_serial })] } else { Vec::new() };
    ok(StatusCode::OK, json!({ "instances": list }))
}

async fn instance_info(State(state): State<AdminState>, p: Result<Path<String>, PathRejection>) -> Answer {
    let (_, i) = require(&state, p)?;
    ok(
        StatusCode::OK,
        json!({
            "regData": {
                "tspiotId": if i.registered { i.tspiot_id.as_str() } else { "" },
                "gismtTspiotId": i.gismt_tspiot_id,
                "kktSerial": i.kkt_serial,
                "fnSerial": i.fn_serial,
                "kktInn": i.kkt_inn,
                "espToken": i.esp_token,
            },
            "licenses": [{
                "isActive": i.license.is_active,
                "activeTill": i.license.active_till,
                "lastSync": i.license.last_sync,
            }],
        }),
    )
}

async fn dkkt_list(State(state): State<AdminState>) -> Answer {
    let world = state.world.read().unwrap_or_else(|p| p.into_inner());
    let list: Vec<Value> = world
        .fiscal_drives()
        .iter()
        .map(|d| json!({ "kktSerial": d.kkt_serial, "fnSerial": d.serial, "kktInn": d.inn, "marking": d.marking }))
        .collect();
    ok(StatusCode::OK, json!({ "dkktList": list }))
}

/// `POST /api/v1/tspiot` body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRequest {
    id: String,
    port: Option<u16>,
    soft_port: Option<u16>,
    dkkt_port: Option<u16>,
}

async fn create(State(state): State<AdminState>, body: Result<Bytes, BytesRejection>) -> Answer {
    let req: CreateRequest = body_as(body)?;
    if !digits(&req.id, &[14]) {
        return Err(Refusal::bad("id must be the KKT serial (14 digits)"));
    }
    let ports = InstancePorts {
        port: req.port.unwrap_or(DEFAULT_PORTS.port),
        soft_port: req.soft_port.unwrap_or(DEFAULT_PORTS.soft_port),
        dkkt_port: req.dkkt_port.unwrap_or(DEFAULT_PORTS.dkkt_port),
    };
    if ports.port == 0 || ports.soft_port == 0 || ports.dkkt_port == 0 {
        return Err(Refusal::bad("port, softPort and dkktPort must be 1..=65535"));
    }
    let mut i = state.instance_mut();
    if i.ports.is_some() {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            format!("instance {:?} exists; this emulator serves one instance", i.kkt_serial),
        ));
    }
    let tspiot_id = std::mem::take(&mut i.tspiot_id);
    *i = InstanceInfo::unconfigured(tspiot_id);
    i.kkt_serial = req.id.clone();
    i.ports = Some(ports);
    ok(
        StatusCode::CREATED,
        json!({
            "id": req.id,
            "port": ports.port,
            "softPort": ports.soft_port,
            "dkktPort": ports.dkkt_port,
            "serviceState": "running",
        }),
    )
}

/// `PUT /api/v1/tspiot` body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterRequest {
    id: Option<String>,
    kkt_serial: String,
    fn_serial: String,
    kkt_inn: String,
}

async fn register(State(state): State<AdminState>, body: Result<Bytes, BytesRejection>) -> Answer {
    let req: RegisterRequest = body_as(body)?;
    let current = state.instance().clone();
    if current.ports.is_none() {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "no ТС ПИоТ instance; create it with POST /api/v1/tspiot",
        ));
    }
    let id = req.id.clone().unwrap_or_else(|| current.kkt_serial.clone());
    if !current.is(&id) {
        return Err(Refusal::no_instance(&id));
    }
    if !digits(&req.kkt_serial, &[14]) {
        return Err(Refusal::bad("kktSerial must be 14 digits"));
    }
    if !digits(&req.fn_serial, &[16]) {
        return Err(Refusal::bad("fnSerial must be 16 digits"));
    }
    if !digits(&req.kkt_inn, &[10, 12]) {
        return Err(Refusal::bad("kktInn must be 10 or 12 digits"));
    }
    if req.kkt_serial != current.kkt_serial {
        return Err(Refusal::bad(format!(
            "instance {id:?} is bound to KKT {:?}, not {:?}",
            current.kkt_serial, req.kkt_serial
        )));
    }
    let already = |id: &str, tspiot_id: &str| Refusal {
        status: StatusCode::BAD_REQUEST,
        code: ALREADY_REGISTERED,
        message: format!("instance {id:?} is already registered (tspiotId {tspiot_id:?})"),
    };
    if current.registered {
        return Err(already(&id, &current.tspiot_id));
    }
    let drive = {
        let world = state.world.read().unwrap_or_else(|p| p.into_inner());
        world.fiscal_drive(&req.fn_serial).cloned()
    };
    let Some(drive) = drive else {
        return Err(Refusal::bad(format!("fiscal drive {:?} is not known to ГИС МТ", req.fn_serial)));
    };
    if drive.kkt_serial != req.kkt_serial {
        return Err(Refusal::bad(format!(
            "fiscal drive {:?} is installed in KKT {:?}, not {:?}",
            drive.serial, drive.kkt_serial, req.kkt_serial
        )));
    }
    if drive.inn != req.kkt_inn {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            format!("KKT {:?} is registered to another INN than {:?}", req.kkt_serial, req.kkt_inn),
        ));
    }
    if !drive.marking {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            format!("fiscal drive {:?} is not registered for marked goods", drive.serial),
        ));
    }
    // The instance may have changed since it was read: check again under the write lock.
    let mut i = state.instance_mut();
    if !i.is(&id) {
        return Err(Refusal::no_instance(&id));
    }
    if i.registered {
        return Err(already(&id, &i.tspiot_id));
    }
    i.register(&drive);
    ok(StatusCode::OK, json!({ "tspiotId": i.tspiot_id }))
}

async fn remove(State(state): State<AdminState>, p: Result<Path<String>, PathRejection>) -> Answer {
    let id = path_id(p)?;
    let mut i = state.instance_mut();
    if !i.is(&id) {
        return Err(Refusal::no_instance(&id));
    }
    let tspiot_id = std::mem::take(&mut i.tspiot_id);
    *i = InstanceInfo::unconfigured(tspiot_id);
    ok(StatusCode::OK, json!({ "id": id, "serviceState": "removed" }))
}

fn settings_json(s: &AdminSettings) -> Value {
    json!({
        "compatibilityMode": s.compatibility_mode,
        "allowRemoteConnection": s.allow_remote_connection,
        "gismtAddress": s.gismt_address,
        "cdnCodesCheckTimeout": s.cdn_codes_check_timeout,
        "cdnHealthCheckTimeout": s.cdn_health_check_timeout,
        "httpProxyType": s.http_proxy_type,
        "httpProxyHost": s.http_proxy_host,
        "httpProxyPort": s.http_proxy_port,
    })
}

async fn settings(State(state): State<AdminState>, p: Result<Path<String>, PathRejection>) -> Answer {
    let (_, i) = require(&state, p)?;
    ok(StatusCode::OK, settings_json(&i.settings))
}

/// `PUT /api/v1/settings/{id}` body: every field optional.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SettingsPatch {
    compatibility_mode: Option<bool>,
    allow_remote_connection: Option<bool>,
    gismt_address: Option<String>,
    cdn_codes_check_timeout: Option<u64>,
    cdn_health_check_timeout: Option<u64>,
    http_proxy_type: Option<String>,
    http_proxy_host: Option<String>,
    http_proxy_port: Option<u16>,
}

async fn update_settings(
    State(state): State<AdminState>,
    p: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let (id, _) = require(&state, p)?;
    let patch: SettingsPatch = body_as(body)?;
    if patch.cdn_codes_check_timeout == Some(0) || patch.cdn_health_check_timeout == Some(0) {
        return Err(Refusal::bad("timeouts must be positive (ms)"));
    }
    let mut i = state.instance_mut();
    if !i.is(&id) {
        return Err(Refusal::no_instance(&id));
    }
    let s = &mut i.settings;
    set(&mut s.compatibility_mode, patch.compatibility_mode);
    set(&mut s.allow_remote_connection, patch.allow_remote_connection);
    set(&mut s.gismt_address, patch.gismt_address);
    set(&mut s.cdn_codes_check_timeout, patch.cdn_codes_check_timeout);
    set(&mut s.cdn_health_check_timeout, patch.cdn_health_check_timeout);
    set(&mut s.http_proxy_type, patch.http_proxy_type);
    set(&mut s.http_proxy_host, patch.http_proxy_host);
    set(&mut s.http_proxy_port, patch.http_proxy_port);
    ok(StatusCode::OK, settings_json(s))
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

async fn bind_lm(
    State(state): State<AdminState>,
    p: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let (id, _) = require(&state, p)?;
    let binding: LmBinding = body_as(body)?;
    if binding.address.trim().is_empty() {
        return Err(Refusal::bad("address must not be empty"));
    }
    if binding.port == 0 {
        return Err(Refusal::bad("port must be 1..=65535"));
    }
    let mut i = state.instance_mut();
    if !i.is(&id) {
        return Err(Refusal::no_instance(&id));
    }
    let answer = json!({ "address": binding.address, "port": binding.port, "login": binding.login });
    i.lm = Some(binding);
    ok(StatusCode::OK, answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::default::{default_world, STORE_FN_SERIAL, STORE_INN, STORE_KKT_SERIAL};

    #[test]
    fn a_registered_instance_is_derived_reproducibly() {
        let w = default_world(0).unwrap();
        let d = w.fiscal_drive(STORE_FN_SERIAL).unwrap();
        let a = InstanceInfo::registered("00107700000099", d);
        assert_eq!(a, InstanceInfo::registered("00107700000099", d));
        assert!(a.registered && a.is(STORE_KKT_SERIAL));
        assert_eq!((a.fn_serial.as_str(), a.kkt_inn.as_str()), (STORE_FN_SERIAL, STORE_INN));
        assert_eq!(a.gismt_tspiot_id.len(), 36);
        assert_eq!(a.esp_token.len(), 32);
        let b = InstanceInfo::registered("", d);
        assert!(digits(&b.tspiot_id, &[14]), "{}", b.tspiot_id);
    }

    #[test]
    fn the_binding_never_shows_its_password() {
        let b = LmBinding { address: "a".into(), port: 1, login: "l".into(), password: "secret".into() };
        assert!(!format!("{b:?}").contains("secret"));
    }
}
