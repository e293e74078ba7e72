//! `md-cli instruments`: write the daily instrument definitions of a range.

use std::io::Write as _;

use anyhow::anyhow;
use downloader::definitions::{self, DefinitionsStore};
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
    let store = DefinitionsStore::new(job.sink.clone(), job.config.download.force);
    let instruments = &job.config.instruments;
    tracing::info!(
        exchanges = %instruments.exchanges.join(","),
        from = %dates.start,
        to = %dates.end,
        "writing instrument definitions"
    );
    let report = definitions::write_definitions(&job.client, &store, &instruments.exchanges, dates)
        .await
        .map_err(|error| match error {
            downloader::Error::IpLocked { .. } => {
                Failure::key_in_use(job.config.tardis.ip_lock_max_wait, None)
            }
            error => Failure::Work(anyhow!(error)),
        })?;
    if report.unreachable() {
        // No network (the usual first contact on a machine without internet): one line, and the way to see md work.
        let cause =
            report.exchanges.values().find_map(|entry| entry.error.as_deref()).unwrap_or("?");
        return Err(Failure::Work(anyhow!(
            "cannot reach Tardis at {} ({cause}); nothing was written. To see md work without network, run \
             `cargo xtask demo` in md's source tree: the same job against a local Tardis stand-in",
            job.config.tardis.api_url.as_str().trim_end_matches('/')
        )));
    }
    let mut text = format!(
        "instrument definitions {} to {}\n{:<20} {:<14} {:>10} {:>8} {:>9}\n",
        dates.start, dates.end, "exchange", "source", "per day", "groups", "unparsed"
    );
    for (exchange, entry) in &report.exchanges {
        match &entry.error {
            Some(error) => text.push_str(&format!("{exchange:<20} FAILED: {error}\n")),
            None => text.push_str(&format!(
                "{exchange:<20} {:<14} {:>10} {:>8} {:>9}\n",
                entry.source,
                entry.max_instruments_per_day,
                entry.groups,
                entry.unparsed.len()
            )),
        }
        for (symbol, why) in &entry.unparsed {
            text.push_str(&format!("  unparsed {exchange} {symbol}: {why}\n"));
        }
    }
    let changed = report.objects.iter().filter(|object| object.changed).count();
    text.push_str(&format!(
        "objects: {} written ({} changed, {} unchanged)\n",
        report.objects.len(),
        changed,
        report.objects.len() - changed
    ));
    let mut replaced: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for writer in report.objects.iter().filter_map(|object| object.replaced) {
        *replaced.entry(writer).or_default() += 1;
    }
    for (writer, count) in replaced {
        let files = if count == 1 { "file" } else { "files" };
        text.push_str(&format!(
            "replaced {count} definitions {files} written by {writer} (its rows of exchanges not in this run are gone)\n"
        ));
    }
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_all(text.as_bytes())
        && error.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(Failure::Work(error.into()));
    }
    // Nothing fetched at all (a wrong URL, a refused key): there is nothing to go on with, and nothing was written.
    if let Some((exchange, error)) = report
        .exchanges
        .iter()
        .find_map(|(exchange, entry)| Some((exchange, entry.error.as_deref()?)))
        .filter(|_| report.exchanges.values().all(|entry| entry.error.is_some()))
    {
        return Err(Failure::Work(anyhow!(
            "no exchange's metadata could be fetched: {exchange}: {error}"
        )));
    }
    Ok(report.all_fetched())
}
