//! The corpus as `cel` crate programs, indexed by hand: what one would build
//! directly on the `cel` crate's interpreter.
//!
//! Each rule's condition is compiled once with `cel::Program::compile`; a
//! map from (tenant, tool) to the rule list (globals merged in, bundle order)
//! replaces Ward's index; `match.roles` and sinks are checked natively, as
//! Ward does. Per request, a `cel::Context` is built from the request JSON
//! and the facts (that conversion is part of the end-to-end figure).
//! A condition that errors counts as a match for deny, approval and
//! remediate rules and as no match for the others, as in Ward.

use std::collections::{HashMap, HashSet};

use anyhow::{Context as _, Result};
use serde_json::{json, Map, Value};
use ward_policy::{Facts, ProvenanceLabel};

use crate::common::{self, RuleSpec};

struct Rule {
    outcome: &'static str,
    roles: &'static [&'static str],
    when: Option<cel::Program>,
}

/// The compiled, indexed programs.
pub struct CelPeer {
    rules: Vec<Rule>,
    /// (tenant, tool) → rule indices, bundle order.
    by_tenant_tool: HashMap<String, HashMap<String, Vec<usize>>>,
    /// tool → global rule indices, for tenants with no rules of their own.
    by_tool: HashMap<String, Vec<usize>>,
    catalog: HashSet<&'static str>,
    sinks: Vec<(&'static str, &'static str)>,
}

impl std::fmt::Debug for CelPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CelPeer")
    }
}

/// A request, converted.
pub struct Prepared {
    ctx: cel::Context<'static, 'static>,
    tenant: String,
    tool: String,
    roles: Vec<String>,
    untrusted: Vec<String>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prepared")
    }
}

impl CelPeer {
    pub fn load() -> Result<CelPeer> {
        let specs = common::rules();
        let mut rules = Vec::with_capacity(specs.len());
        for spec in &specs {
            let when = match spec.cel() {
                Some(src) => Some(
                    cel::Program::compile(&src)
                        .map_err(|e| anyhow::anyhow!("{e}"))
                        .with_context(|| format!("rule `{}`", spec.id))?,
                ),
                None => None,
            };
            rules.push(Rule {
                outcome: spec.outcome(),
                roles: spec.match_roles(),
                when,
            });
        }
        let applies = |spec: &RuleSpec, tool: &str| spec.tool().is_none_or(|t| t == tool);
        let mut by_tenant_tool: HashMap<String, HashMap<String, Vec<usize>>> = HashMap::new();
        let mut by_tool: HashMap<String, Vec<usize>> = HashMap::new();
        for tool in common::TOOLS.map(|t| t.name) {
            by_tool.insert(
                tool.to_owned(),
                specs
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.tenant.is_none() && applies(s, tool))
                    .map(|(i, _)| i)
                    .collect(),
            );
            for n in 0..common::TENANTS {
                let tenant = common::tenant_name(n);
                let list = specs
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| {
                        applies(s, tool) && s.tenant.as_ref().is_none_or(|t| *t == tenant)
                    })
                    .map(|(i, _)| i)
                    .collect();
                by_tenant_tool
                    .entry(tenant)
                    .or_default()
                    .insert(tool.to_owned(), list);
            }
        }
        Ok(CelPeer {
            rules,
            by_tenant_tool,
            by_tool,
            catalog: common::TOOLS.iter().map(|t| t.name).collect(),
            sinks: common::sinks(),
        })
    }

    pub fn decide(&self, p: &Prepared) -> &'static str {
        if !self.catalog.contains(p.tool.as_str()) {
            return "deny";
        }
        let mut fired: Vec<&'static str> = Vec::new();
        for (tool, arg) in &self.sinks {
            if *tool == p.tool && p.untrusted.iter().any(|a| a == arg) {
                fired.push("deny");
            }
        }
        let candidates = self
            .by_tenant_tool
            .get(&p.tenant)
            .and_then(|t| t.get(&p.tool))
            .or_else(|| self.by_tool.get(&p.tool));
        for &i in candidates.map_or(&[][..], Vec::as_slice) {
            let Some(rule) = self.rules.get(i) else {
                continue;
            };
            if !rule.roles.is_empty() && !p.roles.iter().any(|r| rule.roles.contains(&r.as_str())) {
                continue;
            }
            let matched = match &rule.when {
                None => true,
                Some(program) => match program.execute(&p.ctx) {
                    Ok(cel::Value::Bool(b)) => b,
                    _ => matches!(rule.outcome, "deny" | "require_approval" | "remediate"),
                },
            };
            if matched {
                fired.push(rule.outcome);
            }
        }
        common::combine(fired)
    }
}

/// Builds the `cel::Context` from the request body and the facts.
pub fn prepare(request_json: &[u8], facts: &Facts) -> Result<Prepared> {
    let body: Value = serde_json::from_slice(request_json)?;
    let Value::Object(mut body) = body else {
        anyhow::bail!("the request is not an object");
    };
    let actor = body.remove("actor").unwrap_or(Value::Null);
    let tenant = actor["tenant"].as_str().unwrap_or_default().to_owned();
    let tool = body
        .get("tool")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let roles: Vec<String> = actor["principal"]["roles"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let provenance: Map<String, Value> = facts
        .provenance
        .iter()
        .map(|(k, p)| {
            (
                k.clone(),
                json!({"trusted": p.label == ProvenanceLabel::Trusted, "label": p.label.as_str()}),
            )
        })
        .collect();
    let untrusted = facts
        .provenance
        .iter()
        .filter(|(_, p)| p.label == ProvenanceLabel::Untrusted)
        .map(|(k, _)| k.clone())
        .collect();
    let mut ctx = cel::Context::default();
    let Value::Object(mut actor) = actor else {
        anyhow::bail!("the actor is not an object");
    };
    let vars = [
        (
            "principal",
            actor.remove("principal").unwrap_or(Value::Null),
        ),
        ("tenant", json!(tenant)),
        ("agent", actor.remove("agent").unwrap_or(Value::Null)),
        ("args", body.remove("args").unwrap_or(Value::Null)),
        ("context", body.remove("context").unwrap_or(Value::Null)),
        (
            "scan",
            json!({
                "injection": facts.scan.iter().any(|f| f.family() == "injection"),
                "pii": facts.scan.iter().any(|f| f.family() == "pii"),
                "secret": facts.scan.iter().any(|f| f.family() == "secret"),
            }),
        ),
        ("provenance", json!({ "args": provenance })),
        ("now", json!(facts.now)),
    ];
    for (name, v) in vars {
        ctx.add_variable_from_value(name, cel::to_value(v)?);
    }
    Ok(Prepared {
        ctx,
        tenant,
        tool,
        roles,
        untrusted,
    })
}
