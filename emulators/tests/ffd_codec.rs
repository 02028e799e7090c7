//! The FFD 1.2 codec (spec `kkt.md` §2–§5): property round trips of arbitrary TLV trees and of every
//! document kind through the wire form, decoding of arbitrary bytes without panics, and insta snapshots
//! of the FNS JSON export (receipt, notification 82, request 81, answer 83, ticket 84, shift close) and
//! of the paper slip with the `[М+]`/`[М-]`/`[М]` marks (§4.7, §10.4).

use markcert_emulators::ffd::tags::{tag_info, TagType, TAGS};
use markcert_emulators::ffd::tlv::{decode, encode, Tlv, TlvError, TlvValue};
use markcert_emulators::ffd::{
    Document, DocumentHeader, FractionalQuantity, IndustryRequisite, ItemMarking, Kopecks, MarkingAnswer,
    MarkingRequest, Notification, NotificationItem, OperationType, Payments, ProductCode, Quantity, Receipt,
    ReceiptItem, ShiftReport, ShiftReportKind, Ticket,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

// ---------------------------------------------------------------------------------------------------
// Strategies

/// Text CP866 can write: ASCII (with ⟨GS⟩), Cyrillic, `№`, box drawing.
fn cp866_text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[ -~А-яЁё№░▓╬\u{1d}]{{0,{max}}}")).expect("valid regex")
}

fn digits(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[0-9]{{{min},{max}}}")).expect("valid regex")
}

/// Money that fits a 6-byte VLN.
fn money() -> impl Strategy<Value = Kopecks> {
    (0u64..1 << 48).prop_map(Kopecks)
}

fn quantity() -> impl Strategy<Value = Quantity> {
    (0u64..1 << 56, 0u8..=8).prop_map(|(mantissa, scale)| Quantity { mantissa, scale })
}

fn tags_of(ty: TagType) -> Vec<u16> {
    TAGS.iter().filter(|info| info.ty == ty).map(|info| info.tag).collect()
}

fn max_len(tag: u16) -> usize {
    tag_info(tag).map_or(0, |info| usize::from(info.max_len))
}

/// A leaf TLV of a known tag with a value of its type and length, or an unknown tag with bytes.
fn leaf() -> impl Strategy<Value = Tlv> {
    prop_oneof![
        (proptest::sample::select(tags_of(TagType::Byte)), any::<u8>()).prop_map(|(t, v)| Tlv::byte(t, v)),
        (proptest::sample::select(tags_of(TagType::U32)), any::<u32>()).prop_map(|(t, v)| Tlv::u32(t, v)),
        (proptest::sample::select(tags_of(TagType::UnixTime)), any::<u32>())
            .prop_map(|(t, v)| Tlv::unixtime(t, v)),
        proptest::sample::select(tags_of(TagType::Vln)).prop_flat_map(|t| {
            let bits = (8 * max_len(t)).min(64);
            let max = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
            (0..=max).prop_map(move |v| Tlv::vln(t, v))
        }),
        quantity().prop_map(|q| Tlv::fvln(1023, q)),
        proptest::sample::select(tags_of(TagType::String))
            .prop_flat_map(|t| cp866_text(max_len(t).min(12)).prop_map(move |s| Tlv::string(t, s))),
        vec(any::<u8>(), 0..=6).prop_map(|b| Tlv::bytes(1077, b)),
        (3000u16..=9999, vec(any::<u8>(), 0..12)).prop_map(|(t, b)| Tlv::bytes(t, b)),
    ]
}

/// TLV trees up to three STLV levels deep.
fn tree() -> impl Strategy<Value = Tlv> {
    leaf().prop_recursive(3, 40, 3, |inner| {
        (proptest::sample::select(tags_of(TagType::Stlv)), vec(inner, 0..=3))
            .prop_map(|(tag, children)| Tlv::stlv(tag, children))
    })
}

