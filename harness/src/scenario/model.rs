//! The scenario model: the typed shape of a scenario file (TOML), as serde reads it.
//!
//! Everything the file says is here, unresolved: step references are kept as written
//! ([`StepRef`]), code references name a world case ([`CodeRef`]). [`super::validate`] checks
//! the cross-references; the runner resolves them. Spans ([`Spanned`]) are kept on the parts that
//! semantic errors point at; they serialize as their bare value.

use std::fmt;

use markcert_emulators::faults::FaultRule;
use markcert_emulators::world::file::CodeEntry;
use markcert_emulators::world::Product;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use toml::Spanned;

/// One scenario file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique id: lowercase ASCII letters, digits and `-`.
    pub id: Spanned<String>,
    /// One-line human title.
    pub title: String,
    /// References to the spec / regulation the scenario checks (e.g. `"spec README.md §6.2"`).
    #[serde(default)]
    pub requirements: Vec<String>,
    /// Ids of the certification cases (spec `cases.md`, e.g. `BAN-EXPIRED`) this scenario covers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<String>,
    /// MUST (a miss fails the run) or SHOULD (a miss warns).
    pub level: Level,
    /// Roles under test (default: `pos`).
    #[serde(default = "default_roles")]
    pub roles: Vec<Role>,
    /// Features the SUT must declare; otherwise the scenario is skipped.
    #[serde(default)]
    pub features: Vec<Feature>,
    /// Free tags for `--filter` and reports.
    #[serde(default)]
    pub tags: Vec<String>,
    /// `default`, or `long` for cases that need real time (≥ 15 min; run with `--profile long`).
    #[serde(default)]
    pub profile: Profile,
    /// The world the emulators start with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world: Option<WorldSpec>,
    /// KKT controls for this scenario: a merge patch of the KKT options (`docs/kkt.md`, e.g.
    /// `[kkt.grading] excise_groups = [3, 12, 15, 16]`), applied before the SUT starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kkt: Option<serde_json::Value>,
    /// The True API stops accepting `X-API-KEY` this long after the scenario starts (`true-api.md`
    /// §9.1; default: the world's cut-off, 2026-10-01, already past).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xapikey_cutoff_after: Option<Duration>,
    /// Settings of the emulated ТС ПИоТ for this scenario: a merge patch of its options
    /// (`[tspiot] timestamp_as_string = true`, `[tspiot.upstream] …`). Role `pos` only: in role
    /// `tspiot` the ТС ПИоТ is the implementation under test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tspiot: Option<serde_json::Value>,
    /// Settings of the emulated True API hosts: a merge patch of their options (`[true_api] nulls = …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub true_api: Option<serde_json::Value>,
    /// Settings of the emulated ЛМ ЧЗ: a merge patch of its options (`[lm] api_v2 = …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lm: Option<serde_json::Value>,
    /// Serve the emulated ТС ПИоТ's POS API over HTTPS with a fresh self-signed certificate (spec
    /// `tspiot.md` §2); the POS finds the certificate in `endpoints.tspiot.ca_pem`. Role `pos`, mode
    /// `tspiot`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tspiot_tls: bool,
    /// Fault timeline: rules set and cleared at step boundaries or world-time offsets.
    #[serde(default)]
    pub faults: Vec<Spanned<FaultEvent>>,
    /// What the harness does, in order (numbered from 1).
    pub steps: Vec<Spanned<Step>>,
    /// Where the scenario came from (file path or the name given to `load_str`); not read from the file.
    #[serde(skip)]
    pub source: String,
    /// Assertions on the trace and the fiscal documents, checked after the last step.
    #[serde(default, rename = "assert")]
    pub asserts: Vec<Spanned<Assertion>>,
}

fn default_roles() -> Vec<Role> {
    vec![Role::Pos]
}

/// Requirement level (RFC 2119).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// A miss is a `fail`.
    Must,
    /// A miss is a `warn`.
    Should,
}

