//! From the scanner's bytes to the canonical marking code (codes.md §11, §12.10): decode the protocol's
//! base64, then repair scanner damage with `markcert_codes::normalize` (transport prefixes and
//! suffixes, textual and lost ⟨GS⟩, Russian layout, Caps Lock). A scan that cannot be read even
//! after repair is refused before any network call; nothing damaged is ever sent onward (except by the
//! mutant `no-scanner-repair`, a branch of [`repair`]).

use base64::Engine;
use markcert_codes::{Layout, MarkingCode, NormalizeError};

use crate::mutant::Mutant;
use crate::options::Options;

/// Longest scan looked at (the longest layout is 137 characters; anything far longer is garbage).
pub const MAX_SCAN_BYTES: usize = 4_096;

/// A scan read as a canonical code.
#[derive(Clone, Debug)]
pub struct Repaired {
    /// The canonical code.
    pub code: MarkingCode,
    /// What goes to the check and to the KKT: the canonical code's text (the reference POS).
    pub sent: String,
    /// What was repaired, for the log and the cashier's message.
    pub repairs: Vec<String>,
    /// Warnings about the scan (e.g. a non-GS1 symbology identifier).
    pub warnings: Vec<String>,
}

/// Why a scan is not a usable marking code (reason `format`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RepairError {
    /// Nothing was scanned.
    #[error("empty scan")]
    Empty,
    /// Far too long to be a code.
    #[error("scan of {0} bytes is not a marking code")]
    TooLong(usize),
    /// No reading gives a valid code.
    #[error("not a marking code even after repair ({0}); rescan")]
    Unreadable(String),
    /// Several valid codes can be read; a rescan is needed.
    #[error("ambiguous scan ({0} possible codes); rescan")]
    Ambiguous(usize),
    /// The scan is damaged and repairs are switched off.
    #[error("damaged scan ({0}); rescan")]
    Damaged(String),
    /// A code without its verification part (KI only) cannot be sold.
    #[error("the code has no verification part (crypto tail); rescan the full DataMatrix")]
    NoCryptoTail,
}

/// Decode `scan_b64` (standard base64; padding optional). `None` when it is not base64.
pub fn decode_scan(scan_b64: &str) -> Option<Vec<u8>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    b64.decode(scan_b64.as_bytes())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(scan_b64.as_bytes()))
        .ok()
}

/// Read the scanner's bytes as a canonical code.
pub fn repair(raw: &[u8], opts: &Options) -> Result<Repaired, RepairError> {
    if raw.is_empty() {
        return Err(RepairError::Empty);
    }
    if raw.len() > MAX_SCAN_BYTES {
        return Err(RepairError::TooLong(raw.len()));
    }
    let normalized = match markcert_codes::normalize(raw) {
        Ok(n) => n,
        Err(NormalizeError::Ambiguous { candidates }) => {
            return Err(RepairError::Ambiguous(candidates.len()))
        }
        Err(NormalizeError::Unrepairable { error, .. }) => {
            return Err(RepairError::Unreadable(error.to_string()))
        }
    };
    let repairs: Vec<String> = normalized.repairs.iter().map(ToString::to_string).collect();
    if !opts.repair_scans && !repairs.is_empty() {
        return Err(RepairError::Damaged(repairs.join(", ")));
    }
    if opts.require_crypto_tail && normalized.code.layout() == Layout::KiOnly {
        return Err(RepairError::NoCryptoTail);
    }
    let sent = if opts.has(Mutant::NoScannerRepair) {
        // Mutant `no-scanner-repair`: the text field's content goes out as the scanner typed it (only
        // the Enter that ended the input is dropped); the repaired reading is never used.
        String::from_utf8_lossy(raw).trim_end_matches(['\r', '\n']).to_string()
    } else {
        normalized.code.as_str().to_string()
    };
    Ok(Repaired {
        code: normalized.code,
        sent,
        repairs,
        warnings: normalized.warnings.iter().map(ToString::to_string).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MILK: &str = "0104612345000438215aZ;q0\u{1d}93Jm4t";

    #[test]
    fn canonical_scans_pass_unchanged() {
        let r = repair(MILK.as_bytes(), &Options::default()).unwrap();
        assert_eq!(r.code.as_str(), MILK);
        assert_eq!(r.sent, MILK);
        assert!(r.repairs.is_empty());
    }

    #[test]
    fn lost_gs_and_russian_layout_are_repaired() {
        let opts = Options::default();
        let dropped = repair(b"0104612345000438215aZ;q093Jm4t\r", &opts).unwrap();
        assert_eq!(dropped.code.as_str(), MILK);
        assert_eq!(dropped.sent, MILK);
        let raw = Options::default().with_mutant(Mutant::NoScannerRepair);
        assert_eq!(
            repair(b"0104612345000438215aZ;q093Jm4t\r", &raw).unwrap().sent,
            "0104612345000438215aZ;q093Jm4t"
        );
        assert!(!dropped.repairs.is_empty());
        let russian = repair("0104612345000438215фЯжй093Оь4е".as_bytes(), &opts).unwrap();
        assert_eq!(russian.code.as_str(), MILK);
        let aim = repair(format!("]d2{MILK}\r\n").as_bytes(), &opts).unwrap();
        assert_eq!(aim.code.as_str(), MILK);
    }

    #[test]
    fn unreadable_and_partial_scans_are_refused() {
        let opts = Options::default();
        assert_eq!(repair(b"", &opts).unwrap_err(), RepairError::Empty);
        assert!(matches!(repair(b"hello", &opts), Err(RepairError::Unreadable(_))));
        assert!(matches!(repair(&[b'1'; 5000], &opts), Err(RepairError::TooLong(5000))));
        assert_eq!(repair(b"0104612345000438215aZ;q0", &opts).unwrap_err(), RepairError::NoCryptoTail);
        let strict = Options { repair_scans: false, ..Options::default() };
        assert!(matches!(repair(b"0104612345000438215aZ;q093Jm4t", &strict), Err(RepairError::Damaged(_))));
    }

    #[test]
    fn typed_human_readable_codes_are_refused_not_converted() {
        let opts = Options::default();
        for typed in ["(01)04612345000438(21)5aZ;q0(93)Jm4t\r", "(01)04612345000438(21)5(93)q(93)Kn5u\r"] {
            assert!(repair(typed.as_bytes(), &opts).is_err(), "{typed}");
        }
    }

    #[test]
    fn base64_with_or_without_padding() {
        assert_eq!(decode_scan("Zm9vYh0=").unwrap(), b"foob\x1d");
        assert_eq!(decode_scan("Zm9vYh0").unwrap(), b"foob\x1d");
        assert_eq!(decode_scan("@@@"), None);
        assert_eq!(decode_scan("").unwrap(), b"");
    }
}
