//! The example bundle of docs/mcp.md passes its own policy tests (what
//! `ward policy test examples/bundles/mcp-filesystem` runs).

use std::path::PathBuf;

#[test]
fn the_mcp_filesystem_example_passes_its_policy_tests() {
    let root =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundles/mcp-filesystem");
    let files = ward_server::node::read_bundle(&root).unwrap();
    let sources: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let loaded = ward_policy::load(&sources).unwrap();
    let mut ran = 0;
    for entry in std::fs::read_dir(root.join("tests")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let cases = ward_policy::parse_suite(&path.display().to_string(), &text).unwrap();
        for result in ward_policy::run_suite(&loaded.compiled, &cases) {
            assert!(
                result.failures.is_empty(),
                "{}: {:?}",
                result.name,
                result.failures
            );
            ran += 1;
        }
    }
    assert!(ran >= 10, "{ran} cases");
    // With the tests' additions the bundle still loads.
    let mut with_lab = files.clone();
    with_lab.push(("lab.yaml".into(), crate::fixture::LAB_BUNDLE.into()));
    let sources: Vec<(&str, &str)> = with_lab
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    ward_policy::load(&sources).unwrap();
}
