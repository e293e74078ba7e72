//! How the tick download's results read, for people and for scripts: a shard's run ([`RunSummary`]), the plan's
//! shards ([`PlanSummary`]) and one line per unit ([`UnitLine`], as `md-cli plan` and `md-cli missing` print them,
//! text or JSON, with what `missing` says about each ([`Note`])).

use std::fmt;
use std::io::{self, Write};

use indicatif::BinaryBytes;
use serde::Serialize;

use super::adopt::{CSV_GZIP, PARQUET_FOOTER};
use super::freshness::Incident;
use super::pipeline::RunReport;
use super::plan::{Plan, Unit};

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

/// What `md-cli missing` says about a unit: its status, and what the latest run said of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Note<'a> {
    /// The status's `missing --json` name.
    pub status: &'static str,
    /// `failed` or `interrupted`, for a missing unit whose latest manifest said so.
    pub last_run: Option<&'static str>,
    /// The HTTP status Tardis answered.
    pub http_status: Option<u16>,
    /// Tardis's error code.
    pub code: Option<u32>,
    /// Tardis's message, the error, or why the run stopped.
    pub message: Option<&'a str>,
}

/// One unit as `plan --json` and `missing --json` print it.
#[derive(Debug, Serialize)]
pub struct UnitLine<'a> {
    date: chrono::NaiveDate,
    exchange: &'a str,
    data_type: &'a str,
    symbol: &'a str,
    instrument_key: &'a str,
    instrument_type: &'a str,
    grouped: bool,
    /// The unit's first object (its only one unless `MD_OUTPUT_FORMAT` names two formats).
    object: &'a str,
    /// Every object of the unit, in format order (raw first).
    objects: Vec<&'a str>,
    shard: Option<u32>,
    /// What `missing` found (docs/STATUSES.md): `stored` (and verified), `adopted`, `unverified`, `missing`,
    /// `not_offered`, `not_yet_exported`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    /// For a missing unit: what the latest download manifest that mentions it said, `failed` or `interrupted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_run: Option<&'static str>,
    /// For a unit not offered: the HTTP status Tardis answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status: Option<u16>,
    /// For a unit not offered: Tardis's error code.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<u32>,
    /// Tardis's message (not offered), the error (failed) or why the run stopped (interrupted).
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    /// The incident Tardis reports on the unit's day, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    incident: Option<&'a Incident>,
}

impl<'a> UnitLine<'a> {
    /// The line of a unit with what `missing` says about it.
    pub fn with_note(unit: &'a Unit, note: Option<&Note<'a>>) -> Self {
        let note = note.copied().unwrap_or_default();
        UnitLine {
            date: unit.date,
            exchange: &unit.exchange,
            data_type: unit.data_type.as_str(),
            symbol: &unit.symbol,
            instrument_key: &unit.instrument_key,
            instrument_type: unit.instrument_type.as_str(),
            grouped: unit.grouped,
            object: unit.object(),
            objects: unit.object_names().collect(),
            shard: unit.shard,
            status: Some(note.status).filter(|status| !status.is_empty()),
            last_run: note.last_run,
            http_status: note.http_status,
            code: note.code,
            message: note.message,
            incident: unit.incident.as_ref(),
        }
    }
}

impl<'a> From<&'a Unit> for UnitLine<'a> {
    fn from(unit: &'a Unit) -> Self {
        UnitLine::with_note(unit, None)
    }
}

/// The text line of a unit: shard, day, exchange, data type, symbol, objects, what `missing` says (`note`) and the
/// day's incident.
fn text_line(unit: &Unit, note: Option<&Note<'_>>) -> String {
    let shard = unit.shard.map_or_else(|| "-".to_owned(), |shard| shard.to_string());
    let status = note.map_or_else(String::new, |note| {
        let last_run = note.last_run.map(|last_run| format!(", last run {last_run}"));
        let http = match (note.http_status, note.code) {
            (Some(status), Some(code)) => format!(": HTTP {status} code {code}"),
            (Some(status), None) => format!(": HTTP {status}"),
            _ => String::new(),
        };
        let message = note.message.filter(|_| note.http_status.is_some());
        let message = message.map(|message| format!(": {message}"));
        format!(
            "  [{}{}{http}{}]",
            note.status,
            last_run.unwrap_or_default(),
            message.unwrap_or_default()
        )
    });
    let incident = unit.incident.as_ref().map_or_else(String::new, |incident| {
        format!("  [incident {}: {}]", incident.status, incident.details)
    });
    format!(
        "{shard:>5}  {}  {:<18} {:<20} {:<28} {}{status}{incident}",
        unit.date,
        unit.exchange,
        unit.data_type,
        unit.symbol,
        unit.object_names().collect::<Vec<_>>().join("  ")
    )
}

/// Writes units to `out`, one line each (a JSON object each with `json`), with what `missing` says about each when
/// it says.
///
/// # Errors
/// Write errors of `out`.
pub fn write_units<'a>(
    out: &mut impl Write,
    units: impl Iterator<Item = (&'a Unit, Option<Note<'a>>)>,
    json: bool,
) -> io::Result<()> {
    for (unit, note) in units {
        if json {
            serde_json::to_writer(&mut *out, &UnitLine::with_note(unit, note.as_ref()))?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", text_line(unit, note.as_ref()))?;
        }
    }
    out.flush()
}
