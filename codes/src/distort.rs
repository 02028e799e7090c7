//! Scanner distortion transforms T1–T10 and named scanner profiles (spec `codes.md` §12.9), as data.
//!
//! This module owns what happens to a canonical code on its way from the symbol to the application:
//! the decoder, the scanner firmware, the keyboard wedge and the software that receives the text. It
//! never repairs anything (that is [`crate::normalize`]); it only damages, deterministically for a given
//! RNG seed, and never panics on any input bytes.
//!
//! # Profiles as data
//!
//! A [`ScannerProfile`] is a list of [`Transform`]s plus the [`Interface`] the scanner is attached to.
//! The built-in profiles live in `codes/data/scanner-profiles.toml` ([`builtin_profiles`], [`profile`]);
//! scenarios may define their own with the same shape ([`load_profiles`]):
//!
//! ```toml
//! [[profile]]
//! name = "hid-ru-dropgs"
//! description = "Keyboard wedge, ⟨GS⟩ dropped, Russian layout active, Enter suffix."
//! interface = "hid-keyboard"      # com | hid-pos | hid-keyboard | camera | software
//! repairable = true
//! transforms = [
//!   { t = "gs", mode = "drop" },
//!   { t = "russian-layout" },
//!   { t = "suffix", suffix = "cr" },
//! ]
//! ```
//!
//! Each transform is an inline table tagged by `t`:
//!
//! | Id | `t` | Parameters |
//! |---|---|---|
//! | T1 | `aim` | `prefix = "]d2"` (`]d1`, `]C1`, `]Q3`, `]e0`, any text) |
//! | T2 | `leaked-fnc1` | `byte = "e8"` or `"gs"` |
//! | T3 | `gs` | `mode = "keep"`, `"drop"`, `"ctrl-bracket"` (`console = false`), `"alt-0029"` (`num_lock = true`), `"fkey"` (`key = 8`), `"substitute"` (`text = "<GS>"`, or `text = [0xE8]` for raw bytes) |
//! | T4 | `suffix` | `suffix = "none"`, `"cr"`, `"lf"`, `"crlf"`, `"tab"`, `"gs"` |
//! | T5 | `russian-layout` | — |
//! | T6 | `caps-lock` | `variant = "us"` or `"ru"` |
//! | T7 | `keystrokes` | `loss = 0.02`, `duplication = 0.0` (probability per key press) |
//! | T8 | `decoder` | `artefact = "libdmtx"`, `"zxing-cpp"`, `"zxing-net"`, `"gs-as-fs"` |
//! | T9 | `software` | `artefact = "python-strip"`, `"java-trim"`, `"whitespace-split"`, `"control-strip"`, `"json-double-escape"`, `"html-escape"`, `"url-unencoded"` |
//! | T10 | `human-readable`, `gs-letters` | — |
//!
//! # Order of application
//!
//! [`apply`] applies a profile's transforms in the order a real capture chain does, whatever order the
//! profile lists them in (a stable sort by [`Stage`]; transforms of the same stage keep their order):
//! symbol content (T10) → decoder (T8) → leaked FNC1 (T2) → AIM prefix (T1) → ⟨GS⟩ handling (T3) →
//! keyboard layout (T5) → Caps Lock (T6) → keystroke faults (T7) → suffix (T4) → software (T9).
//! So an AIM prefix is typed through the Russian layout (`]d2` arrives as `ъв2`), a suffix is never
//! lost or case-inverted, and software artefacts see the final text.
//!
//! # What is delivered
//!
//! A [`Delivery`] holds the text an ordinary application text field receives and, for keyboard
//! (`hid-keyboard`) profiles, the key-event sequence the scanner sent ([`KeyEvent`]): an F-key or
//! Ctrl+] is a key event that puts nothing into a GUI field; Alt+0029 puts 0x1D there only with Num
//! Lock on. Software artefacts (T9) change the text the application ends up with, not the key events.

use crate::charset::GS;
use crate::keyboard;
use rand::Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::sync::OnceLock;

/// Bytes written in profile data: a TOML string (UTF-8, with TOML escapes such as `"\u001C"`) or an
/// array of byte values (`[0xE8]`) for bytes that are not UTF-8.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => self.0.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "a string or an array of byte values")]
        enum Repr {
            Text(String),
            Raw(Vec<u8>),
        }
        Ok(Bytes(match Repr::deserialize(d)? {
            Repr::Text(t) => t.into_bytes(),
            Repr::Raw(b) => b,
        }))
    }
}

/// How the scanner reaches the application (spec §12.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Interface {
    /// USB virtual COM (CDC) or RS-232: raw bytes plus the configured suffix.
    Com,
    /// USB HID-POS: raw bytes in HID reports.
    HidPos,
    /// USB HID keyboard ("keyboard wedge"): key presses translated by the OS layout.
    HidKeyboard,
    /// A camera decoder library: its result text.
    Camera,
    /// Text handed over by other software (1C, a web service, a script).
    Software,
}

impl Interface {
    /// The stable name used in profile data.
    pub fn name(self) -> &'static str {
        match self {
            Interface::Com => "com",
            Interface::HidPos => "hid-pos",
            Interface::HidKeyboard => "hid-keyboard",
            Interface::Camera => "camera",
            Interface::Software => "software",
        }
    }

    /// True when the scanner delivers key events rather than bytes.
    pub fn delivers_keys(self) -> bool {
        self == Interface::HidKeyboard
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One key event sent by a keyboard-wedge scanner. In TOML/JSON: `{ key = "char", value = "a" }`,
/// `{ key = "fkey", value = 8 }`, `{ key = "ctrl-bracket" }`, `{ key = "alt-numpad", value = 29 }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "key", content = "value", rename_all = "kebab-case")]
pub enum KeyEvent {
    /// A key press producing this character under the active layout and Caps Lock state (Enter is
    /// `'\r'`, Tab is `'\t'`).
    Char(char),
    /// A function key (F1–F24) with no character: the application must map it.
    #[serde(rename = "fkey")]
    FKey(u8),
    /// Ctrl+]: 0x1D in console/Win32 applications, nothing in most GUI and browser fields.
    CtrlBracket,
    /// Alt + a decimal code typed on the numeric keypad (Alt+0029 for ⟨GS⟩, Alt+0232 for a byte 0xE8).
    AltNumpad(u16),
}

/// What a scanner profile delivers to the application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// What an ordinary application text field receives (after any software artefacts, T9).
    pub text: Vec<u8>,
    /// The key-event sequence a keyboard (`hid-keyboard`) profile sent, for POSes reading raw key
    /// events; `None` for profiles delivering bytes (COM, HID-POS, camera, software).
    pub keys: Option<Vec<KeyEvent>>,
}

