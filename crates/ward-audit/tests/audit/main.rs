//! The integration tests of `ward-audit`, through its public API only.

mod common;
mod crash;
mod pg;
mod sqlite;
mod suite;