fn header() -> impl Strategy<Value = DocumentHeader> {
    (any::<u32>(), any::<u32>(), digits(16, 16), digits(16, 20), digits(10, 12), any::<u32>()).prop_map(
        |(number, local_time, fn_serial, kkt_reg_number, user_inn, fiscal_sign)| DocumentHeader {
            number,
            local_time,
            fn_serial,
            kkt_reg_number,
            user_inn,
            fiscal_sign,
        },
    )
}

fn industry() -> impl Strategy<Value = IndustryRequisite> {
    (cp866_text(3), cp866_text(10), cp866_text(32), cp866_text(60)).prop_map(
        |(foiv_id, doc_date, doc_number, value)| IndustryRequisite { foiv_id, doc_date, doc_number, value },
    )
}

fn fractional() -> impl Strategy<Value = FractionalQuantity> {
    (cp866_text(24), any::<u64>(), any::<u64>())
        .prop_map(|(part, numerator, denominator)| FractionalQuantity { part, numerator, denominator })
}

fn product_code() -> impl Strategy<Value = ProductCode> {
    let inner: Vec<u16> = (1300..=1309).chain(1320..=1325).collect();
    proptest::sample::select(inner)
        .prop_flat_map(|tag| cp866_text(max_len(tag)).prop_map(move |value| ProductCode { tag, value }))
}

fn operation() -> impl Strategy<Value = OperationType> {
    prop_oneof![Just(OperationType::Sale), Just(OperationType::SaleReturn)]
}

fn receipt_item() -> impl Strategy<Value = ReceiptItem> {
    let commercial =
        (cp866_text(40), money(), quantity(), money(), any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>());
    let marking = (
        proptest::option::of(money()),
        proptest::option::of(product_code()),
        proptest::option::of(cp866_text(4)),
        proptest::option::of(any::<u8>()),
        proptest::option::of(any::<u8>()),
        proptest::option::of(fractional()),
        vec(industry(), 0..=2),
        proptest::option::of(cp866_text(64)),
    );
    (commercial, marking).prop_map(
        |(
            (name, price, quantity, sum, measure, product_type, payment_type, vat_rate),
            (
                vat_sum,
                product_code,
                control_code,
                processing_mode,
                check_result,
                fractional,
                industry,
                additional,
            ),
        )| ReceiptItem {
            name,
            price,
            quantity,
            sum,
            measure,
            product_type,
            payment_type,
            vat_rate,
            vat_sum,
            product_code,
            control_code,
            processing_mode,
            check_result,
            fractional,
            industry,
            additional,
            marking: None,
        },
    )
}

fn receipt() -> impl Strategy<Value = Receipt> {
    let payments = (money(), money(), money(), money(), money()).prop_map(
        |(cash, electronic, prepaid, credit, other)| Payments { cash, electronic, prepaid, credit, other },
    );
    (
        (header(), any::<u32>(), any::<u32>(), operation(), any::<u8>()),
        (proptest::option::of(cp866_text(64)), proptest::option::of(digits(12, 12))),
        (vec(receipt_item(), 0..=4), money(), payments),
        (proptest::option::of(0u8..=1), vec(industry(), 0..=2)),
    )
        .prop_map(
            |(
                (header, shift_number, receipt_number, operation, taxation),
                (operator_name, operator_inn),
                (items, total, payments),
                (marking_check_result, industry),
            )| Receipt {
                header,
                shift_number,
                receipt_number,
                operation,
                taxation,
                operator_name,
                operator_inn,
                items,
                total,
                payments,
                marking_check_result,
                industry,
            },
        )
}

