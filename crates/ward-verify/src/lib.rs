//! `ward-verify`: an independent, offline verifier for Ward's audit evidence.
//!
//! Given nothing but a log's public verifier key, it checks a single receipt,
//! a whole log export, or the consistency of two checkpoints, exactly as
//! `docs/receipt-format.md` specifies. It shares no code with `ward-audit`,
//! the writer, on purpose: both are built from the spec and run over the same
//! vectors in `testdata/receipts/`, so a bug in one shows up as a
//! disagreement with the other rather than being silently shared.
//!
//! Everything fails closed: a verification returns `Ok` only when every byte
//! it was given has been accounted for.

mod checkpoint;
pub mod cli;
mod consistency;
mod entries;
mod error;
mod export;
mod merkle;
mod note;
mod receipt;
mod statement;

pub use checkpoint::{check_origin, verify_checkpoint, Checkpoint};
pub use consistency::{
    check_consistent, parse_consistency_proof, verify_consistency_files, ConsistencyProof,
    CONSISTENCY_HEADER,
};
pub use error::{Failure, VerifyError};
pub use export::{verify_log, VerifiedLog};
pub use merkle::{
    empty_root, inclusion_proof_len, leaf_hash, node_hash, verify_consistency, verify_inclusion,
    Hash, ProofError, TreeBuilder,
};
pub use note::{key_id, VerifierKey};
pub use receipt::{verify_receipt, VerifiedReceipt, TLOG_PROOF_HEADER};
pub use statement::{parse_statement, Kind, Previous, Statement, StatementError};
