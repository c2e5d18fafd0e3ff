//! Admission control: beyond `max_in_flight` decisions in the pipeline, a
//! request is answered 503 `overloaded` at once and permits nothing; the
//! decisions admitted are unaffected, and the slots free up after them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use ward_server::node::NodeConfig;
use ward_server::ServerConfig;

use crate::gate::*;

/// The value of an unlabelled metric in the `/metrics` text.
async fn metric(g: &Gate, name: &str) -> f64 {
    let text = g
        .http
        .get(format!("{}/metrics", g.base))
        .send()
        .await
        .unwrap();
    let text = text.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_bound_a_call_is_shed_and_permits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig::embedded(dir.path().join("data"));
    config.bundle = Some(vec![("support/bundle.yaml".into(), SUPPORT.into())]);
    // Each batch of the log gathers for a while, so that decisions stay in
    // flight (waiting for their receipts) long enough to fill the slots.
    config.writer.window = Duration::from_millis(1500);
    config.engine.decision_budget = Duration::from_secs(30);
    let server = ServerConfig {
        max_in_flight: 2,
        ..ServerConfig::default()
    };
    let g = Arc::new(gate_with(config, server, dir).await);
    let lookup = call("lookup_order", json!({"order_id": "8812"}));
    let admitted: Vec<_> = (0..2)
        .map(|_| {
            let (g, body) = (Arc::clone(&g), lookup.clone());
            tokio::spawn(async move { g.post("/v1/decide", &g.agent, &body).await })
        })
        .collect();
    let mut full = false;
    for _ in 0..200 {
        if metric(&g, "ward_decisions_in_flight").await == 2.0 {
            full = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(full, "the two decisions never were in flight together");

    let shed = g.post("/v1/decide", &g.agent, &lookup).await;
    assert_eq!(
        (shed.status, shed.body["error"].as_str()),
        (503, Some("overloaded")),
        "{}",
        shed.body
    );
    assert_eq!(shed.headers["retry-after"], "1");
    assert!(
        shed.body.get("outcome").is_none(),
        "not a decision: {}",
        shed.body
    );
    // /v1/observe shares the bound, and is shed before its body is read.
    let observed = g
        .send(
            "POST",
            "/v1/observe",
            Some(&g.agent),
            Some(b"not json".to_vec()),
        )
        .await;
    assert_eq!(observed.status, 503, "{}", observed.body);

    for a in admitted {
        let r = a.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["outcome"], "allow", "{}", r.body);
        assert!(r.body["receipt"].is_string());
    }
    // The slots are free again.
    assert_eq!(metric(&g, "ward_decisions_in_flight").await, 0.0);
    let d = g.decide(&lookup).await;
    assert_eq!(d["outcome"], "allow");
    assert_eq!(metric(&g, "ward_shed_total").await, 2.0);
}
