//! gcs-sink's integration tests: one binary, one module per subject.

mod contract;
mod support;
