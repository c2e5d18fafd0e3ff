//! The benchmark corpus: a deterministic 1,000-rule bundle and the scenarios
//! evaluated against it.
//!
//! Shared by the `ward-policy` benches and by `bench/policy-peers` (which
//! includes this file with `#[path]`), so every engine sees exactly the same
//! policy and the same requests. The policy is described once, as a list of
//! [`RuleSpec`]s; each engine's text (Ward YAML here, Cedar and Rego in the
//! peers project) is emitted from that list, never written by hand.
//!
//! Shape: 100 tenants × 10 tools, one rule per (tenant, tool) with
//! `match.tenants: [tenant-N]`, so the index slices them, plus five global
//! rules (prompt-injection deny, refund age deny, refund approval, PII
//! remediation with a redact rewrite, SQL read-only constraints) and one sink
//! (`send_email.to`) with `untrusted_sink: deny`. Per-tenant thresholds vary
//! with N so that no two tenants' rules are identical.

#![allow(
    dead_code,
    reason = "each bench target uses a different part of the corpus"
)]

use std::fmt::Write as _;

use ward_policy::{ArgProvenance, Facts, Finding, ProvenanceLabel};

/// Number of tenants; each gets one rule per tool.
pub(crate) const TENANTS: u32 = 100;

/// The tenant every scenario runs as (mid-range, so neither end of any list).
pub(crate) const SCENARIO_TENANT: u32 = 42;

/// One tool of the catalog.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ToolDecl {
    pub(crate) name: &'static str,
    pub(crate) capability: &'static str,
    pub(crate) risk: &'static str,
    pub(crate) consequential: bool,
    /// Arguments that must not be steered by untrusted content.
    pub(crate) sinks: &'static [&'static str],
    /// JSON Schema of the arguments, in YAML flow style.
    pub(crate) schema: &'static str,
}

/// The tool catalog.
pub(crate) const TOOLS: [ToolDecl; 10] = [
    ToolDecl {
        name: "approve_refund",
        capability: "payment",
        risk: "high",
        consequential: true,
        sinks: &[],
        schema: "{type: object, required: [order_id, amount], additionalProperties: false, properties: {order_id: {type: string, pattern: '^[0-9]{1,12}$'}, amount: {type: number, exclusiveMinimum: 0}, reason: {type: string, maxLength: 500}}}",
    },
    ToolDecl {
        name: "issue_credit",
        capability: "payment",
        risk: "high",
        consequential: true,
        sinks: &[],
        schema: "{type: object, required: [customer_id, amount], additionalProperties: false, properties: {customer_id: {type: string}, amount: {type: number, exclusiveMinimum: 0}}}",
    },
    ToolDecl {
        name: "lookup_order",
        capability: "read",
        risk: "low",
        consequential: false,
        sinks: &[],
        schema: "{type: object, required: [order_id], additionalProperties: false, properties: {order_id: {type: string, pattern: '^[0-9]{1,12}$'}}}",
    },
    ToolDecl {
        name: "send_email",
        capability: "write",
        risk: "medium",
        consequential: true,
        sinks: &["to"],
        schema: "{type: object, required: [to, subject, body], additionalProperties: false, properties: {to: {type: string, maxLength: 254}, subject: {type: string, maxLength: 200}, body: {type: string, maxLength: 20000}}}",
    },
    ToolDecl {
        name: "sql_query",
        capability: "query",
        risk: "medium",
        consequential: false,
        sinks: &[],
        schema: "{type: object, required: [query], additionalProperties: false, properties: {query: {type: string, maxLength: 10000}}}",
    },
    ToolDecl {
        name: "cancel_order",
        capability: "write",
        risk: "medium",
        consequential: true,
        sinks: &[],
        schema: "{type: object, required: [order_id], additionalProperties: false, properties: {order_id: {type: string}}}",
    },
    ToolDecl {
        name: "update_address",
        capability: "write",
        risk: "medium",
        consequential: true,
        sinks: &[],
        schema: "{type: object, required: [customer_id, address], additionalProperties: false, properties: {customer_id: {type: string}, address: {type: string, maxLength: 500}}}",
    },
    ToolDecl {
        name: "create_ticket",
        capability: "write",
        risk: "low",
        consequential: true,
        sinks: &[],
        schema: "{type: object, required: [subject], additionalProperties: false, properties: {subject: {type: string, maxLength: 200}, body: {type: string}}}",
    },
    ToolDecl {
        name: "delete_customer",
        capability: "write",
        risk: "critical",
        consequential: true,
        sinks: &[],
        schema: "{type: object, required: [customer_id], additionalProperties: false, properties: {customer_id: {type: string}}}",
    },
    ToolDecl {
        name: "escalate_case",
        capability: "write",
        risk: "medium",
        consequential: true,
        sinks: &[],
        schema: "{type: object, required: [case_id, priority], additionalProperties: false, properties: {case_id: {type: string}, priority: {type: integer, minimum: 1, maximum: 5}}}",
    },
];

