//! The open receipt and what becomes of it on the KKT (kkt.md §4.1, §4.14, §4.17, §8.3, §10.3–§10.4):
//! how a scan's quantity is sold ([`Quantity`]: a piece, a measured quantity, or a part n/m of a
//! pack), the planned status (2003) that follows from it, the position sum, the accepted items with
//! their tag 2106 and 1260 evidence, and the ATOL `sell` / `sellReturn` task built from them.
//! Mutants `1265-from-first-check`, `invent-2106` and `wrong-1212` are branches of the task's building.

use base64::Engine;
use serde_json::{json, Value};

use crate::kkt::ValidationRequest;
use crate::mutant::Mutant;
use crate::protocol::{Fraction, Payment, PaymentMethod, ReceiptKind};
use crate::requisite::{industry_info, Evidence};

/// Highest price accepted, kopecks (10 million roubles).
pub const MAX_PRICE_KOPECKS: u64 = 1_000_000_000;
/// Highest measured quantity accepted.
pub const MAX_QUANTITY: f64 = 100_000.0;
/// Longest product name (1030).
pub const MAX_NAME_CHARS: usize = 128;

/// How much of a code is sold.
#[derive(Clone, Debug, PartialEq)]
pub enum Quantity {
    /// The whole item, one code per position (quantity 1, 2108 = 0).
    Piece,
    /// A measured quantity of the item (draught beer, weighed goods): 1023 and 2108 ≠ 0.
    Measured {
        /// Quantity in `unit`, at most 6 decimals.
        quantity: f64,
        /// ATOL measurement unit name.
        unit: String,
    },
    /// A part n/m of a piece package (tags 1291–1294), n < m.
    Fraction {
        /// n.
        numerator: u64,
        /// m.
        denominator: u64,
    },
}

/// `value` rounded to 6 decimals (the KKT keeps no more).
fn round6(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// How a scan is sold, or why it cannot be (reason `other`). A fraction n/n is the whole piece
/// (kkt.md §4.17: never n ≥ m); more than one package per code is refused.
pub fn plan_quantity(measure: &str, quantity: f64, fraction: Option<Fraction>) -> Result<Quantity, String> {
    if let Some(f) = fraction {
        return match (f.numerator, f.denominator) {
            (0, _) | (_, 0) => Err(format!("дробное количество {}/{}: n и m должны быть больше нуля", f.numerator, f.denominator)),
            (n, m) if n == m => Ok(Quantity::Piece),
            (n, m) if n > m => Err(format!("дробное количество {n}/{m} больше одной упаковки: по одному коду продаётся не больше упаковки")),
            (n, m) => Ok(Quantity::Fraction { numerator: n, denominator: m }),
        };
    }
    if measure == "piece" {
        return if quantity == 1.0 {
            Ok(Quantity::Piece)
        } else {
            Err(format!(
                "штучный маркированный товар продаётся по одному коду: количество {quantity}, нужно 1"
            ))
        };
    }
    if !(quantity.is_finite() && quantity > 0.0 && quantity <= MAX_QUANTITY) {
        return Err(format!("недопустимое количество {quantity} {measure}"));
    }
    let q = round6(quantity);
    if q <= 0.0 {
        return Err(format!("количество {quantity} {measure} меньше 0.000001"));
    }
    Ok(Quantity::Measured { quantity: q, unit: measure.to_string() })
}

/// Tag 2003 (ATOL `itemEstimatedStatus`) for a position (kkt.md §4.1, §8.3–§8.4): a piece is sold (1)
/// or returned (3); a measured part is being sold (2) or returned (4); a part of a piece package is
/// being sold (5) or returned (4).
pub fn planned_status(kind: ReceiptKind, q: &Quantity) -> &'static str {
    match (kind, q) {
        (ReceiptKind::Sale, Quantity::Piece) => "itemPieceSold",
        (ReceiptKind::Sale, Quantity::Measured { .. }) => "itemDryForSale",
        (ReceiptKind::Sale, Quantity::Fraction { .. }) => "itemPieceForSale",
        (ReceiptKind::Return, Quantity::Piece) => "itemPieceReturn",
        (ReceiptKind::Return, _) => "itemDryReturn",
    }
}

