//! Valid-code generators (spec `codes.md` §13.1). Being written.
