//! The reference POS: an implementation of the markcert adapter protocol that follows the spec, used as
//! the default implementation under test by `markcert certify` and as the base of deliberate mutants.
//!
//! Not built yet: the adapter protocol arrives with the harness issue. Until then this binary only says so.

fn main() {
    eprintln!("markcert-reference-pos: the adapter protocol is not implemented yet");
    std::process::exit(2);
}
