//! The orchestrator: plans units of work from stored instrument definitions, shards them, and streams each
//! dataset file from `tardis-client` into `gcs-sink`, converting to Parquet on the way when asked.
//!
//! Dependency position: {`tardis-client`, `gcs-sink`, `instruments`} <- `downloader` <- `md-cli`.

pub mod convert;
pub mod definitions;
pub mod manifest;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod quota;
