//! The official MCP Python SDK as the client, over Streamable HTTP and over
//! stdio, and the OpenAI Agents SDK snippet of docs/mcp.md.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{json, Value};

use crate::fixture::{python, Lab, Setup};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py")
}

fn read_report(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

async fn over_http(lab: &Lab, key: &str, version: Option<&str>, calls: &[(&str, Value)]) -> Value {
    let out = lab.dir.path().join(format!("report-{}.json", rand_name()));
    let mut cmd = tokio::process::Command::new(python());
    cmd.arg(script())
        .arg("--out")
        .arg(&out)
        .arg("--http")
        .arg(&lab.url)
        .arg("--key")
        .arg(key);
    if let Some(v) = version {
        cmd.arg("--version").arg(v);
    }
    for (name, args) in calls {
        cmd.arg("--call").arg(name).arg(args.to_string());
    }
    let o = cmd.output().await.unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    read_report(&out)
}

fn rand_name() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn call(report: &Value, i: usize) -> &Value {
    &report["calls"][i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_python_sdk_over_http_sees_its_own_tools_and_the_gates_answers() {
    let lab = Lab::start(Setup::default()).await;
    let inside = lab.files.join("workspace/py.txt").display().to_string();
    let outside = lab.files.join("outside/py.txt").display().to_string();
    let alice = over_http(
        &lab,
        &lab.alice,
        None,
        &[
            (
                "write_file",
                json!({"path": inside, "content": "from python"}),
            ),
            ("write_file", json!({"path": outside, "content": "nope"})),
            ("read_text_file", json!({"path": inside})),
        ],
    )
    .await;
    assert_eq!(alice["protocol"], "2025-11-25");
    assert_eq!(alice["server"], "ward-mcp-gateway");
    let tools: Vec<&str> = alice["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tools.contains(&"write_file") && tools.contains(&"move_file"),
        "{tools:?}"
    );
    assert!(!call(&alice, 0)["isError"].as_bool().unwrap(), "{}", alice);
    assert_eq!(std::fs::read_to_string(&inside).unwrap(), "from python");
    let denied = call(&alice, 1);
    assert!(denied["isError"].as_bool().unwrap());
    assert!(
        denied["text"].as_str().unwrap().contains("Ward denied"),
        "{denied}"
    );
    assert_eq!(
        denied["meta"]["ward.dev/decision"]["reasons"][0]["code"],
        "default_deny"
    );
    assert_eq!(call(&alice, 2)["text"], "from python");
    assert!(!std::path::Path::new(&outside).exists());

    let bob = over_http(
        &lab,
        &lab.bob,
        Some("2025-06-18"),
        &[("write_file", json!({"path": inside, "content": "bob"}))],
    )
    .await;
    assert_eq!(
        bob["protocol"], "2025-06-18",
        "the older revision is spoken too"
    );
    let tools: Vec<&str> = bob["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tools.contains(&"read_text_file") && !tools.contains(&"write_file"),
        "{tools:?}"
    );
    assert!(call(&bob, 0)["isError"].as_bool().unwrap());
    assert_eq!(std::fs::read_to_string(&inside).unwrap(), "from python");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_python_sdk_over_stdio_is_the_identity_the_config_names() {
    let lab = Lab::start(Setup::default()).await;
    let out = lab.dir.path().join("stdio-report.json");
    let target = lab.files.join("workspace/stdio.txt").display().to_string();
    let mut child = tokio::process::Command::new(python())
        .arg(script())
        .arg("--out")
        .arg(&out)
        .arg("--stdio")
        .arg("--call")
        .arg("write_file")
        .arg(json!({"path": target, "content": "over stdio"}).to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let to_child = child.stdin.take().unwrap();
    let from_child = child.stdout.take().unwrap();
    // The gateway serves the child's pipes as `ward mcp` serves its own
    // stdin and stdout; the identity is the gateway's to give (here bob's).
    let served = lab
        .gateway
        .serve_io(Lab::creds(&lab.bob), from_child, to_child)
        .await;
    assert!(served.is_ok(), "{served:?}");
    let status = child.wait().await.unwrap();
    assert!(status.success());
    let report = read_report(&out);
    assert_eq!(report["protocol"], "2025-11-25");
    let tools: Vec<&str> = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(!tools.contains(&"write_file"), "bob's list: {tools:?}");
    assert!(report["calls"][0]["isError"].as_bool().unwrap(), "{report}");
    assert!(!std::path::Path::new(&target).exists());
}

/// The Python snippet of docs/mcp.md between `<!-- agents-sdk -->` markers.
fn agents_snippet() -> String {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/mcp.md"),
    )
    .unwrap();
    let start = doc
        .find("<!-- agents-sdk -->")
        .expect("docs/mcp.md marks the Agents SDK snippet");
    let rest = &doc[start..];
    let code = rest.find("```python\n").unwrap() + "```python\n".len();
    let end = rest[code..].find("```").unwrap();
    let block = &rest[code..code + end];
    // The snippet sits in a list item: take off its indentation.
    let indent = block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    block
        .lines()
        .map(|l| l.get(indent..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_openai_agents_sdk_snippet_of_the_docs_runs() {
    let lab = Lab::start(Setup::default()).await;
    let snippet = lab.dir.path().join("agents_snippet.py");
    std::fs::write(&snippet, agents_snippet()).unwrap();
    let o = tokio::process::Command::new(python())
        .arg(&snippet)
        .env("WARD_MCP_URL", &lab.url)
        .env("WARD_MCP_KEY", &lab.bob)
        .env("OPENAI_API_KEY", "unused")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("read_text_file") && !stdout.contains("write_file"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&lab.files.display().to_string()),
        "{stdout}"
    );
}
