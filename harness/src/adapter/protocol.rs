//! Adapter protocol v1 message types (`docs/adapter-protocol.md`).
//!
//! The harness sends a [`Message`] (`id` + a [`Request`] tagged by `type`); the SUT answers with a
//! [`Reply`] (`in_reply_to` + a [`ReplyBody`] tagged by `type`). What the harness sends is strict
//! (`deny_unknown_fields`); what the SUT sends is read leniently (extra fields are ignored).
//! [`parse_reply`] turns one raw line from a SUT into a [`Reply`] or a [`ViolationKind`] and never
//! panics, whatever the bytes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::ViolationKind;

/// Version of the adapter protocol these types describe.
pub const PROTOCOL_VERSION: u32 = 1;

/// One message from the harness to the SUT.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Message {
    /// Unique (per SUT process or URL) message id; the reply's `in_reply_to` must equal it.
    pub id: u64,
    /// The request, tagged by `type`.
    #[serde(flatten)]
    pub body: Request,
}

/// The requests of protocol v1, tagged by `type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // one short-lived message at a time
pub enum Request {
    /// First message on a lane; answered by `init_ok`.
    Init(Init),
    /// Open a receipt; answered by `receipt_opened`.
    OpenReceipt(OpenReceipt),
    /// One scan at the POS; answered by `item`.
    Scan(Scan),
    /// Several scans the POS is to check together, in one request (feature `batch`); answered by
    /// `items`, one per scan, in order.
    ScanBatch(ScanBatch),
    /// Pay and fiscalise the open receipt; answered by `receipt_closed`.
    CloseReceipt(CloseReceipt),
    /// Drop the open receipt; answered by `receipt_cancelled`.
    CancelReceipt(CancelReceipt),
    /// Last message; answered by `shutdown_ok`, after which the SUT should exit (stdio).
    Shutdown(Shutdown),
}

/// Role the harness asks the SUT to play.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A POS program.
    Pos,
    /// A ТС ПИоТ implementation: it answers `init` with the URL of its POS API (`tspiot_url`), bound
    /// to the True API, ЛМ ЧЗ and KKT of `endpoints`; the harness then sends it `codes/check` as a POS.
    Tspiot,
}

/// How the scenario wants the POS to check codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Through the ТС ПИоТ.
    Tspiot,
    /// Directly against True API and the ЛМ ЧЗ.
    Direct,
}

/// `init`: everything the SUT needs to reach the emulated environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Init {
    /// Always 1 for this version.
    pub protocol_version: u32,
    /// Role to play.
    pub role: Role,
    /// Lane (cash desk) id used by every later message.
    pub lane: String,
    /// Endpoint URLs and credentials (the object `markcert serve` writes).
    pub endpoints: Endpoints,
    /// Checking mode the scenario wants.
    pub mode: Mode,
    /// INN of the store.
    pub store_inn: String,
}

/// The endpoints object (mirror of `markcert_emulators::stack::Endpoints`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Endpoints {
    /// True API hosts and the store's `X-API-KEY`.
    pub true_api: TrueApiEndpoints,
    /// The ЛМ ЧЗ and its Basic-auth credentials.
    pub local_module: LocalModuleEndpoint,
    /// Base URL of the control API.
    pub control: String,
    /// The ТС ПИоТ, when the stack has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tspiot: Option<TsPiotEndpoint>,
    /// The KKT's ATOL web API, when the stack has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kkt: Option<KktEndpoint>,
}

/// `endpoints.true_api`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrueApiEndpoints {
    /// Discovery host base URL.
    pub discovery: String,
    /// CDN host base URLs.
    pub hosts: Vec<String>,
    /// The store's `X-API-KEY`, if any.
    pub api_key: Option<String>,
}

/// `endpoints.local_module`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalModuleEndpoint {
    /// Base URL.
    pub url: String,
    /// Basic-auth login.
    pub login: String,
    /// Basic-auth password.
    pub password: String,
}

/// `endpoints.tspiot`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TsPiotEndpoint {
    /// POS API base URL.
    pub url: String,
    /// Admin API base URL.
    pub admin: String,
    /// `client_info.id` of the POS program.
    pub client_id: Option<String>,
    /// `client_info.token` of that program.
    pub client_token: Option<String>,
    /// Path of the PEM certificate to trust when the POS API is HTTPS.
    pub ca_pem: Option<String>,
}

/// `endpoints.kkt`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KktEndpoint {
    /// ATOL web API base URL.
    pub url: String,
    /// `deviceID` of the KKT.
    pub device_id: String,
    /// Serial of its ФН.
    pub fn_serial: String,
    /// Serial of the KKT.
    pub kkt_serial: String,
}

