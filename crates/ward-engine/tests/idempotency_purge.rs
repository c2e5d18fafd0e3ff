#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]
//! The refresh loop deletes the idempotency records past their time, so
//! the state store does not keep every key it has ever seen.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use ward_core::Outcome;
use ward_engine::EngineConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refresh_loop_purges_expired_idempotency_records() {
    let config = EngineConfig {
        idempotency_ttl: Duration::from_secs(60),
        refresh_interval: Duration::from_millis(20),
        purge_interval: Duration::from_millis(50),
        ..EngineConfig::default()
    };
    let f = fixture(SUPPORT, config).await;
    // More than one purge batch (256) of keys, then one more made later.
    for i in 0..300 {
        let mut c = call("lookup_order", json!({"order_id": "1"}));
        c.idempotency_key = Some(format!("old-{i}"));
        assert_eq!(f.decide(c).await.decision.outcome, Outcome::Allow);
    }
    f.advance_ms(50_000);
    f.engine.refresh().await.unwrap();
    let mut c = call("lookup_order", json!({"order_id": "1"}));
    c.idempotency_key = Some("recent".into());
    assert_eq!(f.decide(c).await.decision.outcome, Outcome::Allow);
    // 61 s after the first keys: they are past the 60 s TTL, "recent" is not.
    f.advance_ms(11_000);
    let _refresh = f.engine.spawn_refresh();

    // The state file, read by a client of its own.
    let db = rusqlite::Connection::open(f.dir.path().join("state.db")).unwrap();
    let count = |pattern: &str| -> i64 {
        db.query_row(
            "SELECT count(*) FROM idempotency WHERE key LIKE ?1",
            [pattern],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(count("old-%"), 300);
    let deadline = Instant::now() + Duration::from_secs(30);
    while count("old-%") > 0 {
        assert!(
            Instant::now() < deadline,
            "{} expired records left",
            count("old-%")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count("recent"), 1, "a record within its time stays");
}
