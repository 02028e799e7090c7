//! Control routes for the codes of the world: `GET /world/codes` (filtered listing),
//! `GET /world/codes/{code}` and `PATCH /world/codes/{code}` (change a code at run time: "the code
//! gets blocked after the ЛМ ЧЗ's last sync").
//!
//! Owns the code JSON shape ([`CodeView`]): the full code (⟨GS⟩ as the real 0x1D character, which JSON
//! writes `\u001d`), its identity, state, product group, case label and every attribute that makes it
//! a ban case, judged the way the True API judges them (a GTIN-level ban blocks the code too).
//! Must not judge the sale itself: `expired` and `is_owner` are facts, not verdicts.

use super::error::ApiError;
use super::request;
use super::world::{group_code, STATES};
use super::ControlContext;
use crate::clock::format_iso_ms;
use crate::world::file::resolve_date;
use crate::world::{CodeRecord, CodeState, Crypto, Origin, World};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Deserializer, Serialize};

pub(super) fn routes() -> Router<ControlContext> {
    Router::new().route("/world/codes", get(list)).route("/world/codes/{code}", get(one).patch(patch))
}

/// Header of `GET /world/codes`: codes matching the filters, before `offset` and `limit`.
pub(super) const TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");

/// One code as the control API shows it. Absent values are `null`, so every object has every key.
#[derive(Debug, Serialize)]
pub(super) struct CodeView {
    /// The full code, ⟨GS⟩ as 0x1D.
    code: String,
    /// Its identity (КИ).
    ki: String,
    gtin: String,
    state: CodeState,
    /// Product-group code (`milk`); `null` when the GTIN is not in the catalogue.
    group: Option<&'static str>,
    group_id: Option<u16>,
    case: Option<String>,
    /// As the True API answers it: blocked by a body at code level or at GTIN level.
    is_blocked: bool,
    /// The blocking bodies, code level first, then GTIN level (empty when not blocked).
    ogvs: Vec<String>,
    /// The code-level bodies only (what `PATCH` sets).
    blocked_by: Vec<String>,
    /// The product is banned as a whole.
    gtin_blocked: bool,
    /// The GTIN is on the ЛМ ЧЗ grey list.
    grey_gtin: bool,
    expire: Option<String>,
    expire_ms: Option<i64>,
    /// `expire_ms <= now` on the world clock.
    expired: bool,
    production: Option<String>,
    production_ms: Option<i64>,
    gray_zone: bool,
    crypto: Crypto,
    origin: Origin,
    owner_inn: Option<String>,
    /// `owner_inn` is the store's INN.
    is_owner: bool,
    elimination_state: Option<u8>,
    inner_unit_count: Option<u32>,
    sold_unit_count: Option<u32>,
    /// True API `mrp` of the product, kopecks.
    mrp: Option<u64>,
    /// True API `smp` of the product, kopecks.
    smp: Option<u64>,
    /// Shelf price of the product, kopecks.
    price_kopecks: Option<u64>,
    parent: Option<String>,
}

/// GTIN and identity of a registered code (registered codes always parse; the fallback only keeps
/// this total).
fn gtin_and_ki(code: &str) -> (String, String) {
    match markcert_codes::parse(code.as_bytes()) {
        Ok(parsed) => (parsed.gtin().to_string(), parsed.ki().to_string()),
        Err(_) => (String::new(), code.to_string()),
    }
}

/// The GTIN of a code, if it parses.
pub(super) fn gtin_of(code: &str) -> Option<String> {
    markcert_codes::parse(code.as_bytes()).ok().map(|p| p.gtin().to_string())
}

