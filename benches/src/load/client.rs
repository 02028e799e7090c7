//! The load generator: `connections` keep-alive HTTP/1.1 connections (hyper's low-level client,
//! `client::conn::http1::handshake` over a `TcpStream`, `TCP_NODELAY`), each sending one POST at a
//! time in a loop — a closed loop, or paced to a total rate. A warm-up comes first; what completes in
//! the measurement window that follows is counted and its latency (request sent → answer body read in
//! full) recorded in a per-connection HDR histogram (µs), merged at the end.
//!
//! Every answer must be 200; every `verify_every`-th answer of a connection (its first included) must
//! also contain [`ANSWER_MARKER`]. Anything else — refused or dropped connections, time-outs, other
//! statuses, wrong bodies — is counted in [`ErrorCounts`] over the whole phase, warm-up included, and
//! the connection is reopened after a transport failure.
//!
//! Bounded: stops at the end of the window, at `max_requests` sent, or when [`LoadControl::stop`] is
//! called; each request has a time-out.
//!
//! Must not: treat targets differently (the same requests go to all of them); panic on what a server
//! sends.

use crate::load::process::TargetUrl;
use crate::load::workload::{looks_like_answer, API_KEY};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Highest latency the histograms hold (60 s, in µs); longer ones are recorded as this.
pub const MAX_LATENCY_US: u64 = 60_000_000;

/// What load to apply.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadPlan {
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Load before the measurement window (not counted).
    pub warmup: Duration,
    /// The measurement window.
    pub measure: Duration,
    /// Requests this phase may send at most (warm-up included).
    pub max_requests: u64,
    /// Total requests per second over all connections; `None` for as fast as answers come.
    pub rate: Option<f64>,
    /// Check the body of every n-th answer of a connection (1 = every answer).
    pub verify_every: u64,
    /// Longest wait for one answer before the connection is dropped and the request counted as failed.
    pub request_timeout: Duration,
}

impl LoadPlan {
    /// Warm-up plus window.
    pub fn total(&self) -> Duration {
        self.warmup + self.measure
    }
}

/// Shared with whoever watches a running phase: progress and a stop switch.
#[derive(Debug, Default)]
pub struct LoadControl {
    completed: AtomicU64,
    stop: AtomicBool,
}

