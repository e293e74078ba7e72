//! gcs-sink's integration tests: one binary, one module per subject.

mod adopt;
mod config;
mod contract;
mod fake_gcs;
mod fake_gcs_server;
mod kill;
mod probe;
mod secret_manager;
mod support;
