//! Policy test suites: a YAML list of requests and the outcomes they must get.
//!
//! ```yaml
//! base:                      # merged under every case's request
//!   intervention: pre_tool_call
//!   actor: {principal: {id: u-1, kind: user, roles: [premium]}, tenant: acme, session: s-1,
//!           agent: {id: support-bot, version: 1.0.0}}
//! cases:
//!   - name: small refunds are allowed
//!     request: {tool: approve_refund, args: {order_id: '1', amount: 120}, context: {order_age_days: 3}}
//!     facts: {scan: [{kind: injection, rule: override, confidence: 0.9}]}   # optional
//!     expect: {outcome: allow, rules: [refund-small-premium]}
//! ```
//!
//! `expect` may also give `codes` (the reason codes, in order), `constraints`,
//! `rewritten_args` and `approvers`. Objects merge key by key; lists replace.

use serde::Deserialize;
use serde_json::{Map, Value};
use ward_core::{Constraints, Outcome, ReasonCode, Request};

use super::compiled::Compiled;
use super::eval::{evaluate, Evaluation};
use super::yaml::to_json;
use crate::facts::Facts;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteDoc {
    #[serde(default)]
    base: Map<String, Value>,
    #[serde(default)]
    now: i64,
    cases: Vec<CaseDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseDoc {
    name: String,
    #[serde(default)]
    request: Map<String, Value>,
    #[serde(default)]
    facts: Option<Facts>,
    expect: Expect,
}

/// What a case must get.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The outcome.
    pub outcome: Outcome,
    /// The matched rule ids, exactly and in bundle order.
    #[serde(default)]
    pub rules: Option<Vec<String>>,
    /// The reason codes, exactly and in order.
    #[serde(default)]
    pub codes: Option<Vec<ReasonCode>>,
    /// The merged constraints.
    #[serde(default)]
    pub constraints: Option<Constraints>,
    /// Arguments that must appear, with these values, in `rewritten_args`.
    #[serde(default)]
    pub rewritten_args: Option<Map<String, Value>>,
    /// The approvers asked for.
    #[serde(default)]
    pub approvers: Option<Vec<String>>,
}

/// One parsed test case.
#[derive(Debug, Clone)]
pub struct Case {
    /// The case's name.
    pub name: String,
    /// The full request, base merged in.
    pub request: Request,
    /// The facts the engine would supply.
    pub facts: Facts,
    /// The expectation.
    pub expect: Expect,
}

/// A suite file that does not parse, with the case it failed in.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}: {message}")]
pub struct SuiteError {
    /// The suite file.
    pub file: String,
    /// What was wrong, naming the case.
    pub message: String,
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// What differed from the expectation; empty when the case passed.
    pub failures: Vec<String>,
    /// What the bundle decided.
    pub evaluation: Evaluation,
}

/// Parses a suite file.
pub fn parse_suite(file: &str, text: &str) -> Result<Vec<Case>, SuiteError> {
    let err = |message: String| SuiteError {
        file: file.to_owned(),
        message,
    };
    let node = super::yaml::parse(0, text).map_err(|e| err(format!("invalid YAML: {e}")))?;
    let doc: SuiteDoc = serde_json::from_value(to_json(&node)).map_err(|e| err(e.to_string()))?;
    let mut cases = Vec::with_capacity(doc.cases.len());
    for (i, case) in doc.cases.into_iter().enumerate() {
        let mut merged = Value::Object(doc.base.clone());
        merge(&mut merged, Value::Object(case.request));
        let bytes = serde_json::to_vec(&merged).map_err(|e| err(e.to_string()))?;
        let request = Request::from_json(&bytes)
            .map_err(|e| err(format!("case {} `{}`: {e}", i + 1, case.name)))?;
        let mut facts = case.facts.unwrap_or_default();
        if facts.now == 0 {
            facts.now = doc.now;
        }
        cases.push(Case {
            name: case.name,
            request,
            facts,
            expect: case.expect,
        });
    }
    Ok(cases)
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, over) => *slot = over,
    }
}

/// Runs every case against the bundle.
pub fn run_suite(compiled: &Compiled, cases: &[Case]) -> Vec<CaseResult> {
    cases.iter().map(|case| run_case(compiled, case)).collect()
}

fn run_case(compiled: &Compiled, case: &Case) -> CaseResult {
    let evaluation = evaluate(compiled, &case.request, &case.facts);
    let mut failures = Vec::new();
    let expect = &case.expect;
    if evaluation.outcome != expect.outcome {
        failures.push(format!(
            "outcome: expected `{}`, got `{}`",
            expect.outcome.as_str(),
            evaluation.outcome.as_str()
        ));
    }
    if let Some(rules) = &expect.rules {
        let got: Vec<&str> = evaluation
            .reasons
            .iter()
            .filter_map(|r| r.rule.as_deref())
            .collect();
        if got != rules.iter().map(String::as_str).collect::<Vec<_>>() {
            failures.push(format!("rules: expected {rules:?}, got {got:?}"));
        }
    }
    if let Some(codes) = &expect.codes {
        let got: Vec<ReasonCode> = evaluation.reasons.iter().map(|r| r.code).collect();
        if &got != codes {
            let names = |c: &[ReasonCode]| c.iter().map(|c| c.as_str()).collect::<Vec<_>>();
            failures.push(format!(
                "codes: expected {:?}, got {:?}",
                names(codes),
                names(&got)
            ));
        }
    }
    if let Some(c) = &expect.constraints {
        if evaluation.constraints.as_ref() != Some(c) {
            failures.push(format!(
                "constraints: expected {c:?}, got {:?}",
                evaluation.constraints
            ));
        }
    }
    if let Some(want) = &expect.rewritten_args {
        for (k, v) in want {
            let got = evaluation.rewritten_args.as_ref().and_then(|a| a.get(k));
            if got != Some(v) {
                failures.push(format!(
                    "rewritten_args.{k}: expected {v}, got {}",
                    got.map_or("nothing".into(), Value::to_string)
                ));
            }
        }
    }
    if let Some(want) = &expect.approvers {
        let got = evaluation.approval.as_ref().map(|a| &a.approvers);
        if got != Some(want) {
            failures.push(format!("approvers: expected {want:?}, got {got:?}"));
        }
    }
    CaseResult {
        name: case.name.clone(),
        failures,
        evaluation,
    }
}
