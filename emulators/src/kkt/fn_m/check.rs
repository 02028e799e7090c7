//! One marking-code check in the ФН-М (`kkt.md` §4.1–§4.7, §6.1–§6.2): what the KKT passes (B1h), the
//! local КП check against the world (2004 and the reason byte), the validation of the planned status,
//! quantity, unit and fraction, the pending check through B5h/B6h, the 2106 formula, and the entry a
//! check leaves in the table of accepted codes (B2h).

use super::error::{FnError, FnWarning};
use crate::ffd::{FractionalQuantity, MarkingAnswer, Quantity};
use crate::kkt::options::{FnCheckMode, FnOptions};
use crate::world::{Crypto, Origin, World};
use markcert_codes::{CodeOptions, MarkingCode, Tail};

/// Planned statuses 2003 the ФН accepts (`kkt.md` §4.1).
pub const PLANNED_STATUSES: [u8; 7] = [1, 2, 3, 4, 5, 6, 255];

/// Every admissible 2106 value (`kkt.md` §4.7).
pub const ADMISSIBLE_2106: [u8; 9] = [0, 1, 3, 5, 7, 15, 16, 17, 19];

/// What the KKT passes to the ФН to check a code (B1h, and B5h unless `form_request` is false).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckRequest {
    /// The raw КМ as the POS sent it (⟨GS⟩ included).
    pub code: String,
    /// 2100 declared by the POS (`imcType`); `None` = `auto`, the KKT classifies.
    pub explicit_type: Option<u8>,
    /// 2003.
    pub planned_status: u8,
    /// 1023, only with planned status 2 or 4.
    pub quantity: Option<Quantity>,
    /// 2108, only with planned status 2 or 4.
    pub measure: Option<u8>,
    /// 1291.
    pub fractional: Option<FractionalQuantity>,
    /// 2102 (only 0 is defined).
    pub processing_mode: u8,
    /// Form request 81 (false for `notFormRequest` / `notSendToServer`).
    pub form_request: bool,
}

impl CheckRequest {
    /// A piece sale (status 1) of `code`, classified by the KKT, with a request.
    pub fn sale(code: impl Into<String>) -> CheckRequest {
        CheckRequest::with_status(code, 1)
    }

    /// A check of `code` with planned status `status`, classified by the KKT, with a request.
    pub fn with_status(code: impl Into<String>, status: u8) -> CheckRequest {
        CheckRequest {
            code: code.into(),
            explicit_type: None,
            planned_status: status,
            quantity: None,
            measure: None,
            fractional: None,
            processing_mode: 0,
            form_request: true,
        }
    }
}

/// The "reason not checked" byte (`kkt.md` §4.2; not a tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FnCheckReason {
    /// 0: checked in the ФН.
    Checked,
    /// 1: this code type is not checked in the ФН (2100 = 1, 3, 5).
    TypeIncorrect,
    /// 2: the ФН has no key for this code's КП.
    NoKeys,
    /// 3: AI 91 and/or 92 missing or malformed (2100 = 0, or no signature).
    NoGs1,
    /// 4: internal ФН error.
    Other,
}

impl FnCheckReason {
    /// The byte value.
    pub fn code(self) -> u8 {
        match self {
            FnCheckReason::Checked => 0,
            FnCheckReason::TypeIncorrect => 1,
            FnCheckReason::NoKeys => 2,
            FnCheckReason::NoGs1 => 3,
            FnCheckReason::Other => 4,
        }
    }

    /// ATOL `fmCheckErrorReason`.
    pub fn atol_name(self) -> &'static str {
        match self {
            FnCheckReason::Checked => "checked",
            FnCheckReason::TypeIncorrect => "typeIncorrect",
            FnCheckReason::NoKeys => "noKeys",
            FnCheckReason::NoGs1 => "noGS1",
            FnCheckReason::Other => "other",
        }
    }
}

/// What B1h (+B5h) gives back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BeginOutcome {
    /// 2004: 0 not checked, 1 checked negative, 3 checked positive.
    pub local_check: u8,
    /// Why not checked (or `Checked`).
    pub reason: FnCheckReason,
    /// 2100 used for the check.
    pub code_type: u8,
    /// Request 81, when one was formed (to be queued to the ОФД).
    pub request: Option<crate::ffd::MarkingRequest>,
    /// What the KKT should report besides the result.
    pub warnings: Vec<FnWarning>,
}

