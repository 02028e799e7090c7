//! Documents ↔ TLV requisites (spec `kkt.md` §5): each document struct to a `Vec<Tlv>` in the order of
//! §5.1–§5.5 (receipts in the usual order: header, positions, totals, payments, fiscal sign) and back.
//!
//! Encoding omits every `None`. Not everything in the model is a requisite, so some fields do not
//! survive a round trip and come back from decoding as:
//!
//! - [`ReceiptItem::marking`] (the KKT's record of the checked КМ): `None`;
//! - [`Notification::receipt_number`] (the receipt the notification reports): `0`;
//! - [`ShiftReport::receipts_in_shift`] of an *open* report (1118 is written on the close report only): `0`.
//!
//! The fiscal sign (1077, ФПД) is written as its 6 bytes: two zero bytes, then the `u32` big-endian, so
//! that FNS JSON reads it back as the same integer. Decoding ignores tags a document does not use and
//! takes the first of a repeated non-repeatable tag.

use thiserror::Error;

use super::document::{
    Document, DocumentHeader, FractionalQuantity, IndustryRequisite, Kopecks, MarkingAnswer, MarkingRequest,
    Notification, NotificationItem, OperationType, Payments, ProductCode, Receipt, ReceiptItem, ShiftReport,
    ShiftReportKind, Ticket,
};
use super::tags::{tag_info, TagType};
use super::tlv::{self, Tlv, TlvError, TlvValue};

/// Why requisites do not make a document.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DocumentError {
    /// The bytes are not a valid TLV list.
    #[error(transparent)]
    Tlv(#[from] TlvError),
    /// The document type is none of 2, 3, 5, 81, 82, 83, 84.
    #[error("unknown document type {0}")]
    UnknownType(u16),
    /// A mandatory requisite is absent.
    #[error("tag {tag} is missing")]
    Missing {
        /// The tag.
        tag: u16,
    },
    /// A requisite has a value of another type than the tag table's.
    #[error("tag {tag}: expected a {expected:?} value, found {found:?}")]
    WrongType {
        /// The tag.
        tag: u16,
        /// The table's type.
        expected: TagType,
        /// The value's type.
        found: TagType,
    },
    /// A requisite's value is outside what the model can hold.
    #[error("tag {tag}: {what}")]
    Invalid {
        /// The tag.
        tag: u16,
        /// What is wrong.
        what: &'static str,
    },
}

impl Document {
    /// The document's requisites (without the enclosing document-type TLV; see [`Document::ffd_type`]).
    pub fn to_tlv(&self) -> Vec<Tlv> {
        match self {
            Document::Receipt(d) => d.to_tlv(),
            Document::MarkingRequest(d) => d.to_tlv(),
            Document::MarkingAnswer(d) => d.to_tlv(),
            Document::Notification(d) => d.to_tlv(),
            Document::Ticket(d) => d.to_tlv(),
            Document::ShiftReport(d) => d.to_tlv(),
        }
    }

    /// The document's requisites on the wire.
    pub fn to_tlv_bytes(&self) -> Result<Vec<u8>, TlvError> {
        tlv::encode(&self.to_tlv())
    }

    /// A document of FFD type `doc_type` (as [`Document::ffd_type`] gives it) from its requisites.
    pub fn from_tlv(doc_type: u16, tlvs: &[Tlv]) -> Result<Document, DocumentError> {
        Ok(match doc_type {
            3 => Document::Receipt(Receipt::from_tlv(tlvs)?),
            81 => Document::MarkingRequest(MarkingRequest::from_tlv(tlvs)?),
            83 => Document::MarkingAnswer(MarkingAnswer::from_tlv(tlvs)?),
            82 => Document::Notification(Notification::from_tlv(tlvs)?),
            84 => Document::Ticket(Ticket::from_tlv(tlvs)?),
            2 => Document::ShiftReport(ShiftReport::from_tlv(ShiftReportKind::Open, tlvs)?),
            5 => Document::ShiftReport(ShiftReport::from_tlv(ShiftReportKind::Close, tlvs)?),
            other => return Err(DocumentError::UnknownType(other)),
        })
    }

    /// A document of FFD type `doc_type` from its requisites on the wire.
    pub fn from_tlv_bytes(doc_type: u16, bytes: &[u8]) -> Result<Document, DocumentError> {
        if !matches!(doc_type, 2 | 3 | 5 | 81 | 82 | 83 | 84) {
            return Err(DocumentError::UnknownType(doc_type));
        }
        Document::from_tlv(doc_type, &tlv::decode(bytes)?)
    }
}

