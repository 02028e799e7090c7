//! The JSON of the ATOL-compatible API (`kkt.md` §10.2–§10.4, `tspiot.md` §9.4): every task a POS may
//! queue, as a [`Task`], and every result the emulated KKT answers with, under ATOL's exact names.
//!
//! Parsing is lenient where real clients differ and strict where the KKT must refuse:
//! - a task's fields may sit at the top level (ATOL's native form, e.g. `sell`) or inside `params`
//!   (the spec's marking examples); the top level wins when both carry a field. A `params` array holds
//!   the marks of the batch tasks, or one object to merge (a published client sends
//!   `"params":[{…}]` for `beginMarkingCodeValidation`);
//! - coded values (`imcType`, `itemEstimatedStatus`, `measurementUnit`, `paymentObject`, payment
//!   types, …) are accepted as ATOL names or as their integer codes; `"auto"` is 256 (or 255, as one
//!   client sends it);
//! - unknown fields are ignored, `null` counts as absent, `industryInfo` may be one object or a list,
//!   items other than `position` (`text`, barcodes, …) are kept as raw JSON.
//!
//! [`Task::from_json`] never panics; a task it cannot read becomes an [`AtolError`] for that task alone
//! (the convention is in its doc). Pure data: what a task *does* is the device's business.

