//! Direct mode's online check against True API (true-api.md §8, §13): discovery (`cdn/info`), health
//! checks sorted by measured round trip, a 1500 ms budget per check, the status table (429/5xx retried
//! once then the host blocked for 15 min; 5000 retried once, never blocked; 203 emergency; 401 and
//! other 4xx: no switch), blocked hosts skipped, the list refreshed in the background 6–7 h after the
//! last refresh or when every host is blocked (a minute later when discovery failed or no host was
//! healthy). Host blocks and refreshes run on this machine's clock
//! (the timer lives in the POS).
//!
//! Owns the host list and its state; returns an [`Answer`] whose `Unavailable` sends the caller to the
//! ЛМ ЧЗ.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{json, Value};

use super::answer::{find_code, text, CodeAnswer, Timestamp};
use super::{base, excerpt, Answer, Subject};
use crate::log;
use crate::options::{Options, Timeouts};
use crate::protocol::TrueApiEndpoints;

/// Discovery path.
pub const CDN_INFO: &str = "/api/v4/true-api/cdn/info";
/// Health-check path.
pub const HEALTH: &str = "/api/v4/true-api/cdn/health/check";
/// Check path.
pub const CODES_CHECK: &str = "/api/v4/true-api/codes/check";

/// Least time worth starting a call with.
const MIN_CALL: Duration = Duration::from_millis(20);

/// Codes per `codes/check` request (true-api.md §5: `trueapi.max_codes`, 100 by default).
pub const MAX_CODES: usize = 100;

/// One usable CDN host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// Base URL.
    pub base: String,
    /// Health-check round trip.
    pub latency: Duration,
}

/// The host list and its timers.
#[derive(Debug, Default)]
struct CdnState {
    /// Usable hosts, fastest first.
    hosts: Vec<Host>,
    /// Blocked hosts (by base URL) and until when.
    blocked: HashMap<String, Instant>,
    /// When the next background refresh is due.
    next_refresh: Option<Instant>,
    /// A refresh is running.
    refreshing: bool,
    /// When the last refresh triggered by "every host blocked" started.
    all_blocked_refresh: Option<Instant>,
}

/// What one host said about one check.
#[derive(Debug, PartialEq, Eq)]
enum HostOutcome {
    /// Final: the answers, one per code (result, emergency, or an error that forbids switching hosts).
    Done(Vec<Answer>),
    /// Block this host and try the next.
    Block(String),
    /// The online budget is spent.
    OutOfTime,
}

struct Inner {
    http: reqwest::Client,
    discovery: String,
    configured: Vec<String>,
    api_key: Option<String>,
    fn_serial: Option<String>,
    timeouts: Timeouts,
    log: bool,
    state: Mutex<CdnState>,
}

