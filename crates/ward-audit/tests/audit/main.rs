//! The integration tests of `ward-audit`, through its public API only.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a failure should panic"
)]

mod common;
mod crash;
mod pg;
mod sample;
mod sqlite;
mod suite;
mod vectors;
