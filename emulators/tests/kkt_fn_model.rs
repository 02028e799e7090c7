//! The ФН-М marking model and the emulated ОИСМ on the default world (spec `kkt.md` §4.2, §4.7, §6,
//! §7, §8): the full flow check → answer → accept → receipt → notification → ticket → shift close, every
//! ФН refusal of §6.4/§10.5, the 2106 values, the notification store's fill levels, the table capacity,
//! the 2112/2113 flags, and the world change a processed notification makes.

use markcert_codes::Layout;
use markcert_emulators::ffd::{
    DocumentHeader, FractionalQuantity, ItemMarking, Kopecks, MarkingAnswer, Notification, OperationType,
    Payments, Quantity, Receipt, ReceiptItem, Ticket,
};
use markcert_emulators::fnauth::{Challenge, FnAuthScheme, FnAuthService, HmacSha256V1, Mac};
use markcert_emulators::kkt::fn_m::{
    AcceptedCode, BeginOutcome, CheckRequest, CheckStage, FiscalAccumulator, FnCheckReason, FnError,
    FnRegistration, FnWarning,
};
use markcert_emulators::kkt::oism;
use markcert_emulators::kkt::options::{
    FnAuthMode, FnCheckMode, KeysState, KeysUpdate, KktOptions, Tag2115Mode,
};
use markcert_emulators::world::default::{default_world, NON_MARKING_FN_SERIAL, STORE_FN_SERIAL, STORE_INN};
use markcert_emulators::world::{CodeState, World};

const NOW_MS: i64 = 1_767_225_600_000;
const T: u32 = 1_767_236_400;

fn world() -> World {
    default_world(NOW_MS).unwrap()
}

/// The first code of `layout` labelled `case`, skipping `skip` of them.
fn nth_code(w: &World, layout: Layout, case: &str, skip: usize) -> String {
    w.codes()
        .into_iter()
        .filter(|c| {
            c.case.as_deref() == Some(case)
                && markcert_codes::parse(c.code.as_bytes()).is_ok_and(|p| p.layout() == layout)
        })
        .nth(skip)
        .map(|c| c.code.clone())
        .unwrap_or_else(|| panic!("no {layout} code {case} #{skip}"))
}

fn code(w: &World, layout: Layout, case: &str) -> String {
    nth_code(w, layout, case, 0)
}

/// `count` distinct introduced 44-char codes.
fn codes44(w: &World, count: usize) -> Vec<String> {
    let v: Vec<String> = w
        .codes()
        .into_iter()
        .filter(|c| {
            c.case.as_deref() == Some("in-circulation")
                && markcert_codes::parse(c.code.as_bytes()).is_ok_and(|p| p.layout() == Layout::S13T44)
        })
        .take(count)
        .map(|c| c.code.clone())
        .collect();
    assert_eq!(v.len(), count);
    v
}

fn fn_with(w: &World, opts: &KktOptions) -> FiscalAccumulator {
    let reg = FnRegistration::from_world(w, opts, "0000000001012345").unwrap();
    FiscalAccumulator::new(reg, opts, w)
}

fn store_fn(w: &World) -> FiscalAccumulator {
    fn_with(w, &KktOptions::default())
}

/// Begin, let the ОИСМ answer from the world, pass the answer: (outcome, answer, 2106).
fn check_online(
    f: &mut FiscalAccumulator,
    w: &World,
    req: CheckRequest,
) -> (BeginOutcome, MarkingAnswer, u8) {
    let out = f.begin_check(req, w, T).unwrap();
    let request = out.request.clone().expect("a request 81");
    let answer = oism::answer(&request, w, f.options(), f.code_options());
    let v = f.pass_answer(&answer).unwrap();
    (out, answer, v)
}

/// Check `code` for a sale online and accept it.
fn sell_checked(f: &mut FiscalAccumulator, w: &World, code: &str) -> AcceptedCode {
    check_online(f, w, CheckRequest::sale(code));
    f.accept().unwrap()
}

fn item(accepted: &AcceptedCode) -> ReceiptItem {
    ReceiptItem {
        name: "Товар".into(),
        price: Kopecks(10_000),
        quantity: Quantity::whole(1),
        sum: Kopecks(10_000),
        measure: 0,
        product_type: 33,
        payment_type: 4,
        vat_rate: 1,
        vat_sum: Some(Kopecks(1_667)),
        product_code: None,
        control_code: None,
        processing_mode: Some(0),
        check_result: Some(accepted.check_result),
        fractional: accepted.fractional.clone(),
        industry: Vec::new(),
        additional: None,
        marking: Some(ItemMarking {
            code: accepted.code.clone(),
            code_type: accepted.code_type,
            item_id: accepted.item_id.clone(),
            assigned_status: accepted.planned_status,
        }),
    }
}

fn unmarked_item() -> ReceiptItem {
    ReceiptItem {
        marking: None,
        check_result: None,
        processing_mode: None,
        product_type: 1,
        ..item(&dummy())
    }
}

fn dummy() -> AcceptedCode {
    AcceptedCode {
        code: String::new(),
        code_type: 0,
        item_id: String::new(),
        planned_status: 1,
        local_check: 0,
        check_result: 0,
        quantity: None,
        measure: None,
        fractional: None,
        processing_mode: 0,
        request_number: None,
        answer: None,
    }
}

fn receipt(items: Vec<ReceiptItem>, operation: OperationType) -> Receipt {
    let total = Kopecks(items.iter().map(|i| i.sum.0).sum());
    Receipt {
        header: DocumentHeader {
            number: 42,
            local_time: T,
            fn_serial: STORE_FN_SERIAL.into(),
            kkt_reg_number: "0000000001012345".into(),
            user_inn: STORE_INN.into(),
            fiscal_sign: 0,
        },
        shift_number: 1,
        receipt_number: 1,
        operation,
        taxation: 1,
        operator_name: None,
        operator_inn: None,
        items,
        total,
        payments: Payments { cash: total, ..Payments::default() },
        marking_check_result: Some(0),
        industry: Vec::new(),
    }
}

fn crc(code: &str) -> String {
    Tag2115Mode::Crc16.control_code(code)
}

/// Close a receipt of the accepted codes: the stored notification.
fn close(f: &mut FiscalAccumulator, accepted: &[AcceptedCode], op: OperationType) -> Notification {
    let r = receipt(accepted.iter().map(item).collect(), op);
    f.form_notification(&r, T, crc).unwrap().notification.unwrap()
}

fn err<T: std::fmt::Debug>(r: Result<T, FnError>) -> (Option<u8>, u16) {
    let e = r.unwrap_err();
    (e.fn_code(), e.atol_code())
}

// ----- the happy path -------------------------------------------------------------------------------

