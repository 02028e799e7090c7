//! The comparison: a `wiremock::MockServer` with one mock (POST `codes/check`, `X-API-KEY` present)
//! answering 200 with [`FIXED_ANSWER`] as `application/json`.
//!
//! Started with `MockServer::start()` as a test would, so with its defaults: wiremock serves from one
//! thread of its own (a current-thread runtime) and records every request it receives.

use crate::load::workload::{CHECK_PATH, FIXED_ANSWER};
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A running mock server; dropping it stops it.
pub struct OneMockServer {
    /// The `codes/check` URL.
    pub url: String,
    _server: MockServer,
}

/// Start the mock server and mount its one mock.
pub async fn start() -> OneMockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CHECK_PATH))
        .and(header_exists("X-API-KEY"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(FIXED_ANSWER.as_bytes(), "application/json"))
        .mount(&server)
        .await;
    OneMockServer { url: format!("{}{CHECK_PATH}", server.uri()), _server: server }
}
