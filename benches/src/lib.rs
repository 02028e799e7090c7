//! Shared inputs for markcert's criterion benchmarks (see `benches/benches/*.rs`) and for the
//! comparison with the Python GS1 parser `biip` (`benches/biip_bench.py`, `benches/compare.sh`).
//!
//! The inputs live in text files under `benches/data/`, one case per line, `name<TAB>escaped code`,
//! with ⟨GS⟩ written `\u001d` (the text form of [`markcert_codes::escape`]); `#` starts a comment line.
//! A case name is a layout name ([`Layout::name`]) optionally followed by `+variant` (e.g.
//! `milk+3103`, `s13-44+no-gs`), so the name alone tells which layout the code must have.
//!
//! - [`canonical`] — `data/codes.txt`: one valid code per layout (spec `codes.md` §5.3), for `parse`;
//! - [`damaged`] — `data/damaged.txt`: the same codes as a scanner may deliver them (⟨GS⟩ dropped, AIM
//!   prefix `]d2` and CR LF, Russian keyboard layout), for `normalize`.
//!
//! The load benchmark of the True API emulator (`markcert-loadbench`, `src/bin/loadbench.rs`) lives in
//! [`load`].

use markcert_codes::escape::unescape;
use markcert_codes::Layout;
use std::path::{Path, PathBuf};

pub mod load;

/// One benchmark input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The case name: layout name, optionally `+variant`.
    pub name: String,
    /// The layout the code has (canonical) or must be repaired to (damaged).
    pub layout: Layout,
    /// The raw bytes (real ⟨GS⟩ bytes).
    pub bytes: Vec<u8>,
}

/// The directory of the data files (`benches/data`).
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// Parse the text of a data file: `name<TAB>escaped code` per line, `#` comments and blank lines
/// skipped. Panics on a malformed line or an unknown layout name, since the files are fixed inputs.
pub fn parse_cases(text: &str) -> Vec<Case> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|(i, line)| {
            let (name, code) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("line {}: expected name<TAB>code: {line:?}", i + 1));
            let layout_name = name.split('+').next().unwrap_or(name);
            let layout = Layout::from_name(layout_name)
                .unwrap_or_else(|| panic!("line {}: unknown layout {layout_name:?}", i + 1));
            Case { name: name.to_owned(), layout, bytes: unescape(code.as_bytes()) }
        })
        .collect()
}

/// Load a data file (see [`parse_cases`]).
pub fn load(path: &Path) -> Vec<Case> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_cases(&text)
}

/// The canonical codes of `data/codes.txt`.
pub fn canonical() -> Vec<Case> {
    load(&data_dir().join("codes.txt"))
}

/// The scanner-damaged scans of `data/damaged.txt`.
pub fn damaged() -> Vec<Case> {
    load(&data_dir().join("damaged.txt"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use markcert_codes::escape::escape;

    #[test]
    fn canonical_codes_parse_with_their_layout() {
        let cases = canonical();
        assert_eq!(cases.len(), 10);
        for case in &cases {
            let code = markcert_codes::parse(&case.bytes)
                .unwrap_or_else(|e| panic!("{}: {} does not parse: {e}", case.name, escape(&case.bytes)));
            assert_eq!(code.layout(), case.layout, "{}", case.name);
            assert_eq!(code.as_bytes(), case.bytes.as_slice(), "{}", case.name);
        }
    }

    #[test]
    fn damaged_scans_normalize_to_a_canonical_code() {
        let canonical = canonical();
        for case in &damaged() {
            let n = markcert_codes::normalize(&case.bytes)
                .unwrap_or_else(|e| panic!("{}: {} does not normalise: {e}", case.name, escape(&case.bytes)));
            assert_eq!(n.code.layout(), case.layout, "{}", case.name);
            assert!(!n.repairs.is_empty(), "{}: no repair reported", case.name);
            assert!(
                canonical.iter().any(|c| c.bytes == n.code.as_bytes()),
                "{}: normalised to {}, not a code of codes.txt",
                case.name,
                escape(n.code.as_bytes())
            );
        }
    }
}
