//! The FFD 1.2 fiscal documents the emulated KKT and ФН-М produce (spec `kkt.md` §3, §5): receipts and
//! their items (1059), the marking request 81, the ОИСМ answer 83, the sale notification 82 with its
//! items 2007, the ticket 84 and the shift reports. Plain data: one field per requisite, named for what
//! it means, with the tag number in its doc comment. Encoding (TLV, FNS JSON) and rendering live in
//! their own modules; no behaviour here beyond small constructors and arithmetic helpers.

use serde::{Deserialize, Serialize};

/// A sum of money in kopecks (FFD `VLN`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Kopecks(pub u64);

impl Kopecks {
    /// Roubles with two decimals, as ATOL JSON writes them (`94.90` → 9490). `None` if negative, not
    /// finite or beyond 10^13 roubles.
    pub fn from_roubles(roubles: f64) -> Option<Kopecks> {
        if !(0.0..=1e13).contains(&roubles) {
            return None;
        }
        Some(Kopecks((roubles * 100.0).round() as u64))
    }
}

/// A quantity (tag 1023, FFD `FVLN`): `mantissa / 10^scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Quantity {
    /// Digits without the decimal point.
    pub mantissa: u64,
    /// Number of digits after the decimal point (0–8).
    pub scale: u8,
}

impl Quantity {
    /// A whole number of units.
    pub fn whole(units: u64) -> Quantity {
        Quantity { mantissa: units, scale: 0 }
    }

    /// From a decimal as ATOL JSON writes it, keeping at most `max_scale` (≤ 8) digits after the point
    /// and dropping trailing zeros (`1.500` → 15 / 10^1). `None` if negative, not finite or too large.
    pub fn from_f64(value: f64, max_scale: u8) -> Option<Quantity> {
        let max_scale = max_scale.min(8);
        if !(0.0..=1e12).contains(&value) {
            return None;
        }
        let mut mantissa = (value * 10f64.powi(i32::from(max_scale))).round() as u64;
        let mut scale = max_scale;
        while scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            scale -= 1;
        }
        Some(Quantity { mantissa, scale })
    }

    /// The value as a float (for arithmetic checks and display).
    pub fn as_f64(self) -> f64 {
        self.mantissa as f64 / 10f64.powi(i32::from(self.scale))
    }
}

/// Tag 1054, признак расчёта.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationType {
    /// 1, приход (sale).
    Sale,
    /// 2, возврат прихода (return of a sale).
    SaleReturn,
}

impl OperationType {
    /// The tag value.
    pub fn code(self) -> u8 {
        match self {
            OperationType::Sale => 1,
            OperationType::SaleReturn => 2,
        }
    }
}

/// One industry requisite, 1260 on an item or 1261 on a receipt (`kkt.md` §4.16, `true-api.md` §12).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IndustryRequisite {
    /// 1262, идентификатор ФОИВ (exactly 3 characters, `030`).
    pub foiv_id: String,
    /// 1263, дата документа основания, `DD.MM.YYYY`.
    pub doc_date: String,
    /// 1264, номер документа основания (≤ 32).
    pub doc_number: String,
    /// 1265, значение отраслевого реквизита (≤ 256), `UUID=…&Time=…[&Inst=…&Ver=…]`.
    pub value: String,
}

/// Tag 1291, дробное количество маркированного товара (`kkt.md` §4.17).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FractionalQuantity {
    /// 1292, `"n/m"`.
    pub part: String,
    /// 1293, n.
    pub numerator: u64,
    /// 1294, m (n < m).
    pub denominator: u64,
}

/// Tag 1163, код товара: exactly one inner tag 1300–1325 (`kkt.md` §4.15).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProductCode {
    /// The inner tag (1300–1309, 1320–1325).
    pub tag: u16,
    /// Its value, built by the KKT from the КМ (`codes.md` §9.3).
    pub value: String,
}

/// What the KKT knows about a marked position beyond its tags: the checked КМ and the check it had.
/// Not requisites of the receipt item itself (FFD puts 2000/2110 into 81 and 2007); kept so the
/// notification can be built and the receipt graded.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ItemMarking {
    /// The full КМ (2000), with ⟨GS⟩.
    pub code: String,
    /// 2100, type of marking code.
    pub code_type: u8,
    /// 2101, the КИ form of the code.
    pub item_id: String,
    /// 2110, assigned status (= the 2003 of the check).
    pub assigned_status: u8,
}

