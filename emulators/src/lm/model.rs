//! The ЛМ ЧЗ itself (spec `local-module.md`): the status state machine on the world clock, the
//! black-list snapshot in use, the local sold list, and the JSON answers of `/status`, `outCheck`,
//! `sell`, `return`, `sold` and `sold/check`.
//!
//! Pure logic: no HTTP, no clock, no trace, no faults. [`LocalModule`] holds no clock: every method
//! that depends on time takes the world time `now_ms`, and every method that takes the world first
//! calls [`LocalModule::advance`], which brings the timers up to `now_ms` by arithmetic (never one step
//! per interval), so the clock may jump by any amount in either direction. The HTTP server
//! (`server.rs`) authenticates, parses, picks the HTTP status (201 for `sell`, the `NotReady` status
//! for refusals) and records the call; the control API forces statuses, cuts the link, triggers syncs.
//!
//! # State machine (§4.3)
//!
//! - `new` → `not_configured`, operator link up, no snapshot, empty sold list, grey list enabled.
//! - [`LocalModule::init`] (from any state, re-init included) → `initialization` until
//!   `init + lm.init_duration_s`. Initialisation is a download from the operator side, so it
//!   **completes only while the operator link is up**: with the link down the module stays in
//!   `initialization`, and when the link comes back after the deadline it completes at that instant.
//!   (Completing offline would hand a fresh `lastSync` to a module that never reached the operator and
//!   hide a `sync_error` behind a client's automatic re-init.)
//! - Completion is a sync: a snapshot is taken and `lastSync` = the completion instant. Being lazy, the
//!   snapshot is taken when `advance` first runs at or after that instant and reads **the world as it
//!   is at that call**, stamped with the scheduled instant. Syncs that fell due between two calls
//!   collapse into one (the world is read once): `lastSync` = the latest scheduled instant ≤ now on the
//!   grid `completion + k × lm.sync_interval_s`.
//! - While the link is up and `now ≥ lastSync + sync_interval`, a sync happens the same way (grid
//!   `lastSync + k × interval`). [`LocalModule::sync_now`] syncs at `now` and restarts the grid there.
//! - With the link down no sync happens; the status is `sync_error` once `now − lastSync >
//!   lm.sync_error_after_s` (strictly greater: exactly 72 h is still `ready`).
//! - When the link comes back ([`LocalModule::set_operator_link`]) and a sync is due, the module syncs
//!   at that instant (`lastSync` = the restore instant, new grid) and is `ready` again.
//! - A forced status ([`LocalModule::force_status`], fault injection) is shown instead of the computed
//!   one until cleared; timers, syncs, `init` and the sold list keep working underneath, so clearing it
//!   returns to whatever the computed state is by then. `failure` is reachable only this way.
//! - A module forced `ready` before its first sync answers from empty lists with the nil UUID as
//!   `version`.
//! - During a re-initialisation the previous snapshot, `lastSync` and `lastUpdate` stay visible in
//!   `/status` (checks are refused anyway) and are replaced when initialisation completes. Completion is
//!   compared with the previous snapshot like any sync, so `per_change` keeps the version when the lists
//!   did not change.
//!
//! # Clock going backwards
//!
//! History is not rewritten: `lastSync` keeps its value and `now − lastSync` is negative, so the
//! status is never `sync_error` then. A jump of less than one sync interval before `lastSync` is
//! ignored (it is what two racing requests that read the clock in one order and took the lock in the
//! other look like); a jump further back than that, with the link up, makes the next `advance` sync
//! at `now` and restart the grid there (a real module's timer keeps firing when its wall clock is set
//! back). `initialization` still ends at its original deadline; sold entries stamped "in the future"
//! stay until they are older than the retention by the new clock.
//!
//! # `version` and `inst` (§8)
//!
//! `per_change`: a new UUID after a sync whose lists differ from the previous snapshot (the first
//! snapshot always gets one); `per_sync`: a new UUID after every sync. UUIDs (and a new `inst` under
//! `lm.inst_changes_on_init`) come from one ChaCha8 generator seeded with `lm.version_seed`, or with
//! the bytes of `lm.inst` when unset: the same options and the same calls give the same UUIDs.
//! `lastUpdate` is the instant the snapshot version in use was first assigned (every sync under
//! `per_sync`, every change under `per_change`).
//!
//! # Checks (§6)
//!
//! Each input is parsed like [`crate::world::identity`] (full code or КИ); the lookup key is the КИ,
//! or the input itself when it does not parse (a 21-character pack КИ does not parse and is its own
//! key). `cis` echoes the input; `printView` is the key; `gtin` comes from the parsed code, else from
//! a `01` + 14 digits prefix, else from the first 14 characters of a 21-character input whose first 14
//! are a valid GTIN-14 (a pack КИ), else it is omitted. `isGreyGtin` = grey list enabled and the GTIN
//! on the grey list; `isBlocked` = КИ on the blocked-code list, or GTIN on the blocked-GTIN list, or
//! `isGreyGtin`. v2 adds `sold` (this module's sold list, which is local and live) and `mrp` / `smp`
//! when the price table knows them; `pg` is accepted and ignored. Everything except `sold` is answered
//! from the snapshot, never from the live world; codes the snapshot does not list are not blocked.
//! `reqTimestamp` is `now_ms` in ms whatever `lm.time_unit` says.
//!
//! # `/status` (§4.1, §4.2)
//!
//! `lastSync` / `lastUpdate` are in `lm.time_unit` and `null` before the first sync. `operationMode`
//! is `active` when the shown status is `ready`, `service` otherwise; `requiresDownload` is true when
//! the shown status is `not_configured`; `isGreyGtin` says whether the grey list is enabled. Counters
//! come from the snapshot (zero before the first sync): `localDocCount` = `serverDocCount` (the module
//! only knows what it downloaded), `timeLag` 0, `cis` and `blocked_series` always 0.
//!
//! # Refusals (§5)
//!
//! Checks, `sell`, `return`, `sold` and `sold/check` are refused unless the shown status is `ready`:
//! HTTP 400 with `{"code":E,"errorCode":E,"description":"local module is not ready: <status>"}`
//! (E = 4045 / 4050); `failure` gives HTTP 500 with the same shape and E = 500. `sold` checks the
//! status before the `limit`.
//!
//! # Sold list (§9)
//!
//! Keyed by КИ (as for checks), keeping the input form for listing and the sale instant. A dumb store:
//! `sell` registers any non-empty code, blocked or unknown ones included; selling a code already on
//! the list replaces its entry (new input form, new instant, moved to the end). An empty (or
//! whitespace-only) code is answered `success:false` and not stored. `return` removes the entry and
//! answers `success:true` whether or not the code was on the list (idempotent). Entries older than
//! `lm.sold_retention_days` of world time are dropped by `advance`; `init` with `clearSold: true`
//! clears the list (any other `init` keeps it). `sold` lists input forms in sale order; `limit` above
//! `lm.sold_limit_max` is an error, `limit` 0 gives an empty page with the total.

