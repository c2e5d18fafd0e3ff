//! Tool contract pinning: a rug pull disables the tool until re-approved;
//! annotations and Ward's `_meta` come from the server and the gate, never
//! from the client.

use std::sync::atomic::Ordering;

use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use serde_json::{json, Value};

use crate::fixture::{call, codes, eventually, http_client, logged, names, text, Lab, Setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tool_whose_contract_changes_is_disabled_until_an_operator_re_approves_it() {
    let lab = Lab::start(Setup::default()).await;
    let alice = http_client(&lab.url, &lab.alice, ProtocolVersion::V_2025_11_25).await;
    assert!(names(&alice).await.contains("weather"));
    let r = call(&alice, "weather", json!({"city": "Oslo"})).await;
    assert_eq!(text(&r), "Sunny in Oslo.");
    let heard = alice.service().changed.load(Ordering::SeqCst);

    // The server rewrites the tool's description and says its list changed.
    let r = call(&alice, "rug_pull", json!({})).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    eventually("the client hears the list changed", || {
        let n = alice.service().changed.load(Ordering::SeqCst);
        async move { n > heard }
    })
    .await;
    assert!(
        !names(&alice).await.contains("weather"),
        "the changed tool is not offered"
    );
    let r = call(&alice, "weather", json!({"city": "Oslo"})).await;
    assert_eq!(r.is_error, Some(true));
    assert_eq!(codes(&r), ["unknown_tool"]);
    assert!(
        text(&r).contains("changed since it was pinned"),
        "{}",
        text(&r)
    );
    let entry = logged(&lab, &r).await;
    assert_eq!(
        (&entry["outcome"], &entry["reasons"][0]["code"]),
        (&json!("deny"), &json!("unknown_tool"))
    );

    let pins = lab.gateway.pins().list().unwrap();
    let pin = pins.iter().find(|p| p.tool == "weather").unwrap();
    assert_eq!(
        (pin.upstream.as_str(), pin.status.as_str()),
        ("lab", "changed")
    );
    assert!(pin.seen_contract.as_deref().unwrap().contains("id_rsa"));
    assert!(!pin.contract.contains("id_rsa"));

    // An operator looks at the new contract and approves it (`ward mcp approve lab/weather`).
    let heard = alice.service().changed.load(Ordering::SeqCst);
    assert!(lab
        .gateway
        .pins()
        .approve("lab", "weather", "operator", 1)
        .unwrap());
    eventually("the tool is offered again", || {
        let alice = &alice;
        async move { names(alice).await.contains("weather") }
    })
    .await;
    assert!(alice.service().changed.load(Ordering::SeqCst) > heard);
    let tools = alice.peer().list_all_tools().await.unwrap();
    let weather = tools.iter().find(|t| t.name == "weather").unwrap();
    assert!(
        weather.description.as_deref().unwrap().contains("id_rsa"),
        "the approved contract is shown"
    );
    let r = call(&alice, "weather", json!({"city": "Oslo"})).await;
    assert_eq!(text(&r), "Sunny in Oslo.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn constraints_and_annotations_come_from_the_gate_and_the_server_never_the_client() {
    let lab = Lab::start(Setup::default()).await;
    let bob = http_client(&lab.url, &lab.bob, ProtocolVersion::V_2025_11_25).await;
    let mut params = CallToolRequestParams::new("rows");
    params.arguments = json!({"table": "orders"}).as_object().cloned();
    let spoofed = json!({"ward.dev/constraints": {"max_rows": 1000000}, "annotations": {"readOnlyHint": true}});
    params.meta = Some(rmcp::model::MetaObject(spoofed.as_object().cloned().unwrap()).into());
    let r = bob.peer().call_tool(params).await.unwrap();
    let got: Value = serde_json::from_str(&text(&r)).unwrap();
    assert_eq!(
        got["constraints"],
        json!({"read_only": true, "max_rows": 10})
    );
    // The policy reads the server's annotations as context.
    let decisions = lab.audit("kind=decision&tool=rows").await;
    assert!(!decisions.is_empty());
}