impl From<&markcert_emulators::stack::Endpoints> for Endpoints {
    fn from(e: &markcert_emulators::stack::Endpoints) -> Self {
        Endpoints {
            true_api: TrueApiEndpoints {
                discovery: e.true_api.discovery.clone(),
                hosts: e.true_api.hosts.clone(),
                api_key: e.true_api.api_key.clone(),
            },
            local_module: LocalModuleEndpoint {
                url: e.local_module.url.clone(),
                login: e.local_module.login.clone(),
                password: e.local_module.password.clone(),
            },
            control: e.control.clone(),
            tspiot: e.tspiot.as_ref().map(|t| TsPiotEndpoint {
                url: t.url.clone(),
                admin: t.admin.clone(),
                client_id: t.client_id.clone(),
                client_token: t.client_token.clone(),
                ca_pem: t.ca_pem.as_ref().map(|p| p.display().to_string()),
            }),
            kkt: e.kkt.as_ref().map(|k| KktEndpoint {
                url: k.url.clone(),
                device_id: k.device_id.clone(),
                fn_serial: k.fn_serial.clone(),
                kkt_serial: k.kkt_serial.clone(),
            }),
        }
    }
}

/// Kind of receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// Sale (приход).
    Sale,
    /// Return of a sale (возврат прихода).
    Return,
}

/// `open_receipt`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenReceipt {
    /// Lane id from `init`.
    pub lane: String,
    /// Sale or return.
    pub kind: ReceiptKind,
}

/// The product the cashier sells with a scan (what the POS's own catalogue would say).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Product name.
    pub name: String,
    /// Price per unit of `measure`, in kopecks.
    pub price_kopecks: u64,
    /// ATOL VAT name: `none`, `vat0`, `vat5`, `vat7`, `vat10`, `vat20`, `vat105`, `vat107`,
    /// `vat110`, `vat120`.
    pub vat: String,
    /// ATOL measurement unit: `piece`, `gram`, `kilogram`, `milliliter`, `liter`, ….
    pub measure: String,
}

/// A fractional quantity of a unit sold from a pack (FFD tag 1291).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fraction {
    /// Numerator (tag 1293).
    pub numerator: u64,
    /// Denominator (tag 1294).
    pub denominator: u64,
}

/// `scan`: the bytes the scanner delivered, base64, plus what is being sold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scan {
    /// Lane id from `init`.
    pub lane: String,
    /// Standard base64 of the exact bytes the scanner sent (may contain GS, may be damaged).
    pub scan_b64: String,
    /// What the POS's catalogue says about the product.
    pub product: Product,
    /// Quantity in units of `product.measure` (1 for a piece).
    pub quantity: f64,
    /// Fractional quantity, when a part of a pack is sold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<Fraction>,
}

/// One scan of a `scan_batch`: the fields of `scan` without the lane.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchScan {
    /// Standard base64 of the exact bytes the scanner sent (may contain GS, may be damaged).
    pub scan_b64: String,
    /// What the POS's catalogue says about the product.
    pub product: Product,
    /// Quantity in units of `product.measure` (1 for a piece).
    pub quantity: f64,
    /// Fractional quantity, when a part of a pack is sold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<Fraction>,
}

/// `scan_batch`: scans made in a row that the POS checks in one request (a basket of marked goods
/// put down at once, a multi-code scan): the ТС ПИоТ or True API gets every code of the batch in one
/// `codes` array, so the positions share one check and one tag 1265 (true-api.md §12.2 rule 2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanBatch {
    /// Lane id from `init`.
    pub lane: String,
    /// The scans, in the order the items must come back (at least two).
    pub scans: Vec<BatchScan>,
}

/// Payment method of `close_receipt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Cash.
    Cash,
    /// Card or any other electronic payment.
    Electronic,
}

/// How the receipt is paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    /// Cash or electronic.
    pub method: PaymentMethod,
    /// Amount paid, in kopecks.
    pub amount_kopecks: u64,
}

/// `close_receipt`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseReceipt {
    /// Lane id from `init`.
    pub lane: String,
    /// Payment.
    pub payment: Payment,
}

/// `cancel_receipt`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelReceipt {
    /// Lane id from `init`.
    pub lane: String,
}

/// `shutdown` (no fields).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shutdown {}

