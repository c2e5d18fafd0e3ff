//! Findings: what a scanner reports, and the order they are reported in.
//!
//! A finding names a kind (`pii.ssn`, `secret.github_token`,
//! `injection.override`), the byte span it covers in the scanned text, a
//! confidence between 0 and 1 and the rule that fired. The names mirror
//! `ward_policy::Finding { kind, rule, confidence, arg }` so the engine maps
//! one to the other field by field (the span and `arg` are the engine's
//! business). Lists of findings are always sorted by span start, then kind,
//! so the same text gives byte-identical output.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// A half-open byte range `start..end` in the scanned text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    /// First byte of the match.
    pub start: usize,
    /// One past the last byte of the match.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// Whether the span covers no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether two spans share at least one byte.
    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }

    pub(crate) fn shifted(self, by: usize) -> Span {
        Span::new(self.start.saturating_add(by), self.end.saturating_add(by))
    }
}

/// One scanner finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The kind, `family.detail`: `pii.ssn`, `secret.aws_access_key`,
    /// `injection.override`. The family is the text before the first `.`.
    pub kind: String,
    /// The rule that fired, such as `ssn-dashed` or a gitleaks rule id.
    pub rule: String,
    /// Where the match is, in bytes of the scanned text.
    pub span: Span,
    /// Confidence between 0 and 1.
    pub confidence: f64,
}

impl Finding {
    pub(crate) fn new(kind: &str, rule: &str, span: Span, confidence: f64) -> Self {
        Finding {
            kind: kind.to_owned(),
            rule: rule.to_owned(),
            span,
            confidence: round_confidence(confidence),
        }
    }

    /// The family of the kind: `pii` for `pii.ssn`.
    pub fn family(&self) -> &str {
        self.kind.split('.').next().unwrap_or(&self.kind)
    }
}

/// Confidences are rounded to 1/1000 and clamped to 0..=1, so that
/// arithmetic noise never changes serialised output.
pub(crate) fn round_confidence(c: f64) -> f64 {
    if c.is_nan() {
        return 0.0;
    }
    (c.clamp(0.0, 1.0) * 1000.0).round() / 1000.0
}

/// The canonical order: span start, kind, span end, rule, confidence.
pub(crate) fn canonical_order(a: &Finding, b: &Finding) -> Ordering {
    a.span
        .start
        .cmp(&b.span.start)
        .then_with(|| a.kind.cmp(&b.kind))
        .then_with(|| a.span.end.cmp(&b.span.end))
        .then_with(|| a.rule.cmp(&b.rule))
        .then_with(|| a.confidence.total_cmp(&b.confidence))
}

/// Sorts findings canonically and drops exact duplicates (same kind and
/// span; the highest confidence wins).
pub(crate) fn normalise(findings: &mut Vec<Finding>) {
    findings.sort_by(|a, b| {
        a.span
            .cmp(&b.span)
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| b.confidence.total_cmp(&a.confidence))
            .then_with(|| a.rule.cmp(&b.rule))
    });
    findings.dedup_by(|later, earlier| later.span == earlier.span && later.kind == earlier.kind);
    findings.sort_by(canonical_order);
}
