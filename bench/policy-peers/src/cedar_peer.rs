//! The corpus in Cedar: one policy per rule, `@outcome` annotations carrying
//! Ward's outcome (Cedar itself only says permit or deny).
//!
//! Mapping: principal `User::"<id>"`, action `Action::"<tool>"`, resource
//! `Tenant::"<tenant>"`; everything else goes in the context: `roles` (a
//! set), `args`, `app` (the request's `context`), `scan` (`injection`, `pii`)
//! and `prov` (argument → provenance label). Cedar has no floating point, so
//! integral JSON numbers become `Long`s and any other number is refused.

use std::collections::HashMap;
use std::str::FromStr;

use anyhow::{anyhow, Context as _, Result};
use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityId, EntityTypeName, EntityUid, Policy, PolicyId,
    PolicySet, Request,
};
use serde_json::{json, Map, Value};
use ward_policy::Facts;

use crate::common::{self, Kind, RuleSpec};

/// Cedar text of one rule.
pub fn policy_text(rule: &RuleSpec) -> String {
    let effect = if rule.outcome() == "deny" {
        "forbid"
    } else {
        "permit"
    };
    let action = rule.tool().map_or("action".to_owned(), |t| {
        format!("action == Action::\"{t}\"")
    });
    let resource = rule.tenant.as_ref().map_or("resource".to_owned(), |t| {
        format!("resource == Tenant::\"{t}\"")
    });
    let when = match rule.kind {
        Kind::InjectionDeny => Some("context.scan.injection".to_owned()),
        Kind::RefundTooOld => Some("context.app.order_age_days > 30".into()),
        Kind::RefundOverLimit => Some("context.args.amount >= 500".into()),
        Kind::EmailRedactPii => Some("context.scan.pii".into()),
        Kind::SqlReadOnly => None,
        Kind::RefundSmall { cap } => Some(format!(
            "context.roles.contains(\"premium\") && context.args.amount < {cap} && context.app.order_age_days <= 30"
        )),
        Kind::CreditSmall { cap } => Some(format!(
            "context.roles.contains(\"premium\") && context.args.amount < {cap}"
        )),
        Kind::LookupRecent { days } => Some(format!("context.app.order_age_days <= {days}")),
        Kind::EmailSupport | Kind::AddressSupport => {
            Some("context.roles.contains(\"support\")".into())
        }
        Kind::SqlTenant { .. } => {
            Some("context.roles.containsAny([\"support\", \"analyst\"])".into())
        }
        Kind::CancelRecent => Some("context.app.order_age_days <= 30".into()),
        Kind::TicketAny => Some("context.roles.containsAny([\"support\", \"premium\"])".into()),
        Kind::DeleteAdmin => Some("context.roles.contains(\"admin\")".into()),
        Kind::EscalatePriority { max } => Some(format!("context.args.priority <= {max}")),
    };
    let when = when.map_or(String::new(), |w| format!(" when {{ {w} }}"));
    format!(
        "@outcome(\"{}\")\n{effect}(principal, {action}, {resource}){when};\n",
        rule.outcome()
    )
}

fn sink_policies() -> Vec<(String, String)> {
    common::sinks()
        .into_iter()
        .map(|(tool, arg)| {
            (
                format!("sink-{tool}-{arg}"),
                format!(
                    "@outcome(\"deny\")\nforbid(principal, action == Action::\"{tool}\", resource) when {{ context.prov has {arg} && context.prov.{arg} == \"untrusted\" }};\n"
                ),
            )
        })
        .collect()
}

fn policy_set<'a>(rules: impl IntoIterator<Item = &'a RuleSpec>) -> Result<PolicySet> {
    let mut set = PolicySet::new();
    for (id, text) in sink_policies() {
        set.add(Policy::parse(Some(PolicyId::new(id)), text)?)?;
    }
    for rule in rules {
        let policy = Policy::parse(Some(PolicyId::new(&rule.id)), policy_text(rule))
            .with_context(|| format!("rule `{}`", rule.id))?;
        set.add(policy)?;
    }
    Ok(set)
}

/// All policies in one set: Cedar evaluates every policy whose scope
/// matches, and checks the scope of every policy.
#[derive(Debug)]
pub struct Unsliced {
    policies: PolicySet,
}

