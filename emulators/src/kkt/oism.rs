//! The emulated ОИСМ (ГИС МТ behind the ОФД, spec `kkt.md` §7.1, §7.2): answer 83 to a request 81 and
//! ticket 84 to a notification 82, judged from the world at answer time, and the world change a
//! processed notification makes (a sale withdraws its codes, a return brings them back), so that a
//! second sale of the same code is caught by the next online check.
//!
//! Pure functions: the KKT device calls them and handles the ОФД's reachability, the latency and the
//! timeouts (`oism.answer`, `oism.latency_ms`, `oism.timeout_ms`).

use crate::ffd::{MarkingAnswer, MarkingRequest, Notification, NotificationItem, OperationType, Ticket};
use crate::kkt::fn_m::PLANNED_STATUSES;
use crate::kkt::options::KktOptions;
use crate::world::{CodeRecord, CodeState, Crypto, Origin, World};
use markcert_codes::CodeOptions;

/// 2005 bits 0 and 2, always set.
const RESULT_ALWAYS: u8 = 0b0101;
/// 2005 bit 1: КП checked positively by the ОИСМ.
const RESULT_CODE_OK: u8 = 0b0010;
/// 2005 bit 3: status correct (2109 = 1).
const RESULT_STATUS_OK: u8 = 0b1000;

/// What the world says about one code, as the ОИСМ reads it.
#[derive(Clone, Copy, Debug)]
struct Facts<'a> {
    /// Found in ГИС МТ (an EAEU code the cross-border service fails or does not know is not).
    record: Option<&'a CodeRecord>,
    /// Blocked by a body, for the code or its GTIN.
    blocked: bool,
    /// The verification part sent is the registered one and the registry says it is valid.
    authentic: bool,
}

fn facts<'a>(world: &'a World, raw: &str) -> Facts<'a> {
    let Ok(parsed) = markcert_codes::parse(raw.as_bytes()) else {
        return Facts { record: None, blocked: false, authentic: false };
    };
    let record =
        world.code_by_identity(parsed.ki()).filter(|r| matches!(r.origin, Origin::Russia | Origin::EaeuOk));
    let gtin_ban = world.product(parsed.gtin()).is_some_and(|p| p.is_blocked());
    Facts {
        record,
        blocked: record.is_some_and(|r| r.is_blocked() || gtin_ban),
        authentic: record.is_some_and(|r| r.code == raw && r.crypto == Crypto::Valid),
    }
}

/// True for the planned statuses of a sale (1, 2, 5, 6).
fn is_sale_status(status: u8) -> bool {
    matches!(status, 1 | 2 | 5 | 6)
}

/// True for the planned statuses of a return (3, 4).
fn is_return_status(status: u8) -> bool {
    matches!(status, 3 | 4)
}

/// 2109 for a code with planned status `planned` (`kkt.md` §7.1): for a sale 3 if blocked, 1 if found
/// ∧ utilised ∧ ¬sold ∧ (realizable ∨ grey zone), else 2; for a return 3 if blocked, 1 if found ∧
/// sold, else 2; for 255 (status unchanged) 3 if blocked, 1 if found, else 2.
pub fn item_status(world: &World, code: &str, planned: u8) -> u8 {
    status_of(&facts(world, code), planned)
}

fn status_of(f: &Facts<'_>, planned: u8) -> u8 {
    let Some(r) = f.record else { return 2 };
    if f.blocked {
        return 3;
    }
    // utilised: applied or later; realizable: introduced; sold: withdrawn by a sale or otherwise
    // (the True API's flags, `trueapi.rs`).
    let utilised = r.state != CodeState::Emitted;
    let realizable = r.state == CodeState::Introduced;
    let sold = matches!(r.state, CodeState::Sold | CodeState::Withdrawn);
    let correct = if is_sale_status(planned) {
        utilised && !sold && (realizable || r.gray_zone)
    } else if is_return_status(planned) {
        sold
    } else {
        planned == 255
    };
    if correct {
        1
    } else {
        2
    }
}