use super::options::{LmOptions, VersionPolicy};
use super::snapshot::LmSnapshot;
use super::status::LmStatus;
use crate::world::World;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

/// Body of `POST /api/v1/init` and `/api/v2/init`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitRequest {
    /// The token issued for the module; must not be empty.
    pub token: String,
    /// v2: clear the sold list (`None` = keep it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_sold: Option<bool>,
    /// v2: enable or disable the grey list (`None` = leave it as it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_grey_list: Option<bool>,
}

/// What a sync did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SyncOutcome {
    /// The snapshot version now in use.
    pub version: Uuid,
    /// The lists differ from the previous snapshot (always true for the first one).
    pub changed: bool,
    /// The new `lastSync`, Unix ms.
    pub last_sync_ms: i64,
}

/// A refused call: the module's status is not `ready` (§5).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("local module is not ready: {status}")]
pub struct NotReady {
    /// The status shown.
    pub status: LmStatus,
    /// 400, or 500 for `failure`.
    pub http_status: u16,
    /// `{"code":E,"errorCode":E,"description":"local module is not ready: <status>"}`.
    pub body: Value,
}

impl NotReady {
    /// The refusal for `status` (which should not be `ready`; if it is, it is refused with 400 and
    /// code 0).
    pub fn of(status: LmStatus) -> Self {
        let http_status = status.refusal_http_status().unwrap_or(400);
        let code = status.not_ready_error_code().unwrap_or(if http_status == 500 { 500 } else { 0 });
        NotReady {
            status,
            http_status,
            body: json!({
                "code": code,
                "errorCode": code,
                "description": format!("local module is not ready: {}", status.name()),
            }),
        }
    }
}

