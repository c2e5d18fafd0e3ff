//! Ward policy bundles: parsing, validation, compilation and evaluation.
//!
//! This crate is pure. It reads no files, clocks or environment: callers pass
//! the bundle's text, the request and the engine's [`Facts`], and get back an
//! [`Evaluation`] that is a deterministic function of those inputs.

mod bundle;
mod cel;
mod facts;
mod reach;
mod shape;
mod suggest;

pub use bundle::compiled::{ApprovalRequirement, Compiled, LimitDecl, OutputTrust};
pub use bundle::decide::{decide, decide_digested, rfc3339, to_decision};
pub use bundle::diff::{diff, BundleDiff};
pub use bundle::eval::{evaluate, Evaluation, Firing};
pub use bundle::explain::{explain, Explanation, RuleTrace, Verdict};
pub use bundle::load::{load, LoadError, Loaded};
pub use bundle::model::Scanners;
pub use bundle::sign::{
    public_key_text, secret_key_text, sign_digest, verify_digest, BundleSignature, SignatureError,
};
pub use bundle::suite::{parse_suite, run_suite, Case, CaseResult, Expect, SuiteError};
pub use bundle::yaml::{Diagnostic, Location, Severity};
pub use cel::{reference, Activation, CelError, EvalError, Program};
pub use cel::{Key as CelKey, Record as CelRecord, Value as CelValue};
pub use facts::{ArgProvenance, Facts, Finding, LimitState, ProvenanceLabel, ToolFacts};
pub use reach::could_permit;
