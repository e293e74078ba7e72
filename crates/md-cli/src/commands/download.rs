//! `md-cli download`, `plan` and `missing`: the tick download over stored definitions.

use std::collections::BTreeSet;
use std::io::Write as _;

use anyhow::{Context as _, anyhow};
use downloader::download::manifest::RunStatus;
use downloader::download::pipeline::Downloader;
use downloader::download::plan::{Plan, Unit};
use futures::{StreamExt, TryStreamExt};
use gcs_sink::{GcsSink, WriteMode};
use md_config::Loaded;
use serde::Serialize;
use tardis_client::TardisClient;
use tokio_util::sync::CancellationToken;

use crate::cli::{DownloadArgs, MissingArgs, PlanArgs};
use crate::commands::job::Job;
use crate::exit::Failure;
use crate::progress::{CliProgress, human_bytes};

pub(crate) fn download(loaded: &Loaded, _args: &DownloadArgs) -> Result<(), Failure> {
    let job = Job::new(loaded)?;
    let client = job.client()?;
    crate::runtime::run_graceful(move |token| async move {
        let plan = job.plan().await?;
        run_download(&job, client, &plan, token).await
    })
}

/// Runs this shard of `plan`, prints the shard's summary, and maps its status to the outcome.
pub(crate) async fn run_download(
    job: &Job,
    client: TardisClient,
    plan: &Plan,
    token: CancellationToken,
) -> Result<(), Failure> {
    if plan.uncovered > 0 {
        tracing::warn!(
            uncovered = plan.uncovered,
            "INSTRUMENTS_PER_SHARD x TOTAL_SHARDS does not cover every instrument: {} units belong to no shard",
            plan.uncovered
        );
    }
    let progress = CliProgress::new();
    let ticker = progress.spawn_ticker();
    let downloader = Downloader::new(&job.config, client, job.sink.clone());
    let report = downloader.run(plan, progress.clone(), token).await;
    ticker.abort();
    progress.finish();
    let report = report.map_err(|error| Failure::Work(anyhow!(error)))?;
    let manifest = &report.manifest;
    let mut out = std::io::stdout().lock();
    let units = manifest.units;
    let _ = writeln!(
        out,
        "shard {}/{}: {:?} in {:.1}s\nunits: planned {}, done {}, skipped {}, replaced {}, failed {}, not started {}\n\
         bytes: downloaded {}, written {}; retries {}\nmanifest: {}",
        manifest.shard_index,
        manifest.total_shards,
        manifest.status,
        manifest.duration_secs,
        units.planned,
        units.done,
        units.skipped,
        units.replaced,
        units.failed,
        units.not_started,
        human_bytes(manifest.bytes_downloaded),
        human_bytes(manifest.bytes_written),
        manifest.retries,
        report.manifest_object,
    );
    for error in &manifest.errors {
        let _ = writeln!(
            out,
            "failed: {} after {} attempt(s): {}",
            error.unit, error.attempts, error.error
        );
    }
    match manifest.status {
        RunStatus::Complete => Ok(()),
        RunStatus::Failed => {
            Err(Failure::Work(anyhow!("{} unit(s) failed after their retries", units.failed)))
        }
        RunStatus::QuotaExhausted => Err(Failure::Work(anyhow!(
            "stopped: this shard's share of TARDIS_DAILY_QUOTA_BYTES is spent ({} units not started)",
            units.not_started
        ))),
        RunStatus::Interrupted => Err(Failure::Interrupted),
    }
}

/// One unit as `plan --json` and `missing --json` print it.
#[derive(Debug, Serialize)]
struct UnitLine<'a> {
    date: chrono::NaiveDate,
    exchange: &'a str,
    data_type: &'a str,
    symbol: &'a str,
    instrument_key: &'a str,
    instrument_type: &'a str,
    grouped: bool,
    object: &'a str,
    shard: Option<u32>,
}

impl<'a> From<&'a Unit> for UnitLine<'a> {
    fn from(unit: &'a Unit) -> Self {
        UnitLine {
            date: unit.date,
            exchange: &unit.exchange,
            data_type: unit.data_type.as_str(),
            symbol: &unit.symbol,
            instrument_key: &unit.instrument_key,
            instrument_type: unit.instrument_type.as_str(),
            grouped: unit.grouped,
            object: &unit.object,
            shard: unit.shard,
        }
    }
}

