//! The crate's errors. `TooLarge` is the one callers meet at run time: it
//! means the content was *not* scanned and must be quarantined, never
//! passed on.

/// Errors from scanning and from loading secret rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// The content is over the size limit and was not scanned.
    #[error("content of {len} bytes is over the scan limit of {limit} bytes: quarantine it")]
    TooLarge {
        /// The content length in bytes.
        len: usize,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// A gitleaks rule file is not valid TOML or has an unknown field.
    #[error("invalid gitleaks rule file: {message}")]
    RuleFile {
        /// The parser's message.
        message: String,
    },
    /// A rule's regex does not compile (or is too large).
    #[error("rule `{id}`: invalid regex: {message}")]
    RuleRegex {
        /// The rule id.
        id: String,
        /// The regex compiler's message.
        message: String,
    },
    /// A rule has no regex (path-only gitleaks rules cannot scan text).
    #[error("rule `{id}` has no `regex`")]
    RuleMissingRegex {
        /// The rule id.
        id: String,
    },
}
