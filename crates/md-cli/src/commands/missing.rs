//! `md-cli missing`: what the plan holds and the sink does not, told apart from what Tardis has not exported yet
//! and marked where Tardis reports an incident; also written as a report under `reports/missing/`.
//!
//! Every planned unit has one of the statuses of docs/STATUSES.md (`downloader::download::UnitStatus`): stored and
//! verified (its recorded size and CRC32C agree with the object), unverified (stored without a record, or with one
//! that disagrees: the next download replaces it), not offered (the latest download manifest that mentions it says
//! Tardis does not offer the file, with Tardis's status, code and message), missing (with `last_run` failed or
//! interrupted when the latest manifest that mentions it says so), or not yet exported (its day is past the
//! exchange's `exportedUntil`: not planned, not missing). A unit of a day inside an incident report carries the
//! incident's status and details, whatever it is. `--check` counts missing and unverified units, never units not
//! offered or not yet exported. A unit stored by another writer and kept by a download (checked, recorded) is
//! adopted: its adoption record agrees with the object.
//!
//! Besides its own report, `missing` writes the original system's two report objects per day
//! ([`downloader::download::reports`]): the missing units (never stored, or failed) in
//! `missing_data_reports/by_date/day-D/missing_data.parquet`, the others (stored, adopted or unverified: an object is
//! there) in `available_tick_data/by_date/day-D/available_data.parquet`; not-yet-exported units are in neither.
//!
//! With `--html PATH`, the same units also become a coverage page ([`page`], rendered by [`html`]).

mod html;
mod manifests;
mod page;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, NaiveDate, Utc};
use downloader::download::UnitStatus;
use downloader::download::plan::{Plan, Unit};
use downloader::download::reports::{self, ReportFilters};
use futures::{StreamExt, TryStreamExt};
use gcs_sink::{ObjectSink, WriteMode};
use md_config::Loaded;
use serde::Serialize;

use crate::cli::MissingArgs;
use crate::commands::download::{Note, UnitLine, ignore_broken_pipe, print_units};
use crate::commands::job::Job;
use crate::exit::Failure;

/// What `missing` found of a stored object (and so, taking the worst of its objects, of a unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// Stored, with a recorded size and CRC32C that agree with the object.
    Verified,
    /// Stored by another writer and adopted by a download (checked, recorded): its adoption record agrees with the
    /// object.
    Adopted,
    /// Stored, but without a record, or with one that disagrees (the next download replaces it).
    Unverified,
    /// Not stored.
    Missing,
}

impl Found {
    /// A unit is as good as the worst of its objects (one per output format): missing if any is, else unverified
    /// if any is, else adopted if any is.
    fn of(unit: &Unit, objects: &BTreeMap<String, (Found, u64)>) -> Found {
        unit.object_names()
            .map(|name| objects.get(name).map_or(Found::Missing, |(found, _)| *found))
            .max_by_key(|found| match found {
                Found::Verified => 0,
                Found::Adopted => 1,
                Found::Unverified => 2,
                Found::Missing => 3,
            })
            .unwrap_or(Found::Missing)
    }
}

/// What `missing` says about a unit: its status and, for a unit not stored, what the latest run said.
#[derive(Debug, Clone)]
struct Classified<'a> {
    unit: &'a Unit,
    status: UnitStatus,
    last_run: Option<&'a manifests::LastRun>,
}

impl<'a> Classified<'a> {
    /// The unit as `missing --json` names it: a unit the latest run failed or stopped is `missing` (it is not
    /// stored), with `last_run` saying which.
    fn note(&self) -> Note<'a> {
        let (status, last_run) = match self.status {
            UnitStatus::Failed | UnitStatus::Interrupted => {
                (UnitStatus::Missing.as_str(), Some(self.status.as_str()))
            }
            status => (status.as_str(), None),
        };
        let run = self.last_run;
        Note {
            status,
            last_run,
            http_status: run.and_then(|run| run.http_status),
            code: run.and_then(|run| run.code),
            message: run.map(|run| run.message.as_str()).filter(|message| !message.is_empty()),
        }
    }

    fn line(&self) -> UnitLine<'a> {
        UnitLine::with_note(self.unit, Some(&self.note()))
    }

    /// Whether it is not stored: missing, failed or interrupted.
    fn is_missing(&self) -> bool {
        matches!(self.status, UnitStatus::Missing | UnitStatus::Failed | UnitStatus::Interrupted)
    }
}

