//! A test-only writer of Ward evidence, built from `docs/receipt-format.md`.
//!
//! It is deliberately naive: the Merkle tree is the recursive RFC 9162
//! definition over a `Vec` of leaves, entries are JCS written by hand with
//! their members in sorted order, and notes are assembled with `format!`. It
//! produces valid exports, receipts and consistency proofs, and the tamper
//! suite edits them.

#![allow(dead_code, reason = "each test module uses a different part")]

use std::fs;
use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};
use ward_verify::{empty_root, key_id, leaf_hash, node_hash, Hash};

pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// A signing key with its note name.
#[derive(Debug, Clone)]
pub struct Key {
    pub name: String,
    pub signing: SigningKey,
}

impl Key {
    /// A deterministic key: the seed is 32 copies of `seed`.
    pub fn new(name: &str, seed: u8) -> Key {
        Key {
            name: name.to_owned(),
            signing: SigningKey::from_bytes(&[seed; 32]),
        }
    }

    pub fn id(&self) -> [u8; 4] {
        key_id(&self.name, &self.signing.verifying_key().to_bytes())
    }

    pub fn id_hex(&self) -> String {
        self.id().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The verifier key string (§3.4).
    pub fn vkey(&self) -> String {
        let mut raw = vec![0x01];
        raw.extend_from_slice(&self.signing.verifying_key().to_bytes());
        format!("{}+{}+{}", self.name, self.id_hex(), b64(&raw))
    }

    /// The private key file contents (§3.5).
    pub fn private_key_file(&self) -> String {
        let mut raw = vec![0x01];
        raw.extend_from_slice(&self.signing.to_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}\n",
            self.name,
            self.id_hex(),
            b64(&raw)
        )
    }

    /// `<key name>/<tenant>/<key id hex>` (§2).
    pub fn origin(&self, tenant: &str) -> String {
        format!("{}/{tenant}/{}", self.name, self.id_hex())
    }

    /// One signature line over `body` (§3.2).
    pub fn signature_line(&self, body: &str) -> String {
        let mut raw = self.id().to_vec();
        raw.extend_from_slice(&self.signing.sign(body.as_bytes()).to_bytes());
        format!("\u{2014} {} {}\n", self.name, b64(&raw))
    }
}

/// A checkpoint body (§3.1).
pub fn checkpoint_body(origin: &str, size: usize, root: &Hash) -> String {
    format!("{origin}\n{size}\n{}\n", b64(root))
}

/// A signed note: body, blank line, one line per key.
pub fn sign_note(body: &str, keys: &[&Key]) -> String {
    let mut note = format!("{body}\n");
    for key in keys {
        note.push_str(&key.signature_line(body));
    }
    note
}

// ----- the RFC 9162 definitions, transcribed -----

fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

pub fn mth(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let k = split(leaves.len());
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

pub fn inclusion_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    if leaves.len() <= 1 {
        return vec![];
    }
    let k = split(leaves.len());
    let (mut p, sibling) = if m < k {
        (inclusion_path(m, &leaves[..k]), mth(&leaves[k..]))
    } else {
        (inclusion_path(m - k, &leaves[k..]), mth(&leaves[..k]))
    };
    p.push(sibling);
    p
}

fn subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if complete { vec![] } else { vec![mth(leaves)] };
    }
    let k = split(n);
    let (mut p, sibling) = if m <= k {
        (subproof(m, &leaves[..k], complete), mth(&leaves[k..]))
    } else {
        (subproof(m - k, &leaves[k..], false), mth(&leaves[..k]))
    };
    p.push(sibling);
    p
}

pub fn consistency_proof(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    if m == 0 || m == leaves.len() {
        return vec![];
    }
    subproof(m, leaves, true)
}

/// A consistency proof file (§5).
pub fn consistency_file(old: usize, new: usize, leaves: &[Hash]) -> String {
    let mut text = format!("ward/consistency-proof@v1\nold {old}\nnew {new}\n");
    for h in consistency_proof(old, &leaves[..new]) {
        text.push_str(&b64(&h));
        text.push('\n');
    }
    text
}

// ----- entries -----

fn s(value: &str) -> String {
    serde_json::to_string(value).unwrap()
}

