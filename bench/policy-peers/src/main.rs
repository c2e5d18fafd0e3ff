//! Ward's policy evaluation next to Cedar, Rego (regorus) and the `cel`
//! crate, on the same 1,000-rule policy and the same scenarios, in one
//! process. Prints p50/p99 per engine and scenario, the ratio of each peer
//! to Ward, load time and retained memory, and fails if any engine's outcome
//! differs from the expected one.
//!
//! `cargo run --release`; environment: `PEERS_BUDGET_MS` (time per
//! engine × scenario × mode, default 1500), `PEERS_MAX_ITERS` (default
//! 100000), `PEERS_MIN_ITERS` (default 2000).

#[path = "../../../crates/ward-policy/benches/common/mod.rs"]
mod common;

mod alloc_count;
mod cedar_peer;
mod cel_peer;
mod rego_peer;

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use ward_core::Request;
use ward_policy::{evaluate, load};

#[global_allocator]
static ALLOC: alloc_count::Counting = alloc_count::Counting;

type Decide<'a> = Box<dyn FnMut() -> &'static str + 'a>;

/// One engine's two ways of deciding one scenario.
struct Case<'a> {
    /// From input already in the engine's own form.
    eval: Decide<'a>,
    /// From the request body (JSON bytes) and the facts.
    end_to_end: Decide<'a>,
}

struct Loaded {
    name: &'static str,
    load_ms: f64,
    retained: i64,
}

fn measure_load<T>(name: &'static str, f: impl FnOnce() -> Result<T>) -> Result<(T, Loaded)> {
    let before = alloc_count::live();
    let start = Instant::now();
    let value = f()?;
    let load_ms = start.elapsed().as_secs_f64() * 1e3;
    let retained = alloc_count::live() - before;
    Ok((
        value,
        Loaded {
            name,
            load_ms,
            retained,
        },
    ))
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Times individual calls: warm up, size the sample to the time budget, then
/// record each call's duration.
fn sample(f: &mut Decide<'_>) -> (u64, u64, usize) {
    let budget = Duration::from_millis(env("PEERS_BUDGET_MS", 1500));
    let max = env("PEERS_MAX_ITERS", 100_000) as usize;
    let min = env("PEERS_MIN_ITERS", 2_000) as usize;
    let warm = Instant::now();
    let mut warm_n = 0usize;
    while warm_n < 200 || (warm.elapsed() < Duration::from_millis(100) && warm_n < max) {
        black_box(f());
        warm_n += 1;
    }
    let per = warm.elapsed().as_secs_f64() / warm_n as f64;
    let n = ((budget.as_secs_f64() / per) as usize).clamp(min, max);
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        black_box(f());
        times.push(start.elapsed().as_nanos() as u64);
    }
    times.sort_unstable();
    (
        common::percentile(&times, 50.0),
        common::percentile(&times, 99.0),
        n,
    )
}

