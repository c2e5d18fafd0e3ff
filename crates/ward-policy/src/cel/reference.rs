//! The reference evaluator: the `cel` crate's own interpreter.
//!
//! It is kept for two jobs: it is the oracle of the differential tests that
//! hold Ward's compiled evaluator to the same answers, and the baseline of
//! the benchmarks. It converts the whole [`Activation`] into a `cel::Context`
//! on every evaluation (that conversion is part of its cost, and exactly what
//! the compiled evaluator avoids), with the same data model: JSON numbers are
//! `int` when they fit an `i64`, else `uint`, else `double`; absent optional
//! fields (`tool`, `action`, `source.uri`, a finding's `arg`, ...) are not
//! bound at all, so reading them is an error and `has()` is false.

use std::collections::HashMap;
use std::sync::Arc;

use cel::objects::{Key, Map};
use cel::{Context, Env, Value};

use super::Activation;
use crate::facts::{Facts, ProvenanceLabel};

/// A condition parsed once by the `cel` crate, to evaluate many times.
pub struct Prepared {
    env: Arc<Env>,
    program: cel::Program,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("program", &self.program)
            .finish_non_exhaustive()
    }
}

impl Prepared {
    /// Parses `source` with the standard environment.
    pub fn new(source: &str) -> Result<Prepared, String> {
        let env = Arc::new(Env::stdlib());
        let program = env.compile(source).map_err(|e| e.to_string())?;
        Ok(Prepared { env, program })
    }

    /// Builds a context from `act` and runs the interpreter.
    pub fn eval(&self, act: &Activation<'_>) -> Result<Value, String> {
        let mut context = Context::with_env(Arc::clone(&self.env));
        bind(&mut context, act);
        self.program.execute(&context).map_err(|e| e.to_string())
    }
}

/// Parses `source` and evaluates it against `act` with the `cel` crate.
pub fn eval(source: &str, act: &Activation<'_>) -> Result<Value, String> {
    Prepared::new(source)?.eval(act)
}

/// Binds every variable of `act` in `context`.
fn bind(context: &mut Context<'_, '_>, act: &Activation<'_>) {
    let request = act.request;
    let actor = &request.actor;
    let principal = &actor.principal;
    let attrs = principal.attrs.iter().map(|(k, v)| (k.as_str(), json(v)));
    context.add_variable_from_value(
        "principal",
        map([
            ("id", string(&principal.id)),
            ("kind", string(principal.kind.as_str())),
            ("roles", strings(&principal.roles)),
            ("attrs", map(attrs)),
        ]),
    );
    context.add_variable_from_value("tenant", string(&actor.tenant));
    context.add_variable_from_value("session", string(&actor.session));
    context.add_variable_from_value(
        "agent",
        map([
            ("id", string(&actor.agent.id)),
            ("version", string(&actor.agent.version)),
        ]),
    );
    if let Some(tool) = act.tool {
        context.add_variable_from_value(
            "tool",
            map([
                ("name", string(&tool.name)),
                ("capability", string(&tool.capability)),
                ("risk", string(&tool.risk)),
                ("consequential", Value::Bool(tool.consequential)),
            ]),
        );
    }
    context.add_variable_from_value("intervention", string(request.intervention.as_str()));
    for (name, value) in [
        ("action", &request.action),
        ("target", &request.target),
        ("content", &request.content),
    ] {
        if let Some(value) = value {
            context.add_variable_from_value(name, string(value));
        }
    }
    if let Some(source) = &request.source {
        let mut fields = vec![("kind", string(&source.kind))];
        if let Some(tool) = &source.tool {
            fields.push(("tool", string(tool)));
        }
        if let Some(uri) = &source.uri {
            fields.push(("uri", string(uri)));
        }
        context.add_variable_from_value("source", map(fields));
    }
    let object = |m: &serde_json::Map<String, serde_json::Value>| {
        map(m.iter().map(|(k, v)| (k.as_str(), json(v))))
    };
    context.add_variable_from_value("args", object(&request.args));
    context.add_variable_from_value("context", object(&request.context));
    bind_facts(context, act.facts);
}

fn bind_facts(context: &mut Context<'_, '_>, facts: &Facts) {
    let family = |name: &str| Value::Bool(facts.scan.iter().any(|f| f.family() == name));
    let mut kinds: Vec<&str> = facts.scan.iter().map(|f| f.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let findings = facts.scan.iter().map(|f| {
        let mut fields = vec![
            ("kind", string(&f.kind)),
            ("rule", string(&f.rule)),
            ("confidence", Value::Float(f.confidence)),
        ];
        if let Some(arg) = &f.arg {
            fields.push(("arg", string(arg)));
        }
        map(fields)
    });
    context.add_variable_from_value(
        "scan",
        map([
            ("injection", family("injection")),
            ("pii", family("pii")),
            ("secret", family("secret")),
            (
                "kinds",
                Value::List(Arc::new(kinds.into_iter().map(string).collect())),
            ),
            ("findings", Value::List(Arc::new(findings.collect()))),
        ]),
    );
    let provenance = facts.provenance.iter().map(|(name, p)| {
        let fields = map([
            ("trusted", Value::Bool(p.label == ProvenanceLabel::Trusted)),
            ("label", string(p.label.as_str())),
            ("sources", strings(&p.sources)),
        ]);
        (name.as_str(), fields)
    });
    context.add_variable_from_value("provenance", map([("args", map(provenance))]));
    let limits = facts.limits.iter().map(|(name, l)| {
        let fields = map([
            ("used", Value::Float(l.used)),
            ("limit", Value::Float(l.limit)),
            ("remaining", Value::Float(l.remaining())),
            ("exceeded", Value::Bool(l.exceeded())),
        ]);
        (name.as_str(), fields)
    });
    context.add_variable_from_value("limits", map(limits));
    context.add_variable_from_value("now", Value::Int(facts.now));
}

fn string(s: &str) -> Value {
    Value::String(Arc::new(s.to_owned()))
}

fn strings(items: &[String]) -> Value {
    Value::List(Arc::new(items.iter().map(|s| string(s)).collect()))
}

fn map<'k>(entries: impl IntoIterator<Item = (&'k str, Value)>) -> Value {
    let map: HashMap<Key, Value> = entries
        .into_iter()
        .map(|(k, v)| (Key::String(Arc::new(k.to_owned())), v))
        .collect();
    Value::Map(Map { map: Arc::new(map) })
}

/// The CEL value of a JSON value, with the same number mapping as Ward's
/// evaluator.
pub(crate) fn json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => string(s),
        serde_json::Value::Array(items) => Value::List(Arc::new(items.iter().map(json).collect())),
        serde_json::Value::Object(m) => map(m.iter().map(|(k, v)| (k.as_str(), json(v)))),
    }
}
