//! Sustained group-commit throughput and acknowledgement latency, through
//! the real writer, on SQLite and (when reachable) PostgreSQL.
//!
//! Appenders are tokio tasks (not OS threads), each appending in a loop and
//! awaiting its receipt before the next append, so the concurrency level is
//! the number of entries in flight. Each level gets a fresh database; the
//! first `WARD_BENCH_WARMUP_MS` are not measured. Entries are realistic
//! decision entries (about 1 KB, 4 tenants, one indexed argument, the
//! arguments kept as payload) built before the clock starts, because
//! building them is the engine's work, not the log's; the log's own per-entry
//! work (facets, payload canonicalisation, hashing, SQL, proofs) is timed.
//!
//! ```text
//! cargo bench -p ward-audit --bench throughput
//! WARD_BENCH_CONCURRENCY=64,256 WARD_BENCH_SECS=10 WARD_BENCH_STORES=sqlite \
//!   cargo bench -p ward-audit --bench throughput
//! ```
//!
//! Peer-comparison mode (used by `bench/audit-peers/run.sh`): append N
//! entries to one tenant on SQLite, then export the log for `ward-verify`:
//!
//! ```text
//! cargo bench -p ward-audit --bench throughput -- --peer 100000 --export /tmp/ward-export
//! ```
//!
//! PostgreSQL: `WARD_BENCH_PG` (libpq string to an admin database), default
//! `host=127.0.0.1 user=postgres dbname=postgres`; a fresh database is
//! created per level and dropped.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "benchmark harness"
)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use ward_audit::{
    AppendRequest, Entry, LogKey, PgStore, SqliteStore, Store, Timestamp, Writer, WriterConfig,
};
use ward_core::{Decision, Request};

const TENANTS: [&str; 4] = ["acme", "beta", "gamma", "delta"];

fn entry(n: u64, tenants: &[&str]) -> AppendRequest {
    let args = json!({"amount": n % 1000, "order_id": format!("o-{n}"), "currency": "EUR",
                      "reason": "customer reports the parcel arrived damaged"});
    let tenant = tenants[(n % tenants.len() as u64) as usize];
    let request: Request = serde_json::from_value(json!({
        "intervention": "pre_tool_call",
        "actor": {"principal": {"id": format!("u-{}", n % 97), "kind": "user", "roles": ["support"]},
                  "tenant": tenant, "session": format!("s-{}", n % 13),
                  "agent": {"id": "refund-bot", "version": "1.4.0"}},
        "tool": "approve_refund", "args": args
    }))
    .unwrap();
    let decision: Decision = serde_json::from_value(json!({
        "decision_id": format!("dec_{n:08}"), "outcome": "allow",
        "reasons": [{"code": "rule", "rule": "refunds.small", "message": "amount under the auto-approve limit"}],
        "policy": {"name": "support", "version": "2.4.1", "digest": format!("sha256:{}", "28".repeat(32))},
        "constraints": null, "rewritten_args": null, "approval": null, "mode": "enforce", "receipt": null
    }))
    .unwrap();
    let entry = Entry::decision(
        &request,
        &decision,
        Timestamp::from_unix_millis(1_795_000_000_000 + n),
    )
    .unwrap();
    AppendRequest::new(entry, args.as_object().cloned())
}

/// `n` distinct entries in time order, built on every core. A log records
/// entries in time order, so a run must not wrap around the pool: replayed
/// times would insert all over the `(log, time)` index instead of at its
/// right edge, which no real log does.
fn pool(n: u64) -> Vec<AppendRequest> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    let chunk = n.div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (t * chunk..((t + 1) * chunk).min(n))
                        .map(|i| entry(i, &TENANTS))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts.into_iter().flat_map(|p| p.join().unwrap()).collect()
    })
}

fn config() -> WriterConfig {
    WriterConfig {
        indexed_args: std::env::var("WARD_BENCH_INDEXED")
            .unwrap_or_else(|_| "amount".to_owned())
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        ..WriterConfig::default()
    }
}

