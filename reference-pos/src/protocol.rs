//! The adapter protocol v1 as this POS sees it (`docs/adapter-protocol.md`): our own serde types for
//! the messages the harness sends and the replies we write, as a foreign implementation would write
//! them (no dependency on the harness crate).
//!
//! Owns the wire only: reading one line into an [`Incoming`] message (or a [`StepError`] that becomes
//! an `error` reply) and serialising a [`Reply`]. Incoming messages are read leniently (unknown
//! fields ignored); nothing here panics, whatever the bytes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::StepError;

/// The protocol version this POS speaks.
pub const PROTOCOL_VERSION: u64 = 1;

/// How the scenario wants codes checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Through the ТС ПИоТ.
    Tspiot,
    /// Directly against True API (CDN) and the ЛМ ЧЗ.
    Direct,
}

/// `endpoints` of `init` (the object `markcert serve` writes).
#[derive(Clone, Debug, Deserialize)]
pub struct Endpoints {
    /// True API discovery host, CDN hosts and the store's `X-API-KEY`.
    pub true_api: TrueApiEndpoints,
    /// The ЛМ ЧЗ and its Basic-auth credentials.
    pub local_module: LocalModuleEndpoint,
    /// The control API (not used by a POS).
    #[serde(default)]
    pub control: Option<String>,
    /// The ТС ПИоТ, when there is one.
    #[serde(default)]
    pub tspiot: Option<TsPiotEndpoint>,
    /// The KKT's ATOL web API, when there is one.
    #[serde(default)]
    pub kkt: Option<KktEndpoint>,
}

/// `endpoints.true_api`.
#[derive(Clone, Debug, Deserialize)]
pub struct TrueApiEndpoints {
    /// Discovery host base URL.
    pub discovery: String,
    /// CDN host base URLs (configuration; the list actually used comes from `cdn/info`).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// The store's `X-API-KEY`.
    #[serde(default)]
    pub api_key: Option<String>,
}

/// `endpoints.local_module`.
#[derive(Clone, Debug, Deserialize)]
pub struct LocalModuleEndpoint {
    /// Base URL.
    pub url: String,
    /// Basic-auth login.
    #[serde(default)]
    pub login: String,
    /// Basic-auth password.
    #[serde(default)]
    pub password: String,
}

/// `endpoints.tspiot`.
#[derive(Clone, Debug, Deserialize)]
pub struct TsPiotEndpoint {
    /// POS API base URL.
    pub url: String,
    /// Admin API base URL (not used by a POS).
    #[serde(default)]
    pub admin: Option<String>,
    /// `client_info.id` of this POS program.
    #[serde(default)]
    pub client_id: Option<String>,
    /// `client_info.token` of this POS program.
    #[serde(default)]
    pub client_token: Option<String>,
    /// PEM file to trust when the POS API is HTTPS.
    #[serde(default)]
    pub ca_pem: Option<String>,
}

/// `endpoints.kkt`.
#[derive(Clone, Debug, Deserialize)]
pub struct KktEndpoint {
    /// ATOL web API base URL.
    pub url: String,
    /// `deviceID`.
    #[serde(default)]
    pub device_id: Option<String>,
    /// Serial of the ФН (tag 1041).
    #[serde(default)]
    pub fn_serial: Option<String>,
    /// Serial of the KKT.
    #[serde(default)]
    pub kkt_serial: Option<String>,
}

/// `init`.
#[derive(Clone, Debug, Deserialize)]
pub struct Init {
    /// Must be 1.
    pub protocol_version: u64,
    /// Must be `pos`.
    #[serde(default = "default_role")]
    pub role: String,
    /// Lane id.
    pub lane: String,
    /// Where everything is.
    pub endpoints: Endpoints,
    /// Checking mode.
    pub mode: Mode,
    /// INN of the store.
    pub store_inn: String,
}

fn default_role() -> String {
    "pos".into()
}

/// Sale or return.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// Sale (приход, 1054 = 1).
    Sale,
    /// Return of a sale (возврат прихода, 1054 = 2).
    Return,
}

