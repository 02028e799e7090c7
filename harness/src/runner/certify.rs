//! `markcert certify`: select scenarios (the embedded suite or `--suite DIR`, `--filter`), run them
//! against the SUT (`--jobs` at once), apply `--known-failing`, show a progress bar and the terminal
//! summary, write the reports (run folder, `--json`, `--junit`), and map the totals to the exit code
//! (0 every MUST passed, 1 a MUST failed, 2 usage / configuration error, 3 harness or SUT error).

use std::io::Write;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::known_failing::{KnownFailing, KnownFailingError};
use super::{glob_match, run_suite, RunOptions, ScenarioResult, Summary, Sut};
use crate::adapter::Timeouts;
use crate::report::folder::RunFolder;
use crate::report::{self, json::JsonReport};
use crate::scenario::{load_builtin, load_dir, Profile, Role, Scenario, ScenarioError};

/// Where the run folder goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportDir {
    /// `BASE/<timestamp>/` with a `BASE/latest` link (the default base is `markcert-runs`).
    Timestamped(PathBuf),
    /// Exactly this folder.
    At(PathBuf),
    /// No run folder.
    Off,
}

impl Default for ReportDir {
    fn default() -> Self {
        ReportDir::Timestamped(PathBuf::from("markcert-runs"))
    }
}

/// What `certify` was asked to do.
#[derive(Clone, Debug)]
pub struct CertifyOptions {
    /// The SUT.
    pub sut: Sut,
    /// Scenario folder instead of the embedded suite.
    pub suite: Option<PathBuf>,
    /// `*` glob on scenario ids.
    pub filter: Option<String>,
    /// Which profile to run: `None` both, else only scenarios of that profile.
    pub profile: Option<Profile>,
    /// Scenarios run at once.
    pub jobs: usize,
    /// Write the JSON report here (also written into the run folder).
    pub json: Option<PathBuf>,
    /// Write the JUnit report here (also written into the run folder).
    pub junit: Option<PathBuf>,
    /// The run folder.
    pub report_dir: ReportDir,
    /// Known-failing list.
    pub known_failing: Option<PathBuf>,
    /// Run seed.
    pub seed: u64,
    /// Time limits.
    pub timeouts: Timeouts,
    /// Draw a progress bar on stderr (only shown when stderr is a terminal).
    pub progress: bool,
    /// The role under test (`pos` or `tspiot`): only its scenarios run.
    pub role: Role,
    /// Slack on every time limit an answer is graded against, ms.
    pub timing_tolerance_ms: u64,
    /// Role `tspiot` with `--sut-url`: the first of the emulators' fixed ports.
    pub upstream_port: u16,
}

impl CertifyOptions {
    /// Defaults: embedded suite, 1 job, default run folder, seed 1, no extra reports.
    pub fn new(sut: Sut) -> Self {
        CertifyOptions {
            sut,
            suite: None,
            filter: None,
            profile: Some(Profile::Default),
            jobs: 1,
            json: None,
            junit: None,
            report_dir: ReportDir::default(),
            known_failing: None,
            seed: 1,
            timeouts: Timeouts::default(),
            progress: true,
            role: Role::Pos,
            timing_tolerance_ms: super::tspiot::DEFAULT_TIMING_TOLERANCE_MS,
            upstream_port: super::DEFAULT_UPSTREAM_PORT,
        }
    }
}

