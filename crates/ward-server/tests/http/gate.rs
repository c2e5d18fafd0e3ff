//! The fixture: a real node served on a loopback port, and a client.

use serde_json::{json, Value};
use ward_server::node::{self, NodeConfig};
use ward_server::ServerConfig;

pub(crate) const SUPPORT: &str = include_str!("../../../../examples/bundles/support/bundle.yaml");

pub(crate) struct Gate {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) operator: String,
    pub(crate) agent: String,
    pub(crate) finance: String,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) app: ward_server::App,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Value,
}

impl Gate {
    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self.http.post(&url),
        };
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub(crate) async fn post(&self, path: &str, key: &str, body: &Value) -> Reply {
        self.send(
            "POST",
            path,
            Some(key),
            Some(serde_json::to_vec(body).unwrap()),
        )
        .await
    }

    pub(crate) async fn get(&self, path: &str, key: &str) -> Reply {
        self.send("GET", path, Some(key), None).await
    }

    pub(crate) async fn decide(&self, body: &Value) -> Value {
        let r = self.post("/v1/decide", &self.agent, body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }
}

pub(crate) fn actor() -> Value {
    json!({"principal": {"id": "svc-support", "kind": "service"}, "tenant": "acme", "session": "s-1", "agent": {"id": "support-bot", "version": "1.0.0"}})
}

pub(crate) fn call(tool: &str, args: Value) -> Value {
    json!({"intervention": "pre_tool_call", "actor": actor(), "tool": tool, "args": args, "context": {"order_age_days": 3}})
}

pub(crate) fn codes(d: &Value) -> Vec<String> {
    d["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) async fn gate_with(
    config: NodeConfig,
    server: ServerConfig,
    dir: tempfile::TempDir,
) -> Gate {
    let opened = tokio::task::spawn_blocking(move || node::open(config))
        .await
        .unwrap()
        .unwrap();
    let node = opened.start().await.unwrap();
    let operator = node
        .new_admin_key
        .clone()
        .expect("first start makes an operator key");
    let on_disk = std::fs::read_to_string(&node.admin_key_path).unwrap();
    assert_eq!(on_disk.trim(), operator);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = node.app.clone();
    tokio::spawn(async move {
        let _node = node;
        ward_server::serve(listener, _node.app.clone(), server, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    let mut gate = Gate {
        base,
        http: reqwest::Client::new(),
        operator,
        agent: String::new(),
        finance: String::new(),
        dir,
        app,
        _stop: stop,
    };
    let r = gate
        .post("/v1/agents", &gate.operator, &json!({
            "id": "support-bot", "version": "1.0.0",
            "model": {"provider": "anthropic", "id": "claude-sonnet-4-5", "version": "2025-09-29"},
            "prompt_digest": format!("sha256:{}", "ab".repeat(32)), "owner": "t@example.com", "environment": "test",
        }))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let key = |spec: Value| {
        let gate = &gate;
        async move {
            let r = gate.post("/v1/api-keys", &gate.operator, &spec).await;
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["key"].as_str().unwrap().to_owned()
        }
    };
    let agent = key(json!({"tenant": "acme", "principal": "svc-support", "kind": "service", "roles": ["support", "premium"], "agent": "support-bot"})).await;
    let finance =
        key(json!({"tenant": "acme", "principal": "fin-1", "kind": "user", "roles": ["finance"]}))
            .await;
    gate.agent = agent;
    gate.finance = finance;
    gate
}

pub(crate) async fn gate() -> Gate {
    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig::embedded(dir.path().join("data"));
    config.bundle = Some(vec![("support/bundle.yaml".into(), SUPPORT.into())]);
    gate_with(
        config,
        ServerConfig {
            max_body_bytes: 64 * 1024,
            ..ServerConfig::default()
        },
        dir,
    )
    .await
}