/// Errors of the module's operations.
#[derive(Debug, thiserror::Error)]
pub enum LmError {
    /// The status is not `ready`.
    #[error(transparent)]
    NotReady(#[from] NotReady),
    /// `sync_now` with the operator link down.
    #[error("the operator link is down: no sync possible")]
    LinkDown,
    /// `sync_now` before any `/init`.
    #[error("the local module was never initialised: call /init first")]
    NotInitialised,
    /// `sync_now` while initialisation has not completed.
    #[error("the local module is still initialising (deadline {until_ms} ms)")]
    Initialising {
        /// The completion deadline, Unix ms (later if the link is down).
        until_ms: i64,
    },
    /// `sold` with `limit` above `lm.sold_limit_max`.
    #[error("limit {limit} is above the maximum {max}")]
    BadLimit {
        /// The requested limit.
        limit: usize,
        /// `lm.sold_limit_max`.
        max: usize,
    },
    /// `init` with an empty token.
    #[error("the init token must not be empty")]
    EmptyToken,
}

/// Where the module is in its life cycle (the computed status is derived from it and the clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    NotConfigured,
    Initialization { done_at_ms: i64 },
    Configured,
}

/// One entry of the sold list.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SoldEntry {
    input: String,
    sold_ms: i64,
    seq: u64,
}

/// The sold list: by КИ for lookups, by sequence for sale order, by instant for retention.
#[derive(Clone, Debug, Default)]
struct SoldList {
    by_ki: HashMap<String, SoldEntry>,
    order: BTreeMap<u64, String>,
    by_time: BTreeSet<(i64, u64)>,
    next_seq: u64,
}

impl SoldList {
    fn insert(&mut self, ki: String, input: &str, sold_ms: i64) {
        self.remove(&ki);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, ki.clone());
        self.by_time.insert((sold_ms, seq));
        self.by_ki.insert(ki, SoldEntry { input: input.to_string(), sold_ms, seq });
    }

    fn remove(&mut self, ki: &str) -> bool {
        match self.by_ki.remove(ki) {
            Some(old) => {
                self.order.remove(&old.seq);
                self.by_time.remove(&(old.sold_ms, old.seq));
                true
            }
            None => false,
        }
    }

    fn contains(&self, ki: &str) -> bool {
        self.by_ki.contains_key(ki)
    }

    /// Drop entries sold before `cutoff_ms`.
    fn expire_before(&mut self, cutoff_ms: i64) {
        while let Some(&(sold_ms, seq)) = self.by_time.first() {
            if sold_ms >= cutoff_ms {
                break;
            }
            self.by_time.pop_first();
            if let Some(ki) = self.order.remove(&seq) {
                self.by_ki.remove(&ki);
            }
        }
    }

    fn clear(&mut self) {
        self.by_ki.clear();
        self.order.clear();
        self.by_time.clear();
    }

    fn len(&self) -> usize {
        self.by_ki.len()
    }

    /// Input forms in sale order.
    fn page(&self, skip: usize, limit: usize) -> Vec<&str> {
        self.order
            .values()
            .skip(skip)
            .take(limit)
            .filter_map(|ki| self.by_ki.get(ki).map(|e| e.input.as_str()))
            .collect()
    }
}

/// How a check input is looked up.
struct Key {
    /// КИ, or the input itself when it does not parse.
    ki: String,
    gtin: Option<String>,
}

fn key_of(cis: &str) -> Key {
    match markcert_codes::parse(cis.as_bytes()) {
        Ok(code) => Key { ki: code.ki().to_string(), gtin: Some(code.gtin().to_string()) },
        Err(_) => Key { ki: cis.to_string(), gtin: fallback_gtin(cis) },
    }
}

/// The GTIN of an input that does not parse: `01` + 14 digits, or a 21-character pack КИ.
fn fallback_gtin(cis: &str) -> Option<String> {
    let b = cis.as_bytes();
    if b.len() >= 16 && b.starts_with(b"01") && b[2..16].iter().all(u8::is_ascii_digit) {
        return Some(cis[2..16].to_string());
    }
    if b.len() == 21 && markcert_codes::gtin::is_valid_gtin14(&b[..14]) {
        return Some(cis[..14].to_string());
    }
    None
}

/// The emulated local module.
#[derive(Clone, Debug)]
pub struct LocalModule {
    opts: LmOptions,
    inst: Uuid,
    rng: ChaCha8Rng,
    phase: Phase,
    link_up: bool,
    forced: Option<LmStatus>,
    snapshot: Option<LmSnapshot>,
    last_sync_ms: Option<i64>,
    last_update_ms: Option<i64>,
    sold: SoldList,
    grey_list: bool,
    token: Option<String>,
}

