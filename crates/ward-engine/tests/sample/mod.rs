//! Records the state-store tests write.

#![allow(
    unreachable_pub,
    reason = "a module of the test crate, not a public API"
)]

use serde_json::json;
use ward_engine::{ApprovalRecord, ApprovalStatus};

/// A pending approval of a refund, two finance approvers needed.
pub fn approval(id: &str, tenant: &str, created_ms: i64) -> ApprovalRecord {
    let args = json!({"order_id": "8812", "amount": 750.5, "nested": {"list": [1, 2.5, "x"]}});
    ApprovalRecord {
        id: id.into(),
        tenant: tenant.into(),
        decision_id: format!("dec_{id}"),
        request_digest: format!("sha256:{}", "aa".repeat(32)),
        policy_digest: format!("sha256:{}", "bb".repeat(32)),
        tool: Some("approve_refund".into()),
        args: args.as_object().cloned().unwrap_or_default(),
        message: "refunds of $500 or more need a finance approver".into(),
        requester: "u-123".into(),
        approvers: vec!["role:finance".into()],
        quorum: 2,
        created_ms,
        expires_ms: created_ms + 3_600_000,
        status: ApprovalStatus::Pending,
        votes: Vec::new(),
        used_by: None,
    }
}