/// What a rule says, independent of any policy language.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    /// Global, every tool: `scan.injection` → deny (`scan_finding`).
    InjectionDeny,
    /// Global, `approve_refund`: `context.order_age_days > 30` → deny.
    RefundTooOld,
    /// Global, `approve_refund`: `args.amount >= 500` → require_approval.
    RefundOverLimit,
    /// Global, `send_email`: `scan.pii` → remediate (redact SSNs in `body`).
    EmailRedactPii,
    /// Global, `sql_query`: → allow_with_constraints (read-only, 1000 rows).
    SqlReadOnly,
    /// Tenant, `approve_refund`, `match.roles: [premium]`:
    /// `args.amount < cap && context.order_age_days <= 30` → allow.
    RefundSmall { cap: u32 },
    /// Tenant, `issue_credit`: `'premium' in principal.roles && args.amount < cap` → allow.
    CreditSmall { cap: u32 },
    /// Tenant, `lookup_order`: `context.order_age_days <= days` → allow.
    LookupRecent { days: u32 },
    /// Tenant, `send_email`, `match.roles: [support]` → allow.
    EmailSupport,
    /// Tenant, `sql_query`: `'support' in principal.roles || 'analyst' in
    /// principal.roles` → allow_with_constraints (read-only, `max_rows`).
    SqlTenant { max_rows: u32 },
    /// Tenant, `cancel_order`: `context.order_age_days <= 30` → allow.
    CancelRecent,
    /// Tenant, `update_address`: `'support' in principal.roles` → allow.
    AddressSupport,
    /// Tenant, `create_ticket`, `match.roles: [support, premium]` → allow.
    TicketAny,
    /// Tenant, `delete_customer`, `match.roles: [admin]` → require_approval.
    DeleteAdmin,
    /// Tenant, `escalate_case`: `args.priority <= max` → allow.
    EscalatePriority { max: u32 },
}

/// One rule of the corpus.
#[derive(Debug, Clone)]
pub(crate) struct RuleSpec {
    pub(crate) id: String,
    /// `None` for global rules.
    pub(crate) tenant: Option<String>,
    pub(crate) kind: Kind,
}