impl LocalModule {
    /// A module fresh from the box: `not_configured`, operator link up, no snapshot, empty sold list,
    /// grey list enabled.
    pub fn new(opts: LmOptions) -> Self {
        let rng = match opts.version_seed {
            Some(seed) => ChaCha8Rng::seed_from_u64(seed),
            None => {
                let mut seed = [0u8; 32];
                seed[..16].copy_from_slice(opts.inst.as_bytes());
                seed[16..].copy_from_slice(opts.inst.as_bytes());
                ChaCha8Rng::from_seed(seed)
            }
        };
        LocalModule {
            inst: opts.inst,
            opts,
            rng,
            phase: Phase::NotConfigured,
            link_up: true,
            forced: None,
            snapshot: None,
            last_sync_ms: None,
            last_update_ms: None,
            sold: SoldList::default(),
            grey_list: true,
            token: None,
        }
    }

    /// The options the module was built with.
    pub fn options(&self) -> &LmOptions {
        &self.opts
    }

    /// Bring the timers up to `now_ms`: drop expired sold entries, complete initialisation, run the
    /// syncs that fell due (see the module docs). Cheap when nothing is due.
    pub fn advance(&mut self, world: &World, now_ms: i64) {
        self.sold.expire_before(now_ms.saturating_sub(self.opts.sold_retention_ms()));
        if !self.link_up {
            return;
        }
        let interval = self.opts.sync_interval_ms();
        match self.phase {
            Phase::NotConfigured => {}
            Phase::Initialization { done_at_ms } => {
                if now_ms >= done_at_ms {
                    self.phase = Phase::Configured;
                    self.sync_at(world, latest_on_grid(done_at_ms, interval, now_ms));
                }
            }
            Phase::Configured => match self.last_sync_ms {
                None => {
                    self.sync_at(world, now_ms);
                }
                Some(last) if now_ms < last.saturating_sub(interval) => {
                    self.sync_at(world, now_ms);
                }
                Some(last) if now_ms.saturating_sub(last) >= interval => {
                    self.sync_at(world, latest_on_grid(last, interval, now_ms));
                }
                Some(_) => {}
            },
        }
    }

    /// `POST /init`: from any state to `initialization` (see the module docs). Clears the sold list when
    /// `clear_sold` is `Some(true)`, sets the grey list when `enable_grey_list` is given, draws a new
    /// `inst` under `lm.inst_changes_on_init`. A forced status stays forced.
    pub fn init(&mut self, world: &World, now_ms: i64, req: InitRequest) -> Result<(), LmError> {
        if req.token.trim().is_empty() {
            return Err(LmError::EmptyToken);
        }
        self.advance(world, now_ms);
        self.phase =
            Phase::Initialization { done_at_ms: now_ms.saturating_add(self.opts.init_duration_ms()) };
        self.token = Some(req.token);
        if req.clear_sold == Some(true) {
            self.sold.clear();
        }
        if let Some(enabled) = req.enable_grey_list {
            self.grey_list = enabled;
        }
        if self.opts.inst_changes_on_init {
            self.inst = self.next_uuid();
        }
        Ok(())
    }

    /// Control API: sync now (a new snapshot from the world as it is, `lastSync = now_ms`, grid
    /// restarted). Fails when the module was never initialised, is still initialising, or the operator
    /// link is down.
    pub fn sync_now(&mut self, world: &World, now_ms: i64) -> Result<SyncOutcome, LmError> {
        self.advance(world, now_ms);
        match self.phase {
            Phase::NotConfigured => Err(LmError::NotInitialised),
            Phase::Initialization { done_at_ms } => Err(LmError::Initialising { until_ms: done_at_ms }),
            Phase::Configured if !self.link_up => Err(LmError::LinkDown),
            Phase::Configured => Ok(self.sync_at(world, now_ms)),
        }
    }

    /// Control API: cut or restore the operator link at `now_ms`. Restoring it completes an overdue
    /// initialisation and runs an overdue sync at `now_ms`.
    pub fn set_operator_link(&mut self, world: &World, now_ms: i64, up: bool) {
        self.advance(world, now_ms);
        let restored = up && !self.link_up;
        self.link_up = up;
        if !restored {
            return;
        }
        match self.phase {
            Phase::NotConfigured => {}
            Phase::Initialization { done_at_ms } => {
                if done_at_ms < now_ms {
                    self.phase = Phase::Initialization { done_at_ms: now_ms };
                }
                self.advance(world, now_ms);
            }
            Phase::Configured => {
                let due = self
                    .last_sync_ms
                    .is_none_or(|last| now_ms.saturating_sub(last) >= self.opts.sync_interval_ms());
                if due {
                    self.sync_at(world, now_ms);
                } else {
                    self.advance(world, now_ms);
                }
            }
        }
    }

    /// Whether the operator link is up.
    pub fn operator_link_up(&self) -> bool {
        self.link_up
    }

    /// Control API: show `status` instead of the computed status; `None` clears it.
    pub fn force_status(&mut self, status: Option<LmStatus>) {
        self.forced = status;
    }