fn start(store: Box<dyn Store>) -> Arc<Writer> {
    let key = LogKey::from_seed("ward/bench", [9; 32]).unwrap();
    Arc::new(Writer::start(store, key, Arc::new(Timestamp::now), config()).unwrap())
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Outcome {
    appended: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    receipt_bytes: usize,
}

/// Runs `tasks` appenders for `warmup + measure`; only acknowledgements of
/// appends that started after the warm-up count.
async fn load(
    writer: Arc<Writer>,
    pool: Arc<Vec<AppendRequest>>,
    tasks: usize,
    warmup: Duration,
    measure: Duration,
) -> Outcome {
    let begin = Instant::now();
    let measure_from = begin + warmup;
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let writer = Arc::clone(&writer);
            let pool = Arc::clone(&pool);
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut receipt_bytes = 0;
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    if i == pool.len() {
                        eprintln!("note: the entry pool wrapped; raise WARD_BENCH_POOL");
                    }
                    let request = pool[i % pool.len()].clone();
                    i += tasks;
                    let t0 = Instant::now();
                    let receipt = writer.append(request).await.unwrap();
                    if t0 >= measure_from {
                        latencies.push(t0.elapsed());
                        if receipt_bytes == 0 {
                            receipt_bytes = receipt.encode().len();
                        }
                    }
                }
                (latencies, receipt_bytes)
            })
        })
        .collect();
    tokio::time::sleep_until((measure_from + measure).into()).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut receipt_bytes = 0;
    for h in handles {
        let (l, r) = h.await.unwrap();
        latencies.extend(l);
        receipt_bytes = receipt_bytes.max(r);
    }
    // Throughput over the measured window: appends started in it and acked.
    let elapsed = measure_from.elapsed();
    Outcome {
        appended: latencies.len(),
        elapsed,
        latencies,
        receipt_bytes,
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn report(store: &str, tasks: usize, mut o: Outcome, batches: Option<u64>) {
    o.latencies.sort();
    let l = &o.latencies;
    let per_batch = batches
        .map(|b| format!("{:>7.1}", o.appended as f64 / b.max(1) as f64))
        .unwrap_or_else(|| "      -".to_owned());
    println!(
        "| {store:<8} | {tasks:>5} | {:>9.0} | {:>8.2} | {:>8.2} | {:>8.2} | {per_batch} | {:>7} |",
        o.appended as f64 / o.elapsed.as_secs_f64(),
        pct(l, 0.50).as_secs_f64() * 1e3,
        pct(l, 0.99).as_secs_f64() * 1e3,
        l.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        o.receipt_bytes,
    );
}

/// Checkpoints written during the run, summed over tenants: one per tenant
/// per batch that touched it.
fn checkpoints(store: &mut dyn Store) -> u64 {
    let mut n = 0;
    for log in store.logs().unwrap() {
        n += store.checkpoints(&log.info.origin).unwrap().len() as u64;
    }
    n
}

fn pg_admin() -> Option<(postgres::Client, String)> {
    let admin_info = std::env::var("WARD_BENCH_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=postgres".to_owned());
    match postgres::Client::connect(&admin_info, postgres::NoTls) {
        Ok(c) => Some((c, admin_info)),
        Err(_) => {
            eprintln!("postgres: not reachable at `{admin_info}`, skipped");
            None
        }
    }
}

fn sustained(rt: &tokio::runtime::Runtime) {
    let levels: Vec<usize> = std::env::var("WARD_BENCH_CONCURRENCY")
        .unwrap_or_else(|_| "1,16,64,256,1024".to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let stores = std::env::var("WARD_BENCH_STORES").unwrap_or_else(|_| "sqlite,postgres".into());
    let warmup = Duration::from_millis(env_u64("WARD_BENCH_WARMUP_MS", 1000));
    let measure = Duration::from_secs(env_u64("WARD_BENCH_SECS", 5));
    let pool = Arc::new(pool(env_u64("WARD_BENCH_POOL", 1 << 19)));
    println!(
        "sustained append, {}s measured after {}ms warm-up, {} tenants, fresh database per row",
        measure.as_secs(),
        warmup.as_millis(),
        TENANTS.len()
    );
    println!("| store    | tasks | entries/s | p50 ms   | p99 ms   | max ms   | entries/checkpoint | receipt B |");
    println!(
        "|----------|------:|----------:|---------:|---------:|---------:|--------:|--------:|"
    );
    for store in stores.split(',') {
        for &tasks in &levels {
            match store {
                "sqlite" => {
                    let dir = tempfile::tempdir().unwrap();
                    let path = dir.path().join("bench.db");
                    let writer = start(Box::new(SqliteStore::open(&path).unwrap()));
                    let o = rt.block_on(load(
                        Arc::clone(&writer),
                        Arc::clone(&pool),
                        tasks,
                        warmup,
                        measure,
                    ));
                    drop(writer);
                    let cps = checkpoints(&mut SqliteStore::open(&path).unwrap());
                    report(store, tasks, o, Some(cps));
                }
                "postgres" => {
                    let Some((mut admin, admin_info)) = pg_admin() else {
                        break;
                    };
                    let name = format!("ward_audit_bench_{}_{tasks}", std::process::id());
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
                    let writer = start(Box::new(PgStore::connect(&info).unwrap()));
                    let o = rt.block_on(load(
                        Arc::clone(&writer),
                        Arc::clone(&pool),
                        tasks,
                        warmup,
                        measure,
                    ));
                    drop(writer);
                    let cps = checkpoints(&mut PgStore::connect(&info).unwrap());
                    report(store, tasks, o, Some(cps));
                    admin
                        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
                        .unwrap();
                }
                other => eprintln!("unknown store `{other}`, skipped"),
            }
        }
    }
}

/// Appends `n` entries to one tenant on SQLite with `tasks` appenders, then
/// exports the log to `export` and writes the verifier key next to it.
fn peer(rt: &tokio::runtime::Runtime, n: usize, tasks: usize, export: PathBuf) {
    let t_gen = Instant::now();
    let pool: Arc<Vec<AppendRequest>> =
        Arc::new((0..n as u64).map(|i| entry(i, &["acme"])).collect());
    let gen = t_gen.elapsed();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("peer.db");
    let key = LogKey::from_seed("ward/bench", [9; 32]).unwrap();
    let vkey = key.verifier().to_string();
    let writer = Arc::new(
        Writer::start(
            Box::new(SqliteStore::open(&path).unwrap()),
            key,
            Arc::new(Timestamp::now),
            config(),
        )
        .unwrap(),
    );
    let t0 = Instant::now();
    let (latencies, entry_bytes, at_1k, at_end) = rt.block_on(async {
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let writer = Arc::clone(&writer);
                let pool = Arc::clone(&pool);
                let next = Arc::clone(&next);
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut bytes = 0usize;
                    // (tree size, encoded receipt bytes) of the receipt with the
                    // smallest tree of at least 1000 entries, and of the largest.
                    let mut at_1k = (u64::MAX, 0usize);
                    let mut at_end = (0u64, 0usize);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(request) = pool.get(i) else { break };
                        bytes += request.entry.bytes().len();
                        let t = Instant::now();
                        let receipt = writer.append(request.clone()).await.unwrap();
                        lat.push(t.elapsed());
                        let size = receipt.checkpoint.checkpoint().size;
                        if (1000..at_1k.0).contains(&size) {
                            at_1k = (size, receipt.encode().len());
                        }
                        if size > at_end.0 {
                            at_end = (size, receipt.encode().len());
                        }
                    }
                    (lat, bytes, at_1k, at_end)
                })
            })
            .collect();
        let mut all = Vec::with_capacity(n);
        let mut bytes = 0;
        let mut at_1k = (u64::MAX, 0usize);
        let mut at_end = (0u64, 0usize);
        for h in handles {
            let (l, b, one_k, end) = h.await.unwrap();
            all.extend(l);
            bytes += b;
            at_1k = at_1k.min(one_k);
            at_end = at_end.max(end);
        }
        (all, bytes, at_1k, at_end)
    });
    let append = t0.elapsed();
    Arc::try_unwrap(writer).unwrap().shutdown();
    let mut latencies = latencies;
    latencies.sort();
    let t1 = Instant::now();
    let mut store = SqliteStore::open(&path).unwrap();
    let _ = std::fs::remove_dir_all(&export);
    let logs = store.logs().unwrap();
    let origin = logs[0].info.origin.clone();
    ward_audit::export_log(&mut store, &origin, &export).unwrap();
    let export_time = t1.elapsed();
    std::fs::write(export.with_extension("vkey"), format!("{vkey}\n")).unwrap();
    // Queries over the whole log: a selective argument condition (0.5 % of
    // entries), a 1 % time window, and both.
    let base = 1_795_000_000_000u64;
    let window = (
        Timestamp::from_unix_millis(base + n as u64 / 2),
        Timestamp::from_unix_millis(base + n as u64 / 2 + n as u64 / 100),
    );
    let mut timed = |filter: ward_audit::Filter| {
        let t = Instant::now();
        let hits: usize = ward_audit::query(&mut store, &filter)
            .unwrap()
            .iter()
            .map(|a| a.entries.len())
            .sum();
        (t.elapsed().as_secs_f64(), hits)
    };
    let tenant = TENANTS[0].to_owned();
    let q_arg = timed(ward_audit::Filter {
        tenant: tenant.clone(),
        args: vec!["amount>=995".parse().unwrap()],
        ..Default::default()
    });
    let q_time = timed(ward_audit::Filter {
        tenant: tenant.clone(),
        from: Some(window.0),
        until: Some(window.1),
        ..Default::default()
    });
    let q_both = timed(ward_audit::Filter {
        tenant,
        from: Some(window.0),
        until: Some(window.1),
        args: vec!["amount>=995".parse().unwrap()],
        ..Default::default()
    });
    println!(
        "WARD_QUERY arg_s={:.3} arg_hits={} time_s={:.3} time_hits={} both_s={:.3} both_hits={}",
        q_arg.0, q_arg.1, q_time.0, q_time.1, q_both.0, q_both.1
    );
    let db_bytes: u64 = ["peer.db", "peer.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.path().join(f)).ok())
        .map(|m| m.len())
        .sum();
    // One machine-readable line for run.sh, then a human one.
    println!(
        "WARD_PEER entries={n} tasks={tasks} append_s={:.3} entries_per_s={:.0} p50_ms={:.2} p99_ms={:.2} \
         export_s={:.3} mean_entry_bytes={} db_bytes={db_bytes} checkpoints={} build_entries_s={:.3} \
         receipt_tree={} receipt_bytes={} receipt_tree_end={} receipt_bytes_end={}",
        append.as_secs_f64(),
        n as f64 / append.as_secs_f64(),
        pct(&latencies, 0.5).as_secs_f64() * 1e3,
        pct(&latencies, 0.99).as_secs_f64() * 1e3,
        export_time.as_secs_f64(),
        entry_bytes / n.max(1),
        store.checkpoints(&origin).unwrap().len(),
        gen.as_secs_f64(),
        at_1k.0,
        at_1k.1,
        at_end.0,
        at_end.1,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(i) = args.iter().position(|a| a == "--peer") {
        let n = args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(100_000);
        let export = args
            .iter()
            .position(|a| a == "--export")
            .and_then(|j| args.get(j + 1))
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp/ward-peer-export"));
        let tasks = env_u64("WARD_BENCH_TASKS", 256) as usize;
        peer(&rt, n, tasks, export);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    sustained(&rt);
}
