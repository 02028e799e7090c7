//! The ТС ПИоТ's True API client (spec `true-api.md` §8, §13; `tspiot.md` §5): CDN discovery
//! (`cdn/info`), health checks and latency ordering of the CDN hosts, host blocking, and the per-check
//! algorithm of §13.3 (`codes/check` within the online budget, retry once on 429/5xx, block failing
//! hosts, 203 / 418 / 401 / 4xx / 5000 outcomes).
//!
//! Owns the host list and its block state. Two clocks: the online budget and every network timeout are
//! real time (`tokio::time`); host blocks (15 min) and the list refresh instant (6–7 h) are world time
//! ([`WorldClock`]), so a scenario lifts a block or forces a refresh by moving the world clock.
//!
//! A mutation run ([`TsPiotMutant`], set with [`CdnClient::with_mutant`]) changes the algorithm at
//! the branches marked `// mutant: <name>`; without one the client is the reference.
//!
//! Must not: spawn tasks (a background refresh is the caller's: it reads [`CdnClient::refresh_due`]),
//! record trace events (the emulated hosts trace every call they receive; the orchestrator adds its
//! own), hold its lock across an `.await`, or panic on anything an upstream host sends (any status,
//! any body, hangs, resets).

use crate::clock::WorldClock;
use crate::tspiot::auth::Credential;
use crate::tspiot::mutant::{self, TsPiotMutant};
use crate::tspiot::options::UpstreamOptions;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reqwest::header::HeaderValue;
use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// Discovery path (`true-api.md` §13.1), on the discovery host.
pub const CDN_INFO_PATH: &str = "/api/v4/true-api/cdn/info";
/// Health-check path (§13.2), on each CDN host.
pub const HEALTH_PATH: &str = "/api/v4/true-api/cdn/health/check";
/// Check path (§3), on each CDN host.
pub const CHECK_PATH: &str = "/api/v4/true-api/codes/check";
/// Default timeout of the `cdn/info` call: real clients use 15 s for CDN calls (§13.3 remarks).
pub const DEFAULT_DISCOVERY_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest answer body read from an upstream host; a longer body counts as unreadable.
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// The True API client of one ТС ПИоТ. Clones share the host list, its block state and the refresh
/// schedule.
#[derive(Clone)]
pub struct CdnClient {
    inner: Arc<Inner>,
    discovery_timeout: Duration,
    /// The deliberate defect of a mutation run (`None`: the reference algorithm).
    mutant: Option<TsPiotMutant>,
}

struct Inner {
    /// Base URL of the discovery host, without a trailing `/`.
    discovery_url: String,
    clock: WorldClock,
    opts: UpstreamOptions,
    http: reqwest::Client,
    state: Mutex<State>,
}

/// What changes between calls.
struct State {
    /// Usable hosts, lowest round trip first.
    hosts: Vec<CdnHost>,
    /// A refresh has succeeded at least once.
    listed: bool,
    /// World instant after which the list is due for a refresh.
    next_refresh_ms: Option<i64>,
    /// A check found every host blocked (§13.3: "trigger refresh() in the background").
    refresh_requested: bool,
    /// World instant of the last refresh a check asked for; another is asked for only a block period
    /// (`block_s`) later, so a dead CDN costs one extra `cdn/info`, not one per check.
    last_extra_refresh_ms: Option<i64>,
    /// Refreshes running now.
    refreshing: usize,
    /// Draws the refresh instants (seeded from [`UpstreamOptions::seed`]).
    rng: ChaCha8Rng,
}

/// One usable CDN host.
#[derive(Clone, Debug)]
struct CdnHost {
    url: String,
    rtt_ms: Option<u64>,
    blocked_until_ms: Option<i64>,
}

/// What a refresh found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RefreshReport {
    /// Hosts listed by `cdn/info` (distinct).
    pub listed: usize,
    /// Hosts that passed the health check and are now in use.
    pub healthy: usize,
    /// World instant from which the next refresh is due.
    pub next_refresh_ms: i64,
}

/// One host in use, as `/info`, the trace and tests show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostStatus {
    /// Base URL as listed by `cdn/info`.
    pub url: String,
    /// Measured health-check round trip, real ms (`None` for the sandbox base, which is not checked).
    pub rtt_ms: Option<u64>,
    /// World instant the host's block ends, while it is blocked; `None` when it is usable.
    pub blocked_until_ms: Option<i64>,
}

/// How one online check ended (`true-api.md` §13.3).
#[derive(Clone, Debug, PartialEq)]
pub enum CheckOutcome {
    /// 200 with `code` 0: the whole True API answer (`codes`, `reqId`, `reqTimestamp`, …).
    Result { host: String, status: u16, body: Value },
    /// 203: ГИС МТ emergency mode (the host is not blocked).
    Emergency { host: String, body: Option<Value> },
    /// 418 (the orchestrator decides: emergency or failure).
    Teapot { host: String },
    /// 401 or 403: the credential was refused; no other host was tried. `status` 0 and an empty
    /// `host` mean the credential could not even be sent (not a valid header value).
    AuthError { host: String, status: u16 },
    /// 400, 404, 410 or another 4xx, or 200 with `code` ≠ 0: not a check result, no host switch.
    RequestError { host: String, status: u16, body: Option<Value> },
    /// 5xx with the 5000 marker twice on one host: the cross-border service is down (no block).
    CrossBorderUnavailable { host: String },
    /// The budget ran out, or every host failed or is blocked, or there is no host. `tried` lists
    /// the hosts called, in order.
    OnlineUnavailable { tried: Vec<String> },
}

