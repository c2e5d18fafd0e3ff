//! The protocol revisions the gateway speaks: 2025-06-18 and 2025-11-25,
//! with `initialize` over stdio and `Mcp-Session-Id` over HTTP; any other
//! revision a client asks for is answered with the newest of the two.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::ProtocolVersion;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::fixture::{http_client, stdio_client, Lab, Setup};
use crate::listing::{initialize, messages};

/// A raw JSON-RPC line exchange with the gateway's stdio code.
pub(crate) struct Raw {
    write: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    read: tokio::io::Lines<BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>>,
}

impl Raw {
    pub(crate) fn open(lab: &Lab, key: &str) -> Raw {
        let (ours, theirs) = tokio::io::duplex(1 << 22);
        let (read, write) = tokio::io::split(theirs);
        let g = Arc::clone(&lab.gateway);
        let creds = Lab::creds(key);
        tokio::spawn(async move {
            let _ = g.serve_io(creds, read, write).await;
        });
        let (read, write) = tokio::io::split(ours);
        Raw {
            write,
            read: BufReader::new(read).lines(),
        }
    }

    pub(crate) async fn send(&mut self, line: &str) {
        self.write.write_all(line.as_bytes()).await.unwrap();
        self.write.write_all(b"\n").await.unwrap();
        self.write.flush().await.unwrap();
    }

    /// The next message, or `None` if none comes within a few seconds.
    pub(crate) async fn next(&mut self) -> Option<Value> {
        let line = tokio::time::timeout(Duration::from_secs(5), self.read.next_line())
            .await
            .ok()?
            .ok()??;
        Some(serde_json::from_str(&line).unwrap())
    }

    /// The answer to request `id` (skipping notifications).
    pub(crate) async fn answer(&mut self, id: i64) -> Value {
        loop {
            let m = self
                .next()
                .await
                .unwrap_or_else(|| panic!("no answer to {id}"));
            if m["id"] == id {
                return m;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn initialize_negotiates_the_two_supported_revisions() {
    let lab = Lab::start(Setup::default()).await;
    assert_eq!(
        ward_server::mcp::SUPPORTED_PROTOCOL_VERSIONS,
        ["2025-06-18", "2025-11-25"]
    );
    for (asked, answered) in [
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("2025-03-26", "2025-11-25"),
        ("2024-11-05", "2025-11-25"),
        ("2026-07-28", "2025-11-25"),
        ("1999-01-01", "2025-11-25"),
    ] {
        let mut raw = Raw::open(&lab, &lab.bob);
        raw.send(&initialize(asked).to_string()).await;
        let m = raw.answer(1).await;
        assert_eq!(m["result"]["protocolVersion"], answered, "{asked}: {m}");
        assert_eq!(m["result"]["capabilities"]["tools"]["listChanged"], true);
        assert_eq!(m["result"]["serverInfo"]["name"], "ward-mcp-gateway");
    }
    // The stateless revision's discovery probe is refused, naming what is spoken.
    let mut raw = Raw::open(&lab, &lab.bob);
    let discover = json!({"jsonrpc": "2.0", "id": 9, "method": "server/discover", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}}}});
    raw.send(&discover.to_string()).await;
    let m = raw.answer(9).await;
    assert!(m["error"].is_object(), "{m}");
    assert_eq!(
        m["error"]["data"]["supported"],
        json!(["2025-06-18", "2025-11-25"]),
        "{m}"
    );

    // rmcp's client, both revisions, both transports.
    for v in [ProtocolVersion::V_2025_06_18, ProtocolVersion::V_2025_11_25] {
        let c = stdio_client(&lab, &lab.bob, v.clone()).await;
        assert_eq!(c.peer().peer_info().unwrap().protocol_version, v);
        let c = http_client(&lab.url, &lab.bob, v.clone()).await;
        assert_eq!(c.peer().peer_info().unwrap().protocol_version, v);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn streamable_http_sessions_carry_mcp_session_id() {
    let lab = Lab::start(Setup::default()).await;
    for version in ["2025-06-18", "2025-11-25"] {
        let r = lab
            .http
            .post(&lab.url)
            .bearer_auth(&lab.bob)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(initialize(version).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
        assert!(!session.is_empty());
        let m = messages(r).await;
        assert_eq!(m[0]["result"]["protocolVersion"], version);
        let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
        let r = lab
            .http
            .post(&lab.url)
            .bearer_auth(&lab.bob)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", version)
            .body(list.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let m = messages(r).await;
        assert!(
            m[0]["result"]["tools"].as_array().unwrap().len() > 5,
            "{m:?}"
        );
    }
}
