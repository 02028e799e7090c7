//! Control routes for the ТС ПИоТ emulator and the ФН authentication model (`tspiot.md` §5, §9):
//! `GET /tspiot` (hosts in the order it uses them with their blocks, the held token, emergency mode,
//! the next list refresh), `POST /tspiot/emergency` (a scripted emergency on / off),
//! `POST /tspiot/refresh` (refresh the host list now), `POST /tspiot/fn-auth` (the ФН answers with a
//! wrong MAC or a right one: scenario fault `fn.auth = broken`), `GET /fn-auth/tokens` (every ФН token
//! the True API issued) and `DELETE /fn-auth/tokens` (revoke them all: the next call meets a 401).
//!
//! Owns the request shapes only. Without a ТС ПИоТ in the run, its routes answer 404.

use super::error::ApiError;
use super::request;
use super::ControlContext;
use crate::clock::format_iso_ms;
use crate::tspiot::orchestrator::TsPiot;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub(super) fn routes() -> Router<ControlContext> {
    Router::new()
        .route("/tspiot", get(read))
        .route("/tspiot/emergency", post(emergency))
        .route("/tspiot/refresh", post(refresh))
        .route("/tspiot/fn-auth", post(fn_auth_broken))
        .route("/fn-auth/tokens", get(tokens).delete(revoke))
}

fn instance(ctx: &ControlContext) -> Result<&Arc<TsPiot>, ApiError> {
    ctx.tspiot.as_ref().ok_or_else(|| ApiError::not_found("this run has no ТС ПИоТ emulator"))
}

fn state(t: &TsPiot) -> Value {
    let held = t.auth().held();
    json!({
        "emergency": t.emergency_active(),
        "hosts": t.cdn().hosts(),
        "next_refresh_ms": t.cdn().next_refresh_ms(),
        "next_refresh": t.cdn().next_refresh_ms().map(format_iso_ms),
        "refresh_due": t.cdn().refresh_due(),
        "fn_serial": t.auth().fn_serial(),
        "token": held.map(|h| json!({
            "token": h.token,
            "obtained_ms": h.obtained_ms,
            "expires_ms": h.expires_ms,
            "expires": format_iso_ms(h.expires_ms),
        })),
        "options": t.options(),
    })
}

async fn read(State(ctx): State<ControlContext>) -> Result<Json<Value>, ApiError> {
    Ok(Json(state(instance(&ctx)?)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnOff {
    on: bool,
}

async fn emergency(
    State(ctx): State<ControlContext>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let t = instance(&ctx)?;
    let req: OnOff = request::json(&headers, &body?, r#"{"on":true}"#)?;
    t.set_emergency(req.on);
    Ok(Json(state(t)))
}

async fn refresh(State(ctx): State<ControlContext>) -> Result<Json<Value>, ApiError> {
    let t = instance(&ctx)?.clone();
    let cred =
        t.auth().credential().await.ok_or_else(|| ApiError::conflict("the ТС ПИоТ has no credential"))?;
    let report =
        t.cdn().refresh(&cred).await.map_err(|e| ApiError::conflict(format!("refresh failed: {e}")))?;
    Ok(Json(json!({ "report": report, "state": state(&t) })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Broken {
    broken: bool,
}

async fn fn_auth_broken(
    State(ctx): State<ControlContext>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let signer =
        ctx.fn_signer.as_ref().ok_or_else(|| ApiError::not_found("this run has no ТС ПИоТ emulator"))?;
    let req: Broken = request::json(&headers, &body?, r#"{"broken":true}"#)?;
    signer.set_broken(req.broken);
    Ok(Json(json!({ "broken": req.broken })))
}

async fn tokens(State(ctx): State<ControlContext>) -> Json<Value> {
    Json(json!(ctx.fn_auth.tokens()))
}

async fn revoke(State(ctx): State<ControlContext>) -> Json<Value> {
    Json(json!({ "revoked": ctx.fn_auth.revoke_all() }))
}
