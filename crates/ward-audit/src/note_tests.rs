use super::*;

// golang.org/x/mod/sumdb/note's published example key and signed note.
const GO_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT: &str =
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_SIG: &str =
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";

pub(crate) fn test_key(name: &str, byte: u8) -> LogKey {
    LogKey::from_seed(name, [byte; 32]).unwrap()
}

#[test]
fn go_sumdb_note_vector() {
    let key = LogKey::from_private_string(GO_SKEY).unwrap();
    assert_eq!(key.private_string(), GO_SKEY);
    assert_eq!(key.verifier().to_string(), GO_VKEY);
    assert_eq!(GO_VKEY.parse::<VerifierKey>().unwrap(), key.verifier());
    assert_eq!(
        key.signature_line(GO_TEXT),
        format!("\u{2014} PeterNeumann {GO_SIG}\n")
    );
}

#[test]
fn verifier_key_strings_are_strict() {
    for bad in [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumanx+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
        "PeterNeumann+c74f20a3",
        "",
    ] {
        assert!(bad.parse::<VerifierKey>().is_err(), "{bad}");
    }
}

#[test]
fn checkpoints_sign_verify_and_countersign() {
    let k1 = test_key("ward/test", 1);
    let k2 = test_key("ward/test", 2);
    let cp = Checkpoint {
        origin: k1.origin("acme"),
        size: 0,
        root: crate::merkle::EMPTY_ROOT,
    };
    let signed = cp.sign(&k1);
    let text = signed.text();
    assert!(text.starts_with(&format!(
        "ward/test/acme/{}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\u{2014} ward/test ",
        k1.key_id_hex()
    )));
    assert!(text.ends_with('\n'));
    assert_eq!(SignedCheckpoint::parse(text).unwrap(), signed);
    assert_eq!(signed.verify(&k1.verifier()).unwrap(), &cp);
    assert!(matches!(
        signed.verify(&k2.verifier()),
        Err(NoteError::Unsigned(_))
    ));

    let counter = signed.countersign(&k2);
    assert!(counter.verify(&k1.verifier()).is_ok());
    assert!(counter.verify_signature(&k2.verifier()).is_ok());
    // Origin belongs to k1, so k2 does not accept it as its own log.
    assert!(matches!(
        counter.verify(&k2.verifier()),
        Err(NoteError::WrongOrigin { .. })
    ));

    let forged = text.replace("\n0\n", "\n1\n");
    assert!(SignedCheckpoint::parse(&forged)
        .unwrap()
        .verify(&k1.verifier())
        .is_err());
}

#[test]
fn receipts_round_trip_and_verify() {
    let key = test_key("ward/test", 3);
    let entry = br#"{"decision_id":"d","duration_ms":1,"kind":"execution","result_digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","session":"s","status":"ok","tenant":"acme","time":"2026-01-01T00:00:00.000Z","tool":"t","v":1}"#;
    let mut tree = crate::merkle::MemoryTree::new();
    tree.push(crate::merkle::leaf_hash(b"first"));
    tree.push(crate::merkle::leaf_hash(entry));
    tree.push(crate::merkle::leaf_hash(b"third"));
    let path = crate::merkle::inclusion_proof(1, 3, &mut tree.reader()).unwrap();
    let receipt = Receipt {
        entry: entry.to_vec(),
        index: 1,
        path,
        checkpoint: Checkpoint {
            origin: key.origin("acme"),
            size: 3,
            root: tree.root(),
        }
        .sign(&key),
    };
    let text = receipt.encode();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "));
    let parsed = Receipt::parse(&text).unwrap();
    assert_eq!(parsed, receipt);
    assert!(parsed.verify(&key.verifier()).is_ok());

    let mut wrong_index = parsed.clone();
    wrong_index.index = 0;
    assert!(wrong_index.verify(&key.verifier()).is_err());
    let mut edited = parsed.clone();
    edited.entry = String::from_utf8(entry.to_vec())
        .unwrap()
        .replace("\"t\"", "\"u\"")
        .into_bytes();
    assert!(matches!(
        edited.verify(&key.verifier()),
        Err(NoteError::NotIncluded { .. })
    ));
    let mut other_tenant = parsed;
    other_tenant.entry = String::from_utf8(entry.to_vec())
        .unwrap()
        .replace("acme", "beta")
        .into_bytes();
    assert!(matches!(
        other_tenant.verify(&key.verifier()),
        Err(NoteError::WrongTenant { .. })
    ));
}

#[test]
fn consistency_files_round_trip() {
    let p = ConsistencyProof {
        old: 2,
        new: 5,
        hashes: vec![[1; 32], [2; 32]],
    };
    let text = p.encode();
    assert_eq!(ConsistencyProof::parse(&text).unwrap(), p);
    let empty = ConsistencyProof {
        old: 0,
        new: 0,
        hashes: vec![],
    };
    assert_eq!(empty.encode(), "ward/consistency-proof@v1\nold 0\nnew 0\n");
    assert!(ConsistencyProof::parse("ward/consistency-proof@v1\nold 01\nnew 2\n").is_err());
}

proptest::proptest! {
    #[test]
    fn receipts_round_trip(index in 0u64..1_000_000, path in proptest::collection::vec(proptest::array::uniform32(0u8..), 0..25), size_extra in 1u64..1000) {
        let key = test_key("ward/prop", 4);
        let receipt = Receipt {
            entry: br#"{"k":1}"#.to_vec(),
            index,
            path,
            checkpoint: Checkpoint { origin: key.origin("acme"), size: index + size_extra, root: [7; 32] }.sign(&key),
        };
        let text = receipt.encode();
        proptest::prop_assert_eq!(Receipt::parse(&text).unwrap(), receipt);
    }

    #[test]
    fn receipt_parsing_never_panics(text in "\\PC*") {
        let _ = Receipt::parse(&text);
        let _ = SignedCheckpoint::parse(&text);
        let _ = ConsistencyProof::parse(&text);
        let _ = text.parse::<VerifierKey>();
    }
}
