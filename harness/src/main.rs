//! The `markcert` command line. Being written.
fn main() {}
