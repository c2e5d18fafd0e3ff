#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]
//! Two engines in one process sharing one PostgreSQL database: each has its
//! own `PgState` pool and its own audit writer (its own log key, so its own
//! log shard). Kill switches, limits, approvals and idempotency keys must
//! hold across them. Needs a server, like `state_conformance` (see
//! `tests/pg/mod.rs`).

mod pg;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use ward_audit::{LogKey, PgStore, Timestamp, Writer, WriterConfig};
use ward_core::{Decision, Outcome, PrincipalKind, ReasonCode, Request};
use ward_engine::{
    bundle_record, system_clock, AgentRecord, ApiKeyRecord, ApprovalStatus, Credentials, Decided,
    Engine, EngineConfig, Identity, ModelInfo, PgState, Scope, SwitchKind, ROLE_ADMIN,
};

use pg::TempDb;

const SUPPORT: &str = include_str!("../../../examples/bundles/support/bundle.yaml");

/// The support bundle with a shared rate limit: five refunds per tenant a day.
fn support_with_limit() -> String {
    format!(
        "{SUPPORT}
limits:
  - id: refunds-per-day
    key: [tenant]
    window: 1d
    max: 5
    match: {{tools: [approve_refund]}}
"
    )
}

struct Cluster {
    a: Engine,
    b: Engine,
    admin: Identity,
    finance: Identity,
    agent_key: String,
}

fn writer(conninfo: &str, node: &str, seed: u8) -> Writer {
    let store = PgStore::connect(conninfo).unwrap();
    let key = LogKey::from_seed(&format!("ward/node-{node}"), [seed; 32]).unwrap();
    Writer::start(
        Box::new(store),
        key,
        Arc::new(Timestamp::now),
        WriterConfig::default(),
    )
    .unwrap()
}

fn config() -> EngineConfig {
    EngineConfig {
        // Generous, so a loaded machine never turns a decision into a timeout.
        decision_budget: Duration::from_secs(30),
        stale_after: Duration::from_secs(60),
        ..EngineConfig::default()
    }
}

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

