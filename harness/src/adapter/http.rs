//! The HTTP transport: the harness POSTs each message as a JSON body to the SUT's URL
//! (`--sut-url`) and reads the reply from the response body. One request is in flight at a time.

use reqwest::header::CONTENT_TYPE;

use super::error::{ProtocolViolation, ViolationKind};
use super::protocol::{excerpt, parse_reply, Message, Reply, Request};
use super::{AdapterClient, Timeouts};

/// A SUT reached over HTTP.
#[derive(Debug)]
pub struct HttpAdapter {
    client: reqwest::Client,
    url: String,
    timeouts: Timeouts,
    next_id: u64,
}

impl HttpAdapter {
    /// A client for the SUT at `url`.
    pub fn new(url: impl Into<String>, timeouts: Timeouts) -> Result<Self, ProtocolViolation> {
        let client =
            reqwest::Client::builder().build().map_err(|e| ViolationKind::Transport(e.to_string()))?;
        Ok(HttpAdapter { client, url: url.into(), timeouts, next_id: 1 })
    }

    /// The SUT's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn exchange(&self, msg: &Message) -> Result<Reply, ViolationKind> {
        let body = serde_json::to_vec(msg).map_err(|e| ViolationKind::Transport(e.to_string()))?;
        let (phase, limit) = self.timeouts.for_request(msg.id == 1);
        let fut = async {
            let resp = self
                .client
                .post(&self.url)
                .header(CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| ViolationKind::Transport(format!("POST {}: {e}", self.url)))?;
            let status = resp.status();
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| ViolationKind::Transport(format!("reading the reply: {e}")))?;
            Ok::<_, ViolationKind>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(limit, fut)
            .await
            .map_err(|_| ViolationKind::Timeout { phase, after: limit })??;
        match parse_reply(&bytes, msg.id, &msg.body) {
            Ok(r) => Ok(r),
            Err(_) if !status.is_success() => Err(ViolationKind::HttpStatus {
                status: status.as_u16(),
                body: excerpt(&String::from_utf8_lossy(&bytes)),
            }),
            Err(e) => Err(e),
        }
    }
}

impl AdapterClient for HttpAdapter {
    async fn request(&mut self, body: Request) -> Result<Reply, ProtocolViolation> {
        let msg = Message { id: self.next_id, body };
        self.next_id += 1;
        self.exchange(&msg).await.map_err(|kind| ProtocolViolation {
            kind,
            request: Some(format!("{} #{}", msg.body.type_name(), msg.id)),
            stderr_tail: Vec::new(),
        })
    }
}
