//! Text rendering of the reports: the comparison table with the ratios against the targets,
//! and the soak summary with its memory samples.
//!
//! Must not: compute figures (they come ready from [`crate::load::result`]); print (it returns text).

use crate::load::client::ErrorCounts;
use crate::load::result::{Ratio, RunReport, SoakInterval, SoakReport, SoakSample, TargetRun};
use std::fmt::Write;

/// Bytes as MiB with one decimal, or `-` when unknown.
fn mib(bytes: Option<u64>) -> String {
    bytes.map(|b| format!("{:.1} MiB", b as f64 / 1_048_576.0)).unwrap_or_else(|| "-".into())
}

/// µs as ms with two decimals.
fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

/// CPU µs per request with one decimal, or `-`.
fn us(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into())
}

/// A 0–1 share as a whole percentage, or `-`.
fn share(v: Option<f64>) -> String {
    v.map(|f| format!("{:.0} %", f * 100.0)).unwrap_or_else(|| "-".into())
}

fn load_avg(l: Option<[f64; 3]>) -> String {
    l.map(|[a, b, c]| format!("{a:.2} {b:.2} {c:.2}")).unwrap_or_else(|| "unknown".into())
}

fn ratio_line(name: &str, r: &Option<Ratio>, target_text: &str) -> String {
    match r {
        Some(r) => format!(
            "{name:<21} {:>6.3}   (issue target {target_text}: {})\n",
            r.value,
            if r.met { "met" } else { "MISSED" }
        ),
        None => format!("{name:<21} {:>6}   (not measured in this run)\n", "-"),
    }
}

/// Failures, briefly: `connect 1, status 401×3, …; first: …`.
pub fn describe_errors(e: &ErrorCounts) -> String {
    let mut parts = Vec::new();
    for (name, n) in
        [("connect", e.connect), ("transport", e.transport), ("timeout", e.timeout), ("body", e.body)]
    {
        if n > 0 {
            parts.push(format!("{name} {n}"));
        }
    }
    for (status, n) in &e.status {
        parts.push(format!("status {status}×{n}"));
    }
    let mut s = parts.join(", ");
    if let Some(first) = &e.first {
        let _ = write!(s, "; first: {first}");
    }
    s
}

/// One line of the table, header or row.
fn line(out: &mut String, cells: [&str; 12]) {
    let [target, rps, p50, p99, p999, errors, body, srv, cli, other, before, after] = cells;
    let _ = writeln!(
        out,
        "{target:<9} {rps:>9} {p50:>7} {p99:>7} {p999:>8} {errors:>7} {body:>6} {srv:>7} {cli:>7} {other:>6} {before:>11} {after:>11}"
    );
}

fn header(out: &mut String) {
    line(
        out,
        [
            "target",
            "req/s",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "errors",
            "body B",
            "srv µs",
            "cli µs",
            "other",
            "RSS before",
            "RSS after",
        ],
    );
}

fn row(out: &mut String, r: &TargetRun) {
    line(
        out,
        [
            r.target.name(),
            &format!("{:.0}", r.req_per_s),
            &ms(r.latency.p50_us),
            &ms(r.latency.p99_us),
            &ms(r.latency.p999_us),
            &r.error_total.to_string(),
            &format!("{:.0}", r.mean_response_bytes),
            &us(r.server_cpu_us_per_request),
            &us(r.client_cpu_us_per_request),
            &share(r.foreign_cpu_share),
            &mib(r.rss_before_bytes),
            &mib(r.rss_after_bytes),
        ],
    );
}

/// The comparison run as text.
pub fn render_run(r: &RunReport) -> String {
    let p = &r.plan;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "markcert-loadbench: POST codes/check, {} keep-alive connections, warm-up {} s, window {} s, {} round(s)",
        p.connections, p.warmup_s, p.measure_s, p.rounds
    );
    let _ = writeln!(
        out,
        "machine: {} cores shared by the load generator and the target; load average {} at start, {} at end",
        r.machine.cores,
        load_avg(r.machine.load_average_start),
        load_avg(r.machine.load_average_end)
    );
    let _ = writeln!(
        out,
        "emulator: trace ring {} events{}, reqId log {} checks, no faults",
        r.emulator.trace_ring,
        r.emulator.trace_ndjson.as_ref().map(|p| format!(" + NDJSON {}", p.display())).unwrap_or_default(),
        r.emulator.reqlog_capacity
    );
    if p.rounds > 1 {
        let _ = writeln!(out, "\nevery round:");
        header(&mut out);
        for run in &r.runs {
            row(&mut out, run);
        }
        let _ = writeln!(out, "\nper target, {}:", p.selection);
    } else {
        out.push('\n');
    }
    header(&mut out);
    for run in &r.selected {
        row(&mut out, run);
    }
    out.push_str(
        "\n(body B: mean answer body; srv µs / cli µs: CPU time of the target process / of the load generator\n \
         per request sent, warm-up included; other: share of the machine's CPU used by other processes\n \
         during the phase — figures of a phase with a high share understate the target)\n\n",
    );
    out.push_str(&ratio_line(
        "emulator / hyper",
        &r.ratios.emulator_over_hyper,
        &format!("≥ {:.2}", crate::load::result::TARGET_OVER_HYPER),
    ));
    out.push_str(&ratio_line(
        "emulator / wiremock",
        &r.ratios.emulator_over_wiremock,
        &format!("≥ {:.1}", crate::load::result::TARGET_OVER_WIREMOCK),
    ));
    out.push('\n');
    if r.ok {
        out.push_str("errors: none (every answer 200, sampled bodies contain \"reqId\")\n");
    } else {
        let _ = writeln!(out, "RUN FAILED: {} phase(s) with failures:", r.failed_phases);
        for run in r.runs.iter().filter(|x| x.failed()) {
            let mut why = describe_errors(&run.errors);
            if run.requests == 0 {
                why = format!("no successful answer in the window; {why}");
            }
            if !run.clean_exit {
                why = format!("target did not exit cleanly; {why}");
            }
            let _ = writeln!(out, "  {} round {}: {}", run.target.name(), run.round, why);
        }
    }
    out
}

