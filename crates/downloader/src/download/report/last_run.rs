//! What the download manifests last said about the units that are not stored: failed, not offered (with Tardis's
//! status, code and message), interrupted, or done.
//!
//! A unit's latest mention decides: among the shard manifests ([`crate::download::manifest`]) whose range overlaps
//! the report's, the one with the latest `finished_at` that names the unit in `errors`, `not_offered` or
//! `interrupted` (by unit id or object), or in `done_objects` or `skipped_objects`.
//!
//! The file facts of a unit are the latest manifest's record of them (`facts`, with the object's size and CRC32C,
//! which the survey holds against the stored object); whether a run learnt facts is the `facts_state` of the latest
//! manifest that names the unit done or skipped.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt as _, TryStreamExt as _};
use gcs_sink::ObjectSink;
use serde::Serialize;

use crate::download::UnitStatus;
use crate::download::manifest::{self, FactsState, Manifest, UnitFacts};
use crate::download::plan::Unit;
use crate::error::Error;

/// What the latest manifest that mentions a unit said of it, when it did not store it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastRun {
    /// [`UnitStatus::Failed`], [`UnitStatus::NotOffered`] or [`UnitStatus::Interrupted`].
    pub status: UnitStatus,
    /// The HTTP status Tardis answered (not offered).
    pub http_status: Option<u16>,
    /// Tardis's error code (not offered).
    pub code: Option<u32>,
    /// Tardis's message, the error, or why the run stopped.
    pub message: String,
}

/// What the download manifests said of the units, by unit id.
#[derive(Debug, Default)]
pub(super) struct Mentions {
    /// For a unit the latest manifest that mentions it did not store: what it said.
    pub(super) last_runs: HashMap<String, LastRun>,
    /// The latest record of a unit's file facts.
    pub(super) facts: HashMap<String, UnitFacts>,
    /// Whether the latest run that stored (or skipped) a unit learnt facts.
    pub(super) facts_states: HashMap<String, FactsState>,
}

/// Returns, for each of `units` (by unit id), what the download manifests of ranges that overlap `from..=to` said
/// of it ([`Mentions`]).
///
/// # Errors
/// [`Error::Sink`] when the manifests cannot be listed or one cannot be read, [`Error::NotAManifest`]: each named.
pub(super) async fn read(
    sink: &ObjectSink,
    from: NaiveDate,
    to: NaiveDate,
    units: &[&Unit],
) -> Result<Mentions, Error> {
    if units.is_empty() {
        return Ok(Mentions::default());
    }
    let names = manifest::list_overlapping(sink, from, to).await?;
    let mut mentions = LastMentions::new(units);
    let mut manifests = futures::stream::iter(names)
        .map(|name| async move { Manifest::read(sink, &name).await })
        .buffer_unordered(16);
    while let Some(manifest) = manifests.try_next().await? {
        // A manifest removed since the listing says nothing.
        if let Some(manifest) = manifest {
            mentions.observe(&manifest);
        }
    }
    Ok(mentions.mentions())
}

/// Whether a mention at `at` is later than the one `kept`.
fn later<T>(kept: &Option<(DateTime<Utc>, T)>, at: DateTime<Utc>) -> bool {
    kept.as_ref().is_none_or(|(when, _)| *when < at)
}

/// One mention of a unit: when, its rank within one manifest (a failure over not offered over interrupted over
/// done), and what it said (`None`: done or skipped).
type Mention = (DateTime<Utc>, u8, Option<LastRun>);

/// Per unit, its latest mention in the manifests observed.
struct LastMentions<'a> {
    ids: Vec<String>,
    by_id: HashMap<String, usize>,
    by_object: HashMap<&'a str, usize>,
    latest: Vec<Option<Mention>>,
    facts: Vec<Option<(DateTime<Utc>, UnitFacts)>>,
    facts_states: Vec<Option<(DateTime<Utc>, FactsState)>>,
}

