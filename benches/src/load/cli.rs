//! The command line of `markcert-loadbench` (clap derive) and its translation into checked plans.
//!
//! ```text
//! markcert-loadbench [run] [--targets hyper,emulator,wiremock] [--duration 10s] [--rounds N] …
//! markcert-loadbench soak [--target emulator] [--duration 600s] [--sample-every 5s] [--rate R] …
//! markcert-loadbench serve-target hyper|emulator|wiremock   (hidden: the child process of a target)
//! ```
//!
//! Owns the limits that keep a run bounded: at most [`MAX_RUN`] of planned load per invocation, at
//! most [`MAX_CONNECTIONS`] connections, a request cap (default [`DEFAULT_MAX_REQUESTS`]).

use crate::load::bench::RunPlan;
use crate::load::client::LoadPlan;
use crate::load::soak::SoakPlan;
use crate::load::targets::{EmulatorOptions, TargetKind};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Longest planned load of one invocation (every round and target, warm-ups included).
pub const MAX_RUN: Duration = Duration::from_secs(15 * 60);
/// Most connections a run may open.
pub const MAX_CONNECTIONS: usize = 1024;
/// Default cap on the requests of one invocation.
pub const DEFAULT_MAX_REQUESTS: u64 = 50_000_000;

/// Load benchmark of the True API emulator's `codes/check` against a bare hyper server and a
/// wiremock MockServer (all on 127.0.0.1, each in its own child process).
#[derive(Debug, Parser)]
#[command(name = "markcert-loadbench", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Without a subcommand: `run` with these options.
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare the targets' throughput, latency and memory in one run (the default).
    Run(RunArgs),
    /// Hold one target under constant load and watch its memory.
    Soak(SoakArgs),
    /// Internal: serve one target in this process (prints its URL, serves until stdin closes).
    #[command(hide = true)]
    ServeTarget(ServeTargetArgs),
}

/// Options shared by `run` and `soak`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Concurrent keep-alive connections (the same for every target).
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Load before each measurement window (not counted), e.g. 2s, 500ms.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Most requests this invocation sends in total.
    #[arg(long, default_value_t = DEFAULT_MAX_REQUESTS)]
    pub max_requests: u64,
    /// Check the body of every n-th answer per connection for "reqId" (1 = every answer).
    #[arg(long, default_value_t = 50)]
    pub verify_every: u64,
    /// Longest wait for one answer before it counts as failed.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Configuration of the emulator target.
#[derive(Debug, Clone, Args)]
pub struct EmulatorArgs {
    /// Events kept in the emulator's in-memory trace ring.
    #[arg(long, default_value_t = 100_000)]
    pub trace_ring: usize,
    /// Also write every trace event of the emulator to this NDJSON file.
    #[arg(long)]
    pub trace_ndjson: Option<PathBuf>,
    /// Issued checks kept in the emulator's reqId log.
    #[arg(long, default_value_t = 1_000_000)]
    pub reqlog_capacity: usize,
}

impl EmulatorArgs {
    pub fn options(&self) -> EmulatorOptions {
        EmulatorOptions {
            trace_ring: self.trace_ring,
            trace_ndjson: self.trace_ndjson.clone(),
            reqlog_capacity: self.reqlog_capacity,
        }
    }
}

/// `run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Targets in the order they are loaded (each in every round).
    #[arg(long, value_delimiter = ',', default_value = "hyper,emulator,wiremock")]
    pub targets: Vec<TargetKind>,
    /// Measurement window per target, e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Rounds over all targets; the median round of each target is reported.
    #[arg(long, default_value_t = 1)]
    pub rounds: u32,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub emulator: EmulatorArgs,
}

/// `soak`.
#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    /// The target to soak.
    #[arg(long, value_enum, default_value = "emulator")]
    pub target: TargetKind,
    /// Length of the soak after the warm-up, e.g. 600s, 10m.
    #[arg(long, default_value = "600s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Time between two RSS readings.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub sample_every: Duration,
    /// Total requests per second to pace the load to; 0 = closed loop, as fast as answers come.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Stop the load when the target's RSS passes this many MiB.
    #[arg(long, default_value_t = 8192)]
    pub max_rss_mib: u64,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub emulator: EmulatorArgs,
}

/// `serve-target`.
#[derive(Debug, Clone, Args)]
pub struct ServeTargetArgs {
    #[arg(value_enum)]
    pub kind: TargetKind,
    #[command(flatten)]
    pub emulator: EmulatorArgs,
}

/// A plan that breaks the limits or makes no sense.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct PlanError(String);

fn load_plan(a: &LoadArgs, measure: Duration, rate: Option<f64>) -> Result<LoadPlan, PlanError> {
    if a.connections == 0 || a.connections > MAX_CONNECTIONS {
        return Err(PlanError(format!("--connections must be 1..={MAX_CONNECTIONS}")));
    }
    if measure.is_zero() {
        return Err(PlanError("the measurement window must not be 0".into()));
    }
    if a.max_requests == 0 || a.verify_every == 0 {
        return Err(PlanError("--max-requests and --verify-every must be at least 1".into()));
    }
    if a.request_timeout.is_zero() {
        return Err(PlanError("--request-timeout must not be 0".into()));
    }
    Ok(LoadPlan {
        connections: a.connections,
        warmup: a.warmup,
        measure,
        max_requests: a.max_requests,
        rate,
        verify_every: a.verify_every,
        request_timeout: a.request_timeout,
    })
}

