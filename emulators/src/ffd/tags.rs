//! The FFD 1.2 tag table (spec `kkt.md` §2, §3, §4.15–§4.17): for every tag the document model uses,
//! its Russian name, its FNS JSON name, its wire type and its maximum value length in bytes. The TLV
//! decoder reads value types from here; the encoder checks lengths against it; the FNS JSON export
//! takes its key names from it.
//!
//! JSON names come from the spec's tables where it gives them, else from FNS exports. The spec and the
//! public FNS exports name none of the marking-document tags (2000–2116 outside the receipt), so for
//! those markcert chose camelCase names in the FNS style; each is marked "markcert name" below.

/// How a tag's value is written on the wire (`kkt.md` §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TagType {
    /// One byte.
    Byte,
    /// uint32, 4 bytes LE.
    U32,
    /// Unsigned LE integer of variable length (money in kopecks, counts).
    Vln,
    /// One byte of decimal places, then the LE mantissa (quantity 1023).
    Fvln,
    /// uint32 LE seconds, local time of the KKT.
    UnixTime,
    /// CP866 text.
    String,
    /// Raw bytes.
    Bytes,
    /// A list of TLVs.
    Stlv,
}

/// One row of the tag table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagInfo {
    /// The tag number.
    pub tag: u16,
    /// Наименование реквизита.
    pub name: &'static str,
    /// The key of the requisite in FNS JSON exports.
    pub json: &'static str,
    /// Wire type of the value.
    pub ty: TagType,
    /// Maximum value length in bytes.
    pub max_len: u16,
    /// Whether a document may carry the tag more than once (exported as a JSON array).
    pub repeatable: bool,
}

const fn t(tag: u16, name: &'static str, json: &'static str, ty: TagType, max_len: u16) -> TagInfo {
    TagInfo { tag, name, json, ty, max_len, repeatable: false }
}

const fn many(tag: u16, name: &'static str, json: &'static str, ty: TagType, max_len: u16) -> TagInfo {
    TagInfo { tag, name, json, ty, max_len, repeatable: true }
}

use TagType as K;

