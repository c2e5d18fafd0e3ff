//! The gateway's overhead against the same upstream called directly (the
//! figures of docs/benchmarks.md, "MCP gateway"). A benchmark, not a test:
//! it asserts nothing about time and runs only when asked:
//!
//! ```sh
//! cargo test --release -p ward-server --test mcp -- --ignored --nocapture overhead
//! WARD_MCP_BENCH_SECS=10 WARD_MCP_BENCH_RATES=100,1000 ...   # defaults: 10 s, 100 and 1000 calls/s
//! ```
//!
//! The upstream is the reference `everything` server's `echo`, over stdio
//! (a child process) and over Streamable HTTP. Each row is an open-loop run
//! at a fixed rate: a call is started every 1/rate s whatever the earlier
//! ones do, and its latency runs from when it was due (no coordinated
//! omission). "direct" is rmcp's client talking to the upstream; "gateway"
//! is the same client talking to the gateway (its stdio code over a pipe,
//! or its HTTP endpoint), which decides (durable receipt), forwards, scans
//! the result (a second durable decision) and records what ran.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::ServiceExt;
use serde_json::json;
use ward_core::PrincipalKind;
use ward_engine::{AgentRecord, ApiKeyRecord, ModelInfo};
use ward_server::mcp::{Gateway, GatewayConfig};
use ward_server::node::{self, NodeConfig};

use crate::fixture::{everything_over_http, http_client, peers, Lab};

const BUNDLE: &str = r#"
metadata: {name: mcp-bench, version: 1.0.0}
defaults: {outcomes: {list_tools: allow, post_tool_call: allow}}
tools:
  s__echo: {capability: read, risk: low, consequential: false, args: {type: object, properties: {message: {type: string}}}}
  h__echo: {capability: read, risk: low, consequential: false, args: {type: object, properties: {message: {type: string}}}}
rules:
  - {id: echo, match: {tools: [s__echo, h__echo]}, decision: allow}
"#;

type Client = rmcp::service::RunningService<rmcp::RoleClient, crate::fixture::Watch>;

async fn echo(client: Arc<Client>, name: &'static str) {
    let mut p = CallToolRequestParams::new(name);
    p.arguments = json!({"message": "hello"}).as_object().cloned();
    let r = client.peer().call_tool(p).await.unwrap();
    assert_ne!(r.is_error, Some(true), "{r:?}");
}

/// One open-loop run: latencies from each call's due time.
async fn open_loop(
    client: &Arc<Client>,
    name: &'static str,
    rate: u64,
    secs: u64,
) -> Vec<Duration> {
    let every = Duration::from_nanos(1_000_000_000 / rate);
    let start = tokio::time::Instant::now();
    let mut runs = Vec::new();
    for i in 0..rate * secs {
        let due = start + every * u32::try_from(i).unwrap();
        tokio::time::sleep_until(due).await;
        let c = Arc::clone(client);
        runs.push(tokio::spawn(async move {
            echo(c, name).await;
            due.elapsed()
        }));
    }
    let mut out = Vec::with_capacity(runs.len());
    for r in runs {
        out.push(r.await.unwrap());
    }
    out.sort();
    out
}

