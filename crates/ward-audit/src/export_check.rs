//! ward-audit's own reading of the export directory (§6), the rotation
//! chain (§7) and consistency-proof files (§5), so that the writer and the
//! independent `ward-verify` can run over the same conformance vectors.
//!
//! Failures carry a short code (the ones `ward-verify` uses where the
//! checks coincide) and the file or entry at fault.

use std::collections::BTreeMap;
use std::path::Path;

use crate::entry::{Entry, Statement};
use crate::merkle::{Frontier, EMPTY_ROOT};
use crate::note::{root_base64, ConsistencyProof, NoteError, SignedCheckpoint, VerifierKey};

/// Why an export, a pair of checkpoints or a proof file was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} at {location}: {message}")]
pub struct ExportError {
    /// A short failure code, e.g. `root-mismatch`.
    pub code: &'static str,
    /// The file, line or entry at fault.
    pub location: String,
    /// What was wrong.
    pub message: String,
}

fn fail(
    code: &'static str,
    location: impl Into<String>,
    message: impl Into<String>,
) -> ExportError {
    ExportError {
        code,
        location: location.into(),
        message: message.into(),
    }
}

fn note_code(e: &NoteError) -> &'static str {
    match e {
        NoteError::Unsigned(_) => "no-signature",
        NoteError::BadSignature(_) => "bad-signature",
        NoteError::WrongOrigin { .. } => "origin-mismatch",
        NoteError::WrongTenant { .. } => "tenant-mismatch",
        NoteError::NotIncluded { .. } => "inclusion",
        _ => "malformed",
    }
}

fn read(path: &Path, location: &str) -> Result<String, ExportError> {
    std::fs::read_to_string(path).map_err(|e| fail("malformed", location, e.to_string()))
}

/// What a verified export holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// The log's origin.
    pub origin: String,
    /// Entries verified.
    pub size: u64,
    /// Checkpoints verified.
    pub checkpoints: usize,
}

