//! Consistency between two checkpoints (`docs/receipt-format.md` §5).
//!
//! A log that shows one history to one auditor and another history to a
//! second is caught here: two checkpoints of one origin must either have the
//! same root at the same size, or come with an RFC 9162 proof that the older
//! tree is a prefix of the newer one.

use crate::checkpoint::{parse_decimal, parse_hash, verify_checkpoint, Checkpoint};
use crate::error::{Failure, VerifyError};
use crate::merkle::{b64, verify_consistency, Hash, ProofError};
use crate::note::VerifierKey;

/// The first line of a consistency proof file.
pub const CONSISTENCY_HEADER: &str = "ward/consistency-proof@v1";

/// A parsed consistency proof file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The old tree size.
    pub old_size: u64,
    /// The new tree size.
    pub new_size: u64,
    /// The proof hashes, in RFC 9162 order.
    pub hashes: Vec<Hash>,
}

/// Parses a consistency proof file.
pub fn parse_consistency_proof(
    bytes: &[u8],
    location: &str,
) -> Result<ConsistencyProof, VerifyError> {
    let malformed = |m: String| VerifyError::new(location, Failure::Malformed(m));
    let text =
        std::str::from_utf8(bytes).map_err(|e| malformed(format!("proof is not UTF-8: {e}")))?;
    let Some(text) = text.strip_suffix('\n') else {
        return Err(VerifyError::new(
            location,
            Failure::Truncated("proof does not end with a newline".to_owned()),
        ));
    };
    let mut lines = text.split('\n');
    let header = lines.next().unwrap_or_default();
    if header != CONSISTENCY_HEADER {
        return Err(malformed(format!(
            "first line is `{header}`, not `{CONSISTENCY_HEADER}`"
        )));
    }
    let mut size_line = |prefix: &str| {
        let line = lines.next().unwrap_or_default();
        line.strip_prefix(prefix)
            .and_then(parse_decimal)
            .ok_or_else(|| malformed(format!("line `{line}` is not `{prefix}<size>`")))
    };
    let old_size = size_line("old ")?;
    let new_size = size_line("new ")?;
    let hashes = lines
        .enumerate()
        .map(|(i, line)| {
            parse_hash(line).ok_or_else(|| {
                malformed(format!(
                    "proof hash {} `{line}` is not base64 of 32 bytes",
                    i + 1
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ConsistencyProof {
        old_size,
        new_size,
        hashes,
    })
}

/// Checks that `new` extends `old` (both already verified checkpoints),
/// with `proof` when the sizes differ. `location` names the pair in errors.
pub fn check_consistent(
    old: &Checkpoint,
    new: &Checkpoint,
    proof: Option<&ConsistencyProof>,
    location: &str,
) -> Result<(), VerifyError> {
    let err = |f: Failure| VerifyError::new(location, f);
    if old.origin != new.origin {
        return Err(err(Failure::OriginMismatch {
            found: new.origin.clone(),
            expected: old.origin.clone(),
        }));
    }
    if new.size < old.size {
        return Err(err(Failure::SizeDecrease {
            size: new.size,
            previous: old.size,
        }));
    }
    if new.size == old.size && new.root != old.root {
        return Err(err(Failure::Fork {
            size: new.size,
            a: b64(&old.root),
            b: b64(&new.root),
        }));
    }
    let hashes: &[Hash] = match proof {
        Some(p) => {
            if p.old_size != old.size || p.new_size != new.size {
                return Err(err(Failure::Malformed(format!(
                    "the proof is for sizes {} to {}, but the checkpoints have sizes {} and {}",
                    p.old_size, p.new_size, old.size, new.size
                ))));
            }
            &p.hashes
        }
        None if old.size == new.size || old.size == 0 => &[],
        None => {
            return Err(err(Failure::Usage(format!(
                "the checkpoints have sizes {} and {}; a consistency proof (--proof FILE) is \
                 needed to compare them",
                old.size, new.size
            ))))
        }
    };
    verify_consistency(old.size, new.size, &old.root, &new.root, hashes).map_err(|e| match e {
        ProofError::Fork { size } => err(Failure::Fork {
            size,
            a: b64(&old.root),
            b: b64(&new.root),
        }),
        other => err(Failure::Inconsistent(other)),
    })
}

/// Verifies two signed checkpoint files and their consistency.
pub fn verify_consistency_files(
    old: (&[u8], &str),
    new: (&[u8], &str),
    proof: Option<(&[u8], &str)>,
    key: &VerifierKey,
) -> Result<(Checkpoint, Checkpoint), VerifyError> {
    let old_cp = verify_checkpoint(old.0, key, old.1)?;
    let new_cp = verify_checkpoint(new.0, key, new.1)?;
    let location = match proof {
        Some((_, p)) => format!("{} -> {} (proof {p})", old.1, new.1),
        None => format!("{} -> {}", old.1, new.1),
    };
    let proof = proof
        .map(|(bytes, location)| parse_consistency_proof(bytes, location))
        .transpose()?;
    check_consistent(&old_cp, &new_cp, proof.as_ref(), &location)?;
    Ok((old_cp, new_cp))
}
