//! Policy bundles: the YAML format, loading, compilation and evaluation.

pub(crate) mod compiled;
pub(crate) mod eval;
pub(crate) mod lint;
pub(crate) mod load;
pub(crate) mod model;
pub(crate) mod schema;
pub(crate) mod yaml;
