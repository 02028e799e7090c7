//! The reports of both modes — the `--json` output and what [`crate::load::printer`] renders: per
//! target and round throughput, latency percentiles, failures and server memory; the median round of
//! each target and the ratios the issue sets targets for; the soak's memory samples and growth per
//! request.
//!
//! Pure data and arithmetic: no I/O, no clock. The JSON schemas are named by `schema`
//! (`markcert-loadbench/run/v1`, `markcert-loadbench/soak/v1`) and pinned by snapshot tests.

use crate::load::client::{ErrorCounts, LoadOutcome};
use crate::load::targets::{EmulatorOptions, TargetKind};
use hdrhistogram::Histogram;
use serde::Serialize;

/// Issue target: the emulator serves at least this share of the bare hyper server's req/s.
pub const TARGET_OVER_HYPER: f64 = 0.70;
/// Issue target: the emulator serves at least this multiple of wiremock's req/s.
pub const TARGET_OVER_WIREMOCK: f64 = 2.5;

/// Schema name of a comparison run's JSON.
pub const RUN_SCHEMA: &str = "markcert-loadbench/run/v1";
/// Schema name of a soak's JSON.
pub const SOAK_SCHEMA: &str = "markcert-loadbench/soak/v1";

/// The machine the run took place on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Machine {
    /// Logical CPUs (shared by the load generator and the target).
    pub cores: usize,
    /// 1/5/15-minute load average before the first target started.
    pub load_average_start: Option<[f64; 3]>,
    /// The same after the last target stopped.
    pub load_average_end: Option<[f64; 3]>,
}

/// Latency percentiles of the answers counted in the window, µs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Latency {
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Latency {
    /// Summarise a histogram of µs values (all zero when it is empty).
    pub fn from_histogram(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency { mean_us: 0.0, p50_us: 0, p90_us: 0, p99_us: 0, p999_us: 0, max_us: 0 };
        }
        Latency {
            mean_us: h.mean(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// Cumulative CPU counters read at one instant, µs: the target process, the load generator (this
/// process) and the whole machine (busy = all but idle and iowait).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CpuCounters {
    pub target_us: Option<u64>,
    pub own_us: Option<u64>,
    pub machine_busy_us: Option<u64>,
    pub machine_total_us: Option<u64>,
}

impl CpuCounters {
    /// CPU used between `earlier` and these counters (RSS fields left empty).
    pub fn used_since(&self, earlier: &CpuCounters) -> PhaseReadings {
        let delta = |a: Option<u64>, b: Option<u64>| a.zip(b).map(|(a, b)| a.saturating_sub(b));
        PhaseReadings {
            rss_before_bytes: None,
            rss_after_bytes: None,
            server_cpu_us: delta(self.target_us, earlier.target_us),
            client_cpu_us: delta(self.own_us, earlier.own_us),
            machine_busy_us: delta(self.machine_busy_us, earlier.machine_busy_us),
            machine_total_us: delta(self.machine_total_us, earlier.machine_total_us),
        }
    }
}

/// What was read from `/proc` around one phase.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhaseReadings {
    pub rss_before_bytes: Option<u64>,
    pub rss_after_bytes: Option<u64>,
    /// CPU time of the target process during the phase, µs.
    pub server_cpu_us: Option<u64>,
    /// CPU time of the load generator during the phase, µs.
    pub client_cpu_us: Option<u64>,
    /// The machine's CPU time during the phase, µs.
    pub machine_busy_us: Option<u64>,
    pub machine_total_us: Option<u64>,
}

impl PhaseReadings {
    /// Share of the machine's CPU capacity that neither the target nor the load generator used
    /// during the phase but another process did (0 = the benchmark had the machine to itself).
    pub fn foreign_cpu_share(&self) -> Option<f64> {
        let ours = self.server_cpu_us? + self.client_cpu_us?;
        let total = self.machine_total_us.filter(|t| *t > 0)?;
        Some((self.machine_busy_us?.saturating_sub(ours)) as f64 / total as f64)
    }
}

/// One target in one round.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetRun {
    pub target: TargetKind,
    /// Round number, from 1.
    pub round: u32,
    pub url: String,
    /// Successful answers completed in the window.
    pub requests: u64,
    /// Window length, s.
    pub window_s: f64,
    pub req_per_s: f64,
    pub latency: Latency,
    /// Every failure of the phase (warm-up included).
    pub error_total: u64,
    pub errors: ErrorCounts,
    /// Requests sent, warm-up included.
    pub sent: u64,
    /// Answers whose body was checked for `reqId`.
    pub verified: u64,
    /// Mean body size of the counted answers, bytes.
    pub mean_response_bytes: f64,
    /// Target's `VmRSS` once listening, before the warm-up.
    pub rss_before_bytes: Option<u64>,
    /// Target's `VmRSS` right after the window.
    pub rss_after_bytes: Option<u64>,
    /// CPU time the target process used per request sent, over the phase (warm-up included), µs.
    pub server_cpu_us_per_request: Option<f64>,
    /// CPU time the load generator (this process) used per request sent, over the phase, µs.
    pub client_cpu_us_per_request: Option<f64>,
    /// Share of the machine's CPU that other processes used during the phase (0–1; 10 ms resolution):
    /// a phase that had to share the machine measures less than it could.
    pub foreign_cpu_share: Option<f64>,
    /// Stopped early by the request cap.
    pub capped: bool,
    /// The target process exited by itself, with success, when asked to.
    pub clean_exit: bool,
}