pub(super) fn view(w: &World, r: &CodeRecord, now_ms: i64) -> CodeView {
    let (gtin, ki) = gtin_and_ki(&r.code);
    let product = w.product(&gtin);
    let gtin_ban = product.map(|p| p.blocked_by.as_slice()).unwrap_or_default();
    let mut ogvs = r.blocked_by.clone();
    ogvs.extend(gtin_ban.iter().filter(|b| !r.blocked_by.contains(b)).cloned());
    let group_id = product.map(|p| p.group);
    CodeView {
        code: r.code.clone(),
        ki,
        state: r.state,
        group: group_id.and_then(group_code),
        group_id,
        case: r.case.clone(),
        is_blocked: !ogvs.is_empty(),
        ogvs,
        blocked_by: r.blocked_by.clone(),
        gtin_blocked: !gtin_ban.is_empty(),
        grey_gtin: product.is_some_and(|p| p.grey_gtin),
        expire: r.expire_ms.map(format_iso_ms),
        expire_ms: r.expire_ms,
        expired: r.expire_ms.is_some_and(|e| e <= now_ms),
        production: r.production_ms.map(format_iso_ms),
        production_ms: r.production_ms,
        gray_zone: r.gray_zone,
        crypto: r.crypto,
        origin: r.origin,
        is_owner: r.owner_inn.as_deref() == Some(w.store_inn.as_str()),
        owner_inn: r.owner_inn.clone(),
        elimination_state: r.elimination_state,
        inner_unit_count: r.inner_unit_count,
        sold_unit_count: r.sold_unit_count,
        mrp: product.and_then(|p| p.mrp_kopecks),
        smp: product.and_then(|p| p.smp_kopecks),
        price_kopecks: product.map(|p| p.price_kopecks),
        parent: r.parent.clone(),
        gtin,
    }
}

/// The query of `GET /world/codes`; every value is checked by hand so that a bad one is named.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeQuery {
    state: Option<String>,
    group: Option<String>,
    case: Option<String>,
    gtin: Option<String>,
    blocked: Option<String>,
    expired: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

/// The checked filters.
struct Filters {
    state: Option<CodeState>,
    group: Option<u16>,
    case: Option<String>,
    gtin: Option<String>,
    blocked: Option<bool>,
    expired: Option<bool>,
}

impl Filters {
    fn admit(&self, v: &CodeView) -> bool {
        self.state.is_none_or(|s| v.state == s)
            && self.group.is_none_or(|g| v.group_id == Some(g))
            && self.case.as_deref().is_none_or(|c| v.case.as_deref() == Some(c))
            && self.gtin.as_deref().is_none_or(|g| v.gtin == g)
            && self.blocked.is_none_or(|b| v.is_blocked == b)
            && self.expired.is_none_or(|e| v.expired == e)
    }
}

fn parse_state(text: &str) -> Result<CodeState, ApiError> {
    STATES.iter().copied().find(|s| s.name() == text).ok_or_else(|| {
        ApiError::bad_request(format!("unknown state {text:?}")).with_valid(STATES.iter().map(|s| s.name()))
    })
}

fn parse_group(text: &str) -> Result<u16, ApiError> {
    let found = match text.parse::<u16>() {
        Ok(id) => markcert_codes::groups::by_id(id),
        Err(_) => markcert_codes::groups::by_code(text),
    };
    found.map(|g| g.id).ok_or_else(|| {
        ApiError::bad_request(format!("unknown product group {text:?}: give its code or its numeric id"))
            .with_valid(markcert_codes::groups::all().iter().map(|g| format!("{} ({})", g.code, g.id)))
    })
}

async fn list(
    State(ctx): State<ControlContext>,
    query: Result<Query<CodeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let filters = Filters {
        state: q.state.as_deref().map(parse_state).transpose()?,
        group: q.group.as_deref().map(parse_group).transpose()?,
        case: q.case,
        gtin: q.gtin,
        blocked: request::flag("blocked", q.blocked.as_deref())?,
        expired: request::flag("expired", q.expired.as_deref())?,
    };
    let limit = request::number::<usize>("limit", q.limit.as_deref())?.unwrap_or(usize::MAX);
    let offset = request::number::<usize>("offset", q.offset.as_deref())?.unwrap_or(0);
    let now = ctx.clock.now_ms();
    let (total, page) = {
        let w = ctx.world_read();
        let mut total = 0usize;
        let mut page = Vec::new();
        for r in w.codes() {
            let v = view(&w, r, now);
            if filters.admit(&v) {
                if total >= offset && page.len() < limit {
                    page.push(v);
                }
                total += 1;
            }
        }
        (total, page)
    };
    let mut response = Json(page).into_response();
    response.headers_mut().insert(TOTAL_COUNT, HeaderValue::from(total));
    Ok(response)
}

