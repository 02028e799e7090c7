//! The `lm.*` settings of the ЛМ ЧЗ emulator (spec `local-module.md` §2, §4.3, §6, §8, §9), with the
//! spec's defaults. Data only: the state machine that obeys them lives in `model.rs`, the HTTP layer
//! that reads the credentials in `server.rs`.
//!
//! Every field has a default (`#[serde(default)]`), so a partial TOML or JSON table is enough;
//! unknown names are refused so that a typo in a scenario file does not pass silently.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The installation id used when none is configured: the spec's example (`local-module.md` §4.1).
pub const DEFAULT_INST: Uuid = Uuid::from_u128(0x9333e653_5af4_4cc2_b969_7d9ec2900bc5);

/// Unit of `lastSync` / `lastUpdate` in `/status` (`lm.time_unit`, spec §4.1 "Uncertain").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Unix milliseconds (default).
    #[default]
    Ms,
    /// Unix seconds (rounded toward the past).
    S,
}

impl TimeUnit {
    /// `unix_ms` expressed in this unit.
    pub fn from_ms(self, unix_ms: i64) -> i64 {
        match self {
            TimeUnit::Ms => unix_ms,
            TimeUnit::S => unix_ms.div_euclid(1000),
        }
    }
}

/// When the snapshot `version` UUID changes (`lm.version_policy`, spec §8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionPolicy {
    /// A new UUID only after a sync that changed the lists (default).
    #[default]
    PerChange,
    /// A new UUID after every sync.
    PerSync,
}

/// Which weakly sourced per-code fields the v2 `outCheck` emits (`lm.v2_fields`, spec §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct V2Fields {
    /// `sold`: registered as sold through this module.
    pub sold: bool,
    /// `mrp` from the price table (when known).
    pub mrp: bool,
    /// `smp` from the price table (when known).
    pub smp: bool,
}

impl Default for V2Fields {
    fn default() -> Self {
        V2Fields { sold: true, mrp: true, smp: true }
    }
}

/// Configurable ЛМ ЧЗ behaviour (`lm.*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LmOptions {
    /// Basic-auth login (factory default `admin`).
    pub login: String,
    /// Basic-auth password (factory default `admin`).
    pub password: String,
    /// Refuse calls without `X-ClientId` (default: accepted and logged, not required).
    pub require_client_id: bool,
    /// Accept `Authorization: Token <UUID>` (default off).
    pub token_auth: bool,
    /// Seconds from `/init` to `ready` (while the operator link is up).
    pub init_duration_s: u64,
    /// Seconds between syncs while the operator link is up; each sync sets `lastSync`.
    pub sync_interval_s: u64,
    /// `sync_error` once `now − lastSync` exceeds this many seconds (72 h).
    pub sync_error_after_s: u64,
    /// Unit of `lastSync` / `lastUpdate` in `/status`.
    pub time_unit: TimeUnit,
    /// Installation id (`inst`).
    pub inst: Uuid,
    /// Draw a new `inst` on every `/init` (default: `inst` survives re-initialisation).
    pub inst_changes_on_init: bool,
    /// When the snapshot `version` changes.
    pub version_policy: VersionPolicy,
    /// Module software version: `version` in `/status`.
    pub software_version: String,
    /// Operator-side URL shown as `serviceUrl`.
    pub service_url: String,
    /// Module name shown as `name`.
    pub name: String,
    /// Database version label shown as `dbVersion`.
    pub db_version: String,
    /// Emit the top-level `version` in v1 `outCheck` answers.
    pub v1_emit_version: bool,
    /// Per-code fields of v2 `outCheck` answers.
    pub v2_fields: V2Fields,
    /// Emit `printView` in v2 `outCheck` answers too.
    pub v2_print_view: bool,
    /// Days a sold-list entry is kept (world time).
    pub sold_retention_days: u32,
    /// Largest `limit` accepted by `GET /api/v2/cis/sold`.
    pub sold_limit_max: usize,
    /// Seed of the generator of snapshot `version` (and new `inst`) UUIDs; `None` = derived from `inst`.
    /// Either way two runs with the same options draw the same UUIDs.
    pub version_seed: Option<u64>,
}

