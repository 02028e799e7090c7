//! The world clock and the trace under concurrent use, and the trace's NDJSON file.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use markcert_emulators::clock::{ClockMode, WorldClock};
use markcert_emulators::trace::{
    Trace, TraceConfig, TraceError, TraceEvent, TraceFilter, BATCH_INTERVAL, QUEUE_BOUND,
};

const THREADS: usize = 8;
const PER_THREAD: usize = 10_000;
const GS: char = '\u{1d}';

/// A path in the temp directory no other test (or test run) uses.
fn temp_path(name: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("markcert-{name}-{}-{n}-{}", std::process::id(), uuid::Uuid::new_v4()))
}

fn cdn_call(clock: &WorldClock, thread: usize, i: usize) -> TraceEvent {
    let event = TraceEvent::new(format!("cdn-{}", thread % 3 + 1), "POST", "/api/v4/true-api/codes/check")
        .world_ms(clock.now_ms())
        .host("127.0.0.1:18443")
        .status(200)
        .latency(Duration::from_micros(i as u64))
        .req_id(format!("{thread}-{i}"))
        .codes([format!("010460043993125621{thread:02}{i:05}{GS}93AbCd")]);
    if i % 100 == 0 {
        event.fault("latency").note("slow answer")
    } else {
        event
    }
}

/// Records `PER_THREAD` events from each of `THREADS` threads; returns the seqs each thread got.
fn record_from_threads(trace: &Trace, clock: &WorldClock) -> Vec<Vec<u64>> {
    thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn(move || (0..PER_THREAD).map(|i| trace.record(cdn_call(clock, t, i))).collect())
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("recorder thread")).collect()
    })
}

#[test]
fn clock_is_monotone_under_concurrent_advance() {
    let clock = WorldClock::frozen_at(1_767_225_600_000);
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                let mut last = clock.now_ms();
                for _ in 0..PER_THREAD {
                    clock.advance(Duration::from_millis(1));
                    let now = clock.now_ms();
                    assert!(now > last, "clock went from {last} to {now}");
                    last = now;
                }
            });
        }
    });
    assert_eq!(clock.now_ms(), 1_767_225_600_000 + (THREADS * PER_THREAD) as i64);
    assert_eq!(clock.mode(), ClockMode::Frozen);
}

#[test]
fn real_clock_advances_concurrently_without_losing_steps() {
    let clock = WorldClock::real();
    let start = clock.snapshot().offset_ms;
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for _ in 0..1_000 {
                    clock.advance(Duration::from_secs(1));
                }
            });
        }
    });
    let offset = clock.snapshot().offset_ms - start;
    let expected = (THREADS * 1_000 * 1_000) as i64;
    assert!((expected - 5..=expected + 5).contains(&offset), "offset moved by {offset}, expected {expected}");
}

#[test]
fn seq_is_gapless_and_increasing_across_threads() {
    let trace = Trace::in_memory(THREADS * PER_THREAD);
    let clock = WorldClock::real();
    let per_thread = record_from_threads(&trace, &clock);

    let total = (THREADS * PER_THREAD) as u64;
    for seqs in &per_thread {
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "a thread saw its seqs go backwards");
    }
    let all: HashSet<u64> = per_thread.iter().flatten().copied().collect();
    assert_eq!(all.len() as u64, total);
    assert_eq!(all, (1..=total).collect::<HashSet<_>>());

    let ring = trace.events(&TraceFilter::default());
    assert_eq!(ring.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=total).collect::<Vec<_>>());
    assert_eq!(trace.total(), total);
    assert_eq!(trace.last_seq(), Some(total));
    assert_eq!(trace.evicted(), 0);
}

#[test]
fn ring_stays_bounded_under_concurrent_load() {
    let trace = Trace::in_memory(1_000);
    record_from_threads(&trace, &WorldClock::real());
    let total = (THREADS * PER_THREAD) as u64;
    let ring = trace.events(&TraceFilter::default());
    assert_eq!(ring.len(), 1_000);
    assert_eq!(ring.first().map(|e| e.seq), Some(total - 999));
    assert_eq!(ring.last().map(|e| e.seq), Some(total));
    assert_eq!(trace.evicted(), total - 1_000);
}