/// Where a check stands (`kkt.md` §6.2 states 2–4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckStage {
    /// 2: the code was passed (B1h); local result known.
    Received,
    /// 3: request 81 formed (B5h).
    Requested,
    /// 4: answer 83 passed (B6h).
    Answered,
}

impl CheckStage {
    /// The §6.2 state number.
    pub fn state(self) -> u8 {
        match self {
            CheckStage::Received => 2,
            CheckStage::Requested => 3,
            CheckStage::Answered => 4,
        }
    }
}

/// The check in progress (between B1h and B2h).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingCheck {
    /// The raw КМ.
    pub code: String,
    /// 2100.
    pub code_type: u8,
    /// 2101 (КИ form, `codes.md` §9.4).
    pub item_id: String,
    /// 2003.
    pub planned_status: u8,
    /// 2004.
    pub local_check: u8,
    /// Reason byte.
    pub reason: FnCheckReason,
    /// 1023.
    pub quantity: Option<Quantity>,
    /// 2108.
    pub measure: Option<u8>,
    /// 1291.
    pub fractional: Option<FractionalQuantity>,
    /// 2102.
    pub processing_mode: u8,
    /// 2001 of request 81, when formed.
    pub request_number: Option<u32>,
    /// Answer 83, once passed.
    pub answer: Option<MarkingAnswer>,
    /// 2106, once the check is finished (answer passed, or finished without one).
    pub check_result: Option<u8>,
    /// Stage.
    pub stage: CheckStage,
}

impl PendingCheck {
    /// True once 2106 is known: the check may be accepted or declined.
    pub fn is_finished(&self) -> bool {
        self.check_result.is_some()
    }
}

/// A code accepted into the ФН table (B2h = 1), waiting for its receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedCode {
    /// The raw КМ (2000).
    pub code: String,
    /// 2100.
    pub code_type: u8,
    /// 2101.
    pub item_id: String,
    /// 2003 (the 2110 the receipt item must carry).
    pub planned_status: u8,
    /// 2004.
    pub local_check: u8,
    /// 2106.
    pub check_result: u8,
    /// 1023.
    pub quantity: Option<Quantity>,
    /// 2108.
    pub measure: Option<u8>,
    /// 1291.
    pub fractional: Option<FractionalQuantity>,
    /// 2102.
    pub processing_mode: u8,
    /// 2001 of the request, when one was formed.
    pub request_number: Option<u32>,
    /// Answer 83, if one arrived.
    pub answer: Option<MarkingAnswer>,
}

impl AcceptedCode {
    pub(crate) fn from_check(check: PendingCheck, check_result: u8) -> AcceptedCode {
        AcceptedCode {
            code: check.code,
            code_type: check.code_type,
            item_id: check.item_id,
            planned_status: check.planned_status,
            local_check: check.local_check,
            check_result,
            quantity: check.quantity,
            measure: check.measure,
            fractional: check.fractional,
            processing_mode: check.processing_mode,
            request_number: check.request_number,
            answer: check.answer,
        }
    }
}

/// 2106 from the local check, the answer 83 (2005, 2109) if one was received, and the autonomous flag,
/// by the formula of `kkt.md` §4.7. Always one of [`ADMISSIBLE_2106`]: an autonomous KKT receives no
/// answer, so an answer passed with `autonomous` is ignored.
pub fn tag_2106(local_check: u8, answer: Option<(u8, Option<u8>)>, autonomous: bool) -> u8 {
    let answer = if autonomous { None } else { answer };
    let local_checked = local_check & 0b1 != 0;
    let local_positive = local_check & 0b11 == 0b11;
    let bit0 = local_checked || answer.is_some();
    let oism_positive = answer.is_none_or(|(result, _)| result & 0b10 != 0);
    let bit1 = bit0 && (!local_checked || local_positive) && oism_positive;
    let bit2 = answer.is_some();
    let bit3 = bit2 && bit1 && answer.is_some_and(|(_, status)| status == Some(1));
    u8::from(bit0)
        | u8::from(bit1) << 1
        | u8::from(bit2) << 2
        | u8::from(bit3) << 3
        | u8::from(autonomous) << 4
}

