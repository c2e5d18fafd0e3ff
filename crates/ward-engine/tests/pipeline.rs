#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]

//! The pipeline end to end, over real SQLite state and a real audit log:
//! each stage's deny, and the flows that cross stages.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use ward_audit::ExecutionStatus;
use ward_core::{Mode, Outcome, PrincipalKind, ReasonCode};
use ward_engine::{AuthError, Credentials, EngineConfig, Execution, Scope, SwitchKind, ROLE_ADMIN};

fn limits_bundle() -> String {
    format!(
        "{SUPPORT}
limits:
  - id: refunds-per-day
    key: [tenant]
    window: 1d
    max: 1000
    sum: args.amount
    match: {{tools: [approve_refund]}}
  - id: lookups-per-minute
    key: [principal]
    window: 1m
    max: 3
    match: {{tools: [lookup_order]}}
scanners: {{max_content_bytes: 1000}}
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allow_carries_a_receipt_that_verifies_offline() {
    let f = fixture(SUPPORT, EngineConfig::default()).await;
    let d = f
        .decide(call("lookup_order", json!({"order_id": "8812"})))
        .await;
    assert_eq!(
        d.decision.outcome,
        Outcome::Allow,
        "{:?}",
        d.decision.reasons
    );
    let receipt = d
        .decision
        .receipt
        .as_deref()
        .expect("a permit has a receipt");
    let verified =
        ward_verify::verify_receipt(receipt.as_bytes(), &f.verifier(), "receipt").unwrap();
    let entry: serde_json::Value = serde_json::from_slice(&verified.entry).unwrap();
    assert_eq!(entry["decision_id"], d.decision.decision_id.as_str());
    assert_eq!(entry["outcome"], "allow");
    assert_eq!(entry["principal"]["id"], "svc-support");
    assert_eq!(entry["agent"]["version"], "1.0.0");
    assert!(d.stages.len() >= 4, "{:?}", d.stages);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_admission_stage_denies_with_its_own_code() {
    let f = fixture(SUPPORT, EngineConfig::default()).await;
    let mut r = call("lookup_order", json!({"order_id": "8812"}));
    r.actor.agent.version = "9.9.9".into();
    let d = f.engine.decide(&creds(&f.agent_key), r).await.unwrap();
    assert_eq!(
        (d.decision.outcome, codes(&d)),
        (Outcome::Deny, vec!["unknown_agent"])
    );
    assert!(d.decision.receipt.is_some(), "denies are evidence too");

    let d = f.decide(call("wire_transfer", json!({"amount": 1}))).await;
    assert_eq!(codes(&d), ["unknown_tool"]);
    let d = f
        .decide(call("lookup_order", json!({"order_id": "not-a-number"})))
        .await;
    assert_eq!(codes(&d), ["schema_violation"]);

    f.engine
        .register_agent(&f.admin, agent("support-bot", "1.0.0", &["lookup_*"]))
        .await
        .unwrap();
    let d = f
        .decide(call(
            "send_email",
            json!({"to": "a@b.example", "subject": "s", "body": "b"}),
        ))
        .await;
    assert_eq!(
        codes(&d),
        ["unknown_tool"],
        "outside the agent's registered tools"
    );
    f.engine
        .register_agent(&f.admin, agent("support-bot", "1.0.0", &[]))
        .await
        .unwrap();

    for scope in [
        Scope::Tool("lookup_order".into()),
        Scope::Capability("read".into()),
        Scope::Tenant("acme".into()),
        Scope::Global,
    ] {
        f.engine
            .set_switch(
                &f.admin,
                SwitchKind::Kill,
                scope.clone(),
                "incident 42".into(),
            )
            .await
            .unwrap();
        let d = f
            .decide(call("lookup_order", json!({"order_id": "8812"})))
            .await;
        assert_eq!(codes(&d), ["kill_switch"], "{scope:?}");
        assert!(d.decision.reasons[0].message.contains("incident 42"));
        assert!(f
            .engine
            .clear_switch(&f.admin, SwitchKind::Kill, scope)
            .await
            .unwrap());
    }
    let d = f
        .decide(call("lookup_order", json!({"order_id": "8812"})))
        .await;
    assert_eq!(d.decision.outcome, Outcome::Allow);

    // Stale state: the cache is older than `stale_after` and no refresh ran.
    f.advance_ms(10_000);
    let d = f
        .decide(call("lookup_order", json!({"order_id": "8812"})))
        .await;
    assert_eq!(codes(&d), ["policy_unavailable"]);
    f.engine.refresh().await.unwrap();
    let d = f
        .decide(call("lookup_order", json!({"order_id": "8812"})))
        .await;
    assert_eq!(d.decision.outcome, Outcome::Allow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_tool_opens_its_circuit_and_a_probe_closes_it() {
    let f = fixture(SUPPORT, EngineConfig::default()).await;
    let call_ = || call("lookup_order", json!({"order_id": "8812"}));
    for _ in 0..10 {
        let d = f.decide(call_()).await;
        assert_eq!(d.decision.outcome, Outcome::Allow);
        let exec = Execution {
            decision_id: d.decision.decision_id.clone(),
            status: ExecutionStatus::Error,
            duration_ms: 5,
        };
        f.engine
            .report_execution(&d.request, &exec, &json!({"error": "upstream 503"}))
            .await
            .unwrap();
    }
    let d = f.decide(call_()).await;
    assert_eq!(codes(&d), ["circuit_open"]);
    assert_eq!(f.engine.open_breakers(), ["lookup_order"]);
    f.advance_ms(30_000);
    f.engine.refresh().await.unwrap();
    let probe = f.decide(call_()).await;
    assert_eq!(
        probe.decision.outcome,
        Outcome::Allow,
        "half-open lets one probe through"
    );
    let d = f.decide(call_()).await;
    assert_eq!(codes(&d), ["circuit_open"], "one probe at a time");
    let ok = Execution {
        decision_id: probe.decision.decision_id.clone(),
        status: ExecutionStatus::Ok,
        duration_ms: 5,
    };
    f.engine
        .report_execution(&probe.request, &ok, &json!({"order": 8812}))
        .await
        .unwrap();
    assert_eq!(f.decide(call_()).await.decision.outcome, Outcome::Allow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_replays_the_first_decision_and_refuses_other_arguments() {
    let f = fixture(SUPPORT, EngineConfig::default()).await;
    let mut first = call(
        "approve_refund",
        json!({"order_id": "8812", "amount": 120.0}),
    );
    first.idempotency_key = Some("refund-8812".into());
    let a = f.decide(first.clone()).await;
    assert_eq!(a.decision.outcome, Outcome::Allow);
    f.advance_ms(1500);
    let b = f.decide(first.clone()).await;
    assert!(b.replayed);
    assert_eq!(
        serde_json::to_string(&a.decision).unwrap(),
        serde_json::to_string(&b.decision).unwrap()
    );
    let mut other = first;
    other.args.insert("amount".into(), json!(130.0));
    let c = f.decide(other).await;
    assert_eq!(codes(&c), ["idempotent_replay"]);
    assert!(!c.replayed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_budgets_deny_once_used_up() {
    let f = fixture(&limits_bundle(), EngineConfig::default()).await;
    for _ in 0..3 {
        let d = f
            .decide(call("lookup_order", json!({"order_id": "1"})))
            .await;
        assert_eq!(
            d.decision.outcome,
            Outcome::Allow,
            "{:?}",
            d.decision.reasons
        );
    }
    let d = f
        .decide(call("lookup_order", json!({"order_id": "1"})))
        .await;
    assert_eq!(codes(&d), ["rate_limited"]);
    f.advance_ms(60_000);
    f.engine.refresh().await.unwrap();
    assert_eq!(
        f.decide(call("lookup_order", json!({"order_id": "1"})))
            .await
            .decision
            .outcome,
        Outcome::Allow,
        "a new window"
    );

    for _ in 0..2 {
        let d = f
            .decide(call(
                "approve_refund",
                json!({"order_id": "1", "amount": 400.0}),
            ))
            .await;
        assert_eq!(d.decision.outcome, Outcome::Allow);
    }
    let d = f
        .decide(call(
            "approve_refund",
            json!({"order_id": "1", "amount": 400.0}),
        ))
        .await;
    assert_eq!(codes(&d), ["budget_exceeded"]);
    assert!(
        d.decision.reasons[0].message.contains("800"),
        "{}",
        d.decision.reasons[0].message
    );
    let d = f
        .decide(call(
            "approve_refund",
            json!({"order_id": "1", "amount": 150.0}),
        ))
        .await;
    assert_eq!(d.decision.outcome, Outcome::Allow, "what fits still fits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_content_is_quarantined() {
    let f = fixture(&limits_bundle(), EngineConfig::default()).await;
    let r = request(json!({
        "intervention": "post_tool_call",
        "actor": {"principal": {"id": "svc-support", "kind": "service"}, "tenant": "acme", "session": "s-1", "agent": {"id": "support-bot", "version": "1.0.0"}},
        "tool": "lookup_order", "content": "x".repeat(1001), "source": {"kind": "tool", "tool": "lookup_order"},
    }));
    let d = f.decide(r).await;
    assert_eq!(codes(&d), ["scan_finding"]);
    assert!(d.decision.reasons[0].message.contains("quarantined"));
}

// Paused time: the clock jumps to the budget's end as soon as the decision
// waits on anything, here its receipt. On real time a zero budget only ends
// at the timer's next 1 ms tick, and a receipt that is durable sooner (a
// fast disk) let the decision through.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_decision_past_its_budget_is_a_timeout_deny() {
    let config = EngineConfig {
        decision_budget: Duration::ZERO,
        ..EngineConfig::default()
    };
    let f = fixture(SUPPORT, config).await;
    let d = f
        .decide(call("lookup_order", json!({"order_id": "8812"})))
        .await;
    assert_eq!(
        (d.decision.outcome, codes(&d)),
        (Outcome::Deny, vec!["timeout"])
    );
    assert!(d.decision.receipt.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_bound_the_actor() {
    let f = fixture(SUPPORT, EngineConfig::default()).await;
    let mut r = call("lookup_order", json!({"order_id": "8812"}));
    r.actor.tenant = "globex".into();
    let err = f.engine.decide(&creds(&f.agent_key), r).await.unwrap_err();
    assert!(matches!(err, ward_engine::AuthError::Forbidden(_)), "{err}");
    let mut r = call("lookup_order", json!({"order_id": "8812"}));
    r.actor.principal.roles = vec!["admin".into()];
    assert!(f.engine.decide(&creds(&f.agent_key), r).await.is_err());
    let none = Credentials::default();
    assert!(matches!(
        f.engine
            .decide(&none, call("lookup_order", json!({})))
            .await,
        Err(ward_engine::AuthError::Missing)
    ));
    let wrong = creds("wk_000000000000_deadbeef");
    assert!(matches!(
        f.engine
            .decide(&wrong, call("lookup_order", json!({})))
            .await,
        Err(ward_engine::AuthError::Invalid(_))
    ));
    let jwt = creds("eyJhbGciOiJFZERTQSJ9.e30.c2ln");
    assert!(matches!(
        f.engine.decide(&jwt, call("lookup_order", json!({}))).await,
        Err(ward_engine::AuthError::Invalid(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_scopes_record_the_would_be_outcome_and_allow() {
    let f = fixture(SUPPORT, EngineConfig::default()).await;
    let delete = || call("delete_customer", json!({"customer_id": "c-1"}));
    assert_eq!(f.decide(delete()).await.decision.outcome, Outcome::Deny);
    f.engine
        .set_switch(
            &f.admin,
            SwitchKind::Shadow,
            Scope::Tool("delete_customer".into()),
            "trying the new policy".into(),
        )
        .await
        .unwrap();
    let d = f.decide(delete()).await;
    assert_eq!(
        (d.decision.outcome, d.decision.mode),
        (Outcome::Allow, Mode::Shadow)
    );
    let shadow = d
        .decision
        .reasons
        .iter()
        .find(|r| r.code.as_str() == "shadow")
        .unwrap();
    assert!(
        shadow.message.contains("would have been `deny`"),
        "{}",
        shadow.message
    );
    let verified =
        ward_verify::verify_receipt(d.decision.receipt.unwrap().as_bytes(), &f.verifier(), "r")
            .unwrap();
    let entry: serde_json::Value = serde_json::from_slice(&verified.entry).unwrap();
    assert_eq!(entry["mode"], "shadow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_overrides_policy_but_not_the_kill_switch() {
    let f = fixture(SUPPORT, EngineConfig::default()).await;
    let old_refund = || {
        let mut r = call(
            "approve_refund",
            json!({"order_id": "7001", "amount": 40.0}),
        );
        r.context.insert("order_age_days".into(), json!(45));
        r
    };
    assert_eq!(f.decide(old_refund()).await.decision.outcome, Outcome::Deny);
    let agent_identity = f.engine.authenticate(&creds(&f.agent_key)).unwrap();
    assert!(
        f.engine
            .break_glass(
                &agent_identity,
                Scope::Tool("approve_refund".into()),
                "x".into(),
                60
            )
            .await
            .is_err(),
        "needs the break-glass role"
    );
    let grant = f
        .engine
        .break_glass(
            &f.admin,
            Scope::Tool("approve_refund".into()),
            "payments outage".into(),
            600,
        )
        .await
        .unwrap();
    let d = f.decide(old_refund()).await;
    assert_eq!(
        (d.decision.outcome, d.decision.mode),
        (Outcome::Allow, Mode::Override)
    );
    assert!(
        codes(&d).contains(&"break_glass") && codes(&d).contains(&"rule"),
        "{:?}",
        codes(&d)
    );
    assert_eq!(d.alerts.len(), 1);
    assert!(d.alerts[0].contains(&grant.id));
    f.engine
        .set_switch(
            &f.admin,
            SwitchKind::Kill,
            Scope::Global,
            "stop everything".into(),
        )
        .await
        .unwrap();
    assert_eq!(codes(&f.decide(old_refund()).await), ["kill_switch"]);
    f.engine
        .clear_switch(&f.admin, SwitchKind::Kill, Scope::Global)
        .await
        .unwrap();
    f.advance_ms(601_000);
    f.engine.refresh().await.unwrap();
    assert_eq!(
        f.decide(old_refund()).await.decision.outcome,
        Outcome::Deny,
        "the grant expired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_active_bundle_denies_everything() {
    let dir = tempfile::tempdir().unwrap();
    let state =
        std::sync::Arc::new(ward_engine::SqliteState::open(&dir.path().join("state.db")).unwrap());
    let store = ward_audit::SqliteStore::open(&dir.path().join("audit.db")).unwrap();
    let writer = ward_audit::Writer::start(
        Box::new(store),
        key("ward.test", 1),
        std::sync::Arc::new(ward_audit::Timestamp::now),
        ward_audit::WriterConfig::default(),
    )
    .unwrap();
    let engine = ward_engine::Engine::start(
        state,
        writer,
        ward_engine::system_clock(),
        EngineConfig::default(),
        None,
        None,
    )
    .await
    .unwrap();
    let made = engine
        .bootstrap_api_key(api_key(
            "acme",
            "svc-support",
            PrincipalKind::Service,
            &[ROLE_ADMIN],
            Some("support-bot"),
        ))
        .await
        .unwrap();
    let d = engine
        .decide(
            &creds(&made.key),
            call("lookup_order", json!({"order_id": "1"})),
        )
        .await
        .unwrap();
    assert_eq!(codes(&d), ["policy_unavailable"]);
    assert!(d.decision.policy.is_none());
    assert!(d.decision.receipt.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_inputs_give_byte_identical_decisions_and_receipts() {
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let f = fixture(SUPPORT, EngineConfig::default()).await;
        let mut text = String::new();
        for r in [
            call("lookup_order", json!({"order_id": "8812"})),
            call(
                "approve_refund",
                json!({"order_id": "8812", "amount": 750.0}),
            ),
            call(
                "send_email",
                json!({"to": "pat@example.com", "subject": "s", "body": "SSN 123-45-6789"}),
            ),
        ] {
            text.push_str(&serde_json::to_string(&f.decide(r).await.decision).unwrap());
        }
        outputs.push(text);
    }
    assert_eq!(outputs[0], outputs[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_ran_is_logged_in_the_same_commit_as_the_result_decision() {
    use ward_audit::Store as _;
    let f = fixture(SUPPORT, EngineConfig::default()).await;
    let d = f
        .decide(call("lookup_order", json!({"order_id": "8812"})))
        .await;
    assert_eq!(d.decision.outcome, Outcome::Allow);
    let exec = Execution {
        decision_id: d.decision.decision_id.clone(),
        status: ExecutionStatus::Ok,
        duration_ms: 5,
    };
    let post = || {
        request(json!({
            "intervention": "post_tool_call",
            "actor": {"principal": {"id": "svc-support", "kind": "service"}, "tenant": "acme", "session": "s-1", "agent": {"id": "support-bot", "version": "1.0.0"}},
            "tool": "lookup_order", "content": "order 8812: shipped", "source": {"kind": "tool", "tool": "lookup_order"},
        }))
    };
    let result = json!({"order": 8812, "status": "shipped"});
    let scanned = f
        .engine
        .decide_with_execution(&creds(&f.agent_key), post(), &d.request, &exec, &result)
        .await
        .unwrap();
    assert_eq!(scanned.execution, Some(Ok(())));
    let receipt = scanned.decision.receipt.as_deref().unwrap();
    let verified = ward_verify::verify_receipt(receipt.as_bytes(), &f.verifier(), "r").unwrap();
    // One commit: the checkpoint that proves the result's decision ends
    // right after it, and the entry before it is the execution.
    assert_eq!(verified.size, verified.index + 1);
    let mut store = ward_audit::SqliteStore::open(&f.dir.path().join("audit.db")).unwrap();
    let entries = store
        .entries(&verified.origin, verified.index - 1, verified.index + 1)
        .unwrap();
    let ran: serde_json::Value = serde_json::from_slice(&entries[0]).unwrap();
    assert_eq!(ran["kind"], "execution", "{ran}");
    assert_eq!(ran["decision_id"], d.decision.decision_id.as_str());
    assert_eq!(entries[1], verified.entry);
    let checkpoints = store.checkpoints(&verified.origin).unwrap();
    assert!(
        checkpoints.iter().all(|c| c.size != verified.index),
        "no checkpoint between the two entries: {:?}",
        checkpoints.iter().map(|c| c.size).collect::<Vec<_>>()
    );

    // A credential that fails is refused, and what ran is still recorded.
    let refused = f
        .engine
        .decide_with_execution(&creds("wk_not_a_key"), post(), &d.request, &exec, &result)
        .await;
    assert!(refused.is_err());
    let size = store
        .checkpoints(&verified.origin)
        .unwrap()
        .last()
        .unwrap()
        .size;
    assert_eq!(size, verified.size + 1);
    let last = store.entries(&verified.origin, size - 1, size).unwrap();
    let ran: serde_json::Value = serde_json::from_slice(&last[0]).unwrap();
    assert_eq!(ran["kind"], "execution", "{ran}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_made_before_the_pipeline_is_logged_like_any_decision() {
    let f = fixture(SUPPORT, EngineConfig::default()).await;
    let agent = creds(&f.agent_key);
    let refused = f
        .engine
        .refuse(
            &agent,
            call("ghost", json!({"q": "x"})),
            ReasonCode::UnknownTool,
            "no upstream offers `ghost`".into(),
        )
        .await
        .unwrap();
    assert_eq!(refused.decision.outcome, Outcome::Deny);
    assert_eq!(codes(&refused), ["unknown_tool"]);
    let receipt = refused.decision.receipt.as_deref().expect("a receipt");
    let verified =
        ward_verify::verify_receipt(receipt.as_bytes(), &f.verifier(), "receipt").unwrap();
    let entry: serde_json::Value = serde_json::from_slice(&verified.entry).unwrap();
    assert_eq!(entry["decision_id"], refused.decision.decision_id.as_str());
    assert_eq!(
        (
            &entry["outcome"],
            &entry["tool"],
            &entry["reasons"][0]["message"]
        ),
        (
            &json!("deny"),
            &json!("ghost"),
            &json!("no upstream offers `ghost`")
        )
    );
    let digest = ward_core::Digest::of_args(&refused.request.args).unwrap();
    assert_eq!(entry["args_digest"], digest.to_string().as_str());
    // A decision of the same call in the same second has another id.
    let decided = f.decide(call("ghost", json!({"q": "x"}))).await;
    assert_eq!(codes(&decided), ["unknown_tool"]);
    assert_ne!(decided.decision.decision_id, refused.decision.decision_id);

    // Arguments with no canonical form cannot be digested: the deny is
    // logged without them.
    let refused = f
        .engine
        .refuse(
            &agent,
            call("ghost", json!({"n": 9_007_199_254_740_993_u64})),
            ReasonCode::SchemaViolation,
            "no canonical form".into(),
        )
        .await
        .unwrap();
    assert!(refused.request.args.is_empty());
    let receipt = refused.decision.receipt.as_deref().expect("a receipt");
    let verified =
        ward_verify::verify_receipt(receipt.as_bytes(), &f.verifier(), "receipt").unwrap();
    let entry: serde_json::Value = serde_json::from_slice(&verified.entry).unwrap();
    let empty = ward_core::Digest::of_args(&serde_json::Map::new()).unwrap();
    assert_eq!(entry["args_digest"], empty.to_string().as_str());
    // So is a context with none, and canonical arguments are kept.
    let mut odd = call("ghost", json!({"q": "x"}));
    odd.context
        .insert("n".into(), json!(9_007_199_254_740_993_u64));
    let refused = f
        .engine
        .refuse(
            &agent,
            odd,
            ReasonCode::SchemaViolation,
            "no canonical form".into(),
        )
        .await
        .unwrap();
    assert!(refused.request.context.is_empty());
    assert_eq!(refused.request.args.len(), 1);
    let receipt = refused.decision.receipt.as_deref().expect("a receipt");
    ward_verify::verify_receipt(receipt.as_bytes(), &f.verifier(), "receipt").unwrap();

    // The credential is checked as for a decision: a refusal cannot be
    // logged in someone else's name.
    let err = f
        .engine
        .refuse(
            &creds("wk_nobody.secret"),
            call("ghost", json!({})),
            ReasonCode::UnknownTool,
            "x".into(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Invalid(_)), "{err:?}");
    let mut other = call("ghost", json!({}));
    other.actor.tenant = "globex".into();
    let err = f
        .engine
        .refuse(&agent, other, ReasonCode::UnknownTool, "x".into())
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Forbidden(_)), "{err:?}");
}
