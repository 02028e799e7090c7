//! `--known-failing FILE`: cases a SUT is known to fail, each with a reason, so a CI run stays green on
//! what is already tracked and turns red on anything new.
//!
//! File format: one entry per line, `GLOB REASON…` (the glob is matched against scenario ids, `*` is
//! any run of characters; the reason is required); blank lines and lines starting with `#` are ignored.
//! A listed case that does not pass is reported with its reason and left out of the fail / error /
//! warn totals; a listed case that **passes** fails the run (remove it from the list), as in
//! connectrpc/conformance.

use std::path::Path;

use super::glob_match;
use super::verdict::{Failure, Outcome, ScenarioResult};

/// One line of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Scenario id glob.
    pub glob: String,
    /// Why it is known to fail.
    pub reason: String,
    /// 1-based line number in the file.
    pub line: usize,
}

/// The parsed file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownFailing {
    /// The entries, in file order.
    pub entries: Vec<Entry>,
}

/// A file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KnownFailingError {
    /// It cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// An entry has no reason.
    #[error(
        "{source_name}:{line}: \"{glob}\" has no reason: write `GLOB REASON…` (why it is known to fail)"
    )]
    NoReason {
        /// File name.
        source_name: String,
        /// Line number.
        line: usize,
        /// The glob given.
        glob: String,
    },
}

impl KnownFailing {
    /// Parses the text of a file named `source_name` (for messages).
    pub fn parse(text: &str, source_name: &str) -> Result<KnownFailing, KnownFailingError> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (glob, reason) = match line.split_once(char::is_whitespace) {
                Some((g, r)) if !r.trim().is_empty() => (g, r.trim()),
                _ => {
                    return Err(KnownFailingError::NoReason {
                        source_name: source_name.to_string(),
                        line: i + 1,
                        glob: line.to_string(),
                    })
                }
            };
            entries.push(Entry { glob: glob.to_string(), reason: reason.to_string(), line: i + 1 });
        }
        Ok(KnownFailing { entries })
    }

    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<KnownFailing, KnownFailingError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| KnownFailingError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The first entry matching scenario `id`.
    pub fn entry_for(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| glob_match(&e.glob, id))
    }

    /// Entries that match none of `ids`.
    pub fn unused<'a>(&'a self, ids: &[&str]) -> Vec<&'a Entry> {
        self.entries.iter().filter(|e| !ids.iter().any(|id| glob_match(&e.glob, id))).collect()
    }

    /// Marks the listed results: one that did not pass keeps its outcome and gets the reason; one that
    /// passed becomes `fail`.
    pub fn apply(&self, results: &mut [ScenarioResult]) {
        for r in results {
            let Some(entry) = self.entry_for(&r.id) else { continue };
            match r.outcome {
                Outcome::Pass => {
                    r.outcome = Outcome::Fail;
                    r.failures.push(Failure {
                        step: None,
                        expected: "a failure (listed in --known-failing)".into(),
                        actual: "pass".into(),
                        message: format!(
                            "line {} ({:?}, \"{}\") lists this case as known failing, but it passes: remove the \
                             line",
                            entry.line, entry.glob, entry.reason
                        ),
                        trace: Vec::new(),
                    });
                }
                Outcome::Skip => {}
                Outcome::Fail | Outcome::Warn | Outcome::Error => {
                    r.known_failing = Some(entry.reason.clone())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::Summary;
    use crate::scenario::Level;

    fn result(id: &str, outcome: Outcome) -> ScenarioResult {
        ScenarioResult {
            id: id.into(),
            outcome,
            level: Level::Must,
            failures: Vec::new(),
            duration_ms: 1,
            stderr_tail: Vec::new(),
            known_failing: None,
        }
    }

    #[test]
    fn parses_globs_with_reasons_and_rejects_bare_globs() {
        let k =
            KnownFailing::parse("# comment\n\nexpired-* judges expiry by the till clock\n", "kf").unwrap();
        assert_eq!(
            k.entries,
            vec![Entry {
                glob: "expired-*".into(),
                reason: "judges expiry by the till clock".into(),
                line: 3
            }]
        );
        let e = KnownFailing::parse("ok reason\nbare-glob\n", "kf.txt").unwrap_err();
        assert!(e.to_string().starts_with("kf.txt:2: \"bare-glob\" has no reason"), "{e}");
    }

    #[test]
    fn a_listed_failure_is_excused_and_a_listed_pass_fails_the_run() {
        let k =
            KnownFailing::parse("expired-milk tracked in POS-12\nsale-* tracked in POS-13\n", "kf").unwrap();
        let mut results = vec![
            result("expired-milk", Outcome::Fail),
            result("sale-normal", Outcome::Pass),
            result("blocked", Outcome::Fail),
        ];
        k.apply(&mut results);
        assert_eq!(results[0].known_failing.as_deref(), Some("tracked in POS-12"));
        assert_eq!(results[1].outcome, Outcome::Fail);
        assert!(results[1].failures[0].message.contains("remove the line"));
        let s = Summary::of(&results);
        assert_eq!((s.known_failing, s.fail, s.pass), (1, 2, 0));
        assert_eq!(s.exit_code(), 1);
        assert_eq!(k.unused(&["expired-milk"]).len(), 1);
    }
}
