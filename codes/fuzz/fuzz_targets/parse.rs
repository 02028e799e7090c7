//! Fuzz target `parse`: raw bytes into `markcert_codes::parse`.
//!
//! Never panics; on success the code is a fixed point: re-parsing its canonical bytes gives an equal
//! code, and `normalize` of the same input returns it unchanged, with no repairs.
//!
//! One documented exception (spec `codes.md` §12.6, `normalize::pack_caps_signal`): a strictly valid
//! tobacco pack whose MRP is implausible but becomes plausible with the case of every letter swapped is
//! read by `normalize` as a Caps Lock scan and repaired; the target accepts exactly that.

#![no_main]

use libfuzzer_sys::fuzz_target;
use markcert_codes::escape::escape;
use markcert_codes::{keyboard, Layout, Repair};

fuzz_target!(|data: &[u8]| {
    let Ok(code) = markcert_codes::parse(data) else {
        return;
    };
    let input = escape(data);
    assert_eq!(code.as_bytes(), data, "parse accepted {input} but its canonical text differs");
    let again = markcert_codes::parse(code.as_bytes())
        .unwrap_or_else(|e| panic!("canonical text of {input} does not re-parse: {e}"));
    assert_eq!(again, code, "re-parsing {input} gives a different code");
    let n = markcert_codes::normalize(data)
        .unwrap_or_else(|e| panic!("normalize rejects the valid code {input}: {e}"));
    let out = escape(n.code.as_bytes());
    if code.layout() == Layout::TobaccoPack && n.repairs == [Repair::CapsLock("us".into())] {
        assert_eq!(n.code.as_bytes(), keyboard::caps_us(data), "caps-lock repair of {input} gave {out}");
        return;
    }
    assert_eq!(n.code.as_bytes(), code.as_bytes(), "normalize changed the valid code {input} into {out}");
    assert!(n.repairs.is_empty(), "normalize repaired the valid code {input}: {:?}", n.repairs);
});