#[test]
fn full_sale_flow_on_the_default_world() {
    let mut w = world();
    let mut f = store_fn(&w);
    let code = code(&w, Layout::S13T44, "in-circulation");
    assert_eq!(f.marking_status().state_name(), "noImcForCheck");

    // B1h + B5h.
    let out = f.begin_check(CheckRequest::sale(code.clone()), &w, T).unwrap();
    assert_eq!((out.local_check, out.reason, out.code_type), (3, FnCheckReason::Checked, 4));
    assert!(out.warnings.is_empty());
    let request = out.request.unwrap();
    assert_eq!(request.request_number, 1);
    assert_eq!((request.user_inn.as_str(), request.fn_serial.as_str()), (STORE_INN, STORE_FN_SERIAL));
    assert_eq!((request.local_check, request.planned_status, request.code_type), (3, 1, 4));
    assert_eq!((request.quantity, request.measure), (None, None));
    assert_ne!(request.fiscal_sign, 0);
    assert_eq!(f.marking_status().state_name(), "requestedImcStatus");
    assert_eq!(err(f.accept()), (None, 423), "accept while the answer is awaited");

    // ОИСМ → B6h.
    let answer = oism::answer(&request, &w, f.options(), f.code_options());
    assert_eq!((answer.processing_code, answer.result, answer.item_status), (0, 15, Some(1)));
    assert_eq!(answer.item_id.as_deref(), markcert_emulators::world::identity(&code).as_deref());
    assert_eq!(f.pass_answer(&answer), Ok(15));
    let pending = f.current_check().unwrap();
    assert_eq!(
        (pending.stage, pending.check_result, pending.request_number),
        (CheckStage::Answered, Some(15), Some(1))
    );
    assert_eq!(f.marking_status().state_name(), "receivedImcStatus");

    // B2h.
    let accepted = f.accept().unwrap();
    assert_eq!((accepted.check_result, accepted.code_type, accepted.planned_status), (15, 4, 1));
    assert_eq!(f.accepted(&code), Some(&accepted));
    let st = f.marking_status();
    assert_eq!((st.state, st.checking_count, st.sold_imc_count, st.notice_state), (1, 1, 1, 1));

    // Receipt close → B7h.
    let r = receipt(vec![item(&accepted), unmarked_item()], OperationType::Sale);
    let outcome = f.form_notification(&r, T + 5, crc).unwrap();
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    let n = outcome.notification.unwrap();
    assert_eq!((n.notification_number, n.local_time, n.receipt_number), (1, T + 5, 42));
    assert_eq!((n.operation, n.operation_kind, n.taxation), (OperationType::Sale, 1, 1));
    assert_eq!(n.user_inn.as_deref(), Some(STORE_INN));
    assert_eq!(n.items.len(), 1, "one 2007 per marked item");
    let i = &n.items[0];
    assert_eq!(
        (i.marking_code.as_str(), i.code_type, i.assigned_status, i.check_result),
        (code.as_str(), 4, 1, 15)
    );
    assert_eq!(i.item_id, accepted.item_id);
    assert_eq!(i.control_code, crc(&code));
    assert_eq!((i.quantity, i.measure, i.processing_mode, i.payment_type), (None, None, 0, 4));
    assert_eq!(
        (i.price, i.sum, i.vat_rate, i.vat_sum),
        (Kopecks(10_000), Kopecks(10_000), 1, Kopecks(1_667))
    );
    assert!(f.table().is_empty(), "used codes leave the table");
    assert_eq!(f.unsent_count(), 1);
    let st = f.marking_status();
    assert_eq!(
        (st.state, st.checking_count, st.sold_imc_count, st.notice_state, st.notice_count),
        (1, 0, 0, 0, 1)
    );

    // ОИСМ ticket → the code is sold in the world.
    let ticket = oism::process_notification(&n, &mut w, f.options(), T + 10);
    assert_eq!((ticket.notification_number, ticket.result, ticket.items_result), (1, 0, Some(0)));
    let answered = f.take_ticket(&ticket).unwrap();
    assert_eq!(answered, n);
    assert_eq!(f.unsent_count(), 0);
    let ki = markcert_emulators::world::identity(&code).unwrap();
    assert_eq!(w.code_by_identity(&ki).unwrap().state, CodeState::Sold);

    // A second sale of the same code is caught online.
    let (_, answer, v) = check_online(&mut f, &w, CheckRequest::sale(code.clone()));
    assert_eq!((answer.item_status, answer.result, v), (Some(2), 7, 7));
    f.decline().unwrap();
    assert_eq!(f.shift_close_marking(), (0, 0, 1), "the negative answer sets 2113 bit 0 only");
    assert_eq!(f.shift_close_marking(), (0, 0, 0), "reset by the shift close");
}

#[test]
fn return_flow_brings_the_code_back() {
    let mut w = world();
    let mut f = store_fn(&w);
    let code = code(&w, Layout::Milk, "sold");
    let (out, answer, v) = check_online(&mut f, &w, CheckRequest::with_status(code.clone(), 3));
    assert_eq!((out.local_check, out.reason, out.code_type), (0, FnCheckReason::TypeIncorrect, 5));
    assert_eq!((answer.item_status, v), (Some(1), 15));
    let accepted = f.accept().unwrap();
    let n = close(&mut f, &[accepted], OperationType::SaleReturn);
    assert_eq!(n.items[0].assigned_status, 3);
    let ticket = oism::process_notification(&n, &mut w, f.options(), T);
    assert_eq!((ticket.result, ticket.items_result), (0, Some(0)));
    let ki = markcert_emulators::world::identity(&code).unwrap();
    assert_eq!(w.code_by_identity(&ki).unwrap().state, CodeState::Introduced);
    // A sale status on a return receipt is not sellable: negative ticket.
    let mut f2 = store_fn(&w);
    let a = sell_checked(&mut f2, &w, &code);
    let n = close(&mut f2, &[a], OperationType::SaleReturn);
    let ticket = oism::ticket(&n, &w, f2.options(), T);
    assert_eq!((ticket.result, ticket.items_result), (0, Some(1)));
}

// ----- the local check of every code type (kkt.md §4.2) ---------------------------------------------