/// `open_receipt`.
#[derive(Clone, Debug, Deserialize)]
pub struct OpenReceipt {
    /// Lane id.
    pub lane: String,
    /// Sale or return.
    pub kind: ReceiptKind,
}

/// The product of a scan, as the POS's catalogue would know it.
#[derive(Clone, Debug, Deserialize)]
pub struct Product {
    /// Name (1030).
    pub name: String,
    /// Price per unit of `measure`, kopecks (1079).
    pub price_kopecks: u64,
    /// ATOL VAT name (`vat20`, `vat10`, `none`, …).
    #[serde(default = "default_vat")]
    pub vat: String,
    /// ATOL measurement unit (`piece`, `kilogram`, `liter`, …).
    #[serde(default = "default_measure")]
    pub measure: String,
}

fn default_vat() -> String {
    "none".into()
}

fn default_measure() -> String {
    "piece".into()
}

/// A part of a pack (tags 1291–1294).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub struct Fraction {
    /// n (1293).
    pub numerator: u64,
    /// m (1294).
    pub denominator: u64,
}

/// `scan`.
#[derive(Clone, Debug, Deserialize)]
pub struct Scan {
    /// Lane id.
    pub lane: String,
    /// Standard base64 of the bytes the scanner delivered.
    pub scan_b64: String,
    /// What is sold.
    pub product: Product,
    /// Quantity in units of `product.measure`.
    #[serde(default = "default_quantity")]
    pub quantity: f64,
    /// A part of a pack.
    #[serde(default)]
    pub fraction: Option<Fraction>,
}

/// One scan of `scan_batch` (the fields of `scan` without the lane).
#[derive(Clone, Debug, Deserialize)]
pub struct BatchScan {
    /// Standard base64 of the bytes the scanner delivered.
    pub scan_b64: String,
    /// What is sold.
    pub product: Product,
    /// Quantity in units of `product.measure`.
    #[serde(default = "default_quantity")]
    pub quantity: f64,
    /// A part of a pack.
    #[serde(default)]
    pub fraction: Option<Fraction>,
}

/// `scan_batch`: scans to check together, in one request.
#[derive(Clone, Debug, Deserialize)]
pub struct ScanBatch {
    /// Lane id.
    pub lane: String,
    /// The scans; the items come back in this order.
    pub scans: Vec<BatchScan>,
}

impl Scan {
    /// The scan of a batch on `lane`.
    pub fn of_batch(lane: &str, b: BatchScan) -> Scan {
        Scan {
            lane: lane.to_string(),
            scan_b64: b.scan_b64,
            product: b.product,
            quantity: b.quantity,
            fraction: b.fraction,
        }
    }
}

fn default_quantity() -> f64 {
    1.0
}

/// Payment method of `close_receipt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Cash.
    Cash,
    /// Card or other electronic payment.
    Electronic,
}

/// `close_receipt.payment`.
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct Payment {
    /// Cash or electronic.
    pub method: PaymentMethod,
    /// Amount, kopecks.
    pub amount_kopecks: u64,
}

/// `close_receipt`.
#[derive(Clone, Debug, Deserialize)]
pub struct CloseReceipt {
    /// Lane id.
    pub lane: String,
    /// Payment.
    pub payment: Payment,
}

/// `cancel_receipt`.
#[derive(Clone, Debug, Deserialize)]
pub struct CancelReceipt {
    /// Lane id.
    pub lane: String,
}

/// One request of the harness.
#[derive(Clone, Debug)]
pub enum Request {
    /// `init`.
    Init(Box<Init>),
    /// `open_receipt`.
    OpenReceipt(OpenReceipt),
    /// `scan`.
    Scan(Box<Scan>),
    /// `scan_batch`.
    ScanBatch(ScanBatch),
    /// `close_receipt`.
    CloseReceipt(CloseReceipt),
    /// `cancel_receipt`.
    CancelReceipt(CancelReceipt),
    /// `shutdown`.
    Shutdown,
}

/// One line read: the message id (when it has a usable one) and the request, or why it is not one.
#[derive(Debug)]
pub struct Incoming {
    /// `id` of the message, when it is an unsigned integer.
    pub id: Option<u64>,
    /// The request, or the error to answer with.
    pub request: Result<Request, StepError>,
}

