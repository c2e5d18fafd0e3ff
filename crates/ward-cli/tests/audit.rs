//! `ward keys` and `ward audit` on a real SQLite audit log written by the
//! real group-commit writer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use ward_audit::{AppendRequest, SqliteStore, Timestamp, Writer, WriterConfig};

fn ward(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Decides refunds of the given amounts with the support example and logs them.
fn write_log(dir: &Path) -> (String, String) {
    let key_path = dir.join("log.key");
    let o = ward(&[
        "keys",
        "generate",
        "--name",
        "ward.test/node-1",
        "--out",
        key_path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let verifier = text(&o.stdout).trim().to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bundle =
        std::fs::read_to_string(root.join("examples/bundles/support/bundle.yaml")).unwrap();
    let compiled = ward_policy::load(&[("bundle.yaml", &bundle)])
        .unwrap()
        .compiled;
    let template = std::fs::read(root.join("examples/requests/refund-small.json")).unwrap();

    let db = dir.join("audit.db");
    let store = SqliteStore::open(&db).unwrap();
    let key = ward_audit::load_key(&key_path).unwrap();
    let clock: ward_audit::Clock = Arc::new(|| Timestamp::from_unix_millis(1_795_309_830_000));
    let config = WriterConfig {
        indexed_args: vec!["amount".into()],
        ..WriterConfig::default()
    };
    let writer = Writer::start(Box::new(store), key, clock, config).unwrap();
    for amount in [120.0, 750.0, 499.0, 2500.0] {
        let mut request = ward_core::Request::from_json(&template).unwrap();
        request
            .args
            .insert("amount".into(), serde_json::json!(amount));
        let facts = ward_policy::Facts {
            now: 1_795_309_830,
            ..Default::default()
        };
        let decision = ward_policy::decide(&compiled, &request, &facts);
        let time = Timestamp::from_unix_millis(1_795_309_830_000);
        writer
            .append_blocking(AppendRequest::decision(&request, &decision, time).unwrap())
            .unwrap();
    }
    writer.shutdown();
    (db.to_str().unwrap().to_owned(), verifier)
}

#[test]
fn query_finds_approved_refunds_above_a_threshold_with_bounding_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = write_log(dir.path());
    let o = ward(&[
        "audit",
        "query",
        "--db",
        &db,
        "--tenant",
        "acme",
        "--tool",
        "approve_refund",
        "--outcome",
        "require_approval",
        "--arg",
        "amount>=500",
        "--from",
        "2026-07-01T00:00:00Z",
        "--until",
        "2027-01-01T00:00:00Z",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains(": 2 entries, bounded by checkpoints at sizes"),
        "{out}"
    );
    assert!(out.contains("refund-over-500"), "{out}");
    assert_eq!(
        out.lines().filter(|l| !l.starts_with('#')).count(),
        2,
        "{out}"
    );

    let none = ward(&[
        "audit",
        "query",
        "--db",
        &db,
        "--tenant",
        "acme",
        "--outcome",
        "deny",
    ]);
    assert!(text(&none.stdout).contains("no entries match"));
}

#[test]
fn export_is_verifiable_and_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    let (db, verifier) = write_log(dir.path());
    let out_dir = dir.path().join("export");
    let o = ward(&[
        "audit",
        "export",
        "--db",
        &db,
        "--tenant",
        "acme",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let log_dir = text(&o.stdout)
        .split(" -> ")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();
    let key: ward_audit::VerifierKey = verifier.parse().unwrap();
    let report = ward_audit::check_export(Path::new(&log_dir), &key).unwrap();
    assert_eq!(report.size, 4);

    let c = ward(&["audit", "check", "--db", &db, "--tenant", "acme"]);
    assert!(c.status.success(), "{}", text(&c.stderr));
    assert!(text(&c.stdout).contains("holds 4 entries"));
}

#[test]
fn a_missing_or_corrupt_database_is_reported_not_emptied() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.db");
    let o = ward(&[
        "audit",
        "check",
        "--db",
        missing.to_str().unwrap(),
        "--tenant",
        "acme",
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(!missing.exists(), "checking must not create a database");
    let corrupt = dir.path().join("corrupt.db");
    std::fs::write(&corrupt, b"this is not a database").unwrap();
    let o = ward(&[
        "audit",
        "query",
        "--db",
        corrupt.to_str().unwrap(),
        "--tenant",
        "acme",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("corrupt.db"),
        "{}",
        text(&o.stderr)
    );
}
