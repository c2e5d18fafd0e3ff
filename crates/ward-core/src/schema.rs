//! JSON Schemas of the wire types, published in `docs/schema/`.

use crate::{Decision, Request};

/// The JSON Schema of [`Request`], pretty-printed.
pub fn request_schema() -> String {
    pretty(schemars::schema_for!(Request))
}

/// The JSON Schema of [`Decision`], pretty-printed.
pub fn decision_schema() -> String {
    pretty(schemars::schema_for!(Decision))
}

fn pretty(schema: schemars::Schema) -> String {
    let mut out = serde_json::to_string_pretty(&schema).unwrap_or_default();
    out.push('\n');
    out
}
