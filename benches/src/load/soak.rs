//! The soak: one target under constant load (closed loop, or paced to a rate) for a long window,
//! its `VmRSS` read at the end of the warm-up and then every `sample_every`, to tell whether its
//! memory stays flat ([`SoakReport`]).
//!
//! Bounded: besides the time and request caps of every phase, the load stops when the target's RSS
//! passes `max_rss_bytes` (a leaking target must not take the machine down); the report then says so.

use crate::load::bench::{cpu_counters, phase};
use crate::load::client::{LoadControl, LoadPlan};
use crate::load::error::LoadError;
use crate::load::process::TargetProcess;
use crate::load::procfs;
use crate::load::result::{Machine, SoakInputs, SoakPlanSummary, SoakReport, SoakSample};
use crate::load::targets::{EmulatorOptions, TargetKind};
use hyper::body::Bytes;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A soak.
#[derive(Clone, Debug, PartialEq)]
pub struct SoakPlan {
    pub target: TargetKind,
    /// `measure` is the soak's duration.
    pub load: LoadPlan,
    /// Time between two RSS readings.
    pub sample_every: Duration,
    /// The load stops when the target's RSS exceeds this.
    pub max_rss_bytes: u64,
    pub emulator: EmulatorOptions,
}

/// Requests after which the target's bounded buffers are full.
fn fill_requests(plan: &SoakPlan) -> u64 {
    match plan.target {
        TargetKind::Emulator | TargetKind::Tspiot => {
            plan.emulator.trace_ring.max(plan.emulator.reqlog_capacity) as u64
        }
        TargetKind::Hyper | TargetKind::Wiremock => 0,
    }
}

/// Run `plan` with the target process started from `exe`. `progress` gets one line per sample.
pub async fn run(
    exe: &Path,
    plan: &SoakPlan,
    bodies: Arc<[Bytes]>,
    progress: &mut dyn FnMut(&str),
) -> Result<SoakReport, LoadError> {
    let load_average_start = procfs::load_average();
    let target = Arc::new(TargetProcess::spawn(exe, plan.target, &plan.emulator).await?);
    let control = Arc::new(LoadControl::default());
    let started = Instant::now();
    let mut load_task = {
        let (target, control, load) = (Arc::clone(&target), Arc::clone(&control), plan.load.clone());
        let bodies: Arc<[Bytes]> = if plan.target == TargetKind::Tspiot {
            crate::load::workload::tspiot_bodies(&bodies).into()
        } else {
            bodies
        };
        tokio::spawn(async move { phase(&target, bodies, &load, control).await })
    };
    let t0 = started + plan.load.warmup;
    let sample = |control: &LoadControl, target: &TargetProcess| SoakSample {
        t_s: Instant::now().saturating_duration_since(t0).as_secs_f64(),
        requests: control.completed(),
        rss_bytes: target.rss_bytes(),
        cpu: cpu_counters(target),
    };
    let mut samples = Vec::new();
    let mut aborted = None;
    let mut next = t0;
    let outcome = loop {
        tokio::select! {
            done = &mut load_task => break done,
            _ = tokio::time::sleep_until(next.into()) => {
                let s = sample(&control, &target);
                if let Some(rss) = s.rss_bytes.filter(|r| *r > plan.max_rss_bytes) {
                    if aborted.is_none() {
                        aborted = Some(format!(
                            "target RSS {} MiB passed the limit of {} MiB at t = {:.0} s",
                            rss >> 20, plan.max_rss_bytes >> 20, s.t_s
                        ));
                        control.stop();
                    }
                }
                progress(&format!(
                    "t = {:>4.0} s: {:>11} requests, RSS {:.1} MiB",
                    s.t_s,
                    s.requests,
                    s.rss_bytes.unwrap_or(0) as f64 / 1_048_576.0
                ));
                samples.push(s);
                next += plan.sample_every;
            }
        }
    };
    // The closing sample replaces a periodic one taken less than a second before.
    let last = sample(&control, &target);
    if samples.last().is_some_and(|s: &SoakSample| last.t_s - s.t_s < 1.0) {
        samples.pop();
    }
    samples.push(last);
    let url = target.url().full.clone();
    let clean_exit = match Arc::try_unwrap(target) {
        Ok(t) => t.stop().await,
        Err(_) => false,
    };
    let outcome = outcome.map_err(|e| LoadError::Task { target: plan.target, reason: e.to_string() })??;
    let machine =
        Machine { cores: procfs::cores(), load_average_start, load_average_end: procfs::load_average() };
    Ok(SoakReport::new(SoakInputs {
        machine,
        target: plan.target,
        url,
        plan: SoakPlanSummary {
            connections: plan.load.connections,
            warmup_s: plan.load.warmup.as_secs_f64(),
            duration_s: plan.load.measure.as_secs_f64(),
            sample_every_s: plan.sample_every.as_secs_f64(),
            rate: plan.load.rate,
            max_rss_bytes: plan.max_rss_bytes,
            max_requests: plan.load.max_requests,
        },
        emulator: (plan.target == TargetKind::Emulator).then(|| plan.emulator.clone()),
        samples,
        outcome,
        fill_requests: fill_requests(plan),
        aborted,
        clean_exit,
    }))
}