impl CheckOutcome {
    /// The host that gave the outcome (`None` for [`CheckOutcome::OnlineUnavailable`]).
    pub fn host(&self) -> Option<&str> {
        match self {
            CheckOutcome::Result { host, .. }
            | CheckOutcome::Emergency { host, .. }
            | CheckOutcome::Teapot { host }
            | CheckOutcome::AuthError { host, .. }
            | CheckOutcome::RequestError { host, .. }
            | CheckOutcome::CrossBorderUnavailable { host } => Some(host),
            CheckOutcome::OnlineUnavailable { .. } => None,
        }
    }
}

/// Why a refresh failed. The previous host list (and its schedule) stays in use.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The credential cannot be sent as an HTTP header value.
    #[error("the credential is not a valid HTTP header value")]
    BadCredential,
    /// The discovery host could not be reached, or the connection broke.
    #[error("discovery host {url} unreachable")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The discovery host did not answer in time.
    #[error("discovery host {url} did not answer within {after_ms} ms")]
    Timeout { url: String, after_ms: u64 },
    /// The discovery host refused the credential (401 or 403).
    #[error("discovery host refused the credential with HTTP {status}")]
    Unauthorized { status: u16 },
    /// The discovery host answered another non-200 status.
    #[error("discovery host {url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    /// The discovery answer is not the `cdn/info` shape.
    #[error("discovery host {url} gave an unusable answer: {reason}")]
    BadAnswer { url: String, reason: String },
}

/// What one `codes/check` call gave, before the algorithm judges it.
enum Reply {
    /// An HTTP answer; `body` is its JSON, if it was readable JSON.
    Answer { status: u16, body: Option<Value> },
    /// Timeout, refused, reset, or the body broke off.
    Failed,
}

/// What the algorithm does with a [`Reply`].
enum Verdict {
    /// The check is over.
    Done(CheckOutcome),
    /// Retry once on the same host; then block it, or with the 5000 marker give up without a block.
    RetryOnce { cross_border: bool },
    /// Block the host and move on.
    Block,
}

enum BodyError {
    Transport(reqwest::Error),
    TooLarge,
}

/// Keeps [`State::refreshing`] counted while a refresh runs (also when its future is dropped).
struct RefreshInFlight<'a>(&'a Inner);

impl Drop for RefreshInFlight<'_> {
    fn drop(&mut self) {
        let mut st = lock(&self.0.state);
        st.refreshing = st.refreshing.saturating_sub(1);
    }
}

