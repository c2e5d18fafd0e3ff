//! `Store::time_bounds` on SQLite, in a store that holds one log per
//! tenant: an audit query or export by period asks it for one log, and the
//! cost must not grow with the other tenants' logs.
//!
//! `cargo bench -p ward-audit --bench time_bounds`

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark harness")]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use serde_json::json;
use ward_audit::{
    AppendRequest, Entry, LogKey, SqliteStore, Store, Timestamp, Writer, WriterConfig,
};
use ward_core::{Decision, Request};

const T0: u64 = 1_795_000_000_000;

fn entry(tenant: &str, n: u64) -> AppendRequest {
    let args = json!({"amount": n % 1000, "order_id": format!("o-{n}")});
    let request: Request = serde_json::from_value(json!({
        "intervention": "pre_tool_call",
        "actor": {"principal": {"id": "u-123", "kind": "user", "roles": ["support"]},
                  "tenant": tenant, "session": "s-1",
                  "agent": {"id": "refund-bot", "version": "1.4.0"}},
        "tool": "approve_refund", "args": args
    }))
    .unwrap();
    let decision: Decision = serde_json::from_value(json!({
        "decision_id": format!("dec_{n:06}"), "outcome": "allow",
        "reasons": [{"code": "rule", "rule": "refunds.small", "message": "matched"}],
        "policy": {"name": "support", "version": "2.4.1", "digest": format!("sha256:{}", "28".repeat(32))},
        "constraints": null, "rewritten_args": null, "approval": null, "mode": "enforce", "receipt": null
    }))
    .unwrap();
    let entry = Entry::decision(&request, &decision, Timestamp::from_unix_millis(T0 + n)).unwrap();
    AppendRequest::new(entry, args.as_object().cloned())
}

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
                .append_blocking(entry(&format!("t{}", n % logs), n))
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