/// Answer 83 to request 81 from the world at answer time (`kkt.md` §7.1).
///
/// 2105: 1 when 2000 is empty or another mandatory requisite is missing or invalid (1018, 1041, 2003,
/// 2102 ≠ 0), 2 when the code cannot be classified (it does not parse, or 2100 is 0 in the request or
/// by classification), else 0. Only with 2105 = 0 do 2109 and 2005 bits 1 and 3 carry a verdict
/// (`oism.force_2109` replaces 2109); otherwise 2005 = 5 and 2109 is absent.
pub fn answer(
    request: &MarkingRequest,
    world: &World,
    opts: &KktOptions,
    code_options: &CodeOptions,
) -> MarkingAnswer {
    let mut a = MarkingAnswer {
        request_number: request.request_number,
        local_time: request.local_time,
        processing_code: 1,
        code_type: None,
        item_id: None,
        result: RESULT_ALWAYS,
        item_status: None,
        processing_mode: request.processing_mode,
    };
    if request.marking_code.is_empty() {
        return a;
    }
    let parsed = markcert_codes::parse(request.marking_code.as_bytes()).ok();
    let f = facts(world, &request.marking_code);
    let foreign = f.record.is_some_and(|r| r.origin != Origin::Russia);
    let code_type = parsed.as_ref().map(|p| p.ffd_2100(code_options, foreign));
    let Some(parsed) = parsed.filter(|_| request.code_type != 0 && code_type != Some(0)) else {
        a.processing_code = 2;
        return a;
    };
    a.code_type = code_type;
    a.item_id = Some(parsed.tag_1163_value(code_options));
    let request_complete = !request.user_inn.trim().is_empty()
        && !request.fn_serial.trim().is_empty()
        && PLANNED_STATUSES.contains(&request.planned_status)
        && request.processing_mode == 0;
    if !request_complete {
        return a;
    }
    a.processing_code = 0;
    let status = opts.oism.force_2109.unwrap_or_else(|| status_of(&f, request.planned_status));
    a.item_status = Some(status);
    if f.authentic {
        a.result |= RESULT_CODE_OK;
    }
    if status == 1 {
        a.result |= RESULT_STATUS_OK;
    }
    a
}

/// Whether one 2007 of a notification is processed positively: the code is found with its authentic
/// verification part, its status fits the operation (sale: 1, 2, 5, 6; return: 3, 4; 255 either), and
/// the world says that status is correct (2109 would be 1).
pub fn item_accepted(world: &World, operation: OperationType, item: &NotificationItem) -> bool {
    let status = item.assigned_status;
    let fits = match operation {
        OperationType::Sale => is_sale_status(status) || status == 255,
        OperationType::SaleReturn => is_return_status(status) || status == 255,
    };
    let f = facts(world, &item.marking_code);
    fits && f.authentic && status_of(&f, status) == 1
}

/// Ticket 84 to notification 82 from the world (`kkt.md` §7.2), judged before the notification is
/// applied: 2111 = 0 and 2006 = 0 when every code was sellable; 2006 = 1 (2111 = 0) when one was not
/// ([`item_accepted`]); 2111 = 1 without 2006 for a notification without items; 2111 = 1 and 2006 = 1
/// with `oism.force_ticket_negative`.
pub fn ticket(notification: &Notification, world: &World, opts: &KktOptions, local_time: u32) -> Ticket {
    let (result, items_result) = if opts.oism.force_ticket_negative {
        (1, Some(1))
    } else if notification.items.is_empty() {
        (1, None)
    } else {
        let all = notification.items.iter().all(|i| item_accepted(world, notification.operation, i));
        (0, Some(u8::from(!all)))
    };
    Ticket { notification_number: notification.notification_number, local_time, result, items_result }
}

/// Apply a processed notification to the world: every positively processed code (see
/// [`item_accepted`]) changes state. Sale 1 and 6 → `sold`; 5 (part of a piece item) adds the sold
/// units (`n·inner/m` of the fraction, else 1) and withdraws the code once all units are sold; 2 (part
/// of a measured item) keeps it in circulation. Return 3 → `introduced`; 4 also subtracts the units.
/// Returns the codes whose record changed.
pub fn apply_notification(notification: &Notification, world: &mut World) -> Vec<String> {
    let accepted: Vec<&NotificationItem> =
        notification.items.iter().filter(|i| item_accepted(world, notification.operation, i)).collect();
    let mut changed = Vec::new();
    for item in accepted {
        let Some(ki) = crate::world::identity(&item.marking_code) else { continue };
        let Some(mut record) = world.code_by_identity(&ki).cloned() else { continue };
        let before = record.clone();
        let units = item.fractional.as_ref().map_or(1, |f| {
            let inner = u64::from(record.inner_unit_count.unwrap_or(0));
            u32::try_from(f.numerator.saturating_mul(inner) / f.denominator.max(1)).unwrap_or(u32::MAX)
        });
        match item.assigned_status {
            1 | 6 => record.state = CodeState::Sold,
            5 => {
                if let Some(inner) = record.inner_unit_count {
                    let sold = record.sold_unit_count.unwrap_or(0).saturating_add(units).min(inner);
                    record.sold_unit_count = Some(sold);
                    if sold >= inner {
                        record.state = CodeState::Sold;
                    }
                }
            }
            3 => record.state = CodeState::Introduced,
            4 => {
                if let Some(sold) = record.sold_unit_count {
                    record.sold_unit_count = Some(sold.saturating_sub(units));
                }
                record.state = CodeState::Introduced;
            }
            _ => {}
        }
        if record != before && world.update_code(record).is_ok() {
            changed.push(item.marking_code.clone());
        }
    }
    changed
}

