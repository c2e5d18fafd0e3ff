//! Any CEL condition compiles or is refused, and a compiled one evaluates
//! against a real request without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

const BUNDLE: &str = r#"
metadata: {name: fuzz, version: 1.0.0}
tools:
  pay:
    capability: payment
    risk: high
    consequential: true
    args:
      type: object
      properties:
        amount: {type: number}
        to: {type: string}
        tags: {type: array, items: {type: string}}
rules:
  - id: r
    match: {tools: [pay]}
    when: WHEN
    decision: deny
"#;

const REQUEST: &str = r#"{"intervention":"pre_tool_call","actor":{"principal":{"id":"u","kind":"user","roles":["a"]},"tenant":"t","session":"s","agent":{"id":"a","version":"1"}},"tool":"pay","args":{"amount":9223372036854775807,"to":"x@y.z","tags":["a","b"]},"context":{"n":-1,"s":"é"}}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(condition) = std::str::from_utf8(data) else { return };
    let Ok(quoted) = serde_json::to_string(condition) else { return };
    let bundle = BUNDLE.replace("WHEN", &quoted);
    if let Ok(loaded) = ward_policy::load(&[("fuzz.yaml", &bundle)]) {
        let request = ward_core::Request::from_json(REQUEST.as_bytes()).unwrap_or_else(|_| std::process::abort());
        let evaluation = ward_policy::evaluate(&loaded.compiled, &request, &ward_policy::Facts::default());
        // A deny rule can only ever deny: an error in its condition counts as a match.
        if evaluation.outcome != ward_core::Outcome::Deny {
            std::process::abort();
        }
    }
});
