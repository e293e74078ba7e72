//! `md-cli download` and `plan`: the tick download over stored definitions, and the plan's units.

use std::io::Write as _;

use anyhow::anyhow;
use downloader::download::manifest::RunStatus;
use downloader::download::summary::{PlanSummary, RunSummary, UnitLine, write_units};
use downloader::download::{Plan, share};
use md_config::Loaded;
use tokio_util::sync::CancellationToken;

use crate::cli::{DownloadArgs, PlanArgs};
use crate::commands::job::Job;
use crate::exit::Failure;
use crate::progress::CliProgress;

pub(crate) fn download(loaded: &Loaded, _args: &DownloadArgs) -> Result<(), Failure> {
    let job = Job::new(loaded)?;
    crate::runtime::run_graceful(move |token| async move {
        let days = job.days(true).await?;
        let plan = job.plan(&days).await?;
        run_download(&job, &plan, token).await
    })
}

/// Runs this shard of `plan`, prints the shard's summary, and maps its status to the outcome.
pub(crate) async fn run_download(
    job: &Job,
    plan: &Plan,
    token: CancellationToken,
) -> Result<(), Failure> {
    // Shard settings from a file (the original's env.example sets them, and the original ignored them): say so.
    let share = (job.shard_files.as_ref())
        .map(|files| format!("{} ({files})", share::describe(plan, &job.config.sharding)));
    if let Some(share) = &share {
        tracing::warn!("this run downloads {share}; unset them to download the whole plan");
    }
    if plan.uncovered > 0 {
        tracing::warn!(
            uncovered = plan.uncovered,
            "INSTRUMENTS_PER_SHARD x TOTAL_SHARDS does not cover every instrument: {} units belong to no shard",
            plan.uncovered
        );
    }
    let progress = CliProgress::new();
    let ticker = progress.spawn_ticker();
    let report = job.downloader().run(plan, progress.clone(), token).await;
    ticker.abort();
    progress.finish();
    let report = report.map_err(|error| Failure::Work(anyhow!(error)))?;
    let _ = writeln!(
        std::io::stdout().lock(),
        "{}",
        RunSummary { report: &report, share: share.as_deref() }
    );
    let (manifest, units) = (&report.manifest, report.manifest.units);
    match manifest.status {
        RunStatus::Complete => Ok(()),
        RunStatus::Failed if manifest.left_alone.is_empty() => {
            Err(Failure::Work(anyhow!("{} unit(s) failed after their retries", units.failed)))
        }
        RunStatus::Failed => Err(Failure::Work(anyhow!(
            "{} unit(s) failed after their retries, and {} object(s) md did not write were left alone \
             (they do not check out; a --force run replaces them)",
            units.failed,
            manifest.left_alone.len()
        ))),
        RunStatus::QuotaExhausted => Err(Failure::Work(anyhow!(
            "stopped: this shard's share of TARDIS_DAILY_QUOTA_BYTES is spent ({} units not started)",
            units.not_started
        ))),
        RunStatus::Interrupted => Err(Failure::Interrupted),
        RunStatus::IpLocked => {
            Err(Failure::key_in_use(job.config.tardis.ip_lock_max_wait, Some(units.not_started)))
        }
    }
}

/// Prints units to stdout, one line each (JSON with `json`), with what `missing` says about each when it says.
pub(crate) fn print_units(
    lines: impl Iterator<Item = UnitLine>,
    json: bool,
) -> std::io::Result<()> {
    write_units(&mut std::io::BufWriter::new(std::io::stdout().lock()), lines, json)
}

/// A closed stdout (`| head`) is not a failure.
pub(crate) fn ignore_broken_pipe(result: std::io::Result<()>) -> Result<(), Failure> {
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
        let days = job.days(false).await?;
        let plan = job.plan(&days).await?;
        ignore_broken_pipe(print_units(plan.units.iter().map(UnitLine::from), json))?;
        if json {
            let (units, shards) = (plan.units.len(), plan.total_shards);
            tracing::info!(units, shards, uncovered = plan.uncovered, "planned");
            return Ok(());
        }
        ignore_broken_pipe(write!(std::io::stdout().lock(), "{}", PlanSummary(&plan)))
    })
}
