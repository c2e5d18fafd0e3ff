//! The decision contract shared by every part of Ward.
//!
//! This crate holds the wire types (`Request`, `Decision` and friends), the
//! closed set of reason codes, RFC 8785 canonical JSON, and the SHA-256
//! digests that bind decisions, approvals and receipts to exact inputs. It is
//! pure: no I/O, no clock, no randomness.
//!
//! Every wire type rejects unknown fields, so a typo in a client is an error
//! and never a silently ignored field.

mod canonical;
mod decision;
mod digest;
mod provenance;
mod request;
mod schema;

pub use canonical::{canonical_json, to_canonical_json, CanonicalError};
pub use decision::{
    ApprovalTicket, Constraints, Decision, Mode, Outcome, PolicyRef, Reason, ReasonCode,
};
pub use digest::{Digest, DigestParseError};
pub use provenance::{ArgProvenance, ProvenanceLabel};
pub use request::{
    Actor, AgentRef, ContentSource, Intervention, Principal, PrincipalKind, Request,
    RequestParseError, Trace, Trust,
};
pub use schema::{decision_schema, request_schema};
