//! World files (TOML): products, codes with their states, participants, fiscal drives, POS programs. Dates may be absolute
//! (ISO-8601) or relative to the world clock at load time (`+30d`, `-2h`, `+15m`, `-10s`), so a world
//! file stays valid whenever it is loaded (spec `README.md` §3.4: dates are set relative to the clock
//! the implementation under test also sees).

use super::{
    CodeRecord, CodeState, Crypto, FiscalDrive, Origin, Participant, PosSoftware, Product, World, WorldError,
};
use serde::{Deserialize, Serialize};

/// The shape of a world file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldFile {
    /// INN of the store under test.
    #[serde(default = "default_store_inn")]
    pub store_inn: String,
    /// Product groups where traceability has started (`isTracking`).
    #[serde(default)]
    pub tracking_groups: Vec<u16>,
    /// Products.
    #[serde(default, rename = "product")]
    pub products: Vec<Product>,
    /// Codes.
    #[serde(default, rename = "code")]
    pub codes: Vec<CodeEntry>,
    /// Participants.
    #[serde(default, rename = "participant")]
    pub participants: Vec<Participant>,
    /// Master secret of the ФН authentication model, 64 hex digits (default: 32 zero bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_secret: Option<String>,
    /// Registered fiscal drives.
    #[serde(default, rename = "fiscal_drive")]
    pub fiscal_drives: Vec<FiscalDrive>,
    /// Registered POS programs.
    #[serde(default, rename = "pos_software")]
    pub pos_software: Vec<PosSoftware>,
}

fn default_store_inn() -> String {
    "7701000019".into()
}

/// A code as written in a world file: like [`CodeRecord`], with dates as text.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeEntry {
    /// The full code; ⟨GS⟩ as `\u001d` in TOML basic strings.
    pub code: String,
    /// Life-cycle state (default `introduced`).
    #[serde(default = "default_state")]
    pub state: CodeState,
    /// Blocking bodies.
    #[serde(default)]
    pub blocked_by: Vec<String>,
    /// Expiry: ISO-8601 or relative (`+5d`).
    #[serde(default)]
    pub expire: Option<String>,
    /// Production date: ISO-8601 or relative (`-2d`).
    #[serde(default)]
    pub production: Option<String>,
    /// Owner INN (default: the store).
    #[serde(default)]
    pub owner_inn: Option<String>,
    /// Grey-zone tobacco.
    #[serde(default)]
    pub gray_zone: bool,
    /// Crypto verdict.
    #[serde(default)]
    pub crypto: Crypto,
    /// Origin / cross-border verdict.
    #[serde(default)]
    pub origin: Origin,
    /// `eliminationState`.
    #[serde(default)]
    pub elimination_state: Option<u8>,
    /// `innerUnitCount`.
    #[serde(default)]
    pub inner_unit_count: Option<u32>,
    /// `soldUnitCount`.
    #[serde(default)]
    pub sold_unit_count: Option<u32>,
    /// Parent aggregate code.
    #[serde(default)]
    pub parent: Option<String>,
    /// An `errorCode` reported although every flag is positive (`true-api.md` §10.1 row 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u8>,
    /// Its `message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Label of the case this code is for.
    #[serde(default)]
    pub case: Option<String>,
}

fn default_state() -> CodeState {
    CodeState::Introduced
}

/// Parse a world file and build the world, resolving relative dates against `now_ms`.
pub fn load(text: &str, now_ms: i64) -> Result<World, WorldError> {
    let file: WorldFile = toml::from_str(text)?;
    build(file, now_ms)
}