/// T2: the form of a leaked leading FNC1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fnc1Leak {
    /// The FNC1 codeword 232 leaked as the byte 0xE8.
    E8,
    /// A leading ⟨GS⟩.
    Gs,
}

/// T3: what the scanner does with each ⟨GS⟩ of the content. Tagged by `mode`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case", deny_unknown_fields)]
pub enum GsHandling {
    /// Sent as the byte 0x1D.
    Keep,
    /// Not sent at all (the usual keyboard-wedge default).
    Drop,
    /// Typed as Ctrl+] ([`KeyEvent::CtrlBracket`]). `console = true` models a console/Win32
    /// application, which receives 0x1D; a GUI field (default) receives nothing.
    CtrlBracket {
        /// The receiving application is a console application.
        #[serde(default)]
        console: bool,
    },
    /// Typed as Alt+0029 ([`KeyEvent::AltNumpad`]): 0x1D with Num Lock on, nothing with it off.
    #[serde(rename = "alt-0029")]
    Alt0029 {
        /// Num Lock state of the host.
        #[serde(default = "yes")]
        num_lock: bool,
    },
    /// Sent as a function key ([`KeyEvent::FKey`]), e.g. F8: no character in a text field.
    #[serde(rename = "fkey")]
    FKey {
        /// Function key number, 1–24.
        key: u8,
    },
    /// Replaced by a configured string (`<GS>`, the 6-character text `\u001d`, `29`, `!`, `~`, …).
    /// In keyboard mode it is typed like the rest of the code (so the Russian layout changes it).
    Substitute {
        /// The substitute bytes.
        text: Bytes,
    },
}

fn yes() -> bool {
    true
}

/// T4: the suffix the scanner appends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Suffix {
    /// Nothing.
    None,
    /// Carriage return (Enter).
    Cr,
    /// Line feed.
    Lf,
    /// CR LF.
    Crlf,
    /// Tab.
    Tab,
    /// A trailing ⟨GS⟩.
    Gs,
}

impl Suffix {
    /// The suffix bytes.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Suffix::None => b"",
            Suffix::Cr => b"\r",
            Suffix::Lf => b"\n",
            Suffix::Crlf => b"\r\n",
            Suffix::Tab => b"\t",
            Suffix::Gs => &[GS],
        }
    }
}

/// T6: which layout the Caps Lock inversion happens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CapsVariant {
    /// US layout: `A–Z`/`a–z` change case.
    Us,
    /// Russian layout: every letter key changes case, including the keys of `ж э б ю х ъ ё` (apply it
    /// after T5, to the Cyrillic text).
    Ru,
}

/// T8: decoder and label-generator artefacts (spec §12.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecoderArtefact {
    /// libdmtx without an FNC1 substitute: every ⟨GS⟩ missing.
    Libdmtx,
    /// zxing-cpp: the leading FNC1 rendered as the text `]C1`.
    ZxingCpp,
    /// ZXing.Net / zxing-cpp symbology identifier: `]d2` prepended to every read.
    ZxingNet,
    /// A label generator that rendered ⟨GS⟩ as 0x1C (FS) after a mode change.
    GsAsFs,
}

/// T9: artefacts of software handling the captured text (spec §12.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SoftwareArtefact {
    /// Python `str.strip()`: whitespace removed at both edges, and 0x1C–0x1F count as whitespace.
    PythonStrip,
    /// Java `String.trim()`: every byte ≤ 0x20 removed at both edges.
    JavaTrim,
    /// Python `str.split()[0]`: the text cut at the first whitespace (0x1D included), first part kept.
    WhitespaceSplit,
    /// A "clean control characters" routine: every byte < 0x20 and 0x7F deleted.
    ControlStrip,
    /// JSON double escaping, as seen after one decode: the text JSON-escaped once more, so ⟨GS⟩ is
    /// the 6-character text `\u001d`, `"` is `\"`, `\` is `\\`, CR is `\r`.
    JsonDoubleEscape,
    /// HTML escaping of `& < > "` (`&amp;` `&lt;` `&gt;` `&quot;`).
    HtmlEscape,
    /// The code put into a URL query value without percent-encoding, as the server decodes it: the
    /// value ends at `&` or `#`, `+` becomes a space, `%HH` becomes a byte.
    UrlUnencoded,
}