/// Read one line of input. Never panics.
pub fn parse_line(line: &[u8]) -> Incoming {
    let text = match std::str::from_utf8(line) {
        Ok(t) => t,
        Err(e) => {
            return Incoming { id: None, request: Err(StepError::BadRequest(format!("not UTF-8: {e}"))) };
        }
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Incoming { id: None, request: Err(StepError::BadRequest(format!("not JSON: {e}"))) }
        }
    };
    let Value::Object(obj) = &value else {
        return Incoming {
            id: None,
            request: Err(StepError::BadRequest("a message must be a JSON object".into())),
        };
    };
    let id = obj.get("id").and_then(Value::as_u64);
    let request = match obj.get("type") {
        Some(Value::String(t)) => typed(t, value.clone()),
        Some(_) => Err(StepError::BadRequest("`type` must be a string".into())),
        None => Err(StepError::BadRequest("the message has no `type`".into())),
    };
    let request = match (request, obj.get("id")) {
        (Ok(_), None) => Err(StepError::BadRequest("the message has no `id`".into())),
        (Ok(_), Some(v)) if !v.is_u64() => {
            Err(StepError::BadRequest("`id` must be an unsigned integer".into()))
        }
        (r, _) => r,
    };
    Incoming { id, request }
}

fn typed(ty: &str, value: Value) -> Result<Request, StepError> {
    fn read<T: serde::de::DeserializeOwned>(ty: &str, v: Value) -> Result<T, StepError> {
        serde_json::from_value(v).map_err(|e| StepError::BadRequest(format!("{ty}: {e}")))
    }
    Ok(match ty {
        "init" => Request::Init(Box::new(read(ty, value)?)),
        "open_receipt" => Request::OpenReceipt(read(ty, value)?),
        "scan" => Request::Scan(Box::new(read(ty, value)?)),
        "scan_batch" => Request::ScanBatch(read(ty, value)?),
        "close_receipt" => Request::CloseReceipt(read(ty, value)?),
        "cancel_receipt" => Request::CancelReceipt(read(ty, value)?),
        "shutdown" => Request::Shutdown,
        other => return Err(StepError::NotSupported(short(other))),
    })
}

/// At most 64 characters of `s`, for messages.
pub(crate) fn short(s: &str) -> String {
    let mut out: String = s.chars().take(64).collect();
    if s.chars().nth(64).is_some() {
        out.push('…');
    }
    out
}

/// Decision on a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Added to the receipt.
    Accepted,
    /// Refused.
    Rejected,
}

/// Why a scan was refused (the protocol's vocabulary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Not a marking code, even after repair.
    Format,
    /// Unknown to ГИС МТ.
    NotFound,
    /// Never applied.
    NotApplied,
    /// Crypto tail wrong.
    Crypto,
    /// Blocked.
    Blocked,
    /// Already sold.
    Sold,
    /// Not in circulation.
    NotInCirculation,
    /// Expired.
    Expired,
    /// Price above МРЦ.
    PriceAboveMrp,
    /// Price below ЕМЦ / МЦ.
    PriceBelowMin,
    /// No check could be made and the sale is not allowed without one.
    CheckUnavailable,
    /// Anything else (see the message).
    Other,
}

impl Reason {
    /// The protocol name.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Format => "format",
            Reason::NotFound => "not_found",
            Reason::NotApplied => "not_applied",
            Reason::Crypto => "crypto",
            Reason::Blocked => "blocked",
            Reason::Sold => "sold",
            Reason::NotInCirculation => "not_in_circulation",
            Reason::Expired => "expired",
            Reason::PriceAboveMrp => "price_above_mrp",
            Reason::PriceBelowMin => "price_below_min",
            Reason::CheckUnavailable => "check_unavailable",
            Reason::Other => "other",
        }
    }
}

