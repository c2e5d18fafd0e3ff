//! Ward's decision pipeline.
//!
//! [`Engine::decide`] takes the caller's credentials and a request and
//! returns a decision with its receipt, in ARCHITECTURE §4's order:
//! authenticate → kill switch / circuit → registry → idempotency → schema,
//! scan, provenance and policy → approval binding → limits → receipt.
//! The clock, the state store, the audit writer and the JWT verifier are
//! injected. Every failure is a deny with its own reason code.
//!
//! State lives behind [`StateStore`]: [`SqliteState`] is the embedded
//! default; [`PgState`] lets several nodes share state in PostgreSQL.

mod admin;
mod approvals;
mod breaker;
mod bundles;
mod content;
mod engine;
mod gather;
mod identity;
mod jwt;
mod pipeline;
mod registry;
mod state;
mod switches;

pub use admin::Execution;
pub use approvals::{ApprovalRecord, ApprovalStatus, Vote, VoteError};
pub use breaker::{Admit, BreakerConfig, Breakers};
pub use bundles::bundle_record;
pub use engine::{
    system_clock, ActiveBundle, Clock, Engine, EngineConfig, EngineError, RefreshTask,
    TokenVerifier,
};
pub use identity::{
    bind_actor, check_api_key, hash_key, key_id, new_api_key, ApiKeyRecord, AuthError, Credentials,
    Identity, NewApiKey, ROLE_ADMIN, ROLE_AUDITOR, ROLE_BREAK_GLASS,
};
pub use jwt::{load_jwks, JwksError, JwksVerifier, JwtConfig, MAX_TOKEN_BYTES};
pub use pipeline::{Decided, Stage};
pub use registry::{AgentRecord, ModelInfo};
pub use state::{BundleRecord, IdemClaim, LimitTake, PgState, SqliteState, StateError, StateStore};
pub use switches::{BreakGlass, Scope, Switch, SwitchKind};