fn marking_request() -> impl Strategy<Value = MarkingRequest> {
    (
        (any::<u32>(), digits(10, 12), any::<u32>(), digits(16, 16), any::<u8>(), any::<u8>()),
        (
            proptest::option::of(quantity()),
            proptest::option::of(any::<u8>()),
            proptest::option::of(fractional()),
        ),
        (any::<u8>(), cp866_text(256), any::<u8>(), any::<u32>()),
    )
        .prop_map(
            |(
                (request_number, user_inn, local_time, fn_serial, local_check, planned_status),
                (quantity, measure, fractional),
                (code_type, marking_code, processing_mode, fiscal_sign),
            )| MarkingRequest {
                request_number,
                user_inn,
                local_time,
                fn_serial,
                local_check,
                planned_status,
                quantity,
                measure,
                fractional,
                code_type,
                marking_code,
                processing_mode,
                fiscal_sign,
            },
        )
}

fn marking_answer() -> impl Strategy<Value = MarkingAnswer> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u8>(),
        proptest::option::of(any::<u8>()),
        proptest::option::of(cp866_text(38)),
        any::<u8>(),
        proptest::option::of(any::<u8>()),
        any::<u8>(),
    )
        .prop_map(
            |(
                request_number,
                local_time,
                processing_code,
                code_type,
                item_id,
                result,
                item_status,
                processing_mode,
            )| {
                MarkingAnswer {
                    request_number,
                    local_time,
                    processing_code,
                    code_type,
                    item_id,
                    result,
                    item_status,
                    processing_mode,
                }
            },
        )
}

fn notification_item() -> impl Strategy<Value = NotificationItem> {
    (
        (cp866_text(90), any::<u8>(), cp866_text(38), cp866_text(4), any::<u8>(), any::<u8>()),
        (
            proptest::option::of(quantity()),
            proptest::option::of(any::<u8>()),
            proptest::option::of(fractional()),
        ),
        (any::<u8>(), any::<u8>(), cp866_text(40), money(), money(), any::<u8>(), money()),
        vec(industry(), 0..=1),
    )
        .prop_map(
            |(
                (marking_code, code_type, item_id, control_code, assigned_status, check_result),
                (quantity, measure, fractional),
                (processing_mode, payment_type, name, price, sum, vat_rate, vat_sum),
                industry,
            )| NotificationItem {
                marking_code,
                code_type,
                item_id,
                control_code,
                assigned_status,
                check_result,
                quantity,
                measure,
                fractional,
                processing_mode,
                payment_type,
                name,
                price,
                sum,
                vat_rate,
                vat_sum,
                industry,
            },
        )
}

fn notification() -> impl Strategy<Value = Notification> {
    (
        (any::<u32>(), any::<u32>(), digits(16, 16), proptest::option::of(digits(10, 12))),
        (any::<u8>(), operation(), any::<u8>()),
        (vec(notification_item(), 0..=3), vec(industry(), 0..=2), any::<u32>()),
    )
        .prop_map(
            |(
                (notification_number, local_time, fn_serial, user_inn),
                (taxation, operation, operation_kind),
                (items, industry, fiscal_sign),
            )| Notification {
                notification_number,
                local_time,
                fn_serial,
                user_inn,
                taxation,
                operation,
                operation_kind,
                items,
                industry,
                receipt_number: 0,
                fiscal_sign,
            },
        )
}

fn ticket() -> impl Strategy<Value = Ticket> {
    (any::<u32>(), any::<u32>(), any::<u8>(), proptest::option::of(any::<u8>())).prop_map(
        |(notification_number, local_time, result, items_result)| Ticket {
            notification_number,
            local_time,
            result,
            items_result,
        },
    )
}

fn shift_report() -> impl Strategy<Value = ShiftReport> {
    (
        header(),
        prop_oneof![Just(ShiftReportKind::Open), Just(ShiftReportKind::Close)],
        any::<u32>(),
        proptest::option::of(cp866_text(64)),
        any::<u32>(),
        (
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u8>()),
            proptest::option::of(any::<u8>()),
        ),
    )
        .prop_map(
            |(
                header,
                kind,
                shift_number,
                operator_name,
                receipts,
                (unsent_notifications, incorrect_codes, incorrect_requests),
            )| {
                ShiftReport {
                    header,
                    kind,
                    shift_number,
                    operator_name,
                    // 1118 is a requisite of the close report only.
                    receipts_in_shift: if kind == ShiftReportKind::Close { receipts } else { 0 },
                    unsent_notifications,
                    incorrect_codes,
                    incorrect_requests,
                }
            },
        )
}

