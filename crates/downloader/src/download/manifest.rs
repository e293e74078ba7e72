//! The download manifest's contract, in one place: its object names (written and parsed), its schema
//! ([`Manifest`]), and reading and writing it. md-cli (`download`, `missing`) and xtask use it from here.
//!
//! One object per shard and date range: `manifests/download/{from}_{to}/shard-{index:04}-of-{total:04}.json`.
//! A rerun replaces it (atomically) with its own summary; units skipped because a previous run stored them are
//! listed as `skipped`, so the latest manifests of all shards together account for every planned unit.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt as _;
use gcs_sink::{ObjectSink, WriteMode};
use serde::{Deserialize, Serialize};
use tardis_client::facts::FileFacts;

use super::adopt::{AdoptedObject, LeftAlone};
use super::days::RunDays;
use super::status::UnitStatus;
use crate::error::Error;

/// Where manifests live in the sink.
pub const MANIFEST_PREFIX: &str = "manifests/download";

/// The object name of a shard's manifest.
pub fn object_name(from: NaiveDate, to: NaiveDate, shard: u32, total: u32) -> String {
    format!("{MANIFEST_PREFIX}/{from}_{to}/shard-{shard:04}-of-{total:04}.json")
}

/// The range of a manifest's object name (as [`object_name`] writes it); `None` for any other name.
pub fn range_of(name: &str) -> Option<(NaiveDate, NaiveDate)> {
    let rest = name.strip_prefix(MANIFEST_PREFIX)?.strip_prefix('/')?;
    let (range, file) = rest.split_once('/')?;
    let (shard, total) = file.strip_prefix("shard-")?.strip_suffix(".json")?.split_once("-of-")?;
    let number = |text: &str| text.len() >= 4 && text.bytes().all(|byte| byte.is_ascii_digit());
    if !(number(shard) && number(total)) {
        return None;
    }
    let (from, to) = range.split_once('_')?;
    Some((from.parse().ok()?, to.parse().ok()?))
}

/// Lists the manifests of every shard whose range overlaps `from..=to`.
///
/// # Errors
/// [`Error::Sink`] when the sink cannot be listed.
///
/// # Cancel safety
/// Read-only.
pub async fn list_overlapping(
    sink: &ObjectSink,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<String>, Error> {
    sink.list(MANIFEST_PREFIX)
        .map_ok(|object| object.name)
        .try_filter(|name| {
            let overlaps = range_of(name).is_some_and(|(first, last)| first <= to && last >= from);
            futures::future::ready(overlaps)
        })
        .try_collect()
        .await
        .map_err(|source| Error::sink("list the download manifests under", MANIFEST_PREFIX, source))
}

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
    /// Stored by this run from a file without rows (also counted in `done`; [`UnitStatus::Empty`] in
    /// [`Manifest::facts`]). Known only where facts are learnt ([`Manifest::facts_state`]).
    #[serde(default)]
    pub empty: usize,
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

/// What is inside one stored file, as Tardis sent it ([`FileFacts`]: rows, first and last timestamps, rows out of
/// order, crossed and locked books), with the object it was stored as and that object's size and CRC32C: the facts
/// describe exactly those bytes. The manifest is the facts' only record (docs/SCHEMAS.md, "Per-file facts", says why
/// they are not in the object's metadata).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitFacts {
    /// The unit (`date/exchange/data_type/symbol`).
    pub unit: String,
    /// The object the file was stored as.
    pub object: String,
    /// The object's size in bytes, as recorded with it.
    pub size: u64,
    /// The object's CRC32C, 8 lowercase hex digits, as recorded with it.
    pub crc32c: String,
    /// [`UnitStatus::StoredVerified`], or [`UnitStatus::Empty`] for a file without rows.
    pub status: UnitStatus,
    /// The facts.
    pub facts: FileFacts,
}

impl UnitFacts {
    /// The record of `facts` learnt from the file stored as `object` with `digest`.
    pub fn new(unit: String, object: String, digest: gcs_sink::Digest, facts: FileFacts) -> Self {
        UnitFacts {
            unit,
            object,
            size: digest.size,
            crc32c: digest.crc32c_hex(),
            status: if facts.is_empty() { UnitStatus::Empty } else { UnitStatus::StoredVerified },
            facts,
        }
    }
}

/// Whether a run learnt the facts of the files it stored ([`Manifest::facts`]), and if not, why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactsState {
    /// Learnt for every file the run downloaded and stored, while the gzip check (raw output) or the converter
    /// (Parquet output) inflated it.
    Learnt,
    /// `TARDIS_VERIFY_GZIP=false`: no file was inflated, so none has facts.
    GzipCheckOff,
    /// `MD_FILE_FACTS=false`: the gzip check ran without learning them.
    TurnedOff,
    /// A manifest of an md version whose converter did not learn facts (`MD_OUTPUT_FORMAT` with `parquet`); md
    /// no longer writes it.
    ParquetOutput,
    /// A manifest written before md recorded facts.
    #[default]
    NotRecorded,
}

