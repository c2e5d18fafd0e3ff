//! The bundle's YAML document, as serde types.
//!
//! Every struct rejects unknown fields, so a typo is an error at load and
//! never a silently ignored rule. Fields whose location matters for later
//! diagnostics are `Spanned`.

use std::collections::HashMap;

use marked_yaml::Spanned;
use serde::Deserialize;

/// One YAML file of a bundle. A bundle is one file or a directory of them;
/// exactly one file carries `metadata`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Document {
    /// The bundle format version; only `1` exists.
    #[serde(default)]
    pub(crate) ward: Option<Spanned<u32>>,
    #[serde(default)]
    pub(crate) metadata: Option<Metadata>,
    #[serde(default)]
    pub(crate) defaults: Option<Defaults>,
    #[serde(default)]
    pub(crate) tools: HashMap<Spanned<String>, Tool>,
    #[serde(default)]
    pub(crate) rules: Vec<Rule>,
    #[serde(default)]
    pub(crate) limits: Vec<Limit>,
    #[serde(default)]
    pub(crate) scanners: Option<Scanners>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Metadata {
    pub(crate) name: Spanned<String>,
    pub(crate) version: Spanned<String>,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "documentation for readers of the bundle; evaluation ignores it"
    )]
    pub(crate) owner: Option<String>,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "documentation for readers of the bundle; evaluation ignores it"
    )]
    pub(crate) description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Defaults {
    /// Outcome when no rule matches, per intervention. `pre_tool_call` is
    /// always `deny` and may not be changed.
    #[serde(default)]
    pub(crate) outcomes: HashMap<Spanned<String>, Spanned<String>>,
    /// What an untrusted-derived sink argument gets: `deny` or `require_approval`.
    #[serde(default)]
    pub(crate) untrusted_sink: Option<Spanned<String>>,
    /// Approval TTL when a rule does not give one, such as `1h`.
    #[serde(default)]
    pub(crate) approval_ttl: Option<Spanned<String>>,
    /// Evaluate and record, but do not enforce.
    #[serde(default)]
    pub(crate) shadow: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tool {
    #[serde(default)]
    pub(crate) description: Option<String>,
    pub(crate) capability: Spanned<String>,
    pub(crate) risk: Spanned<String>,
    pub(crate) consequential: bool,
    /// Arguments that must not be steered by untrusted content.
    #[serde(default)]
    pub(crate) sinks: Vec<Spanned<String>>,
    /// Overrides `defaults.untrusted_sink` for this tool.
    #[serde(default)]
    pub(crate) on_untrusted: Option<Spanned<String>>,
    /// Argument paths recorded in the audit index for queries.
    #[serde(default)]
    pub(crate) indexed: Vec<Spanned<String>>,
    /// What of the tool's output is trusted content for provenance.
    #[serde(default)]
    pub(crate) output: Option<OutputDecl>,
    /// The JSON Schema of the arguments; compiled from the YAML nodes.
    #[expect(
        dead_code,
        reason = "checked for presence here; compiled from the YAML nodes"
    )]
    pub(crate) args: serde::de::IgnoredAny,
}

/// A tool's output trust. By default everything a tool returns is
/// untrusted; a catalog may vouch for a tool as a whole (a directory of the
/// caller's own organisation) or for fields of its JSON output.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutputDecl {
    /// The whole output is trusted.
    #[serde(default)]
    pub(crate) trusted: bool,
    /// JSON paths (`$.users[*].email`) of trusted fields; the rest of the
    /// output stays untrusted, and non-JSON output is untrusted as a whole.
    #[serde(default)]
    pub(crate) trusted_fields: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rule {
    pub(crate) id: Spanned<String>,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "documentation for readers of the bundle; evaluation ignores it"
    )]
    pub(crate) description: Option<String>,
    #[serde(default, rename = "match")]
    pub(crate) matcher: Matcher,
    #[serde(default)]
    pub(crate) when: Option<Spanned<String>>,
    pub(crate) decision: Spanned<String>,
    /// The human sentence reported with the decision.
    #[serde(default)]
    pub(crate) message: Option<String>,
    /// For deny rules: the reason code to report instead of `rule`.
    #[serde(default)]
    pub(crate) code: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) approval: Option<Approval>,
    #[serde(default)]
    pub(crate) constraints: Option<ConstraintsDoc>,
    #[serde(default)]
    pub(crate) rewrite: Vec<Rewrite>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Matcher {
    /// Tool names or glob patterns; empty means every tool.
    #[serde(default)]
    pub(crate) tools: Vec<Spanned<String>>,
    /// Interventions; empty means `pre_tool_call`.
    #[serde(default)]
    pub(crate) interventions: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) capabilities: Vec<Spanned<String>>,
    /// The principal must hold at least one of these roles.
    #[serde(default)]
    pub(crate) roles: Vec<String>,
    #[serde(default)]
    pub(crate) tenants: Vec<String>,
    #[serde(default)]
    pub(crate) agents: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Approval {
    pub(crate) approvers: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) quorum: Option<Spanned<u32>>,
    #[serde(default)]
    pub(crate) ttl: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConstraintsDoc {
    #[serde(default)]
    pub(crate) read_only: bool,
    #[serde(default)]
    pub(crate) max_rows: Option<u64>,
    #[serde(default)]
    pub(crate) timeout_ms: Option<u64>,
}

/// One argument rewrite of a `remediate` rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rewrite {
    /// Replace every match of `pattern` in the string at `path`.
    #[serde(default)]
    pub(crate) redact: Option<Redact>,
    /// Set the argument at `path` to a string value.
    #[serde(default)]
    pub(crate) set: Option<SetArg>,
    /// Remove the argument at `path`.
    #[serde(default)]
    pub(crate) remove: Option<PathOnly>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Redact {
    pub(crate) path: Spanned<String>,
    pub(crate) pattern: Spanned<String>,
    #[serde(default)]
    pub(crate) replacement: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetArg {
    pub(crate) path: Spanned<String>,
    pub(crate) value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PathOnly {
    pub(crate) path: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Limit {
    pub(crate) id: Spanned<String>,
    /// Which actor fields key the counter: `principal`, `tenant`, `agent`, `tool`.
    pub(crate) key: Vec<Spanned<String>>,
    /// Window length, such as `1m`, `1h` or `1d`.
    pub(crate) window: Spanned<String>,
    /// The maximum count, or the maximum sum when `sum` is set.
    pub(crate) max: f64,
    /// An argument path to sum, such as `args.amount`; absent counts requests.
    #[serde(default)]
    pub(crate) sum: Option<Spanned<String>>,
    #[serde(default, rename = "match")]
    pub(crate) matcher: Matcher,
}

/// Scanner settings. The scanners themselves live in `ward-scan`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scanners {
    /// Minimum confidence for an injection finding to be reported.
    #[serde(default)]
    pub injection_threshold: Option<f64>,
    /// Content larger than this is quarantined, never passed unscanned.
    #[serde(default)]
    pub max_content_bytes: Option<u64>,
}