/// One position of a receipt (STLV 1059).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptItem {
    /// 1030, наименование (≤ 128).
    pub name: String,
    /// 1079, цена за единицу.
    pub price: Kopecks,
    /// 1023, количество.
    pub quantity: Quantity,
    /// 1043, сумма.
    pub sum: Kopecks,
    /// 2108, мера количества (0 piece, 11 kg, 41 l, …; `kkt.md` §4.9).
    pub measure: u8,
    /// 1212, признак предмета расчёта (31/33 for marked goods).
    pub product_type: u8,
    /// 1214, признак способа расчёта (4 full payment, …).
    pub payment_type: u8,
    /// 1199, ставка НДС (1 20 %, 2 10 %, 5 0 %, 6 без НДС, …).
    pub vat_rate: u8,
    /// 1200, сумма НДС за предмет расчёта.
    pub vat_sum: Option<Kopecks>,
    /// 1163, код товара.
    pub product_code: Option<ProductCode>,
    /// 2115, контрольный код КМ (printed form only, 4 characters).
    pub control_code: Option<String>,
    /// 2102, режим обработки КМ (always 0).
    pub processing_mode: Option<u8>,
    /// 2106, результат проверки сведений о товаре (the ФН's value).
    pub check_result: Option<u8>,
    /// 1291, дробное количество.
    pub fractional: Option<FractionalQuantity>,
    /// 1260 × n, отраслевой реквизит предмета расчёта.
    pub industry: Vec<IndustryRequisite>,
    /// 1191, дополнительный реквизит предмета расчёта (≤ 64).
    pub additional: Option<String>,
    /// The checked КМ of a marked position (not a tag of 1059; see [`ItemMarking`]).
    pub marking: Option<ItemMarking>,
}

/// Payments of a receipt, by kind (tags 1031, 1081, 1215, 1216, 1217).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payments {
    /// 1031, наличными.
    pub cash: Kopecks,
    /// 1081, безналичными.
    pub electronic: Kopecks,
    /// 1215, предоплатой (зачёт аванса).
    pub prepaid: Kopecks,
    /// 1216, постоплатой (кредит).
    pub credit: Kopecks,
    /// 1217, встречным предоставлением.
    pub other: Kopecks,
}

impl Payments {
    /// Sum of every kind.
    pub fn total(&self) -> u64 {
        self.cash.0 + self.electronic.0 + self.prepaid.0 + self.credit.0 + self.other.0
    }
}

/// The fields every fiscal document of the ФН carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentHeader {
    /// 1040, номер фискального документа.
    pub number: u32,
    /// 1012, дата и время: Unix seconds in the KKT's local time (`kkt.md` §2).
    pub local_time: u32,
    /// 1041, номер ФН.
    pub fn_serial: String,
    /// 1037, регистрационный номер ККТ.
    pub kkt_reg_number: String,
    /// 1018, ИНН пользователя.
    pub user_inn: String,
    /// 1077, фискальный признак документа (any deterministic MAC; a 10-digit number on paper).
    pub fiscal_sign: u32,
}

/// Кассовый чек (document 3) or its return.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Common fields.
    pub header: DocumentHeader,
    /// 1038, номер смены.
    pub shift_number: u32,
    /// 1042, номер чека за смену.
    pub receipt_number: u32,
    /// 1054.
    pub operation: OperationType,
    /// 1055, применяемая система налогообложения (bit value: 1 ОСН, 2 УСН доход, 4 УСН доход−расход, …).
    pub taxation: u8,
    /// 1021, кассир.
    pub operator_name: Option<String>,
    /// 1203, ИНН кассира.
    pub operator_inn: Option<String>,
    /// 1059 × n.
    pub items: Vec<ReceiptItem>,
    /// 1020, сумма расчёта.
    pub total: Kopecks,
    /// Payments by kind.
    pub payments: Payments,
    /// 2107, результаты проверки маркированных товаров (present when the receipt has marked items).
    pub marking_check_result: Option<u8>,
    /// 1261 × n, отраслевой реквизит чека.
    pub industry: Vec<IndustryRequisite>,
}

/// Запрос о коде маркировки (document 81, `kkt.md` §5.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkingRequest {
    /// 2001, номер запроса.
    pub request_number: u32,
    /// 1018, ИНН пользователя.
    pub user_inn: String,
    /// 2114, дата и время запроса (local Unix seconds).
    pub local_time: u32,
    /// 1041, номер ФН.
    pub fn_serial: String,
    /// 2004, результат проверки КМ в ФН (0, 1, 3).
    pub local_check: u8,
    /// 2003, планируемый статус товара.
    pub planned_status: u8,
    /// 1023, only for planned status 2 and 4.
    pub quantity: Option<Quantity>,
    /// 2108, only for planned status 2 and 4.
    pub measure: Option<u8>,
    /// 1291.
    pub fractional: Option<FractionalQuantity>,
    /// 2100.
    pub code_type: u8,
    /// 2000, the full КМ.
    pub marking_code: String,
    /// 2102.
    pub processing_mode: u8,
    /// Фискальный признак.
    pub fiscal_sign: u32,
}

/// Ответ на запрос (document 83, `kkt.md` §5.2, §7.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkingAnswer {
    /// 2001, the request answered.
    pub request_number: u32,
    /// 2114, local Unix seconds of the request.
    pub local_time: u32,
    /// 2105, коды обработки запроса (0 correct, 1 request incorrect, 2 КМ unrecognised).
    pub processing_code: u8,
    /// 2100, when the code was recognised.
    pub code_type: Option<u8>,
    /// 2101, КИ form, when recognised.
    pub item_id: Option<String>,
    /// 2005, результаты обработки запроса (bits, `kkt.md` §4.3).
    pub result: u8,
    /// 2109, ответ ОИСМ о статусе товара (1, 2, 3), when recognised.
    pub item_status: Option<u8>,
    /// 2102.
    pub processing_mode: u8,
}

