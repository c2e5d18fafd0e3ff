//! Log entries: the RFC 8785 canonical JSON of one statement
//! (`docs/receipt-format.md` §1). Pure.
//!
//! A statement holds exactly the members of its kind; optional members are
//! omitted, never `null`. Tool arguments, content and results appear only by
//! digest. An [`Entry`] keeps the exact bytes that are hashed into the log
//! together with their parsed statement, so nothing is ever re-encoded.

use serde::{Deserialize, Serialize};
use ward_core::{
    to_canonical_json, Decision, Digest, Intervention, Mode, Outcome, PrincipalKind, ReasonCode,
    Request,
};

use crate::time::Timestamp;

/// The only statement version this crate writes or reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct V1;

impl TryFrom<u64> for V1 {
    type Error = String;
    fn try_from(v: u64) -> Result<V1, String> {
        if v == 1 {
            Ok(V1)
        } else {
            Err(format!("unsupported statement version `{v}`"))
        }
    }
}

impl From<V1> for u64 {
    fn from(_: V1) -> u64 {
        1
    }
}

/// A principal or approver as recorded: attributes are not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedPrincipal {
    /// Stable id.
    pub id: String,
    /// User or service.
    pub kind: PrincipalKind,
    /// Roles, in the order authenticated.
    pub roles: Vec<String>,
}

/// One reason, exactly `{"code", "rule"?, "message"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedReason {
    /// The reason code.
    pub code: ReasonCode,
    /// The rule id, when the reason comes from a rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// A sentence for humans.
    pub message: String,
}

/// The policy a decision was made under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedPolicy {
    /// Bundle name.
    pub name: String,
    /// Bundle version.
    pub version: String,
    /// Bundle digest.
    pub digest: Digest,
}

/// The agent, `{"id", "version"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedAgent {
    /// Registered agent id.
    pub id: String,
    /// Registered agent version.
    pub version: String,
}

/// How an approval relates to a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalRefKind {
    /// This decision opened the approval.
    Requested,
    /// The request carried this approval id.
    Presented,
}

/// An approval reference, `{"id", "ref"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRef {
    /// The approval id.
    pub id: String,
    /// Requested or presented.
    #[serde(rename = "ref")]
    pub reference: ApprovalRefKind,
}

/// `kind: "decision"` (§1.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionStatement {
    /// Always 1.
    pub v: V1,
    /// The decision's id.
    pub decision_id: String,
    /// Digest of the request.
    pub request_digest: Digest,
    /// Digest of the request's arguments.
    pub args_digest: Digest,
    /// The outcome.
    pub outcome: Outcome,
    /// Reasons, in decision order.
    pub reasons: Vec<RecordedReason>,
    /// The policy, when one was loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<RecordedPolicy>,
    /// The agent.
    pub agent: RecordedAgent,
    /// The principal.
    pub principal: RecordedPrincipal,
    /// The tenant.
    pub tenant: String,
    /// The session.
    pub session: String,
    /// The tool, when the request names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Where in the agent loop.
    pub intervention: Intervention,
    /// Enforcement mode.
    pub mode: Mode,
    /// The approval involved, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalRef>,
    /// When the writer recorded it.
    pub time: String,
}

/// An approver's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Approved.
    Granted,
    /// Refused.
    Rejected,
}

/// `kind: "approval"` (§1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalStatement {
    /// Always 1.
    pub v: V1,
    /// The tenant.
    pub tenant: String,
    /// When recorded.
    pub time: String,
    /// The approval.
    pub approval_id: String,
    /// The decision that requested it.
    pub decision_id: String,
    /// The request it is bound to.
    pub request_digest: Digest,
    /// Who decided.
    pub approver: RecordedPrincipal,
    /// Granted or rejected.
    pub verdict: Verdict,
}

/// Whether the tool call succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// It ran and succeeded.
    Ok,
    /// It ran and failed.
    Error,
}

