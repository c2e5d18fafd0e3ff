//! Evaluation: a pure function of the compiled bundle, the request and facts.
//!
//! Precedence (ARCHITECTURE §3): an explicit deny wins; then the most
//! restrictive matching outcome, `require_approval` > `remediate` >
//! `allow_with_constraints` > `allow`; no match is the intervention's default,
//! which is always `deny` (`default_deny`) for `pre_tool_call`. A condition
//! that errors counts as a match for deny, approval and remediate rules, and
//! as no match for allow and constraint rules. A remediated call is evaluated
//! once more after the rewrite and denied unless that second pass allows it.

use serde_json::{Map, Value};
use ward_core::{Constraints, Intervention, Outcome, Reason, ReasonCode, Request};

use super::compiled::{ApprovalRequirement, Compiled, CompiledRule, RewriteOp};
use crate::cel::Activation;
use crate::facts::{Facts, ProvenanceLabel};

/// The result of evaluating one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The combined outcome.
    pub outcome: Outcome,
    /// Why: every matched rule, in bundle order, or the stage that decided.
    pub reasons: Vec<Reason>,
    /// Merged constraints, when the outcome carries them.
    pub constraints: Option<Constraints>,
    /// For `remediate`: the only arguments the call may run with.
    pub rewritten_args: Option<Map<String, Value>>,
    /// For `require_approval`: who must approve, how many, for how long.
    pub approval: Option<ApprovalRequirement>,
}

impl Evaluation {
    /// A deny for one reason that no rule gave (an engine stage).
    pub fn deny(code: ReasonCode, message: String) -> Evaluation {
        Evaluation {
            outcome: Outcome::Deny,
            reasons: vec![Reason {
                code,
                rule: None,
                message,
            }],
            constraints: None,
            rewritten_args: None,
            approval: None,
        }
    }
}

/// Whether a rule fired, and how an error was resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firing {
    /// The match and the condition hold.
    Fired,
    /// The condition is false.
    ConditionFalse,
    /// The condition errored and the rule counts as matched (fail closed).
    ErrorCountsAsMatch(String),
    /// The condition errored and the rule counts as not matched (fail closed).
    ErrorCountsAsNoMatch(String),
}

impl Firing {
    /// Whether the rule takes part in the outcome.
    pub fn matched(&self) -> bool {
        matches!(self, Firing::Fired | Firing::ErrorCountsAsMatch(_))
    }
}

/// Evaluates the rule's condition, with the error semantics of ARCHITECTURE §3.
pub(crate) fn fire(rule: &CompiledRule, act: &Activation<'_>) -> Firing {
    let Some(when) = &rule.when else {
        return Firing::Fired;
    };
    match when.eval_bool(act) {
        Ok(true) => Firing::Fired,
        Ok(false) => Firing::ConditionFalse,
        Err(e) => match rule.outcome {
            Outcome::Deny | Outcome::RequireApproval | Outcome::Remediate => {
                Firing::ErrorCountsAsMatch(e.to_string())
            }
            Outcome::Allow | Outcome::AllowWithConstraints => {
                Firing::ErrorCountsAsNoMatch(e.to_string())
            }
        },
    }
}

/// Evaluates `request` against the bundle. Pure and deterministic.
pub fn evaluate(compiled: &Compiled, request: &Request, facts: &Facts) -> Evaluation {
    let first = evaluate_once(compiled, request, facts);
    if first.outcome != Outcome::Remediate {
        return first;
    }
    if request.intervention.is_content() {
        // Content is remediated by redacting the scanners' findings in it,
        // which the engine does; there are no arguments to evaluate again.
        return first;
    }
    let mut rewritten = request.clone();
    let mut touched = Vec::new();
    for reason in &first.reasons {
        let Some(rule) = reason
            .rule
            .as_ref()
            .and_then(|id| compiled.rules.iter().find(|r| &r.id == id))
        else {
            continue;
        };
        if rule.outcome == Outcome::Remediate {
            apply_rewrites(&rule.rewrites, &mut rewritten.args, &mut touched);
        }
    }
    // Findings in rewritten arguments described the old values.
    let stale = |f: &crate::facts::Finding| f.arg.as_ref().is_some_and(|a| touched.contains(a));
    let second = if facts.scan.iter().any(stale) {
        let mut fresh = facts.clone();
        fresh.scan.retain(|f| !stale(f));
        evaluate_once(compiled, &rewritten, &fresh)
    } else {
        evaluate_once(compiled, &rewritten, facts)
    };
    let mut reasons = first.reasons;
    match second.outcome {
        Outcome::Allow | Outcome::AllowWithConstraints => Evaluation {
            outcome: Outcome::Remediate,
            reasons,
            constraints: second.constraints,
            rewritten_args: Some(rewritten.args),
            approval: None,
        },
        other => {
            reasons.extend(second.reasons);
            reasons.push(Reason {
                code: ReasonCode::Rule,
                rule: None,
                message: format!(
                    "the rewritten call is not permitted (second evaluation: {})",
                    other.as_str()
                ),
            });
            Evaluation {
                outcome: Outcome::Deny,
                reasons,
                constraints: None,
                rewritten_args: None,
                approval: None,
            }
        }
    }
}