/// The position's sum (1043) in kopecks: price × quantity, rounded half up; `None` when absurd.
pub fn position_sum(price_kopecks: u64, q: &Quantity) -> Option<u64> {
    if price_kopecks > MAX_PRICE_KOPECKS {
        return None;
    }
    match q {
        Quantity::Piece => Some(price_kopecks),
        Quantity::Measured { quantity, .. } => {
            let sum = (price_kopecks as f64 * quantity).round();
            (0.0..1e15).contains(&sum).then_some(sum as u64)
        }
        Quantity::Fraction { numerator, denominator } => {
            let (p, n, m) = (u128::from(price_kopecks), u128::from(*numerator), u128::from(*denominator));
            u64::try_from((p * n + m / 2) / m).ok()
        }
    }
}

/// Whether the code leaves circulation with this position: a whole item, or the part that sells what
/// remains of the package (`innerUnitCount`/`soldUnitCount` of the online answer); a measured part
/// never is (the POS cannot know the keg is empty).
pub fn is_last_part(q: &Quantity, inner: Option<u64>, sold: Option<u64>) -> bool {
    match q {
        Quantity::Piece => true,
        Quantity::Measured { .. } => false,
        Quantity::Fraction { numerator, denominator } => match inner.filter(|&i| i > 0) {
            None => false,
            Some(inner) => {
                let remaining = inner.saturating_sub(sold.unwrap_or(0));
                u128::from(*numerator) * u128::from(inner) >= u128::from(remaining) * u128::from(*denominator)
            }
        },
    }
}

/// Tag 1023 as ATOL takes it.
pub fn atol_quantity(q: &Quantity) -> f64 {
    match q {
        Quantity::Piece => 1.0,
        Quantity::Measured { quantity, .. } => *quantity,
        Quantity::Fraction { numerator, denominator } => round6(*numerator as f64 / *denominator as f64),
    }
}

/// Tag 2108 as ATOL names it.
pub fn atol_unit(q: &Quantity) -> &str {
    match q {
        Quantity::Measured { unit, .. } => unit,
        Quantity::Piece | Quantity::Fraction { .. } => "piece",
    }
}

/// The KKT check request of a code sold as `q` with planned status `status`.
pub fn validation_request(code: &[u8], q: &Quantity, status: &'static str) -> ValidationRequest {
    ValidationRequest {
        imc: base64::engine::general_purpose::STANDARD.encode(code),
        status,
        measured: match q {
            Quantity::Measured { quantity, unit } => Some((*quantity, unit.clone())),
            _ => None,
        },
        fraction: match q {
            Quantity::Fraction { numerator, denominator } => Some(format!("{numerator}/{denominator}")),
            _ => None,
        },
    }
}

/// One accepted position.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The canonical code (what was checked and goes into `imc`).
    pub code: String,
    /// Its КИ (for the ЛМ ЧЗ).
    pub ki: String,
    /// Product name.
    pub name: String,
    /// Price per unit, kopecks.
    pub price_kopecks: u64,
    /// ATOL VAT name.
    pub vat: String,
    /// How much is sold.
    pub quantity: Quantity,
    /// The position's sum, kopecks.
    pub sum_kopecks: u64,
    /// Tag 2003 of the check (= 2110 of the position).
    pub status: &'static str,
    /// Tag 2106 as the KKT returned it (`None` when no KKT check was run).
    pub check_result: Option<Value>,
    /// What authorised the sale (→ tag 1260).
    pub evidence: Evidence,
    /// Excise goods (1212 = 31) rather than ordinary goods (33).
    pub excise: bool,
    /// The code leaves circulation with this position (whole item, or the last part).
    pub last_part: bool,
}

/// The open receipt of a lane.
#[derive(Clone, Debug, PartialEq)]
pub struct Receipt {
    /// Sale or return.
    pub kind: ReceiptKind,
    /// Accepted positions, in scan order.
    pub items: Vec<Item>,
    /// A KKT check was started for it (the KKT's table must be cleared if it is dropped).
    pub kkt_touched: bool,
}

impl Receipt {
    /// An empty receipt.
    pub fn new(kind: ReceiptKind) -> Receipt {
        Receipt { kind, items: Vec::new(), kkt_touched: false }
    }