impl RuleSpec {
    /// The tool the rule is about; `None` means every tool.
    pub(crate) fn tool(&self) -> Option<&'static str> {
        Some(match self.kind {
            Kind::InjectionDeny => return None,
            Kind::RefundTooOld | Kind::RefundOverLimit | Kind::RefundSmall { .. } => {
                "approve_refund"
            }
            Kind::EmailRedactPii | Kind::EmailSupport => "send_email",
            Kind::SqlReadOnly | Kind::SqlTenant { .. } => "sql_query",
            Kind::CreditSmall { .. } => "issue_credit",
            Kind::LookupRecent { .. } => "lookup_order",
            Kind::CancelRecent => "cancel_order",
            Kind::AddressSupport => "update_address",
            Kind::TicketAny => "create_ticket",
            Kind::DeleteAdmin => "delete_customer",
            Kind::EscalatePriority { .. } => "escalate_case",
        })
    }

    /// The decision, by its wire name.
    pub(crate) fn outcome(&self) -> &'static str {
        match self.kind {
            Kind::InjectionDeny | Kind::RefundTooOld => "deny",
            Kind::RefundOverLimit | Kind::DeleteAdmin => "require_approval",
            Kind::EmailRedactPii => "remediate",
            Kind::SqlReadOnly | Kind::SqlTenant { .. } => "allow_with_constraints",
            _ => "allow",
        }
    }

    /// `match.roles`: the principal must hold one of these.
    pub(crate) fn match_roles(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::RefundSmall { .. } => &["premium"],
            Kind::EmailSupport => &["support"],
            Kind::TicketAny => &["support", "premium"],
            Kind::DeleteAdmin => &["admin"],
            _ => &[],
        }
    }

    /// The `when` condition, in CEL.
    pub(crate) fn cel(&self) -> Option<String> {
        Some(match self.kind {
            Kind::InjectionDeny => "scan.injection".into(),
            Kind::RefundTooOld => "context.order_age_days > 30".into(),
            Kind::RefundOverLimit => "args.amount >= 500.0".into(),
            Kind::EmailRedactPii => "scan.pii".into(),
            Kind::RefundSmall { cap } => {
                format!("args.amount < {cap}.0 && context.order_age_days <= 30")
            }
            Kind::CreditSmall { cap } => {
                format!("'premium' in principal.roles && args.amount < {cap}.0")
            }
            Kind::LookupRecent { days } => format!("context.order_age_days <= {days}"),
            Kind::SqlTenant { .. } => {
                "'support' in principal.roles || 'analyst' in principal.roles".into()
            }
            Kind::CancelRecent => "context.order_age_days <= 30".into(),
            Kind::AddressSupport => "'support' in principal.roles".into(),
            Kind::EscalatePriority { max } => format!("args.priority <= {max}"),
            Kind::SqlReadOnly | Kind::EmailSupport | Kind::TicketAny | Kind::DeleteAdmin => {
                return None
            }
        })
    }

    /// `max_rows` of an `allow_with_constraints` rule.
    pub(crate) fn max_rows(&self) -> Option<u32> {
        match self.kind {
            Kind::SqlReadOnly => Some(1000),
            Kind::SqlTenant { max_rows } => Some(max_rows),
            _ => None,
        }
    }
}

/// Per-tenant parameters; deterministic in `n`.
pub(crate) fn tenant_kinds(n: u32) -> [Kind; 10] {
    [
        Kind::RefundSmall { cap: 100 + 4 * n },
        Kind::CreditSmall { cap: 50 + 2 * n },
        Kind::LookupRecent { days: 90 + n },
        Kind::EmailSupport,
        Kind::SqlTenant { max_rows: 100 + n },
        Kind::CancelRecent,
        Kind::AddressSupport,
        Kind::TicketAny,
        Kind::DeleteAdmin,
        Kind::EscalatePriority { max: 1 + n % 5 },
    ]
}

pub(crate) fn tenant_name(n: u32) -> String {
    format!("tenant-{n}")
}

/// Every rule, in bundle order: the globals, then tenant by tenant.
pub(crate) fn rules() -> Vec<RuleSpec> {
    let globals = [
        ("deny-prompt-injection", Kind::InjectionDeny),
        ("refund-too-old", Kind::RefundTooOld),
        ("refund-over-500", Kind::RefundOverLimit),
        ("email-redact-pii", Kind::EmailRedactPii),
        ("sql-read-only", Kind::SqlReadOnly),
    ];
    let mut out: Vec<RuleSpec> = globals
        .into_iter()
        .map(|(id, kind)| RuleSpec {
            id: id.into(),
            tenant: None,
            kind,
        })
        .collect();
    for n in 0..TENANTS {
        for kind in tenant_kinds(n) {
            let mut spec = RuleSpec {
                id: String::new(),
                tenant: Some(tenant_name(n)),
                kind,
            };
            spec.id = format!("t{n}-{}", spec.tool().unwrap_or("any"));
            out.push(spec);
        }
    }
    out
}

/// The sink arguments: (tool, argument).
pub(crate) fn sinks() -> Vec<(&'static str, &'static str)> {
    TOOLS
        .iter()
        .flat_map(|t| t.sinks.iter().map(move |s| (t.name, *s)))
        .collect()
}