impl Receipt {
    /// Requisites of the receipt: header, 1038, 1042, 1054, 1055, `[1021]`, `[1203]`, 1059 × n, 1020, the
    /// five payment sums, `[2107]`, 1261 × n, 1077.
    pub fn to_tlv(&self) -> Vec<Tlv> {
        let mut out = header_to_tlv(&self.header);
        out.push(Tlv::u32(1038, self.shift_number));
        out.push(Tlv::u32(1042, self.receipt_number));
        out.push(Tlv::byte(1054, self.operation.code()));
        out.push(Tlv::byte(1055, self.taxation));
        out.extend(self.operator_name.as_ref().map(|s| Tlv::string(1021, s.as_str())));
        out.extend(self.operator_inn.as_ref().map(|s| Tlv::string(1203, s.as_str())));
        out.extend(self.items.iter().map(ReceiptItem::to_tlv));
        out.push(Tlv::vln(1020, self.total.0));
        let p = &self.payments;
        out.push(Tlv::vln(1031, p.cash.0));
        out.push(Tlv::vln(1081, p.electronic.0));
        out.push(Tlv::vln(1215, p.prepaid.0));
        out.push(Tlv::vln(1216, p.credit.0));
        out.push(Tlv::vln(1217, p.other.0));
        out.extend(self.marking_check_result.map(|v| Tlv::byte(2107, v)));
        out.extend(self.industry.iter().map(|r| industry_to_tlv(1261, r)));
        out.push(fiscal_sign_to_tlv(self.header.fiscal_sign));
        out
    }

    /// The receipt from its requisites.
    pub fn from_tlv(tlvs: &[Tlv]) -> Result<Receipt, DocumentError> {
        let f = Fields(tlvs);
        Ok(Receipt {
            header: header_from(&f)?,
            shift_number: f.req(1038, TlvValue::as_u32)?,
            receipt_number: f.req(1042, TlvValue::as_u32)?,
            operation: operation_from(&f)?,
            taxation: f.req(1055, TlvValue::as_byte)?,
            operator_name: f.opt(1021, TlvValue::as_str)?.map(str::to_owned),
            operator_inn: f.opt(1203, TlvValue::as_str)?.map(str::to_owned),
            items: f.all(1059)?.into_iter().map(ReceiptItem::from_tlv).collect::<Result<_, _>>()?,
            total: Kopecks(f.req(1020, TlvValue::as_vln)?),
            payments: Payments {
                cash: money(&f, 1031)?,
                electronic: money(&f, 1081)?,
                prepaid: money(&f, 1215)?,
                credit: money(&f, 1216)?,
                other: money(&f, 1217)?,
            },
            marking_check_result: f.opt(2107, TlvValue::as_byte)?,
            industry: industry_from(&f, 1261)?,
        })
    }
}

impl ReceiptItem {
    /// The STLV 1059: 1030, 1079, 1023, 1043, 2108, 1212, 1214, 1199, `[1200]`, `[1163]`, `[2102]`, `[2106]`,
    /// `[1291]`, 1260 × n, `[1191]`, `[2115]`.
    pub fn to_tlv(&self) -> Tlv {
        let mut out = vec![
            Tlv::string(1030, self.name.as_str()),
            Tlv::vln(1079, self.price.0),
            Tlv::fvln(1023, self.quantity),
            Tlv::vln(1043, self.sum.0),
            Tlv::byte(2108, self.measure),
            Tlv::byte(1212, self.product_type),
            Tlv::byte(1214, self.payment_type),
            Tlv::byte(1199, self.vat_rate),
        ];
        out.extend(self.vat_sum.map(|v| Tlv::vln(1200, v.0)));
        out.extend(self.product_code.as_ref().map(product_code_to_tlv));
        out.extend(self.processing_mode.map(|v| Tlv::byte(2102, v)));
        out.extend(self.check_result.map(|v| Tlv::byte(2106, v)));
        out.extend(self.fractional.as_ref().map(fractional_to_tlv));
        out.extend(self.industry.iter().map(|r| industry_to_tlv(1260, r)));
        out.extend(self.additional.as_ref().map(|s| Tlv::string(1191, s.as_str())));
        out.extend(self.control_code.as_ref().map(|s| Tlv::string(2115, s.as_str())));
        Tlv::stlv(1059, out)
    }