    /// The forced status, if any.
    pub fn forced_status(&self) -> Option<LmStatus> {
        self.forced
    }

    /// Scenarios: set `lastSync` (e.g. `now − 73 h`). `lastUpdate` is moved back to it if it was later.
    /// With the link up the next `advance` syncs if a sync is due by then, so cut the link first to
    /// provoke `sync_error`. Before the first initialisation completes it only changes what `/status`
    /// shows (completion overwrites it).
    pub fn set_last_sync(&mut self, ms: i64) {
        self.last_sync_ms = Some(ms);
        if self.last_update_ms.is_some_and(|u| u > ms) {
            self.last_update_ms = Some(ms);
        }
    }

    /// The status shown at `now_ms` (forced, or computed).
    pub fn status(&mut self, world: &World, now_ms: i64) -> LmStatus {
        self.advance(world, now_ms);
        self.shown_status(now_ms)
    }

    /// `GET /api/v1/status` body (§4.1).
    pub fn status_v1(&mut self, world: &World, now_ms: i64) -> Value {
        let mut body = self.status_common(world, now_ms);
        let (blocked_gtin, blocked_cis) = self.counts(|s| (s.blocked_gtin_count(), s.blocked_cis_count()));
        let counter = |n: usize| json!({"localDocCount": n, "serverDocCount": n, "timeLag": 0});
        body.insert(
            "replicationStatus".into(),
            json!({
                "cis": counter(0),
                "blocked_series": counter(0),
                "blocked_gtin": counter(blocked_gtin),
                "blocked_cis": counter(blocked_cis),
            }),
        );
        Value::Object(body)
    }

    /// `GET /api/v2/status` body (§4.2): `dbState` instead of `replicationStatus`.
    pub fn status_v2(&mut self, world: &World, now_ms: i64) -> Value {
        let mut body = self.status_common(world, now_ms);
        let (min_price, blocked_gtin, blocked_cis) =
            self.counts(|s| (s.min_price_count(), s.blocked_gtin_count(), s.blocked_cis_count()));
        body.insert(
            "dbState".into(),
            json!({
                "min_price": {"docCount": min_price},
                "blocked_gtin": {"docCount": blocked_gtin},
                "blocked_cis": {"docCount": blocked_cis},
            }),
        );
        Value::Object(body)
    }

    /// `POST|GET /api/v1/cis/outCheck` (and the deprecated `/cis/check`) body (§6.1): one code object
    /// per input, in input order.
    pub fn out_check_v1(
        &mut self,
        world: &World,
        now_ms: i64,
        cis: &[String],
        req_id: Uuid,
    ) -> Result<Value, NotReady> {
        self.refuse_unless_ready(world, now_ms)?;
        let snap = self.snapshot_in_use(now_ms);
        let snap = snap.as_ref();
        let codes: Vec<Value> = cis.iter().map(|c| self.code_answer(snap, c, false)).collect();
        let mut body = Map::new();
        body.insert("code".into(), json!(0));
        body.insert("description".into(), json!("ok"));
        body.insert("codes".into(), Value::Array(codes));
        body.insert("inst".into(), json!(self.inst.to_string()));
        if self.opts.v1_emit_version {
            body.insert("version".into(), json!(snap.version.to_string()));
        }
        body.insert("reqId".into(), json!(req_id.to_string()));
        body.insert("reqTimestamp".into(), json!(now_ms));
        Ok(Value::Object(body))
    }

    /// `POST /api/v2/cis/outCheck` body (§6.2): `{"results":[{…,"codes":[…]}]}`. `items` are
    /// `(cis, pg)`; `pg` is accepted and ignored.
    pub fn out_check_v2(
        &mut self,
        world: &World,
        now_ms: i64,
        items: &[(String, Option<u16>)],
        req_id: Uuid,
    ) -> Result<Value, NotReady> {
        self.refuse_unless_ready(world, now_ms)?;
        let snap = self.snapshot_in_use(now_ms);
        let snap = snap.as_ref();
        let codes: Vec<Value> = items.iter().map(|(c, _pg)| self.code_answer(snap, c, true)).collect();
        Ok(json!({
            "results": [{
                "code": 0,
                "description": "ok",
                "reqId": req_id.to_string(),
                "reqTimestamp": now_ms,
                "inst": self.inst.to_string(),
                "version": snap.version.to_string(),
                "codes": codes,
            }]
        }))
    }

