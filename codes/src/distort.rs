//! Scanner distortion transforms and profiles (spec `codes.md` §12.9). Being written.