    /// The item from the children of its 1059 (`marking` comes back `None`).
    pub fn from_tlv(tlvs: &[Tlv]) -> Result<ReceiptItem, DocumentError> {
        let f = Fields(tlvs);
        Ok(ReceiptItem {
            name: f.req(1030, TlvValue::as_str)?.to_owned(),
            price: money(&f, 1079)?,
            quantity: f.req(1023, TlvValue::as_fvln)?,
            sum: money(&f, 1043)?,
            measure: f.req(2108, TlvValue::as_byte)?,
            product_type: f.req(1212, TlvValue::as_byte)?,
            payment_type: f.req(1214, TlvValue::as_byte)?,
            vat_rate: f.req(1199, TlvValue::as_byte)?,
            vat_sum: f.opt(1200, TlvValue::as_vln)?.map(Kopecks),
            product_code: f.opt(1163, TlvValue::as_stlv)?.map(product_code_from).transpose()?,
            control_code: f.opt(2115, TlvValue::as_str)?.map(str::to_owned),
            processing_mode: f.opt(2102, TlvValue::as_byte)?,
            check_result: f.opt(2106, TlvValue::as_byte)?,
            fractional: f.opt(1291, TlvValue::as_stlv)?.map(fractional_from).transpose()?,
            industry: industry_from(&f, 1260)?,
            additional: f.opt(1191, TlvValue::as_str)?.map(str::to_owned),
            marking: None,
        })
    }
}

impl MarkingRequest {
    /// Requisites of request 81 (§5.1): 2001, 1018, 2114, 1041, 2004, 2003, `[1023]`, `[2108]`, `[1291]`,
    /// 2100, 2000, 2102, 1077.
    pub fn to_tlv(&self) -> Vec<Tlv> {
        let mut out = vec![
            Tlv::u32(2001, self.request_number),
            Tlv::string(1018, self.user_inn.as_str()),
            Tlv::unixtime(2114, self.local_time),
            Tlv::string(1041, self.fn_serial.as_str()),
            Tlv::byte(2004, self.local_check),
            Tlv::byte(2003, self.planned_status),
        ];
        out.extend(self.quantity.map(|q| Tlv::fvln(1023, q)));
        out.extend(self.measure.map(|v| Tlv::byte(2108, v)));
        out.extend(self.fractional.as_ref().map(fractional_to_tlv));
        out.push(Tlv::byte(2100, self.code_type));
        out.push(Tlv::string(2000, self.marking_code.as_str()));
        out.push(Tlv::byte(2102, self.processing_mode));
        out.push(fiscal_sign_to_tlv(self.fiscal_sign));
        out
    }

    /// Request 81 from its requisites.
    pub fn from_tlv(tlvs: &[Tlv]) -> Result<MarkingRequest, DocumentError> {
        let f = Fields(tlvs);
        Ok(MarkingRequest {
            request_number: f.req(2001, TlvValue::as_u32)?,
            user_inn: f.req(1018, TlvValue::as_str)?.to_owned(),
            local_time: f.req(2114, TlvValue::as_unixtime)?,
            fn_serial: f.req(1041, TlvValue::as_str)?.to_owned(),
            local_check: f.req(2004, TlvValue::as_byte)?,
            planned_status: f.req(2003, TlvValue::as_byte)?,
            quantity: f.opt(1023, TlvValue::as_fvln)?,
            measure: f.opt(2108, TlvValue::as_byte)?,
            fractional: f.opt(1291, TlvValue::as_stlv)?.map(fractional_from).transpose()?,
            code_type: f.req(2100, TlvValue::as_byte)?,
            marking_code: f.req(2000, TlvValue::as_str)?.to_owned(),
            processing_mode: f.req(2102, TlvValue::as_byte)?,
            fiscal_sign: fiscal_sign_from(&f)?,
        })
    }
}

impl MarkingAnswer {
    /// Requisites of answer 83 (§5.2): 2001, 2114, 2102, `[2100]`, `[2109]`, `[2101]`, 2105, 2005.
    pub fn to_tlv(&self) -> Vec<Tlv> {
        let mut out = vec![
            Tlv::u32(2001, self.request_number),
            Tlv::unixtime(2114, self.local_time),
            Tlv::byte(2102, self.processing_mode),
        ];
        out.extend(self.code_type.map(|v| Tlv::byte(2100, v)));
        out.extend(self.item_status.map(|v| Tlv::byte(2109, v)));
        out.extend(self.item_id.as_ref().map(|s| Tlv::string(2101, s.as_str())));
        out.push(Tlv::byte(2105, self.processing_code));
        out.push(Tlv::byte(2005, self.result));
        out
    }

