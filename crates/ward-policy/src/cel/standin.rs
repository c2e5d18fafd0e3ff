//! TEMPORARY stand-in until the compiled evaluator lands: runs the `cel`
//! crate's interpreter. Replaced wholesale by the compiled evaluator.

use serde_json::json;

use super::Activation;
use crate::shape::Shape;

/// A compiled condition.
#[derive(Debug)]
pub struct Program {
    program: cel::Program,
}

/// A condition that does not compile.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid condition: {message}")]
pub struct CelError {
    message: String,
}

impl CelError {
    /// Byte offset into the condition, where known.
    pub fn offset(&self) -> Option<usize> {
        None
    }
}

/// A condition that failed while evaluating.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(String);

pub(crate) fn compile(source: &str, _shape: &Shape) -> Result<Program, CelError> {
    cel::Program::compile(source)
        .map(|program| Program { program })
        .map_err(|e| CelError {
            message: e.to_string(),
        })
}

impl Program {
    /// Evaluates to a bool.
    pub fn eval_bool(&self, act: &Activation<'_>) -> Result<bool, EvalError> {
        let r = act.request;
        let facts = act.facts;
        let vars = json!({
            "principal": r.actor.principal, "tenant": r.actor.tenant, "session": r.actor.session,
            "agent": r.actor.agent, "tool": act.tool, "args": r.args, "context": r.context,
            "intervention": r.intervention.as_str(),
            "scan": {
                "injection": facts.scan.iter().any(|f| f.family() == "injection"),
                "pii": facts.scan.iter().any(|f| f.family() == "pii"),
                "secret": facts.scan.iter().any(|f| f.family() == "secret"),
            },
            "provenance": {"args": facts.provenance.iter().map(|(k, v)| (k.clone(), json!({"trusted": v.label == crate::facts::ProvenanceLabel::Trusted, "label": v.label.as_str()}))).collect::<serde_json::Map<_, _>>()},
            "now": facts.now,
        });
        let mut ctx = cel::Context::default();
        if let serde_json::Value::Object(map) = vars {
            for (k, v) in map {
                let v = cel::to_value(v).map_err(|e| EvalError(e.to_string()))?;
                ctx.add_variable_from_value(k, v);
            }
        }
        match self.program.execute(&ctx) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(EvalError(format!("condition is not a bool: {other:?}"))),
            Err(e) => Err(EvalError(e.to_string())),
        }
    }
}
