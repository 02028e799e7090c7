//! Receipt grading (spec `kkt.md` §11.1, §11.2): a correct receipt gives no findings; each checklist
//! item G-C1…G-C7, G-R1…G-R10 fires on a receipt that breaks it and stays quiet on a nearly identical
//! correct one; a JSON snapshot of the findings of one receipt with several faults.

use markcert_emulators::decision::{NoAnswerPolicy, OfflineAnswer};
use markcert_emulators::ffd::{
    DocumentHeader, FractionalQuantity, IndustryRequisite, ItemMarking, Kopecks, MarkingAnswer,
    OperationType, Payments, Quantity, Receipt, ReceiptItem,
};
use markcert_emulators::kkt::grading::{
    grade_receipt, CheckOutcome, CheckSource, Finding, GradingPolicy, IssuedCheck, KktCheckRecord, Level,
    MapEvidence, PermissiveAnswer, PosItemFacts, ReceiptEvidence,
};
use markcert_emulators::trueapi::CodeCheck;
use proptest::prelude::*;

const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const T_ONLINE: i64 = NOW + 10_000;
const T_OFFLINE: i64 = NOW + 20_000;
const CLOSED: i64 = NOW + 60_000;

/// Dairy, checked online.
const MILK: &str = "0104612345000438215aZ;q0\u{1d}93Jm4t";
const MILK_KI: &str = "0104612345000438215aZ;q0";
/// Tobacco pack (МРЦ 185.00 encoded), checked offline through the ЛМ ЧЗ.
const PACK: &str = "04612345000124Kx7;pQaAC/UZt9+";
const PACK_KI: &str = "04612345000124Kx7;pQa";

const REQ_ONLINE: &str = "a70a9fd2-2f2d-4846-babf-cd0492f6e047";
const REQ_OFFLINE: &str = "bac05b79-f83c-46f7-9abc-6681e3299b9c";
const NEVER_ISSUED: &str = "00000000-0000-4000-8000-000000000000";
const INST: &str = "9333e653-5af4-4cc2-b969-7d9ec2900bc5";
const VER: &str = "c58c2c44-b56e-44b9-92c9-2b0ebd10f428";

fn online_1265() -> String {
    format!("UUID={REQ_ONLINE}&Time={T_ONLINE}")
}

fn offline_1265() -> String {
    format!("UUID={REQ_OFFLINE}&Time={T_OFFLINE}&Inst={INST}&Ver={VER}")
}

fn requisite(value: &str) -> IndustryRequisite {
    IndustryRequisite {
        foiv_id: "030".into(),
        doc_date: "21.11.2023".into(),
        doc_number: "1944".into(),
        value: value.into(),
    }
}

/// The True API answer for dairy in circulation.
fn milk_answer() -> CodeCheck {
    CodeCheck {
        cis: MILK.into(),
        valid: true,
        print_view: Some(MILK_KI.into()),
        gtin: Some("04612345000438".into()),
        group_ids: vec![8],
        verified: true,
        found: true,
        utilised: true,
        realizable: true,
        sold: false,
        is_blocked: false,
        ogvs: None,
        expire_date: Some("2026-01-10T00:00:00.000Z".into()),
        production_date: None,
        is_owner: Some(true),
        error_code: 0,
        message: None,
        is_tracking: false,
        elimination_state: None,
        mrp: None,
        smp: None,
        gray_zone: false,
        inner_unit_count: None,
        sold_unit_count: None,
        package_type: Some("UNIT".into()),
        package_quantity: None,
        parent: None,
        producer_inn: None,
    }
}

/// The ЛМ ЧЗ answer for the pack (sent as its КИ).
fn pack_answer() -> OfflineAnswer {
    OfflineAnswer {
        cis: PACK_KI.into(),
        gtin: Some("04612345000124".into()),
        sold: Some(false),
        mrp: Some(18_500),
        smp: Some(13_500),
        ..OfflineAnswer::default()
    }
}

fn answer_83(status: u8) -> MarkingAnswer {
    MarkingAnswer {
        request_number: 1,
        local_time: 0,
        processing_code: 0,
        code_type: None,
        item_id: None,
        result: if status == 1 { 15 } else { 7 },
        item_status: Some(status),
        processing_mode: 0,
    }
}

fn check(code: &str, code_type: u8, started: i64) -> KktCheckRecord {
    KktCheckRecord {
        code: code.into(),
        imc_base64_ok: true,
        planned_status: 1,
        quantity: None,
        measure: None,
        fractional: None,
        processing_mode: 0,
        local_check: 0,
        code_type,
        answer: Some(answer_83(1)),
        tag_2106: Some(15),
        outcome: CheckOutcome::Accepted,
        started_ms: started,
        finished_ms: Some(started + 500),
        polled_until_ready: true,
    }
}

