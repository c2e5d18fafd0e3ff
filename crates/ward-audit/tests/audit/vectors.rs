//! The conformance corpus of `testdata/receipts/` (written with
//! `ward-verify`), read by ward-audit's own code: two implementations, one
//! corpus. Also reproduces the worked example of `docs/receipt-format.md`
//! byte for byte with the real writer.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ward_audit::{
    check_consistency, check_export, Entry, LogKey, Receipt, SqliteStore, Timestamp, VerifierKey,
    Writer, WriterConfig,
};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/receipts")
}

fn verifier(base: &Path, file: &str) -> VerifierKey {
    std::fs::read_to_string(base.join(file))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn ward_audit_agrees_with_the_conformance_vectors() {
    let base = corpus();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("manifest.json")).unwrap())
            .unwrap();
    let cases = manifest["cases"].as_array().unwrap();
    assert!(cases.len() > 30, "the corpus is incomplete");
    let mut disagreements = Vec::new();
    let mut code_differences = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let expect = case["expect"].as_str().unwrap();
        let key = verifier(&base, case["key"].as_str().unwrap());
        let args: Vec<&str> = case["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let got: Result<&str, String> = match case["check"].as_str().unwrap() {
            "log" => check_export(&base.join(args[0]), &key)
                .map(|_| "ok")
                .map_err(|e| {
                    if e.code != expect {
                        code_differences
                            .push(format!("{name}: expected {expect}, ward-audit says {e}"));
                    }
                    e.to_string()
                }),
            "receipt" => {
                let text = std::fs::read_to_string(base.join(args[0])).unwrap();
                Receipt::parse(&text)
                    .and_then(|r| r.verify(&key))
                    .map(|_| "ok")
                    .map_err(|e| e.to_string())
            }
            "consistency" => {
                let old = std::fs::read_to_string(base.join(args[0])).unwrap();
                let new = std::fs::read_to_string(base.join(args[1])).unwrap();
                let proof = case["proof"]
                    .as_str()
                    .map(|p| std::fs::read_to_string(base.join(p)).unwrap());
                match check_consistency(&old, &new, proof.as_deref(), &key) {
                    Ok(true) => Ok("ok"),
                    Ok(false) => Ok("usage"),
                    Err(e) => {
                        if e.code != expect {
                            code_differences
                                .push(format!("{name}: expected {expect}, ward-audit says {e}"));
                        }
                        Err(e.to_string())
                    }
                }
            }
            other => panic!("unknown check `{other}` in {name}"),
        };
        let agrees = match (&got, expect) {
            (Ok(g), e) => *g == e,
            (Err(_), e) => e != "ok" && e != "usage",
        };
        if !agrees {
            disagreements.push(format!("{name}: expected {expect}, ward-audit: {got:?}"));
        }
    }
    assert!(
        disagreements.is_empty(),
        "ward-audit disagrees with the corpus:\n{}",
        disagreements.join("\n")
    );
    if !code_differences.is_empty() {
        eprintln!(
            "rejected for another first reason than ward-verify:\n{}",
            code_differences.join("\n")
        );
    }
}

/// The writer, given the worked example's key, entries and batching,
/// produces the spec's checkpoint and receipt bytes exactly.
#[test]
fn the_writer_reproduces_the_worked_example() {
    let base = corpus();
    let key =
        LogKey::from_private_string(&std::fs::read_to_string(base.join("keys/log.key")).unwrap())
            .unwrap();
    let spec = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/receipt-format.md"),
    )
    .unwrap();
    let example = &spec[spec.find("<!-- example:begin").unwrap()..];
    let blocks: Vec<&str> = example.split("```\n").skip(1).step_by(2).collect();
    let entries: Vec<Entry> = blocks[2]
        .lines()
        .map(|l| Entry::parse(l.as_bytes()).unwrap())
        .collect();
    assert_eq!(entries.len(), 3);
    let want_checkpoint = blocks[3];
    let want_receipt = blocks[4];

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("example.db")).unwrap();
    let clock = Arc::new(|| Timestamp::from_unix_millis(0));
    let config = WriterConfig {
        window: Duration::from_millis(300),
        ..WriterConfig::default()
    };
    let writer = Writer::start(Box::new(store), key, clock, config).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // Entry 0 alone (checkpoint 0001 at size 1), then entries 1 and 2 in one batch.
    let first = rt.block_on(writer.append(entries[0].clone())).unwrap();
    let (second, third) = rt.block_on(async {
        tokio::join!(
            writer.append(entries[1].clone()),
            writer.append(entries[2].clone())
        )
    });
    let (second, third) = (second.unwrap(), third.unwrap());
    assert_eq!(first.checkpoint.checkpoint().size, 1);
    assert_eq!(second.checkpoint.text(), want_checkpoint);
    assert_eq!(third.checkpoint.text(), want_checkpoint);
    assert_eq!(second.encode(), want_receipt);
}
