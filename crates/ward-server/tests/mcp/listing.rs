//! `tools/list`: filtered per identity, paged, not reusable by anyone else.

use std::collections::BTreeSet;

use rmcp::model::{PaginatedRequestParams, ProtocolVersion};
use serde_json::{json, Value};

use crate::fixture::{self, http_client, names, stdio_client, Lab, Setup};

const READS: [&str; 10] = [
    "read_file",
    "read_text_file",
    "read_media_file",
    "read_multiple_files",
    "list_directory",
    "list_directory_with_sizes",
    "directory_tree",
    "search_files",
    "get_file_info",
    "list_allowed_directories",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_identity_sees_only_the_tools_the_policy_could_permit_it() {
    let lab = Lab::start(Setup::default()).await;
    let all: BTreeSet<String> = lab.gateway.tools().into_iter().map(|t| t.0).collect();
    for clash in ["lab__echo", "everything__echo"] {
        assert!(
            all.contains(clash),
            "a name two servers share is prefixed: {all:?}"
        );
    }
    assert!(!all.contains("echo"));
    let alice = http_client(&lab.url, &lab.alice, ProtocolVersion::V_2025_11_25).await;
    let bob = http_client(&lab.url, &lab.bob, ProtocolVersion::V_2025_11_25).await;
    let seen_by_alice = names(&alice).await;
    let seen_by_bob = names(&bob).await;
    let mut readers: BTreeSet<String> = READS.iter().map(|s| (*s).to_owned()).collect();
    readers.extend(
        [
            "lab__echo",
            "everything__echo",
            "weather",
            "customer",
            "big",
            "rows",
            "get-sum",
            "read_graph",
        ]
        .map(str::to_owned),
    );
    assert_eq!(seen_by_bob, readers, "a viewer sees the reads only");
    let mut devs = readers.clone();
    devs.extend(
        [
            "write_file",
            "edit_file",
            "create_directory",
            "move_file",
            "crash",
            "hang",
            "rug_pull",
            "create_entities",
        ]
        .map(str::to_owned),
    );
    assert_eq!(seen_by_alice, devs, "a developer sees the writes too");
    for hidden in ["get-env", "delete_entities", "get-tiny-image"] {
        assert!(all.contains(hidden), "`{hidden}` is offered upstream");
        assert!(
            !seen_by_alice.contains(hidden),
            "`{hidden}` is hidden from everyone"
        );
    }
    // The same over the stdio channel, where the config says who the client is.
    let bob_stdio = stdio_client(&lab, &lab.bob, ProtocolVersion::V_2025_06_18).await;
    assert_eq!(names(&bob_stdio).await, readers);
    // Annotations are the server's.
    let tools = alice.peer().list_all_tools().await.unwrap();
    let write = tools.iter().find(|t| t.name == "write_file").unwrap();
    assert_eq!(
        write.annotations.as_ref().unwrap().read_only_hint,
        Some(false)
    );
    // Each list is one receipted `list_tools` decision.
    let listed = lab.audit("kind=decision").await;
    assert!(
        listed.iter().any(|e| e.to_string().contains("list_tools")),
        "{listed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lists_are_paged_and_a_stale_or_forged_cursor_is_refused() {
    let lab = Lab::start(Setup {
        ward: json!({"page_size": 4}),
        ..Setup::default()
    })
    .await;
    let alice = http_client(&lab.url, &lab.alice, ProtocolVersion::V_2025_11_25).await;
    let mut cursor = None;
    let mut pages = 0;
    let mut seen = BTreeSet::new();
    loop {
        let page = alice
            .peer()
            .list_tools(Some(
                PaginatedRequestParams::default().with_cursor(cursor.clone()),
            ))
            .await
            .unwrap();
        assert!(page.tools.len() <= 4);
        pages += 1;
        for t in page.tools {
            assert!(seen.insert(t.name.to_string()), "no tool twice");
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert!(pages > 3, "{pages} pages");
    assert_eq!(seen, names(&alice).await);
    for bad in ["nonsense", "w1.0.0000.0", "w1.999.abcd.4"] {
        let err = alice
            .peer()
            .list_tools(Some(
                PaginatedRequestParams::default().with_cursor(Some(bad.into())),
            ))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("cursor") || err.to_string().contains("-32602"),
            "{err}"
        );
    }
}

async fn post(
    lab: &Lab,
    key: Option<&str>,
    session: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut req = lab
        .http
        .post(&lab.url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string());
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(s) = session {
        req = req.header("mcp-session-id", s);
    }
    req.send().await.unwrap()
}

/// The JSON-RPC messages of a response, JSON or SSE.
pub(crate) async fn messages(r: reqwest::Response) -> Vec<Value> {
    let sse = r
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/event-stream"));
    let text = r.text().await.unwrap();
    if !sse {
        return serde_json::from_str(&text)
            .map(|v| vec![v])
            .unwrap_or_default();
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}

pub(crate) fn initialize(version: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_and_its_list_belong_to_the_identity_that_opened_it() {
    let lab = Lab::start(Setup::default()).await;
    // No token, a bad token: 401 with a Bearer challenge, before anything else.
    let r = post(&lab, None, None, &initialize("2025-11-25")).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let r = post(&lab, Some("wk_nope_nope"), None, &initialize("2025-11-25")).await;
    assert_eq!(r.status(), 401);
    // An operator key acts for no tenant and is no MCP client.
    let r = post(&lab, Some(&lab.operator), None, &initialize("2025-11-25")).await;
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let _ = messages(r).await;
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let r = post(&lab, Some(&lab.operator), Some(&session), &list).await;
    let m = messages(r).await;
    assert!(
        m[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("operator key"),
        "{m:?}"
    );

    let r = post(&lab, Some(&lab.alice), None, &initialize("2025-11-25")).await;
    assert_eq!(r.status(), 200);
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let _ = messages(r).await;
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(
        post(&lab, Some(&lab.alice), Some(&session), &note)
            .await
            .status(),
        202
    );
    let r = post(&lab, Some(&lab.alice), Some(&session), &list).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store, private");
    assert!(r.headers()["vary"]
        .to_str()
        .unwrap()
        .contains("Authorization"));
    let m = messages(r).await;
    let tools = m[0]["result"]["tools"].as_array().unwrap();
    assert!(tools.iter().any(|t| t["name"] == "write_file"));
    assert_eq!(m[0]["result"]["cacheScope"], "private");
    // Bob holding Alice's session id gets nothing of hers.
    let r = post(&lab, Some(&lab.bob), Some(&session), &list).await;
    assert_eq!(r.status(), 403);
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "write_file", "arguments": {"path": "/x/workspace/y", "content": "z"}}});
    assert_eq!(
        post(&lab, Some(&lab.bob), Some(&session), &call)
            .await
            .status(),
        403
    );
    // A session that was closed is gone for its owner too.
    let r = lab
        .http
        .delete(&lab.url)
        .bearer_auth(&lab.alice)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let r = post(&lab, Some(&lab.alice), Some(&session), &list).await;
    assert_eq!(r.status(), 404);
    let _ = fixture::peers();
}
