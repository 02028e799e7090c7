//! FNS JSON export of the documents (the form ОФД and ФНС hand out): the document's requisites
//! (see [`crate::ffd::convert`]) with the JSON names of the tag table, plus `"code"`, the FFD document
//! type (3 receipt, 81, 83, 82, 84, 2 shift open, 5 shift close).
//!
//! Values: integers for byte, uint32, VLN (money in kopecks) and unixtime (`dateTime` as the local Unix
//! seconds the ФН writes); a JSON number for FVLN (`quantity`: an integer when whole, else a decimal);
//! text for strings; the fiscal sign 1077 as one integer (its 6 bytes big-endian), other raw bytes as
//! base64; an object for an STLV. Repeatable tags (1059 `items`, 2007 `items`, 1260
//! `itemsIndustryDetails`, 1261 `industryReceiptDetails`) are always arrays. 1163 is an object with its
//! one inner key, e.g. `"productCodeNew": {"gs1m": "…"}` (real ОФД exports expand the inner value into
//! `gtin`/`sernum`/`rawProductCode`; markcert keeps the value as the ФН wrote it).

use base64::Engine;
use serde_json::{Map, Value};

use super::document::{Document, Quantity};
use super::tags::tag_info;
use super::tlv::{Tlv, TlvValue};

impl Document {
    /// The document in FNS JSON form.
    pub fn to_fns_json(&self) -> Value {
        let mut object = tlv_to_json(&self.to_tlv());
        object.insert("code".to_owned(), Value::from(self.ffd_type()));
        Value::Object(object)
    }
}

/// Requisites as an FNS JSON object (keys from the tag table; a tag missing from it is keyed by its
/// number).
pub fn tlv_to_json(tlvs: &[Tlv]) -> Map<String, Value> {
    let mut object = Map::new();
    for tlv in tlvs {
        let info = tag_info(tlv.tag);
        let key = info.map_or_else(|| tlv.tag.to_string(), |info| info.json.to_owned());
        let value = value_to_json(tlv);
        if info.is_some_and(|info| info.repeatable) {
            match object.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
                Value::Array(items) => items.push(value),
                other => *other = Value::Array(vec![value]),
            }
        } else {
            object.insert(key, value);
        }
    }
    object
}

fn value_to_json(tlv: &Tlv) -> Value {
    match &tlv.value {
        TlvValue::Byte(v) => Value::from(*v),
        TlvValue::U32(v) | TlvValue::UnixTime(v) => Value::from(*v),
        TlvValue::Vln(v) => Value::from(*v),
        TlvValue::Fvln(q) => quantity_to_json(*q),
        TlvValue::String(s) => Value::from(s.as_str()),
        TlvValue::Bytes(b) if tlv.tag == 1077 && b.len() <= 8 => {
            Value::from(b.iter().fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte)))
        }
        TlvValue::Bytes(b) => Value::from(base64::engine::general_purpose::STANDARD.encode(b)),
        TlvValue::Stlv(children) => Value::Object(tlv_to_json(children)),
    }
}

/// A whole quantity as an integer, any other as a decimal number.
fn quantity_to_json(q: Quantity) -> Value {
    let whole = 10u64.checked_pow(u32::from(q.scale)).and_then(|unit| {
        if q.mantissa % unit == 0 {
            Some(q.mantissa / unit)
        } else {
            None
        }
    });
    match whole {
        Some(units) => Value::from(units),
        None => Value::from(q.as_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffd::document::Ticket;
    use serde_json::json;

    #[test]
    fn ticket_json() {
        let doc = Document::Ticket(Ticket {
            notification_number: 7,
            local_time: 1_700_000_000,
            result: 0,
            items_result: None,
        });
        assert_eq!(
            doc.to_fns_json(),
            json!({
                "code": 84,
                "notificationNumber": 7,
                "dateTime": 1_700_000_000,
                "notificationProcessingCode": 0,
            })
        );
    }

    #[test]
    fn values() {
        let tlvs = [
            Tlv::bytes(1077, vec![0, 0, 0x7f, 0xff, 0xff, 0xff]),
            Tlv::fvln(1023, Quantity { mantissa: 1500, scale: 3 }),
            Tlv::stlv(1260, vec![Tlv::string(1262, "030")]),
            Tlv::stlv(1163, vec![Tlv::string(1305, "0104601234567890215abc")]),
            Tlv::bytes(9999, vec![1, 2, 3]),
        ];
        assert_eq!(
            Value::Object(tlv_to_json(&tlvs)),
            json!({
                "fiscalSign": 2_147_483_647u64,
                "quantity": 1.5,
                "itemsIndustryDetails": [{"idFoiv": "030"}],
                "productCodeNew": {"gs1m": "0104601234567890215abc"},
                "9999": "AQID",
            })
        );
        assert_eq!(quantity_to_json(Quantity { mantissa: 2000, scale: 3 }), json!(2));
        assert_eq!(quantity_to_json(Quantity { mantissa: 5, scale: 1 }), json!(0.5));
        assert_eq!(quantity_to_json(Quantity { mantissa: 5, scale: 20 }), json!(5e-20));
    }
}
