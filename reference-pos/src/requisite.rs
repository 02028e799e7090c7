//! Tag 1260, the permissive-mode industry requisite of a marked position (true-api.md §12, kkt.md
//! §10.3–§10.4): 1262 `030`, 1263 `21.11.2023` (ATOL wants `2023.11.21`), 1264 `1944`, and 1265 built
//! from the check that covered *that* code — `UUID=<reqId>&Time=<reqTimestamp>`, plus
//! `&Inst=<inst>&Ver=<version>` exactly when the answer came from the ЛМ ЧЗ. Emergency (203): no 1260.
//! Mutants `old-1263-1264` and `no-1260` are branches of [`industry_info`].

use serde_json::{json, Value};

use crate::mutant::Mutant;

/// 1262: the ФОИВ id.
pub const FOIV_ID: &str = "030";
/// 1263 as ATOL JSON takes it (`yyyy.MM.dd`; the KKT writes `21.11.2023`).
pub const DOC_DATE_ATOL: &str = "2023.11.21";
/// 1264: ПП РФ № 1944.
pub const DOC_NUMBER: &str = "1944";
/// 1263 of the repealed basis document (ATOL form), as pre-2024 POS software writes it.
pub const OLD_DOC_DATE_ATOL: &str = "2022.03.26";
/// 1264 of the repealed basis document (ПП РФ № 477).
pub const OLD_DOC_NUMBER: &str = "477";
/// 1265 maximum length.
pub const MAX_1265: usize = 256;

/// What authorised the sale of one position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// An online check (True API, or a ТС ПИоТ item with `isCheckedOffline: false`).
    Online {
        /// `reqId`.
        req_id: String,
        /// `reqTimestamp` digits.
        time: String,
    },
    /// An ЛМ ЧЗ check (direct, or a ТС ПИоТ item with `isCheckedOffline: true`).
    Offline {
        /// `reqId`.
        req_id: String,
        /// `reqTimestamp` digits.
        time: String,
        /// `inst`.
        inst: String,
        /// `version`.
        version: String,
    },
    /// Emergency mode (203): sold without a check, without 1260.
    Emergency,
    /// No answer, sold anyway under `policy.no_answer = allow_without_1260`: without 1260.
    NoAnswer,
}

/// The 1265 value, or `None` when no 1260 may be written.
pub fn tag_1265(e: &Evidence) -> Option<String> {
    match e {
        Evidence::Online { req_id, time } => Some(format!("UUID={req_id}&Time={time}")),
        Evidence::Offline { req_id, time, inst, version } => {
            Some(format!("UUID={req_id}&Time={time}&Inst={inst}&Ver={version}"))
        }
        Evidence::Emergency | Evidence::NoAnswer => None,
    }
}

/// Whether a 1265 value is well formed (true-api.md §12.1 format check, and ≤ 256 characters).
pub fn is_valid_1265(value: &str) -> bool {
    if value.chars().count() > MAX_1265 {
        return false;
    }
    let Some(rest) = value.strip_prefix("UUID=") else { return false };
    let Some((uuid, rest)) = rest.split_once("&Time=") else { return false };
    if !is_uuid(uuid) {
        return false;
    }
    let (time, tail) = rest.split_once('&').map_or((rest, None), |(t, r)| (t, Some(r)));
    if time.len() != 13 || !time.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    match tail {
        None => true,
        Some(tail) => {
            let Some(rest) = tail.strip_prefix("Inst=") else { return false };
            let Some((inst, ver)) = rest.split_once("&Ver=") else { return false };
            !inst.is_empty() && !inst.contains('&') && !ver.is_empty() && !ver.contains('&')
        }
    }
}

