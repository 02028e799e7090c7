//! Serving plumbing shared by every emulated HTTP host (True API hosts, ЛМ ЧЗ): the accept loop, and how
//! a [`Decision`](crate::faults::Decision) of the fault layer is carried out on the wire.
//!
//! Owns: refusing connections of a host under a `host-down` fault (TCP RST), dropping a connection
//! unanswered (`reset`), holding a request until shutdown (`blackhole`), answering with an imposed
//! status and body (`status`), waiting the fault delay (`latency`) and writing a body a few bytes at a
//! time (`drip`). It knows nothing about what the hosts answer; routers come from the emulators.

use crate::clock::WorldClock;
use crate::faults::{Action, CallInfo, FaultTable};
use crate::trace::{Text, Trace, TraceEvent};
use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What one emulated host shares with the plumbing: its name in the trace and in fault targets, its
/// address, and the run's fault table, clock, trace and stop signal.
#[derive(Clone)]
pub(crate) struct HostNet {
    /// Component name in the trace and in fault targets (`cdn-1`, `local-module`, …).
    pub component: Arc<str>,
    /// `ip:port` the host listens on.
    pub addr: Arc<str>,
    /// Faults applied to calls (changeable at run time).
    pub faults: FaultTable,
    /// The world clock (fault windows are in world time).
    pub clock: WorldClock,
    /// The trace every call goes to.
    pub trace: Trace,
    /// Turns true when the hosts stop (ends requests held by a `blackhole` fault).
    pub stop: watch::Receiver<bool>,
}

/// Marks a response whose connection must be dropped instead (a `reset` or `host-down` fault).
#[derive(Clone, Copy, Debug)]
struct DropConnection;

/// The connection was dropped on purpose by a fault.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by a fault")]
struct DroppedByFault;

/// A route a host serves without going through its router: its hot path (the CDN hosts'
/// `codes/check`), spared the router's matching, extensions and boxing on every call. Everything else
/// goes to the router.
pub(crate) trait FastRoute: Clone + Send + Sync + 'static {
    /// This request is the fast route's.
    fn accepts(&self, method: &Method, path: &str) -> bool;
    /// Answer it.
    fn serve(&self, req: axum::http::Request<Body>) -> impl std::future::Future<Output = Response> + Send;
}

/// A host without a fast route.
#[derive(Clone, Copy)]
pub(crate) struct NoFastRoute;

impl FastRoute for NoFastRoute {
    fn accepts(&self, _: &Method, _: &str) -> bool {
        false
    }

    async fn serve(&self, _: axum::http::Request<Body>) -> Response {
        Response::default()
    }
}

/// Accept connections until the hosts stop. A host under a `host-down` fault refuses each connection
/// (RST); otherwise each connection is served by hyper — `fast` takes its own requests, the router the
/// rest — and a response marked [`DropConnection`] makes hyper close the connection without answering.
pub(crate) async fn accept_loop<F: FastRoute>(listener: TcpListener, app: Router, net: HostNet, fast: F) {
    use tower::ServiceExt;
    let mut stop = net.stop.clone();
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            a = listener.accept() => a,
        };
        if *stop.borrow() {
            break;
        }
        let Ok((stream, _peer)) = accepted else { continue };
        if net.faults.connection_refused(&net.component, net.clock.now_ms()) {
            let _ = stream.set_zero_linger();
            drop(stream);
            net.trace.record(
                TraceEvent::new(net.component.as_ref(), "CONNECT", "")
                    .world_ms(net.clock.now_ms())
                    .host(net.addr.as_ref())
                    .status(0)
                    .fault("host-down (connection refused)"),
            );
            continue;
        }
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let fast = fast.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: axum::http::Request<hyper::body::Incoming>| {
                let app = app.clone();
                let fast = fast.clone();
                async move {
                    let resp = if fast.accepts(req.method(), req.uri().path()) {
                        fast.serve(req.map(Body::new)).await
                    } else {
                        app.oneshot(req.map(Body::new)).await.map_err(|e| match e {})?
                    };
                    if resp.extensions().get::<DropConnection>().is_some() {
                        return Err(DroppedByFault);
                    }
                    Ok::<_, DroppedByFault>(resp)
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await;
        });
    }
}