fn digest_of(label: &str) -> String {
    let d: [u8; 32] = Sha256::digest(label.as_bytes()).into();
    let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// `2026-11-22T01:14:58.000Z` plus `i` × 1.5 s, wrapping after 40,000
/// entries so that the time stays within the day.
pub fn time(i: usize) -> String {
    let ms = 1500 * (i % 40_000) as u64;
    let total_s = 58 + ms / 1000;
    let (min, sec) = (14 + total_s / 60, total_s % 60);
    let (hour, min) = (1 + min / 60, min % 60);
    format!("2026-11-22T{hour:02}:{min:02}:{sec:02}.{:03}Z", ms % 1000)
}

/// A decision statement as JCS, members in sorted order (all keys are
/// ASCII, so byte order is UTF-16 order).
pub fn decision_entry(tenant: &str, i: usize) -> Vec<u8> {
    let outcomes = [
        "allow",
        "deny",
        "require_approval",
        "allow_with_constraints",
        "remediate",
    ];
    let outcome = outcomes[i % outcomes.len()];
    let (code, rule) = match outcome {
        "deny" => ("default_deny", None),
        _ => ("rule", Some(format!("rule-{}", i % 7))),
    };
    let rule = rule
        .map(|r| format!(r#","rule":{}"#, s(&r)))
        .unwrap_or_default();
    let approval = if outcome == "require_approval" {
        format!(
            r#""approval":{{"id":{},"ref":"requested"}},"#,
            s(&format!("apr_{i:06}"))
        )
    } else {
        String::new()
    };
    let message = if outcome == "deny" {
        "no rule permits this call".to_owned()
    } else {
        format!("matched rule {}, \"quoted\" & unicode é", i % 7)
    };
    format!(
        concat!(
            r#"{{"agent":{{"id":"refund-bot","version":"1.4.0"}},{approval}"#,
            r#""args_digest":{args},"decision_id":{id},"intervention":"pre_tool_call","#,
            r#""kind":"decision","mode":"enforce","outcome":{outcome},"#,
            r#""policy":{{"digest":{policy},"name":"support","version":"2.4.1"}},"#,
            r#""principal":{{"id":"u-123","kind":"user","roles":["premium","support"]}},"#,
            r#""reasons":[{{"code":{code},"message":{message}{rule}}}],"#,
            r#""request_digest":{request},"session":"s-9f2","tenant":{tenant},"#,
            r#""time":{time},"tool":"approve_refund","v":1}}"#
        ),
        approval = approval,
        args = s(&digest_of(&format!("args {i}"))),
        id = s(&format!("dec_{i:06}")),
        outcome = s(outcome),
        policy = s(&digest_of("policy support 2.4.1")),
        code = s(code),
        message = s(&message),
        rule = rule,
        request = s(&digest_of(&format!("request {i}"))),
        tenant = s(tenant),
        time = s(&time(i)),
    )
    .into_bytes()
}

/// A rotation statement (§1.5).
pub fn rotation_entry(
    tenant: &str,
    old_origin: &str,
    size: usize,
    root: &Hash,
    old_key: &Key,
) -> Vec<u8> {
    format!(
        r#"{{"kind":"rotation","previous":{{"key":{},"origin":{},"root":{},"size":{size}}},"tenant":{},"time":{},"v":1}}"#,
        s(&old_key.vkey()),
        s(old_origin),
        s(&b64(root)),
        s(tenant),
        s(&time(10_000)),
    )
    .into_bytes()
}

// ----- logs and exports -----

/// A log: its key, tenant and entries.
#[derive(Debug, Clone)]
pub struct Log {
    pub key: Key,
    pub tenant: String,
    pub entries: Vec<Vec<u8>>,
}

impl Log {
    pub fn new(key: Key, tenant: &str, n: usize) -> Log {
        let entries = (0..n).map(|i| decision_entry(tenant, i)).collect();
        Log {
            key,
            tenant: tenant.to_owned(),
            entries,
        }
    }

    pub fn origin(&self) -> String {
        self.key.origin(&self.tenant)
    }

    pub fn leaves(&self) -> Vec<Hash> {
        self.entries.iter().map(|e| leaf_hash(e)).collect()
    }

    pub fn root(&self, size: usize) -> Hash {
        mth(&self.leaves()[..size])
    }

    /// The signed checkpoint at `size`, signed by the log key and `extra`.
    pub fn checkpoint(&self, size: usize, extra: &[&Key]) -> String {
        let body = checkpoint_body(&self.origin(), size, &self.root(size));
        let mut keys = vec![&self.key];
        keys.extend_from_slice(extra);
        sign_note(&body, &keys)
    }

    /// The receipt for entry `index` under the checkpoint at `size` (§4).
    pub fn receipt(&self, index: usize, size: usize) -> String {
        let leaves = self.leaves();
        let mut text = format!(
            "c2sp.org/tlog-proof@v1\nextra {}\nindex {index}\n",
            b64(&self.entries[index])
        );
        for h in inclusion_path(index, &leaves[..size]) {
            text.push_str(&b64(&h));
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.checkpoint(size, &[]));
        text
    }

    /// Writes an export with checkpoints at `sizes` (§6).
    pub fn write_export(&self, dir: &Path, sizes: &[usize]) {
        fs::create_dir_all(dir.join("checkpoints")).unwrap();
        fs::create_dir_all(dir.join("proofs")).unwrap();
        fs::write(dir.join("origin"), format!("{}\n", self.origin())).unwrap();
        let mut jsonl = Vec::new();
        for e in &self.entries {
            jsonl.extend_from_slice(e);
            jsonl.push(b'\n');
        }
        fs::write(dir.join("entries.jsonl"), jsonl).unwrap();
        let leaves = self.leaves();
        for (i, &size) in sizes.iter().enumerate() {
            let seq = i + 1;
            fs::write(
                dir.join(format!("checkpoints/{seq:04}.txt")),
                self.checkpoint(size, &[]),
            )
            .unwrap();
            if seq > 1 {
                fs::write(
                    dir.join(format!("proofs/{seq:04}.txt")),
                    consistency_file(sizes[i - 1], size, &leaves),
                )
                .unwrap();
            }
        }
    }
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for item in fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        let target = to.join(item.file_name());
        if item.file_type().unwrap().is_dir() {
            copy_dir(&item.path(), &target);
        } else {
            fs::copy(item.path(), target).unwrap();
        }
    }
}

/// Rewrites `entries.jsonl` of `dir` from `entries`.
pub fn write_entries(dir: &Path, entries: &[Vec<u8>]) {
    let mut jsonl = Vec::new();
    for e in entries {
        jsonl.extend_from_slice(e);
        jsonl.push(b'\n');
    }
    fs::write(dir.join("entries.jsonl"), jsonl).unwrap();
}
