//! The per-run folder: where a run leaves its evidence for a person (or a CI artefact upload) to read.
//!
//! Default `markcert-runs/<timestamp>/` with a `markcert-runs/latest` symbolic link to it (Unix; on
//! other systems a `latest.txt` file naming it); `--report-dir D` uses `D` itself. Layout:
//!
//! ```text
//! <run>/report.json            the JSON report (schema markcert-report/1)
//! <run>/junit.xml              the JUnit report
//! <run>/summary.txt            the terminal summary
//! <run>/<scenario>/result.json the scenario's result
//! <run>/<scenario>/trace.ndjson every emulator call of the scenario, one JSON event per line
//! <run>/<scenario>/documents.json the KKT's fiscal documents (FNS JSON, paper form, findings)
//! <run>/<scenario>/sut-stderr.log the SUT's whole stderr (stdio transport)
//! ```

use std::io;
use std::path::{Path, PathBuf};

/// Name of the link to the newest run folder inside the default base.
pub const LATEST: &str = "latest";

/// A run folder that exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunFolder {
    /// Its path.
    pub path: PathBuf,
}

impl RunFolder {
    /// Uses `path` as the run folder (created if missing).
    pub fn at(path: &Path) -> io::Result<RunFolder> {
        std::fs::create_dir_all(path)?;
        Ok(RunFolder { path: path.to_path_buf() })
    }

    /// Creates `base/<timestamp>` (a suffix `-2`, `-3`, … if it exists) and points `base/latest` at it.
    pub fn timestamped(base: &Path, now_ms: i64) -> io::Result<RunFolder> {
        std::fs::create_dir_all(base)?;
        let stamp = markcert_emulators::clock::format_iso_ms(now_ms).replace(':', "-");
        let mut name = stamp.clone();
        let mut n = 1;
        let path = loop {
            let candidate = base.join(&name);
            match std::fs::create_dir(&candidate) {
                Ok(()) => break candidate,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => {
                    n += 1;
                    name = format!("{stamp}-{n}");
                }
                Err(e) => return Err(e),
            }
        };
        point_latest(base, &name)?;
        Ok(RunFolder { path })
    }

    /// The folder of scenario `id` (created).
    pub fn scenario_dir(&self, id: &str) -> io::Result<PathBuf> {
        let safe: String = id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
            .collect();
        let dir = self.path.join(safe);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }
}

#[cfg(unix)]
fn point_latest(base: &Path, name: &str) -> io::Result<()> {
    let link = base.join(LATEST);
    match std::fs::symlink_metadata(&link) {
        Ok(m) if m.file_type().is_symlink() => std::fs::remove_file(&link)?,
        Ok(_) => return Ok(()), // a real file or folder named `latest`: leave it alone
        Err(_) => {}
    }
    std::os::unix::fs::symlink(name, &link)
}

#[cfg(not(unix))]
fn point_latest(base: &Path, name: &str) -> io::Result<()> {
    std::fs::write(base.join(format!("{LATEST}.txt")), format!("{name}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamped_folders_are_distinct_and_latest_follows_the_newest() {
        let base = std::env::temp_dir().join(format!("markcert-folder-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let a = RunFolder::timestamped(&base, 1_700_000_000_000).unwrap();
        let b = RunFolder::timestamped(&base, 1_700_000_000_000).unwrap();
        assert_ne!(a.path, b.path);
        assert!(a.path.file_name().unwrap().to_str().unwrap().starts_with("2023-11-14T22-13-20"));
        #[cfg(unix)]
        assert_eq!(
            std::fs::canonicalize(base.join(LATEST)).unwrap(),
            std::fs::canonicalize(&b.path).unwrap()
        );
        let dir = b.scenario_dir("a/b c").unwrap();
        assert!(dir.ends_with("a_b_c") && dir.is_dir());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