/// What the fault layer does to one call: a response it imposes instead of the normal answer, or a
/// slow body for the normal answer, and the fault's name for the trace.
pub(crate) struct Disturbance {
    /// Answer this instead of the normal answer.
    pub response: Option<Response>,
    /// The fault's name, for the trace.
    pub fault: Option<String>,
    drip: Option<(NonZeroUsize, Duration)>,
    /// The connection is dropped without an answer (the trace then says status 0).
    dropped: bool,
}

impl Disturbance {
    /// Apply the fault to the normal answer `resp` (a `drip` fault slows its body down). Takes `&mut`
    /// so that the future stays `Send` (a held `Response` is not `Sync`).
    pub async fn finish(&mut self, resp: Response) -> Response {
        match self.drip {
            Some((chunk, delay)) => drip(resp, chunk, delay).await,
            None => resp,
        }
    }

    /// Add the fault's name (if any) to a trace event; a dropped connection had no answer: status 0.
    pub fn mark(&self, ev: TraceEvent) -> TraceEvent {
        let ev = if self.dropped { ev.status(0) } else { ev };
        match &self.fault {
            Some(f) => ev.fault(f.clone()),
            None => ev,
        }
    }
}

/// Ask the fault table about this call, wait its delay, and build the response it imposes. `reset` and
/// `refuse` drop the connection without an answer; `blackhole` holds the call until the hosts stop.
pub(crate) async fn disturb<C: AsRef<str>>(net: &HostNet, path: &str, codes: &[C]) -> Disturbance {
    let d = net.faults.decide(&CallInfo::new(&net.component, path, net.clock.now_ms()).with_codes(codes));
    if d.is_pass() {
        return Disturbance { response: None, fault: None, drip: None, dropped: false };
    }
    if !d.delay.is_zero() {
        tokio::time::sleep(d.delay).await;
    }
    let fault = d.fault_name.as_deref().map(str::to_string);
    let mut drip = None;
    let dropped = matches!(d.action, Action::Reset | Action::Refuse);
    let response = match d.action {
        Action::Pass => None,
        Action::Respond { status, body, content_type } => {
            let mut r = Response::new(Body::from(body.to_vec()));
            *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                r.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            Some(r)
        }
        Action::Hang => {
            let mut stop = net.stop.clone();
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    break;
                }
            }
            let mut r = Response::new(Body::from("shutting down"));
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            Some(r)
        }
        Action::Reset | Action::Refuse => {
            let mut r = Response::new(Body::empty());
            r.extensions_mut().insert(DropConnection);
            Some(r)
        }
        Action::Drip { bytes_per_chunk, chunk_delay } => {
            drip = Some((bytes_per_chunk, chunk_delay));
            None
        }
    };
    Disturbance { response, fault, drip, dropped }
}

/// Rebuild `resp` so that its body goes out `chunk` bytes at a time, `delay` apart, with the full
/// `Content-Length` announced up front (the `drip` server contract).
async fn drip(resp: Response, chunk: NonZeroUsize, delay: Duration) -> Response {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let chunks: Vec<axum::body::Bytes> = (0..bytes.len())
        .step_by(chunk.get())
        .map(|i| bytes.slice(i..bytes.len().min(i + chunk.get())))
        .collect();
    let stream =
        futures_util::stream::unfold((chunks.into_iter(), true), move |(mut it, first)| async move {
            let next = it.next()?;
            if !first {
                tokio::time::sleep(delay).await;
            }
            Some((Ok::<_, std::convert::Infallible>(next), (it, false)))
        });
    Response::from_parts(parts, Body::from_stream(stream))
}

/// A trace event for one answered call.
pub(crate) fn traced(
    net: &HostNet,
    method: &Method,
    uri: &Uri,
    status: StatusCode,
    started: Instant,
) -> TraceEvent {
    TraceEvent::new(&net.component, Text::interned(method.as_str()), Text::interned(uri.path()))
        .world_ms(net.clock.now_ms())
        .host(&net.addr)
        .status(status.as_u16())
        .latency(started.elapsed())
}
