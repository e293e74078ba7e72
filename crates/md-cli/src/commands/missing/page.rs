//! `md-cli missing --html PATH`: the classified units as the neutral model of [`super::html`], the units that
//! failed in their last download manifest told apart from the merely missing, and the page written to `PATH` and
//! to the sink beside the JSON report.
//!
//! A missing unit is *failed* when the most recent download manifest that mentions it (by `finished_at`, among the
//! objects `manifests/download/{from}_{to}/shard-*.json` whose range overlaps the report's, mentioning it in
//! `errors` by unit id or object, or in `done_objects` or `skipped_objects`) recorded an error for it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, NaiveDate, Utc};
use downloader::download::manifest::MANIFEST_PREFIX;
use downloader::download::plan::{Plan, Unit};
use futures::{StreamExt, TryStreamExt};
use gcs_sink::{GcsSink, WriteMode};
use serde::Deserialize;

use super::Found;
use super::html::{Coverage, CoverageUnit, Status};
use crate::exit::Failure;
use crate::output::LocalFileWriter;

/// The object the page is stored under, beside `reports/missing/missing_{from}_{to}.json`.
pub(crate) fn object_name(from: NaiveDate, to: NaiveDate) -> String {
    format!("reports/missing/missing_{from}_{to}.html")
}

/// Checks, before any work, that `--html PATH` names a file in an existing directory.
///
/// # Errors
/// [`Failure::BadInput`] naming the flag and the path.
pub(crate) fn check_path(path: &Path) -> Result<(), Failure> {
    if path.file_name().is_none() || path.is_dir() {
        return Err(Failure::BadInput(anyhow!("--html {} is not a file path", path.display())));
    }
    let parent =
        path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(Failure::BadInput(anyhow!(
            "--html {}: the directory {} does not exist",
            path.display(),
            parent.display()
        )));
    }
    Ok(())
}

/// Renders the page of `classified` (with each stored object's size from `stored`) and writes it to `path`
/// (atomically) and to the sink; returns the object name.
///
/// # Errors
/// A manifest that cannot be listed, read or parsed, a file or object that cannot be written: each named.
///
/// # Cancel safety
/// Dropping the future leaves nothing at `path`; the sink's write is atomic.
pub(crate) async fn write(
    sink: &GcsSink,
    plan: &Plan,
    classified: &[(&Unit, Found)],
    stored: &BTreeMap<String, (Found, u64)>,
    generated_at: DateTime<Utc>,
    path: &Path,
) -> Result<String, Failure> {
    let missing: Vec<&Unit> = classified
        .iter()
        .filter(|(_, found)| *found == Found::Missing)
        .map(|(unit, _)| *unit)
        .collect();
    let failed = failed_in_last_manifest(sink, plan.range.start, plan.range.end, &missing).await?;
    let coverage = Coverage {
        from: plan.range.start,
        to: plan.range.end,
        generated_at,
        exported_until: plan.exported_until.clone(),
        days_not_exported: plan.days_not_exported.clone(),
        units: classified
            .iter()
            .map(|(unit, found)| CoverageUnit {
                date: unit.date,
                exchange: &unit.exchange,
                data_type: unit.data_type.as_str(),
                instrument_key: &unit.instrument_key,
                status: match found {
                    // An adopted object is stored and checked; the page does not tell it apart.
                    Found::Verified | Found::Adopted => Status::Verified,
                    Found::Unverified => Status::Unverified,
                    Found::Missing if failed.contains(&unit.id()) => Status::Failed,
                    Found::Missing => Status::Missing,
                    Found::NotYetExported => Status::NotYetExported,
                },
                // The sizes of the unit's objects that are stored (with several output formats, a missing unit
                // may have one of its objects).
                bytes: unit
                    .object_names()
                    .filter_map(|name| match stored.get(name) {
                        Some((Found::Verified | Found::Adopted | Found::Unverified, size)) => {
                            Some(*size)
                        }
                        _ => None,
                    })
                    .reduce(|a, b| a + b),
            })
            .collect(),
    };
    let page = super::html::render(&coverage);
    let written = async {
        let mut file = LocalFileWriter::create(path).await?;
        file.write(page.as_bytes()).await?;
        file.commit().await
    };
    written.await.map_err(|error| {
        Failure::Work(anyhow!(error).context(format!("cannot write {}", path.display())))
    })?;
    let object = object_name(plan.range.start, plan.range.end);
    let bytes = page.len();
    sink.put_bytes(&object, page, WriteMode::Replace).await.map_err(|error| {
        Failure::Work(anyhow!(error).context(format!("cannot write the report {object}")))
    })?;
    tracing::info!(path = %path.display(), object = %object, bytes, failed = failed.len(), "coverage page written");
    Ok(object)
}

