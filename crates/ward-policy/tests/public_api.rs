//! ward-policy through its public API: loading, diagnostics, evaluation
//! semantics, and the properties ARCHITECTURE §3 promises.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]

use proptest::prelude::*;
use serde_json::json;
use ward_core::{Constraints, Outcome, ReasonCode, Request};
use ward_policy::{evaluate, load, Facts, Severity};

const HEADER: &str = r#"
metadata: {name: t, version: 1.0.0}
tools:
  pay:
    capability: payment
    risk: high
    consequential: true
    sinks: [to]
    args:
      type: object
      required: [amount]
      additionalProperties: false
      properties:
        amount: {type: number}
        to: {type: string}
        optional: {type: integer}
        body: {type: string}
  read:
    capability: read
    risk: low
    consequential: false
    args: {type: object, properties: {id: {type: string}}}
"#;

fn bundle(rules: &str) -> ward_policy::Compiled {
    let text = format!("{HEADER}rules:\n{rules}");
    match load(&[("t.yaml", &text)]) {
        Ok(l) => l.compiled,
        Err(e) => panic!("{e}"),
    }
}

fn errors(rules: &str) -> Vec<String> {
    let text = format!("{HEADER}rules:\n{rules}");
    match load(&[("t.yaml", &text)]) {
        Ok(_) => panic!("expected the bundle to be refused"),
        Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
    }
}

fn request(tool: &str, args: serde_json::Value, roles: &[&str]) -> Request {
    let body = json!({
        "intervention": "pre_tool_call",
        "actor": {"principal": {"id": "u-1", "kind": "user", "roles": roles}, "tenant": "acme", "session": "s", "agent": {"id": "a", "version": "1"}},
        "tool": tool, "args": args, "context": {"flag": true}
    });
    Request::from_json(&serde_json::to_vec(&body).unwrap()).unwrap()
}

fn outcome(c: &ward_policy::Compiled, r: &Request) -> Outcome {
    evaluate(c, r, &Facts::default()).outcome
}

#[test]
fn unknown_fields_are_errors_with_a_location() {
    let errs = errors("  - id: a\n    decision: allow\n    wen: 'true'\n");
    assert!(
        errs.iter()
            .any(|e| e.contains("t.yaml:") && e.contains("wen")),
        "{errs:?}"
    );
}

#[test]
fn duplicate_rule_ids_are_errors_pointing_at_both() {
    let errs = errors("  - id: a\n    decision: allow\n  - id: a\n    decision: deny\n");
    let dup = errs
        .iter()
        .find(|e| e.contains("duplicate rule id `a`"))
        .expect("duplicate reported");
    assert!(dup.starts_with("t.yaml:"), "{dup}");
    assert!(dup.contains("first at t.yaml:"), "{dup}");
}

#[test]
fn rules_naming_unknown_tools_are_errors_with_a_suggestion() {
    let errs = errors("  - id: a\n    match: {tools: [pya]}\n    decision: allow\n");
    assert!(
        errs.iter()
            .any(|e| e.contains("`pya` names no tool in the catalog; did you mean `pay`?")),
        "{errs:?}"
    );
}

#[test]
fn cel_syntax_errors_are_located() {
    let errs = errors("  - id: a\n    when: 'args.amount >'\n    decision: deny\n");
    assert!(
        errs.iter()
            .any(|e| e.starts_with("t.yaml:") && e.contains("rule `a`")),
        "{errs:?}"
    );
}

#[test]
fn undeclared_variables_are_errors_with_a_suggestion() {
    let errs = errors(
        "  - id: a\n    match: {tools: [pay]}\n    when: args.amuont > 5\n    decision: deny\n",
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("amuont") && e.contains("amount")),
        "{errs:?}"
    );
}

#[test]
fn invalid_json_schemas_are_errors() {
    let text = HEADER.replace(
        "optional: {type: integer}",
        "optional: {type: integr, oneOf: []}",
    ) + "rules: []\n";
    let errs: Vec<String> = load(&[("t.yaml", &text)])
        .unwrap_err()
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        errs.iter()
            .any(|e| e.contains("unknown JSON Schema type `integr`")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("unsupported JSON Schema keyword `oneOf`")),
        "{errs:?}"
    );
}