/// The ОИСМ's whole handling of a notification: the ticket (judged on the world as it was), then the
/// world change of [`apply_notification`].
pub fn process_notification(
    notification: &Notification,
    world: &mut World,
    opts: &KktOptions,
    local_time: u32,
) -> Ticket {
    let t = ticket(notification, world, opts, local_time);
    apply_notification(notification, world);
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::default::{default_world, STORE_FN_SERIAL, STORE_INN};
    use markcert_codes::Layout;

    const NOW: i64 = 1_767_225_600_000;

    fn code_of(w: &World, layout: Layout, case: &str) -> String {
        w.codes()
            .into_iter()
            .find(|c| {
                c.case.as_deref() == Some(case)
                    && markcert_codes::parse(c.code.as_bytes()).is_ok_and(|p| p.layout() == layout)
            })
            .map(|c| c.code.clone())
            .unwrap_or_else(|| panic!("no {layout} {case}"))
    }

    fn request(code: &str, status: u8) -> MarkingRequest {
        MarkingRequest {
            request_number: 7,
            user_inn: STORE_INN.into(),
            local_time: 1000,
            fn_serial: STORE_FN_SERIAL.into(),
            local_check: 0,
            planned_status: status,
            quantity: None,
            measure: None,
            fractional: None,
            code_type: markcert_codes::parse(code.as_bytes())
                .map(|p| p.ffd_2100(&CodeOptions::default(), false))
                .unwrap_or(0),
            marking_code: code.into(),
            processing_mode: 0,
            fiscal_sign: 0,
        }
    }

    fn ask(w: &World, code: &str, status: u8) -> (u8, u8, Option<u8>) {
        let a = answer(&request(code, status), w, &KktOptions::default(), &CodeOptions::default());
        (a.processing_code, a.result, a.item_status)
    }

    #[test]
    fn answers_for_each_world_state() {
        let w = default_world(NOW).unwrap();
        let milk = |case| code_of(&w, Layout::Milk, case);
        // (2105, 2005, 2109) for a sale.
        assert_eq!(ask(&w, &milk("in-circulation"), 1), (0, 15, Some(1)));
        assert_eq!(ask(&w, &milk("emitted"), 1), (0, 7, Some(2)));
        assert_eq!(ask(&w, &milk("applied"), 1), (0, 7, Some(2)));
        assert_eq!(ask(&w, &milk("sold"), 1), (0, 7, Some(2)));
        assert_eq!(ask(&w, &milk("withdrawn"), 1), (0, 7, Some(2)));
        assert_eq!(ask(&w, &milk("blocked"), 1), (0, 7, Some(3)));
        assert_eq!(ask(&w, &milk("vet-certificate-annulled"), 1), (0, 7, Some(3)));
        assert_eq!(ask(&w, &milk("crypto-invalid"), 1), (0, 13, Some(1)));
        assert_eq!(ask(&w, &code_of(&w, Layout::S13T93, "gtin-blocked"), 1), (0, 7, Some(3)));
        assert_eq!(ask(&w, &code_of(&w, Layout::TobaccoPack, "grey-zone"), 1), (0, 15, Some(1)));
        // Returns: only a sold code has a correct status.
        assert_eq!(ask(&w, &milk("sold"), 3), (0, 15, Some(1)));
        assert_eq!(ask(&w, &milk("in-circulation"), 3), (0, 7, Some(2)));
        assert_eq!(ask(&w, &milk("blocked"), 3), (0, 7, Some(3)));
        // Status unchanged.
        assert_eq!(ask(&w, &milk("in-circulation"), 255), (0, 15, Some(1)));
    }

    #[test]
    fn unknown_altered_and_foreign_codes() {
        let w = default_world(NOW).unwrap();
        let mut altered = code_of(&w, Layout::S13T44, "in-circulation");
        let at = altered.find("\u{1d}92").unwrap() + 5;
        let c = if &altered[at..=at] == "A" { "B" } else { "A" };
        altered.replace_range(at..=at, c);
        assert!(markcert_codes::parse(altered.as_bytes()).is_ok());
        assert_eq!(ask(&w, &altered, 1), (0, 13, Some(1)), "found, status right, КП wrong");
        let unknown = markcert_codes::generate::random_spec(
            Layout::Milk,
            &mut <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(99),
        )
        .render_string();
        assert!(w.code_by_identity(&crate::world::identity(&unknown).unwrap()).is_none());
        assert_eq!(ask(&w, &unknown, 1), (0, 5, Some(2)));
        let eaeu = |case| code_of(&w, Layout::S13T44, case);
        let a = answer(&request(&eaeu("eaeu-ok"), 1), &w, &KktOptions::default(), &CodeOptions::default());
        assert_eq!((a.result, a.item_status, a.code_type), (15, Some(1), Some(3)));
        assert_eq!(ask(&w, &eaeu("eaeu-failed-in-issuing-country"), 1), (0, 5, Some(2)));
        assert_eq!(ask(&w, &eaeu("eaeu-not-in-cross-border-service"), 1), (0, 5, Some(2)));
    }

    #[test]
    fn processing_codes_and_forced_status() {
        let w = default_world(NOW).unwrap();
        let code = code_of(&w, Layout::S13T44, "in-circulation");
        let opts = KktOptions::default();
        let co = CodeOptions::default();
        let a = answer(&request(&code, 1), &w, &opts, &co);
        assert_eq!((a.request_number, a.local_time, a.code_type), (7, 1000, Some(4)));
        assert_eq!(a.item_id.as_deref(), Some(crate::world::identity(&code).unwrap().as_str()));
        // Empty 2000 → 1, bits 1 and 3 clear.
        let a = answer(&request("", 1), &w, &opts, &co);
        assert_eq!((a.processing_code, a.result, a.item_status, a.code_type), (1, 5, None, None));
        // Unparsable → 2.
        let a = answer(&request("0104600000000000garbage", 1), &w, &opts, &co);
        assert_eq!((a.processing_code, a.result, a.item_status), (2, 5, None));
        // Declared 2100 = 0 → 2.
        let mut r = request(&code, 1);
        r.code_type = 0;
        assert_eq!(answer(&r, &w, &opts, &co).processing_code, 2);
        // A mandatory requisite missing or invalid → 1.
        for f in [
            (|r: &mut MarkingRequest| r.user_inn.clear()) as fn(&mut MarkingRequest),
            |r| r.fn_serial.clear(),
            |r| r.planned_status = 9,
            |r| r.processing_mode = 1,
        ] {
            let mut r = request(&code, 1);
            f(&mut r);
            let a = answer(&r, &w, &opts, &co);
            assert_eq!((a.processing_code, a.result, a.item_status), (1, 5, None));
        }
        // Forced 2109.
        let mut forced = KktOptions::default();
        for (v, result) in [(1, 15), (2, 7), (3, 7)] {
            forced.oism.force_2109 = Some(v);
            let a = answer(&request(&code, 1), &w, &forced, &co);
            assert_eq!((a.item_status, a.result), (Some(v), result));
        }
        forced.oism.force_2109 = Some(1);
        let a = answer(&request(&code_of(&w, Layout::S13T44, "sold"), 1), &w, &forced, &co);
        assert_eq!((a.item_status, a.result), (Some(1), 15));
    }

    #[test]
    fn pack_item_id_follows_the_1306_form() {
        let w = default_world(NOW).unwrap();
        let pack = code_of(&w, Layout::TobaccoPack, "in-circulation");
        let opts = KktOptions::default();
        let a = answer(&request(&pack, 1), &w, &opts, &CodeOptions::default());
        assert_eq!(a.code_type, Some(1));
        assert_eq!(a.item_id.as_deref().map(str::len), Some(25));
        let first21 =
            CodeOptions { tag1306_form: markcert_codes::Tag1306Form::First21, ..Default::default() };
        let a = answer(&request(&pack, 1), &w, &opts, &first21);
        assert_eq!(a.item_id.as_deref(), Some(&pack[..21]));
    }
}