/// Every tag the document model uses, sorted by number.
pub static TAGS: &[TagInfo] = &[
    t(1012, "дата, время", "dateTime", K::UnixTime, 4),
    t(1018, "ИНН пользователя", "userInn", K::String, 12),
    t(1020, "сумма расчёта, указанного в чеке", "totalSum", K::Vln, 6),
    t(1021, "кассир", "operator", K::String, 64),
    t(1023, "количество предмета расчёта", "quantity", K::Fvln, 8),
    t(1030, "наименование предмета расчёта", "name", K::String, 128),
    t(1031, "сумма по чеку наличными", "cashTotalSum", K::Vln, 6),
    t(1037, "регистрационный номер ККТ", "kktRegId", K::String, 20),
    t(1038, "номер смены", "shiftNumber", K::U32, 4),
    t(1040, "номер ФД", "fiscalDocumentNumber", K::U32, 4),
    t(1041, "номер ФН", "fiscalDriveNumber", K::String, 16),
    t(1042, "номер чека за смену", "requestNumber", K::U32, 4),
    t(1043, "стоимость предмета расчёта", "sum", K::Vln, 6),
    t(1054, "признак расчёта", "operationType", K::Byte, 1),
    t(1055, "применяемая система налогообложения", "appliedTaxationType", K::Byte, 1),
    many(1059, "предмет расчёта", "items", K::Stlv, 1024),
    // ФПД: 6 bytes; FNS JSON writes them as one big-endian integer.
    t(1077, "фискальный признак документа", "fiscalSign", K::Bytes, 6),
    t(1079, "цена за единицу предмета расчёта", "price", K::Vln, 6),
    t(1081, "сумма по чеку безналичными", "ecashTotalSum", K::Vln, 6),
    t(1118, "количество кассовых чеков за смену", "receiptsQuantity", K::U32, 4),
    t(1163, "код товара", "productCodeNew", K::Stlv, 256),
    t(1191, "дополнительный реквизит предмета расчёта", "propertiesItem", K::String, 64),
    t(1199, "ставка НДС", "nds", K::Byte, 1),
    t(1200, "сумма НДС за предмет расчёта", "ndsSum", K::Vln, 6),
    t(1203, "ИНН кассира", "operatorInn", K::String, 12),
    t(1212, "признак предмета расчёта", "productType", K::Byte, 1),
    t(1214, "признак способа расчёта", "paymentType", K::Byte, 1),
    t(1215, "сумма по чеку предоплатой", "prepaidSum", K::Vln, 6),
    t(1216, "сумма по чеку постоплатой", "creditSum", K::Vln, 6),
    t(1217, "сумма по чеку встречным предоставлением", "provisionSum", K::Vln, 6),
    // 4 + 3 + 4 + 10 + 4 + 32 + 4 + 256: the largest 1262–1265 set.
    many(1260, "отраслевой реквизит предмета расчёта", "itemsIndustryDetails", K::Stlv, 317),
    many(1261, "отраслевой реквизит чека", "industryReceiptDetails", K::Stlv, 317),
    t(1262, "идентификатор ФОИВ", "idFoiv", K::String, 3),
    t(1263, "дата документа основания", "foundationDocDateTime", K::String, 10),
    t(1264, "номер документа основания", "foundationDocNumber", K::String, 32),
    t(1265, "значение отраслевого реквизита", "industryPropValue", K::String, 256),
    t(1290, "признаки условий применения ККТ", "usageConditionSigns", K::U32, 4),
    // 4 + 24 + 4 + 8 + 4 + 8: the largest 1292–1294 set.
    t(1291, "дробное количество маркированного товара", "labeledProdFractionalQuantity", K::Stlv, 52),
    t(1292, "дробная часть", "fractionalPart", K::String, 24),
    t(1293, "числитель", "numerator", K::Vln, 8),
    t(1294, "знаменатель", "denominator", K::Vln, 8),
    t(1300, "КТ Н", "undefined", K::String, 32),
    t(1301, "КТ EAN-8", "ean8", K::String, 8),
    t(1302, "КТ EAN-13", "ean13", K::String, 13),
    t(1303, "КТ ITF-14", "itf14", K::String, 14),
    t(1304, "КТ GS1.0", "gs1", K::String, 38),
    t(1305, "КТ GS1.М", "gs1m", K::String, 38),
    t(1306, "КТ КМК", "kmk", K::String, 38),
    t(1307, "КТ МИ", "mi", K::String, 20),
    t(1308, "КТ ЕГАИС-2.0", "egais2", K::String, 33),
    t(1309, "КТ ЕГАИС-3.0", "egais3", K::String, 14),
    t(1320, "КТ Ф.1", "f1", K::String, 32),
    t(1321, "КТ Ф.2", "f2", K::String, 32),
    t(1322, "КТ Ф.3", "f3", K::String, 32),
    t(1323, "КТ Ф.4", "f4", K::String, 32),
    t(1324, "КТ Ф.5", "f5", K::String, 32),
    t(1325, "КТ Ф.6", "f6", K::String, 32),
    t(2000, "код маркировки", "labelCode", K::String, 256), // markcert name
    t(2001, "номер запроса", "labelCodeRequestNumber", K::U32, 4), // markcert name
    t(2002, "номер уведомления", "notificationNumber", K::U32, 4), // markcert name
    t(2003, "планируемый статус товара", "plannedProdStatus", K::Byte, 1), // markcert name
    t(2004, "результат проверки КМ", "labelCodeCheckResult", K::Byte, 1), // markcert name
    t(2005, "результаты обработки запроса", "requestProcessingResult", K::Byte, 1), // markcert name
    t(2006, "результаты обработки уведомления", "notificationProcessingResult", K::Byte, 1), // markcert name
    // markcert name: the notification's positions, exported like a receipt's.
    many(2007, "данные о маркированном товаре", "items", K::Stlv, 512),
    t(2100, "тип кода маркировки", "labelCodeType", K::Byte, 1), // markcert name
    t(2101, "идентификатор товара", "productId", K::String, 38), // markcert name
    t(2102, "режим обработки кода маркировки", "labelCodeProcesMode", K::Byte, 1),
    t(2104, "количество непереданных уведомлений", "undeliveredNotificationsNumber", K::U32, 4),
    t(2105, "коды обработки запроса", "requestProcessingCode", K::Byte, 1), // markcert name
    t(2106, "результат проверки сведений о товаре", "checkingProdInformationResult", K::Byte, 1),
    t(2107, "результаты проверки маркированных товаров", "checkingLabeledProdResult", K::Byte, 1),
    t(2108, "мера количества предмета расчёта", "itemsQuantityMeasure", K::Byte, 1),
    t(2109, "ответ ОИСМ о статусе товара", "oismProdStatus", K::Byte, 1), // markcert name
    t(2110, "присвоенный статус товара", "assignedProdStatus", K::Byte, 1), // markcert name
    t(2111, "коды обработки уведомления", "notificationProcessingCode", K::Byte, 1), // markcert name
    t(2112, "признак некорректных кодов маркировки", "invalidLabelCodesSign", K::Byte, 1),
    t(2113, "признак некорректных запросов и уведомлений", "invalidRequestsNotificationsSign", K::Byte, 1),
    t(2114, "дата и время запроса", "requestDateTime", K::UnixTime, 4), // markcert name
    t(2115, "контрольный код КМ", "controlCode", K::String, 4),
    t(2116, "вид операции", "operationKind", K::Byte, 1), // markcert name
];

/// The table row of `tag`, if the model uses it.
pub fn tag_info(tag: u16) -> Option<&'static TagInfo> {
    TAGS.binary_search_by_key(&tag, |info| info.tag).ok().and_then(|i| TAGS.get(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(TAGS.windows(2).all(|w| w[0].tag < w[1].tag));
    }

    #[test]
    fn fixed_width_types_have_their_width() {
        for info in TAGS {
            let width = match info.ty {
                TagType::Byte => Some(1),
                TagType::U32 | TagType::UnixTime => Some(4),
                _ => None,
            };
            if let Some(width) = width {
                assert_eq!(info.max_len, width, "tag {}", info.tag);
            }
            assert!(info.max_len > 0 && !info.json.is_empty() && !info.name.is_empty());
        }
    }

    #[test]
    fn lookup() {
        let info = tag_info(2106).unwrap();
        assert_eq!(info.json, "checkingProdInformationResult");
        assert_eq!(info.ty, TagType::Byte);
        assert_eq!(tag_info(1163).unwrap().json, "productCodeNew");
        assert_eq!(tag_info(1023).unwrap().ty, TagType::Fvln);
        assert!(tag_info(1260).unwrap().repeatable);
        assert!(tag_info(9999).is_none());
        assert!(tag_info(0).is_none());
    }
}