fn evaluate_once(compiled: &Compiled, request: &Request, facts: &Facts) -> Evaluation {
    let intervention = request.intervention;
    let tool = match request.tool.as_deref() {
        Some(name) => match compiled.tool_ids.get(name) {
            Some(&i) => Some(i),
            None if intervention == Intervention::PreToolCall
                || intervention == Intervention::PostToolCall =>
            {
                return Evaluation::deny(
                    ReasonCode::UnknownTool,
                    format!(
                        "tool `{name}` is not in the catalog of `{}`",
                        compiled.policy.name
                    ),
                );
            }
            None => None,
        },
        None => None,
    };
    let catalog = tool.and_then(|i| compiled.tools.get(i));

    let mut outcome: Option<Outcome> = None;
    let mut reasons = Vec::new();
    if let (Some(t), Intervention::PreToolCall) = (catalog, intervention) {
        let mut path = String::from("args");
        if let Some(v) = t.schema.validate_map(&request.args, &mut path) {
            return Evaluation::deny(
                ReasonCode::SchemaViolation,
                format!("`{}`: {}", v.path, v.message),
            );
        }
        for sink in &t.sinks {
            let Some(p) = facts.provenance.get(sink) else {
                continue;
            };
            if p.label == ProvenanceLabel::Untrusted {
                outcome = Some(outcome.map_or(t.on_untrusted, |o| o.max_by_rank(t.on_untrusted)));
                let from = if p.sources.is_empty() {
                    String::new()
                } else {
                    format!(" (seen in {})", p.sources.join(", "))
                };
                reasons.push(Reason {
                    code: ReasonCode::UntrustedFlow,
                    rule: None,
                    message: format!(
                        "sink argument `{sink}` of `{}` comes only from untrusted content{from}",
                        t.facts.name
                    ),
                });
            }
        }
    }

    let act = Activation {
        request,
        tool: catalog.map(|t| &t.facts),
        facts,
    };
    let mut constraints = Constraints::default();
    let mut approval: Option<ApprovalRequirement> = None;
    for i in compiled
        .index
        .candidates(intervention, tool, &request.actor.tenant)
    {
        let Some(rule) = compiled.rules.get(i) else {
            continue;
        };
        if !rule.matcher.admits_actor(request) {
            continue;
        }
        let firing = fire(rule, &act);
        if !firing.matched() {
            continue;
        }
        outcome = Some(outcome.map_or(rule.outcome, |o| o.max_by_rank(rule.outcome)));
        constraints.merge(&rule.constraints);
        if let Some(req) = &rule.approval {
            approval = Some(match approval.take() {
                None => req.clone(),
                Some(mut acc) => {
                    acc.approvers.extend(req.approvers.iter().cloned());
                    acc.approvers.sort();
                    acc.approvers.dedup();
                    acc.quorum = acc.quorum.max(req.quorum);
                    acc.ttl_secs = acc.ttl_secs.min(req.ttl_secs);
                    acc
                }
            });
        }
        let message = match &firing {
            Firing::ErrorCountsAsMatch(e) => format!(
                "{} (condition failed: {e}; counted as a match)",
                rule.message
            ),
            _ => rule.message.clone(),
        };
        reasons.push(Reason {
            code: rule.code,
            rule: Some(rule.id.clone()),
            message,
        });
    }

    let outcome = match outcome {
        Some(o) => o,
        None => {
            let default = compiled
                .defaults
                .no_match
                .get(intervention as usize)
                .copied()
                .unwrap_or(Outcome::Deny);
            if default == Outcome::Deny {
                reasons.push(Reason {
                    code: ReasonCode::DefaultDeny,
                    rule: None,
                    message: format!(
                        "no rule of `{}` permits this {}",
                        compiled.policy.name,
                        intervention.as_str()
                    ),
                });
            }
            default
        }
    };
    Evaluation {
        outcome,
        reasons,
        constraints: (outcome != Outcome::Deny && !constraints.is_empty()).then_some(constraints),
        rewritten_args: None,
        approval: if outcome == Outcome::RequireApproval {
            approval
        } else {
            None
        },
    }
}

/// Applies rewrites to the arguments, recording the names it touched.
pub(crate) fn apply_rewrites(
    ops: &[RewriteOp],
    args: &mut Map<String, Value>,
    touched: &mut Vec<String>,
) {
    for op in ops {
        match op {
            RewriteOp::Redact {
                arg,
                pattern,
                replacement,
            } => {
                if let Some(Value::String(s)) = args.get_mut(arg) {
                    let replaced = pattern
                        .replace_all(s, regex::NoExpand(replacement))
                        .into_owned();
                    *s = replaced;
                }
                touched.push(arg.clone());
            }
            RewriteOp::Set { arg, value } => {
                args.insert(arg.clone(), Value::String(value.clone()));
                touched.push(arg.clone());
            }
            RewriteOp::Remove { arg } => {
                args.remove(arg);
                touched.push(arg.clone());
            }
        }
    }
}

trait MaxByRank {
    fn max_by_rank(self, other: Outcome) -> Outcome;
}

impl MaxByRank for Outcome {
    fn max_by_rank(self, other: Outcome) -> Outcome {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}