/// `kind: "execution"` (§1.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionStatement {
    /// Always 1.
    pub v: V1,
    /// The tenant.
    pub tenant: String,
    /// When recorded.
    pub time: String,
    /// The pre-call decision.
    pub decision_id: String,
    /// The session.
    pub session: String,
    /// The tool.
    pub tool: String,
    /// Digest of the result.
    pub result_digest: Digest,
    /// Ok or error.
    pub status: ExecutionStatus,
    /// How long it ran.
    pub duration_ms: u64,
}

/// The previous log of a rotation, exactly `{"origin","size","root","key"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousLog {
    /// The old origin.
    pub origin: String,
    /// The old log's final size.
    pub size: u64,
    /// Base64 root hash of the final checkpoint.
    pub root: String,
    /// The old log's verifier key string.
    pub key: String,
}

/// `kind: "rotation"` (§1.5), only ever entry 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationStatement {
    /// Always 1.
    pub v: V1,
    /// The tenant.
    pub tenant: String,
    /// When recorded.
    pub time: String,
    /// The log this one continues.
    pub previous: PreviousLog,
}

/// A statement of any kind.
#[expect(
    clippy::large_enum_variant,
    reason = "statements live briefly, one per append; boxing would only add an allocation"
)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Statement {
    /// A gate decision.
    Decision(DecisionStatement),
    /// An approver's verdict.
    Approval(ApprovalStatement),
    /// What actually ran.
    Execution(ExecutionStatement),
    /// The start of a log after a key rotation.
    Rotation(RotationStatement),
}

/// Why an entry could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The bytes are not a v1 statement.
    #[error("invalid entry: {0}")]
    Invalid(String),
    /// The bytes are a statement but not in canonical form.
    #[error("entry is not RFC 8785 canonical JSON")]
    NotCanonical,
    /// A value has no canonical JSON form.
    #[error("entry cannot be canonicalised: {0}")]
    Canonical(String),
}

/// Whether `tenant` is 1 to 128 characters of `[A-Za-z0-9._-]`.
pub fn valid_tenant(tenant: &str) -> bool {
    (1..=128).contains(&tenant.len())
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

impl Statement {
    /// The tenant the statement belongs to.
    pub fn tenant(&self) -> &str {
        match self {
            Statement::Decision(s) => &s.tenant,
            Statement::Approval(s) => &s.tenant,
            Statement::Execution(s) => &s.tenant,
            Statement::Rotation(s) => &s.tenant,
        }
    }

    /// The recorded time.
    pub fn time(&self) -> &str {
        match self {
            Statement::Decision(s) => &s.time,
            Statement::Approval(s) => &s.time,
            Statement::Execution(s) => &s.time,
            Statement::Rotation(s) => &s.time,
        }
    }

    /// The wire name of the kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Statement::Decision(_) => "decision",
            Statement::Approval(_) => "approval",
            Statement::Execution(_) => "execution",
            Statement::Rotation(_) => "rotation",
        }
    }

    /// Checks the rules serde cannot: tenant, time, non-empty ids.
    fn check(&self) -> Result<(), EntryError> {
        let invalid = |m: &str| Err(EntryError::Invalid(m.to_owned()));
        if !valid_tenant(self.tenant()) {
            return invalid("`tenant` must be 1 to 128 characters of [A-Za-z0-9._-]");
        }
        if self.time().parse::<Timestamp>().is_err() {
            return invalid("`time` must be `YYYY-MM-DDTHH:MM:SS.sssZ`");
        }
        let ids: Vec<&str> = match self {
            Statement::Decision(s) => {
                let mut ids = vec![
                    s.decision_id.as_str(),
                    &s.session,
                    &s.agent.id,
                    &s.principal.id,
                ];
                if let Some(a) = &s.approval {
                    ids.push(&a.id);
                }
                ids
            }
            Statement::Approval(s) => vec![&s.approval_id, &s.decision_id, &s.approver.id],
            Statement::Execution(s) => vec![&s.decision_id, &s.session],
            Statement::Rotation(s) => vec![&s.previous.origin, &s.previous.key],
        };
        if ids.iter().any(|id| id.is_empty()) {
            return invalid("id strings must not be empty");
        }
        if let Statement::Execution(s) = self {
            if s.duration_ms > (1 << 53) - 1 {
                return invalid("`duration_ms` exceeds 2^53 - 1");
            }
        }
        Ok(())
    }
}