/// The bundle as Ward YAML.
pub(crate) fn bundle_yaml() -> String {
    let mut y = String::with_capacity(400_000);
    y.push_str(
        "ward: 1\nmetadata:\n  name: bench-1000\n  version: 1.0.0\n  owner: bench@example.com\n\
         defaults:\n  untrusted_sink: deny\n  approval_ttl: 1h\n\ntools:\n",
    );
    for ToolDecl {
        name,
        capability,
        risk,
        consequential,
        sinks,
        schema,
    } in TOOLS
    {
        let _ = writeln!(y, "  {name}:");
        let _ = writeln!(y, "    capability: {capability}");
        let _ = writeln!(y, "    risk: {risk}");
        let _ = writeln!(y, "    consequential: {consequential}");
        if !sinks.is_empty() {
            let _ = writeln!(y, "    sinks: [{}]", sinks.join(", "));
        }
        let _ = writeln!(y, "    args: {schema}");
    }
    y.push_str("\nrules:\n");
    for rule in rules() {
        let _ = writeln!(y, "  - id: {}", rule.id);
        let tools = rule.tool().unwrap_or("'*'");
        let _ = write!(y, "    match: {{tools: [{tools}]");
        if let Some(t) = &rule.tenant {
            let _ = write!(y, ", tenants: [{t}]");
        }
        if !rule.match_roles().is_empty() {
            let _ = write!(y, ", roles: [{}]", rule.match_roles().join(", "));
        }
        y.push_str("}\n");
        if let Some(cel) = rule.cel() {
            let _ = writeln!(y, "    when: \"{cel}\"");
        }
        let _ = writeln!(y, "    decision: {}", rule.outcome());
        match rule.kind {
            Kind::InjectionDeny => y.push_str("    code: scan_finding\n"),
            Kind::RefundOverLimit => {
                y.push_str("    approval: {approvers: ['role:finance'], ttl: 1h}\n")
            }
            Kind::DeleteAdmin => y.push_str("    approval: {approvers: ['role:admin'], ttl: 1h}\n"),
            Kind::EmailRedactPii => y.push_str(
                "    rewrite:\n      - redact: {path: body, pattern: '\\b[0-9]{3}-[0-9]{2}-[0-9]{4}\\b', replacement: '[REDACTED SSN]'}\n",
            ),
            _ => {}
        }
        if let Some(rows) = rule.max_rows() {
            let _ = writeln!(y, "    constraints: {{read_only: true, max_rows: {rows}}}");
        }
        let _ = writeln!(y, "    message: rule {}", rule.id);
    }
    y
}

/// Combines fired rule outcomes the way Ward does (ARCHITECTURE §3), for the
/// peers that only report which rules fired: an explicit deny wins; then
/// `require_approval` > `remediate` > `allow_with_constraints` > `allow`; no
/// match is deny. A remediation stands only if the call is otherwise
/// permitted (Ward's second evaluation after the rewrite); in this corpus the
/// rewrite removes exactly what triggered the remediation, so "otherwise
/// permitted" is "some allow or constraint rule fired".
pub(crate) fn combine<'a>(fired: impl IntoIterator<Item = &'a str>) -> &'static str {
    let (mut deny, mut approval, mut remediate, mut constrained, mut allow) =
        (false, false, false, false, false);
    for f in fired {
        match f {
            "deny" => deny = true,
            "require_approval" => approval = true,
            "remediate" => remediate = true,
            "allow_with_constraints" => constrained = true,
            "allow" => allow = true,
            _ => deny = true,
        }
    }
    if deny {
        "deny"
    } else if approval {
        "require_approval"
    } else if remediate {
        if constrained || allow {
            "remediate"
        } else {
            "deny"
        }
    } else if constrained {
        "allow_with_constraints"
    } else if allow {
        "allow"
    } else {
        "deny"
    }
}

/// One benchmark case: a request body, the engine's facts about it, and the
/// outcome every engine must give.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) request_json: String,
    pub(crate) facts: Facts,
    pub(crate) expected: &'static str,
}