/// The body of a reply, tagged by `type`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReplyBody {
    /// Answer to `init`.
    InitOk {
        /// Implementation name.
        name: String,
        /// Its version.
        version: String,
        /// Declared features.
        features: Vec<String>,
    },
    /// Answer to `open_receipt`.
    ReceiptOpened,
    /// Answer to `scan`.
    Item {
        /// Accepted or rejected.
        decision: Decision,
        /// Why, when rejected.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
        /// For the cashier.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Answer to `scan_batch`: one item per scan, in order.
    Items {
        /// The items.
        items: Vec<ItemReply>,
    },
    /// Answer to `close_receipt`.
    ReceiptClosed {
        /// Tag 1040 of the receipt.
        fiscal_document_number: u64,
    },
    /// Answer to `cancel_receipt`.
    ReceiptCancelled,
    /// Answer to `shutdown`.
    ShutdownOk,
    /// The request could not be carried out.
    Error {
        /// Machine-readable code.
        code: String,
        /// Explanation.
        text: String,
    },
}

/// One item of an `items` reply (the fields of an `item` reply).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ItemReply {
    /// Accepted or rejected.
    pub decision: Decision,
    /// Why, when rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// For the cashier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ReplyBody {
    /// The item of an `item` reply; any other reply (an `error` to a scan) as a rejected item with
    /// reason `other`.
    pub fn into_item(self) -> ItemReply {
        match self {
            ReplyBody::Item { decision, reason, message } => ItemReply { decision, reason, message },
            ReplyBody::Error { code, text } => ItemReply {
                decision: Decision::Rejected,
                reason: Some(Reason::Other),
                message: Some(format!("{code}: {text}")),
            },
            other => ItemReply {
                decision: Decision::Rejected,
                reason: Some(Reason::Other),
                message: Some(format!("unexpected {other:?}")),
            },
        }
    }

    /// An accepted item.
    pub fn accepted(message: Option<String>) -> ReplyBody {
        ReplyBody::Item { decision: Decision::Accepted, reason: None, message }
    }

    /// A rejected item.
    pub fn rejected(reason: Reason, message: impl Into<String>) -> ReplyBody {
        ReplyBody::Item { decision: Decision::Rejected, reason: Some(reason), message: Some(message.into()) }
    }

    /// The `error` reply of `e`.
    pub fn error(e: &StepError) -> ReplyBody {
        ReplyBody::Error { code: e.code().into(), text: e.to_string() }
    }
}

/// One reply line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reply {
    /// The `id` answered (omitted only on an `error` to a message without a usable id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<u64>,
    /// The reply.
    #[serde(flatten)]
    pub body: ReplyBody,
}