/// One distortion transform (spec §12.9). Tagged by `t`; see the module doc for the TOML shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Transform {
    /// T1: prepend an AIM symbology identifier.
    Aim {
        /// The prefix, e.g. `]d2`.
        prefix: String,
    },
    /// T2: prepend a leaked leading FNC1.
    LeakedFnc1 {
        /// 0xE8 or ⟨GS⟩.
        byte: Fnc1Leak,
    },
    /// T3: ⟨GS⟩ handling.
    Gs(GsHandling),
    /// T4: suffix.
    Suffix {
        /// Which suffix.
        suffix: Suffix,
    },
    /// T5: Russian (ЙЦУКЕН) layout active on the host (spec §12.5).
    RussianLayout,
    /// T6: Caps Lock on (spec §12.6).
    CapsLock {
        /// US or Russian layout.
        variant: CapsVariant,
    },
    /// T7: each key press is lost with probability `loss`, otherwise repeated with probability
    /// `duplication`.
    Keystrokes {
        /// Probability that a key press is lost, 0–1.
        #[serde(default)]
        loss: f64,
        /// Probability that a key press is sent twice, 0–1.
        #[serde(default)]
        duplication: f64,
    },
    /// T8: decoder artefact.
    Decoder {
        /// Which artefact.
        artefact: DecoderArtefact,
    },
    /// T9: software artefact.
    Software {
        /// Which artefact.
        artefact: SoftwareArtefact,
    },
    /// T10: the human-readable form `(01)…(21)…(91)…(92)…` typed by an operator (no ⟨GS⟩). Content
    /// that is not a GS1 element string (e.g. a tobacco pack) is typed as it is.
    HumanReadable,
    /// T10: ⟨GS⟩ written as the two letters `G`,`S` in a label generator's source data.
    GsLetters,
}

/// Where a transform acts in the capture chain; [`apply`] applies transforms in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// The symbol content itself (T10).
    Symbol,
    /// The decoder library or label generator (T8).
    Decoder,
    /// A leaked leading FNC1 (T2).
    Fnc1Leak,
    /// The scanner's AIM prefix (T1).
    Aim,
    /// The scanner's ⟨GS⟩ handling (T3).
    Gs,
    /// The host keyboard layout (T5).
    Layout,
    /// The host Caps Lock state (T6).
    Caps,
    /// Lost or repeated key presses (T7).
    Keystrokes,
    /// The scanner's suffix (T4).
    Suffix,
    /// The receiving software (T9).
    Software,
}

impl Transform {
    /// The spec's transform id, `T1` … `T10`.
    pub fn id(&self) -> &'static str {
        match self {
            Transform::Aim { .. } => "T1",
            Transform::LeakedFnc1 { .. } => "T2",
            Transform::Gs(_) => "T3",
            Transform::Suffix { .. } => "T4",
            Transform::RussianLayout => "T5",
            Transform::CapsLock { .. } => "T6",
            Transform::Keystrokes { .. } => "T7",
            Transform::Decoder { .. } => "T8",
            Transform::Software { .. } => "T9",
            Transform::HumanReadable | Transform::GsLetters => "T10",
        }
    }

    /// The stage of the capture chain the transform belongs to.
    pub fn stage(&self) -> Stage {
        match self {
            Transform::HumanReadable | Transform::GsLetters => Stage::Symbol,
            Transform::Decoder { .. } => Stage::Decoder,
            Transform::LeakedFnc1 { .. } => Stage::Fnc1Leak,
            Transform::Aim { .. } => Stage::Aim,
            Transform::Gs(_) => Stage::Gs,
            Transform::RussianLayout => Stage::Layout,
            Transform::CapsLock { .. } => Stage::Caps,
            Transform::Keystrokes { .. } => Stage::Keystrokes,
            Transform::Suffix { .. } => Stage::Suffix,
            Transform::Software { .. } => Stage::Software,
        }
    }

    /// True for transforms that only exist on a keyboard wedge (key events, layout, Caps Lock,
    /// keystroke faults).
    pub fn needs_keyboard(&self) -> bool {
        matches!(
            self,
            Transform::Gs(
                GsHandling::CtrlBracket { .. } | GsHandling::Alt0029 { .. } | GsHandling::FKey { .. }
            ) | Transform::RussianLayout
                | Transform::CapsLock { .. }
                | Transform::Keystrokes { .. }
        )
    }
}

/// A named scanner configuration: an interface and a composition of transforms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScannerProfile {
    /// Unique name, e.g. `hid-ru-dropgs`.
    pub name: String,
    /// One line saying what the profile models.
    #[serde(default)]
    pub description: String,
    /// How the scanner reaches the application.
    pub interface: Interface,
    /// The transforms, applied in [`Stage`] order by [`apply`].
    #[serde(default)]
    pub transforms: Vec<Transform>,
    /// Whether a lenient reader can restore the canonical code from the delivered text: `normalize`
    /// returns it, or refuses as ambiguous when the code itself is ambiguous once its ⟨GS⟩ is gone
    /// (spec §11 collisions); it never returns a different code. False for lossy or undetectable
    /// distortions (keystroke loss, Caps Lock without a signal, HTML escaping, …).
    pub repairable: bool,
}

impl ScannerProfile {
    /// Apply this profile to canonical bytes (see [`apply`]).
    pub fn apply<R: Rng + ?Sized>(&self, canonical: &[u8], rng: &mut R) -> Delivery {
        apply(self, canonical, rng)
    }
}

