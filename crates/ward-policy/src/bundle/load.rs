//! Loading: YAML sources → validated, compiled bundle.
//!
//! Loading checks everything it can, and collects every problem before it
//! gives up, so an author sees all errors at once, each with file, line and
//! column. Nothing here reads files: callers pass `(name, text)` pairs.

use std::collections::HashMap;

use marked_yaml::{Node, Span, Spanned};
use serde_json::{json, Value};
use ward_core::{Digest, Intervention, Outcome, PolicyRef, ReasonCode};

use super::compiled::{
    Compiled, CompiledDefaults, CompiledTool, LimitDecl, OutputTrust, RuleIndex,
};
use super::lint::lint_shadowed_rules;
use super::model::{Document, Tool};
use super::rules::compile_rule;
use super::schema::ArgSchema;
use super::yaml::{child, to_json, Diagnostic, Severity, Sources};
use crate::facts::ToolFacts;
use crate::suggest::suggest;

/// Why a bundle was refused: every error found, plus the warnings.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", render(.diagnostics))]
pub struct LoadError {
    /// Errors first, then warnings, each in source order.
    pub diagnostics: Vec<Diagnostic>,
}

fn render(diags: &[Diagnostic]) -> String {
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let mut out = format!("bundle refused with {errors} error(s)");
    for d in diags {
        out.push_str("\n  ");
        out.push_str(&d.to_string());
    }
    out
}

/// A loaded bundle and the lint warnings it produced.
#[derive(Debug)]
pub struct Loaded {
    /// The compiled bundle.
    pub compiled: Compiled,
    /// Lint warnings; the bundle is usable.
    pub warnings: Vec<Diagnostic>,
}

const RISKS: &[&str] = &["low", "medium", "high", "critical"];
pub(super) const DENY_CODES: &[ReasonCode] = &[
    ReasonCode::Rule,
    ReasonCode::ScanFinding,
    ReasonCode::UntrustedFlow,
    ReasonCode::RateLimited,
    ReasonCode::BudgetExceeded,
];

/// Loads a bundle from its source files, given as `(file name, YAML text)`.
/// Rules keep their order: file order, then order within each file.
pub fn load(sources: &[(&str, &str)]) -> Result<Loaded, LoadError> {
    let names: Vec<&str> = sources.iter().map(|(n, _)| *n).collect();
    let src = Sources { names: &names };
    let mut diags = Vec::new();
    let mut docs = Vec::new();
    for (i, (name, text)) in sources.iter().enumerate() {
        let node = match super::yaml::parse(i, text) {
            Ok(node) => node,
            Err(e) => {
                diags.push(Diagnostic {
                    severity: Severity::Error,
                    location: None,
                    message: format!("{name}: invalid YAML: {e}"),
                });
                continue;
            }
        };
        match marked_yaml::from_node::<Document>(&node) {
            Ok(doc) => docs.push((doc, node)),
            Err(e) => {
                // marked-yaml does not always carry the span of an unknown
                // field; the first key of that name in the file is the culprit.
                let mark = e.start_mark().or_else(|| match &*e {
                    marked_yaml::Error::UnknownFieldError(field, _, _) => {
                        super::yaml::find_key(&node, field).and_then(|s| s.start().copied())
                    }
                    _ => None,
                });
                let location = mark.map(|m| super::yaml::Location {
                    file: (*name).to_owned(),
                    line: m.line(),
                    column: m.column(),
                });
                diags.push(Diagnostic {
                    severity: Severity::Error,
                    location,
                    message: e.to_string(),
                });
            }
        }
    }
    if diags.is_empty() && docs.is_empty() {
        diags.push(Diagnostic {
            severity: Severity::Error,
            location: None,
            message: "a bundle needs at least one YAML file".into(),
        });
    }
    if !diags.is_empty() {
        return Err(LoadError { diagnostics: diags });
    }
    // All conditions are parsed on one thread with a stack roomy enough for
    // the CEL parser (see `cel::compile`), rather than one thread each.
    let compiled = match crate::cel::on_parser_stack(|| {
        let mut diags = Vec::new();
        let compiled = compile(&docs, src, &mut diags);
        (compiled, diags)
    }) {
        Ok((compiled, found)) => {
            diags.extend(found);
            compiled
        }
        Err(e) => {
            diags.push(Diagnostic {
                severity: Severity::Error,
                location: None,
                message: e.to_string(),
            });
            None
        }
    };
    diags.sort_by_key(|d| d.severity);
    match compiled {
        Some(compiled) if !diags.iter().any(|d| d.severity == Severity::Error) => Ok(Loaded {
            compiled,
            warnings: diags,
        }),
        _ => Err(LoadError { diagnostics: diags }),
    }
}

