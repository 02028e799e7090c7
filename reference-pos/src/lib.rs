//! The markcert reference POS: a correct point-of-sale program for «Честный знак» permissive mode that
//! speaks only the public adapter protocol (`docs/adapter-protocol.md`) to the harness and only the
//! emulators' public HTTP APIs to the world — the ТС ПИоТ, or in direct mode True API's CDN hosts and
//! the ЛМ ЧЗ, and the KKT's ATOL web API. It is the default system under test of `markcert certify`
//! and the base deliberate mutants are derived from (through [`Options`]).
//!
//! [`serve`] reads NDJSON messages and writes one reply per line until `shutdown` or end of input.
//! Files, one concern each: `protocol.rs` (the adapter wire), `pos.rs` (the session and the order of
//! steps), `repair.rs` (scanner damage), `check/` (ТС ПИоТ, True API CDN, ЛМ ЧЗ, answer parsing),
//! `decision.rs` (the sale-ban table), `requisite.rs` (tag 1260/1265), `kkt.rs` (the ATOL flow),
//! `receipt.rs` (positions and the `sell` task), `options.rs`, `error.rs`, `mutant.rs` (the deliberate
//! defects the certification suite must catch; [`main_with_args`] runs one with `--mutant NAME`).

pub mod check;
pub mod decision;
pub mod error;
pub mod kkt;
pub mod mutant;
pub mod options;
pub mod pos;
pub mod protocol;
pub mod receipt;
pub mod repair;
pub mod requisite;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

pub use error::{KktError, PosError, StepError};
pub use mutant::{Mutant, MutantInfo};
pub use options::Options;
pub use pos::{Flow, Pos};

/// Name reported in `init_ok` and `client_info`.
pub const NAME: &str = "markcert-reference-pos";
/// Version reported in `init_ok` and `client_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Longest input line accepted (the harness's own limit on replies is 4 MiB).
pub const MAX_LINE: usize = 4 * 1024 * 1024;

/// Write one log line to stderr (never stdout: stdout carries the protocol).
pub fn log(msg: &str) {
    eprintln!("[{NAME}] {msg}");
}

/// What one read produced.
enum Line {
    /// A line (without the newline) in the buffer.
    Data,
    /// A line longer than [`MAX_LINE`], skipped.
    TooLong,
    /// End of input.
    Eof,
}

/// Read one `\n`-terminated line into `buf` (the last line may lack the newline), at most `max`
/// bytes; a longer line is consumed and reported as [`Line::TooLong`].
async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Line> {
    let mut any = false;
    let mut too_long = false;
    loop {
        let available = r.fill_buf().await?;
        if available.is_empty() {
            return Ok(match (any, too_long) {
                (false, _) => Line::Eof,
                (true, true) => Line::TooLong,
                (true, false) => Line::Data,
            });
        }
        any = true;
        let (take, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if !too_long {
            if buf.len() + take > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&available[..take]);
            }
        }
        r.consume(take);
        if done {
            return Ok(if too_long { Line::TooLong } else { Line::Data });
        }
    }
}

async fn write_reply<W: AsyncWrite + Unpin>(w: &mut W, reply: &protocol::Reply) -> Result<(), PosError> {
    let mut line = reply.to_line();
    line.push('\n');
    w.write_all(line.as_bytes()).await.map_err(PosError::Write)?;
    w.flush().await.map_err(PosError::Write)
}

/// Serve the adapter protocol: read NDJSON messages from `reader`, answer each with one line on
/// `writer` (flushed), until `shutdown` (answered `shutdown_ok`) or end of input. Blank lines are
/// ignored; a line that is not a valid message is answered with an `error` reply. Only a failing
/// transport ends it with an error.
pub async fn serve<R, W>(reader: R, writer: W, options: Options) -> Result<(), PosError>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (mut reader, mut writer) = (reader, writer);
    let log_enabled = options.log;
    let mut pos = Pos::new(options);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match read_line(&mut reader, &mut buf, MAX_LINE).await.map_err(PosError::Read)? {
            Line::Eof => {
                if log_enabled {
                    log("end of input: stopping");
                }
                return Ok(());
            }
            Line::TooLong => {
                let e = StepError::BadRequest(format!("line longer than {MAX_LINE} bytes"));
                let reply = protocol::Reply { in_reply_to: None, body: protocol::ReplyBody::error(&e) };
                write_reply(&mut writer, &reply).await?;
            }
            Line::Data => {
                if buf.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let incoming = protocol::parse_line(&buf);
                let (reply, flow) = pos.handle(incoming).await;
                write_reply(&mut writer, &reply).await?;
                if flow == Flow::Stop {
                    if log_enabled {
                        log("shutdown: stopping");
                    }
                    return Ok(());
                }
            }
        }
    }
}

/// Runs [`serve`] on the process's stdin/stdout with its own runtime; returns the exit status (0
/// after `shutdown` or at the end of input, 1 when the runtime cannot start or the transport fails).
pub fn run_stdio(options: Options) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            log(&format!("cannot start the async runtime: {e}"));
            return 1;
        }
    };
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let result = runtime.block_on(serve(stdin, tokio::io::stdout(), options));
    // The blocking stdin reader may still wait for input: do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(()) => 0,
        Err(e) => {
            log(&format!("stopped: {e}"));
            1
        }
    }
}

