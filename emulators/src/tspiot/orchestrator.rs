//! The ТС ПИоТ's orchestration of one POS check (`tspiot.md` §5), the reference behaviour ТС ПИоТ
//! implementations are graded against:
//!
//! ```text
//! on POS request (t0):
//!     emergency mode active and no probe due  → 203
//!     online ← CDN algorithm (true-api.md §13) within cdnCodesCheckTimeout (1500 ms) of t0
//!         Result     → 200, online item (isCheckedOffline false)          [ends emergency mode]
//!         Emergency  → 203, emergency mode starts (418 too when tspiot.teapot_is_emergency)
//!         AuthError  → forget the token, obtain a new one once, retry within the budget
//!         otherwise  → ЛМ ЧЗ outCheck by t0 + codesCheckTimeout (1800 ms)
//!                        200 → 200, offline item (flags false, inst, version)
//!                        anything else / no answer → 514
//! ```
//!
//! Owns the emergency-mode state, the background list refresh (`refresh_due` → one refresh at a time,
//! inline only when no host list exists yet) and the per-check report the server traces. Budgets are
//! real time; host blocks, list refresh, token lifetimes and the emergency probe are world time.
//!
//! A mutation run (`TsPiotOptions::mutant`) is handed to the CDN client and the token manager by
//! [`TsPiot::new`]; the orchestrator's own defects are the branches marked `// mutant: <name>`.

use super::auth::{Credential, TokenManager};
use super::lm_client::{LmClient, LmOutcome};
use super::mutant::{self, TsPiotMutant};
use super::options::TsPiotOptions;
use super::upstream::{CdnClient, CheckOutcome};
use super::wire::{self, RequestedCode};
use crate::clock::WorldClock;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// What the POS gets for one check.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// 200 with an online item.
    Online {
        /// The item (`wire::online_item`).
        item: Value,
    },
    /// 200 with offline items from the ЛМ ЧЗ (one per ЛМ answer entry).
    Offline {
        /// The items (`wire::offline_items`).
        items: Vec<Value>,
    },
    /// 203: emergency mode.
    Emergency,
    /// 514: neither source answered in time.
    Unavailable {
        /// Why, for the trace and the error details.
        reason: String,
    },
}

/// The verdict and how it was reached (for the trace).
#[derive(Clone, Debug, PartialEq)]
pub struct CheckReport {
    /// What the POS gets.
    pub verdict: Verdict,
    /// Steps taken, in order (e.g. `online: OnlineUnavailable`, `lm: 200`).
    pub steps: Vec<String>,
    /// The upstream `reqId` the answer carries, if any.
    pub req_id: Option<String>,
}

/// One ТС ПИоТ instance.
pub struct TsPiot {
    opts: TsPiotOptions,
    clock: WorldClock,
    cdn: Arc<CdnClient>,
    lm: Option<LmClient>,
    auth: Arc<TokenManager>,
    /// World instant emergency mode started (or was last confirmed), if active.
    emergency_since: Mutex<Option<i64>>,
    /// Emergency mode forced by a scenario (control API), whatever True API says.
    scripted_emergency: AtomicBool,
    refreshing: Arc<AtomicBool>,
}