/// The record of a code given as the full code or its КИ, percent-encoded in the path; `<GS>` and
/// `\u001d` written out are read as ⟨GS⟩. Looked up by identity, so any crypto tail finds it.
fn find<'w>(w: &'w World, given: &str) -> Option<&'w CodeRecord> {
    let lookup = |text: &str| {
        w.code_by_identity(text)
            .or_else(|| crate::world::identity(text).and_then(|ki| w.code_by_identity(&ki)))
    };
    lookup(given).or_else(|| {
        let unescaped = markcert_codes::escape::unescape(given.as_bytes());
        std::str::from_utf8(&unescaped).ok().and_then(lookup)
    })
}

fn no_code(given: &str) -> ApiError {
    ApiError::not_found(format!(
        "no code {:?} in the world (give the full code or its КИ, percent-encoded)",
        markcert_codes::escape::escape(given.as_bytes())
    ))
}

async fn one(
    State(ctx): State<ControlContext>,
    code: Result<Path<String>, PathRejection>,
) -> Result<Json<CodeView>, ApiError> {
    let Path(code) = code?;
    let now = ctx.clock.now_ms();
    let w = ctx.world_read();
    let r = find(&w, &code).ok_or_else(|| no_code(&code))?;
    Ok(Json(view(&w, r, now)))
}

/// Deserializes a field that may be given as `null`: absent → `None`, `null` → `Some(None)`.
pub(super) fn present<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH /world/codes/{code}`: absent fields are kept; `null` clears an optional one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodePatch {
    state: Option<CodeState>,
    blocked_by: Option<Vec<String>>,
    /// ISO-8601 or relative to the world clock (`+5d`, `-1h`).
    #[serde(default, deserialize_with = "present")]
    expire: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    production: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    owner_inn: Option<Option<String>>,
    gray_zone: Option<bool>,
    crypto: Option<Crypto>,
    origin: Option<Origin>,
    #[serde(default, deserialize_with = "present")]
    elimination_state: Option<Option<u8>>,
    #[serde(default, deserialize_with = "present")]
    inner_unit_count: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    sold_unit_count: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    case: Option<Option<String>>,
}

const CODE_PATCH_EXAMPLE: &str = r#"{"state":"sold"} or {"blocked_by":["RPN"]} or {"expire":"-1h"}"#;

fn date(text: Option<String>, now_ms: i64) -> Result<Option<i64>, ApiError> {
    text.map(|t| resolve_date(&t, now_ms).map_err(|e| ApiError::bad_request(e.to_string()))).transpose()
}

async fn patch(
    State(ctx): State<ControlContext>,
    code: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CodeView>, ApiError> {
    let Path(code) = code?;
    let p: CodePatch = request::json(&headers, &body?, CODE_PATCH_EXAMPLE)?;
    let now = ctx.clock.now_ms();
    // Dates are checked before the world is locked.
    let expire = p.expire.map(|d| date(d, now)).transpose()?;
    let production = p.production.map(|d| date(d, now)).transpose()?;
    let mut w = ctx.world_write();
    let mut r = find(&w, &code).ok_or_else(|| no_code(&code))?.clone();
    if let Some(v) = p.state {
        r.state = v;
    }
    if let Some(v) = p.blocked_by {
        r.blocked_by = v;
    }
    if let Some(v) = expire {
        r.expire_ms = v;
    }
    if let Some(v) = production {
        r.production_ms = v;
    }
    if let Some(v) = p.owner_inn {
        r.owner_inn = v;
    }
    if let Some(v) = p.gray_zone {
        r.gray_zone = v;
    }
    if let Some(v) = p.crypto {
        r.crypto = v;
    }
    if let Some(v) = p.origin {
        r.origin = v;
    }
    if let Some(v) = p.elimination_state {
        r.elimination_state = v;
    }
    if let Some(v) = p.inner_unit_count {
        r.inner_unit_count = v;
    }
    if let Some(v) = p.sold_unit_count {
        r.sold_unit_count = v;
    }
    if let Some(v) = p.case {
        r.case = v;
    }
    w.update_code(r.clone()).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(view(&w, &r, now)))
}