    /// `POST /api/v2/cis/sell` body (§9): `{"results":[{"success":…,"cis":…}]}` (HTTP 201 is the
    /// server's business).
    pub fn sell(&mut self, world: &World, now_ms: i64, cis: &[String]) -> Result<Value, NotReady> {
        self.refuse_unless_ready(world, now_ms)?;
        let results: Vec<Value> = cis
            .iter()
            .map(|c| {
                let ok = !c.trim().is_empty();
                if ok {
                    self.sold.insert(key_of(c).ki, c, now_ms);
                }
                json!({"success": ok, "cis": c})
            })
            .collect();
        Ok(json!({ "results": results }))
    }

    /// `POST /api/v2/cis/return` body (§9): removes each code from the sold list.
    pub fn return_codes(&mut self, world: &World, now_ms: i64, cis: &[String]) -> Result<Value, NotReady> {
        self.refuse_unless_ready(world, now_ms)?;
        let results: Vec<Value> = cis
            .iter()
            .map(|c| {
                let ok = !c.trim().is_empty();
                if ok {
                    self.sold.remove(&key_of(c).ki);
                }
                json!({"success": ok, "cis": c})
            })
            .collect();
        Ok(json!({ "results": results }))
    }

    /// `GET /api/v2/cis/sold?skip=&limit=` body (§9): `{"total_count":N,"cis_list":[…]}` in sale order.
    pub fn sold_list(
        &mut self,
        world: &World,
        now_ms: i64,
        skip: usize,
        limit: usize,
    ) -> Result<Value, LmError> {
        self.refuse_unless_ready(world, now_ms)?;
        if limit > self.opts.sold_limit_max {
            return Err(LmError::BadLimit { limit, max: self.opts.sold_limit_max });
        }
        Ok(json!({"total_count": self.sold.len(), "cis_list": self.sold.page(skip, limit)}))
    }

    /// `POST /api/v2/cis/sold/check` body: `{"results":[{"cis":…,"sold":bool}]}`.
    pub fn sold_check(&mut self, world: &World, now_ms: i64, cis: &[String]) -> Result<Value, NotReady> {
        self.refuse_unless_ready(world, now_ms)?;
        let results: Vec<Value> =
            cis.iter().map(|c| json!({"cis": c, "sold": self.sold.contains(&key_of(c).ki)})).collect();
        Ok(json!({ "results": results }))
    }

    /// `POST /api/v2/greyList`: enable or disable the grey list.
    pub fn set_grey_list(&mut self, enabled: bool) {
        self.grey_list = enabled;
    }

    /// Whether the grey list is enabled.
    pub fn grey_list_enabled(&self) -> bool {
        self.grey_list
    }

    /// Installation id.
    pub fn inst(&self) -> Uuid {
        self.inst
    }

    /// Snapshot version in use; `None` before the first sync.
    pub fn current_version(&self) -> Option<Uuid> {
        self.snapshot.as_ref().map(|s| s.version)
    }

    /// `lastSync`, Unix ms; `None` before the first sync.
    pub fn last_sync_ms(&self) -> Option<i64> {
        self.last_sync_ms
    }

    /// `lastUpdate` (instant the version in use was assigned), Unix ms; `None` before the first sync.
    pub fn last_update_ms(&self) -> Option<i64> {
        self.last_update_ms
    }

    /// The snapshot in use (for the control API's `lm.lists`); `None` before the first sync.
    pub fn snapshot(&self) -> Option<&LmSnapshot> {
        self.snapshot.as_ref()
    }

    /// Entries on the sold list (as of the last `advance`).
    pub fn sold_count(&self) -> usize {
        self.sold.len()
    }