fn document() -> impl Strategy<Value = Document> {
    prop_oneof![
        receipt().prop_map(Document::Receipt),
        marking_request().prop_map(Document::MarkingRequest),
        marking_answer().prop_map(Document::MarkingAnswer),
        notification().prop_map(Document::Notification),
        ticket().prop_map(Document::Ticket),
        shift_report().prop_map(Document::ShiftReport),
    ]
}

fn doc_type() -> impl Strategy<Value = u16> {
    proptest::sample::select(vec![2u16, 3, 5, 81, 82, 83, 84])
}

/// Bytes that look like TLVs of known tags (with lengths that may lie), to reach the typed paths.
fn tlv_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let tags: Vec<u16> = TAGS.iter().map(|info| info.tag).collect();
    vec((proptest::sample::select(tags), 0u16..40, vec(any::<u8>(), 0..40)), 0..8).prop_map(|parts| {
        let mut bytes = Vec::new();
        for (tag, len, value) in parts {
            bytes.extend_from_slice(&tag.to_le_bytes());
            bytes.extend_from_slice(&len.to_le_bytes());
            bytes.extend_from_slice(&value);
        }
        bytes
    })
}

// ---------------------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn tlv_tree_round_trip(trees in vec(tree(), 0..4)) {
        match encode(&trees) {
            Ok(bytes) => prop_assert_eq!(decode(&bytes).unwrap(), trees),
            // Random nesting can outgrow a small STLV (1291 holds 52 bytes): refused, never written.
            Err(e) => prop_assert!(matches!(e, TlvError::TooLong { .. }), "{e}"),
        }
    }

    #[test]
    fn flat_tlv_lists_always_encode(leaves in vec(leaf(), 0..20)) {
        let bytes = encode(&leaves).unwrap();
        prop_assert_eq!(decode(&bytes).unwrap(), leaves);
    }

    #[test]
    fn characters_outside_cp866_are_refused(
        prefix in cp866_text(10),
        ch in prop_oneof![Just('€'), Just('😀'), Just('ł'), Just('中')],
    ) {
        let text = format!("{prefix}{ch}");
        prop_assert_eq!(encode(&[Tlv::string(1030, text)]), Err(TlvError::Unencodable { tag: 1030, ch }));
    }

    #[test]
    fn document_round_trip(doc in document()) {
        let bytes = doc.to_tlv_bytes().unwrap();
        prop_assert_eq!(Document::from_tlv_bytes(doc.ffd_type(), &bytes).unwrap(), doc);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512), doc_type in doc_type()) {
        let _ = Document::from_tlv_bytes(doc_type, &bytes);
        if let Ok(tlvs) = decode(&bytes) {
            // Whatever decodes re-encodes, and reads back the same.
            prop_assert_eq!(decode(&encode(&tlvs).unwrap()).unwrap(), tlvs);
        }
    }

    #[test]
    fn tlv_like_bytes_never_panic(bytes in tlv_like_bytes(), doc_type in doc_type()) {
        let _ = Document::from_tlv_bytes(doc_type, &bytes);
        if let Ok(tlvs) = decode(&bytes) {
            prop_assert_eq!(decode(&encode(&tlvs).unwrap()).unwrap(), tlvs);
        }
    }
}

