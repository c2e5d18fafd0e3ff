//! The decision: what the gate answers, and why.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What the agent may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The call may run as asked.
    Allow,
    /// The call may run with the returned `constraints`.
    AllowWithConstraints,
    /// The call may run only with `rewritten_args`.
    Remediate,
    /// The call waits for a human approval bound to this exact request.
    RequireApproval,
    /// The call must not run.
    Deny,
}

impl Outcome {
    /// Restrictiveness: a higher rank wins when rules combine.
    /// `deny` > `require_approval` > `remediate` > `allow_with_constraints` > `allow`.
    pub fn rank(self) -> u8 {
        match self {
            Outcome::Allow => 0,
            Outcome::AllowWithConstraints => 1,
            Outcome::Remediate => 2,
            Outcome::RequireApproval => 3,
            Outcome::Deny => 4,
        }
    }

    /// Whether the call may be dispatched right away (perhaps altered).
    pub fn permits(self) -> bool {
        matches!(
            self,
            Outcome::Allow | Outcome::AllowWithConstraints | Outcome::Remediate
        )
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::AllowWithConstraints => "allow_with_constraints",
            Outcome::Remediate => "remediate",
            Outcome::RequireApproval => "require_approval",
            Outcome::Deny => "deny",
        }
    }
}

/// The closed set of reason codes. Each deny path of the pipeline has its own.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// A policy rule matched; `rule` names it.
    Rule,
    /// No rule permitted the call.
    DefaultDeny,
    /// The tool is not in the bundle's catalog.
    UnknownTool,
    /// The agent id or version is not registered and active.
    UnknownAgent,
    /// The arguments do not satisfy the tool's schema.
    SchemaViolation,
    /// A sink argument was derived only from untrusted content.
    UntrustedFlow,
    /// A scanner finding (PII, secret, injection) decided the outcome.
    ScanFinding,
    /// A kill switch covers the call.
    KillSwitch,
    /// The tool's circuit breaker is open.
    CircuitOpen,
    /// A rate limit is exhausted.
    RateLimited,
    /// A budget is exhausted.
    BudgetExceeded,
    /// The call waits for approval.
    ApprovalPending,
    /// The approval expired.
    ApprovalExpired,
    /// The approval was granted for a different call (arguments or actor).
    ApprovalMismatch,
    /// The approval was granted under a policy version that is no longer active.
    ApprovalPolicyChanged,
    /// An approver rejected the call.
    ApprovalRejected,
    /// The approval already let its call run once; an approval is single-use.
    ApprovalUsed,
    /// The idempotency key was seen with different arguments.
    IdempotentReplay,
    /// No valid policy bundle is loaded.
    PolicyUnavailable,
    /// The decision ran past its time budget.
    Timeout,
    /// An internal error; the gate failed closed.
    InternalError,
    /// A break-glass override permitted the call.
    BreakGlass,
    /// Shadow mode: the decision was recorded but not enforced.
    Shadow,
}

impl ReasonCode {
    /// The wire name, as in `default_deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::Rule => "rule",
            ReasonCode::DefaultDeny => "default_deny",
            ReasonCode::UnknownTool => "unknown_tool",
            ReasonCode::UnknownAgent => "unknown_agent",
            ReasonCode::SchemaViolation => "schema_violation",
            ReasonCode::UntrustedFlow => "untrusted_flow",
            ReasonCode::ScanFinding => "scan_finding",
            ReasonCode::KillSwitch => "kill_switch",
            ReasonCode::CircuitOpen => "circuit_open",
            ReasonCode::RateLimited => "rate_limited",
            ReasonCode::BudgetExceeded => "budget_exceeded",
            ReasonCode::ApprovalPending => "approval_pending",
            ReasonCode::ApprovalExpired => "approval_expired",
            ReasonCode::ApprovalMismatch => "approval_mismatch",
            ReasonCode::ApprovalPolicyChanged => "approval_policy_changed",
            ReasonCode::ApprovalRejected => "approval_rejected",
            ReasonCode::ApprovalUsed => "approval_used",
            ReasonCode::IdempotentReplay => "idempotent_replay",
            ReasonCode::PolicyUnavailable => "policy_unavailable",
            ReasonCode::Timeout => "timeout",
            ReasonCode::InternalError => "internal_error",
            ReasonCode::BreakGlass => "break_glass",
            ReasonCode::Shadow => "shadow",
        }
    }
}

