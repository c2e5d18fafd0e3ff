//! Ward's evidence: per-tenant append-only Merkle logs (RFC 9162), signed
//! checkpoints (C2SP tlog-checkpoint as a signed note) and receipts (C2SP
//! tlog-proof), written by a group-commit writer to SQLite or PostgreSQL.
//!
//! Every byte that is hashed or signed follows `docs/receipt-format.md`.
//! The Merkle math ([`merkle`]), the entry encoding ([`entry`]) and the note
//! formats ([`note`]) are pure; storage, clock and keys are injected.

mod append;
mod audit;
pub mod entry;
mod error;
mod export_check;
mod keys;
pub mod merkle;
pub mod note;
mod store;
mod time;
mod writer;

pub use append::AppendRequest;
pub use audit::{check, export, export_log, forget_payload, logs_of, query, LogAnswer, LogReport};
pub use entry::{Entry, EntryError, ExecutionStatus, Statement, Verdict};
pub use error::AuditError;
pub use export_check::{check_consistency, check_export, ExportError, ExportReport};
pub use keys::{generate_key, load_key, KeyError};
pub use note::{
    Checkpoint, ConsistencyProof, LogKey, NoteError, Receipt, SignedCheckpoint, VerifierKey,
};
pub use store::checkpointer::Checkpointer;
pub use store::postgres::PgStore;
pub use store::sqlite::SqliteStore;
pub use store::trailing::IndexLag;
pub use store::{
    ArgFilter, ArgOp, ArgValue, Batch, CheckpointRow, EntryRow, Filter, Hit, LogAppend, LogInfo,
    LogState, Store, StoreError, Syncer, FIRST_STORED_LEVEL,
};
pub use time::{Timestamp, TimestampError};
pub use writer::{Clock, Writer, WriterConfig};