/// Why scanner profiles could not be loaded.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DistortError {
    /// The text is not TOML of the profile shape.
    #[error("scanner profiles: {0}")]
    Toml(#[from] toml::de::Error),
    /// A profile has an empty name.
    #[error("scanner profile #{0} has an empty name")]
    EmptyName(usize),
    /// Two profiles share a name.
    #[error("scanner profile name {0:?} is used more than once")]
    DuplicateName(String),
    /// A keyboard-only transform in a profile whose interface is not a keyboard.
    #[error("scanner profile {profile:?}: {transform} needs interface hid-keyboard, not {interface}")]
    NeedsKeyboard {
        /// Profile name.
        profile: String,
        /// The transform, as `T5 russian-layout`.
        transform: String,
        /// The profile's interface.
        interface: Interface,
    },
    /// A parameter out of range.
    #[error("scanner profile {profile:?}: {reason}")]
    Invalid {
        /// Profile name.
        profile: String,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[serde(default)]
    profile: Vec<ScannerProfile>,
}

/// Parse scanner profiles from TOML (`[[profile]]` tables, see the module doc) and validate them:
/// names non-empty and unique, no unknown keys, keyboard-only transforms only on `hid-keyboard`,
/// probabilities in 0–1, F-keys 1–24.
pub fn load_profiles(toml_text: &str) -> Result<Vec<ScannerProfile>, DistortError> {
    let file: ProfileFile = toml::from_str(toml_text)?;
    let raw: toml::Table = toml::from_str(toml_text)?;
    let raw_profiles = raw.get("profile").and_then(toml::Value::as_array);
    let mut seen = std::collections::HashSet::new();
    for (i, p) in file.profile.iter().enumerate() {
        if p.name.trim().is_empty() {
            return Err(DistortError::EmptyName(i));
        }
        if !seen.insert(p.name.as_str()) {
            return Err(DistortError::DuplicateName(p.name.clone()));
        }
        let raw_transforms = raw_profiles
            .and_then(|ps| ps.get(i))
            .and_then(|p| p.get("transforms"))
            .and_then(toml::Value::as_array);
        for (t, raw_t) in p.transforms.iter().zip(raw_transforms.into_iter().flatten()) {
            check_known_keys(p, t, raw_t)?;
        }
        validate(p)?;
    }
    Ok(file.profile)
}

/// Serde ignores extra keys next to a unit variant (`{ t = "russian-layout", variant = "ru" }`); a
/// key the typed transform does not write back is a typo in the profile data.
fn check_known_keys(p: &ScannerProfile, t: &Transform, raw: &toml::Value) -> Result<(), DistortError> {
    let (Some(raw), Ok(toml::Value::Table(known))) = (raw.as_table(), toml::Value::try_from(t)) else {
        return Ok(());
    };
    match raw.keys().find(|k| !known.contains_key(k.as_str())) {
        Some(k) => Err(DistortError::Invalid {
            profile: p.name.clone(),
            reason: format!("{} {}: unknown key `{k}`", t.id(), transform_name(t)),
        }),
        None => Ok(()),
    }
}

/// The `t` tag of a transform, e.g. `russian-layout`.
fn transform_name(t: &Transform) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.get("t").and_then(|n| n.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

fn validate(p: &ScannerProfile) -> Result<(), DistortError> {
    let invalid = |reason: String| DistortError::Invalid { profile: p.name.clone(), reason };
    for t in &p.transforms {
        if t.needs_keyboard() && !p.interface.delivers_keys() {
            return Err(DistortError::NeedsKeyboard {
                profile: p.name.clone(),
                transform: format!("{} {}", t.id(), transform_name(t)),
                interface: p.interface,
            });
        }
        match t {
            Transform::Keystrokes { loss, duplication } => {
                for (what, v) in [("loss", loss), ("duplication", duplication)] {
                    if !(0.0..=1.0).contains(v) {
                        return Err(invalid(format!("T7 {what} = {v} is not a probability in 0..=1")));
                    }
                }
            }
            Transform::Gs(GsHandling::FKey { key }) if !(1..=24).contains(key) => {
                return Err(invalid(format!("T3 fkey = {key} is not F1–F24")));
            }
            _ => {}
        }
    }
    Ok(())
}

const BUILTIN_TOML: &str = include_str!("../data/scanner-profiles.toml");

/// Names of the default profiles of spec `codes.md` §12.9; all are built in.
pub const SPEC_DEFAULT_PROFILES: &[&str] = &[
    "com-clean",
    "hid-us-dropgs",
    "hid-ru-dropgs",
    "hid-ru-caps",
    "hid-altcodes",
    "hid-f8",
    "hid-ctrl",
    "aim-on",
    "camera-libdmtx",
    "1c-text-gs",
];

/// The built-in profiles of `codes/data/scanner-profiles.toml`: the spec's ten default profiles plus
/// extras. Parsed once.
pub fn builtin_profiles() -> &'static [ScannerProfile] {
    static PROFILES: OnceLock<Vec<ScannerProfile>> = OnceLock::new();
    PROFILES.get_or_init(|| {
        // The data file is part of the crate and covered by tests; a broken file is a build defect.
        load_profiles(BUILTIN_TOML).expect("codes/data/scanner-profiles.toml is valid")
    })
}

/// A built-in profile by name.
pub fn profile(name: &str) -> Option<&'static ScannerProfile> {
    builtin_profiles().iter().find(|p| p.name == name)
}

/// One unit of what travels through the capture chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A byte not typed on a keyboard: what a byte interface sends, or what a keyboard-wedge scanner
    /// is about to type.
    Byte(u8),
    /// A key press that produced this character under the host's layout and Caps Lock state.
    Char(char),
    /// A key event that is not a plain character; `text` is what a GUI text field receives for it.
    Key {
        /// The event.
        key: KeyEvent,
        /// The bytes it puts into a text field (often none).
        text: Vec<u8>,
    },
}

/// The state of a code between transforms: a sequence of [`Unit`]s and, once software has handled
/// it (T9), the text the application holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stream {
    units: Vec<Unit>,
    received: Option<Vec<u8>>,
}

impl Stream {
    /// The content of a symbol, as bytes.
    pub fn from_bytes(bytes: &[u8]) -> Stream {
        Stream { units: bytes.iter().copied().map(Unit::Byte).collect(), received: None }
    }

