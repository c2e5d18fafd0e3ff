//! Ward's evidence log.
pub mod merkle;
pub mod time;
pub mod entry;
pub mod note;