fn item(
    name: &str,
    code: Option<(&str, u8, &str)>,
    price: u64,
    vat_sum: u64,
    value: Option<String>,
) -> ReceiptItem {
    ReceiptItem {
        name: name.into(),
        price: Kopecks(price),
        quantity: Quantity::whole(1),
        sum: Kopecks(price),
        measure: 0,
        product_type: if code.is_some() { 33 } else { 1 },
        payment_type: 4,
        vat_rate: 1,
        vat_sum: Some(Kopecks(vat_sum)),
        product_code: None,
        control_code: None,
        processing_mode: code.map(|_| 0),
        check_result: code.map(|_| 15),
        fractional: None,
        industry: value.iter().map(|v| requisite(v)).collect(),
        additional: None,
        marking: code.map(|(code, code_type, ki)| ItemMarking {
            code: code.into(),
            code_type,
            item_id: ki.into(),
            assigned_status: 1,
        }),
    }
}

fn pos(group: u16) -> PosItemFacts {
    PosItemFacts {
        pos_2106: Some(15),
        planned_status: Some(1),
        product_group: Some(group),
        ..PosItemFacts::default()
    }
}

/// A correct sale: dairy checked online, a tobacco pack checked through the ЛМ ЧЗ, bread unmarked.
struct Fixture {
    input: ReceiptEvidence,
    evidence: MapEvidence,
    policy: GradingPolicy,
}

impl Fixture {
    fn sale() -> Fixture {
        let mut items = vec![
            item("Молоко 3,2% 1 л", Some((MILK, 5, MILK_KI)), 8_990, 1_498, Some(online_1265())),
            item("Сигареты", Some((PACK, 1, PACK_KI)), 18_500, 3_083, Some(offline_1265())),
            item("Хлеб", None, 4_500, 750, None),
        ];
        items[1].product_type = 31; // excise goods with a code
        let receipt = Receipt {
            header: DocumentHeader {
                number: 7,
                local_time: 1_767_236_460,
                fn_serial: "7380440700000123".into(),
                kkt_reg_number: "0000000001012345".into(),
                user_inn: "7701000019".into(),
                fiscal_sign: 1_234_567_890,
            },
            shift_number: 1,
            receipt_number: 3,
            operation: OperationType::Sale,
            taxation: 1,
            operator_name: Some("Кассир 1".into()),
            operator_inn: None,
            items,
            total: Kopecks(31_990),
            payments: Payments { cash: Kopecks(31_990), ..Payments::default() },
            marking_check_result: Some(0),
            industry: Vec::new(),
        };
        let mut evidence = MapEvidence::new();
        evidence.online(REQ_ONLINE, T_ONLINE, vec![milk_answer()]).offline(
            REQ_OFFLINE,
            T_OFFLINE,
            INST,
            VER,
            vec![pack_answer()],
        );
        Fixture {
            input: ReceiptEvidence {
                receipt,
                pos_items: vec![pos(8), pos(3), PosItemFacts::default()],
                checks: vec![check(MILK, 5, T_ONLINE + 1_000), check(PACK, 1, T_OFFLINE + 1_000)],
                closed_ms: CLOSED,
                encoded_len: Some(1_200),
            },
            evidence,
            policy: GradingPolicy::default(),
        }
    }

    /// A correct return of the dairy item: the code is sold, checked online again, status 3.
    fn sale_return() -> Fixture {
        let mut f = Fixture::sale();
        f.input.receipt.operation = OperationType::SaleReturn;
        f.input.receipt.items.truncate(1);
        f.input.receipt.total = Kopecks(8_990);
        f.input.receipt.payments.cash = Kopecks(8_990);
        f.input.pos_items.truncate(1);
        f.input.pos_items[0].planned_status = Some(3);
        f.input.checks.truncate(1);
        f.input.checks[0].planned_status = 3;
        f.milk_marking().assigned_status = 3;
        let sold = CodeCheck { sold: true, realizable: false, ..milk_answer() };
        f.evidence = MapEvidence::new();
        f.evidence.online(REQ_ONLINE, T_ONLINE, vec![sold]);
        f
    }

    fn grade(&self) -> Vec<Finding> {
        grade_receipt(&self.input, &self.evidence, &self.policy)
    }

