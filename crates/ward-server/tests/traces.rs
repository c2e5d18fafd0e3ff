#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]

//! OTLP export of decisions, against a real OTLP/HTTP receiver: an axum
//! server in the test that decodes `POST /v1/traces` protobuf bodies. The
//! decisions come from a real engine over SQLite in a temporary directory.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;
use tokio::sync::mpsc;
use ward_audit::{LogKey, SqliteStore, Timestamp, Writer, WriterConfig};
use ward_core::{Outcome, PrincipalKind, Request};
use ward_engine::{
    bundle_record, AgentRecord, ApiKeyRecord, Credentials, Decided, Engine, EngineConfig,
    ModelInfo, SqliteState, ROLE_ADMIN,
};
use ward_server::Tracer;

const SUPPORT: &str = include_str!("../../../examples/bundles/support/bundle.yaml");
/// 2026-11-22T00:00:00Z
const T0: i64 = 1_795_305_600_000;
/// The most the test waits for the receiver; an export normally takes
/// milliseconds.
const WAIT: Duration = Duration::from_secs(20);

/// Decoded export requests, as the receiver got them.
type Received = mpsc::UnboundedReceiver<ExportTraceServiceRequest>;

/// Serves `POST /v1/traces` on a free loopback port; returns the base URL.
async fn receiver() -> (String, Received) {
    async fn traces(
        State(sink): State<mpsc::UnboundedSender<ExportTraceServiceRequest>>,
        body: Bytes,
    ) -> Vec<u8> {
        let request = ExportTraceServiceRequest::decode(body).unwrap();
        sink.send(request).unwrap();
        // An empty ExportTraceServiceResponse.
        Vec::new()
    }
    let (sink, received) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route("/v1/traces", post(traces))
        .with_state(sink);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), received)
}

/// A started engine with the support bundle, its agent registered, and the
/// agent's API key.
struct Gate {
    engine: Engine,
    agent_key: String,
    _dir: tempfile::TempDir,
}

async fn gate() -> Gate {
    let dir = tempfile::tempdir().unwrap();
    let engine_clock: ward_engine::Clock = Arc::new(|| T0);
    let audit_clock: ward_audit::Clock = Arc::new(|| Timestamp::from_unix_millis(T0 as u64));
    let store = SqliteStore::open(&dir.path().join("audit.db")).unwrap();
    let key = LogKey::from_seed("ward.test", [7; 32]).unwrap();
    let writer = Writer::start(Box::new(store), key, audit_clock, WriterConfig::default()).unwrap();
    let state = Arc::new(SqliteState::open(&dir.path().join("state.db")).unwrap());
    let record = bundle_record(vec![("bundle.yaml".into(), SUPPORT.into())], None, T0).unwrap();
    let config = EngineConfig::default();
    let engine = Engine::start(state, writer, engine_clock, config, None, Some(record))
        .await
        .unwrap();
    let admin = engine
        .bootstrap_api_key(api_key(
            "*",
            "ops",
            PrincipalKind::User,
            &[ROLE_ADMIN],
            None,
        ))
        .await
        .unwrap();
    let admin = engine.authenticate(&creds(&admin.key)).unwrap();
    engine
        .register_agent(
            &admin,
            AgentRecord {
                id: "support-bot".into(),
                version: "1.0.0".into(),
                model: ModelInfo {
                    provider: "anthropic".into(),
                    id: "claude-sonnet-4-5".into(),
                    version: "2025-09-29".into(),
                },
                prompt_digest: format!("sha256:{}", "ab".repeat(32)),
                tools: Vec::new(),
                owner: "support-platform@example.com".into(),
                environment: "test".into(),
                active: true,
            },
        )
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
    Gate {
        engine,
        agent_key,
        _dir: dir,
    }
}

