//! The fixture: the peers installed, a gate node in a temporary directory,
//! four real upstream servers, the gateway on a loopback port, the gate's
//! own API beside it, and rmcp clients.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
    ProtocolVersion,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{json, Value};
use ward_core::PrincipalKind;
use ward_engine::{AgentRecord, ApiKeyRecord, Credentials, Engine, ModelInfo};
use ward_server::mcp::{Gateway, GatewayConfig};
use ward_server::node::{self, NodeConfig};

pub(crate) const BUNDLE: &str =
    include_str!("../../../../examples/bundles/mcp-filesystem/bundle.yaml");
pub(crate) const LAB_BUNDLE: &str = include_str!("lab.yaml");
pub(crate) const AGENT: &str = "desk-agent";

fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp")
}

/// Where the peers are installed: `<target>/mcp-peers`, installed once.
pub(crate) fn peers() -> &'static Path {
    static PEERS: OnceLock<PathBuf> = OnceLock::new();
    PEERS.get_or_init(|| {
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let dest = tmp.parent().unwrap().join("mcp-peers");
        let out = std::process::Command::new("bash")
            .arg(here().join("peers/install.sh"))
            .arg(&dest)
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "installing the MCP peers failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        dest
    })
}

pub(crate) fn python() -> PathBuf {
    peers().join("venv/bin/python")
}

fn node_server(name: &str) -> String {
    peers()
        .join(format!("node_modules/.bin/mcp-server-{name}"))
        .display()
        .to_string()
}

/// What to change in a fixture's gateway config.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    /// Merged into the `ward` section.
    pub(crate) ward: Value,
    /// Merged into the `lab` server's entry.
    pub(crate) lab: Value,
    /// Extra `mcpServers` entries.
    pub(crate) more: Value,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            ward: json!({}),
            lab: json!({}),
            more: json!({}),
        }
    }
}

fn merge(into: &mut Value, from: &Value) {
    if let (Some(a), Some(b)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in b {
            a.insert(k.clone(), v.clone());
        }
    }
}

pub(crate) struct Lab {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) files: PathBuf,
    pub(crate) gateway: Arc<Gateway>,
    pub(crate) engine: Engine,
    pub(crate) url: String,
    pub(crate) api: String,
    pub(crate) operator: String,
    pub(crate) alice: String,
    pub(crate) bob: String,
    pub(crate) lead: String,
    pub(crate) http: reqwest::Client,
    _node: ward_server::node::Node,
    _children: Vec<tokio::process::Child>,
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

