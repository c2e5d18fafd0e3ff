//! Tool argument schemas: a closed subset of JSON Schema, compiled at load.
//!
//! Supported keywords: `type` (one name or a list), `properties`, `required`,
//! `additionalProperties` (boolean), `enum`, `const`, `minimum`, `maximum`,
//! `exclusiveMinimum`, `exclusiveMaximum`, `minLength`, `maxLength`,
//! `pattern`, `items`, `minItems`, `maxItems`, and the annotations
//! `description`, `title`, `examples`, `default` and `format`. Any other
//! keyword is a load error: a keyword Ward would silently ignore is a check
//! the author believes in and Ward does not make.
//!
//! Validation reports the first violation by argument path, such as
//! `args.items[2].sku`, in a deterministic order (properties sorted by name).

use std::collections::BTreeMap;

use marked_yaml::Node;
use regex::Regex;
use serde_json::Value;

use super::yaml::{to_json, Diagnostic, Sources};
use crate::shape::Shape;
use crate::suggest::suggest;

const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "items",
    "minItems",
    "maxItems",
    "description",
    "title",
    "examples",
    "default",
    "format",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonType {
    String,
    Integer,
    Number,
    Boolean,
    Object,
    Array,
    Null,
}

impl JsonType {
    fn parse(name: &str) -> Option<JsonType> {
        Some(match name {
            "string" => JsonType::String,
            "integer" => JsonType::Integer,
            "number" => JsonType::Number,
            "boolean" => JsonType::Boolean,
            "object" => JsonType::Object,
            "array" => JsonType::Array,
            "null" => JsonType::Null,
            _ => return None,
        })
    }

    fn admits(self, value: &Value) -> bool {
        match (self, value) {
            (JsonType::String, Value::String(_)) => true,
            (JsonType::Integer, Value::Number(n)) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            (JsonType::Number, Value::Number(_)) => true,
            (JsonType::Boolean, Value::Bool(_)) => true,
            (JsonType::Object, Value::Object(_)) => true,
            (JsonType::Array, Value::Array(_)) => true,
            (JsonType::Null, Value::Null) => true,
            _ => false,
        }
    }

    fn name(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
            JsonType::Boolean => "boolean",
            JsonType::Object => "object",
            JsonType::Array => "array",
            JsonType::Null => "null",
        }
    }
}

/// A compiled argument schema.
#[derive(Debug, Clone, Default)]
pub(crate) struct ArgSchema {
    types: Vec<JsonType>,
    properties: BTreeMap<String, ArgSchema>,
    required: Vec<String>,
    additional: bool,
    enumeration: Option<Vec<Value>>,
    minimum: Option<(f64, bool)>,
    maximum: Option<(f64, bool)>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    pattern: Option<Regex>,
    items: Option<Box<ArgSchema>>,
    min_items: Option<u64>,
    max_items: Option<u64>,
}

/// A schema violation: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) path: String,
    pub(crate) message: String,
}

