//! Layouts of marking codes (spec `codes.md` §5) and what follows from a layout alone: its name, the
//! FFD tag 2100 type (§9.2), the tag 1163 kind (§9.3), the kind of crypto tail, and the GS-less repair
//! templates (§11). The table is data here; parsing lives in `parse.rs`, repair in `normalize.rs`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A per-product-group template of a marking code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// 29 characters, no AIs: GTIN14, serial 7, MRP 4 (base 80), check 4.
    TobaccoPack,
    /// `01 GTIN 21 S7 ⟨GS⟩ 8005 N6 ⟨GS⟩ 93 T4` [`⟨GS⟩ 92 …`] [`⟨GS⟩ 240 X..30`].
    TobaccoBlock,
    /// `01 GTIN 21 S6 ⟨GS⟩ 93 T4` [`⟨GS⟩ 3103 N6`].
    Milk,
    /// `01 GTIN 21 S7 ⟨GS⟩ 93 T4` [`⟨GS⟩ 335n N6`].
    Beer,
    /// `01 GTIN 21 S13 ⟨GS⟩ 93 T4`.
    #[serde(rename = "s13-93")]
    S13T93,
    /// `01 GTIN 21 S13 ⟨GS⟩ 91 K4 ⟨GS⟩ 92 T44` (also medicines).
    #[serde(rename = "s13-44")]
    S13T44,
    /// `01 GTIN 21 S13` [`⟨GS⟩ 240 N4`] `⟨GS⟩ 91 K4 ⟨GS⟩ 92 T88` (shoes).
    #[serde(rename = "s13-88")]
    S13T88,
    /// `01 GTIN 21 S20 ⟨GS⟩ 91 K4 ⟨GS⟩ 92 T44` (photo equipment).
    #[serde(rename = "s20-44")]
    S20T44,
    /// `01 GTIN 21 S` without a verification part.
    KiOnly,
}

/// The kind of verification part ("crypto tail") of a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TailKind {
    /// AI 93 short code, or the 4 check characters of a tobacco pack.
    #[serde(rename = "93")]
    Short93,
    /// AI 91 key id + AI 92 signature of 44 characters.
    #[serde(rename = "92-44")]
    Sig44,
    /// AI 91 key id + AI 92 signature of 88 characters.
    #[serde(rename = "92-88")]
    Sig88,
    /// No verification part.
    #[serde(rename = "none")]
    None,
}

impl TailKind {
    /// The stable name used on the wire.
    pub fn name(self) -> &'static str {
        match self {
            TailKind::Short93 => "93",
            TailKind::Sig44 => "92-44",
            TailKind::Sig88 => "92-88",
            TailKind::None => "none",
        }
    }
}

impl Layout {
    /// Every layout, in classification order of the spec.
    pub const ALL: [Layout; 9] = [
        Layout::TobaccoPack,
        Layout::S13T88,
        Layout::S13T44,
        Layout::S20T44,
        Layout::TobaccoBlock,
        Layout::Milk,
        Layout::Beer,
        Layout::S13T93,
        Layout::KiOnly,
    ];

    /// The stable name used on the wire and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Layout::TobaccoPack => "tobacco-pack",
            Layout::TobaccoBlock => "tobacco-block",
            Layout::Milk => "milk",
            Layout::Beer => "beer",
            Layout::S13T93 => "s13-93",
            Layout::S13T44 => "s13-44",
            Layout::S13T88 => "s13-88",
            Layout::S20T44 => "s20-44",
            Layout::KiOnly => "ki-only",
        }
    }

    /// Parse a layout name (as printed by [`Layout::name`]).
    pub fn from_name(s: &str) -> Option<Layout> {
        Layout::ALL.into_iter().find(|l| l.name() == s)
    }

    /// Serial length of the layout (`None` for KI-only, whose serial is 6, 7, 13 or 20).
    pub fn serial_len(self) -> Option<usize> {
        match self {
            Layout::Milk => Some(6),
            Layout::TobaccoPack | Layout::TobaccoBlock | Layout::Beer => Some(7),
            Layout::S13T93 | Layout::S13T44 | Layout::S13T88 => Some(13),
            Layout::S20T44 => Some(20),
            Layout::KiOnly => None,
        }
    }

    /// Kind of the verification part.
    pub fn tail_kind(self) -> TailKind {
        match self {
            Layout::TobaccoPack | Layout::TobaccoBlock | Layout::Milk | Layout::Beer | Layout::S13T93 => {
                TailKind::Short93
            }
            Layout::S13T44 | Layout::S20T44 => TailKind::Sig44,
            Layout::S13T88 => TailKind::Sig88,
            Layout::KiOnly => TailKind::None,
        }
    }

    /// Default FFD tag 2100 (type of marking code, §9.2). For 44-character signatures the parser may
    /// lower 4 to 3 (foreign codes, or the optional CRC32 rule).
    pub fn ffd_2100(self) -> u8 {
        match self {
            Layout::KiOnly => 0,
            Layout::TobaccoPack => 1,
            Layout::S13T88 => 2,
            Layout::S13T44 | Layout::S20T44 => 4,
            Layout::Milk | Layout::Beer | Layout::S13T93 | Layout::TobaccoBlock => 5,
        }
    }

    /// FFD tag 1163 inner tag (§9.3): 1306 for packs, 1305 for GS1 marking codes (KI-only included:
    /// markcert reads a KI-only string as the identity of a marked item).
    pub fn tag_1163(self) -> u16 {
        match self {
            Layout::TobaccoPack => 1306,
            _ => 1305,
        }
    }

    /// True for layouts written as GS1 element strings.
    pub fn is_gs1(self) -> bool {
        self != Layout::TobaccoPack
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A GS-less repair template (§11): the GS-less length of a layout variant, and the AI expected at
/// each 0-based offset of the GS-less string before which a ⟨GS⟩ belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RepairTemplate {
    /// Stable name, e.g. `milk+3103`.
    pub name: &'static str,
    /// The layout the repaired code has.
    pub layout: Layout,
    /// Length of the code with every ⟨GS⟩ removed.
    pub gsless_len: usize,
    /// `(offset, AI digits expected there)`, offsets ascending. For `335n` the AI is matched as a
    /// prefix `335` followed by a digit 0–5.
    pub separators: &'static [(usize, &'static str)],
}

