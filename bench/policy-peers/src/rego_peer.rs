//! The corpus in Rego, run by `regorus`, in two forms:
//!
//! - explicit: one Rego rule per bundle rule, tenant and tool compared in the
//!   rule body (the straightforward translation; every rule is visited);
//! - data-driven: ten generic rules, one per tool, reading each tenant's
//!   thresholds from `data.tenants[input.tenant]` (the idiomatic OPA form:
//!   the allow-list lives in data, so a lookup replaces the scan).
//!
//! Both produce `fired` as a set of `[outcome, rule]` pairs and combine them
//! into `outcome` exactly as Ward does (see `common::combine`). The policy is
//! compiled once (`compile_with_entrypoint`) and evaluated per request with
//! `CompiledPolicy::eval_with_input`.

use std::fmt::Write as _;

use anyhow::Result;
use regorus::{CompiledPolicy, Engine, Value as RegoValue};
use serde_json::{json, Map, Value};
use ward_policy::Facts;

use crate::common::{self, Kind, RuleSpec};

const PRELUDE: &str = r#"package ward
import rego.v1

outcomes := {f[0] | some f in fired}

permitted if "allow" in outcomes
permitted if "allow_with_constraints" in outcomes

outcome := "deny" if {
	"deny" in outcomes
} else := "require_approval" if {
	"require_approval" in outcomes
} else := "remediate" if {
	"remediate" in outcomes
	permitted
} else := "deny" if {
	"remediate" in outcomes
} else := "allow_with_constraints" if {
	"allow_with_constraints" in outcomes
} else := "allow" if {
	"allow" in outcomes
} else := "deny"

"#;

/// A per-tenant threshold: a literal, or a field of the tenant's data.
fn param(data_driven: bool, field: &str, value: u32) -> String {
    if data_driven {
        format!("t.{field}")
    } else {
        value.to_string()
    }
}

/// The body of one rule, after the tool and tenant tests.
fn condition(kind: Kind, data_driven: bool) -> Vec<String> {
    let p = |field: &str, v: u32| param(data_driven, field, v);
    match kind {
        Kind::InjectionDeny => vec!["input.scan.injection".into()],
        Kind::RefundTooOld => vec!["input.context.order_age_days > 30".into()],
        Kind::RefundOverLimit => vec!["input.args.amount >= 500".into()],
        Kind::EmailRedactPii => vec!["input.scan.pii".into()],
        Kind::SqlReadOnly => vec![],
        Kind::RefundSmall { cap } => vec![
            "\"premium\" in input.principal.roles".into(),
            format!("input.args.amount < {}", p("refund_cap", cap)),
            "input.context.order_age_days <= 30".into(),
        ],
        Kind::CreditSmall { cap } => vec![
            "\"premium\" in input.principal.roles".into(),
            format!("input.args.amount < {}", p("credit_cap", cap)),
        ],
        Kind::LookupRecent { days } => vec![format!(
            "input.context.order_age_days <= {}",
            p("lookup_days", days)
        )],
        Kind::EmailSupport | Kind::AddressSupport => {
            vec!["\"support\" in input.principal.roles".into()]
        }
        Kind::SqlTenant { .. } => vec![
            "some r in input.principal.roles".into(),
            "r in {\"support\", \"analyst\"}".into(),
        ],
        Kind::CancelRecent => vec!["input.context.order_age_days <= 30".into()],
        Kind::TicketAny => vec![
            "some r in input.principal.roles".into(),
            "r in {\"support\", \"premium\"}".into(),
        ],
        Kind::DeleteAdmin => vec!["\"admin\" in input.principal.roles".into()],
        Kind::EscalatePriority { max } => {
            vec![format!("input.args.priority <= {}", p("escalate_max", max))]
        }
    }
}

fn emit(out: &mut String, outcome: &str, id: &str, body: &[String]) {
    let _ = writeln!(out, "fired contains [\"{outcome}\", \"{id}\"] if {{");
    if body.is_empty() {
        out.push_str("\ttrue\n");
    }
    for line in body {
        let _ = writeln!(out, "\t{line}");
    }
    out.push_str("}\n\n");
}

fn sink_rules(out: &mut String) {
    for (tool, arg) in common::sinks() {
        emit(
            out,
            "deny",
            &format!("sink-{tool}-{arg}"),
            &[
                format!("input.tool == \"{tool}\""),
                format!("input.provenance[\"{arg}\"] == \"untrusted\""),
            ],
        );
    }
}

