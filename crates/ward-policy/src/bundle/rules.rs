//! Compiling rules: `match` against the catalog, conditions, payloads and
//! rewrites.

use std::collections::{BTreeMap, HashMap};

use globset::Glob;
use marked_yaml::{Span, Spanned};
use serde_json::Value;
use ward_core::{Constraints, Intervention, Outcome, ReasonCode};

use super::compiled::{
    ApprovalRequirement, CompiledDefaults, CompiledMatcher, CompiledRule, CompiledTool, RewriteOp,
};
use super::load::{duration, parse_intervention, DENY_CODES};
use super::model::{Matcher, Rewrite, Rule};
use super::yaml::{Diagnostic, Sources};
use crate::shape::Shape;
use crate::suggest::suggest;

pub(super) fn compile_matcher(
    m: &Matcher,
    tools: &[CompiledTool],
    ids: &HashMap<String, usize>,
    src: Sources<'_>,
    diags: &mut Vec<Diagnostic>,
) -> CompiledMatcher {
    let mut interventions: Vec<Intervention> = m
        .interventions
        .iter()
        .filter_map(|i| parse_intervention(i, src, diags))
        .collect();
    if m.interventions.is_empty() {
        interventions.push(Intervention::PreToolCall);
    }
    let mut selected: Option<Vec<usize>> = None;
    if !m.tools.is_empty() {
        let mut set = Vec::new();
        for pattern in &m.tools {
            let matched: Vec<usize> = if pattern.contains(['*', '?', '[', '{']) {
                match Glob::new(pattern) {
                    Ok(glob) => {
                        let glob = glob.compile_matcher();
                        tools
                            .iter()
                            .enumerate()
                            .filter(|(_, t)| glob.is_match(&t.facts.name))
                            .map(|(i, _)| i)
                            .collect()
                    }
                    Err(e) => {
                        diags.push(src.error(
                            pattern.span(),
                            format!("invalid tool pattern `{}`: {e}", **pattern),
                        ));
                        continue;
                    }
                }
            } else {
                ids.get(pattern.as_str()).copied().into_iter().collect()
            };
            if matched.is_empty() {
                let mut names: Vec<&str> = ids.keys().map(String::as_str).collect();
                names.sort_unstable();
                let hint = suggest(pattern, names.into_iter())
                    .map(|h| format!("; did you mean `{h}`?"))
                    .unwrap_or_default();
                diags.push(src.error(
                    pattern.span(),
                    format!("`{}` names no tool in the catalog{hint}", **pattern),
                ));
            }
            set.extend(matched);
        }
        selected = Some(set);
    }
    if !m.capabilities.is_empty() {
        let caps: Vec<&str> = m.capabilities.iter().map(|c| c.as_str()).collect();
        let base: Vec<usize> = selected.unwrap_or_else(|| (0..tools.len()).collect());
        let narrowed: Vec<usize> = base
            .into_iter()
            .filter(|&i| {
                tools
                    .get(i)
                    .is_some_and(|t| caps.contains(&t.facts.capability.as_str()))
            })
            .collect();
        if narrowed.is_empty() {
            if let Some(c) = m.capabilities.first() {
                diags.push(src.error(c.span(), "no tool in the catalog has these capabilities"));
            }
        }
        selected = Some(narrowed);
    }
    if let Some(set) = &mut selected {
        set.sort_unstable();
        set.dedup();
    }
    CompiledMatcher {
        interventions,
        tools: selected,
        roles: m.roles.clone(),
        tenants: m.tenants.clone(),
        agents: m.agents.clone(),
    }
}

