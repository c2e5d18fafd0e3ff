//! Verification of a whole log export directory (`docs/receipt-format.md` §6).
//!
//! The entries are read in one streaming pass and folded into an incremental
//! RFC 9162 tree, so memory stays O(log n) and time O(n). Whenever the number
//! of entries read reaches a checkpoint's size, the root of that prefix is
//! compared with the checkpoint: every checkpoint is thereby proven
//! consistent with the entries, and so with every other checkpoint, without
//! trusting any proof the exporter supplied. Nothing in the directory is
//! skipped: an unknown file, a truncated line or a gap in the checkpoint
//! numbering is an error.

use std::fs;
use std::path::Path;

use crate::checkpoint::{check_origin, parse_body, verify_checkpoint, verify_note, Checkpoint};
use crate::consistency::{check_consistent, parse_consistency_proof};
use crate::entries::ENTRIES;
use crate::error::{Failure, VerifyError};
use crate::merkle::b64;
use crate::note::{SignedNote, VerifierKey};
use crate::statement::Previous;

/// What a verified export proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLog {
    /// The log's origin.
    pub origin: String,
    /// The number of entries, equal to the last checkpoint's size.
    pub size: u64,
    /// The number of checkpoints verified.
    pub checkpoints: usize,
    /// The number of consistency proof files verified.
    pub proofs: usize,
    /// For a log started by rotation: the previous log's final state and key.
    pub previous: Option<Previous>,
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>, VerifyError> {
    fs::read(dir.join(name)).map_err(|e| VerifyError::new(name, Failure::Io(e)))
}

/// Lists `dir/sub` as `(sequence number, file name)`, sorted, checking the
/// `NNNN.txt` naming.
fn numbered_files(dir: &Path, sub: &str) -> Result<Vec<(u64, String)>, VerifyError> {
    let path = dir.join(sub);
    let listing =
        fs::read_dir(&path).map_err(|e| VerifyError::new(format!("{sub}/"), Failure::Io(e)))?;
    let mut files = Vec::new();
    for item in listing {
        let item = item.map_err(|e| VerifyError::new(format!("{sub}/"), Failure::Io(e)))?;
        let name = item.file_name().to_string_lossy().into_owned();
        let location = format!("{sub}/{name}");
        let seq = name
            .strip_suffix(".txt")
            .filter(|n| n.len() >= 4 && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u64>().ok().filter(|s| format!("{s:04}") == n));
        let is_file = item.file_type().map(|t| t.is_file()).unwrap_or(false);
        match seq {
            Some(seq) if is_file && seq > 0 => files.push((seq, location)),
            _ => return Err(VerifyError::new(location, Failure::UnexpectedFile)),
        }
    }
    files.sort();
    Ok(files)
}

/// Verifies the export in `dir` under `key`.
pub fn verify_log(dir: &Path, key: &VerifierKey) -> Result<VerifiedLog, VerifyError> {
    check_listing(dir)?;

    // 1. The origin.
    let origin_bytes = read(dir, "origin")?;
    let origin = std::str::from_utf8(&origin_bytes)
        .ok()
        .and_then(|s| s.strip_suffix('\n'))
        .filter(|s| !s.is_empty() && !s.contains('\n'))
        .ok_or_else(|| {
            VerifyError::new(
                "origin",
                Failure::Malformed("not a single line ending with a newline".to_owned()),
            )
        })?
        .to_owned();
    let tenant = check_origin(&origin, key)
        .map_err(|f| VerifyError::new("origin", f))?
        .to_owned();

    // 2 and 3. Every checkpoint: signature, origin, sizes.
    let files = numbered_files(dir, "checkpoints")?;
    if files.is_empty() {
        return Err(VerifyError::new(
            "checkpoints/",
            Failure::Malformed("no checkpoints".to_owned()),
        ));
    }
    let mut checkpoints: Vec<(String, Checkpoint)> = Vec::with_capacity(files.len());
    for (expected_seq, (seq, location)) in (1u64..).zip(files) {
        if seq != expected_seq {
            return Err(VerifyError::new(
                location,
                Failure::Malformed(format!(
                    "checkpoint numbering has a gap: expected {expected_seq:04}.txt next"
                )),
            ));
        }
        let bytes = read(dir, &location)?;
        let cp = verify_checkpoint(&bytes, key, &location)?;
        if cp.origin != origin {
            return Err(VerifyError::new(
                location,
                Failure::OriginMismatch {
                    found: cp.origin,
                    expected: origin,
                },
            ));
        }
        if let Some((prev_location, prev)) = checkpoints.last() {
            if cp.size < prev.size {
                return Err(VerifyError::new(
                    location,
                    Failure::SizeDecrease {
                        size: cp.size,
                        previous: prev.size,
                    },
                ));
            }
            if cp.size == prev.size && cp.root != prev.root {
                return Err(VerifyError::new(
                    format!("{prev_location} and {location}"),
                    Failure::Fork {
                        size: cp.size,
                        a: b64(&prev.root),
                        b: b64(&cp.root),
                    },
                ));
            }
        }
        checkpoints.push((location, cp));
    }

    // 4, 5 and 6. The entries, streamed into the tree.
    let (size, first) = crate::entries::verify_entries(dir, &tenant, &checkpoints)?;

    // 7. The consistency proofs supplied with the export.
    let mut proofs = 0;
    if dir.join("proofs").exists() {
        for (seq, location) in numbered_files(dir, "proofs")? {
            let (Some((_, old)), Some((_, new))) = (
                checkpoints.get(usize::try_from(seq).unwrap_or(usize::MAX).wrapping_sub(2)),
                checkpoints.get(usize::try_from(seq).unwrap_or(usize::MAX).wrapping_sub(1)),
            ) else {
                return Err(VerifyError::new(location, Failure::UnexpectedFile));
            };
            let bytes = read(dir, &location)?;
            let proof = parse_consistency_proof(&bytes, &location)?;
            check_consistent(old, new, Some(&proof), &location)?;
            proofs += 1;
        }
    }

    // 8. The chain to the previous key.
    let previous = match first {
        Some(previous) => {
            verify_previous(dir, key, &tenant, &origin, &previous)?;
            Some(previous)
        }
        None if dir.join("previous").exists() => {
            return Err(VerifyError::new(
                "previous/",
                Failure::Rotation("present, but entry 0 is not a `rotation` statement".to_owned()),
            ))
        }
        None => None,
    };

    Ok(VerifiedLog {
        origin,
        size,
        checkpoints: checkpoints.len(),
        proofs,
        previous,
    })
}