    fn ids(&self) -> Vec<&'static str> {
        self.grade().iter().map(|f| f.id).collect()
    }

    fn milk(&mut self) -> &mut ReceiptItem {
        &mut self.input.receipt.items[0]
    }

    fn milk_marking(&mut self) -> &mut ItemMarking {
        self.input.receipt.items[0].marking.as_mut().unwrap_or_else(|| panic!("milk is marked"))
    }

    /// Replace the milk's online answer.
    fn milk_answers(&mut self, answer: CodeCheck) {
        self.evidence = MapEvidence::new();
        self.evidence.online(REQ_ONLINE, T_ONLINE, vec![answer]).offline(
            REQ_OFFLINE,
            T_OFFLINE,
            INST,
            VER,
            vec![pack_answer()],
        );
    }

    /// Drop the milk from the receipt (keeping its check), fixing totals.
    fn without_milk_item(&mut self) {
        self.input.receipt.items.remove(0);
        self.input.pos_items.remove(0);
        self.input.receipt.total = Kopecks(23_000);
        self.input.receipt.payments.cash = Kopecks(23_000);
    }
}

#[test]
fn correct_receipts_have_no_findings() {
    assert_eq!(Fixture::sale().grade(), vec![]);
    assert_eq!(Fixture::sale_return().grade(), vec![]);
    // Emergency: no 1260 after a 203, even without any reqId.
    let mut f = Fixture::sale();
    f.milk().industry.clear();
    f.evidence = MapEvidence::new();
    f.evidence.emergency(MILK, T_ONLINE).offline(REQ_OFFLINE, T_OFFLINE, INST, VER, vec![pack_answer()]);
    assert_eq!(f.grade(), vec![]);
    // Outside permissive mode 1260 is not required.
    let mut f = Fixture::sale();
    f.milk().industry.clear();
    f.policy.permissive_mode = false;
    assert_eq!(f.grade(), vec![]);
}

#[test]
fn g_c1_marked_position_without_an_accepted_check() {
    let mut f = Fixture::sale();
    f.input.checks.remove(0);
    assert_eq!(f.ids(), ["G-C1"]);

    let mut f = Fixture::sale();
    f.input.checks[0].outcome = CheckOutcome::Declined;
    assert_eq!(f.ids(), ["G-C1"]);

    let mut f = Fixture::sale();
    f.input.pos_items[0].registered_without_check = true;
    let found = f.grade();
    assert_eq!(found.iter().map(|x| x.id).collect::<Vec<_>>(), ["G-C1"]);
    assert!(found[0].actual.contains("implicit"), "{found:?}");

    let mut f = Fixture::sale();
    f.input.checks[0].finished_ms = Some(CLOSED + 1);
    assert_eq!(f.ids(), ["G-C1"], "accepted after the receipt closed");
    f.input.checks[0].finished_ms = Some(CLOSED);
    assert_eq!(f.ids(), Vec::<&str>::new(), "accepted at the closing instant");
}

#[test]
fn g_c2_unfinished_checks() {
    for outcome in [CheckOutcome::Open, CheckOutcome::Replaced] {
        let mut f = Fixture::sale();
        let mut c = check(MILK, 5, T_ONLINE);
        (c.outcome, c.finished_ms, c.polled_until_ready) = (outcome, None, false);
        f.input.checks.insert(0, c);
        assert_eq!(f.ids(), ["G-C2"], "{outcome:?}");
    }
    let mut f = Fixture::sale();
    f.input.checks[1].polled_until_ready = false;
    let found = f.grade();
    assert_eq!((found.len(), found.first().map(|x| (x.id, x.check))), (1, Some(("G-C2", Some(1)))));

    let mut f = Fixture::sale();
    let mut c = check(MILK, 5, T_ONLINE);
    (c.outcome, c.polled_until_ready) = (CheckOutcome::Declined, false);
    f.input.checks.insert(0, c);
    assert_eq!(f.ids(), ["G-C2"], "declined without waiting for ready");

    let mut f = Fixture::sale();
    let mut c = check(MILK, 5, T_ONLINE);
    c.outcome = CheckOutcome::Cancelled;
    f.input.checks.insert(0, c.clone());
    assert_eq!(f.ids(), Vec::<&str>::new(), "a cancelled check is finished");
    c.outcome = CheckOutcome::Declined;
    f.input.checks[0] = c;
    assert_eq!(f.ids(), Vec::<&str>::new(), "declined after ready");
}

#[test]
fn g_c3_and_g_r7_banned_code_accepted_and_sold() {
    let mut f = Fixture::sale();
    f.milk_answers(CodeCheck { is_blocked: true, ogvs: Some(vec!["RPN".into()]), ..milk_answer() });
    let found = f.grade();
    assert_eq!(found.iter().map(|x| x.id).collect::<Vec<_>>(), ["G-C3", "G-R7"]);
    assert!(found.iter().all(|x| x.level == Level::Must && x.expected.contains("blocked")), "{found:?}");

    // Accepted, then left out of the receipt: G-C3 from the latest answer, no G-R7.
    f.without_milk_item();
    assert_eq!(f.ids(), ["G-C3"]);
    // Declined and left out: correct.
    f.input.checks[0].outcome = CheckOutcome::Declined;
    assert_eq!(f.ids(), Vec::<&str>::new());

    // Expired by the time the receipt closes.
    let mut f = Fixture::sale();
    f.milk_answers(CodeCheck { expire_date: Some("2026-01-01T00:01:00.000Z".into()), ..milk_answer() });
    assert_eq!(f.ids(), ["G-C3", "G-R7"]);
    f.milk_answers(CodeCheck { expire_date: Some("2026-01-01T00:01:00.001Z".into()), ..milk_answer() });
    assert_eq!(f.ids(), Vec::<&str>::new());
}