fn global_body(rule: &RuleSpec) -> Vec<String> {
    let mut body = Vec::new();
    if let Some(tool) = rule.tool() {
        body.push(format!("input.tool == \"{tool}\""));
    }
    body.extend(condition(rule.kind, false));
    body
}

/// Rego with one rule per bundle rule.
pub fn explicit_policy() -> String {
    let mut out = String::from(PRELUDE);
    sink_rules(&mut out);
    for rule in common::rules() {
        let mut body = Vec::new();
        if let Some(t) = &rule.tenant {
            body.push(format!("input.tenant == \"{t}\""));
            body.extend(global_body(&rule));
        } else {
            body = global_body(&rule);
        }
        emit(&mut out, rule.outcome(), &rule.id, &body);
    }
    out
}

/// Rego with one generic rule per tool and the thresholds in data.
pub fn data_driven_policy() -> (String, Value) {
    let mut out = String::from(PRELUDE);
    sink_rules(&mut out);
    let rules = common::rules();
    for rule in rules.iter().filter(|r| r.tenant.is_none()) {
        emit(&mut out, rule.outcome(), &rule.id, &global_body(rule));
    }
    for kind in common::tenant_kinds(0) {
        let spec = RuleSpec {
            id: String::new(),
            tenant: None,
            kind,
        };
        let tool = spec.tool().unwrap_or("");
        let mut body = vec![
            format!("input.tool == \"{tool}\""),
            "t := data.tenants[input.tenant]".into(),
        ];
        body.extend(condition(kind, true));
        emit(&mut out, spec.outcome(), &format!("tenant-{tool}"), &body);
    }
    let mut tenants = Map::new();
    for n in 0..common::TENANTS {
        let mut t = Map::new();
        for kind in common::tenant_kinds(n) {
            match kind {
                Kind::RefundSmall { cap } => t.insert("refund_cap".into(), json!(cap)),
                Kind::CreditSmall { cap } => t.insert("credit_cap".into(), json!(cap)),
                Kind::LookupRecent { days } => t.insert("lookup_days".into(), json!(days)),
                Kind::SqlTenant { max_rows } => t.insert("sql_max_rows".into(), json!(max_rows)),
                Kind::EscalatePriority { max } => t.insert("escalate_max".into(), json!(max)),
                _ => None,
            };
        }
        tenants.insert(common::tenant_name(n), Value::Object(t));
    }
    (out, json!({ "tenants": tenants }))
}

/// A compiled Rego policy.
pub struct Rego {
    policy: CompiledPolicy,
}

impl std::fmt::Debug for Rego {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rego")
    }
}

impl Rego {
    pub fn load(policy: String, data: Option<Value>) -> Result<Rego> {
        let mut engine = Engine::new();
        engine.add_policy("ward.rego".into(), policy)?;
        if let Some(data) = data {
            engine.add_data(RegoValue::from(data))?;
        }
        let entry: regorus::Rc<str> = "data.ward.outcome".into();
        Ok(Rego {
            policy: engine.compile_with_entrypoint(&entry)?,
        })
    }

    pub fn decide(&self, input: &RegoValue) -> &'static str {
        match self.policy.eval_with_input(input.clone()) {
            Ok(v) => match v.as_string().map(|s| s.as_ref()) {
                Ok("allow") => "allow",
                Ok("allow_with_constraints") => "allow_with_constraints",
                Ok("remediate") => "remediate",
                Ok("require_approval") => "require_approval",
                _ => "deny",
            },
            Err(_) => "deny",
        }
    }
}

/// Builds the Rego input from the request body and the facts.
pub fn prepare(request_json: &[u8], facts: &Facts) -> Result<RegoValue> {
    let body: Value = serde_json::from_slice(request_json)?;
    let Value::Object(mut body) = body else {
        anyhow::bail!("the request is not an object");
    };
    let actor = body.remove("actor").unwrap_or(Value::Null);
    let prov: Map<String, Value> = facts
        .provenance
        .iter()
        .map(|(k, p)| (k.clone(), json!(p.label.as_str())))
        .collect();
    let input = json!({
        "tenant": actor["tenant"],
        "tool": body.remove("tool").unwrap_or(Value::Null),
        "principal": actor["principal"],
        "args": body.remove("args").unwrap_or(Value::Null),
        "context": body.remove("context").unwrap_or(Value::Null),
        "scan": {
            "injection": facts.scan.iter().any(|f| f.family() == "injection"),
            "pii": facts.scan.iter().any(|f| f.family() == "pii"),
        },
        "provenance": prov,
    });
    Ok(RegoValue::from(input))
}