#[test]
fn malformed_yaml_is_an_error_not_a_panic() {
    for text in [
        "",
        "[",
        "metadata: [",
        "a: b: c",
        "\t- x",
        "metadata: {name: x, version: 1.0.0}\nrules: 7\n",
    ] {
        assert!(load(&[("bad.yaml", text)]).is_err(), "{text:?}");
    }
}

#[test]
fn a_rule_shadowed_by_an_earlier_unconditional_deny_is_a_warning() {
    let text = format!("{HEADER}rules:\n  - id: no-pay\n    match: {{tools: [pay]}}\n    decision: deny\n  - id: pay-small\n    match: {{tools: [pay]}}\n    when: args.amount < 5\n    decision: allow\n");
    let loaded = load(&[("t.yaml", &text)]).unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.warnings[0].severity, Severity::Warning);
    assert!(
        loaded.warnings[0]
            .message
            .contains("`pay-small` can never fire"),
        "{}",
        loaded.warnings[0]
    );
}

#[test]
fn deny_wins_then_the_most_restrictive_outcome() {
    let c = bundle(
        "  - id: allow\n    decision: allow\n  - id: approve\n    when: args.amount > 10\n    decision: require_approval\n    approval: {approvers: ['role:finance']}\n  - id: deny\n    when: args.amount > 100\n    decision: deny\n",
    );
    assert_eq!(
        outcome(&c, &request("pay", json!({"amount": 5}), &[])),
        Outcome::Allow
    );
    assert_eq!(
        outcome(&c, &request("pay", json!({"amount": 50}), &[])),
        Outcome::RequireApproval
    );
    let ev = evaluate(
        &c,
        &request("pay", json!({"amount": 500}), &[]),
        &Facts::default(),
    );
    assert_eq!(ev.outcome, Outcome::Deny);
    let ids: Vec<_> = ev
        .reasons
        .iter()
        .filter_map(|r| r.rule.as_deref())
        .collect();
    assert_eq!(
        ids,
        ["allow", "approve", "deny"],
        "every matched rule, in bundle order"
    );
}

#[test]
fn condition_errors_match_for_deny_and_not_for_allow() {
    // `args.optional` is declared but absent from the request: reading it errors.
    let deny = bundle("  - id: ok\n    decision: allow\n  - id: d\n    when: args.optional > 1\n    decision: deny\n");
    assert_eq!(
        outcome(&deny, &request("pay", json!({"amount": 1}), &[])),
        Outcome::Deny
    );
    let allow = bundle("  - id: a\n    when: args.optional > 1\n    decision: allow\n");
    let ev = evaluate(
        &allow,
        &request("pay", json!({"amount": 1}), &[]),
        &Facts::default(),
    );
    assert_eq!(ev.outcome, Outcome::Deny);
    assert_eq!(ev.reasons[0].code, ReasonCode::DefaultDeny);
    let approval = bundle("  - id: ok\n    decision: allow\n  - id: r\n    when: args.optional > 1\n    decision: require_approval\n    approval: {approvers: ['role:x']}\n");
    assert_eq!(
        outcome(&approval, &request("pay", json!({"amount": 1}), &[])),
        Outcome::RequireApproval
    );
}

#[test]
fn constraints_merge_to_the_strictest() {
    let c = bundle(
        "  - id: c1\n    decision: allow_with_constraints\n    constraints: {max_rows: 500}\n  - id: c2\n    decision: allow_with_constraints\n    constraints: {read_only: true, max_rows: 100}\n",
    );
    let ev = evaluate(&c, &request("read", json!({}), &[]), &Facts::default());
    assert_eq!(ev.outcome, Outcome::AllowWithConstraints);
    assert_eq!(
        ev.constraints,
        Some(Constraints {
            read_only: true,
            max_rows: Some(100),
            timeout_ms: None
        })
    );
}

