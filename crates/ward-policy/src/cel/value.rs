//! The values Ward's evaluator computes with.
//!
//! A [`Value`] borrows from the request, the facts and the compiled program
//! (`'a`): strings are `Cow::Borrowed`, JSON arrays and objects stay
//! `&serde_json` views, and the request's records (`principal`, `tool`, a
//! finding, ...) are views too. Only values an expression builds (list and
//! map literals, `+`, `map()`, `string()`) own their data, so evaluating a
//! typical condition allocates nothing.
//!
//! The semantics of equality, ordering and map lookup follow the `cel` crate
//! (the reference), which follows cel-go: numbers compare across `int`,
//! `uint` and `double`, and a map finds a numeric key under any numeric type
//! that holds the same number.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::rc::Rc;

use ward_core::{AgentRef, ContentSource, Principal};

use super::EvalError;
use crate::facts::{ArgProvenance, Finding, LimitState, ProvenanceLabel, ToolFacts};

/// A CEL value, borrowing from the request, facts and program where it can.
#[derive(Debug, Clone)]
pub enum Value<'a> {
    /// `null`.
    Null,
    /// A `bool`.
    Bool(bool),
    /// An `int`.
    Int(i64),
    /// A `uint`.
    UInt(u64),
    /// A `double`.
    Double(f64),
    /// A `string`.
    String(Cow<'a, str>),
    /// A JSON array of the request.
    JsonArray(&'a [serde_json::Value]),
    /// A JSON object of the request (`args`, `context`, nested objects).
    JsonObject(&'a serde_json::Map<String, serde_json::Value>),
    /// `principal.attrs`.
    Attrs(&'a BTreeMap<String, serde_json::Value>),
    /// A list of strings of the request or facts (`principal.roles`).
    Strings(&'a [String]),
    /// `scan.findings`.
    Findings(&'a [Finding]),
    /// A list the expression built.
    List(Rc<Vec<Value<'a>>>),
    /// A map the expression built, in the order it was written.
    Map(Rc<Vec<(Key<'a>, Value<'a>)>>),
    /// A record of the request or facts, read as a map with string keys.
    Record(Record<'a>),
}

/// A map key: CEL allows these four types only.
#[derive(Debug, Clone, PartialEq)]
pub enum Key<'a> {
    /// A `bool` key.
    Bool(bool),
    /// An `int` key.
    Int(i64),
    /// A `uint` key.
    UInt(u64),
    /// A `string` key.
    String(Cow<'a, str>),
}

/// A record of the request or the facts, read as a map with string keys.
#[derive(Debug, Clone, Copy)]
pub enum Record<'a> {
    /// `principal`.
    Principal(&'a Principal),
    /// `agent`.
    Agent(&'a AgentRef),
    /// `tool`, from the catalog.
    Tool(&'a ToolFacts),
    /// `source`.
    Source(&'a ContentSource),
    /// `scan`.
    Scan(&'a [Finding]),
    /// One element of `scan.findings`.
    Finding(&'a Finding),
    /// `provenance`, which has the one key `args`.
    Provenance(&'a BTreeMap<String, ArgProvenance>),
    /// `provenance.args`, by argument name.
    ProvenanceArgs(&'a BTreeMap<String, ArgProvenance>),
    /// `provenance.args.<name>`.
    ArgProvenance(&'a ArgProvenance),
    /// `limits`, by limit name.
    Limits(&'a BTreeMap<String, LimitState>),
    /// `limits.<name>`.
    Limit(&'a LimitState),
}

impl<'a> Value<'a> {
    /// A borrowed string.
    pub(crate) fn str(s: &'a str) -> Value<'a> {
        Value::String(Cow::Borrowed(s))
    }

    /// The CEL value of a JSON value: numbers are `int` when they fit an
    /// `i64`, else `uint` when they fit a `u64`, else `double`.
    pub(crate) fn from_json(json: &'a serde_json::Value) -> Value<'a> {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => number(n),
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(items) => Value::JsonArray(items),
            serde_json::Value::Object(map) => Value::JsonObject(map),
        }
    }

    /// The CEL type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null_type",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::UInt(_) => "uint",
            Value::Double(_) => "double",
            Value::String(_) => "string",
            Value::JsonArray(_) | Value::Strings(_) | Value::Findings(_) | Value::List(_) => "list",
            Value::JsonObject(_) | Value::Attrs(_) | Value::Map(_) | Value::Record(_) => "map",
        }
    }

    /// Whether this is a list.
    pub(crate) fn is_list(&self) -> bool {
        self.type_name() == "list"
    }

    /// The number of elements of a list, or `None` for anything else.
    pub(crate) fn list_len(&self) -> Option<usize> {
        match self {
            Value::JsonArray(items) => Some(items.len()),
            Value::Strings(items) => Some(items.len()),
            Value::Findings(items) => Some(items.len()),
            Value::List(items) => Some(items.len()),
            _ => None,
        }
    }

    /// Element `i` of a list.
    pub(crate) fn list_get(&self, i: usize) -> Option<Value<'a>> {
        match self {
            Value::JsonArray(items) => items.get(i).map(Value::from_json),
            Value::Strings(items) => items.get(i).map(|s| Value::str(s)),
            Value::Findings(items) => items.get(i).map(|f| Value::Record(Record::Finding(f))),
            Value::List(items) => items.get(i).cloned(),
            _ => None,
        }
    }

    /// The elements of a list, in order, or `None` for anything else.
    pub(crate) fn list_iter(&self) -> Option<impl Iterator<Item = Value<'a>> + '_> {
        let len = self.list_len()?;
        Some((0..len).filter_map(move |i| self.list_get(i)))
    }

    /// Whether this is a map.
    pub(crate) fn is_map(&self) -> bool {
        self.type_name() == "map"
    }

    /// The number of entries of a map.
    pub(crate) fn map_len(&self) -> Option<usize> {
        match self {
            Value::JsonObject(map) => Some(map.len()),
            Value::Attrs(map) => Some(map.len()),
            Value::Map(entries) => Some(entries.len()),
            Value::Record(record) => Some(record.keys().len()),
            _ => None,
        }
    }

    /// The keys of a map: JSON objects and records in key order, map
    /// literals in the order they were written.
    pub(crate) fn map_keys(&self) -> Option<Vec<Value<'a>>> {
        match self {
            Value::JsonObject(map) => Some(map.keys().map(|k| Value::str(k)).collect()),
            Value::Attrs(map) => Some(map.keys().map(|k| Value::str(k)).collect()),
            Value::Map(entries) => Some(entries.iter().map(|(k, _)| k.to_value()).collect()),
            Value::Record(record) => Some(record.keys()),
            _ => None,
        }
    }

    /// Looks `key` up in a map: `Ok(None)` when a key of a lookup type is
    /// missing, an error when `key` cannot be a map key at all (the
    /// reference's behaviour), `None` when `self` is no map.
    pub(crate) fn map_get(&self, key: &Value<'_>) -> Option<Result<Option<Value<'a>>, EvalError>> {
        if !self.is_map() {
            return None;
        }
        let found = match (self, key) {
            (Value::Map(entries), _) => entries
                .iter()
                .find(|(k, _)| k.matches(key))
                .map(|(_, v)| v.clone()),
            (_, Value::String(name)) => self.field(name),
            (_, Value::Int(_) | Value::UInt(_) | Value::Double(_) | Value::Bool(_)) => None,
            (_, other) => return Some(Err(unsupported_key(other))),
        };
        if found.is_none() && !is_lookup_key(key) {
            return Some(Err(unsupported_key(key)));
        }
        Some(Ok(found))
    }

    /// The value of string key `name` of a map.
    pub(crate) fn field(&self, name: &str) -> Option<Value<'a>> {
        match self {
            Value::JsonObject(map) => map.get(name).map(Value::from_json),
            Value::Attrs(map) => map.get(name).map(Value::from_json),
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Key::String(s) if s == name))
                .map(|(_, v)| v.clone()),
            Value::Record(record) => record.field(name),
            _ => None,
        }
    }
}

/// Whether `key` is of a type a map can be probed with.
fn is_lookup_key(key: &Value<'_>) -> bool {
    matches!(
        key,
        Value::String(_) | Value::Int(_) | Value::UInt(_) | Value::Double(_) | Value::Bool(_)
    )
}

fn unsupported_key(key: &Value<'_>) -> EvalError {
    EvalError::UnsupportedKey(key.type_name())
}

fn number(n: &serde_json::Number) -> Value<'static> {
    if let Some(i) = n.as_i64() {
        Value::Int(i)
    } else if let Some(u) = n.as_u64() {
        Value::UInt(u)
    } else {
        Value::Double(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// A number as an exact integer, for numeric key equality: a double only
/// when it is whole and strictly inside (-2^63, 2^64), as in cel-go.
fn numeric_key(v: &Value<'_>) -> Option<i128> {
    match v {
        Value::Int(i) => Some(i128::from(*i)),
        Value::UInt(u) => Some(i128::from(*u)),
        Value::Double(d) => double_to_int_lossless(*d)
            .map(i128::from)
            .or_else(|| double_to_uint_lossless(*d).map(i128::from)),
        _ => None,
    }
}

/// `d` as an `i64` when it converts without loss (never -2^63, as in cel-go).
pub(crate) fn double_to_int_lossless(d: f64) -> Option<i64> {
    if d > i64::MIN as f64 && d < i64::MAX as f64 {
        let i = d as i64;
        (i as f64 == d).then_some(i)
    } else {
        None
    }
}

fn double_to_uint_lossless(d: f64) -> Option<u64> {
    if d >= 0.0 && d < u64::MAX as f64 {
        let u = d as u64;
        (u as f64 == d).then_some(u)
    } else {
        None
    }
}

impl<'a> Key<'a> {
    /// The key of a map literal, or an error for a type that cannot be one.
    pub(crate) fn from_value(v: Value<'a>) -> Result<Key<'a>, EvalError> {
        match v {
            Value::Bool(b) => Ok(Key::Bool(b)),
            Value::Int(i) => Ok(Key::Int(i)),
            Value::UInt(u) => Ok(Key::UInt(u)),
            Value::String(s) => Ok(Key::String(s)),
            other => Err(unsupported_key(&other)),
        }
    }

    /// The key as a value.
    pub(crate) fn to_value(&self) -> Value<'a> {
        match self {
            Key::Bool(b) => Value::Bool(*b),
            Key::Int(i) => Value::Int(*i),
            Key::UInt(u) => Value::UInt(*u),
            Key::String(s) => Value::String(s.clone()),
        }
    }

    /// Whether probing with `probe` finds this key.
    pub(crate) fn matches(&self, probe: &Value<'_>) -> bool {
        match (self, probe) {
            (Key::Bool(a), Value::Bool(b)) => a == b,
            (Key::String(a), Value::String(b)) => a == b,
            (Key::Int(_) | Key::UInt(_), _) => {
                let this = numeric_key(&self.to_value());
                this.is_some() && this == numeric_key(probe)
            }
            _ => false,
        }
    }
}

const PRINCIPAL_KEYS: &[&str] = &["attrs", "id", "kind", "roles"];
const AGENT_KEYS: &[&str] = &["id", "version"];
const TOOL_KEYS: &[&str] = &["capability", "consequential", "name", "risk"];
const SCAN_KEYS: &[&str] = &["findings", "injection", "kinds", "pii", "secret"];
const PROVENANCE_KEYS: &[&str] = &["args"];
const ARG_PROVENANCE_KEYS: &[&str] = &["label", "sources", "trusted"];
const LIMIT_KEYS: &[&str] = &["exceeded", "limit", "remaining", "used"];

impl<'a> Record<'a> {
    /// The keys present, in sorted order.
    pub(crate) fn keys(&self) -> Vec<Value<'a>> {
        let fixed = |keys: &[&'static str]| keys.iter().map(|k| Value::str(k)).collect();
        match self {
            Record::Principal(_) => fixed(PRINCIPAL_KEYS),
            Record::Agent(_) => fixed(AGENT_KEYS),
            Record::Tool(_) => fixed(TOOL_KEYS),
            Record::Scan(_) => fixed(SCAN_KEYS),
            Record::Provenance(_) => fixed(PROVENANCE_KEYS),
            Record::ArgProvenance(_) => fixed(ARG_PROVENANCE_KEYS),
            Record::Limit(_) => fixed(LIMIT_KEYS),
            Record::Source(s) => {
                let mut keys = vec![Value::str("kind")];
                if s.tool.is_some() {
                    keys.push(Value::str("tool"));
                }
                if s.uri.is_some() {
                    keys.push(Value::str("uri"));
                }
                keys
            }
            Record::Finding(f) => {
                let mut keys = vec![Value::str("confidence"), Value::str("kind")];
                if f.arg.is_some() {
                    keys.insert(0, Value::str("arg"));
                }
                keys.push(Value::str("rule"));
                keys
            }
            Record::ProvenanceArgs(map) => map.keys().map(|k| Value::str(k)).collect(),
            Record::Limits(map) => map.keys().map(|k| Value::str(k)).collect(),
        }
    }

    /// The value of field `name`, or `None` when absent.
    pub(crate) fn field(&self, name: &str) -> Option<Value<'a>> {
        Some(match (*self, name) {
            (Record::Principal(p), "id") => Value::str(&p.id),
            (Record::Principal(p), "kind") => Value::str(p.kind.as_str()),
            (Record::Principal(p), "roles") => Value::Strings(&p.roles),
            (Record::Principal(p), "attrs") => Value::Attrs(&p.attrs),
            (Record::Agent(a), "id") => Value::str(&a.id),
            (Record::Agent(a), "version") => Value::str(&a.version),
            (Record::Tool(t), "name") => Value::str(&t.name),
            (Record::Tool(t), "capability") => Value::str(&t.capability),
            (Record::Tool(t), "risk") => Value::str(&t.risk),
            (Record::Tool(t), "consequential") => Value::Bool(t.consequential),
            (Record::Source(s), "kind") => Value::str(&s.kind),
            (Record::Source(s), "tool") => Value::str(s.tool.as_deref()?),
            (Record::Source(s), "uri") => Value::str(s.uri.as_deref()?),
            (Record::Scan(f), "injection") => Value::Bool(has_family(f, "injection")),
            (Record::Scan(f), "pii") => Value::Bool(has_family(f, "pii")),
            (Record::Scan(f), "secret") => Value::Bool(has_family(f, "secret")),
            (Record::Scan(f), "kinds") => scan_kinds(f),
            (Record::Scan(f), "findings") => Value::Findings(f),
            (Record::Finding(f), "kind") => Value::str(&f.kind),
            (Record::Finding(f), "rule") => Value::str(&f.rule),
            (Record::Finding(f), "confidence") => Value::Double(f.confidence),
            (Record::Finding(f), "arg") => Value::str(f.arg.as_deref()?),
            (Record::Provenance(p), "args") => Value::Record(Record::ProvenanceArgs(p)),
            (Record::ProvenanceArgs(p), arg) => Value::Record(Record::ArgProvenance(p.get(arg)?)),
            (Record::ArgProvenance(p), "trusted") => {
                Value::Bool(p.label == ProvenanceLabel::Trusted)
            }
            (Record::ArgProvenance(p), "label") => Value::str(p.label.as_str()),
            (Record::ArgProvenance(p), "sources") => Value::Strings(&p.sources),
            (Record::Limits(l), name) => Value::Record(Record::Limit(l.get(name)?)),
            (Record::Limit(l), "used") => Value::Double(l.used),
            (Record::Limit(l), "limit") => Value::Double(l.limit),
            (Record::Limit(l), "remaining") => Value::Double(l.remaining()),
            (Record::Limit(l), "exceeded") => Value::Bool(l.exceeded()),
            _ => return None,
        })
    }
}

/// Whether any finding is of `family`.
pub(crate) fn has_family(findings: &[Finding], family: &str) -> bool {
    findings.iter().any(|f| f.family() == family)
}

/// The distinct kinds of the findings, sorted.
pub(crate) fn scan_kinds(findings: &[Finding]) -> Value<'_> {
    let mut kinds: Vec<&str> = findings.iter().map(|f| f.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    Value::List(Rc::new(kinds.into_iter().map(Value::str).collect()))
}

/// CEL equality, as the reference computes it: numbers compare across
/// types, lists element-wise, maps by key lookup; values of different types
/// are unequal, never an error. `NaN` equals nothing.
///
/// It recurses as deep as the values nest: the request's JSON is bounded by
/// `serde_json`'s recursion limit, and values a condition builds by its
/// compile-time depth limit.
pub(crate) fn equals(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Int(_) | Value::UInt(_) | Value::Double(_), _) => {
            compare(a, b) == Some(Ok(Ordering::Equal))
        }
        _ if a.is_list() && b.is_list() => {
            let (Some(la), Some(lb)) = (a.list_iter(), b.list_iter()) else {
                return false;
            };
            a.list_len() == b.list_len() && la.zip(lb).all(|(x, y)| equals(&x, &y))
        }
        _ if a.is_map() && b.is_map() => {
            if a.map_len() != b.map_len() {
                return false;
            }
            let Some(keys) = a.map_keys() else {
                return false;
            };
            keys.iter().all(|k| {
                let (Some(Ok(Some(va))), Some(Ok(Some(vb)))) = (a.map_get(k), b.map_get(k)) else {
                    return false;
                };
                equals(&va, &vb)
            })
        }
        _ => false,
    }
}

/// CEL ordering: `None` when the types cannot be ordered, `Some(Err)` when
/// they can but the values cannot (a `NaN`), as in the reference.
pub(crate) fn compare(a: &Value<'_>, b: &Value<'_>) -> Option<Result<Ordering, EvalError>> {
    let nan = || Err(EvalError::NotComparable);
    Some(match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::UInt(x), Value::UInt(y)) => Ok(x.cmp(y)),
        (Value::Int(x), Value::UInt(y)) => {
            Ok(u64::try_from(*x).map_or(Ordering::Less, |x| x.cmp(y)))
        }
        (Value::UInt(x), Value::Int(y)) => {
            Ok(i64::try_from(*x).map_or(Ordering::Greater, |x| x.cmp(y)))
        }
        // The reference converts the integer to the nearest double, as do
        // we, so that both agree on integers beyond 2^53.
        (Value::Int(x), Value::Double(y)) => (*x as f64).partial_cmp(y).map_or_else(nan, Ok),
        (Value::UInt(x), Value::Double(y)) => (*x as f64).partial_cmp(y).map_or_else(nan, Ok),
        (Value::Double(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)).map_or_else(nan, Ok),
        (Value::Double(x), Value::UInt(y)) => x.partial_cmp(&(*y as f64)).map_or_else(nan, Ok),
        (Value::Double(x), Value::Double(y)) => x.partial_cmp(y).map_or_else(nan, Ok),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
        _ => return None,
    })
}