    /// Σ position sums, kopecks.
    pub fn total_kopecks(&self) -> u64 {
        self.items.iter().map(|i| i.sum_kopecks).fold(0, u64::saturating_add)
    }

    /// Whether `code` is already a position.
    pub fn contains(&self, code: &str) -> bool {
        self.items.iter().any(|i| i.code == code)
    }
}

fn roubles(kopecks: u64) -> f64 {
    kopecks as f64 / 100.0
}

/// `text` in what the KKT can print (CP866), at most `max` characters; anything else becomes `?`.
pub fn kkt_text(text: &str, max: usize) -> String {
    text.chars()
        .take(max)
        .map(|c| {
            let mut buf = [0u8; 4];
            let (_, _, unmappable) = encoding_rs::IBM866.encode(c.encode_utf8(&mut buf));
            if unmappable || c.is_control() {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// The 2106 a POS writes when it makes the value up from the ФН's local check instead of copying
/// the KKT's (mutant `invent-2106`): crypto checked and passed, nothing from the ОИСМ.
pub fn invented_2106() -> Value {
    json!({
        "imcCheckFlag": true,
        "imcCheckResult": true,
        "imcStatusInfo": false,
        "imcEstimatedStatusCorrect": false,
        "ecrStandAloneFlag": false,
    })
}

/// One `position` of the ATOL receipt (`mutant`: the POS's deliberate defect, `None` for the reference).
pub fn position(item: &Item, mutant: Option<Mutant>) -> Value {
    let mut imc = json!({
        "imcType": "auto",
        "imc": base64::engine::general_purpose::STANDARD.encode(item.code.as_bytes()),
        "itemEstimatedStatus": item.status,
        "imcModeProcessing": 0,
    });
    if mutant == Some(Mutant::Invent2106) {
        // Mutant `invent-2106`: the POS fills 2106 itself instead of copying the KKT's value.
        imc["itemInfoCheckResult"] = invented_2106();
    } else if let Some(r) = &item.check_result {
        imc["itemInfoCheckResult"] = r.clone();
    }
    match &item.quantity {
        Quantity::Measured { quantity, unit } => {
            imc["itemQuantity"] = json!(quantity);
            imc["itemUnits"] = json!(unit);
        }
        Quantity::Fraction { numerator, denominator } => {
            imc["itemFractionalAmount"] = json!(format!("{numerator}/{denominator}"));
        }
        Quantity::Piece => {}
    }
    // Mutant `wrong-1212`: 1212 = 33 hard-coded for every marked good, excise or not.
    let excise = item.excise && mutant != Some(Mutant::Wrong1212);
    let mut p = json!({
        "type": "position",
        "name": kkt_text(&item.name, MAX_NAME_CHARS),
        "price": roubles(item.price_kopecks),
        "quantity": atol_quantity(&item.quantity),
        "amount": roubles(item.sum_kopecks),
        "measurementUnit": atol_unit(&item.quantity),
        "paymentMethod": "fullPayment",
        "paymentObject": if excise { "exciseWithMarking" } else { "commodityWithMarking" },
        "tax": {"type": item.vat},
        "imcParams": imc,
    });
    let info = industry_info(&item.evidence, mutant);
    if !info.is_empty() {
        p["industryInfo"] = Value::Array(info);
    }
    p
}

/// The `sell` / `sellReturn` task of `receipt`, paid by `payment`. A card cannot pay more than the
/// total (no change is given), so an electronic overpayment is capped at the total. `mutant`: the
/// POS's deliberate defect (`None` for the reference POS).
pub fn sell_task(receipt: &Receipt, payment: &Payment, cashier: &str, mutant: Option<Mutant>) -> Value {
    let total = receipt.total_kopecks();
    let (kind, amount) = match payment.method {
        PaymentMethod::Cash => ("cash", payment.amount_kopecks),
        PaymentMethod::Electronic => ("electronically", payment.amount_kopecks.min(total)),
    };
    json!({
        "type": match receipt.kind {
            ReceiptKind::Sale => "sell",
            ReceiptKind::Return => "sellReturn",
        },
        "operator": {"name": kkt_text(cashier, 64)},
        "items": receipt.items.iter().map(|item| match receipt.items.first() {
            // Mutant `1265-from-first-check`: the requisite is built once per receipt, from its first
            // check, and copied onto every position.
            Some(first) if mutant == Some(Mutant::Tag1265FromFirstCheck) => {
                position(&Item { evidence: first.evidence.clone(), ..item.clone() }, mutant)
            }
            _ => position(item, mutant),
        }).collect::<Vec<_>>(),
        "payments": [{"type": kind, "sum": roubles(amount)}],
        "total": roubles(total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frac(n: u64, m: u64) -> Option<Fraction> {
        Some(Fraction { numerator: n, denominator: m })
    }

    #[test]
    fn quantities() {
        assert_eq!(plan_quantity("piece", 1.0, None), Ok(Quantity::Piece));
        assert!(plan_quantity("piece", 2.0, None).is_err());
        assert_eq!(
            plan_quantity("liter", 0.5, None),
            Ok(Quantity::Measured { quantity: 0.5, unit: "liter".into() })
        );
        assert!(plan_quantity("liter", 0.0, None).is_err());
        assert!(plan_quantity("liter", -1.0, None).is_err());
        assert!(plan_quantity("liter", 1e300, None).is_err());
        assert!(plan_quantity("liter", 1e-9, None).is_err());
        assert_eq!(
            plan_quantity("piece", 0.1, frac(1, 10)),
            Ok(Quantity::Fraction { numerator: 1, denominator: 10 })
        );
        assert_eq!(plan_quantity("piece", 1.0, frac(10, 10)), Ok(Quantity::Piece));
        assert!(plan_quantity("piece", 1.0, frac(11, 10)).is_err());
        assert!(plan_quantity("piece", 1.0, frac(0, 10)).is_err());
        assert!(plan_quantity("piece", 1.0, frac(1, 0)).is_err());
    }

    #[test]
    fn planned_statuses_fit_the_operation() {
        use ReceiptKind::{Return, Sale};
        let m = Quantity::Measured { quantity: 0.5, unit: "liter".into() };
        let f = Quantity::Fraction { numerator: 1, denominator: 10 };
        assert_eq!(planned_status(Sale, &Quantity::Piece), "itemPieceSold");
        assert_eq!(planned_status(Sale, &m), "itemDryForSale");
        assert_eq!(planned_status(Sale, &f), "itemPieceForSale");
        assert_eq!(planned_status(Return, &Quantity::Piece), "itemPieceReturn");
        assert_eq!(planned_status(Return, &m), "itemDryReturn");
        assert_eq!(planned_status(Return, &f), "itemDryReturn");
    }

    #[test]
    fn sums_and_atol_quantities() {
        assert_eq!(position_sum(8_990, &Quantity::Piece), Some(8_990));
        let m = Quantity::Measured { quantity: 0.45, unit: "kilogram".into() };
        assert_eq!(position_sum(100_000, &m), Some(45_000));
        let third = Quantity::Fraction { numerator: 1, denominator: 3 };
        assert_eq!(position_sum(10_000, &third), Some(3_333));
        assert_eq!(position_sum(20_000, &Quantity::Fraction { numerator: 2, denominator: 3 }), Some(13_333));
        assert_eq!(atol_quantity(&third), 0.333333);
        assert_eq!(position_sum(u64::MAX, &Quantity::Piece), None);
        assert_eq!(atol_unit(&third), "piece");
        assert_eq!(atol_unit(&m), "kilogram");
    }

    #[test]
    fn last_parts() {
        let f = |n, m| Quantity::Fraction { numerator: n, denominator: m };
        assert!(is_last_part(&Quantity::Piece, None, None));
        assert!(!is_last_part(
            &Quantity::Measured { quantity: 0.5, unit: "liter".into() },
            Some(10),
            Some(9)
        ));
        assert!(is_last_part(&f(1, 10), Some(10), Some(9)));
        assert!(!is_last_part(&f(1, 10), Some(10), Some(3)));
        assert!(!is_last_part(&f(1, 10), None, None));
    }

    #[test]
    fn texts_fit_the_kkt() {
        assert_eq!(kkt_text("Молоко 3,2% 1 л", 128), "Молоко 3,2% 1 л");
        assert_eq!(kkt_text("Пиво 🍺", 128), "Пиво ?");
        assert_eq!(kkt_text(&"я".repeat(300), 128).chars().count(), 128);
        assert_eq!(kkt_text("a\u{1d}b", 10), "a?b");
    }

    #[test]
    fn the_sell_task() {
        let item = Item {
            code: "0104612345000438215aZ;q0\u{1d}93Jm4t".into(),
            ki: "0104612345000438215aZ;q0".into(),
            name: "Кефир".into(),
            price_kopecks: 9_490,
            vat: "vat10".into(),
            quantity: Quantity::Piece,
            sum_kopecks: 9_490,
            status: "itemPieceSold",
            check_result: Some(json!({"imcCheckFlag":true})),
            evidence: Evidence::Online { req_id: "r".into(), time: "1".into() },
            excise: false,
            last_part: true,
        };
        let mut receipt = Receipt::new(ReceiptKind::Sale);
        receipt.items.push(item.clone());
        receipt.items.push(Item { evidence: Evidence::Emergency, code: "x".into(), ..item });
        let task = sell_task(
            &receipt,
            &Payment { method: PaymentMethod::Electronic, amount_kopecks: 99_999 },
            "Кассир",
            None,
        );
        assert_eq!(task["type"], "sell");
        assert_eq!(task["total"], json!(189.8));
        assert_eq!(task["payments"], json!([{"type":"electronically","sum":189.8}]));
        let p = &task["items"][0];
        assert_eq!(p["imcParams"]["imc"], "MDEwNDYxMjM0NTAwMDQzODIxNWFaO3EwHTkzSm00dA==");
        assert_eq!(p["imcParams"]["itemInfoCheckResult"], json!({"imcCheckFlag":true}));
        assert_eq!(p["industryInfo"][0]["industryAttribute"], "UUID=r&Time=1");
        assert_eq!(p["paymentObject"], "commodityWithMarking");
        assert!(task["items"][1].get("industryInfo").is_none(), "emergency: no 1260");
        let ret = Receipt { kind: ReceiptKind::Return, ..receipt };
        let cash =
            sell_task(&ret, &Payment { method: PaymentMethod::Cash, amount_kopecks: 20_000 }, "К", None);
        assert_eq!(cash["type"], "sellReturn");
        assert_eq!(cash["payments"], json!([{"type":"cash","sum":200.0}]));
    }

    #[test]
    fn receipt_mutants() {
        let item = |req_id: &str, excise| Item {
            code: format!("0104612345000438215{req_id}\u{1d}93Jm4t"),
            ki: "k".into(),
            name: "Товар".into(),
            price_kopecks: 100,
            vat: "vat20".into(),
            quantity: Quantity::Piece,
            sum_kopecks: 100,
            status: "itemPieceSold",
            check_result: Some(json!({"imcCheckFlag":true,"imcCheckResult":true,"imcStatusInfo":true,
                "imcEstimatedStatusCorrect":true,"ecrStandAloneFlag":false})),
            evidence: Evidence::Online { req_id: req_id.into(), time: "1".into() },
            excise,
            last_part: true,
        };
        let mut receipt = Receipt::new(ReceiptKind::Sale);
        receipt.items.extend([item("aaaaaa", true), item("bbbbbb", false)]);
        let cash = Payment { method: PaymentMethod::Cash, amount_kopecks: 200 };
        let attr = |t: &Value, i: usize| t["items"][i]["industryInfo"][0]["industryAttribute"].clone();
        let reference = sell_task(&receipt, &cash, "К", None);
        assert_eq!(attr(&reference, 1), json!("UUID=bbbbbb&Time=1"));
        assert_eq!(reference["items"][0]["paymentObject"], "exciseWithMarking");
        let first = sell_task(&receipt, &cash, "К", Some(Mutant::Tag1265FromFirstCheck));
        assert_eq!(attr(&first, 1), json!("UUID=aaaaaa&Time=1"));
        let wrong = sell_task(&receipt, &cash, "К", Some(Mutant::Wrong1212));
        assert_eq!(wrong["items"][0]["paymentObject"], "commodityWithMarking");
        let invented = sell_task(&receipt, &cash, "К", Some(Mutant::Invent2106));
        assert_eq!(invented["items"][0]["imcParams"]["itemInfoCheckResult"], invented_2106());
        assert_ne!(invented_2106(), receipt.items[0].check_result.clone().unwrap());
    }
}