#[test]
fn local_check_per_code_type() {
    let w = world();
    let mut f = store_fn(&w);
    let mut begin = |code: &str| {
        let out = f.begin_check(CheckRequest::sale(code), &w, T).unwrap();
        f.cancel_check().unwrap();
        (out.local_check, out.reason.atol_name(), out.code_type)
    };
    assert_eq!(begin(&code(&w, Layout::S13T88, "in-circulation")), (3, "checked", 2));
    assert_eq!(begin(&code(&w, Layout::S13T44, "in-circulation")), (3, "checked", 4));
    assert_eq!(begin(&code(&w, Layout::S20T44, "in-circulation")), (3, "checked", 4));
    assert_eq!(begin(&code(&w, Layout::Milk, "in-circulation")), (0, "typeIncorrect", 5));
    assert_eq!(begin(&code(&w, Layout::TobaccoBlock, "in-circulation")), (0, "typeIncorrect", 5));
    assert_eq!(begin(&code(&w, Layout::TobaccoPack, "in-circulation")), (0, "typeIncorrect", 1));
    assert_eq!(begin(&code(&w, Layout::S13T44, "eaeu-ok")), (0, "typeIncorrect", 3), "foreign 44 → 3");
    // Checked negative: crypto invalid in the registry, tail altered, unknown to the world.
    assert_eq!(begin(&code(&w, Layout::S13T44, "crypto-invalid")), (1, "checked", 4));
    assert_eq!(begin(&code(&w, Layout::S13T88, "crypto-invalid")), (1, "checked", 2));
    let mut altered = code(&w, Layout::S13T44, "in-circulation");
    let at = altered.find("\u{1d}92").unwrap() + 6;
    let c = if &altered[at..=at] == "A" { "B" } else { "A" };
    altered.replace_range(at..=at, c);
    assert!(markcert_codes::parse(altered.as_bytes()).is_ok());
    assert_eq!(begin(&altered), (1, "checked", 4));
    let unknown = markcert_codes::generate::random_spec(
        Layout::S13T88,
        &mut <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(5),
    )
    .render_string();
    assert!(w.code_by_identity(&markcert_emulators::world::identity(&unknown).unwrap()).is_none());
    assert_eq!(begin(&unknown), (1, "checked", 2));
    // Not identified: 2100 = 0, reason noGS1 (KI-only and garbage).
    let ki = markcert_emulators::world::identity(&code(&w, Layout::S13T44, "in-circulation")).unwrap();
    assert_eq!(begin(&ki), (0, "noGS1", 0));
    assert_eq!(begin("not a marking code"), (0, "noGS1", 0));
}

#[test]
fn unidentified_code_gets_2105_2_and_2106_5() {
    let w = world();
    let mut f = store_fn(&w);
    let (out, answer, v) = check_online(&mut f, &w, CheckRequest::sale("not a marking code"));
    assert_eq!(out.code_type, 0);
    assert_eq!((answer.processing_code, answer.result, answer.item_status), (2, 5, None));
    assert_eq!(v, 5);
    f.decline().unwrap();
    assert_eq!(f.marking_flags(), (0b10, 0b01), "an incorrect КМ: 2112 bit 1 and 2113 bit 0");
}

#[test]
fn keys_missing_internal_error_and_declared_types() {
    let w = world();
    let c44 = code(&w, Layout::S13T44, "in-circulation");
    let parsed = markcert_codes::parse(c44.as_bytes()).unwrap();
    let markcert_codes::Tail::Signature { key, .. } = parsed.tail() else { panic!("a signature") };
    let run = |opts: &KktOptions, req: CheckRequest| {
        let mut f = fn_with(&w, opts);
        let out = f.begin_check(req, &w, T).unwrap();
        (out.local_check, out.reason, out.code_type, out.warnings)
    };
    let mut opts = KktOptions::default();
    opts.fn_m.keys = KeysState::Missing;
    assert_eq!(run(&opts, CheckRequest::sale(c44.clone())).1, FnCheckReason::NoKeys);
    opts.fn_m.missing_key_ids = vec![key.to_string()];
    assert_eq!(run(&opts, CheckRequest::sale(c44.clone())).0, 0);
    opts.fn_m.missing_key_ids = vec!["ZZZZ".into()];
    assert_eq!(
        run(&opts, CheckRequest::sale(c44.clone())).1,
        FnCheckReason::Checked,
        "another key id is missing"
    );
    // A missing key: the check continues through the ОИСМ.
    opts.fn_m.missing_key_ids.clear();
    let mut f = fn_with(&w, &opts);
    let (out, _, v) = check_online(&mut f, &w, CheckRequest::sale(c44.clone()));
    assert_eq!((out.local_check, v), (0, 15));

    let mut opts = KktOptions::default();
    opts.fn_m.check = FnCheckMode::InternalError;
    let (local, reason, ..) = run(&opts, CheckRequest::sale(c44.clone()));
    assert_eq!((local, reason.code(), reason.atol_name()), (0, 4, "other"));

    // Declared type: used as 2100, a mismatch is a warning.
    let defaults = KktOptions::default();
    let req = CheckRequest { explicit_type: Some(5), ..CheckRequest::sale(c44.clone()) };
    let (local, reason, t, warnings) = run(&defaults, req);
    assert_eq!((local, reason, t), (0, FnCheckReason::TypeIncorrect, 5));
    assert_eq!(warnings, [FnWarning::TypeMismatch { declared: 5, classified: Some(4) }]);
    let req = CheckRequest { explicit_type: Some(4), ..CheckRequest::sale(c44.clone()) };
    assert!(run(&defaults, req).3.is_empty());
    let milk = code(&w, Layout::Milk, "in-circulation");
    let req = CheckRequest { explicit_type: Some(4), ..CheckRequest::sale(milk) };
    let (local, reason, t, _) = run(&defaults, req);
    assert_eq!((local, reason, t), (0, FnCheckReason::NoGs1, 4), "no AI 91/92 in a 93 code");
}

// ----- autonomous and offline (kkt.md §8.1, §8.2) -----------------------------------------------------

#[test]
fn autonomous_kkt_forms_no_request() {
    let w = world();
    let mut opts = KktOptions::default();
    opts.fn_m.autonomous = true;
    let mut f = fn_with(&w, &opts);
    assert!(f.is_autonomous());
    let mut run = |code: String| {
        let out = f.begin_check(CheckRequest::sale(code), &w, T).unwrap();
        assert!(out.request.is_none());
        let c = f.current_check().unwrap();
        assert_eq!(c.stage, CheckStage::Received);
        assert_eq!(f.marking_status().state_name(), "receivedImc");
        f.accept().unwrap().check_result
    };
    assert_eq!(run(code(&w, Layout::S13T44, "in-circulation")), 19);
    assert_eq!(run(code(&w, Layout::S13T44, "crypto-invalid")), 17);
    assert_eq!(run(code(&w, Layout::Milk, "in-circulation")), 16);
    // Notifications are unloaded instead of ticketed.
    let table = f.table().to_vec();
    let n = close(&mut f, &table, OperationType::Sale);
    assert_eq!(n.items.iter().map(|i| i.check_result).collect::<Vec<_>>(), [19, 17, 16]);
    assert_eq!(f.unload_notifications(), [n]);
    assert_eq!(f.unsent_count(), 0);
    f.set_options(&KktOptions::default());
    assert!(!f.is_autonomous(), "the control, not the registration, made it autonomous");
}

