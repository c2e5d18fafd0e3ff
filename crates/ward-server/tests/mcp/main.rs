#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "test code: a failure is the point"
)]

//! The MCP gateway end to end, with real peers and no protocol mocks: a
//! real gate node (SQLite state and audit log in a temporary directory),
//! the official reference servers from npm as upstreams
//! (`server-filesystem`, `server-memory`, `server-everything` over
//! Streamable HTTP), a misbehaving server written with the official Python
//! SDK (`lab_server.py`), and as clients rmcp's client and the official
//! Python SDK (and the OpenAI Agents SDK snippet of docs/mcp.md).
//!
//! The peers are installed into `<target>/mcp-peers` by
//! `peers/install.sh`, once.

mod bench;
mod bundle;
mod calls;
mod fixture;
mod listing;
mod pinning;
mod python;
mod robust;
mod versions;