/// Which run profile a scenario belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Run by default (fast: world time moves with `advance_clock`).
    #[default]
    Default,
    /// Needs real time (timers inside the implementation under test); only with `--profile long`.
    Long,
}

impl Scenario {
    /// The batch label of step `n` (from 1), when it is a scan of a batch.
    pub fn batch_of(&self, n: usize) -> Option<&str> {
        match self.steps.get(n.checked_sub(1)?)?.get_ref() {
            Step::Scan { batch: Some(b), .. } => Some(b.as_str()),
            _ => None,
        }
    }
}

/// A role the harness plays against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A POS program (through the adapter protocol).
    Pos,
    /// A ТС ПИоТ local module.
    Tspiot,
}

/// A feature a SUT declares in `init_ok`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// Checks through a ТС ПИоТ.
    Tspiot,
    /// Checks directly against True API and ЛМ ЧЗ.
    Direct,
    /// Falls back to ЛМ ЧЗ when True API is unavailable.
    LmFallback,
    /// Return receipts.
    Returns,
    /// Weighted goods.
    Weighted,
    /// Fractional quantities of marked goods.
    Fractional,
    /// Several scans checked together in one request (`scan_batch`).
    Batch,
}

/// `[world]`: a base world plus inline additions.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldSpec {
    /// `"default"` (the embedded default world) or a world file path, relative to the scenario file.
    #[serde(default = "default_base")]
    pub base: String,
    /// Extra products (shape of a world file's `[[product]]`).
    #[serde(default, rename = "product")]
    pub products: Vec<Product>,
    /// Extra codes with their states (shape of a world file's `[[code]]`); give them a `case` label to
    /// scan them by reference.
    #[serde(default, rename = "code")]
    pub codes: Vec<CodeEntry>,
}

fn default_base() -> String {
    "default".into()
}

impl WorldSpec {
    /// True when the base is the embedded default world.
    pub fn is_default_base(&self) -> bool {
        self.base == "default"
    }
}

/// One entry of the fault timeline: exactly one of `set` and `clear`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultEvent {
    /// When: a step number (before that step runs) or a world-time offset from the start (`"15m"`).
    pub at: At,
    /// The rule to install (the control API's rule shape); give it a `name` to clear it later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<FaultRule>,
    /// Name of a rule set earlier to remove, or `"*"` for every rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear: Option<String>,
}

/// When a timeline entry applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum At {
    /// Before the step with this reference runs.
    Step(StepRef),
    /// At this world-time offset from the scenario start.
    Offset(Duration),
}