#[test]
fn no_answer_gives_the_local_result_only() {
    let w = world();
    let mut f = store_fn(&w);
    for (c, want) in [
        (code(&w, Layout::S13T44, "in-circulation"), 3),
        (code(&w, Layout::S13T44, "crypto-invalid"), 1),
        (code(&w, Layout::Milk, "in-circulation"), 0),
    ] {
        f.begin_check(CheckRequest::sale(c), &w, T).unwrap();
        assert_eq!(f.finish_without_answer(), Some(want));
        assert_eq!(f.finish_without_answer(), Some(want), "idempotent");
        assert_eq!(f.current_check().unwrap().stage, CheckStage::Requested);
        let late = MarkingAnswer {
            request_number: f.last_request_number(),
            local_time: T,
            processing_code: 0,
            code_type: None,
            item_id: None,
            result: 15,
            item_status: Some(1),
            processing_mode: 0,
        };
        assert_eq!(err(f.pass_answer(&late)), (Some(0x33), 410), "a late answer is refused");
        f.accept().unwrap();
    }
    assert_eq!(f.finish_without_answer(), None);
    // notSendToServer / notFormRequest: finished at once, no request number used.
    let before = f.last_request_number();
    let c = code(&w, Layout::S13T88, "in-circulation");
    let out = f.begin_check(CheckRequest { form_request: false, ..CheckRequest::sale(c) }, &w, T).unwrap();
    assert!(out.request.is_none());
    assert_eq!(f.current_check().unwrap().check_result, Some(3));
    assert_eq!(f.last_request_number(), before);
}

// ----- refusals (kkt.md §6.4, §10.5) ----------------------------------------------------------------

#[test]
fn marking_flag_missing_is_0x32() {
    let w = world();
    let c = code(&w, Layout::S13T44, "in-circulation");
    let mut opts = KktOptions::default();
    opts.fn_m.marking_flag = false;
    let mut f = fn_with(&w, &opts);
    assert_eq!(err(f.begin_check(CheckRequest::sale(c.clone()), &w, T)), (Some(0x32), 406));
    assert_eq!(err(f.authenticate(b"x")), (Some(0x32), 406));
    assert_eq!(err(f.update_keys()), (Some(0x32), 406));
    assert_eq!(f.marking_status().state_name(), "blocked");
    // A ФН registered without the flag, whatever the control says.
    opts.fn_m.serial = Some(NON_MARKING_FN_SERIAL.into());
    opts.fn_m.marking_flag = true;
    let mut f = fn_with(&w, &opts);
    assert_eq!(f.registration().fn_serial, NON_MARKING_FN_SERIAL);
    assert_eq!(err(f.begin_check(CheckRequest::sale(c.clone()), &w, T)), (Some(0x32), 406));
    // Switched on again at run time (registration with the flag).
    let mut f = store_fn(&w);
    let mut off = KktOptions::default();
    off.fn_m.marking_flag = false;
    f.set_options(&off);
    assert_eq!(err(f.begin_check(CheckRequest::sale(c.clone()), &w, T)), (Some(0x32), 406));
    f.set_options(&KktOptions::default());
    assert!(f.begin_check(CheckRequest::sale(c), &w, T).is_ok());
}

#[test]
fn parameter_refusals() {
    let w = world();
    let c = code(&w, Layout::S13T44, "in-circulation");
    let mut f = store_fn(&w);
    let mut try_req = |req: CheckRequest| err(f.begin_check(req, &w, T));
    assert_eq!(try_req(CheckRequest { processing_mode: 1, ..CheckRequest::sale(c.clone()) }), (None, 409));
    assert_eq!(try_req(CheckRequest::with_status(c.clone(), 7)), (None, 404));
    assert_eq!(try_req(CheckRequest::with_status(c.clone(), 0)), (None, 404));
    assert_eq!(
        try_req(CheckRequest { quantity: Some(Quantity::whole(1)), ..CheckRequest::sale(c.clone()) }),
        (None, 413)
    );
    assert_eq!(
        try_req(CheckRequest { measure: Some(11), ..CheckRequest::with_status(c.clone(), 3) }),
        (None, 413)
    );
    let frac = |n, m| FractionalQuantity { part: format!("{n}/{m}"), numerator: n, denominator: m };
    for bad in [frac(10, 10), frac(11, 10), frac(0, 10), frac(1, 0)] {
        assert_eq!(
            try_req(CheckRequest { fractional: Some(bad), ..CheckRequest::with_status(c.clone(), 5) }),
            (None, 409)
        );
    }
    assert_eq!(
        try_req(CheckRequest { explicit_type: Some(6), ..CheckRequest::sale(c.clone()) }),
        (None, 409)
    );
    assert_eq!(
        try_req(CheckRequest { explicit_type: Some(4), ..CheckRequest::sale("garbage") }),
        (None, 409)
    );
    assert_eq!(try_req(CheckRequest::sale("")), (Some(0x3C), 410));
    // None of these started a check.
    assert!(f.current_check().is_none());
    assert_eq!(f.marking_status().checking_count, 0);
}

#[test]
fn quantity_unit_and_fraction_go_into_the_request() {
    let w = world();
    let mut f = store_fn(&w);
    let beer = code(&w, Layout::Beer, "partially-sold");
    let q = Quantity { mantissa: 5, scale: 1 };
    let req = CheckRequest { quantity: Some(q), measure: Some(41), ..CheckRequest::with_status(beer, 2) };
    let out = f.begin_check(req, &w, T).unwrap();
    let r = out.request.unwrap();
    assert_eq!((r.planned_status, r.quantity, r.measure), (2, Some(q), Some(41)));
    f.cancel_check();
    let block = code(&w, Layout::TobaccoBlock, "partially-sold");
    let fraction = FractionalQuantity { part: "1/10".into(), numerator: 1, denominator: 10 };
    let req = CheckRequest { fractional: Some(fraction.clone()), ..CheckRequest::with_status(block, 5) };
    let out = f.begin_check(req, &w, T).unwrap();
    assert_eq!(out.request.unwrap().fractional, Some(fraction));
}

#[test]
fn check_sequence_strict_and_lenient() {
    let w = world();
    let [a, b]: [String; 2] = codes44(&w, 2).try_into().unwrap();
    let mut f = store_fn(&w);
    f.begin_check(CheckRequest::sale(a.clone()), &w, T).unwrap();
    assert_eq!(err(f.begin_check(CheckRequest::sale(b.clone()), &w, T)), (None, 401), "still running");
    f.finish_without_answer();
    assert_eq!(err(f.begin_check(CheckRequest::sale(b.clone()), &w, T)), (Some(0x33), 410), "unresolved");
    assert_eq!(f.current_check().unwrap().code, a, "the refused begin changed nothing");

    let mut lenient = KktOptions::default();
    lenient.kkt.strict_check_sequence = false;
    f.set_options(&lenient);
    let out = f.begin_check(CheckRequest::sale(b.clone()), &w, T).unwrap();
    assert_eq!(out.warnings, [FnWarning::PreviousCheckDiscarded { code: a.clone() }]);
    assert_eq!(f.current_check().unwrap().code, b);
    assert!(f.accepted(&a).is_none());
}

