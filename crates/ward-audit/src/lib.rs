//! Ward's evidence log.
pub mod merkle;