/// Usage and configuration errors (exit code 2), and report-writing errors (exit code 3).
#[derive(Debug, thiserror::Error)]
pub enum CertifyError {
    /// The filter selects nothing.
    #[error("no scenario selected: --filter {0} (see `markcert scenarios list`)")]
    NothingSelected(String),
    /// The embedded suite does not load.
    #[error("the embedded suite does not load: {0}")]
    Suite(#[from] ScenarioError),
    /// A `--suite` folder does not load.
    #[error("the suite does not load:\n{}", .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    SuiteDir(Vec<ScenarioError>),
    /// The known-failing file is not usable.
    #[error("--known-failing: {0}")]
    KnownFailing(#[from] KnownFailingError),
    /// `--jobs 0`.
    #[error("--jobs must be at least 1")]
    NoJobs,
    /// The run folder cannot be created.
    #[error("cannot create the run folder {path}: {source}")]
    RunFolder {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A report could not be written.
    #[error("cannot write the report {path}: {source}")]
    WriteReport {
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
            CertifyError::WriteReport { .. } | CertifyError::Output(_) | CertifyError::RunFolder { .. } => 3,
            _ => 2,
        }
    }
}

/// The scenarios `opts` selects.
pub fn select(opts: &CertifyOptions) -> Result<Vec<Scenario>, CertifyError> {
    let mut scenarios = match &opts.suite {
        None => load_builtin()?,
        Some(dir) => load_dir(dir).map_err(CertifyError::SuiteDir)?,
    };
    scenarios.retain(|s| s.roles.contains(&opts.role));
    if let Some(p) = opts.profile {
        scenarios.retain(|s| s.profile == p);
    }
    if let Some(f) = &opts.filter {
        scenarios.retain(|s| glob_match(f, s.id.get_ref()));
    }
    if scenarios.is_empty() {
        return Err(CertifyError::NothingSelected(format!(
            "{} of role {} in profile {}",
            opts.filter.as_deref().unwrap_or("*"),
            if opts.role == Role::Pos { "pos" } else { "tspiot" },
            opts.profile.map_or("all", |p| if p == Profile::Long { "long" } else { "default" })
        )));
    }
    Ok(scenarios)
}

/// Runs the selected scenarios; returns the exit code (0, 1 or 3).
pub async fn certify(opts: &CertifyOptions, out: &mut impl Write) -> Result<i32, CertifyError> {
    if opts.jobs == 0 {
        return Err(CertifyError::NoJobs);
    }
    let scenarios = select(opts)?;
    let known = match &opts.known_failing {
        Some(path) => Some(KnownFailing::load(path)?),
        None => None,
    };
    let folder = match &opts.report_dir {
        ReportDir::Off => None,
        ReportDir::At(p) => {
            Some(RunFolder::at(p).map_err(|source| CertifyError::RunFolder { path: p.clone(), source })?)
        }
        ReportDir::Timestamped(base) => Some(
            RunFolder::timestamped(base, markcert_emulators::clock::WorldClock::real().now_ms())
                .map_err(|source| CertifyError::RunFolder { path: base.clone(), source })?,
        ),
    };
    let run = RunOptions {
        timeouts: opts.timeouts,
        seed: opts.seed,
        // Fixed upstream ports serve one scenario at a time.
        jobs: if opts.role == Role::Tspiot && matches!(opts.sut, Sut::Url(_)) { 1 } else { opts.jobs },
        run_folder: folder.clone(),
        role: opts.role,
        timing_tolerance_ms: opts.timing_tolerance_ms,
        upstream_port: opts.upstream_port,
        ..RunOptions::new(opts.sut.clone())
    };
    let mut summary = Vec::new();
    let header = format!(
        "markcert certify: {} scenario(s) against {}, {} job(s), seed {}",
        scenarios.len(),
        opts.sut.describe(),
        opts.jobs,
        opts.seed
    );
    writeln!(out, "{header}")?;
    summary.push(header);
    if let Some(k) = &known {
        let ids: Vec<&str> = scenarios.iter().map(|s| s.id.get_ref().as_str()).collect();
        for e in k.unused(&ids) {
            writeln!(out, "note: known-failing line {} ({:?}) matches no selected scenario", e.line, e.glob)?;
        }
    }
    out.flush()?;
    let bar = progress_bar(opts.progress, scenarios.len());
    let mut io_err = None;
    let mut results = run_suite(&scenarios, &run, |r| {
        let mut r = r.clone();
        if let Some(k) = &known {
            k.apply(std::slice::from_mut(&mut r));
        }
        let line = report::terminal_line(&r);
        let res = bar.suspend(|| writeln!(out, "{line}").and_then(|_| out.flush()));
        if let Err(e) = res {
            io_err.get_or_insert(e);
        }
        bar.set_message(r.id.clone());
        bar.inc(1);
    })
    .await;
    bar.finish_and_clear();
    if let Some(e) = io_err {
        return Err(e.into());
    }
    if let Some(k) = &known {
        k.apply(&mut results);
    }
    summary.extend(results.iter().map(report::terminal_line));
    let totals = report::terminal_totals(&results);
    writeln!(out, "{totals}")?;
    summary.push(totals);
    write_reports(opts, folder.as_ref(), &results, &summary)?;
    if let Some(f) = &folder {
        writeln!(out, "run folder: {}", f.path.display())?;
    }
    Ok(Summary::of(&results).exit_code())
}

fn progress_bar(enabled: bool, len: usize) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} scenarios, {elapsed} {msg}") {
        bar.set_style(style);
    }
    bar
}

