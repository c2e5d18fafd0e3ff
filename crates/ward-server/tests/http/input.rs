//! Bad input, credentials and who may do what.

use serde_json::{json, Value};

use crate::gate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_400_and_name_the_field() {
    let g = gate().await;
    let r = g
        .send(
            "POST",
            "/v1/decide",
            Some(&g.agent),
            Some(b"{not json".to_vec()),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("bad_request")),
        "{}",
        r.body
    );

    let mut bad = call("approve_refund", json!({"order_id": "8812", "amount": 10}));
    bad["actor"]["tenant"] = json!(42);
    let r = g.post("/v1/decide", &g.agent, &bad).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "actor.tenant", "{}", r.body);

    let mut no_tool = call("lookup_order", json!({}));
    no_tool.as_object_mut().unwrap().remove("tool");
    let r = g.post("/v1/decide", &g.agent, &no_tool).await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (400, Some("tool")),
        "{}",
        r.body
    );

    let r = g.post("/v1/observe", &g.agent, &json!({"request": {"intervention": "post_tool_call", "actor": actor(), "tool": "lookup_order", "content": 7}})).await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (400, Some("request.content")),
        "{}",
        r.body
    );
    let r = g
        .post(
            "/v1/observe",
            &g.agent,
            &json!({"request": call("lookup_order", json!({"order_id": "1"}))}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (400, Some("request.intervention")),
        "{}",
        r.body
    );

    let r = g
        .post(
            "/v1/switches",
            &g.operator,
            &json!({"kind": "kill", "scope": "planet:mars", "reason": "x"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (400, Some("scope")),
        "{}",
        r.body
    );
    let r = g
        .post(
            "/v1/agents",
            &g.operator,
            &json!({"id": "a", "versoin": "1"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body["message"].as_str().unwrap().contains("versoin"),
        "{}",
        r.body
    );
    let r = g
        .get("/v1/audit/query?tenant=acme&arg=amount", &g.operator)
        .await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (400, Some("arg")),
        "{}",
        r.body
    );
    let r = g.get("/v1/nowhere", &g.operator).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (404, Some("not_found"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_413() {
    let g = gate().await;
    let big = "x".repeat(100 * 1024);
    let body = call(
        "send_email",
        json!({"to": "pat@example.com", "subject": "s", "body": big}),
    );
    let r = g.post("/v1/decide", &g.agent, &body).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (413, Some("body_too_large")),
        "{}",
        r.body
    );
    // The gate is still there and judging.
    let d = g
        .decide(&call("lookup_order", json!({"order_id": "8812"})))
        .await;
    assert_eq!(d["outcome"], "allow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_decide_who_may_ask() {
    let g = gate().await;
    let lookup = call("lookup_order", json!({"order_id": "8812"}));
    let body = serde_json::to_vec(&lookup).unwrap();
    let r = g.send("POST", "/v1/decide", None, Some(body.clone())).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("unauthenticated"))
    );
    let r = g
        .send(
            "POST",
            "/v1/decide",
            Some("wk_0000_nope"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 401);
    let r = g
        .http
        .post(format!("{}/v1/decide", g.base))
        .header("authorization", "Basic abc")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    let mut other_tenant = lookup.clone();
    other_tenant["actor"]["tenant"] = json!("globex");
    let r = g.post("/v1/decide", &g.agent, &other_tenant).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("forbidden")),
        "{}",
        r.body
    );
    let mut widened = lookup.clone();
    widened["actor"]["principal"]["roles"] = json!(["ward:admin"]);
    assert_eq!(g.post("/v1/decide", &g.agent, &widened).await.status, 403);

    // An agent key is no operator key.
    let r = g
        .post(
            "/v1/switches",
            &g.agent,
            &json!({"kind": "kill", "scope": "global", "reason": "x"}),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(g.get("/v1/agents", &g.agent).await.status, 403);
    assert_eq!(
        g.get("/v1/audit/query?tenant=acme", &g.agent).await.status,
        403
    );

    // An unknown agent version and an unknown tool are decisions: denies.
    let mut unknown_agent = lookup.clone();
    unknown_agent["actor"]["agent"]["version"] = json!("9.9.9");
    let d = g.decide(&unknown_agent).await;
    assert_eq!(
        (d["outcome"].as_str(), codes(&d)),
        (Some("deny"), vec!["unknown_agent".to_owned()])
    );
    let d = g.decide(&call("wire_transfer", json!({"amount": 1}))).await;
    assert_eq!(
        (d["outcome"].as_str(), codes(&d)[0].as_str()),
        (Some("deny"), "unknown_tool")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_and_a_missing_credential_get_json_errors() {
    let g = gate().await;
    let r = g.send("DELETE", "/v1/decide", Some(&g.agent), None).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (405, Some("method_not_allowed")),
        "{}",
        r.body
    );
    // No credential is 401 even when the body is also bad.
    let r = g
        .send("POST", "/v1/decide", None, Some(b"{bad".to_vec()))
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = g
        .send("POST", "/v1/switches", None, Some(b"{bad".to_vec()))
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    // A root-level syntax error names no field.
    let r = g
        .send("POST", "/v1/decide", Some(&g.agent), Some(b"[1,".to_vec()))
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.get("field").is_none() || r.body["field"] != "?",
        "{}",
        r.body
    );
}

/// A tenant's admin key administers its tenant; gate-wide state (other
/// tenants, the registry, bundles, the gate's own roles) needs an
/// operator key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_acts_in_its_tenant_only() {
    let g = gate().await;
    let made = g
        .post("/v1/api-keys", &g.operator, &json!({"tenant": "acme", "principal": "acme-admin", "kind": "user", "roles": ["ward:admin"]}))
        .await;
    let admin = made.body["key"].as_str().unwrap().to_owned();
    let switch = |scope: &str| json!({"kind": "kill", "scope": scope, "reason": "drill"});
    assert_eq!(
        g.post("/v1/switches", &admin, &switch("tenant:acme"))
            .await
            .status,
        201
    );
    for scope in [
        "tenant:globex",
        "global",
        "tool:approve_refund",
        "capability:payment",
    ] {
        let r = g.post("/v1/switches", &admin, &switch(scope)).await;
        assert_eq!(r.status, 403, "{scope}: {}", r.body);
    }
    let key = |roles: Value, tenant: &str| json!({"tenant": tenant, "principal": "p", "kind": "user", "roles": roles});
    assert_eq!(
        g.post("/v1/api-keys", &admin, &key(json!(["finance"]), "acme"))
            .await
            .status,
        201
    );
    assert_eq!(
        g.post(
            "/v1/api-keys",
            &admin,
            &key(json!(["ward:break-glass"]), "acme")
        )
        .await
        .status,
        403
    );
    assert_eq!(
        g.post("/v1/api-keys", &admin, &key(json!(["finance"]), "globex"))
            .await
            .status,
        403
    );
    assert_eq!(
        g.post("/v1/api-keys", &admin, &key(json!(["ward:admin"]), "*"))
            .await
            .status,
        403
    );
    let bg = json!({"scope": "global", "reason": "x", "ttl_secs": 60});
    assert_eq!(g.post("/v1/break-glass", &g.finance, &bg).await.status, 403);
    for path in ["/v1/agents", "/v1/bundles", "/v1/switches"] {
        assert_eq!(g.get(path, &admin).await.status, 403, "{path}");
    }
    let up = g
        .post(
            "/v1/bundles",
            &admin,
            &json!({"files": {"bundle.yaml": SUPPORT}}),
        )
        .await;
    assert_eq!(up.status, 403, "{}", up.body);
    // Its own tenant's audit log is its to read.
    assert_eq!(
        g.get("/v1/audit/query?tenant=acme", &admin).await.status,
        200
    );
    assert_eq!(
        g.get("/v1/audit/query?tenant=globex", &admin).await.status,
        403
    );
}
