//! The one error type of the verifier.
//!
//! Every failure says *where* (a file, a line, an entry index) and *what*. The
//! [`Failure::code`] of each kind is stable and is what the conformance
//! vectors in `testdata/receipts/manifest.json` name, so that `ward-audit`'s
//! tests can assert the same failures without matching on English prose.

use crate::merkle::ProofError;

/// A verification that did not succeed, and where.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {failure}")]
pub struct VerifyError {
    location: String,
    failure: Failure,
}

impl VerifyError {
    pub(crate) fn new(location: impl Into<String>, failure: Failure) -> VerifyError {
        VerifyError {
            location: location.into(),
            failure,
        }
    }

    /// The same failure, with its location put under `prefix` (a directory).
    pub(crate) fn under(self, prefix: &str) -> VerifyError {
        VerifyError {
            location: format!("{prefix}/{}", self.location),
            failure: self.failure,
        }
    }

    /// Where the failure was found, e.g. `checkpoints/0003.txt` or
    /// `entry 17 (line 18 of entries.jsonl)`.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// What failed.
    pub fn failure(&self) -> &Failure {
        &self.failure
    }

    /// Whether this is the caller's mistake (a malformed key, a missing
    /// argument) rather than evidence that does not verify.
    pub fn is_usage(&self) -> bool {
        matches!(self.failure, Failure::Usage(_))
    }
}

/// What failed. The message is lowercase and shows the offending values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The invocation was wrong: a malformed key string, a missing proof.
    #[error("{0}")]
    Usage(String),
    /// A file could not be read.
    #[error("cannot read: {0}")]
    Io(#[source] std::io::Error),
    /// A note, checkpoint, proof or file does not follow the format.
    #[error("malformed: {0}")]
    Malformed(String),
    /// A line of `entries.jsonl` or a receipt's entry is not JSON.
    #[error("not valid JSON: {0}")]
    NotJson(String),
    /// Valid JSON, but not a v1 statement.
    #[error("not a valid v1 statement: {0}")]
    InvalidEntry(String),
    /// A file ends early.
    #[error("truncated: {0}")]
    Truncated(String),
    /// No signature line by the trusted key.
    #[error("no signature by key `{key}` (signed only by {others})")]
    NoSignature {
        /// The trusted key's name and id.
        key: String,
        /// The signers that were found instead.
        others: String,
    },
    /// A signature line by the trusted key that does not verify.
    #[error("signature by key `{key}` does not verify")]
    BadSignature {
        /// The trusted key's name and id.
        key: String,
    },
    /// The origin is not one the trusted key may sign for.
    #[error("origin `{origin}` does not belong to key `{key}`: {why}")]
    ForeignOrigin {
        /// The origin found.
        origin: String,
        /// The trusted key's name and id.
        key: String,
        /// What is wrong with it.
        why: String,
    },
    /// Two origins that should be equal are not.
    #[error("origin `{found}` differs from the log's origin `{expected}`")]
    OriginMismatch {
        /// The origin found.
        found: String,
        /// The origin expected.
        expected: String,
    },
    /// An entry names a tenant other than the log's.
    #[error("entry tenant `{found}` differs from the log's tenant `{expected}`")]
    TenantMismatch {
        /// The tenant in the entry.
        found: String,
        /// The tenant of the origin.
        expected: String,
    },
    /// A receipt's inclusion proof does not verify.
    #[error("leaf hash does not match the checkpoint: {0}")]
    Inclusion(#[source] ProofError),
    /// The entries do not hash to a checkpoint's root.
    #[error(
        "the root recomputed from entries 0..{size} is {computed}, but the checkpoint says \
         {claimed}; an entry at index {first_suspect}..{size} (lines {first_line}..={size} of \
         entries.jsonl) was edited, dropped, inserted or reordered"
    )]
    RootMismatch {
        /// The checkpoint's tree size.
        size: u64,
        /// base64 of the recomputed root.
        computed: String,
        /// base64 of the checkpoint's root.
        claimed: String,
        /// The size of the last checkpoint that did match (0 if none).
        first_suspect: u64,
        /// `first_suspect + 1`.
        first_line: u64,
    },
    /// Checkpoint sizes go backwards.
    #[error("tree size {size} is smaller than the size {previous} of the checkpoint before it")]
    SizeDecrease {
        /// This checkpoint's size.
        size: u64,
        /// The previous checkpoint's size.
        previous: u64,
    },
    /// Two checkpoints of one size with different roots.
    #[error("fork: both checkpoints have size {size} but different roots ({a} and {b})")]
    Fork {
        /// The common size.
        size: u64,
        /// base64 of one root.
        a: String,
        /// base64 of the other root.
        b: String,
    },
    /// A consistency proof does not verify.
    #[error("checkpoints are not consistent: {0}")]
    Inconsistent(#[source] ProofError),
    /// More entries than the last checkpoint covers.
    #[error(
        "holds more entries than the last checkpoint's size {size}; entry {size} and the \
         entries after it are not covered by any checkpoint"
    )]
    UncoveredEntries {
        /// The last checkpoint's size.
        size: u64,
    },
    /// Fewer entries than the last checkpoint covers.
    #[error(
        "holds {entries} entries but the last checkpoint has size {size}; \
         entries {entries}..{size} are missing"
    )]
    MissingEntries {
        /// Entries in the export.
        entries: u64,
        /// The last checkpoint's size.
        size: u64,
    },
    /// The chain to a previous log's key does not hold.
    #[error("rotation: {0}")]
    Rotation(String),
    /// A file the format does not define.
    #[error("unexpected file; an export holds only origin, entries.jsonl, checkpoints/, proofs/ and previous/")]
    UnexpectedFile,
}

impl Failure {
    /// A stable, machine-readable name for the kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Usage(_) => "usage",
            Failure::Io(_) => "io",
            Failure::Malformed(_) => "malformed",
            Failure::NotJson(_) => "not-json",
            Failure::InvalidEntry(_) => "invalid-entry",
            Failure::Truncated(_) => "truncated",
            Failure::NoSignature { .. } => "no-signature",
            Failure::BadSignature { .. } => "bad-signature",
            Failure::ForeignOrigin { .. } => "foreign-origin",
            Failure::OriginMismatch { .. } => "origin-mismatch",
            Failure::TenantMismatch { .. } => "tenant-mismatch",
            Failure::Inclusion(_) => "inclusion",
            Failure::RootMismatch { .. } => "root-mismatch",
            Failure::SizeDecrease { .. } => "size-decrease",
            Failure::Fork { .. } => "fork",
            Failure::Inconsistent(_) => "inconsistent",
            Failure::UncoveredEntries { .. } => "uncovered-entries",
            Failure::MissingEntries { .. } => "missing-entries",
            Failure::Rotation(_) => "rotation",
            Failure::UnexpectedFile => "unexpected-file",
        }
    }
}
