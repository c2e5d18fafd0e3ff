//! Bundles, the audit log, the OpenAPI document and hot reload.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use ward_server::node::{self, NodeConfig};
use ward_server::ServerConfig;

use crate::gate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_upload_list_diff_and_activate() {
    let g = gate().await;
    let v2 = SUPPORT
        .replace("version: 1.0.0", "version: 2.0.0")
        .replace("args.amount < 500", "args.amount < 100");
    let up = g
        .post(
            "/v1/bundles",
            &g.operator,
            &json!({"files": {"bundle.yaml": v2}}),
        )
        .await;
    assert_eq!(up.status, 201, "{}", up.body);
    let new = up.body["digest"].as_str().unwrap().to_owned();
    let bad = g
        .post(
            "/v1/bundles",
            &g.operator,
            &json!({"files": {"bundle.yaml": "ward: 1\nrules: [oops"}}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["error"].as_str()),
        (422, Some("bundle_refused")),
        "{}",
        bad.body
    );

    let list = g.get("/v1/bundles", &g.operator).await;
    let old = list.body["active"].as_str().unwrap().to_owned();
    assert_eq!(
        list.body["bundles"].as_array().unwrap().len(),
        2,
        "{}",
        list.body
    );
    let diff = g
        .get(
            &format!("/v1/bundles/diff?old={old}&new={new}"),
            &g.operator,
        )
        .await;
    assert_eq!(diff.status, 200, "{}", diff.body);
    assert!(
        diff.body.to_string().contains("refund-small-premium"),
        "{}",
        diff.body
    );

    let refund = call("approve_refund", json!({"order_id": "8812", "amount": 120}));
    assert_eq!(g.decide(&refund).await["outcome"], "allow");
    let act = g
        .send(
            "POST",
            &format!("/v1/bundles/{new}/activate"),
            Some(&g.operator),
            None,
        )
        .await;
    assert_eq!(act.status, 200, "{}", act.body);
    let d = g.decide(&refund).await;
    assert_eq!(
        (d["policy"]["version"].as_str(), d["outcome"].as_str()),
        (Some("2.0.0"), Some("deny")),
        "{d}"
    );
    let none = g
        .send(
            "POST",
            "/v1/bundles/sha256:00/activate",
            Some(&g.operator),
            None,
        )
        .await;
    assert_eq!(none.status, 404);
    let health = g.send("GET", "/healthz", None, None).await;
    assert_eq!(
        (health.status, health.body["bundle"]["version"].as_str()),
        (200, Some("2.0.0"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_export_verifies_with_ward_verify_alone() {
    let g = gate().await;
    let mut receipts = Vec::new();
    for amount in [120, 130, 750] {
        let d = g
            .decide(&call(
                "approve_refund",
                json!({"order_id": "8812", "amount": amount}),
            ))
            .await;
        receipts.push(d["receipt"].as_str().unwrap().to_owned());
    }
    let q = g
        .get(
            "/v1/audit/query?tenant=acme&tool=approve_refund&arg=amount%3E%3D500",
            &g.operator,
        )
        .await;
    let log = &q.body["logs"][0];
    assert_eq!(log["entries"].as_array().unwrap().len(), 1, "{}", q.body);
    assert_eq!(log["entries"][0]["entry"]["outcome"], "require_approval");
    assert!(log["upper"]
        .as_str()
        .unwrap()
        .contains(log["origin"].as_str().unwrap()));

    let export = g.get("/v1/audit/export?tenant=acme", &g.operator).await;
    assert_eq!(export.status, 200, "{}", export.body);
    let out = g.dir.path().join("export");
    let mut dirs = std::collections::BTreeSet::new();
    for (name, text) in export.body["files"].as_object().unwrap() {
        let path = out.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text.as_str().unwrap()).unwrap();
        dirs.insert(out.join(std::path::Path::new(name).iter().next().unwrap()));
    }
    assert_eq!(dirs.len(), 1);
    let key = ward_verify::VerifierKey::parse(&g.app.engine().verifier_key()).unwrap();
    let verified = ward_verify::verify_log(dirs.first().unwrap(), &key).unwrap();
    assert_eq!(verified.size, 3, "{verified:?}");
    assert_eq!(verified.origin, log["origin"].as_str().unwrap());
    for r in &receipts {
        ward_verify::verify_receipt(r.as_bytes(), &key, "receipt").unwrap();
    }
    let other = g.get("/v1/audit/export?tenant=acme", &g.finance).await;
    assert_eq!(other.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_audit_answer_still_names_its_bounding_checkpoints() {
    let g = gate().await;
    g.decide(&call("lookup_order", json!({"order_id": "8812"})))
        .await;
    let q = g
        .get(
            "/v1/audit/query?tenant=acme&tool=delete_customer",
            &g.operator,
        )
        .await;
    assert_eq!(q.status, 200, "{}", q.body);
    let log = &q.body["logs"][0];
    assert_eq!(log["entries"], json!([]), "{}", q.body);
    assert!(
        log["upper"].is_string() || log["lower"].is_string(),
        "{}",
        q.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_openapi_operation_is_served() {
    let g = gate().await;
    let doc: Value = serde_json::from_str(ward_server::OPENAPI).unwrap();
    let paths = doc["paths"].as_object().expect("openapi.json has paths");
    let mut seen = 0;
    for (path, ops) in paths {
        let concrete = path
            .replace("{id}", "apr_x")
            .replace("{digest}", "sha256:00")
            .replace("{kind}", "kill")
            .replace("{scope}", "tool:x");
        for method in ops
            .as_object()
            .unwrap()
            .keys()
            .filter(|m| ["get", "post", "delete"].contains(&m.as_str()))
        {
            let r = g
                .send(
                    &method.to_uppercase(),
                    &concrete,
                    Some(&g.operator),
                    Some(b"{}".to_vec()),
                )
                .await;
            let unrouted = r.status == 405
                || (r.status == 404
                    && r.body["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("no such route")));
            assert!(!unrouted, "{method} {path}: {} {}", r.status, r.body);
            seen += 1;
        }
    }
    assert!(seen >= 20, "only {seen} operations in openapi.json");
}

/// While the bundle file flips between two versions, concurrent callers
/// never see an error, and each decision is the one its reported policy
/// version gives: nothing dropped, nothing judged by a half-loaded bundle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_hot_reload_drops_and_misjudges_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.yaml");
    let v2 = SUPPORT
        .replace("version: 1.0.0", "version: 2.0.0")
        .replace("args.amount < 500", "args.amount < 100");
    std::fs::write(&path, SUPPORT).unwrap();
    let mut config = NodeConfig::embedded(dir.path().join("data"));
    config.bundle = Some(node::read_bundle(&path).unwrap());
    let g = Arc::new(gate_with(config, ServerConfig::default(), dir).await);
    let _watch = ward_server::watch_bundle(
        g.app.engine(),
        path.clone(),
        Duration::from_millis(20),
        |_| {},
    );
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let (g, done) = (Arc::clone(&g), Arc::clone(&done));
            tokio::spawn(async move {
                let mut judged = 0;
                while judged < 20 || !done.load(std::sync::atomic::Ordering::SeqCst) {
                    let d = g
                        .decide(&call(
                            "approve_refund",
                            json!({"order_id": "8812", "amount": 300}),
                        ))
                        .await;
                    let expected = match d["policy"]["version"].as_str() {
                        Some("1.0.0") => "allow",
                        Some("2.0.0") => "deny",
                        other => panic!("policy version {other:?}: {d}"),
                    };
                    assert_eq!(d["outcome"], expected, "{d}");
                    assert!(d["receipt"].is_string(), "{d}");
                    judged += 1;
                }
                judged
            })
        })
        .collect();
    for i in 0..12 {
        std::fs::write(&path, if i % 2 == 0 { &v2 } else { SUPPORT }).unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    for c in callers {
        assert!(c.await.unwrap() >= 20);
    }
    // Each version, written once more, becomes the one that judges. The
    // watcher may still be installing what it read during the flips, so
    // these carry versions of their own: seeing one proves the watcher
    // read that write, and the broken file is then the only one it can
    // read after the last.
    let v2_again = v2.replace("version: 2.0.0", "version: 2.1.0");
    let v1_again = SUPPORT.replace("version: 1.0.0", "version: 1.1.0");
    for (text, version) in [(v2_again.as_str(), "2.1.0"), (v1_again.as_str(), "1.1.0")] {
        std::fs::write(&path, text).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let d = g
                .decide(&call(
                    "approve_refund",
                    json!({"order_id": "8812", "amount": 300}),
                ))
                .await;
            if d["policy"]["version"] == version {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{version} never became active: {d}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // A bundle that does not compile is refused and the active one stays.
    std::fs::write(&path, "ward: 1\nrules: [broken").unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let d = g
        .decide(&call(
            "approve_refund",
            json!({"order_id": "8812", "amount": 300}),
        ))
        .await;
    assert_eq!(
        (d["policy"]["version"].as_str(), d["outcome"].as_str()),
        (Some("1.1.0"), Some("allow"))
    );
}

/// With trusted bundle keys, only a bundle signed by one of them is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_that_trusts_keys_takes_only_bundles_they_signed() {
    let trusted = ward_policy::secret_key_text(&[3; 32]);
    let stranger = ward_policy::secret_key_text(&[4; 32]);
    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig::embedded(dir.path().join("data"));
    config.engine.trusted_bundle_keys = vec![ward_policy::public_key_text(&trusted).unwrap()];
    let digest_of = |text: &str| {
        ward_policy::load(&[("bundle.yaml", text)])
            .unwrap()
            .compiled
            .policy()
            .digest
            .clone()
    };
    // Even the start bundle must be signed.
    let files = vec![("bundle.yaml".to_owned(), SUPPORT.to_owned())];
    config.bundle = Some(files.clone());
    let unsigned = tokio::task::spawn_blocking({
        let dir = dir.path().join("data2");
        let keys = config.engine.trusted_bundle_keys.clone();
        move || {
            let mut c = NodeConfig::embedded(dir);
            c.bundle = Some(files);
            c.engine.trusted_bundle_keys = keys;
            node::open(c)
        }
    })
    .await
    .unwrap()
    .unwrap()
    .start()
    .await;
    assert!(unsigned.unwrap_err().to_string().contains("unsigned"));
    let start_sig = ward_policy::sign_digest(&digest_of(SUPPORT), &trusted).unwrap();
    config.bundle_signature = Some(serde_json::to_string(&start_sig).unwrap());
    let g = gate_with(config, ServerConfig::default(), dir).await;
    let v2 = SUPPORT.replace("version: 1.0.0", "version: 2.0.0");
    let digest = digest_of(&v2);
    let upload = |signature: Option<Value>| {
        let mut body = json!({"files": {"bundle.yaml": v2}});
        if let Some(s) = signature {
            body["signature"] = s;
        }
        body
    };
    let sign = |secret: &str| {
        serde_json::to_value(ward_policy::sign_digest(&digest, secret).unwrap()).unwrap()
    };
    let r = g.post("/v1/bundles", &g.operator, &upload(None)).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (422, Some("bundle_refused")),
        "{}",
        r.body
    );
    assert!(
        r.body["message"].as_str().unwrap().contains("unsigned"),
        "{}",
        r.body
    );
    let r = g
        .post("/v1/bundles", &g.operator, &upload(Some(sign(&stranger))))
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = g
        .post("/v1/bundles", &g.operator, &upload(Some(sign(&trusted))))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["digest"], digest.as_str());
    let act = g
        .send(
            "POST",
            &format!("/v1/bundles/{digest}/activate"),
            Some(&g.operator),
            None,
        )
        .await;
    assert_eq!(act.status, 200, "{}", act.body);
    let d = g
        .decide(&call("lookup_order", json!({"order_id": "8812"})))
        .await;
    assert_eq!(d["policy"]["version"], "2.0.0", "{d}");
}