pub(super) fn compile_rule(
    rule: &Rule,
    source: Value,
    tools: &[CompiledTool],
    ids: &HashMap<String, usize>,
    defaults: &CompiledDefaults,
    src: Sources<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<CompiledRule> {
    let outcome = match rule.decision.as_str() {
        "allow" => Outcome::Allow,
        "deny" => Outcome::Deny,
        "require_approval" => Outcome::RequireApproval,
        "allow_with_constraints" => Outcome::AllowWithConstraints,
        "remediate" => Outcome::Remediate,
        other => {
            diags.push(src.error(rule.decision.span(), format!("unknown decision `{other}`")));
            return None;
        }
    };
    let matcher = compile_matcher(&rule.matcher, tools, ids, src, diags);
    let payload_error = |what: &str, span: &Span, diags: &mut Vec<Diagnostic>| {
        diags.push(src.error(span, format!("rule `{}`: {what}", *rule.id)));
    };
    let span = rule.decision.span();
    match (outcome, rule.approval.is_some()) {
        (Outcome::RequireApproval, false) => {
            payload_error("`require_approval` needs an `approval` block", span, diags)
        }
        (o, true) if o != Outcome::RequireApproval => {
            payload_error("only `require_approval` rules take `approval`", span, diags)
        }
        _ => {}
    }
    match (outcome, rule.constraints.is_some()) {
        (Outcome::AllowWithConstraints, false) => {
            payload_error("`allow_with_constraints` needs `constraints`", span, diags)
        }
        (o, true) if o != Outcome::AllowWithConstraints => payload_error(
            "only `allow_with_constraints` rules take `constraints`",
            span,
            diags,
        ),
        _ => {}
    }
    // On content (input, post_tool_call, output) a remediate rule without a
    // rewrite redacts what the scanners found in the content.
    let content_only = matcher.interventions.iter().all(|i| i.is_content());
    match (outcome, rule.rewrite.is_empty()) {
        (Outcome::Remediate, true) if !content_only => payload_error(
            "`remediate` needs a `rewrite` list (only a rule on content interventions may omit it, to redact the scanners' findings)",
            span,
            diags,
        ),
        (o, false) if o != Outcome::Remediate => {
            payload_error("only `remediate` rules take `rewrite`", span, diags)
        }
        _ => {}
    }
    let code = match &rule.code {
        None => ReasonCode::Rule,
        Some(c) => {
            let found = DENY_CODES
                .iter()
                .copied()
                .find(|k| k.as_str() == c.as_str());
            match found {
                Some(k) if outcome == Outcome::Deny => k,
                _ => {
                    payload_error("`code` is for deny rules, one of rule, scan_finding, untrusted_flow, rate_limited, budget_exceeded", c.span(), diags);
                    ReasonCode::Rule
                }
            }
        }
    };

    // The args a condition may read: the union over the tools the rule can match.
    let in_scope: Vec<&CompiledTool> = match &matcher.tools {
        Some(set) => set.iter().filter_map(|&i| tools.get(i)).collect(),
        None => tools.iter().collect(),
    };
    let args_shape = in_scope
        .iter()
        .map(|t| t.schema.shape())
        .reduce(Shape::union)
        .unwrap_or(Shape::Object(BTreeMap::new()));
    let when = rule.when.as_ref().and_then(|w| {
        match crate::cel::compile(w, &Shape::root(args_shape.clone())) {
            Ok(p) => Some(p),
            Err(e) => {
                let mut span = *w.span();
                if let (Some(offset), Some(start)) = (e.offset(), w.span().start()) {
                    let mut m = *start;
                    m.set_column(start.column() + offset);
                    span = Span::new_start(m);
                }
                diags.push(src.error(&span, format!("rule `{}`: {e}", *rule.id)));
                None
            }
        }
    });

    let approval = rule.approval.as_ref().map(|a| {
        for who in &a.approvers {
            if !(who.starts_with("role:") || who.starts_with("principal:")) || who.len() < 6 {
                diags.push(src.error(
                    who.span(),
                    format!("approver `{}` must be `role:NAME` or `principal:ID`", **who),
                ));
            }
        }
        let mut approvers: Vec<String> = a.approvers.iter().map(|s| (**s).clone()).collect();
        approvers.sort();
        approvers.dedup();
        let quorum = a.quorum.as_ref().map_or(1, |q| **q);
        if quorum == 0 {
            diags.push(src.error(span, "`quorum` must be at least 1"));
        }
        let ttl_secs = a
            .ttl
            .as_ref()
            .map_or(defaults.approval_ttl_secs, |t| duration(t, src, diags));
        ApprovalRequirement {
            approvers,
            quorum,
            ttl_secs,
        }
    });
    let constraints = rule
        .constraints
        .as_ref()
        .map_or_else(Constraints::default, |c| Constraints {
            read_only: c.read_only,
            max_rows: c.max_rows,
            timeout_ms: c.timeout_ms,
        });
    let rewrites = rule
        .rewrite
        .iter()
        .filter_map(|r| compile_rewrite(r, &args_shape, src, diags))
        .collect();
    Some(CompiledRule {
        id: (*rule.id).clone(),
        outcome,
        code,
        message: rule
            .message
            .clone()
            .unwrap_or_else(|| format!("rule `{}` matched", *rule.id)),
        matcher,
        when,
        when_source: rule.when.as_ref().map(|w| (**w).clone()),
        approval,
        constraints,
        rewrites,
        source,
    })
}

fn compile_rewrite(
    r: &Rewrite,
    args: &Shape,
    src: Sources<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<RewriteOp> {
    let check = |path: &Spanned<String>, diags: &mut Vec<Diagnostic>| {
        if args.field(path).is_none() {
            diags.push(src.error(
                path.span(),
                format!("rewrite path `{}` is not a declared argument", **path),
            ));
        }
        (**path).clone()
    };
    match (&r.redact, &r.set, &r.remove) {
        (Some(red), None, None) => {
            let arg = check(&red.path, diags);
            match regex::Regex::new(&red.pattern) {
                Ok(pattern) => Some(RewriteOp::Redact {
                    arg,
                    pattern,
                    replacement: red
                        .replacement
                        .clone()
                        .unwrap_or_else(|| "[REDACTED]".into()),
                }),
                Err(e) => {
                    diags.push(src.error(
                        red.pattern.span(),
                        format!("invalid redaction pattern: {e}"),
                    ));
                    None
                }
            }
        }
        (None, Some(set), None) => Some(RewriteOp::Set {
            arg: check(&set.path, diags),
            value: set.value.clone(),
        }),
        (None, None, Some(rm)) => Some(RewriteOp::Remove {
            arg: check(&rm.path, diags),
        }),
        _ => {
            diags.push(src.error(
                &Span::new_blank(),
                "each rewrite must be exactly one of `redact`, `set` or `remove`",
            ));
            None
        }
    }
}
