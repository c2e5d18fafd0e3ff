//! Any bytes given as a request parse or are refused; a parsed request is
//! decided, deterministically.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

static BUNDLE: OnceLock<ward_policy::Compiled> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let compiled = BUNDLE.get_or_init(|| {
        let text = include_str!("../../examples/bundles/support/bundle.yaml");
        match ward_policy::load(&[("support.yaml", text)]) {
            Ok(l) => l.compiled,
            Err(_) => std::process::abort(),
        }
    });
    if let Ok(request) = ward_core::Request::from_json(data) {
        let facts = ward_policy::Facts::default();
        let a = ward_policy::decide(compiled, &request, &facts);
        let b = ward_policy::decide(compiled, &request, &facts);
        if a != b {
            std::process::abort();
        }
    }
});