#[test]
fn accept_decline_and_answer_sequence_errors() {
    let w = world();
    let c = code(&w, Layout::S13T44, "in-circulation");
    let mut f = store_fn(&w);
    assert_eq!(err(f.accept()), (None, 422));
    assert_eq!(err(f.decline()), (None, 422));
    let stray = MarkingAnswer {
        request_number: 1,
        local_time: T,
        processing_code: 0,
        code_type: Some(4),
        item_id: None,
        result: 15,
        item_status: Some(1),
        processing_mode: 0,
    };
    assert_eq!(err(f.pass_answer(&stray)), (Some(0x33), 410), "no check");
    let out = f.begin_check(CheckRequest::sale(c.clone()), &w, T).unwrap();
    assert_eq!(err(f.decline()), (None, 423));
    let wrong = MarkingAnswer { request_number: 99, ..stray.clone() };
    assert_eq!(
        f.pass_answer(&wrong),
        Err(FnError::AnswerMismatch { expected: out.request.unwrap().request_number, got: 99 })
    );
    assert_eq!(f.pass_answer(&stray), Ok(15));
    f.decline().unwrap();
    assert!(f.current_check().is_none() && f.table().is_empty());
    // Without a request there is nothing to answer.
    f.begin_check(CheckRequest { form_request: false, ..CheckRequest::sale(c) }, &w, T).unwrap();
    assert_eq!(err(f.pass_answer(&stray)), (Some(0x33), 410));
}

#[test]
fn keys_update_required_and_key_service_faults() {
    let w = world();
    let c = code(&w, Layout::S13T44, "in-circulation");
    let mut opts = KktOptions::default();
    opts.fn_m.keys = KeysState::UpdateRequired;
    let mut f = fn_with(&w, &opts);
    assert_eq!(f.keys_state(), KeysState::UpdateRequired);
    assert_eq!(err(f.begin_check(CheckRequest::sale(c.clone()), &w, T)), (None, 418));
    opts.fn_m.keys_update = KeysUpdate::Error;
    f.set_options(&opts);
    assert_eq!(err(f.update_keys()), (None, 419));
    opts.fn_m.keys_update = KeysUpdate::Timeout;
    f.set_options(&opts);
    assert_eq!(err(f.update_keys()), (None, 425));
    assert_eq!(err(f.begin_check(CheckRequest::sale(c.clone()), &w, T)), (None, 418), "still required");
    opts.fn_m.keys_update = KeysUpdate::Ok;
    f.set_options(&opts);
    f.update_keys().unwrap();
    assert_eq!(f.keys_state(), KeysState::Ok, "the control still says update_required, but it was done");
    let out = f.begin_check(CheckRequest::sale(c.clone()), &w, T).unwrap();
    assert_eq!(out.local_check, 3);
    // Switching the control away and back arms it again.
    f.cancel_check();
    f.set_options(&KktOptions::default());
    f.set_options(&opts);
    assert_eq!(err(f.begin_check(CheckRequest::sale(c), &w, T)), (None, 418));
}

#[test]
fn table_capacity_is_0x35() {
    let w = world();
    let mut opts = KktOptions::default();
    opts.fn_m.km_table_capacity = 2;
    let mut f = fn_with(&w, &opts);
    let codes = codes44(&w, 3);
    let a = sell_checked(&mut f, &w, &codes[0]);
    sell_checked(&mut f, &w, &codes[1]);
    assert_eq!(f.marking_status().state_name(), "blocked", "table full");
    assert_eq!(err(f.begin_check(CheckRequest::sale(codes[2].clone()), &w, T)), (Some(0x35), 408));
    // Checking an accepted code again replaces its entry, it does not need room... but begin refuses
    // while full, so the table must be emptied (receipt close or B3h).
    assert_eq!(f.clear_table(), 2);
    assert_eq!(f.marking_status().state_name(), "noImcForCheck");
    let again = sell_checked(&mut f, &w, &a.code);
    let again2 = sell_checked(&mut f, &w, &a.code);
    assert_eq!(f.table().len(), 1, "the same code accepted twice keeps one entry");
    assert_eq!(again.code, again2.code);
    // Capacity lowered at run time below the table: accept refuses.
    sell_checked(&mut f, &w, &codes[1]);
    opts.fn_m.km_table_capacity = 3;
    f.set_options(&opts);
    check_online(&mut f, &w, CheckRequest::sale(codes[2].clone()));
    opts.fn_m.km_table_capacity = 2;
    f.set_options(&opts);
    assert_eq!(err(f.accept()), (Some(0x35), 408));
    f.decline().unwrap();
}

#[test]
fn notification_refusals_change_nothing() {
    let w = world();
    let mut f = store_fn(&w);
    let [a, b]: [String; 2] = codes44(&w, 2).try_into().unwrap();
    let acc = sell_checked(&mut f, &w, &a);
    // An item whose code was never checked: 0x3E.
    let mut never = item(&acc);
    never.marking.as_mut().unwrap().code = b.clone();
    let r = receipt(vec![item(&acc), never], OperationType::Sale);
    assert_eq!(f.form_notification(&r, T, crc), Err(FnError::CodeNotChecked { code: b }));
    // The same code on two items: the second was not checked for it.
    let r = receipt(vec![item(&acc), item(&acc)], OperationType::Sale);
    assert_eq!(err(f.form_notification(&r, T, crc)), (Some(0x3E), 420));
    // 2110 ≠ the checked 2003: 404.
    let mut other_status = item(&acc);
    other_status.marking.as_mut().unwrap().assigned_status = 3;
    let r = receipt(vec![other_status], OperationType::Sale);
    assert_eq!(err(f.form_notification(&r, T, crc)), (None, 404));
    // No name: 0x3C.
    let r = receipt(vec![ReceiptItem { name: " ".into(), ..item(&acc) }], OperationType::Sale);
    assert_eq!(err(f.form_notification(&r, T, crc)), (Some(0x3C), 410));
    assert_eq!(f.table().len(), 1);
    assert_eq!((f.unsent_count(), f.last_notification_number()), (0, 0));
    // Marking switched off at run time.
    let mut off = KktOptions::default();
    off.fn_m.marking_flag = false;
    f.set_options(&off);
    let r = receipt(vec![item(&acc)], OperationType::Sale);
    assert_eq!(err(f.form_notification(&r, T, crc)), (Some(0x32), 406));
    f.set_options(&KktOptions::default());
    assert!(f.form_notification(&r, T, crc).unwrap().notification.is_some());
}