/// The soak as text: summary, then at most ~13 evenly spaced samples.
pub fn render_soak(r: &SoakReport) -> String {
    let p = &r.plan;
    let mut out = String::new();
    let rate = p.rate.map(|x| format!("paced to {x:.0} req/s")).unwrap_or_else(|| "closed loop".into());
    let _ = writeln!(
        out,
        "markcert-loadbench soak: {}, {} connections ({rate}), {} s after a {} s warm-up, VmRSS every {} s",
        r.target.name(),
        p.connections,
        p.duration_s,
        p.warmup_s,
        p.sample_every_s
    );
    let _ = writeln!(
        out,
        "machine: {} cores; load average {} at start, {} at end",
        r.machine.cores,
        load_avg(r.machine.load_average_start),
        load_avg(r.machine.load_average_end)
    );
    if let Some(e) = &r.emulator {
        let _ = writeln!(
            out,
            "emulator: trace ring {} events, reqId log {} checks: full after {} requests",
            e.trace_ring, e.reqlog_capacity, r.fill_requests
        );
    }
    let _ = writeln!(
        out,
        "\nrequests {} ({:.0} req/s), p50 {} ms, p99 {} ms, p99.9 {} ms, errors {}",
        r.requests,
        r.req_per_s,
        ms(r.latency.p50_us),
        ms(r.latency.p99_us),
        ms(r.latency.p999_us),
        r.error_total
    );
    let _ = writeln!(
        out,
        "CPU per request: target {} µs, load generator {} µs; other processes used {} of the machine",
        us(r.server_cpu_us_per_request),
        us(r.client_cpu_us_per_request),
        share(r.foreign_cpu_share)
    );
    let _ = writeln!(
        out,
        "RSS start {} (after warm-up), end {}, max {}",
        mib(r.rss_start_bytes),
        mib(r.rss_end_bytes),
        mib(r.rss_max_bytes)
    );
    let growth = |g: Option<f64>| g.map(|g| format!("{g:.2} B")).unwrap_or_else(|| "-".into());
    let _ = writeln!(out, "growth per request: {} over the whole soak", growth(r.growth_per_request_bytes));
    match r.steady_from_s {
        Some(t) if r.fill_requests > 0 => {
            let _ = writeln!(
                out,
                "growth per request once the buffers are full (from t = {t:.0} s): {} (least squares)",
                growth(r.steady_growth_per_request_bytes)
            );
        }
        Some(_) => {
            let _ = writeln!(
                out,
                "growth per request, least squares over all samples: {}",
                growth(r.steady_growth_per_request_bytes)
            );
        }
        None => {
            let _ = writeln!(out, "the buffers never filled ({} requests needed)", r.fill_requests);
        }
    }
    if !r.samples.is_empty() {
        out.push_str(
            "\nsamples (req/s, target CPU µs per request and the share of the machine's CPU used by other\n\
             processes are over the interval since the previous line):\n",
        );
        out.push_str("     t s      requests         RSS   req/s  srv µs   other\n");
        let stride = r.samples.len().div_ceil(12).max(1);
        let last = r.samples.len() - 1;
        let mut prev: Option<&SoakSample> = None;
        for (i, s) in r.samples.iter().enumerate() {
            if i % stride == 0 || i == last {
                let iv = prev.and_then(|p| SoakInterval::between(p, s));
                let text = format!(
                    "{:>8.0} {:>13} {:>11} {:>7} {:>7} {:>7}",
                    s.t_s,
                    s.requests,
                    mib(s.rss_bytes),
                    iv.as_ref().map(|v| format!("{:.0}", v.req_per_s)).unwrap_or_default(),
                    iv.as_ref().map(|v| us(v.server_cpu_us_per_request)).unwrap_or_default(),
                    iv.as_ref().map(|v| share(v.foreign_cpu_share)).unwrap_or_default(),
                );
                let _ = writeln!(out, "{}", text.trim_end());
                prev = Some(s);
            }
        }
    }
    out.push('\n');
    if let Some(why) = &r.aborted {
        let _ = writeln!(out, "SOAK ABORTED: {why}");
    }
    if r.error_total > 0 {
        let _ = writeln!(out, "SOAK FAILED: {}", describe_errors(&r.errors));
    } else if !r.clean_exit {
        out.push_str("SOAK FAILED: the target did not exit cleanly\n");
    } else if r.ok {
        out.push_str("errors: none\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::result::tests::{run_report, soak_report};

    #[test]
    fn run_table() {
        insta::assert_snapshot!(render_run(&run_report()));
    }

    #[test]
    fn run_table_with_failures() {
        let mut r = run_report();
        r.runs[1].errors.status.insert(401, 12);
        r.runs[1].errors.first = Some("status 401 Unauthorized: {\"error_message\":\"…\"}".into());
        r.runs[1].error_total = 12;
        let r = RunReport::new(r.machine, r.plan, r.emulator, r.runs);
        insta::assert_snapshot!(render_run(&r));
    }

    #[test]
    fn soak_summary() {
        insta::assert_snapshot!(render_soak(&soak_report()));
    }
}