use super::error::{AtolError, DriverError};
use base64::Engine;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// A closed set of ATOL names with their numeric codes: the enum, `code()`, `name()`, `from_code()`,
/// `from_name()`, `from_json()`, and serde (a name or an integer in; the name out).
macro_rules! atol_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident : $code_ty:ty, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal $(| $alt:literal)* => $label:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The numeric code.
            pub fn code(self) -> $code_ty {
                match self { $($name::$variant => $code),+ }
            }

            /// The ATOL name (what this crate writes).
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// The value of a numeric code.
            pub fn from_code(code: u64) -> Option<$name> {
                match code { $( $code $(| $alt)* => Some($name::$variant), )+ _ => None }
            }

            /// The value of an ATOL name (or one of its aliases).
            pub fn from_name(name: &str) -> Option<$name> {
                match name { $( $label $(| $alias)* => Some($name::$variant), )+ _ => None }
            }

            /// The value of a JSON name or integer code.
            pub fn from_json(v: &Value) -> Option<$name> {
                match v {
                    Value::String(s) => $name::from_name(s),
                    Value::Number(n) => n.as_u64().and_then($name::from_code),
                    _ => None,
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                struct V;
                impl de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "an ATOL {} name or code", $what)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::from_name(v).ok_or_else(|| E::custom(format!("unknown {} {:?}", $what, short(v))))
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$name, E> {
                        $name::from_code(v).ok_or_else(|| E::custom(format!("unknown {} code {v}", $what)))
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$name, E> {
                        u64::try_from(v)
                            .ok()
                            .and_then($name::from_code)
                            .ok_or_else(|| E::custom(format!("unknown {} code {v}", $what)))
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------------
// Coded values
// ---------------------------------------------------------------------------------------------------

atol_enum! {
    /// Tag 2100, type of marking code (§4.4), plus ATOL's `auto`.
    pub enum ImcType: u16, "imcType" {
        /// Let the KKT classify the code (ATOL only, code 256; 255 accepted).
        Auto = 256 | 255 => "auto",
        /// 0, not identified.
        Unrecognized = 0 => "imcUnrecognized",
        /// 1, short code.
        Short = 1 => "imcShort",
        /// 2, 88-char verification code, checked in the ФН.
        FmVerifyCode88 = 2 => "imcFmVerifyCode88",
        /// 3, 44-char verification code, not checked in the ФН.
        VerifyCode44 = 3 => "imcVerifyCode44",
        /// 4, 44-char verification code, checked in the ФН.
        FmVerifyCode44 = 4 => "imcFmVerifyCode44",
        /// 5, 4-char verification code, not checked in the ФН.
        VerifyCode4 = 5 => "imcVerifyCode4",
    }
}

impl ImcType {
    /// The value of tag 2100; `None` for `auto`.
    pub fn ffd_2100(self) -> Option<u8> {
        u8::try_from(self.code()).ok().filter(|c| *c <= 5)
    }

    /// The type of a tag 2100 value.
    pub fn from_2100(value: u8) -> Option<ImcType> {
        (value <= 5).then(|| ImcType::from_code(u64::from(value))).flatten()
    }
}

impl Default for ImcType {
    /// A missing `imcType` means `auto`.
    fn default() -> ImcType {
        ImcType::Auto
    }
}

atol_enum! {
    /// Tag 2003 planned status / 2110 assigned status (§4.1), `itemEstimatedStatus`.
    pub enum EstimatedStatus: u8, "itemEstimatedStatus" {
        /// 1, piece item sold.
        PieceSold = 1 => "itemPieceSold",
        /// 2, measured item, being sold (part).
        DryForSale = 2 => "itemDryForSale",
        /// 3, piece item returned.
        PieceReturn = 3 => "itemPieceReturn",
        /// 4, part of a measured item returned.
        DryReturn = 4 => "itemDryReturn",
        /// 5, piece item, being sold (part).
        PieceForSale = 5 => "itemPieceForSale",
        /// 6, measured item sold.
        DrySold = 6 => "itemDrySold",
        /// 255, status unchanged.
        StatusUnchanged = 255 => "itemStatusUnchanged",
    }
}

impl EstimatedStatus {
    /// A return status (3 or 4).
    pub fn is_return(self) -> bool {
        matches!(self, EstimatedStatus::PieceReturn | EstimatedStatus::DryReturn)
    }

    /// Quantity and unit go into the check request only with these (2 and 4, §4.1).
    pub fn carries_quantity(self) -> bool {
        matches!(self, EstimatedStatus::DryForSale | EstimatedStatus::DryReturn)
    }
}

atol_enum! {
    /// Tag 2108, measure of quantity (§4.9), `measurementUnit` / `itemUnits`.
    pub enum MeasurementUnit: u8, "measurementUnit" {
        Piece = 0 => "piece",
        Gram = 10 => "gram",
        Kilogram = 11 => "kilogram",
        Ton = 12 => "ton",
        Centimeter = 20 => "centimeter",
        Decimeter = 21 => "decimeter",
        Meter = 22 => "meter",
        SquareCentimeter = 30 => "squareCentimeter",
        SquareDecimeter = 31 => "squareDecimeter",
        SquareMeter = 32 => "squareMeter",
        Milliliter = 40 => "milliliter",
        Liter = 41 => "liter",
        CubicMeter = 42 => "cubicMeter",
        KilowattHour = 50 => "kilowattHour",
        Gkal = 51 => "gkal",
        Day = 70 => "day",
        Hour = 71 => "hour",
        Minute = 72 => "minute",
        Second = 73 => "second",
        Kilobyte = 80 => "kilobyte",
        Megabyte = 81 => "megabyte",
        Gigabyte = 82 => "gigabyte",
        Terabyte = 83 => "terabyte",
        OtherUnits = 255 => "otherUnits",
    }
}

atol_enum! {
    /// Tag 1214, payment method, `paymentMethod`.
    pub enum PaymentMethod: u8, "paymentMethod" {
        FullPrepayment = 1 => "fullPrepayment",
        Prepayment = 2 => "prepayment",
        Advance = 3 => "advance",
        FullPayment = 4 => "fullPayment",
        PartialPayment = 5 => "partialPayment",
        Credit = 6 => "credit",
        CreditPayment = 7 => "creditPayment",
    }
}

atol_enum! {
    /// Tag 1212, subject of payment (§4.14), `paymentObject`.
    pub enum PaymentObject: u8, "paymentObject" {
        Commodity = 1 => "commodity",
        Excise = 2 => "excise",
        Job = 3 => "job",
        Service = 4 => "service",
        GamblingBet = 5 => "gamblingBet",
        GamblingPrize = 6 => "gamblingPrize",
        Lottery = 7 => "lottery",
        LotteryPrize = 8 => "lotteryPrize",
        IntellectualActivity = 9 => "intellectualActivity",
        Payment = 10 => "payment",
        AgentCommission = 11 => "agentCommission",
        /// 12 (`composite` in FFD 1.05 wording, `pay` in 1.2).
        Composite = 12 => "composite" | "pay",
        Another = 13 => "another",
        ProprietaryLaw = 14 => "proprietaryLaw",
        NonOperatingIncome = 15 => "nonOperatingIncome",
        /// 16 (`otherContributions`, `insuranceContributions` in 1.2).
        OtherContributions = 16 => "otherContributions" | "insuranceContributions",
        MerchantTax = 17 => "merchantTax",
        ResortFee = 18 => "resortFee",
        Deposit = 19 => "deposit",
        Consumption = 20 => "consumption",
        SoleProprietorCpiContributions = 21 => "soleProprietorCPIContributions",
        CpiContributions = 22 => "cpiContributions",
        SoleProprietorCmiContributions = 23 => "soleProprietorCMIContributions",
        CmiContributions = 24 => "cmiContributions",
        CsiContributions = 25 => "csiContributions",
        CasinoPayment = 26 => "casinoPayment",
        FundsIssuance = 27 => "fundsIssuance",
        /// 30, excise goods subject to marking, sold without a code.
        ExciseWithoutMarking = 30 => "exciseWithoutMarking",
        /// 31, excise goods with a code.
        ExciseWithMarking = 31 => "exciseWithMarking",
        /// 32, goods subject to marking, without a code.
        CommodityWithoutMarking = 32 => "commodityWithoutMarking",
        /// 33, goods with a code.
        CommodityWithMarking = 33 => "commodityWithMarking",
    }
}

atol_enum! {
    /// Tag 1199, VAT rate, `tax.type`. Codes are the FFD 1.2 values (11/12: the 22 % rates).
    pub enum TaxType: u8, "tax type" {
        Vat20 = 1 => "vat20",
        Vat10 = 2 => "vat10",
        Vat120 = 3 => "vat120",
        Vat110 = 4 => "vat110",
        Vat0 = 5 => "vat0",
        None = 6 => "none",
        Vat5 = 7 => "vat5",
        Vat7 = 8 => "vat7",
        Vat105 = 9 => "vat105",
        Vat107 = 10 => "vat107",
        Vat22 = 11 => "vat22",
        Vat122 = 12 => "vat122",
    }
}

impl TaxType {
    /// The value of tag 1199.
    pub fn ffd_1199(self) -> u8 {
        self.code()
    }
}

atol_enum! {
    /// Tag 1055, taxation system (one bit), `taxationType`.
    pub enum TaxationType: u8, "taxationType" {
        Osn = 1 => "osn",
        UsnIncome = 2 => "usnIncome",
        UsnIncomeOutcome = 4 => "usnIncomeOutcome",
        Envd = 8 => "envd",
        Esn = 16 => "esn",
        Patent = 32 => "patent",
    }
}

impl TaxationType {
    /// The value of tag 1055.
    pub fn ffd_1055(self) -> u8 {
        self.code()
    }
}

atol_enum! {
    /// `payments[].type`: ATOL payment types 0–9 (5–9 are the device's extra types, named by their
    /// digit).
    pub enum PaymentType: u8, "payment type" {
        Cash = 0 => "cash",
        Electronically = 1 => "electronically",
        Prepaid = 2 => "prepaid",
        Credit = 3 => "credit",
        Other = 4 => "other",
        Extra5 = 5 => "5",
        Extra6 = 6 => "6",
        Extra7 = 7 => "7",
        Extra8 = 8 => "8",
        Extra9 = 9 => "9",
    }
}

impl PaymentType {
    /// The receipt tag carrying this payment's sum: 1031 cash, 1081 electronic, 1215 prepayment,
    /// 1216 credit, 1217 other (the extra types count as other).
    pub fn ffd_tag(self) -> u16 {
        match self {
            PaymentType::Cash => 1031,
            PaymentType::Electronically => 1081,
            PaymentType::Prepaid => 1215,
            PaymentType::Credit => 1216,
            _ => 1217,
        }
    }
}

atol_enum! {
    /// The "reason not checked" byte of the ФН check (§4.2), `fmCheckErrorReason`.
    pub enum FmCheckErrorReason: u8, "fmCheckErrorReason" {
        Checked = 0 => "checked",
        TypeIncorrect = 1 => "typeIncorrect",
        NoKeys = 2 => "noKeys",
        NoGs1 = 3 => "noGS1",
        Other = 4 => "other",
    }
}

atol_enum! {
    /// Tag 2109, ОИСМ status answer (§4.10), `markOperatorItemStatus`.
    pub enum MarkOperatorItemStatus: u8, "markOperatorItemStatus" {
        EstimatedStatusCorrect = 1 => "itemEstimatedStatusCorrect",
        EstimatedStatusIncorrect = 2 => "itemEstimatedStatusIncorrect",
        SaleStopped = 3 => "itemSaleStopped",
    }
}

atol_enum! {
    /// Tag 2105, request processing code (§4.6), `markOperatorResponseResult`.
    pub enum MarkOperatorResponseResult: u8, "markOperatorResponseResult" {
        Correct = 0 => "correct",
        Incorrect = 1 => "incorrect",
        Unrecognized = 2 => "unrecognized",
    }
}

atol_enum! {
    /// ФН-М marking check state (§6.2), `fm.status`.
    pub enum FmStatus: u8, "fm.status" {
        Blocked = 0 => "blocked",
        NoImcForCheck = 1 => "noImcForCheck",
        ReceivedImc = 2 => "receivedImc",
        RequestedImcStatus = 3 => "requestedImcStatus",
        ReceivedImcStatus = 4 => "receivedImcStatus",
    }
}

atol_enum! {
    /// Notification store fill level (§6.3), `fm.noticeFreeMemory`.
    pub enum NoticeFreeMemory: u8, "noticeFreeMemory" {
        Less50 = 0 => "less50",
        From50To80 = 1 => "50to80",
        From80To90 = 2 => "80to90",
        More90 = 3 => "more90",
        OutOfMemory = 4 => "outOfMemory",
    }
}

atol_enum! {
    /// State of the KKT's background check, `ecr.status` (codes are this crate's numbering).
    pub enum EcrStatus: u8, "ecr.status" {
        NotExecuted = 0 => "notExecuted",
        Executed = 1 => "executed",
        Completed = 2 => "completed",
        ReceivedResult = 3 => "receivedResult",
    }
}

atol_enum! {
    /// Kind of the KKT's check, `ecr.type` (§10.2).
    pub enum EcrType: u8, "ecr.type" {
        ModeStandAlone = 0 => "modeStandAlone",
        WaitForResult = 1 => "waitForResult",
        NotWaitForResult = 2 => "notWaitForResult",
        NotSendToServer = 3 => "notSendToServer",
    }
}

atol_enum! {
    /// Stage of the KKT's exchange with the ОИСМ, `ecr.stage` (codes are this crate's numbering).
    pub enum EcrStage: u8, "ecr.stage" {
        WaitForTask = 0 => "waitForTask",
        OpenConnection = 1 => "openConnection",
        Send = 2 => "send",
        WaitForResult = 3 => "waitForResult",
        GetResult = 4 => "getResult",
        DecodeResult = 5 => "decodeResult",
        Completed = 6 => "completed",
        WaitForRepeat = 7 => "waitForRepeat",
    }
}

atol_enum! {
    /// Shift state, `shiftStatus.state` / `deviceStatus.shift`.
    pub enum ShiftState: u8, "shift state" {
        Closed = 0 => "closed",
        Opened = 1 => "opened",
        /// Open for more than 24 h.
        Expired = 2 => "expired",
    }
}

// ---------------------------------------------------------------------------------------------------
// Task parameters
// ---------------------------------------------------------------------------------------------------

/// `beginMarkingCodeValidation` (and each mark of `validateMarks`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationParams {
    /// `auto` when absent.
    #[serde(default, deserialize_with = "null_default")]
    pub imc_type: ImcType,
    /// Base64 of the raw КМ bytes (see [`decode_imc`]).
    pub imc: String,
    pub item_estimated_status: EstimatedStatus,
    /// Tag 2102; 0 when absent (anything else → 409, decided by the device).
    #[serde(default, deserialize_with = "null_default")]
    pub imc_mode_processing: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_quantity: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_units: Option<MeasurementUnit>,
    /// `"n/m"` (see [`Fraction::parse`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_fractional_amount: Option<String>,
    /// Local (ФН) check only.
    #[serde(default, deserialize_with = "null_default")]
    pub not_send_to_server: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub not_form_request: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for_result: Option<bool>,
}

/// `imcParams` of a receipt position (§10.4), and each mark of `addMarksToBuffer`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImcParams {
    #[serde(default, deserialize_with = "null_default")]
    pub imc_type: ImcType,
    pub imc: String,
    pub item_estimated_status: EstimatedStatus,
    #[serde(default, deserialize_with = "null_default")]
    pub imc_mode_processing: u8,
    /// Tag 2106 as the POS copied it from the check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_info_check_result: Option<ItemInfoCheckResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_fractional_amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_quantity: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_units: Option<MeasurementUnit>,
}

/// `validateMarks` / `beginMarkingCodesValidation`: markcert shape `params.marks[]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MarksParams {
    pub marks: Vec<ValidationParams>,
}

