//! Fuzz target `escape`: `unescape(escape(x)) == x` for any bytes, and escaped text is printable.

#![no_main]

use libfuzzer_sys::fuzz_target;
use markcert_codes::escape::{escape, unescape};

fuzz_target!(|data: &[u8]| {
    let text = escape(data);
    assert!(
        !text.chars().any(|c| (c as u32) < 0x20 || c == '\u{7f}'),
        "escape left a control character in {text:?}"
    );
    assert_eq!(unescape(text.as_bytes()), data, "round trip failed for {text:?}");
});
