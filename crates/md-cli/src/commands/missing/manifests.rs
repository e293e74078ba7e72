//! What the download manifests last said about the units that are not stored: failed, not offered (with Tardis's
//! status, code and message), interrupted, or done.
//!
//! A unit's latest mention decides: among the objects `manifests/download/{from}_{to}/shard-*.json` whose range
//! overlaps the report's, the one with the latest `finished_at` that names the unit in `errors`, `not_offered` or
//! `interrupted` (by unit id or object), or in `done_objects` or `skipped_objects`.

use std::collections::HashMap;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, NaiveDate, Utc};
use downloader::download::UnitStatus;
use downloader::download::manifest::MANIFEST_PREFIX;
use downloader::download::plan::Unit;
use futures::{StreamExt, TryStreamExt};
use gcs_sink::ObjectSink;
use serde::Deserialize;

use crate::exit::Failure;

/// What a manifest said about a unit it did not store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LastRun {
    /// [`UnitStatus::Failed`], [`UnitStatus::NotOffered`] or [`UnitStatus::Interrupted`].
    pub(crate) status: UnitStatus,
    /// The HTTP status Tardis answered (not offered).
    pub(crate) http_status: Option<u16>,
    /// Tardis's error code (not offered).
    pub(crate) code: Option<u32>,
    /// Tardis's message, the error, or why the run stopped.
    pub(crate) message: String,
}

