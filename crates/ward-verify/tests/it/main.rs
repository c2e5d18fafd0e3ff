//! The integration tests of `ward-verify`, through its public API and its
//! binary only.

#![allow(unreachable_pub, reason = "a test binary has no public API")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_arguments,
    reason = "test code: a panic is a test failure"
)]

mod big;
mod cli;
mod example;
mod readme;
mod support;
mod tamper;
mod vectors;

use std::fs;
use std::path::{Path, PathBuf};

use ward_verify::{verify_consistency_files, verify_log, verify_receipt, VerifierKey, VerifyError};

/// `testdata/receipts/` at the workspace root.
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/receipts")
}

pub fn key_from(root: &Path, file: &str) -> VerifierKey {
    VerifierKey::parse(fs::read_to_string(root.join(file)).unwrap().trim()).unwrap()
}

/// Runs one case through the library.
pub fn run_case(root: &Path, case: &vectors::Case) -> Result<(), VerifyError> {
    let key = key_from(root, case.key);
    match case.check {
        "log" => verify_log(&root.join(&case.args[0]), &key).map(|_| ()),
        "receipt" => {
            let bytes = fs::read(root.join(&case.args[0])).unwrap();
            verify_receipt(&bytes, &key, &case.args[0]).map(|_| ())
        }
        "consistency" => {
            let old = fs::read(root.join(&case.args[0])).unwrap();
            let new = fs::read(root.join(&case.args[1])).unwrap();
            let proof = case
                .proof
                .as_ref()
                .map(|p| (fs::read(root.join(p)).unwrap(), p.clone()));
            verify_consistency_files(
                (&old, &case.args[0]),
                (&new, &case.args[1]),
                proof.as_ref().map(|(b, p)| (b.as_slice(), p.as_str())),
                &key,
            )
            .map(|_| ())
        }
        other => panic!("unknown check {other}"),
    }
}

pub fn assert_case(root: &Path, case: &vectors::Case) {
    match (run_case(root, case), case.expect) {
        (Ok(()), "ok") => {}
        (Ok(()), expect) => panic!("{}: verified, but `{expect}` was expected", case.name),
        (Err(e), "ok") => panic!("{}: expected ok, got {e}", case.name),
        (Err(e), expect) => {
            assert_eq!(e.failure().code(), expect, "{}: {e}", case.name);
            assert!(
                e.location().contains(case.location),
                "{}: location `{}` lacks `{}` ({e})",
                case.name,
                e.location(),
                case.location
            );
        }
    }
}

fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for item in fs::read_dir(&dir).unwrap() {
            let path = item.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_owned());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn vectors_on_disk_match_the_generator() {
    let fresh = tempfile::tempdir().unwrap();
    vectors::generate(fresh.path());
    let on_disk = vectors_dir();
    if std::env::var_os("WARD_REGEN_VECTORS").is_some() {
        let _ = fs::remove_dir_all(&on_disk);
        support::copy_dir(fresh.path(), &on_disk);
        return;
    }
    let expected = files_under(fresh.path());
    assert_eq!(
        files_under(&on_disk),
        expected,
        "testdata/receipts differs from the generator; rerun with WARD_REGEN_VECTORS=1"
    );
    for file in expected {
        assert!(
            fs::read(fresh.path().join(&file)).unwrap() == fs::read(on_disk.join(&file)).unwrap(),
            "testdata/receipts/{} differs from the generator; rerun with WARD_REGEN_VECTORS=1",
            file.display()
        );
    }
}

#[test]
fn every_vector_gives_its_expected_result() {
    let dir = tempfile::tempdir().unwrap();
    for case in vectors::generate(dir.path()) {
        assert_case(dir.path(), &case);
    }
}

/// The reverse direction: what `ward-audit`'s real writer wrote
/// (`testdata/audit/sample/`, owned by ward-audit) verifies here.
#[test]
fn the_writer_sample_verifies() {
    let sample = vectors_dir().join("../audit/sample");
    if !sample.is_dir() {
        return;
    }
    let old = key_from(&sample, "old.vkey");
    let new = key_from(&sample, "new.vkey");
    verify_log(&sample.join("acme-old"), &old).unwrap();
    let rotated = verify_log(&sample.join("acme-new"), &new).unwrap();
    assert_eq!(rotated.previous.map(|p| p.key), Some(old.clone()));
    let mut receipts = 0;
    for item in fs::read_dir(sample.join("receipts")).unwrap() {
        let path = item.unwrap().path();
        let bytes = fs::read(&path).unwrap();
        let name = path.display().to_string();
        assert!(
            verify_receipt(&bytes, &old, &name).is_ok()
                || verify_receipt(&bytes, &new, &name).is_ok(),
            "{name}"
        );
        receipts += 1;
    }
    assert!(receipts > 0);
}
