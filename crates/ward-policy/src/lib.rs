//! Ward policy bundles: parsing, validation, compilation and evaluation.
//!
//! This crate is pure. It reads no files, clocks or environment: callers pass
//! the bundle's text, the request and the engine's [`Facts`], and get back an
//! [`Evaluation`] that is a deterministic function of those inputs.

mod cel;
mod facts;
mod shape;

pub use cel::{reference, Activation, CelError, EvalError, Program};
pub use cel::{Key as CelKey, Record as CelRecord, Value as CelValue};

pub use facts::{ArgProvenance, Facts, Finding, LimitState, ProvenanceLabel, ToolFacts};
