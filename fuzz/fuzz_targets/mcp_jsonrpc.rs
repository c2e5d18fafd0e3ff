//! Any bytes as an MCP JSON-RPC message from a client: rmcp's message
//! types parse them or refuse them, and a `tools/call` result is taken
//! apart for scanning and put back after a redaction without a panic. This
//! is the gateway's own handling of client and upstream JSON-RPC
//! (`ward_server::mcp`): every piece that does not go through the engine.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rmcp::model::{CallToolResult, ClientJsonRpcMessage};

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = serde_json::from_slice::<ClientJsonRpcMessage>(data) {
        let _ = serde_json::to_vec(&message);
    }
    if let Ok(result) = serde_json::from_slice::<CallToolResult>(data) {
        let (text, shape) = ward_server::mcp::scanned_text(&result);
        // A redaction that changes every digit, and one that breaks the JSON.
        let masked: String = text
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect();
        let _ = ward_server::mcp::with_redaction(&result, &shape, &masked);
        let half = text.get(..text.len() / 2).unwrap_or("");
        let _ = ward_server::mcp::with_redaction(&result, &shape, half);
        let _ = ward_server::mcp::with_redaction(&result, &shape, &text);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ward_server::mcp::GatewayConfig::parse(text, std::path::Path::new("/"), &|_| None);
    }
});
