//! The permissive-mode evidence the KKT grades a receipt with ([`PermissiveEvidence`]): which `reqId`s
//! were issued, for which codes, and what each code's answer was, reconstructed from what the run
//! recorded — the True API reqId log, the trace of the True API hosts, the ЛМ ЧЗ and the ТС ПИоТ,
//! and the ЛМ ЧЗ module itself.
//!
//! Owns the reconstruction only; it must not judge anything (the grader does) and must not change the
//! world. Known gaps, by design of what is recorded:
//!
//! - **Online answers are recomputed** with [`trueapi::check_code`] against the world as it is when
//!   the receipt is graded (at close, before its notification changes the world), for the store's
//!   INN. A world changed between the check and the close (a code blocked by the control API in
//!   between) gives the answer as of the close, not the one the POS saw.
//! - **Offline answers** (ЛМ ЧЗ) are found through the trace event of the module's `outCheck` that
//!   carries the `reqId`. The trace does not record the answer's `inst`, `version` or exact
//!   `reqTimestamp`, so: `inst` is the module's current one; `version` is the module's current
//!   snapshot version when the module has not synced since the check, else (unknowable) the version
//!   the receipt's own 1265 claims is taken as given; `reqTimestamp` is the `Time` the receipt claims
//!   when it falls within the traced call (between its start and its end on the world clock), else
//!   the call's end. The per-code flags are recomputed by asking the module again (its current
//!   snapshot; `sold` from its live list); a module that is not ready any more gives an answer with
//!   the stamps only (not blocked).
//! - **Latest answers** ([`PermissiveEvidence::last_answer`]) come from the newest
//!   [`TRACE_WINDOW`] trace events: a ТС ПИоТ or True API `203` is an emergency answer, a `200` with a
//!   `reqId` the answer above, any other status of a check call no answer.

use crate::decision::OfflineAnswer;
use crate::kkt::grading::{
    parse_1265, same_code, CheckSource, IssuedCheck, LastAnswer, PermissiveAnswer, PermissiveEvidence,
};
use crate::lm::model::LocalModule;
use crate::reqlog::ReqLog;
use crate::trace::{Trace, TraceEvent, TraceFilter};
use crate::trueapi::{self, Requester, TrueApiOptions};
use crate::world::World;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// How many of the newest trace events are searched.
pub const TRACE_WINDOW: u64 = 50_000;

/// Trace component of the ЛМ ЧЗ.
const LM_COMPONENT: &str = crate::lm::server::COMPONENT;
/// Trace component of the ТС ПИоТ.
const TSPIOT_COMPONENT: &str = "tspiot";
/// Path of the True API check on the CDN hosts.
const TRUE_API_CHECK: &str = "/api/v4/true-api/codes/check";

/// What a receipt's own 1265 says about a `reqId` (used only where the record is silent).
#[derive(Clone, Debug, Default)]
struct Claim {
    time_ms: Option<i64>,
    version: Option<String>,
}

/// The evidence for grading one receipt.
pub(crate) struct RunEvidence<'a> {
    world: &'a World,
    reqlog: &'a ReqLog,
    true_api: &'a TrueApiOptions,
    lm: Option<&'a Mutex<LocalModule>>,
    now_ms: i64,
    /// Check calls of the True API hosts, the ЛМ ЧЗ and the ТС ПИоТ, oldest first.
    events: Vec<TraceEvent>,
    claims: HashMap<String, Claim>,
}

