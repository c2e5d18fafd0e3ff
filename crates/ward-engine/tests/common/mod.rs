//! A real engine over real stores in a temporary directory, with a clock
//! the test moves.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test file uses part of the fixture"
)]

pub mod stalling;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use ward_audit::{LogKey, SqliteStore, Timestamp, Writer, WriterConfig};
use ward_core::{PrincipalKind, Request};
use ward_engine::{
    bundle_record, AgentRecord, ApiKeyRecord, Credentials, Decided, Engine, EngineConfig, Identity,
    ModelInfo, SqliteState, StateStore, ROLE_ADMIN, ROLE_BREAK_GLASS,
};

pub const SUPPORT: &str = include_str!("../../../../examples/bundles/support/bundle.yaml");
/// 2026-11-22T00:00:00Z
pub const T0: i64 = 1_795_305_600_000;

pub struct Fixture {
    pub engine: Engine,
    pub clock: Arc<AtomicI64>,
    pub admin: Identity,
    pub agent_key: String,
    pub finance_key: String,
    pub dir: tempfile::TempDir,
}

pub fn key(name: &str, seed: u8) -> LogKey {
    LogKey::from_seed(name, [seed; 32]).unwrap()
}

pub async fn fixture(bundle: &str, config: EngineConfig) -> Fixture {
    fixture_over(bundle, config, |state| Arc::new(state)).await
}

/// [`fixture`] over the SQLite state as `wrap` dresses it.
pub async fn fixture_over(
    bundle: &str,
    config: EngineConfig,
    wrap: impl FnOnce(SqliteState) -> Arc<dyn StateStore>,
) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicI64::new(T0));
    let c = Arc::clone(&clock);
    let engine_clock: ward_engine::Clock = Arc::new(move || c.load(Ordering::SeqCst));
    let c = Arc::clone(&clock);
    let audit_clock: ward_audit::Clock =
        Arc::new(move || Timestamp::from_unix_millis(c.load(Ordering::SeqCst) as u64));
    let store = SqliteStore::open(&dir.path().join("audit.db")).unwrap();
    let writer = Writer::start(
        Box::new(store),
        key("ward.test", 7),
        audit_clock,
        WriterConfig::default(),
    )
    .unwrap();
    let state = wrap(SqliteState::open(&dir.path().join("state.db")).unwrap());
    let record = bundle_record(vec![("bundle.yaml".into(), bundle.into())], None, T0).unwrap();
    let engine = Engine::start(state, writer, engine_clock, config, None, Some(record))
        .await
        .unwrap();
    let admin = engine
        .bootstrap_api_key(api_key(
            "*",
            "ops",
            PrincipalKind::User,
            &[ROLE_ADMIN, ROLE_BREAK_GLASS],
            None,
        ))
        .await
        .unwrap();
    let admin = engine
        .authenticate(&Credentials {
            bearer: Some(admin.key),
            on_behalf_of: None,
        })
        .unwrap();
    engine
        .register_agent(&admin, agent("support-bot", "1.0.0", &[]))
        .await
        .unwrap();
    let agent_key = engine
        .bootstrap_api_key(api_key(
            "acme",
            "svc-support",
            PrincipalKind::Service,
            &["support", "premium"],
            Some("support-bot"),
        ))
        .await
        .unwrap()
        .key;
    let finance_key = engine
        .bootstrap_api_key(api_key(
            "acme",
            "fin-1",
            PrincipalKind::User,
            &["finance"],
            None,
        ))
        .await
        .unwrap()
        .key;
    Fixture {
        engine,
        clock,
        admin,
        agent_key,
        finance_key,
        dir,
    }
}

pub fn api_key(
    tenant: &str,
    principal: &str,
    kind: PrincipalKind,
    roles: &[&str],
    agent: Option<&str>,
) -> ApiKeyRecord {
    ApiKeyRecord {
        id: String::new(),
        hash: String::new(),
        tenant: tenant.into(),
        principal: principal.into(),
        kind,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        agent: agent.map(str::to_owned),
        revoked: false,
    }
}

pub fn agent(id: &str, version: &str, tools: &[&str]) -> AgentRecord {
    AgentRecord {
        id: id.into(),
        version: version.into(),
        model: ModelInfo {
            provider: "anthropic".into(),
            id: "claude-sonnet-4-5".into(),
            version: "2025-09-29".into(),
        },
        prompt_digest: format!("sha256:{}", "ab".repeat(32)),
        tools: tools.iter().map(|t| (*t).to_owned()).collect(),
        owner: "support-platform@example.com".into(),
        environment: "test".into(),
        active: true,
    }
}

pub fn creds(key: &str) -> Credentials {
    Credentials {
        bearer: Some(key.to_owned()),
        on_behalf_of: None,
    }
}

/// A request from the support agent's service principal.
pub fn call(tool: &str, args: Value) -> Request {
    request(json!({
        "intervention": "pre_tool_call",
        "actor": {"principal": {"id": "svc-support", "kind": "service", "roles": []}, "tenant": "acme", "session": "s-1", "agent": {"id": "support-bot", "version": "1.0.0"}},
        "tool": tool, "args": args, "context": {"order_age_days": 3},
    }))
}

pub fn request(value: Value) -> Request {
    Request::from_json(&serde_json::to_vec(&value).unwrap()).unwrap()
}

impl Fixture {
    pub async fn decide(&self, request: Request) -> Decided {
        self.engine
            .decide(&creds(&self.agent_key), request)
            .await
            .unwrap()
    }

    pub fn advance_ms(&self, ms: i64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn verifier(&self) -> ward_verify::VerifierKey {
        ward_verify::VerifierKey::parse(&self.engine.verifier_key()).unwrap()
    }
}

/// The reason codes of a decision, as strings.
pub fn codes(d: &Decided) -> Vec<&'static str> {
    d.decision.reasons.iter().map(|r| r.code.as_str()).collect()
}
