//! Object-store sinks (`gs://`, `s3://`, local directory, memory) with atomic, verified, create-only writes.
//!
//! Built from md-config's [`md_config::SinkConfig`]; never reads the environment.
//! Dependency position: `md-config` <- `gcs-sink` <- `downloader`.