/// The True API side of a direct-mode POS.
#[derive(Clone)]
pub struct DirectClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DirectClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectClient").field("discovery", &self.inner.discovery).finish_non_exhaustive()
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, CdnState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, url: String, timeout: Duration) -> reqwest::RequestBuilder {
        let rb = self.http.get(url).timeout(timeout);
        match &self.api_key {
            Some(k) => rb.header("X-API-KEY", k),
            None => rb,
        }
    }

    /// `cdn/info`: the listed hosts (the discovery base itself when the list is empty, as a sandbox
    /// answers), or why not.
    async fn discover(&self) -> Result<Vec<String>, String> {
        let url = format!("{}{CDN_INFO}", self.discovery);
        let response = self.get(url, self.timeouts.discovery).send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        if status != 200 {
            return Err(format!("cdn/info answered HTTP {status}: {}", excerpt(&body)));
        }
        let v: Value = serde_json::from_str(&body).map_err(|e| format!("cdn/info: unreadable JSON: {e}"))?;
        let hosts: Vec<String> = v
            .get("hosts")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|h| h.get("host").and_then(Value::as_str).or_else(|| h.as_str()))
                    .map(|h| base(h).to_string())
                    .collect()
            })
            .unwrap_or_default();
        Ok(if hosts.is_empty() { vec![self.discovery.clone()] } else { hosts })
    }

    /// Health-check `hosts` in parallel; the healthy ones, fastest first.
    async fn health_check(self: &Arc<Self>, hosts: Vec<String>) -> Vec<Host> {
        let mut set = tokio::task::JoinSet::new();
        for h in hosts {
            let me = self.clone();
            set.spawn(async move {
                let started = Instant::now();
                let url = format!("{h}{HEALTH}");
                match me.get(url, me.timeouts.health).header("Connection", "close").send().await {
                    Ok(r) if r.status().as_u16() == 200 => Some(Host { base: h, latency: started.elapsed() }),
                    _ => None,
                }
            });
        }
        let mut healthy = Vec::new();
        while let Some(joined) = set.join_next().await {
            if let Ok(Some(h)) = joined {
                healthy.push(h);
            }
        }
        healthy.sort_by_key(|h| h.latency);
        healthy
    }

    /// `refresh()` of §13.3: discovery, health checks, the list replaced; the next refresh due 6–7 h
    /// later. When discovery fails, the configured hosts are health-checked instead and discovery is
    /// retried sooner.
    async fn refresh(self: &Arc<Self>) {
        let (listed, retry_in) = match self.discover().await {
            Ok(hosts) => (hosts, None),
            Err(e) => {
                if self.log {
                    log(&format!("CDN discovery failed ({e}); using the configured hosts"));
                }
                (self.configured.clone(), Some(self.timeouts.discovery_retry))
            }
        };
        let healthy = self.health_check(listed).await;
        if self.log {
            let list: Vec<String> =
                healthy.iter().map(|h| format!("{} ({} ms)", h.base, h.latency.as_millis())).collect();
            log(&format!(
                "CDN hosts: {}",
                if list.is_empty() { "none healthy".into() } else { list.join(", ") }
            ));
        }
        let min = self.timeouts.refresh_min.as_secs();
        let max = self.timeouts.refresh_max.as_secs().max(min);
        // Without a single healthy host there is nothing to wait 6 h for: look again soon.
        let retry_in = retry_in.or_else(|| healthy.is_empty().then_some(self.timeouts.discovery_retry));
        let next = retry_in.unwrap_or_else(|| Duration::from_secs(rand::rng().random_range(min..=max)));
        let mut st = self.state();
        st.hosts = healthy;
        st.next_refresh = Instant::now().checked_add(next);
        st.refreshing = false;
    }

    /// Start a background refresh unless one is running.
    fn refresh_in_background(self: &Arc<Self>) {
        {
            let mut st = self.state();
            if st.refreshing {
                return;
            }
            st.refreshing = true;
        }
        let me = self.clone();
        tokio::spawn(async move { me.refresh().await });
    }

    /// The hosts not blocked now, fastest first; starts a due background refresh.
    fn candidates(self: &Arc<Self>) -> Vec<String> {
        let now = Instant::now();
        let due = self.state().next_refresh.is_some_and(|t| now >= t);
        if due {
            self.refresh_in_background();
        }
        let st = self.state();
        st.hosts
            .iter()
            .filter(|h| st.blocked.get(&h.base).is_none_or(|until| *until <= now))
            .map(|h| h.base.clone())
            .collect()
    }

    fn block(&self, host: &str, why: &str) {
        let until = Instant::now().checked_add(self.timeouts.host_block);
        if self.log {
            log(&format!("CDN host {host} blocked for {} s: {why}", self.timeouts.host_block.as_secs()));
        }
        if let Some(until) = until {
            self.state().blocked.insert(host.to_string(), until);
        }
    }

    /// §13.3: when every host is blocked, refresh the list in the background (once per block period).
    fn on_all_blocked(self: &Arc<Self>) {
        let now = Instant::now();
        {
            let mut st = self.state();
            let all_blocked =
                st.hosts.iter().all(|h| st.blocked.get(&h.base).is_some_and(|until| *until > now));
            if !all_blocked {
                return;
            }
            if st
                .all_blocked_refresh
                .is_some_and(|t| now.saturating_duration_since(t) < self.timeouts.host_block)
            {
                return;
            }
            st.all_blocked_refresh = Some(now);
        }
        self.refresh_in_background();
    }

    /// One host, with its one retry.
    async fn ask_host(&self, host: &str, body: &Value, codes: &[Subject], deadline: Instant) -> HostOutcome {
        let mut retried = false;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining < MIN_CALL {
                return HostOutcome::OutOfTime;
            }
            let mut rb = self.http.post(format!("{host}{CODES_CHECK}")).json(body).timeout(remaining);
            if let Some(k) = &self.api_key {
                rb = rb.header("X-API-KEY", k);
            }
            let response = match rb.send().await {
                Ok(r) => r,
                Err(e) if e.is_timeout() => {
                    return HostOutcome::Block("no answer within the online budget".into())
                }
                Err(e) => return HostOutcome::Block(format!("unreachable: {e}")),
            };
            let status = response.status().as_u16();
            let text = match response.text().await {
                Ok(t) => t,
                Err(e) => return HostOutcome::Block(format!("answer broken off: {e}")),
            };
            let all = |a: Answer| vec![a; codes.len()];
            let answers = match classify(status, &text) {
                Status::Ok => read_check(&text, codes),
                Status::Emergency => all(Answer::Emergency { source: "True API" }),
                Status::Auth => all(Answer::unavailable(format!(
                    "True API refused the credentials (401): {}",
                    excerpt(&text)
                ))),
                Status::Request => all(Answer::Refused {
                    why: format!("True API refused the request (HTTP {status}): {}", excerpt(&text)),
                }),
                Status::RetryThenBlock | Status::CrossBorder if !retried => {
                    retried = true;
                    continue;
                }
                Status::CrossBorder => {
                    all(Answer::unavailable("the cross-border check service is unavailable (5000)"))
                }
                Status::RetryThenBlock => return HostOutcome::Block(format!("HTTP {status} twice")),
            };
            return HostOutcome::Done(answers);
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Status {
    /// 200: read the body.
    Ok,
    /// 203: emergency mode.
    Emergency,
    /// 401: abort, no switch.
    Auth,
    /// 400, 404, 410, 418 and other 4xx: no retry, no switch.
    Request,
    /// 429 and 5xx: retry once, then block and switch.
    RetryThenBlock,
    /// 5xx with error 5000: retry once, then give up without blocking.
    CrossBorder,
}

fn classify(status: u16, body: &str) -> Status {
    match status {
        200 => Status::Ok,
        203 => Status::Emergency,
        401 => Status::Auth,
        429 => Status::RetryThenBlock,
        500..=599 if is_5000(body) => Status::CrossBorder,
        500..=599 => Status::RetryThenBlock,
        _ => Status::Request,
    }
}

/// The cross-border marker: `code == 5000` or `error_message == "5000"`.
fn is_5000(body: &str) -> bool {
    serde_json::from_str::<Value>(body).is_ok_and(|v| {
        v.get("code").and_then(Value::as_i64) == Some(5000)
            || v.get("error_message").and_then(Value::as_str) == Some("5000")
            || v.get("code").and_then(Value::as_str) == Some("5000")
    })
}

/// A 200 body of `codes/check`: the result about each of `codes` (in order, all with the answer's one
/// `reqId`/`reqTimestamp`), or no usable answer (request-level error, missing stamps, code absent).
fn read_check(text_body: &str, codes: &[Subject]) -> Vec<Answer> {
    let all = |a: Answer| vec![a; codes.len()];
    let v: Value = match serde_json::from_str(text_body) {
        Ok(v) => v,
        Err(e) => return all(Answer::unavailable(format!("True API answered unreadable JSON: {e}"))),
    };
    let request_code = v.get("code").and_then(Value::as_i64).unwrap_or(0);
    if request_code != 0 {
        let d = text(&v, "description").unwrap_or_default();
        return all(Answer::unavailable(format!(
            "True API request-level error {request_code}: {}",
            excerpt(&d)
        )));
    }
    let Some(found) = v.get("codes").and_then(Value::as_array) else {
        return all(Answer::unavailable("True API answer without codes"));
    };
    let (Some(req_id), Some(time)) =
        (text(&v, "reqId"), v.get("reqTimestamp").and_then(Timestamp::from_json))
    else {
        return all(Answer::unavailable("True API answer without a usable reqId / reqTimestamp"));
    };
    codes
        .iter()
        .map(|code| match find_code(found, &code.code, &code.ki) {
            Some(c) => Answer::Online {
                code: Box::new(CodeAnswer::from_json(c)),
                req_id: req_id.clone(),
                time: time.clone(),
                source: "True API",
            },
            None => Answer::unavailable("the True API answer says nothing about this code"),
        })
        .collect()
}

impl DirectClient {
    /// A client for `endpoints`, with the host list discovered and health-checked now (bounded by the
    /// discovery and health-check timeouts).
    pub async fn start(
        http: reqwest::Client,
        endpoints: &TrueApiEndpoints,
        fn_serial: Option<String>,
        opts: &Options,
    ) -> DirectClient {
        let inner = Arc::new(Inner {
            http,
            discovery: base(&endpoints.discovery).to_string(),
            configured: endpoints.hosts.iter().map(|h| base(h).to_string()).collect(),
            api_key: endpoints.api_key.clone().filter(|k| !k.is_empty()),
            fn_serial,
            timeouts: opts.timeouts.clone(),
            log: opts.log,
            state: Mutex::new(CdnState::default()),
        });
        inner.state().refreshing = true;
        inner.refresh().await;
        DirectClient { inner }
    }

    /// The hosts in use now, fastest first (for tests and the log).
    pub fn hosts(&self) -> Vec<Host> {
        self.inner.state().hosts.clone()
    }

    /// The online check (§13.3 `check`) of `codes` together, within the online budget and `deadline`:
    /// one request per [`MAX_CODES`] of them (true-api.md §5),
    /// the host algorithm as for one code; one answer per code, in order.
    pub async fn check_many(&self, codes: &[Subject], deadline: Instant) -> Vec<Answer> {
        let budget_end = Instant::now().checked_add(self.inner.timeouts.online_budget).unwrap_or(deadline);
        let deadline = deadline.min(budget_end);
        let mut answers = Vec::with_capacity(codes.len());
        for chunk in codes.chunks(MAX_CODES) {
            answers.extend(self.check_chunk(chunk, deadline).await);
        }
        answers
    }

    async fn check_chunk(&self, codes: &[Subject], deadline: Instant) -> Vec<Answer> {
        let inner = &self.inner;
        let all = |a: Answer| vec![a; codes.len()];
        let list: Vec<&str> = codes.iter().map(|c| c.code.as_str()).collect();
        let mut body = json!({ "codes": list });
        if let Some(fn_serial) = &inner.fn_serial {
            body["fiscalDriveNumber"] = json!(fn_serial);
        }
        let candidates = inner.candidates();
        if candidates.is_empty() {
            inner.on_all_blocked();
            return all(Answer::unavailable("no CDN host available (all blocked or unhealthy)"));
        }
        for host in candidates {
            match inner.ask_host(&host, &body, codes, deadline).await {
                HostOutcome::Done(answers) => return answers,
                HostOutcome::Block(why) => inner.block(&host, &why),
                HostOutcome::OutOfTime => return all(Answer::unavailable("True API: online budget spent")),
            }
        }
        inner.on_all_blocked();
        all(Answer::unavailable("every CDN host failed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_table() {
        assert_eq!(classify(200, ""), Status::Ok);
        assert_eq!(classify(203, ""), Status::Emergency);
        assert_eq!(classify(401, ""), Status::Auth);
        for s in [400, 404, 410, 418, 422] {
            assert_eq!(classify(s, ""), Status::Request, "{s}");
        }
        for s in [429, 500, 502, 503, 504] {
            assert_eq!(classify(s, "{}"), Status::RetryThenBlock, "{s}");
        }
        let body =
            r#"{"code":5000,"error_message":"5000","description":"cross-border check service unavailable"}"#;
        assert_eq!(classify(503, body), Status::CrossBorder);
        assert_eq!(classify(503, r#"{"error_message":"5000"}"#), Status::CrossBorder);
        assert_eq!(classify(429, body), Status::RetryThenBlock);
    }

    #[test]
    fn check_bodies() {
        let code = Subject::of(&markcert_codes::parse(b"0104612345000438215aZ;q0\x1d93Jm4t").unwrap());
        let ok = r#"{"code":0,"description":"ok","codes":[{"cis":"0104612345000438215aZ;q0\u001d93Jm4t","valid":true}],
            "reqId":"a70a9fd2-2f2d-4846-babf-cd0492f6e047","reqTimestamp":1767225600123}"#;
        assert!(matches!(read_check(ok, std::slice::from_ref(&code))[..], [Answer::Online { .. }]));
        for bad in [
            r#"{"code":7,"description":"nope"}"#,
            r#"{"code":0,"codes":[{"cis":"0104612345000438215aZ;q0\u001d93Jm4t"}]}"#,
            r#"{"code":0,"codes":[],"reqId":"r","reqTimestamp":1}"#,
            "<html>",
        ] {
            let answers = read_check(bad, &[code.clone(), code.clone()]);
            assert!(
                answers.len() == 2 && answers.iter().all(|a| matches!(a, Answer::Unavailable { .. })),
                "{bad}"
            );
        }
        // Two codes in one answer share its reqId; a code the answer omits has no answer.
        let other =
            Subject::of(&markcert_codes::parse(b"0104612345000674215Gh:2kP=vX8r%\x1d93Nf6d").unwrap());
        let missing =
            Subject { code: "0104600000000000215zzzzzz".into(), ki: "0104600000000000215zzzzzz".into() };
        let two = r#"{"code":0,"codes":[{"cis":"0104612345000674215Gh:2kP=vX8r%\u001d93Nf6d"},
            {"cis":"0104612345000438215aZ;q0\u001d93Jm4t"}],"reqId":"r-2","reqTimestamp":5}"#;
        match &read_check(two, &[code, other, missing])[..] {
            [Answer::Online { req_id: a, .. }, Answer::Online { req_id: b, .. }, Answer::Unavailable { .. }] =>
            {
                assert_eq!((a.as_str(), b.as_str()), ("r-2", "r-2"));
            }
            other => panic!("{other:?}"),
        }
    }
}