impl Request {
    /// The `type` tag of this request.
    pub fn type_name(&self) -> &'static str {
        match self {
            Request::Init(_) => "init",
            Request::OpenReceipt(_) => "open_receipt",
            Request::Scan(_) => "scan",
            Request::ScanBatch(_) => "scan_batch",
            Request::CloseReceipt(_) => "close_receipt",
            Request::CancelReceipt(_) => "cancel_receipt",
            Request::Shutdown(_) => "shutdown",
        }
    }

    /// The reply `type` a successful answer to this request has (`error` is always allowed too).
    pub fn expected_reply(&self) -> &'static str {
        match self {
            Request::Init(_) => "init_ok",
            Request::OpenReceipt(_) => "receipt_opened",
            Request::Scan(_) => "item",
            Request::ScanBatch(_) => "items",
            Request::CloseReceipt(_) => "receipt_closed",
            Request::CancelReceipt(_) => "receipt_cancelled",
            Request::Shutdown(_) => "shutdown_ok",
        }
    }
}

/// One reply from the SUT.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Reply {
    /// The `id` of the message answered. Required on every reply except `error`, where it may be
    /// omitted (one request is in flight at a time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<u64>,
    /// The reply, tagged by `type`.
    #[serde(flatten)]
    pub body: ReplyBody,
}

/// The replies of protocol v1, tagged by `type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReplyBody {
    /// Answer to `init`.
    InitOk(InitOk),
    /// Answer to `open_receipt`.
    ReceiptOpened(Empty),
    /// Answer to `scan`.
    Item(Item),
    /// Answer to `scan_batch`.
    Items(Items),
    /// Answer to `close_receipt`.
    ReceiptClosed(ReceiptClosed),
    /// Answer to `cancel_receipt`.
    ReceiptCancelled(Empty),
    /// Answer to `shutdown`.
    ShutdownOk(Empty),
    /// The SUT could not carry out the request (allowed as the answer to any request).
    Error(ErrorReply),
}

/// All reply `type` tags of protocol v1.
pub const REPLY_TYPES: &[&str] = &[
    "init_ok",
    "receipt_opened",
    "item",
    "items",
    "receipt_closed",
    "receipt_cancelled",
    "shutdown_ok",
    "error",
];

impl ReplyBody {
    /// The `type` tag of this reply.
    pub fn type_name(&self) -> &'static str {
        match self {
            ReplyBody::InitOk(_) => "init_ok",
            ReplyBody::ReceiptOpened(_) => "receipt_opened",
            ReplyBody::Item(_) => "item",
            ReplyBody::Items(_) => "items",
            ReplyBody::ReceiptClosed(_) => "receipt_closed",
            ReplyBody::ReceiptCancelled(_) => "receipt_cancelled",
            ReplyBody::ShutdownOk(_) => "shutdown_ok",
            ReplyBody::Error(_) => "error",
        }
    }
}

/// A reply without fields (extra fields from the SUT are ignored).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Empty {}

/// `init_ok`: who the SUT is and what it declares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InitOk {
    /// Name of the implementation.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Declared features, e.g. `tspiot`, `direct`, `lm-fallback`, `returns`, `weighted`,
    /// `fractional`. Scenarios needing an undeclared feature are skipped.
    #[serde(default)]
    pub features: Vec<String>,
    /// Role `tspiot`: base URL of the POS API the implementation now serves (`http://127.0.0.1:51401`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tspiot_url: Option<String>,
}

/// Decision on a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The item was added to the receipt.
    Accepted,
    /// The sale of the item was refused.
    Rejected,
}

/// Why an item was rejected (the spec's ban cases).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The scan is not a valid marking code (even after repair).
    Format,
    /// The code is unknown to True API.
    NotFound,
    /// The code was never applied to goods.
    NotApplied,
    /// Crypto tail verification failed.
    Crypto,
    /// The code (or its GTIN / batch) is blocked.
    Blocked,
    /// The code was already sold.
    Sold,
    /// The code is not in circulation.
    NotInCirculation,
    /// The goods are past their expiry date.
    Expired,
    /// Price above the maximum retail price.
    PriceAboveMrp,
    /// Price below the minimum price.
    PriceBelowMin,
    /// The check could not be done and the rules forbid selling without it.
    CheckUnavailable,
    /// Any other reason (explain in `message`).
    Other,
}

impl Reason {
    /// Every reason, in the protocol's order.
    pub const ALL: [Reason; 12] = [
        Reason::Format,
        Reason::NotFound,
        Reason::NotApplied,
        Reason::Crypto,
        Reason::Blocked,
        Reason::Sold,
        Reason::NotInCirculation,
        Reason::Expired,
        Reason::PriceAboveMrp,
        Reason::PriceBelowMin,
        Reason::CheckUnavailable,
        Reason::Other,
    ];
}

/// `item`: the POS's decision on a scan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Item {
    /// Accepted or rejected.
    pub decision: Decision,
    /// Required when rejected; absent when accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// Free text for humans (what the cashier would see).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `items`: the POS's decisions on the scans of a `scan_batch`, one per scan, in the same order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Items {
    /// One decision per scan.
    pub items: Vec<Item>,
}

