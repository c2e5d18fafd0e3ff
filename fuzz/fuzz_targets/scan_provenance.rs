//! The provenance normaliser and index on arbitrary input: recording
//! arbitrary text (and JSON, when it parses) and classifying arbitrary
//! values never panics, is deterministic, and never leaks across sessions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_scan::{normalised_tokens, Content, ProvenanceConfig, ProvenanceIndex, ProvenanceLabel, Trust};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut mid = text.len() / 2;
    while !text.is_char_boundary(mid) {
        mid -= 1;
    }
    let (content, value) = text.split_at(mid);
    let value: String = value.chars().take(256).collect();
    let value = value.as_str();
    let _ = normalised_tokens(&text);
    let cfg = ProvenanceConfig { max_bytes_per_session: 64 << 10, max_bytes_total: 96 << 10, ..ProvenanceConfig::default() };
    let mut index = ProvenanceIndex::new(cfg);
    index.record("t", "a", Content::Text(content), Trust::Untrusted, "fuzz", 0);
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) {
        index.record("t", "a", Content::Json { value: &json, trusted_paths: &["$.a[*].b", "$.x"] }, Trust::Untrusted, "json", 1);
    }
    let first = index.classify("t", "a", value, 2);
    if index.classify("t", "a", value, 2) != first {
        std::process::abort();
    }
    // Another session and another tenant see nothing.
    if index.classify("t", "b", value, 2).label != ProvenanceLabel::New
        || index.classify("u", "a", value, 2).label != ProvenanceLabel::New
    {
        std::process::abort();
    }
    if index.total_bytes() > cfg.max_bytes_total {
        std::process::abort();
    }
});
