//! The permissive-mode industry requisite 1260 (spec `true-api.md` §12, `kkt.md` §4.16): the fixed
//! values of 1262–1264 and the parser of 1265 `UUID=<reqId>&Time=<reqTimestamp>[&Inst=<inst>&Ver=<version>]`.
//!
//! The parser is the §12.1 format check, key by key: exactly these keys, in this order, in this case;
//! `UUID` a lower-case hyphenated UUID, `Time` exactly 13 ASCII digits, `Inst`/`Ver` non-empty and
//! free of `&`. It never panics; each way a value can be wrong is its own [`Requisite1265Error`].

use serde::Serialize;
use std::fmt;

/// 1262, идентификатор ФОИВ of permissive mode.
pub const FOIV_ID: &str = "030";
/// 1263, the date of ПП РФ № 1944.
pub const DOC_DATE: &str = "21.11.2023";
/// 1264, the number of ПП РФ № 1944.
pub const DOC_NUMBER: &str = "1944";
/// The pre-2024 basis document values (§12.2 rule 6): wrong today.
pub const OLD_DOC_DATE: &str = "26.03.2022";
/// See [`OLD_DOC_DATE`].
pub const OLD_DOC_NUMBER: &str = "477";
/// 1265 maximum length, characters.
pub const MAX_1265_CHARS: usize = 256;

/// The `&Inst=…&Ver=…` part of an offline 1265.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OfflineStamp {
    /// `Inst`.
    pub inst: String,
    /// `Ver`.
    pub version: String,
}

/// A well-formed 1265 value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Requisite1265 {
    /// `UUID`, the check's `reqId`.
    pub req_id: String,
    /// `Time`, the check's `reqTimestamp` (Unix ms).
    pub time_ms: i64,
    /// `Inst`/`Ver`, present for an ЛМ ЧЗ answer.
    pub offline: Option<OfflineStamp>,
}

impl fmt::Display for Requisite1265 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UUID={}&Time={}", self.req_id, self.time_ms)?;
        if let Some(s) = &self.offline {
            write!(f, "&Inst={}&Ver={}", s.inst, s.version)?;
        }
        Ok(())
    }
}

/// Why a 1265 value is malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Requisite1265Error {
    /// Nothing at all.
    #[error("1265 is empty")]
    Empty,
    /// More than [`MAX_1265_CHARS`] characters.
    #[error("1265 is {0} characters long, at most 256 are allowed")]
    TooLong(usize),
    /// Not 2 (online) or 4 (offline) `&`-separated parts.
    #[error("1265 has {0} `&`-separated parts; expected UUID, Time (online) and Inst, Ver (offline)")]
    PartCount(usize),
    /// A part without `=`, or with another key than the one due at its place.
    #[error("part {position} of 1265 is `{found}`; expected `{expected}=…` (keys are case-sensitive)")]
    Key {
        /// 1-based part number.
        position: usize,
        /// The key due there.
        expected: &'static str,
        /// The part as found.
        found: String,
    },
    /// `UUID` is not a lower-case hyphenated UUID.
    #[error("UUID `{0}` is not a lower-case hyphenated UUID")]
    BadUuid(String),
    /// `Time` is not 13 ASCII digits (raw Unix milliseconds).
    #[error("Time `{0}` is not the raw reqTimestamp (13 digits of Unix milliseconds)")]
    BadTime(String),
    /// `Inst` or `Ver` is empty.
    #[error("{0} is empty")]
    EmptyValue(&'static str),
}

/// Parse a 1265 value by the §12.1 format check.
pub fn parse_1265(value: &str) -> Result<Requisite1265, Requisite1265Error> {
    if value.is_empty() {
        return Err(Requisite1265Error::Empty);
    }
    let chars = value.chars().count();
    if chars > MAX_1265_CHARS {
        return Err(Requisite1265Error::TooLong(chars));
    }
    let parts: Vec<&str> = value.split('&').collect();
    if parts.len() != 2 && parts.len() != 4 {
        return Err(Requisite1265Error::PartCount(parts.len()));
    }
    let mut values = Vec::with_capacity(parts.len());
    for (i, (part, key)) in parts.iter().zip(["UUID", "Time", "Inst", "Ver"]).enumerate() {
        match part.split_once('=') {
            Some((k, v)) if k == key => values.push(v),
            _ => {
                return Err(Requisite1265Error::Key {
                    position: i + 1,
                    expected: key,
                    found: part.to_string(),
                })
            }
        }
    }
    let (uuid, time) = (values[0], values[1]);
    if !is_lower_uuid(uuid) {
        return Err(Requisite1265Error::BadUuid(uuid.into()));
    }
    let time_ms = match time.parse::<i64>() {
        Ok(t) if time.len() == 13 && time.bytes().all(|b| b.is_ascii_digit()) => t,
        _ => return Err(Requisite1265Error::BadTime(time.into())),
    };
    let offline = match values.get(2..4) {
        Some([inst, version]) => {
            if inst.is_empty() {
                return Err(Requisite1265Error::EmptyValue("Inst"));
            }
            if version.is_empty() {
                return Err(Requisite1265Error::EmptyValue("Ver"));
            }
            Some(OfflineStamp { inst: inst.to_string(), version: version.to_string() })
        }
        _ => None,
    };
    Ok(Requisite1265 { req_id: uuid.into(), time_ms, offline })
}

