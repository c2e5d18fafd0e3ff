//! `Store::time_bounds` on SQLite, in a store that holds one log per
//! tenant: an audit query or export by period asks it for one log, and the
//! cost must not grow with the other tenants' logs.
//!
//! `cargo bench -p ward-audit --bench time_bounds`

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark harness")]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ward_audit::{LogKey, SqliteStore, Store, Timestamp, Writer, WriterConfig};

mod common;

/// The time of the first entry (`common::decision`).
const T0: u64 = 1_795_000_000_000;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("time_bounds");
    for logs in [10u64, 1000] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let key = || LogKey::from_seed("ward/bench", [9; 32]).unwrap();
        let writer = Writer::start(
            Box::new(SqliteStore::open(&path).unwrap()),
            key(),
            Arc::new(Timestamp::now),
            WriterConfig::default(),
        )
        .unwrap();
        for n in 0..logs * 10 {
            writer
                .append_blocking(common::decision(&format!("t{}", n % logs), n))
                .unwrap();
        }
        drop(writer);
        let mut store = SqliteStore::open(&path).unwrap();
        let origin = key().origin("t3");
        let from = Some(Timestamp::from_unix_millis(T0));
        group.bench_with_input(BenchmarkId::from_parameter(logs), &logs, |b, _| {
            b.iter(|| store.time_bounds(&origin, from, None).unwrap().unwrap());
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
