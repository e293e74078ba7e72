//! The orchestrator: plans units of work from stored instrument definitions, shards them, and streams each
//! dataset file from `tardis-client` into `gcs-sink`.
//!
//! Dependency position: {`tardis-client`, `gcs-sink`, `instruments`} <- `downloader` <- `md-cli`.