/// One small set per (tenant, tool): the globals plus that tenant's rule
/// for that tool, picked by a hash lookup per request (what Ward's index
/// does).
#[derive(Debug)]
pub struct Sliced {
    slices: HashMap<String, HashMap<String, PolicySet>>,
    globals: PolicySet,
}

/// A request, converted.
#[derive(Debug)]
pub struct Prepared {
    request: Request,
    tenant: String,
    tool: String,
}

impl Unsliced {
    pub fn load() -> Result<Unsliced> {
        Ok(Unsliced {
            policies: policy_set(&common::rules())?,
        })
    }

    pub fn decide(&self, p: &Prepared) -> &'static str {
        decide(&self.policies, &p.request)
    }
}

impl Sliced {
    pub fn load() -> Result<Sliced> {
        let rules = common::rules();
        let globals: Vec<&RuleSpec> = rules.iter().filter(|r| r.tenant.is_none()).collect();
        let mut slices: HashMap<String, HashMap<String, PolicySet>> = HashMap::new();
        for n in 0..common::TENANTS {
            let tenant = common::tenant_name(n);
            let mut by_tool = HashMap::new();
            for tool in common::TOOLS.map(|t| t.name) {
                let slice = rules.iter().filter(|r| {
                    r.tool().is_none_or(|t| t == tool)
                        && r.tenant.as_ref().is_none_or(|t| *t == tenant)
                });
                by_tool.insert(tool.to_owned(), policy_set(slice)?);
            }
            slices.insert(tenant, by_tool);
        }
        Ok(Sliced {
            slices,
            globals: policy_set(globals)?,
        })
    }

    pub fn decide(&self, p: &Prepared) -> &'static str {
        let set = self
            .slices
            .get(&p.tenant)
            .and_then(|t| t.get(&p.tool))
            .unwrap_or(&self.globals);
        decide(set, &p.request)
    }
}

fn decide(policies: &PolicySet, request: &Request) -> &'static str {
    let response = Authorizer::new().is_authorized(request, policies, &Entities::empty());
    match response.decision() {
        Decision::Deny => "deny",
        Decision::Allow => common::combine(
            response
                .diagnostics()
                .reason()
                .map(|id| policies.annotation(id, "outcome").unwrap_or("deny")),
        ),
    }
}

/// Cedar has no floats: integral numbers become longs, others are refused.
fn to_cedar_json(v: &Value) -> Result<Value> {
    Ok(match v {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() != 0.0 || !f.is_finite() {
                return Err(anyhow!("cedar has no decimal numbers: `{n}`"));
            }
            json!(f as i64)
        }
        Value::Array(a) => Value::Array(a.iter().map(to_cedar_json).collect::<Result<_>>()?),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), to_cedar_json(v)?)))
                .collect::<Result<Map<_, _>>>()?,
        ),
        other => other.clone(),
    })
}

/// Builds the Cedar request from the request body and the facts.
pub fn prepare(request_json: &[u8], facts: &Facts) -> Result<Prepared> {
    let body: Value = serde_json::from_slice(request_json)?;
    let actor = &body["actor"];
    let tenant = actor["tenant"].as_str().unwrap_or_default().to_owned();
    let tool = body["tool"].as_str().unwrap_or_default().to_owned();
    let principal_id = actor["principal"]["id"].as_str().unwrap_or_default();
    let prov: Map<String, Value> = facts
        .provenance
        .iter()
        .map(|(k, p)| (k.clone(), json!(p.label.as_str())))
        .collect();
    let context = json!({
        "roles": actor["principal"]["roles"],
        "args": to_cedar_json(&body["args"])?,
        "app": to_cedar_json(&body["context"])?,
        "scan": {
            "injection": facts.scan.iter().any(|f| f.family() == "injection"),
            "pii": facts.scan.iter().any(|f| f.family() == "pii"),
        },
        "prov": prov,
    });
    let uid = |ty: &str, id: &str| -> Result<EntityUid> {
        Ok(EntityUid::from_type_name_and_id(
            EntityTypeName::from_str(ty)?,
            EntityId::new(id),
        ))
    };
    let request = Request::new(
        uid("User", principal_id)?,
        uid("Action", &tool)?,
        uid("Tenant", &tenant)?,
        Context::from_json_value(context, None)?,
        None,
    )?;
    Ok(Prepared {
        request,
        tenant,
        tool,
    })
}
