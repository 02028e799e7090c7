//! [`ScenarioError`]: load and validation errors, each naming the file, line and column.

use std::fmt;

/// A position in a scenario file (1-based line and column; columns count characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// File path or the name given to `load_str`.
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub col: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: cannot read: {message}")]
    Io {
        /// The path.
        file: String,
        /// The OS error.
        message: String,
    },
    /// Not TOML, or not the scenario shape (unknown field, wrong type, bad reason, bad duration, …).
    #[error("{at}: {message}")]
    Syntax {
        /// Where.
        at: Location,
        /// What, without the source excerpt.
        message: String,
    },
    /// Well-formed but inconsistent (unknown step reference, duplicate id, unknown scanner, …).
    #[error("{at}: {message}")]
    Invalid {
        /// Where.
        at: Location,
        /// What.
        message: String,
    },
}

impl ScenarioError {
    /// The position the error points at, when it has one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ScenarioError::Io { .. } => None,
            ScenarioError::Syntax { at, .. } | ScenarioError::Invalid { at, .. } => Some(at),
        }
    }
}