/// `receipt_closed`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReceiptClosed {
    /// Fiscal document number (tag 1040) the KKT gave the receipt.
    pub fiscal_document_number: u64,
}

/// `error`: the SUT could not carry out the request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorReply {
    /// Machine-readable code, e.g. `not_supported`, `bad_request`, `internal`.
    pub code: String,
    /// Human explanation.
    pub text: String,
}

/// Parse one raw reply (a stdout line or an HTTP body) to the request `request` with id
/// `expected_id`. Checks, in order: JSON, object, `type`, known type, `in_reply_to`, type valid
/// for the request, fields. Never panics.
pub fn parse_reply(raw: &[u8], expected_id: u64, request: &Request) -> Result<Reply, ViolationKind> {
    let text = String::from_utf8_lossy(raw);
    let line = text.trim();
    let value: serde_json::Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return Err(ViolationKind::NotJson { line: excerpt(line), error: e.to_string() }),
    };
    let Some(obj) = value.as_object() else {
        return Err(ViolationKind::NotAnObject { line: excerpt(line) });
    };
    let ty = match obj.get("type") {
        Some(serde_json::Value::String(s)) => s.clone(),
        _ => return Err(ViolationKind::MissingType { line: excerpt(line) }),
    };
    if !REPLY_TYPES.contains(&ty.as_str()) {
        return Err(ViolationKind::UnknownType { got: excerpt(&ty), line: excerpt(line) });
    }
    match obj.get("in_reply_to") {
        None if ty == "error" => {}
        None => return Err(ViolationKind::MissingInReplyTo { line: excerpt(line) }),
        Some(v) => match v.as_u64() {
            Some(n) if n == expected_id => {}
            _ => {
                return Err(ViolationKind::WrongInReplyTo {
                    expected: expected_id,
                    got: excerpt(&v.to_string()),
                })
            }
        },
    }
    if ty != "error" && ty != request.expected_reply() {
        return Err(ViolationKind::UnexpectedReplyType {
            request: request.type_name(),
            expected: request.expected_reply(),
            got: ty,
        });
    }
    let reply: Reply = match serde_json::from_value(value) {
        Ok(r) => r,
        Err(e) => return Err(ViolationKind::Malformed { reply_type: ty, error: e.to_string() }),
    };
    let items: &[Item] = match &reply.body {
        ReplyBody::Item(item) => std::slice::from_ref(item),
        ReplyBody::Items(Items { items }) => items,
        _ => &[],
    };
    if let Some(i) = items.iter().position(|i| i.decision == Decision::Rejected && i.reason.is_none()) {
        let which =
            if ty == "items" { format!("item {} of `items`", i + 1) } else { "a rejected item".into() };
        return Err(ViolationKind::Malformed {
            reply_type: ty,
            error: format!("{which} is rejected without a `reason`"),
        });
    }
    if let (Request::ScanBatch(batch), ReplyBody::Items(Items { items })) = (request, &reply.body) {
        if items.len() != batch.scans.len() {
            return Err(ViolationKind::Malformed {
                reply_type: ty,
                error: format!(
                    "{} item(s) for a batch of {} scans: one per scan, in order",
                    items.len(),
                    batch.scans.len()
                ),
            });
        }
    }
    Ok(reply)
}

/// At most 200 characters of `s`, for error messages.
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 200;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

/// The JSON Schema (draft 2020-12) of protocol v1: `$defs` `Message` (harness → SUT) and `Reply`
/// (SUT → harness); a document is valid when it is either.
pub fn json_schema() -> serde_json::Value {
    let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let message = generator.subschema_for::<Message>();
    let reply = generator.subschema_for::<Reply>();
    let defs = generator.take_definitions(true);
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "markcert adapter protocol v1",
        "description": "Messages between markcert and a system under test; see docs/adapter-protocol.md.",
        "oneOf": [message, reply],
        "$defs": defs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_cuts_on_char_boundaries() {
        let long = "ё".repeat(300);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), 201);
        assert!(e.ends_with('…'));
        assert_eq!(excerpt("short"), "short");
    }

    #[test]
    fn every_request_expects_a_known_reply() {
        let reqs =
            [Request::Shutdown(Shutdown {}), Request::CancelReceipt(CancelReceipt { lane: "l".into() })];
        for r in reqs {
            assert!(REPLY_TYPES.contains(&r.expected_reply()));
        }
    }

    #[test]
    fn non_utf8_is_not_json() {
        let req = Request::Shutdown(Shutdown {});
        let err = parse_reply(&[0xff, 0xfe, b'{'], 1, &req).unwrap_err();
        assert_eq!(err.code(), "not_json");
    }
}
