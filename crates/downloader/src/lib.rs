//! The orchestrator, in three parts, one folder each:
//!
//! - [`definitions`]: the stored instrument definitions. It fetches each exchange's metadata with `tardis-client`,
//!   maps the wire types onto the input model of `instruments` ([`definitions::listing`]), and stores the daily
//!   records `instruments` derives as Parquet through `gcs-sink`; the plan reads them back.
//! - [`download`]: the tick download: the plan (units, object names, shards), the pipeline that streams each unit
//!   from `tardis-client` into `gcs-sink`, the shard's manifest and its quota ledger.
//! - [`convert`]: the streaming `.csv.gz` to typed Parquet converter the pipeline uses for Parquet output.
//!
//! [`Job`] ties them together for a caller (md-cli is one): built from the configuration, it resolves a run's days,
//! writes the definitions, assembles the plan and downloads a shard, with typed results. [`fetch`] fetches one
//! dataset file byte-exact to a local path or an object. [`sql`] writes the DuckDB and BigQuery statements that
//! make a hive-partitioned lake queryable (`md-cli sql`).
//!
//! Every operation fails with the one [`Error`] of the crate; a unit's own failure is counted in the manifest
//! instead. Dependency position: {`tardis-client`, `gcs-sink`, `instruments`} <- `downloader` <- `md-cli`; this is
//! the one crate where those three meet, and it receives md-config types at construction.

pub mod convert;
pub mod definitions;
pub mod doctor;
pub mod download;
mod error;
pub mod fetch;
pub mod job;
pub mod sql;

pub use download::{Downloader, Plan, RunReport, Unit};
pub use error::{CodecError, Error, LedgerProblem, Result};
pub use job::{Job, JobError, PlanError};
