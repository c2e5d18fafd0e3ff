//! Walking the compiled tree against a borrowed [`Activation`].
//!
//! Every operation matches the `cel` crate's interpreter (the reference),
//! including which operand errors win and how `&&`, `||`, `exists()` and
//! `all()` absorb errors; the differential tests in `tests.rs` hold the two
//! together. Evaluation reads the request in place: a path such as
//! `args.amount` is one map lookup, and nothing is cloned from the request.
//! Recursion is bounded by the depth limit enforced at compile time.

use std::borrow::Cow;
use std::rc::Rc;

use super::node::{Arith, Cmp, Conv, Lit, Loop, LoopKind, Node, Path, Program, StrFn};
use super::value::{compare, double_to_int_lossless, equals, Key, Record, Value};
use super::{Activation, EvalError};

impl Program {
    /// Evaluates the condition to a value.
    pub fn eval<'a>(&'a self, act: &Activation<'a>) -> Result<Value<'a>, EvalError> {
        let mut eval = Eval {
            act,
            locals: Vec::new(),
        };
        eval.node(&self.root)
    }

    /// Evaluates the condition, which must give a bool.
    pub fn eval_bool(&self, act: &Activation<'_>) -> Result<bool, EvalError> {
        match self.eval(act)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError::NotBool(other.type_name())),
        }
    }
}

struct Eval<'a, 'r> {
    act: &'r Activation<'a>,
    /// The values of the enclosing comprehensions' variables, outermost first.
    locals: Vec<Value<'a>>,
}

fn no_such_key(key: &str) -> EvalError {
    EvalError::NoSuchKey(key.to_owned())
}

fn as_bool(v: Result<Value<'_>, EvalError>) -> Result<bool, EvalError> {
    match v? {
        Value::Bool(b) => Ok(b),
        other => Err(EvalError::NotBool(other.type_name())),
    }
}

