//! What the benchmark sends and what the reference servers answer: the `codes/check` path, the
//! store's `X-API-KEY`, one request body per in-circulation code of the default world, and the fixed
//! answer body of the bare hyper and wiremock targets.
//!
//! Every target gets the same requests; the fixed answer is a real answer of the emulator for one
//! in-circulation code, frozen here, so the reference servers send as many bytes as the emulator does.

use crate::load::error::LoadError;
use hyper::body::Bytes;
use markcert_emulators::world::default::{default_world, STORE_API_KEY};

/// Path of `codes/check` on a CDN host.
pub const CHECK_PATH: &str = "/api/v4/true-api/codes/check";

/// The store's `X-API-KEY` in the default world (sent to every target).
pub const API_KEY: &str = STORE_API_KEY;

/// What a sampled answer must contain to count as a `codes/check` answer.
pub const ANSWER_MARKER: &[u8] = b"\"reqId\"";

/// The fixed answer of the reference targets: a real answer of the emulator to one in-circulation code
/// of the default world, frozen — the longest one (614 bytes; the emulator's answers to the
/// benchmark's codes are 506–614 bytes, so the reference targets never send less than it does).
pub const FIXED_ANSWER: &str = r#"{"code":0,"description":"ok","codes":[{"cis":"010460000100002121>55S%7gC,WB;D\u001d91EE08\u001d92Nj2WyQ7uc/uFigzk7kRuIsQiIxF3jJpqv3hCu9HYGP6MiPVVsbsLATHZpAnC2YkuspGM0TJXhSpjstu0ukunyg==","errorCode":0,"found":true,"grayZone":false,"groupIds":[2],"gtin":"04600001000021","isBlocked":false,"isOwner":true,"isTracking":false,"packageType":"UNIT","printView":"010460000100002121>55S%7gC,WB;D","producerInn":"7703000013","productionDate":"2026-11-21T00:59:30.738Z","realizable":true,"sold":false,"utilised":true,"valid":true,"verified":true}],"reqId":"713b096e-ec09-4a98-8dfc-4c3e34ab51a2","reqTimestamp":1795395572798}"#;

/// The `case` label of the codes the benchmark checks.
pub const CODE_CASE: &str = "in-circulation";

/// The `codes/check` body asking about one code: `{"codes":["…"]}`, JSON-escaped (codes contain ⟨GS⟩
/// and may contain quotes).
pub fn check_body(code: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "codes": [code] }).to_string())
}

/// The in-circulation codes of the default world (built at `now_ms`), in code order.
pub fn circulating_codes(now_ms: i64) -> Result<Vec<String>, LoadError> {
    let world = default_world(now_ms)?;
    let codes: Vec<String> = world
        .codes()
        .into_iter()
        .filter(|r| r.case.as_deref() == Some(CODE_CASE))
        .map(|r| r.code.clone())
        .collect();
    if codes.is_empty() {
        return Err(LoadError::NoCodes);
    }
    Ok(codes)
}

/// One request body per in-circulation code of the default world; the connections rotate over them.
pub fn request_bodies(now_ms: i64) -> Result<Vec<Bytes>, LoadError> {
    Ok(circulating_codes(now_ms)?.iter().map(|c| check_body(c)).collect())
}

/// The same checks as the ТС ПИоТ's POS API wants them (`tspiot.md` §3.2): each code as base64 of its
/// raw bytes, with a `client_info` naming the POS program registered in the default world.
pub fn tspiot_bodies(true_api_bodies: &[Bytes]) -> Vec<Bytes> {
    use base64::Engine;
    use markcert_emulators::world::default::{POS_SOFTWARE_ID, POS_SOFTWARE_TOKEN};
    true_api_bodies
        .iter()
        .filter_map(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .filter_map(|v| v["codes"][0].as_str().map(str::to_string))
        .map(|code| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(code.as_bytes());
            let client_info = serde_json::json!({
                "name": "markcert-loadbench", "version": "1", "id": POS_SOFTWARE_ID, "token": POS_SOFTWARE_TOKEN,
            });
            Bytes::from(serde_json::json!({ "codes": [b64], "client_info": client_info }).to_string())
        })
        .collect()
}

/// True when `body` contains [`ANSWER_MARKER`].
pub fn looks_like_answer(body: &[u8]) -> bool {
    body.windows(ANSWER_MARKER.len()).any(|w| w == ANSWER_MARKER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_escape_gs_and_quotes() {
        let body = check_body("01046\u{1d}93\"x");
        assert_eq!(&body[..], br#"{"codes":["01046\u001d93\"x"]}"#);
        let back: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(back["codes"][0], "01046\u{1d}93\"x");
    }

    #[test]
    fn default_world_has_circulating_codes_with_gs() {
        let codes = circulating_codes(1_750_000_000_000).unwrap();
        assert!(codes.len() >= 10, "{}", codes.len());
        assert!(codes.iter().any(|c| c.contains('\u{1d}')));
        // Deterministic: the parent and the emulator child build the same codes at different times.
        assert_eq!(codes, circulating_codes(1_760_000_000_000).unwrap());
    }

    #[test]
    fn fixed_answer_is_a_realistic_check_answer() {
        let v: serde_json::Value = serde_json::from_str(FIXED_ANSWER).unwrap();
        assert_eq!(v["code"], 0);
        assert_eq!(v["codes"].as_array().map(Vec::len), Some(1));
        assert!(looks_like_answer(FIXED_ANSWER.as_bytes()));
        assert_eq!(FIXED_ANSWER.len(), 614);
    }
}