impl CdnClient {
    /// A client of the True API whose discovery host is at `discovery_url` (base URL). It has no host
    /// list until [`CdnClient::refresh`] succeeds.
    pub fn new(
        discovery_url: String,
        clock: WorldClock,
        opts: UpstreamOptions,
        http: reqwest::Client,
    ) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(opts.seed);
        let state = State {
            hosts: Vec::new(),
            listed: false,
            next_refresh_ms: None,
            refresh_requested: false,
            last_extra_refresh_ms: None,
            refreshing: 0,
            rng,
        };
        CdnClient {
            inner: Arc::new(Inner {
                discovery_url: trim_base(&discovery_url),
                clock,
                opts,
                http,
                state: Mutex::new(state),
            }),
            discovery_timeout: DEFAULT_DISCOVERY_TIMEOUT,
            mutant: None,
        }
    }

    /// The same client with another `cdn/info` timeout (default [`DEFAULT_DISCOVERY_TIMEOUT`]).
    pub fn with_discovery_timeout(mut self, timeout: Duration) -> Self {
        self.discovery_timeout = timeout;
        self
    }

    /// The same client running with a deliberate defect (mutation testing only; `None`: the reference).
    /// Clones made afterwards carry it; the host list and its blocks stay shared with earlier clones.
    pub fn with_mutant(mut self, mutant: Option<TsPiotMutant>) -> Self {
        self.mutant = mutant;
        self
    }

    /// The deliberate defect this client runs with, if any.
    pub fn mutant(&self) -> Option<TsPiotMutant> {
        self.mutant
    }

    /// Base URL of the discovery host.
    pub fn discovery_url(&self) -> &str {
        &self.inner.discovery_url
    }

    /// The settings in use.
    pub fn options(&self) -> &UpstreamOptions {
        &self.inner.opts
    }

    /// `GET cdn/info` with `cred`, then a health check of every listed host in parallel (timeout
    /// `health_timeout_ms`); hosts that fail are dropped, the rest sorted by measured round trip
    /// (lowest first, ties in listed order). Hosts that stay listed keep their block. The next refresh
    /// is due at world now + uniform[`refresh_min_s`, `refresh_max_s`] (seeded draw).
    ///
    /// An empty `cdn/info` list (sandbox profile, `true-api.md` §1) makes the discovery base itself
    /// the only check host, without a health check. On error the previous list stays.
    pub async fn refresh(&self, cred: &Credential) -> Result<RefreshReport, UpstreamError> {
        let _in_flight = self.begin_refresh();
        let (name, value) = credential_header(cred).ok_or(UpstreamError::BadCredential)?;
        let listed = self.discover(name, &value).await?;
        let fresh: Vec<CdnHost> = if listed.is_empty() {
            vec![CdnHost { url: self.inner.discovery_url.clone(), rtt_ms: None, blocked_until_ms: None }]
        } else {
            let probes = listed.iter().map(|url| self.health(url, name, &value));
            let rtts = futures_util::future::join_all(probes).await;
            let mut up: Vec<CdnHost> = listed
                .iter()
                .zip(rtts)
                .filter_map(|(url, rtt)| {
                    rtt.map(|ms| CdnHost { url: url.clone(), rtt_ms: Some(ms), blocked_until_ms: None })
                })
                .collect();
            // mutant: no-health-order (keeps the cdn/info order)
            if self.mutant != Some(TsPiotMutant::NoHealthOrder) {
                up.sort_by_key(|h| h.rtt_ms);
            }
            up
        };
        let healthy = if listed.is_empty() { 0 } else { fresh.len() };
        let now = self.inner.clock.now_ms();
        let mut st = lock(&self.inner.state);
        let mut fresh = fresh;
        for h in &mut fresh {
            h.blocked_until_ms =
                st.hosts.iter().find(|old| old.url == h.url).and_then(|old| old.blocked_until_ms);
        }
        let next = now.saturating_add(draw_refresh_delay_ms(&mut st.rng, &self.inner.opts));
        st.hosts = fresh;
        st.listed = true;
        st.next_refresh_ms = Some(next);
        if st.refresh_requested {
            st.last_extra_refresh_ms = Some(now);
        }
        st.refresh_requested = false;
        Ok(RefreshReport { listed: listed.len(), healthy, next_refresh_ms: next })
    }

    /// True when a refresh should run: no list yet, the world clock reached the scheduled refresh
    /// instant, or a check found every host blocked. False while a refresh is running.
    pub fn refresh_due(&self) -> bool {
        let now = self.inner.clock.now_ms();
        let st = lock(&self.inner.state);
        st.refreshing == 0
            && (!st.listed || st.refresh_requested || st.next_refresh_ms.is_none_or(|t| now >= t))
    }

    /// World instant from which the next refresh is due (`None` before the first refresh).
    pub fn next_refresh_ms(&self) -> Option<i64> {
        lock(&self.inner.state).next_refresh_ms
    }

    /// The §13.3 `check(codes)` loop. Deadline = `started` + `online_budget_ms` (real time). Hosts are
    /// tried in latency order, skipping those blocked at world now; each request's timeout is the
    /// remaining budget. The body is `{"codes":[…]}` plus `"fiscalDriveNumber"` when given.
    ///
    /// 200 → `Result` (or `RequestError` when `code` ≠ 0); 203 → `Emergency`; 418 → `Teapot`;
    /// 401/403 → `AuthError`; other 4xx → `RequestError` (no switch); 429 or 5xx → retry once on the
    /// same host, then block it and move on; 5xx with the 5000 marker → retry once, then
    /// `CrossBorderUnavailable` (no block); timeout or network error → block and move on. The budget
    /// gone, or no host left → `OnlineUnavailable`; when every host is blocked, [`Self::refresh_due`]
    /// turns true.
    pub async fn check(
        &self,
        codes: &[String],
        fiscal_drive_number: Option<&str>,
        cred: &Credential,
        started: Instant,
    ) -> CheckOutcome {
        let mut budget_ms = self.inner.opts.online_budget_ms;
        // mutant: late-lm-fallback (waits 3000 ms for the online path)
        if self.mutant == Some(TsPiotMutant::LateLmFallback) {
            budget_ms = mutant::LATE_ONLINE_BUDGET_MS;
        }
        let deadline = started + Duration::from_millis(budget_ms);
        let Some((name, value)) = credential_header(cred) else {
            return CheckOutcome::AuthError { host: String::new(), status: 0 };
        };
        let body = check_body(codes, fiscal_drive_number);
        // mutant: strip-gs-upstream (⟨GS⟩ removed before sending)
        let body = match self.mutant {
            Some(TsPiotMutant::StripGsUpstream) => check_body(&mutant::strip_gs(codes), fiscal_drive_number),
            _ => body,
        };
        let mut tried: Vec<String> = Vec::new();
        for host in self.eligible_hosts() {
            if self.is_blocked(&host) {
                continue; // blocked meanwhile by a concurrent check
            }
            let mut retried = false;
            loop {
                if Instant::now() >= deadline {
                    return self.unavailable(tried);
                }
                if tried.last() != Some(&host) {
                    tried.push(host.clone());
                }
                let reply = self.post_check(&host, name, &value, &body, deadline).await;
                match judge(&host, reply, self.mutant) {
                    Verdict::Done(outcome) => return outcome,
                    Verdict::RetryOnce { .. } if !retried => retried = true,
                    Verdict::RetryOnce { cross_border: true } => {
                        return CheckOutcome::CrossBorderUnavailable { host };
                    }
                    Verdict::RetryOnce { cross_border: false } | Verdict::Block => {
                        self.block(&host);
                        break;
                    }
                }
            }
            if Instant::now() >= deadline {
                return self.unavailable(tried);
            }
        }
        self.unavailable(tried)
    }

    /// The hosts in use, lowest round trip first.
    pub fn hosts(&self) -> Vec<HostStatus> {
        let now = self.inner.clock.now_ms();
        lock(&self.inner.state)
            .hosts
            .iter()
            .map(|h| HostStatus {
                url: h.url.clone(),
                rtt_ms: h.rtt_ms,
                blocked_until_ms: h.blocked_until_ms.filter(|&t| t > now),
            })
            .collect()
    }

    /// Block the host with base URL `url` for `block_s` of world time from now (no-op for a host not
    /// in use; an existing longer block is kept).
    pub fn block(&self, url: &str) {
        let now = self.inner.clock.now_ms();
        let until = now
            .saturating_add(i64::try_from(self.inner.opts.block_s.saturating_mul(1000)).unwrap_or(i64::MAX));
        let url = trim_base(url);
        let mut st = lock(&self.inner.state);
        if let Some(h) = st.hosts.iter_mut().find(|h| h.url == url) {
            h.blocked_until_ms = Some(h.blocked_until_ms.map_or(until, |t| t.max(until)));
        }
    }

    fn begin_refresh(&self) -> RefreshInFlight<'_> {
        lock(&self.inner.state).refreshing += 1;
        RefreshInFlight(&self.inner)
    }

    /// `GET cdn/info`: the listed host base URLs, distinct, in listed order.
    async fn discover(&self, name: &'static str, value: &HeaderValue) -> Result<Vec<String>, UpstreamError> {
        let url = format!("{}{CDN_INFO_PATH}", self.inner.discovery_url);
        let call = async {
            let resp = self.inner.http.get(&url).header(name, value.clone()).send().await?;
            let status = resp.status().as_u16();
            Ok::<_, BodyError>((status, read_body(resp).await?))
        };
        let (status, bytes) = match tokio::time::timeout(self.discovery_timeout, call).await {
            Err(_) => {
                let after_ms = u64::try_from(self.discovery_timeout.as_millis()).unwrap_or(u64::MAX);
                return Err(UpstreamError::Timeout { url, after_ms });
            }
            Ok(Err(BodyError::Transport(source))) => return Err(UpstreamError::Unreachable { url, source }),
            Ok(Err(BodyError::TooLarge)) => {
                return Err(UpstreamError::BadAnswer { url, reason: "answer too large".into() })
            }
            Ok(Ok(answer)) => answer,
        };
        match status {
            200 => {}
            401 | 403 => return Err(UpstreamError::Unauthorized { status }),
            _ => return Err(UpstreamError::Status { url, status }),
        }
        let bad = |reason: &str| UpstreamError::BadAnswer { url: url.clone(), reason: reason.into() };
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad("not JSON"))?;
        let obj = v.as_object().ok_or_else(|| bad("not a JSON object"))?;
        match obj.get("code") {
            None | Some(Value::Null) => {}
            Some(c) if int_of(c) == Some(0) => {}
            Some(_) => return Err(bad("code is not 0")),
        }
        let hosts = match obj.get("hosts") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err(bad("hosts is not a list")),
        };
        let mut listed: Vec<String> = Vec::new();
        for h in &hosts {
            let Some(base) = h.get("host").and_then(Value::as_str).map(trim_base) else { continue };
            if !base.is_empty() && !listed.contains(&base) {
                listed.push(base);
            }
        }
        Ok(listed)
    }

    /// `GET health/check` on `base`: the round trip in real ms, or `None` on any failure or timeout.
    async fn health(&self, base: &str, name: &'static str, value: &HeaderValue) -> Option<u64> {
        let t0 = Instant::now();
        let call = async {
            let resp =
                self.inner.http.get(format!("{base}{HEALTH_PATH}")).header(name, value.clone()).send().await;
            let resp = resp.ok().filter(|r| r.status().as_u16() == 200)?;
            let bytes = read_body(resp).await.ok()?;
            // A JSON answer must say `code` 0 when it says a code at all.
            let code = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| v.get("code").map(int_of));
            if matches!(code, Some(c) if c != Some(0)) {
                return None;
            }
            Some(t0.elapsed())
        };
        let timeout = Duration::from_millis(self.inner.opts.health_timeout_ms);
        let rtt = tokio::time::timeout(timeout, call).await.ok().flatten()?;
        Some(u64::try_from(rtt.as_millis()).unwrap_or(u64::MAX))
    }

    /// `POST codes/check` on `base`, answered (body included) before `deadline`.
    async fn post_check(
        &self,
        base: &str,
        name: &'static str,
        value: &HeaderValue,
        body: &Value,
        deadline: Instant,
    ) -> Reply {
        let call = async {
            let resp = self
                .inner
                .http
                .post(format!("{base}{CHECK_PATH}"))
                .header(name, value.clone())
                .json(body)
                .send()
                .await;
            let Ok(resp) = resp else { return Reply::Failed };
            let status = resp.status().as_u16();
            match read_body(resp).await {
                Ok(bytes) => Reply::Answer { status, body: serde_json::from_slice(&bytes).ok() },
                Err(BodyError::TooLarge) => Reply::Answer { status, body: None },
                Err(BodyError::Transport(_)) => Reply::Failed,
            }
        };
        tokio::time::timeout_at(deadline, call).await.unwrap_or(Reply::Failed)
    }

    /// Hosts not blocked at world now, in latency order; asks for a refresh when there are none.
    fn eligible_hosts(&self) -> Vec<String> {
        let now = self.inner.clock.now_ms();
        let mut st = lock(&self.inner.state);
        let eligible: Vec<String> = st
            .hosts
            .iter()
            .filter(|h| h.blocked_until_ms.is_none_or(|t| t <= now))
            .map(|h| h.url.clone())
            .collect();
        // mutant: ignores-host-block (every host in use, blocked or not)
        if self.mutant == Some(TsPiotMutant::IgnoresHostBlock) {
            return st.hosts.iter().map(|h| h.url.clone()).collect();
        }
        if eligible.is_empty() && st.listed {
            self.request_extra_refresh(&mut st, now);
        }
        eligible
    }

    /// Ask for a refresh because every host is blocked — unless one was asked for less than a block
    /// period ago (the hosts it found are blocked or gone for that long anyway).
    fn request_extra_refresh(&self, st: &mut State, now: i64) {
        let period = i64::try_from(self.inner.opts.block_s.saturating_mul(1000)).unwrap_or(i64::MAX);
        if st.last_extra_refresh_ms.is_none_or(|t| now.saturating_sub(t) >= period) {
            st.refresh_requested = true;
        }
    }

    fn is_blocked(&self, url: &str) -> bool {
        // mutant: ignores-host-block (a block is never looked at)
        if self.mutant == Some(TsPiotMutant::IgnoresHostBlock) {
            return false;
        }
        let now = self.inner.clock.now_ms();
        lock(&self.inner.state)
            .hosts
            .iter()
            .any(|h| h.url == url && h.blocked_until_ms.is_some_and(|t| t > now))
    }

    /// `OnlineUnavailable`, asking for a refresh when every host in use is blocked now.
    fn unavailable(&self, tried: Vec<String>) -> CheckOutcome {
        let now = self.inner.clock.now_ms();
        let mut st = lock(&self.inner.state);
        if st.listed && st.hosts.iter().all(|h| h.blocked_until_ms.is_some_and(|t| t > now)) {
            self.request_extra_refresh(&mut st, now);
        }
        CheckOutcome::OnlineUnavailable { tried }
    }
}