/// The report `missing` writes to `reports/missing/`.
#[derive(Debug, Serialize)]
struct MissingReport<'a> {
    generated_at: DateTime<Utc>,
    from: NaiveDate,
    to: NaiveDate,
    data_types: Vec<&'static str>,
    venues: &'a [String],
    exported_until: &'a BTreeMap<String, DateTime<Utc>>,
    planned: usize,
    present: usize,
    stored_verified: usize,
    /// Units stored by another writer and adopted by a download.
    adopted: usize,
    missing: Vec<UnitLine<'a>>,
    unverified: Vec<UnitLine<'a>>,
    not_offered: Vec<UnitLine<'a>>,
    not_yet_exported: Vec<UnitLine<'a>>,
    days_not_exported: &'a [NaiveDate],
    incidents: Vec<UnitLine<'a>>,
}

pub(crate) fn run(loaded: &Loaded, args: &MissingArgs) -> Result<(), Failure> {
    if let Some(path) = &args.html {
        page::check_path(path)?;
    }
    let job = Job::new(loaded)?;
    let (json, check) = (args.json, args.check);
    let html = args.html.clone();
    crate::runtime::run(move |_token| async move {
        let days = job.days(false).await?;
        let plan = job.plan(&days).await?;
        let found = stored(&job.sink, &plan).await?;
        let by_objects: Vec<(&Unit, Found)> =
            plan.units.iter().map(|unit| (unit, Found::of(unit, &found))).collect();
        let not_stored: Vec<&Unit> = by_objects
            .iter()
            .filter(|(_, found)| *found == Found::Missing)
            .map(|(unit, _)| *unit)
            .collect();
        let last_runs =
            manifests::last_runs(&job.sink, plan.range.start, plan.range.end, &not_stored).await?;
        let classified: Vec<Classified<'_>> = by_objects
            .iter()
            .map(|(unit, found)| {
                let last_run = last_runs.get(&unit.id());
                let status = match found {
                    Found::Verified => UnitStatus::StoredVerified,
                    Found::Adopted => UnitStatus::Adopted,
                    Found::Unverified => UnitStatus::StoredUnverified,
                    Found::Missing => last_run.map_or(UnitStatus::Missing, |run| run.status),
                };
                let last_run = last_run.filter(|_| *found == Found::Missing);
                Classified { unit, status, last_run }
            })
            .chain(plan.not_yet_exported.iter().map(|unit| Classified {
                unit,
                status: UnitStatus::NotYetExported,
                last_run: None,
            }))
            .collect();
        let lines = |wanted: &dyn Fn(&Classified<'_>) -> bool| -> Vec<UnitLine<'_>> {
            classified.iter().filter(|unit| wanted(unit)).map(Classified::line).collect()
        };
        let count =
            |wanted: UnitStatus| classified.iter().filter(|unit| unit.status == wanted).count();
        let missing = classified.iter().filter(|unit| unit.is_missing()).count();
        let download = &job.config.download;
        let report = MissingReport {
            generated_at: Utc::now(),
            from: plan.range.start,
            to: plan.range.end,
            data_types: download.data_types.iter().map(|data_type| data_type.as_str()).collect(),
            venues: &download.venues,
            exported_until: &plan.exported_until,
            planned: plan.units.len(),
            present: plan.units.len() - missing - count(UnitStatus::NotOffered),
            stored_verified: count(UnitStatus::StoredVerified),
            adopted: count(UnitStatus::Adopted),
            missing: lines(&|unit| unit.is_missing()),
            unverified: lines(&|unit| unit.status == UnitStatus::StoredUnverified),
            not_offered: lines(&|unit| unit.status == UnitStatus::NotOffered),
            not_yet_exported: lines(&|unit| unit.status == UnitStatus::NotYetExported),
            days_not_exported: &plan.days_not_exported,
            incidents: lines(&|unit| unit.unit.incident.is_some()),
        };
        let object =
            format!("reports/missing/missing_{}_{}.json", plan.range.start, plan.range.end);
        let body = serde_json::to_vec_pretty(&report).expect("the report serializes");
        job.sink.put_bytes(&object, body, WriteMode::Replace).await.map_err(|error| {
            Failure::Work(anyhow!(error).context(format!("cannot write the report {object}")))
        })?;
        // The original system's per-day reports: a unit is missing when an object of it is absent.
        let missing_units: BTreeSet<String> = by_objects
            .iter()
            .filter(|(_, found)| *found == Found::Missing)
            .map(|(unit, _)| unit.id())
            .collect();
        let day_reports = reports::day_reports(
            &plan,
            |unit| missing_units.contains(&unit.id()),
            &ReportFilters::of(download),
            report.generated_at,
        );
        reports::write(&job.sink, &day_reports).await.map_err(|error| {
            Failure::Work(anyhow!(error).context("cannot write the per-day reports"))
        })?;
        let coverage_page = match &html {
            Some(path) => {
                let generated_at = report.generated_at;
                let statuses: Vec<(&Unit, UnitStatus)> =
                    classified.iter().map(|unit| (unit.unit, unit.status)).collect();
                Some((
                    path,
                    page::write(&job.sink, &plan, &statuses, &found, generated_at, path).await?,
                ))
            }
            None => None,
        };
        // Every unit that is not simply stored and verified: with `--json`, each line says which it is.
        let shown = classified
            .iter()
            .filter(|unit| {
                unit.status != UnitStatus::StoredVerified || unit.unit.incident.is_some()
            })
            // Not yet exported and adopted units are counted below; only `--json` lists them.
            .filter(|unit| {
                json || !matches!(unit.status, UnitStatus::NotYetExported | UnitStatus::Adopted)
            })
            .map(|unit| (unit.unit, Some(unit.note())));
        ignore_broken_pipe(print_units(shown, json))?;
        if !json {
            let mut text = format!(
                "\nstored and verified {}, adopted {}, unverified {}, missing {} (last run failed {}, interrupted {}), not offered {}, not yet exported {}{}, inside an incident {}\n",
                report.stored_verified,
                report.adopted,
                report.unverified.len(),
                missing,
                count(UnitStatus::Failed),
                count(UnitStatus::Interrupted),
                report.not_offered.len(),
                report.not_yet_exported.len(),
                if plan.days_not_exported.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (and {} day(s) with nothing exported yet)",
                        plan.days_not_exported.len()
                    )
                },
                report.incidents.len(),
            );
            for (exchange, until) in &plan.exported_until {
                text.push_str(&format!("{exchange}: exported until {until}\n"));
            }
            text.push_str(&format!(
                "{missing} of {} planned units missing; report written to {object}\n",
                plan.units.len()
            ));
            text.push_str(&format!(
                "per-day reports ({} day(s)) written to missing_data_reports/by_date/ and available_tick_data/by_date/\n",
                day_reports.len()
            ));
            if let Some((path, page)) = &coverage_page {
                text.push_str(&format!("coverage page written to {} and {page}\n", path.display()));
            }
            ignore_broken_pipe(std::io::stdout().lock().write_all(text.as_bytes()))?;
        }
        tracing::info!(
            planned = plan.units.len(),
            missing,
            not_offered = report.not_offered.len(),
            not_yet_exported = report.not_yet_exported.len(),
            incidents = report.incidents.len(),
            report = %object,
            "missing data reported"
        );
        let unverified = report.unverified.len();
        if check && (missing > 0 || unverified > 0) {
            return Err(Failure::Work(anyhow!(
                "--check: {missing} missing and {unverified} unverified of {} planned units (report {object})",
                plan.units.len()
            )));
        }
        Ok(())
    })
}

