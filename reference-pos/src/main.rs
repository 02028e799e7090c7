//! The `markcert-reference-pos` binary: the reference POS on stdin/stdout (the adapter protocol's
//! stdio transport), logs on stderr. Exits 0 after `shutdown` or at the end of input, 1 when the
//! transport fails. `--mutant NAME` runs one of its deliberate mutants instead, `--list-mutants`
//! lists them; a bad command line exits 2 ([`markcert_reference_pos::main_with_args`]). (`markcert
//! reference-pos` runs the same thing from the markcert binary.)

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(markcert_reference_pos::main_with_args(std::env::args().skip(1)))
}
