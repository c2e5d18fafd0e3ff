//! Facts: what the engine knows about a request besides the request itself.
//!
//! Evaluation is a pure function of the compiled bundle, the request and
//! these facts. The engine gathers them (the clock, scanners, the provenance
//! index, limit counters) and passes them in, so the same inputs always give
//! the same decision.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything evaluation may read besides the request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// The decision time, in seconds since the Unix epoch (CEL `now`).
    #[serde(default)]
    pub now: i64,
    /// Scanner findings on the request's arguments or content.
    #[serde(default)]
    pub scan: Vec<Finding>,
    /// Provenance of each string argument, by argument name.
    #[serde(default)]
    pub provenance: BTreeMap<String, ArgProvenance>,
    /// The state of each limit the bundle declares, by limit name.
    #[serde(default)]
    pub limits: BTreeMap<String, LimitState>,
}

/// One scanner finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// `injection`, `pii`, `secret`, or a finer kind such as `pii.ssn`.
    pub kind: String,
    /// The scanner rule that fired.
    pub rule: String,
    /// Confidence between 0 and 1.
    pub confidence: f64,
    /// The argument the finding is in, if any (else it is in `content`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg: Option<String>,
}

impl Finding {
    /// The top-level family of the kind: `pii` for `pii.ssn`.
    pub fn family(&self) -> &str {
        self.kind.split('.').next().unwrap_or(&self.kind)
    }
}

pub use ward_core::{ArgProvenance, ProvenanceLabel};

/// The state of one declared limit before this request.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitState {
    /// Used in the current window.
    pub used: f64,
    /// The declared limit.
    pub limit: f64,
}

impl LimitState {
    /// What is left in the window, never negative.
    pub fn remaining(&self) -> f64 {
        (self.limit - self.used).max(0.0)
    }

    /// Whether the window is used up.
    pub fn exceeded(&self) -> bool {
        self.used >= self.limit
    }
}

/// What the catalog says about a tool. CEL reads it as `tool.*`; it never
/// comes from the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolFacts {
    /// The tool name.
    pub name: String,
    /// Capability label, such as `read`, `write`, `infra` or `payment`.
    pub capability: String,
    /// Risk tier: `low`, `medium`, `high` or `critical`.
    pub risk: String,
    /// Whether the tool has side effects.
    pub consequential: bool,
}