    /// The token of the last successful `init`.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn shown_status(&self, now_ms: i64) -> LmStatus {
        self.forced.unwrap_or_else(|| self.computed_status(now_ms))
    }

    fn computed_status(&self, now_ms: i64) -> LmStatus {
        match self.phase {
            Phase::NotConfigured => LmStatus::NotConfigured,
            Phase::Initialization { .. } => LmStatus::Initialization,
            Phase::Configured => match self.last_sync_ms {
                Some(last) if now_ms.saturating_sub(last) > self.opts.sync_error_after_ms() => {
                    LmStatus::SyncError
                }
                _ => LmStatus::Ready,
            },
        }
    }

    fn refuse_unless_ready(&mut self, world: &World, now_ms: i64) -> Result<(), NotReady> {
        match self.status(world, now_ms) {
            LmStatus::Ready => Ok(()),
            other => Err(NotReady::of(other)),
        }
    }

    fn next_uuid(&mut self) -> Uuid {
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// Take a snapshot from `world` stamped `at_ms`, assign its version by the policy, set `lastSync`.
    fn sync_at(&mut self, world: &World, at_ms: i64) -> SyncOutcome {
        let mut snap = LmSnapshot::take(world, at_ms, Uuid::nil());
        let previous = self.snapshot.as_ref().map(|old| (old.version, old.same_lists(&snap)));
        let changed = previous.is_none_or(|(_, same)| !same);
        let version = match previous {
            Some((old, true)) if self.opts.version_policy == VersionPolicy::PerChange => old,
            _ => self.next_uuid(),
        };
        if previous.map(|(old, _)| old) != Some(version) {
            self.last_update_ms = Some(at_ms);
        }
        snap.version = version;
        self.snapshot = Some(snap);
        self.last_sync_ms = Some(at_ms);
        SyncOutcome { version, changed, last_sync_ms: at_ms }
    }

    fn counts<T: Default>(&self, f: impl Fn(&LmSnapshot) -> T) -> T {
        self.snapshot.as_ref().map(f).unwrap_or_default()
    }

    fn status_common(&mut self, world: &World, now_ms: i64) -> Map<String, Value> {
        let status = self.status(world, now_ms);
        let unit = self.opts.time_unit;
        let mut m = Map::new();
        m.insert("version".into(), json!(self.opts.software_version));
        m.insert("status".into(), json!(status.name()));
        m.insert("serviceUrl".into(), json!(self.opts.service_url));
        m.insert("operationMode".into(), json!(if status.is_ready() { "active" } else { "service" }));
        m.insert("name".into(), json!(self.opts.name));
        m.insert("lastUpdate".into(), json!(self.last_update_ms.map(|ms| unit.from_ms(ms))));
        m.insert("lastSync".into(), json!(self.last_sync_ms.map(|ms| unit.from_ms(ms))));
        m.insert("inst".into(), json!(self.inst.to_string()));
        m.insert("inn".into(), json!(world.store_inn));
        m.insert("dbVersion".into(), json!(self.opts.db_version));
        m.insert("requiresDownload".into(), json!(status == LmStatus::NotConfigured));
        m.insert("isGreyGtin".into(), json!(self.grey_list));
        m
    }

    /// One per-code object of an `outCheck` answer.
    /// The snapshot answers come from: the last sync's, or empty lists (nil `version`) for a module
    /// forced `ready` before its first sync.
    fn snapshot_in_use(&self, now_ms: i64) -> std::borrow::Cow<'_, LmSnapshot> {
        match &self.snapshot {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(LmSnapshot::empty(now_ms, Uuid::nil())),
        }
    }

    fn code_answer(&self, snap: &LmSnapshot, cis: &str, v2: bool) -> Value {
        let key = key_of(cis);
        let gtin = key.gtin.as_deref();
        let grey = self.grey_list && gtin.is_some_and(|g| snap.is_grey_gtin(g));
        let blocked = grey || snap.is_blocked_cis(&key.ki) || gtin.is_some_and(|g| snap.is_blocked_gtin(g));
        let mut m = Map::new();
        m.insert("cis".into(), json!(cis));
        if let Some(g) = gtin {
            m.insert("gtin".into(), json!(g));
        }
        m.insert("isBlocked".into(), json!(blocked));
        m.insert("isGreyGtin".into(), json!(grey));
        if !v2 || self.opts.v2_print_view {
            m.insert("printView".into(), json!(key.ki));
        }
        if v2 {
            let fields = self.opts.v2_fields;
            if fields.sold {
                m.insert("sold".into(), json!(self.sold.contains(&key.ki)));
            }
            let prices = gtin.and_then(|g| snap.prices(g)).unwrap_or_default();
            if let Some(mrp) = prices.mrp.filter(|_| fields.mrp) {
                m.insert("mrp".into(), json!(mrp));
            }
            if let Some(smp) = prices.smp.filter(|_| fields.smp) {
                m.insert("smp".into(), json!(smp));
            }
        }
        Value::Object(m)
    }
}