impl ArgSchema {
    /// Compiles the schema at `node`, pushing any problem to `diags`.
    pub(crate) fn compile(node: &Node, src: Sources<'_>, diags: &mut Vec<Diagnostic>) -> ArgSchema {
        let Some(map) = node.as_mapping() else {
            diags.push(src.error(node.span(), "a JSON Schema must be a mapping"));
            return ArgSchema::default();
        };
        let mut schema = ArgSchema {
            additional: true,
            ..ArgSchema::default()
        };
        for (key, value) in map.iter() {
            let err = |msg: String| src.error(value.span(), msg);
            let number = |diags: &mut Vec<Diagnostic>| match to_json(value).as_f64() {
                Some(f) => Some(f),
                None => {
                    diags.push(err(format!("`{}` must be a number", key.as_str())));
                    None
                }
            };
            let count = |diags: &mut Vec<Diagnostic>| match to_json(value).as_u64() {
                Some(n) => Some(n),
                None => {
                    diags.push(err(format!(
                        "`{}` must be a non-negative integer",
                        key.as_str()
                    )));
                    None
                }
            };
            match key.as_str() {
                "type" => schema.types = compile_types(value, src, diags),
                "properties" => match value.as_mapping() {
                    Some(props) => {
                        for (name, sub) in props.iter() {
                            let compiled = ArgSchema::compile(sub, src, diags);
                            schema.properties.insert(name.as_str().to_owned(), compiled);
                        }
                    }
                    None => diags.push(err("`properties` must be a mapping".into())),
                },
                "required" => match to_json(value) {
                    Value::Array(names) if names.iter().all(Value::is_string) => {
                        schema.required =
                            names.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect();
                    }
                    _ => diags.push(err("`required` must be a list of names".into())),
                },
                "additionalProperties" => match to_json(value) {
                    Value::Bool(b) => schema.additional = b,
                    _ => diags.push(err(
                        "`additionalProperties` must be `true` or `false` (schemas are not supported)".into(),
                    )),
                },
                "enum" => match to_json(value) {
                    Value::Array(values) if !values.is_empty() => schema.enumeration = Some(values),
                    _ => diags.push(err("`enum` must be a non-empty list".into())),
                },
                "const" => schema.enumeration = Some(vec![to_json(value)]),
                "minimum" => schema.minimum = number(diags).map(|f| (f, false)),
                "exclusiveMinimum" => schema.minimum = number(diags).map(|f| (f, true)),
                "maximum" => schema.maximum = number(diags).map(|f| (f, false)),
                "exclusiveMaximum" => schema.maximum = number(diags).map(|f| (f, true)),
                "minLength" => schema.min_length = count(diags),
                "maxLength" => schema.max_length = count(diags),
                "minItems" => schema.min_items = count(diags),
                "maxItems" => schema.max_items = count(diags),
                "pattern" => match Regex::new(&value_str(value)) {
                    Ok(re) => schema.pattern = Some(re),
                    Err(e) => diags.push(err(format!("invalid `pattern`: {e}"))),
                },
                "items" => schema.items = Some(Box::new(ArgSchema::compile(value, src, diags))),
                "description" | "title" | "examples" | "default" | "format" => {}
                other => {
                    let hint = suggest(other, KEYWORDS.iter().copied())
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    diags.push(src.error(
                        key.span(),
                        format!("unsupported JSON Schema keyword `{other}`{hint}"),
                    ));
                }
            }
        }
        for name in &schema.required {
            if !schema.properties.contains_key(name) && !schema.additional {
                diags.push(src.error(
                    node.span(),
                    format!("`required` names `{name}`, which `properties` does not declare"),
                ));
            }
        }
        schema
    }

    /// The shape CEL conditions may read through this schema.
    pub(crate) fn shape(&self) -> Shape {
        if !self.properties.is_empty() || self.types == [JsonType::Object] {
            return Shape::Object(
                self.properties
                    .iter()
                    .map(|(k, v)| (k.clone(), v.shape()))
                    .collect(),
            );
        }
        match self.types.as_slice() {
            [JsonType::String] => Shape::String,
            [JsonType::Integer] => Shape::Int,
            [JsonType::Number] => Shape::Number,
            [JsonType::Boolean] => Shape::Bool,
            [JsonType::Array] => Shape::List(Box::new(
                self.items
                    .as_ref()
                    .map_or(Shape::Any, |items| items.shape()),
            )),
            _ => Shape::Any,
        }
    }

    /// Whether the schema describes an object (the only valid top level).
    pub(crate) fn is_object(&self) -> bool {
        self.types == [JsonType::Object]
    }