impl<'a> RunEvidence<'a> {
    /// Evidence over the run's records; `requisites` are the 1265 values of the receipt being graded.
    pub fn new<'r>(
        world: &'a World,
        reqlog: &'a ReqLog,
        trace: &Trace,
        true_api: &'a TrueApiOptions,
        lm: Option<&'a Mutex<LocalModule>>,
        now_ms: i64,
        requisites: impl Iterator<Item = &'r str>,
    ) -> RunEvidence<'a> {
        let since = trace.last_seq().map(|last| last.saturating_sub(TRACE_WINDOW));
        let fetch = |component: Option<&str>, path: Option<&str>| {
            trace.events(&TraceFilter {
                component: component.map(str::to_string),
                path: path.map(str::to_string),
                since_seq: since,
                limit: None,
            })
        };
        let mut events = fetch(Some(LM_COMPONENT), None);
        events.extend(fetch(Some(TSPIOT_COMPONENT), None));
        events.extend(fetch(None, Some(TRUE_API_CHECK)));
        events.retain(|e| !e.codes.is_empty());
        events.sort_by_key(|e| e.seq);
        events.dedup_by_key(|e| e.seq);
        let mut claims = HashMap::new();
        for value in requisites {
            if let Ok(r) = parse_1265(value) {
                let claim = Claim { time_ms: Some(r.time_ms), version: r.offline.map(|o| o.version) };
                claims.insert(r.req_id, claim);
            }
        }
        RunEvidence { world, reqlog, true_api, lm, now_ms, events, claims }
    }

    /// The ЛМ ЧЗ call that issued `req_id`, if traced.
    fn lm_event(&self, req_id: &str) -> Option<&TraceEvent> {
        self.events
            .iter()
            .rev()
            .find(|e| e.component.as_str() == LM_COMPONENT && e.req_id.as_deref() == Some(req_id))
    }

    /// The offline check `req_id`, reconstructed (see the module doc).
    fn offline_issued(&self, req_id: &str) -> Option<IssuedCheck> {
        let event = self.lm_event(req_id)?;
        let claim = self.claims.get(req_id).cloned().unwrap_or_default();
        let started = event.world_ms.saturating_sub(i64::try_from(event.latency_us / 1000).unwrap_or(0) + 1);
        let time_ms =
            claim.time_ms.filter(|t| (started..=event.world_ms).contains(t)).unwrap_or(event.world_ms);
        let (inst, version) = match self.lm {
            Some(lm) => {
                let m = lm.lock().unwrap_or_else(PoisonError::into_inner);
                let unchanged = m.last_sync_ms().is_none_or(|s| s <= time_ms);
                let version = m
                    .current_version()
                    .filter(|_| unchanged)
                    .map(|v| v.to_string())
                    .or(claim.version)
                    .unwrap_or_default();
                (m.inst().to_string(), version)
            }
            None => (String::new(), claim.version.unwrap_or_default()),
        };
        Some(IssuedCheck {
            req_id: req_id.to_string(),
            time_ms,
            codes: event.codes.shared().to_vec(),
            source: CheckSource::Offline { inst, version },
        })
    }

    /// The ЛМ ЧЗ's answer about `cis` now, stamped as `issued`.
    fn offline_answer(&self, issued: &IssuedCheck, cis: &str) -> OfflineAnswer {
        let asked = self.lm.and_then(|lm| {
            let mut m = lm.lock().unwrap_or_else(PoisonError::into_inner);
            let body = m
                .out_check_v2(self.world, self.now_ms, &[(cis.to_string(), None)], uuid::Uuid::nil())
                .ok()?;
            OfflineAnswer::from_answer(&body, cis)
        });
        let mut a =
            asked.unwrap_or_else(|| OfflineAnswer { cis: cis.to_string(), ..OfflineAnswer::default() });
        if let CheckSource::Offline { inst, version } = &issued.source {
            a.inst = Some(inst.clone());
            a.version = Some(version.clone());
        }
        a.req_id = Some(issued.req_id.clone());
        a.req_timestamp = Some(issued.time_ms);
        a
    }
}

impl PermissiveEvidence for RunEvidence<'_> {
    fn issued(&self, req_id: &str) -> Option<IssuedCheck> {
        if let Some(online) = self.reqlog.get(req_id) {
            return Some(IssuedCheck {
                req_id: online.req_id,
                time_ms: online.req_timestamp,
                codes: online.codes,
                source: CheckSource::Online,
            });
        }
        self.offline_issued(req_id)
    }

    fn answer(&self, req_id: &str, code: &str) -> Option<PermissiveAnswer> {
        let issued = self.issued(req_id)?;
        let sent = issued.codes.iter().find(|c| same_code(c, code))?.clone();
        Some(match &issued.source {
            CheckSource::Online => {
                let who = Requester { inn: Some(self.world.store_inn.as_str()) };
                PermissiveAnswer::Online(trueapi::check_code(
                    self.world,
                    &sent,
                    who,
                    self.now_ms,
                    self.true_api,
                ))
            }
            CheckSource::Offline { .. } => PermissiveAnswer::Offline(self.offline_answer(&issued, &sent)),
            CheckSource::Emergency => PermissiveAnswer::Emergency,
        })
    }

    fn last_answer(&self, code: &str, at_ms: i64) -> Option<LastAnswer> {
        let event = self
            .events
            .iter()
            .rev()
            .filter(|e| e.world_ms <= at_ms)
            .find(|e| e.codes.shared().iter().any(|c| same_code(c, code)))?;
        let answer = match (event.status, event.req_id.as_deref()) {
            (203, _) => PermissiveAnswer::Emergency,
            (200, Some(req_id)) => self.answer(req_id, code).unwrap_or(PermissiveAnswer::Error),
            _ => PermissiveAnswer::Error,
        };
        Some(LastAnswer { time_ms: event.world_ms, req_id: event.req_id.clone(), answer })
    }
}