#[test]
fn ndjson_file_has_every_event_in_seq_order() {
    let path = temp_path("trace.ndjson");
    let trace = Trace::new(TraceConfig { ring_capacity: THREADS * PER_THREAD, ndjson: Some(path.clone()) })
        .expect("trace file opens");
    assert_eq!(trace.ndjson_path(), Some(path.as_path()));
    let clock = WorldClock::frozen_at(1_767_225_600_000);
    record_from_threads(&trace, &clock);
    trace.flush().expect("trace file flushes");

    let text = std::fs::read_to_string(&path).expect("trace file reads");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as u64, trace.total());
    let ring = trace.events(&TraceFilter::default());
    assert_eq!(ring.len(), lines.len());
    for (n, (line, recorded)) in lines.iter().zip(&ring).enumerate() {
        let parsed: TraceEvent = serde_json::from_str(line).expect("each line is one event");
        assert_eq!(parsed.seq, n as u64 + 1);
        assert_eq!(&parsed, recorded);
    }
    assert!(text.contains(r"\u001d93AbCd"), "GS is written as \\u001d");

    // More events after a flush land after the earlier ones.
    trace.record(TraceEvent::new("control", "POST", "/control/clock"));
    trace.flush().expect("second flush");
    let text = std::fs::read_to_string(&path).expect("trace file reads again");
    let last: TraceEvent =
        serde_json::from_str(text.lines().last().unwrap_or_default()).expect("last line parses");
    assert_eq!((last.seq, last.component.as_str()), (trace.total(), "control"));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn file_keeps_what_the_ring_evicted() {
    let path = temp_path("evicted.ndjson");
    let trace = Trace::new(TraceConfig { ring_capacity: 10, ndjson: Some(path.clone()) }).expect("opens");
    let clock = WorldClock::real();
    for i in 0..1_000 {
        trace.record(cdn_call(&clock, 0, i));
    }
    trace.clear();
    trace.flush().expect("flushes");
    assert_eq!(trace.evicted(), 990);
    let text = std::fs::read_to_string(&path).expect("reads");
    assert_eq!(text.lines().count(), 1_000);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn dropping_the_last_handle_writes_everything() {
    let path = temp_path("drop.ndjson");
    let trace =
        Trace::new(TraceConfig { ndjson: Some(path.clone()), ..TraceConfig::default() }).expect("opens");
    let other = trace.clone();
    for i in 0..5_000 {
        other.record(cdn_call(&WorldClock::real(), 1, i));
    }
    drop(trace);
    other.record(TraceEvent::new("control", "GET", "/control/trace"));
    drop(other);
    let text = std::fs::read_to_string(&path).expect("reads");
    let seqs: Vec<u64> =
        text.lines().map(|l| serde_json::from_str::<TraceEvent>(l).expect("line parses").seq).collect();
    assert_eq!(seqs, (1..=5_001).collect::<Vec<_>>());
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_writer_far_behind_slows_recorders_instead_of_dropping() {
    let path = temp_path("backpressure.ndjson");
    let trace = Trace::new(TraceConfig { ring_capacity: 10, ndjson: Some(path.clone()) }).expect("opens");
    let events = 4 * QUEUE_BOUND;
    thread::scope(|scope| {
        for t in 0..4 {
            let trace = &trace;
            scope.spawn(move || {
                for i in 0..QUEUE_BOUND {
                    trace.record(TraceEvent::new("cdn-1", "POST", "/check").req_id(format!("{t}-{i}")));
                }
            });
        }
    });
    trace.flush().expect("flushes");
    let text = std::fs::read_to_string(&path).expect("reads");
    let seqs: Vec<u64> =
        text.lines().map(|l| serde_json::from_str::<TraceEvent>(l).expect("line parses").seq).collect();
    assert_eq!(seqs, (1..=events as u64).collect::<Vec<_>>());
    let _ = std::fs::remove_file(&path);
}

#[test]
fn the_file_follows_without_an_explicit_flush() {
    let path = temp_path("follow.ndjson");
    let trace =
        Trace::new(TraceConfig { ndjson: Some(path.clone()), ..TraceConfig::default() }).expect("opens");
    trace.record(TraceEvent::new("tspiot", "GET", "/api/v1/status"));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut lines = 0;
    while lines == 0 && Instant::now() < deadline {
        thread::sleep(BATCH_INTERVAL);
        lines = std::fs::read_to_string(&path).map(|t| t.lines().count()).unwrap_or(0);
    }
    assert_eq!(lines, 1, "the writer writes a lone event within a few batch intervals");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn unwritable_path_is_an_error_not_a_panic() {
    let path = temp_path("no-such-dir").join("trace.ndjson");
    let result = Trace::new(TraceConfig { ndjson: Some(path.clone()), ..TraceConfig::default() });
    match result {
        Err(TraceError::Open { path: reported, .. }) => assert_eq!(reported, path),
        other => panic!("expected an Open error, got {other:?}"),
    }
}

#[cfg(target_os = "linux")]
#[test]
fn write_failure_is_reported_by_every_flush() {
    // /dev/full opens fine and fails every write with ENOSPC.
    let trace = Trace::new(TraceConfig { ring_capacity: 10, ndjson: Some(PathBuf::from("/dev/full")) })
        .expect("/dev/full opens");
    for i in 0..100 {
        trace.record(cdn_call(&WorldClock::real(), 0, i));
    }
    assert!(matches!(trace.flush(), Err(TraceError::Write { .. })));
    trace.record(TraceEvent::new("control", "GET", "/control/trace"));
    assert!(matches!(trace.flush(), Err(TraceError::Write { .. })));
    // The ring goes on regardless.
    assert_eq!(trace.total(), 101);
    assert_eq!(trace.events(&TraceFilter::default()).len(), 10);
}

#[test]
fn flush_without_a_file_returns_at_once() {
    let trace = Trace::default();
    trace.record(TraceEvent::new("kkt", "POST", "/kkt/receipt"));
    assert!(trace.flush().is_ok());
    assert_eq!(trace.ndjson_path(), None);
}

/// `cargo test -p markcert-emulators --release --test clock_trace -- --ignored --nocapture`
#[test]
#[ignore = "throughput measurement, run by hand"]
fn record_throughput() {
    let path = temp_path("throughput.ndjson");
    let trace =
        Trace::new(TraceConfig { ndjson: Some(path.clone()), ..TraceConfig::default() }).expect("opens");
    let clock = WorldClock::real();
    let events: Vec<Vec<TraceEvent>> =
        (0..THREADS).map(|t| (0..PER_THREAD * 5).map(|i| cdn_call(&clock, t, i)).collect()).collect();
    let started = Instant::now();
    thread::scope(|scope| {
        for batch in events {
            let trace = &trace;
            scope.spawn(move || {
                for event in batch {
                    trace.record(event);
                }
            });
        }
    });
    let recorded = started.elapsed();
    trace.flush().expect("flushes");
    let flushed = started.elapsed();
    let total = trace.total() as f64;
    println!(
        "{total} events: record {:.0}/s ({:.0} ns each), written to file {:.0}/s",
        total / recorded.as_secs_f64(),
        recorded.as_nanos() as f64 / total,
        total / flushed.as_secs_f64()
    );
    let _ = std::fs::remove_file(&path);
}
