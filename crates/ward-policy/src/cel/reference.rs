//! The `cel` crate's interpreter, kept as the reference implementation.