#[test]
fn most_random_trees_are_encodable() {
    // Guards the coverage of `tlv_tree_round_trip`, which skips trees that outgrow an STLV.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = tree();
    let (mut encodable, mut nested) = (0, 0);
    for _ in 0..500 {
        let tree = strategy.new_tree(&mut runner).expect("strategy").current();
        if encode(std::slice::from_ref(&tree)).is_ok() {
            encodable += 1;
            let children = tree.value.as_stlv().unwrap_or_default();
            if children.iter().any(|c| c.value.as_stlv().is_some()) {
                nested += 1;
            }
        }
    }
    assert!(encodable >= 350 && nested >= 50, "{encodable} encodable, {nested} nested");
}

#[test]
fn decoded_values_take_the_table_type() {
    let bytes = encode(&[Tlv::byte(2106, 15), Tlv::vln(1043, 9490), Tlv::string(1030, "Молоко")]).unwrap();
    let values: Vec<TagType> = decode(&bytes).unwrap().iter().map(|t| t.value.ty()).collect();
    assert_eq!(values, [TagType::Byte, TagType::Vln, TagType::String]);
    assert_eq!(decode(&bytes).unwrap()[2].value, TlvValue::String("Молоко".to_owned()));
}

// ---------------------------------------------------------------------------------------------------
// Samples and snapshots

/// 2023-11-21 14:05:00, local time of the KKT.
const LOCAL: u32 = 1_700_575_500;
const FN_SERIAL: &str = "7380440700123456";
const INN: &str = "7701000019";

const MILK: &str = "0104612345000438215aZ;q0\u{1d}93Jm4t";
const SHOES: &str =
    "0104612345000742215Rt;K8m'Qz2w_\u{1d}91EE07\u{1d}92fnM34GrkagZlCyLK4hzkXeL5wTxJfOd8H/NJCBwAEjk=";

fn permissive_1260(uuid: &str, time_ms: u64) -> IndustryRequisite {
    IndustryRequisite {
        foiv_id: "030".to_owned(),
        doc_date: "21.11.2023".to_owned(),
        doc_number: "1944".to_owned(),
        value: format!("UUID={uuid}&Time={time_ms}"),
    }
}

fn sample_receipt() -> Receipt {
    let milk = ReceiptItem {
        name: "Молоко пастеризованное 3,2% 930 мл".to_owned(),
        price: Kopecks(9490),
        quantity: Quantity::whole(1),
        sum: Kopecks(9490),
        measure: 0,
        product_type: 33,
        payment_type: 4,
        vat_rate: 2,
        vat_sum: Some(Kopecks(863)),
        product_code: Some(ProductCode { tag: 1305, value: "0104612345000438215aZ;q0".to_owned() }),
        control_code: Some("3F1A".to_owned()),
        processing_mode: Some(0),
        check_result: Some(15),
        fractional: None,
        industry: vec![permissive_1260("25cd22e1-af86-4a28-a0c2-8696e5ea1b8e", 1_700_575_480_610)],
        additional: None,
        marking: Some(ItemMarking {
            code: MILK.to_owned(),
            code_type: 5,
            item_id: "0104612345000438215aZ;q0".to_owned(),
            assigned_status: 1,
        }),
    };
    let shoes = ReceiptItem {
        name: "Кроссовки беговые".to_owned(),
        price: Kopecks(459_900),
        quantity: Quantity::whole(1),
        sum: Kopecks(459_900),
        measure: 0,
        product_type: 33,
        payment_type: 4,
        vat_rate: 1,
        vat_sum: Some(Kopecks(76_650)),
        product_code: Some(ProductCode { tag: 1305, value: "0104612345000742215Rt;K8m'Qz2w_".to_owned() }),
        control_code: Some("B07C".to_owned()),
        processing_mode: Some(0),
        check_result: Some(7),
        fractional: None,
        industry: vec![],
        additional: None,
        marking: None,
    };
    let bread = ReceiptItem {
        name: "Хлеб".to_owned(),
        price: Kopecks(5500),
        quantity: Quantity { mantissa: 1500, scale: 3 },
        sum: Kopecks(8250),
        measure: 11,
        product_type: 1,
        payment_type: 4,
        vat_rate: 2,
        vat_sum: Some(Kopecks(750)),
        product_code: None,
        control_code: None,
        processing_mode: None,
        check_result: None,
        fractional: None,
        industry: vec![],
        additional: Some("весовой".to_owned()),
        marking: None,
    };
    Receipt {
        header: DocumentHeader {
            number: 123,
            local_time: LOCAL,
            fn_serial: FN_SERIAL.to_owned(),
            kkt_reg_number: "0000000001012345".to_owned(),
            user_inn: INN.to_owned(),
            fiscal_sign: 987_654_321,
        },
        shift_number: 12,
        receipt_number: 3,
        operation: OperationType::Sale,
        taxation: 1,
        operator_name: Some("Иванова А.П.".to_owned()),
        operator_inn: None,
        items: vec![milk, shoes, bread],
        total: Kopecks(477_640),
        payments: Payments { cash: Kopecks(10_000), electronic: Kopecks(467_640), ..Payments::default() },
        marking_check_result: Some(1),
        industry: vec![],
    }
}