fn main() -> Result<()> {
    let scenarios = common::scenarios();
    let yaml = common::bundle_yaml();

    let mut loads = Vec::new();
    let (ward, l) = measure_load("ward", || Ok(load(&[("bundle.yaml", &yaml)])?))?;
    loads.push(l);
    let (cedar_all, l) = measure_load("cedar (unsliced)", cedar_peer::Unsliced::load)?;
    loads.push(l);
    let (cedar_sliced, l) = measure_load("cedar (sliced)", cedar_peer::Sliced::load)?;
    loads.push(l);
    let (rego_explicit, l) = measure_load("rego (explicit)", || {
        rego_peer::Rego::load(rego_peer::explicit_policy(), None)
    })?;
    loads.push(l);
    let (rego_data, l) = measure_load("rego (data)", || {
        let (policy, data) = rego_peer::data_driven_policy();
        rego_peer::Rego::load(policy, Some(data))
    })?;
    loads.push(l);
    let (cel, l) = measure_load("cel crate (indexed)", cel_peer::CelPeer::load)?;
    loads.push(l);

    let compiled = &ward.compiled;
    let engines: Vec<&str> = loads.iter().map(|l| l.name).collect();
    let mut cases: Vec<Vec<Case<'_>>> = Vec::new();
    for s in &scenarios {
        let facts = &s.facts;
        let body = s.request_json.as_bytes();
        let request = Request::from_json(body)?;
        let cedar_in = cedar_peer::prepare(body, facts)?;
        let cedar_in2 = cedar_peer::prepare(body, facts)?;
        let rego_in = rego_peer::prepare(body, facts)?;
        let rego_in2 = rego_in.clone();
        let cel_in = cel_peer::prepare(body, facts)?;
        let (cedar_all, cedar_sliced, rego_explicit, rego_data, cel) =
            (&cedar_all, &cedar_sliced, &rego_explicit, &rego_data, &cel);
        cases.push(vec![
            Case {
                eval: Box::new(move || evaluate(compiled, &request, facts).outcome.as_str()),
                end_to_end: Box::new(move || match Request::from_json(body) {
                    Ok(r) => evaluate(compiled, &r, facts).outcome.as_str(),
                    Err(_) => "deny",
                }),
            },
            Case {
                eval: Box::new(move || cedar_all.decide(&cedar_in)),
                end_to_end: Box::new(move || match cedar_peer::prepare(body, facts) {
                    Ok(p) => cedar_all.decide(&p),
                    Err(_) => "deny",
                }),
            },
            Case {
                eval: Box::new(move || cedar_sliced.decide(&cedar_in2)),
                end_to_end: Box::new(move || match cedar_peer::prepare(body, facts) {
                    Ok(p) => cedar_sliced.decide(&p),
                    Err(_) => "deny",
                }),
            },
            Case {
                eval: Box::new(move || rego_explicit.decide(&rego_in)),
                end_to_end: Box::new(move || match rego_peer::prepare(body, facts) {
                    Ok(p) => rego_explicit.decide(&p),
                    Err(_) => "deny",
                }),
            },
            Case {
                eval: Box::new(move || rego_data.decide(&rego_in2)),
                end_to_end: Box::new(move || match rego_peer::prepare(body, facts) {
                    Ok(p) => rego_data.decide(&p),
                    Err(_) => "deny",
                }),
            },
            Case {
                eval: Box::new(move || cel.decide(&cel_in)),
                end_to_end: Box::new(move || match cel_peer::prepare(body, facts) {
                    Ok(p) => cel.decide(&p),
                    Err(_) => "deny",
                }),
            },
        ]);
    }

    // Honesty check first: every engine, both modes, the expected outcome.
    let mut mismatches = Vec::new();
    for (s, row) in scenarios.iter().zip(cases.iter_mut()) {
        for (engine, case) in engines.iter().zip(row.iter_mut()) {
            for (mode, got) in [("eval", (case.eval)()), ("end-to-end", (case.end_to_end)())] {
                if got != s.expected {
                    mismatches.push(format!(
                        "{} / {engine} / {mode}: got {got}, expected {}",
                        s.name, s.expected
                    ));
                }
            }
        }
    }
    if mismatches.is_empty() {
        println!(
            "outcome check: all {} engines agree on all {} scenarios",
            engines.len(),
            scenarios.len()
        );
    } else {
        for m in &mismatches {
            println!("OUTCOME MISMATCH: {m}");
        }
    }

    println!("\n## Load and memory (1,000-rule policy)\n");
    println!("| engine | load+compile ms | retained bytes |");
    println!("|---|---:|---:|");
    for l in &loads {
        println!("| {} | {:.1} | {} |", l.name, l.load_ms, l.retained);
    }

    // results[scenario][engine][mode] = (p50, p99, n)
    let mut results = Vec::new();
    for (s, row) in scenarios.iter().zip(cases.iter_mut()) {
        let mut per_engine = Vec::new();
        for (engine, case) in engines.iter().zip(row.iter_mut()) {
            let e = sample(&mut case.eval);
            let x = sample(&mut case.end_to_end);
            eprintln!("{} / {engine}: eval {e:?}, end-to-end {x:?}", s.name);
            per_engine.push([e, x]);
        }
        results.push(per_engine);
    }

    for (mode_i, mode) in [
        "eval only (input prebuilt)",
        "end to end (request JSON + facts → outcome)",
    ]
    .iter()
    .enumerate()
    {
        println!("\n## {mode}: p50 / p99 in ns\n");
        print!("| scenario |");
        for e in &engines {
            print!(" {e} |");
        }
        println!();
        print!("|---|");
        for _ in &engines {
            print!("---:|");
        }
        println!();
        for (s, per_engine) in scenarios.iter().zip(&results) {
            print!("| {} |", s.name);
            for r in per_engine {
                let (p50, p99, _) = r[mode_i];
                print!(" {p50} / {p99} |");
            }
            println!();
        }
        println!("\n### {mode}: peer ÷ Ward (p50 / p99; above 1 means Ward is faster)\n");
        print!("| scenario |");
        for e in engines.iter().skip(1) {
            print!(" {e} |");
        }
        println!();
        print!("|---|");
        for _ in engines.iter().skip(1) {
            print!("---:|");
        }
        println!();
        for (s, per_engine) in scenarios.iter().zip(&results) {
            print!("| {} |", s.name);
            let (w50, w99, _) = per_engine[0][mode_i];
            for r in per_engine.iter().skip(1) {
                let (p50, p99, _) = r[mode_i];
                print!(
                    " {:.2} / {:.2} |",
                    p50 as f64 / w50.max(1) as f64,
                    p99 as f64 / w99.max(1) as f64
                );
            }
            println!();
        }
    }
    let min_n = results
        .iter()
        .flatten()
        .flatten()
        .map(|r| r.2)
        .min()
        .unwrap_or(0);
    println!(
        "\nsamples per cell: between {min_n} and {} (time-budgeted)",
        env("PEERS_MAX_ITERS", 100_000)
    );
    if !mismatches.is_empty() {
        bail!("{} outcome mismatch(es)", mismatches.len());
    }
    Ok(())
}