/// Данные о маркированном товаре (STLV 2007 inside notification 82, `kkt.md` §5.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationItem {
    /// 2000.
    pub marking_code: String,
    /// 2100.
    pub code_type: u8,
    /// 2101.
    pub item_id: String,
    /// 2115.
    pub control_code: String,
    /// 2110, присвоенный статус товара.
    pub assigned_status: u8,
    /// 2106.
    pub check_result: u8,
    /// 1023, for statuses 2 and 4.
    pub quantity: Option<Quantity>,
    /// 2108, for statuses 2 and 4.
    pub measure: Option<u8>,
    /// 1291.
    pub fractional: Option<FractionalQuantity>,
    /// 2102.
    pub processing_mode: u8,
    /// 1214.
    pub payment_type: u8,
    /// 1030.
    pub name: String,
    /// 1079.
    pub price: Kopecks,
    /// 1043.
    pub sum: Kopecks,
    /// 1199.
    pub vat_rate: u8,
    /// 1200.
    pub vat_sum: Kopecks,
    /// 1260 × n.
    pub industry: Vec<IndustryRequisite>,
}

/// Уведомление о реализации маркированного товара (document 82, `kkt.md` §5.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// 2002, номер уведомления.
    pub notification_number: u32,
    /// 1012, local Unix seconds.
    pub local_time: u32,
    /// 1041.
    pub fn_serial: String,
    /// 1018.
    pub user_inn: Option<String>,
    /// 1055.
    pub taxation: u8,
    /// 1054.
    pub operation: OperationType,
    /// 2116, вид операции (bit 0 cash receipt, bit 1 correction).
    pub operation_kind: u8,
    /// 2007 × n.
    pub items: Vec<NotificationItem>,
    /// 1261 × n.
    pub industry: Vec<IndustryRequisite>,
    /// The fiscal document number (1040) of the receipt this notification reports (not a tag of 82).
    pub receipt_number: u32,
    /// Фискальный признак.
    pub fiscal_sign: u32,
}

/// Квитанция на уведомление (document 84, `kkt.md` §5.4, §7.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// 2002, the notification answered.
    pub notification_number: u32,
    /// 1012, local Unix seconds.
    pub local_time: u32,
    /// 2111, 0 correct, 1 incorrect.
    pub result: u8,
    /// 2006, 0 all codes positive, 1 at least one negative.
    pub items_result: Option<u8>,
}

/// Whether a shift report opens or closes the shift.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShiftReportKind {
    /// Отчёт об открытии смены (document 2).
    Open,
    /// Отчёт о закрытии смены (document 5).
    Close,
}

/// A shift report, with the marking additions of the close report (`kkt.md` §5.5, §4.12).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftReport {
    /// Common fields.
    pub header: DocumentHeader,
    /// Open or close.
    pub kind: ShiftReportKind,
    /// 1038.
    pub shift_number: u32,
    /// 1021, кассир.
    pub operator_name: Option<String>,
    /// Receipts in the shift (1118 on the close report).
    pub receipts_in_shift: u32,
    /// 2104, notifications without a ticket (close report).
    pub unsent_notifications: Option<u32>,
    /// 2112, признак некорректных кодов маркировки (close report).
    pub incorrect_codes: Option<u8>,
    /// 2113, признак некорректных запросов и уведомлений (close report).
    pub incorrect_requests: Option<u8>,
}

/// Every document kind, for storage and export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Document {
    /// A receipt (sale or return).
    Receipt(Receipt),
    /// Request 81.
    MarkingRequest(MarkingRequest),
    /// Answer 83.
    MarkingAnswer(MarkingAnswer),
    /// Notification 82.
    Notification(Notification),
    /// Ticket 84.
    Ticket(Ticket),
    /// Shift open or close report.
    ShiftReport(ShiftReport),
}

impl Document {
    /// The FFD document type number used in FNS exports: 3 receipt, 81, 83, 82, 84, 2 shift open,
    /// 5 shift close.
    pub fn ffd_type(&self) -> u16 {
        match self {
            Document::Receipt(_) => 3,
            Document::MarkingRequest(_) => 81,
            Document::MarkingAnswer(_) => 83,
            Document::Notification(_) => 82,
            Document::Ticket(_) => 84,
            Document::ShiftReport(r) => match r.kind {
                ShiftReportKind::Open => 2,
                ShiftReportKind::Close => 5,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_quantity_from_atol_decimals() {
        assert_eq!(Kopecks::from_roubles(94.90), Some(Kopecks(9490)));
        assert_eq!(Kopecks::from_roubles(-1.0), None);
        assert_eq!(Quantity::from_f64(1.5, 3), Some(Quantity { mantissa: 15, scale: 1 }));
        assert_eq!(Quantity::from_f64(0.5, 3), Some(Quantity { mantissa: 5, scale: 1 }));
        assert_eq!(Quantity::from_f64(2.0, 3), Some(Quantity::whole(2)));
        assert_eq!(Quantity::from_f64(f64::NAN, 3), None);
    }
}
