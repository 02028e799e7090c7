//! Control routes for what the emulators saw: `GET /trace` (JSON array, or NDJSON streamed with
//! `format=ndjson`), `DELETE /trace`, `GET /trace/stats`, and `GET /reqlog/{req_id}` (a reqId the
//! True API issued, with its time, host and codes).
//!
//! Owns the query checks and the NDJSON stream. The stream pages through the ring in seq order and
//! stops at the last event recorded when the call arrived, so it ends even while the emulators go on
//! recording. The trace itself (ring, file, numbering) belongs to `crate::trace`.

use super::error::ApiError;
use super::request;
use super::ControlContext;
use crate::clock::format_iso_ms;
use crate::trace::{Trace, TraceEvent, TraceFilter};
use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) fn routes() -> Router<ControlContext> {
    Router::new()
        .route("/trace", get(read).delete(clear))
        .route("/trace/stats", get(stats))
        .route("/reqlog/{req_id}", get(reqlog))
}

/// Events serialized per chunk of the NDJSON stream.
const NDJSON_CHUNK: usize = 1_000;

/// The query of `GET /trace`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceQuery {
    component: Option<String>,
    path: Option<String>,
    since_seq: Option<String>,
    limit: Option<String>,
    format: Option<String>,
}

async fn read(
    State(ctx): State<ControlContext>,
    query: Result<Query<TraceQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let filter = TraceFilter {
        component: q.component,
        path: q.path,
        since_seq: request::number::<u64>("since_seq", q.since_seq.as_deref())?,
        limit: request::number::<usize>("limit", q.limit.as_deref())?,
    };
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(ctx.trace.events(&filter)).into_response()),
        Some("ndjson") => Ok(ndjson(ctx.trace.clone(), filter)),
        Some(other) => Err(ApiError::bad_request(format!("format={other:?}: expected json or ndjson"))
            .with_valid(["json", "ndjson"])),
    }
}

/// Where the NDJSON stream stands.
struct Cursor {
    trace: Trace,
    filter: TraceFilter,
    /// Events still to send (the query's `limit`).
    remaining: usize,
    /// The last seq recorded when the call arrived: the stream ends there.
    upto: u64,
}

impl Cursor {
    /// The next chunk of lines, or `None` at the end.
    fn next_chunk(&mut self) -> Option<Bytes> {
        if self.remaining == 0 {
            return None;
        }
        let page = TraceFilter { limit: Some(NDJSON_CHUNK.min(self.remaining)), ..self.filter.clone() };
        let events: Vec<TraceEvent> =
            self.trace.events(&page).into_iter().take_while(|e| e.seq <= self.upto).collect();
        let last = events.last()?.seq;
        self.filter.since_seq = Some(last);
        self.remaining = self.remaining.saturating_sub(events.len());
        let mut out = Vec::with_capacity(events.len() * 256);
        for e in &events {
            // A TraceEvent is plain data: serializing it cannot fail.
            if serde_json::to_writer(&mut out, e).is_ok() {
                out.push(b'\n');
            }
        }
        Some(Bytes::from(out))
    }
}

fn ndjson(trace: Trace, filter: TraceFilter) -> Response {
    let cursor = Cursor {
        upto: trace.last_seq().unwrap_or(0),
        remaining: filter.limit.unwrap_or(usize::MAX),
        filter: TraceFilter { limit: None, ..filter },
        trace,
    };
    let stream = futures_util::stream::unfold(cursor, |mut cursor| async move {
        // The ring is read under its lock: do it off the async workers.
        let chunk = tokio::task::spawn_blocking(move || {
            let chunk = cursor.next_chunk();
            (chunk, cursor)
        })
        .await
        .ok()?;
        match chunk {
            (Some(bytes), cursor) => Some((Ok::<_, std::convert::Infallible>(bytes), cursor)),
            (None, _) => None,
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    response
}

/// `DELETE /trace`: empties the in-memory ring; seq numbers and the NDJSON file go on.
async fn clear(State(ctx): State<ControlContext>) -> Json<Value> {
    ctx.trace.clear();
    Json(json!({"cleared": true, "last_seq": ctx.trace.last_seq()}))
}

async fn stats(State(ctx): State<ControlContext>) -> Json<Value> {
    Json(json!({
        "total": ctx.trace.total(),
        "evicted": ctx.trace.evicted(),
        "last_seq": ctx.trace.last_seq(),
        "ndjson_file": ctx.trace.ndjson_path().map(|p| p.display().to_string()),
    }))
}

async fn reqlog(
    State(ctx): State<ControlContext>,
    req_id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(req_id) = req_id?;
    let check = ctx.reqlog.get(&req_id).ok_or_else(|| {
        ApiError::not_found(format!(
            "reqId {req_id:?} was not issued by the True API (or is no longer remembered)"
        ))
    })?;
    let mut value = serde_json::to_value(&check).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("req_time".into(), Value::from(format_iso_ms(check.req_timestamp)));
    }
    Ok(Json(value))
}
