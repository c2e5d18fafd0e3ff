//! The tamper suite beyond the fixed vectors: every single-byte edit of an
//! entry, of a checkpoint and of a receipt must be caught.

use std::fs;

use ward_verify::{verify_log, verify_receipt, VerifierKey};

use crate::vectors::{base_log, log_key, SIZES};

fn key() -> VerifierKey {
    VerifierKey::parse(&log_key().vkey()).unwrap()
}

#[test]
fn the_valid_export_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let log = base_log();
    log.write_export(dir.path(), &SIZES);
    let v = verify_log(dir.path(), &key()).unwrap();
    assert_eq!((v.size, v.checkpoints, v.proofs), (20, 4, 3));
}

#[test]
fn every_byte_edit_of_an_entry_is_caught() {
    // A small log with one checkpoint keeps this exhaustive test quick in a
    // debug build; the byte positions are what matter.
    let dir = tempfile::tempdir().unwrap();
    let mut log = base_log();
    log.entries.truncate(4);
    log.write_export(dir.path(), &[4]);
    let original = fs::read(dir.path().join("entries.jsonl")).unwrap();
    let newlines: Vec<usize> = (0..original.len())
        .filter(|&i| original[i] == b'\n')
        .collect();
    // Every byte of entry 1 with one bit flip, and every 7th byte of the
    // last entry with another.
    let edits = [
        (newlines[0] + 1..=newlines[1], 1, 0x01u8),
        (newlines[2] + 1..=newlines[3], 7, 0x20),
    ];
    for (range, step, flip) in edits {
        for pos in range.step_by(step) {
            let mut bytes = original.clone();
            bytes[pos] ^= flip;
            fs::write(dir.path().join("entries.jsonl"), &bytes).unwrap();
            assert!(
                verify_log(dir.path(), &key()).is_err(),
                "byte {pos} ^ {flip:#x} went unnoticed"
            );
        }
    }
}

#[test]
fn every_byte_edit_of_a_checkpoint_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let log = base_log();
    log.write_export(dir.path(), &SIZES);
    let path = dir.path().join("checkpoints/0003.txt");
    let original = fs::read(&path).unwrap();
    for pos in 0..original.len() {
        let mut bytes = original.clone();
        bytes[pos] ^= 0x01;
        fs::write(&path, &bytes).unwrap();
        assert!(
            verify_log(dir.path(), &key()).is_err(),
            "byte {pos} went unnoticed"
        );
    }
}

#[test]
fn every_byte_edit_of_a_receipt_is_caught() {
    let log = base_log();
    let receipt = log.receipt(9, 13).into_bytes();
    assert!(verify_receipt(&receipt, &key(), "r").is_ok());
    for pos in 0..receipt.len() {
        let mut bytes = receipt.clone();
        bytes[pos] ^= 0x01;
        assert!(
            verify_receipt(&bytes, &key(), "r").is_err(),
            "byte {pos} went unnoticed"
        );
    }
    for cut in 0..receipt.len() {
        assert!(
            verify_receipt(&receipt[..cut], &key(), "r").is_err(),
            "cut at {cut}"
        );
    }
}

#[test]
fn every_receipt_of_every_size_verifies() {
    let log = base_log();
    for size in 1..=20 {
        for index in 0..size {
            let r = verify_receipt(log.receipt(index, size).as_bytes(), &key(), "r").unwrap();
            assert_eq!((r.index, r.size), (index as u64, size as u64));
            assert_eq!(r.entry, log.entries[index]);
        }
    }
}

#[test]
fn an_export_with_every_checkpoint_size_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let log = base_log();
    let sizes: Vec<usize> = (0..=20).collect();
    log.write_export(dir.path(), &sizes);
    assert_eq!(verify_log(dir.path(), &key()).unwrap().proofs, 20);
}