/// What the page reads of a download manifest: only the fields it needs, so manifests with more fields read too.
#[derive(Debug, Deserialize)]
struct ManifestView {
    finished_at: DateTime<Utc>,
    #[serde(default)]
    errors: Vec<ErrorView>,
    #[serde(default)]
    done_objects: Vec<String>,
    #[serde(default)]
    skipped_objects: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorView {
    unit: String,
    #[serde(default)]
    object: String,
}

/// The range of a manifest's object name, `manifests/download/{from}_{to}/shard-NNNN-of-NNNN.json`; `None` for
/// any other name.
fn manifest_range(name: &str) -> Option<(NaiveDate, NaiveDate)> {
    let rest = name.strip_prefix(MANIFEST_PREFIX)?.strip_prefix('/')?;
    let (range, file) = rest.split_once('/')?;
    if !(file.starts_with("shard-") && file.ends_with(".json")) || file.contains('/') {
        return None;
    }
    let (from, to) = range.split_once('_')?;
    Some((from.parse().ok()?, to.parse().ok()?))
}

/// Returns the ids of the `missing` units whose most recent mention in a download manifest (of a range that
/// overlaps `from..=to`) is an error.
async fn failed_in_last_manifest(
    sink: &GcsSink,
    from: NaiveDate,
    to: NaiveDate,
    missing: &[&Unit],
) -> Result<HashSet<String>, Failure> {
    if missing.is_empty() {
        return Ok(HashSet::new());
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
    let mut mentions = LastMentions::new(missing);
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
    Ok(mentions.failed())
}

/// Per unit, its latest mention in the manifests observed: when, and whether it was an error.
struct LastMentions<'a> {
    ids: Vec<String>,
    by_id: HashMap<String, usize>,
    by_object: HashMap<&'a str, usize>,
    latest: Vec<Option<(DateTime<Utc>, bool)>>,
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
            ids,
        }
    }

    fn observe(&mut self, manifest: &ManifestView) {
        let mut mention = |index: usize, failed: bool| {
            // A later manifest wins; within one, an error wins.
            let seen = (manifest.finished_at, failed);
            if self.latest[index].is_none_or(|previous| previous < seen) {
                self.latest[index] = Some(seen);
            }
        };
        for error in &manifest.errors {
            let index = self
                .by_id
                .get(error.unit.as_str())
                .or_else(|| self.by_object.get(error.object.as_str()));
            if let Some(index) = index {
                mention(*index, true);
            }
        }
        for object in manifest.done_objects.iter().chain(&manifest.skipped_objects) {
            if let Some(index) = self.by_object.get(object.as_str()) {
                mention(*index, false);
            }
        }
    }

    /// The ids of the units whose latest mention is an error.
    fn failed(self) -> HashSet<String> {
        self.ids
            .into_iter()
            .zip(self.latest)
            .filter(|(_, latest)| latest.is_some_and(|(_, failed)| failed))
            .map(|(id, _)| id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
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

    fn manifest(finished_at: &str, errors: &[(&str, &str)], done: &[&str]) -> ManifestView {
        ManifestView {
            finished_at: finished_at.parse().unwrap(),
            errors: errors
                .iter()
                .map(|(unit, object)| ErrorView { unit: (*unit).into(), object: (*object).into() })
                .collect(),
            done_objects: done.iter().map(|object| (*object).into()).collect(),
            skipped_objects: Vec::new(),
        }
    }

    /// The latest manifest that mentions a unit decides, whatever order the manifests are read in; an error is
    /// recognised by unit id or, failing that, by object.
    #[test]
    fn report_failed_means_an_error_in_the_latest_manifest_that_mentions_the_unit() {
        let units = [unit("A"), unit("B"), unit("C"), unit("D")];
        let refs: Vec<&Unit> = units.iter().collect();
        let early = "2026-10-02T01:00:00Z";
        let late = "2026-10-03T01:00:00Z";
        let manifests = [
            // A failed early and was done later; B was done early and failed later; C failed, by object only (its
            // Parquet object).
            manifest(early, &[("2026-10-01/deribit/trades/A", "raw/A.csv.gz")], &["raw/B.csv.gz"]),
            manifest(late, &[("2026-10-01/deribit/trades/B", "raw/B.csv.gz")], &["raw/A.csv.gz"]),
            manifest(early, &[("something else", "raw/C.parquet")], &[]),
        ];
        for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2]] {
            let mut mentions = LastMentions::new(&refs);
            for index in order {
                mentions.observe(&manifests[index]);
            }
            let failed = mentions.failed();
            let expected: HashSet<String> =
                ["2026-10-01/deribit/trades/B", "2026-10-01/deribit/trades/C"]
                    .into_iter()
                    .map(String::from)
                    .collect();
            assert_eq!(failed, expected, "order {order:?}");
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