/// Validate the parameters of a check (the driver's own refusals: 404, 409, 413).
pub(crate) fn validate_request(req: &CheckRequest) -> Result<(), FnError> {
    if req.code.is_empty() {
        return Err(FnError::MissingRequisites("2000 (marking code)"));
    }
    if req.processing_mode != 0 {
        return Err(FnError::InvalidProcessingMode(req.processing_mode));
    }
    if !PLANNED_STATUSES.contains(&req.planned_status) {
        return Err(FnError::InvalidStatus(req.planned_status));
    }
    if (req.quantity.is_some() || req.measure.is_some()) && !matches!(req.planned_status, 2 | 4) {
        return Err(FnError::QuantityNotAllowed(req.planned_status));
    }
    if let Some(f) = &req.fractional {
        validate_fraction(f)?;
    }
    if let Some(t) = req.explicit_type.filter(|&t| t > 5) {
        return Err(FnError::InvalidCode(format!("code type {t} is not one of 0..=5")));
    }
    Ok(())
}

/// 0 < n < m and 1292 = `"n/m"` (`kkt.md` §4.17).
pub fn validate_fraction(f: &FractionalQuantity) -> Result<(), FnError> {
    let ok = f.numerator > 0
        && f.denominator > 0
        && f.numerator < f.denominator
        && f.part == format!("{}/{}", f.numerator, f.denominator);
    if ok {
        Ok(())
    } else {
        Err(FnError::InvalidFraction(f.part.clone()))
    }
}

/// The classification and local check of one code.
pub(crate) struct LocalCheck {
    pub code_type: u8,
    pub item_id: String,
    pub local_check: u8,
    pub reason: FnCheckReason,
    pub warning: Option<FnWarning>,
}

/// Classify `req.code` (or take the declared type) and run the local КП check of `kkt.md` §4.2: types
/// 1, 3, 5 are not checked (reason 1); 0, or 2/4 without AI 91/92, cannot be (reason 3); for 2 and 4
/// `fn.check = internal_error` gives reason 4, a missing key reason 2, else the world decides: the
/// registered code with its own tail and a valid crypto verdict → 3, anything else → 1.
pub(crate) fn local_check(
    req: &CheckRequest,
    world: &World,
    fn_opts: &FnOptions,
    code_options: &CodeOptions,
) -> Result<LocalCheck, FnError> {
    let parsed = markcert_codes::parse(req.code.as_bytes()).ok();
    let record = parsed.as_ref().and_then(|p| world.code_by_identity(p.ki()));
    let foreign = record.is_some_and(|r| r.origin != Origin::Russia);
    let classified = parsed.as_ref().map(|p| p.ffd_2100(code_options, foreign));
    let (code_type, warning) = match req.explicit_type {
        None => (classified.unwrap_or(0), None),
        Some(_) if parsed.is_none() => {
            return Err(FnError::InvalidCode("the code cannot be parsed with an explicit imcType".into()))
        }
        Some(declared) => {
            let warning =
                (Some(declared) != classified).then_some(FnWarning::TypeMismatch { declared, classified });
            (declared, warning)
        }
    };
    let item_id = item_id(parsed.as_ref(), &req.code, code_options);
    let (local_check, reason) = match (code_type, parsed.as_ref().map(MarkingCode::tail)) {
        (1 | 3 | 5, _) => (0, FnCheckReason::TypeIncorrect),
        (2 | 4, Some(Tail::Signature { key, .. })) => {
            if fn_opts.check == FnCheckMode::InternalError {
                (0, FnCheckReason::Other)
            } else if fn_opts.key_missing(key) {
                (0, FnCheckReason::NoKeys)
            } else {
                let authentic = record.is_some_and(|r| r.code == req.code && r.crypto == Crypto::Valid);
                (if authentic { 3 } else { 1 }, FnCheckReason::Checked)
            }
        }
        _ => (0, FnCheckReason::NoGs1),
    };
    Ok(LocalCheck { code_type, item_id, local_check, reason, warning })
}