    /// Answer 83 from its requisites.
    pub fn from_tlv(tlvs: &[Tlv]) -> Result<MarkingAnswer, DocumentError> {
        let f = Fields(tlvs);
        Ok(MarkingAnswer {
            request_number: f.req(2001, TlvValue::as_u32)?,
            local_time: f.req(2114, TlvValue::as_unixtime)?,
            processing_code: f.req(2105, TlvValue::as_byte)?,
            code_type: f.opt(2100, TlvValue::as_byte)?,
            item_id: f.opt(2101, TlvValue::as_str)?.map(str::to_owned),
            result: f.req(2005, TlvValue::as_byte)?,
            item_status: f.opt(2109, TlvValue::as_byte)?,
            processing_mode: f.req(2102, TlvValue::as_byte)?,
        })
    }
}

impl Notification {
    /// Requisites of notification 82 (§5.3): 2002, 1012, 1041, `[1018]`, 1055, 1054, 2116, 2007 × n,
    /// 1261 × n, 1077.
    pub fn to_tlv(&self) -> Vec<Tlv> {
        let mut out = vec![
            Tlv::u32(2002, self.notification_number),
            Tlv::unixtime(1012, self.local_time),
            Tlv::string(1041, self.fn_serial.as_str()),
        ];
        out.extend(self.user_inn.as_ref().map(|s| Tlv::string(1018, s.as_str())));
        out.push(Tlv::byte(1055, self.taxation));
        out.push(Tlv::byte(1054, self.operation.code()));
        out.push(Tlv::byte(2116, self.operation_kind));
        out.extend(self.items.iter().map(NotificationItem::to_tlv));
        out.extend(self.industry.iter().map(|r| industry_to_tlv(1261, r)));
        out.push(fiscal_sign_to_tlv(self.fiscal_sign));
        out
    }

    /// Notification 82 from its requisites (`receipt_number` comes back 0).
    pub fn from_tlv(tlvs: &[Tlv]) -> Result<Notification, DocumentError> {
        let f = Fields(tlvs);
        Ok(Notification {
            notification_number: f.req(2002, TlvValue::as_u32)?,
            local_time: f.req(1012, TlvValue::as_unixtime)?,
            fn_serial: f.req(1041, TlvValue::as_str)?.to_owned(),
            user_inn: f.opt(1018, TlvValue::as_str)?.map(str::to_owned),
            taxation: f.req(1055, TlvValue::as_byte)?,
            operation: operation_from(&f)?,
            operation_kind: f.req(2116, TlvValue::as_byte)?,
            items: f.all(2007)?.into_iter().map(NotificationItem::from_tlv).collect::<Result<_, _>>()?,
            industry: industry_from(&f, 1261)?,
            receipt_number: 0,
            fiscal_sign: fiscal_sign_from(&f)?,
        })
    }
}

impl NotificationItem {
    /// The STLV 2007 (§5.3): 2000, 2100, 2101, 2115, 2110, 2106, `[1023]`, `[2108]`, `[1291]`, 2102, 1214,
    /// 1030, 1079, 1043, 1199, 1200, 1260 × n.
    pub fn to_tlv(&self) -> Tlv {
        let mut out = vec![
            Tlv::string(2000, self.marking_code.as_str()),
            Tlv::byte(2100, self.code_type),
            Tlv::string(2101, self.item_id.as_str()),
            Tlv::string(2115, self.control_code.as_str()),
            Tlv::byte(2110, self.assigned_status),
            Tlv::byte(2106, self.check_result),
        ];
        out.extend(self.quantity.map(|q| Tlv::fvln(1023, q)));
        out.extend(self.measure.map(|v| Tlv::byte(2108, v)));
        out.extend(self.fractional.as_ref().map(fractional_to_tlv));
        out.extend([
            Tlv::byte(2102, self.processing_mode),
            Tlv::byte(1214, self.payment_type),
            Tlv::string(1030, self.name.as_str()),
            Tlv::vln(1079, self.price.0),
            Tlv::vln(1043, self.sum.0),
            Tlv::byte(1199, self.vat_rate),
            Tlv::vln(1200, self.vat_sum.0),
        ]);
        out.extend(self.industry.iter().map(|r| industry_to_tlv(1260, r)));
        Tlv::stlv(2007, out)
    }