    /// The units sent so far.
    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    /// The text an application text field holds.
    pub fn text(&self) -> Vec<u8> {
        if let Some(r) = &self.received {
            return r.clone();
        }
        let mut out = Vec::with_capacity(self.units.len());
        for u in &self.units {
            match u {
                Unit::Byte(b) => out.push(*b),
                Unit::Char(c) => out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes()),
                Unit::Key { text, .. } => out.extend_from_slice(text),
            }
        }
        out
    }

    /// Type every pending byte on a keyboard: ASCII becomes a character key press, a byte ≥ 0x80 an
    /// Alt+numpad code, which a text field receives as that Latin-1 character (0xE8 → `è`).
    pub fn type_out(&mut self) {
        for u in &mut self.units {
            if let Unit::Byte(b) = *u {
                *u = if b.is_ascii() {
                    Unit::Char(b as char)
                } else {
                    let c = char::from(b);
                    Unit::Key {
                        key: KeyEvent::AltNumpad(u16::from(b)),
                        text: c.encode_utf8(&mut [0u8; 4]).as_bytes().to_vec(),
                    }
                };
            }
        }
    }

    /// Finish: what the application receives over `interface`.
    pub fn into_delivery(mut self, interface: Interface) -> Delivery {
        if !interface.delivers_keys() {
            return Delivery { text: self.text(), keys: None };
        }
        self.type_out();
        let text = self.text();
        let keys = self
            .units
            .iter()
            .map(|u| match u {
                Unit::Byte(b) => KeyEvent::Char(char::from(*b)),
                Unit::Char(c) => KeyEvent::Char(*c),
                Unit::Key { key, .. } => *key,
            })
            .collect();
        Delivery { text, keys: Some(keys) }
    }

    fn prepend(&mut self, bytes: &[u8]) {
        self.units.splice(0..0, bytes.iter().copied().map(Unit::Byte));
    }

    fn map_gs(&mut self, f: impl Fn() -> Vec<Unit>) {
        let units = std::mem::take(&mut self.units);
        for u in units {
            if u == Unit::Byte(GS) {
                self.units.extend(f());
            } else {
                self.units.push(u);
            }
        }
    }

    /// Software has the text: later non-software transforms act on that text.
    fn materialize(&mut self) {
        if let Some(r) = self.received.take() {
            *self = Stream::from_bytes(&r);
        }
    }
}

/// Apply a profile to canonical bytes: its transforms in [`Stage`] order (see the module doc), then
/// delivery over the profile's interface. For keyboard profiles the content is typed after the ⟨GS⟩
/// handling. Deterministic for a given RNG state; never panics.
pub fn apply<R: Rng + ?Sized>(profile: &ScannerProfile, canonical: &[u8], rng: &mut R) -> Delivery {
    let mut order: Vec<&Transform> = profile.transforms.iter().collect();
    order.sort_by_key(|t| t.stage());
    let keyboard = profile.interface.delivers_keys();
    let mut stream = Stream::from_bytes(canonical);
    let mut typed = false;
    for t in order {
        if keyboard && !typed && t.stage() > Stage::Gs {
            stream.type_out();
            typed = true;
        }
        apply_transform(t, &mut stream, rng);
    }
    stream.into_delivery(profile.interface)
}

/// Apply one transform to a stream, in place. [`apply`] calls this in stage order; calling it
/// directly applies exactly the transform given, in the order given.
pub fn apply_transform<R: Rng + ?Sized>(transform: &Transform, stream: &mut Stream, rng: &mut R) {
    if let Transform::Software { artefact } = transform {
        stream.received = Some(software(*artefact, &stream.text()));
        return;
    }
    stream.materialize();
    match transform {
        Transform::Aim { prefix } => stream.prepend(prefix.as_bytes()),
        Transform::LeakedFnc1 { byte } => stream.prepend(match byte {
            Fnc1Leak::E8 => &[0xE8],
            Fnc1Leak::Gs => &[GS],
        }),
        Transform::Gs(mode) => gs_handling(mode, stream),
        Transform::Suffix { suffix } => stream.units.extend(suffix.bytes().iter().copied().map(Unit::Byte)),
        Transform::RussianLayout => {
            for u in &mut stream.units {
                match *u {
                    Unit::Byte(b) if b.is_ascii() => *u = Unit::Char(keyboard::us_to_ru(b as char)),
                    Unit::Char(c) => *u = Unit::Char(keyboard::us_to_ru(c)),
                    _ => {}
                }
            }
        }
        Transform::CapsLock { variant } => {
            for u in &mut stream.units {
                match *u {
                    Unit::Byte(b) if b.is_ascii_alphabetic() => *u = Unit::Byte(b ^ 0x20),
                    Unit::Char(c) => *u = Unit::Char(flip_case(c, *variant)),
                    _ => {}
                }
            }
        }
        Transform::Keystrokes { loss, duplication } => {
            let units = std::mem::take(&mut stream.units);
            for u in units {
                if rng.random::<f64>() < *loss {
                    continue;
                }
                if rng.random::<f64>() < *duplication {
                    stream.units.push(u.clone());
                }
                stream.units.push(u);
            }
        }
        Transform::Decoder { artefact } => match artefact {
            DecoderArtefact::Libdmtx => stream.units.retain(|u| *u != Unit::Byte(GS)),
            DecoderArtefact::ZxingCpp => stream.prepend(b"]C1"),
            DecoderArtefact::ZxingNet => stream.prepend(b"]d2"),
            DecoderArtefact::GsAsFs => stream.map_gs(|| vec![Unit::Byte(0x1C)]),
        },
        Transform::HumanReadable => {
            if let Some(hri) = human_readable(&stream.text()) {
                *stream = Stream::from_bytes(&hri);
            }
        }
        Transform::GsLetters => stream.map_gs(|| vec![Unit::Byte(b'G'), Unit::Byte(b'S')]),
        Transform::Software { .. } => {}
    }
}

fn gs_handling(mode: &GsHandling, stream: &mut Stream) {
    match mode {
        GsHandling::Keep => {}
        GsHandling::Drop => stream.units.retain(|u| *u != Unit::Byte(GS)),
        GsHandling::CtrlBracket { console } => stream.map_gs(|| {
            vec![Unit::Key { key: KeyEvent::CtrlBracket, text: if *console { vec![GS] } else { vec![] } }]
        }),
        GsHandling::Alt0029 { num_lock } => stream.map_gs(|| {
            vec![Unit::Key { key: KeyEvent::AltNumpad(29), text: if *num_lock { vec![GS] } else { vec![] } }]
        }),
        GsHandling::FKey { key } => {
            stream.map_gs(|| vec![Unit::Key { key: KeyEvent::FKey(*key), text: Vec::new() }])
        }
        GsHandling::Substitute { text } => stream.map_gs(|| text.0.iter().copied().map(Unit::Byte).collect()),
    }
}