impl FactsState {
    /// How a run configured with `verify_gzip`, `file_facts` and `output_formats` learns facts: with Parquet in
    /// the output the converter inflates every file whatever `verify_gzip` says, and learns them.
    pub fn of(
        verify_gzip: bool,
        file_facts: bool,
        output_formats: md_config::OutputFormats,
    ) -> Self {
        let inflated = verify_gzip || output_formats.contains(md_config::OutputFormat::Parquet);
        if !inflated {
            FactsState::GzipCheckOff
        } else if !file_facts {
            FactsState::TurnedOff
        } else {
            FactsState::Learnt
        }
    }
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
    /// Whether this run learnt the facts of the files it stored, and if not, why.
    #[serde(default)]
    pub facts_state: FactsState,
    /// What is inside each file this run stored, and each file the shard's previous manifest of the range recorded
    /// for a unit this run found stored and skipped (the same object, size and CRC32C), in unit order. The files
    /// this run stored have records only when [`Manifest::facts_state`] is [`FactsState::Learnt`]; a skipped unit's
    /// record is carried over whatever this run's setting.
    #[serde(default)]
    pub facts: Vec<UnitFacts>,
}

impl Manifest {
    /// The current manifest format version.
    pub const VERSION: u32 = 1;

    /// The largest manifest md reads (a shard of a million units names them in well under this).
    pub const MAX_BYTES: u64 = 512 * 1024 * 1024;

    /// Its object name.
    pub fn object_name(&self) -> String {
        object_name(self.from, self.to, self.shard_index, self.total_shards)
    }

    /// Reads a manifest; `None` when there is none under `object`.
    ///
    /// # Errors
    /// [`Error::Sink`] when it cannot be read, [`Error::NotAManifest`] when it is not one.
    ///
    /// # Cancel safety
    /// Read-only.
    pub async fn read(sink: &ObjectSink, object: &str) -> Result<Option<Manifest>, Error> {
        let Some(body) = sink
            .read_small(object, Manifest::MAX_BYTES)
            .await
            .map_err(|source| Error::sink("read the download manifest", object, source))?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|source| Error::NotAManifest { object: object.to_owned(), source })
    }

    /// Writes it under [`Manifest::object_name`], replacing the previous one atomically; returns the name.
    ///
    /// # Errors
    /// [`Error::Manifest`] naming the object.
    ///
    /// # Cancel safety
    /// The write is atomic: dropping the future leaves the previous manifest or this one.
    pub async fn write(&self, sink: &ObjectSink) -> Result<String, Error> {
        let object = self.object_name();
        let body = serde_json::to_vec_pretty(self).expect("a manifest serializes");
        sink.put_bytes(&object, body, WriteMode::Replace).await.map_err(|source| {
            Error::Manifest { object: object.clone(), source: Box::new(source) }
        })?;
        Ok(object)
    }
}

/// What a shard's previous manifest for the same range recorded that a rerun keeps: the units not offered, by unit
/// id (not asked for again; recorded again instead), and the facts of stored files, by object name (carried over
/// for the units the rerun skips).
#[derive(Debug, Clone, Default)]
pub struct Previous {
    /// Units not offered, by unit id.
    pub not_offered: BTreeMap<String, UnitRecord>,
    /// Facts of stored files, by object name.
    pub facts: BTreeMap<String, UnitFacts>,
}

impl Previous {
    /// Reads the previous manifest under `object`. Nothing when there is none, or when it cannot be read (said in a
    /// warning): its units not offered are then asked for again, which costs one request each, and the facts of
    /// the files it stored are not carried over.
    ///
    /// # Cancel safety
    /// Read-only.
    pub async fn read(sink: &ObjectSink, object: &str) -> Previous {
        match Manifest::read(sink, object).await {
            Ok(previous) => previous
                .map(|previous| Previous {
                    not_offered: previous
                        .not_offered
                        .into_iter()
                        .map(|record| (record.unit.clone(), record))
                        .collect(),
                    facts: previous
                        .facts
                        .into_iter()
                        .map(|record| (record.object.clone(), record))
                        .collect(),
                })
                .unwrap_or_default(),
            Err(error) => {
                tracing::warn!(object, error = %crate::error::chain(&error), "cannot read the previous manifest; units it said were not offered are asked for again, and the facts it recorded are not carried over");
                Previous::default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_parse_back_to_their_range_and_nothing_else_does() {
        let day = |text: &str| text.parse::<NaiveDate>().unwrap();
        let (from, to) = (day("2026-10-01"), day("2026-10-04"));
        let name = object_name(from, to, 3, 12);
        assert_eq!(name, "manifests/download/2026-10-01_2026-10-04/shard-0003-of-0012.json");
        assert_eq!(range_of(&name), Some((from, to)));
        for other in [
            "manifests/download/2026-10-01_2026-10-04/notes.json",
            "manifests/download/2026-10-01_2026-10-04/shard-x-of-0001.json",
            "manifests/download/2026-10-01/shard-0000-of-0001.json",
            "manifests/download/x_y/shard-0000-of-0001.json",
            "manifests/downloads/2026-10-01_2026-10-04/shard-0000-of-0001.json",
            "manifests/download/2026-10-01_2026-10-04/a/shard-0000-of-0001.json",
        ] {
            assert_eq!(range_of(other), None, "{other}");
        }
    }
}
