//! The compiled bundle: tools, rules and the rule index, ready to evaluate.

use std::collections::HashMap;

use serde_json::Value;
use ward_core::{Constraints, Intervention, Outcome, PolicyRef, ReasonCode};

use super::model::Scanners;
use super::schema::ArgSchema;
use crate::cel::Program;
use crate::facts::ToolFacts;

/// A bundle, validated and compiled. Immutable and cheap to share.
#[derive(Debug)]
pub struct Compiled {
    pub(crate) policy: PolicyRef,
    pub(crate) tools: Vec<CompiledTool>,
    pub(crate) tool_ids: HashMap<String, usize>,
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) index: RuleIndex,
    pub(crate) limits: Vec<LimitDecl>,
    pub(crate) defaults: CompiledDefaults,
    pub(crate) scanners: Scanners,
}

#[derive(Debug)]
pub(crate) struct CompiledTool {
    pub(crate) facts: ToolFacts,
    pub(crate) description: Option<String>,
    pub(crate) schema: ArgSchema,
    pub(crate) sinks: Vec<String>,
    pub(crate) on_untrusted: Outcome,
    pub(crate) indexed: Vec<String>,
    pub(crate) output: OutputTrust,
    /// The tool as written, for diffs.
    pub(crate) source: Value,
}

/// What of a tool's output the catalog declares trusted; by default,
/// nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputTrust {
    /// The whole output is trusted content.
    pub all: bool,
    /// JSON paths of trusted fields, such as `$.users[*].email`.
    pub fields: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct CompiledDefaults {
    /// Outcome when no rule matches, by `Intervention as usize`.
    pub(crate) no_match: [Outcome; 5],
    pub(crate) approval_ttl_secs: u64,
    pub(crate) shadow: bool,
}

/// What a `require_approval` rule asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRequirement {
    /// `role:NAME` or `principal:ID`, sorted and deduplicated.
    pub approvers: Vec<String>,
    /// Distinct approvers needed.
    pub quorum: u32,
    /// Seconds until the approval expires.
    pub ttl_secs: u64,
}

#[derive(Debug)]
pub(crate) enum RewriteOp {
    Redact {
        arg: String,
        pattern: regex::Regex,
        replacement: String,
    },
    Set {
        arg: String,
        value: String,
    },
    Remove {
        arg: String,
    },
}

#[derive(Debug)]
pub(crate) struct CompiledRule {
    pub(crate) id: String,
    pub(crate) outcome: Outcome,
    pub(crate) code: ReasonCode,
    pub(crate) message: String,
    pub(crate) matcher: CompiledMatcher,
    pub(crate) when: Option<Program>,
    pub(crate) when_source: Option<String>,
    pub(crate) approval: Option<ApprovalRequirement>,
    pub(crate) constraints: Constraints,
    pub(crate) rewrites: Vec<RewriteOp>,
    /// The rule as written, for diffs.
    pub(crate) source: Value,
}

/// A rule's `match`, resolved against the catalog.
#[derive(Debug, Clone, Default)]
pub(crate) struct CompiledMatcher {
    pub(crate) interventions: Vec<Intervention>,
    /// Catalog indices; `None` means every tool.
    pub(crate) tools: Option<Vec<usize>>,
    pub(crate) roles: Vec<String>,
    pub(crate) tenants: Vec<String>,
    pub(crate) agents: Vec<String>,
}

impl CompiledMatcher {
    /// The checks the index does not already make.
    pub(crate) fn admits_actor(&self, request: &ward_core::Request) -> bool {
        let actor = &request.actor;
        (self.roles.is_empty() || actor.principal.roles.iter().any(|r| self.roles.contains(r)))
            && (self.agents.is_empty() || self.agents.contains(&actor.agent.id))
    }

    /// Whether a tool (by catalog index) is in scope; `None` is "no tool".
    pub(crate) fn admits_tool(&self, tool: Option<usize>) -> bool {
        match (&self.tools, tool) {
            (None, _) => true,
            (Some(tools), Some(t)) => tools.contains(&t),
            (Some(_), None) => false,
        }
    }
}

/// A declared limit. The engine keeps the counters; the bundle only declares.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitDecl {
    /// Limit id, as CEL reads it in `limits.<id>`.
    pub id: String,
    /// Actor fields keying the counter: `principal`, `tenant`, `agent`, `tool`.
    pub key: Vec<String>,
    /// Window length in seconds.
    pub window_secs: u64,
    /// The maximum count, or sum.
    pub max: f64,
    /// The argument summed (such as `amount`), or `None` to count requests.
    pub sum_arg: Option<String>,
    /// Tools in scope, by name; empty means every tool.
    pub tools: Vec<String>,
}

