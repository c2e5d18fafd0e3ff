//! Helpers shared by the tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::json;
use ward_audit::{
    merkle, AppendRequest, Clock, LogKey, Receipt, Store, Timestamp, VerifierKey, Writer,
    WriterConfig,
};
use ward_core::{Decision, Request};

/// 2026-07-01T00:00:00.000Z, a day in Q3.
pub(crate) const Q3: u64 = 1_782_864_000_000;

pub(crate) fn key(seed: u8) -> LogKey {
    LogKey::from_seed("ward/test", [seed; 32]).unwrap()
}

/// A clock that starts at `start` and ticks one second per reading.
pub(crate) fn ticking_clock(start: u64) -> Clock {
    let now = Arc::new(AtomicU64::new(start));
    Arc::new(move || Timestamp::from_unix_millis(now.fetch_add(1000, Ordering::SeqCst)))
}

pub(crate) fn request(
    tenant: &str,
    tool: &str,
    principal: &str,
    args: serde_json::Value,
) -> Request {
    serde_json::from_value(json!({
        "intervention": "pre_tool_call",
        "actor": {
            "principal": {"id": principal, "kind": "user", "roles": ["support"]},
            "tenant": tenant, "session": "s-1",
            "agent": {"id": "bot", "version": "1.0.0"}
        },
        "tool": tool,
        "args": args
    }))
    .unwrap()
}

pub(crate) fn decision(id: &str, outcome: &str, rule: &str) -> Decision {
    serde_json::from_value(json!({
        "decision_id": id,
        "outcome": outcome,
        "reasons": [{"code": "rule", "rule": rule, "message": "matched"}],
        "policy": {"name": "refunds", "version": "1.0.0", "digest": format!("sha256:{}", "0f".repeat(32))},
        "constraints": null, "rewritten_args": null, "approval": null,
        "mode": "enforce", "receipt": null
    }))
    .unwrap()
}

/// A refund decision with its arguments.
pub(crate) fn refund(tenant: &str, n: u64, amount: u64, outcome: &str, time: u64) -> AppendRequest {
    let args = json!({"amount": amount, "order_id": format!("o-{n}")});
    let req = request(tenant, "refund", &format!("u-{}", n % 3), args.clone());
    let rule = if amount > 500 {
        "refunds.large"
    } else {
        "refunds.small"
    };
    let append = AppendRequest::decision(
        &req,
        &decision(&format!("d-{n}"), outcome, rule),
        Timestamp::from_unix_millis(time),
    )
    .unwrap();
    assert_eq!(append.args, args.as_object().cloned());
    append
}

/// Checks a receipt and that its entry is in the stored log at that index,
/// and that the stored log is consistent with the receipt's checkpoint.
pub(crate) fn assert_receipt_holds(store: &mut dyn Store, key: &VerifierKey, receipt: &Receipt) {
    let text = receipt.encode();
    let parsed = Receipt::parse(&text).unwrap();
    parsed.verify(key).unwrap();
    let cp = parsed.checkpoint.checkpoint();
    let stored = store
        .entries(&cp.origin, parsed.index, parsed.index + 1)
        .unwrap();
    assert_eq!(
        stored,
        vec![parsed.entry.clone()],
        "entry {} of {} is missing or changed",
        parsed.index,
        cp.origin
    );
    let log = store
        .logs()
        .unwrap()
        .into_iter()
        .find(|l| l.info.origin == cp.origin)
        .unwrap();
    let mut read = |id| store.nodes(&cp.origin, &[id]).map(|v| v[0]);
    let now_root = merkle::root(log.size, &mut read).unwrap();
    let proof = merkle::consistency_proof(cp.size, log.size, &mut read).unwrap();
    assert!(
        merkle::verify_consistency(cp.size, log.size, &cp.root, &now_root, &proof),
        "log {} is not consistent with a checkpoint it issued",
        cp.origin
    );
}

/// The SQL dump of a database written by the schema version 1 writer
/// (commit 6c2d813): 20 refunds for acme (every fourth one of 900, rule
/// `refunds.large`) and 5 for beta, under `key(9)`, `amount` indexed.
pub(crate) fn v1_dump() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/audit/v1-database.sql"
    ))
    .unwrap()
}

/// Appends acme's 21st entry to the migrated fixture through a writer, as
/// the continuation of its log.
pub(crate) fn continue_migrated_log(store: Box<dyn Store>) {
    let writer = Writer::start(store, key(9), ticking_clock(Q3), WriterConfig::default()).unwrap();
    let receipt = writer
        .append_blocking(refund("acme", 20, 10, "allow", Q3))
        .unwrap();
    assert_eq!(receipt.index, 20);
}
