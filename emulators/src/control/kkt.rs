//! Control routes for the emulated KKT (`kkt.md` §8.2, §9, §11): `GET /kkt/documents` (the journal,
//! filtered by `kind`, `since`, `limit`), `GET /kkt/documents/{seq}` (one document with its paper
//! form), `DELETE /kkt/documents` (clear the journal), `GET /kkt/findings` (every grading finding of
//! the stored receipts), `GET /kkt/state` (shift, ФН marking status, unsent notifications, check in
//! progress, table), `GET|PATCH /kkt/options` (the controls; a JSON merge patch, validated), and
//! `POST /kkt/notifications/unload` (the autonomous KKT's unload to external media).
//!
//! Owns the request and answer shapes only; every change is the device's (`crate::kkt::device`). Must
//! not hold the world's lock while calling the device (the device locks itself first, then the world).
//! Without a KKT in the run every route answers 404.

use super::error::ApiError;
use super::request;
use super::ControlContext;
use crate::kkt::device::{DocumentQuery, KktDevice, StoredDocument, KIND_NAMES};
use crate::kkt::options::KktOptions;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub(super) fn routes() -> Router<ControlContext> {
    Router::new()
        .route("/kkt/documents", get(documents).delete(clear))
        .route("/kkt/documents/{seq}", get(document))
        .route("/kkt/findings", get(findings))
        .route("/kkt/state", get(state))
        .route("/kkt/options", get(options).patch(patch_options))
        .route("/kkt/notifications/unload", post(unload))
}

fn device(ctx: &ControlContext) -> Result<&Arc<KktDevice>, ApiError> {
    ctx.kkt.as_ref().ok_or_else(|| ApiError::not_found("this run has no KKT emulator"))
}

/// A journal entry as listed: everything but the model and the paper form.
fn listed(d: &StoredDocument) -> Value {
    json!({
        "seq": d.seq,
        "kind": d.kind,
        "ffd_type": d.ffd_type,
        "world_ms": d.world_ms,
        "fns_json": d.fns_json,
        "tlv_len": d.tlv_len,
        "findings": d.findings,
        "warnings": d.warnings,
    })
}

/// The query of `GET /kkt/documents`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentsQuery {
    kind: Option<String>,
    since: Option<String>,
    limit: Option<String>,
}

async fn documents(
    State(ctx): State<ControlContext>,
    query: Result<Query<DocumentsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let kkt = device(&ctx)?;
    let Query(q) = query?;
    if let Some(kind) = q.kind.as_deref().filter(|k| !KIND_NAMES.contains(k)) {
        return Err(
            ApiError::bad_request(format!("kind={kind:?} is not a document kind")).with_valid(KIND_NAMES)
        );
    }
    let query = DocumentQuery {
        kind: q.kind,
        since: request::number::<u64>("since", q.since.as_deref())?,
        limit: request::number::<usize>("limit", q.limit.as_deref())?,
    };
    Ok(Json(Value::Array(kkt.documents(&query).iter().map(listed).collect())))
}

async fn document(
    State(ctx): State<ControlContext>,
    seq: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let kkt = device(&ctx)?;
    let Path(seq) = seq?;
    let n: u64 = seq.parse().map_err(|_| ApiError::bad_request(format!("{seq:?} is not a document seq")))?;
    let d = kkt.document(n).ok_or_else(|| ApiError::not_found(format!("no document {n} in the journal")))?;
    let mut v = listed(&d);
    if let Value::Object(m) = &mut v {
        m.insert("paper".into(), Value::String(d.paper.clone()));
        m.insert("document".into(), serde_json::to_value(&d.document).unwrap_or(Value::Null));
    }
    Ok(Json(v))
}

async fn clear(State(ctx): State<ControlContext>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "cleared": device(&ctx)?.clear_documents() })))
}

/// Every finding, flat, each with the `seq` of its receipt.
async fn findings(State(ctx): State<ControlContext>) -> Result<Json<Value>, ApiError> {
    let all = device(&ctx)?.findings();
    let list = all
        .into_iter()
        .map(|(seq, f)| {
            let mut v = serde_json::to_value(&f).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("seq".into(), json!(seq));
            }
            v
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

async fn state(State(ctx): State<ControlContext>) -> Result<Json<Value>, ApiError> {
    let snapshot = device(&ctx)?.snapshot();
    Ok(Json(serde_json::to_value(snapshot).unwrap_or(Value::Null)))
}

async fn options(State(ctx): State<ControlContext>) -> Result<Json<KktOptions>, ApiError> {
    Ok(Json(device(&ctx)?.options()))
}

const OPTIONS_PATCH_EXAMPLE: &str = r#"{"ofd":{"reachable":false},"oism":{"latency_ms":50}}"#;

async fn patch_options(
    State(ctx): State<ControlContext>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<KktOptions>, ApiError> {
    let kkt = device(&ctx)?;
    let patch: Value = request::json(&headers, &body?, OPTIONS_PATCH_EXAMPLE)?;
    if !patch.is_object() {
        return Err(ApiError::bad_request(format!(
            "a merge patch must be a JSON object like {OPTIONS_PATCH_EXAMPLE}"
        )));
    }
    let next = kkt.options().patched(&patch).map_err(|e| ApiError::bad_request(e.to_string()))?;
    kkt.set_options(next).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(kkt.options()))
}

async fn unload(State(ctx): State<ControlContext>) -> Result<Json<Value>, ApiError> {
    let notes = device(&ctx)?.unload_notifications();
    let docs: Vec<Value> =
        notes.into_iter().map(|n| crate::ffd::Document::Notification(n).to_fns_json()).collect();
    Ok(Json(json!({ "unloaded": docs.len(), "notifications": docs })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_per_rfc_7396() {
        let mut t = json!({"a":{"b":1,"c":2},"d":3});
        crate::kkt::options::merge_patch(&mut t, &json!({"a":{"b":null,"e":4},"d":[1]}));
        assert_eq!(t, json!({"a":{"c":2,"e":4},"d":[1]}));
    }
}