impl TargetRun {
    /// The row of one phase.
    pub fn from_outcome(
        target: TargetKind,
        round: u32,
        url: &str,
        o: &LoadOutcome,
        r: &PhaseReadings,
        clean_exit: bool,
    ) -> TargetRun {
        let per_request =
            |cpu_us: Option<u64>| cpu_us.filter(|_| o.sent > 0).map(|c| c as f64 / o.sent as f64);
        TargetRun {
            target,
            round,
            url: url.to_string(),
            requests: o.ok_in_window,
            window_s: o.window.as_secs_f64(),
            req_per_s: o.req_per_s(),
            latency: Latency::from_histogram(&o.histogram),
            error_total: o.errors.total(),
            errors: o.errors.clone(),
            sent: o.sent,
            verified: o.verified,
            mean_response_bytes: if o.ok_in_window > 0 {
                o.response_bytes as f64 / o.ok_in_window as f64
            } else {
                0.0
            },
            rss_before_bytes: r.rss_before_bytes,
            rss_after_bytes: r.rss_after_bytes,
            server_cpu_us_per_request: per_request(r.server_cpu_us),
            client_cpu_us_per_request: per_request(r.client_cpu_us),
            foreign_cpu_share: r.foreign_cpu_share(),
            capped: o.capped,
            clean_exit,
        }
    }

    /// Counted as a failed phase: failures, nothing answered, or an unclean exit.
    pub fn failed(&self) -> bool {
        self.error_total > 0 || self.requests == 0 || !self.clean_exit
    }
}

/// How a comparison run was set up.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunPlanSummary {
    pub targets: Vec<TargetKind>,
    pub connections: usize,
    pub warmup_s: f64,
    pub measure_s: f64,
    pub rounds: u32,
    pub max_requests: u64,
    pub verify_every: u64,
    /// How the reported row of a target is chosen among its rounds.
    pub selection: String,
}

/// A measured ratio against an issue target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ratio {
    pub value: f64,
    pub target: f64,
    pub met: bool,
}

impl Ratio {
    fn at_least(value: f64, target: f64) -> Ratio {
        Ratio { value, target, met: value >= target }
    }
}

/// The emulator's req/s over the reference targets' (selected rows).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ratios {
    pub emulator_over_hyper: Option<Ratio>,
    pub emulator_over_wiremock: Option<Ratio>,
}

/// A comparison run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    pub schema: &'static str,
    pub machine: Machine,
    pub plan: RunPlanSummary,
    pub emulator: EmulatorOptions,
    /// Every phase, in the order run.
    pub runs: Vec<TargetRun>,
    /// One row per target: its median round.
    pub selected: Vec<TargetRun>,
    pub ratios: Ratios,
    /// Failed phases (see [`TargetRun::failed`]) — any makes the run fail.
    pub failed_phases: usize,
    pub ok: bool,
}