/// Caps Lock on a typed character. US: ASCII letters only. RU: every letter (Cyrillic included).
fn flip_case(c: char, variant: CapsVariant) -> char {
    let letter = match variant {
        CapsVariant::Us => c.is_ascii_alphabetic(),
        CapsVariant::Ru => c.is_alphabetic(),
    };
    if !letter {
        return c;
    }
    let mapped: Vec<char> = if c.is_lowercase() {
        c.to_uppercase().collect()
    } else if c.is_uppercase() {
        c.to_lowercase().collect()
    } else {
        return c;
    };
    match mapped.as_slice() {
        [single] => *single,
        _ => c,
    }
}

/// Python's `str.isspace`: Unicode whitespace plus the separators 0x1C–0x1F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn is_py_space_byte(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | 0x1C..=0x1F | b' ')
}

fn software(artefact: SoftwareArtefact, text: &[u8]) -> Vec<u8> {
    match artefact {
        SoftwareArtefact::PythonStrip => match std::str::from_utf8(text) {
            Ok(s) => s.trim_matches(is_py_space).as_bytes().to_vec(),
            Err(_) => trim_bytes(text, is_py_space_byte),
        },
        SoftwareArtefact::JavaTrim => trim_bytes(text, |b| b <= b' '),
        SoftwareArtefact::WhitespaceSplit => match std::str::from_utf8(text) {
            Ok(s) => s.split(is_py_space).find(|p| !p.is_empty()).unwrap_or("").as_bytes().to_vec(),
            Err(_) => text.split(|&b| is_py_space_byte(b)).find(|p| !p.is_empty()).unwrap_or(&[]).to_vec(),
        },
        SoftwareArtefact::ControlStrip => text.iter().copied().filter(|&b| b >= 0x20 && b != 0x7F).collect(),
        SoftwareArtefact::JsonDoubleEscape => {
            let mut out = Vec::with_capacity(text.len() + 8);
            for &b in text {
                match b {
                    b'"' => out.extend_from_slice(b"\\\""),
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    0x08 => out.extend_from_slice(b"\\b"),
                    0x0C => out.extend_from_slice(b"\\f"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b if b < 0x20 => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
                    b => out.push(b),
                }
            }
            out
        }
        SoftwareArtefact::HtmlEscape => {
            let mut out = Vec::with_capacity(text.len() + 8);
            for &b in text {
                match b {
                    b'&' => out.extend_from_slice(b"&amp;"),
                    b'<' => out.extend_from_slice(b"&lt;"),
                    b'>' => out.extend_from_slice(b"&gt;"),
                    b'"' => out.extend_from_slice(b"&quot;"),
                    b => out.push(b),
                }
            }
            out
        }
        SoftwareArtefact::UrlUnencoded => {
            let end = text.iter().position(|&b| b == b'&' || b == b'#').unwrap_or(text.len());
            let value = &text[..end];
            let mut out = Vec::with_capacity(value.len());
            let mut i = 0;
            while i < value.len() {
                match value[i] {
                    b'+' => out.push(b' '),
                    b'%' => {
                        let hex = value.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                        match hex.filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit())) {
                            Some(h) => {
                                out.push(u8::from_str_radix(h, 16).unwrap_or(b'%'));
                                i += 2;
                            }
                            None => out.push(b'%'),
                        }
                    }
                    b => out.push(b),
                }
                i += 1;
            }
            out
        }
    }
}

fn trim_bytes(text: &[u8], is_space: impl Fn(u8) -> bool) -> Vec<u8> {
    let start = text.iter().position(|&b| !is_space(b)).unwrap_or(text.len());
    let end = text.iter().rposition(|&b| !is_space(b)).map_or(start, |i| i + 1);
    text[start..end].to_vec()
}

/// The GS1 human-readable form `(AI)value…` of an element string, or `None` when the content is not
/// a GS1 element string made of known AIs (a tobacco pack, garbage).
fn human_readable(s: &[u8]) -> Option<Vec<u8>> {
    if !s.starts_with(b"01") {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() + 16);
    for segment in s.split(|&b| b == GS) {
        let mut rest = segment;
        if rest.is_empty() {
            return None;
        }
        while !rest.is_empty() {
            let (ai_len, fixed) = element_shape(rest)?;
            let end = match fixed {
                Some(total) if total <= rest.len() => total,
                Some(_) => return None,
                None => rest.len(),
            };
            if end <= ai_len {
                return None;
            }
            out.push(b'(');
            out.extend_from_slice(&rest[..ai_len]);
            out.push(b')');
            out.extend_from_slice(&rest[ai_len..end]);
            rest = &rest[end..];
        }
    }
    Some(out)
}