/// One reason behind a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// The reason code.
    pub code: ReasonCode,
    /// The rule that fired, when `code` comes from a rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// A sentence for humans.
    pub message: String,
}

/// The exact policy a decision was made under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    /// Bundle name.
    pub name: String,
    /// Bundle semver version.
    pub version: String,
    /// `sha256:` digest of the bundle's canonical encoding.
    pub digest: String,
}

/// Limits under which an `allow_with_constraints` call may run.
/// When rules combine, the strictest value of each field wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    /// The call must not write.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// At most this many rows or items may be returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<u64>,
    /// The call must finish within this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

impl Constraints {
    /// Merges `other` into `self`, keeping the strictest value of each field.
    pub fn merge(&mut self, other: &Constraints) {
        self.read_only |= other.read_only;
        self.max_rows = min_some(self.max_rows, other.max_rows);
        self.timeout_ms = min_some(self.timeout_ms, other.timeout_ms);
    }

    /// Whether no constraint is set.
    pub fn is_empty(&self) -> bool {
        self == &Constraints::default()
    }
}

fn min_some(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// A pending approval, bound to the exact call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalTicket {
    /// Approval id; the agent retries with it.
    pub id: String,
    /// RFC 3339 UTC time after which the approval is void.
    pub expires_at: String,
    /// Who may approve, as `role:NAME` or `principal:ID`.
    pub approvers: Vec<String>,
    /// How many distinct approvers are needed.
    pub quorum: u32,
}

/// Whether the decision was enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The outcome is enforced.
    Enforce,
    /// The outcome was recorded, and the call allowed.
    Shadow,
    /// A break-glass operator overrode the outcome.
    Override,
}

impl Mode {
    /// The wire name: `enforce`, `shadow` or `override`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Shadow => "shadow",
            Mode::Override => "override",
        }
    }
}

/// The gate's answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Unique, deterministic id of this decision.
    pub decision_id: String,
    /// What the agent may do.
    pub outcome: Outcome,
    /// Why, in bundle order of the rules that fired.
    pub reasons: Vec<Reason>,
    /// The policy the decision was made under, if one was loaded.
    pub policy: Option<PolicyRef>,
    /// For `allow_with_constraints`.
    pub constraints: Option<Constraints>,
    /// For `remediate`: the only arguments the call may run with.
    pub rewritten_args: Option<Map<String, Value>>,
    /// For `require_approval`.
    pub approval: Option<ApprovalTicket>,
    /// Whether the outcome is enforced.
    pub mode: Mode,
    /// The C2SP tlog-proof receipt, once the decision is durable.
    pub receipt: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_follow_the_precedence_of_the_architecture() {
        let order = [
            Outcome::Allow,
            Outcome::AllowWithConstraints,
            Outcome::Remediate,
            Outcome::RequireApproval,
            Outcome::Deny,
        ];
        for pair in order.windows(2) {
            assert!(pair[0].rank() < pair[1].rank());
        }
    }

    #[test]
    fn constraints_merge_to_the_strictest() {
        let mut a = Constraints {
            read_only: false,
            max_rows: Some(100),
            timeout_ms: None,
        };
        a.merge(&Constraints {
            read_only: true,
            max_rows: Some(500),
            timeout_ms: Some(10),
        });
        assert_eq!(
            a,
            Constraints {
                read_only: true,
                max_rows: Some(100),
                timeout_ms: Some(10)
            }
        );
    }

    #[test]
    fn wire_names_match_serde() {
        let json = serde_json::to_string(&ReasonCode::DefaultDeny).unwrap();
        assert_eq!(json, format!("\"{}\"", ReasonCode::DefaultDeny.as_str()));
        let json = serde_json::to_string(&Outcome::AllowWithConstraints).unwrap();
        assert_eq!(
            json,
            format!("\"{}\"", Outcome::AllowWithConstraints.as_str())
        );
    }
}