fn request_json(tool: &str, roles: &[&str], args: &str, context: &str) -> String {
    let roles: Vec<String> = roles.iter().map(|r| format!("\"{r}\"")).collect();
    format!(
        r#"{{"intervention":"pre_tool_call","actor":{{"principal":{{"id":"u-123","kind":"user","roles":[{}],"attrs":{{}}}},"tenant":"{}","session":"s-9f2","agent":{{"id":"support-bot","version":"1.4.0"}}}},"tool":"{tool}","action":"invoke","args":{args},"context":{context},"idempotency_key":"b7c1e2","trace":{{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}}}}"#,
        roles.join(","),
        tenant_name(SCENARIO_TENANT)
    )
}

fn facts(scan: &[(&str, &str)], provenance: &[(&str, ProvenanceLabel)]) -> Facts {
    Facts {
        now: 1_795_000_000,
        scan: scan
            .iter()
            .map(|(kind, arg)| Finding {
                kind: (*kind).into(),
                rule: format!("{kind}-rule"),
                confidence: 0.97,
                arg: Some((*arg).into()),
            })
            .collect(),
        provenance: provenance
            .iter()
            .map(|(arg, label)| {
                (
                    (*arg).to_string(),
                    ArgProvenance {
                        label: *label,
                        sources: vec!["tool:read_email".into()],
                    },
                )
            })
            .collect(),
        limits: Default::default(),
    }
}

/// The scenarios, all for tenant 42.
pub(crate) fn scenarios() -> Vec<Scenario> {
    let refund_roles = ["support", "premium"];
    let small_refund = r#"{"order_id":"8812","amount":120.0,"reason":"damaged on arrival"}"#;
    let recent = r#"{"order_age_days":3}"#;
    let email = |body: &str| {
        format!(r#"{{"to":"jane@example.com","subject":"Your order","body":"{body}"}}"#)
    };
    vec![
        Scenario {
            name: "refund_small_allow",
            request_json: request_json("approve_refund", &refund_roles, small_refund, recent),
            facts: facts(&[], &[]),
            expected: "allow",
        },
        Scenario {
            name: "refund_large_approval",
            request_json: request_json(
                "approve_refund",
                &refund_roles,
                r#"{"order_id":"8812","amount":900.0,"reason":"wrong item"}"#,
                recent,
            ),
            facts: facts(&[], &[]),
            expected: "require_approval",
        },
        Scenario {
            name: "injection_deny",
            request_json: request_json("approve_refund", &refund_roles, small_refund, recent),
            facts: facts(&[("injection", "reason")], &[]),
            expected: "deny",
        },
        Scenario {
            name: "untrusted_sink_deny",
            request_json: request_json(
                "send_email",
                &["support"],
                &email("Your refund is on its way."),
                "{}",
            ),
            facts: facts(&[], &[("to", ProvenanceLabel::Untrusted)]),
            expected: "deny",
        },
        Scenario {
            name: "sql_constrained",
            request_json: request_json(
                "sql_query",
                &["support"],
                r#"{"query":"SELECT id, status FROM orders WHERE customer_id = 'c-77'"}"#,
                "{}",
            ),
            facts: facts(&[], &[]),
            expected: "allow_with_constraints",
        },
        Scenario {
            name: "email_remediate",
            request_json: request_json(
                "send_email",
                &["support"],
                &email("We verified your SSN 123-45-6789, refund approved."),
                "{}",
            ),
            facts: facts(&[("pii.ssn", "body")], &[("to", ProvenanceLabel::Trusted)]),
            expected: "remediate",
        },
        Scenario {
            name: "unknown_tool",
            request_json: request_json(
                "wire_transfer",
                &["support", "premium"],
                r#"{"iban":"DE89370400440532013000","amount":100.0}"#,
                "{}",
            ),
            facts: facts(&[], &[]),
            expected: "deny",
        },
    ]
}

/// Percentile of sorted nanosecond samples (nearest rank).
pub(crate) fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len() - 1))
        .copied()
        .unwrap_or(0)
}
