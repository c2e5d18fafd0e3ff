//! Ward's scanners, redaction and provenance index.
//!
//! A pure crate: no I/O, no clock (the provenance TTL clock is passed in as
//! a value), no environment, no randomness. The same input always gives
//! byte-identical output.
//!
//! - [`DefaultScanners`] runs the built-in [`Scanner`]s (PII with
//!   validators, secrets, injection signals, invisible text, encoded
//!   instructions) and returns [`Finding`]s in canonical order. Secret
//!   keywords and injection triggers are found in one pass over the text. Content
//!   over the size limit yields [`ScanError::TooLarge`]: quarantine it.
//! - [`redact`] and [`redact_json`] replace findings' bytes and nothing
//!   else.
//! - [`ProvenanceIndex`] records what entered an agent's context and
//!   classifies tool-call arguments as trusted, untrusted or new.
//!
//! Mapping to `ward_policy` (this crate does not depend on it): a
//! [`Finding`] becomes `ward_policy::Finding { kind, rule, confidence,
//! arg }` field by field (`arg` is the argument the engine scanned; the
//! span stays with the engine). [`ArgProvenance`] and [`ProvenanceLabel`]
//! are `ward_core`'s, the very types the policy reads.

mod clause;
mod confusable;
mod encoded;
mod error;
mod extract;
mod finding;
mod gitleaks;
mod injection;
mod injection_addressed;
mod injection_detect;
mod injection_lex;
mod injection_template;
mod invisible;
mod keywords;
mod pii;
mod provenance;
mod redact;
mod scanner;
mod secrets;
mod text;
mod validate;

pub use crate::encoded::EncodedScanner;
pub use crate::error::ScanError;
pub use crate::extract::{normalised_tokens, Token, TokenKind};
pub use crate::finding::{Finding, Span};
pub use crate::injection::InjectionScanner;
pub use crate::invisible::InvisibleTextScanner;
pub use crate::pii::PiiScanner;
pub use crate::provenance::{
    ArgProvenance, Content, ProvenanceConfig, ProvenanceIndex, ProvenanceLabel, RecordOutcome,
    Trust,
};
pub use crate::redact::{redact, redact_json, RedactMode};
pub use crate::scanner::{DefaultScanners, ScanLimits, Scanner};
pub use crate::secrets::SecretScanner;