/// The selection rule, as written in reports.
pub const SELECTION: &str = "median round by req/s (upper median for an even number of rounds)";

impl RunReport {
    /// Assemble the report: pick each target's median round and compute the ratios.
    pub fn new(
        machine: Machine,
        plan: RunPlanSummary,
        emulator: EmulatorOptions,
        runs: Vec<TargetRun>,
    ) -> Self {
        let selected = select_median(&runs, &plan.targets);
        let ratios = ratios(&selected);
        let failed_phases = runs.iter().filter(|r| r.failed()).count();
        RunReport {
            schema: RUN_SCHEMA,
            machine,
            plan,
            emulator,
            ok: failed_phases == 0 && !runs.is_empty(),
            runs,
            selected,
            ratios,
            failed_phases,
        }
    }
}

/// Per target (in `order`), the round whose req/s is the median of its rounds.
pub fn select_median(runs: &[TargetRun], order: &[TargetKind]) -> Vec<TargetRun> {
    order
        .iter()
        .filter_map(|&kind| {
            let mut mine: Vec<&TargetRun> = runs.iter().filter(|r| r.target == kind).collect();
            mine.sort_by(|a, b| a.req_per_s.total_cmp(&b.req_per_s));
            mine.get(mine.len() / 2).map(|r| (*r).clone())
        })
        .collect()
}

/// Emulator over hyper and over wiremock, where both rows exist and the divisor is not 0.
pub fn ratios(selected: &[TargetRun]) -> Ratios {
    let rps = |k: TargetKind| selected.iter().find(|r| r.target == k).map(|r| r.req_per_s);
    let over = |k: TargetKind, target: f64| match (rps(TargetKind::Emulator), rps(k)) {
        (Some(e), Some(d)) if d > 0.0 => Some(Ratio::at_least(e / d, target)),
        _ => None,
    };
    Ratios {
        emulator_over_hyper: over(TargetKind::Hyper, TARGET_OVER_HYPER),
        emulator_over_wiremock: over(TargetKind::Wiremock, TARGET_OVER_WIREMOCK),
    }
}

/// One memory reading during a soak.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SoakSample {
    /// Seconds since the end of the warm-up.
    pub t_s: f64,
    /// Requests completed since the start of the load (warm-up included).
    pub requests: u64,
    /// Target's `VmRSS`, bytes.
    pub rss_bytes: Option<u64>,
    /// CPU counters at this instant.
    pub cpu: CpuCounters,
}

/// What happened between two soak samples.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SoakInterval {
    /// End of the interval, s since the end of the warm-up.
    pub t_s: f64,
    /// Requests completed per second.
    pub req_per_s: f64,
    /// Target CPU per request completed, µs.
    pub server_cpu_us_per_request: Option<f64>,
    /// Share of the machine's CPU used by other processes (0–1).
    pub foreign_cpu_share: Option<f64>,
}

impl SoakInterval {
    /// The interval from `a` to `b` (`None` when no time passed).
    pub fn between(a: &SoakSample, b: &SoakSample) -> Option<SoakInterval> {
        let dt = b.t_s - a.t_s;
        if dt <= 0.0 {
            return None;
        }
        let n = b.requests.saturating_sub(a.requests);
        // CPU counters tick every 10 ms: over less than a second they say little.
        let used = if dt >= 1.0 { b.cpu.used_since(&a.cpu) } else { PhaseReadings::default() };
        Some(SoakInterval {
            t_s: b.t_s,
            req_per_s: n as f64 / dt,
            server_cpu_us_per_request: used.server_cpu_us.filter(|_| n > 0).map(|c| c as f64 / n as f64),
            foreign_cpu_share: used.foreign_cpu_share(),
        })
    }
}

/// How a soak was set up.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SoakPlanSummary {
    pub connections: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub sample_every_s: f64,
    /// Total req/s asked for; `None` = closed loop, as fast as answers come.
    pub rate: Option<f64>,
    pub max_rss_bytes: u64,
    pub max_requests: u64,
}

