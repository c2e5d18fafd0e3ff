//! `ward serve` as a process: the embedded default with no flags, a full
//! disk, and two nodes sharing one PostgreSQL database.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]

#[path = "../../ward-engine/tests/pg/mod.rs"]
mod pg;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const SUPPORT: &str = include_str!("../../../examples/bundles/support/bundle.yaml");

/// A running `ward serve`, killed when dropped.
struct Served {
    child: Child,
    base: String,
    log: Arc<Mutex<String>>,
}

impl Served {
    /// Starts `command` (a `ward serve ... --listen 127.0.0.1:0`) and waits
    /// for its "listening on" line.
    fn start(mut command: Command) -> Served {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("ward: listening on ") {
                    let _ = tx.send(addr.to_owned());
                }
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("ward serve did not start:\n{}", log.lock().unwrap()));
        Served { child, base, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits for a clean exit.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let status = self.child.wait().unwrap();
        // The stderr reader sees EOF once the process is gone.
        std::thread::sleep(Duration::from_millis(100));
        assert!(status.success(), "{status}: {}", self.log());
        self.log()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ward() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ward"))
}

/// A blocking HTTP client for the tests.
struct Http {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Http {
    fn new() -> Http {
        Http {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: reqwest::Client::new(),
        }
    }

    fn send(
        &self,
        method: &str,
        url: String,
        key: &str,
        body: Option<&Value>,
    ) -> (u16, Value, bool) {
        self.rt.block_on(async {
            let mut req = match method {
                "GET" => self.client.get(url),
                "DELETE" => self.client.delete(url),
                _ => self.client.post(url),
            };
            if !key.is_empty() {
                req = req.bearer_auth(key);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let replayed = resp.headers().contains_key("ward-replayed");
            let body = resp.json().await.unwrap_or(Value::Null);
            (status, body, replayed)
        })
    }

    fn post(&self, node: &Served, path: &str, key: &str, body: &Value) -> Value {
        let (status, body, _) = self.send("POST", format!("{}{path}", node.base), key, Some(body));
        assert!((200..300).contains(&status), "POST {path}: {status} {body}");
        body
    }

    fn decide(&self, node: &Served, key: &str, body: &Value) -> Value {
        self.post(node, "/v1/decide", key, body)
    }
}

fn call(tool: &str, args: Value) -> Value {
    json!({
        "intervention": "pre_tool_call",
        "actor": {"principal": {"id": "svc-support", "kind": "service"}, "tenant": "acme", "session": "s-1", "agent": {"id": "support-bot", "version": "1.0.0"}},
        "tool": tool, "args": args, "context": {"order_age_days": 3},
    })
}

fn code(d: &Value) -> &str {
    d["reasons"][0]["code"].as_str().unwrap_or_default()
}

/// Registers the support agent and returns (agent key, finance key).
fn provision(http: &Http, node: &Served, operator: &str) -> (String, String) {
    http.post(node, "/v1/agents", operator, &json!({
        "id": "support-bot", "version": "1.0.0",
        "model": {"provider": "anthropic", "id": "claude-sonnet-4-5", "version": "2025-09-29"},
        "prompt_digest": format!("sha256:{}", "ab".repeat(32)), "owner": "t@example.com", "environment": "test",
    }));
    let key = |spec: Value| {
        http.post(node, "/v1/api-keys", operator, &spec)["key"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    (
        key(
            json!({"tenant": "acme", "principal": "svc-support", "kind": "service", "roles": ["support", "premium"], "agent": "support-bot"}),
        ),
        key(json!({"tenant": "acme", "principal": "fin-1", "kind": "user", "roles": ["finance"]})),
    )
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `ward audit check` of tenant `acme` in `data/audit.db`, which must pass;
/// its report.
fn audit_check(data: &Path) -> String {
    let check = ward()
        .args(["audit", "check", "--db"])
        .arg(data.join("audit.db"))
        .args(["--tenant", "acme"])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    String::from_utf8_lossy(&check.stdout).into_owned()
}

#[test]
fn serve_with_no_flags_runs_on_the_embedded_default_and_restarts_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut c = ward();
        c.args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(dir.path());
        Served::start(c)
    };
    let http = Http::new();
    let node = start();
    let data = dir.path().join("ward-data");
    assert_eq!(mode(&data.join("admin.key")), 0o600);
    assert_eq!(mode(&data.join("log.key")), 0o600);
    assert!(data.join("state.db").is_file() && data.join("audit.db").is_file());
    let (status, health, _) = http.send("GET", format!("{}/healthz", node.base), "", None);
    assert_eq!(
        (status, health["bundle"]["name"].as_str()),
        (200, Some("support")),
        "{health}"
    );
    let operator = std::fs::read_to_string(data.join("admin.key"))
        .unwrap()
        .trim()
        .to_owned();
    let (agent, _) = provision(&http, &node, &operator);
    let first = http.decide(
        &node,
        &agent,
        &call("approve_refund", json!({"order_id": "8812", "amount": 120})),
    );
    assert_eq!(first["outcome"], "allow", "{first}");
    let log = node.stop();
    assert!(
        log.contains("first start: operator API key written to"),
        "{log}"
    );
    assert!(log.contains("ward: stopped"), "{log}");

    // A restart keeps the keys, the registry, the bundle and the log.
    let node = start();
    assert!(!node.log().contains("first start"), "{}", node.log());
    assert_eq!(
        std::fs::read_to_string(data.join("admin.key"))
            .unwrap()
            .trim(),
        operator
    );
    let again = http.decide(
        &node,
        &agent,
        &call("approve_refund", json!({"order_id": "8813", "amount": 120})),
    );
    assert_eq!(again["outcome"], "allow", "{again}");
    assert!(
        again["receipt"].as_str().unwrap().contains("\nindex 1\n"),
        "{again}"
    );
    node.stop();
    let check = audit_check(&data);
    assert!(check.contains("holds 2 entries"), "{check}");
    // The refund after the restart is indexed by amount, like the first.
    let query = ward()
        .args(["audit", "query", "--db"])
        .arg(data.join("audit.db"))
        .args(["--tenant", "acme", "--arg", "amount>=100"])
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&query.stdout);
    assert!(answer.contains(": 2 entries, bounded by"), "{answer}");
}

#[test]
fn bad_flags_are_usage_errors_that_say_what_is_wrong() {
    let o = ward()
        .args(["serve", "--store", "mysql://x"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("postgres://"));
    let o = ward()
        .args(["serve", "--bundle", "/nonexistent/bundle.yaml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/bundle.yaml"));
    let o = ward().args(["serve", "--help"]).output().unwrap();
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    for flag in ["--data", "--bundle", "--store", "--listen", "admin.key"] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
}

/// The audit database hits a file size limit (RLIMIT_FSIZE, the way a full
/// disk looks to SQLite: writes fail with EFBIG). A decision whose entry
/// cannot be written is a deny without a receipt, never a permit. Once the
/// limit is lifted the gate decides normally again, and the log holds
/// exactly the entries it acknowledged.
#[test]
fn a_full_disk_denies_without_receipts_and_the_gate_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut c = Command::new("bash");
    // SIGXFSZ ignored, so a write past the limit fails instead of killing
    // the process; only the soft limit is set, so it can be lifted later.
    c.arg("-c").arg(format!(
        "trap '' XFSZ; ulimit -S -f 2048; exec {} serve --listen 127.0.0.1:0 --data {}",
        env!("CARGO_BIN_EXE_ward"),
        data.display()
    ));
    let node = Served::start(c);
    let http = Http::new();
    let operator = std::fs::read_to_string(data.join("admin.key"))
        .unwrap()
        .trim()
        .to_owned();
    let (agent, _) = provision(&http, &node, &operator);
    let mut allowed = 0;
    let mut denied = 0;
    for i in 0..20_000 {
        let d = http.decide(
            &node,
            &agent,
            &call(
                "approve_refund",
                json!({"order_id": format!("{i}"), "amount": 10}),
            ),
        );
        match d["outcome"].as_str() {
            Some("allow") => {
                // Once the file is at its limit some batches still fit (the
                // WAL is reused after a checkpoint), and those are permits
                // with durable receipts; what may never happen is a permit
                // without one.
                assert!(d["receipt"].is_string(), "a permit without a receipt: {d}");
                allowed += 1;
            }
            Some("deny") => {
                assert_eq!(code(&d), "internal_error", "{d}");
                assert!(d["receipt"].is_null(), "{d}");
                denied += 1;
                if denied == 50 {
                    break;
                }
            }
            _ => panic!("{d}"),
        }
    }
    assert!(
        allowed > 0 && denied == 50,
        "allowed {allowed}, denied {denied}"
    );
    let lifted = Command::new("prlimit")
        .args(["--pid", &node.child.id().to_string(), "--fsize=unlimited"])
        .status()
        .unwrap();
    assert!(lifted.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = http.decide(
            &node,
            &agent,
            &call("approve_refund", json!({"order_id": "1", "amount": 10})),
        );
        if d["outcome"] == "allow" {
            assert!(d["receipt"].is_string());
            break;
        }
        assert!(Instant::now() < deadline, "the gate never recovered: {d}");
        std::thread::sleep(Duration::from_millis(50));
    }
    node.stop();
    let report = audit_check(&data);
    assert!(
        report.contains(&format!("holds {} entries", allowed + 1)),
        "{report}"
    );
}

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

/// Two `ward serve` processes on one PostgreSQL database, each with its own
/// data directory (and so its own log key and log shard).
#[test]
fn two_serve_nodes_share_one_postgres() {
    let db = pg::TempDb::new("ward_serve");
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle.yaml");
    std::fs::write(&bundle, support_with_limit()).unwrap();
    let url = format!("postgres://postgres@127.0.0.1:5432/{}", db.name());
    let node = |name: &str| {
        let mut c = ward();
        c.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
            &url,
            "--log-name",
        ])
        .arg(format!("ward.test/{name}"))
        .arg("--data")
        .arg(dir.path().join(name))
        .arg("--bundle")
        .arg(&bundle);
        Served::start(c)
    };
    let a = node("a");
    let b = node("b");
    // The operator key is made once, by the first node, for the cluster.
    assert!(dir.path().join("a/admin.key").is_file());
    assert!(!dir.path().join("b/admin.key").exists());
    let operator = std::fs::read_to_string(dir.path().join("a/admin.key"))
        .unwrap()
        .trim()
        .to_owned();
    let http = Http::new();
    let (agent, finance) = provision(&http, &a, &operator);
    // Node B learns the keys and the agent at its next refresh.
    let lookup = call("lookup_order", json!({"order_id": "8812"}));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, d, _) = http.send(
            "POST",
            format!("{}/v1/decide", b.base),
            &agent,
            Some(&lookup),
        );
        if status == 200 && d["outcome"] == "allow" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B never learned the agent: {status} {d}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // A kill switch set on A stops calls on B within a second.
    http.post(
        &a,
        "/v1/switches",
        &operator,
        &json!({"kind": "kill", "scope": "tenant:acme", "reason": "incident 42"}),
    );
    let set = Instant::now();
    loop {
        let d = http.decide(&b, &agent, &lookup);
        let waited = set.elapsed();
        if d["outcome"] == "deny" {
            assert_eq!(code(&d), "kill_switch", "{d}");
            break;
        }
        assert!(
            waited <= Duration::from_secs(1),
            "B still allows {waited:?} after the switch was set on A"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, _, _) = http.send(
        "DELETE",
        format!("{}/v1/switches/kill/tenant:acme", b.base),
        &operator,
        None,
    );
    assert_eq!(status, 204);
    let deadline = Instant::now() + Duration::from_secs(10);
    while http.decide(&a, &agent, &lookup)["outcome"] != "allow" {
        assert!(Instant::now() < deadline, "A never saw the switch cleared");
        std::thread::sleep(Duration::from_millis(20));
    }

    // An approval opened on A is granted on B, and the retry passes on A.
    let big = call("approve_refund", json!({"order_id": "8812", "amount": 750}));
    let held = http.decide(&a, &agent, &big);
    assert_eq!(held["outcome"], "require_approval", "{held}");
    let id = held["approval"]["id"].as_str().unwrap().to_owned();
    let granted = http.post(
        &b,
        &format!("/v1/approvals/{id}/approve"),
        &finance,
        &json!({}),
    );
    assert_eq!(granted["status"], "approved");
    let mut retry = big.clone();
    retry["approval_id"] = json!(id);
    let allowed = http.decide(&a, &agent, &retry);
    assert_eq!(allowed["outcome"], "allow", "{allowed}");

    // The rate limit is shared: that refund took one of five, so four more
    // pass, alternating nodes, and the rest are denied on either.
    let mut outcomes = Vec::new();
    for i in 0..8 {
        let node = if i % 2 == 0 { &a } else { &b };
        let d = http.decide(
            node,
            &agent,
            &call(
                "approve_refund",
                json!({"order_id": format!("{i}"), "amount": 120}),
            ),
        );
        outcomes.push(d["outcome"].as_str().unwrap().to_owned());
        if d["outcome"] == "deny" {
            assert_eq!(code(&d), "rate_limited", "{d}");
        }
    }
    assert_eq!(
        outcomes.iter().filter(|o| *o == "allow").count(),
        4,
        "{outcomes:?}"
    );

    // One idempotency key, one decision, whichever node answers.
    let mut keyed = lookup.clone();
    keyed["idempotency_key"] = json!("idem-1");
    let (_, first, replayed) = http.send(
        "POST",
        format!("{}/v1/decide", a.base),
        &agent,
        Some(&keyed),
    );
    assert!(!replayed);
    let (_, second, replayed) = http.send(
        "POST",
        format!("{}/v1/decide", b.base),
        &agent,
        Some(&keyed),
    );
    assert!(replayed);
    assert_eq!(first, second);
    a.stop();
    b.stop();
}

/// The README's "Running the gate" snippet, run with bash and curl against
/// a real `ward serve` (on a free port instead of 8480).
#[test]
fn the_readme_serve_snippet_works() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme.split("## Running the gate").nth(1).unwrap();
    let snippet = section
        .split("```sh\n")
        .nth(2)
        .and_then(|rest| rest.split("```").next())
        .expect("the section's second sh block");
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples"),
        dir.path().join("examples"),
    )
    .unwrap();
    let mut c = ward();
    c.args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path());
    let node = Served::start(c);
    let addr = node.base.trim_start_matches("http://").to_owned();
    let script = snippet.replace("localhost:8480", &addr);
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#""outcome":"allow""#), "{stdout}");
    assert!(stdout.contains(r#"ward_decisions_total{mode="enforce",outcome="allow",reason="rule",tenant="acme",tool="approve_refund"} 1"#), "{stdout}");
}