/// Numbered files `NNNN.txt` of a directory, by number.
fn numbered(dir: &Path, what: &str) -> Result<BTreeMap<u64, String>, ExportError> {
    let mut out = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(|e| fail("malformed", what, e.to_string()))?;
    for entry in entries {
        let entry = entry.map_err(|e| fail("malformed", what, e.to_string()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let location = format!("{what}/{name}");
        let number = name
            .strip_suffix(".txt")
            .filter(|n| n.len() >= 4 && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|n| *n > 0 && format!("{n:04}.txt") == name)
            .ok_or_else(|| {
                fail(
                    "unexpected-file",
                    &location,
                    "not a numbered `NNNN.txt` file",
                )
            })?;
        out.insert(number, location);
    }
    Ok(out)
}

/// Verifies an export directory under `key`, as §6 lists the checks.
pub fn check_export(dir: &Path, key: &VerifierKey) -> Result<ExportReport, ExportError> {
    let listing = std::fs::read_dir(dir)
        .map_err(|e| fail("malformed", dir.display().to_string(), e.to_string()))?;
    for item in listing {
        let item = item.map_err(|e| fail("malformed", dir.display().to_string(), e.to_string()))?;
        let name = item.file_name().to_string_lossy().into_owned();
        if ![
            "origin",
            "entries.jsonl",
            "checkpoints",
            "proofs",
            "previous",
        ]
        .contains(&name.as_str())
        {
            return Err(fail("unexpected-file", name, "not part of an export"));
        }
    }
    // 1. The origin.
    let origin_text = read(&dir.join("origin"), "origin")?;
    let origin = origin_text
        .strip_suffix('\n')
        .filter(|o| !o.contains('\n') && !o.is_empty())
        .ok_or_else(|| fail("malformed", "origin", "must be one line ending in LF"))?;
    let tenant = key.origin_tenant(origin).ok_or_else(|| {
        fail(
            "origin-mismatch",
            "origin",
            format!("`{origin}` is not a log of this key"),
        )
    })?;

    // 2–3. Checkpoints: numbered without gaps, signed, same origin, growing.
    let files = numbered(&dir.join("checkpoints"), "checkpoints")?;
    let mut checkpoints: Vec<(String, SignedCheckpoint)> = Vec::new();
    for (i, (number, location)) in files.iter().enumerate() {
        if *number != i as u64 + 1 {
            return Err(fail(
                "malformed",
                location,
                "checkpoint numbering has a gap",
            ));
        }
        let text = read(&dir.join(location), location)?;
        let signed = SignedCheckpoint::parse(&text)
            .map_err(|e| fail("malformed", location, e.to_string()))?;
        signed
            .verify_signature(key)
            .map_err(|e| fail(note_code(&e), location, e.to_string()))?;
        if signed.checkpoint().origin != origin {
            return Err(fail(
                "origin-mismatch",
                location,
                "the checkpoint is for another log",
            ));
        }
        if let Some((_, prev)) = checkpoints.last() {
            let (p, c) = (prev.checkpoint(), signed.checkpoint());
            if c.size < p.size {
                return Err(fail(
                    "size-decrease",
                    location,
                    format!("size {} after {}", c.size, p.size),
                ));
            }
            if c.size == p.size && c.root != p.root {
                return Err(fail(
                    "fork",
                    location,
                    format!("two roots for size {}", c.size),
                ));
            }
        }
        checkpoints.push((location.clone(), signed));
    }
    let Some((_, last)) = checkpoints.last() else {
        return Err(fail(
            "malformed",
            "checkpoints",
            "an export has at least one checkpoint",
        ));
    };
    let last_size = last.checkpoint().size;

    // 4–6. Entries, in one pass, against every checkpoint.
    let jsonl = std::fs::read(dir.join("entries.jsonl"))
        .map_err(|e| fail("malformed", "entries.jsonl", e.to_string()))?;
    let mut frontier = Frontier::empty();
    let mut next = 0usize;
    let match_checkpoints = |frontier: &Frontier, next: &mut usize| -> Result<(), ExportError> {
        while let Some((location, cp)) = checkpoints.get(*next) {
            let cp = cp.checkpoint();
            if cp.size != frontier.size() {
                break;
            }
            let root = if cp.size == 0 {
                EMPTY_ROOT
            } else {
                frontier.root()
            };
            if cp.root != root {
                return Err(fail(
                    "root-mismatch",
                    location,
                    "the entries do not produce this checkpoint's root",
                ));
            }
            *next += 1;
        }
        Ok(())
    };
    match_checkpoints(&frontier, &mut next)?;
    let mut first_entry: Option<Entry> = None;
    if !jsonl.is_empty() {
        let body = jsonl.strip_suffix(b"\n").ok_or_else(|| {
            let line = jsonl.iter().filter(|b| **b == b'\n').count() + 1;
            fail(
                "truncated",
                format!("entries.jsonl line {line}"),
                "ends mid-line",
            )
        })?;
        for (index, line) in body.split(|b| *b == b'\n').enumerate() {
            let location = format!("entry {index} (line {} of entries.jsonl)", index + 1);
            if serde_json::from_slice::<serde_json::Value>(line).is_err() {
                return Err(fail("not-json", location, "not JSON"));
            }
            let entry =
                Entry::parse(line).map_err(|e| fail("invalid-entry", &location, e.to_string()))?;
            if entry.tenant() != tenant {
                return Err(fail(
                    "tenant-mismatch",
                    location,
                    format!("tenant `{}`", entry.tenant()),
                ));
            }
            if matches!(entry.statement(), Statement::Rotation(_)) && index != 0 {
                return Err(fail(
                    "invalid-entry",
                    location,
                    "a rotation entry is only ever entry 0",
                ));
            }
            if frontier.size() >= last_size {
                return Err(fail(
                    "uncovered-entries",
                    "entries.jsonl",
                    format!("entry {index} is covered by no checkpoint"),
                ));
            }
            frontier.append(entry.leaf_hash());
            match_checkpoints(&frontier, &mut next)?;
            if index == 0 {
                first_entry = Some(entry);
            }
        }
    }
    if frontier.size() < last_size {
        return Err(fail(
            "missing-entries",
            "entries.jsonl",
            format!(
                "{} entries, but the last checkpoint covers {last_size}",
                frontier.size()
            ),
        ));
    }

    // 7. Consistency proofs between consecutive checkpoints.
    if dir.join("proofs").exists() {
        for (number, location) in numbered(&dir.join("proofs"), "proofs")? {
            let (Some((_, old)), Some((_, new))) = (
                checkpoints.get((number as usize).wrapping_sub(2)),
                checkpoints.get((number as usize).wrapping_sub(1)),
            ) else {
                return Err(fail(
                    "unexpected-file",
                    location,
                    "no pair of checkpoints for this proof",
                ));
            };
            let text = read(&dir.join(&location), &location)?;
            let proof = ConsistencyProof::parse(&text)
                .map_err(|e| fail("malformed", &location, e.to_string()))?;
            if !proof.verify(old.checkpoint(), new.checkpoint()) {
                return Err(fail("inconsistent", location, "the proof does not verify"));
            }
        }
    }

    // 8. The rotation chain.
    let previous = dir.join("previous");
    match first_entry.as_ref().map(Entry::statement) {
        Some(Statement::Rotation(r)) => {
            let location = "previous/checkpoint.txt";
            let text = read(&previous.join("checkpoint.txt"), location)?;
            let final_cp = SignedCheckpoint::parse(&text)
                .map_err(|e| fail("malformed", location, e.to_string()))?;
            let rotation = |m: &str| fail("rotation", location, m.to_owned());
            final_cp
                .verify_signature(key)
                .map_err(|_| rotation("no countersignature by the new key"))?;
            let cp = final_cp.checkpoint();
            if cp.origin != r.previous.origin
                || cp.size != r.previous.size
                || root_base64(&cp.root) != r.previous.root
            {
                return Err(rotation("the rotation entry does not name this checkpoint"));
            }
            let old_key: VerifierKey = r
                .previous
                .key
                .parse()
                .map_err(|_| rotation("`previous.key` is not a key"))?;
            final_cp
                .verify(&old_key)
                .map_err(|_| rotation("not signed by the previous key"))?;
            if old_key.origin_tenant(&cp.origin) != Some(tenant)
                || old_key.key_id_hex() == key.key_id_hex()
            {
                return Err(rotation(
                    "the previous log is not this tenant's log under another key",
                ));
            }
        }
        _ if previous.exists() => {
            return Err(fail(
                "unexpected-file",
                "previous",
                "only a rotated log has `previous/`",
            ))
        }
        _ => {}
    }
    Ok(ExportReport {
        origin: origin.to_owned(),
        size: frontier.size(),
        checkpoints: checkpoints.len(),
    })
}

/// Checks two signed checkpoints of one log and, when they differ in size,
/// the consistency proof between them (§5). `Ok(false)` means a proof is
/// needed and was not given.
pub fn check_consistency(
    old: &str,
    new: &str,
    proof: Option<&str>,
    key: &VerifierKey,
) -> Result<bool, ExportError> {
    let parse = |text: &str, location: &str| -> Result<SignedCheckpoint, ExportError> {
        let signed = SignedCheckpoint::parse(text)
            .map_err(|e| fail("malformed", location, e.to_string()))?;
        signed
            .verify(key)
            .map_err(|e| fail(note_code(&e), location, e.to_string()))?;
        Ok(signed)
    };
    let (old, new) = (parse(old, "old")?, parse(new, "new")?);
    let (o, n) = (old.checkpoint(), new.checkpoint());
    if o.origin != n.origin {
        return Err(fail(
            "origin-mismatch",
            "new",
            "the checkpoints are of different logs",
        ));
    }
    if o.size > n.size {
        return Err(fail("size-decrease", "old -> new", "the log shrank"));
    }
    if o.size == n.size && o.root != n.root {
        return Err(fail("fork", "old -> new", "two roots for one size"));
    }
    if o.size == 0 {
        return if o.root == EMPTY_ROOT {
            Ok(true)
        } else {
            Err(fail("fork", "old", "not the empty root"))
        };
    }
    let Some(proof) = proof else {
        return Ok(o.size == n.size);
    };
    let proof =
        ConsistencyProof::parse(proof).map_err(|e| fail("malformed", "proof", e.to_string()))?;
    if proof.verify(o, n) {
        Ok(true)
    } else {
        Err(fail("inconsistent", "proof", "the proof does not verify"))
    }
}
