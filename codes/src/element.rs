//! Reading one GS1 element (AI + value) at a position: the step shared by the strict parser's
//! tokenizer and the mutation catalogue. It decides where a value ends (pre-defined length, or up to
//! the next ⟨GS⟩); it records no defects and validates no values.

use crate::ai;
use crate::charset::GS;
use crate::code::Span;

/// One GS1 element: the AI's digits, where the AI starts, and the value span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Element {
    pub ai: &'static str,
    pub at: usize,
    pub value: Span,
    /// Pre-defined length (no ⟨GS⟩ needed after it).
    pub fixed: bool,
}

impl Element {
    /// The AI family (`335n` → `335`).
    pub fn family(&self) -> &'static str {
        if self.ai.starts_with("335") {
            "335"
        } else {
            self.ai
        }
    }
}

/// What stands at a position of a GS1 element string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ElementRead {
    /// A complete element.
    Element(Element),
    /// No known AI starts here.
    UnknownAi,
    /// A pre-defined-length AI whose value is cut short (by the end or a ⟨GS⟩).
    Truncated(&'static str),
}

/// Read the element starting at `pos` (which must not be a ⟨GS⟩).
pub(crate) fn read_at(input: &[u8], pos: usize) -> ElementRead {
    let Some(spec) = input.get(pos..).and_then(ai::lookup) else { return ElementRead::UnknownAi };
    let vstart = pos + spec.ai.len();
    let vend = match spec.fixed_len {
        Some(len) => {
            let vend = vstart + len;
            if vend > input.len() || input[vstart..vend].contains(&GS) {
                return ElementRead::Truncated(spec.ai);
            }
            vend
        }
        None => input[vstart..].iter().position(|&b| b == GS).map_or(input.len(), |p| vstart + p),
    };
    ElementRead::Element(Element {
        ai: spec.ai,
        at: pos,
        value: (vstart, vend),
        fixed: spec.fixed_len.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fixed_and_variable_elements() {
        let code = b"0104612345000438215aZ;q0\x1d93Jm4t\x1d3103000450";
        let ElementRead::Element(g) = read_at(code, 0) else { panic!() };
        assert_eq!((g.ai, g.value, g.fixed), ("01", (2, 16), true));
        let ElementRead::Element(s) = read_at(code, 16) else { panic!() };
        assert_eq!((s.ai, s.value, s.fixed), ("21", (18, 24), false));
        let ElementRead::Element(w) = read_at(code, 32) else { panic!() };
        assert_eq!((w.family(), w.value), ("3103", (36, 42)));
        assert_eq!(read_at(b"3103000", 0), ElementRead::Truncated("3103"));
        assert_eq!(read_at(b"99", 0), ElementRead::UnknownAi);
        assert_eq!(read_at(b"01", 5), ElementRead::UnknownAi);
    }
}
