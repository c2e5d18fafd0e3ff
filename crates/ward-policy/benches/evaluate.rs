//! Criterion benchmarks of policy evaluation on the 1,000-rule corpus
//! (`common/mod.rs`): per scenario, evaluation alone and request JSON
//! parsing plus evaluation; and loading plus compiling the bundle.
//!
//! Only the public API is used (`load`, `evaluate`), so the benchmarks need
//! no change when the compiled CEL evaluator replaces the interim one.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark harness")]

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use ward_core::Request;
use ward_policy::{evaluate, load};

fn bench_evaluate(c: &mut Criterion) {
    let yaml = common::bundle_yaml();
    let loaded = load(&[("bundle.yaml", &yaml)]).expect("the corpus bundle loads");
    let compiled = &loaded.compiled;
    for scenario in common::scenarios() {
        let request = Request::from_json(scenario.request_json.as_bytes()).expect("request parses");
        let got = evaluate(compiled, &request, &scenario.facts);
        assert_eq!(
            got.outcome.as_str(),
            scenario.expected,
            "scenario `{}`: {got:?}",
            scenario.name
        );
        let mut group = c.benchmark_group(format!("evaluate/{}", scenario.name));
        group.bench_function("eval", |b| {
            b.iter(|| evaluate(compiled, black_box(&request), black_box(&scenario.facts)))
        });
        group.bench_function("parse+eval", |b| {
            b.iter(|| {
                let request = Request::from_json(black_box(scenario.request_json.as_bytes()))
                    .expect("request parses");
                evaluate(compiled, &request, black_box(&scenario.facts))
            })
        });
        group.finish();
    }
}

fn bench_load(c: &mut Criterion) {
    let yaml = common::bundle_yaml();
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.bench_function("load+compile/1000-rules", |b| {
        b.iter(|| load(&[("bundle.yaml", black_box(&yaml))]).expect("the corpus bundle loads"))
    });
    group.finish();
}

criterion_group!(benches, bench_evaluate, bench_load);
criterion_main!(benches);
