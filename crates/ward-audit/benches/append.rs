//! Group commit throughput and acknowledgement latency, on SQLite and (when
//! reachable) PostgreSQL, with N concurrent appenders.
//!
//! Criterion measures the time to append a fixed number of entries from N
//! threads; a separate pass prints p50/p99 acknowledgement latency and the
//! receipt size. PostgreSQL: `WARD_BENCH_PG` (libpq string to an admin
//! database), default `host=127.0.0.1 user=postgres dbname=postgres`; a
//! fresh database is created and dropped.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "benchmark harness"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ward_audit::{
    AppendRequest, LogKey, PgStore, SqliteStore, Store, Timestamp, Writer, WriterConfig,
};

mod common;

fn entry(n: u64) -> AppendRequest {
    common::decision(["acme", "beta", "gamma", "delta"][(n % 4) as usize], n)
}

fn start(store: Box<dyn Store>) -> Arc<Writer> {
    let key = LogKey::from_seed("ward/bench", [9; 32]).unwrap();
    let config = WriterConfig {
        indexed_args: vec!["amount".into()],
        ..WriterConfig::default()
    };
    Arc::new(Writer::start(store, key, Arc::new(Timestamp::now), config).unwrap())
}

/// Appends `per_thread` entries from each of `threads` threads; returns
/// the elapsed time and every acknowledgement latency.
fn run(writer: &Arc<Writer>, threads: usize, per_thread: u64) -> (Duration, Vec<Duration>, usize) {
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let writer = Arc::clone(writer);
            std::thread::spawn(move || {
                let mut lat = Vec::with_capacity(per_thread as usize);
                let mut size = 0;
                for i in 0..per_thread {
                    let e = entry(t as u64 * 1_000_000 + i);
                    let t0 = Instant::now();
                    let receipt = writer.append_blocking(e).unwrap();
                    lat.push(t0.elapsed());
                    size = receipt.encode().len();
                }
                (lat, size)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut size = 0;
    for h in handles {
        let (lat, s) = h.join().unwrap();
        all.extend(lat);
        size = s;
    }
    (started.elapsed(), all, size)
}

fn report(name: &str, writer: &Arc<Writer>, threads: usize, per_thread: u64) {
    let (elapsed, mut lat, size) = run(writer, threads, per_thread);
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    eprintln!(
        "{name}: {threads:>3} appenders: {:>8.0} appends/s, ack p50 {:>8.2?} p99 {:>8.2?}, last receipt {size} bytes",
        lat.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
    );
}

fn bench_store(c: &mut Criterion, name: &str, open: &dyn Fn() -> Box<dyn Store>) {
    let writer = start(open());
    for threads in [1usize, 16, 64] {
        report(
            name,
            &writer,
            threads,
            if threads == 1 {
                200
            } else {
                2000 / threads as u64
            },
        );
    }
    let mut group = c.benchmark_group(format!("append/{name}"));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for threads in [16usize, 64] {
        let per_thread = 1024 / threads as u64;
        group.throughput(Throughput::Elements(per_thread * threads as u64));
        group.bench_function(format!("{threads}_appenders"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| run(&writer, threads, per_thread).0)
                    .sum()
            })
        });
    }
    group.finish();
}

fn sqlite(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    bench_store(c, "sqlite", &|| Box::new(SqliteStore::open(&path).unwrap()));
}

fn postgres(c: &mut Criterion) {
    let admin_info = std::env::var("WARD_BENCH_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".to_owned());
    let Ok(mut admin) = postgres::Client::connect(&admin_info, postgres::NoTls) else {
        eprintln!("postgres: not reachable at `{admin_info}`, skipped");
        return;
    };
    let name = format!("ward_audit_bench_{}", std::process::id());
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let info: String = admin_info
        .split_whitespace()
        .filter(|kv| !kv.starts_with("dbname="))
        .chain(std::iter::once(format!("dbname={name}").as_str()))
        .collect::<Vec<_>>()
        .join(" ");
    PgStore::connect(&info).unwrap().install_schema().unwrap();
    bench_store(c, "postgres", &|| {
        Box::new(PgStore::connect(&info).unwrap())
    });
    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .unwrap();
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
