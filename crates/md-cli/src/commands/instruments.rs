//! `md-cli instruments`: write the daily instrument definitions of a range.

use std::io::Write as _;

use anyhow::anyhow;
use downloader::definitions::DefinitionsSummary;
use md_config::{DateRange, Loaded};

use crate::cli::InstrumentsArgs;
use crate::commands::job::Job;
use crate::exit::Failure;

pub(crate) fn run(loaded: &Loaded, _args: &InstrumentsArgs) -> Result<(), Failure> {
    let job = Job::new(loaded)?;
    crate::runtime::run(move |_token| async move {
        let days = job.days(true).await?;
        let all_fetched = write(&job, days.instruments).await?;
        if all_fetched {
            Ok(())
        } else {
            Err(Failure::Work(anyhow!("some exchanges could not be fetched")))
        }
    })
}

/// Writes the definitions of the configured exchanges and range, prints the summary, and returns whether every
/// exchange was fetched. `MD_FORCE` (`--force`) replaces definitions files this version cannot read.
pub(crate) async fn write(job: &Job, dates: DateRange) -> Result<bool, Failure> {
    let report = job.write_definitions(dates, job.config.download.force).await.map_err(
        |error| match error {
            downloader::Error::IpLocked { .. } => {
                Failure::key_in_use(job.config.tardis.ip_lock_max_wait, None)
            }
            error => Failure::Work(anyhow!(error)),
        },
    )?;
    if report.unreachable() {
        // No network (the usual first contact on a machine without internet): one line, and the way to see md work.
        let cause = report.first_error().map_or("?", |(_, error)| error);
        return Err(Failure::Work(anyhow!(
            "cannot reach Tardis at {} ({cause}); nothing was written. To see md work without network, run \
             `cargo xtask demo` in md's source tree: the same job against a local Tardis stand-in",
            job.config.tardis.api_url.as_str().trim_end_matches('/')
        )));
    }
    let summary = DefinitionsSummary { report: &report, dates }.to_string();
    crate::commands::download::ignore_broken_pipe(
        std::io::stdout().lock().write_all(summary.as_bytes()),
    )?;
    // Nothing fetched at all (a wrong URL, a refused key): there is nothing to go on with, and nothing was written.
    if let Some((exchange, error)) = report.first_error() {
        return Err(Failure::Work(anyhow!(
            "no exchange's metadata could be fetched: {exchange}: {error}"
        )));
    }
    Ok(report.all_fetched())
}