/// Build a world from a parsed file.
pub fn build(file: WorldFile, now_ms: i64) -> Result<World, WorldError> {
    let mut world = World::new(file.store_inn.clone());
    world.tracking_groups = file.tracking_groups;
    for p in file.products {
        world.add_product(p)?;
    }
    for p in file.participants {
        world.add_participant(p)?;
    }
    if let Some(hex) = &file.master_secret {
        world.master_secret = crate::fnauth::secrets::parse_hex32(hex).ok_or_else(|| {
            WorldError::BadDevice { what: "master_secret", key: hex.clone(), reason: "must be 64 hex digits" }
        })?;
    }
    for d in file.fiscal_drives {
        world.add_fiscal_drive(d)?;
    }
    for p in file.pos_software {
        world.add_pos_software(p)?;
    }
    for c in file.codes {
        let record = CodeRecord {
            expire_ms: c.expire.as_deref().map(|d| resolve_date(d, now_ms)).transpose()?,
            production_ms: c.production.as_deref().map(|d| resolve_date(d, now_ms)).transpose()?,
            owner_inn: Some(c.owner_inn.unwrap_or_else(|| file.store_inn.clone())),
            code: c.code,
            state: c.state,
            blocked_by: c.blocked_by,
            gray_zone: c.gray_zone,
            crypto: c.crypto,
            origin: c.origin,
            elimination_state: c.elimination_state,
            inner_unit_count: c.inner_unit_count,
            sold_unit_count: c.sold_unit_count,
            parent: c.parent,
            error_code: c.error_code,
            error_message: c.error_message,
            case: c.case,
        };
        world.add_code(record)?;
    }
    Ok(world)
}

