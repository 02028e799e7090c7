//! Shared inputs for markcert's criterion benchmarks (see `benches/benches/*.rs`).
