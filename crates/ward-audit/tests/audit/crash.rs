//! Crash safety: a writer child process appends under load and prints each
//! acknowledged receipt; it is killed with SIGKILL at random moments, 20
//! times. After every kill the recovered log must pass `check`, contain
//! every acknowledged entry at its index, and be consistent with every
//! checkpoint it handed out.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use std::collections::{HashMap, HashSet};

use ward_audit::merkle::{self, MemoryTree};
use ward_audit::{check, generate_key, Filter, Receipt, SqliteStore, Store, VerifierKey};

/// xorshift64*, seeded from the clock: random kill moments, reproducible
/// from the seed printed on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn acknowledged_receipts_survive_sigkill() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let key_file = dir.path().join("log.key");
    let verifier: VerifierKey = generate_key("ward/crash", &key_file)
        .unwrap()
        .parse()
        .unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let mut total = 0usize;
    let mut verify_time = Duration::ZERO;
    let mut verified = HashSet::new();
    for round in 0..20 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ward-audit-crashtest"))
            .arg(&db)
            .arg(&key_file)
            .arg("4")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    // A line cut by the kill was never fully acknowledged.
                    Ok(_) if line.ends_with('\n') => lines.push(line.trim_end().to_owned()),
                    Ok(_) => break,
                }
            }
            lines
        });
        let delay = 40 + rng.next() % 400;
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        let lines = reader.join().unwrap();
        if lines.is_empty() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            assert!(
                err.is_empty(),
                "round {round}: the writer failed: {err} ({status})"
            );
        }
        let t0 = Instant::now();
        let mut store =
            SqliteStore::open(&db).unwrap_or_else(|e| panic!("round {round} (seed {seed}): {e}"));
        // The recovered trees, rebuilt from the stored entries.
        let mut trees: HashMap<String, (Vec<Vec<u8>>, MemoryTree)> = HashMap::new();
        for log in store.logs().unwrap() {
            let entries = store.entries(&log.info.origin, 0, log.size).unwrap();
            let mut tree = MemoryTree::new();
            for e in &entries {
                tree.push(merkle::leaf_hash(e));
            }
            // A query finds every stored entry, whether the index has
            // caught up with it or it is in the tail the killed process
            // had not indexed.
            let hits = store
                .query(&Filter {
                    tenant: log.info.tenant.clone(),
                    ..Filter::default()
                })
                .unwrap();
            let found: Vec<u64> = hits
                .iter()
                .filter(|h| h.origin == log.info.origin)
                .map(|h| h.index)
                .collect();
            assert_eq!(
                found,
                (0..log.size).collect::<Vec<_>>(),
                "round {round} (seed {seed}): a query missed entries of {}",
                log.info.origin
            );
            trees.insert(log.info.origin.clone(), (entries, tree));
        }
        let mut seen_checkpoints = HashSet::new();
        for line in &lines {
            let text = base64::engine::general_purpose::STANDARD
                .decode(line)
                .unwrap();
            let receipt = Receipt::parse(std::str::from_utf8(&text).unwrap()).unwrap();
            let cp = receipt.checkpoint.checkpoint();
            // Ed25519 is slow in debug builds: verify each checkpoint once.
            if verified.insert(receipt.checkpoint.text().to_owned()) {
                receipt.verify(&verifier).unwrap();
            } else {
                let leaf = merkle::leaf_hash(&receipt.entry);
                assert!(merkle::verify_inclusion(
                    &leaf,
                    receipt.index,
                    cp.size,
                    &receipt.path,
                    &cp.root
                ));
            }
            let (entries, tree) = trees
                .get(&cp.origin)
                .unwrap_or_else(|| panic!("round {round}: log {} lost", cp.origin));
            assert_eq!(
                entries.get(receipt.index as usize),
                Some(&receipt.entry),
                "round {round} (seed {seed}): acknowledged entry {} of {} is missing",
                receipt.index,
                cp.origin
            );
            if seen_checkpoints.insert(receipt.checkpoint.text().to_owned()) {
                let proof =
                    merkle::consistency_proof(cp.size, tree.size(), &mut tree.reader()).unwrap();
                assert!(
                    merkle::verify_consistency(cp.size, tree.size(), &cp.root, &tree.root(), &proof),
                    "round {round} (seed {seed}): the log is not consistent with a checkpoint of size {}",
                    cp.size
                );
            }
        }
        verify_time += t0.elapsed();
        total += lines.len();
    }
    // The full verification of the recovered database, once at the end.
    let mut store = SqliteStore::open(&db).unwrap();
    for tenant in ["acme", "beta"] {
        let report = check(&mut store, tenant).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(report.len(), 1);
    }
    assert!(total > 100, "too few appends ({total}) to mean anything");
    eprintln!("crash test: {total} acknowledged receipts over 20 kills in {:?}, {verify_time:?} of it verifying (seed {seed})", started.elapsed());
}
