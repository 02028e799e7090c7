//! Control routes for the ЛМ ЧЗ emulator (spec `local-module.md` §10): `GET /lm` (its status as
//! `/api/v1/status` would answer now, the operator link, `inst`, the snapshot version, the last sync),
//! `POST /lm/init` (what the IUT's `/init` does), `POST /lm/sync` (sync now), `POST /lm/link`
//! (operator link up / down), `POST /lm/status` (force a status, or stop forcing), `POST /lm/last-sync`
//! (pretend the last sync was then), `POST /lm/grey-list` (the grey-GTIN list on / off).
//!
//! Owns the request shapes only; every state change is the model's (`crate::lm::model`), brought up
//! to the world clock first. Lock order, as everywhere: the world (read) first, then the module.
//! Without a module in the run every route answers 404.

use super::error::ApiError;
use super::request;
use super::ControlContext;
use crate::clock::format_iso_ms;
use crate::lm::model::{InitRequest, LocalModule};
use crate::lm::status::LmStatus;
use crate::world::file::resolve_date;
use crate::world::World;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub(super) fn routes() -> Router<ControlContext> {
    Router::new()
        .route("/lm", get(read))
        .route("/lm/init", post(init))
        .route("/lm/sync", post(sync))
        .route("/lm/link", post(link))
        .route("/lm/status", post(force_status))
        .route("/lm/last-sync", post(last_sync))
        .route("/lm/grey-list", post(grey_list))
}

fn module(ctx: &ControlContext) -> Result<&Arc<Mutex<LocalModule>>, ApiError> {
    ctx.lm.as_ref().ok_or_else(|| {
        ApiError::not_found("this run has no ЛМ ЧЗ emulator: the control API was started without one")
    })
}

fn lock(m: &Arc<Mutex<LocalModule>>) -> MutexGuard<'_, LocalModule> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The module's state as `GET /lm` shows it, brought up to `now_ms` first.
fn state(m: &mut LocalModule, w: &World, now_ms: i64) -> Value {
    let status = m.status(w, now_ms);
    let status_v1 = m.status_v1(w, now_ms);
    let last = m.last_sync_ms();
    let lists = m.snapshot().map(|s| {
        json!({
            "blocked_cis": s.blocked_cis_count(),
            "blocked_gtin": s.blocked_gtin_count(),
            "grey_gtin": s.grey_gtin_count(),
            "min_price": s.min_price_count(),
        })
    });
    json!({
        "status": status,
        "forced_status": m.forced_status(),
        "operator_link_up": m.operator_link_up(),
        "grey_list_enabled": m.grey_list_enabled(),
        "inst": m.inst(),
        "version": m.current_version(),
        "last_sync_ms": last,
        "last_sync": last.map(format_iso_ms),
        "since_last_sync_ms": last.map(|l| now_ms.saturating_sub(l)),
        "last_update_ms": m.last_update_ms(),
        "lists": lists,
        "sold_count": m.sold_count(),
        "world_ms": now_ms,
        "status_v1": status_v1,
    })
}

/// Runs `change` on the module (world read-locked, module locked, both at `now`) and answers its
/// state afterwards.
fn with_module(
    ctx: &ControlContext,
    change: impl FnOnce(&mut LocalModule, &World, i64) -> Result<(), ApiError>,
) -> Result<Json<Value>, ApiError> {
    let m = module(ctx)?;
    let now = ctx.clock.now_ms();
    let w = ctx.world_read();
    let mut lm = lock(m);
    lm.advance(&w, now);
    change(&mut lm, &w, now)?;
    Ok(Json(state(&mut lm, &w, now)))
}

async fn read(State(ctx): State<ControlContext>) -> Result<Json<Value>, ApiError> {
    with_module(&ctx, |_, _, _| Ok(()))
}

/// `POST /lm/sync`: the outcome, or 409 with the reason the module could not sync.
async fn sync(State(ctx): State<ControlContext>) -> Result<Json<Value>, ApiError> {
    let m = module(&ctx)?;
    let now = ctx.clock.now_ms();
    let w = ctx.world_read();
    let mut lm = lock(m);
    let outcome =
        lm.sync_now(&w, now).map_err(|e| ApiError::conflict(format!("the ЛМ ЧЗ could not sync: {e}")))?;
    Ok(Json(json!({
        "version": outcome.version,
        "changed": outcome.changed,
        "last_sync_ms": outcome.last_sync_ms,
        "last_sync": format_iso_ms(outcome.last_sync_ms),
        "state": state(&mut lm, &w, now),
    })))
}

/// `POST /lm/init`: what the IUT's `/init` call does, for a harness that sets the module up itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Init {
    token: String,
    clear_sold: Option<bool>,
    enable_grey_list: Option<bool>,
}

async fn init(
    State(ctx): State<ControlContext>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let req: Init = request::json(&headers, &body?, r#"{"token":"b8c2e1b4-8a1d-4d3e-9f7a-2c4b6d8e0f12"}"#)?;
    with_module(&ctx, |lm, w, now| {
        let init = InitRequest {
            token: req.token,
            clear_sold: req.clear_sold,
            enable_grey_list: req.enable_grey_list,
        };
        lm.init(w, now, init).map_err(|e| ApiError::bad_request(e.to_string()))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Link {
    up: bool,
}

async fn link(
    State(ctx): State<ControlContext>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let Link { up } = request::json(&headers, &body?, r#"{"up":false}"#)?;
    with_module(&ctx, |lm, w, now| {
        lm.set_operator_link(w, now, up);
        Ok(())
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForceStatus {
    /// `null` stops forcing: the module's own state machine decides again.
    status: Option<String>,
}

async fn force_status(
    State(ctx): State<ControlContext>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let ForceStatus { status } =
        request::json(&headers, &body?, r#"{"status":"sync_error"} or {"status":null}"#)?;
    let forced = match status.as_deref() {
        None => None,
        Some(name) => Some(LmStatus::from_name(name).ok_or_else(|| {
            ApiError::bad_request(format!("unknown ЛМ ЧЗ status {name:?}; null stops forcing"))
                .with_valid(LmStatus::ALL.iter().map(|s| s.name()))
        })?),
    };
    with_module(&ctx, |lm, _, _| {
        lm.force_status(forced);
        Ok(())
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LastSync {
    /// Unix ms.
    ms: Option<i64>,
    /// A duration before now: `73h`.
    ago: Option<String>,
    /// ISO-8601, or relative to now (`-73h`).
    at: Option<String>,
}

async fn last_sync(
    State(ctx): State<ControlContext>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let example = r#"{"ago":"73h"} or {"ms":1767225600000} or {"at":"2026-01-01T00:00:00Z"}"#;
    let req: LastSync = request::json(&headers, &body?, example)?;
    let now = ctx.clock.now_ms();
    let ms = match (req.ms, req.ago, req.at) {
        (Some(ms), None, None) => ms,
        (None, Some(ago), None) => now.saturating_sub(request::duration_ms(&ago)?),
        (None, None, Some(at)) => resolve_date(&at, now).map_err(|e| ApiError::bad_request(e.to_string()))?,
        _ => return Err(ApiError::bad_request(format!("give exactly one of ms, ago, at: {example}"))),
    };
    with_module(&ctx, |lm, _, _| {
        lm.set_last_sync(ms);
        Ok(())
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GreyList {
    enabled: bool,
}

async fn grey_list(
    State(ctx): State<ControlContext>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let GreyList { enabled } = request::json(&headers, &body?, r#"{"enabled":true}"#)?;
    with_module(&ctx, |lm, _, _| {
        lm.set_grey_list(enabled);
        Ok(())
    })
}
