//! Approvals: a pending approval is bound to the exact call (the request
//! digest), the policy digest and an expiry. The vote logic here is pure;
//! the state store keeps the records and applies votes atomically.

use serde::{Deserialize, Serialize};
use ward_core::{Principal, ReasonCode};

/// Where an approval stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for votes.
    Pending,
    /// The quorum approved.
    Approved,
    /// An approver rejected it.
    Rejected,
    /// Approved, and its call has run: an approval lets one call through.
    Used,
}

impl ApprovalStatus {
    /// `pending`, `approved`, `rejected` or `used`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Used => "used",
        }
    }
}

/// One approver's vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vote {
    /// Approver principal id.
    pub approver: String,
    /// The approver's roles when voting.
    pub roles: Vec<String>,
    /// `true` approves, `false` rejects.
    pub approve: bool,
    /// Optional comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// When, Unix milliseconds.
    pub at_ms: i64,
}

/// A stored approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRecord {
    /// `apr_...`, derived from the decision.
    pub id: String,
    /// Tenant of the call.
    pub tenant: String,
    /// The decision that opened it.
    pub decision_id: String,
    /// `sha256:` digest of the canonical request.
    pub request_digest: String,
    /// Digest of the policy that asked for it.
    pub policy_digest: String,
    /// The tool, for the inbox.
    #[serde(default)]
    pub tool: Option<String>,
    /// The arguments, for the inbox (the approver sees what they approve).
    #[serde(default)]
    pub args: serde_json::Map<String, serde_json::Value>,
    /// Why it was asked for.
    pub message: String,
    /// The principal whose call it is; they may not approve it.
    pub requester: String,
    /// `role:NAME` or `principal:ID`.
    pub approvers: Vec<String>,
    /// Distinct approvals needed.
    pub quorum: u32,
    /// Opened, Unix milliseconds.
    pub created_ms: i64,
    /// Expires, Unix milliseconds.
    pub expires_ms: i64,
    /// Where it stands.
    pub status: ApprovalStatus,
    /// Votes, in order.
    pub votes: Vec<Vote>,
    /// The decision that used the approval, once its call ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by: Option<String>,
}

/// Why a vote was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoteError {
    /// No such approval in the voter's tenant.
    #[error("no approval `{0}`")]
    NotFound(String),
    /// Already approved or rejected.
    #[error("approval is already {0}")]
    Closed(&'static str),
    /// Past its expiry.
    #[error("approval expired")]
    Expired,
    /// The requester tried to approve their own call.
    #[error("self-approval is refused: `{0}` made the request")]
    SelfApproval(String),
    /// The voter holds none of the required roles.
    #[error("`{voter}` is not an approver; needs one of {needed}")]
    NotApprover {
        /// The voter.
        voter: String,
        /// The approver specs.
        needed: String,
    },
    /// The voter already voted.
    #[error("`{0}` has already voted")]
    AlreadyVoted(String),
}

impl ApprovalRecord {
    /// Whether `who` may vote on this approval.
    fn may_vote(&self, who: &Principal) -> bool {
        self.approvers
            .iter()
            .any(|spec| match spec.split_once(':') {
                Some(("role", role)) => who.roles.iter().any(|r| r == role),
                Some(("principal", id)) => who.id == id,
                _ => false,
            })
    }

    /// Applies a vote, returning the updated record. Pure.
    pub fn vote(
        &self,
        who: &Principal,
        approve: bool,
        comment: Option<String>,
        now_ms: i64,
    ) -> Result<ApprovalRecord, VoteError> {
        if self.status != ApprovalStatus::Pending {
            return Err(VoteError::Closed(self.status.as_str()));
        }
        if now_ms >= self.expires_ms {
            return Err(VoteError::Expired);
        }
        if who.id == self.requester {
            return Err(VoteError::SelfApproval(who.id.clone()));
        }
        if !self.may_vote(who) {
            return Err(VoteError::NotApprover {
                voter: who.id.clone(),
                needed: self.approvers.join(", "),
            });
        }
        if self.votes.iter().any(|v| v.approver == who.id) {
            return Err(VoteError::AlreadyVoted(who.id.clone()));
        }
        let mut next = self.clone();
        next.votes.push(Vote {
            approver: who.id.clone(),
            roles: who.roles.clone(),
            approve,
            comment,
            at_ms: now_ms,
        });
        let approvals = next.votes.iter().filter(|v| v.approve).count();
        next.status = if !approve {
            ApprovalStatus::Rejected
        } else if approvals >= usize::try_from(self.quorum.max(1)).unwrap_or(usize::MAX) {
            ApprovalStatus::Approved
        } else {
            ApprovalStatus::Pending
        };
        Ok(next)
    }