#[test]
fn g_c3_and_g_r7_offline_price_rule_is_advisory() {
    let mut f = Fixture::sale();
    let pack = &mut f.input.receipt.items[1];
    (pack.price, pack.sum, pack.vat_sum) = (Kopecks(18_501), Kopecks(18_501), Some(Kopecks(3_084)));
    f.input.receipt.total = Kopecks(31_991);
    f.input.receipt.payments.cash = Kopecks(31_991);
    let found = f.grade();
    assert_eq!(
        found.iter().map(|x| (x.id, x.level)).collect::<Vec<_>>(),
        [("G-C3", Level::Should), ("G-R7", Level::Should)]
    );
    assert!(found[1].expected.contains("offline_above_max_price"), "{found:?}");
}

#[test]
fn g_r7_return_of_a_code_that_was_never_sold() {
    let mut f = Fixture::sale_return();
    f.evidence = MapEvidence::new();
    f.evidence.online(REQ_ONLINE, T_ONLINE, vec![milk_answer()]);
    let found = f.grade();
    assert_eq!(found.iter().map(|x| x.id).collect::<Vec<_>>(), ["G-C3", "G-R7"]);
    assert!(found[1].expected.contains("return_never_sold"), "{found:?}");
}

#[test]
fn g_c4_planned_status_against_the_operation() {
    // A return checked with status 2 (the known bug), with a quantity so that only the status is wrong.
    let mut f = Fixture::sale_return();
    let c = &mut f.input.checks[0];
    (c.planned_status, c.quantity, c.measure) = (2, Some(Quantity::whole(1)), Some(0));
    f.input.pos_items[0].planned_status = Some(2);
    f.milk_marking().assigned_status = 2;
    let found = f.grade();
    assert!(found.iter().any(|x| x.id == "G-C4" && x.message.contains("known POS bug")), "{found:?}");

    let mut f = Fixture::sale();
    f.input.checks[0].planned_status = 3;
    f.input.pos_items[0].planned_status = Some(3);
    f.milk_marking().assigned_status = 3;
    assert_eq!(f.ids(), ["G-C4"], "return status in a sale");

    // A position the KKT validated itself is graded on its own status.
    let mut f = Fixture::sale();
    f.input.pos_items[0].registered_without_check = true;
    f.input.pos_items[0].planned_status = Some(3);
    f.milk_marking().assigned_status = 3;
    let found = f.grade();
    let got: Vec<_> = found.iter().map(|x| (x.id, x.item, x.check)).collect();
    assert_eq!(got, [("G-C1", Some(0), None), ("G-C4", Some(0), None)]);

    let mut f = Fixture::sale();
    f.input.checks[0].planned_status = 5;
    f.input.pos_items[0].planned_status = Some(5);
    f.milk_marking().assigned_status = 5;
    assert_eq!(f.ids(), ["G-C4"], "a part without a fraction");
    f.input.checks[0].fractional = Some(fraction(1, 2));
    f.milk().fractional = Some(fraction(1, 2));
    f.milk().quantity = Quantity { mantissa: 5, scale: 1 };
    f.milk().sum = Kopecks(4_495);
    f.milk().vat_sum = Some(Kopecks(749));
    f.input.receipt.total = Kopecks(27_495);
    f.input.receipt.payments.cash = Kopecks(27_495);
    assert_eq!(f.ids(), Vec::<&str>::new(), "half a package, status 5");
}

