//! The product catalogue of the world: GTIN → product group, name, price, VAT, shelf life, MRP / ЕМЦ /
//! МЦ, pack count, GTIN-level bans and the grey GTIN list (spec `README.md` §3.3, `true-api.md` §5). Data only; no rule is judged here.

use serde::{Deserialize, Serialize};

/// One product (one GTIN).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// 14-digit GTIN with a valid check digit.
    pub gtin: String,
    /// Product-group id (`codes.md` §7), e.g. 8 for dairy.
    pub group: u16,
    /// Name printed on the receipt.
    pub name: String,
    /// Shelf price in kopecks.
    pub price_kopecks: u64,
    /// VAT rate as the ATOL names it: `none`, `vat0`, `vat10`, `vat20`, `vat5`, `vat7`.
    #[serde(default = "default_vat")]
    pub vat: String,
    /// `piece`, `kg`, `l` (weighed or measured goods).
    #[serde(default = "default_measure")]
    pub measure: String,
    /// Shelf life in days (dairy, food); expiry dates of generated codes follow it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shelf_life_days: Option<u32>,
    /// True API `mrp` in kopecks: МРЦ (maximum) for tobacco/АТП, МЦ (minimum) for nicotine products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mrp_kopecks: Option<u64>,
    /// True API `smp` (ЕМЦ, tobacco minimum price) in kopecks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smp_kopecks: Option<u64>,
    /// Packs in a group package (tobacco block); True API `packageQuantity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack_count: Option<u32>,
    /// Producer INN (True API `producerInn`); absent e.g. for Belarusian dairy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer_inn: Option<String>,
    /// GTIN-level ban (a recalled batch, a banned product): bodies that block every code of this GTIN.
    /// True API answers `isBlocked` with these `ogvs`; the ЛМ ЧЗ keeps the GTIN on its blocked-GTIN list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_by: Vec<String>,
    /// The GTIN is on the ЛМ ЧЗ grey GTIN list (`local-module.md` §6): offline, only an online check can
    /// decide, so the module answers `isBlocked:true, isGreyGtin:true`. Online answers are unaffected.
    #[serde(default)]
    pub grey_gtin: bool,
}

impl Product {
    /// True when a body blocks every code of this GTIN.
    pub fn is_blocked(&self) -> bool {
        !self.blocked_by.is_empty()
    }
}

fn default_vat() -> String {
    "vat20".into()
}

fn default_measure() -> String {
    "piece".into()
}