fn api_key(
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

fn creds(key: &str) -> Credentials {
    Credentials {
        bearer: Some(key.to_owned()),
        on_behalf_of: None,
    }
}

/// The support agent asks to delete a customer: its roles lack `admin`, so
/// the rule `delete-needs-admin` denies it.
fn delete_customer(trace: Option<(&str, &str)>) -> Request {
    let mut value = json!({
        "intervention": "pre_tool_call",
        "actor": {
            "principal": {"id": "svc-support", "kind": "service", "roles": []},
            "tenant": "acme", "session": "s-1",
            "agent": {"id": "support-bot", "version": "1.0.0"},
        },
        "tool": "delete_customer", "args": {"customer_id": "c-1"},
        "context": {"order_age_days": 3},
    });
    if let Some((trace_id, span_id)) = trace {
        value["trace"] = json!({"trace_id": trace_id, "span_id": span_id});
    }
    Request::from_json(&serde_json::to_vec(&value).unwrap()).unwrap()
}

impl Gate {
    /// Decides `request` and hands the result to `tracer`, as the HTTP
    /// handler does.
    async fn decide(&self, tracer: &Tracer, request: Request) -> Decided {
        let started = SystemTime::now();
        let clock = std::time::Instant::now();
        let decided = self
            .engine
            .decide(&creds(&self.agent_key), request)
            .await
            .unwrap();
        tracer.decided(&decided, started, clock.elapsed());
        decided
    }
}

/// The spans of every export request that arrives within [`WAIT`], until
/// `count` spans have arrived.
async fn spans(
    received: &mut Received,
    count: usize,
) -> (Vec<Span>, Vec<ExportTraceServiceRequest>) {
    let mut spans = Vec::new();
    let mut requests = Vec::new();
    while spans.len() < count {
        let request = tokio::time::timeout(WAIT, received.recv())
            .await
            .expect("the receiver got no export in time")
            .expect("the receiver stopped");
        for resource in &request.resource_spans {
            for scope in &resource.scope_spans {
                spans.extend(scope.spans.iter().cloned());
            }
        }
        requests.push(request);
    }
    (spans, requests)
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a AnyValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn string(span: &Span, key: &str) -> Option<String> {
    match attribute(span, key) {
        Some(AnyValue::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_arrives_as_an_execute_tool_span_with_its_stages() {
    let (endpoint, mut received) = receiver().await;
    let gate = gate().await;
    let tracer = Tracer::otlp(&endpoint, "ward-test").unwrap();
    assert!(tracer.is_enabled());

    let decided = gate.decide(&tracer, delete_customer(None)).await;
    assert_eq!(decided.decision.outcome, Outcome::Deny);
    tracer.flush().await.unwrap();

    let (spans, requests) = spans(&mut received, 1 + decided.stages.len()).await;
    assert_eq!(spans.len(), 1 + decided.stages.len());
    let span = spans
        .iter()
        .find(|s| s.name == "execute_tool delete_customer")
        .expect("the decision's span");
    assert_eq!(
        string(span, "gen_ai.operation.name").as_deref(),
        Some("execute_tool")
    );
    assert_eq!(
        string(span, "gen_ai.tool.name").as_deref(),
        Some("delete_customer")
    );
    assert_eq!(
        string(span, "gen_ai.agent.id").as_deref(),
        Some("support-bot")
    );
    assert_eq!(
        string(span, "gen_ai.guardrail.decision").as_deref(),
        Some("deny")
    );
    assert_eq!(
        string(span, "gen_ai.guardrail.rule").as_deref(),
        Some("delete-needs-admin")
    );
    assert_eq!(
        string(span, "gen_ai.guardrail.reason").as_deref(),
        Some("rule")
    );
    assert_eq!(
        string(span, "ward.decision.id"),
        Some(decided.decision.decision_id.clone())
    );
    let policy = decided.decision.policy.as_ref().unwrap();
    assert_eq!(string(span, "ward.policy.name").as_deref(), Some("support"));
    assert_eq!(
        string(span, "ward.policy.version"),
        Some(policy.version.clone())
    );
    assert_eq!(
        string(span, "ward.policy.digest"),
        Some(policy.digest.clone())
    );
    assert_eq!(string(span, "ward.mode").as_deref(), Some("enforce"));
    assert_eq!(string(span, "ward.tenant").as_deref(), Some("acme"));
    assert_eq!(
        attribute(span, "ward.replayed"),
        Some(&AnyValue::BoolValue(false))
    );
    let receipt = decided
        .decision
        .receipt
        .as_deref()
        .expect("a durable decision");
    let index: i64 = receipt
        .lines()
        .find_map(|l| l.strip_prefix("index "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        attribute(span, "ward.receipt.index"),
        Some(&AnyValue::IntValue(index))
    );
    // A deny is a decision made, not a failure: no error status.
    assert!(span.status.as_ref().is_none_or(|s| s.code == 0));
    assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
    assert!(
        span.parent_span_id.is_empty(),
        "no agent trace context: a root span"
    );

    // One child per stage, named after it, in the decision's trace.
    let mut stage_names: Vec<&str> = spans
        .iter()
        .filter(|s| s.parent_span_id == span.span_id)
        .map(|s| {
            assert_eq!(s.trace_id, span.trace_id);
            s.name.as_str()
        })
        .collect();
    let mut expected: Vec<&str> = decided.stages.iter().map(|(s, _)| s.as_str()).collect();
    stage_names.sort_unstable();
    expected.sort_unstable();
    assert_eq!(stage_names, expected);

    // The service is named on the resource.
    let resource = requests[0].resource_spans[0].resource.as_ref().unwrap();
    let service = resource
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref());
    assert_eq!(service, Some(&AnyValue::StringValue("ward-test".into())));

    tracer.shutdown().await.unwrap();
    assert_eq!(tracer.dropped(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_span_joins_the_agents_trace() {
    let (endpoint, mut received) = receiver().await;
    let gate = gate().await;
    let tracer = Tracer::otlp(&format!("{endpoint}/v1/traces"), "ward-test").unwrap();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let agent_span = "00f067aa0ba902b7";
    let decided = gate
        .decide(&tracer, delete_customer(Some((trace_id, agent_span))))
        .await;
    tracer.flush().await.unwrap();
    let (spans, _) = spans(&mut received, 1 + decided.stages.len()).await;
    let span = spans
        .iter()
        .find(|s| s.name == "execute_tool delete_customer")
        .unwrap();
    assert_eq!(hex(&span.trace_id), trace_id);
    assert_eq!(hex(&span.parent_span_id), agent_span);
    assert!(spans.iter().all(|s| hex(&s.trace_id) == trace_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_costs_spans_not_decisions() {
    // A port that was just free: nothing listens there.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let gate = gate().await;
    let tracer = Tracer::otlp(&endpoint, "ward-test").unwrap();

    for _ in 0..3 {
        let decided = gate.decide(&tracer, delete_customer(None)).await;
        assert_eq!(decided.decision.outcome, Outcome::Deny);
    }
    // The export fails, and says so to whoever flushes; decisions went on.
    let error = tracer.flush().await.unwrap_err().to_string();
    assert!(error.starts_with("OTLP export to `"), "{error}");
    let decided = gate.decide(&tracer, delete_customer(None)).await;
    assert_eq!(decided.decision.outcome, Outcome::Deny);
    assert!(tracer.shutdown().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_shutdown_spans_are_dropped_and_counted() {
    let (endpoint, _received) = receiver().await;
    let gate = gate().await;
    let tracer = Tracer::otlp(&endpoint, "ward-test").unwrap();
    tracer.shutdown().await.unwrap();
    gate.decide(&tracer, delete_customer(None)).await;
    assert_eq!(tracer.dropped(), 1);
    let error = tracer.flush().await.unwrap_err().to_string();
    assert!(error.contains("is not running"), "{error}");
}

#[tokio::test]
async fn a_disabled_tracer_exports_nothing() {
    let gate = gate().await;
    let tracer = Tracer::disabled();
    assert!(!tracer.is_enabled());
    gate.decide(&tracer, delete_customer(None)).await;
    tracer.flush().await.unwrap();
    assert_eq!(tracer.dropped(), 0);
}

#[test]
fn bad_endpoints_are_refused() {
    for endpoint in ["https://collector:4318", "collector:4318", "http://"] {
        let error = Tracer::otlp(endpoint, "ward").unwrap_err();
        assert!(error.to_string().contains(endpoint), "{error}");
    }
}

#[test]
fn the_tracer_can_be_shared_between_threads() {
    fn shared<T: Send + Sync + std::fmt::Debug>() {}
    shared::<Tracer>();
}
