//! The settings of the ТС ПИоТ emulator with the spec's defaults (`tspiot.md` §4.4, §5, §6, §3.2;
//! `true-api.md` §13.3). Data only; `#[serde(default)]` so a partial TOML or JSON table is enough, and
//! unknown names are refused.

use super::mutant::TsPiotMutant;
use serde::{Deserialize, Serialize};

/// The CDN algorithm's parameters (`true-api.md` §13.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamOptions {
    /// `cdnCodesCheckTimeout`: online budget per check, real ms.
    pub online_budget_ms: u64,
    /// `cdnHealthCheckTimeout`: health-check timeout, real ms.
    pub health_timeout_ms: u64,
    /// Earliest list refresh after the last one, world s (6 h).
    pub refresh_min_s: u64,
    /// Latest list refresh after the last one, world s (7 h).
    pub refresh_max_s: u64,
    /// How long a failing host is blocked, world s (15 min).
    pub block_s: u64,
    /// Seed of the refresh-instant draw (reproducible runs).
    pub seed: u64,
}

impl Default for UpstreamOptions {
    fn default() -> Self {
        UpstreamOptions {
            online_budget_ms: 1500,
            health_timeout_ms: 2000,
            refresh_min_s: 21_600,
            refresh_max_s: 25_200,
            block_s: 900,
            seed: 0x7473_7069_6f74,
        }
    }
}

/// How `client_info` is checked (`tspiot.md` §3.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientInfoMode {
    /// Any non-empty values are accepted.
    #[default]
    Lenient,
    /// `(id, token)` must be a POS program registered in the world.
    Strict,
}

/// Where `inst` / `version` go in offline items (`tspiot.md` §4.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstPlacement {
    /// Next to `reqId` (default).
    #[default]
    Item,
    /// On each code object.
    Code,
    /// Both.
    Both,
}

/// What the 203 answer carries (`tspiot.md` §6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmergencyBody {
    /// `{"code":203,"message":"Аварийный режим","details":[]}`.
    #[default]
    Bare,
    /// The same plus a `codesResponse` without `reqId`.
    WithResults,
}

/// How the ТС ПИоТ authenticates to the True API (`tspiot.md` §9).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// ФН token (the target model); falls back to nothing: no token, no online check.
    #[default]
    Fn,
    /// `X-API-KEY` only (refused by the True API after the cut-off).
    XApiKey,
    /// ФН token when it can be obtained, else `X-API-KEY`.
    FnThenXApiKey,
}

/// The ТС ПИоТ's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TsPiotOptions {
    /// The CDN algorithm.
    pub upstream: UpstreamOptions,
    /// `codesCheckTimeout`: from the POS request to the answer, real ms.
    pub codes_check_timeout_ms: u64,
    /// `client_info` checking.
    pub client_info: ClientInfoMode,
    /// `inst` / `version` placement in offline items.
    pub inst_placement: InstPlacement,
    /// `reqTimestamp` as a JSON string (some recorded versions) instead of an integer.
    pub timestamp_as_string: bool,
    /// The 203 body.
    pub emergency_body: EmergencyBody,
    /// After this many world seconds in emergency mode, the next check probes online again.
    pub emergency_probe_s: u64,
    /// Treat True API 418 like 203 (one client's reading; default: a failure → ЛМ ЧЗ).
    pub teapot_is_emergency: bool,
    /// Ask the ЛМ ЧЗ through API v2 (`/api/v2/cis/outCheck`) instead of v1.
    pub lm_api_v2: bool,
    /// Start the ЛМ ЧЗ request at t0, in parallel with the online check (allowed by §5).
    pub lm_in_parallel: bool,
    /// Authentication to the True API.
    pub auth: AuthMode,
    /// Renew the ФН token when less than this many world seconds are left (10 min).
    pub token_renew_before_s: u64,
    /// Instance id reported by `/info` (`tspiotId`).
    pub tspiot_id: String,
    /// For mutation testing only: one deliberate defect ([`TsPiotMutant`]) the instance runs with, so
    /// that the certification suite can prove it catches it. `None` (the default) is the reference
    /// behaviour; never set it for anything but a mutation run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutant: Option<TsPiotMutant>,
}

impl Default for TsPiotOptions {
    fn default() -> Self {
        TsPiotOptions {
            upstream: UpstreamOptions::default(),
            codes_check_timeout_ms: 1800,
            client_info: ClientInfoMode::Lenient,
            inst_placement: InstPlacement::Item,
            timestamp_as_string: false,
            emergency_body: EmergencyBody::Bare,
            emergency_probe_s: 60,
            teapot_is_emergency: false,
            lm_api_v2: false,
            lm_in_parallel: false,
            auth: AuthMode::FnThenXApiKey,
            token_renew_before_s: 600,
            tspiot_id: "00107700000099".into(),
            mutant: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_spec_defaults() {
        let o = TsPiotOptions::default();
        assert_eq!(
            (o.upstream.online_budget_ms, o.upstream.health_timeout_ms, o.codes_check_timeout_ms),
            (1500, 2000, 1800)
        );
        assert_eq!(
            (o.upstream.refresh_min_s, o.upstream.refresh_max_s, o.upstream.block_s),
            (21_600, 25_200, 900)
        );
        assert_eq!(
            (o.client_info, o.inst_placement, o.emergency_body),
            (ClientInfoMode::Lenient, InstPlacement::Item, EmergencyBody::Bare)
        );
        assert!(!o.timestamp_as_string && !o.teapot_is_emergency);
        assert_eq!(o.emergency_probe_s, 60);
        assert_eq!(o.mutant, None);
    }

    #[test]
    fn partial_tables_and_typos() {
        let o: TsPiotOptions =
            toml::from_str("client_info = \"strict\"\n[upstream]\nonline_budget_ms = 900\n").unwrap();
        assert_eq!(
            (o.client_info, o.upstream.online_budget_ms, o.upstream.block_s),
            (ClientInfoMode::Strict, 900, 900)
        );
        assert!(toml::from_str::<TsPiotOptions>("codes_check_timout_ms = 1").is_err());
    }

    #[test]
    fn the_mutant_is_read_by_its_kebab_name_and_not_written_when_absent() {
        let o: TsPiotOptions = toml::from_str("mutant = \"switch-on-429\"\n").unwrap();
        assert_eq!(o.mutant, Some(TsPiotMutant::SwitchOn429));
        assert!(toml::from_str::<TsPiotOptions>("mutant = \"no-such-defect\"\n").is_err());
        let json = serde_json::to_value(TsPiotOptions::default()).unwrap();
        assert!(json.get("mutant").is_none(), "{json}");
        let back: TsPiotOptions = serde_json::from_value(json).unwrap();
        assert_eq!(back, TsPiotOptions::default());
    }
}
