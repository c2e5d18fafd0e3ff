//! Snapshot of every decision the support example makes on its own test
//! suite. A change to any byte of a decision shows up in review.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]

use std::path::Path;

#[test]
fn support_example_decisions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundles/support");
    let bundle = std::fs::read_to_string(root.join("bundle.yaml")).unwrap();
    let compiled = ward_policy::load(&[("bundle.yaml", &bundle)])
        .unwrap()
        .compiled;
    let suite = std::fs::read_to_string(root.join("tests/decisions.yaml")).unwrap();
    let cases = ward_policy::parse_suite("decisions.yaml", &suite).unwrap();
    let decisions: Vec<_> = cases
        .iter()
        .map(|case| {
            let decision = ward_policy::decide(&compiled, &case.request, &case.facts);
            serde_json::json!({"case": case.name, "decision": decision})
        })
        .collect();
    insta::assert_json_snapshot!(decisions);
}
