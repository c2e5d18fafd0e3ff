//! The crate's error type.

use crate::entry::EntryError;
use crate::keys::KeyError;
use crate::note::NoteError;
use crate::store::StoreError;

/// Why an audit operation failed. The engine turns any of these into a deny.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The store failed; nothing of the batch was acknowledged.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The entry is not valid.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// A note, receipt or key string is not valid.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// A key file could not be written or read.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The writer thread has stopped.
    #[error("the audit writer has stopped")]
    WriterClosed,
    /// Callers may not append rotation statements; the writer writes them.
    #[error("a `rotation` statement is written only by a key rotation")]
    RotationEntry,
    /// An open log was signed by another key of the same name, and rotation was not allowed.
    #[error("audit log `{origin}` is open under another key; start the writer with rotation allowed to move to the new key")]
    KeyMismatch {
        /// The open log.
        origin: String,
    },
    /// Stored data disagree with each other: the log is damaged or was tampered with.
    #[error("audit log `{origin}` fails verification: {message}")]
    Inconsistent {
        /// The log.
        origin: String,
        /// What disagreed.
        message: String,
    },
    /// No log with that origin or tenant.
    #[error("no audit log `{0}`")]
    UnknownLog(String),
    /// Writing an export failed.
    #[error("cannot write `{path}`: {message}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}
