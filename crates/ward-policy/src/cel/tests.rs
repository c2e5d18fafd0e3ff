//! Tests of the CEL compiler and evaluator, differential against the reference.