/// Starts two nodes on `db` with `bundle` active. The stores and writers
/// are opened outside the runtime (the sync client runs its own).
fn start(rt: &tokio::runtime::Runtime, db: &TempDb, bundle: &str) -> Cluster {
    let info = db.conninfo();
    PgStore::connect(&info).unwrap().install_schema().unwrap();
    let (state_a, state_b) = (
        PgState::connect(&info).unwrap(),
        PgState::connect(&info).unwrap(),
    );
    let (audit_a, audit_b) = (writer(&info, "a", 1), writer(&info, "b", 2));
    let record = bundle_record(
        vec![("bundle.yaml".to_owned(), bundle.to_owned())],
        None,
        1_000,
    )
    .unwrap();
    rt.block_on(async move {
        let a = Engine::start(
            Arc::new(state_a),
            audit_a,
            system_clock(),
            config(),
            None,
            Some(record),
        )
        .await
        .unwrap();
        // B has no bundle of its own: it loads the one A activated.
        let b = Engine::start(
            Arc::new(state_b),
            audit_b,
            system_clock(),
            config(),
            None,
            None,
        )
        .await
        .unwrap();
        let admin_key = a
            .bootstrap_api_key(key_spec(
                "*",
                "ops-admin",
                PrincipalKind::User,
                &[ROLE_ADMIN],
            ))
            .await
            .unwrap()
            .key;
        let agent_key = a
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
        let finance_key = a
            .bootstrap_api_key(key_spec("acme", "fin-1", PrincipalKind::User, &["finance"]))
            .await
            .unwrap()
            .key;
        let admin = a.authenticate(&creds(&admin_key)).unwrap();
        a.register_agent(
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
        a.spawn_refresh();
        b.spawn_refresh();
        // B learns of the keys and the agent from the store, not from A.
        b.refresh().await.unwrap();
        let finance = b.authenticate(&creds(&finance_key)).unwrap();
        assert_eq!(
            b.active_bundle().unwrap().record.digest,
            a.active_bundle().unwrap().record.digest
        );
        Cluster {
            a,
            b,
            admin,
            finance,
            agent_key,
        }
    })
}

fn request(tool: &str, args: serde_json::Value) -> Request {
    serde_json::from_value(json!({
        "intervention": "pre_tool_call",
        "actor": {
            "principal": {"id": "svc-support", "kind": "service", "roles": ["support", "premium"]},
            "tenant": "acme",
            "session": "s-1",
            "agent": {"id": "support-bot", "version": "1.0.0"}
        },
        "tool": tool,
        "args": args,
        "context": {"order_age_days": 3}
    }))
    .unwrap()
}

fn refund(amount: f64) -> Request {
    request(
        "approve_refund",
        json!({"order_id": "8812", "amount": amount}),
    )
}

fn codes(d: &Decision) -> Vec<ReasonCode> {
    d.reasons.iter().map(|r| r.code).collect()
}

async fn decide(node: &Engine, key: &str, request: Request) -> Decided {
    node.decide(&creds(key), request).await.unwrap()
}

/// Runs `scenario` on two fresh nodes over a fresh database.
fn two_nodes<F>(bundle: &str, scenario: impl FnOnce(Arc<Cluster>) -> F)
where
    F: std::future::Future<Output = ()>,
{
    let db = TempDb::new("ward_two_nodes");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let cluster = Arc::new(start(&rt, &db, bundle));
    rt.block_on(scenario(Arc::clone(&cluster)));
    drop(rt);
    drop(cluster);
    drop(db);
}

#[test]
fn a_kill_switch_set_on_one_node_stops_the_other_within_a_second() {
    two_nodes(SUPPORT, |c| async move {
        let lookup = || request("lookup_order", json!({"order_id": "8812"}));
        let before = decide(&c.b, &c.agent_key, lookup()).await;
        assert_eq!(before.decision.outcome, Outcome::Allow);
        c.a.set_switch(
            &c.admin,
            SwitchKind::Kill,
            Scope::Tenant("acme".into()),
            "incident 42".into(),
        )
        .await
        .unwrap();
        let set = Instant::now();
        // A denies at once: it refreshed after its own write.
        let on_a = decide(&c.a, &c.agent_key, lookup()).await;
        assert_eq!(codes(&on_a.decision), [ReasonCode::KillSwitch]);
        loop {
            let on_b = decide(&c.b, &c.agent_key, lookup()).await;
            let waited = set.elapsed();
            if on_b.decision.outcome == Outcome::Deny {
                assert_eq!(codes(&on_b.decision), [ReasonCode::KillSwitch]);
                assert!(on_b.decision.receipt.is_some());
                assert!(waited <= Duration::from_secs(1), "took {waited:?}");
                break;
            }
            assert_eq!(on_b.decision.outcome, Outcome::Allow);
            assert!(
                waited <= Duration::from_secs(1),
                "B still allows {waited:?} after the kill switch was set on A"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Clearing it on B lets A through again.
        assert!(c
            .b
            .clear_switch(&c.admin, SwitchKind::Kill, Scope::Tenant("acme".into()))
            .await
            .unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        while decide(&c.a, &c.agent_key, lookup()).await.decision.outcome != Outcome::Allow {
            assert!(Instant::now() < deadline, "A never saw the switch cleared");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
}

#[test]
fn a_rate_limit_is_shared_by_both_nodes() {
    two_nodes(&support_with_limit(), |c| async move {
        // Twelve refunds at once, half on each node: exactly five pass.
        let calls: Vec<_> = (0..12)
            .map(|i| {
                let c = Arc::clone(&c);
                tokio::spawn(async move {
                    let node = if i % 2 == 0 { &c.a } else { &c.b };
                    decide(node, &c.agent_key, refund(120.0)).await.decision
                })
            })
            .collect();
        let mut allowed = 0;
        for call in calls {
            let d = call.await.unwrap();
            match d.outcome {
                Outcome::Allow => allowed += 1,
                Outcome::Deny => assert_eq!(codes(&d), [ReasonCode::RateLimited], "{d:?}"),
                other => panic!("unexpected outcome {other:?}"),
            }
            assert!(d.receipt.is_some());
        }
        assert_eq!(allowed, 5);
        // The sixth and later calls are denied whichever node gets them.
        for node in [&c.a, &c.b, &c.a, &c.b] {
            let d = decide(node, &c.agent_key, refund(120.0)).await.decision;
            assert_eq!(d.outcome, Outcome::Deny);
            assert_eq!(codes(&d), [ReasonCode::RateLimited]);
        }
        // Reads are not limited.
        let read = request("lookup_order", json!({"order_id": "8812"}));
        assert_eq!(
            decide(&c.b, &c.agent_key, read).await.decision.outcome,
            Outcome::Allow
        );
    });
}

#[test]
fn an_approval_opened_on_one_node_is_granted_on_the_other() {
    two_nodes(SUPPORT, |c| async move {
        let asked = decide(&c.a, &c.agent_key, refund(750.0)).await.decision;
        assert_eq!(asked.outcome, Outcome::RequireApproval);
        let ticket = asked.approval.clone().unwrap();
        assert_eq!(ticket.approvers, ["role:finance"]);
        // Without the grant, a retry is still pending, on either node.
        let mut retry = refund(750.0);
        retry.approval_id = Some(ticket.id.clone());
        let pending = decide(&c.b, &c.agent_key, retry.clone()).await.decision;
        assert_eq!(codes(&pending), [ReasonCode::ApprovalPending]);
        // The finance approver sees it on B and grants it there.
        let inbox = c.b.approvals(&c.finance).await.unwrap();
        assert_eq!(
            inbox.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            [ticket.id.as_str()]
        );
        let granted = c.b.vote(&c.finance, &ticket.id, true, None).await.unwrap();
        assert_eq!(granted.status, ApprovalStatus::Approved);
        assert_eq!(granted.decision_id, asked.decision_id);
        // The retry on A is allowed.
        let allowed = decide(&c.a, &c.agent_key, retry).await.decision;
        assert_eq!(allowed.outcome, Outcome::Allow, "{allowed:?}");
        assert!(allowed.receipt.is_some());
        // A second vote finds it closed, on either node.
        assert!(c.a.vote(&c.finance, &ticket.id, true, None).await.is_err());
        // The approval does not cover a different call.
        let mut other = refund(751.0);
        other.approval_id = Some(ticket.id.clone());
        let mismatch = decide(&c.a, &c.agent_key, other).await.decision;
        assert_eq!(codes(&mismatch), [ReasonCode::ApprovalMismatch]);
    });
}

#[test]
fn one_idempotency_key_gets_one_decision_across_nodes() {
    two_nodes(SUPPORT, |c| async move {
        for round in 0..15 {
            let mut req = refund(120.0);
            req.idempotency_key = Some(format!("idem-{round}"));
            let calls: Vec<_> = (0..8)
                .map(|i| {
                    let (c, req) = (Arc::clone(&c), req.clone());
                    tokio::spawn(async move {
                        let node = if i % 2 == 0 { &c.a } else { &c.b };
                        decide(node, &c.agent_key, req).await
                    })
                })
                .collect();
            let mut replies = Vec::new();
            for call in calls {
                replies.push(call.await.unwrap());
            }
            // What the pipeline does with a key: the one call that claims it
            // decides; a call that finds the decision stored replays it; a
            // call that finds the first still in flight is denied
            // `idempotent_replay` (and decides nothing else).
            let in_flight = |d: &Decided| {
                !d.replayed
                    && d.decision.outcome == Outcome::Deny
                    && codes(&d.decision) == [ReasonCode::IdempotentReplay]
            };
            let fresh: Vec<&Decided> = replies
                .iter()
                .filter(|d| !d.replayed && !in_flight(d))
                .collect();
            assert_eq!(fresh.len(), 1, "round {round}: one call decided");
            let first = &fresh[0].decision;
            assert_eq!(first.outcome, Outcome::Allow);
            assert!(first.receipt.is_some());
            for d in replies.iter().filter(|d| d.replayed) {
                assert_eq!(&d.decision, first, "round {round}: a replay differs");
            }
            // Once decided, every later call on either node gets that decision.
            for node in [&c.a, &c.b] {
                let again = decide(node, &c.agent_key, req.clone()).await;
                assert!(again.replayed);
                assert_eq!(&again.decision, first);
            }
        }
        // A different request under a used key is refused.
        let mut other = refund(121.0);
        other.idempotency_key = Some("idem-0".into());
        let d = decide(&c.b, &c.agent_key, other).await.decision;
        assert_eq!(codes(&d), [ReasonCode::IdempotentReplay]);
    });
}