impl fmt::Debug for CdnClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CdnClient")
            .field("discovery_url", &self.inner.discovery_url)
            .field("hosts", &self.hosts())
            .field("next_refresh_ms", &self.next_refresh_ms())
            .finish()
    }
}

/// What the algorithm does with one reply from `host` (`true-api.md` §8); `mutant` is the deliberate
/// defect of a mutation run (`None`: the reference table).
fn judge(host: &str, reply: Reply, mutant: Option<TsPiotMutant>) -> Verdict {
    let (status, body) = match reply {
        Reply::Failed => return Verdict::Block,
        Reply::Answer { status, body } => (status, body),
    };
    let host = host.to_string();
    match status {
        200 => {
            let Some(obj) = body.as_ref().and_then(Value::as_object) else {
                // An unreadable 200 is a broken host: handled like a server error.
                return Verdict::RetryOnce { cross_border: false };
            };
            match obj.get("code") {
                Some(c) if int_of(c) == Some(0) => {}
                None | Some(Value::Null) if obj.get("codes").is_some_and(Value::is_array) => {}
                None | Some(Value::Null) => return Verdict::RetryOnce { cross_border: false },
                Some(_) => return Verdict::Done(CheckOutcome::RequestError { host, status, body }),
            }
            let body = body.unwrap_or(Value::Null);
            Verdict::Done(CheckOutcome::Result { host, status, body })
        }
        203 => Verdict::Done(CheckOutcome::Emergency { host, body }),
        418 => Verdict::Done(CheckOutcome::Teapot { host }),
        // mutant: switch-on-401 (a refused credential read as a host failure)
        401 | 403 if mutant == Some(TsPiotMutant::SwitchOn401) => Verdict::Block,
        401 | 403 => Verdict::Done(CheckOutcome::AuthError { host, status }),
        // mutant: switch-on-429 (no retry on the same host)
        429 if mutant == Some(TsPiotMutant::SwitchOn429) => Verdict::Block,
        429 => Verdict::RetryOnce { cross_border: false },
        // mutant: retry-on-400 (a request error read as a server error)
        400 if mutant == Some(TsPiotMutant::RetryOn400) => Verdict::RetryOnce { cross_border: false },
        // mutant: block-on-5000 (the 5000 marker not looked at)
        500..=599 if mutant == Some(TsPiotMutant::BlockOn5000) => Verdict::RetryOnce { cross_border: false },
        500..=599 => Verdict::RetryOnce { cross_border: body.as_ref().is_some_and(is_cross_border) },
        // 400, 404, 410, other 4xx, and anything the spec does not name: no retry, no switch.
        _ => Verdict::Done(CheckOutcome::RequestError { host, status, body }),
    }
}