impl Serialize for At {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            At::Step(StepRef::Number(n)) => s.serialize_u64(*n),
            At::Step(StepRef::Label(l)) => s.serialize_str(&format!("step:{l}")),
            At::Offset(d) => d.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for At {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = At;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a step number (3), a step label (\"step:pay\") or a world-time offset (\"15m\")")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<At, E> {
                StepRef::from_i64(v).map(At::Step)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<At, E> {
                Ok(At::Step(StepRef::Number(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<At, E> {
                match v.strip_prefix("step:") {
                    Some(label) => Ok(At::Step(StepRef::Label(label.to_string()))),
                    None => Duration::parse(v).map(At::Offset).map_err(E::custom),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A reference to a step: its number (from 1, in file order) or its `id` label.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StepRef {
    /// 1-based position in `steps`.
    Number(u64),
    /// The `id` given to a step.
    Label(String),
}

impl StepRef {
    fn from_i64<E: de::Error>(v: i64) -> Result<StepRef, E> {
        u64::try_from(v).map(StepRef::Number).map_err(|_| E::custom(format!("step number {v} is negative")))
    }
}

impl fmt::Display for StepRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepRef::Number(n) => write!(f, "step {n}"),
            StepRef::Label(l) => write!(f, "step \"{l}\""),
        }
    }
}

impl Serialize for StepRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StepRef::Number(n) => s.serialize_u64(*n),
            StepRef::Label(l) => s.serialize_str(l),
        }
    }
}

impl<'de> Deserialize<'de> for StepRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StepRef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a step number (from 1) or a step id")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StepRef, E> {
                StepRef::from_i64(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StepRef, E> {
                Ok(StepRef::Number(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StepRef, E> {
                Ok(StepRef::Label(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration written as a sum of `<integer><unit>` parts, units `d`, `h`, `m`, `s`, `ms`
/// (`"73h"`, `"1h30m"`, `"500ms"`). Kept in milliseconds; written back in its canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    /// Length in milliseconds.
    pub ms: u64,
}

impl Duration {
    /// Parses `"73h"`, `"1h30m"`, `"500ms"`, `"0s"`.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let bad =
            |why: &str| format!("bad duration \"{text}\": {why} (write e.g. \"73h\", \"1h30m\", \"500ms\")");
        if text.is_empty() {
            return Err(bad("empty"));
        }
        let mut rest = text;
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if digits == 0 {
                return Err(bad("expected a number"));
            }
            let n: u64 = rest[..digits].parse().map_err(|_| bad("number too large"))?;
            rest = &rest[digits..];
            let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
            let unit = match &rest[..unit_len] {
                "d" => 86_400_000,
                "h" => 3_600_000,
                "m" => 60_000,
                "s" => 1_000,
                "ms" => 1,
                "" => return Err(bad("missing unit")),
                _ => return Err(bad("unknown unit")),
            };
            rest = &rest[unit_len..];
            total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(|| bad("too large"))?;
        }
        Ok(Duration { ms: total })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.ms;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
            if ms >= size {
                write!(f, "{}{unit}", ms / size)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Duration::parse(&text).map_err(de::Error::custom)
    }
}

/// Receipt kind for `open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// A sale receipt.
    Sale,
    /// A return receipt.
    Return,
}

/// Payment for `close`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payment {
    /// Cash (default).
    #[default]
    Cash,
    /// Card.
    Card,
}

/// One step, tagged by `do`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Open a receipt (`open_receipt`).
    Open {
        /// Label other parts refer to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// `sale` or `return`.
        kind: ReceiptKind,
    },
    /// Scan a code into the open receipt (`scan`).
    Scan {
        /// Label other parts refer to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// Which code.
        code: CodeRef,
        /// Scanner profile (`markcert codes profiles`); none means the canonical code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scanner: Option<String>,
        /// Price in kopecks (default: the product's price).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        price_kopecks: Option<u64>,
        /// Quantity (default 1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quantity: Option<f64>,
        /// Part of a piece package sold (`"1/10"`: tags 1293/1294; needs feature `fractional`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fraction: Option<String>,
        /// Batch label: consecutive `scan` steps with the same label go to the SUT as one
        /// `scan_batch` (needs feature `batch`), to be checked in one request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        batch: Option<String>,
        /// Expected decision.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect: Option<Expect>,
    },
    /// Return into the open return receipt the item scanned at an earlier step.
    Return {
        /// Label other parts refer to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The `scan` step whose item comes back.
        of: StepRef,
        /// Scanner profile; none means the canonical code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scanner: Option<String>,
        /// Expected decision.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect: Option<Expect>,
    },
    /// Close the open receipt (`close_receipt`).
    Close {
        /// Label other parts refer to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// Payment (default cash).
        #[serde(default)]
        payment: Payment,
        /// `accepted`: the receipt closes with a fiscal document; `rejected`: the POS refuses.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect: Option<Expect>,
    },
    /// Cancel the open receipt (`cancel_receipt`).
    Cancel {
        /// Label other parts refer to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// Move the world clock forward.
    AdvanceClock {
        /// Label other parts refer to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// How far (`"73h"`).
        by: Duration,
    },
    /// Install a fault rule now.
    SetFault {
        /// Label other parts refer to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The rule (control API shape).
        rule: FaultRule,
    },
    /// Remove a fault rule by name, or every rule (`name` omitted).
    ClearFault {
        /// Label other parts refer to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// Rule name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Make the ЛМ ЧЗ synchronise with the central database now.
    LmSync {
        /// Label other parts refer to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// Cut or restore the ЛМ ЧЗ's link to the operator (its synchronisation): while it is down the
    /// module keeps answering from its last snapshot until `lastSync` is 72 h old (then 400 / 4050).
    LmLink {
        /// Label other parts refer to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// `false` cuts the link, `true` restores it (the module then runs an overdue sync).
        up: bool,
    },
    /// Let real time pass (the world clock follows).
    Wait {
        /// Label other parts refer to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// How long (`"2s"`).
        #[serde(rename = "for")]
        duration: Duration,
    },
    /// Change the state of a world code now: a merge patch of its record (`docs/emulators.md`, e.g.
    /// `set = { blocked = { ogvs = ["RPN"] } }`). The ЛМ ЧЗ sees it at its next synchronisation.
    SetCode {
        /// Label other parts refer to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// Which code.
        code: CodeRef,
        /// The merge patch of its record.
        set: serde_json::Value,
    },
    /// From now on the True API discovery host's `cdn/info` lists these CDN hosts (numbers from 1, in
    /// this order); the next list refresh finds the change. Hosts beyond the three default ones are
    /// started with `[true_api] spare_hosts = N`.
    CdnList {
        /// Label other parts refer to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The CDN hosts listed (`[2, 3, 4]`: cdn-2, cdn-3, cdn-4).
        hosts: Vec<usize>,
    },
    /// Role `tspiot`: send `POST /api/v{version}/codes/check` to the ТС ПИоТ under test, as a POS does.
    Check {
        /// Label other parts refer to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The codes, sent as base64 of their bytes (in this order, before `raw`).
        #[serde(default)]
        codes: Vec<CodeRef>,
        /// Entries sent verbatim in `codes[]` after the encoded ones (e.g. text that is not base64).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        raw: Vec<String>,
        /// API version: 1, 2 (default) or 3.
        #[serde(default = "default_api_version")]
        version: u8,
        /// What the answer must be.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect: Option<CheckExpect>,
    },
    /// Role `tspiot`: `GET /api/v{version}/info` on the ТС ПИоТ under test; the registration fields
    /// must match the KKT and ФН it is bound to.
    Info {
        /// Label other parts refer to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// API version: 1, 2 (default) or 3.
        #[serde(default = "default_api_version")]
        version: u8,
    },
}

fn default_api_version() -> u8 {
    2
}

/// What a `check` step's answer must be (role `tspiot`). Whatever is given is checked; the runner
/// also always checks the wrapping of the version, the pass-through of upstream answers, offline
/// items against the ЛМ ЧЗ and the code bytes sent upstream (`docs/scenarios.md`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckExpect {
    /// HTTP status (200, 203, 400, 514, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// With 200: every item is offline (`true`) or online (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline: Option<bool>,
    /// With 200: `isBlocked` of every code object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<bool>,
    /// With an online 200: the True API host (`cdn-2`, `cdn-*`) that issued the `reqId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The answer came within this many ms of the request (plus the run's timing tolerance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_ms: Option<u64>,
}

impl Step {
    /// The `do` name of this step.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Open { .. } => "open",
            Step::Scan { .. } => "scan",
            Step::Return { .. } => "return",
            Step::Close { .. } => "close",
            Step::Cancel { .. } => "cancel",
            Step::AdvanceClock { .. } => "advance_clock",
            Step::SetFault { .. } => "set_fault",
            Step::ClearFault { .. } => "clear_fault",
            Step::LmSync { .. } => "lm_sync",
            Step::LmLink { .. } => "lm_link",
            Step::Wait { .. } => "wait",
            Step::SetCode { .. } => "set_code",
            Step::CdnList { .. } => "cdn_list",
            Step::Check { .. } => "check",
            Step::Info { .. } => "info",
        }
    }

    /// The step's `id` label, if any.
    pub fn id(&self) -> Option<&str> {
        match self {
            Step::Open { id, .. }
            | Step::Scan { id, .. }
            | Step::Return { id, .. }
            | Step::Close { id, .. }
            | Step::Cancel { id }
            | Step::AdvanceClock { id, .. }
            | Step::SetFault { id, .. }
            | Step::ClearFault { id, .. }
            | Step::LmSync { id }
            | Step::LmLink { id, .. }
            | Step::Wait { id, .. }
            | Step::SetCode { id, .. }
            | Step::CdnList { id, .. }
            | Step::Check { id, .. }
            | Step::Info { id, .. } => id.as_deref(),
        }
    }

    /// The expectation, on the steps that can carry one (`scan`, `return`, `close`).
    pub fn expect(&self) -> Option<&Expect> {
        match self {
            Step::Scan { expect, .. } | Step::Return { expect, .. } | Step::Close { expect, .. } => {
                expect.as_ref()
            }
            _ => None,
        }
    }

    /// True for the steps that put a code on the wire (`scan`, `return`).
    pub fn carries_code(&self) -> bool {
        matches!(self, Step::Scan { .. } | Step::Return { .. })
    }

    /// The role whose implementation a step drives: `Some(Pos)` for the receipt steps, `Some(Tspiot)`
    /// for `check` / `info`, `None` for the steps on the emulated world (clock, faults, ЛМ ЧЗ, codes).
    pub fn role(&self) -> Option<Role> {
        match self {
            Step::Open { .. }
            | Step::Scan { .. }
            | Step::Return { .. }
            | Step::Close { .. }
            | Step::Cancel { .. } => Some(Role::Pos),
            Step::Check { .. } | Step::Info { .. } => Some(Role::Tspiot),
            _ => None,
        }
    }
}

/// Reads a `"n/m"` fraction (both positive integers).
pub fn parse_fraction(text: &str) -> Result<(u64, u64), String> {
    let (n, m) =
        text.split_once('/').ok_or_else(|| format!("fraction {text:?}: write n/m, e.g. \"1/10\""))?;
    let n: u64 = n.trim().parse().map_err(|_| format!("fraction {text:?}: n is not a whole number"))?;
    let m: u64 = m.trim().parse().map_err(|_| format!("fraction {text:?}: m is not a whole number"))?;
    if n == 0 || m == 0 {
        return Err(format!("fraction {text:?}: n and m must be at least 1"));
    }
    Ok((n, m))
}

/// Which code to scan: a literal code, or a case of the world selected by labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CodeRef {
    /// A literal code (⟨GS⟩ as `\u001d`); it may be absent from the world (→ `not_found`).
    Literal(String),
    /// A world code chosen by case label and optional group / layout.
    Case(CaseSelector),
}

/// Selects a code of the world by its `case` label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseSelector {
    /// Case label (`in-circulation`, `expired`, `sold`, … or one given to an inline code).
    pub case: String,
    /// Product group code (`milk`, `tobacco`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Code layout (`milk`, `tobacco-pack`, `s13-93`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// Which of the matching codes, from 1 (default 1); distinct numbers give distinct codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nth: Option<u32>,
}

impl<'de> Deserialize<'de> for CodeRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CodeRef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a literal code or a table { case = …, group = …, layout = …, nth = … }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CodeRef, E> {
                Ok(CodeRef::Literal(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CodeRef, A::Error> {
                CaseSelector::deserialize(de::value::MapAccessDeserializer::new(map)).map(CodeRef::Case)
            }
        }
        d.deserialize_any(V)
    }
}

/// The POS's decision on an item and the reason vocabulary are the adapter protocol's own (one list
/// for what a SUT may answer and what a scenario may expect).
pub use crate::adapter::protocol::{Decision, Reason};

/// What a step must produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `accepted` or `rejected`.
    pub decision: Decision,
    /// Required reason (only with `rejected`); omitted means any reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

/// A credential a True API call presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthScheme {
    /// `Authorization: Bearer <ФН token>`.
    Bearer,
    /// `X-API-KEY`.
    XApiKey,
}

impl AuthScheme {
    /// The trace note the True API hosts write for a call with this credential.
    pub fn trace_note(self) -> &'static str {
        match self {
            AuthScheme::Bearer => "auth=bearer",
            AuthScheme::XApiKey => "auth=x-api-key",
        }
    }
}

/// A scenario-level assertion on the trace and the fiscal documents, tagged by `that`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "that", rename_all = "snake_case", deny_unknown_fields)]
pub enum Assertion {
    /// The code of a scan/return step was checked (ТС ПИоТ, or True API / ЛМ ЧЗ in direct mode)
    /// before the KKT was asked to sell it.
    CheckBeforeSell {
        /// A `scan` or `return` step.
        step: StepRef,
    },
    /// The receipt item of a step carries tag 1265 matching the check made for it (UUID and time).
    #[serde(rename = "receipt_1265_matches_check")]
    Receipt1265MatchesCheck {
        /// A `scan` or `return` step.
        step: StepRef,
    },
    /// The receipt items of these steps (scans of one batch) carry one and the same tag 1265, and it
    /// names one check whose codes include every one of theirs (true-api.md §12.2 rule 2).
    #[serde(rename = "receipt_1265_shared")]
    Receipt1265Shared {
        /// Two or more `scan` steps.
        steps: Vec<StepRef>,
    },
    /// The receipt item of a step has a tag 1265 containing this text (e.g. `&Inst=`).
    #[serde(rename = "receipt_1265_contains")]
    Receipt1265Contains {
        /// A `scan` or `return` step.
        step: StepRef,
        /// Text to find.
        text: String,
    },
    /// The receipt item of a step has no tag 1260 (sale without an industry requisite).
    #[serde(rename = "no_1260")]
    No1260 {
        /// A `scan` or `return` step.
        step: StepRef,
    },
    /// No call reached a host (optionally: an endpoint) during a world-time window after a step.
    NoCalls {
        /// Host name as in the trace (`cdn-1`, `cdn-*`, …).
        host: String,
        /// Endpoint path (trailing `*` is a prefix); omitted means any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
        /// Window length.
        #[serde(rename = "for")]
        window: Duration,
        /// The window starts when this step ends.
        after_step: StepRef,
    },
    /// Counts the calls that reached a host (optionally: an endpoint, a status) while steps ran.
    Calls {
        /// Host name as in the trace (`cdn-1`, `cdn-*`, `discovery`, `lm`, …).
        host: String,
        /// Endpoint path (trailing `*` is a prefix); omitted means any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
        /// Only calls answered with this status (0: the connection was dropped without an answer).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        /// First step of the window.
        from_step: StepRef,
        /// Last step of the window (default: `from_step`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_step: Option<StepRef>,
        /// Exactly this many.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<u64>,
        /// At least this many.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<u64>,
        /// At most this many.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<u64>,
    },
    /// The first `codes/check` call to a CDN host during a step went to this host.
    FirstCheckHost {
        /// The step.
        step: StepRef,
        /// Host name (`cdn-2`).
        host: String,
    },
    /// Every True API call (optionally: to an endpoint) from a step on presented this credential.
    Auth {
        /// `bearer` (a ФН token) or `x-api-key`.
        scheme: AuthScheme,
        /// The window starts when this step starts and lasts to the end of the run.
        from_step: StepRef,
        /// Endpoint path (trailing `*` is a prefix); omitted means every True API endpoint.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
    },
    /// The code of a step is in no receipt item of the run.
    CodeNotInAnyReceipt {
        /// A `scan` or `return` step.
        step: StepRef,
    },
    /// The KKT emulator reported no findings.
    NoKktFindings {},
    /// The KKT emulator reported this finding (see `docs/kkt.md`).
    KktFinding {
        /// Finding id (`G-R4`, …).
        id: String,
    },
}

impl Assertion {
    /// The `that` name of this assertion.
    pub fn name(&self) -> &'static str {
        match self {
            Assertion::CheckBeforeSell { .. } => "check_before_sell",
            Assertion::Receipt1265MatchesCheck { .. } => "receipt_1265_matches_check",
            Assertion::Receipt1265Shared { .. } => "receipt_1265_shared",
            Assertion::Receipt1265Contains { .. } => "receipt_1265_contains",
            Assertion::No1260 { .. } => "no_1260",
            Assertion::NoCalls { .. } => "no_calls",
            Assertion::Calls { .. } => "calls",
            Assertion::FirstCheckHost { .. } => "first_check_host",
            Assertion::Auth { .. } => "auth",
            Assertion::CodeNotInAnyReceipt { .. } => "code_not_in_any_receipt",
            Assertion::NoKktFindings {} => "no_kkt_findings",
            Assertion::KktFinding { .. } => "kkt_finding",
        }
    }

