//! Control routes for the world as a whole and its product catalogue: `GET /world` (summary),
//! `PUT /world` (replace it with a world file), `POST /world/reset` (the embedded default world),
//! `GET /world/products`, `GET|PATCH /world/products/{gtin}` (GTIN-level bans, grey list, prices).
//!
//! Owns the summary and product JSON shapes. A replacement is built completely before it is swapped
//! in under the write lock, so the emulators see either the old world or the new one, never a mix.
//! Codes have their own file (`codes.rs`).

use super::codes::gtin_of;
use super::error::ApiError;
use super::request::{self, Format};
use super::{ControlContext, WORLD_BODY_LIMIT};
use crate::world::default::default_world;
use crate::world::file::{self, WorldFile};
use crate::world::{CodeState, Product, World, WorldError};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub(super) fn routes() -> Router<ControlContext> {
    Router::new()
        .route("/world", get(summary).put(replace).layer(DefaultBodyLimit::max(WORLD_BODY_LIMIT)))
        .route("/world/reset", post(reset))
        .route("/world/products", get(products))
        .route("/world/products/{gtin}", get(product).patch(patch_product))
}

/// `GET /world`.
#[derive(Debug, Serialize)]
struct Summary {
    store_inn: String,
    tracking_groups: Vec<u16>,
    products: usize,
    codes: usize,
    participants: usize,
    /// Every state, zero included.
    codes_by_state: BTreeMap<&'static str, usize>,
    /// Product-group code (`milk`) → codes; `unknown` for codes whose GTIN is not in the catalogue.
    codes_by_group: BTreeMap<String, usize>,
    /// `case` label → codes; `(none)` for unlabelled codes.
    codes_by_case: BTreeMap<String, usize>,
}

/// Every code state, in life-cycle order.
pub(super) const STATES: [CodeState; 5] =
    [CodeState::Emitted, CodeState::Applied, CodeState::Introduced, CodeState::Sold, CodeState::Withdrawn];

/// The short code of a product group (`milk`), or `None` for an unknown id.
pub(super) fn group_code(id: u16) -> Option<&'static str> {
    markcert_codes::groups::by_id(id).map(|g| g.code.as_str())
}

fn summarize(w: &World) -> Summary {
    let codes = w.codes();
    let mut by_state: BTreeMap<&'static str, usize> = STATES.iter().map(|s| (s.name(), 0)).collect();
    let mut by_group = BTreeMap::new();
    let mut by_case = BTreeMap::new();
    for c in &codes {
        *by_state.entry(c.state.name()).or_default() += 1;
        let group = gtin_of(&c.code).and_then(|g| w.group_of(&g)).and_then(group_code).unwrap_or("unknown");
        *by_group.entry(group.to_string()).or_default() += 1;
        *by_case.entry(c.case.clone().unwrap_or_else(|| "(none)".into())).or_default() += 1;
    }
    Summary {
        store_inn: w.store_inn.clone(),
        tracking_groups: w.tracking_groups.clone(),
        products: w.product_count(),
        codes: codes.len(),
        participants: w.participants().len(),
        codes_by_state: by_state,
        codes_by_group: by_group,
        codes_by_case: by_case,
    }
}

async fn summary(State(ctx): State<ControlContext>) -> Json<Summary> {
    Json(summarize(&ctx.world_read()))
}

fn world_error(e: WorldError) -> ApiError {
    ApiError::bad_request(format!("world not loaded: {e}"))
}

