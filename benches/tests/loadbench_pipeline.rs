//! The load benchmark end to end with tiny durations: real child processes for the targets, the real
//! load generator, the reports — against the bare hyper server and the emulator (wiremock has its own
//! short test below). Asserts that requests were answered and none failed; never asserts timings.

use markcert_benches::load::bench::{self, RunPlan};
use markcert_benches::load::client::LoadPlan;
use markcert_benches::load::soak::{self, SoakPlan};
use markcert_benches::load::targets::{EmulatorOptions, TargetKind};
use markcert_benches::load::workload;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const EXE: &str = env!("CARGO_BIN_EXE_markcert-loadbench");

fn tiny_load() -> LoadPlan {
    LoadPlan {
        connections: 4,
        warmup: Duration::from_millis(100),
        measure: Duration::from_millis(200),
        max_requests: 1_000_000,
        rate: None,
        verify_every: 1,
        request_timeout: Duration::from_secs(5),
    }
}

fn bodies() -> Arc<[hyper::body::Bytes]> {
    workload::request_bodies(markcert_emulators::clock::WorldClock::real().now_ms()).unwrap().into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_emulator_and_tspiot_answer_every_request() {
    let plan = RunPlan {
        targets: vec![TargetKind::Hyper, TargetKind::Emulator, TargetKind::Tspiot],
        rounds: 1,
        load: tiny_load(),
        emulator: EmulatorOptions { trace_ring: 1000, trace_ndjson: None, reqlog_capacity: 1000 },
    };
    let report = bench::run(Path::new(EXE), &plan, bodies(), &mut |_| {}).await.unwrap();
    assert_eq!(report.selected.len(), 3);
    for row in &report.selected {
        assert!(row.requests > 0, "{row:?}");
        assert!(row.verified > 0, "{row:?}");
        assert_eq!(row.error_total, 0, "{row:?}");
        assert!(row.clean_exit, "{row:?}");
        assert!(row.rss_before_bytes.is_some() || !cfg!(target_os = "linux"));
    }
    assert!(report.ok);
    assert!(report.ratios.emulator_over_hyper.is_some());
    assert!(report.ratios.emulator_over_wiremock.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_soak_samples_memory() {
    let plan = SoakPlan {
        target: TargetKind::Emulator,
        load: LoadPlan { measure: Duration::from_millis(400), ..tiny_load() },
        sample_every: Duration::from_millis(100),
        max_rss_bytes: 4 << 30,
        emulator: EmulatorOptions { trace_ring: 100, trace_ndjson: None, reqlog_capacity: 100 },
    };
    let report = soak::run(Path::new(EXE), &plan, bodies(), &mut |_| {}).await.unwrap();
    assert!(report.samples.len() >= 3, "{:?}", report.samples);
    assert!(report.requests > 0);
    assert_eq!(report.error_total, 0, "{:?}", report.errors);
    assert_eq!(report.fill_requests, 100);
    assert!(report.ok, "{report:?}");
}

#[test]
fn cli_run_against_wiremock_writes_json() {
    let dir = std::env::temp_dir().join(format!("markcert-loadbench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("run.json");
    let out = Command::new(EXE)
        .args(["--targets", "wiremock", "--warmup", "50ms", "--duration", "200ms", "--connections", "2"])
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("wiremock"), "{stdout}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["schema"], "markcert-loadbench/run/v1");
    assert_eq!(v["ok"], true);
    assert!(v["selected"][0]["requests"].as_u64().unwrap() > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_command_lines_exit_2() {
    let out = Command::new(EXE).args(["soak", "--duration", "1h"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}
