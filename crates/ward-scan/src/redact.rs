//! Redaction: replace the bytes of findings, and only those bytes.
//!
//! Three modes: `Mask` writes `[REDACTED:<kind>]`; `Hash` writes
//! `[<kind>:sha256:<12 hex>]`, an HMAC-SHA256 of the value keyed by a
//! caller-provided salt (so equal values can be correlated within one
//! deployment without being reversible by a dictionary elsewhere);
//! `Partial` keeps the last four letters or digits and separators and
//! stars the rest. Overlapping findings are merged and labelled with the
//! most confident kind. Spans that are out of range or not on char
//! boundaries are ignored, never trusted. `redact_json` walks a JSON value
//! iteratively (no recursion limit to hit) and redacts strings in place.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::ScanError;
use crate::finding::{Finding, Span};
use crate::scanner::DefaultScanners;

/// How to replace a finding's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedactMode<'a> {
    /// `[REDACTED:pii.ssn]`.
    Mask,
    /// `[pii.ssn:sha256:<first 12 hex>]`, keyed by `salt`.
    Hash {
        /// The deployment's secret salt.
        salt: &'a [u8],
    },
    /// Keep the last four letters or digits: `***-**-6789`.
    Partial,
}

/// Merged, valid spans with the kind of their most confident finding.
fn merged_spans<'f>(text: &str, findings: &'f [Finding]) -> Vec<(Span, &'f str)> {
    let mut valid: Vec<&Finding> = findings
        .iter()
        .filter(|f| {
            f.span.start < f.span.end
                && f.span.end <= text.len()
                && text.is_char_boundary(f.span.start)
                && text.is_char_boundary(f.span.end)
        })
        .collect();
    valid.sort_by(|a, b| {
        a.span
            .start
            .cmp(&b.span.start)
            .then_with(|| b.span.end.cmp(&a.span.end))
    });
    let mut out: Vec<(Span, &'f str, f64)> = Vec::new();
    for f in valid {
        match out.last_mut() {
            Some((span, kind, conf)) if f.span.start < span.end => {
                span.end = span.end.max(f.span.end);
                if f.confidence > *conf {
                    *kind = &f.kind;
                    *conf = f.confidence;
                }
            }
            _ => out.push((f.span, &f.kind, f.confidence)),
        }
    }
    out.into_iter().map(|(s, k, _)| (s, k)).collect()
}

/// `text` with every finding's bytes replaced; all other bytes unchanged.
pub fn redact(text: &str, findings: &[Finding], mode: RedactMode<'_>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (span, kind) in merged_spans(text, findings) {
        out.push_str(text.get(at..span.start).unwrap_or(""));
        let value = text.get(span.start..span.end).unwrap_or("");
        out.push_str(&replacement(value, kind, mode));
        at = span.end;
    }
    out.push_str(text.get(at..).unwrap_or(""));
    out
}

fn replacement(value: &str, kind: &str, mode: RedactMode<'_>) -> String {
    match mode {
        RedactMode::Mask => format!("[REDACTED:{kind}]"),
        RedactMode::Hash { salt } => {
            let mac = hmac_sha256(salt, value.as_bytes());
            let hex = hex::encode(mac);
            format!("[{kind}:sha256:{}]", hex.get(..12).unwrap_or(&hex))
        }
        RedactMode::Partial => partial(value),
    }
}

fn partial(value: &str) -> String {
    let alnum = value.chars().filter(|c| c.is_alphanumeric()).count();
    let keep_from = if alnum > 4 { alnum - 4 } else { alnum };
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                seen += 1;
                if seen > keep_from {
                    c
                } else {
                    '*'
                }
            } else {
                c
            }
        })
        .collect()
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        let d = Sha256::digest(key);
        for (b, k) in block.iter_mut().zip(d.iter()) {
            *b = *k;
        }
    } else {
        for (b, k) in block.iter_mut().zip(key) {
            *b = *k;
        }
    }
    let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// Scans and redacts every string (and number) in `value`, in place,
/// keeping the structure; object keys are left alone. A number with a
/// finding becomes its redacted string. Returns how many values changed.
/// Fails, changing nothing further, if a string is over the scan limit.
pub fn redact_json(
    value: &mut Value,
    scanners: &DefaultScanners,
    mode: RedactMode<'_>,
) -> Result<usize, ScanError> {
    let mut changed = 0;
    let mut stack: Vec<&mut Value> = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => {
                let findings = scanners.scan(s)?;
                if !findings.is_empty() {
                    *s = redact(s, &findings, mode);
                    changed += 1;
                }
            }
            Value::Number(n) => {
                let s = n.to_string();
                let findings = scanners.scan(&s)?;
                if !findings.is_empty() {
                    *v = Value::String(redact(&s, &findings, mode));
                    changed += 1;
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut().rev()),
            Value::Object(map) => stack.extend(map.values_mut().rev()),
            Value::Null | Value::Bool(_) => {}
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(kind: &str, s: usize, e: usize, c: f64) -> Finding {
        Finding::new(kind, "r", Span::new(s, e), c)
    }

    #[test]
    fn modes() {
        let t = "ssn 536-22-5476 ok";
        let fs = [f("pii.ssn", 4, 15, 0.9)];
        assert_eq!(
            redact(t, &fs, RedactMode::Mask),
            "ssn [REDACTED:pii.ssn] ok"
        );
        assert_eq!(redact(t, &fs, RedactMode::Partial), "ssn ***-**-5476 ok");
        let h = redact(t, &fs, RedactMode::Hash { salt: b"s" });
        assert!(
            h.starts_with("ssn [pii.ssn:sha256:") && h.ends_with("] ok"),
            "{h}"
        );
        assert_ne!(h, redact(t, &fs, RedactMode::Hash { salt: b"t" }));
    }

    #[test]
    fn bad_spans_are_ignored_and_overlaps_merged() {
        let t = "héllo world";
        let fs = [
            f("pii.x", 2, 3, 0.5),
            f("pii.y", 0, 100, 0.5),
            f("a.b", 7, 10, 0.4),
            f("c.d", 8, 12, 0.8),
        ];
        assert_eq!(redact(t, &fs, RedactMode::Mask), "héllo [REDACTED:c.d]");
    }

    #[test]
    fn hmac_vector() {
        // RFC 4231 test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