impl LoadControl {
    /// Requests answered or failed so far, warm-up included.
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Ask every connection to stop after its current request.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether [`LoadControl::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Failed requests, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ErrorCounts {
    /// Connections that could not be opened.
    pub connect: u64,
    /// Requests whose connection failed or was closed before the answer was read.
    pub transport: u64,
    /// Requests with no answer within the time-out.
    pub timeout: u64,
    /// Answers with another status than 200, by status.
    pub status: BTreeMap<u16, u64>,
    /// Sampled 200 answers without the expected marker.
    pub body: u64,
    /// The first failure, described.
    pub first: Option<String>,
}

impl ErrorCounts {
    /// Every failure.
    pub fn total(&self) -> u64 {
        self.connect + self.transport + self.timeout + self.body + self.status.values().sum::<u64>()
    }

    fn note(&mut self, what: impl FnOnce() -> String) {
        if self.first.is_none() {
            self.first = Some(what());
        }
    }

    /// Add `other`'s counts (the first failure kept is this one's, if any).
    pub fn merge(&mut self, other: &ErrorCounts) {
        self.connect += other.connect;
        self.transport += other.transport;
        self.timeout += other.timeout;
        self.body += other.body;
        for (status, n) in &other.status {
            *self.status.entry(*status).or_default() += n;
        }
        if self.first.is_none() {
            self.first.clone_from(&other.first);
        }
    }
}

/// What a phase measured.
#[derive(Clone, Debug)]
pub struct LoadOutcome {
    /// Successful answers completed inside the window.
    pub ok_in_window: u64,
    /// Their latencies, µs.
    pub histogram: Histogram<u64>,
    /// Length of the window actually measured (shorter when stopped early).
    pub window: Duration,
    /// Requests sent, warm-up included.
    pub sent: u64,
    /// Body bytes of the successful answers inside the window.
    pub response_bytes: u64,
    /// Answers whose body was checked.
    pub verified: u64,
    /// Failures over the whole phase.
    pub errors: ErrorCounts,
    /// Stopped by `max_requests`.
    pub capped: bool,
    /// Stopped by [`LoadControl::stop`].
    pub stopped: bool,
}

impl LoadOutcome {
    /// Successful answers per second in the window.
    pub fn req_per_s(&self) -> f64 {
        let s = self.window.as_secs_f64();
        if s > 0.0 {
            self.ok_in_window as f64 / s
        } else {
            0.0
        }
    }
}

/// Why a phase could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The plan is unusable.
    #[error("invalid load plan: {0}")]
    Plan(String),
    /// A connection task panicked or was cancelled.
    #[error("connection task: {0}")]
    Task(String),
}

/// What every connection of a phase shares.
struct Phase {
    addr: SocketAddr,
    uri: Uri,
    host: HeaderValue,
    api_key: HeaderValue,
    json: HeaderValue,
    bodies: Arc<[Bytes]>,
    plan: LoadPlan,
    warm_end: Instant,
    measure_end: Instant,
    sent: AtomicU64,
    capped: AtomicBool,
    control: Arc<LoadControl>,
}

/// What one connection measured.
struct ConnStats {
    ok_in_window: u64,
    histogram: Histogram<u64>,
    response_bytes: u64,
    verified: u64,
    errors: ErrorCounts,
    last_completion: Option<Instant>,
}

fn histogram() -> Result<Histogram<u64>, ClientError> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).map_err(|e| ClientError::Plan(e.to_string()))
}

/// Apply `plan` to `url`, sending `bodies` in rotation, and measure.
pub async fn run_load(
    url: &TargetUrl,
    bodies: Arc<[Bytes]>,
    plan: &LoadPlan,
    control: Arc<LoadControl>,
) -> Result<LoadOutcome, ClientError> {
    if plan.connections == 0 || bodies.is_empty() || plan.verify_every == 0 {
        return Err(ClientError::Plan("connections, bodies and verify_every must not be 0".into()));
    }
    if plan.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err(ClientError::Plan("the rate must be a positive number".into()));
    }
    let uri: Uri = url.path.parse().map_err(|e| ClientError::Plan(format!("path {:?}: {e}", url.path)))?;
    let start = Instant::now();
    let warm_end = start + plan.warmup;
    let phase = Arc::new(Phase {
        addr: url.addr,
        uri,
        host: url.host_header.clone(),
        api_key: HeaderValue::from_static(API_KEY),
        json: HeaderValue::from_static("application/json"),
        bodies,
        plan: plan.clone(),
        warm_end,
        measure_end: warm_end + plan.measure,
        sent: AtomicU64::new(0),
        capped: AtomicBool::new(false),
        control,
    });
    let mut tasks = Vec::with_capacity(plan.connections);
    for i in 0..plan.connections {
        let hist = histogram()?;
        tasks.push(tokio::spawn(connection(Arc::clone(&phase), i, hist)));
    }
    let mut out = LoadOutcome {
        ok_in_window: 0,
        histogram: histogram()?,
        window: plan.measure,
        sent: 0,
        response_bytes: 0,
        verified: 0,
        errors: ErrorCounts::default(),
        capped: false,
        stopped: false,
    };
    let mut last_completion: Option<Instant> = None;
    for t in tasks {
        let s = t.await.map_err(|e| ClientError::Task(e.to_string()))?;
        out.ok_in_window += s.ok_in_window;
        // Same bounds on both sides, so adding cannot fail.
        let _ = out.histogram.add(&s.histogram);
        out.response_bytes += s.response_bytes;
        out.verified += s.verified;
        out.errors.merge(&s.errors);
        last_completion = last_completion.max(s.last_completion);
    }
    out.sent = phase.sent.load(Ordering::Relaxed).min(plan.max_requests);
    out.capped = phase.capped.load(Ordering::Relaxed);
    out.stopped = phase.control.is_stopped();
    if out.capped || out.stopped {
        let end = last_completion.unwrap_or(warm_end).min(phase.measure_end);
        out.window = end.saturating_duration_since(warm_end);
    }
    Ok(out)
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake {addr}: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), hyper::Error> {
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

fn request(p: &Phase, body: Bytes) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = p.uri.clone();
    let h = req.headers_mut();
    h.insert(HOST, p.host.clone());
    h.insert("x-api-key", p.api_key.clone());
    h.insert(CONTENT_TYPE, p.json.clone());
    req
}

async fn connection(p: Arc<Phase>, index: usize, histogram: Histogram<u64>) -> ConnStats {
    let mut s = ConnStats {
        ok_in_window: 0,
        histogram,
        response_bytes: 0,
        verified: 0,
        errors: ErrorCounts::default(),
        last_completion: None,
    };
    let n_bodies = p.bodies.len();
    let mut next_body = index % n_bodies;
    let mut answered: u64 = 0;
    let mut pacer = p.plan.rate.map(|rate| {
        let period = Duration::from_secs_f64(p.plan.connections as f64 / rate);
        let mut iv = tokio::time::interval(period.max(Duration::from_micros(1)));
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        iv
    });
    let mut sender: Option<SendRequest<Full<Bytes>>> = None;
    loop {
        if let Some(iv) = pacer.as_mut() {
            iv.tick().await;
        }
        if p.control.is_stopped() || Instant::now() >= p.measure_end {
            break;
        }
        if p.sent.fetch_add(1, Ordering::Relaxed) >= p.plan.max_requests {
            p.capped.store(true, Ordering::Relaxed);
            break;
        }
        let conn = match sender.as_mut() {
            Some(c) => c,
            None => match connect(p.addr).await {
                Ok(c) => sender.insert(c),
                Err(e) => {
                    s.errors.connect += 1;
                    s.errors.note(|| e);
                    p.control.completed.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let body = p.bodies[next_body].clone();
        next_body = (next_body + 1) % n_bodies;
        let started = Instant::now();
        let result = tokio::time::timeout(p.plan.request_timeout, exchange(conn, request(&p, body))).await;
        let done = Instant::now();
        p.control.completed.fetch_add(1, Ordering::Relaxed);
        s.last_completion = Some(done);
        let (status, body) = match result {
            Err(_) => {
                s.errors.timeout += 1;
                s.errors.note(|| format!("no answer within {:?}", p.plan.request_timeout));
                sender = None;
                continue;
            }
            Ok(Err(e)) => {
                s.errors.transport += 1;
                s.errors.note(|| format!("transport: {e}"));
                sender = None;
                continue;
            }
            Ok(Ok(answer)) => answer,
        };
        let check_body = answered % p.plan.verify_every == 0;
        answered += 1;
        if status != StatusCode::OK {
            *s.errors.status.entry(status.as_u16()).or_default() += 1;
            s.errors.note(|| {
                format!("status {status}: {}", String::from_utf8_lossy(&body[..body.len().min(200)]))
            });
            continue;
        }
        if check_body {
            s.verified += 1;
            if !looks_like_answer(&body) {
                s.errors.body += 1;
                s.errors.note(|| {
                    format!("200 without reqId: {}", String::from_utf8_lossy(&body[..body.len().min(200)]))
                });
                continue;
            }
        }
        if done >= p.warm_end && done <= p.measure_end {
            s.ok_in_window += 1;
            s.response_bytes += body.len() as u64;
            let us = u64::try_from(done.duration_since(started).as_micros()).unwrap_or(u64::MAX);
            s.histogram.saturating_record(us.clamp(1, MAX_LATENCY_US));
        }
    }
    s
}
