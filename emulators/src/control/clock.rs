//! Control routes for the world clock: `GET /clock` and `POST /clock` (set, advance, freeze, follow
//! real time).
//!
//! Owns the change request and its checks. Moving the clock moves markcert-side timers only (the
//! ЛМ ЧЗ 72 h limit, token lifetimes, `reqTimestamp`); dates already in the world are absolute and
//! stay where they are.

use super::error::ApiError;
use super::request;
use super::ControlContext;
use crate::clock::{ClockMode, ClockState};
use crate::world::file::resolve_date;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use std::time::Duration;

pub(super) fn routes() -> Router<ControlContext> {
    Router::new().route("/clock", get(read).post(change))
}

async fn read(State(ctx): State<ControlContext>) -> Json<ClockState> {
    Json(ctx.clock.snapshot())
}

/// `POST /clock`: at most one of the moves, and optionally a mode (applied first).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockChange {
    /// ISO-8601, or relative to the current world time (`+72h`, `-1d`).
    set: Option<String>,
    set_ms: Option<i64>,
    /// A duration: `72h`, `1h30m`, `500ms`.
    advance: Option<String>,
    advance_ms: Option<i64>,
    mode: Option<ClockMode>,
}

const EXAMPLE: &str = concat!(
    r#"{"set":"2026-03-01T10:00:00+03:00"} or {"set_ms":1772348400000} or {"advance":"72h"}"#,
    r#" or {"advance_ms":1000} or {"mode":"frozen"}"#
);

async fn change(
    State(ctx): State<ControlContext>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ClockState>, ApiError> {
    let c: ClockChange = request::json(&headers, &body?, EXAMPLE)?;
    let moves = [c.set.is_some(), c.set_ms.is_some(), c.advance.is_some(), c.advance_ms.is_some()];
    match moves.iter().filter(|m| **m).count() {
        0 if c.mode.is_none() => {
            return Err(ApiError::bad_request(format!("nothing to change; expected {EXAMPLE}")));
        }
        0 | 1 => {}
        _ => {
            return Err(ApiError::bad_request(
                "give at most one of set, set_ms, advance, advance_ms (mode may go with any)",
            ))
        }
    }
    // Everything is checked before anything changes.
    let advance_ms = match (&c.advance, c.advance_ms) {
        (Some(text), _) => Some(request::duration_ms(text)?),
        (None, Some(ms)) if ms < 0 => {
            return Err(ApiError::bad_request(format!(
                "advance_ms {ms} is negative: the clock only advances forward; use set or set_ms to go back"
            )))
        }
        (None, ms) => ms,
    };
    let set_ms = match (&c.set, c.set_ms) {
        (Some(text), _) => {
            Some(resolve_date(text, ctx.clock.now_ms()).map_err(|e| ApiError::bad_request(e.to_string()))?)
        }
        (None, ms) => ms,
    };
    match c.mode {
        Some(ClockMode::Frozen) => ctx.clock.freeze(),
        Some(ClockMode::Real) => ctx.clock.follow_real(),
        None => {}
    }
    if let Some(ms) = set_ms {
        ctx.clock.set_ms(ms);
    }
    if let Some(ms) = advance_ms {
        ctx.clock.advance(Duration::from_millis(ms.unsigned_abs()));
    }
    Ok(Json(ctx.clock.snapshot()))
}