fn pct(sorted: &[Duration], p: usize) -> f64 {
    let i = (sorted.len() * p / 100).min(sorted.len() - 1);
    sorted[i].as_secs_f64() * 1000.0
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run it with --ignored (docs/benchmarks.md)"]
async fn overhead() {
    let secs: u64 = std::env::var("WARD_MCP_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rates: Vec<u64> = std::env::var("WARD_MCP_BENCH_RATES")
        .unwrap_or_else(|_| "100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut config = NodeConfig::embedded(&data);
    config.bundle = Some(vec![("bench.yaml".into(), BUNDLE.into())]);
    let opened = tokio::task::spawn_blocking(move || node::open(config))
        .await
        .unwrap()
        .unwrap();
    let node = opened.start().await.unwrap();
    let engine = node.app.engine().clone();
    let op = engine
        .authenticate(&Lab::creds(node.new_admin_key.as_deref().unwrap()))
        .unwrap();
    let agent = AgentRecord {
        id: "bench-agent".into(),
        version: "1.0.0".into(),
        model: ModelInfo {
            provider: "none".into(),
            id: "none".into(),
            version: String::new(),
        },
        prompt_digest: format!("sha256:{}", "ab".repeat(32)),
        tools: Vec::new(),
        owner: "bench".into(),
        environment: "bench".into(),
        active: true,
    };
    engine.register_agent(&op, agent).await.unwrap();
    let key = engine
        .create_api_key(
            &op,
            ApiKeyRecord {
                id: String::new(),
                hash: String::new(),
                tenant: "bench".into(),
                principal: "client".into(),
                kind: PrincipalKind::Service,
                roles: Vec::new(),
                agent: Some("bench-agent".into()),
                revoked: false,
            },
        )
        .await
        .unwrap()
        .key;
    let everything = peers().join("node_modules/.bin/mcp-server-everything");
    let (_http_child, http_url) = everything_over_http().await;
    let text = json!({
        "mcpServers": {
            "s": {"command": everything.display().to_string()},
            "h": {"url": http_url},
        },
        "ward": {"data": data.display().to_string(), "agent": {"id": "bench-agent", "version": "1.0.0"}},
    })
    .to_string();
    let gconfig = GatewayConfig::parse(&text, dir.path(), &|_| None).unwrap();
    let gateway = Arc::new(Gateway::start(engine.clone(), gconfig, None).await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let g = Arc::clone(&gateway);
    tokio::spawn(async move {
        g.serve_http(listener, std::future::pending())
            .await
            .unwrap()
    });

    let watch = || crate::fixture::Watch {
        version: ProtocolVersion::V_2025_11_25,
        changed: Arc::default(),
    };
    // Direct clients.
    let child = TokioChildProcess::builder(tokio::process::Command::new(&everything))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
        .0;
    let direct_stdio = Arc::new(watch().serve(child).await.unwrap());
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(http_url.as_str()),
    );
    let direct_http = Arc::new(watch().serve(transport).await.unwrap());
    // Gateway clients: its stdio code over a pipe, and its HTTP endpoint.
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    let (r, w) = tokio::io::split(theirs);
    let g = Arc::clone(&gateway);
    let creds = Lab::creds(&key);
    tokio::spawn(async move { g.serve_io(creds, r, w).await });
    let via_stdio = Arc::new(watch().serve(tokio::io::split(ours)).await.unwrap());
    let via_http = Arc::new(http_client(&url, &key, ProtocolVersion::V_2025_11_25).await);

    // Memory per open session: HTTP sessions opened and initialized, no
    // calls. Measured first, on a heap that has not yet grown and shrunk
    // under the call load (after it, the sessions fit in memory the
    // allocator already holds, and the growth reads as zero), then closed.
    let sessions = 500;
    let http = reqwest::Client::new();
    let before = rss_kib();
    let started = Instant::now();
    let mut open = Vec::new();
    for _ in 0..sessions {
        let r = http
            .post(&url)
            .bearer_auth(&key)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(crate::listing::initialize("2025-11-25").to_string())
            .send()
            .await
            .unwrap();
        let id = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
        let _ = r.bytes().await;
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        http.post(&url)
            .bearer_auth(&key)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-session-id", &id)
            .body(note.to_string())
            .send()
            .await
            .unwrap();
        open.push(id);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib();
    println!(
        "memory: {sessions} open HTTP sessions took {} KiB of resident memory ({:.1} KiB per session; opened in {:.1} s)",
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 / f64::from(sessions),
        started.elapsed().as_secs_f64()
    );
    for id in open {
        http.delete(&url)
            .bearer_auth(&key)
            .header("mcp-session-id", &id)
            .send()
            .await
            .unwrap();
    }
    let rows: [(&str, &str, &Arc<Client>, &'static str); 4] = [
        ("stdio", "direct", &direct_stdio, "echo"),
        ("stdio", "gateway", &via_stdio, "s__echo"),
        ("HTTP", "direct", &direct_http, "echo"),
        ("HTTP", "gateway", &via_http, "h__echo"),
    ];
    for (_, _, c, name) in &rows {
        for _ in 0..200 {
            echo(Arc::clone(c), name).await;
        }
    }
    println!("| transport | rate/s | path | calls | p50 ms | p99 ms |");
    println!("|---|---:|---|---:|---:|---:|");
    for rate in &rates {
        for (transport, pair) in [("stdio", &rows[0..2]), ("HTTP", &rows[2..4])] {
            let mut p = Vec::new();
            for (_, path, c, name) in pair {
                let lat = open_loop(c, name, *rate, secs).await;
                println!(
                    "| {transport} | {rate} | {path} | {} | {:.3} | {:.3} |",
                    lat.len(),
                    pct(&lat, 50),
                    pct(&lat, 99)
                );
                p.push((pct(&lat, 50), pct(&lat, 99)));
            }
            println!(
                "| {transport} | {rate} | **overhead** | | **{:.3}** | **{:.3}** |",
                p[1].0 - p[0].0,
                p[1].1 - p[0].1
            );
        }
    }

    gateway.shutdown().await;
    drop(node);
}
