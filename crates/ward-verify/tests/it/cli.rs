//! The real `ward-verify` binary, run on temporary directories.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::vectors;

fn ward_verify(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ward-verify"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_vector_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    for case in vectors::generate(dir.path()) {
        let key = format!("@{}", case.key);
        let mut args: Vec<&str> = vec![case.check];
        args.extend(case.args.iter().map(String::as_str));
        args.extend(["--key", key.as_str()]);
        if let Some(p) = &case.proof {
            args.extend(["--proof", p.as_str()]);
        }
        let out = ward_verify(dir.path(), &args);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        let expected_code = match case.expect {
            "ok" => 0,
            "usage" => 2,
            _ => 1,
        };
        assert_eq!(
            out.status.code(),
            Some(expected_code),
            "{}: {stdout}{stderr}",
            case.name
        );
        if expected_code == 0 {
            assert!(stdout.starts_with("ok: "), "{}: {stdout}", case.name);
        } else {
            assert!(stderr.contains(case.location), "{}: {stderr}", case.name);
            assert!(stdout.is_empty(), "{}: {stdout}", case.name);
        }
    }
}

#[test]
fn failures_say_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    vectors::generate(dir.path());
    let out = ward_verify(
        dir.path(),
        &["log", "log/edited-entry", "--key", "@keys/log.vkey"],
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("log/edited-entry/checkpoints/0003.txt"),
        "{stderr}"
    );
    assert!(
        stderr.contains("entry at index 8..13 (lines 9..=13 of entries.jsonl)"),
        "{stderr}"
    );

    let out = ward_verify(
        dir.path(),
        &[
            "log",
            "log/foreign-key-checkpoint",
            "--key",
            "@keys/log.vkey",
        ],
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("checkpoints/0004.txt: no signature by key `ward/test-log+"),
        "{stderr}"
    );

    let out = ward_verify(
        dir.path(),
        &["log", "log/not-json", "--key", "@keys/log.vkey"],
    );
    assert!(text(&out.stderr).contains("entry 6 (line 7 of entries.jsonl): not valid JSON"));

    let out = ward_verify(
        dir.path(),
        &["log", "log/truncated-mid-line", "--key", "@keys/log.vkey"],
    );
    assert!(text(&out.stderr).contains("entries.jsonl ends mid-line"));
}

#[test]
fn the_key_may_be_given_inline_or_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    vectors::generate(dir.path());
    let vkey = std::fs::read_to_string(dir.path().join("keys/log.vkey")).unwrap();
    let out = ward_verify(
        dir.path(),
        &[
            "receipt",
            "receipt/valid-middle.tlog-proof",
            "--key",
            vkey.trim(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("entry 9 (decision) is in the log at tree size 13"));
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    vectors::generate(dir.path());
    let cases: [&[&str]; 6] = [
        &[],
        &["receipt", "receipt/valid-first.tlog-proof"],
        &[
            "receipt",
            "receipt/valid-first.tlog-proof",
            "--key",
            "not-a-key",
        ],
        &[
            "receipt",
            "receipt/valid-first.tlog-proof",
            "--key",
            "@keys/missing.vkey",
        ],
        &["receipt", "no-such-file", "--key", "@keys/log.vkey"],
        &["log", "no-such-dir", "--key", "@keys/log.vkey"],
    ];
    for args in cases {
        let out = ward_verify(dir.path(), args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // A well-formed key of the wrong log is a verification failure, not usage.
    let out = ward_verify(
        dir.path(),
        &[
            "receipt",
            "receipt/valid-first.tlog-proof",
            "--key",
            "@keys/attacker.vkey",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn help_explains_each_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = ward_verify(dir.path(), &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for word in ["receipt", "log", "consistency", "Exit status"] {
        assert!(help.contains(word), "{help}");
    }
    for sub in ["receipt", "log", "consistency"] {
        let out = ward_verify(dir.path(), &[sub, "--help"]);
        assert_eq!(out.status.code(), Some(0));
        assert!(text(&out.stdout).contains("--key"));
        assert!(text(&out.stdout).contains("@PATH"));
    }
}