fn print_units<'a>(units: impl Iterator<Item = &'a Unit>, json: bool) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for unit in units {
        if json {
            serde_json::to_writer(&mut out, &UnitLine::from(unit))?;
            writeln!(out)?;
        } else {
            let shard = unit.shard.map_or_else(|| "-".to_owned(), |shard| shard.to_string());
            writeln!(
                out,
                "{shard:>5}  {}  {:<18} {:<20} {:<28} {}",
                unit.date, unit.exchange, unit.data_type, unit.symbol, unit.object
            )?;
        }
    }
    out.flush()
}

fn ignore_broken_pipe(result: std::io::Result<()>) -> Result<(), Failure> {
    match result {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::Work(error.into()))
        }
        _ => Ok(()),
    }
}

pub(crate) fn plan(loaded: &Loaded, args: &PlanArgs) -> Result<(), Failure> {
    let job = Job::new(loaded)?;
    let json = args.json;
    crate::runtime::run(move |_token| async move {
        let plan = job.plan().await?;
        ignore_broken_pipe(print_units(plan.units.iter(), json))?;
        let counts = plan.counts_per_shard();
        if json {
            tracing::info!(
                units = plan.units.len(),
                shards = counts.len(),
                uncovered = plan.uncovered,
                "planned"
            );
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        let mut text = format!(
            "\n{} units over {} shard(s); fingerprint {}\n",
            plan.units.len(),
            counts.len(),
            plan.fingerprint()
        );
        for (shard, count) in counts.iter().enumerate() {
            text.push_str(&format!("shard {shard:>4}: {count} units\n"));
        }
        if plan.uncovered > 0 {
            text.push_str(&format!(
                "no shard: {} units (INSTRUMENTS_PER_SHARD x TOTAL_SHARDS is too small)\n",
                plan.uncovered
            ));
        }
        ignore_broken_pipe(out.write_all(text.as_bytes()))
    })
}

/// The report `missing` writes to `reports/missing/`.
#[derive(Debug, Serialize)]
struct MissingReport<'a> {
    generated_at: chrono::DateTime<chrono::Utc>,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    data_types: Vec<&'static str>,
    venues: &'a [String],
    planned: usize,
    present: usize,
    missing: Vec<UnitLine<'a>>,
}

pub(crate) fn missing(loaded: &Loaded, args: &MissingArgs) -> Result<(), Failure> {
    let job = Job::new(loaded)?;
    let json = args.json;
    crate::runtime::run(move |_token| async move {
        let plan = job.plan().await?;
        let present = present_objects(&job.sink, &plan).await?;
        let missing: Vec<&Unit> =
            plan.units.iter().filter(|unit| !present.contains(&unit.object)).collect();
        let download = &job.config.download;
        let report = MissingReport {
            generated_at: chrono::Utc::now(),
            from: download.dates.start,
            to: download.dates.end,
            data_types: download.data_types.iter().map(|data_type| data_type.as_str()).collect(),
            venues: &download.venues,
            planned: plan.units.len(),
            present: plan.units.len() - missing.len(),
            missing: missing.iter().map(|unit| UnitLine::from(*unit)).collect(),
        };
        let object =
            format!("reports/missing/missing_{}_{}.json", download.dates.start, download.dates.end);
        let body = serde_json::to_vec_pretty(&report).expect("the report serializes");
        job.sink.put_bytes(&object, body, WriteMode::Replace).await.map_err(|error| {
            Failure::Work(anyhow!(error).context(format!("cannot write the report {object}")))
        })?;
        ignore_broken_pipe(print_units(missing.iter().copied(), json))?;
        if !json {
            let mut out = std::io::stdout().lock();
            ignore_broken_pipe(writeln!(
                out,
                "\n{} of {} planned units missing; report written to {object}",
                missing.len(),
                plan.units.len()
            ))?;
        }
        tracing::info!(planned = plan.units.len(), missing = missing.len(), report = %object, "missing data reported");
        Ok(())
    })
}

/// Lists the directories the plan's objects live in, and returns the names found.
async fn present_objects(sink: &GcsSink, plan: &Plan) -> Result<BTreeSet<String>, Failure> {
    let directories: BTreeSet<String> = plan
        .units
        .iter()
        .map(|unit| {
            unit.object
                .rsplit_once('/')
                .map_or_else(String::new, |(directory, _)| directory.to_owned())
        })
        .collect();
    let listed: Vec<Vec<String>> = futures::stream::iter(directories)
        .map(|directory| async move {
            sink.list(&directory)
                .map_ok(|object| object.name)
                .try_collect::<Vec<String>>()
                .await
                .with_context(|| format!("cannot list {directory}"))
        })
        .buffer_unordered(16)
        .try_collect()
        .await
        .map_err(Failure::Work)?;
    Ok(listed.into_iter().flatten().collect())
}
