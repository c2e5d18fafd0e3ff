#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]
//! A decision that runs past its budget is a `timeout` deny, and that deny
//! is what the audit log records. It releases the idempotency key it
//! claimed, so a retry decides afresh instead of being told, until the key
//! expires, that the first call is still being decided.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::stalling::Stalling;

use serde_json::json;
use ward_audit::{LogKey, SqliteStore, Timestamp, Writer, WriterConfig};
use ward_core::{Outcome, PrincipalKind, ReasonCode, Request};
use ward_engine::{
    bundle_record, system_clock, AgentRecord, ApiKeyRecord, Credentials, Engine, EngineConfig,
    ModelInfo, SqliteState, ROLE_ADMIN,
};

fn key_spec(tenant: &str, principal: &str, kind: PrincipalKind, roles: &[&str]) -> ApiKeyRecord {
    ApiKeyRecord {
        id: String::new(),
        hash: String::new(),
        tenant: tenant.into(),
        principal: principal.into(),
        kind,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        agent: None,
        revoked: false,
    }
}

fn creds(key: &str) -> Credentials {
    Credentials {
        bearer: Some(key.to_owned()),
        on_behalf_of: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_decision_releases_its_idempotency_key() {
    let dir = tempfile::tempdir().unwrap();
    let state = Stalling::new(SqliteState::open(&dir.path().join("state.db")).unwrap());
    let slow = Arc::clone(&state.slow);
    let audit = Writer::start(
        Box::new(SqliteStore::open(&dir.path().join("audit.db")).unwrap()),
        LogKey::from_seed("ward/test", [3; 32]).unwrap(),
        Arc::new(Timestamp::now),
        WriterConfig::default(),
    )
    .unwrap();
    let bundle = bundle_record(
        vec![(
            "bundle.yaml".into(),
            include_str!("../../../examples/bundles/support/bundle.yaml").into(),
        )],
        None,
        1_000,
    )
    .unwrap();
    let config = EngineConfig {
        decision_budget: Duration::from_secs(1),
        stale_after: Duration::from_secs(120),
        ..EngineConfig::default()
    };
    let engine = Engine::start(
        Arc::new(state),
        audit,
        system_clock(),
        config,
        None,
        Some(bundle),
    )
    .await
    .unwrap();
    engine.spawn_refresh();
    let admin_key = engine
        .bootstrap_api_key(key_spec("*", "ops", PrincipalKind::User, &[ROLE_ADMIN]))
        .await
        .unwrap()
        .key;
    let agent_key = engine
        .bootstrap_api_key(ApiKeyRecord {
            agent: Some("support-bot".into()),
            ..key_spec(
                "acme",
                "svc-support",
                PrincipalKind::Service,
                &["support", "premium"],
            )
        })
        .await
        .unwrap()
        .key;
    let admin = engine.authenticate(&creds(&admin_key)).unwrap();
    engine
        .register_agent(
            &admin,
            AgentRecord {
                id: "support-bot".into(),
                version: "1.0.0".into(),
                model: ModelInfo {
                    provider: "anthropic".into(),
                    id: "claude-sonnet-4-5".into(),
                    version: String::new(),
                },
                prompt_digest: format!("sha256:{}", "ab".repeat(32)),
                tools: Vec::new(),
                owner: "support-platform@example.com".into(),
                environment: "production".into(),
                active: true,
            },
        )
        .await
        .unwrap();
    let request: Request = serde_json::from_value(json!({
        "intervention": "pre_tool_call",
        "actor": {
            "principal": {"id": "svc-support", "kind": "service"},
            "tenant": "acme",
            "session": "s-1",
            "agent": {"id": "support-bot", "version": "1.0.0"}
        },
        "tool": "approve_refund",
        "args": {"order_id": "8812", "amount": 750.0},
        "context": {"order_age_days": 3},
        "idempotency_key": "retry-me",
        "approval_id": "apr_unknown"
    }))
    .unwrap();

    slow.store(true, Ordering::SeqCst);
    let first = engine
        .decide(&creds(&agent_key), request.clone())
        .await
        .unwrap();
    assert_eq!(
        first
            .decision
            .reasons
            .iter()
            .map(|r| r.code)
            .collect::<Vec<_>>(),
        [ReasonCode::Timeout]
    );
    // The deny the caller got is what the log records: its receipt holds a
    // `timeout` deny, and the abandoned decision never reached the log.
    let receipt = first
        .decision
        .receipt
        .as_deref()
        .expect("the timeout deny is logged");
    let verifier = ward_verify::VerifierKey::parse(&engine.verifier_key()).unwrap();
    let verified = ward_verify::verify_receipt(receipt.as_bytes(), &verifier, "receipt").unwrap();
    let entry: serde_json::Value = serde_json::from_slice(&verified.entry).unwrap();
    assert_eq!(entry["outcome"], "deny");
    assert_eq!(entry["reasons"][0]["code"], "timeout");
    assert_eq!(entry["decision_id"], first.decision.decision_id.as_str());
    slow.store(false, Ordering::SeqCst);

    // The release runs in the background; the retry decides afresh once
    // it has (generous bound: the stalled lookup holds a blocking thread).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let retry = engine
            .decide(&creds(&agent_key), request.clone())
            .await
            .unwrap();
        let codes: Vec<ReasonCode> = retry.decision.reasons.iter().map(|r| r.code).collect();
        if codes != [ReasonCode::IdempotentReplay] {
            assert!(!retry.replayed);
            assert_eq!(retry.decision.outcome, Outcome::Deny);
            assert_eq!(codes, [ReasonCode::ApprovalMismatch]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the timed-out call never released its idempotency key"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