    /// Step references of this assertion, with whether each must be a code-carrying step.
    pub fn step_refs(&self) -> Vec<(&StepRef, bool)> {
        match self {
            Assertion::CheckBeforeSell { step }
            | Assertion::Receipt1265MatchesCheck { step }
            | Assertion::Receipt1265Contains { step, .. }
            | Assertion::No1260 { step }
            | Assertion::CodeNotInAnyReceipt { step } => vec![(step, true)],
            Assertion::Receipt1265Shared { steps } => steps.iter().map(|s| (s, true)).collect(),
            Assertion::NoCalls { after_step, .. } => vec![(after_step, false)],
            Assertion::Calls { from_step, to_step, .. } => {
                let mut v = vec![(from_step, false)];
                if let Some(t) = to_step {
                    v.push((t, false));
                }
                v
            }
            Assertion::FirstCheckHost { step, .. } => vec![(step, false)],
            Assertion::Auth { from_step, .. } => vec![(from_step, false)],
            Assertion::NoKktFindings {} | Assertion::KktFinding { .. } => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_through_their_canonical_form() {
        for (text, canonical) in [("73h", "3d1h"), ("90m", "1h30m"), ("0s", "0s"), ("1500ms", "1s500ms")] {
            let d = Duration::parse(text).unwrap();
            assert_eq!(d.to_string(), canonical);
            assert_eq!(Duration::parse(canonical).unwrap(), d);
        }
    }

    #[test]
    fn reasons_match_the_protocol_vocabulary() {
        let names: Vec<String> = Reason::ALL
            .iter()
            .map(|r| serde_json::to_value(r).unwrap().as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            names.join(","),
            "format,not_found,not_applied,crypto,blocked,sold,not_in_circulation,expired,price_above_mrp,\
             price_below_min,check_unavailable,other"
        );
    }

    #[test]
    fn step_refs_and_at_read_numbers_labels_and_offsets() {
        #[derive(Deserialize)]
        struct T {
            a: At,
            b: At,
            c: At,
            r: StepRef,
        }
        let t: T = toml::from_str("a = 3\nb = \"15m\"\nc = \"step:pay\"\nr = \"pay\"").unwrap();
        assert_eq!(t.a, At::Step(StepRef::Number(3)));
        assert_eq!(t.b, At::Offset(Duration { ms: 900_000 }));
        assert_eq!(t.c, At::Step(StepRef::Label("pay".into())));
        assert_eq!(t.r, StepRef::Label("pay".into()));
        assert!(toml::from_str::<T>("a = -1\nb = 1\nc = 1\nr = 1").is_err());
    }
}
