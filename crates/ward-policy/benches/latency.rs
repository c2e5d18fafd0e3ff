//! Tail latency of policy evaluation on the 1,000-rule corpus.
//!
//! Criterion reports means and medians; the target in ARCHITECTURE §3 is a
//! p99. This harness times 100,000 individual evaluations per scenario with
//! `Instant` (the timer's own cost is measured and printed) and reports p50,
//! p99 and their ratios, for evaluation alone and for request JSON parsing
//! plus evaluation. It also reports bundle load+compile time and the growth
//! of the resident set across the load (a coarse memory figure; the peers
//! binary in `bench/policy-peers` counts allocated bytes exactly).
//!
//! `cargo bench -p ward-policy --bench latency`; set `WARD_BENCH_ITERS` to
//! change the sample count.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "benchmark harness"
)]

mod common;

use std::hint::black_box;
use std::time::Instant;

use ward_core::Request;
use ward_policy::{evaluate, load};

const TARGET_P99_NS: u64 = 5_000;

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn sample(iters: usize, mut f: impl FnMut()) -> Vec<u64> {
    for _ in 0..iters.min(1_000) {
        f();
    }
    let mut out = Vec::with_capacity(iters);
    for _ in 0..iters {
        let start = Instant::now();
        f();
        out.push(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
    }
    out.sort_unstable();
    out
}

fn main() {
    let iters: usize = std::env::var("WARD_BENCH_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let yaml = common::bundle_yaml();

    let before = resident_bytes();
    let loaded = load(&[("bundle.yaml", &yaml)]).expect("the corpus bundle loads");
    let after = resident_bytes();
    let compiled = &loaded.compiled;
    println!(
        "bundle: {} rules, {} bytes of YAML, {} load warning(s)",
        compiled.rule_count(),
        yaml.len(),
        loaded.warnings.len()
    );
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "resident set growth across load: {:.1} MiB (includes allocator slack from load temporaries)",
            a.saturating_sub(b) as f64 / 1048576.0
        );
    }
    let mut loads = sample(20, || {
        black_box(load(&[("bundle.yaml", &yaml)]).expect("loads"));
    });
    loads.sort_unstable();
    println!(
        "load+compile: p50 {:.2} ms, max {:.2} ms (20 runs)",
        common::percentile(&loads, 50.0) as f64 / 1e6,
        loads.last().copied().unwrap_or(0) as f64 / 1e6
    );

    let timer = sample(iters, || {
        black_box(Instant::now());
    });
    println!(
        "timer overhead: p50 {} ns, p99 {} ns (included in every figure below)",
        common::percentile(&timer, 50.0),
        common::percentile(&timer, 99.0)
    );
    println!("{iters} samples per row; target p99 {TARGET_P99_NS} ns");
    println!(
        "{:<24} {:<11} {:>9} {:>9} {:>8} {:>10}",
        "scenario", "mode", "p50 ns", "p99 ns", "p99/p50", "p99/target"
    );
    for scenario in common::scenarios() {
        let request = Request::from_json(scenario.request_json.as_bytes()).expect("request parses");
        let got = evaluate(compiled, &request, &scenario.facts);
        assert_eq!(
            got.outcome.as_str(),
            scenario.expected,
            "scenario `{}`: {got:?}",
            scenario.name
        );
        let fired: Vec<&str> = got
            .reasons
            .iter()
            .map(|r| r.rule.as_deref().unwrap_or(r.code.as_str()))
            .collect();
        println!(
            "{:<24} -> {} ({})",
            scenario.name,
            got.outcome.as_str(),
            fired.join(", ")
        );
        let eval = sample(iters, || {
            black_box(evaluate(
                compiled,
                black_box(&request),
                black_box(&scenario.facts),
            ));
        });
        let parse_eval = sample(iters, || {
            let request = Request::from_json(black_box(scenario.request_json.as_bytes()))
                .expect("request parses");
            black_box(evaluate(compiled, &request, black_box(&scenario.facts)));
        });
        for (mode, samples) in [("eval", &eval), ("parse+eval", &parse_eval)] {
            let p50 = common::percentile(samples, 50.0);
            let p99 = common::percentile(samples, 99.0);
            println!(
                "{:<24} {:<11} {:>9} {:>9} {:>8.2} {:>10.2}",
                scenario.name,
                mode,
                p50,
                p99,
                p99 as f64 / p50.max(1) as f64,
                p99 as f64 / TARGET_P99_NS as f64
            );
        }
    }
}