#[test]
fn a_remediated_call_is_evaluated_again_and_denied_if_not_permitted() {
    let rules = "  - id: ok\n    decision: allow\n  - id: fix\n    match: {tools: [pay]}\n    when: args.to.endsWith('@old.example')\n    decision: remediate\n    rewrite: [{set: {path: to, value: 'ops@blocked.example'}}]\n  - id: block\n    match: {tools: [pay]}\n    when: args.to.endsWith('@blocked.example')\n    decision: deny\n";
    let c = bundle(rules);
    let ev = evaluate(
        &c,
        &request("pay", json!({"amount": 1, "to": "a@old.example"}), &[]),
        &Facts::default(),
    );
    assert_eq!(ev.outcome, Outcome::Deny, "{ev:?}");
    assert!(ev.rewritten_args.is_none());
    let fine = bundle(&rules.replace("ops@blocked.example", "ops@new.example"));
    let ev = evaluate(
        &fine,
        &request("pay", json!({"amount": 1, "to": "a@old.example"}), &[]),
        &Facts::default(),
    );
    assert_eq!(ev.outcome, Outcome::Remediate);
    assert_eq!(ev.rewritten_args.unwrap()["to"], "ops@new.example");
}

#[test]
fn tool_facts_come_from_the_catalog_not_the_request() {
    let c = bundle("  - id: hi-risk\n    when: tool.risk == 'high' && tool.consequential\n    decision: deny\n  - id: ok\n    decision: allow\n");
    assert_eq!(
        outcome(&c, &request("pay", json!({"amount": 1}), &[])),
        Outcome::Deny
    );
    assert_eq!(
        outcome(&c, &request("read", json!({}), &[])),
        Outcome::Allow
    );
}

#[test]
fn tenant_scoped_rules_only_apply_to_their_tenant() {
    let c = bundle("  - id: globex-only\n    match: {tenants: [globex]}\n    decision: allow\n");
    assert_eq!(outcome(&c, &request("read", json!({}), &[])), Outcome::Deny);
    let mut other = request("read", json!({}), &[]);
    other.actor.tenant = "globex".into();
    assert_eq!(outcome(&c, &other), Outcome::Allow);
}

#[test]
fn unknown_tools_and_schema_violations_deny_with_their_codes() {
    let c = bundle("  - id: ok\n    decision: allow\n");
    let ev = evaluate(&c, &request("nope", json!({}), &[]), &Facts::default());
    assert_eq!(
        (ev.outcome, ev.reasons[0].code),
        (Outcome::Deny, ReasonCode::UnknownTool)
    );
    let ev = evaluate(
        &c,
        &request("pay", json!({"amount": "lots"}), &[]),
        &Facts::default(),
    );
    assert_eq!(
        (ev.outcome, ev.reasons[0].code),
        (Outcome::Deny, ReasonCode::SchemaViolation)
    );
    assert!(
        ev.reasons[0].message.contains("args.amount"),
        "{}",
        ev.reasons[0].message
    );
    let ev = evaluate(&c, &request("pay", json!({}), &[]), &Facts::default());
    assert!(ev.reasons[0]
        .message
        .contains("missing required argument `amount`"));
}

#[test]
fn untrusted_sink_arguments_deny_by_default() {
    let c = bundle("  - id: ok\n    decision: allow\n");
    let mut facts = Facts::default();
    facts.provenance.insert(
        "to".into(),
        ward_policy::ArgProvenance {
            label: ward_policy::ProvenanceLabel::Untrusted,
            sources: vec!["tool:read_email".into()],
        },
    );
    let ev = evaluate(
        &c,
        &request("pay", json!({"amount": 1, "to": "x@evil.example"}), &[]),
        &facts,
    );
    assert_eq!(
        (ev.outcome, ev.reasons[0].code),
        (Outcome::Deny, ReasonCode::UntrustedFlow)
    );
    assert!(ev.reasons[0].message.contains("tool:read_email"));
}

// ---- properties -------------------------------------------------------------

