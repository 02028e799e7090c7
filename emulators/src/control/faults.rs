//! Control routes for the fault rules: `GET /faults` (the rules in force with their ids and call
//! counts), `POST /faults` (add one rule or several), `PUT /faults` (replace them all: an outage
//! timeline), `GET|DELETE /faults/{id}`, `DELETE /faults`.
//!
//! Owns reading rule bodies (JSON, or TOML with `Content-Type: application/toml`) and the listing
//! shape. The rule shape itself and every check belong to `crate::faults`; a refused rule is a 400
//! carrying the [`FaultError`](crate::faults::FaultError) text. Adding several rules is all or nothing.

use super::error::ApiError;
use super::request::{self, Format};
use super::ControlContext;
use crate::faults::{FaultError, FaultRule, RuleId};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub(super) fn routes() -> Router<ControlContext> {
    Router::new()
        .route("/faults", get(list).post(add).put(replace).delete(clear))
        .route("/faults/{id}", get(one).delete(remove))
}

/// A rule as listed: its wire shape (with `id`) plus `calls`, the calls it has counted so far.
fn listed(ctx: &ControlContext, rule: &FaultRule) -> Value {
    let mut value = serde_json::to_value(rule).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        let calls = rule.id.and_then(|id| ctx.faults.calls(id)).unwrap_or(0);
        map.insert("calls".into(), Value::from(calls));
    }
    value
}

async fn list(State(ctx): State<ControlContext>) -> Json<Vec<Value>> {
    Json(ctx.faults.list().iter().map(|r| listed(&ctx, r)).collect())
}

fn refused(e: FaultError) -> ApiError {
    ApiError::bad_request(e.to_string())
}

/// The rules of a body: a JSON object or array; a TOML table (one rule) or `[[rule]]` tables.
fn rules(headers: &HeaderMap, body: &Bytes) -> Result<Vec<FaultRule>, ApiError> {
    let format = request::format(headers, &[Format::Json, Format::Toml], Format::Json)?;
    let text = request::text(body)?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(concat!(
            r#"empty body; expected a rule like {"target":{"host":"cdn-1"},"#,
            r#""fault":{"kind":"status","status":429}}, or an array of rules"#
        )));
    }
    match format {
        Format::Json if text.trim_start().starts_with('[') => {
            FaultRule::list_from_json(text).map_err(refused)
        }
        Format::Json => FaultRule::from_json(text).map(|r| vec![r]).map_err(refused),
        Format::Toml => {
            let is_list = toml::from_str::<toml::Table>(text).is_ok_and(|t| t.contains_key("rule"));
            if is_list {
                FaultRule::list_from_toml(text).map_err(refused)
            } else {
                FaultRule::from_toml(text).map(|r| vec![r]).map_err(refused)
            }
        }
    }
}

/// `POST /faults`: the rules go after those in force. 201 `{"ids":[…]}`.
async fn add(
    State(ctx): State<ControlContext>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let new = rules(&headers, &body?)?;
    // Every rule was checked by the loader; should the table still refuse one, the ones just added
    // are taken out again.
    let mut ids: Vec<RuleId> = Vec::with_capacity(new.len());
    for rule in new {
        match ctx.faults.add(rule) {
            Ok(id) => ids.push(id),
            Err(e) => {
                for id in ids {
                    ctx.faults.remove(id);
                }
                return Err(refused(e));
            }
        }
    }
    Ok((StatusCode::CREATED, Json(json!({ "ids": ids }))))
}

/// `PUT /faults`: replaces every rule (an empty array clears them). `{"ids":[…]}`.
async fn replace(
    State(ctx): State<ControlContext>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let new = rules(&headers, &body?)?;
    let ids = ctx.faults.set_timeline(new).map_err(refused)?;
    Ok(Json(json!({ "ids": ids })))
}

/// `DELETE /faults`: `{"removed": n}`.
async fn clear(State(ctx): State<ControlContext>) -> Json<Value> {
    let removed = ctx.faults.len();
    ctx.faults.clear();
    Json(json!({ "removed": removed }))
}

fn rule_id(id: Result<Path<String>, PathRejection>) -> Result<RuleId, ApiError> {
    let Path(id) = id?;
    id.parse::<u64>().map(RuleId).map_err(|_| {
        ApiError::bad_request(format!("fault rule id {id:?} is not a number; GET /faults lists the ids"))
    })
}

fn no_rule(id: RuleId) -> ApiError {
    ApiError::not_found(format!("no fault rule with id {id}; GET /faults lists the rules in force"))
}

async fn one(
    State(ctx): State<ControlContext>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = rule_id(id)?;
    let rule = ctx.faults.get(id).ok_or_else(|| no_rule(id))?;
    Ok(Json(listed(&ctx, &rule)))
}

/// `DELETE /faults/{id}`: `{"removed": id}`.
async fn remove(
    State(ctx): State<ControlContext>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = rule_id(id)?;
    if ctx.faults.remove(id) {
        Ok(Json(json!({ "removed": id })))
    } else {
        Err(no_rule(id))
    }
}