/// The bundle digest: SHA-256 of the RFC 8785 encoding of every file's
/// base name and content (as JSON, so comments and formatting do not count),
/// in order. Only the base name counts, so the digest does not depend on
/// where the bundle is stored.
pub(crate) fn bundle_digest(files: &[(&str, Value)]) -> Result<Digest, ward_core::CanonicalError> {
    let files: Vec<Value> = files
        .iter()
        .map(|(name, doc)| {
            let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
            json!({"name": base, "content": doc})
        })
        .collect();
    Digest::of_canonical(&json!({"ward_bundle": 1, "files": files}))
}

fn compile(
    docs: &[(Document, Node)],
    src: Sources<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Compiled> {
    let mut metadata = None;
    let mut defaults = None;
    let mut scanners = None;
    for (doc, _) in docs {
        if let Some(v) = &doc.ward {
            if **v != 1 {
                diags.push(src.error(
                    v.span(),
                    format!("unsupported bundle format `ward: {}`; only 1 exists", **v),
                ));
            }
        }
        if let Some(m) = &doc.metadata {
            if metadata.replace(m).is_some() {
                diags.push(src.error(m.name.span(), "`metadata` is given more than once"));
            }
        }
        if let Some(d) = &doc.defaults {
            if defaults.replace(d).is_some() {
                diags.push(src.error(&Span::new_blank(), "`defaults` is given more than once"));
            }
        }
        if let Some(s) = &doc.scanners {
            scanners = Some(s.clone());
        }
    }
    let Some(metadata) = metadata else {
        diags.push(Diagnostic {
            severity: Severity::Error,
            location: None,
            message: "the bundle has no `metadata`".into(),
        });
        return None;
    };
    if !is_semver(&metadata.version) {
        diags.push(src.error(
            metadata.version.span(),
            format!("`{}` is not a semver version", *metadata.version),
        ));
    }

    let default_sink = defaults
        .and_then(|d| d.untrusted_sink.as_ref())
        .map_or(Outcome::Deny, |s| sink_outcome(s, src, diags));
    let (tools, tool_ids) = compile_tools(docs, src, default_sink, diags);
    let defaults = compile_defaults(defaults, src, diags);

    let mut rules = Vec::new();
    let mut seen: HashMap<String, Span> = HashMap::new();
    for (doc, node) in docs {
        let rule_nodes = child(node, "rules").and_then(Node::as_sequence);
        for (i, rule) in doc.rules.iter().enumerate() {
            if let Some(first) = seen.get(rule.id.as_str()) {
                let at = src
                    .locate(first)
                    .map(|l| format!(" (first at {l})"))
                    .unwrap_or_default();
                diags.push(src.error(
                    rule.id.span(),
                    format!("duplicate rule id `{}`{at}", *rule.id),
                ));
            }
            seen.insert((*rule.id).clone(), *rule.id.span());
            let source = rule_nodes
                .and_then(|r| r.get(i))
                .map_or(Value::Null, to_json);
            if let Some(r) = compile_rule(rule, source, &tools, &tool_ids, &defaults, src, diags) {
                rules.push(r);
            }
        }
    }
    let limits = compile_limits(docs, &tool_ids, src, diags);
    diags.extend(lint_shadowed_rules(docs, &rules, src));

    let files: Vec<(&str, Value)> = docs
        .iter()
        .map(|(_, node)| {
            let name = node
                .span()
                .start()
                .and_then(|m| src.names.get(m.source()))
                .copied()
                .unwrap_or("");
            (name, to_json(node))
        })
        .collect();
    let policy = PolicyRef {
        name: (*metadata.name).clone(),
        version: (*metadata.version).clone(),
        digest: match bundle_digest(&files) {
            Ok(d) => d.to_string(),
            Err(e) => {
                diags.push(Diagnostic {
                    severity: Severity::Error,
                    location: None,
                    message: format!("the bundle has no canonical digest: {e}"),
                });
                return None;
            }
        },
    };
    let index = RuleIndex::build(&rules, tools.len());
    Some(Compiled {
        policy,
        tools,
        tool_ids,
        rules,
        index,
        limits,
        defaults,
        scanners: scanners.unwrap_or_default(),
    })
}

fn compile_tools(
    docs: &[(Document, Node)],
    src: Sources<'_>,
    default_sink: Outcome,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<CompiledTool>, HashMap<String, usize>) {
    let mut tools = Vec::new();
    let mut ids = HashMap::new();
    for (doc, node) in docs {
        let mut sorted: Vec<_> = doc.tools.iter().collect();
        sorted.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        for (name, tool) in sorted {
            let tool_node = child(node, "tools").and_then(|t| child(t, name));
            if ids.contains_key(name.as_str()) {
                diags.push(src.error(name.span(), format!("tool `{}` is declared twice", **name)));
                continue;
            }
            if let Some(t) = compile_tool(name, tool, tool_node, src, default_sink, diags) {
                ids.insert((**name).clone(), tools.len());
                tools.push(t);
            }
        }
    }
    (tools, ids)
}

fn compile_tool(
    name: &Spanned<String>,
    tool: &Tool,
    node: Option<&Node>,
    src: Sources<'_>,
    default_sink: Outcome,
    diags: &mut Vec<Diagnostic>,
) -> Option<CompiledTool> {
    if !RISKS.contains(&tool.risk.as_str()) {
        diags.push(src.error(
            tool.risk.span(),
            format!(
                "risk `{}` is not one of low, medium, high, critical",
                *tool.risk
            ),
        ));
    }
    let args_node = node.and_then(|n| child(n, "args"))?;
    let schema = ArgSchema::compile(args_node, src, diags);
    if !schema.is_object() {
        diags.push(src.error(
            args_node.span(),
            format!(
                "the argument schema of `{}` must have `type: object`",
                **name
            ),
        ));
    }
    let shape = schema.shape();
    let declared = |arg: &Spanned<String>, what: &str, diags: &mut Vec<Diagnostic>| {
        let top = arg.split(['.', '[']).next().unwrap_or("");
        if shape.field(top).is_none() {
            diags.push(src.error(
                arg.span(),
                format!("{what} `{}` is not an argument of `{}`", **arg, **name),
            ));
        }
    };
    for sink in &tool.sinks {
        declared(sink, "sink", diags);
    }
    for arg in &tool.indexed {
        declared(arg, "indexed argument", diags);
    }
    let mut output = OutputTrust::default();
    if let Some(decl) = &tool.output {
        output.all = decl.trusted;
        for field in &decl.trusted_fields {
            if json_path_ok(field) {
                output.fields.push((**field).clone());
            } else {
                diags.push(src.error(
                    field.span(),
                    format!(
                        "trusted field `{}` of `{}` is not a JSON path such as `$.users[*].email`",
                        **field, **name
                    ),
                ));
            }
        }
    }
    let on_untrusted = tool
        .on_untrusted
        .as_ref()
        .map_or(default_sink, |s| sink_outcome(s, src, diags));
    Some(CompiledTool {
        facts: ToolFacts {
            name: (**name).clone(),
            capability: (*tool.capability).clone(),
            risk: (*tool.risk).clone(),
            consequential: tool.consequential,
        },
        description: tool.description.clone(),
        schema,
        sinks: tool.sinks.iter().map(|s| (**s).clone()).collect(),
        on_untrusted,
        indexed: tool.indexed.iter().map(|s| (**s).clone()).collect(),
        output,
        source: node.map_or(Value::Null, to_json),
    })
}

/// `$`, then `.key`, `.*`, `[N]` or `[*]` steps: the paths the provenance
/// index understands (`ward_scan`'s JSON trust paths).
fn json_path_ok(path: &str) -> bool {
    let Some(mut rest) = path.trim().strip_prefix('$') else {
        return false;
    };
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return false;
            }
            rest = r.get(end..).unwrap_or_default();
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else {
                return false;
            };
            let inner = r.get(..end).unwrap_or_default();
            if !(inner == "*" || (!inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()))) {
                return false;
            }
            rest = r.get(end + 1..).unwrap_or_default();
        } else {
            return false;
        }
    }
    true
}