const CONDITIONS: &[&str] = &[
    "true",
    "false",
    "args.amount > 100.0",
    "args.optional > 1",
    "'admin' in principal.roles",
    "context.flag == true",
    "context.missing == 1",
];

#[derive(Debug, Clone)]
struct GenRule {
    outcome: usize,
    condition: Option<usize>,
}

fn render(rules: &[(usize, GenRule)]) -> String {
    let mut out = String::new();
    for (id, r) in rules {
        out.push_str(&format!("  - id: r{id}\n"));
        if let Some(c) = r.condition {
            out.push_str(&format!("    when: \"{}\"\n", CONDITIONS[c]));
        }
        out.push_str(match r.outcome {
            0 => "    decision: allow\n",
            1 => "    decision: allow_with_constraints\n    constraints: {max_rows: 10}\n",
            2 => "    decision: require_approval\n    approval: {approvers: ['role:x']}\n",
            3 => "    decision: remediate\n    rewrite: [{set: {path: body, value: redacted}}]\n",
            _ => "    decision: deny\n",
        });
    }
    out
}

fn gen_rules() -> impl Strategy<Value = Vec<GenRule>> {
    prop::collection::vec(
        (0usize..5, prop::option::of(0..CONDITIONS.len()))
            .prop_map(|(outcome, condition)| GenRule { outcome, condition }),
        0..8,
    )
}

fn gen_request() -> impl Strategy<Value = Request> {
    (0.0f64..1000.0, prop::option::of(-5i64..5), prop::bool::ANY).prop_map(
        |(amount, optional, admin)| {
            let mut args = json!({"amount": amount});
            if let Some(o) = optional {
                args["optional"] = json!(o);
            }
            request("pay", args, if admin { &["admin"] } else { &[] })
        },
    )
}