/// `addMarksToBuffer`: codes already checked, `params.marks[]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BufferParams {
    pub marks: Vec<ImcParams>,
}

/// `markcertFnAuthenticate` (`tspiot.md` §9.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FnAuthParams {
    /// Base64 challenge from the True API.
    pub challenge: String,
}

/// The cashier (tags 1021/1203).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vatin: Option<String>,
}

/// `openShift`, `closeShift`, `reportX`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShiftParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Operator>,
    #[serde(default, deserialize_with = "null_default")]
    pub electronically: bool,
}

/// `sell` / `sellReturn` (§10.3, §10.4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// Tag 1055.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taxation_type: Option<TaxationType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Operator>,
    /// Let the KKT check codes it has not seen (§10.4, `kkt.implicit_validation`).
    #[serde(default, deserialize_with = "null_default")]
    pub validate_marking_codes: bool,
    /// Electronic receipt (no paper).
    #[serde(default, deserialize_with = "null_default")]
    pub electronically: bool,
    pub items: Vec<Item>,
    #[serde(default, deserialize_with = "null_default")]
    pub payments: Vec<Payment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
    /// Receipt-level 1261.
    #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub industry_info: Vec<IndustryInfo>,
}

impl Receipt {
    /// The `position` items, in order.
    pub fn positions(&self) -> impl Iterator<Item = &Position> {
        self.items.iter().filter_map(|i| match i {
            Item::Position(p) => Some(p.as_ref()),
            Item::Other(_) => None,
        })
    }
}

/// One entry of `items`: a `position` (the only kind the KKT interprets), or anything else kept
/// as it came (`text`, `barcode`, `pixels`, …). An item without `type` is read as a position.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Position(Box<Position>),
    Other(Value),
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Item, D::Error> {
        let v = Value::deserialize(d)?;
        let is_position = match v.get("type") {
            None | Some(Value::Null) => v.is_object(),
            Some(t) => t.as_str() == Some("position"),
        };
        if is_position {
            Position::deserialize(&v).map(|p| Item::Position(Box::new(p))).map_err(de::Error::custom)
        } else {
            Ok(Item::Other(v))
        }
    }
}

impl Serialize for Item {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "camelCase")]
        enum Tagged<'a> {
            Position(&'a Position),
        }
        match self {
            Item::Position(p) => Tagged::Position(p).serialize(s),
            Item::Other(v) => v.serialize(s),
        }
    }
}

/// A receipt position (item 1059).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Position {
    /// 1030.
    pub name: String,
    /// 1079, roubles.
    pub price: f64,
    /// 1023.
    pub quantity: f64,
    /// 1043, roubles.
    pub amount: f64,
    /// 2108 (names of §4.9 or integer codes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement_unit: Option<MeasurementUnit>,
    /// 1214.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<PaymentMethod>,
    /// 1212.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_object: Option<PaymentObject>,
    /// 1199.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax: Option<Tax>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imc_params: Option<ImcParams>,
    /// 1260 (one object or a list).
    #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub industry_info: Vec<IndustryInfo>,
    /// 1163 for unmarked goods: JSON key (`ean13`, `gs1m`, …) → value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_codes: Option<BTreeMap<String, String>>,
    /// 1191.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_attribute: Option<String>,
}

/// `tax` of a position.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tax {
    #[serde(rename = "type")]
    pub kind: TaxType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
}

/// One payment of a receipt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    #[serde(rename = "type")]
    pub kind: PaymentType,
    pub sum: f64,
}

/// An industry requisite, 1260 on a position or 1261 on a receipt (§4.16).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndustryInfo {
    /// 1262, `030`.
    pub fois: String,
    /// 1263 as ATOL writes it, `yyyy.MM.dd` (the KKT converts it to `DD.MM.YYYY`).
    pub date: String,
    /// 1264.
    pub number: String,
    /// 1265, `UUID=…&Time=…[&Inst=…&Ver=…]`.
    pub industry_attribute: String,
}

/// `"n/m"` of `itemFractionalAmount` (tags 1291–1294).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fraction {
    pub numerator: u64,
    pub denominator: u64,
}

impl Fraction {
    /// `^[1-9][0-9]*/[1-9][0-9]*$`, else `None`. Does not check n < m (that is a 409 the device gives).
    pub fn parse(s: &str) -> Option<Fraction> {
        let (n, m) = s.split_once('/')?;
        let num = |t: &str| -> Option<u64> {
            let first = t.chars().next()?;
            if first == '0' || !t.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            t.parse().ok()
        };
        Some(Fraction { numerator: num(n)?, denominator: num(m)? })
    }
}