fn sink_outcome(s: &Spanned<String>, src: Sources<'_>, diags: &mut Vec<Diagnostic>) -> Outcome {
    match s.as_str() {
        "deny" => Outcome::Deny,
        "require_approval" => Outcome::RequireApproval,
        other => {
            diags.push(src.error(
                s.span(),
                format!("untrusted sink outcome `{other}` must be `deny` or `require_approval`"),
            ));
            Outcome::Deny
        }
    }
}

fn compile_defaults(
    d: Option<&super::model::Defaults>,
    src: Sources<'_>,
    diags: &mut Vec<Diagnostic>,
) -> CompiledDefaults {
    let mut out = CompiledDefaults {
        no_match: [Outcome::Deny; 5],
        approval_ttl_secs: 3600,
        shadow: d.is_some_and(|d| d.shadow),
    };
    let Some(d) = d else { return out };
    if let Some(ttl) = &d.approval_ttl {
        out.approval_ttl_secs = duration(ttl, src, diags);
    }
    let mut outcomes: Vec<_> = d.outcomes.iter().collect();
    outcomes.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    for (intervention, outcome) in outcomes {
        let Some(i) = parse_intervention(intervention, src, diags) else {
            continue;
        };
        let o = match outcome.as_str() {
            "allow" => Outcome::Allow,
            "deny" => Outcome::Deny,
            other => {
                diags.push(src.error(
                    outcome.span(),
                    format!("default outcome `{other}` must be `allow` or `deny`"),
                ));
                continue;
            }
        };
        if i == Intervention::PreToolCall && o != Outcome::Deny {
            diags.push(src.error(
                outcome.span(),
                "the default for `pre_tool_call` is always `deny`",
            ));
            continue;
        }
        if let Some(slot) = out.no_match.get_mut(i as usize) {
            *slot = o;
        }
    }
    out
}

