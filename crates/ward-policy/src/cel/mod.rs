//! CEL conditions: parsed once by the `cel` crate, compiled into Ward's own
//! evaluator.
//!
//! Why our own evaluator: the `cel` crate's interpreter needs a `Context`
//! built per request (every variable converted into its value model), looks
//! functions up by name and compiles a `matches()` regex on every call. Ward
//! evaluates thousands of conditions per second on the hot path, so
//! [`compile`] checks a condition against the declared [`Shape`] once, at
//! load, and lowers it into a small tree whose variable reads are direct
//! lookups into a borrowed [`Activation`]. The `cel` crate's interpreter is
//! kept as [`reference`], the oracle of the differential tests.
//!
//! INTERFACE CONTRACT (the rest of the crate relies on exactly these items):
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
//!
//! Semantics worth knowing (all shared with the reference):
//!
//! - `a && b` is `false` if either side is `false`, even when the other side
//!   is an error or not a bool; `a || b` is `true` if either side is `true`.
//!   Otherwise an error on either side is the result. `exists()` and `all()`
//!   absorb errors the same way; `exists_one()`, `map()` and `filter()` do not.
//! - Numbers compare (`==`, `<`, ...) across `int`, `uint` and `double`; the
//!   integer side is converted to the nearest double when the other is a
//!   double. Ordering a `NaN` is an error; `NaN == x` is false.
//! - Arithmetic needs both sides of one type; `int` and `uint` overflow,
//!   division and modulo by zero are errors.
//! - Reading a missing key of `args`, `context` or any map is an error, as is
//!   reading `tool`, `action`, `target`, `content` or `source` when the
//!   request has none. `has()` tests a key without erroring.
//! - JSON numbers are `int` when they fit an `i64`, else `uint` when they fit
//!   a `u64`, else `double`. A map finds a numeric key under any numeric
//!   type holding the same number (`{1u: 'a'}[1]`), and a list takes a whole
//!   `double` as an index, as in cel-go.
//!
//! The one deviation from the reference: `list + map` is an error here, as
//! CEL has no such overload; the reference appends the map's keys.
//!
//! Compile-time refusals the reference would only discover at run time (or
//! never): undeclared variables and fields, field selection on a declared
//! scalar, a comprehension over a declared scalar, a `matches()` pattern that
//! is not a valid string literal regex, and anything outside the supported
//! subset (bytes, `type()`, timestamps, extension functions, optional syntax,
//! message literals).

use ward_core::Request;

use crate::facts::{Facts, ToolFacts};

mod compile;
mod eval;
mod node;
pub mod reference;
#[cfg(test)]
mod tests;
mod value;

// The bundle compiler (outside this module) is the caller.
#[allow(unused_imports, reason = "called by the bundle compiler")]
pub(crate) use compile::{compile, on_parser_stack};
pub use node::Program;
pub use value::{Key, Record, Value};

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

/// Why a condition could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CelError {
    message: String,
    offset: Option<usize>,
}

impl CelError {
    pub(crate) fn new(message: impl Into<String>, offset: Option<usize>) -> CelError {
        CelError {
            message: message.into(),
            offset,
        }
    }

    /// What is wrong, with the offending input in backticks.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The byte offset into the condition's source, where known.
    pub fn offset(&self) -> Option<usize> {
        self.offset
    }
}

/// Why a condition could not be evaluated. The rule engine treats any error
/// as fail-closed (see `ARCHITECTURE.md` §3), so the variants exist for
/// diagnostics, not for recovery.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A map has no such key.
    #[error("no such key `{0}`")]
    NoSuchKey(String),
    /// A variable the request does not carry, such as `tool` or `content`.
    #[error("`{0}` is not set for this request")]
    Unset(&'static str),
    /// An operator or function applied to types it has no overload for.
    #[error("no such overload: `{op}` applied to `({args})`")]
    NoSuchOverload {
        /// The operator or function.
        op: &'static str,
        /// The argument types, comma separated.
        args: String,
    },
    /// Integer overflow.
    #[error("integer overflow in `{0}`")]
    Overflow(&'static str),
    /// Integer division by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// Integer modulo by zero.
    #[error("modulo by zero")]
    ModuloByZero,
    /// A list index out of range.
    #[error("index `{0}` out of bounds")]
    IndexOutOfBounds(String),
    /// An ordering involving `NaN`.
    #[error("`NaN` cannot be ordered")]
    NotComparable,
    /// A value of a type that cannot be a map key.
    #[error("a `{0}` cannot be a map key")]
    UnsupportedKey(&'static str),
    /// A map literal repeats a key.
    #[error("repeated map key")]
    DuplicateKey,
    /// A failed conversion, such as `int('x')` or `int(1e300)`.
    #[error("conversion failed: {0}")]
    Conversion(String),
    /// The condition did not evaluate to a bool.
    #[error("condition evaluated to a `{0}`, not a `bool`")]
    NotBool(&'static str),
}

impl EvalError {
    pub(crate) fn overload(op: &'static str, args: &[&Value<'_>]) -> EvalError {
        let names: Vec<&str> = args.iter().map(|v| v.type_name()).collect();
        EvalError::NoSuchOverload {
            op,
            args: names.join(", "),
        }
    }
}