/// `(AI length, total element length if pre-defined)` of the element at the start of `s` (spec §2.2,
/// §2.3), for the AIs a Russian code may hold.
fn element_shape(s: &[u8]) -> Option<(usize, Option<usize>)> {
    let digits = |n: usize| s.get(..n).filter(|d| d.iter().all(u8::is_ascii_digit));
    if let Some(ai) = digits(4) {
        if ai == b"8005" || ai == b"7003" {
            return Some((4, None));
        }
        if matches!(&ai[..2], b"31" | b"32" | b"33" | b"34" | b"35" | b"36") {
            return Some((4, Some(10)));
        }
    }
    if let Some(ai) = digits(3) {
        if ai == b"240" || ai == b"241" {
            return Some((3, None));
        }
    }
    let ai = digits(2)?;
    let fixed = match ai {
        b"00" => Some(20),
        b"01" | b"02" | b"03" => Some(16),
        b"04" => Some(18),
        b"11" | b"12" | b"13" | b"15" | b"16" | b"17" => Some(8),
        b"20" => Some(4),
        b"10" | b"21" | b"22" | b"37" | b"90" | b"91" | b"92" | b"93" | b"94" | b"95" | b"96" | b"97"
        | b"98" | b"99" => None,
        _ => return None,
    };
    Some((2, fixed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const MILK: &[u8] = b"0104612345000438215aZ;q0\x1d93Jm4t";

    fn run(name: &str, code: &[u8]) -> Delivery {
        let p = profile(name).unwrap_or_else(|| panic!("profile {name}"));
        apply(p, code, &mut ChaCha8Rng::seed_from_u64(7))
    }

    fn custom(interface: Interface, transforms: Vec<Transform>) -> ScannerProfile {
        ScannerProfile {
            name: "custom".into(),
            description: String::new(),
            interface,
            transforms,
            repairable: false,
        }
    }

    #[test]
    fn spec_example_russian_layout_and_caps() {
        let d = run("hid-ru-dropgs", MILK);
        assert_eq!(String::from_utf8(d.text).unwrap(), "0104612345000438215фЯжй093Оь4е\r");
        let keys = d.keys.unwrap();
        assert_eq!(keys[19], KeyEvent::Char('ф'));
        assert_eq!(keys.last(), Some(&KeyEvent::Char('\r')));
        let d = run("hid-ru-caps", MILK);
        assert_eq!(String::from_utf8(d.text).unwrap(), "0104612345000438215ФяЖЙ093оЬ4Е\r");
        let d = run("hid-us-caps", MILK);
        assert_eq!(d.text, b"0104612345000438215Az;Q093jM4T\r");
    }

    #[test]
    fn aim_prefix_is_typed_through_the_layout() {
        let p = custom(
            Interface::HidKeyboard,
            vec![
                Transform::RussianLayout,
                Transform::Aim { prefix: "]d2".into() },
                Transform::Gs(GsHandling::Drop),
            ],
        );
        let d = apply(&p, MILK, &mut ChaCha8Rng::seed_from_u64(1));
        assert!(String::from_utf8(d.text).unwrap().starts_with("ъв2010461"));
    }

    #[test]
    fn gs_key_events() {
        let d = run("hid-f8", MILK);
        assert_eq!(d.text, b"0104612345000438215aZ;q093Jm4t\r");
        assert_eq!(d.keys.as_ref().unwrap()[24], KeyEvent::FKey(8));
        let d = run("hid-ctrl", MILK);
        assert_eq!(d.text, b"0104612345000438215aZ;q093Jm4t\r");
        assert_eq!(d.keys.as_ref().unwrap()[24], KeyEvent::CtrlBracket);
        let d = run("hid-altcodes", MILK);
        assert_eq!(d.text, b"0104612345000438215aZ;q0\x1d93Jm4t\r\n");
        assert_eq!(d.keys.as_ref().unwrap()[24], KeyEvent::AltNumpad(29));
        let d = run("hid-altcodes-numlock-off", MILK);
        assert_eq!(d.text, b"0104612345000438215aZ;q093Jm4t\r\n");
    }

    #[test]
    fn byte_profiles() {
        assert_eq!(
            run("com-clean", MILK),
            Delivery { text: b"0104612345000438215aZ;q0\x1d93Jm4t\r".to_vec(), keys: None }
        );
        assert_eq!(run("aim-on", MILK).text, b"]d20104612345000438215aZ;q0\x1d93Jm4t\r\n");
        assert_eq!(run("camera-libdmtx", MILK).text, b"0104612345000438215aZ;q093Jm4t");
        assert_eq!(run("1c-text-gs", MILK).text, b"0104612345000438215aZ;q0<GS>93Jm4t");
        assert_eq!(run("leading-fnc1", MILK).text, b"\xe80104612345000438215aZ;q0\x1d93Jm4t\r");
        assert_eq!(run("zxing-cpp", MILK).text, b"]C10104612345000438215aZ;q0\x1d93Jm4t");
        assert_eq!(run("json-double-escape", MILK).text, b"0104612345000438215aZ;q0\\u001d93Jm4t");
    }

    #[test]
    fn leaked_fnc1_on_a_keyboard_is_an_alt_code() {
        let p = custom(Interface::HidKeyboard, vec![Transform::LeakedFnc1 { byte: Fnc1Leak::E8 }]);
        let d = apply(&p, b"01", &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(d.text, "è01".as_bytes());
        assert_eq!(d.keys.unwrap()[0], KeyEvent::AltNumpad(232));
    }

    #[test]
    fn order_is_realistic_whatever_the_listing() {
        let p = custom(
            Interface::HidKeyboard,
            vec![
                Transform::Suffix { suffix: Suffix::Cr },
                Transform::CapsLock { variant: CapsVariant::Us },
                Transform::Keystrokes { loss: 1.0, duplication: 0.0 },
                Transform::Aim { prefix: "]d2".into() },
            ],
        );
        // Everything typed is lost, the suffix is not.
        assert_eq!(apply(&p, MILK, &mut ChaCha8Rng::seed_from_u64(3)).text, b"\r");
        let p = custom(
            Interface::HidKeyboard,
            vec![Transform::CapsLock { variant: CapsVariant::Us }, Transform::Aim { prefix: "]d2".into() }],
        );
        assert_eq!(&apply(&p, MILK, &mut ChaCha8Rng::seed_from_u64(3)).text[..3], b"]D2");
    }

    #[test]
    fn keystroke_faults_are_seeded() {
        let p = profile("hid-keystroke-loss").unwrap();
        let a = apply(p, MILK, &mut ChaCha8Rng::seed_from_u64(11));
        let b = apply(p, MILK, &mut ChaCha8Rng::seed_from_u64(11));
        assert_eq!(a, b);
        let p = custom(Interface::HidKeyboard, vec![Transform::Keystrokes { loss: 0.0, duplication: 1.0 }]);
        assert_eq!(apply(&p, b"ab", &mut ChaCha8Rng::seed_from_u64(1)).text, b"aabb");
    }

    #[test]
    fn software_artefacts() {
        use SoftwareArtefact::*;
        assert_eq!(software(PythonStrip, b"\x1d01\x1d93\r"), b"01\x1d93");
        assert_eq!(software(PythonStrip, "\u{a0}ab\u{85}".as_bytes()), b"ab");
        assert_eq!(software(PythonStrip, b"\xff ab \x1d"), b"\xff ab");
        assert_eq!(software(JavaTrim, b" \x1dab\x1d\r\n"), b"ab");
        assert_eq!(software(WhitespaceSplit, b"\x1d01ab\x1d93xy"), b"01ab");
        assert_eq!(software(WhitespaceSplit, b" \x1d "), b"");
        assert_eq!(software(ControlStrip, b"01\x1d93\x7f\r"), b"0193");
        assert_eq!(software(JsonDoubleEscape, b"a\"\\\x1d\r"), b"a\\\"\\\\\\u001d\\r");
        assert_eq!(software(HtmlEscape, b"<a&\">"), b"&lt;a&amp;&quot;&gt;");
        assert_eq!(software(UrlUnencoded, b"a+b%2Fc%zz%4#frag"), b"a b/c%zz%4");
        assert_eq!(software(UrlUnencoded, b"x&y"), b"x");
    }

    #[test]
    fn human_readable_and_gs_letters() {
        assert_eq!(run("manual-hri", MILK).text, b"(01)04612345000438(21)5aZ;q0(93)Jm4t\r");
        let weighed = b"0104612345000438215K%x(1\x1d93pR7s\x1d3103000450";
        assert_eq!(human_readable(weighed).unwrap(), b"(01)04612345000438(21)5K%x(1(93)pR7s(3103)000450");
        assert_eq!(human_readable(b"04612345000124Kx7;pQaAC/UZt9+"), None);
        assert_eq!(human_readable(b"0104"), None);
        assert_eq!(human_readable(b"01\x1d"), None);
        assert_eq!(run("label-gs-letters", MILK).text, b"0104612345000438215aZ;q0GS93Jm4t\r");
    }

    #[test]
    fn toml_shape_round_trips() {
        let text = r#"
[[profile]]
name = "x"
description = "all transforms"
interface = "hid-keyboard"
repairable = false
transforms = [
  { t = "aim", prefix = "]Q3" },
  { t = "leaked-fnc1", byte = "gs" },
  { t = "gs", mode = "substitute", text = [0xE8, 0x1D] },
  { t = "gs", mode = "alt-0029", num_lock = false },
  { t = "gs", mode = "ctrl-bracket" },
  { t = "gs", mode = "fkey", key = 8 },
  { t = "suffix", suffix = "crlf" },
  { t = "russian-layout" },
  { t = "caps-lock", variant = "ru" },
  { t = "keystrokes", loss = 0, duplication = 0.5 },
  { t = "decoder", artefact = "gs-as-fs" },
  { t = "software", artefact = "url-unencoded" },
  { t = "human-readable" },
  { t = "gs-letters" },
]
"#;
        let p = load_profiles(text).unwrap();
        assert_eq!(p[0].transforms.len(), 14);
        assert_eq!(
            p[0].transforms[2],
            Transform::Gs(GsHandling::Substitute { text: Bytes(vec![0xE8, 0x1D]) })
        );
        assert_eq!(p[0].transforms[3], Transform::Gs(GsHandling::Alt0029 { num_lock: false }));
        assert_eq!(p[0].transforms[4], Transform::Gs(GsHandling::CtrlBracket { console: false }));
        let json = serde_json::to_string(&p[0]).unwrap();
        let back: ScannerProfile = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p[0]);
        let toml_back = toml::to_string(&serde_json::json!({ "profile": [&p[0]] })).unwrap();
        assert_eq!(load_profiles(&toml_back).unwrap(), p);
        let keys =
            serde_json::to_string(&[KeyEvent::Char('a'), KeyEvent::FKey(8), KeyEvent::CtrlBracket]).unwrap();
        assert_eq!(keys, r#"[{"key":"char","value":"a"},{"key":"fkey","value":8},{"key":"ctrl-bracket"}]"#);
    }

    #[test]
    fn invalid_profiles_are_typed_errors() {
        let dup = "[[profile]]\nname='a'\ninterface='com'\nrepairable=true\n[[profile]]\nname='a'\ninterface='com'\nrepairable=true\n";
        assert_eq!(load_profiles(dup), Err(DistortError::DuplicateName("a".into())));
        let kb =
            "[[profile]]\nname='a'\ninterface='com'\nrepairable=true\ntransforms=[{t='russian-layout'}]\n";
        assert!(matches!(load_profiles(kb), Err(DistortError::NeedsKeyboard { .. })));
        let p = "[[profile]]\nname='a'\ninterface='hid-keyboard'\nrepairable=false\ntransforms=[{t='keystrokes',loss=1.5}]\n";
        assert!(matches!(load_profiles(p), Err(DistortError::Invalid { .. })));
        let typo =
            "[[profile]]\nname='a'\ninterface='com'\nrepairable=true\ntransforms=[{t='suffix',sufix='cr'}]\n";
        assert!(matches!(load_profiles(typo), Err(DistortError::Toml(_))));
        let gs_typo = "[[profile]]\nname='a'\ninterface='com'\nrepairable=true\ntransforms=[{t='gs',mode='keep',x=1}]\n";
        assert!(
            matches!(load_profiles(gs_typo), Err(DistortError::Invalid { .. })),
            "{:?}",
            load_profiles(gs_typo)
        );
        let unit_typo = "[[profile]]\nname='a'\ninterface='hid-keyboard'\nrepairable=true\ntransforms=[{t='russian-layout',variant='ru'}]\n";
        assert!(matches!(load_profiles(unit_typo), Err(DistortError::Invalid { .. })));
        let empty = "[[profile]]\nname=''\ninterface='com'\nrepairable=true\n";
        assert_eq!(load_profiles(empty), Err(DistortError::EmptyName(0)));
    }
}