/// The 5000 marker: `code == 5000` or `error_message == "5000"` (`true-api.md` §8).
fn is_cross_border(body: &Value) -> bool {
    body.get("code").and_then(int_of) == Some(5000)
        || body.get("error_message").and_then(int_of) == Some(5000)
}

/// An integer written as a JSON number or as a decimal string.
fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `{"codes":[…]}` plus `"fiscalDriveNumber"` when given (⟨GS⟩ goes out as `\u001d`).
fn check_body(codes: &[String], fiscal_drive_number: Option<&str>) -> Value {
    let mut body = Map::new();
    body.insert("codes".into(), Value::from(codes.to_vec()));
    if let Some(fdn) = fiscal_drive_number {
        body.insert("fiscalDriveNumber".into(), Value::from(fdn));
    }
    Value::Object(body)
}

/// The credential's header, or `None` when its value cannot go into a header.
fn credential_header(cred: &Credential) -> Option<(&'static str, HeaderValue)> {
    let (name, value) = cred.header();
    let mut value = HeaderValue::from_str(&value).ok()?;
    value.set_sensitive(true);
    Some((name, value))
}

/// The delay until the next refresh, world ms: uniform in [`refresh_min_s`, `refresh_max_s`].
fn draw_refresh_delay_ms(rng: &mut ChaCha8Rng, opts: &UpstreamOptions) -> i64 {
    let ms = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
    let (a, b) = (ms(opts.refresh_min_s), ms(opts.refresh_max_s));
    rng.random_range(a.min(b)..=a.max(b))
}