#[test]
fn unused_codes_are_discarded_with_a_warning() {
    let w = world();
    let mut f = store_fn(&w);
    let [a, b, c]: [String; 3] = codes44(&w, 3).try_into().unwrap();
    let acc_a = sell_checked(&mut f, &w, &a);
    sell_checked(&mut f, &w, &b);
    let out = f.form_notification(&receipt(vec![item(&acc_a)], OperationType::Sale), T, crc).unwrap();
    assert_eq!(out.notification.unwrap().items.len(), 1);
    assert_eq!(out.warnings, [FnWarning::UnusedCodeDiscarded { code: b }]);
    assert!(f.table().is_empty());
    // A receipt without marked items: no notification, the table is still discarded.
    sell_checked(&mut f, &w, &c);
    let out = f.form_notification(&receipt(vec![unmarked_item()], OperationType::Sale), T, crc).unwrap();
    assert_eq!(out.notification, None);
    assert_eq!(out.warnings, [FnWarning::UnusedCodeDiscarded { code: c }]);
    assert_eq!(f.last_notification_number(), 1);
}

#[test]
fn receipt_data_that_differs_from_the_check_is_reported() {
    let w = world();
    let mut f = store_fn(&w);
    let beer = code(&w, Layout::Beer, "partially-sold");
    let q = Quantity { mantissa: 5, scale: 1 };
    let req =
        CheckRequest { quantity: Some(q), measure: Some(41), ..CheckRequest::with_status(beer.clone(), 2) };
    check_online(&mut f, &w, req);
    let acc = f.accept().unwrap();
    let it = ReceiptItem {
        quantity: Quantity { mantissa: 4, scale: 1 },
        measure: 41,
        check_result: Some(15 ^ 8),
        ..item(&acc)
    };
    let out = f.form_notification(&receipt(vec![it], OperationType::Sale), T, crc).unwrap();
    let fields: Vec<_> = out
        .warnings
        .iter()
        .map(|w| match w {
            FnWarning::ItemDiffers { field, .. } => *field,
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(fields, ["2106", "1023"]);
    let n = out.notification.unwrap();
    let i = &n.items[0];
    assert_eq!(
        (i.quantity, i.measure, i.check_result),
        (Some(Quantity { mantissa: 4, scale: 1 }), Some(41), acc.check_result)
    );
}

// ----- the notification store (kkt.md §6.3) -----------------------------------------------------------

#[test]
fn notification_store_fill_levels_and_full_store() {
    let mut w = world();
    let mut opts = KktOptions::default();
    opts.fn_m.notice_capacity = 10;
    let mut f = fn_with(&w, &opts);
    let codes = codes44(&w, 11);
    let mut levels = Vec::new();
    let mut notifications = Vec::new();
    for c in &codes[..10] {
        let acc = sell_checked(&mut f, &w, c);
        notifications.push(close(&mut f, &[acc], OperationType::Sale));
        let st = f.marking_status();
        levels.push((st.notice_count, st.notice_level, st.notice_level_name()));
    }
    assert_eq!(
        levels,
        [
            (1, 0, "less50"),
            (2, 0, "less50"),
            (3, 0, "less50"),
            (4, 0, "less50"),
            (5, 1, "50to80"),
            (6, 1, "50to80"),
            (7, 1, "50to80"),
            (8, 2, "80to90"),
            (9, 2, "80to90"),
            (10, 4, "outOfMemory"),
        ]
    );
    let st = f.marking_status();
    assert_eq!((st.state_name(), st.notice_state, st.notice_is_begin()), ("blocked", 2, true));
    assert_eq!(err(f.begin_check(CheckRequest::sale(codes[10].clone()), &w, T)), (Some(0x34), 417));
    assert_eq!(f.shift_close_marking().0, 10, "2104");
    // A ticket frees room.
    let first = &notifications[0];
    let t = oism::process_notification(first, &mut w, f.options(), T);
    f.take_ticket(&t).unwrap();
    assert_eq!(err(f.take_ticket(&t)), (Some(0x33), 410), "a ticket is taken once");
    assert_eq!(f.notice_level(), 2);
    let acc = sell_checked(&mut f, &w, &codes[10]);
    // Full again: the receipt cannot be closed with marked items.
    let mut clone = f.clone();
    close(&mut clone, std::slice::from_ref(&acc), OperationType::Sale);
    assert_eq!(err(clone.begin_check(CheckRequest::sale(codes[0].clone()), &w, T)), (Some(0x34), 417));
    let mut forced = opts.clone();
    forced.fn_m.notice_level = Some(4);
    f.set_options(&forced);
    let r = receipt(vec![item(&acc)], OperationType::Sale);
    assert_eq!(err(f.form_notification(&r, T, crc)), (Some(0x34), 407), "forced level 4");
    // Unsent notifications are listed oldest first.
    let unsent: Vec<u32> = f.unsent().map(|n| n.notification_number).collect();
    assert_eq!(unsent, (2..=10).collect::<Vec<_>>());
}

#[test]
fn forced_notice_level_overrides_the_count() {
    let w = world();
    for (level, name, blocked) in [
        (0, "less50", false),
        (1, "50to80", false),
        (2, "80to90", false),
        (3, "more90", false),
        (4, "outOfMemory", true),
    ] {
        let mut opts = KktOptions::default();
        opts.fn_m.notice_level = Some(level);
        let mut f = fn_with(&w, &opts);
        let st = f.marking_status();
        assert_eq!((st.notice_level, st.notice_level_name(), st.notice_warning()), (level, name, level > 0));
        let r = f.begin_check(CheckRequest::sale(code(&w, Layout::Milk, "in-circulation")), &w, T);
        assert_eq!(r.is_err(), blocked, "level {level}");
        if blocked {
            assert_eq!(err(r), (Some(0x34), 407));
            assert_eq!(f.marking_status().state, 0);
        }
    }
}

// ----- 2112 / 2113 (kkt.md §3.2, §7.2) ----------------------------------------------------------------

#[test]
fn shift_flags_from_answers_and_tickets() {
    let mut w = world();
    let mut f = store_fn(&w);
    // Blocked code: 2109 = 3, КП fine → only 2113 bit 0.
    let (_, a, v) = check_online(&mut f, &w, CheckRequest::sale(code(&w, Layout::S13T44, "blocked")));
    assert_eq!((a.item_status, a.result, v), (Some(3), 7, 7));
    f.decline().unwrap();
    assert_eq!(f.marking_flags(), (0, 0b01));
    // Crypto-invalid code: the КМ is incorrect → 2112 bit 1.
    let (_, a, v) = check_online(&mut f, &w, CheckRequest::sale(code(&w, Layout::S13T44, "crypto-invalid")));
    assert_eq!((a.item_status, a.result, v), (Some(1), 13, 5));
    f.decline().unwrap();
    assert_eq!(f.marking_flags(), (0b10, 0b01));
    assert_eq!(f.shift_close_marking(), (0, 0b10, 0b01));
    assert_eq!(f.marking_flags(), (0, 0));

    // A positive ticket sets nothing; a negative one (a code not sellable) sets 2112 bit 2, 2113 bit 1.
    let good = sell_checked(&mut f, &w, &code(&w, Layout::Milk, "in-circulation"));
    let n = close(&mut f, &[good], OperationType::Sale);
    let t = oism::process_notification(&n, &mut w, f.options(), T);
    f.take_ticket(&t).unwrap();
    assert_eq!(f.marking_flags(), (0, 0));
    let emitted = sell_checked(&mut f, &w, &code(&w, Layout::Milk, "emitted"));
    assert_eq!(emitted.check_result, 7);
    let n = close(&mut f, &[emitted], OperationType::Sale);
    let t = oism::process_notification(&n, &mut w, f.options(), T);
    assert_eq!((t.result, t.items_result), (0, Some(1)));
    f.take_ticket(&t).unwrap();
    assert_eq!(f.marking_flags(), (0b100, 0b11), "the negative answer and the negative ticket");
    // Forced negative ticket: 2111 = 1 and 2006 = 1.
    f.shift_close_marking();
    let mut opts = KktOptions::default();
    opts.oism.force_ticket_negative = true;
    f.set_options(&opts);
    let ok = sell_checked(&mut f, &w, &code(&w, Layout::S13T44, "in-circulation"));
    let n = close(&mut f, &[ok], OperationType::Sale);
    let t = oism::ticket(&n, &w, f.options(), T);
    assert_eq!((t.result, t.items_result), (1, Some(1)));
    f.take_ticket(&t).unwrap();
    assert_eq!(f.shift_close_marking(), (0, 0b100, 0b10));
    // A ticket saying only "notification incorrect" (2111 = 1, no 2006): 2113 bit 1 alone.
    let ok = sell_checked(&mut f, &w, &code(&w, Layout::S13T44, "not-owner"));
    let n = close(&mut f, &[ok], OperationType::Sale);
    f.take_ticket(&Ticket {
        notification_number: n.notification_number,
        local_time: T,
        result: 1,
        items_result: None,
    })
    .unwrap();
    assert_eq!(f.shift_close_marking(), (0, 0, 0b10));
}

// ----- ОИСМ and the world ---------------------------------------------------------------------------

#[test]
fn processed_notifications_change_the_world() {
    let mut w = world();
    let mut f = store_fn(&w);
    let milk = code(&w, Layout::Milk, "in-circulation");
    let blocked = code(&w, Layout::Milk, "blocked");
    let a = sell_checked(&mut f, &w, &milk);
    let b = sell_checked(&mut f, &w, &blocked);
    let n = close(&mut f, &[a, b], OperationType::Sale);
    let t = oism::ticket(&n, &w, f.options(), T);
    assert_eq!((t.result, t.items_result), (0, Some(1)), "the blocked code was not sellable");
    let changed = oism::apply_notification(&n, &mut w);
    assert_eq!(changed, std::slice::from_ref(&milk), "only sellable codes change");
    let state = |w: &World, c: &str| {
        w.code_by_identity(&markcert_emulators::world::identity(c).unwrap()).unwrap().state
    };
    assert_eq!(state(&w, &milk), CodeState::Sold);
    assert_eq!(state(&w, &blocked), CodeState::Introduced);
    assert_eq!(oism::item_status(&w, &milk, 1), 2, "a second sale is refused online");
    assert_eq!(oism::item_status(&w, &milk, 3), 1, "a return is now correct");
    assert_eq!(oism::apply_notification(&n, &mut w), Vec::<String>::new(), "applied once");

    // Partial sale of a block (status 5, 1/10 of 10 packs → 1 unit), last units → sold.
    let block = code(&w, Layout::TobaccoBlock, "partially-sold");
    let record = |w: &World| {
        w.code_by_identity(&markcert_emulators::world::identity(&block).unwrap()).unwrap().clone()
    };
    assert_eq!((record(&w).inner_unit_count, record(&w).sold_unit_count), (Some(10), Some(3)));
    let frac = |n: u64| FractionalQuantity { part: format!("{n}/10"), numerator: n, denominator: 10 };
    let mut sell_part = |w: &mut World, n: u64| {
        let req = CheckRequest { fractional: Some(frac(n)), ..CheckRequest::with_status(block.clone(), 5) };
        check_online(&mut f, w, req);
        let acc = f.accept().unwrap();
        let it = ReceiptItem { quantity: Quantity { mantissa: n, scale: 1 }, ..item(&acc) };
        let out = f.form_notification(&receipt(vec![it], OperationType::Sale), T, crc).unwrap();
        let notification = out.notification.unwrap();
        assert_eq!(notification.items[0].fractional, Some(frac(n)));
        oism::process_notification(&notification, w, &KktOptions::default(), T)
    };
    let t = sell_part(&mut w, 1);
    assert_eq!(t.items_result, Some(0));
    assert_eq!((record(&w).state, record(&w).sold_unit_count), (CodeState::Introduced, Some(4)));
    sell_part(&mut w, 6);
    assert_eq!((record(&w).state, record(&w).sold_unit_count), (CodeState::Sold, Some(10)));
}

#[test]
fn oism_answers_the_fn_request_for_each_world_state() {
    let w = world();
    let mut f = store_fn(&w);
    let cases = [
        (Layout::S13T88, "in-circulation", 1, (15, Some(1)), 15),
        (Layout::S13T88, "sold", 1, (7, Some(2)), 7),
        (Layout::S13T44, "emitted", 1, (7, Some(2)), 7),
        (Layout::S13T44, "applied", 1, (7, Some(2)), 7),
        (Layout::S13T44, "withdrawn", 1, (7, Some(2)), 7),
        (Layout::S13T44, "permit-terminated", 1, (7, Some(3)), 7),
        (Layout::S13T44, "not-owner", 1, (15, Some(1)), 15),
        (Layout::S13T44, "sold", 3, (15, Some(1)), 15),
        (Layout::S13T44, "in-circulation", 3, (7, Some(2)), 7),
        (Layout::TobaccoPack, "grey-zone", 1, (15, Some(1)), 15),
        (Layout::TobaccoPack, "blocked", 1, (7, Some(3)), 7),
        (Layout::S13T93, "gtin-blocked", 1, (7, Some(3)), 7),
        (Layout::Milk, "gtin-grey", 1, (15, Some(1)), 15),
        (Layout::Milk, "expired", 1, (15, Some(1)), 15),
        (Layout::S13T44, "eaeu-ok", 1, (15, Some(1)), 15),
        (Layout::S13T44, "eaeu-failed-in-issuing-country", 1, (5, Some(2)), 5),
        (Layout::S13T44, "eaeu-not-in-cross-border-service", 1, (5, Some(2)), 5),
    ];
    for (layout, case, status, (result, item_status), want_2106) in cases {
        let c = code(&w, layout, case);
        let (_, a, v) = check_online(&mut f, &w, CheckRequest::with_status(c, status));
        assert_eq!(
            (a.processing_code, a.result, a.item_status, v),
            (0, result, item_status, want_2106),
            "{layout} {case} {status}"
        );
        f.decline().unwrap();
    }
    // Forced 2109.
    let mut opts = KktOptions::default();
    opts.oism.force_2109 = Some(3);
    f.set_options(&opts);
    let (_, a, v) = check_online(&mut f, &w, CheckRequest::sale(code(&w, Layout::S13T44, "in-circulation")));
    assert_eq!((a.item_status, a.result, v), (Some(3), 7, 7));
}

// ----- keys, signatures, counters ---------------------------------------------------------------------

#[test]
fn authentication_is_accepted_by_the_true_api_side() {
    let w = world();
    let f = store_fn(&w);
    let service = FnAuthService::default();
    let issued = service.challenge(&w, STORE_FN_SERIAL, Some(STORE_INN), NOW_MS).unwrap();
    let answer = f.authenticate(&issued.challenge.0).unwrap();
    assert_eq!((answer.fn_serial.as_str(), answer.alg.as_str()), (STORE_FN_SERIAL, "HMAC-SHA256"));
    let token = service
        .exchange(&w, &issued.id, STORE_FN_SERIAL, &answer.mac, Some(&answer.alg), NOW_MS + 1)
        .unwrap();
    assert_eq!(token.inn, STORE_INN);

    // fn.auth = broken → a wrong MAC; fn.auth_secret → another key.
    let mut opts = KktOptions::default();
    opts.fn_m.auth = FnAuthMode::Broken;
    let broken = fn_with(&w, &opts);
    let issued = service.challenge(&w, STORE_FN_SERIAL, None, NOW_MS).unwrap();
    let mac = broken.authenticate(&issued.challenge.0).unwrap().mac;
    assert!(service.exchange(&w, &issued.id, STORE_FN_SERIAL, &mac, None, NOW_MS).is_err());
    let mut opts = KktOptions::default();
    opts.fn_m.auth_secret = Some("11".repeat(32));
    let other = fn_with(&w, &opts);
    let challenge = Challenge(vec![7; 32]);
    let mac = other.authenticate(&challenge.0).unwrap().mac;
    let raw = base64_decode(&mac);
    assert!(HmacSha256V1.verify(&[0x11; 32], &challenge, STORE_FN_SERIAL, &Mac(raw.clone())));
    assert!(!HmacSha256V1.verify(
        &w.fn_secret(STORE_FN_SERIAL).unwrap(),
        &challenge,
        STORE_FN_SERIAL,
        &Mac(raw)
    ));
    // Back to the world's secret at run time.
    let mut other = other;
    other.set_options(&KktOptions::default());
    let raw = base64_decode(&other.authenticate(&challenge.0).unwrap().mac);
    assert!(HmacSha256V1.verify(
        &w.fn_secret(STORE_FN_SERIAL).unwrap(),
        &challenge,
        STORE_FN_SERIAL,
        &Mac(raw)
    ));
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn counters_and_fiscal_signs() {
    let w = world();
    let mut f = store_fn(&w);
    assert_eq!(f.last_document_number(), 0);
    assert_eq!((f.next_document_number(), f.next_document_number()), (1, 2));
    assert_eq!(f.last_document_number(), 2);
    let g = store_fn(&w);
    assert_eq!(f.fiscal_sign(b"receipt"), g.fiscal_sign(b"receipt"), "deterministic per ФН");
    assert_ne!(f.fiscal_sign(b"receipt"), f.fiscal_sign(b"receipt2"));
    let mut opts = KktOptions::default();
    opts.fn_m.serial = Some(NON_MARKING_FN_SERIAL.into());
    let h = fn_with(&w, &opts);
    opts.fn_m.serial = Some("9999000000000001".into());
    assert_eq!(FnRegistration::from_world(&w, &opts, "1"), None, "a ФН the world does not know");
    assert_ne!(f.fiscal_sign(b"receipt"), h.fiscal_sign(b"receipt"), "keyed by the ФН's secret");
    // Request and notification numbers run on their own.
    let codes = codes44(&w, 2);
    let a = sell_checked(&mut f, &w, &codes[0]);
    let b = sell_checked(&mut f, &w, &codes[1]);
    assert_eq!((a.request_number, b.request_number), (Some(1), Some(2)));
    let n = close(&mut f, &[a, b], OperationType::Sale);
    assert_eq!((n.notification_number, f.last_notification_number(), f.last_request_number()), (1, 1, 2));
    assert_eq!(f.last_document_number(), 2, "requests and notifications take no 1040");
}

#[test]
fn control_code_follows_kkt_tag2115() {
    let w = world();
    let mut f = store_fn(&w);
    let c = code(&w, Layout::Milk, "in-circulation");
    let acc = sell_checked(&mut f, &w, &c);
    let mut opts = KktOptions::default();
    opts.kkt.tag2115 = Tag2115Mode::Fixed;
    let n = f
        .form_notification(&receipt(vec![item(&acc)], OperationType::Sale), T, |c| opts.control_code(c))
        .unwrap()
        .notification
        .unwrap();
    assert_eq!(n.items[0].control_code, "0000");
    assert_eq!(KktOptions::default().control_code(&c).len(), 4);
}

#[test]
fn pack_item_id_follows_tag1306_form() {
    let w = world();
    let pack = code(&w, Layout::TobaccoPack, "in-circulation");
    let mut f = store_fn(&w);
    let a = sell_checked(&mut f, &w, &pack);
    assert_eq!(a.item_id, format!("01{}21{}", &pack[..14], &pack[14..21]));
    let mut opts = KktOptions::default();
    opts.kkt.tag1306_form = markcert_codes::Tag1306Form::First25;
    f.set_options(&opts);
    f.clear_table();
    let a = sell_checked(&mut f, &w, &pack);
    assert_eq!(a.item_id, pack[..25]);
    assert_eq!(a.answer.unwrap().item_id.as_deref(), Some(&pack[..25]), "the ОИСМ uses the same form");
}
