//! Structural mutation catalogue (spec `codes.md` §13.2). Being written.