impl Reply {
    /// The JSON line (without the newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            // Unreachable with these types; answer something the harness can still read.
            format!("{{\"type\":\"error\",\"code\":\"internal\",\"text\":{:?}}}", e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replies_serialise_as_the_protocol_says() {
        let r = Reply {
            in_reply_to: Some(3), body: ReplyBody::rejected(Reason::Expired, "Товар просрочен")
        };
        assert_eq!(
            serde_json::from_str::<Value>(&r.to_line()).unwrap(),
            json!({"in_reply_to":3,"type":"item","decision":"rejected","reason":"expired","message":"Товар просрочен"})
        );
        let r = Reply { in_reply_to: Some(2), body: ReplyBody::ReceiptOpened };
        assert_eq!(r.to_line(), r#"{"in_reply_to":2,"type":"receipt_opened"}"#);
        let r = Reply { in_reply_to: None, body: ReplyBody::Error { code: "x".into(), text: "y".into() } };
        assert_eq!(r.to_line(), r#"{"type":"error","code":"x","text":"y"}"#);
        let r = Reply { in_reply_to: Some(1), body: ReplyBody::accepted(None) };
        assert_eq!(r.to_line(), r#"{"in_reply_to":1,"type":"item","decision":"accepted"}"#);
        let items = vec![
            ReplyBody::accepted(None).into_item(),
            ReplyBody::rejected(Reason::Sold, "Продан").into_item(),
            ReplyBody::Error { code: "kkt".into(), text: "busy".into() }.into_item(),
        ];
        let r = Reply { in_reply_to: Some(4), body: ReplyBody::Items { items } };
        assert_eq!(
            serde_json::from_str::<Value>(&r.to_line()).unwrap(),
            json!({"in_reply_to":4,"type":"items","items":[{"decision":"accepted"},
                {"decision":"rejected","reason":"sold","message":"Продан"},
                {"decision":"rejected","reason":"other","message":"kkt: busy"}]})
        );
    }

    #[test]
    fn scan_batch_is_read_with_its_scans_in_order() {
        let line = br#"{"id":4,"type":"scan_batch","lane":"lane-1","scans":[
            {"scan_b64":"QQ==","product":{"name":"a","price_kopecks":1,"vat":"vat20","measure":"piece"}},
            {"scan_b64":"Qg==","product":{"name":"b","price_kopecks":2,"vat":"vat10","measure":"piece"},"quantity":2.0}]}"#;
        let Ok(Request::ScanBatch(b)) =
            parse_line(&line.iter().copied().filter(|c| *c != b'\n').collect::<Vec<_>>()).request
        else {
            panic!("not a scan_batch")
        };
        let names: Vec<(&str, f64)> = b.scans.iter().map(|s| (s.product.name.as_str(), s.quantity)).collect();
        assert_eq!(names, [("a", 1.0), ("b", 2.0)]);
        let scan = Scan::of_batch("lane-1", b.scans[1].clone());
        assert_eq!((scan.lane.as_str(), scan.scan_b64.as_str()), ("lane-1", "Qg=="));
    }

    #[test]
    fn the_protocol_examples_parse() {
        let init = br#"{"id":1,"type":"init","protocol_version":1,"role":"pos","lane":"lane-1","mode":"tspiot","store_inn":"7700000001","endpoints":{"true_api":{"discovery":"http://127.0.0.1:4001","hosts":["http://127.0.0.1:4002"],"api_key":"key-1"},"local_module":{"url":"http://127.0.0.1:5995","login":"admin","password":"admin"},"control":"http://127.0.0.1:4000","kkt":{"url":"http://127.0.0.1:16732","device_id":"kkt-1","fn_serial":"7380440700000001","kkt_serial":"00106700000001"}}}"#;
        let m = parse_line(init);
        assert_eq!(m.id, Some(1));
        let Ok(Request::Init(i)) = m.request else { panic!("{m:?}") };
        assert_eq!(i.mode, Mode::Tspiot);
        assert_eq!(i.endpoints.kkt.unwrap().device_id.as_deref(), Some("kkt-1"));
        let scan = r#"{"id":3,"type":"scan","lane":"lane-1","scan_b64":"MDEw","product":{"name":"Молоко","price_kopecks":8990,"vat":"vat10","measure":"piece"},"quantity":1.0}"#;
        assert!(matches!(parse_line(scan.as_bytes()).request, Ok(Request::Scan(_))));
        assert!(matches!(parse_line(br#"{"id":6,"type":"shutdown"}"#).request, Ok(Request::Shutdown)));
    }

    #[test]
    fn garbage_is_an_error_with_the_id_when_there_is_one() {
        for (line, id, code) in [
            (&b"not json"[..], None, "bad_request"),
            (b"[1,2]", None, "bad_request"),
            (b"\xff\xfe", None, "bad_request"),
            (br#"{"id":4,"type":"dance"}"#, Some(4), "not_supported"),
            (br#"{"id":5,"type":7}"#, Some(5), "bad_request"),
            (br#"{"id":-1,"type":"shutdown"}"#, None, "bad_request"),
            (br#"{"type":"shutdown"}"#, None, "bad_request"),
            (br#"{"id":1e400,"type":"shutdown"}"#, None, "bad_request"),
            (br#"{"id":7,"type":"scan","lane":"l"}"#, Some(7), "bad_request"),
            (br#"{"id":8,"type":"close_receipt","lane":"l","payment":{"method":"gold","amount_kopecks":1}}"#, Some(8), "bad_request"),
        ] {
            let m = parse_line(line);
            assert_eq!(m.id, id, "{}", String::from_utf8_lossy(line));
            assert_eq!(m.request.unwrap_err().code(), code, "{}", String::from_utf8_lossy(line));
        }
    }
}
