//! Lenient reading of check answers (true-api.md §2, §4–§5, local-module.md §6, tspiot.md §4): the
//! per-code objects of an online answer ([`CodeAnswer`]) and of an offline one ([`OfflineCode`]), the
//! `reqTimestamp` that goes into tag 1265 ([`Timestamp`]), and finding the object about *our* code in
//! an answer. Unknown fields are ignored, `null` counts as absent, a field of the wrong type counts as
//! absent; nothing here panics.

use serde_json::Value;

/// `reqTimestamp`: the digits copied verbatim into `Time=`, and their value (Unix ms, world time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timestamp {
    /// Exactly the digits of the answer (an integer, or a string of digits as some ТС ПИоТ send).
    pub digits: String,
    /// The same as a number.
    pub ms: i64,
}

impl Timestamp {
    /// Read `reqTimestamp`: a non-negative JSON integer, an integral float, or a string of digits.
    pub fn from_json(v: &Value) -> Option<Timestamp> {
        match v {
            Value::Number(n) => {
                if let Some(i) = n.as_i64().filter(|i| *i >= 0) {
                    return Some(Timestamp { digits: i.to_string(), ms: i });
                }
                let f = n.as_f64()?;
                if f.fract() == 0.0 && (0.0..9.0e15).contains(&f) {
                    let i = f as i64;
                    return Some(Timestamp { digits: i.to_string(), ms: i });
                }
                None
            }
            Value::String(s) if !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()) => {
                Some(Timestamp { digits: s.clone(), ms: s.parse().ok()? })
            }
            _ => None,
        }
    }
}

/// A True API per-code object (true-api.md §5), as far as the decision needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodeAnswer {
    /// `cis`.
    pub cis: Option<String>,
    /// `printView`.
    pub print_view: Option<String>,
    /// `valid` (absent → false).
    pub valid: bool,
    /// `found`.
    pub found: bool,
    /// `utilised`.
    pub utilised: bool,
    /// `verified`.
    pub verified: bool,
    /// `realizable`.
    pub realizable: bool,
    /// `sold` (absent → false).
    pub sold: bool,
    /// `isBlocked` (absent → false).
    pub is_blocked: bool,
    /// `ogvs`.
    pub ogvs: Vec<String>,
    /// `grayZone`.
    pub gray_zone: bool,
    /// `expireDate` as given.
    pub expire_date: Option<String>,
    /// `errorCode` (absent → 0).
    pub error_code: i64,
    /// `message`.
    pub message: Option<String>,
    /// `mrp`, kopecks.
    pub mrp: Option<u64>,
    /// `smp`, kopecks.
    pub smp: Option<u64>,
    /// `groupIds`.
    pub group_ids: Vec<u16>,
    /// `packageType`.
    pub package_type: Option<String>,
    /// `packageQuantity`.
    pub package_quantity: Option<u64>,
    /// `innerUnitCount`.
    pub inner_unit_count: Option<u64>,
    /// `soldUnitCount`.
    pub sold_unit_count: Option<u64>,
}

impl CodeAnswer {
    /// Read one per-code object.
    pub fn from_json(v: &Value) -> CodeAnswer {
        CodeAnswer {
            cis: text(v, "cis"),
            print_view: text(v, "printView"),
            valid: flag(v, "valid"),
            found: flag(v, "found"),
            utilised: flag(v, "utilised"),
            verified: flag(v, "verified"),
            realizable: flag(v, "realizable"),
            sold: flag(v, "sold"),
            is_blocked: flag(v, "isBlocked"),
            ogvs: v
                .get("ogvs")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
            gray_zone: flag(v, "grayZone"),
            expire_date: text(v, "expireDate"),
            error_code: v.get("errorCode").and_then(integer).unwrap_or(0),
            message: text(v, "message"),
            mrp: v.get("mrp").and_then(unsigned),
            smp: v.get("smp").and_then(unsigned),
            group_ids: groups(v),
            package_type: text(v, "packageType"),
            package_quantity: v.get("packageQuantity").and_then(unsigned),
            inner_unit_count: v.get("innerUnitCount").and_then(unsigned),
            sold_unit_count: v.get("soldUnitCount").and_then(unsigned),
        }
    }
}