/// `PUT /world`: a world file (TOML, or the same shape as JSON), dates relative to the world clock.
async fn replace(
    State(ctx): State<ControlContext>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Summary>, ApiError> {
    let body = body?;
    let format = request::format(&headers, &[Format::Toml, Format::Json], Format::Toml)?;
    let now = ctx.clock.now_ms();
    // A large world takes a while to parse: off the async workers.
    let loaded = tokio::task::spawn_blocking(move || load(&body, format, now))
        .await
        .map_err(|e| ApiError::bad_request(format!("world not loaded: the loader stopped: {e}")))??;
    let (world, summary) = loaded;
    *ctx.world_write() = world;
    Ok(Json(summary))
}

/// A world and its summary from a world file in `format`.
fn load(body: &Bytes, format: Format, now_ms: i64) -> Result<(World, Summary), ApiError> {
    let text = request::text(body)?;
    let world = match format {
        Format::Toml => file::load(text, now_ms).map_err(world_error)?,
        Format::Json => {
            let parsed: WorldFile = serde_json::from_str(text)
                .map_err(|e| ApiError::bad_request(format!("world not loaded: world file (JSON): {e}")))?;
            file::build(parsed, now_ms).map_err(world_error)?
        }
    };
    let summary = summarize(&world);
    Ok((world, summary))
}

/// `POST /world/reset`: the embedded default world at the current world time.
async fn reset(State(ctx): State<ControlContext>) -> Result<Json<Summary>, ApiError> {
    let world = default_world(ctx.clock.now_ms()).map_err(world_error)?;
    let summary = summarize(&world);
    *ctx.world_write() = world;
    Ok(Json(summary))
}

/// A product as the control API shows it: the catalogue entry with its group named, and its codes
/// counted.
#[derive(Debug, Serialize)]
struct ProductView {
    gtin: String,
    /// Product-group code (`milk`); `null` for an id unknown to the group table.
    group: Option<&'static str>,
    group_id: u16,
    name: String,
    price_kopecks: u64,
    vat: String,
    measure: String,
    shelf_life_days: Option<u32>,
    mrp_kopecks: Option<u64>,
    smp_kopecks: Option<u64>,
    pack_count: Option<u32>,
    producer_inn: Option<String>,
    blocked_by: Vec<String>,
    gtin_blocked: bool,
    grey_gtin: bool,
    codes: usize,
}

fn product_view(p: &Product, codes: usize) -> ProductView {
    ProductView {
        gtin: p.gtin.clone(),
        group: group_code(p.group),
        group_id: p.group,
        name: p.name.clone(),
        price_kopecks: p.price_kopecks,
        vat: p.vat.clone(),
        measure: p.measure.clone(),
        shelf_life_days: p.shelf_life_days,
        mrp_kopecks: p.mrp_kopecks,
        smp_kopecks: p.smp_kopecks,
        pack_count: p.pack_count,
        producer_inn: p.producer_inn.clone(),
        blocked_by: p.blocked_by.clone(),
        gtin_blocked: p.is_blocked(),
        grey_gtin: p.grey_gtin,
        codes,
    }
}

/// Codes per GTIN.
fn codes_per_gtin(w: &World) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for gtin in w.codes().into_iter().filter_map(|c| gtin_of(&c.code)) {
        *counts.entry(gtin).or_default() += 1;
    }
    counts
}

async fn products(State(ctx): State<ControlContext>) -> Json<Vec<ProductView>> {
    let w = ctx.world_read();
    let counts = codes_per_gtin(&w);
    Json(
        w.products()
            .into_iter()
            .map(|p| product_view(p, counts.get(&p.gtin).copied().unwrap_or(0)))
            .collect(),
    )
}

fn no_product(gtin: &str) -> ApiError {
    ApiError::not_found(format!("no product with GTIN {gtin:?} in the world; GET /world/products lists them"))
}

async fn product(
    State(ctx): State<ControlContext>,
    gtin: Result<Path<String>, PathRejection>,
) -> Result<Json<ProductView>, ApiError> {
    let Path(gtin) = gtin?;
    let w = ctx.world_read();
    let p = w.product(&gtin).ok_or_else(|| no_product(&gtin))?;
    let counts = codes_per_gtin(&w);
    Ok(Json(product_view(p, counts.get(&p.gtin).copied().unwrap_or(0))))
}

/// `PATCH /world/products/{gtin}`: the fields a scenario changes at run time.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductPatch {
    blocked_by: Option<Vec<String>>,
    grey_gtin: Option<bool>,
    price_kopecks: Option<u64>,
    #[serde(default, deserialize_with = "super::codes::present")]
    mrp_kopecks: Option<Option<u64>>,
    #[serde(default, deserialize_with = "super::codes::present")]
    smp_kopecks: Option<Option<u64>>,
    name: Option<String>,
}

const PRODUCT_PATCH_EXAMPLE: &str = r#"{"blocked_by":["RPN"],"grey_gtin":true,"price_kopecks":8990}"#;

async fn patch_product(
    State(ctx): State<ControlContext>,
    gtin: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ProductView>, ApiError> {
    let Path(gtin) = gtin?;
    let patch: ProductPatch = request::json(&headers, &body?, PRODUCT_PATCH_EXAMPLE)?;
    let mut w = ctx.world_write();
    let mut changed = w.product(&gtin).ok_or_else(|| no_product(&gtin))?.clone();
    if let Some(v) = patch.blocked_by {
        changed.blocked_by = v;
    }
    if let Some(v) = patch.grey_gtin {
        changed.grey_gtin = v;
    }
    if let Some(v) = patch.price_kopecks {
        changed.price_kopecks = v;
    }
    if let Some(v) = patch.mrp_kopecks {
        changed.mrp_kopecks = v;
    }
    if let Some(v) = patch.smp_kopecks {
        changed.smp_kopecks = v;
    }
    if let Some(v) = patch.name {
        changed.name = v;
    }
    w.update_product(changed.clone()).map_err(world_error)?;
    let counts = codes_per_gtin(&w);
    Ok(Json(product_view(&changed, counts.get(&changed.gtin).copied().unwrap_or(0))))
}
