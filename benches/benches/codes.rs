//! Criterion benchmarks of `markcert_codes::parse` and `markcert_codes::normalize`, one bench per
//! case of `benches/data/codes.txt` (parse) and `benches/data/damaged.txt` (normalize). Each
//! iteration handles one code, so with `Throughput::Elements(1)` criterion reports codes per second.
//!
//! Run: `cargo bench -p markcert-benches --bench codes` (`benches/compare.sh` compares with `biip`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(1));
    for case in markcert_benches::canonical() {
        group.bench_with_input(BenchmarkId::from_parameter(&case.name), &case.bytes, |b, bytes| {
            b.iter(|| markcert_codes::parse(black_box(bytes)).expect("a valid code"))
        });
    }
    group.finish();
}

fn normalize(c: &mut Criterion) {
    let mut group = c.benchmark_group("normalize");
    group.throughput(Throughput::Elements(1));
    for case in markcert_benches::canonical().into_iter().chain(markcert_benches::damaged()) {
        group.bench_with_input(BenchmarkId::from_parameter(&case.name), &case.bytes, |b, bytes| {
            b.iter(|| markcert_codes::normalize(black_box(bytes)).expect("a repairable scan"))
        });
    }
    group.finish();
}

criterion_group!(benches, parse, normalize);
criterion_main!(benches);