/// An ЛМ ЧЗ per-code object (local-module.md §6), direct or wrapped by a ТС ПИоТ; the online-only
/// flags are deliberately not read (§7).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OfflineCode {
    /// `cis`.
    pub cis: Option<String>,
    /// `isBlocked` (absent → false).
    pub is_blocked: bool,
    /// `isGreyGtin` (absent → false).
    pub is_grey_gtin: bool,
    /// `sold` (v2).
    pub sold: bool,
    /// `mrp`, kopecks (v2).
    pub mrp: Option<u64>,
    /// `smp`, kopecks (v2).
    pub smp: Option<u64>,
    /// `inst` when the code object carries it (tspiot.md §4.4 `inst_placement = code`).
    pub inst: Option<String>,
    /// `version`, likewise.
    pub version: Option<String>,
}

impl OfflineCode {
    /// Read one per-code object.
    pub fn from_json(v: &Value) -> OfflineCode {
        OfflineCode {
            cis: text(v, "cis"),
            is_blocked: flag(v, "isBlocked"),
            is_grey_gtin: flag(v, "isGreyGtin"),
            sold: flag(v, "sold"),
            mrp: v.get("mrp").and_then(unsigned),
            smp: v.get("smp").and_then(unsigned),
            inst: text(v, "inst"),
            version: text(v, "version"),
        }
    }
}

/// A string field (non-empty).
pub fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// An integer, also from an integral float or a string of digits.
fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn unsigned(v: &Value) -> Option<u64> {
    integer(v).and_then(|i| u64::try_from(i).ok())
}

fn groups(v: &Value) -> Vec<u16> {
    v.get("groupIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(integer).filter_map(|g| u16::try_from(g).ok()).collect())
        .unwrap_or_default()
}

/// The per-code object about `code` in `codes`: the one whose `cis` is the code, else whose `cis` or
/// `printView` is its КИ, else the only one when it names no code at all.
pub fn find_code<'a>(codes: &'a [Value], code: &str, ki: &str) -> Option<&'a Value> {
    let field = |c: &Value, k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
    codes
        .iter()
        .find(|c| field(c, "cis").as_deref() == Some(code))
        .or_else(|| {
            codes.iter().find(|c| {
                field(c, "cis").as_deref() == Some(ki) || field(c, "printView").as_deref() == Some(ki)
            })
        })
        .or_else(|| match codes {
            [only] if field(only, "cis").is_none() && field(only, "printView").is_none() => Some(only),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_keep_their_digits() {
        assert_eq!(Timestamp::from_json(&json!(1767225600123i64)).unwrap().digits, "1767225600123");
        let s = Timestamp::from_json(&json!("1767225600123")).unwrap();
        assert_eq!((s.digits.as_str(), s.ms), ("1767225600123", 1_767_225_600_123));
        assert_eq!(Timestamp::from_json(&json!(1.767225600123e12)).unwrap().ms, 1_767_225_600_123);
        for bad in
            [json!(-1), json!("12a"), json!(""), json!(null), json!(1.5), json!("99999999999999999999")]
        {
            assert_eq!(Timestamp::from_json(&bad), None, "{bad}");
        }
    }

    #[test]
    fn code_objects_tolerate_nulls_unknown_fields_and_odd_types() {
        let v = json!({"cis":"x","valid":true,"found":true,"utilised":null,"verified":"yes","realizable":true,
            "isBlocked":false,"errorCode":"6","mrp":18500.0,"smp":null,"groupIds":[3,"8",70000],
            "surprise":{"a":[1]},"expireDate":null});
        let a = CodeAnswer::from_json(&v);
        assert!(a.valid && a.found && !a.utilised && !a.verified && a.realizable);
        assert_eq!((a.error_code, a.mrp, a.smp), (6, Some(18_500), None));
        assert_eq!(a.group_ids, vec![3, 8]);
        assert_eq!(a.expire_date, None);
        assert_eq!(CodeAnswer::from_json(&json!([1])), CodeAnswer::default());
    }

    #[test]
    fn codes_are_found_by_cis_ki_or_alone() {
        let codes = vec![json!({"cis":"A\u{1d}93x"}), json!({"cis":"B","printView":"KI-B"})];
        assert_eq!(find_code(&codes, "A\u{1d}93x", "A").unwrap()["cis"], "A\u{1d}93x");
        assert_eq!(find_code(&codes, "B\u{1d}93y", "KI-B").unwrap()["cis"], "B");
        assert!(find_code(&codes, "C", "C").is_none());
        assert!(find_code(&[json!({"cis":"whatever"})], "C", "C").is_none());
        assert!(find_code(&[json!({"isBlocked":false})], "C", "C").is_some());
    }
}
