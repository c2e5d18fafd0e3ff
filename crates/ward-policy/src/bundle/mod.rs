//! Policy bundles: the YAML format, loading, compilation and evaluation.

pub(crate) mod compiled;
pub(crate) mod decide;
pub(crate) mod diff;
pub(crate) mod eval;
pub(crate) mod explain;
pub(crate) mod lint;
pub(crate) mod load;
pub(crate) mod model;
pub(crate) mod rules;
pub(crate) mod schema;
pub(crate) mod sign;
pub(crate) mod suite;
pub(crate) mod yaml;
