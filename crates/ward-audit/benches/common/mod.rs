//! What the audit benches append: an allowed refund decision.

use serde_json::json;
use ward_audit::{AppendRequest, Entry, Timestamp};
use ward_core::{Decision, Request};

/// The `n`th decision entry of `tenant`, at `1_795_000_000_000 + n` ms,
/// with its arguments.
pub(crate) fn decision(tenant: &str, n: u64) -> AppendRequest {
    let args = json!({"amount": n % 1000, "order_id": format!("o-{n}")});
    let request: Request = serde_json::from_value(json!({
        "intervention": "pre_tool_call",
        "actor": {"principal": {"id": "u-123", "kind": "user", "roles": ["support"]},
                  "tenant": tenant, "session": "s-1",
                  "agent": {"id": "refund-bot", "version": "1.4.0"}},
        "tool": "approve_refund", "args": args
    }))
    .unwrap();
    let decision: Decision = serde_json::from_value(json!({
        "decision_id": format!("dec_{n:06}"), "outcome": "allow",
        "reasons": [{"code": "rule", "rule": "refunds.small", "message": "matched"}],
        "policy": {"name": "support", "version": "2.4.1", "digest": format!("sha256:{}", "28".repeat(32))},
        "constraints": null, "rewritten_args": null, "approval": null, "mode": "enforce", "receipt": null
    }))
    .unwrap();
    let entry = Entry::decision(
        &request,
        &decision,
        Timestamp::from_unix_millis(1_795_000_000_000 + n),
    )
    .unwrap();
    AppendRequest::new(entry, args.as_object().cloned())
}