    /// The item from the children of its 2007.
    pub fn from_tlv(tlvs: &[Tlv]) -> Result<NotificationItem, DocumentError> {
        let f = Fields(tlvs);
        Ok(NotificationItem {
            marking_code: f.req(2000, TlvValue::as_str)?.to_owned(),
            code_type: f.req(2100, TlvValue::as_byte)?,
            item_id: f.req(2101, TlvValue::as_str)?.to_owned(),
            control_code: f.req(2115, TlvValue::as_str)?.to_owned(),
            assigned_status: f.req(2110, TlvValue::as_byte)?,
            check_result: f.req(2106, TlvValue::as_byte)?,
            quantity: f.opt(1023, TlvValue::as_fvln)?,
            measure: f.opt(2108, TlvValue::as_byte)?,
            fractional: f.opt(1291, TlvValue::as_stlv)?.map(fractional_from).transpose()?,
            processing_mode: f.req(2102, TlvValue::as_byte)?,
            payment_type: f.req(1214, TlvValue::as_byte)?,
            name: f.req(1030, TlvValue::as_str)?.to_owned(),
            price: money(&f, 1079)?,
            sum: money(&f, 1043)?,
            vat_rate: f.req(1199, TlvValue::as_byte)?,
            vat_sum: money(&f, 1200)?,
            industry: industry_from(&f, 1260)?,
        })
    }
}

impl Ticket {
    /// Requisites of ticket 84 (§5.4): 2002, 1012, 2111, `[2006]`.
    pub fn to_tlv(&self) -> Vec<Tlv> {
        let mut out = vec![
            Tlv::u32(2002, self.notification_number),
            Tlv::unixtime(1012, self.local_time),
            Tlv::byte(2111, self.result),
        ];
        out.extend(self.items_result.map(|v| Tlv::byte(2006, v)));
        out
    }

    /// Ticket 84 from its requisites.
    pub fn from_tlv(tlvs: &[Tlv]) -> Result<Ticket, DocumentError> {
        let f = Fields(tlvs);
        Ok(Ticket {
            notification_number: f.req(2002, TlvValue::as_u32)?,
            local_time: f.req(1012, TlvValue::as_unixtime)?,
            result: f.req(2111, TlvValue::as_byte)?,
            items_result: f.opt(2006, TlvValue::as_byte)?,
        })
    }
}

impl ShiftReport {
    /// Requisites of the shift report: header, 1038, `[1021]`, 1118 (close only), `[2104]`, `[2112]`,
    /// `[2113]` (§5.5), 1077.
    pub fn to_tlv(&self) -> Vec<Tlv> {
        let mut out = header_to_tlv(&self.header);
        out.push(Tlv::u32(1038, self.shift_number));
        out.extend(self.operator_name.as_ref().map(|s| Tlv::string(1021, s.as_str())));
        if self.kind == ShiftReportKind::Close {
            out.push(Tlv::u32(1118, self.receipts_in_shift));
        }
        out.extend(self.unsent_notifications.map(|v| Tlv::u32(2104, v)));
        out.extend(self.incorrect_codes.map(|v| Tlv::byte(2112, v)));
        out.extend(self.incorrect_requests.map(|v| Tlv::byte(2113, v)));
        out.push(fiscal_sign_to_tlv(self.header.fiscal_sign));
        out
    }

    /// A shift report of `kind` from its requisites (an open report's `receipts_in_shift` comes back 0).
    pub fn from_tlv(kind: ShiftReportKind, tlvs: &[Tlv]) -> Result<ShiftReport, DocumentError> {
        let f = Fields(tlvs);
        Ok(ShiftReport {
            header: header_from(&f)?,
            kind,
            shift_number: f.req(1038, TlvValue::as_u32)?,
            operator_name: f.opt(1021, TlvValue::as_str)?.map(str::to_owned),
            receipts_in_shift: match kind {
                ShiftReportKind::Open => 0,
                ShiftReportKind::Close => f.req(1118, TlvValue::as_u32)?,
            },
            unsent_notifications: f.opt(2104, TlvValue::as_u32)?,
            incorrect_codes: f.opt(2112, TlvValue::as_byte)?,
            incorrect_requests: f.opt(2113, TlvValue::as_byte)?,
        })
    }
}

