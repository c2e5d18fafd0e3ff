//! Reach: could the policy ever permit this actor this tool, whatever the
//! arguments? The MCP gateway shows an identity only such tools.
//!
//! A tool is in reach when it is in the catalog, no `deny` rule that
//! certainly applies to the actor covers it, and some permitting rule
//! (`allow`, `allow_with_constraints`, `remediate` or `require_approval`)
//! might apply. A condition is judged only when it reads nothing but the
//! actor and the catalog (`principal`, `tenant`, `agent`, `tool`,
//! `intervention`); any other condition might go either way, so it neither
//! hides a tool behind a deny nor rules out a permit. The answer is
//! therefore never "no" for a tool some call could use.

use ward_core::{Intervention, Outcome, Request};

use crate::bundle::compiled::Compiled;
use crate::cel::Activation;
use crate::facts::Facts;

/// Whether some call of `request.tool` by `request.actor` could be
/// permitted. `request` is a `pre_tool_call` without arguments; `facts`
/// gives `now` (the other facts are read only by conditions this never
/// judges).
pub fn could_permit(compiled: &Compiled, request: &Request, facts: &Facts) -> bool {
    let Some(name) = request.tool.as_deref() else {
        return false;
    };
    let Some(&index) = compiled.tool_ids.get(name) else {
        return false;
    };
    let act = Activation {
        request,
        tool: compiled.tools.get(index).map(|t| &t.facts),
        facts,
    };
    let mut permit = false;
    for i in compiled.index.candidates(
        Intervention::PreToolCall,
        Some(index),
        &request.actor.tenant,
    ) {
        let Some(rule) = compiled.rules.get(i) else {
            continue;
        };
        if !rule.matcher.admits_actor(request) {
            continue;
        }
        // Some(holds) when the condition is certain for every call of this actor.
        let verdict = match (&rule.when, rule.when_source.as_deref()) {
            (None, _) => Some(true),
            (Some(when), Some(source)) if reads_only_the_actor(source) => when.eval_bool(&act).ok(),
            _ => None,
        };
        match rule.outcome {
            Outcome::Deny if verdict == Some(true) => return false,
            Outcome::Deny => {}
            _ if verdict != Some(false) => permit = true,
            _ => {}
        }
    }
    permit
}

/// Whether every free identifier of a CEL condition is one whose value is
/// fixed by the actor and the catalog. Conservative: a comprehension
/// variable, an unusual literal or anything unrecognised answers `false`.
fn reads_only_the_actor(source: &str) -> bool {
    const FIXED: [&str; 5] = ["principal", "tenant", "agent", "tool", "intervention"];
    const NEUTRAL: [&str; 12] = [
        "true", "false", "null", "in", "has", "size", "int", "uint", "double", "string", "bool",
        "type",
    ];
    let bytes = source.as_bytes();
    let mut i = 0;
    let mut after_dot = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\'' | b'"' => {
                let triple = bytes.get(i..i + 3) == Some(&[b, b, b][..]);
                let Some(end) = string_end(bytes, i, b, triple) else {
                    return false;
                };
                i = end;
                after_dot = false;
            }
            b'.' => {
                after_dot = true;
                i += 1;
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let start = i;
                while bytes
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    i += 1;
                }
                let word = source.get(start..i).unwrap_or_default();
                let prefix = matches!(word, "r" | "R" | "b" | "B" | "rb" | "br")
                    && matches!(bytes.get(i), Some(b'\'' | b'"'));
                if !after_dot && !prefix && !FIXED.contains(&word) && !NEUTRAL.contains(&word) {
                    return false;
                }
                after_dot = false;
            }
            b if b.is_ascii_whitespace() => i += 1,
            b if b.is_ascii() => {
                after_dot = false;
                i += 1;
            }
            _ => return false,
        }
    }
    true
}

/// The index just past the string literal opened at `start`.
fn string_end(bytes: &[u8], start: usize, quote: u8, triple: bool) -> Option<usize> {
    let mut i = start + if triple { 3 } else { 1 };
    loop {
        let b = *bytes.get(i)?;
        if b == b'\\' {
            i += 2;
        } else if b == quote && (!triple || bytes.get(i..i + 3) == Some(&[quote; 3][..])) {
            return Some(i + if triple { 3 } else { 1 });
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn only_actor_conditions_are_judged() {
        for yes in [
            "!('admin' in principal.roles)",
            "tenant == 'acme' && agent.id.startsWith('bot')",
            "tool.risk == \"high\" || principal.attrs.level > 2",
            "'args' in principal.roles",
            "principal.id.matches(r'^svc-')",
        ] {
            assert!(reads_only_the_actor(yes), "{yes}");
        }
        for no in [
            "args.amount > 5",
            "scan.injection",
            "principal.roles.exists(r, r == 'x')",
            "context.x == 1 || tenant == 'a'",
            "now > 5",
            "'unterminated",
            "principal.id == x",
        ] {
            assert!(!reads_only_the_actor(no), "{no}");
        }
    }

    const BUNDLE: &str = r#"
metadata: {name: reach, version: 1.0.0}
tools:
  read: {capability: read, risk: low, consequential: false, args: {type: object}}
  write: {capability: write, risk: high, consequential: true, args: {type: object, properties: {path: {type: string}}}}
  drop: {capability: write, risk: critical, consequential: true, args: {type: object}}
  audit: {capability: read, risk: low, consequential: false, args: {type: object}}
  orphan: {capability: read, risk: low, consequential: false, args: {type: object}}
rules:
  - {id: reads, match: {capabilities: [read]}, decision: allow}
  - {id: audit-for-auditors, match: {tools: [audit]}, when: "!('auditor' in principal.roles)", decision: deny}
  - {id: writes-in-tmp, match: {tools: [write], roles: [dev]}, when: "args.path.startsWith('/tmp/')", decision: allow}
  - {id: drop-needs-approval, match: {tools: [drop]}, decision: require_approval, approval: {approvers: ['role:dba']}}
  - {id: no-drop-on-weekends, match: {tools: [drop]}, when: "now > 0", decision: deny}
  - {id: orphan-never, match: {tools: [orphan]}, decision: deny}
"#;

    fn who(roles: &[&str], tool: &str) -> Request {
        let json = serde_json::json!({
            "intervention": "pre_tool_call",
            "actor": {"principal": {"id": "u", "kind": "user", "roles": roles}, "tenant": "t", "session": "s", "agent": {"id": "a", "version": "1"}},
            "tool": tool,
        });
        Request::from_json(json.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn reach_follows_roles_and_certain_denies() {
        let loaded = crate::load(&[("b.yaml", BUNDLE)]).unwrap();
        let c = &loaded.compiled;
        let facts = Facts {
            now: 10,
            ..Facts::default()
        };
        let reach = |roles: &[&str], tool: &str| could_permit(c, &who(roles, tool), &facts);
        assert!(reach(&[], "read"));
        assert!(
            !reach(&[], "audit"),
            "a deny that certainly applies hides the tool"
        );
        assert!(reach(&["auditor"], "audit"));
        assert!(!reach(&[], "write"), "no permitting rule for this role");
        assert!(
            reach(&["dev"], "write"),
            "a condition on the arguments might hold"
        );
        assert!(
            reach(&[], "drop"),
            "approval is a way in; a time condition is not judged"
        );
        assert!(!reach(&[], "orphan"));
        assert!(!reach(&[], "missing"), "not in the catalog");
    }
}
