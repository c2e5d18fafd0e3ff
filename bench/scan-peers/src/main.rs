//! Ward's side of `bench/scan-peers/run.sh`.
//!
//! - `rows FILE...`: each JSONL row of the labelled corpus scanned alone
//!   with `DefaultScanners`; prints one JSON line per row (`id` and the
//!   finding kinds) and, last, a line with the time per row (median of
//!   21 warm passes).
//! - `throughput FILE ROUNDS`: the whole file scanned `ROUNDS` times by
//!   the default set and by each scanner alone; prints one JSON line per
//!   scanner with the median MiB/s.

use std::hint::black_box;
use std::time::Instant;

use serde_json::{json, Value};
use ward_scan::DefaultScanners;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scanners = DefaultScanners::new();
    match args.first().map(String::as_str) {
        Some("rows") => rows(&scanners, args.get(1..).unwrap_or(&[])),
        Some("throughput") => {
            let path = args.get(1).ok_or("throughput FILE ROUNDS")?;
            let rounds: usize = args
                .get(2)
                .map_or(Ok(21), |r| r.parse())
                .map_err(|e| format!("rounds: {e}"))?;
            throughput(&scanners, path, rounds.max(1))
        }
        _ => Err("usage: ward-scan-peers rows FILE... | throughput FILE ROUNDS".into()),
    }
}

fn rows(scanners: &DefaultScanners, files: &[String]) -> Result<(), String> {
    let mut texts = Vec::new();
    for f in files {
        let data = std::fs::read_to_string(f).map_err(|e| format!("`{f}`: {e}"))?;
        for line in data.lines().filter(|l| !l.trim().is_empty()) {
            let row: Value = serde_json::from_str(line).map_err(|e| format!("`{f}`: {e}"))?;
            let id = row["id"].as_str().unwrap_or_default().to_owned();
            let text = row["text"].as_str().unwrap_or_default().to_owned();
            texts.push((id, text));
        }
    }
    // One pass to warm up (lazily built tables, caches), one timed.
    let mut out = Vec::with_capacity(texts.len());
    for (id, text) in &texts {
        let found = scanners.scan(text).map_err(|e| e.to_string())?;
        let kinds: Vec<String> = found.into_iter().map(|f| f.kind).collect();
        out.push(json!({ "id": id, "kinds": kinds }));
    }
    let passes: Vec<f64> = (0..21)
        .map(|_| {
            let started = Instant::now();
            for (_, text) in &texts {
                black_box(scanners.scan(black_box(text)).ok());
            }
            started.elapsed().as_secs_f64()
        })
        .collect();
    let elapsed = median(passes);
    for o in out {
        println!("{o}");
    }
    println!(
        "{}",
        json!({ "rows": texts.len(), "us_per_row": elapsed * 1e6 / texts.len().max(1) as f64 })
    );
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn throughput(scanners: &DefaultScanners, path: &str, rounds: usize) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("`{path}`: {e}"))?;
    let mib = text.len() as f64 / f64::from(1u32 << 20);
    let time = |f: &dyn Fn()| {
        f();
        median(
            (0..rounds)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64()
                })
                .collect(),
        )
    };
    let t = time(&|| {
        black_box(scanners.scan(black_box(&text)).ok());
    });
    println!("{}", json!({ "scanner": "default_set", "mib_s": mib / t }));
    for s in scanners.scanners() {
        let t = time(&|| {
            black_box(s.scan(black_box(&text)));
        });
        println!("{}", json!({ "scanner": s.name(), "mib_s": mib / t }));
    }
    Ok(())
}