fn check_listing(dir: &Path) -> Result<(), VerifyError> {
    let listing = fs::read_dir(dir)
        .map_err(|e| VerifyError::new(dir.display().to_string(), Failure::Io(e)))?;
    for item in listing {
        let item = item.map_err(|e| VerifyError::new(dir.display().to_string(), Failure::Io(e)))?;
        let name = item.file_name().to_string_lossy().into_owned();
        let is_dir = item.file_type().map(|t| t.is_dir()).unwrap_or(false);
        let allowed = match name.as_str() {
            "origin" | ENTRIES => !is_dir,
            "checkpoints" | "proofs" | "previous" => is_dir,
            _ => false,
        };
        if !allowed {
            return Err(VerifyError::new(name, Failure::UnexpectedFile));
        }
    }
    let previous = dir.join("previous");
    if previous.is_dir() {
        let listing =
            fs::read_dir(&previous).map_err(|e| VerifyError::new("previous/", Failure::Io(e)))?;
        for item in listing {
            let item = item.map_err(|e| VerifyError::new("previous/", Failure::Io(e)))?;
            let name = item.file_name().to_string_lossy().into_owned();
            let is_file = item.file_type().map(|t| !t.is_dir()).unwrap_or(false);
            if name != "checkpoint.txt" || !is_file {
                return Err(VerifyError::new(
                    format!("previous/{name}"),
                    Failure::UnexpectedFile,
                ));
            }
        }
    }
    Ok(())
}

/// Checks `previous/checkpoint.txt` against a rotation entry (§7).
fn verify_previous(
    dir: &Path,
    key: &VerifierKey,
    tenant: &str,
    origin: &str,
    previous: &Previous,
) -> Result<(), VerifyError> {
    const LOCATION: &str = "previous/checkpoint.txt";
    let rotation = |m: String| VerifyError::new(LOCATION, Failure::Rotation(m));
    let bytes = read(dir, LOCATION)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| VerifyError::new(LOCATION, Failure::Malformed(format!("not UTF-8: {e}"))))?;
    let note =
        SignedNote::parse(text).map_err(|m| VerifyError::new(LOCATION, Failure::Malformed(m)))?;
    verify_note(&note, key).map_err(|f| {
        rotation(format!(
            "the old log's final checkpoint is not countersigned by this log's key: {f}"
        ))
    })?;
    verify_note(&note, &previous.key)
        .map_err(|f| rotation(format!("not signed by the old key named in entry 0: {f}")))?;
    let old =
        parse_body(note.body).map_err(|m| VerifyError::new(LOCATION, Failure::Malformed(m)))?;
    let old_tenant = check_origin(&old.origin, &previous.key).map_err(|f| {
        rotation(format!(
            "the old origin does not belong to the old key: {f}"
        ))
    })?;
    if old.origin != previous.origin || old.size != previous.size || old.root != previous.root {
        return Err(rotation(format!(
            "the checkpoint is `{}` at size {} with root {}, but entry 0 names `{}` at size {} \
             with root {}",
            old.origin,
            old.size,
            b64(&old.root),
            previous.origin,
            previous.size,
            b64(&previous.root)
        )));
    }
    if old_tenant != tenant {
        return Err(rotation(format!(
            "the old log is for tenant `{old_tenant}`, not `{tenant}`"
        )));
    }
    if old.origin == origin || previous.key.key_id() == key.key_id() {
        return Err(rotation(
            "the old log has the same key as this one".to_owned(),
        ));
    }
    Ok(())
}