/// The latest instant `base + k × interval` (k ≥ 0) not after `now_ms`; `base` when `now_ms < base`.
fn latest_on_grid(base: i64, interval: i64, now_ms: i64) -> i64 {
    if now_ms <= base {
        return base;
    }
    let elapsed = now_ms.saturating_sub(base);
    let steps = elapsed / interval.max(1);
    base.saturating_add(steps.saturating_mul(interval.max(1))).min(now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::default::default_world;

    const NOW: i64 = 1_767_225_600_000;

    #[test]
    fn grid_arithmetic() {
        assert_eq!(latest_on_grid(1_000, 300, 1_000), 1_000);
        assert_eq!(latest_on_grid(1_000, 300, 999), 1_000);
        assert_eq!(latest_on_grid(1_000, 300, 1_299), 1_000);
        assert_eq!(latest_on_grid(1_000, 300, 1_300), 1_300);
        assert_eq!(latest_on_grid(1_000, 300, 1_000 + 300 * 1_000_000 + 7), 1_000 + 300 * 1_000_000);
        assert_eq!(latest_on_grid(i64::MIN, 7, i64::MAX), i64::MIN + (i64::MAX / 7) * 7);
        assert_eq!(latest_on_grid(i64::MIN, 1, i64::MAX), -1, "saturates, never overflows");
        assert_eq!(latest_on_grid(0, 0, 5), 5, "a zero interval is treated as 1 ms");
    }

    #[test]
    fn fallback_gtin_reads_gs1_prefixes_and_pack_kis() {
        assert_eq!(fallback_gtin("0104612345000438").as_deref(), Some("04612345000438"));
        assert_eq!(fallback_gtin("0104612345000438!!bad").as_deref(), Some("04612345000438"));
        assert_eq!(fallback_gtin("046123450004390000000").as_deref(), None, "bad check digit");
        assert_eq!(fallback_gtin("04600001000038);oT'Gm").as_deref(), Some("04600001000038"));
        assert_eq!(fallback_gtin("010461234500043").as_deref(), None);
        assert_eq!(fallback_gtin("").as_deref(), None);
        assert_eq!(fallback_gtin("ЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖ").as_deref(), None);
        assert_eq!(fallback_gtin("01ЖЖЖЖЖЖЖЖЖЖЖЖЖЖ").as_deref(), None);
    }

    #[test]
    fn sold_list_keeps_order_and_expires_by_time() {
        let mut s = SoldList::default();
        s.insert("a".into(), "A", 30);
        s.insert("b".into(), "B", 10);
        s.insert("c".into(), "C", 20);
        assert_eq!(s.page(0, 10), vec!["A", "B", "C"], "sale order, not time order");
        s.insert("a".into(), "a-again", 40);
        assert_eq!(s.page(0, 10), vec!["B", "C", "a-again"]);
        assert_eq!(s.page(1, 1), vec!["C"]);
        s.expire_before(20);
        assert_eq!(s.page(0, 10), vec!["C", "a-again"]);
        assert!(s.remove("c") && !s.remove("c"));
        assert!(s.contains("a") && !s.contains("b"));
        s.expire_before(i64::MAX);
        assert_eq!(s.len(), 0);
        assert!(s.by_time.is_empty() && s.order.is_empty());
    }

    #[test]
    fn refusal_bodies() {
        let r = NotReady::of(LmStatus::Initialization);
        assert_eq!(r.http_status, 400);
        assert_eq!(
            r.body,
            json!({"code": 4045, "errorCode": 4045, "description": "local module is not ready: initialization"})
        );
        assert_eq!(r.to_string(), "local module is not ready: initialization");
        let r = NotReady::of(LmStatus::Failure);
        assert_eq!((r.http_status, r.body["errorCode"].clone()), (500, json!(500)));
        let e: LmError = NotReady::of(LmStatus::SyncError).into();
        assert_eq!(e.to_string(), "local module is not ready: sync_error");
    }

    #[test]
    fn init_request_reads_the_v1_and_v2_bodies() {
        let v1: InitRequest = serde_json::from_str(r#"{"token":"t"}"#).unwrap();
        assert_eq!(v1, InitRequest { token: "t".into(), clear_sold: None, enable_grey_list: None });
        let v2: InitRequest =
            serde_json::from_str(r#"{"token":"t","clearSold":false,"enableGreyList":true}"#).unwrap();
        assert_eq!((v2.clear_sold, v2.enable_grey_list), (Some(false), Some(true)));
    }

    #[test]
    fn lazy_first_snapshot_reads_the_world_at_the_first_advance() {
        let mut w = default_world(NOW).unwrap();
        let mut lm = LocalModule::new(LmOptions::default());
        lm.init(&w, NOW, InitRequest { token: "t".into(), ..InitRequest::default() }).unwrap();
        let before = LmSnapshot::take(&w, 0, Uuid::nil()).blocked_cis_count();
        // Blocked after the deadline but before anyone asked: the first snapshot still sees it.
        let mut r = w.codes().into_iter().find(|c| !c.is_blocked()).cloned().unwrap();
        r.blocked_by = vec!["RPN".into()];
        w.update_code(r).unwrap();
        lm.advance(&w, NOW + 60_000);
        assert_eq!(lm.last_sync_ms(), Some(NOW + 30_000), "stamped with the completion instant");
        assert_eq!(lm.snapshot().map(LmSnapshot::blocked_cis_count), Some(before + 1));
    }
}
