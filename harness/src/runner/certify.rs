//! `markcert certify`: select scenarios from the embedded suite, run them against the SUT, print the
//! terminal summary, write the JSON report, and map the totals to the exit code (0 every MUST
//! passed, 1 a MUST failed, 2 usage / configuration error, 3 harness or SUT error).

use std::io::Write;
use std::path::PathBuf;

use super::{glob_match, run_suite, RunOptions, Summary, Sut};
use crate::adapter::Timeouts;
use crate::report::{self, json::JsonReport};
use crate::scenario::{load_builtin, ScenarioError};

/// What `certify` was asked to do.
#[derive(Clone, Debug)]
pub struct CertifyOptions {
    /// The SUT; `None` means the built-in reference POS.
    pub sut: Option<Sut>,
    /// `*` glob on scenario ids.
    pub filter: Option<String>,
    /// Write the JSON report here.
    pub json: Option<PathBuf>,
    /// Run seed.
    pub seed: u64,
    /// Time limits.
    pub timeouts: Timeouts,
}

/// Usage and configuration errors (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum CertifyError {
    /// No `--sut` / `--sut-url`.
    #[error(
        "the built-in reference POS is not built yet: give the system under test with --sut \"COMMAND ARGS\" \
         (stdio) or --sut-url URL (HTTP); see docs/adapter-protocol.md"
    )]
    NoSut,
    /// The filter selects nothing.
    #[error("--filter {0:?} matches no scenario (see `markcert scenarios list`)")]
    NothingSelected(String),
    /// The embedded suite does not load.
    #[error("the embedded suite does not load: {0}")]
    Suite(#[from] ScenarioError),
    /// The JSON report could not be written.
    #[error("cannot write the JSON report {path}: {source}")]
    WriteJson {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Terminal output failed.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

impl CertifyError {
    /// The exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CertifyError::WriteJson { .. } | CertifyError::Output(_) => 3,
            _ => 2,
        }
    }
}

/// Runs the selected scenarios; returns the exit code (0, 1 or 3).
pub async fn certify(opts: &CertifyOptions, out: &mut impl Write) -> Result<i32, CertifyError> {
    let sut = opts.sut.clone().ok_or(CertifyError::NoSut)?;
    let mut scenarios = load_builtin()?;
    if let Some(f) = &opts.filter {
        scenarios.retain(|s| glob_match(f, s.id.get_ref()));
        if scenarios.is_empty() {
            return Err(CertifyError::NothingSelected(f.clone()));
        }
    }
    let run = RunOptions { timeouts: opts.timeouts, seed: opts.seed, ..RunOptions::new(sut.clone()) };
    writeln!(
        out,
        "markcert certify: {} scenario(s) against {} (sequential)",
        scenarios.len(),
        sut.describe()
    )?;
    out.flush()?;
    let mut io_err = None;
    let results = run_suite(&scenarios, &run, |r| {
        let res = writeln!(out, "{}", report::terminal_line(r)).and_then(|_| out.flush());
        if let Err(e) = res {
            io_err.get_or_insert(e);
        }
    })
    .await;
    if let Some(e) = io_err {
        return Err(e.into());
    }
    writeln!(out, "{}", report::terminal_totals(&results))?;
    if let Some(path) = &opts.json {
        let text = JsonReport::new(sut.describe(), opts.seed, &results).to_json();
        std::fs::write(path, text)
            .map_err(|source| CertifyError::WriteJson { path: path.clone(), source })?;
    }
    Ok(Summary::of(&results).exit_code())
}