fn sample_notification() -> Notification {
    let r = sample_receipt();
    let items = r
        .items
        .iter()
        .zip([(MILK, 5), (SHOES, 4)])
        .map(|(item, (code, code_type))| NotificationItem {
            marking_code: code.to_owned(),
            code_type,
            item_id: item.product_code.as_ref().map(|c| c.value.clone()).unwrap_or_default(),
            control_code: item.control_code.clone().unwrap_or_default(),
            assigned_status: 1,
            check_result: item.check_result.unwrap_or(0),
            quantity: None,
            measure: None,
            fractional: None,
            processing_mode: 0,
            payment_type: item.payment_type,
            name: item.name.clone(),
            price: item.price,
            sum: item.sum,
            vat_rate: item.vat_rate,
            vat_sum: item.vat_sum.unwrap_or_default(),
            industry: item.industry.clone(),
        })
        .collect();
    Notification {
        notification_number: 41,
        local_time: LOCAL,
        fn_serial: FN_SERIAL.to_owned(),
        user_inn: Some(INN.to_owned()),
        taxation: 1,
        operation: OperationType::Sale,
        operation_kind: 1,
        items,
        industry: vec![],
        receipt_number: 123,
        fiscal_sign: 1_234_567_890,
    }
}

fn sample_request() -> MarkingRequest {
    MarkingRequest {
        request_number: 17,
        user_inn: INN.to_owned(),
        local_time: LOCAL - 20,
        fn_serial: FN_SERIAL.to_owned(),
        local_check: 3,
        planned_status: 1,
        quantity: None,
        measure: None,
        fractional: None,
        code_type: 4,
        marking_code: SHOES.to_owned(),
        processing_mode: 0,
        fiscal_sign: 3_141_592_653,
    }
}

fn sample_answer() -> MarkingAnswer {
    MarkingAnswer {
        request_number: 17,
        local_time: LOCAL - 20,
        processing_code: 0,
        code_type: Some(4),
        item_id: Some("0104612345000742215Rt;K8m'Qz2w_".to_owned()),
        result: 7,
        item_status: Some(2),
        processing_mode: 0,
    }
}

fn sample_ticket() -> Ticket {
    Ticket { notification_number: 41, local_time: LOCAL + 5, result: 0, items_result: Some(1) }
}

fn sample_shift_close() -> ShiftReport {
    ShiftReport {
        header: DocumentHeader {
            number: 130,
            local_time: LOCAL + 8 * 3600,
            fn_serial: FN_SERIAL.to_owned(),
            kkt_reg_number: "0000000001012345".to_owned(),
            user_inn: INN.to_owned(),
            fiscal_sign: 2_718_281_828,
        },
        kind: ShiftReportKind::Close,
        shift_number: 12,
        operator_name: Some("Иванова А.П.".to_owned()),
        receipts_in_shift: 5,
        unsent_notifications: Some(0),
        incorrect_codes: Some(0),
        incorrect_requests: Some(1),
    }
}