/// The raw КМ bytes of an `imc` (standard base64, padding optional); 405 when it is not base64 or is
/// empty.
pub fn decode_imc(imc: &str) -> Result<Vec<u8>, AtolError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let bytes = b64
        .decode(imc)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(imc))
        .map_err(|_| AtolError::invalid_gs1().with_description("imc is not base64"))?;
    if bytes.is_empty() {
        return Err(AtolError::invalid_gs1().with_description("imc is empty"));
    }
    Ok(bytes)
}

// ---------------------------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------------------------

/// One JSON task of a request (§10.2 and the supporting fiscal tasks).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Task {
    BeginMarkingCodeValidation(ValidationParams),
    GetMarkingCodeValidationStatus,
    AcceptMarkingCode,
    DeclineMarkingCode,
    CancelMarkingCodeValidation,
    ClearMarkingCodeValidationResult,
    CheckMarkingCodeValidationsReady,
    /// Driver-side batch check; also read from `beginMarkingCodesValidation`.
    #[serde(alias = "beginMarkingCodesValidation")]
    ValidateMarks(MarksParams),
    AddMarksToBuffer(BufferParams),
    CheckImcWorkState,
    PingIsm,
    IsmExchangeStatus,
    OfdExchangeStatus,
    UpdateFnmKeys,
    /// markcert extension (`tspiot.md` §9.4).
    MarkcertFnAuthenticate(FnAuthParams),
    OpenShift(ShiftParams),
    CloseShift(ShiftParams),
    Sell(Receipt),
    SellReturn(Receipt),
    GetShiftStatus,
    GetDeviceStatus,
    GetDeviceInfo,
    GetFnInfo,
    ReportX(ShiftParams),
}

/// Every `type` [`Task::from_json`] knows.
pub const TASK_TYPES: &[&str] = &[
    "beginMarkingCodeValidation",
    "getMarkingCodeValidationStatus",
    "acceptMarkingCode",
    "declineMarkingCode",
    "cancelMarkingCodeValidation",
    "clearMarkingCodeValidationResult",
    "checkMarkingCodeValidationsReady",
    "validateMarks",
    "beginMarkingCodesValidation",
    "addMarksToBuffer",
    "checkImcWorkState",
    "pingIsm",
    "ismExchangeStatus",
    "ofdExchangeStatus",
    "updateFnmKeys",
    "markcertFnAuthenticate",
    "openShift",
    "closeShift",
    "sell",
    "sellReturn",
    "getShiftStatus",
    "getDeviceStatus",
    "getDeviceInfo",
    "getFnInfo",
    "reportX",
];

/// Task types whose `params` may be the list of marks itself.
const MARK_LIST_TASKS: &[&str] = &["validateMarks", "beginMarkingCodesValidation", "addMarksToBuffer"];

/// Longest excerpt of a client's value quoted in an error description.
const QUOTE_MAX: usize = 64;

