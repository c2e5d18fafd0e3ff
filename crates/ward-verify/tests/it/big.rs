//! A large export for timing `ward-verify log` (not run by default):
//!
//! ```text
//! WARD_BIG_EXPORT_DIR=/tmp/big WARD_BIG_EXPORT_SIZE=1000000 \
//!   cargo test --release -p ward-verify --test it big_export -- --ignored
//! ward-verify log /tmp/big --key @/tmp/big.vkey
//! ```

use std::fs;
use std::io::{BufWriter, Write as _};
use std::path::PathBuf;

use ward_verify::{leaf_hash, TreeBuilder};

use crate::support::*;
use crate::vectors::{log_key, TENANT};

#[test]
#[ignore = "writes a large export; run by hand to time the verifier"]
fn big_export() {
    let dir = PathBuf::from(std::env::var("WARD_BIG_EXPORT_DIR").unwrap());
    let size: usize = std::env::var("WARD_BIG_EXPORT_SIZE")
        .map(|s| s.parse().unwrap())
        .unwrap_or(1_000_000);
    let key = log_key();
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("checkpoints")).unwrap();
    fs::create_dir_all(dir.join("proofs")).unwrap();
    fs::write(dir.with_extension("vkey"), format!("{}\n", key.vkey())).unwrap();
    let origin = key.origin(TENANT);
    fs::write(dir.join("origin"), format!("{origin}\n")).unwrap();

    // Ten checkpoints, the last at `size`.
    let sizes: Vec<usize> = (1..=10).map(|i| size * i / 10).collect();
    let mut out = BufWriter::new(fs::File::create(dir.join("entries.jsonl")).unwrap());
    let mut leaves = Vec::with_capacity(size);
    let mut tree = TreeBuilder::new();
    let mut seq = 1;
    for i in 0..=size {
        while sizes.get(seq - 1) == Some(&i) {
            let body = checkpoint_body(&origin, i, &tree.root());
            fs::write(
                dir.join(format!("checkpoints/{seq:04}.txt")),
                sign_note(&body, &[&key]),
            )
            .unwrap();
            if seq > 1 {
                let text = consistency_file(sizes[seq - 2], i, &leaves);
                fs::write(dir.join(format!("proofs/{seq:04}.txt")), text).unwrap();
            }
            seq += 1;
        }
        if i == size {
            break;
        }
        let entry = decision_entry(TENANT, i);
        out.write_all(&entry).unwrap();
        out.write_all(b"\n").unwrap();
        let leaf = leaf_hash(&entry);
        leaves.push(leaf);
        tree.push_leaf_hash(leaf);
    }
    out.flush().unwrap();
}