/// 1012, 1040, 1041, 1037, 1018 (the fiscal sign 1077 goes last, see [`fiscal_sign_to_tlv`]).
fn header_to_tlv(h: &DocumentHeader) -> Vec<Tlv> {
    vec![
        Tlv::unixtime(1012, h.local_time),
        Tlv::u32(1040, h.number),
        Tlv::string(1041, h.fn_serial.as_str()),
        Tlv::string(1037, h.kkt_reg_number.as_str()),
        Tlv::string(1018, h.user_inn.as_str()),
    ]
}

fn header_from(f: &Fields<'_>) -> Result<DocumentHeader, DocumentError> {
    Ok(DocumentHeader {
        number: f.req(1040, TlvValue::as_u32)?,
        local_time: f.req(1012, TlvValue::as_unixtime)?,
        fn_serial: f.req(1041, TlvValue::as_str)?.to_owned(),
        kkt_reg_number: f.req(1037, TlvValue::as_str)?.to_owned(),
        user_inn: f.req(1018, TlvValue::as_str)?.to_owned(),
        fiscal_sign: fiscal_sign_from(f)?,
    })
}

/// 1077 as 6 bytes: `00 00` and the sign big-endian.
fn fiscal_sign_to_tlv(sign: u32) -> Tlv {
    let mut bytes = vec![0, 0];
    bytes.extend_from_slice(&sign.to_be_bytes());
    Tlv::bytes(1077, bytes)
}

fn fiscal_sign_from(f: &Fields<'_>) -> Result<u32, DocumentError> {
    let bytes = f.req(1077, TlvValue::as_bytes)?;
    let value = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    u32::try_from(value).map_err(|_| DocumentError::Invalid { tag: 1077, what: "fiscal sign beyond 32 bits" })
}

fn operation_from(f: &Fields<'_>) -> Result<OperationType, DocumentError> {
    match f.req(1054, TlvValue::as_byte)? {
        1 => Ok(OperationType::Sale),
        2 => Ok(OperationType::SaleReturn),
        _ => {
            Err(DocumentError::Invalid { tag: 1054, what: "only 1 (sale) and 2 (sale return) are modelled" })
        }
    }
}

fn money(f: &Fields<'_>, tag: u16) -> Result<Kopecks, DocumentError> {
    f.req(tag, TlvValue::as_vln).map(Kopecks)
}

fn industry_to_tlv(tag: u16, r: &IndustryRequisite) -> Tlv {
    Tlv::stlv(
        tag,
        vec![
            Tlv::string(1262, r.foiv_id.as_str()),
            Tlv::string(1263, r.doc_date.as_str()),
            Tlv::string(1264, r.doc_number.as_str()),
            Tlv::string(1265, r.value.as_str()),
        ],
    )
}

fn industry_from(f: &Fields<'_>, tag: u16) -> Result<Vec<IndustryRequisite>, DocumentError> {
    f.all(tag)?
        .into_iter()
        .map(|children| {
            let f = Fields(children);
            Ok(IndustryRequisite {
                foiv_id: f.req(1262, TlvValue::as_str)?.to_owned(),
                doc_date: f.req(1263, TlvValue::as_str)?.to_owned(),
                doc_number: f.req(1264, TlvValue::as_str)?.to_owned(),
                value: f.req(1265, TlvValue::as_str)?.to_owned(),
            })
        })
        .collect()
}

fn fractional_to_tlv(q: &FractionalQuantity) -> Tlv {
    Tlv::stlv(
        1291,
        vec![Tlv::string(1292, q.part.as_str()), Tlv::vln(1293, q.numerator), Tlv::vln(1294, q.denominator)],
    )
}

fn fractional_from(children: &[Tlv]) -> Result<FractionalQuantity, DocumentError> {
    let f = Fields(children);
    Ok(FractionalQuantity {
        part: f.req(1292, TlvValue::as_str)?.to_owned(),
        numerator: f.req(1293, TlvValue::as_vln)?,
        denominator: f.req(1294, TlvValue::as_vln)?,
    })
}

/// 1163 with its single inner tag.
fn product_code_to_tlv(code: &ProductCode) -> Tlv {
    Tlv::stlv(1163, vec![Tlv::string(code.tag, code.value.as_str())])
}