/// Usage of [`main_with_args`].
pub const USAGE: &str = "usage: markcert-reference-pos [--mutant NAME | --list-mutants]\n\
    \x20 (no option)     the reference POS on stdin/stdout (adapter protocol, stdio transport)\n\
    \x20 --mutant NAME   the reference POS with one deliberate defect (see --list-mutants)\n\
    \x20 --list-mutants  print the mutants, one `name<TAB>description` line each\n";

/// The command line of `markcert-reference-pos` (and of `markcert reference-pos`): `args` are the
/// arguments after the program name. No argument: the reference POS on stdin/stdout ([`run_stdio`]);
/// `--mutant NAME` (or `--mutant=NAME`): that mutant instead; `--list-mutants`: print `name<TAB>
/// description` lines and exit 0; `-h` / `--help`: the usage. An unknown mutant or option is reported
/// on stderr (with the valid names) and gives 2. Returns the exit status.
pub fn main_with_args(args: impl IntoIterator<Item = String>) -> u8 {
    let mut args = args.into_iter();
    let mut mutant = None;
    while let Some(arg) = args.next() {
        let name = match arg.as_str() {
            "--list-mutants" => {
                print!("{}", mutant::list());
                return 0;
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                return 0;
            }
            "--mutant" => match args.next() {
                Some(name) => name,
                None => {
                    eprintln!("--mutant needs a NAME; valid names: {}\n{USAGE}", mutant_names());
                    return 2;
                }
            },
            other => match other.strip_prefix("--mutant=") {
                Some(name) => name.to_string(),
                None => {
                    eprintln!("unknown argument {other:?}\n{USAGE}");
                    return 2;
                }
            },
        };
        match Mutant::from_name(&name) {
            Some(m) if mutant.is_none() => mutant = Some(m),
            Some(_) => {
                eprintln!("only one --mutant at a time\n{USAGE}");
                return 2;
            }
            None => {
                eprintln!("unknown mutant {name:?}; valid names: {}", mutant_names());
                return 2;
            }
        }
    }
    let options = match mutant {
        Some(m) => {
            log(&format!("running as mutant {m}: {}", m.info().description));
            Options::default().with_mutant(m)
        }
        None => Options::default(),
    };
    run_stdio(options)
}

/// The valid mutant names, comma-separated.
fn mutant_names() -> String {
    mutant::all().iter().map(|(_, i)| i.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bad_command_lines_exit_2_and_listing_exits_0() {
        assert_eq!(main_with_args(args(&["--mutant", "no-such-defect"])), 2);
        assert_eq!(main_with_args(args(&["--mutant=no-such-defect"])), 2);
        assert_eq!(main_with_args(args(&["--mutant"])), 2);
        assert_eq!(main_with_args(args(&["--frobnicate"])), 2);
        assert_eq!(main_with_args(args(&["--mutant", "no-1260", "--mutant", "accept-all"])), 2);
        assert_eq!(main_with_args(args(&["--list-mutants"])), 0);
        assert!(mutant::all().len() >= 22);
        assert!(mutant_names().contains("ignore-expiry"));
    }

    #[tokio::test]
    async fn lines_are_read_whole_and_long_ones_skipped() {
        let input: &[u8] = b"abc\n\nxxxxxxxxxx\nlast";
        let mut r = BufReader::with_capacity(4, input);
        let mut buf = Vec::new();
        assert!(matches!(read_line(&mut r, &mut buf, 8).await.unwrap(), Line::Data));
        assert_eq!(buf, b"abc\n");
        buf.clear();
        assert!(matches!(read_line(&mut r, &mut buf, 8).await.unwrap(), Line::Data));
        assert_eq!(buf, b"\n");
        buf.clear();
        assert!(matches!(read_line(&mut r, &mut buf, 8).await.unwrap(), Line::TooLong));
        buf.clear();
        assert!(matches!(read_line(&mut r, &mut buf, 8).await.unwrap(), Line::Data));
        assert_eq!(buf, b"last");
        buf.clear();
        assert!(matches!(read_line(&mut r, &mut buf, 8).await.unwrap(), Line::Eof));
    }

    #[tokio::test]
    async fn shutdown_and_eof_end_the_loop() {
        let quiet = Options { log: false, ..Options::default() };
        let mut out = Vec::new();
        serve(
            &b"{\"id\":1,\"type\":\"shutdown\"}\n{\"id\":2,\"type\":\"shutdown\"}\n"[..],
            &mut out,
            quiet.clone(),
        )
        .await
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "{\"in_reply_to\":1,\"type\":\"shutdown_ok\"}\n");
        let mut out = Vec::new();
        serve(
            &b"\n  \n{\"id\":1,\"type\":\"open_receipt\",\"lane\":\"l\",\"kind\":\"sale\"}"[..],
            &mut out,
            quiet,
        )
        .await
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\"code\":\"not_initialised\""), "{text}");
        assert_eq!(text.lines().count(), 1);
    }
}
