//! The ТС ПИоТ's client of the ЛМ ЧЗ (`local-module.md` §3, §5, §6): `outCheck` with the КИ of each
//! code, Basic auth and `X-ClientId` = the ФН serial, within the deadline of the POS request.
//!
//! Owns only the call and the classification of what came back; the offline item is built by
//! `wire.rs`, the decision to call by the orchestrator.

use serde_json::{json, Value};
use tokio::time::Instant;

/// Where and how to reach the module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LmEndpoint {
    /// Base URL.
    pub url: String,
    /// Basic-auth login.
    pub login: String,
    /// Basic-auth password.
    pub password: String,
}

/// What the module answered.
#[derive(Clone, Debug, PartialEq)]
pub enum LmOutcome {
    /// 200 with a check answer (the v1 or v2 body as received).
    Answer(Value),
    /// 400 with `errorCode` 4045 / 4050 (not ready), or another refusal.
    Refused { status: u16, error_code: Option<i64> },
    /// No answer by the deadline, or the connection failed.
    Unreachable(String),
}

/// The ЛМ ЧЗ client of one ТС ПИоТ instance.
#[derive(Clone, Debug)]
pub struct LmClient {
    http: reqwest::Client,
    endpoint: LmEndpoint,
    v2: bool,
    client_id: String,
}

impl LmClient {
    /// A client of `endpoint`, using API v2 when `v2`, sending `X-ClientId: client_id` (the ФН serial).
    pub fn new(http: reqwest::Client, endpoint: LmEndpoint, v2: bool, client_id: String) -> Self {
        LmClient { http, endpoint, v2, client_id }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &LmEndpoint {
        &self.endpoint
    }

    /// `outCheck` of `codes` (each reduced to its КИ, `local-module.md` §3), answered by `deadline`.
    pub async fn out_check(&self, codes: &[String], deadline: Instant) -> LmOutcome {
        let kis: Vec<String> = codes.iter().map(|c| ki_of(c)).collect();
        let (path, body) = if self.v2 {
            let list: Vec<Value> = kis.iter().map(|k| json!({ "cis": k })).collect();
            ("/api/v2/cis/outCheck", json!({ "cis_list": list }))
        } else {
            ("/api/v1/cis/outCheck", json!({ "cis_list": kis }))
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return LmOutcome::Unreachable("no time left".into());
        }
        let request = self
            .http
            .post(format!("{}{path}", self.endpoint.url))
            .basic_auth(&self.endpoint.login, Some(&self.endpoint.password))
            .header("X-ClientId", &self.client_id)
            .json(&body)
            .timeout(remaining)
            .send();
        let response = match tokio::time::timeout(remaining, request).await {
            Err(_) => return LmOutcome::Unreachable("timeout".into()),
            Ok(Err(e)) => return LmOutcome::Unreachable(e.to_string()),
            Ok(Ok(r)) => r,
        };
        let status = response.status().as_u16();
        let remaining = deadline.saturating_duration_since(Instant::now());
        let body: Value = match tokio::time::timeout(remaining, response.json::<Value>()).await {
            Ok(Ok(v)) => v,
            Ok(Err(_)) => Value::Null,
            Err(_) => return LmOutcome::Unreachable("timeout reading the body".into()),
        };
        if status == 200 && answer_codes(&body).is_some() {
            LmOutcome::Answer(body)
        } else {
            LmOutcome::Refused { status, error_code: body.get("errorCode").and_then(Value::as_i64) }
        }
    }
}

/// The КИ of a code: everything before the first ⟨GS⟩ for GS1 codes, the first 21 characters of a
/// 29-character pack; the input itself when it does not parse.
pub fn ki_of(code: &str) -> String {
    crate::world::identity(code).unwrap_or_else(|| code.split('\u{1d}').next().unwrap_or(code).to_string())
}

/// The per-code array of a v1 (`codes`) or v2 (`results[0].codes`) answer.
pub fn answer_codes(body: &Value) -> Option<&Vec<Value>> {
    body.get("codes")
        .and_then(Value::as_array)
        .or_else(|| body.get("results")?.get(0)?.get("codes")?.as_array())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ki_of_full_codes_kis_and_junk() {
        assert_eq!(ki_of("0104612345000438215aZ;q0\u{1d}93Jm4t"), "0104612345000438215aZ;q0");
        assert_eq!(ki_of("0104612345000438215aZ;q0"), "0104612345000438215aZ;q0");
        assert_eq!(ki_of("garbage\u{1d}tail"), "garbage");
    }

    #[test]
    fn answer_codes_reads_v1_and_v2() {
        assert_eq!(answer_codes(&json!({ "codes": [1] })).map(Vec::len), Some(1));
        assert_eq!(answer_codes(&json!({ "results": [{ "codes": [1, 2] }] })).map(Vec::len), Some(2));
        assert_eq!(answer_codes(&json!({ "code": 4045 })), None);
    }
}