/// `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`.
fn is_lower_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ONLINE: &str = "UUID=a70a9fd2-2f2d-4846-babf-cd0492f6e047&Time=1767225600123";
    const OFFLINE: &str = "UUID=bac05b79-f83c-46f7-9abc-6681e3299b9c&Time=1767225612077\
        &Inst=9333e653-5af4-4cc2-b969-7d9ec2900bc5&Ver=c58c2c44-b56e-44b9-92c9-2b0ebd10f428";

    #[test]
    fn the_spec_examples_parse_and_print_back() {
        let on = parse_1265(ONLINE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (on.req_id.as_str(), on.time_ms, &on.offline),
            ("a70a9fd2-2f2d-4846-babf-cd0492f6e047", 1_767_225_600_123, &None)
        );
        assert_eq!(on.to_string(), ONLINE);
        let off = parse_1265(OFFLINE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            off.offline.as_ref().map(|s| s.inst.as_str()),
            Some("9333e653-5af4-4cc2-b969-7d9ec2900bc5")
        );
        assert_eq!(off.to_string(), OFFLINE);
    }

    #[test]
    fn each_defect_is_named() {
        use Requisite1265Error as E;
        let uuid = "a70a9fd2-2f2d-4846-babf-cd0492f6e047";
        type Case = (String, fn(&E) -> bool);
        let cases: Vec<Case> = vec![
            (String::new(), |e| *e == E::Empty),
            (format!("{ONLINE}&Inst={}", "x".repeat(250)), |e| matches!(e, E::TooLong(_))),
            (format!("{ONLINE}&Inst=x"), |e| *e == E::PartCount(3)),
            (format!("uuid={uuid}&Time=1767225600123"), |e| matches!(e, E::Key { position: 1, .. })),
            (format!("UUID={uuid}&time=1767225600123"), |e| {
                matches!(e, E::Key { position: 2, expected: "Time", .. })
            }),
            (format!("Time=1767225600123&UUID={uuid}"), |e| matches!(e, E::Key { position: 1, .. })),
            (format!("UUID={uuid}&Time=1767225600123&Ver=v&Inst=i"), |e| {
                matches!(e, E::Key { position: 3, .. })
            }),
            (format!("UUID={uuid}&Time"), |e| matches!(e, E::Key { position: 2, .. })),
            ("UUID=A70A9FD2-2F2D-4846-BABF-CD0492F6E047&Time=1767225600123".into(), |e| {
                matches!(e, E::BadUuid(_))
            }),
            ("UUID=a70a9fd22f2d4846babfcd0492f6e047&Time=1767225600123".into(), |e| {
                matches!(e, E::BadUuid(_))
            }),
            (format!("UUID={uuid}&Time=1767225600"), |e| matches!(e, E::BadTime(_))),
            (format!("UUID={uuid}&Time=2026-01-01T00:00:00"), |e| matches!(e, E::BadTime(_))),
            (format!("UUID={uuid}&Time=+767225600123"), |e| matches!(e, E::BadTime(_))),
            (format!("UUID={uuid}&Time=1767225600123&Inst=&Ver=v"), |e| *e == E::EmptyValue("Inst")),
            (format!("UUID={uuid}&Time=1767225600123&Inst=i&Ver="), |e| *e == E::EmptyValue("Ver")),
        ];
        for (input, is_expected) in cases {
            match parse_1265(&input) {
                Err(e) => assert!(is_expected(&e), "{input}: {e:?}"),
                Ok(r) => panic!("{input} parsed as {r:?}"),
            }
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,300}") {
            let _ = parse_1265(&s);
        }

        #[test]
        fn well_formed_values_round_trip(
            uuid in "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            time in 1_000_000_000_000i64..10_000_000_000_000,
            stamp in proptest::option::of(("[^&]{1,40}", "[^&]{1,40}")),
        ) {
            let mut s = format!("UUID={uuid}&Time={time}");
            if let Some((i, v)) = &stamp {
                s.push_str(&format!("&Inst={i}&Ver={v}"));
            }
            let r = parse_1265(&s).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(r.to_string(), s);
        }
    }
}