/// The exact entry bytes with their parsed statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    bytes: Vec<u8>,
    statement: Statement,
}

impl Entry {
    /// Encodes a statement as canonical JSON after checking it.
    pub fn new(statement: Statement) -> Result<Entry, EntryError> {
        statement.check()?;
        let bytes =
            to_canonical_json(&statement).map_err(|e| EntryError::Canonical(e.to_string()))?;
        Ok(Entry { bytes, statement })
    }

    /// Parses entry bytes, refusing anything that is not a canonical v1 statement.
    pub fn parse(bytes: &[u8]) -> Result<Entry, EntryError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| EntryError::Invalid(e.to_string()))?;
        if value.get("v").and_then(serde_json::Value::as_u64) != Some(1) {
            return Err(EntryError::Invalid("`v` must be 1".to_owned()));
        }
        let statement: Statement = serde_json::from_value(value.clone())
            .map_err(|e| EntryError::Invalid(e.to_string()))?;
        statement.check()?;
        // Re-encoding the parsed statement catches `null` for an omitted
        // member, duplicate members and any non-canonical spelling.
        let canonical =
            to_canonical_json(&statement).map_err(|e| EntryError::Canonical(e.to_string()))?;
        if canonical != bytes {
            return Err(EntryError::NotCanonical);
        }
        Ok(Entry {
            bytes: bytes.to_vec(),
            statement,
        })
    }

    /// The decision statement of a request and the gate's decision at `time`.
    pub fn decision(
        request: &Request,
        decision: &Decision,
        time: Timestamp,
    ) -> Result<Entry, EntryError> {
        let canon = |e: ward_core::CanonicalError| EntryError::Canonical(e.to_string());
        let request_digest = Digest::of_request(request).map_err(canon)?;
        let args_digest = Digest::of_args(&request.args).map_err(canon)?;
        Entry::decision_digested(request, request_digest, args_digest, decision, time)
    }

    /// [`Entry::decision`], for a caller that already holds the request's
    /// digests: `request_digest` must be `Digest::of_request(request)` and
    /// `args_digest` must be `Digest::of_args(&request.args)`.
    pub fn decision_digested(
        request: &Request,
        request_digest: Digest,
        args_digest: Digest,
        decision: &Decision,
        time: Timestamp,
    ) -> Result<Entry, EntryError> {
        debug_assert_eq!(Digest::of_request(request).ok(), Some(request_digest));
        debug_assert_eq!(Digest::of_args(&request.args).ok(), Some(args_digest));
        let approval = match (&request.approval_id, &decision.approval) {
            (Some(id), _) => Some(ApprovalRef {
                id: id.clone(),
                reference: ApprovalRefKind::Presented,
            }),
            (None, Some(ticket)) => Some(ApprovalRef {
                id: ticket.id.clone(),
                reference: ApprovalRefKind::Requested,
            }),
            (None, None) => None,
        };
        let policy = match &decision.policy {
            Some(p) => Some(RecordedPolicy {
                name: p.name.clone(),
                version: p.version.clone(),
                digest: p
                    .digest
                    .parse()
                    .map_err(|e: ward_core::DigestParseError| EntryError::Invalid(e.to_string()))?,
            }),
            None => None,
        };
        let actor = &request.actor;
        Entry::new(Statement::Decision(DecisionStatement {
            v: V1,
            decision_id: decision.decision_id.clone(),
            request_digest,
            args_digest,
            outcome: decision.outcome,
            reasons: decision
                .reasons
                .iter()
                .map(|r| RecordedReason {
                    code: r.code,
                    rule: r.rule.clone(),
                    message: r.message.clone(),
                })
                .collect(),
            policy,
            agent: RecordedAgent {
                id: actor.agent.id.clone(),
                version: actor.agent.version.clone(),
            },
            principal: RecordedPrincipal {
                id: actor.principal.id.clone(),
                kind: actor.principal.kind,
                roles: actor.principal.roles.clone(),
            },
            tenant: actor.tenant.clone(),
            session: actor.session.clone(),
            tool: request.tool.clone(),
            intervention: request.intervention,
            mode: decision.mode,
            approval,
            time: time.to_string(),
        }))
    }

    /// The execution statement of a `post_tool_call` report: what actually
    /// ran for decision `decision_id`. The result is kept only by digest.
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per member of the statement"
    )]
    pub fn execution(
        tenant: &str,
        session: &str,
        decision_id: &str,
        tool: &str,
        result: &serde_json::Value,
        status: ExecutionStatus,
        duration_ms: u64,
        time: Timestamp,
    ) -> Result<Entry, EntryError> {
        Entry::new(Statement::Execution(ExecutionStatement {
            v: V1,
            tenant: tenant.to_owned(),
            time: time.to_string(),
            decision_id: decision_id.to_owned(),
            session: session.to_owned(),
            tool: tool.to_owned(),
            result_digest: Digest::of_canonical(result)
                .map_err(|e| EntryError::Canonical(e.to_string()))?,
            status,
            duration_ms,
        }))
    }

    /// The approval statement of an approver's verdict on a pending approval.
    pub fn approval(
        tenant: &str,
        approval_id: &str,
        decision_id: &str,
        request_digest: Digest,
        approver: &ward_core::Principal,
        verdict: Verdict,
        time: Timestamp,
    ) -> Result<Entry, EntryError> {
        Entry::new(Statement::Approval(ApprovalStatement {
            v: V1,
            tenant: tenant.to_owned(),
            time: time.to_string(),
            approval_id: approval_id.to_owned(),
            decision_id: decision_id.to_owned(),
            request_digest,
            approver: RecordedPrincipal {
                id: approver.id.clone(),
                kind: approver.kind,
                roles: approver.roles.clone(),
            },
            verdict,
        }))
    }

    /// The exact bytes hashed into the log.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The parsed statement.
    pub fn statement(&self) -> &Statement {
        &self.statement
    }

    /// The tenant.
    pub fn tenant(&self) -> &str {
        self.statement.tenant()
    }

    /// The RFC 9162 leaf hash of this entry.
    pub fn leaf_hash(&self) -> crate::merkle::Hash {
        crate::merkle::leaf_hash(&self.bytes)
    }

    /// The columns queries filter on.
    pub(crate) fn facets(&self) -> Facets {
        let mut f = Facets {
            kind: self.statement.kind(),
            time: self.statement.time().to_owned(),
            ..Facets::default()
        };
        match &self.statement {
            Statement::Decision(s) => {
                f.tool = s.tool.clone();
                f.outcome = Some(s.outcome.as_str());
                f.principal = Some(s.principal.id.clone());
                f.agent = Some(s.agent.id.clone());
                f.decision_id = Some(s.decision_id.clone());
                f.rules = s.reasons.iter().filter_map(|r| r.rule.clone()).collect();
            }
            Statement::Approval(s) => {
                f.principal = Some(s.approver.id.clone());
                f.decision_id = Some(s.decision_id.clone());
            }
            Statement::Execution(s) => {
                f.tool = Some(s.tool.clone());
                f.decision_id = Some(s.decision_id.clone());
            }
            Statement::Rotation(_) => {}
        }
        f
    }
}

/// The indexed columns of one entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Facets {
    pub(crate) kind: &'static str,
    pub(crate) time: String,
    pub(crate) tool: Option<String>,
    pub(crate) outcome: Option<&'static str>,
    pub(crate) principal: Option<String>,
    pub(crate) agent: Option<String>,
    pub(crate) decision_id: Option<String>,
    pub(crate) rules: Vec<String>,
}

#[cfg(test)]
#[path = "entry_tests.rs"]
mod tests;