/// Read a body of at most [`MAX_BODY_BYTES`].
async fn read_body(mut resp: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if buf.len().saturating_add(chunk.len()) > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

impl From<reqwest::Error> for BodyError {
    fn from(e: reqwest::Error) -> Self {
        BodyError::Transport(e)
    }
}

/// A base URL without trailing `/` and surrounding blanks.
fn trim_base(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn verdict(status: u16, body: Option<Value>) -> Verdict {
        judge("h", Reply::Answer { status, body }, None)
    }

    #[test]
    fn statuses_map_to_the_spec_table() {
        let ok = json!({"code": 0, "codes": [], "reqId": "x", "reqTimestamp": 1});
        assert!(matches!(verdict(200, Some(ok)), Verdict::Done(CheckOutcome::Result { .. })));
        assert!(matches!(
            verdict(200, Some(json!({"code": 7, "description": "no"}))),
            Verdict::Done(CheckOutcome::RequestError { status: 200, .. })
        ));
        assert!(matches!(
            verdict(200, Some(json!({"codes": []}))),
            Verdict::Done(CheckOutcome::Result { .. })
        ));
        assert!(matches!(verdict(200, None), Verdict::RetryOnce { cross_border: false }));
        assert!(matches!(verdict(200, Some(json!([1]))), Verdict::RetryOnce { cross_border: false }));
        assert!(matches!(verdict(203, None), Verdict::Done(CheckOutcome::Emergency { body: None, .. })));
        assert!(matches!(verdict(418, None), Verdict::Done(CheckOutcome::Teapot { .. })));
        assert!(matches!(verdict(401, None), Verdict::Done(CheckOutcome::AuthError { status: 401, .. })));
        assert!(matches!(verdict(403, None), Verdict::Done(CheckOutcome::AuthError { status: 403, .. })));
        for s in [400, 404, 410, 422, 302, 204] {
            assert!(matches!(verdict(s, None), Verdict::Done(CheckOutcome::RequestError { .. })), "{s}");
        }
        assert!(matches!(verdict(429, None), Verdict::RetryOnce { cross_border: false }));
        assert!(matches!(verdict(502, Some(json!("oops"))), Verdict::RetryOnce { cross_border: false }));
        assert!(matches!(
            verdict(503, Some(json!({"code": 5000}))),
            Verdict::RetryOnce { cross_border: true }
        ));
        assert!(matches!(
            verdict(500, Some(json!({"error_message": "5000"}))),
            Verdict::RetryOnce { cross_border: true }
        ));
        assert!(matches!(judge("h", Reply::Failed, None), Verdict::Block));
    }

    /// The orchestrator spawns refreshes and checks: their futures must be `Send` (no lock held
    /// across an `.await`). Futures are built, never polled.
    #[test]
    fn futures_are_send() {
        fn is_send<T: Send>(_: T) {}
        let c = CdnClient::new(
            "http://127.0.0.1:9".into(),
            WorldClock::frozen_at(0),
            UpstreamOptions::default(),
            reqwest::Client::new(),
        );
        let cred = Credential::Bearer("t".into());
        is_send(c.refresh(&cred));
        is_send(c.check(&[], None, &cred, Instant::now()));
        assert!(c.refresh_due());
    }

    #[test]
    fn body_carries_codes_and_the_fiscal_drive() {
        let codes = vec!["01046\u{1d}93ab".to_string()];
        assert_eq!(check_body(&codes, None).to_string(), r#"{"codes":["01046\u001d93ab"]}"#);
        assert_eq!(check_body(&codes, Some("7380440700000123"))["fiscalDriveNumber"], "7380440700000123");
    }

    #[test]
    fn judge_mutants_change_the_status_table() {
        let m = |m, status, body| judge("h", Reply::Answer { status, body }, Some(m));
        // switch-on-429: block at once instead of one retry.
        assert!(matches!(verdict(429, None), Verdict::RetryOnce { cross_border: false }));
        assert!(matches!(m(TsPiotMutant::SwitchOn429, 429, None), Verdict::Block));
        // retry-on-400: retried like a 5xx instead of a request error.
        assert!(matches!(verdict(400, None), Verdict::Done(CheckOutcome::RequestError { .. })));
        assert!(matches!(m(TsPiotMutant::RetryOn400, 400, None), Verdict::RetryOnce { cross_border: false }));
        assert!(matches!(m(TsPiotMutant::RetryOn400, 404, None), Verdict::Done(_)), "400 only");
        // switch-on-401: a host failure instead of an authentication error.
        for s in [401, 403] {
            assert!(matches!(verdict(s, None), Verdict::Done(CheckOutcome::AuthError { .. })));
            assert!(matches!(m(TsPiotMutant::SwitchOn401, s, None), Verdict::Block));
        }
        // block-on-5000: the 5000 marker ignored.
        let marker = Some(json!({"code": 5000}));
        assert!(matches!(verdict(503, marker.clone()), Verdict::RetryOnce { cross_border: true }));
        assert!(matches!(
            m(TsPiotMutant::BlockOn5000, 503, marker),
            Verdict::RetryOnce { cross_border: false }
        ));
        // Any other mutant leaves the table alone.
        assert!(matches!(m(TsPiotMutant::V1AsV2, 429, None), Verdict::RetryOnce { cross_border: false }));
    }

    /// The upstream mutants against real emulated True API hosts (3 CDN hosts, the fault layer, a
    /// frozen world clock), each beside the reference: which host got which call, from the trace.
    mod hosts {
        use super::*;
        use crate::cdn::{self, TrueApiContext, TrueApiServers};
        use crate::faults::{FaultKind, FaultRule, Latency, Trigger};
        use crate::trace::{Trace, TraceEvent, TraceFilter};
        use crate::world::default::{default_world, STORE_API_KEY};
        use std::net::{IpAddr, Ipv4Addr};
        use std::sync::RwLock;

        const NOW: i64 = 1_767_225_600_000; // 2026-01-01, before the X-API-KEY cut-off

        struct Env {
            servers: TrueApiServers,
            ctx: TrueApiContext,
            client: CdnClient,
            cred: Credential,
        }

        /// 3 CDN hosts and a client with `mutant`, not refreshed yet.
        async fn bare(mutant: Option<TsPiotMutant>) -> Env {
            let world = Arc::new(RwLock::new(default_world(NOW).unwrap()));
            let ctx = TrueApiContext::new(world, WorldClock::frozen_at(NOW), Trace::in_memory(10_000));
            let servers = cdn::spawn(ctx.clone(), IpAddr::V4(Ipv4Addr::LOCALHOST), 3).await.unwrap();
            let http = reqwest::Client::builder().no_proxy().build().unwrap();
            let client = CdnClient::new(
                servers.endpoints.discovery.clone(),
                ctx.clock.clone(),
                UpstreamOptions::default(),
                http,
            )
            .with_mutant(mutant);
            Env { servers, ctx, client, cred: Credential::XApiKey(STORE_API_KEY.into()) }
        }

        /// The same, refreshed once.
        async fn env(mutant: Option<TsPiotMutant>) -> Env {
            let env = bare(mutant).await;
            assert_eq!(env.client.refresh(&env.cred).await.unwrap().healthy, 3);
            env
        }

        impl Env {
            fn name(&self, url: &str) -> String {
                let i = self.servers.endpoints.hosts.iter().position(|h| h == url).expect("a CDN host");
                format!("cdn-{}", i + 1)
            }

            fn order(&self) -> Vec<String> {
                self.client.hosts().iter().map(|h| self.name(&h.url)).collect()
            }

            fn blocked(&self) -> Vec<String> {
                let hosts = self.client.hosts();
                hosts.iter().filter(|h| h.blocked_until_ms.is_some()).map(|h| self.name(&h.url)).collect()
            }

            fn code(&self) -> String {
                let w = self.ctx.world.read().unwrap();
                let c = w.codes().into_iter().find(|c| c.case.as_deref() == Some("in-circulation"));
                c.unwrap().code.clone()
            }

            async fn check(&self) -> CheckOutcome {
                self.client.check(&[self.code()], None, &self.cred, Instant::now()).await
            }

            fn fault(&self, rule: FaultRule) {
                self.ctx.faults.add(rule).unwrap();
            }

            fn mark(&self) -> u64 {
                self.ctx.trace.last_seq().unwrap_or(0)
            }

            fn check_events_since(&self, seq: u64) -> Vec<TraceEvent> {
                let f = TraceFilter { since_seq: Some(seq), ..TraceFilter::default() };
                self.ctx.trace.events(&f).into_iter().filter(|e| e.path == CHECK_PATH).collect()
            }

            /// The CDN hosts that got a connection after `seq` (refused ones included), in order.
            fn hosts_called_since(&self, seq: u64) -> Vec<String> {
                let f = TraceFilter { since_seq: Some(seq), ..TraceFilter::default() };
                let events = self.ctx.trace.events(&f);
                events
                    .into_iter()
                    .filter(|e| e.path == CHECK_PATH || e.method == "CONNECT")
                    .map(|e| e.component.to_string())
                    .collect()
            }

            /// `(component, status)` of each `codes/check` call after `seq`.
            fn checks_since(&self, seq: u64) -> Vec<(String, u16)> {
                let events = self.check_events_since(seq);
                events.into_iter().map(|e| (e.component.to_string(), e.status)).collect()
            }
        }

        fn on_check(kind: FaultKind, host: &str) -> FaultRule {
            FaultRule::new(kind).on_host(host).on_endpoint(CHECK_PATH)
        }

        /// The outcome's host as a trace name, for a result.
        fn answered_by(env: &Env, o: &CheckOutcome) -> String {
            match o {
                CheckOutcome::Result { host, .. } => env.name(host),
                other => panic!("expected a result, got {other:?}"),
            }
        }

        #[tokio::test]
        async fn switch_on_429_skips_the_retry_on_the_same_host() {
            for mutant in [None, Some(TsPiotMutant::SwitchOn429)] {
                let env = env(mutant).await;
                let (first, second) = (env.order()[0].clone(), env.order()[1].clone());
                env.fault(on_check(FaultKind::rate_limited_429(), &first).when(Trigger::nth(1)));
                let seq = env.mark();
                let o = env.check().await;
                let calls = env.checks_since(seq);
                if mutant.is_none() {
                    assert_eq!(answered_by(&env, &o), first);
                    assert_eq!(calls, [(first.clone(), 429), (first, 200)]);
                    assert!(env.blocked().is_empty());
                } else {
                    assert_eq!(answered_by(&env, &o), second);
                    assert_eq!(calls, [(first.clone(), 429), (second, 200)]);
                    assert_eq!(env.blocked(), [first]);
                }
                env.servers.shutdown().await;
            }
        }

        #[tokio::test]
        async fn retry_on_400_retries_blocks_and_switches() {
            for mutant in [None, Some(TsPiotMutant::RetryOn400)] {
                let env = env(mutant).await;
                let (first, second) = (env.order()[0].clone(), env.order()[1].clone());
                env.fault(on_check(FaultKind::status(400), &first));
                let seq = env.mark();
                let o = env.check().await;
                let calls = env.checks_since(seq);
                if mutant.is_none() {
                    assert!(matches!(o, CheckOutcome::RequestError { status: 400, .. }), "{o:?}");
                    assert_eq!(calls, [(first, 400)]);
                    assert!(env.blocked().is_empty());
                } else {
                    assert_eq!(answered_by(&env, &o), second);
                    assert_eq!(calls, [(first.clone(), 400), (first.clone(), 400), (second, 200)]);
                    assert_eq!(env.blocked(), [first]);
                }
                env.servers.shutdown().await;
            }
        }

        #[tokio::test]
        async fn switch_on_401_blocks_the_host_and_tries_the_next() {
            for mutant in [None, Some(TsPiotMutant::SwitchOn401)] {
                let env = env(mutant).await;
                let (first, second) = (env.order()[0].clone(), env.order()[1].clone());
                env.fault(on_check(FaultKind::unauthorized_401(), &first));
                let seq = env.mark();
                let o = env.check().await;
                let calls = env.checks_since(seq);
                if mutant.is_none() {
                    assert!(matches!(o, CheckOutcome::AuthError { status: 401, .. }), "{o:?}");
                    assert_eq!(calls, [(first, 401)]);
                    assert!(env.blocked().is_empty());
                } else {
                    assert_eq!(answered_by(&env, &o), second);
                    assert_eq!(
                        calls,
                        [(first.clone(), 401), (second, 200)],
                        "no retry, no re-authentication"
                    );
                    assert_eq!(env.blocked(), [first]);
                }
                env.servers.shutdown().await;
            }
        }

        #[tokio::test]
        async fn block_on_5000_blocks_like_an_ordinary_5xx() {
            for mutant in [None, Some(TsPiotMutant::BlockOn5000)] {
                let env = env(mutant).await;
                let (first, second) = (env.order()[0].clone(), env.order()[1].clone());
                env.fault(on_check(FaultKind::cross_border_5000(), &first));
                let seq = env.mark();
                let o = env.check().await;
                let calls = env.checks_since(seq);
                if mutant.is_none() {
                    assert!(matches!(o, CheckOutcome::CrossBorderUnavailable { .. }), "{o:?}");
                    assert_eq!(calls, [(first.clone(), 503), (first, 503)]);
                    assert!(env.blocked().is_empty());
                } else {
                    assert_eq!(answered_by(&env, &o), second);
                    assert_eq!(calls, [(first.clone(), 503), (first.clone(), 503), (second, 200)]);
                    assert_eq!(env.blocked(), [first]);
                }
                env.servers.shutdown().await;
            }
        }

        #[tokio::test]
        async fn ignores_host_block_keeps_calling_a_blocked_host() {
            for mutant in [None, Some(TsPiotMutant::IgnoresHostBlock)] {
                let env = env(mutant).await;
                let (first, second) = (env.order()[0].clone(), env.order()[1].clone());
                env.fault(FaultRule::new(FaultKind::HostDown).on_host(first.as_str()));
                assert_eq!(answered_by(&env, &env.check().await), second);
                assert_eq!(env.blocked(), std::slice::from_ref(&first), "blocked either way");
                let seq = env.mark();
                assert_eq!(answered_by(&env, &env.check().await), second);
                let called = env.hosts_called_since(seq);
                if mutant.is_none() {
                    assert_eq!(called, [second.as_str()], "the blocked host is skipped");
                } else {
                    assert_eq!(called, [first.clone(), second.clone()], "the blocked host is called again");
                }
                env.servers.shutdown().await;
            }
        }

        #[tokio::test]
        async fn no_health_order_keeps_the_discovery_order() {
            for mutant in [None, Some(TsPiotMutant::NoHealthOrder)] {
                let env = bare(mutant).await;
                let slow = FaultKind::Latency(Latency::Fixed { fixed_ms: 150 });
                env.fault(FaultRule::new(slow).on_host("cdn-1").on_endpoint(HEALTH_PATH));
                assert_eq!(env.client.refresh(&env.cred).await.unwrap().healthy, 3);
                let order = env.order();
                if mutant.is_none() {
                    assert_eq!(order.last().map(String::as_str), Some("cdn-1"), "the slow host goes last");
                } else {
                    assert_eq!(order, ["cdn-1", "cdn-2", "cdn-3"], "cdn/info order");
                }
                env.servers.shutdown().await;
            }
        }

        #[tokio::test]
        async fn strip_gs_upstream_sends_codes_without_gs() {
            for mutant in [None, Some(TsPiotMutant::StripGsUpstream)] {
                let env = env(mutant).await;
                let code = env.code();
                assert!(code.contains('\u{1d}'), "the test code carries ⟨GS⟩");
                let seq = env.mark();
                env.check().await;
                let sent: Vec<String> =
                    env.check_events_since(seq).iter().flat_map(|e| e.codes.shared().to_vec()).collect();
                let expected = if mutant.is_none() { code } else { code.replace('\u{1d}', "") };
                assert_eq!(sent, [expected]);
                env.servers.shutdown().await;
            }
        }

        #[tokio::test]
        async fn late_lm_fallback_waits_3000_ms_for_the_online_path() {
            for mutant in [None, Some(TsPiotMutant::LateLmFallback)] {
                let env = env(mutant).await;
                env.fault(on_check(FaultKind::Latency(Latency::Fixed { fixed_ms: 2000 }), "cdn-*"));
                let t0 = std::time::Instant::now();
                let o = env.check().await;
                let took = t0.elapsed();
                if mutant.is_none() {
                    assert!(matches!(o, CheckOutcome::OnlineUnavailable { .. }), "{o:?}");
                    assert!(took < Duration::from_millis(1900), "abandoned by 1500 ms: {took:?}");
                } else {
                    assert!(matches!(o, CheckOutcome::Result { .. }), "a 2 s answer is awaited: {o:?}");
                    assert!(took >= Duration::from_millis(2000), "{took:?}");
                }
                env.servers.shutdown().await;
            }
        }
    }

    #[test]
    fn refresh_delay_stays_in_range_even_with_swapped_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let opts =
            UpstreamOptions { refresh_min_s: 25_200, refresh_max_s: 21_600, ..UpstreamOptions::default() };
        for _ in 0..1000 {
            let d = draw_refresh_delay_ms(&mut rng, &opts);
            assert!((21_600_000..=25_200_000).contains(&d));
        }
    }
}