pub(super) fn parse_intervention(
    s: &Spanned<String>,
    src: Sources<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Intervention> {
    let found = Intervention::ALL
        .into_iter()
        .find(|i| i.as_str() == s.as_str());
    if found.is_none() {
        let hint = suggest(s, Intervention::ALL.into_iter().map(Intervention::as_str))
            .map(|h| format!("; did you mean `{h}`?"))
            .unwrap_or_default();
        diags.push(src.error(s.span(), format!("unknown intervention `{}`{hint}", **s)));
    }
    found
}

fn compile_limits(
    docs: &[(Document, Node)],
    ids: &HashMap<String, usize>,
    src: Sources<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<LimitDecl> {
    let mut out = Vec::new();
    for (doc, _) in docs {
        for limit in &doc.limits {
            for k in &limit.key {
                if !["principal", "tenant", "agent", "tool"].contains(&k.as_str()) {
                    diags.push(src.error(
                        k.span(),
                        format!(
                            "limit key `{}` must be principal, tenant, agent or tool",
                            **k
                        ),
                    ));
                }
            }
            for t in &limit.matcher.tools {
                if !ids.contains_key(t.as_str()) {
                    diags.push(
                        src.error(t.span(), format!("`{}` names no tool in the catalog", **t)),
                    );
                }
            }
            let sum_arg = limit.sum.as_ref().map(|s| match s.strip_prefix("args.") {
                Some(arg) => arg.to_owned(),
                None => {
                    diags.push(src.error(
                        s.span(),
                        format!(
                            "`sum` must be an argument path such as `args.amount`, not `{}`",
                            **s
                        ),
                    ));
                    String::new()
                }
            });
            if !(limit.max.is_finite() && limit.max >= 0.0) {
                diags.push(src.error(limit.id.span(), "`max` must be a non-negative number"));
            }
            out.push(LimitDecl {
                id: (*limit.id).clone(),
                key: limit.key.iter().map(|k| (**k).clone()).collect(),
                window_secs: duration(&limit.window, src, diags),
                max: limit.max,
                sum_arg,
                tools: limit.matcher.tools.iter().map(|t| (**t).clone()).collect(),
            });
        }
    }
    out
}

/// Parses `30s`, `15m`, `1h`, `7d` into seconds.
pub(super) fn duration(s: &Spanned<String>, src: Sources<'_>, diags: &mut Vec<Diagnostic>) -> u64 {
    let text = s.trim();
    let (num, unit) = text.split_at(text.len().saturating_sub(1));
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    match num.parse::<u64>() {
        Ok(n) if scale > 0 && n > 0 => n.saturating_mul(scale),
        _ => {
            diags.push(src.error(
                s.span(),
                format!(
                    "invalid duration `{text}`: use a positive number and s, m, h or d, as in `1h`"
                ),
            ));
            0
        }
    }
}

fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}
