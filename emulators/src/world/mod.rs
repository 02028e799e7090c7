//! The world: the single source of truth every emulator answers from (spec `README.md` §3.3).
//!
//! Owns the product catalogue ([`catalog`]), the code registry ([`registry`]), the participants and
//! their credentials, the loader of world files ([`file`]) and the embedded default world
//! ([`default`]). It judges no rule and serves nothing: the True API, ЛМ ЧЗ and KKT emulators read it.
//! Codes are looked up by their identity (КИ), so a scan whose crypto tail differs from the registered
//! one still finds its record (and is then answered "not verified").

pub mod catalog;
pub mod default;
pub mod devices;
pub mod file;
pub mod registry;

pub use catalog::Product;
pub use devices::{FiscalDrive, PosSoftware};
pub use registry::{CodeRecord, CodeState, Crypto, Origin};

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// An `X-API-KEY` token of a participant (`true-api.md` §9.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// The 36-character UUID token.
    pub token: String,
    /// Expiry instant, Unix ms; `None` = does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<i64>,
}

/// A participant of ГИС МТ (a store's legal entity).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Participant {
    /// ИНН (10 or 12 digits).
    pub inn: String,
    /// Name.
    pub name: String,
    /// Its `X-API-KEY` tokens.
    #[serde(default)]
    pub api_keys: Vec<ApiKey>,
}

/// Errors building or loading a world.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// The world file is not valid TOML of the expected shape.
    #[error("world file: {0}")]
    Toml(#[from] toml::de::Error),
    /// A product's GTIN is not a valid GTIN-14.
    #[error("product {gtin:?}: not a valid GTIN-14")]
    BadGtin { gtin: String },
    /// A product's group id is not in the product-group table.
    #[error("product {gtin}: unknown product group {group}")]
    UnknownGroup { gtin: String, group: u16 },
    /// A code of the registry is not a valid marking code.
    #[error("code {code:?}: {reason}")]
    BadCode { code: String, reason: String },
    /// A fiscal drive or POS program entry is not valid.
    #[error("{what} {key:?}: {reason}")]
    BadDevice { what: &'static str, key: String, reason: &'static str },
    /// Two entries share a key.
    #[error("duplicate {what} {key:?}")]
    Duplicate { what: &'static str, key: String },
    /// A date is neither ISO-8601 nor relative (`+30d`, `-2h`).
    #[error("date {0:?}: expected ISO-8601 (2026-01-01T00:00:00Z) or relative (+30d, -2h, +15m)")]
    BadDate(String),
}

/// The world: catalogue, registry and participants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct World {
    products: HashMap<String, Product>,
    codes: HashMap<String, CodeRecord>,
    participants: Vec<Participant>,
    /// INN of the store under test (owner of most codes; `isOwner` is judged against it by default).
    pub store_inn: String,
    /// Product groups where traceability has started (True API `isTracking`).
    pub tracking_groups: Vec<u16>,
    /// Master secret from which ФН secrets are derived when not set per drive (`tspiot.md` §9.1).
    pub master_secret: [u8; 32],
    fiscal_drives: Vec<FiscalDrive>,
    pos_software: Vec<PosSoftware>,
}

/// The identity (КИ) a code is registered under: `01`+GTIN+`21`+serial, or GTIN+serial of a pack.
pub fn identity(code: &str) -> Option<String> {
    markcert_codes::parse(code.as_bytes()).ok().map(|c| c.ki().to_string())
}

impl World {
    /// An empty world whose store has INN `store_inn`.
    pub fn new(store_inn: impl Into<String>) -> Self {
        World { store_inn: store_inn.into(), ..World::default() }
    }

    /// Add a product; its GTIN must be valid and its group known.
    pub fn add_product(&mut self, p: Product) -> Result<(), WorldError> {
        if !markcert_codes::gtin::is_valid_gtin14(p.gtin.as_bytes()) {
            return Err(WorldError::BadGtin { gtin: p.gtin });
        }
        if markcert_codes::groups::by_id(p.group).is_none() {
            return Err(WorldError::UnknownGroup { gtin: p.gtin, group: p.group });
        }
        if self.products.contains_key(&p.gtin) {
            return Err(WorldError::Duplicate { what: "product", key: p.gtin });
        }
        self.products.insert(p.gtin.clone(), p);
        Ok(())
    }

    /// Add a code; it must be a valid marking code whose identity is not registered yet.
    pub fn add_code(&mut self, record: CodeRecord) -> Result<(), WorldError> {
        let parsed = markcert_codes::parse(record.code.as_bytes())
            .map_err(|e| WorldError::BadCode { code: record.code.clone(), reason: e.to_string() })?;
        let key = parsed.ki().to_string();
        if self.codes.contains_key(&key) {
            return Err(WorldError::Duplicate { what: "code", key });
        }
        self.codes.insert(key, record);
        Ok(())
    }

    /// Replace the record of an already registered code (state changes after a sale, a block, …).
    pub fn update_code(&mut self, record: CodeRecord) -> Result<(), WorldError> {
        let key = identity(&record.code).ok_or_else(|| WorldError::BadCode {
            code: record.code.clone(),
            reason: "not a valid code".into(),
        })?;
        self.codes.insert(key, record);
        Ok(())
    }

    /// Replace the product of an already listed GTIN (prices, GTIN-level bans, the grey list).
    pub fn update_product(&mut self, p: Product) -> Result<(), WorldError> {
        if markcert_codes::groups::by_id(p.group).is_none() {
            return Err(WorldError::UnknownGroup { gtin: p.gtin, group: p.group });
        }
        match self.products.get_mut(&p.gtin) {
            Some(slot) => {
                *slot = p;
                Ok(())
            }
            None => Err(WorldError::BadGtin { gtin: p.gtin }),
        }
    }