impl Default for LmOptions {
    fn default() -> Self {
        LmOptions {
            login: "admin".into(),
            password: "admin".into(),
            require_client_id: false,
            token_auth: false,
            init_duration_s: 30,
            sync_interval_s: 300,
            sync_error_after_s: 259_200,
            time_unit: TimeUnit::Ms,
            inst: DEFAULT_INST,
            inst_changes_on_init: false,
            version_policy: VersionPolicy::PerChange,
            software_version: "1.4.2".into(),
            service_url: "https://rsapi.crpt.ru".into(),
            name: "store-1".into(),
            db_version: "2026.01.01-0042".into(),
            v1_emit_version: true,
            v2_fields: V2Fields::default(),
            v2_print_view: false,
            sold_retention_days: 30,
            sold_limit_max: 1000,
            version_seed: None,
        }
    }
}

/// `secs` seconds as milliseconds, saturating at `i64::MAX`.
pub(crate) fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

impl LmOptions {
    /// Initialization duration in ms.
    pub fn init_duration_ms(&self) -> i64 {
        secs_to_ms(self.init_duration_s)
    }

    /// Sync interval in ms, at least 1 (a zero interval means "sync on every call").
    pub fn sync_interval_ms(&self) -> i64 {
        secs_to_ms(self.sync_interval_s).max(1)
    }

    /// The `sync_error` threshold in ms.
    pub fn sync_error_after_ms(&self) -> i64 {
        secs_to_ms(self.sync_error_after_s)
    }

    /// Sold-list retention in ms.
    pub fn sold_retention_ms(&self) -> i64 {
        secs_to_ms(u64::from(self.sold_retention_days) * 86_400)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_spec_defaults() {
        let o = LmOptions::default();
        assert_eq!((o.login.as_str(), o.password.as_str()), ("admin", "admin"));
        assert!(!o.require_client_id && !o.token_auth && !o.inst_changes_on_init && !o.v2_print_view);
        assert_eq!((o.init_duration_s, o.sync_interval_s, o.sync_error_after_s), (30, 300, 259_200));
        assert_eq!(o.inst.to_string(), "9333e653-5af4-4cc2-b969-7d9ec2900bc5");
        assert_eq!(o.time_unit, TimeUnit::Ms);
        assert_eq!(o.version_policy, VersionPolicy::PerChange);
        assert!(o.v1_emit_version);
        assert_eq!(o.v2_fields, V2Fields { sold: true, mrp: true, smp: true });
        assert_eq!((o.sold_retention_days, o.sold_limit_max), (30, 1000));
        assert_eq!(o.sync_error_after_ms(), 72 * 3_600_000);
    }

    #[test]
    fn partial_tables_fill_in_defaults() {
        let o: LmOptions =
            toml::from_str("time_unit = \"s\"\nversion_policy = \"per_sync\"\n[v2_fields]\nmrp = false\n")
                .unwrap();
        assert_eq!(o.time_unit, TimeUnit::S);
        assert_eq!(o.version_policy, VersionPolicy::PerSync);
        assert_eq!(o.v2_fields, V2Fields { sold: true, mrp: false, smp: true });
        assert_eq!(o.login, "admin");
        let o: LmOptions =
            serde_json::from_str(r#"{"inst":"c58c2c44-b56e-44b9-92c9-2b0ebd10f428","version_seed":7}"#)
                .unwrap();
        assert_eq!(o.inst.to_string(), "c58c2c44-b56e-44b9-92c9-2b0ebd10f428");
        assert_eq!(o.version_seed, Some(7));
    }

    #[test]
    fn unknown_names_are_refused() {
        assert!(toml::from_str::<LmOptions>("sync_intervall_s = 5").is_err());
        assert!(toml::from_str::<LmOptions>("[v2_fields]\nprice = true").is_err());
        assert!(toml::from_str::<LmOptions>("time_unit = \"us\"").is_err());
    }

    #[test]
    fn arithmetic_saturates() {
        let o = LmOptions { sync_interval_s: 0, init_duration_s: u64::MAX, ..LmOptions::default() };
        assert_eq!(o.sync_interval_ms(), 1);
        assert_eq!(o.init_duration_ms(), i64::MAX);
        assert_eq!(TimeUnit::S.from_ms(-1), -1);
        assert_eq!(TimeUnit::S.from_ms(1_767_225_600_999), 1_767_225_600);
    }
}
