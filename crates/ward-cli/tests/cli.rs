//! The real `ward` binary, run in temporary directories.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ward(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_example_bundle_passes_its_policy_tests() {
    for bundle in [
        "examples/bundles/support",
        "examples/bundles/devops",
        "examples/bundles/mcp-filesystem",
    ] {
        let o = ward(&["policy", "test", bundle]);
        assert!(
            o.status.success(),
            "{bundle}:\n{}{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(stdout(&o).contains(" passed, 0 failed"), "{}", stdout(&o));
    }
}

#[test]
fn a_failing_policy_test_fails_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("wrong.yaml");
    std::fs::write(
        &suite,
        "base: {intervention: pre_tool_call, actor: {principal: {id: u, kind: user}, tenant: t, session: s, agent: {id: a, version: '1'}}}\n\
         cases:\n  - name: refunds are allowed (they are not)\n    request: {tool: approve_refund, args: {order_id: '1', amount: 9000}}\n    expect: {outcome: allow}\n",
    )
    .unwrap();
    let o = ward(&[
        "policy",
        "test",
        "examples/bundles/support",
        "--tests",
        suite.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("FAILED refunds are allowed"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn check_prints_the_same_decision_bytes_every_time() {
    let args = [
        "check",
        "--bundle",
        "examples/bundles/support",
        "--request",
        "examples/requests/refund-large.json",
        "--now",
        "1795309830",
    ];
    let a = ward(&args);
    let b = ward(&args);
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
    let decision: ward_core::Decision = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(decision.outcome, ward_core::Outcome::RequireApproval);
    let approval = decision.approval.unwrap();
    assert_eq!(approval.approvers, ["role:finance"]);
    assert_eq!(approval.expires_at, "2026-11-22T02:10:30Z");
}

#[test]
fn check_reads_stdin_and_facts() {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args([
            "check",
            "--bundle",
            "examples/bundles/support",
            "--facts",
            "examples/requests/injection-facts.json",
        ])
        .current_dir(root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let request = std::fs::read(root().join("examples/requests/refund-small.json")).unwrap();
    child.stdin.take().unwrap().write_all(&request).unwrap();
    let o = child.wait_with_output().unwrap();
    let decision: ward_core::Decision = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(decision.outcome, ward_core::Outcome::Deny);
    assert_eq!(decision.reasons[0].code, ward_core::ReasonCode::ScanFinding);
}

#[test]
fn malformed_request_is_an_input_error_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"intervention":"pre_tool_call","actor":{"principal":{"id":"u","kind":"robot"},"tenant":"t","session":"s","agent":{"id":"a","version":"1"}},"tool":"x"}"#).unwrap();
    let o = ward(&[
        "check",
        "--bundle",
        "examples/bundles/support",
        "--request",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("actor.principal.kind"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn usage_errors_and_missing_files_have_distinct_exit_codes() {
    assert_eq!(ward(&["check"]).status.code(), Some(2));
    assert_eq!(ward(&["frobnicate"]).status.code(), Some(2));
    let o = ward(&[
        "check",
        "--bundle",
        "no/such/bundle",
        "--request",
        "examples/requests/refund-small.json",
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("no/such/bundle"), "{}", stderr(&o));
    let help = ward(&["policy", "--help"]);
    assert!(help.status.success());
    for sub in [
        "lint", "test", "explain", "keygen", "sign", "verify", "diff",
    ] {
        assert!(stdout(&help).contains(sub), "{sub} missing from --help");
    }
}

#[test]
fn lint_reports_errors_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    let text = std::fs::read_to_string(root().join("examples/bundles/support/bundle.yaml"))
        .unwrap()
        .replace("  - id: email-allowed", "  - id: refund-too-old")
        .replace(
            "match: {tools: [sql_query]}",
            "match: {tools: [sql_querry]}",
        );
    std::fs::write(&path, text).unwrap();
    let o = ward(&["policy", "lint", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("duplicate rule id `refund-too-old`"), "{out}");
    assert!(
        out.contains("`sql_querry` names no tool in the catalog; did you mean `sql_query`?"),
        "{out}"
    );
    assert!(out.contains("bad.yaml:"), "{out}");
}

#[test]
fn explain_lists_every_rule() {
    let o = ward(&[
        "policy",
        "explain",
        "--bundle",
        "examples/bundles/support",
        "--request",
        "examples/requests/refund-small.json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for id in [
        "deny-prompt-injection",
        "refund-too-old",
        "reads-allowed",
        "refund-small-premium",
        "sql-read-only",
    ] {
        assert!(out.contains(id), "{id} missing:\n{out}");
    }
    assert!(out.contains("+ refund-small-premium"), "{out}");
    assert!(
        out.contains("out of scope: tool `approve_refund` is not matched"),
        "{out}"
    );
    assert!(out.contains("outcome: allow"), "{out}");
}

#[test]
fn keygen_sign_verify_and_tamper() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("policy.key");
    let o = ward(&["policy", "keygen", "--out", key.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let public = stdout(&o).trim().to_owned();
    assert!(public.starts_with("ward-ed25519:"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(
        ward(&["policy", "keygen", "--out", key.to_str().unwrap()])
            .status
            .code(),
        Some(3),
        "keygen must not overwrite"
    );

    let bundle = dir.path().join("support.yaml");
    std::fs::copy(root().join("examples/bundles/support/bundle.yaml"), &bundle).unwrap();
    let b = bundle.to_str().unwrap();
    assert!(ward(&["policy", "sign", b, "--key", key.to_str().unwrap()])
        .status
        .success());
    let ok = ward(&["policy", "verify", b, "--key", &public]);
    assert!(ok.status.success(), "{}", stderr(&ok));

    // Any semantic change to the bundle breaks the signature.
    let text = std::fs::read_to_string(&bundle)
        .unwrap()
        .replace("args.amount >= 500", "args.amount >= 5000");
    std::fs::write(&bundle, text).unwrap();
    let bad = ward(&["policy", "verify", b, "--key", &public]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("signature is for bundle"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn diff_names_added_removed_and_changed_rules() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new.yaml");
    let text = std::fs::read_to_string(root().join("examples/bundles/support/bundle.yaml"))
        .unwrap()
        .replace("version: 1.0.0", "version: 1.1.0")
        .replace("args.amount >= 500", "args.amount >= 1000")
        .replace("  - id: sql-read-only", "  - id: sql-capped");
    std::fs::write(&new, text).unwrap();
    let o = ward(&[
        "policy",
        "diff",
        "examples/bundles/support",
        new.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("support 1.0.0 -> support 1.1.0"), "{out}");
    assert!(out.contains("+ rule sql-capped"), "{out}");
    assert!(out.contains("- rule sql-read-only"), "{out}");
    assert!(out.contains("~ rule refund-over-500"), "{out}");
}

#[test]
fn demo_runs_on_the_embedded_bundle_and_is_reproducible() {
    let a = ward(&["demo"]);
    assert!(a.status.success(), "{}", stderr(&a));
    let out = stdout(&a);
    for phrase in [
        "Ward allows it.",
        "Ward denies it.",
        "Ward holds it for approval by role:finance",
        "[REDACTED SSN]",
        "untrusted_flow",
        "max_rows",
    ] {
        assert!(out.contains(phrase), "{phrase} missing:\n{out}");
    }
    assert_eq!(ward(&["demo"]).stdout, a.stdout);
}