/// A soak.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SoakReport {
    pub schema: &'static str,
    pub machine: Machine,
    pub target: TargetKind,
    pub url: String,
    pub plan: SoakPlanSummary,
    /// Set for the emulator target.
    pub emulator: Option<EmulatorOptions>,
    pub samples: Vec<SoakSample>,
    /// `VmRSS` at the end of the warm-up.
    pub rss_start_bytes: Option<u64>,
    pub rss_end_bytes: Option<u64>,
    pub rss_max_bytes: Option<u64>,
    /// Requests completed between the first and the last sample.
    pub requests: u64,
    /// Successful answers per second in the window.
    pub req_per_s: f64,
    pub latency: Latency,
    pub error_total: u64,
    pub errors: ErrorCounts,
    /// (end − start RSS) / requests, bytes.
    pub growth_per_request_bytes: Option<f64>,
    /// Requests after which the target's bounded buffers are full (emulator: the larger of the trace
    /// ring and the reqId log; others: 0).
    pub fill_requests: u64,
    /// First sample time at which `fill_requests` were completed, s.
    pub steady_from_s: Option<f64>,
    /// Least-squares slope of RSS over requests from `steady_from_s` on, bytes per request.
    pub steady_growth_per_request_bytes: Option<f64>,
    /// CPU time of the target per request after the warm-up, µs.
    pub server_cpu_us_per_request: Option<f64>,
    /// CPU time of the load generator per request after the warm-up, µs.
    pub client_cpu_us_per_request: Option<f64>,
    /// Share of the machine's CPU used by other processes after the warm-up (0–1).
    pub foreign_cpu_share: Option<f64>,
    /// Why the soak stopped early, if it did.
    pub aborted: Option<String>,
    pub clean_exit: bool,
    pub ok: bool,
}

/// (RSS of `b` − RSS of `a`) / requests between them.
pub fn growth_per_request(a: &SoakSample, b: &SoakSample) -> Option<f64> {
    let (ra, rb) = (a.rss_bytes?, b.rss_bytes?);
    let n = b.requests.checked_sub(a.requests).filter(|n| *n > 0)?;
    Some((rb as f64 - ra as f64) / n as f64)
}