impl Task {
    /// Read one task of a request. Never panics. When the task cannot be read, the error says why,
    /// by this convention:
    ///
    /// | Problem | Code |
    /// |---|---|
    /// | not a JSON object | 501 (JSON task parse error) |
    /// | no `type` | 8 (required parameter missing) |
    /// | `type` not a string | 13 (invalid parameter) |
    /// | unknown `type` | 11 (not supported) |
    /// | unknown `itemEstimatedStatus` | 404 |
    /// | unknown `imcType`, `imcModeProcessing` not 0–255 | 409 |
    /// | unknown `measurementUnit` / `itemUnits` | 412 |
    /// | another required field missing | 8 |
    /// | any other wrong value or type | 13 |
    ///
    /// The coded fields are looked for on the task (after merging `params`), on each mark and on each
    /// item and its `imcParams`.
    pub fn from_json(task: &Value) -> Result<Task, AtolError> {
        let Value::Object(obj) = task else {
            return Err(AtolError::task_parse_error("a task must be a JSON object"));
        };
        let ty = match obj.get("type") {
            None | Some(Value::Null) => return Err(AtolError::missing_param("the task has no type")),
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(AtolError::invalid_param(format!(
                    "task type must be a string, not {}",
                    quote(other)
                )))
            }
        };
        if !TASK_TYPES.contains(&ty) {
            return Err(AtolError::not_supported(format!("unsupported task type {:?}", short(ty))));
        }
        let merged = Value::Object(merge_params(obj, ty)?);
        Task::deserialize(&merged).map_err(|e| diagnose(&merged, &e))
    }

    /// The task's `type` as ATOL spells it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Task::BeginMarkingCodeValidation(_) => "beginMarkingCodeValidation",
            Task::GetMarkingCodeValidationStatus => "getMarkingCodeValidationStatus",
            Task::AcceptMarkingCode => "acceptMarkingCode",
            Task::DeclineMarkingCode => "declineMarkingCode",
            Task::CancelMarkingCodeValidation => "cancelMarkingCodeValidation",
            Task::ClearMarkingCodeValidationResult => "clearMarkingCodeValidationResult",
            Task::CheckMarkingCodeValidationsReady => "checkMarkingCodeValidationsReady",
            Task::ValidateMarks(_) => "validateMarks",
            Task::AddMarksToBuffer(_) => "addMarksToBuffer",
            Task::CheckImcWorkState => "checkImcWorkState",
            Task::PingIsm => "pingIsm",
            Task::IsmExchangeStatus => "ismExchangeStatus",
            Task::OfdExchangeStatus => "ofdExchangeStatus",
            Task::UpdateFnmKeys => "updateFnmKeys",
            Task::MarkcertFnAuthenticate(_) => "markcertFnAuthenticate",
            Task::OpenShift(_) => "openShift",
            Task::CloseShift(_) => "closeShift",
            Task::Sell(_) => "sell",
            Task::SellReturn(_) => "sellReturn",
            Task::GetShiftStatus => "getShiftStatus",
            Task::GetDeviceStatus => "getDeviceStatus",
            Task::GetDeviceInfo => "getDeviceInfo",
            Task::GetFnInfo => "getFnInfo",
            Task::ReportX(_) => "reportX",
        }
    }

    /// The `imc` strings (base64) the task carries: the checked code, the marks, the positions' codes.
    pub fn imcs(&self) -> Vec<&str> {
        match self {
            Task::BeginMarkingCodeValidation(p) => vec![p.imc.as_str()],
            Task::ValidateMarks(m) => m.marks.iter().map(|p| p.imc.as_str()).collect(),
            Task::AddMarksToBuffer(m) => m.marks.iter().map(|p| p.imc.as_str()).collect(),
            Task::Sell(r) | Task::SellReturn(r) => {
                r.positions().filter_map(|p| p.imc_params.as_ref()).map(|i| i.imc.as_str()).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// The task object with the fields of `params` added where the top level lacks them.
fn merge_params(obj: &Map<String, Value>, ty: &str) -> Result<Map<String, Value>, AtolError> {
    let mut merged = obj.clone();
    let fill = |merged: &mut Map<String, Value>, params: Map<String, Value>| {
        for (k, v) in params {
            if k != "type" {
                merged.entry(k).or_insert(v);
            }
        }
    };
    match merged.remove("params") {
        None | Some(Value::Null) => {}
        Some(Value::Object(p)) => fill(&mut merged, p),
        Some(Value::Array(list)) if MARK_LIST_TASKS.contains(&ty) => {
            merged.entry("marks").or_insert(Value::Array(list));
        }
        Some(Value::Array(mut list)) if list.len() == 1 && list[0].is_object() => {
            if let Some(Value::Object(p)) = list.pop() {
                fill(&mut merged, p);
            }
        }
        Some(other) => {
            return Err(AtolError::invalid_param(format!("params must be an object, not {}", quote(&other))))
        }
    }
    Ok(merged)
}

/// Why a known task type did not deserialize, as a driver error (see [`Task::from_json`]).
fn diagnose(task: &Value, err: &serde_json::Error) -> AtolError {
    let mut objects: Vec<&Map<String, Value>> = Vec::new();
    if let Value::Object(o) = task {
        objects.push(o);
        for list in ["marks", "items"] {
            for el in o.get(list).and_then(Value::as_array).into_iter().flatten() {
                if let Value::Object(e) = el {
                    objects.push(e);
                    if let Some(Value::Object(imc)) = e.get("imcParams") {
                        objects.push(imc);
                    }
                }
            }
        }
    }
    if let Some(e) = objects.into_iter().find_map(coded_field_error) {
        return e;
    }
    let msg = short(&err.to_string()).to_string();
    if msg.starts_with("missing field") {
        AtolError::missing_param(msg)
    } else {
        AtolError::invalid_param(msg)
    }
}

/// The specific driver error for a bad coded field of `o`, if any.
fn coded_field_error(o: &Map<String, Value>) -> Option<AtolError> {
    let present = |k: &str| o.get(k).filter(|v| !v.is_null());
    if let Some(v) = present("itemEstimatedStatus") {
        if EstimatedStatus::from_json(v).is_none() {
            return Some(
                AtolError::invalid_mark_status()
                    .with_description(format!("unknown itemEstimatedStatus {}", quote(v))),
            );
        }
    }
    if let Some(v) = present("imcType") {
        if ImcType::from_json(v).is_none() {
            return Some(
                AtolError::invalid_marking_code().with_description(format!("unknown imcType {}", quote(v))),
            );
        }
    }
    if let Some(v) = present("imcModeProcessing") {
        if v.as_u64().is_none_or(|n| n > 255) {
            return Some(
                AtolError::invalid_marking_code()
                    .with_description(format!("invalid imcModeProcessing {}", quote(v))),
            );
        }
    }
    for key in ["measurementUnit", "itemUnits"] {
        if let Some(v) = present(key) {
            if MeasurementUnit::from_json(v).is_none() {
                return Some(
                    AtolError::invalid_measurement_unit()
                        .with_description(format!("unknown {key} {}", quote(v))),
                );
            }
        }
    }
    None
}

/// `s` cut to [`QUOTE_MAX`] characters.
fn short(s: &str) -> &str {
    match s.char_indices().nth(QUOTE_MAX) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// A client's JSON value for an error description, cut short.
fn quote(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(QUOTE_MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// `null` (or absent, with `#[serde(default)]`) reads as the default.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One object, a list of them, or `null`.
fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(T),
    }
    Ok(match Option::<OneOrMany<T>>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::Many(v)) => v,
        Some(OneOrMany::One(t)) => vec![t],
    })
}

// ---------------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------------

/// The task result as JSON, for a [`TaskRunner`](super::queue::TaskRunner) to return.
pub fn result_json<T: Serialize>(result: &T) -> Result<Value, AtolError> {
    serde_json::to_value(result).map_err(|e| AtolError::internal(format!("result not serialisable: {e}")))
}

/// Tag 2106 as ATOL's five flags (§4.7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemInfoCheckResult {
    /// Bit 0: checked by the ФН and/or ОИСМ.
    pub imc_check_flag: bool,
    /// Bit 1: the КП check was positive.
    pub imc_check_result: bool,
    /// Bit 2: an ОИСМ status answer was received.
    pub imc_status_info: bool,
    /// Bit 3: the ОИСМ says the planned status is correct.
    pub imc_estimated_status_correct: bool,
    /// Bit 4: formed by an autonomous KKT.
    pub ecr_stand_alone_flag: bool,
}

impl ItemInfoCheckResult {
    /// The flags of a 2106 value (bits 5–7 ignored).
    pub fn from_2106(value: u8) -> ItemInfoCheckResult {
        let bit = |n: u8| value & (1 << n) != 0;
        ItemInfoCheckResult {
            imc_check_flag: bit(0),
            imc_check_result: bit(1),
            imc_status_info: bit(2),
            imc_estimated_status_correct: bit(3),
            ecr_stand_alone_flag: bit(4),
        }
    }

    /// The 2106 value.
    pub fn to_2106(self) -> u8 {
        u8::from(self.imc_check_flag)
            | u8::from(self.imc_check_result) << 1
            | u8::from(self.imc_status_info) << 2
            | u8::from(self.imc_estimated_status_correct) << 3
            | u8::from(self.ecr_stand_alone_flag) << 4
    }
}

/// Result of `beginMarkingCodeValidation`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BeginValidationResult {
    pub offline_validation: OfflineValidation,
}

/// The ФН's local check (2004 and the reason byte, §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OfflineValidation {
    /// 2004 bit 0.
    pub fm_check: bool,
    /// 2004 bit 1.
    pub fm_check_result: bool,
    pub fm_check_error_reason: FmCheckErrorReason,
}

/// Result of `getMarkingCodeValidationStatus`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationStatus {
    pub ready: bool,
    pub sent_imc_request: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_error: Option<DriverError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_validation: Option<OnlineValidation>,
}

/// The outcome of the check with the ОИСМ (answer 83 and 2106).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineValidation {
    pub item_info_check_result: ItemInfoCheckResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_operator_response: Option<MarkOperatorResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_operator_item_status: Option<MarkOperatorItemStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_operator_response_result: Option<MarkOperatorResponseResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imc_type: Option<ImcType>,
    /// The КМ without its crypto tail, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imc_barcode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imc_mode_processing: Option<u8>,
}

/// Tag 2005 bits 1 and 3 (§4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkOperatorResponse {
    /// Bit 1: КП checked positively by the ОИСМ.
    pub response_status: bool,
    /// Bit 3: status correct.
    pub item_status_check: bool,
}

impl MarkOperatorResponse {
    /// The flags of a 2005 value.
    pub fn from_2005(value: u8) -> MarkOperatorResponse {
        MarkOperatorResponse { response_status: value & 0b10 != 0, item_status_check: value & 0b1000 != 0 }
    }
}

/// Result of `acceptMarkingCode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptResult {
    pub item_info_check_result: ItemInfoCheckResult,
}

/// Result of `checkMarkingCodeValidationsReady`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationsReady {
    pub validation_ready: bool,
}

/// Result of `validateMarks` (markcert shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidateMarksResult {
    pub marks: Vec<ValidatedMark>,
}

/// One code of a batch check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidatedMark {
    /// The `imc` as sent.
    pub imc: String,
    pub item_info_check_result: ItemInfoCheckResult,
    /// Auto-accepted (2106 bits 0–3 set).
    pub accepted: bool,
}

/// Result of `checkImcWorkState`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImcWorkState {
    pub fm: FmState,
    pub ecr: EcrState,
}

