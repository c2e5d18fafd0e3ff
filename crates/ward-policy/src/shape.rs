//! The declared shape of the data a CEL condition may read.
//!
//! A rule's condition is checked against a [`Shape`] at load, so that
//! `args.amuont` is an error when the tool's schema declares `amount`. Shapes
//! come from the fixed request model and from the argument schemas of the
//! tools a rule can match.

use std::collections::BTreeMap;

/// The declared shape of a value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shape {
    /// Anything; fields are not checked (for `context` and `principal.attrs`).
    Any,
    /// A string.
    String,
    /// An integer (CEL `int`).
    Int,
    /// A number that may be fractional (CEL `double`, or `int` if integral JSON).
    Number,
    /// A boolean.
    Bool,
    /// A list with elements of one shape.
    List(Box<Shape>),
    /// A map with string keys and values of one shape, keys not declared.
    Map(Box<Shape>),
    /// An object with declared fields; reading an undeclared field is an error.
    Object(BTreeMap<String, Shape>),
}

impl Shape {
    /// An object shape from `(name, shape)` pairs.
    pub(crate) fn object<const N: usize>(fields: [(&str, Shape); N]) -> Shape {
        Shape::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// The shape of field `name`, or `None` when it is not declared.
    pub(crate) fn field(&self, name: &str) -> Option<&Shape> {
        match self {
            Shape::Any => Some(&Shape::Any),
            Shape::Map(values) => Some(values),
            Shape::Object(fields) => fields.get(name),
            _ => None,
        }
    }

    /// The least shape that covers both: used when a rule matches several
    /// tools, so a field declared by any of them may be read.
    pub(crate) fn union(self, other: Shape) -> Shape {
        match (self, other) {
            (a, b) if a == b => a,
            (Shape::Object(mut a), Shape::Object(b)) => {
                for (k, v) in b {
                    let merged = match a.remove(&k) {
                        Some(existing) => existing.union(v),
                        None => v,
                    };
                    a.insert(k, merged);
                }
                Shape::Object(a)
            }
            (Shape::Int, Shape::Number) | (Shape::Number, Shape::Int) => Shape::Number,
            (Shape::List(a), Shape::List(b)) => Shape::List(Box::new(a.union(*b))),
            (Shape::Map(a), Shape::Map(b)) => Shape::Map(Box::new(a.union(*b))),
            _ => Shape::Any,
        }
    }

    /// The shape of the variables every condition may read, with `args`
    /// given by the tools the rule can match.
    pub(crate) fn root(args: Shape) -> Shape {
        let strings = || Shape::List(Box::new(Shape::String));
        Shape::object([
            (
                "principal",
                Shape::object([
                    ("id", Shape::String),
                    ("kind", Shape::String),
                    ("roles", strings()),
                    ("attrs", Shape::Any),
                ]),
            ),
            ("tenant", Shape::String),
            ("session", Shape::String),
            (
                "agent",
                Shape::object([("id", Shape::String), ("version", Shape::String)]),
            ),
            (
                "tool",
                Shape::object([
                    ("name", Shape::String),
                    ("capability", Shape::String),
                    ("risk", Shape::String),
                    ("consequential", Shape::Bool),
                ]),
            ),
            ("intervention", Shape::String),
            ("action", Shape::String),
            ("target", Shape::String),
            ("args", args),
            ("context", Shape::Any),
            ("content", Shape::String),
            (
                "source",
                Shape::object([
                    ("kind", Shape::String),
                    ("tool", Shape::String),
                    ("uri", Shape::String),
                ]),
            ),
            (
                "scan",
                Shape::object([
                    ("injection", Shape::Bool),
                    ("pii", Shape::Bool),
                    ("secret", Shape::Bool),
                    ("kinds", strings()),
                    (
                        "findings",
                        Shape::List(Box::new(Shape::object([
                            ("kind", Shape::String),
                            ("rule", Shape::String),
                            ("confidence", Shape::Number),
                            ("arg", Shape::String),
                        ]))),
                    ),
                ]),
            ),
            (
                "provenance",
                Shape::object([(
                    "args",
                    Shape::Map(Box::new(Shape::object([
                        ("trusted", Shape::Bool),
                        ("label", Shape::String),
                        ("sources", strings()),
                    ]))),
                )]),
            ),
            (
                "limits",
                Shape::Map(Box::new(Shape::object([
                    ("used", Shape::Number),
                    ("limit", Shape::Number),
                    ("remaining", Shape::Number),
                    ("exceeded", Shape::Bool),
                ]))),
            ),
            ("now", Shape::Int),
        ])
    }
}