/// Least-squares slope of RSS (bytes) over completed requests, from at least 3 readings.
pub fn rss_slope(samples: &[SoakSample]) -> Option<f64> {
    let pts: Vec<(f64, f64)> =
        samples.iter().filter_map(|s| Some((s.requests as f64, s.rss_bytes? as f64))).collect();
    if pts.len() < 3 {
        return None;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// What a soak's figures are computed from.
pub struct SoakInputs {
    pub machine: Machine,
    pub target: TargetKind,
    pub url: String,
    pub plan: SoakPlanSummary,
    pub emulator: Option<EmulatorOptions>,
    pub samples: Vec<SoakSample>,
    pub outcome: LoadOutcome,
    pub fill_requests: u64,
    pub aborted: Option<String>,
    pub clean_exit: bool,
}

impl SoakReport {
    /// Compute the soak's figures from its samples and load outcome.
    pub fn new(i: SoakInputs) -> SoakReport {
        let first = i.samples.first();
        let last = i.samples.last();
        let requests = match (first, last) {
            (Some(a), Some(b)) => b.requests.saturating_sub(a.requests),
            _ => 0,
        };
        let growth = first.zip(last).and_then(|(a, b)| growth_per_request(a, b));
        let steady_idx = i.samples.iter().position(|s| s.requests >= i.fill_requests);
        let steady_growth = steady_idx.and_then(|k| rss_slope(&i.samples[k..]));
        let error_total = i.outcome.errors.total();
        let readings = first.zip(last).map(|(a, b)| b.cpu.used_since(&a.cpu)).unwrap_or_default();
        let per_request = |cpu: Option<u64>| cpu.filter(|_| requests > 0).map(|c| c as f64 / requests as f64);
        SoakReport {
            server_cpu_us_per_request: per_request(readings.server_cpu_us),
            client_cpu_us_per_request: per_request(readings.client_cpu_us),
            foreign_cpu_share: readings.foreign_cpu_share(),
            schema: SOAK_SCHEMA,
            machine: i.machine,
            target: i.target,
            url: i.url,
            plan: i.plan,
            emulator: i.emulator,
            rss_start_bytes: first.and_then(|s| s.rss_bytes),
            rss_end_bytes: last.and_then(|s| s.rss_bytes),
            rss_max_bytes: i.samples.iter().filter_map(|s| s.rss_bytes).max(),
            steady_from_s: steady_idx.map(|k| i.samples[k].t_s),
            samples: i.samples,
            requests,
            req_per_s: i.outcome.req_per_s(),
            latency: Latency::from_histogram(&i.outcome.histogram),
            error_total,
            errors: i.outcome.errors,
            growth_per_request_bytes: growth,
            fill_requests: i.fill_requests,
            steady_growth_per_request_bytes: steady_growth,
            ok: error_total == 0 && i.aborted.is_none() && requests > 0 && i.clean_exit,
            aborted: i.aborted,
            clean_exit: i.clean_exit,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn row(target: TargetKind, round: u32, req_per_s: f64) -> TargetRun {
        TargetRun {
            target,
            round,
            url: format!("http://127.0.0.1:4000{}", crate::load::workload::CHECK_PATH),
            requests: (req_per_s * 10.0) as u64,
            window_s: 10.0,
            req_per_s,
            latency: Latency {
                mean_us: 700.5,
                p50_us: 650,
                p90_us: 900,
                p99_us: 1500,
                p999_us: 3100,
                max_us: 9000,
            },
            error_total: 0,
            errors: ErrorCounts::default(),
            sent: (req_per_s * 12.0) as u64,
            verified: 1000,
            mean_response_bytes: 702.0,
            rss_before_bytes: Some(10 << 20),
            rss_after_bytes: Some(12 << 20),
            server_cpu_us_per_request: Some(75_000.0 / req_per_s),
            client_cpu_us_per_request: Some(12.5),
            foreign_cpu_share: Some(0.01),
            capped: false,
            clean_exit: true,
        }
    }

    fn machine() -> Machine {
        Machine {
            cores: 2,
            load_average_start: Some([0.5, 0.7, 0.9]),
            load_average_end: Some([1.9, 1.0, 0.95]),
        }
    }

    pub(crate) fn run_report() -> RunReport {
        let plan = RunPlanSummary {
            targets: TargetKind::all().to_vec(),
            connections: 64,
            warmup_s: 2.0,
            measure_s: 10.0,
            rounds: 1,
            max_requests: 50_000_000,
            verify_every: 50,
            selection: SELECTION.into(),
        };
        let runs = vec![
            row(TargetKind::Hyper, 1, 88_000.0),
            row(TargetKind::Emulator, 1, 62_000.0),
            row(TargetKind::Wiremock, 1, 23_000.0),
        ];
        RunReport::new(machine(), plan, EmulatorOptions::default(), runs)
    }

    pub(crate) fn soak_report() -> SoakReport {
        // 2 cores for 5 s per sample = 10 s of machine time; the target uses 37.5 µs per request.
        let s = |t_s: f64, requests: u64, rss: u64| SoakSample {
            t_s,
            requests,
            rss_bytes: Some(rss << 20),
            cpu: CpuCounters {
                target_us: Some(requests * 75 / 2),
                own_us: Some(requests * 18),
                machine_busy_us: Some(requests * 111 / 2 + (t_s * 100_000.0) as u64),
                machine_total_us: Some((t_s * 2_000_000.0) as u64),
            },
        };
        let samples = vec![
            s(0.0, 80_000, 60),
            s(5.0, 280_000, 150),
            s(10.0, 480_000, 260),
            s(15.0, 680_000, 330),
            s(20.0, 880_000, 400),
            s(25.0, 1_080_000, 420),
            s(30.0, 1_280_000, 421),
            s(35.0, 1_480_000, 420),
            s(40.0, 1_680_000, 421),
        ];
        let mut outcome = LoadOutcome {
            ok_in_window: 1_600_000,
            histogram: hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3).unwrap(),
            window: std::time::Duration::from_secs(40),
            sent: 1_680_064,
            response_bytes: 0,
            verified: 30_000,
            errors: ErrorCounts::default(),
            capped: false,
            stopped: false,
        };
        for v in [900, 1000, 1100, 4000] {
            outcome.histogram.record(v).unwrap();
        }
        SoakReport::new(SoakInputs {
            machine: machine(),
            target: TargetKind::Emulator,
            url: "http://127.0.0.1:4001/api/v4/true-api/codes/check".into(),
            plan: SoakPlanSummary {
                connections: 64,
                warmup_s: 2.0,
                duration_s: 40.0,
                sample_every_s: 5.0,
                rate: None,
                max_rss_bytes: 8 << 30,
                max_requests: 50_000_000,
            },
            emulator: Some(EmulatorOptions::default()),
            samples,
            outcome,
            fill_requests: 1_000_000,
            aborted: None,
            clean_exit: true,
        })
    }

    #[test]
    fn run_json() {
        insta::assert_json_snapshot!(run_report());
    }

    #[test]
    fn soak_json() {
        insta::assert_json_snapshot!(soak_report());
    }

    #[test]
    fn median_round_is_picked_per_target() {
        let runs = vec![
            row(TargetKind::Hyper, 1, 80_000.0),
            row(TargetKind::Emulator, 1, 50_000.0),
            row(TargetKind::Hyper, 2, 90_000.0),
            row(TargetKind::Emulator, 2, 60_000.0),
            row(TargetKind::Hyper, 3, 85_000.0),
            row(TargetKind::Emulator, 3, 40_000.0),
        ];
        let sel = select_median(&runs, &[TargetKind::Hyper, TargetKind::Emulator, TargetKind::Wiremock]);
        assert_eq!(sel.len(), 2);
        assert_eq!((sel[0].target, sel[0].round), (TargetKind::Hyper, 3));
        assert_eq!((sel[1].target, sel[1].round), (TargetKind::Emulator, 1));
        let r = ratios(&sel);
        let over_hyper = r.emulator_over_hyper.unwrap();
        assert!((over_hyper.value - 50.0 / 85.0).abs() < 1e-9);
        assert!(!over_hyper.met);
        assert!(r.emulator_over_wiremock.is_none());
    }

    #[test]
    fn a_failed_phase_fails_the_run() {
        let mut bad = row(TargetKind::Emulator, 1, 10.0);
        bad.errors.status.insert(401, 3);
        bad.error_total = 3;
        let plan = RunPlanSummary {
            targets: vec![TargetKind::Hyper, TargetKind::Emulator],
            connections: 4,
            warmup_s: 0.1,
            measure_s: 0.2,
            rounds: 1,
            max_requests: 1000,
            verify_every: 50,
            selection: SELECTION.into(),
        };
        let machine = Machine { cores: 2, load_average_start: None, load_average_end: None };
        let report = RunReport::new(
            machine,
            plan,
            EmulatorOptions::default(),
            vec![row(TargetKind::Hyper, 1, 5.0), bad],
        );
        assert_eq!(report.failed_phases, 1);
        assert!(!report.ok);
    }

    #[test]
    fn intervals_between_samples() {
        let r = soak_report();
        let i = SoakInterval::between(&r.samples[0], &r.samples[1]).unwrap();
        assert_eq!(i.t_s, 5.0);
        assert!((i.req_per_s - 40_000.0).abs() < 1e-6);
        assert!((i.server_cpu_us_per_request.unwrap() - 37.5).abs() < 1e-6);
        assert!((i.foreign_cpu_share.unwrap() - 0.05).abs() < 1e-6);
        assert!(SoakInterval::between(&r.samples[1], &r.samples[1]).is_none());
    }

    #[test]
    fn growth_and_slope() {
        let s = |t_s: f64, requests: u64, rss: u64| SoakSample {
            t_s,
            requests,
            rss_bytes: Some(rss),
            cpu: CpuCounters::default(),
        };
        let samples = [s(0.0, 1000, 100_000), s(5.0, 2000, 200_000), s(10.0, 3000, 300_000)];
        assert_eq!(growth_per_request(&samples[0], &samples[2]), Some(100.0));
        assert!((rss_slope(&samples).unwrap() - 100.0).abs() < 1e-9);
        let flat = [s(0.0, 0, 5), s(1.0, 10, 5), s(2.0, 20, 5)];
        assert_eq!(rss_slope(&flat), Some(0.0));
        assert_eq!(rss_slope(&flat[..2]), None);
        assert_eq!(growth_per_request(&flat[0], &flat[0]), None);
    }
}