/// A table row: name, how the receipt differs from the correct one, the tag expected at fault.
type Case = (&'static str, fn(&mut Fixture), Option<u16>);

fn fraction(n: u64, m: u64) -> FractionalQuantity {
    FractionalQuantity { part: format!("{n}/{m}"), numerator: n, denominator: m }
}

#[test]
fn g_c5_processing_mode_base64_and_canonical_bytes() {
    let mut f = Fixture::sale();
    f.input.checks[0].processing_mode = 1;
    assert_eq!(f.ids(), ["G-C5"]);

    let mut f = Fixture::sale();
    f.milk().processing_mode = Some(2);
    assert_eq!(f.ids(), ["G-C5"]);

    let mut f = Fixture::sale();
    f.input.pos_items[0].imc_base64_ok = false;
    f.input.checks[0].imc_base64_ok = false;
    assert_eq!(f.ids(), ["G-C5", "G-C5"]);

    // The POS sent ⟨GS⟩ as the text `\u001d` everywhere (and True API answered it as it was).
    let escaped = "0104612345000438215aZ;q0\\u001d93Jm4t";
    let mut f = Fixture::sale();
    f.input.checks[0].code = escaped.into();
    f.milk_marking().code = escaped.into();
    f.milk_answers(CodeCheck { cis: escaped.into(), ..milk_answer() });
    let found = f.grade();
    assert_eq!(
        found.iter().map(|x| (x.id, x.check, x.item)).collect::<Vec<_>>(),
        [("G-C5", Some(0), Some(0))]
    );
    assert_eq!(
        (found[0].expected.as_str(), found[0].actual.as_str()),
        ("0104612345000438215aZ;q0⟨GS⟩93Jm4t", escaped)
    );
}

#[test]
fn g_c6_fractions_and_measured_goods() {
    // Half a package of dairy with a bad fraction, a wrong quantity and a unit.
    let half = |f: &mut Fixture, frac: FractionalQuantity, quantity: Quantity, measure: u8| {
        f.input.checks[0].planned_status = 5;
        f.input.checks[0].fractional = Some(frac.clone());
        f.input.pos_items[0].planned_status = Some(5);
        f.milk_marking().assigned_status = 5;
        let m = f.milk();
        (m.fractional, m.quantity, m.measure) = (Some(frac), quantity, measure);
        (m.sum, m.vat_sum) = (Kopecks(4_495), Some(Kopecks(749)));
        f.input.receipt.total = Kopecks(27_495);
        f.input.receipt.payments.cash = Kopecks(27_495);
    };
    let mut f = Fixture::sale();
    half(&mut f, fraction(1, 2), Quantity { mantissa: 5, scale: 1 }, 0);
    assert_eq!(f.ids(), Vec::<&str>::new());

    let mut f = Fixture::sale();
    half(
        &mut f,
        FractionalQuantity { part: "2/2".into(), numerator: 2, denominator: 2 },
        Quantity::whole(1),
        0,
    );
    f.milk().sum = Kopecks(8_990);
    f.milk().vat_sum = Some(Kopecks(1_498));
    f.input.receipt.total = Kopecks(31_990);
    f.input.receipt.payments.cash = Kopecks(31_990);
    assert_eq!(f.ids(), ["G-C6", "G-C6"], "n = m on the check and on the position");

    let mut f = Fixture::sale();
    half(&mut f, fraction(1, 2), Quantity { mantissa: 4, scale: 1 }, 0);
    f.milk().sum = Kopecks(3_596);
    f.milk().vat_sum = Some(Kopecks(599));
    f.input.receipt.total = Kopecks(26_596);
    f.input.receipt.payments.cash = Kopecks(26_596);
    let found = f.grade();
    assert_eq!(found.iter().map(|x| (x.id, x.tag)).collect::<Vec<_>>(), [("G-C6", Some(1023))]);

    let mut f = Fixture::sale();
    half(&mut f, fraction(1, 2), Quantity { mantissa: 5, scale: 1 }, 11);
    assert_eq!(f.ids(), ["G-C6"], "a fraction counts pieces: 2108 = 0");

    // Draught beer: status 2 with a quantity in litres; the position must carry the unit too.
    let mut f = Fixture::sale();
    let c = &mut f.input.checks[0];
    (c.planned_status, c.quantity, c.measure) = (2, Some(Quantity { mantissa: 5, scale: 1 }), Some(41));
    f.input.pos_items[0].planned_status = Some(2);
    f.milk_marking().assigned_status = 2;
    let m = f.milk();
    (m.quantity, m.measure, m.sum, m.vat_sum) =
        (Quantity { mantissa: 5, scale: 1 }, 41, Kopecks(4_495), Some(Kopecks(749)));
    f.input.receipt.total = Kopecks(27_495);
    f.input.receipt.payments.cash = Kopecks(27_495);
    assert_eq!(f.ids(), Vec::<&str>::new());
    f.input.checks[0].measure = Some(0);
    f.milk().measure = 0;
    assert_eq!(
        f.ids(),
        ["G-C6", "G-C6", "G-R8"],
        "unit piece on the check and the position; quantity 0.5 of a piece"
    );
}

#[test]
fn g_c7_sale_suspended_answer_accepted() {
    let suspended = |status: u8| {
        let mut f = Fixture::sale();
        f.input.checks[0].answer = Some(answer_83(status));
        f.input.checks[0].tag_2106 = Some(7);
        f.milk().check_result = Some(7);
        f.input.pos_items[0].pos_2106 = Some(7);
        f.input.receipt.marking_check_result = Some(1);
        f
    };
    let found = suspended(3).grade();
    assert_eq!(found.iter().map(|x| (x.id, x.level)).collect::<Vec<_>>(), [("G-C7", Level::Should)]);
    assert_eq!(suspended(2).ids(), Vec::<&str>::new(), "2109 = 2 is only a flag");
}

#[test]
fn g_r1_product_type_of_marked_positions() {
    let mut f = Fixture::sale();
    f.milk().product_type = 1;
    assert_eq!(f.ids(), ["G-R1"]);

    let mut f = Fixture::sale();
    f.input.receipt.items[2].product_type = 33;
    assert_eq!(f.ids(), ["G-R1"], "31/33 without a code");
    f.input.receipt.items[2].product_type = 32;
    assert_eq!(f.ids(), Vec::<&str>::new());

    let mut f = Fixture::sale();
    f.policy.excise_groups = Some(vec![3, 12, 15, 16]);
    assert_eq!(f.ids(), Vec::<&str>::new(), "milk 33, pack 31");
    f.milk().product_type = 31;
    assert_eq!(f.ids(), ["G-R1"], "dairy is not excisable");
    f.policy.excise_groups = None;
    assert_eq!(f.ids(), Vec::<&str>::new(), "either by default");
}

#[test]
fn g_r2_position_carries_what_was_checked() {
    let mut f = Fixture::sale();
    f.input.pos_items[0].planned_status = Some(5);
    f.milk_marking().assigned_status = 5;
    let found = f.grade();
    assert_eq!(found.iter().map(|x| (x.id, x.tag)).collect::<Vec<_>>(), [("G-R2", Some(2110))]);

    let mut f = Fixture::sale();
    f.milk_marking().code_type = 4;
    assert_eq!(f.ids(), ["G-R2"]);

    // Checked in its canonical form, registered with ⟨GS⟩ dropped.
    let mut f = Fixture::sale();
    f.milk_marking().code = "0104612345000438215aZ;q093Jm4t".into();
    let found = f.grade();
    let r2 = found.iter().find(|x| x.id == "G-R2").unwrap_or_else(|| panic!("{found:?}"));
    assert_eq!((r2.check, r2.expected.as_str()), (Some(0), MILK));
    assert!(found.iter().any(|x| x.id == "G-C1"), "{found:?}");
    let c5 = found.iter().find(|x| x.id == "G-C5").unwrap_or_else(|| panic!("{found:?}"));
    assert_eq!((c5.item, c5.check, c5.tag), (Some(0), None, Some(2000)), "the position's own bytes");
}

#[test]
fn g_r2_measured_unit_equals_the_checks() {
    let mut f = Fixture::sale();
    let c = &mut f.input.checks[0];
    (c.planned_status, c.quantity, c.measure) = (2, Some(Quantity { mantissa: 5, scale: 1 }), Some(41));
    f.input.pos_items[0].planned_status = Some(2);
    f.milk_marking().assigned_status = 2;
    let m = f.milk();
    (m.quantity, m.measure, m.sum, m.vat_sum) =
        (Quantity { mantissa: 5, scale: 1 }, 11, Kopecks(4_495), Some(Kopecks(749)));
    f.input.receipt.total = Kopecks(27_495);
    f.input.receipt.payments.cash = Kopecks(27_495);
    let found = f.grade();
    assert_eq!(found.iter().map(|x| (x.id, x.tag)).collect::<Vec<_>>(), [("G-R2", Some(2108))]);
}

#[test]
fn g_r3_2106_not_copied() {
    let mut f = Fixture::sale();
    f.input.pos_items[0].pos_2106 = Some(3);
    let found = f.grade();
    assert_eq!(
        found.iter().map(|x| (x.id, x.expected.as_str(), x.actual.as_str())).collect::<Vec<_>>(),
        [("G-R3", "15", "3")]
    );
    f.input.pos_items[0].pos_2106 = None;
    assert_eq!(f.ids(), Vec::<&str>::new(), "not passed: nothing to compare");
}

#[test]
fn g_r4_requisite_present_and_exact() {
    let cases: Vec<Case> = vec![
        ("missing", |f| f.milk().industry.clear(), Some(1260)),
        ("old date", |f| f.milk().industry[0].doc_date = "26.03.2022".into(), Some(1263)),
        ("ATOL date form", |f| f.milk().industry[0].doc_date = "2023.11.21".into(), Some(1263)),
        ("old number", |f| f.milk().industry[0].doc_number = "477".into(), Some(1264)),
        ("other ФОИВ", |f| f.milk().industry[0].foiv_id = "031".into(), Some(1262)),
        ("twice", |f| f.milk().industry.push(requisite(&online_1265())), Some(1260)),
        (
            "malformed",
            |f| f.milk().industry[0].value = format!("UUID={REQ_ONLINE}&Time=2026-01-01"),
            Some(1265),
        ),
        (
            "not issued",
            |f| f.milk().industry[0].value = format!("UUID={NEVER_ISSUED}&Time={T_ONLINE}"),
            Some(1265),
        ),
        (
            "other code's check",
            |f| {
                f.milk().industry[0].value =
                    format!("UUID={REQ_OFFLINE}&Time={T_OFFLINE}&Inst={INST}&Ver={VER}")
            },
            Some(1265),
        ),
        (
            "Time",
            |f| f.milk().industry[0].value = format!("UUID={REQ_ONLINE}&Time={}", T_ONLINE + 1),
            Some(1265),
        ),
        (
            "Inst on online",
            |f| f.milk().industry[0].value = format!("{}&Inst={INST}&Ver={VER}", online_1265()),
            Some(1265),
        ),
        (
            "offline without Inst",
            |f| f.input.receipt.items[1].industry[0].value = format!("UUID={REQ_OFFLINE}&Time={T_OFFLINE}"),
            Some(1265),
        ),
        (
            "offline wrong Ver",
            |f| {
                f.input.receipt.items[1].industry[0].value =
                    format!("UUID={REQ_OFFLINE}&Time={T_OFFLINE}&Inst={INST}&Ver={INST}")
            },
            Some(1265),
        ),
    ];
    for (name, edit, tag) in cases {
        let mut f = Fixture::sale();
        edit(&mut f);
        let found = f.grade();
        assert_eq!(
            found.iter().map(|x| (x.id, x.level, x.tag)).collect::<Vec<_>>(),
            [("G-R4", Level::Must, tag)],
            "{name}: {found:#?}"
        );
    }
    let mut f = Fixture::sale();
    f.milk().industry.clear();
    let found = f.grade();
    assert!(found[0].expected.contains(&online_1265()), "the expected value is named: {found:?}");

    // A return SHOULD carry 1260 from its own check.
    let mut f = Fixture::sale_return();
    f.milk().industry.clear();
    let found = f.grade();
    assert_eq!(found.iter().map(|x| (x.id, x.level)).collect::<Vec<_>>(), [("G-R4", Level::Should)]);
}

#[test]
fn g_r5_no_requisite_after_an_emergency_answer() {
    // A 203, then an invented 1265.
    let mut f = Fixture::sale();
    f.evidence = MapEvidence::new();
    f.evidence.emergency(MILK, T_ONLINE).offline(REQ_OFFLINE, T_OFFLINE, INST, VER, vec![pack_answer()]);
    assert_eq!(f.ids(), ["G-R4", "G-R5"]);

    // A reqId recorded for an emergency-mode exchange.
    let mut f = Fixture::sale();
    let emergency = IssuedCheck {
        req_id: REQ_ONLINE.into(),
        time_ms: T_ONLINE,
        codes: vec![MILK.into()],
        source: CheckSource::Emergency,
    };
    f.evidence = MapEvidence::new();
    f.evidence.record(emergency, vec![(MILK.into(), PermissiveAnswer::Emergency)]).offline(
        REQ_OFFLINE,
        T_OFFLINE,
        INST,
        VER,
        vec![pack_answer()],
    );
    assert_eq!(f.ids(), ["G-R5"]);
    f.milk().industry.clear();
    assert_eq!(f.ids(), Vec::<&str>::new(), "no 1260: correct");
}

#[test]
fn g_r6_no_requisite_without_an_answer() {
    // 514, then an invented 1265 and the sale anyway (banned by default: no answer).
    let mut f = Fixture::sale();
    f.evidence = MapEvidence::new();
    f.evidence.no_answer(MILK, T_ONLINE).offline(REQ_OFFLINE, T_OFFLINE, INST, VER, vec![pack_answer()]);
    assert_eq!(f.ids(), ["G-C3", "G-R4", "G-R6", "G-R7"]);
    f.policy.decision.no_answer = NoAnswerPolicy::AllowWithout1260;
    assert_eq!(f.ids(), ["G-R4", "G-R6"]);
    f.milk().industry.clear();
    assert_eq!(f.ids(), Vec::<&str>::new(), "sold without 1260 under allow_without_1260");

    // A reqId whose check gave no usable answer about the code.
    let mut f = Fixture::sale();
    f.policy.decision.no_answer = NoAnswerPolicy::AllowWithout1260;
    let failed = IssuedCheck {
        req_id: REQ_ONLINE.into(),
        time_ms: T_ONLINE,
        codes: vec![MILK.into()],
        source: CheckSource::Online,
    };
    f.evidence = MapEvidence::new();
    f.evidence.record(failed, vec![(MILK.into(), PermissiveAnswer::Error)]).offline(
        REQ_OFFLINE,
        T_OFFLINE,
        INST,
        VER,
        vec![pack_answer()],
    );
    assert_eq!(f.ids(), ["G-R6"]);
}

#[test]
fn g_r8_arithmetic_and_size() {
    let cases: Vec<Case> = vec![
        ("sum 2 kopecks off", |f| f.input.receipt.items[2].sum = Kopecks(4_502), Some(1043)),
        ("total", |f| f.input.receipt.total = Kopecks(31_991), Some(1020)),
        ("payments", |f| f.input.receipt.payments.electronic = Kopecks(1), Some(1020)),
        ("VAT", |f| f.input.receipt.items[2].vat_sum = Some(Kopecks(900)), Some(1200)),
        ("zero quantity", |f| f.input.receipt.items[2].quantity = Quantity::whole(0), Some(1023)),
        ("two pieces on one code", |f| f.milk().quantity = Quantity::whole(2), Some(1023)),
        ("size", |f| f.input.encoded_len = Some(32 * 1024 + 1), None),
    ];
    for (name, edit, tag) in cases {
        let mut f = Fixture::sale();
        edit(&mut f);
        let found = f.grade();
        let got: Vec<_> = found.iter().filter(|x| x.id == "G-R8").map(|x| x.tag).collect();
        assert!(got.contains(&tag), "{name}: {found:#?}");
    }
    let mut f = Fixture::sale();
    f.input.receipt.items[2].sum = Kopecks(4_501);
    f.input.receipt.items[2].quantity = Quantity::whole(1);
    f.input.encoded_len = Some(32 * 1024);
    f.input.receipt.total = Kopecks(31_991);
    f.input.receipt.payments.cash = Kopecks(31_991);
    assert_eq!(f.ids(), Vec::<&str>::new(), "1 kopeck of rounding, exactly 32 KB");
}

#[test]
fn g_r9_requisite_freshness() {
    let mut f = Fixture::sale();
    f.input.closed_ms = T_ONLINE + 900_001;
    f.milk_answers(CodeCheck { expire_date: None, ..milk_answer() });
    f.input.receipt.items[1].industry[0].value = offline_1265();
    let found = f.grade();
    assert_eq!(
        found.iter().map(|x| (x.id, x.level, x.item)).collect::<Vec<_>>(),
        [("G-R9", Level::Should, Some(0))]
    );
    f.input.closed_ms = T_ONLINE + 900_000;
    assert_eq!(f.ids(), Vec::<&str>::new(), "exactly 15 minutes");
}

#[test]
fn g_r10_2107_agrees_with_the_positions() {
    let mut f = Fixture::sale();
    f.input.receipt.marking_check_result = Some(1);
    assert_eq!(f.ids(), ["G-R10"]);
    f.input.receipt.marking_check_result = None;
    assert_eq!(f.ids(), ["G-R10"]);
    f.input.receipt.marking_check_result = Some(0);
    f.milk().check_result = Some(7);
    f.input.checks[0].tag_2106 = Some(7);
    f.input.pos_items[0].pos_2106 = Some(7);
    assert_eq!(f.ids(), ["G-R10"], "not every 2106 is 15");
    f.input.receipt.marking_check_result = Some(1);
    assert_eq!(f.ids(), Vec::<&str>::new());
}

#[test]
fn findings_of_a_receipt_with_several_faults() {
    let mut f = Fixture::sale();
    // The milk was blocked, checked with status 3 and sold with the old requisite and a POS-made 2106.
    f.milk_answers(CodeCheck { is_blocked: true, ogvs: Some(vec!["RPN".into()]), ..milk_answer() });
    f.milk().industry[0].doc_date = "26.03.2022".into();
    f.input.pos_items[0].pos_2106 = Some(3);
    f.input.checks[0].planned_status = 3;
    // The pack's 1265 lost its Inst/Ver; a stray check was left open.
    f.input.receipt.items[1].industry[0].value = format!("UUID={REQ_OFFLINE}&Time={T_OFFLINE}");
    let mut open = check(MILK, 5, T_ONLINE);
    (open.outcome, open.finished_ms, open.polled_until_ready) = (CheckOutcome::Open, None, false);
    f.input.checks.push(open);
    // Bread without a code claims one; the total is off.
    f.input.receipt.items[2].product_type = 33;
    f.input.receipt.total = Kopecks(32_000);
    insta::assert_json_snapshot!("several_faults", f.grade());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever lands in the requisites and codes, grading returns findings and never panics.
    #[test]
    fn grading_never_panics(
        value in ".{0,300}",
        code in ".{0,60}",
        foiv in "[0-9]{0,4}",
        status in 0u8..=255,
    ) {
        let mut f = Fixture::sale();
        f.milk().industry[0].value = value;
        f.milk().industry[0].foiv_id = foiv;
        f.milk_marking().code = code.clone();
        f.input.checks[1].code = code;
        f.input.checks[1].planned_status = status;
        let _ = f.grade();
    }
}
