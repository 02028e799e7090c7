//! `markcert scenarios …`: list the embedded suite, show one scenario as the harness reads it, and
//! check scenario files before a run (syntax and meaning, errors as `file:line:col: message`).
//!
//! Only reads and prints: loading and validation live in [`crate::scenario`].

use crate::scenario::{self, Scenario, ScenarioError};
use std::io::{self, Write};
use std::path::PathBuf;

/// Errors of `markcert scenarios …` other than invalid scenario files.
#[derive(Debug, thiserror::Error)]
pub enum ScenariosCliError {
    /// The embedded suite does not load (a build defect, caught by the tests).
    #[error("the embedded suite: {0}")]
    Builtin(ScenarioError),
    /// `show` was given neither an embedded id nor a readable file.
    #[error("{0}")]
    Show(ScenarioError),
    /// `show` was given an id the embedded suite does not have.
    #[error("no embedded scenario {0:?} (see `markcert scenarios list`), and no such file")]
    Unknown(String),
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Io(#[from] io::Error),
    /// The scenario could not be written as JSON.
    #[error("writing JSON: {0}")]
    Json(#[from] serde_json::Error),
}

fn feature_names(s: &Scenario) -> String {
    let names: Vec<String> = s
        .features
        .iter()
        .filter_map(|f| serde_json::to_value(f).ok())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if names.is_empty() {
        "-".into()
    } else {
        names.join(",")
    }
}

/// `markcert scenarios list`: one line per embedded scenario — id, level, required features, title.
pub fn run_list(out: &mut impl Write) -> Result<(), ScenariosCliError> {
    let suite = scenario::load_builtin().map_err(ScenariosCliError::Builtin)?;
    writeln!(out, "{:<36} {:<6} {:<20} title", "id", "level", "features")?;
    for s in &suite {
        let level = serde_json::to_value(s.level)?;
        writeln!(
            out,
            "{:<36} {:<6} {:<20} {}",
            s.id.get_ref(),
            level.as_str().unwrap_or("?"),
            feature_names(s),
            s.title
        )?;
    }
    writeln!(out, "{} scenarios", suite.len())?;
    Ok(())
}

/// `markcert scenarios show ID|FILE`: the scenario as the harness reads it, as JSON.
pub fn run_show(which: &str, out: &mut impl Write) -> Result<(), ScenariosCliError> {
    let suite = scenario::load_builtin().map_err(ScenariosCliError::Builtin)?;
    let found = match suite.into_iter().find(|s| s.id.get_ref() == which) {
        Some(s) => s,
        None => {
            let path = PathBuf::from(which);
            if !path.exists() {
                return Err(ScenariosCliError::Unknown(which.to_string()));
            }
            scenario::load_file(&path).map_err(ScenariosCliError::Show)?
        }
    };
    serde_json::to_writer_pretty(&mut *out, &found)?;
    writeln!(out)?;
    Ok(())
}

/// `markcert scenarios check FILE…`: loads and validates each file; prints `ok FILE (id)` or the
/// error. Returns how many files were invalid.
pub fn run_check(files: &[PathBuf], out: &mut impl Write) -> Result<usize, ScenariosCliError> {
    let mut invalid = 0;
    for path in files {
        match scenario::load_file(path) {
            Ok(s) => writeln!(out, "ok    {} ({})", path.display(), s.id.get_ref())?,
            Err(e) => {
                invalid += 1;
                writeln!(out, "error {e}")?;
            }
        }
    }
    writeln!(out, "{} checked, {} invalid", files.len(), invalid)?;
    Ok(invalid)
}