/// A lower-case hyphenated UUID.
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// The ATOL `industryInfo` list of a position: one 1260 from the evidence, or none. `mutant` is the
/// POS's deliberate defect, if any (`None` for the reference POS).
pub fn industry_info(e: &Evidence, mutant: Option<Mutant>) -> Vec<Value> {
    // Mutant `no-1260`: the POS never fills in industryInfo.
    if mutant == Some(Mutant::No1260) {
        return Vec::new();
    }
    // Mutant `old-1263-1264`: the basis document of the 2022 experiment, never updated.
    let (date, number) = if mutant == Some(Mutant::Old1263And1264) {
        (OLD_DOC_DATE_ATOL, OLD_DOC_NUMBER)
    } else {
        (DOC_DATE_ATOL, DOC_NUMBER)
    };
    tag_1265(e)
        .map(|value| {
            vec![json!({
                "fois": FOIV_ID,
                "date": date,
                "number": number,
                "industryAttribute": value,
            })]
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_and_offline_values_as_the_spec_examples() {
        let online = Evidence::Online {
            req_id: "a70a9fd2-2f2d-4846-babf-cd0492f6e047".into(),
            time: "1767225600123".into(),
        };
        let v = tag_1265(&online).unwrap();
        assert_eq!(v, "UUID=a70a9fd2-2f2d-4846-babf-cd0492f6e047&Time=1767225600123");
        assert!(is_valid_1265(&v));
        let offline = Evidence::Offline {
            req_id: "bac05b79-f83c-46f7-9abc-6681e3299b9c".into(),
            time: "1767225612077".into(),
            inst: "9333e653-5af4-4cc2-b969-7d9ec2900bc5".into(),
            version: "c58c2c44-b56e-44b9-92c9-2b0ebd10f428".into(),
        };
        let v = tag_1265(&offline).unwrap();
        assert_eq!(
            v,
            "UUID=bac05b79-f83c-46f7-9abc-6681e3299b9c&Time=1767225612077\
             &Inst=9333e653-5af4-4cc2-b969-7d9ec2900bc5&Ver=c58c2c44-b56e-44b9-92c9-2b0ebd10f428"
        );
        assert!(is_valid_1265(&v));
    }

    #[test]
    fn emergency_and_no_answer_carry_no_1260() {
        assert_eq!(tag_1265(&Evidence::Emergency), None);
        assert!(industry_info(&Evidence::Emergency, None).is_empty());
        assert!(industry_info(&Evidence::NoAnswer, None).is_empty());
    }

    #[test]
    fn the_atol_requisite_has_the_fixed_values() {
        let e = Evidence::Online { req_id: "a70a9fd2-2f2d-4846-babf-cd0492f6e047".into(), time: "1".into() };
        let info = industry_info(&e, None);
        assert_eq!(info.len(), 1);
        assert_eq!(info[0]["fois"], "030");
        assert_eq!(info[0]["date"], "2023.11.21");
        assert_eq!(info[0]["number"], "1944");
        assert_eq!(info[0]["industryAttribute"], "UUID=a70a9fd2-2f2d-4846-babf-cd0492f6e047&Time=1");
        let old = industry_info(&e, Some(Mutant::Old1263And1264));
        assert_eq!((&old[0]["date"], &old[0]["number"]), (&json!("2022.03.26"), &json!("477")));
        assert!(industry_info(&e, Some(Mutant::No1260)).is_empty());
    }

    #[test]
    fn malformed_values_are_recognised() {
        for bad in [
            "",
            "UUID=x&Time=1767225600123",
            "UUID=A70A9FD2-2F2D-4846-BABF-CD0492F6E047&Time=1767225600123",
            "UUID=a70a9fd2-2f2d-4846-babf-cd0492f6e047&Time=17672256001",
            "UUID=a70a9fd2-2f2d-4846-babf-cd0492f6e047&Time=1767225600123&Inst=&Ver=x",
            "UUID=a70a9fd2-2f2d-4846-babf-cd0492f6e047&Time=1767225600123&Ver=x",
        ] {
            assert!(!is_valid_1265(bad), "{bad}");
        }
        let long = format!(
            "UUID=a70a9fd2-2f2d-4846-babf-cd0492f6e047&Time=1767225600123&Inst=i&Ver={}",
            "v".repeat(300)
        );
        assert!(!is_valid_1265(&long));
    }
}
