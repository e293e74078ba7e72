//! The orchestrator: plans units of work from stored instrument definitions, shards them, and streams each
//! dataset file from `tardis-client` into `gcs-sink`, converting to Parquet on the way when asked. It also writes
//! those definitions ([`definitions`]): it maps the metadata `tardis-client` fetches onto the input model of
//! `instruments` ([`definitions::listing`]) and stores the daily records `instruments` derives.
//!
//! Dependency position: {`tardis-client`, `gcs-sink`, `instruments`} <- `downloader` <- `md-cli`; this is the one
//! crate where those three meet.

pub mod convert;
pub mod definitions;
pub mod manifest;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod quota;