    /// Checks a retried call that presents this approval. `Ok` lets the call
    /// through; `Err` is the reason code and message of the deny.
    pub fn admits(
        &self,
        tenant: &str,
        request_digest: &str,
        policy_digest: &str,
        now_ms: i64,
    ) -> Result<(), (ReasonCode, String)> {
        if self.tenant != tenant || self.request_digest != request_digest {
            return Err((
                ReasonCode::ApprovalMismatch,
                format!(
                    "approval {} was granted for a different call; the arguments or actor changed",
                    self.id
                ),
            ));
        }
        if self.policy_digest != policy_digest {
            return Err((
                ReasonCode::ApprovalPolicyChanged,
                format!(
                    "approval {} was granted under policy {}; the active policy is {policy_digest}",
                    self.id, self.policy_digest
                ),
            ));
        }
        match self.status {
            ApprovalStatus::Rejected => Err((
                ReasonCode::ApprovalRejected,
                format!("approval {} was rejected", self.id),
            )),
            _ if now_ms >= self.expires_ms => Err((
                ReasonCode::ApprovalExpired,
                format!("approval {} expired", self.id),
            )),
            ApprovalStatus::Pending => Err((
                ReasonCode::ApprovalPending,
                format!(
                    "approval {} is still pending ({} of {} approvals)",
                    self.id,
                    self.votes.iter().filter(|v| v.approve).count(),
                    self.quorum
                ),
            )),
            ApprovalStatus::Used => Err((
                ReasonCode::ApprovalUsed,
                format!(
                    "approval {} already let its call run (decision {}); ask again",
                    self.id,
                    self.used_by.as_deref().unwrap_or("-")
                ),
            )),
            ApprovalStatus::Approved => Ok(()),
        }
    }

    /// The record once `decision_id` has used the approval.
    pub fn used(&self, decision_id: &str) -> ApprovalRecord {
        ApprovalRecord {
            status: ApprovalStatus::Used,
            used_by: Some(decision_id.to_owned()),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;
    use ward_core::PrincipalKind;

    fn person(id: &str, roles: &[&str]) -> Principal {
        Principal {
            id: id.into(),
            kind: PrincipalKind::User,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            attrs: Default::default(),
        }
    }

    fn pending(quorum: u32) -> ApprovalRecord {
        ApprovalRecord {
            id: "apr_1".into(),
            tenant: "acme".into(),
            decision_id: "dec_1".into(),
            request_digest: "sha256:aa".into(),
            policy_digest: "sha256:pp".into(),
            tool: Some("approve_refund".into()),
            args: Default::default(),
            message: "big refund".into(),
            requester: "u-1".into(),
            approvers: vec!["role:finance".into()],
            quorum,
            created_ms: 0,
            expires_ms: 1000,
            status: ApprovalStatus::Pending,
            votes: vec![],
            used_by: None,
        }
    }

    #[test]
    fn quorum_self_approval_roles_and_expiry() {
        let a = pending(2);
        let fin1 = person("f-1", &["finance"]);
        let fin2 = person("f-2", &["finance"]);
        assert!(matches!(
            a.vote(&person("u-1", &["finance"]), true, None, 1),
            Err(VoteError::SelfApproval(_))
        ));
        assert!(matches!(
            a.vote(&person("x", &["support"]), true, None, 1),
            Err(VoteError::NotApprover { .. })
        ));
        assert!(matches!(
            a.vote(&fin1, true, None, 1000),
            Err(VoteError::Expired)
        ));
        let one = a.vote(&fin1, true, None, 1).unwrap();
        assert_eq!(one.status, ApprovalStatus::Pending);
        assert!(matches!(
            one.vote(&fin1, true, None, 2),
            Err(VoteError::AlreadyVoted(_))
        ));
        let two = one.vote(&fin2, true, None, 2).unwrap();
        assert_eq!(two.status, ApprovalStatus::Approved);
        assert!(matches!(
            two.vote(&person("f-3", &["finance"]), false, None, 3),
            Err(VoteError::Closed("approved"))
        ));
        let no = a.vote(&fin1, false, Some("no".into()), 1).unwrap();
        assert_eq!(no.status, ApprovalStatus::Rejected);
    }

    #[test]
    fn a_retry_must_match_the_call_the_policy_and_the_clock() {
        let ok = pending(1)
            .vote(&person("f-1", &["finance"]), true, None, 1)
            .unwrap();
        assert_eq!(ok.admits("acme", "sha256:aa", "sha256:pp", 2), Ok(()));
        let code = |r: Result<(), (ReasonCode, String)>| r.unwrap_err().0;
        assert_eq!(
            code(ok.admits("acme", "sha256:bb", "sha256:pp", 2)),
            ReasonCode::ApprovalMismatch
        );
        assert_eq!(
            code(ok.admits("globex", "sha256:aa", "sha256:pp", 2)),
            ReasonCode::ApprovalMismatch
        );
        assert_eq!(
            code(ok.admits("acme", "sha256:aa", "sha256:p2", 2)),
            ReasonCode::ApprovalPolicyChanged
        );
        assert_eq!(
            code(ok.admits("acme", "sha256:aa", "sha256:pp", 1000)),
            ReasonCode::ApprovalExpired
        );
        assert_eq!(
            code(pending(1).admits("acme", "sha256:aa", "sha256:pp", 2)),
            ReasonCode::ApprovalPending
        );
    }
}