impl<'a> LastMentions<'a> {
    fn new(units: &[&'a Unit]) -> Self {
        let ids: Vec<String> = units.iter().map(|unit| unit.id()).collect();
        LastMentions {
            by_id: ids.iter().enumerate().map(|(index, id)| (id.clone(), index)).collect(),
            by_object: units
                .iter()
                .enumerate()
                .flat_map(|(index, unit)| unit.object_names().map(move |name| (name, index)))
                .collect(),
            latest: vec![None; ids.len()],
            facts: vec![None; ids.len()],
            facts_states: vec![None; ids.len()],
            ids,
        }
    }

    fn observe(&mut self, manifest: &Manifest) {
        let finished_at = manifest.finished_at;
        let find = |unit: &str, object: &str| {
            self.by_id.get(unit).or_else(|| self.by_object.get(object)).copied()
        };
        let failures = manifest.errors.iter().map(|error| {
            let said = LastRun {
                status: UnitStatus::Failed,
                http_status: None,
                code: None,
                message: error.error.clone(),
            };
            (find(&error.unit, &error.object), 3, Some(said))
        });
        let records = [
            (&manifest.not_offered, UnitStatus::NotOffered, 2),
            (&manifest.interrupted, UnitStatus::Interrupted, 1),
        ]
        .into_iter()
        .flat_map(|(records, status, rank)| {
            records.iter().map(move |record| (record, status, rank))
        })
        .map(|(record, status, rank)| {
            let said = LastRun {
                status,
                http_status: record.http_status,
                code: record.code,
                message: record.message.clone(),
            };
            (find(&record.unit, &record.object), rank, Some(said))
        });
        let done = manifest
            .done_objects
            .iter()
            .chain(&manifest.skipped_objects)
            .map(|object| (self.by_object.get(object.as_str()).copied(), 0, None));
        let found: Vec<(Option<usize>, u8, Option<LastRun>)> =
            failures.chain(records).chain(done).collect();
        for record in &manifest.facts {
            if let Some(index) = find(&record.unit, &record.object)
                && later(&self.facts[index], finished_at)
            {
                self.facts[index] = Some((finished_at, record.clone()));
            }
        }
        for (index, rank, _) in &found {
            if let (Some(index), 0) = (index, rank)
                && later(&self.facts_states[*index], finished_at)
            {
                self.facts_states[*index] = Some((finished_at, manifest.facts_state));
            }
        }
        // A later manifest wins; within one, a failure wins over not offered, over interrupted, over done.
        for (index, rank, said) in found {
            let Some(index) = index else { continue };
            if self.latest[index]
                .as_ref()
                .is_none_or(|(when, previous, _)| (*when, *previous) < (finished_at, rank))
            {
                self.latest[index] = Some((finished_at, rank, said));
            }
        }
    }

    /// What was observed, by unit id: the units whose latest mention was not "done", their facts and how they were
    /// learnt.
    fn mentions(self) -> Mentions {
        fn by_id<T>(ids: &[String], kept: Vec<Option<(DateTime<Utc>, T)>>) -> HashMap<String, T> {
            ids.iter().cloned().zip(kept).filter_map(|(id, kept)| Some((id, kept?.1))).collect()
        }
        Mentions {
            facts: by_id(&self.ids, self.facts),
            facts_states: by_id(&self.ids, self.facts_states),
            last_runs: self
                .ids
                .iter()
                .cloned()
                .zip(self.latest)
                .filter_map(|(id, latest)| Some((id, latest?.2?)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use crate::download::plan::UnitObject;

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

    /// A unit record as a manifest has it: not offered with a code, interrupted without.
    fn record(unit: &str, object: &str, code: Option<u32>) -> serde_json::Value {
        let status = if code.is_some() { "not_offered" } else { "interrupted" };
        let mut record = serde_json::json!({"unit": unit, "object": object, "status": status, "message": "said"});
        if let Some(code) = code {
            record["http_status"] = 400.into();
            record["code"] = code.into();
        }
        record
    }

    /// A manifest with the fields the report reads; the others as a download writes them.
    fn manifest(
        finished_at: &str,
        errors: &[(&str, &str)],
        not_offered: Vec<serde_json::Value>,
        interrupted: Vec<serde_json::Value>,
        done: &[&str],
    ) -> Manifest {
        let errors: Vec<serde_json::Value> = errors
            .iter()
            .map(|(unit, object)| {
                serde_json::json!({"unit": unit, "object": object, "attempts": 3, "error": "boom"})
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "version": 1, "from": "2026-10-01", "to": "2026-10-01", "plan_fingerprint": "f", "plan_units": 6,
            "shard_index": 0, "total_shards": 1, "status": "failed", "started_at": finished_at,
            "finished_at": finished_at, "duration_secs": 1.0, "units": crate::download::manifest::UnitCounts::default(),
            "bytes_downloaded": 0, "bytes_written": 0, "retries": 0, "errors": errors,
            "not_offered": not_offered, "interrupted": interrupted, "done_objects": done, "skipped_objects": [],
        }))
        .expect("a manifest")
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
            let runs = mentions.mentions().last_runs;
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
}
