//! `md-cli missing`: what the plan holds and the sink does not, told apart from what Tardis has not exported yet
//! and marked where Tardis reports an incident; also written as a report under `reports/missing/`.
//!
//! Every planned unit is one of: stored and verified (its recorded size and CRC32C agree with the object),
//! adopted (md did not write an object of it, but a download checked and kept it: its adoption record agrees with the
//! object), unverified (stored without any record, which the next download checks and adopts or leaves alone, or
//! with one that disagrees: the next download replaces it), missing, or not yet exported (its day is past the
//! exchange's `exportedUntil`: not planned, not missing). A unit of a day inside an incident report carries the
//! incident's status and details, whatever it is.
//!
//! Besides its own report, `missing` writes the original system's two report objects per day
//! ([`downloader::download::reports`]): the missing units (never stored, or failed) in
//! `missing_data_reports/by_date/day-D/missing_data.parquet`, the others (stored, adopted or unverified: an object is
//! there) in `available_tick_data/by_date/day-D/available_data.parquet`; not-yet-exported units are in neither.
//!
//! With `--html PATH`, the same units also become a coverage page ([`page`], rendered by [`html`]).

mod html;
mod page;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, NaiveDate, Utc};
use downloader::download::plan::{Plan, Unit};
use downloader::download::reports::{self, ReportFilters};
use futures::{StreamExt, TryStreamExt};
use gcs_sink::{GcsSink, WriteMode};
use md_config::Loaded;
use serde::Serialize;

use crate::cli::MissingArgs;
use crate::commands::download::{UnitLine, ignore_broken_pipe, print_units};
use crate::commands::job::Job;
use crate::exit::Failure;

/// What `missing` found about a planned unit.
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
    /// Its day is not exported yet for its exchange.
    NotYetExported,
}

impl Found {
    /// A unit is as good as the worst of its objects (one per output format): missing if any is, else unverified
    /// if any is, else adopted if any is.
    fn of(unit: &Unit, objects: &BTreeMap<String, (Found, u64)>) -> Found {
        unit.object_names()
            .map(|name| objects.get(name).map_or(Found::Missing, |(found, _)| *found))
            .max_by_key(|found| match found {
                Found::Verified | Found::NotYetExported => 0,
                Found::Adopted => 1,
                Found::Unverified => 2,
                Found::Missing => 3,
            })
            .unwrap_or(Found::Missing)
    }

    fn as_str(self) -> &'static str {
        match self {
            Found::Verified => "stored",
            Found::Adopted => "adopted",
            Found::Unverified => "unverified",
            Found::Missing => "missing",
            Found::NotYetExported => "not_yet_exported",
        }
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
        let classified: Vec<(&Unit, Found)> = plan
            .units
            .iter()
            .map(|unit| (unit, Found::of(unit, &found)))
            .chain(plan.not_yet_exported.iter().map(|unit| (unit, Found::NotYetExported)))
            .collect();
        let lines = |wanted: Found| -> Vec<UnitLine<'_>> {
            classified
                .iter()
                .filter(|(_, found)| *found == wanted)
                .map(|(unit, found)| UnitLine::with_status(unit, Some(found.as_str())))
                .collect()
        };
        let count = |wanted: Found| classified.iter().filter(|(_, found)| *found == wanted).count();
        let missing = count(Found::Missing);
        let download = &job.config.download;
        let report = MissingReport {
            generated_at: Utc::now(),
            from: plan.range.start,
            to: plan.range.end,
            data_types: download.data_types.iter().map(|data_type| data_type.as_str()).collect(),
            venues: &download.venues,
            exported_until: &plan.exported_until,
            planned: plan.units.len(),
            present: plan.units.len() - missing,
            stored_verified: count(Found::Verified),
            adopted: count(Found::Adopted),
            missing: lines(Found::Missing),
            unverified: lines(Found::Unverified),
            not_yet_exported: lines(Found::NotYetExported),
            days_not_exported: &plan.days_not_exported,
            incidents: classified
                .iter()
                .filter(|(unit, _)| unit.incident.is_some())
                .map(|(unit, found)| UnitLine::with_status(unit, Some(found.as_str())))
                .collect(),
        };
        let object =
            format!("reports/missing/missing_{}_{}.json", plan.range.start, plan.range.end);
        let body = serde_json::to_vec_pretty(&report).expect("the report serializes");
        job.sink.put_bytes(&object, body, WriteMode::Replace).await.map_err(|error| {
            Failure::Work(anyhow!(error).context(format!("cannot write the report {object}")))
        })?;
        // The original system's per-day reports: a unit is missing when an object of it is absent.
        let missing_units: BTreeSet<String> = classified
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
                Some((
                    path,
                    page::write(&job.sink, &plan, &classified, &found, generated_at, path).await?,
                ))
            }
            None => None,
        };
        // Every unit that is not simply stored and verified: with `--json`, each line says which it is.
        let shown = classified
            .iter()
            .filter(|(unit, found)| *found != Found::Verified || unit.incident.is_some())
            // Not yet exported and adopted units are counted below; only `--json` lists them.
            .filter(|(_, found)| json || !matches!(found, Found::NotYetExported | Found::Adopted))
            .map(|(unit, found)| (*unit, Some(found.as_str())));
        ignore_broken_pipe(print_units(shown, json))?;
        if !json {
            let mut text = format!(
                "\nstored and verified {}, adopted {}, unverified {}, missing {}, not yet exported {}{}, inside an incident {}\n",
                report.stored_verified,
                report.adopted,
                report.unverified.len(),
                missing,
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
async fn stored(sink: &GcsSink, plan: &Plan) -> Result<BTreeMap<String, (Found, u64)>, Failure> {
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
