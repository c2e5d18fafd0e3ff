//! Arbitrary bytes through every scanner and every redaction mode: no
//! panic, spans inside the input and on char boundaries, the same findings
//! twice, and redaction that keeps every byte outside the findings.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ward_scan::{redact, DefaultScanners, RedactMode};

static SCANNERS: OnceLock<DefaultScanners> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let scanners = SCANNERS.get_or_init(DefaultScanners::new);
    let Ok(findings) = scanners.scan_bytes(data) else {
        return;
    };
    for f in &findings {
        if f.span.start > f.span.end || f.span.end > data.len() || !(0.0..=1.0).contains(&f.confidence) {
            std::process::abort();
        }
    }
    if scanners.scan_bytes(data).ok().as_ref() != Some(&findings) {
        std::process::abort();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        for s in scanners.scanners() {
            let _ = s.scan(text);
        }
        for mode in [RedactMode::Mask, RedactMode::Partial, RedactMode::Hash { salt: b"fuzz" }] {
            let out = redact(text, &findings, mode);
            let first = findings.iter().map(|f| f.span.start).min().unwrap_or(text.len());
            let last = findings.iter().map(|f| f.span.end).max().unwrap_or(text.len());
            let (Some(head), Some(tail)) = (text.get(..first), text.get(last..)) else {
                std::process::abort();
            };
            if !out.starts_with(head) || !out.ends_with(tail) {
                std::process::abort();
            }
        }
    }
});