    /// The first violation in `value`, if any. `path` names the value.
    pub(crate) fn validate(&self, value: &Value, path: &mut String) -> Option<Violation> {
        let fail = |path: &String, message: String| {
            Some(Violation {
                path: path.clone(),
                message,
            })
        };
        if !self.types.is_empty() && !self.types.iter().any(|t| t.admits(value)) {
            let names: Vec<&str> = self.types.iter().map(|t| t.name()).collect();
            return fail(
                path,
                format!("expected {}, found {}", names.join(" or "), kind_of(value)),
            );
        }
        if let Some(allowed) = &self.enumeration {
            if !allowed.iter().any(|a| json_eq(a, value)) {
                return fail(path, format!("`{value}` is not one of the allowed values"));
            }
        }
        match value {
            Value::Number(n) => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if let Some((min, exclusive)) = self.minimum {
                    if f < min || (exclusive && f == min) || f.is_nan() {
                        return fail(path, format!("{f} is below the minimum {min}"));
                    }
                }
                if let Some((max, exclusive)) = self.maximum {
                    if f > max || (exclusive && f == max) || f.is_nan() {
                        return fail(path, format!("{f} is above the maximum {max}"));
                    }
                }
            }
            Value::String(s) => {
                let chars = s.chars().count() as u64;
                if self.min_length.is_some_and(|min| chars < min) {
                    return fail(
                        path,
                        format!("string is shorter than {:?}", self.min_length),
                    );
                }
                if self.max_length.is_some_and(|max| chars > max) {
                    return fail(path, format!("string is longer than {:?}", self.max_length));
                }
                if let Some(re) = &self.pattern {
                    if !re.is_match(s) {
                        return fail(path, format!("string does not match `{}`", re.as_str()));
                    }
                }
            }
            Value::Array(items) => {
                let n = items.len() as u64;
                if self.min_items.is_some_and(|min| n < min)
                    || self.max_items.is_some_and(|max| n > max)
                {
                    return fail(path, format!("{n} items is outside the allowed count"));
                }
                if let Some(schema) = &self.items {
                    for (i, item) in items.iter().enumerate() {
                        let len = path.len();
                        path.push_str(&format!("[{i}]"));
                        if let Some(v) = schema.validate(item, path) {
                            return Some(v);
                        }
                        path.truncate(len);
                    }
                }
            }
            Value::Object(map) => return self.validate_map(map, path),
            Value::Bool(_) | Value::Null => {}
        }
        None
    }
}

impl ArgSchema {
    /// Validates an object's members; the top level of every tool's arguments.
    pub(crate) fn validate_map(
        &self,
        map: &serde_json::Map<String, Value>,
        path: &mut String,
    ) -> Option<Violation> {
        for name in &self.required {
            if !map.contains_key(name) {
                return Some(Violation {
                    path: path.clone(),
                    message: format!("missing required argument `{name}`"),
                });
            }
        }
        for (name, item) in map {
            let len = path.len();
            path.push('.');
            path.push_str(name);
            match self.properties.get(name) {
                Some(schema) => {
                    if let Some(v) = schema.validate(item, path) {
                        return Some(v);
                    }
                }
                None if !self.additional => {
                    return Some(Violation {
                        path: path.clone(),
                        message: format!("unexpected argument `{name}`"),
                    });
                }
                None => {}
            }
            path.truncate(len);
        }
        None
    }
}

fn compile_types(node: &Node, src: Sources<'_>, diags: &mut Vec<Diagnostic>) -> Vec<JsonType> {
    let names: Vec<String> = match to_json(node) {
        Value::String(s) => vec![s],
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_owned())
            .collect(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for name in &names {
        match JsonType::parse(name) {
            Some(t) => out.push(t),
            None => {
                diags.push(src.error(node.span(), format!("unknown JSON Schema type `{name}`")))
            }
        }
    }
    if names.is_empty() {
        diags.push(src.error(node.span(), "`type` must be a type name or a list of them"));
    }
    out
}

fn value_str(node: &Node) -> String {
    node.as_scalar()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default()
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}
