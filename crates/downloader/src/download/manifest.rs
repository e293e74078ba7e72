//! The per-shard run summary written to the sink after each run, so a fleet's state can be read from the bucket alone.
//!
//! One object per shard and date range: `manifests/download/{from}_{to}/shard-{index:04}-of-{total:04}.json`.
//! A rerun replaces it (atomically) with its own summary; units skipped because a previous run stored them are
//! listed as `skipped`, so the latest manifests of all shards together account for every planned unit.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use gcs_sink::ObjectSink;
use serde::{Deserialize, Serialize};

use super::adopt::{AdoptedObject, LeftAlone};
use super::days::RunDays;
use super::status::UnitStatus;

/// The object name of a shard's manifest.
pub fn object_name(from: NaiveDate, to: NaiveDate, shard: u32, total: u32) -> String {
    format!("{}/{from}_{to}/shard-{shard:04}-of-{total:04}.json", MANIFEST_PREFIX)
}

/// Where manifests live in the sink.
pub const MANIFEST_PREFIX: &str = "manifests/download";

/// How a shard's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every unit of the shard is stored and verified (or adopted).
    Complete,
    /// The run finished, but some units failed after their retries, or objects md did not write were left alone.
    Failed,
    /// The shard's share of `TARDIS_DAILY_QUOTA_BYTES` would have been exceeded; the shard stopped early.
    QuotaExhausted,
    /// SIGINT or SIGTERM: the shard stopped taking units and aborted those in flight.
    Interrupted,
    /// Tardis refused the API key because it is in use from another IP address, for longer than
    /// `TARDIS_IP_LOCK_MAX_WAIT_SECS`: the shard stopped; the units not done are listed as interrupted.
    IpLocked,
}

/// Counts of units by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitCounts {
    /// Units of this shard in the plan.
    pub planned: usize,
    /// Downloaded and stored by this run.
    pub done: usize,
    /// Already stored and verified: nothing downloaded.
    pub skipped: usize,
    /// Stored, but failed verification, and replaced by this run (also counted in `done`).
    pub replaced: usize,
    /// Failed after retries.
    pub failed: usize,
    /// Not offered by Tardis (listed in [`Manifest::not_offered`]).
    #[serde(default)]
    pub not_offered: usize,
    /// Never started or stopped before done (a signal, the quota share, the key in use from another IP address;
    /// listed in [`Manifest::interrupted`]).
    pub not_started: usize,
    /// Stored by adopting objects md did not write (or copying them from a historical spelling of the key):
    /// nothing downloaded. Each such object is listed in [`Manifest::adopted_objects`].
    #[serde(default)]
    pub adopted: usize,
    /// Not stored because an object md did not write is at the planned name and did not check out: left alone
    /// (listed in [`Manifest::left_alone`]; `--force` replaces it).
    #[serde(default)]
    pub left_alone: usize,
}

/// A failed unit and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitError {
    /// The unit (`date/exchange/data_type/symbol`).
    pub unit: String,
    /// Its object name.
    pub object: String,
    /// Attempts made.
    pub attempts: u32,
    /// The error chain.
    pub error: String,
}

/// A unit a run did not store for a reason that is not a failure: not offered by Tardis, or interrupted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRecord {
    /// The unit (`date/exchange/data_type/symbol`).
    pub unit: String,
    /// Its object name (the first, with several output formats).
    pub object: String,
    /// [`UnitStatus::NotOffered`] or [`UnitStatus::Interrupted`].
    pub status: UnitStatus,
    /// The HTTP status Tardis answered, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Tardis's error code, when its answer carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u32>,
    /// Tardis's message, or why the run stopped.
    pub message: String,
}

/// A shard's run summary: what `md-cli download` writes to the sink after its work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version.
    pub version: u32,
    /// First day of the plan.
    pub from: NaiveDate,
    /// Last day of the plan (inclusive).
    pub to: NaiveDate,
    /// The plan's fingerprint: equal across shards that ran the same plan.
    pub plan_fingerprint: String,
    /// Units in the whole plan (all shards).
    pub plan_units: usize,
    /// This shard.
    pub shard_index: u32,
    /// Number of shards.
    pub total_shards: u32,
    /// How the run ended.
    pub status: RunStatus,
    /// Start of the run.
    pub started_at: DateTime<Utc>,
    /// End of the run.
    pub finished_at: DateTime<Utc>,
    /// Wall time in seconds.
    pub duration_secs: f64,
    /// Unit counts.
    pub units: UnitCounts,
    /// Compressed bytes downloaded from Tardis (all attempts).
    pub bytes_downloaded: u64,
    /// Bytes of objects stored by this run.
    pub bytes_written: u64,
    /// Retries (attempts beyond the first) over all units.
    pub retries: u64,
    /// Failed units with their errors.
    pub errors: Vec<UnitError>,
    /// Units Tardis does not offer (with its status, code and message): never retried, not failures.
    #[serde(default)]
    pub not_offered: Vec<UnitRecord>,
    /// Units the run stopped before they were done (with why): not failures; a rerun downloads them.
    #[serde(default)]
    pub interrupted: Vec<UnitRecord>,
    /// Object names stored by this run.
    pub done_objects: Vec<String>,
    /// Object names found stored and verified, so skipped.
    pub skipped_objects: Vec<String>,
    /// Objects md did not write that this run adopted (checked and recorded, or copied from a historical spelling
    /// of their key), also when the unit's other object was downloaded.
    #[serde(default)]
    pub adopted_objects: Vec<AdoptedObject>,
    /// Objects md did not write, at planned names, that did not check out: left alone.
    #[serde(default)]
    pub left_alone: Vec<LeftAlone>,
    /// How the days were resolved (what was asked, when, for which run), when the caller says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<RunDays>,
    /// Each exchange's `exportedUntil` the plan was made against.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exported_until: BTreeMap<String, DateTime<Utc>>,
    /// Units of the range Tardis had not exported yet (in every shard's plan; not planned, not failed).
    #[serde(default)]
    pub not_yet_exported: usize,
}

impl Manifest {
    /// The current manifest format version.
    pub const VERSION: u32 = 1;
}

/// Returns the units a shard's previous manifest for the same range recorded as not offered, by unit id: a rerun
/// does not ask Tardis for them again (they are recorded again instead). Nothing when there is no such manifest, or
/// when it cannot be read (said in a warning): the units are then asked for, which costs one request each.
///
/// # Cancel safety
/// Read-only.
pub async fn previously_not_offered(
    sink: &ObjectSink,
    object: &str,
) -> BTreeMap<String, UnitRecord> {
    /// Only the field needed, so older and newer manifests read too.
    #[derive(Deserialize)]
    struct Previous {
        #[serde(default)]
        not_offered: Vec<UnitRecord>,
    }
    let body = match sink.get(object).await {
        Ok(body) => body.map_ok(|chunk| chunk.to_vec()).try_concat().await,
        Err(gcs_sink::Error::NotFound { .. }) => return BTreeMap::new(),
        Err(error) => Err(error),
    };
    let parsed = body.map_err(|error| error.to_string()).and_then(|body| {
        serde_json::from_slice::<Previous>(&body).map_err(|error| error.to_string())
    });
    match parsed {
        Ok(previous) => {
            previous.not_offered.into_iter().map(|record| (record.unit.clone(), record)).collect()
        }
        Err(error) => {
            tracing::warn!(object, error = %error, "cannot read the previous manifest; units it said were not offered are asked for again");
            BTreeMap::new()
        }
    }
}
