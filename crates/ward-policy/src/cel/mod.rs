//! CEL conditions: parsed once by the `cel` crate, compiled into Ward's own
//! evaluator.
//!
//! INTERFACE CONTRACT (owned by the CEL work; the rest of the crate relies on
//! exactly these items):
//!
//! - `compile(source, &Shape) -> Result<Program, CelError>`: parse with the
//!   `cel` crate, check every variable and field path against the shape
//!   (undeclared → `CelError` naming the path and, when close, a suggestion),
//!   compile regexes of `matches()` (literal patterns only) once, and lower
//!   the AST into a tree the evaluator walks without building a context map.
//! - `Program::eval_bool(&Activation) -> Result<bool, EvalError>`: evaluate
//!   against a borrowed view of the request, the tool's catalog facts and the
//!   engine's facts. A non-bool result is an error.
//! - `CelError` carries a byte offset into `source` where known, so the loader
//!   can map it to a line and column of the bundle file.
//! - `reference::eval(source, &Activation)`: the `cel` crate's own
//!   interpreter over a context built from the same activation; it is the
//!   reference for differential tests and benchmarks.

use ward_core::Request;

use crate::facts::{Facts, ToolFacts};

pub(crate) mod reference;

/// The borrowed view a condition is evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct Activation<'a> {
    /// The request as sent.
    pub request: &'a Request,
    /// The catalog's facts about the requested tool, if it has one.
    pub tool: Option<&'a ToolFacts>,
    /// The engine's facts.
    pub facts: &'a Facts,
}

mod standin;
pub(crate) use standin::compile;
pub use standin::{CelError, EvalError, Program};