/// Finds the plan's stored objects (listing the directories they live in) and checks each one's recorded size and
/// CRC32C against the object; returns what was found of each, with its size.
async fn stored(sink: &ObjectSink, plan: &Plan) -> Result<BTreeMap<String, (Found, u64)>, Failure> {
    let directories: BTreeSet<String> = plan
        .units
        .iter()
        .flat_map(Unit::object_names)
        .map(|object| {
            object.rsplit_once('/').map_or_else(String::new, |(directory, _)| directory.to_owned())
        })
        .collect();
    let listed: Vec<Vec<(String, u64)>> = futures::stream::iter(directories)
        .map(|directory| async move {
            sink.list(&directory)
                .map_ok(|object| (object.name, object.size))
                .try_collect::<Vec<(String, u64)>>()
                .await
                .with_context(|| format!("cannot list {directory}"))
        })
        .buffer_unordered(16)
        .try_collect()
        .await
        .map_err(Failure::Work)?;
    let planned: BTreeSet<&str> = plan.units.iter().flat_map(Unit::object_names).collect();
    let present: Vec<(String, u64)> =
        listed.into_iter().flatten().filter(|(name, _)| planned.contains(name.as_str())).collect();
    futures::stream::iter(present)
        .map(|(name, size)| async move {
            let found = match sink.head(&name).await {
                Ok(info)
                    if info.adopted.as_ref().is_some_and(|adoption| adoption.size == info.size) =>
                {
                    (Found::Adopted, info.size)
                }
                Ok(info) if info.recorded.is_some_and(|recorded| recorded.size == info.size) => {
                    (Found::Verified, info.size)
                }
                Ok(info) => (Found::Unverified, info.size),
                Err(gcs_sink::Error::BadRecord { .. }) => (Found::Unverified, size),
                Err(gcs_sink::Error::NotFound { .. }) => (Found::Missing, 0),
                Err(error) => {
                    return Err(Failure::Work(
                        anyhow!(error).context(format!("cannot check {name}")),
                    ));
                }
            };
            Ok((name, found))
        })
        .buffer_unordered(32)
        .try_collect()
        .await
}
