//! The table of GS1 Application Identifiers markcert knows (spec `codes.md` §2.2–2.3): for each AI
//! its digits, whether its length is pre-defined, and the value's length bounds and character class.
//! Matching an AI at a position is a longest-prefix lookup in this table; unknown AIs are not guessed.

/// Character class of an AI value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueClass {
    /// Digits only.
    Numeric,
    /// GS1 CSET82.
    Cset82,
}

/// One known AI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AiSpec {
    /// The AI digits, e.g. `"3103"`. For `335n` this is `"335"` plus one digit, matched as a family.
    pub ai: &'static str,
    /// Pre-defined value length (no ⟨GS⟩ needed after it), or `None` for variable length.
    pub fixed_len: Option<usize>,
    /// Maximum value length (equals `fixed_len` for pre-defined AIs).
    pub max_len: usize,
    /// Character class of the value.
    pub class: ValueClass,
}

const fn fixed(ai: &'static str, len: usize) -> AiSpec {
    AiSpec { ai, fixed_len: Some(len), max_len: len, class: ValueClass::Numeric }
}

const fn var(ai: &'static str, max: usize, class: ValueClass) -> AiSpec {
    AiSpec { ai, fixed_len: None, max_len: max, class }
}

/// Known AIs. Four-digit AIs first, so a lookup by prefix finds the longest match.
pub const KNOWN_AIS: &[AiSpec] = &[
    fixed("3103", 6),
    fixed("3350", 6),
    fixed("3351", 6),
    fixed("3352", 6),
    fixed("3353", 6),
    fixed("3354", 6),
    fixed("3355", 6),
    var("8005", 6, ValueClass::Numeric),
    var("7003", 10, ValueClass::Numeric),
    var("240", 30, ValueClass::Cset82),
    fixed("00", 18),
    fixed("01", 14),
    fixed("02", 14),
    var("10", 20, ValueClass::Cset82),
    fixed("11", 6),
    fixed("17", 6),
    var("21", 20, ValueClass::Cset82),
    var("37", 8, ValueClass::Numeric),
    var("91", 90, ValueClass::Cset82),
    var("92", 90, ValueClass::Cset82),
    var("93", 90, ValueClass::Cset82),
];

/// The known AI that `s` starts with, if any.
pub fn lookup(s: &[u8]) -> Option<&'static AiSpec> {
    KNOWN_AIS.iter().find(|spec| s.starts_with(spec.ai.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_and_unknown_is_none() {
        assert_eq!(lookup(b"3103000450").unwrap().ai, "3103");
        assert_eq!(lookup(b"3353000500").unwrap().ai, "3353");
        assert_eq!(lookup(b"8005185000").unwrap().ai, "8005");
        assert_eq!(lookup(b"2406403").unwrap().ai, "240");
        assert_eq!(lookup(b"21abc").unwrap().ai, "21");
        assert!(lookup(b"3356000500").is_none());
        assert!(lookup(b"99").is_none());
        assert!(lookup(b"9").is_none());
    }

    #[test]
    fn no_known_ai_is_a_prefix_of_another() {
        for a in KNOWN_AIS {
            for b in KNOWN_AIS {
                if a.ai != b.ai {
                    assert!(!b.ai.starts_with(a.ai), "{} prefixes {}", a.ai, b.ai);
                }
            }
        }
    }
}
