//! State the gate keeps besides the audit log: API keys, the agent
//! registry, switches, break-glass overrides, idempotency records, limit
//! counters, approvals and the bundle archive.
//!
//! [`StateStore`] is implemented by [`SqliteState`] (the embedded default:
//! one file in the data directory) and [`PgState`] (several nodes sharing
//! one PostgreSQL database, each with its own connection pool). Both run the same conformance suite
//! (`tests/state_conformance.rs`). Calls are synchronous and short; the
//! engine runs them on the blocking pool. Every operation that must be
//! atomic across nodes (a limit take, an idempotency claim, a vote) is one
//! statement or one transaction in the store.

mod group;
mod postgres;
mod sqlite;

pub use postgres::PgState;
pub use sqlite::SqliteState;

use serde::{Deserialize, Serialize};

use crate::approvals::ApprovalRecord;
use crate::identity::ApiKeyRecord;
use crate::registry::AgentRecord;
use crate::switches::{BreakGlass, Scope, Switch, SwitchKind};

/// A state store failure. The engine turns every one into a deny.
#[derive(Debug, Clone, thiserror::Error)]
#[error("state store: {0}")]
pub struct StateError(pub String);

impl StateError {
    /// Wraps any error.
    pub fn of(e: impl std::fmt::Display) -> StateError {
        StateError(e.to_string())
    }
}

/// The result of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdemClaim {
    /// The key is new; the caller now owns it and must [`StateStore::idem_finish`].
    Claimed,
    /// The key was used before for `request_digest`; `decision` is the
    /// stored decision JSON, or `None` while the first call is in flight.
    Seen {
        /// Digest of the first request with this key.
        request_digest: String,
        /// The first decision, once finished.
        decision: Option<String>,
    },
}

/// The result of taking from a limit counter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LimitTake {
    /// Taken; the counter now stands at `used`.
    Taken {
        /// Used after the take.
        used: f64,
    },
    /// Refused: taking would pass the maximum; the counter stands at `used`.
    Refused {
        /// Used before (and after) the refused take.
        used: f64,
    },
}

/// A bundle version in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleRecord {
    /// `sha256:` digest of the bundle.
    pub digest: String,
    /// Bundle name.
    pub name: String,
    /// Bundle version.
    pub version: String,
    /// The source files, `(name, YAML text)`.
    pub files: Vec<(String, String)>,
    /// The detached signature JSON, if it was signed.
    pub signature: Option<String>,
    /// Uploaded, Unix milliseconds.
    pub uploaded_ms: i64,
}

/// The gate's state, shared by every node that uses the same store.
pub trait StateStore: Send + Sync + 'static {
    /// Adds or replaces an API key record (by id).
    fn put_api_key(&self, key: &ApiKeyRecord) -> Result<(), StateError>;
    /// Every API key record.
    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StateError>;

    /// Adds or replaces an agent version (by id and version).
    fn put_agent(&self, agent: &AgentRecord) -> Result<(), StateError>;
    /// Every registered agent version.
    fn agents(&self) -> Result<Vec<AgentRecord>, StateError>;

    /// Sets a switch (by kind and scope).
    fn put_switch(&self, switch: &Switch) -> Result<(), StateError>;
    /// Clears a switch; `false` if none was set.
    fn clear_switch(&self, kind: SwitchKind, scope: &Scope) -> Result<bool, StateError>;
    /// Every switch that is set.
    fn switches(&self) -> Result<Vec<Switch>, StateError>;

    /// Records a break-glass override.
    fn put_break_glass(&self, grant: &BreakGlass) -> Result<(), StateError>;
    /// Break-glass overrides that expire after `now_ms`.
    fn break_glass(&self, now_ms: i64) -> Result<Vec<BreakGlass>, StateError>;

    /// Claims `key` in `tenant` for a request, atomically: exactly one
    /// caller in the whole cluster gets [`IdemClaim::Claimed`]. Records
    /// older than `expire_before_ms` count as absent.
    fn idem_claim(
        &self,
        tenant: &str,
        key: &str,
        request_digest: &str,
        now_ms: i64,
        expire_before_ms: i64,
    ) -> Result<IdemClaim, StateError>;
    /// Stores the decision of a claimed key.
    fn idem_finish(&self, tenant: &str, key: &str, decision: &str) -> Result<(), StateError>;
    /// Releases a claim whose decision could not be made, so a retry can.
    fn idem_release(&self, tenant: &str, key: &str) -> Result<(), StateError>;
    /// Deletes at most `most` of the records older than `expire_before_ms`
    /// (which count as absent already), oldest first, and says how many.
    fn idem_purge(&self, expire_before_ms: i64, most: u32) -> Result<u64, StateError>;

    /// Adds `amount` to the counter `key` for the window starting at
    /// `window_start`, unless that would pass `max`. Atomic across nodes.
    fn limit_take(
        &self,
        key: &str,
        window_start: i64,
        amount: f64,
        max: f64,
    ) -> Result<LimitTake, StateError>;
    /// The counter `key` in the window starting at `window_start`.
    fn limit_used(&self, key: &str, window_start: i64) -> Result<f64, StateError>;

    /// Stores a new approval; an existing one with the same id is kept
    /// (ids are derived from the decision, so a replay is harmless).
    fn create_approval(&self, approval: &ApprovalRecord) -> Result<(), StateError>;
    /// One approval.
    fn approval(&self, id: &str) -> Result<Option<ApprovalRecord>, StateError>;
    /// Approvals of a tenant (`None`: every tenant), newest first.
    fn approvals(&self, tenant: Option<&str>) -> Result<Vec<ApprovalRecord>, StateError>;
    /// The approvals of `tenant` opened for the request digest
    /// `request_digest`, newest first, found by an index: what a call held
    /// for approval looks up each time it asks again, however many other
    /// approvals the tenant has.
    fn approvals_for_call(
        &self,
        tenant: &str,
        request_digest: &str,
    ) -> Result<Vec<ApprovalRecord>, StateError>;
    /// Replaces `old` by `new` if the stored record still equals `old`
    /// (compare and swap on the vote count); `false` if it changed meanwhile.
    fn update_approval(
        &self,
        old: &ApprovalRecord,
        new: &ApprovalRecord,
    ) -> Result<bool, StateError>;

    /// Archives a bundle version (by digest; re-uploading is harmless).
    fn put_bundle(&self, bundle: &BundleRecord) -> Result<(), StateError>;
    /// One archived bundle.
    fn bundle(&self, digest: &str) -> Result<Option<BundleRecord>, StateError>;
    /// Archived bundles, newest first, without their files.
    fn bundles(&self) -> Result<Vec<BundleRecord>, StateError>;
    /// Makes an archived bundle the active one.
    fn activate_bundle(&self, digest: &str, now_ms: i64) -> Result<(), StateError>;
    /// The active bundle's digest.
    fn active_bundle(&self) -> Result<Option<String>, StateError>;
}