impl<'a> Eval<'a, '_> {
    fn node(&mut self, node: &'a Node) -> Result<Value<'a>, EvalError> {
        match node {
            Node::Lit(lit) => Ok(match lit {
                Lit::Null => Value::Null,
                Lit::Bool(b) => Value::Bool(*b),
                Lit::Int(i) => Value::Int(*i),
                Lit::UInt(u) => Value::UInt(*u),
                Lit::Double(d) => Value::Double(*d),
                Lit::Str(s) => Value::str(s),
            }),
            Node::Path(path) => self.path(path),
            Node::Local(slot) => self
                .locals
                .get(*slot)
                .cloned()
                .ok_or(EvalError::Unset("comprehension variable")),
            Node::Select(operand, field) => {
                let v = self.node(operand)?;
                if !v.is_map() {
                    return Err(EvalError::overload("_._", &[&v, &Value::str(field)]));
                }
                v.field(field).ok_or_else(|| no_such_key(field))
            }
            Node::Has(operand, field) => {
                let v = self.node(operand)?;
                if !v.is_map() {
                    return Err(EvalError::overload("has", &[&v, &Value::str(field)]));
                }
                Ok(Value::Bool(v.field(field).is_some()))
            }
            Node::Index(container, key) => {
                let c = self.node(container)?;
                let k = self.node(key)?;
                index(&c, &k)
            }
            Node::List(items) => {
                let mut list = Vec::with_capacity(items.len());
                for item in items {
                    list.push(self.node(item)?);
                }
                Ok(Value::List(Rc::new(list)))
            }
            Node::Map(entries) => {
                let mut map: Vec<(Key<'a>, Value<'a>)> = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let key = Key::from_value(self.node(k)?)?;
                    let value = self.node(v)?;
                    let probe = key.to_value();
                    if map.iter().any(|(existing, _)| existing.matches(&probe)) {
                        return Err(EvalError::DuplicateKey);
                    }
                    map.push((key, value));
                }
                Ok(Value::Map(Rc::new(map)))
            }
            Node::Not(a) => match self.node(a)? {
                Value::Bool(b) => Ok(Value::Bool(!b)),
                other => Err(EvalError::overload("!_", &[&other])),
            },
            Node::Neg(a) => match self.node(a)? {
                Value::Int(i) => i
                    .checked_neg()
                    .map(Value::Int)
                    .ok_or(EvalError::Overflow("-_")),
                Value::Double(d) => Ok(Value::Double(-d)),
                other => Err(EvalError::overload("-_", &[&other])),
            },
            Node::Arith(op, a, b) => {
                let a = self.node(a)?;
                let b = self.node(b)?;
                arith(*op, a, b)
            }
            Node::Cmp(op, a, b) => {
                let a = self.node(a)?;
                let b = self.node(b)?;
                cmp(*op, &a, &b).map(Value::Bool)
            }
            Node::And(a, b) => self.logic(a, b, false),
            Node::Or(a, b) => self.logic(a, b, true),
            Node::Cond(c, t, f) => {
                let c = self.node(c);
                if as_bool(c)? {
                    self.node(t)
                } else {
                    self.node(f)
                }
            }
            Node::In(needle, haystack) => {
                let needle = self.node(needle)?;
                let haystack = self.node(haystack)?;
                contains(&haystack, &needle).map(Value::Bool)
            }
            Node::Size(a) => {
                let v = self.node(a)?;
                let size = match &v {
                    Value::String(s) => s.chars().count(),
                    other => match other.list_len().or_else(|| other.map_len()) {
                        Some(n) => n,
                        None => return Err(EvalError::overload("size", &[other])),
                    },
                };
                Ok(Value::Int(i64::try_from(size).unwrap_or(i64::MAX)))
            }
            Node::Str(f, s, arg) => {
                let s = self.node(s)?;
                let arg = self.node(arg)?;
                let (Value::String(s), Value::String(arg)) = (&s, &arg) else {
                    let name = match f {
                        StrFn::Contains => "contains",
                        StrFn::StartsWith => "startsWith",
                        StrFn::EndsWith => "endsWith",
                    };
                    return Err(EvalError::overload(name, &[&s, &arg]));
                };
                Ok(Value::Bool(match f {
                    StrFn::Contains => s.contains(arg.as_ref()),
                    StrFn::StartsWith => s.starts_with(arg.as_ref()),
                    StrFn::EndsWith => s.ends_with(arg.as_ref()),
                }))
            }
            Node::Matches(s, regex) => match self.node(s)? {
                Value::String(s) => Ok(Value::Bool(regex.is_match(&s))),
                other => Err(EvalError::overload("matches", &[&other])),
            },
            Node::Convert(conv, a) => convert(*conv, self.node(a)?),
            Node::Loop(l) => self.comprehension(l),
        }
    }

    fn path(&self, path: &'a Path) -> Result<Value<'a>, EvalError> {
        let request = self.act.request;
        let facts = self.act.facts;
        let principal = &request.actor.principal;
        let tool = || self.act.tool.ok_or(EvalError::Unset("tool"));
        let unset = |name| move || EvalError::Unset(name);
        Ok(match path {
            Path::Principal => Value::Record(Record::Principal(principal)),
            Path::PrincipalId => Value::str(&principal.id),
            Path::PrincipalKind => Value::str(principal.kind.as_str()),
            Path::PrincipalRoles => Value::Strings(&principal.roles),
            Path::PrincipalAttrs => Value::Attrs(&principal.attrs),
            Path::Tenant => Value::str(&request.actor.tenant),
            Path::Session => Value::str(&request.actor.session),
            Path::Agent => Value::Record(Record::Agent(&request.actor.agent)),
            Path::Tool => Value::Record(Record::Tool(tool()?)),
            Path::ToolName => Value::str(&tool()?.name),
            Path::ToolCapability => Value::str(&tool()?.capability),
            Path::ToolRisk => Value::str(&tool()?.risk),
            Path::ToolConsequential => Value::Bool(tool()?.consequential),
            Path::Intervention => Value::str(request.intervention.as_str()),
            Path::Action => Value::str(request.action.as_deref().ok_or_else(unset("action"))?),
            Path::Target => Value::str(request.target.as_deref().ok_or_else(unset("target"))?),
            Path::Content => Value::str(request.content.as_deref().ok_or_else(unset("content"))?),
            Path::Source => Value::Record(Record::Source(
                request.source.as_ref().ok_or_else(unset("source"))?,
            )),
            Path::Args => Value::JsonObject(&request.args),
            Path::Arg(name) => {
                Value::from_json(request.args.get(&**name).ok_or_else(|| no_such_key(name))?)
            }
            Path::Context => Value::JsonObject(&request.context),
            Path::ContextKey(name) => Value::from_json(
                request
                    .context
                    .get(&**name)
                    .ok_or_else(|| no_such_key(name))?,
            ),
            Path::Scan => Value::Record(Record::Scan(&facts.scan)),
            Path::Provenance => Value::Record(Record::Provenance(&facts.provenance)),
            Path::ProvenanceArgs => Value::Record(Record::ProvenanceArgs(&facts.provenance)),
            Path::ProvenanceArg(name) => Value::Record(Record::ArgProvenance(
                facts
                    .provenance
                    .get(&**name)
                    .ok_or_else(|| no_such_key(name))?,
            )),
            Path::Limits => Value::Record(Record::Limits(&facts.limits)),
            Path::Limit(name) => Value::Record(Record::Limit(
                facts.limits.get(&**name).ok_or_else(|| no_such_key(name))?,
            )),
            Path::Now => Value::Int(facts.now),
        })
    }

    /// `a && b` (`absorbing` false) or `a || b` (`absorbing` true), as the
    /// reference evaluates them: the absorbing value on the left
    /// short-circuits; an error on the left is forgiven when the right is
    /// the absorbing value; an error on the right is always the result unless
    /// the left short-circuited.
    fn logic(&mut self, a: &'a Node, b: &'a Node, absorbing: bool) -> Result<Value<'a>, EvalError> {
        let op = if absorbing { "_||_" } else { "_&&_" };
        let left = self.node(a);
        let left_bool = match &left {
            Ok(Value::Bool(l)) => Some(*l),
            _ => None,
        };
        if left_bool == Some(absorbing) {
            return Ok(Value::Bool(absorbing));
        }
        let right = self.node(b)?;
        match (left_bool, &right) {
            (Some(_), Value::Bool(r)) => Ok(Value::Bool(*r)),
            (None, Value::Bool(r)) if *r == absorbing => Ok(Value::Bool(absorbing)),
            _ => Err(match left {
                Err(e) => e,
                Ok(l) => EvalError::overload(op, &[&l, &right]),
            }),
        }
    }

    fn comprehension(&mut self, l: &'a Loop) -> Result<Value<'a>, EvalError> {
        let range = self.node(&l.range)?;
        // A list is walked in place; a map's keys are collected first.
        let items = match range.list_len() {
            Some(len) => Items::List(range, len),
            None => match range.map_keys() {
                Some(keys) => Items::Keys(keys),
                None => return Err(EvalError::overload("comprehension", &[&range])),
            },
        };
        self.locals.truncate(l.slot);
        let result = self.run_loop(l, &items);
        self.locals.truncate(l.slot);
        result
    }

    fn bind(&mut self, slot: usize, item: Value<'a>) {
        self.locals.truncate(slot);
        self.locals.push(item);
    }

    fn run_loop(&mut self, l: &'a Loop, items: &Items<'a>) -> Result<Value<'a>, EvalError> {
        match &l.kind {
            LoopKind::Exists(p) | LoopKind::All(p) => {
                // `exists` stops at the first true, `all` at the first false;
                // an error (or a non-bool) is only the result when no element
                // decides, as in the reference's `@result || p` fold.
                let decisive = matches!(l.kind, LoopKind::Exists(_));
                let mut pending = None;
                for item in items.iter() {
                    self.bind(l.slot, item);
                    match self.node(p) {
                        Ok(Value::Bool(b)) if b == decisive => return Ok(Value::Bool(decisive)),
                        Ok(Value::Bool(_)) => {}
                        Ok(other) => pending = Some(EvalError::NotBool(other.type_name())),
                        Err(e) => pending = Some(e),
                    }
                }
                pending.map_or(Ok(Value::Bool(!decisive)), Err)
            }
            LoopKind::ExistsOne(p) => {
                let mut count = 0usize;
                for item in items.iter() {
                    self.bind(l.slot, item);
                    if as_bool(self.node(p))? {
                        count = count.saturating_add(1);
                    }
                }
                Ok(Value::Bool(count == 1))
            }
            LoopKind::Map { guard, item } => {
                let mut out = Vec::with_capacity(items.len());
                for value in items.iter() {
                    self.bind(l.slot, value);
                    if let Some(guard) = guard {
                        if !as_bool(self.node(guard))? {
                            continue;
                        }
                    }
                    out.push(self.node(item)?);
                }
                Ok(Value::List(Rc::new(out)))
            }
        }
    }
}