/// An ISO-8601 instant, or `±N` followed by `d`, `h`, `m` or `s` relative to `now_ms`.
pub fn resolve_date(text: &str, now_ms: i64) -> Result<i64, WorldError> {
    let bad = || WorldError::BadDate(text.to_string());
    let t = text.trim();
    if let Some(rest) =
        t.strip_prefix('+').map(|r| (1i64, r)).or_else(|| t.strip_prefix('-').map(|r| (-1, r)))
    {
        let (sign, body) = rest;
        let unit_at = body.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (num, unit) = body.split_at(unit_at);
        let n: i64 = num.parse().map_err(|_| bad())?;
        let ms = match unit {
            "d" => 86_400_000,
            "h" => 3_600_000,
            "m" => 60_000,
            "s" => 1_000,
            _ => return Err(bad()),
        };
        return n.checked_mul(ms).and_then(|d| now_ms.checked_add(sign * d)).ok_or_else(bad);
    }
    crate::clock::parse_iso(t).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    #[test]
    fn relative_and_absolute_dates() {
        assert_eq!(resolve_date("+1d", NOW).unwrap(), NOW + 86_400_000);
        assert_eq!(resolve_date("-2h", NOW).unwrap(), NOW - 7_200_000);
        assert_eq!(resolve_date("+15m", NOW).unwrap(), NOW + 900_000);
        assert_eq!(resolve_date("2026-01-01T00:00:00Z", 0).unwrap(), NOW);
        assert_eq!(resolve_date("2026-01-01T03:00:00+03:00", 0).unwrap(), NOW);
        for bad in ["", "+", "+d", "+5w", "tomorrow", "+99999999999999999d"] {
            assert!(resolve_date(bad, NOW).is_err(), "{bad}");
        }
    }

    #[test]
    fn loads_a_small_world() {
        let text = r#"
store_inn = "7701000019"

[[product]]
gtin = "04612345000438"
group = 8
name = "Молоко 3,2% 1 л"
price_kopecks = 8990
shelf_life_days = 10

[[code]]
code = "0104612345000438215aZ;q0\u001d93Jm4t"
expire = "-1h"
case = "expired"

[[code]]
code = "0104612345000438215K%x(1\u001d93pR7s\u001d3103000450"
state = "sold"

[[participant]]
inn = "7701000019"
name = "ООО Магазин"
api_keys = [{ token = "0f5c2a8e-4b1d-4c7a-9e3f-6d2b8a1c7e45" }]
"#;
        let w = load(text, NOW).unwrap();
        let milk = w.code_by_identity("0104612345000438215aZ;q0").unwrap();
        assert_eq!(milk.expire_ms, Some(NOW - 3_600_000));
        assert_eq!(milk.owner_inn.as_deref(), Some("7701000019"));
        assert_eq!(w.code_by_identity("0104612345000438215K%x(1").unwrap().state, CodeState::Sold);
        assert!(w.participant_by_api_key("0f5c2a8e-4b1d-4c7a-9e3f-6d2b8a1c7e45", NOW).is_some());
        assert_eq!(w.group_of("04612345000438"), Some(8));
    }

    #[test]
    fn an_unexplained_error_code_is_loaded_and_off_by_default() {
        let text = "[[product]]\ngtin = \"04612345000438\"\ngroup = 8\nname = \"x\"\nprice_kopecks = 1\n\
                    [[code]]\ncode = \"0104612345000438215aZ;q0\\u001d93Jm4t\"\nerror_code = 7\n\
                    error_message = \"Ключ недействителен\"\n\
                    [[code]]\ncode = \"0104612345000438215bY:r1\\u001d93Kn5u\"\n";
        let w = load(text, NOW).unwrap();
        let odd = w.code_by_identity("0104612345000438215aZ;q0").unwrap();
        assert_eq!((odd.error_code, odd.error_message.as_deref()), (Some(7), Some("Ключ недействителен")));
        let plain = w.code_by_identity("0104612345000438215bY:r1").unwrap();
        assert_eq!((plain.error_code, plain.error_message.as_deref()), (None, None));
        assert!(load("[[code]]\ncode = \"0104612345000438215aZ;q0\\u001d93Jm4t\"\nerror_code = 300\n", NOW)
            .is_err());
    }

    #[test]
    fn rejects_bad_entries_with_a_clear_error() {
        let bad_code = "[[code]]\ncode = \"0104612345000438215aZ;q093Jm4t\"\n";
        assert!(matches!(load(bad_code, NOW), Err(WorldError::BadCode { .. })));
        let dup = "[[code]]\ncode = \"0104612345000438215aZ;q0\\u001d93Jm4t\"\n[[code]]\ncode = \"0104612345000438215aZ;q0\\u001d93XXXX\"\n";
        assert!(matches!(load(dup, NOW), Err(WorldError::Duplicate { what: "code", .. })));
        let gtin = "[[product]]\ngtin = \"04612345000437\"\ngroup = 8\nname = \"x\"\nprice_kopecks = 1\n";
        assert!(matches!(load(gtin, NOW), Err(WorldError::BadGtin { .. })));
        let group = "[[product]]\ngtin = \"04612345000438\"\ngroup = 18\nname = \"x\"\nprice_kopecks = 1\n";
        assert!(matches!(load(group, NOW), Err(WorldError::UnknownGroup { .. })));
        assert!(matches!(load("nonsense = 1", NOW), Err(WorldError::Toml(_))));
        let fn_serial = "[[fiscal_drive]]\nserial = \"123\"\nkkt_serial = \"00107700000042\"\ninn = \"1\"\n";
        assert!(matches!(load(fn_serial, NOW), Err(WorldError::BadDevice { what: "fiscal drive", .. })));
        assert!(matches!(load("master_secret = \"00\"", NOW), Err(WorldError::BadDevice { .. })));
        let pos = "[[pos_software]]\nid = \"\"\ntoken = \"t\"\n";
        assert!(matches!(load(pos, NOW), Err(WorldError::BadDevice { what: "POS program", .. })));
    }

    #[test]
    fn fiscal_drives_pos_programs_and_the_master_secret() {
        let text = format!(
            "master_secret = \"{}\"\n\
             [[fiscal_drive]]\nserial = \"7380440700000123\"\nkkt_serial = \"00107700000042\"\ninn = \"7701000019\"\n\
             [[fiscal_drive]]\nserial = \"7380440700000130\"\nkkt_serial = \"00107700000059\"\ninn = \"7701000019\"\n\
             marking = false\nauth_secret = \"{}\"\n\
             [[pos_software]]\nid = \"pos-1\"\ntoken = \"k\"\n",
            "11".repeat(32),
            "22".repeat(32)
        );
        let w = load(&text, NOW).unwrap();
        assert_eq!(w.master_secret, [0x11; 32]);
        assert_eq!(
            w.fn_secret("7380440700000123"),
            Some(crate::fnauth::derive_fn_secret(&[0x11; 32], "7380440700000123"))
        );
        assert_eq!(w.fn_secret("7380440700000130"), Some([0x22; 32]), "a configured secret wins");
        assert!(!w.fiscal_drive("7380440700000130").unwrap().marking);
        assert_eq!(w.fn_secret("7380440700000999"), None);
        assert_eq!(w.pos_software_by_id("pos-1").unwrap().token, "k");
    }
}
