//! `md-cli download` and `plan`: the tick download over stored definitions, and how its units are printed.

use std::io::Write as _;

use anyhow::anyhow;
use downloader::download::manifest::RunStatus;
use downloader::download::pipeline::Downloader;
use downloader::download::plan::{Plan, Unit};
use md_config::Loaded;
use tokio_util::sync::CancellationToken;

use crate::cli::{DownloadArgs, PlanArgs};
use crate::commands::job::Job;
use crate::exit::Failure;
use crate::progress::{CliProgress, human_bytes};

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
    let share = job.shard_files.as_ref().map(|files| {
        format!("{} ({files})", crate::commands::share::describe(plan, &job.config.sharding))
    });
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
    let downloader = Downloader::new(&job.config, job.client.clone(), job.sink.clone());
    let report = downloader.run(plan, progress.clone(), token).await;
    ticker.abort();
    progress.finish();
    let report = report.map_err(|error| Failure::Work(anyhow!(error)))?;
    let manifest = &report.manifest;
    let mut out = std::io::stdout().lock();
    let units = manifest.units;
    let _ = writeln!(
        out,
        "shard {}/{}: {:?} in {:.1}s\nunits: planned {}, done {}, skipped {}, adopted {}, replaced {}, failed {}, \
         not offered {}, left alone {}, not started {}\n{}\
         bytes: downloaded {}, written {}; retries {}\nmanifest: {}",
        manifest.shard_index,
        manifest.total_shards,
        manifest.status,
        manifest.duration_secs,
        units.planned,
        units.done,
        units.skipped,
        units.adopted,
        units.replaced,
        units.failed,
        units.not_offered,
        units.left_alone,
        units.not_started,
        adopted_line(manifest),
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
    for left in &manifest.left_alone {
        let _ = writeln!(
            out,
            "left alone: {} (md did not write it and it does not check out: {}); --force replaces it",
            left.object, left.reason
        );
    }
    if let Some(share) = &share {
        let _ = writeln!(out, "share: {share}");
    }
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

/// The summary's line of adopted objects, by how each was checked; empty when none was.
fn adopted_line(manifest: &downloader::download::manifest::Manifest) -> String {
    use downloader::download::adopt::{CSV_GZIP, PARQUET_FOOTER};
    let adopted = &manifest.adopted_objects;
    if adopted.is_empty() {
        return String::new();
    }
    let copied = adopted.iter().filter(|object| object.copied_from.is_some()).count();
    let checked = |how: &str| {
        adopted
            .iter()
            .filter(|object| object.copied_from.is_none() && object.checked == how)
            .count()
    };
    format!(
        "adopted objects (md did not write them; nothing downloaded): {} ({} by their Parquet footer, {} read \
         whole as .csv.gz, {} copied from an older spelling of their key)\n",
        adopted.len(),
        checked(PARQUET_FOOTER),
        checked(CSV_GZIP),
        copied
    )
}

pub(crate) use downloader::download::report::{Note, UnitLine};

/// Prints units, one line each (JSON with `json`), with what `missing` says about each when it says.
pub(crate) fn print_units<'a>(
    units: impl Iterator<Item = (&'a Unit, Option<Note<'a>>)>,
    json: bool,
) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (unit, note) in units {
        if json {
            serde_json::to_writer(&mut out, &UnitLine::with_note(unit, note.as_ref()))?;
            writeln!(out)?;
        } else {
            let shard = unit.shard.map_or_else(|| "-".to_owned(), |shard| shard.to_string());
            let status = note.map_or_else(String::new, |note| {
                let mut text = format!("  [{}", note.status);
                if let Some(last_run) = note.last_run {
                    text.push_str(&format!(", last run {last_run}"));
                }
                match (note.http_status, note.code) {
                    (Some(status), Some(code)) => {
                        text.push_str(&format!(": HTTP {status} code {code}"))
                    }
                    (Some(status), None) => text.push_str(&format!(": HTTP {status}")),
                    _ => {}
                }
                if let (Some(message), Some(_)) = (note.message, note.http_status) {
                    text.push_str(&format!(": {message}"));
                }
                text.push(']');
                text
            });
            let incident = unit.incident.as_ref().map_or_else(String::new, |incident| {
                format!("  [incident {}: {}]", incident.status, incident.details)
            });
            writeln!(
                out,
                "{shard:>5}  {}  {:<18} {:<20} {:<28} {}{status}{incident}",
                unit.date,
                unit.exchange,
                unit.data_type,
                unit.symbol,
                unit.object_names().collect::<Vec<_>>().join("  ")
            )?;
        }
    }
    out.flush()
}

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
        ignore_broken_pipe(print_units(plan.units.iter().map(|unit| (unit, None)), json))?;
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