/// The ФН-М side of [`ImcWorkState`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FmState {
    pub status: FmStatus,
    /// Codes in the table of checked codes.
    pub checking_count: u32,
    pub sold_imc_count: u32,
    /// A notification is being formed.
    pub notice_is_begin: bool,
    pub notice_free_memory: NoticeFreeMemory,
    /// Notifications stored, not yet acknowledged.
    pub notice_count: u32,
}

/// The KKT side of [`ImcWorkState`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcrState {
    pub status: EcrStatus,
    #[serde(rename = "type")]
    pub kind: EcrType,
    pub stage: EcrStage,
}

/// Result of `pingIsm` (markcert shape).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PingIsm {
    pub ism_connected: bool,
    pub time_ms: u64,
}

/// Result of `ismExchangeStatus` / `ofdExchangeStatus` (markcert shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeStatus {
    /// Documents (notifications) not yet sent.
    pub queue_count: u32,
    /// Number of the first unsent one (0 when none).
    pub first_number: u32,
    /// When the first unsent one was formed; absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_date_time: Option<String>,
}

/// Result of `markcertFnAuthenticate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FnAuthResult {
    pub fn_serial: String,
    /// Base64.
    pub mac: String,
    /// `HMAC-SHA256`.
    pub alg: String,
}

/// Result of `getShiftStatus` and `queryShiftStatus`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShiftStatusResult {
    pub shift_status: ShiftStatus,
}

/// `shiftStatus`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShiftStatus {
    pub state: ShiftState,
    /// Number of the current (or last) shift.
    pub number: u32,
    /// Documents in the shift.
    pub documents_count: u32,
    /// When the open shift expires (24 h after opening); absent when closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_time: Option<String>,
}

/// Result of `getDeviceStatus`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceStatusResult {
    pub device_status: DeviceStatus,
}

/// `deviceStatus`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceStatus {
    pub current_date_time: String,
    pub shift: ShiftState,
    pub blocked: bool,
    pub cover_opened: bool,
    pub paper_present: bool,
    pub fiscal: bool,
    pub fn_fiscal: bool,
    pub fn_present: bool,
    pub cash_drawer_opened: bool,
}

/// Result of `getDeviceInfo` and `queryDeviceInfo`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfoResult {
    pub device_info: DeviceInfo,
}

/// `deviceInfo`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    /// Model number (ATOL numbering).
    pub model: u16,
    pub model_name: String,
    pub serial: String,
    pub firmware_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration_version: Option<String>,
    pub receipt_line_length: u16,
    /// `"1.2"`.
    pub ffd_version: String,
    pub fn_ffd_version: String,
}

/// Result of `getFnInfo`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FnInfoResult {
    pub fn_info: FnInfo,
}

/// `fnInfo`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FnInfo {
    pub serial: String,
    pub ffd_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fn_ffd_version: Option<String>,
    /// Firmware version of the ФН.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `fiscalMode`, `postFiscalMode`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_registrations: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registrations_remaining: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<FnWarnings>,
}

/// `fnInfo.warnings`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FnWarnings {
    pub memory_overflow: bool,
    pub need_replacement: bool,
    pub ofd_timeout: bool,
    pub resource_exhausted: bool,
    pub critical_error: bool,
}

/// Result of `sell` / `sellReturn`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SellResult {
    pub fiscal_params: ReceiptFiscalParams,
    /// Free-form warnings (ATOL puts an object here, e.g. `{"notPrinted":true}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Value>,
}

/// `fiscalParams` of a receipt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptFiscalParams {
    pub fiscal_document_number: u32,
    /// Fiscal sign as decimal digits.
    pub fiscal_document_sign: String,
    pub fn_number: String,
    pub registration_number: String,
    pub fiscal_receipt_number: u32,
    pub shift_number: u32,
    /// Roubles.
    pub receipt_sum: f64,
    pub fiscal_document_date_time: String,
    pub fns_url: String,
}

/// Result of `openShift`, `closeShift`, `reportX` (no fiscal document for the last).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShiftDocumentResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fiscal_params: Option<DocumentFiscalParams>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Value>,
}

