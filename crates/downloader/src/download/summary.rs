//! How the tick download's results read, for people and for scripts: a shard's run ([`RunSummary`]), the plan's
//! shards ([`PlanSummary`]) and one line per unit ([`UnitLine`], as `md-cli plan` and `md-cli missing` print them,
//! text or JSON, with what `missing` says about each when it says).

use std::fmt;
use std::io::{self, Write};

use indicatif::BinaryBytes;

use super::adopt::{CSV_GZIP, PARQUET_FOOTER};
use super::pipeline::RunReport;
use super::plan::Plan;
pub use super::report::UnitLine;

/// A shard's run as `md-cli download` prints it: status, unit counts, bytes, the manifest, each failed unit and
/// each object left alone, and the share of the plan when `share` says (shard settings a file gave).
#[derive(Debug, Clone, Copy)]
pub struct RunSummary<'a> {
    /// The run.
    pub report: &'a RunReport,
    /// What share of the plan the run took, when it is worth saying ([`super::share::describe`]).
    pub share: Option<&'a str>,
}

impl fmt::Display for RunSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let manifest = &self.report.manifest;
        let units = manifest.units;
        writeln!(
            f,
            "shard {}/{}: {:?} in {:.1}s",
            manifest.shard_index, manifest.total_shards, manifest.status, manifest.duration_secs
        )?;
        writeln!(
            f,
            "units: planned {}, done {}, skipped {}, adopted {}, replaced {}, failed {}, not offered {}, left \
             alone {}, not started {}",
            units.planned,
            units.done,
            units.skipped,
            units.adopted,
            units.replaced,
            units.failed,
            units.not_offered,
            units.left_alone,
            units.not_started
        )?;
        let adopted = &manifest.adopted_objects;
        if !adopted.is_empty() {
            let copied = adopted.iter().filter(|object| object.copied_from.is_some()).count();
            let checked = |how: &str| {
                let by = |object: &&super::adopt::AdoptedObject| {
                    object.copied_from.is_none() && object.checked == how
                };
                adopted.iter().filter(by).count()
            };
            writeln!(
                f,
                "adopted objects (md did not write them; nothing downloaded): {} ({} by their Parquet footer, {} \
                 read whole as .csv.gz, {copied} copied from an older spelling of their key)",
                adopted.len(),
                checked(PARQUET_FOOTER),
                checked(CSV_GZIP),
            )?;
        }
        write!(
            f,
            "bytes: downloaded {}, written {}; retries {}\nmanifest: {}",
            BinaryBytes(manifest.bytes_downloaded),
            BinaryBytes(manifest.bytes_written),
            manifest.retries,
            self.report.manifest_object
        )?;
        for error in &manifest.errors {
            write!(
                f,
                "\nfailed: {} after {} attempt(s): {}",
                error.unit, error.attempts, error.error
            )?;
        }
        for left in &manifest.left_alone {
            write!(
                f,
                "\nleft alone: {} (md did not write it and it does not check out: {}); --force replaces it",
                left.object, left.reason
            )?;
        }
        match self.share {
            Some(share) => write!(f, "\nshare: {share}"),
            None => Ok(()),
        }
    }
}

/// The plan's shards as `md-cli plan` prints them after its units: how many units, shards, the fingerprint, the
/// units of each shard and those of no shard.
#[derive(Debug, Clone, Copy)]
pub struct PlanSummary<'a>(pub &'a Plan);

impl fmt::Display for PlanSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = self.0;
        let counts = plan.counts_per_shard();
        writeln!(
            f,
            "\n{} units over {} shard(s); fingerprint {}",
            plan.units.len(),
            counts.len(),
            plan.fingerprint()
        )?;
        for (shard, count) in counts.iter().enumerate() {
            writeln!(f, "shard {shard:>4}: {count} units")?;
        }
        if plan.uncovered > 0 {
            writeln!(
                f,
                "no shard: {} units (INSTRUMENTS_PER_SHARD x TOTAL_SHARDS is too small)",
                plan.uncovered
            )?;
        }
        Ok(())
    }
}

/// The text line of a unit: shard, day, exchange, data type (unpadded, as md-cli has always printed it), symbol,
/// objects, what `missing` says (its status, and what the latest run said) and the day's incident.
fn text_line(line: &UnitLine) -> String {
    let shard = line.shard.map_or_else(|| "-".to_owned(), |shard| shard.to_string());
    let status = line.status.as_ref().map_or_else(String::new, |status| {
        let last_run = line.last_run.as_ref().map(|last_run| format!(", last run {last_run}"));
        let http = match (line.http_status, line.code) {
            (Some(status), Some(code)) => format!(": HTTP {status} code {code}"),
            (Some(status), None) => format!(": HTTP {status}"),
            _ => String::new(),
        };
        let message = line.message.as_ref().filter(|_| line.http_status.is_some());
        let message = message.map(|message| format!(": {message}"));
        format!("  [{status}{}{http}{}]", last_run.unwrap_or_default(), message.unwrap_or_default())
    });
    let incident = line.incident.as_ref().map_or_else(String::new, |incident| {
        format!("  [incident {}: {}]", incident.status, incident.details)
    });
    format!(
        "{shard:>5}  {}  {:<18} {} {:<28} {}{status}{incident}",
        line.date,
        line.exchange,
        line.data_type,
        line.symbol,
        line.objects.join("  ")
    )
}

/// Writes units to `out`, one line each (a JSON object each with `json`): a plan's units
/// (`plan.units.iter().map(UnitLine::from)`), or a survey's with what `missing` says about each
/// ([`super::report::UnitReport::line`]).
///
/// # Errors
/// Write errors of `out`.
pub fn write_units(
    out: &mut impl Write,
    lines: impl Iterator<Item = UnitLine>,
    json: bool,
) -> io::Result<()> {
    for line in lines {
        if json {
            serde_json::to_writer(&mut *out, &line)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", text_line(&line))?;
        }
    }
    out.flush()
}
