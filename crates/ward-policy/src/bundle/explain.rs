//! Explanations: every rule of the bundle, and why it matched or did not.
//!
//! This is the slow path for humans (`ward policy explain`). It walks every
//! rule instead of the index, so a test can check that the index never hides
//! a rule that should have been considered.

use ward_core::{Outcome, Request};

use super::compiled::Compiled;
use super::eval::{evaluate, fire, Evaluation, Firing};
use crate::cel::Activation;
use crate::facts::Facts;

/// What happened to one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The rule's `match` excludes the request; the string says which part.
    OutOfScope(String),
    /// The rule was in scope and its condition was evaluated.
    Considered(Firing),
}

/// One rule's trace.
#[derive(Debug, Clone)]
pub struct RuleTrace {
    /// Rule id.
    pub id: String,
    /// The rule's decision.
    pub decision: Outcome,
    /// The condition, as written.
    pub when: Option<String>,
    /// What happened.
    pub verdict: Verdict,
}

/// A full explanation of one evaluation.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// Every rule, in bundle order.
    pub rules: Vec<RuleTrace>,
    /// The evaluation, exactly as `evaluate` gives it.
    pub evaluation: Evaluation,
}

/// Explains how the bundle decides `request`.
pub fn explain(compiled: &Compiled, request: &Request, facts: &Facts) -> Explanation {
    let tool = request
        .tool
        .as_deref()
        .and_then(|name| compiled.tool_ids.get(name).copied());
    let catalog = tool.and_then(|i| compiled.tools.get(i));
    let act = Activation {
        request,
        tool: catalog.map(|t| &t.facts),
        facts,
    };
    let actor = &request.actor;
    let rules = compiled
        .rules
        .iter()
        .map(|rule| {
            let m = &rule.matcher;
            let out_of_scope = if !m.interventions.contains(&request.intervention) {
                Some(format!(
                    "intervention `{}` is not matched",
                    request.intervention.as_str()
                ))
            } else if !m.admits_tool(tool) {
                Some(format!(
                    "tool `{}` is not matched",
                    request.tool.as_deref().unwrap_or("-")
                ))
            } else if !m.tenants.is_empty() && !m.tenants.contains(&actor.tenant) {
                Some(format!("tenant `{}` is not matched", actor.tenant))
            } else if !m.roles.is_empty()
                && !actor.principal.roles.iter().any(|r| m.roles.contains(r))
            {
                Some(format!("the principal has none of the roles {:?}", m.roles))
            } else if !m.agents.is_empty() && !m.agents.contains(&actor.agent.id) {
                Some(format!("agent `{}` is not matched", actor.agent.id))
            } else {
                None
            };
            let verdict = match out_of_scope {
                Some(why) => Verdict::OutOfScope(why),
                None => Verdict::Considered(fire(rule, &act)),
            };
            RuleTrace {
                id: rule.id.clone(),
                decision: rule.outcome,
                when: rule.when_source.clone(),
                verdict,
            }
        })
        .collect();
    Explanation {
        rules,
        evaluation: evaluate(compiled, request, facts),
    }
}