impl TsPiot {
    /// An instance over its parts. A mutation run (`opts.mutant`) is passed on to `cdn` and `auth`.
    pub fn new(
        opts: TsPiotOptions,
        clock: WorldClock,
        cdn: CdnClient,
        lm: Option<LmClient>,
        auth: Arc<TokenManager>,
    ) -> Self {
        let cdn = match opts.mutant {
            Some(m) => {
                auth.set_mutant(Some(m));
                cdn.with_mutant(Some(m))
            }
            None => cdn,
        };
        TsPiot {
            opts,
            clock,
            cdn: Arc::new(cdn),
            lm,
            auth,
            emergency_since: Mutex::new(None),
            scripted_emergency: AtomicBool::new(false),
            refreshing: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The settings.
    pub fn options(&self) -> &TsPiotOptions {
        &self.opts
    }

    /// The CDN client (host list and blocks, for `/info`, the control API and tests).
    pub fn cdn(&self) -> &CdnClient {
        &self.cdn
    }

    /// The token manager.
    pub fn auth(&self) -> &Arc<TokenManager> {
        &self.auth
    }

    /// The ЛМ ЧЗ client, if one is configured.
    pub fn lm(&self) -> Option<&LmClient> {
        self.lm.as_ref()
    }

    /// Whether emergency mode is active (from True API or scripted).
    pub fn emergency_active(&self) -> bool {
        self.scripted_emergency.load(Ordering::Relaxed)
            || self.emergency_since.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Force emergency mode on or off (a scripted emergency); off also ends a True API emergency.
    pub fn set_emergency(&self, on: bool) {
        self.scripted_emergency.store(on, Ordering::Relaxed);
        if !on {
            *self.emergency_since.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    /// Start-up: obtain a credential and the CDN list (best effort; failures are retried on use).
    pub async fn start(&self) {
        if let Some(cred) = self.auth.credential().await {
            let _ = self.cdn.refresh(&cred).await;
        }
    }

    /// Refresh the host list now if it is due: inline when there is no list yet (bounded by `limit`),
    /// else in the background, one refresh at a time.
    async fn refresh_if_due(&self, cred: &Credential, limit: Duration) {
        if !self.cdn.refresh_due() {
            return;
        }
        if self.cdn.hosts().is_empty() {
            let _ = tokio::time::timeout(limit, self.cdn.refresh(cred)).await;
        } else if !self.refreshing.swap(true, Ordering::AcqRel) {
            let (cdn, cred, flag) = (Arc::clone(&self.cdn), cred.clone(), Arc::clone(&self.refreshing));
            tokio::spawn(async move {
                let _ = cdn.refresh(&cred).await;
                flag.store(false, Ordering::Release);
            });
        }
    }

    /// Emergency mode: `Some(203)` when it holds and no probe is due.
    fn emergency_holds(&self) -> bool {
        if self.scripted_emergency.load(Ordering::Relaxed) {
            return true;
        }
        let since = *self.emergency_since.lock().unwrap_or_else(|p| p.into_inner());
        let probe_ms = i64::try_from(self.opts.emergency_probe_s.saturating_mul(1000)).unwrap_or(i64::MAX);
        since.is_some_and(|s| self.clock.now_ms().saturating_sub(s) < probe_ms)
    }

    fn set_emergency_since(&self, v: Option<i64>) {
        *self.emergency_since.lock().unwrap_or_else(|p| p.into_inner()) = v;
    }

    /// Check `codes` for the POS (§5).
    pub async fn check(&self, codes: &[RequestedCode]) -> CheckReport {
        let t0 = Instant::now();
        let mut steps = Vec::new();
        if self.emergency_holds() {
            steps.push("emergency mode holds: 203 without asking".to_string());
            return CheckReport { verdict: Verdict::Emergency, steps, req_id: None };
        }
        let texts: Vec<String> = codes.iter().map(|c| c.text.clone()).collect();
        let mut online_budget = Duration::from_millis(self.opts.upstream.online_budget_ms);
        let mut lm_deadline = t0 + Duration::from_millis(self.opts.codes_check_timeout_ms);
        // mutant: late-lm-fallback (3000 ms online, then the usual 300 ms for the ЛМ ЧЗ)
        if self.opts.mutant == Some(TsPiotMutant::LateLmFallback) {
            online_budget = Duration::from_millis(mutant::LATE_ONLINE_BUDGET_MS);
            lm_deadline = t0 + online_budget + Duration::from_millis(mutant::LATE_LM_MARGIN_MS);
        }
        let parallel_lm = match (&self.lm, self.opts.lm_in_parallel) {
            // mutant: no-lm-fallback (the ЛМ ЧЗ is never asked, not even in parallel)
            _ if self.opts.mutant == Some(TsPiotMutant::NoLmFallback) => None,
            (Some(lm), true) => {
                let (lm, texts) = (lm.clone(), texts.clone());
                Some(tokio::spawn(async move { lm.out_check(&texts, lm_deadline).await }))
            }
            _ => None,
        };
        let outcome = self.online(&texts, t0, online_budget, &mut steps).await;
        let in_emergency = self.emergency_since.lock().unwrap_or_else(|p| p.into_inner()).is_some();
        match outcome {
            Some(CheckOutcome::Result { host, body, .. }) => {
                if in_emergency {
                    steps.push("emergency mode ends".into());
                    self.set_emergency_since(None);
                }
                steps.push(format!("online answer from {host}"));
                let req_id = body.get("reqId").and_then(Value::as_str).map(str::to_string);
                let item = wire::online_item(&body, &self.opts);
                return CheckReport { verdict: Verdict::Online { item }, steps, req_id };
            }
            // mutant: invent-online-on-203 (a made-up online item instead of 203)
            Some(CheckOutcome::Emergency { host, .. })
                if self.opts.mutant == Some(TsPiotMutant::InventOnlineOn203) =>
            {
                steps.push(format!("{host} answered 203; answered online"));
                let (item, req_id) = mutant::invented_online_item(codes, self.clock.now_ms(), &self.opts);
                return CheckReport { verdict: Verdict::Online { item }, steps, req_id: Some(req_id) };
            }
            Some(CheckOutcome::Emergency { host, .. }) => {
                steps.push(format!("{host} answered 203: emergency mode"));
                self.set_emergency_since(Some(self.clock.now_ms()));
                return CheckReport { verdict: Verdict::Emergency, steps, req_id: None };
            }
            Some(CheckOutcome::Teapot { host }) if self.opts.teapot_is_emergency => {
                steps.push(format!("{host} answered 418, read as emergency mode"));
                self.set_emergency_since(Some(self.clock.now_ms()));
                return CheckReport { verdict: Verdict::Emergency, steps, req_id: None };
            }
            _ if in_emergency => {
                steps.push("emergency probe did not succeed: 203".into());
                self.set_emergency_since(Some(self.clock.now_ms()));
                return CheckReport { verdict: Verdict::Emergency, steps, req_id: None };
            }
            _ => {}
        }
        // mutant: no-lm-fallback (514 at once)
        if self.opts.mutant == Some(TsPiotMutant::NoLmFallback) {
            steps.push("online failed: 514".into());
            return CheckReport { verdict: unavailable("online failed"), steps, req_id: None };
        }
        let Some(lm) = &self.lm else {
            steps.push("no ЛМ ЧЗ configured".into());
            return CheckReport {
                verdict: unavailable("online failed and no ЛМ ЧЗ"), steps, req_id: None
            };
        };
        let lm_outcome = match parallel_lm {
            Some(handle) => handle.await.unwrap_or_else(|e| LmOutcome::Unreachable(e.to_string())),
            None => lm.out_check(&texts, lm_deadline).await,
        };
        match lm_outcome {
            LmOutcome::Answer(answer) => {
                steps.push("ЛМ ЧЗ answered: offline item".into());
                let req_id = answer_req_id(&answer);
                let items = wire::offline_items(&answer, codes, &self.opts);
                CheckReport { verdict: Verdict::Offline { items }, steps, req_id }
            }
            LmOutcome::Refused { status, error_code } => {
                let reason = format!(
                    "ЛМ ЧЗ refused: HTTP {status}{}",
                    error_code.map(|c| format!(" / {c}")).unwrap_or_default()
                );
                steps.push(reason.clone());
                CheckReport { verdict: unavailable(&reason), steps, req_id: None }
            }
            LmOutcome::Unreachable(why) => {
                let reason = format!("ЛМ ЧЗ did not answer: {why}");
                steps.push(reason.clone());
                CheckReport { verdict: unavailable(&reason), steps, req_id: None }
            }
        }
    }

    /// The online part: credential, list refresh, the CDN algorithm, one re-authentication after a 401.
    /// `None` when no credential could be had.
    async fn online(
        &self,
        texts: &[String],
        t0: Instant,
        budget: Duration,
        steps: &mut Vec<String>,
    ) -> Option<CheckOutcome> {
        let Some(cred) = self.auth.credential().await else {
            steps.push("no credential for the True API".into());
            return None;
        };
        self.refresh_if_due(&cred, budget.saturating_sub(t0.elapsed())).await;
        let fdn = self.fdn_for(&cred);
        let outcome = self.cdn.check(texts, fdn.as_deref(), &cred, t0).await;
        steps.push(format!("online: {}", describe(&outcome)));
        let CheckOutcome::AuthError { .. } = outcome else { return Some(outcome) };
        if !matches!(cred, Credential::Bearer(_)) {
            return Some(outcome);
        }
        // mutant: no-reauth-on-401 (the refused token is kept)
        if self.opts.mutant == Some(TsPiotMutant::NoReauthOn401) {
            return Some(outcome);
        }
        // §9.5: re-authenticate once; retry within the budget if time remains.
        self.auth.invalidate();
        let left = budget.saturating_sub(t0.elapsed());
        match tokio::time::timeout(left, self.auth.obtain()).await {
            Ok(Ok(t)) if t0.elapsed() < budget => {
                steps.push("re-authenticated after 401; retrying".into());
                let cred = Credential::Bearer(t.token);
                let retry = self.cdn.check(texts, Some(self.auth.fn_serial()), &cred, t0).await;
                steps.push(format!("online retry: {}", describe(&retry)));
                Some(retry)
            }
            Ok(Ok(_)) => {
                steps.push("re-authenticated after 401; no budget left to retry".into());
                Some(outcome)
            }
            Ok(Err(e)) => {
                steps.push(format!("re-authentication failed: {e}"));
                Some(outcome)
            }
            Err(_) => {
                steps.push("re-authentication did not finish within the budget".into());
                Some(outcome)
            }
        }
    }

    /// `fiscalDriveNumber` goes with a ФН token (it must match the token's drive).
    fn fdn_for(&self, cred: &Credential) -> Option<String> {
        matches!(cred, Credential::Bearer(_)).then(|| self.auth.fn_serial().to_string())
    }
}

fn unavailable(reason: &str) -> Verdict {
    Verdict::Unavailable { reason: reason.to_string() }
}

fn answer_req_id(answer: &Value) -> Option<String> {
    answer
        .get("reqId")
        .or_else(|| answer.get("results")?.get(0)?.get("reqId"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn describe(o: &CheckOutcome) -> String {
    match o {
        CheckOutcome::Result { host, .. } => format!("200 from {host}"),
        CheckOutcome::Emergency { host, .. } => format!("203 from {host}"),
        CheckOutcome::Teapot { host } => format!("418 from {host}"),
        CheckOutcome::AuthError { host, status } => format!("{status} (authentication) from {host}"),
        CheckOutcome::RequestError { host, status, .. } => format!("request error {status} from {host}"),
        CheckOutcome::CrossBorderUnavailable { host } => {
            format!("cross-border service unavailable at {host}")
        }
        CheckOutcome::OnlineUnavailable { tried } => {
            format!("online unavailable (tried {})", tried.join(", "))
        }
    }
}