fn write_reports(
    opts: &CertifyOptions,
    folder: Option<&RunFolder>,
    results: &[ScenarioResult],
    summary: &[String],
) -> Result<(), CertifyError> {
    let sut = opts.sut.describe();
    let json = JsonReport::new(sut.clone(), opts.seed, results).to_json();
    let junit = report::junit::to_xml(&sut, opts.seed, results).map_err(|e| CertifyError::WriteReport {
        path: opts.junit.clone().unwrap_or_else(|| PathBuf::from("junit.xml")),
        source: std::io::Error::other(e.to_string()),
    })?;
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text)
            .map_err(|source| CertifyError::WriteReport { path: path.to_path_buf(), source })
    };
    if let Some(f) = folder {
        write(&f.path.join("report.json"), &json)?;
        write(&f.path.join("junit.xml"), &junit)?;
        write(&f.path.join("summary.txt"), &(summary.join("\n") + "\n"))?;
    }
    if let Some(p) = &opts.json {
        write(p, &json)?;
    }
    if let Some(p) = &opts.junit {
        write(p, &junit)?;
    }
    Ok(())
}

/// `certify --mutation-report FILE`: the selected scenarios against `reference` and every mutant (each
/// until its first catch when `first_catch`);
/// prints the matrix, writes it to `report` (JSON, schema `markcert-mutation/1`) and returns 0 when
/// the reference passes everything and every mutant is caught by a MUST scenario, else 1.
pub async fn mutation(
    opts: &CertifyOptions,
    reference: super::mutation::Target,
    mutants: &[super::mutation::Target],
    first_catch: bool,
    report: &Path,
    out: &mut impl Write,
) -> Result<i32, CertifyError> {
    if opts.jobs == 0 {
        return Err(CertifyError::NoJobs);
    }
    let scenarios = select(opts)?;
    writeln!(
        out,
        "markcert certify --mutation-report: {} scenario(s) against the reference and {} mutant(s), {} job(s)",
        scenarios.len(),
        mutants.len(),
        opts.jobs
    )?;
    out.flush()?;
    let run = RunOptions {
        timeouts: opts.timeouts,
        seed: opts.seed,
        jobs: opts.jobs,
        role: opts.role,
        timing_tolerance_ms: opts.timing_tolerance_ms,
        ..RunOptions::new(reference.sut.clone())
    };
    let bar = progress_bar(opts.progress, scenarios.len() * (1 + mutants.len()));
    let matrix =
        super::mutation::run_matrix(&scenarios, &run, reference, mutants, first_catch, |target, r| {
            bar.set_message(format!("{target}: {}", r.id));
            bar.inc(1);
        })
        .await;
    bar.finish_and_clear();
    write!(out, "{}", matrix.to_text())?;
    std::fs::write(report, matrix.to_json())
        .map_err(|source| CertifyError::WriteReport { path: report.to_path_buf(), source })?;
    Ok(if matrix.verdict() { 0 } else { 1 })
}