proptest! {
    #[test]
    fn the_same_input_gives_the_same_bytes(rules in gen_rules(), req in gen_request()) {
        let numbered: Vec<_> = rules.into_iter().enumerate().collect();
        let c = bundle(&render(&numbered));
        let facts = Facts { now: 1_795_309_830, ..Facts::default() };
        let a = serde_json::to_vec(&ward_policy::decide(&c, &req, &facts)).unwrap();
        let b = serde_json::to_vec(&ward_policy::decide(&c, &req, &facts)).unwrap();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn rule_order_does_not_change_the_outcome(rules in gen_rules(), req in gen_request(), seed in any::<u64>()) {
        let numbered: Vec<_> = rules.into_iter().enumerate().collect();
        let mut shuffled = numbered.clone();
        // A deterministic shuffle from the seed.
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        let a = evaluate(&bundle(&render(&numbered)), &req, &Facts::default());
        let b = evaluate(&bundle(&render(&shuffled)), &req, &Facts::default());
        prop_assert_eq!(a.outcome, b.outcome);
        let ids = |e: &ward_policy::Evaluation| { let mut v: Vec<_> = e.reasons.iter().filter_map(|r| r.rule.clone()).collect(); v.sort(); v };
        prop_assert_eq!(ids(&a), ids(&b));
    }

    #[test]
    fn a_deny_rule_whose_condition_errors_still_denies(rules in gen_rules(), amount in 0.0f64..1000.0) {
        let mut numbered: Vec<_> = rules.into_iter().enumerate().collect();
        numbered.push((99, GenRule { outcome: 4, condition: Some(3) })); // `args.optional > 1`, absent below
        let req = request("pay", json!({"amount": amount}), &[]);
        prop_assert_eq!(outcome(&bundle(&render(&numbered)), &req), Outcome::Deny);
    }

    #[test]
    fn faults_in_the_request_never_permit(rules in gen_rules(), garbage in "\\PC{0,12}") {
        let numbered: Vec<_> = rules.into_iter().enumerate().collect();
        let c = bundle(&render(&numbered));
        // A wrong-typed argument, an unknown tool, an undeclared argument.
        for req in [
            request("pay", json!({"amount": garbage.clone()}), &[]),
            request(&format!("x{garbage}"), json!({}), &[]),
            request("pay", json!({"amount": 1, "extra": garbage.clone()}), &[]),
        ] {
            let ev = evaluate(&c, &req, &Facts::default());
            prop_assert_eq!(ev.outcome, Outcome::Deny);
        }
    }
}

#[test]
fn output_trust_is_declared_per_tool_and_bad_paths_are_errors() {
    let with_output = |output: &str| {
        HEADER.replace(
            "  read:\n    capability: read\n",
            &format!("  read:\n    capability: read\n    output: {output}\n"),
        )
    };
    let text = format!(
        "{}rules: []\n",
        with_output("{trusted_fields: ['$.people[*].email', '$.owner', '$.rows[0]']}")
    );
    let loaded = load(&[("t.yaml", &text)]).unwrap();
    let trust = loaded.compiled.output_trust("read").unwrap();
    assert!(!trust.all);
    assert_eq!(trust.fields, ["$.people[*].email", "$.owner", "$.rows[0]"]);
    assert_eq!(
        loaded.compiled.output_trust("pay"),
        Some(&ward_policy::OutputTrust::default()),
        "a tool that declares nothing vouches for nothing"
    );
    assert!(loaded.compiled.output_trust("nope").is_none());
    let text = format!("{}rules: []\n", with_output("{trusted: true}"));
    assert!(
        load(&[("t.yaml", &text)])
            .unwrap()
            .compiled
            .output_trust("read")
            .unwrap()
            .all
    );

    for bad in ["people.email", "$", "$.", "$.a[x]", "$..a", "$.a[1"] {
        let text = format!(
            "{}rules: []\n",
            with_output(&format!("{{trusted_fields: ['{bad}']}}"))
        );
        let err = load(&[("t.yaml", &text)]).expect_err(bad).to_string();
        assert!(err.contains("is not a JSON path"), "{bad}: {err}");
        assert!(err.contains("t.yaml:"), "{bad}: {err}");
    }
    let text = format!(
        "{}rules: []\n",
        with_output("{trusted: true, trusted_feilds: []}")
    );
    assert!(load(&[("t.yaml", &text)]).is_err(), "a typo is an error");
}

#[test]
fn a_remediate_rule_on_content_needs_no_rewrite_and_is_not_evaluated_twice() {
    let c = bundle(
        "  - id: mask-results\n    match: {interventions: [post_tool_call, output], tools: ['*']}\n    when: scan.pii\n    decision: remediate\n    message: personal data is masked\n",
    );
    let body = json!({
        "intervention": "post_tool_call",
        "actor": {"principal": {"id": "u-1", "kind": "user"}, "tenant": "acme", "session": "s", "agent": {"id": "a", "version": "1"}},
        "tool": "read", "content": "mail pat@example.com", "source": {"kind": "tool", "tool": "read"},
    });
    let r = Request::from_json(&serde_json::to_vec(&body).unwrap()).unwrap();
    let facts = Facts {
        scan: vec![ward_policy::Finding {
            kind: "pii.email".into(),
            rule: "email".into(),
            confidence: 0.9,
            arg: None,
        }],
        ..Facts::default()
    };
    let e = evaluate(&c, &r, &facts);
    assert_eq!(e.outcome, Outcome::Remediate, "{:?}", e.reasons);
    assert_eq!(e.reasons.len(), 1, "one pass, one reason: {:?}", e.reasons);
    // Without a finding the rule does not fire and the default outcome (here
    // the bundle's default, deny) stands.
    assert_eq!(outcome(&c, &r), Outcome::Deny);
    // A remediate rule on tool calls still needs its rewrite.
    let errs = errors("  - id: no-rewrite\n    match: {tools: [pay]}\n    decision: remediate\n");
    assert!(
        errs.iter().any(|e| e.contains("needs a `rewrite` list")),
        "{errs:?}"
    );
    let errs = errors(
        "  - id: mixed\n    match: {interventions: [pre_tool_call, output], tools: [pay]}\n    decision: remediate\n",
    );
    assert!(
        errs.iter().any(|e| e.contains("needs a `rewrite` list")),
        "{errs:?}"
    );
}