async fn free_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// The everything server over Streamable HTTP, on a free port.
pub(crate) async fn everything_over_http() -> (tokio::process::Child, String) {
    let port = free_port().await;
    let script = peers().join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    let child = tokio::process::Command::new("node")
        .arg(script)
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (child, format!("http://127.0.0.1:{port}/mcp"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the everything server did not start");
}

/// A bundle's files: the example and the tests' additions.
pub(crate) fn bundle_files() -> Vec<(String, String)> {
    vec![
        ("bundle.yaml".into(), BUNDLE.into()),
        ("lab.yaml".into(), LAB_BUNDLE.into()),
    ]
}

impl Lab {
    pub(crate) async fn start(setup: Setup) -> Lab {
        let root = peers().to_owned();
        let dir = tempfile::tempdir().unwrap();
        let files = dir.path().join("files");
        let workspace = files.join("workspace");
        std::fs::create_dir_all(&workspace).unwrap();
        std::fs::create_dir_all(files.join("outside")).unwrap();
        let data = dir.path().join("data");
        let mut config = NodeConfig::embedded(&data);
        config.bundle = Some(bundle_files());
        let opened = tokio::task::spawn_blocking(move || node::open(config))
            .await
            .unwrap()
            .unwrap();
        let node = opened.start().await.unwrap();
        let engine = node.app.engine().clone();
        let operator = node.new_admin_key.clone().unwrap();
        let op = engine
            .authenticate(&Credentials {
                bearer: Some(operator.clone()),
                on_behalf_of: None,
            })
            .unwrap();
        engine
            .register_agent(
                &op,
                AgentRecord {
                    id: AGENT.into(),
                    version: "1.0.0".into(),
                    model: ModelInfo {
                        provider: "anthropic".into(),
                        id: "claude-sonnet-4-5".into(),
                        version: String::new(),
                    },
                    prompt_digest: format!("sha256:{}", "ab".repeat(32)),
                    tools: Vec::new(),
                    owner: "t@example.com".into(),
                    environment: "test".into(),
                    active: true,
                },
            )
            .await
            .unwrap();
        let key = |principal: &str, roles: &[&str], agent: bool| {
            let engine = engine.clone();
            let op = op.clone();
            let record = ApiKeyRecord {
                id: String::new(),
                hash: String::new(),
                tenant: "acme".into(),
                principal: principal.into(),
                kind: PrincipalKind::User,
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                agent: agent.then(|| AGENT.to_owned()),
                revoked: false,
            };
            async move { engine.create_api_key(&op, record).await.unwrap().key }
        };
        let alice = key("alice", &["dev"], true).await;
        let bob = key("bob", &["viewer"], true).await;
        let lead = key("lin", &["lead"], false).await;

        let mut children = Vec::new();
        let mut servers = json!({
            "fs": {"command": node_server("filesystem"), "args": [files.display().to_string()]},
            "lab": {
                "command": root.join("venv/bin/python").display().to_string(),
                "args": [here().join("lab_server.py").display().to_string()],
                "honours": ["max_rows"],
                "timeout_ms": 20000,
            },
            "memory": {"command": node_server("memory"), "env": {"MEMORY_FILE_PATH": dir.path().join("memory.jsonl").display().to_string()}},
        });
        // Over Streamable HTTP; its `echo` clashes with the lab's.
        let (child, url) = everything_over_http().await;
        children.push(child);
        servers["everything"] = json!({"url": url, "headers": {"X-Gateway": "ward"}});
        merge(&mut servers["lab"], &setup.lab);
        merge(&mut servers, &setup.more);
        let mut ward = json!({
            "data": data.display().to_string(),
            "agent": {"id": AGENT, "version": "1.0.0"},
            "identity": {"api_key_env": "WARD_TEST_UNUSED"},
        });
        merge(&mut ward, &setup.ward);
        let text = json!({"mcpServers": servers, "ward": ward}).to_string();
        let gconfig = GatewayConfig::parse(&text, dir.path(), &|_| None).unwrap();
        let gateway = Arc::new(Gateway::start(engine.clone(), gconfig, None).await.unwrap());

        let mut stops = Vec::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        let g = Arc::clone(&gateway);
        tokio::spawn(async move {
            g.serve_http(listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        let app = node.app.clone();
        tokio::spawn(async move {
            ward_server::serve(listener, app, ward_server::ServerConfig::default(), async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Lab {
            dir,
            files,
            gateway,
            engine,
            url,
            api,
            operator,
            alice,
            bob,
            lead,
            http: reqwest::Client::new(),
            _node: node,
            _children: children,
            _stops: stops,
        }
    }

    /// Audit entries of tenant `acme` matching `query` (`kind=execution`).
    pub(crate) async fn audit(&self, query: &str) -> Vec<Value> {
        let r = self
            .http
            .get(format!("{}/v1/audit/query?tenant=acme&{query}", self.api))
            .bearer_auth(&self.operator)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        body["logs"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|l| {
                l["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["entry"].clone())
            })
            .collect()
    }

    /// Votes on an approval through the gate's API.
    pub(crate) async fn vote(&self, key: &str, id: &str, verdict: &str) -> u16 {
        self.http
            .post(format!("{}/v1/approvals/{id}/{verdict}", self.api))
            .bearer_auth(key)
            .json(&json!({"comment": "checked"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    pub(crate) fn creds(key: &str) -> Credentials {
        Credentials {
            bearer: Some(key.to_owned()),
            on_behalf_of: None,
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let g = Arc::clone(&self.gateway);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move { g.shutdown().await });
        }
    }
}

/// A client that counts `notifications/tools/list_changed`.
#[derive(Debug, Clone)]
pub(crate) struct Watch {
    pub(crate) version: ProtocolVersion,
    pub(crate) changed: Arc<AtomicUsize>,
}

impl ClientHandler for Watch {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("ward-test-client", "1.0.0"),
        )
        .with_protocol_version(self.version.clone())
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.changed.fetch_add(1, Ordering::SeqCst);
    }
}

pub(crate) type Client = RunningService<RoleClient, Watch>;

fn watch(version: ProtocolVersion) -> Watch {
    Watch {
        version,
        changed: Arc::new(AtomicUsize::new(0)),
    }
}

/// An rmcp client over Streamable HTTP with a bearer token.
pub(crate) async fn http_client(url: &str, key: &str, version: ProtocolVersion) -> Client {
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(key);
    let transport = StreamableHttpClientTransport::from_config(config);
    watch(version).serve(transport).await.unwrap()
}

/// An rmcp client over a byte pipe served by the gateway's stdio code,
/// with the identity `key` (the gateway's config, not the client, says who).
pub(crate) async fn stdio_client(lab: &Lab, key: &str, version: ProtocolVersion) -> Client {
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    let (read, write) = tokio::io::split(theirs);
    let g = Arc::clone(&lab.gateway);
    let creds = Lab::creds(key);
    tokio::spawn(async move {
        let _ = g.serve_io(creds, read, write).await;
    });
    watch(version).serve(tokio::io::split(ours)).await.unwrap()
}

pub(crate) async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    params.arguments = args.as_object().cloned();
    client.peer().call_tool(params).await.unwrap()
}

pub(crate) fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn decision(result: &CallToolResult) -> Value {
    result
        .meta
        .as_ref()
        .and_then(|m| m.0.get("ward.dev/decision").cloned())
        .unwrap_or(Value::Null)
}

/// The audit entry of the decision a result names, asserting that there is
/// exactly one: every deny, the gateway's own included, has a receipt.
pub(crate) async fn logged(lab: &Lab, result: &CallToolResult) -> Value {
    let id = decision(result)["decision_id"].as_str().unwrap().to_owned();
    let mut found: Vec<Value> = lab
        .audit("kind=decision")
        .await
        .into_iter()
        .filter(|e| e["decision_id"] == id.as_str())
        .collect();
    assert_eq!(found.len(), 1, "decision {id} in the log: {found:?}");
    found.remove(0)
}

pub(crate) fn codes(result: &CallToolResult) -> Vec<String> {
    decision(result)["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|x| x["code"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) async fn names(client: &Client) -> BTreeSet<String> {
    client
        .peer()
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect()
}

/// Polls `check` until it holds (a bounded wait, never a timing assertion).
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}
