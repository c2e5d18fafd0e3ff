//! YAML plumbing: source locations, diagnostics, and YAML-to-JSON conversion.

use std::fmt;

use marked_yaml::{Node, Span};
use serde_json::{Map, Number, Value};

/// A place in a bundle file: 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// The file name the caller gave the source.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The bundle is refused.
    Error,
    /// The bundle loads, but something is probably wrong (a lint).
    Warning,
}

/// One problem found while loading a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where, when known.
    pub location: Option<Location>,
    /// What, in lowercase with the offending input in backticks.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match &self.location {
            Some(loc) => write!(f, "{loc}: {level}: {}", self.message),
            None => write!(f, "{level}: {}", self.message),
        }
    }
}

/// The source files of a bundle, so that spans can be turned into locations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sources<'a> {
    pub(crate) names: &'a [&'a str],
}

impl Sources<'_> {
    pub(crate) fn locate(&self, span: &Span) -> Option<Location> {
        let mark = span.start()?;
        Some(Location {
            file: self
                .names
                .get(mark.source())
                .copied()
                .unwrap_or("<bundle>")
                .to_owned(),
            line: mark.line(),
            column: mark.column(),
        })
    }

    pub(crate) fn error(&self, span: &Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            location: self.locate(span),
            message: message.into(),
        }
    }

    pub(crate) fn warning(&self, span: &Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            location: self.locate(span),
            message: message.into(),
        }
    }
}

/// Converts a YAML node to JSON. Plain (unquoted) scalars are typed as YAML
/// 1.2's core schema types them (`null`, booleans, integers, floats); quoted
/// scalars stay strings.
pub(crate) fn to_json(node: &Node) -> Value {
    match node {
        Node::Scalar(s) => {
            let text = s.as_str();
            if !s.may_coerce() {
                return Value::String(text.to_owned());
            }
            match text {
                "" | "~" | "null" | "Null" | "NULL" => Value::Null,
                "true" | "True" | "TRUE" => Value::Bool(true),
                "false" | "False" | "FALSE" => Value::Bool(false),
                _ => scalar_number(text).unwrap_or_else(|| Value::String(text.to_owned())),
            }
        }
        Node::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        Node::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map.iter() {
                out.insert(k.as_str().to_owned(), to_json(v));
            }
            Value::Object(out)
        }
    }
}

fn scalar_number(text: &str) -> Option<Value> {
    let looks_numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    if !looks_numeric || !text.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Ok(i) = text.parse::<i64>() {
        return Some(Value::Number(i.into()));
    }
    let f = text.parse::<f64>().ok()?;
    Number::from_f64(f).map(Value::Number)
}

/// Parses YAML text, keeping quoted scalars apart from plain ones so that
/// `'8812'` stays a string while `8812` becomes a number.
pub(crate) fn parse(source: usize, text: &str) -> Result<Node, marked_yaml::LoadError> {
    let options = marked_yaml::LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .prevent_coercion(true);
    marked_yaml::parse_yaml_with_options(source, text, options)
}

/// The span of the first mapping key named `key`, depth first.
pub(crate) fn find_key(node: &Node, key: &str) -> Option<Span> {
    match node {
        Node::Scalar(_) => None,
        Node::Sequence(items) => items.iter().find_map(|n| find_key(n, key)),
        Node::Mapping(map) => map.iter().find_map(|(k, v)| {
            if k.as_str() == key {
                Some(*k.span())
            } else {
                find_key(v, key)
            }
        }),
    }
}

/// The child of a mapping node, by key.
pub(crate) fn child<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    node.as_mapping()?.get_node(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_scalars_are_typed_and_quoted_ones_are_not() {
        let node = parse(
            0,
            "a: 1\nb: '1'\nc: 1.5\nd: true\ne: ~\nf: x1\ng: [1, 'no']\n",
        )
        .unwrap();
        assert_eq!(
            to_json(&node),
            json!({"a": 1, "b": "1", "c": 1.5, "d": true, "e": null, "f": "x1", "g": [1, "no"]})
        );
    }
}
