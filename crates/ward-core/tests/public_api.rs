//! ward-core through its public API only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]

use ward_core::{decision_schema, request_schema, Digest, Request};

const EXAMPLE: &str = r#"{
  "intervention": "pre_tool_call",
  "actor": {
    "principal": {"id": "u-123", "kind": "user", "roles": ["support", "premium"], "attrs": {}},
    "tenant": "acme", "session": "s-9f2",
    "agent": {"id": "refund-bot", "version": "1.4.0"}
  },
  "tool": "approve_refund", "action": "invoke", "target": "order:8812",
  "args": {"order_id": "8812", "amount": 120.0},
  "context": {"order_age_days": 3},
  "idempotency_key": "b7c1", "trace": {"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331"}
}"#;

#[test]
fn request_digest_ignores_attempt_identifiers_but_not_arguments() {
    let a = Request::from_json(EXAMPLE.as_bytes()).unwrap();
    let mut retry = a.clone();
    retry.idempotency_key = Some("other".into());
    retry.trace = None;
    assert_eq!(
        Digest::of_request(&a).unwrap(),
        Digest::of_request(&retry).unwrap()
    );
    let mut changed = a.clone();
    changed
        .args
        .insert("amount".into(), serde_json::json!(121.0));
    assert_ne!(
        Digest::of_request(&a).unwrap(),
        Digest::of_request(&changed).unwrap()
    );
}

#[test]
fn request_digest_is_independent_of_key_order_and_whitespace() {
    let a = Request::from_json(EXAMPLE.as_bytes()).unwrap();
    let reordered = EXAMPLE.replace(
        r#""args": {"order_id": "8812", "amount": 120.0}"#,
        r#""args":{"amount":120.0,"order_id":"8812"}"#,
    );
    let b = Request::from_json(reordered.as_bytes()).unwrap();
    assert_eq!(
        Digest::of_request(&a).unwrap(),
        Digest::of_request(&b).unwrap()
    );
    insta::assert_snapshot!(Digest::of_request(&a).unwrap().to_string(), @"sha256:3991639889945b0e1c105311e260446aad70f47057d602ddd73dce847d7c5982");
}

/// The schemas in `docs/schema/` are generated from the types. Run with
/// `WARD_BLESS=1` to rewrite them after a deliberate change.
#[test]
fn published_schemas_match_the_types() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema");
    for (file, schema) in [
        ("request.schema.json", request_schema()),
        ("decision.schema.json", decision_schema()),
    ] {
        let path = dir.join(file);
        if std::env::var_os("WARD_BLESS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &schema).unwrap();
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            published,
            schema,
            "{} is stale; rerun with WARD_BLESS=1",
            path.display()
        );
    }
}
