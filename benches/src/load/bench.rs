//! The comparison run: for each round, each target in order — start its process, read its RSS, apply
//! the same load, read its RSS again, stop it — then pick each target's median round and compute the
//! ratios ([`RunReport`]).
//!
//! Bounded: the request cap is shared by every phase of the run, and each phase has a hard time limit
//! (its planned duration plus [`PHASE_SLACK`]).

use crate::load::client::{run_load, LoadControl, LoadPlan};
use crate::load::error::LoadError;
use crate::load::process::TargetProcess;
use crate::load::procfs;
use crate::load::result::{
    CpuCounters, Machine, PhaseReadings, RunPlanSummary, RunReport, TargetRun, SELECTION,
};
use crate::load::targets::{EmulatorOptions, TargetKind};
use hyper::body::Bytes;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Time a phase may run past its plan (a slow last answer, connection set-up) before it is abandoned.
pub const PHASE_SLACK: Duration = Duration::from_secs(30);

/// A comparison run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunPlan {
    /// Targets in the order they are loaded, each once per round.
    pub targets: Vec<TargetKind>,
    /// Rounds (≥ 1).
    pub rounds: u32,
    /// The load of every phase; `max_requests` is the budget of the whole run.
    pub load: LoadPlan,
    /// Configuration of the emulator target.
    pub emulator: EmulatorOptions,
}

/// The CPU counters of `target`, of this process and of the machine, now.
pub(crate) fn cpu_counters(target: &TargetProcess) -> CpuCounters {
    let machine = procfs::machine_cpu();
    CpuCounters {
        target_us: target.cpu_time_us(),
        own_us: procfs::cpu_time_us(std::process::id()),
        machine_busy_us: machine.map(|m| m.busy_us),
        machine_total_us: machine.map(|m| m.total_us),
    }
}

/// Run one phase against a started target process: RSS, load, RSS, stop.
pub(crate) async fn phase(
    target: &TargetProcess,
    bodies: Arc<[Bytes]>,
    load: &LoadPlan,
    control: Arc<LoadControl>,
) -> Result<crate::load::client::LoadOutcome, LoadError> {
    let kind = target.kind();
    let limit = load.total() + load.request_timeout + PHASE_SLACK;
    match tokio::time::timeout(limit, run_load(target.url(), bodies, load, control)).await {
        Err(_) => Err(LoadError::PhaseTimeout { target: kind, limit_s: limit.as_secs() }),
        Ok(Err(e)) => Err(LoadError::Task { target: kind, reason: e.to_string() }),
        Ok(Ok(outcome)) => Ok(outcome),
    }
}

/// Run `plan` with target processes started from `exe` (this binary), sending `bodies`. `progress`
/// gets one line per finished phase.
pub async fn run(
    exe: &Path,
    plan: &RunPlan,
    bodies: Arc<[Bytes]>,
    progress: &mut dyn FnMut(&str),
) -> Result<RunReport, LoadError> {
    let load_average_start = procfs::load_average();
    let tspiot_bodies: Arc<[Bytes]> = crate::load::workload::tspiot_bodies(&bodies).into();
    let mut runs: Vec<TargetRun> = Vec::new();
    let mut budget = plan.load.max_requests;
    for round in 1..=plan.rounds {
        for &kind in &plan.targets {
            let target = TargetProcess::spawn(exe, kind, &plan.emulator).await?;
            let rss_before = target.rss_bytes();
            let cpu_before = cpu_counters(&target);
            let load = LoadPlan { max_requests: budget, ..plan.load.clone() };
            let sent = if kind == TargetKind::Tspiot { &tspiot_bodies } else { &bodies };
            let outcome = phase(&target, Arc::clone(sent), &load, Arc::new(LoadControl::default())).await;
            let readings = PhaseReadings {
                rss_before_bytes: rss_before,
                rss_after_bytes: target.rss_bytes(),
                ..cpu_counters(&target).used_since(&cpu_before)
            };
            let url = target.url().full.clone();
            let clean_exit = target.stop().await;
            let outcome = outcome?;
            budget = budget.saturating_sub(outcome.sent);
            let row = TargetRun::from_outcome(kind, round, &url, &outcome, &readings, clean_exit);
            progress(&format!(
                "round {round}/{}: {:<8} {:>9.0} req/s, p50 {} µs, p99 {} µs, errors {}{}",
                plan.rounds,
                kind.name(),
                row.req_per_s,
                row.latency.p50_us,
                row.latency.p99_us,
                row.error_total,
                if row.capped { " (request cap reached)" } else { "" }
            ));
            runs.push(row);
        }
    }
    let machine =
        Machine { cores: procfs::cores(), load_average_start, load_average_end: procfs::load_average() };
    let summary = RunPlanSummary {
        targets: plan.targets.clone(),
        connections: plan.load.connections,
        warmup_s: plan.load.warmup.as_secs_f64(),
        measure_s: plan.load.measure.as_secs_f64(),
        rounds: plan.rounds,
        max_requests: plan.load.max_requests,
        verify_every: plan.load.verify_every,
        selection: SELECTION.into(),
    };
    Ok(RunReport::new(machine, summary, plan.emulator.clone(), runs))
}
