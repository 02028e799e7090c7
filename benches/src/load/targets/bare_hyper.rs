//! The ceiling: a bare hyper 1 HTTP/1.1 server (hyper-util `TokioIo`, one task per connection, like
//! the emulator's accept loop) that reads each request body in full and answers 200 with
//! [`FIXED_ANSWER`] as `application/json`, whatever the method and path.
//!
//! Must not: do any work the emulator would not also do per request (no parsing, no lookup).

use crate::load::error::TargetError;
use crate::load::workload::{CHECK_PATH, FIXED_ANSWER};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running bare hyper server.
pub struct BareHyper {
    /// The `codes/check` URL (any path is answered the same).
    pub url: String,
    accept: JoinHandle<()>,
}

impl BareHyper {
    /// Stop accepting; open connections end with the process.
    pub fn stop(self) {
        self.accept.abort();
    }
}

/// Bind 127.0.0.1 (ephemeral port) and serve.
pub async fn start() -> Result<BareHyper, TargetError> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(TargetError::Bind)?;
    let addr = listener.local_addr().map_err(TargetError::Bind)?;
    let accept = tokio::spawn(accept_loop(listener));
    Ok(BareHyper { url: format!("http://{addr}{CHECK_PATH}"), accept })
}

async fn accept_loop(listener: TcpListener) {
    let body = Bytes::from_static(FIXED_ANSWER.as_bytes());
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let body = body.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let body = body.clone();
                async move {
                    // Read the request like a real handler would; a broken body still gets the answer.
                    let _ = req.into_body().collect().await;
                    let mut resp = Response::new(Full::new(body));
                    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}
