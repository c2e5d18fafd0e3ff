#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]

//! The HTTP gate end to end: a real node (SQLite state and audit log in a
//! temporary directory) served on a loopback port, driven by a real HTTP
//! client. Bad input, credentials, every operator route, the audit export
//! checked by `ward-verify`, metrics, and a bundle hot reload under load.

mod archive;
mod flows;
mod gate;
mod input;
mod overload;