fn within_cap(planned: Duration) -> Result<(), PlanError> {
    if planned > MAX_RUN {
        return Err(PlanError(format!(
            "{} s of load planned; one invocation may plan at most {} s",
            planned.as_secs(),
            MAX_RUN.as_secs()
        )));
    }
    Ok(())
}

impl RunArgs {
    /// The checked plan.
    pub fn plan(&self) -> Result<RunPlan, PlanError> {
        if self.targets.is_empty() {
            return Err(PlanError("--targets must name at least one target".into()));
        }
        if self.rounds == 0 || self.rounds > 100 {
            return Err(PlanError("--rounds must be 1..=100".into()));
        }
        let load = load_plan(&self.load, self.duration, None)?;
        let phases = self.targets.len() as u32 * self.rounds;
        within_cap(load.total().saturating_mul(phases))?;
        Ok(RunPlan {
            targets: self.targets.clone(),
            rounds: self.rounds,
            load,
            emulator: self.emulator.options(),
        })
    }
}

impl SoakArgs {
    /// The checked plan.
    pub fn plan(&self) -> Result<SoakPlan, PlanError> {
        if !(self.rate.is_finite() && self.rate >= 0.0) {
            return Err(PlanError("--rate must be 0 or a positive number".into()));
        }
        if self.sample_every < Duration::from_millis(10) {
            return Err(PlanError("--sample-every must be at least 10ms".into()));
        }
        let rate = (self.rate > 0.0).then_some(self.rate);
        let load = load_plan(&self.load, self.duration, rate)?;
        within_cap(load.total())?;
        Ok(SoakPlan {
            target: self.target,
            load,
            sample_every: self.sample_every,
            max_rss_bytes: self.max_rss_mib.saturating_mul(1 << 20),
            emulator: self.emulator.options(),
        })
    }
}

/// A duration: a number with `ms`, `s`, `m` or `h` (`1.5s`, `200ms`, `10m`); a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().map_err(|_| format!("{s:?}: expected a number with ms, s, m or h"))?;
    let secs = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("{s:?}: unknown unit {other:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("600"), Ok(Duration::from_secs(600)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn no_subcommand_means_run_with_defaults() {
        let cli = Cli::try_parse_from(["markcert-loadbench"]).unwrap();
        assert!(cli.command.is_none());
        let plan = cli.run.plan().unwrap();
        assert_eq!(plan.targets, TargetKind::all().to_vec());
        assert_eq!(plan.load.connections, 64);
        assert_eq!(plan.load.warmup, Duration::from_secs(2));
        assert_eq!(plan.load.measure, Duration::from_secs(10));
        assert_eq!(plan.load.max_requests, DEFAULT_MAX_REQUESTS);
        assert_eq!(plan.emulator, EmulatorOptions::default());
    }

    #[test]
    fn soak_defaults_and_target() {
        let cli = Cli::try_parse_from(["x", "soak", "--target", "wiremock", "--duration", "60s"]).unwrap();
        let Some(Command::Soak(a)) = cli.command else { panic!("soak expected") };
        let plan = a.plan().unwrap();
        assert_eq!(plan.target, TargetKind::Wiremock);
        assert_eq!(plan.load.measure, Duration::from_secs(60));
        assert_eq!(plan.sample_every, Duration::from_secs(5));
        assert_eq!(plan.load.rate, None);
    }

    #[test]
    fn runs_are_bounded() {
        let cli = Cli::try_parse_from(["x", "run", "--duration", "5m", "--rounds", "2"]).unwrap();
        let Some(Command::Run(a)) = cli.command else { panic!("run expected") };
        assert!(a.plan().is_err(), "3 targets × 2 rounds × 5 min is over the cap");
        let cli = Cli::try_parse_from(["x", "soak", "--duration", "16m"]).unwrap();
        let Some(Command::Soak(a)) = cli.command else { panic!("soak expected") };
        assert!(a.plan().is_err());
        let cli = Cli::try_parse_from(["x", "--connections", "0"]).unwrap();
        assert!(cli.run.plan().is_err());
    }

    #[test]
    fn serve_target_carries_emulator_options() {
        let opts =
            EmulatorOptions { trace_ring: 10, trace_ndjson: Some("t.ndjson".into()), reqlog_capacity: 20 };
        let mut argv: Vec<std::ffi::OsString> = vec!["x".into(), "serve-target".into(), "emulator".into()];
        argv.extend(opts.to_args());
        let cli = Cli::try_parse_from(argv).unwrap();
        let Some(Command::ServeTarget(a)) = cli.command else { panic!("serve-target expected") };
        assert_eq!(a.kind, TargetKind::Emulator);
        assert_eq!(a.emulator.options(), opts);
    }
}