    /// Number of registered codes.
    pub fn code_count(&self) -> usize {
        self.codes.len()
    }

    /// Number of products.
    pub fn product_count(&self) -> usize {
        self.products.len()
    }

    /// Add a participant.
    pub fn add_participant(&mut self, p: Participant) -> Result<(), WorldError> {
        if self.participants.iter().any(|q| q.inn == p.inn) {
            return Err(WorldError::Duplicate { what: "participant", key: p.inn });
        }
        self.participants.push(p);
        Ok(())
    }

    /// Register a fiscal drive (16-digit serial, 14–20-digit KKT serial, valid secret if given).
    pub fn add_fiscal_drive(&mut self, d: FiscalDrive) -> Result<(), WorldError> {
        let bad = |reason| WorldError::BadDevice { what: "fiscal drive", key: d.serial.clone(), reason };
        if !devices::digits(&d.serial, 16, 16) {
            return Err(bad("serial must be 16 digits"));
        }
        if !devices::digits(&d.kkt_serial, 14, 20) {
            return Err(bad("kkt_serial must be 14 to 20 digits"));
        }
        if d.auth_secret.as_deref().is_some_and(|h| crate::fnauth::secrets::parse_hex32(h).is_none()) {
            return Err(bad("auth_secret must be 64 hex digits"));
        }
        if self.fiscal_drives.iter().any(|f| f.serial == d.serial) {
            return Err(WorldError::Duplicate { what: "fiscal drive", key: d.serial });
        }
        self.fiscal_drives.push(d);
        Ok(())
    }

    /// The fiscal drive with this serial.
    pub fn fiscal_drive(&self, serial: &str) -> Option<&FiscalDrive> {
        self.fiscal_drives.iter().find(|f| f.serial == serial)
    }

    /// Every registered fiscal drive.
    pub fn fiscal_drives(&self) -> &[FiscalDrive] {
        &self.fiscal_drives
    }

    /// `K_fn` of a registered fiscal drive: its own secret, or the one derived from the master secret.
    pub fn fn_secret(&self, serial: &str) -> Option<crate::fnauth::FnSecret> {
        let d = self.fiscal_drive(serial)?;
        match d.auth_secret.as_deref() {
            Some(hex) => crate::fnauth::secrets::parse_hex32(hex),
            None => Some(crate::fnauth::derive_fn_secret(&self.master_secret, serial)),
        }
    }

    /// Register a POS program.
    pub fn add_pos_software(&mut self, p: PosSoftware) -> Result<(), WorldError> {
        if p.id.trim().is_empty() || p.token.trim().is_empty() {
            return Err(WorldError::BadDevice {
                what: "POS program",
                key: p.id,
                reason: "id and token are required",
            });
        }
        if self.pos_software.iter().any(|q| q.id == p.id) {
            return Err(WorldError::Duplicate { what: "POS program", key: p.id });
        }
        self.pos_software.push(p);
        Ok(())
    }

    /// Every registered POS program.
    pub fn pos_software(&self) -> &[PosSoftware] {
        &self.pos_software
    }

    /// The POS program with this registry id.
    pub fn pos_software_by_id(&self, id: &str) -> Option<&PosSoftware> {
        self.pos_software.iter().find(|p| p.id == id)
    }

    /// Give participant `inn` another `X-API-KEY`; false when there is no such participant.
    pub fn add_api_key(&mut self, inn: &str, key: ApiKey) -> bool {
        match self.participants.iter_mut().find(|p| p.inn == inn) {
            Some(p) => {
                p.api_keys.push(key);
                true
            }
            None => false,
        }
    }

    /// The product of a GTIN.
    pub fn product(&self, gtin: &str) -> Option<&Product> {
        self.products.get(gtin)
    }

    /// The record of the code with identity `ki` (see [`identity`]).
    pub fn code_by_identity(&self, ki: &str) -> Option<&CodeRecord> {
        self.codes.get(ki)
    }

    /// Every product, sorted by GTIN.
    pub fn products(&self) -> Vec<&Product> {
        let mut v: Vec<&Product> = self.products.values().collect();
        v.sort_by(|a, b| a.gtin.cmp(&b.gtin));
        v
    }

    /// Every code record, sorted by code.
    pub fn codes(&self) -> Vec<&CodeRecord> {
        let mut v: Vec<&CodeRecord> = self.codes.values().collect();
        v.sort_by(|a, b| a.code.cmp(&b.code));
        v
    }

    /// Participants.
    pub fn participants(&self) -> &[Participant] {
        &self.participants
    }

    /// The participant whose `X-API-KEY` is `token` and valid at `now_ms`.
    pub fn participant_by_api_key(&self, token: &str, now_ms: i64) -> Option<&Participant> {
        self.participants
            .iter()
            .find(|p| p.api_keys.iter().any(|k| k.token == token && k.expires_ms.is_none_or(|e| now_ms < e)))
    }

    /// Product group of a code's GTIN, from the catalogue.
    pub fn group_of(&self, gtin: &str) -> Option<u16> {
        self.products.get(gtin).map(|p| p.group)
    }
}

impl markcert_codes::normalize::LayoutCatalog for World {
    fn layouts_for(&self, gtin: &str) -> Option<Vec<markcert_codes::Layout>> {
        let group = markcert_codes::groups::by_id(self.group_of(gtin)?)?;
        let mut layouts = group.layouts.clone();
        layouts.push(markcert_codes::Layout::KiOnly);
        Some(layouts)
    }
}