/// What the reports read of a download manifest: only the fields they need, so manifests with more (or fewer) fields
/// read too.
#[derive(Debug, Deserialize)]
pub(crate) struct ManifestView {
    pub(crate) finished_at: DateTime<Utc>,
    #[serde(default)]
    pub(crate) errors: Vec<ErrorView>,
    #[serde(default)]
    pub(crate) not_offered: Vec<RecordView>,
    #[serde(default)]
    pub(crate) interrupted: Vec<RecordView>,
    #[serde(default)]
    pub(crate) done_objects: Vec<String>,
    #[serde(default)]
    pub(crate) skipped_objects: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorView {
    pub(crate) unit: String,
    #[serde(default)]
    pub(crate) object: String,
    #[serde(default)]
    pub(crate) error: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RecordView {
    pub(crate) unit: String,
    #[serde(default)]
    pub(crate) object: String,
    #[serde(default)]
    pub(crate) http_status: Option<u16>,
    #[serde(default)]
    pub(crate) code: Option<u32>,
    #[serde(default)]
    pub(crate) message: String,
}

/// The range of a manifest's object name, `manifests/download/{from}_{to}/shard-NNNN-of-NNNN.json`; `None` for
/// any other name.
pub(crate) fn manifest_range(name: &str) -> Option<(NaiveDate, NaiveDate)> {
    let rest = name.strip_prefix(MANIFEST_PREFIX)?.strip_prefix('/')?;
    let (range, file) = rest.split_once('/')?;
    if !(file.starts_with("shard-") && file.ends_with(".json")) || file.contains('/') {
        return None;
    }
    let (from, to) = range.split_once('_')?;
    Some((from.parse().ok()?, to.parse().ok()?))
}

/// Returns, for each of `units` (by unit id), what its latest mention in a download manifest (of a range that
/// overlaps `from..=to`) said, when that was not "done".
///
/// # Errors
/// A manifest that cannot be listed, read or parsed, named.
pub(crate) async fn last_runs(
    sink: &ObjectSink,
    from: NaiveDate,
    to: NaiveDate,
    units: &[&Unit],
) -> Result<HashMap<String, LastRun>, Failure> {
    if units.is_empty() {
        return Ok(HashMap::new());
    }
    let names: Vec<String> = sink
        .list(MANIFEST_PREFIX)
        .map_ok(|object| object.name)
        .try_filter(|name| {
            let overlaps =
                manifest_range(name).is_some_and(|(first, last)| first <= to && last >= from);
            futures::future::ready(overlaps)
        })
        .try_collect()
        .await
        .with_context(|| format!("cannot list the download manifests under {MANIFEST_PREFIX}"))
        .map_err(Failure::Work)?;
    let mut mentions = LastMentions::new(units);
    let mut manifests = futures::stream::iter(names)
        .map(|name| async move {
            let read = async {
                let mut stream = sink.get(&name).await?;
                let mut body = Vec::new();
                while let Some(chunk) = stream.try_next().await? {
                    body.extend_from_slice(&chunk);
                }
                Ok::<_, gcs_sink::Error>(body)
            };
            let body = read
                .await
                .map_err(|error| anyhow!(error))
                .with_context(|| format!("cannot read the download manifest {name}"))?;
            serde_json::from_slice::<ManifestView>(&body)
                .with_context(|| format!("the download manifest {name} is not a manifest"))
        })
        .buffer_unordered(16);
    while let Some(manifest) = manifests.next().await {
        mentions.observe(&manifest.map_err(Failure::Work)?);
    }
    Ok(mentions.last_runs())
}

/// One mention of a unit: when, its rank within one manifest (a failure over not offered over interrupted over
/// done), and what it said (`None`: done or skipped).
type Mention = (DateTime<Utc>, u8, Option<LastRun>);

/// Per unit, its latest mention in the manifests observed.
pub(crate) struct LastMentions<'a> {
    ids: Vec<String>,
    by_id: HashMap<String, usize>,
    by_object: HashMap<&'a str, usize>,
    latest: Vec<Option<Mention>>,
}

impl<'a> LastMentions<'a> {
    pub(crate) fn new(units: &[&'a Unit]) -> Self {
        let ids: Vec<String> = units.iter().map(|unit| unit.id()).collect();
        LastMentions {
            by_id: ids.iter().enumerate().map(|(index, id)| (id.clone(), index)).collect(),
            by_object: units
                .iter()
                .enumerate()
                .flat_map(|(index, unit)| unit.object_names().map(move |name| (name, index)))
                .collect(),
            latest: vec![None; ids.len()],
            ids,
        }
    }

    pub(crate) fn observe(&mut self, manifest: &ManifestView) {
        let finished_at = manifest.finished_at;
        // A later manifest wins; within one, a failure wins over not offered, over interrupted, over done.
        let mut mention = |index: usize, rank: u8, said: Option<LastRun>| {
            if self.latest[index]
                .as_ref()
                .is_none_or(|(when, previous, _)| (*when, *previous) < (finished_at, rank))
            {
                self.latest[index] = Some((finished_at, rank, said));
            }
        };
        let find = |unit: &str, object: &str| {
            self.by_id.get(unit).or_else(|| self.by_object.get(object)).copied()
        };
        let mut found = Vec::new();
        for error in &manifest.errors {
            if let Some(index) = find(&error.unit, &error.object) {
                let said = LastRun {
                    status: UnitStatus::Failed,
                    http_status: None,
                    code: None,
                    message: error.error.clone(),
                };
                found.push((index, 3, Some(said)));
            }
        }
        for (records, status, rank) in [
            (&manifest.not_offered, UnitStatus::NotOffered, 2),
            (&manifest.interrupted, UnitStatus::Interrupted, 1),
        ] {
            for record in records {
                if let Some(index) = find(&record.unit, &record.object) {
                    let said = LastRun {
                        status,
                        http_status: record.http_status,
                        code: record.code,
                        message: record.message.clone(),
                    };
                    found.push((index, rank, Some(said)));
                }
            }
        }
        for object in manifest.done_objects.iter().chain(&manifest.skipped_objects) {
            if let Some(index) = self.by_object.get(object.as_str()) {
                found.push((*index, 0, None));
            }
        }
        for (index, rank, said) in found {
            mention(index, rank, said);
        }
    }

    /// The units whose latest mention was not "done", by unit id.
    pub(crate) fn last_runs(self) -> HashMap<String, LastRun> {
        self.ids
            .into_iter()
            .zip(self.latest)
            .filter_map(|(id, latest)| Some((id, latest?.2?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use downloader::download::plan::UnitObject;

    use super::*;

    fn unit(symbol: &str) -> Unit {
        Unit {
            date: "2026-10-01".parse().unwrap(),
            exchange: "deribit".into(),
            data_type: md_config::DataType::Trades,
            symbol: symbol.into(),
            instrument_key: format!("DERIBIT:PERP:{symbol}"),
            instrument_type: md_config::InstrumentType::Perpetual,
            grouped: false,
            objects: [md_config::OutputFormat::Raw, md_config::OutputFormat::Parquet]
                .into_iter()
                .map(|format| UnitObject {
                    format,
                    name: format!("raw/{symbol}.{}", format.extension()),
                })
                .collect(),
            shard: Some(0),
            incident: None,
        }
    }

    fn record(unit: &str, object: &str, code: Option<u32>) -> RecordView {
        RecordView {
            unit: unit.into(),
            object: object.into(),
            http_status: code.map(|_| 400),
            code,
            message: "said".into(),
        }
    }

    fn manifest(
        finished_at: &str,
        errors: &[(&str, &str)],
        not_offered: Vec<RecordView>,
        interrupted: Vec<RecordView>,
        done: &[&str],
    ) -> ManifestView {
        ManifestView {
            finished_at: finished_at.parse().unwrap(),
            errors: errors
                .iter()
                .map(|(unit, object)| ErrorView {
                    unit: (*unit).into(),
                    object: (*object).into(),
                    error: "boom".into(),
                })
                .collect(),
            not_offered,
            interrupted,
            done_objects: done.iter().map(|object| (*object).into()).collect(),
            skipped_objects: Vec::new(),
        }
    }

    /// The latest manifest that mentions a unit decides, whatever order the manifests are read in; a unit is
    /// recognised by unit id or, failing that, by object.
    #[test]
    fn report_the_latest_manifest_that_mentions_a_unit_decides() {
        let units = [unit("A"), unit("B"), unit("C"), unit("D"), unit("E"), unit("F")];
        let refs: Vec<&Unit> = units.iter().collect();
        let id = |symbol: &str| format!("2026-10-01/deribit/trades/{symbol}");
        let early = "2026-10-02T01:00:00Z";
        let late = "2026-10-03T01:00:00Z";
        let manifests = [
            // A failed early and was done later; B was done early and failed later; C failed, by object only (its
            // Parquet object); D was interrupted, then not offered; E not offered, then interrupted; F only done.
            manifest(
                early,
                &[(&id("A"), "raw/A.csv.gz")],
                vec![record(&id("E"), "raw/E.csv.gz", Some(140))],
                vec![record(&id("D"), "", None)],
                &["raw/B.csv.gz", "raw/F.csv.gz"],
            ),
            manifest(
                late,
                &[(&id("B"), "raw/B.csv.gz")],
                vec![record("elsewhere", "raw/D.parquet", Some(300))],
                vec![record(&id("E"), "raw/E.csv.gz", None)],
                &["raw/A.csv.gz"],
            ),
            manifest(early, &[("something else", "raw/C.parquet")], vec![], vec![], &[]),
        ];
        for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2]] {
            let mut mentions = LastMentions::new(&refs);
            for index in order {
                mentions.observe(&manifests[index]);
            }
            let runs = mentions.last_runs();
            let statuses: HashSet<(String, UnitStatus)> =
                runs.iter().map(|(id, run)| (id.clone(), run.status)).collect();
            let expected: HashSet<(String, UnitStatus)> = [
                (id("B"), UnitStatus::Failed),
                (id("C"), UnitStatus::Failed),
                (id("D"), UnitStatus::NotOffered),
                (id("E"), UnitStatus::Interrupted),
            ]
            .into_iter()
            .collect();
            assert_eq!(statuses, expected, "order {order:?}");
            assert_eq!(runs[&id("D")].code, Some(300), "order {order:?}");
        }
    }

    #[test]
    fn report_reads_only_shard_manifests_with_their_range() {
        let day = |text: &str| text.parse::<NaiveDate>().unwrap();
        assert_eq!(
            manifest_range("manifests/download/2026-10-01_2026-10-04/shard-0000-of-0001.json"),
            Some((day("2026-10-01"), day("2026-10-04")))
        );
        for other in [
            "manifests/download/2026-10-01_2026-10-04/notes.json",
            "manifests/download/2026-10-01/shard-0000-of-0001.json",
            "manifests/download/x_y/shard-0000-of-0001.json",
            "manifests/downloads/2026-10-01_2026-10-04/shard-0000-of-0001.json",
            "manifests/download/2026-10-01_2026-10-04/a/shard-0000-of-0001.json",
        ] {
            assert_eq!(manifest_range(other), None, "{other}");
        }
    }
}
