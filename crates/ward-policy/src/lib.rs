//! Ward policy bundles: parsing, validation, compilation and evaluation.
//!
//! This crate is pure. It reads no files, clocks or environment: callers pass
//! the bundle's text, the request and the engine's [`Facts`], and get back an
//! [`Evaluation`] that is a deterministic function of those inputs.

mod bundle;
mod cel;
mod facts;
mod shape;

pub use bundle::compiled::{ApprovalRequirement, Compiled, LimitDecl};
pub use bundle::eval::{evaluate, Evaluation, Firing};
pub use bundle::load::{load, LoadError, Loaded};
pub use bundle::model::Scanners;
pub use bundle::yaml::{Diagnostic, Location, Severity};
pub use cel::{Activation, CelError, EvalError, Program};
pub use facts::{ArgProvenance, Facts, Finding, LimitState, ProvenanceLabel, ToolFacts};