/// `fiscalParams` of a shift document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentFiscalParams {
    pub fiscal_document_number: u32,
    pub fiscal_document_sign: String,
    pub fn_number: String,
    pub registration_number: String,
    pub shift_number: u32,
    pub fiscal_document_date_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipts_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fns_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kkt::atol::error::DriverErrorName;
    use serde_json::json;

    const KEFIR_IMC: &str = "MDEwNDYxMjM0NTAwMDQzODIxNWFaO3EwHTkzSm00dA==";

    fn parse(v: Value) -> Task {
        Task::from_json(&v).unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    fn err(v: Value) -> AtolError {
        Task::from_json(&v).expect_err("must not parse")
    }

    /// §10.3 "Start a check", exactly as written.
    #[test]
    fn begin_example_of_the_spec() {
        let body: Value = serde_json::from_str(
            r#"{"uuid":"1b7e2f44-5c0a-4f7e-8d1e-0a9c3b6d2e11","request":[
  {"type":"beginMarkingCodeValidation",
   "params":{"imcType":"auto","imc":"MDEwNDYxMjM0NTAwMDQzODIxNWFaO3EwHTkzSm00dA==",
             "itemEstimatedStatus":"itemPieceSold","imcModeProcessing":0}}]}"#,
        )
        .unwrap();
        let Task::BeginMarkingCodeValidation(p) = parse(body["request"][0].clone()) else { panic!() };
        assert_eq!(p.imc_type, ImcType::Auto);
        assert_eq!(p.item_estimated_status, EstimatedStatus::PieceSold);
        assert_eq!(p.imc_mode_processing, 0);
        assert_eq!(decode_imc(&p.imc).unwrap(), b"0104612345000438215aZ;q0\x1d93Jm4t");
        assert!(!p.not_send_to_server && p.item_quantity.is_none());
    }

    /// §10.3 sale, top-level fields as real ATOL sends them.
    #[test]
    fn sell_example_of_the_spec() {
        let task: Value = serde_json::from_str(
            r#"{"type":"sell","taxationType":"osn",
 "operator":{"name":"Кассир 1","vatin":"770100001273"},
 "validateMarkingCodes":true,
 "items":[{
   "type":"position","name":"Кефир 2,5% 900 г","price":94.90,"quantity":1,"amount":94.90,
   "measurementUnit":"piece","paymentMethod":"fullPayment","paymentObject":"commodityWithMarking",
   "tax":{"type":"vat10"},
   "imcParams":{"imcType":"auto","imc":"MDEwNDYxMjM0NTAwMDQzODIxNWFaO3EwHTkzSm00dA==",
                "itemEstimatedStatus":"itemPieceSold","imcModeProcessing":0,
                "itemInfoCheckResult":{"imcCheckFlag":true,"imcCheckResult":true,"imcStatusInfo":true,
                                       "imcEstimatedStatusCorrect":true,"ecrStandAloneFlag":false}},
   "industryInfo":[{"fois":"030","date":"2023.11.21","number":"1944",
                    "industryAttribute":"UUID=a70a9fd2-2f2d-4846-babf-cd0492f6e047&Time=1767225600123"}]}],
 "payments":[{"type":"cash","sum":94.90}],
 "total":94.90}"#,
        )
        .unwrap();
        let Task::Sell(r) = parse(task) else { panic!() };
        assert_eq!(r.taxation_type, Some(TaxationType::Osn));
        assert_eq!(r.operator.as_ref().unwrap().vatin.as_deref(), Some("770100001273"));
        assert!(r.validate_marking_codes);
        let p = r.positions().next().unwrap();
        assert_eq!(p.name, "Кефир 2,5% 900 г");
        assert_eq!((p.price, p.quantity, p.amount), (94.90, 1.0, 94.90));
        assert_eq!(p.measurement_unit.map(MeasurementUnit::code), Some(0));
        assert_eq!(p.payment_method.map(PaymentMethod::code), Some(4));
        assert_eq!(p.payment_object.map(PaymentObject::code), Some(33));
        assert_eq!(p.tax.as_ref().unwrap().kind.ffd_1199(), 2);
        let imc = p.imc_params.as_ref().unwrap();
        assert_eq!(imc.imc, KEFIR_IMC);
        assert_eq!(imc.item_info_check_result.unwrap().to_2106(), 15);
        assert_eq!(
            p.industry_info[0],
            IndustryInfo {
                fois: "030".into(),
                date: "2023.11.21".into(),
                number: "1944".into(),
                industry_attribute: "UUID=a70a9fd2-2f2d-4846-babf-cd0492f6e047&Time=1767225600123".into(),
            }
        );
        assert_eq!(r.payments[0].kind.ffd_tag(), 1031);
        assert_eq!(r.total, Some(94.90));
    }

    /// `tspiot.md` §9.4.
    #[test]
    fn fn_authenticate_example_of_the_spec() {
        let t = parse(
            json!({"type":"markcertFnAuthenticate","params":{"challenge":"OLTmUuRNp/I3DZ4mDicTZVCko6bQf1wMMy+LEiQIP9I="}}),
        );
        assert_eq!(
            t,
            Task::MarkcertFnAuthenticate(FnAuthParams {
                challenge: "OLTmUuRNp/I3DZ4mDicTZVCko6bQf1wMMy+LEiQIP9I=".into()
            })
        );
    }

    #[test]
    fn params_or_top_level_and_top_level_wins() {
        let a = parse(json!({"type":"beginMarkingCodeValidation","imc":KEFIR_IMC,"itemEstimatedStatus":1}));
        let b = parse(json!({"type":"beginMarkingCodeValidation",
            "params":[{"imc":KEFIR_IMC,"itemEstimatedStatus":"itemPieceSold","imcType":255}]}));
        assert_eq!(a, b);
        let c = parse(
            json!({"type":"sell","items":[],"params":{"taxationType":"usnIncome"},"taxationType":"osn"}),
        );
        let Task::Sell(r) = c else { panic!() };
        assert_eq!(r.taxation_type, Some(TaxationType::Osn));
        // The params' own "type" never overrides the task's.
        assert_eq!(parse(json!({"type":"pingIsm","params":{"type":"sell"}})), Task::PingIsm);
    }

    #[test]
    fn unit_tasks_ignore_extra_fields_and_aliases_are_read() {
        assert_eq!(parse(json!({"type":"acceptMarkingCode","whatever":[1,2]})), Task::AcceptMarkingCode);
        let t = parse(
            json!({"type":"beginMarkingCodesValidation","params":[{"imc":"QQ==","itemEstimatedStatus":3}]}),
        );
        assert_eq!(t.type_name(), "validateMarks");
        assert_eq!(t.imcs(), vec!["QQ=="]);
        for ty in TASK_TYPES {
            // Every known type parses with enough fields, and reports a type name (the alias maps to
            // its canonical name).
            let t = Task::from_json(&json!({"type":ty,"imc":"QQ==","itemEstimatedStatus":1,"marks":[],
                "items":[],"challenge":"x"}))
            .unwrap();
            assert!(TASK_TYPES.contains(&t.type_name()));
        }
    }

    #[test]
    fn items_other_than_positions_are_kept() {
        let Task::SellReturn(r) = parse(json!({"type":"sellReturn","items":[
            {"type":"text","text":"hello"},
            {"name":"x","price":1,"quantity":1,"amount":1,"measurementUnit":41,"paymentObject":31,
             "industryInfo":{"fois":"030","date":"2023.11.21","number":"1944","industryAttribute":"a"}}],
            "payments":[{"type":5,"sum":1}],"industryInfo":null}))
        else {
            panic!()
        };
        assert_eq!(r.items[0], Item::Other(json!({"type":"text","text":"hello"})));
        let p = r.positions().next().unwrap();
        assert_eq!(p.measurement_unit, Some(MeasurementUnit::Liter));
        assert_eq!(p.payment_object, Some(PaymentObject::ExciseWithMarking));
        assert_eq!(p.industry_info.len(), 1);
        assert_eq!(r.payments[0].kind, PaymentType::Extra5);
        // Round trip through serialisation.
        let again = Task::from_json(&serde_json::to_value(Task::SellReturn(r.clone())).unwrap()).unwrap();
        assert_eq!(again, Task::SellReturn(r));
    }

    #[test]
    fn error_convention() {
        assert_eq!(err(json!([1])).code, 501);
        assert_eq!(err(json!({"params":{}})).code, 8);
        assert_eq!(err(json!({"type":7})).code, 13);
        assert_eq!(err(json!({"type":"printFish"})).code, 11);
        assert_eq!(
            err(json!({"type":"beginMarkingCodeValidation","itemEstimatedStatus":"sold","imc":"QQ=="})).code,
            404
        );
        assert_eq!(err(json!({"type":"beginMarkingCodeValidation","itemEstimatedStatus":1,"imc":"QQ==","imcType":"x"})).code, 409);
        assert_eq!(
            err(json!({"type":"beginMarkingCodeValidation","itemEstimatedStatus":1,"imc":"QQ==","imcModeProcessing":-1}))
                .code,
            409
        );
        assert_eq!(
            err(json!({"type":"beginMarkingCodeValidation","itemEstimatedStatus":2,"imc":"QQ==","itemUnits":"bucket"}))
                .code,
            412
        );
        assert_eq!(err(json!({"type":"beginMarkingCodeValidation","itemEstimatedStatus":1})).code, 8);
        assert_eq!(
            err(json!({"type":"sell","items":[{"name":"x","price":1,"quantity":1,"amount":1,
            "measurementUnit":"bucket"}]}))
            .code,
            412
        );
        assert_eq!(
            err(json!({"type":"sell","items":[{"name":"x","price":1,"quantity":1,"amount":1,
            "imcParams":{"imc":"QQ==","itemEstimatedStatus":77}}]}))
            .code,
            404
        );
        assert_eq!(
            err(json!({"type":"sell","items":[{"name":"x","price":"1","quantity":1,"amount":1}]})).code,
            13
        );
        assert_eq!(err(json!({"type":"sell"})).code, 8);
        assert_eq!(err(json!({"type":"markcertFnAuthenticate","params":"x"})).code, 13);
        let long = "x".repeat(10_000);
        assert!(err(json!({"type":long})).description.chars().count() < 120);
    }

    #[test]
    fn coded_values_by_name_and_code() {
        assert_eq!(ImcType::from_json(&json!(256)), Some(ImcType::Auto));
        assert_eq!(ImcType::from_json(&json!("imcVerifyCode4")).and_then(ImcType::ffd_2100), Some(5));
        assert_eq!(ImcType::from_2100(2), Some(ImcType::FmVerifyCode88));
        assert_eq!(ImcType::from_2100(6), None);
        assert_eq!(ImcType::Auto.ffd_2100(), None);
        for u in MeasurementUnit::ALL {
            assert_eq!(MeasurementUnit::from_code(u64::from(u.code())), Some(*u));
            assert_eq!(MeasurementUnit::from_name(u.name()), Some(*u));
        }
        assert_eq!(PaymentObject::from_name("pay"), Some(PaymentObject::Composite));
        assert_eq!(PaymentObject::from_name("insuranceContributions").map(PaymentObject::code), Some(16));
        assert_eq!(TaxType::from_name("vat122").map(TaxType::ffd_1199), Some(12));
        assert_eq!(EstimatedStatus::from_json(&json!("itemDryReturn")).map(EstimatedStatus::code), Some(4));
        assert!(EstimatedStatus::DryReturn.is_return() && EstimatedStatus::DryReturn.carries_quantity());
        assert_eq!(serde_json::to_value(NoticeFreeMemory::From50To80).unwrap(), json!("50to80"));
    }

    #[test]
    fn item_info_check_result_is_2106() {
        for v in 0u8..32 {
            assert_eq!(ItemInfoCheckResult::from_2106(v).to_2106(), v);
        }
        assert_eq!(ItemInfoCheckResult::from_2106(0xFF).to_2106(), 31);
        assert_eq!(
            MarkOperatorResponse::from_2005(7),
            MarkOperatorResponse { response_status: true, item_status_check: false }
        );
    }

    #[test]
    fn fractions_and_imc() {
        assert_eq!(Fraction::parse("1/10"), Some(Fraction { numerator: 1, denominator: 10 }));
        for bad in ["0/10", "1/0", "01/10", "1/", "/2", "a/b", "1/2/3", "-1/2", "", "1 /2"] {
            assert_eq!(Fraction::parse(bad), None, "{bad}");
        }
        assert_eq!(decode_imc("QQ").unwrap(), b"A");
        assert_eq!(decode_imc("@@").unwrap_err().code, 405);
        assert_eq!(decode_imc("").unwrap_err().code, 405);
    }

    fn spec(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    /// The §10.3 poll and begin examples serialise exactly.
    #[test]
    fn results_serialise_as_the_spec_examples() {
        let all_true = ItemInfoCheckResult::from_2106(15);
        let online = ValidationStatus {
            ready: true,
            sent_imc_request: true,
            driver_error: None,
            online_validation: Some(OnlineValidation {
                item_info_check_result: all_true,
                mark_operator_response: Some(MarkOperatorResponse::from_2005(15)),
                mark_operator_item_status: Some(MarkOperatorItemStatus::EstimatedStatusCorrect),
                mark_operator_response_result: Some(MarkOperatorResponseResult::Correct),
                imc_type: Some(ImcType::VerifyCode4),
                imc_barcode: Some("0104612345000438215aZ;q0".into()),
                imc_mode_processing: Some(0),
            }),
        };
        assert_eq!(
            result_json(&online).unwrap(),
            spec(
                r#"{"ready":true,"sentImcRequest":true,
 "onlineValidation":{
   "itemInfoCheckResult":{"imcCheckFlag":true,"imcCheckResult":true,"imcStatusInfo":true,
                          "imcEstimatedStatusCorrect":true,"ecrStandAloneFlag":false},
   "markOperatorResponse":{"responseStatus":true,"itemStatusCheck":true},
   "markOperatorItemStatus":"itemEstimatedStatusCorrect",
   "markOperatorResponseResult":"correct",
   "imcType":"imcVerifyCode4",
   "imcBarcode":"0104612345000438215aZ;q0",
   "imcModeProcessing":0}}"#
            )
        );
        let offline = ValidationStatus {
            ready: true,
            sent_imc_request: false,
            driver_error: AtolError::no_connection_with_server().to_driver_error(),
            online_validation: Some(OnlineValidation {
                item_info_check_result: ItemInfoCheckResult::default(),
                mark_operator_response: None,
                mark_operator_item_status: None,
                mark_operator_response_result: None,
                imc_type: Some(ImcType::VerifyCode4),
                imc_barcode: None,
                imc_mode_processing: Some(0),
            }),
        };
        assert_eq!(offline.driver_error.as_ref().map(|d| d.error), Some(DriverErrorName::ServerNoConnect));
        assert_eq!(
            result_json(&offline).unwrap(),
            spec(
                r#"{"ready":true,"sentImcRequest":false,
 "driverError":{"code":402,"error":"serverNoConnect","description":"no connection to the server"},
 "onlineValidation":{
   "itemInfoCheckResult":{"imcCheckFlag":false,"imcCheckResult":false,"imcStatusInfo":false,
                          "imcEstimatedStatusCorrect":false,"ecrStandAloneFlag":false},
   "imcType":"imcVerifyCode4","imcModeProcessing":0}}"#
            )
        );
        let begin = BeginValidationResult {
            offline_validation: OfflineValidation {
                fm_check: false,
                fm_check_result: false,
                fm_check_error_reason: FmCheckErrorReason::TypeIncorrect,
            },
        };
        assert_eq!(
            result_json(&begin).unwrap(),
            spec(
                r#"{"offlineValidation":{"fmCheck":false,"fmCheckResult":false,"fmCheckErrorReason":"typeIncorrect"}}"#
            )
        );
        let checked = OfflineValidation {
            fm_check: true,
            fm_check_result: true,
            fm_check_error_reason: FmCheckErrorReason::from_code(0).unwrap(),
        };
        assert_eq!(
            result_json(&checked).unwrap(),
            spec(r#"{"fmCheck":true,"fmCheckResult":true,"fmCheckErrorReason":"checked"}"#)
        );
        // And the results read back (for clients such as the reference POS).
        let back: ValidationStatus = serde_json::from_value(result_json(&offline).unwrap()).unwrap();
        assert_eq!(back, offline);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// JSON values biased toward the names the parser looks at.
        pub(crate) fn json_value() -> impl Strategy<Value = Value> {
            let key = prop_oneof![
                Just("type".to_string()),
                Just("params".to_string()),
                Just("imc".to_string()),
                Just("imcType".to_string()),
                Just("itemEstimatedStatus".to_string()),
                Just("imcModeProcessing".to_string()),
                Just("items".to_string()),
                Just("marks".to_string()),
                Just("measurementUnit".to_string()),
                Just("imcParams".to_string()),
                Just("industryInfo".to_string()),
                "[a-zA-Z]{0,8}",
            ];
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
                proptest::sample::select(TASK_TYPES).prop_map(Value::from),
                "\\PC{0,12}".prop_map(Value::from),
            ];
            leaf.prop_recursive(4, 48, 6, move |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    proptest::collection::vec((key.clone(), inner), 0..6)
                        .prop_map(|kv| Value::Object(kv.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #[test]
            fn from_json_never_panics(v in json_value(), ty in proptest::sample::select(TASK_TYPES)) {
                let _ = Task::from_json(&v);
                // The same value as a task of each known type.
                let mut obj = v.as_object().cloned().unwrap_or_default();
                obj.insert("type".into(), Value::from(ty));
                if let Ok(t) = Task::from_json(&Value::Object(obj)) {
                    // Whatever parses serialises and reads back the same.
                    let again = Task::from_json(&serde_json::to_value(&t).unwrap()).unwrap();
                    prop_assert_eq!(again, t);
                }
            }
        }
    }
}