/// What a comprehension iterates over.
enum Items<'a> {
    /// A list and its length.
    List(Value<'a>, usize),
    /// The keys of a map.
    Keys(Vec<Value<'a>>),
}

impl<'a> Items<'a> {
    fn len(&self) -> usize {
        match self {
            Items::List(_, len) => *len,
            Items::Keys(keys) => keys.len(),
        }
    }

    fn iter(&self) -> impl Iterator<Item = Value<'a>> + '_ {
        (0..self.len()).filter_map(move |i| match self {
            Items::List(list, _) => list.list_get(i),
            Items::Keys(keys) => keys.get(i).cloned(),
        })
    }
}

fn index<'a>(c: &Value<'a>, k: &Value<'_>) -> Result<Value<'a>, EvalError> {
    if let Some(len) = c.list_len() {
        let out_of_bounds = || EvalError::IndexOutOfBounds(display_key(k));
        let i = match k {
            Value::Int(i) => usize::try_from(*i).map_err(|_| out_of_bounds())?,
            Value::UInt(u) => usize::try_from(*u).map_err(|_| out_of_bounds())?,
            Value::Double(d) => {
                let i = double_to_int_lossless(*d)
                    .ok_or_else(|| EvalError::overload("_[_]", &[c, k]))?;
                usize::try_from(i).map_err(|_| out_of_bounds())?
            }
            _ => return Err(EvalError::overload("_[_]", &[c, k])),
        };
        if i >= len {
            return Err(out_of_bounds());
        }
        return c.list_get(i).ok_or_else(out_of_bounds);
    }
    match c.map_get(k) {
        Some(Ok(Some(v))) => Ok(v),
        Some(Ok(None)) => Err(EvalError::NoSuchKey(display_key(k))),
        Some(Err(e)) => Err(e),
        None => Err(EvalError::overload("_[_]", &[c, k])),
    }
}

fn display_key(k: &Value<'_>) -> String {
    match k {
        Value::String(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.type_name().to_owned(),
    }
}

fn contains(haystack: &Value<'_>, needle: &Value<'_>) -> Result<bool, EvalError> {
    if let Value::Strings(items) = haystack {
        // The common `'role' in principal.roles`, without building values.
        return Ok(match needle {
            Value::String(s) => items.iter().any(|item| item == s),
            _ => false,
        });
    }
    if let Some(mut items) = haystack.list_iter() {
        return Ok(items.any(|item| equals(&item, needle)));
    }
    match haystack.map_get(needle) {
        Some(found) => found.map(|v| v.is_some()),
        None => Err(EvalError::overload("@in", &[needle, haystack])),
    }
}

fn cmp(op: Cmp, a: &Value<'_>, b: &Value<'_>) -> Result<bool, EvalError> {
    use std::cmp::Ordering::{Greater, Less};
    let (name, wanted): (&'static str, fn(std::cmp::Ordering) -> bool) = match op {
        Cmp::Eq => return Ok(equals(a, b)),
        Cmp::Ne => return Ok(!equals(a, b)),
        Cmp::Lt => ("_<_", |o| o == Less),
        Cmp::Le => ("_<=_", |o| o != Greater),
        Cmp::Gt => ("_>_", |o| o == Greater),
        Cmp::Ge => ("_>=_", |o| o != Less),
    };
    match compare(a, b) {
        Some(ordering) => ordering.map(wanted),
        None => Err(EvalError::overload(name, &[a, b])),
    }
}

fn arith<'a>(op: Arith, a: Value<'a>, b: Value<'a>) -> Result<Value<'a>, EvalError> {
    let name = match op {
        Arith::Add => "_+_",
        Arith::Sub => "_-_",
        Arith::Mul => "_*_",
        Arith::Div => "_/_",
        Arith::Rem => "_%_",
    };
    let overflow = || EvalError::Overflow(name);
    Ok(match (op, &a, &b) {
        (_, Value::Int(x), Value::Int(y)) => Value::Int(
            match op {
                Arith::Add => x.checked_add(*y),
                Arith::Sub => x.checked_sub(*y),
                Arith::Mul => x.checked_mul(*y),
                Arith::Div if *y == 0 => return Err(EvalError::DivisionByZero),
                Arith::Div => x.checked_div(*y),
                Arith::Rem if *y == 0 => return Err(EvalError::ModuloByZero),
                Arith::Rem => x.checked_rem(*y),
            }
            .ok_or_else(overflow)?,
        ),
        (_, Value::UInt(x), Value::UInt(y)) => Value::UInt(
            match op {
                Arith::Add => x.checked_add(*y),
                Arith::Sub => x.checked_sub(*y),
                Arith::Mul => x.checked_mul(*y),
                Arith::Div if *y == 0 => return Err(EvalError::DivisionByZero),
                Arith::Div => x.checked_div(*y),
                Arith::Rem if *y == 0 => return Err(EvalError::ModuloByZero),
                Arith::Rem => x.checked_rem(*y),
            }
            .ok_or_else(overflow)?,
        ),
        (Arith::Add, Value::Double(x), Value::Double(y)) => Value::Double(x + y),
        (Arith::Sub, Value::Double(x), Value::Double(y)) => Value::Double(x - y),
        (Arith::Mul, Value::Double(x), Value::Double(y)) => Value::Double(x * y),
        (Arith::Div, Value::Double(x), Value::Double(y)) => Value::Double(x / y),
        (Arith::Add, Value::String(x), Value::String(y)) => {
            let mut s = String::with_capacity(x.len() + y.len());
            s.push_str(x);
            s.push_str(y);
            Value::String(Cow::Owned(s))
        }
        // The reference appends anything iterable, so `[1] + {'a': 2}` gives
        // `[1, 'a']`; CEL has no such overload and neither do we.
        (Arith::Add, _, _) if a.is_list() && b.is_list() => {
            let (Some(x), Some(y)) = (a.list_iter(), b.list_iter()) else {
                return Err(EvalError::overload(name, &[&a, &b]));
            };
            Value::List(Rc::new(x.chain(y).collect()))
        }
        _ => return Err(EvalError::overload(name, &[&a, &b])),
    })
}

fn convert(conv: Conv, v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let failed = |what: &str| EvalError::Conversion(what.to_owned());
    Ok(match (conv, v) {
        (Conv::Int, Value::Int(i)) => Value::Int(i),
        (Conv::Int, Value::UInt(u)) => {
            Value::Int(i64::try_from(u).map_err(|_| failed("int overflow"))?)
        }
        // (i64::MIN, i64::MAX) exclusive, as the reference: the bounds
        // round to ±2^63 as doubles, so the cast below never saturates.
        (Conv::Int, Value::Double(d)) if d > i64::MIN as f64 && d < i64::MAX as f64 => {
            Value::Int(d as i64)
        }
        (Conv::Int, Value::Double(_)) => return Err(failed("int overflow")),
        (Conv::Int, Value::String(s)) => {
            Value::Int(s.parse::<i64>().map_err(|e| failed(&e.to_string()))?)
        }
        (Conv::UInt, Value::UInt(u)) => Value::UInt(u),
        (Conv::UInt, Value::Int(i)) => {
            Value::UInt(u64::try_from(i).map_err(|_| failed("uint overflow"))?)
        }
        (Conv::UInt, Value::Double(d)) if d >= 0.0 && d < u64::MAX as f64 => Value::UInt(d as u64),
        (Conv::UInt, Value::Double(_)) => return Err(failed("uint overflow")),
        (Conv::UInt, Value::String(s)) => {
            Value::UInt(s.parse::<u64>().map_err(|e| failed(&e.to_string()))?)
        }
        (Conv::Double, Value::Double(d)) => Value::Double(d),
        (Conv::Double, Value::Int(i)) => Value::Double(i as f64),
        (Conv::Double, Value::UInt(u)) => Value::Double(u as f64),
        (Conv::Double, Value::String(s)) => {
            Value::Double(s.parse::<f64>().map_err(|e| failed(&e.to_string()))?)
        }
        (Conv::String, Value::String(s)) => Value::String(s),
        (Conv::String, Value::Bool(b)) => Value::str(if b { "true" } else { "false" }),
        (Conv::String, Value::Int(i)) => Value::String(Cow::Owned(i.to_string())),
        (Conv::String, Value::UInt(u)) => Value::String(Cow::Owned(u.to_string())),
        (Conv::String, Value::Double(d)) => Value::String(Cow::Owned(d.to_string())),
        (conv, other) => {
            let name = match conv {
                Conv::Int => "int",
                Conv::UInt => "uint",
                Conv::Double => "double",
                Conv::String => "string",
            };
            return Err(EvalError::overload(name, &[&other]));
        }
    })
}
