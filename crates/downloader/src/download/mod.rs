//! The tick download: from the stored definitions to one object per dataset file, for one shard of a fleet.
//!
//! - [`plan`]: pure; every unit (day × exchange × data type × dataset symbol) of a range with its object name (from
//!   md-config's `Layout`) and its shard, deterministic on every machine.
//! - [`pipeline`]: [`Downloader::run`] takes one shard's units through one bounded queue, streaming each from
//!   `tardis-client` (through [`crate::convert`] for Parquet) into `gcs-sink`, and writes the shard's [`manifest`].
//! - [`adopt`]: objects at planned names that md did not write, checked (a Parquet footer, a whole `.csv.gz`) and
//!   kept, or found under a historical spelling of their key and copied, instead of downloaded again.
//! - [`days`]: the run's days, resolved once (`latest`, `yesterday`, `today-N`), the same for every task of a run.
//! - [`freshness`]: what Tardis has exported per exchange (`exportedUntil`, incident reports), which the plan uses.
//! - [`index`]: the lake index, one Parquet part per data type, day and shard listing the day's stored objects
//!   (`raw_tick_data_index/...`), written by every run after its manifest.
//! - [`listing`]: whether Tardis's dataset listing leaves a unit out (a 404 for it is "not offered").
//! - [`quota`]: the shard's share of the daily byte quota, kept per UTC day in a ledger object.
//! - [`progress`]: the events md-cli renders.
//! - [`report`]: what `md-cli missing` computes: the status of every planned unit ([`report::Survey`]), its JSON
//!   report and the coverage page ([`report::page`]).
//! - [`reports`]: the original system's per-day report objects (`missing_data.parquet`, `available_data.parquet`),
//!   which [`report::Survey::write_reports`] writes.
//! - [`split`]: grouped options units stored split by underlying × expiry, with a part list ([`split::PartList`]).
//! - [`share`]: settings the original system ignored and md applies (the shard variables), and what share of the
//!   plan a shard takes.
//! - [`summary`]: how a shard's run, the plan's shards and each unit read (`md-cli download`, `plan`, `missing`).
//! - [`status`]: [`UnitStatus`], the one list of what a unit can be (docs/STATUSES.md).

pub mod adopt;
pub mod days;
pub mod freshness;
pub mod index;
pub mod listing;
pub mod manifest;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod quota;
pub mod report;
pub mod reports;
pub mod share;
pub mod split;
pub mod status;
pub mod summary;

pub use days::RunDays;
pub use freshness::Freshness;
pub use pipeline::{Downloader, RunReport, VerifyMode};
pub use plan::{DayInstruments, Plan, PlanInstrument, Unit};
pub use status::UnitStatus;