#[test]
fn samples_round_trip_without_the_kkt_side_fields() {
    let receipt = sample_receipt();
    let back =
        Document::from_tlv_bytes(3, &Document::Receipt(receipt.clone()).to_tlv_bytes().unwrap()).unwrap();
    let mut expected = receipt;
    expected.items.iter_mut().for_each(|item| item.marking = None);
    assert_eq!(back, Document::Receipt(expected));

    let notification = sample_notification();
    let bytes = Document::Notification(notification.clone()).to_tlv_bytes().unwrap();
    let back = Document::from_tlv_bytes(82, &bytes).unwrap();
    assert_eq!(back, Document::Notification(Notification { receipt_number: 0, ..notification }));

    for doc in [
        Document::MarkingRequest(sample_request()),
        Document::MarkingAnswer(sample_answer()),
        Document::Ticket(sample_ticket()),
        Document::ShiftReport(sample_shift_close()),
    ] {
        let bytes = doc.to_tlv_bytes().unwrap();
        assert_eq!(Document::from_tlv_bytes(doc.ffd_type(), &bytes).unwrap(), doc);
    }
}

#[test]
fn the_1260_of_the_sample_is_byte_exact() {
    let item = sample_receipt().items.remove(0).to_tlv();
    let TlvValue::Stlv(children) = item.value else { panic!("1059 is an STLV") };
    let industry: Vec<Tlv> = children.into_iter().filter(|t| t.tag == 1260).collect();
    let bytes = encode(&industry).unwrap();
    // A 60-character 1265: 93 bytes of 1262 + 1263 + 1264 + 1265.
    assert_eq!(bytes[..4], [0xec, 0x04, 0x5d, 0x00]);
    assert_eq!(bytes[4..11], [0xee, 0x04, 0x03, 0x00, 0x30, 0x33, 0x30]);
}

#[test]
fn receipt_fns_json() {
    insta::assert_json_snapshot!("receipt_fns_json", Document::Receipt(sample_receipt()).to_fns_json());
}

#[test]
fn notification_fns_json() {
    insta::assert_json_snapshot!(
        "notification_82_fns_json",
        Document::Notification(sample_notification()).to_fns_json()
    );
}

#[test]
fn request_answer_ticket_fns_json() {
    insta::assert_json_snapshot!(
        "request_81_fns_json",
        Document::MarkingRequest(sample_request()).to_fns_json()
    );
    insta::assert_json_snapshot!(
        "answer_83_fns_json",
        Document::MarkingAnswer(sample_answer()).to_fns_json()
    );
    insta::assert_json_snapshot!("ticket_84_fns_json", Document::Ticket(sample_ticket()).to_fns_json());
    insta::assert_json_snapshot!(
        "shift_close_fns_json",
        Document::ShiftReport(sample_shift_close()).to_fns_json()
    );
}

#[test]
fn receipt_paper() {
    let paper = Document::Receipt(sample_receipt()).to_paper();
    assert!(paper.lines().all(|line| line.chars().count() <= 42), "{paper}");
    assert!(paper.contains("[М+] Молоко"));
    assert!(paper.contains("[М-] Кроссовки"));
    assert!(!paper.contains("] Хлеб"));
    insta::assert_snapshot!("receipt_paper", paper);
}

#[test]
fn other_documents_on_paper() {
    let lines = [
        Document::MarkingRequest(sample_request()),
        Document::MarkingAnswer(sample_answer()),
        Document::Notification(sample_notification()),
        Document::Ticket(sample_ticket()),
        Document::ShiftReport(sample_shift_close()),
    ]
    .iter()
    .map(Document::to_paper)
    .collect::<String>();
    insta::assert_snapshot!("other_documents_paper", lines);
}