/// Rules by intervention, tool and tenant. Each list holds rule indices in
/// bundle order, so the merge of two lists keeps bundle order.
#[derive(Debug, Default)]
pub(crate) struct RuleIndex {
    /// `slots[intervention * (tools + 1) + tool]`, where tool `tools` is "no tool".
    pub(crate) slots: Vec<Slot>,
    pub(crate) stride: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Slot {
    pub(crate) any_tenant: Vec<u32>,
    pub(crate) by_tenant: HashMap<String, Vec<u32>>,
}

impl RuleIndex {
    pub(crate) fn build(rules: &[CompiledRule], tool_count: usize) -> RuleIndex {
        let stride = tool_count + 1;
        let mut slots: Vec<Slot> = (0..stride * Intervention::ALL.len())
            .map(|_| Slot::default())
            .collect();
        for (i, rule) in rules.iter().enumerate() {
            let Ok(i) = u32::try_from(i) else { continue };
            for intervention in &rule.matcher.interventions {
                let tools: Vec<usize> = match &rule.matcher.tools {
                    Some(tools) => tools.clone(),
                    None => (0..stride).collect(),
                };
                for tool in tools {
                    let Some(slot) = slots.get_mut(*intervention as usize * stride + tool) else {
                        continue;
                    };
                    if rule.matcher.tenants.is_empty() {
                        slot.any_tenant.push(i);
                    } else {
                        for tenant in &rule.matcher.tenants {
                            slot.by_tenant.entry(tenant.clone()).or_default().push(i);
                        }
                    }
                }
            }
        }
        RuleIndex { slots, stride }
    }

    /// Candidate rules, in bundle order.
    pub(crate) fn candidates<'a>(
        &'a self,
        intervention: Intervention,
        tool: Option<usize>,
        tenant: &str,
    ) -> impl Iterator<Item = usize> + 'a {
        let tool = tool.unwrap_or(self.stride.saturating_sub(1));
        let slot = self.slots.get(intervention as usize * self.stride + tool);
        let any: &[u32] = slot.map_or(&[], |s| s.any_tenant.as_slice());
        let mine: &[u32] = slot
            .and_then(|s| s.by_tenant.get(tenant))
            .map_or(&[], Vec::as_slice);
        MergeSorted { a: any, b: mine }.map(|i| i as usize)
    }
}

/// Merges two ascending index lists.
struct MergeSorted<'a> {
    a: &'a [u32],
    b: &'a [u32],
}

impl Iterator for MergeSorted<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let take_a = match (self.a.first(), self.b.first()) {
            (Some(x), Some(y)) => x <= y,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        let list = if take_a { &mut self.a } else { &mut self.b };
        let (first, rest) = list.split_first()?;
        *list = rest;
        Some(*first)
    }
}

impl Compiled {
    /// The policy reference recorded in every decision.
    pub fn policy(&self) -> &PolicyRef {
        &self.policy
    }

    /// The declared limits.
    pub fn limits(&self) -> &[LimitDecl] {
        &self.limits
    }

    /// The scanner settings.
    pub fn scanners(&self) -> &Scanners {
        &self.scanners
    }

    /// The catalog's facts about a tool, if the catalog has it.
    pub fn tool(&self, name: &str) -> Option<&ToolFacts> {
        self.tool_ids
            .get(name)
            .and_then(|&i| self.tools.get(i))
            .map(|t| &t.facts)
    }

    /// Tool names in the catalog, sorted.
    pub fn tool_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.tool_ids.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Argument paths of a tool declared indexable for audit queries.
    pub fn indexed_args(&self, tool: &str) -> &[String] {
        self.tool_ids
            .get(tool)
            .and_then(|&i| self.tools.get(i))
            .map_or(&[], |t| &t.indexed)
    }

    /// What of a tool's output the catalog declares trusted (nothing for
    /// a tool not in the catalog).
    pub fn output_trust(&self, tool: &str) -> Option<&OutputTrust> {
        self.tool_ids
            .get(tool)
            .and_then(|&i| self.tools.get(i))
            .map(|t| &t.output)
    }

    /// The catalog's description of a tool.
    pub fn tool_description(&self, name: &str) -> Option<&str> {
        self.tool_ids
            .get(name)
            .and_then(|&i| self.tools.get(i))
            .and_then(|t| t.description.as_deref())
    }

    /// Number of rules.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Whether the bundle asks for shadow mode.
    pub fn shadow(&self) -> bool {
        self.defaults.shadow
    }
}