/// 2101 of a code: the 1163 value (КИ; the configured 1306 form for packs); for a code that cannot be
/// parsed, what precedes the first ⟨GS⟩, at most 38 characters.
pub fn item_id(parsed: Option<&MarkingCode>, raw: &str, code_options: &CodeOptions) -> String {
    match parsed {
        Some(p) => p.tag_1163_value(code_options),
        None => raw.split('\u{1d}').next().unwrap_or_default().chars().take(38).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tag_2106_table() {
        // (2004, answer (2005, 2109), autonomous) → 2106, every row of kkt.md §4.7.
        type Answer = Option<(u8, Option<u8>)>;
        let cases: &[(u8, Answer, bool, u8)] = &[
            (0, None, false, 0),
            (1, None, false, 1),
            (3, None, false, 3),
            (0, Some((15, Some(1))), false, 15),
            (3, Some((15, Some(1))), false, 15),
            (3, Some((7, Some(2))), false, 7),
            (3, Some((7, Some(3))), false, 7),
            (0, Some((7, Some(2))), false, 7),
            (0, Some((13, Some(1))), false, 5),
            (0, Some((5, Some(2))), false, 5),
            (1, Some((15, Some(1))), false, 5),
            (1, Some((5, None)), false, 5),
            (3, Some((5, None)), false, 5),
            (3, Some((7, None)), false, 7),
            (0, None, true, 16),
            (1, None, true, 17),
            (3, None, true, 19),
            (3, Some((15, Some(1))), true, 19),
        ];
        for &(local, answer, autonomous, want) in cases {
            assert_eq!(tag_2106(local, answer, autonomous), want, "{local} {answer:?} {autonomous}");
        }
    }

    proptest! {
        #[test]
        fn tag_2106_is_always_admissible(local in any::<u8>(), answer in any::<Option<(u8, Option<u8>)>>(), autonomous in any::<bool>()) {
            let v = tag_2106(local, answer, autonomous);
            prop_assert!(ADMISSIBLE_2106.contains(&v), "{v}");
            prop_assert_eq!(v == 15, !autonomous && answer.is_some_and(|(r, s)| r & 2 != 0 && s == Some(1)) && (local & 1 == 0 || local & 3 == 3));
        }
    }

    #[test]
    fn request_validation() {
        let ok = CheckRequest::sale("x");
        assert_eq!(validate_request(&ok), Ok(()));
        let with = |f: &dyn Fn(&mut CheckRequest)| {
            let mut r = ok.clone();
            f(&mut r);
            validate_request(&r).map_err(|e| e.atol_code())
        };
        assert_eq!(with(&|r| r.code.clear()), Err(410));
        assert_eq!(with(&|r| r.processing_mode = 1), Err(409));
        assert_eq!(with(&|r| r.planned_status = 7), Err(404));
        assert_eq!(with(&|r| r.planned_status = 0), Err(404));
        assert_eq!(with(&|r| r.quantity = Some(Quantity::whole(1))), Err(413));
        assert_eq!(with(&|r| r.measure = Some(11)), Err(413));
        assert_eq!(with(&|r| r.explicit_type = Some(6)), Err(409));
        assert_eq!(
            with(&|r| {
                r.planned_status = 2;
                r.quantity = Some(Quantity { mantissa: 5, scale: 1 });
                r.measure = Some(41);
            }),
            Ok(())
        );
        let frac = |n, m, part: &str| FractionalQuantity { part: part.into(), numerator: n, denominator: m };
        assert_eq!(with(&|r| r.fractional = Some(frac(1, 10, "1/10"))), Ok(()));
        for bad in [
            frac(10, 10, "10/10"),
            frac(11, 10, "11/10"),
            frac(0, 10, "0/10"),
            frac(1, 0, "1/0"),
            frac(1, 10, "1/9"),
        ] {
            assert_eq!(with(&|r| r.fractional = Some(bad.clone())), Err(409), "{bad:?}");
        }
    }

    #[test]
    fn reason_names() {
        let all = [
            FnCheckReason::Checked,
            FnCheckReason::TypeIncorrect,
            FnCheckReason::NoKeys,
            FnCheckReason::NoGs1,
            FnCheckReason::Other,
        ];
        let names: Vec<_> = all.iter().map(|r| (r.code(), r.atol_name())).collect();
        assert_eq!(names, [(0, "checked"), (1, "typeIncorrect"), (2, "noKeys"), (3, "noGS1"), (4, "other")]);
    }
}