fn product_code_from(children: &[Tlv]) -> Result<ProductCode, DocumentError> {
    match children {
        [Tlv { tag, value: TlvValue::String(value) }] => Ok(ProductCode { tag: *tag, value: value.clone() }),
        _ => Err(DocumentError::Invalid { tag: 1163, what: "must hold exactly one string tag 1300–1325" }),
    }
}

/// Typed access to the requisites of one level (a document or one STLV).
struct Fields<'a>(&'a [Tlv]);

impl<'a> Fields<'a> {
    /// The first value of `tag`, read with `get` (one of the `TlvValue::as_*`).
    fn opt<T>(&self, tag: u16, get: fn(&'a TlvValue) -> Option<T>) -> Result<Option<T>, DocumentError> {
        match self.0.iter().find(|t| t.tag == tag) {
            None => Ok(None),
            Some(tlv) => get(&tlv.value).map(Some).ok_or_else(|| wrong_type(tlv)),
        }
    }

    /// Like [`Fields::opt`], for a mandatory requisite.
    fn req<T>(&self, tag: u16, get: fn(&'a TlvValue) -> Option<T>) -> Result<T, DocumentError> {
        self.opt(tag, get)?.ok_or(DocumentError::Missing { tag })
    }

    /// The children of every STLV `tag`, in order.
    fn all(&self, tag: u16) -> Result<Vec<&'a [Tlv]>, DocumentError> {
        self.0
            .iter()
            .filter(|t| t.tag == tag)
            .map(|t| t.value.as_stlv().ok_or_else(|| wrong_type(t)))
            .collect()
    }
}

fn wrong_type(tlv: &Tlv) -> DocumentError {
    let expected = tag_info(tlv.tag).map_or(TagType::Bytes, |info| info.ty);
    DocumentError::WrongType { tag: tlv.tag, expected, found: tlv.value.ty() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffd::document::Quantity;

    fn ticket() -> Ticket {
        Ticket { notification_number: 7, local_time: 1_700_000_000, result: 0, items_result: Some(1) }
    }

    #[test]
    fn ticket_round_trip_and_order() {
        let doc = Document::Ticket(ticket());
        let bytes = doc.to_tlv_bytes().unwrap();
        let tags: Vec<u16> = tlv::decode(&bytes).unwrap().iter().map(|t| t.tag).collect();
        assert_eq!(tags, [2002, 1012, 2111, 2006]);
        assert_eq!(Document::from_tlv_bytes(84, &bytes).unwrap(), doc);
    }

    #[test]
    fn fiscal_sign_is_six_bytes_big_endian() {
        assert_eq!(fiscal_sign_to_tlv(0x0102_0304), Tlv::bytes(1077, vec![0, 0, 1, 2, 3, 4]));
        let f = [Tlv::bytes(1077, vec![1, 0, 0, 0, 0, 0])];
        assert!(matches!(fiscal_sign_from(&Fields(&f)), Err(DocumentError::Invalid { tag: 1077, .. })));
    }

    #[test]
    fn errors_are_typed() {
        assert_eq!(Document::from_tlv_bytes(4, &[]), Err(DocumentError::UnknownType(4)));
        assert_eq!(Document::from_tlv_bytes(84, &[]), Err(DocumentError::Missing { tag: 2002 }));
        let wrong = [Tlv::bytes(2002, vec![1])];
        assert_eq!(
            Ticket::from_tlv(&wrong),
            Err(DocumentError::WrongType { tag: 2002, expected: TagType::U32, found: TagType::Bytes })
        );
        assert!(matches!(Document::from_tlv_bytes(84, &[0x01]), Err(DocumentError::Tlv(_))));
        let answer = MarkingAnswer {
            request_number: 1,
            local_time: 2,
            processing_code: 0,
            code_type: None,
            item_id: None,
            result: 5,
            item_status: None,
            processing_mode: 0,
        };
        let mut tlvs = answer.to_tlv();
        tlvs.push(Tlv::stlv(1163, vec![]));
        assert_eq!(MarkingAnswer::from_tlv(&tlvs).unwrap(), answer, "unused tags are ignored");
        assert!(product_code_from(&[]).is_err());
        let q = Quantity { mantissa: 1, scale: 0 };
        assert_eq!(Tlv::fvln(1023, q).value.as_fvln(), Some(q));
    }
}