/// The templates of spec §11, in the order they are tried.
pub const REPAIR_TEMPLATES: &[RepairTemplate] = &[
    RepairTemplate { name: "milk", layout: Layout::Milk, gsless_len: 30, separators: &[(24, "93")] },
    RepairTemplate {
        name: "milk+3103",
        layout: Layout::Milk,
        gsless_len: 40,
        separators: &[(24, "93"), (30, "3103")],
    },
    RepairTemplate { name: "beer", layout: Layout::Beer, gsless_len: 31, separators: &[(25, "93")] },
    RepairTemplate {
        name: "beer+335n",
        layout: Layout::Beer,
        gsless_len: 41,
        separators: &[(25, "93"), (31, "335")],
    },
    RepairTemplate { name: "s13-93", layout: Layout::S13T93, gsless_len: 37, separators: &[(31, "93")] },
    RepairTemplate {
        name: "s13-44",
        layout: Layout::S13T44,
        gsless_len: 83,
        separators: &[(31, "91"), (37, "92")],
    },
    RepairTemplate {
        name: "s13-88",
        layout: Layout::S13T88,
        gsless_len: 127,
        separators: &[(31, "91"), (37, "92")],
    },
    RepairTemplate {
        name: "s13-88+240",
        layout: Layout::S13T88,
        gsless_len: 134,
        separators: &[(31, "240"), (38, "91"), (44, "92")],
    },
    RepairTemplate {
        name: "s20-44",
        layout: Layout::S20T44,
        gsless_len: 90,
        separators: &[(38, "91"), (44, "92")],
    },
    RepairTemplate {
        name: "tobacco-block",
        layout: Layout::TobaccoBlock,
        gsless_len: 41,
        separators: &[(25, "8005"), (35, "93")],
    },
    RepairTemplate {
        name: "tobacco-block+240",
        layout: Layout::TobaccoBlock,
        gsless_len: 52,
        separators: &[(25, "8005"), (35, "93"), (41, "240")],
    },
];

impl RepairTemplate {
    /// True when the GS-less string `s` has this template's length and the expected AI digits at
    /// every separator offset.
    pub fn fits(&self, s: &[u8]) -> bool {
        s.len() == self.gsless_len
            && s.starts_with(b"01")
            && self.separators.iter().all(|&(off, ai)| {
                let ai = ai.as_bytes();
                let ok = s.get(off..off + ai.len()) == Some(ai);
                if ai == b"335" {
                    ok && matches!(s.get(off + 3), Some(b'0'..=b'5'))
                } else {
                    ok
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for l in Layout::ALL {
            assert_eq!(Layout::from_name(l.name()), Some(l));
            assert_eq!(serde_json::to_string(&l).unwrap(), format!("\"{}\"", l.name()));
        }
        assert_eq!(Layout::from_name("unknown"), None);
    }

    #[test]
    fn template_lengths_match_the_layout_lengths() {
        // GS-less length = 2+14+2+serial + tail elements (§5.1 "no-GS" column).
        let expect = [
            ("milk", 30),
            ("milk+3103", 40),
            ("beer", 31),
            ("beer+335n", 41),
            ("s13-93", 37),
            ("s13-44", 83),
            ("s13-88", 127),
            ("s13-88+240", 134),
            ("s20-44", 90),
            ("tobacco-block", 41),
            ("tobacco-block+240", 52),
        ];
        for (name, len) in expect {
            let t = REPAIR_TEMPLATES.iter().find(|t| t.name == name).unwrap();
            assert_eq!(t.gsless_len, len, "{name}");
            let first = t.separators[0].0;
            assert_eq!(first, 18 + t.layout.serial_len().unwrap(), "{name}");
        }
    }
}
