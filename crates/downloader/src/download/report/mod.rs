//! What `md-cli missing` computes, as a library: the status of every planned unit ([`Survey`]), the report it
//! writes ([`MissingReport`], `reports/missing/missing_{from}_{to}.json`), the original system's per-day reports
//! ([`crate::download::reports`]) and the coverage page ([`page`], `reports/missing/missing_{from}_{to}.html`).
//!
//! Every planned unit has one of the statuses of docs/STATUSES.md ([`UnitStatus`]): stored and verified (its
//! recorded size and CRC32C agree with the object), adopted (stored by another writer and kept by a download: its
//! adoption record agrees with the object), unverified (stored without a record, or with one that disagrees: the
//! next download replaces it), not offered (the latest download manifest that mentions it says Tardis does not
//! offer the file, with Tardis's status, code and message), missing (with [`LastRun`] failed or interrupted when
//! the latest manifest that mentions it says so), or not yet exported (its day is past the exchange's
//! `exportedUntil`: not planned, not missing). A unit of a day inside an incident report carries the incident.
//! `missing --check` counts missing and unverified units ([`Survey::gaps`]), never units not offered or not yet
//! exported.
//!
//! The original's per-day reports list as missing the units with an object absent (never stored, or failed), the
//! others (stored, adopted or unverified: an object is there) as available; not-yet-exported units are in neither.

mod last_run;
pub mod page;
mod stored;

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use gcs_sink::{ObjectSink, WriteMode};
use md_config::DownloadConfig;
use serde::{Deserialize, Serialize};
use tardis_client::facts::FileFacts;
use tardis_client::wire::IncidentReport;

pub use self::last_run::LastRun;
pub use self::stored::Found;
use super::manifest::{self, FactsState};
use super::plan::{Plan, Unit};
use super::reports::{self, DayReports, ReportFilters};
use super::status::UnitStatus;
use crate::error::Error;

/// Whether a file's facts earn it the coverage page's marker (and a line in `missing --json` when it is stored and
/// verified): rows whose book is crossed (best bid above best ask), or whose `local_timestamp` goes backwards (Tardis
/// writes rows in `local_timestamp` order). An exchange `timestamp` going backwards is common and marks nothing.
pub fn flagged(facts: &FileFacts) -> bool {
    facts.local_timestamp_backwards > 0 || facts.crossed_rows.is_some_and(|rows| rows > 0)
}

/// The stem of a range's report objects: `reports/missing/missing_{from}_{to}` (`.json`, `.html`).
fn report_stem(from: NaiveDate, to: NaiveDate) -> String {
    format!("reports/missing/missing_{from}_{to}")
}

/// One unit as `plan --json` and `missing --json` print it (one JSON object a line), and as [`MissingReport`] lists
/// it. It reads back what it writes: a program that reads `md-cli plan --json` or `missing --json` (xtask's fleet
/// and benches, md-cli's tests) deserializes each line into it, and the fields `missing` adds are absent from a
/// plan's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitLine {
    /// UTC day.
    pub date: NaiveDate,
    /// Tardis exchange id.
    pub exchange: String,
    /// Data type.
    pub data_type: String,
    /// Dataset symbol.
    pub symbol: String,
    /// Canonical instrument key (or grouped object key).
    pub instrument_key: String,
    /// Instrument type.
    pub instrument_type: String,
    /// Whether it is a grouped dataset file.
    pub grouped: bool,
    /// The unit's first object (its only one unless `MD_OUTPUT_FORMAT` names two formats).
    pub object: String,
    /// Every object of the unit, in format order (raw first).
    pub objects: Vec<String>,
    /// Its shard.
    pub shard: Option<u32>,
    /// What `missing` found (docs/STATUSES.md): `stored` (and verified), `adopted`, `unverified`, `missing`,
    /// `not_offered`, `not_yet_exported`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// For a missing unit: what the latest download manifest that mentions it said, `failed` or `interrupted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run: Option<String>,
    /// For a unit not offered: the HTTP status Tardis answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// For a unit not offered: Tardis's error code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u32>,
    /// Tardis's message (not offered), the error (failed) or why the run stopped (interrupted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The incident Tardis reports on the unit's day, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<IncidentReport>,
    /// For a stored unit: what is inside its file as Tardis sent it (docs/STATUSES.md, "Per-file facts"), when the
    /// download that stored it learnt them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facts: Option<FileFacts>,
    /// For a stored unit: `learnt` with its facts, or why it has none: `gzip_check_off` (`TARDIS_VERIFY_GZIP=false`
    /// when it was downloaded), `turned_off` (`MD_FILE_FACTS=false`), `parquet_output` (an earlier md's Parquet download), `not_recorded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facts_state: Option<FactsState>,
}

impl From<&Unit> for UnitLine {
    fn from(unit: &Unit) -> Self {
        UnitLine {
            date: unit.date,
            exchange: unit.exchange.clone(),
            data_type: unit.data_type.as_str().to_owned(),
            symbol: unit.symbol.clone(),
            instrument_key: unit.instrument_key.clone(),
            instrument_type: unit.instrument_type.as_str().to_owned(),
            grouped: unit.grouped,
            object: unit.object().to_owned(),
            objects: unit.object_names().map(str::to_owned).collect(),
            shard: unit.shard,
            status: None,
            last_run: None,
            http_status: None,
            code: None,
            message: None,
            incident: unit.incident.clone(),
            facts: None,
            facts_state: None,
        }
    }
}

/// One unit of a [`Survey`] and what was found of it.
#[derive(Debug, Clone)]
pub struct UnitReport<'a> {
    /// The unit (planned, or not yet exported).
    pub unit: &'a Unit,
    /// Its status.
    pub status: UnitStatus,
    /// What was found of its objects (the worst); [`Found::Missing`] for a unit not yet exported.
    pub found: Found,
    /// The size of its stored objects, when one is stored (with several output formats, a missing unit may have
    /// one of its objects).
    pub bytes: Option<u64>,
    /// For a unit not stored: what the latest download manifest that mentions it said, when not "done".
    pub last_run: Option<LastRun>,
    /// For a unit stored and verified: what is inside its file, from the latest manifest that recorded it for the
    /// object as it is stored now (its size and CRC32C).
    pub facts: Option<FileFacts>,
    /// For a stored unit: [`FactsState::Learnt`] with its facts, or why it has none.
    pub facts_state: Option<FactsState>,
}

impl UnitReport<'_> {
    /// Its line in `missing --json` and the report: a unit the latest run failed or stopped is `missing` (it is not
    /// stored), with `last_run` saying which.
    pub fn line(&self) -> UnitLine {
        let (status, last_run) = match self.status {
            UnitStatus::Failed | UnitStatus::Interrupted => {
                (UnitStatus::Missing.as_str(), Some(self.status.as_str()))
            }
            status => (status.as_str(), None),
        };
        let run = self.last_run.as_ref();
        UnitLine {
            status: Some(status.to_owned()),
            last_run: last_run.map(str::to_owned),
            http_status: run.and_then(|run| run.http_status),
            code: run.and_then(|run| run.code),
            message: run.map(|run| run.message.clone()).filter(|message| !message.is_empty()),
            facts: self.facts,
            facts_state: self.facts_state,
            ..UnitLine::from(self.unit)
        }
    }

    /// Whether it is not stored: missing, failed or interrupted.
    pub fn is_missing(&self) -> bool {
        matches!(self.status, UnitStatus::Missing | UnitStatus::Failed | UnitStatus::Interrupted)
    }
}

/// The status of every unit of a plan: its planned units in plan order, then those not yet exported.
#[derive(Debug, Clone)]
pub struct Survey<'a> {
    /// The plan surveyed.
    pub plan: &'a Plan,
    /// Every unit and what was found of it.
    pub units: Vec<UnitReport<'a>>,
}

impl<'a> Survey<'a> {
    /// Finds what is stored of the plan's objects (listing their directories, checking each object's record) and,
    /// for the units not stored, what the latest download manifest that mentions them said.
    ///
    /// # Errors
    /// [`Error::Sink`] naming what cannot be listed, checked or read, [`Error::NotAManifest`].
    ///
    /// # Cancel safety
    /// Read-only.
    pub async fn of(sink: &ObjectSink, plan: &'a Plan) -> Result<Survey<'a>, Error> {
        let objects = stored::check(sink, plan).await?;
        let all: Vec<&Unit> = plan.units.iter().collect();
        let mut mentions = last_run::read(sink, plan.range.start, plan.range.end, &all).await?;
        let bytes = |unit: &Unit| {
            unit.object_names()
                .filter_map(|name| {
                    objects.get(name).filter(|object| object.found != Found::Missing)
                })
                .map(|object| object.size)
                .reduce(|a, b| a + b)
        };
        // A unit's recorded facts describe its file as stored now when the record's object, size and CRC32C are
        // the stored object's.
        let facts_of = |unit: &Unit, record: Option<manifest::UnitFacts>| {
            let record = record?;
            let object = objects.get(&record.object)?;
            let same = unit.object_names().any(|name| name == record.object)
                && object.size == record.size
                && object.crc32c.is_some_and(|crc| format!("{crc:08x}") == record.crc32c);
            same.then_some(record.facts)
        };
        let units = plan
            .units
            .iter()
            .map(|unit| {
                let found = Found::of(unit, &objects);
                let id = unit.id();
                let last_run =
                    if found == Found::Missing { mentions.last_runs.remove(&id) } else { None };
                let facts = if found == Found::Verified {
                    facts_of(unit, mentions.facts.remove(&id))
                } else {
                    None
                };
                let facts_state = (found != Found::Missing).then(|| {
                    match (&facts, mentions.facts_states.get(&id)) {
                        (Some(_), _) => FactsState::Learnt,
                        (None, Some(state)) if *state != FactsState::Learnt => *state,
                        (None, _) => FactsState::NotRecorded,
                    }
                });
                let status = match found {
                    Found::Verified if facts.as_ref().is_some_and(FileFacts::is_empty) => {
                        UnitStatus::Empty
                    }
                    Found::Verified => UnitStatus::StoredVerified,
                    Found::Adopted => UnitStatus::Adopted,
                    Found::Unverified => UnitStatus::StoredUnverified,
                    Found::Missing => {
                        last_run.as_ref().map_or(UnitStatus::Missing, |run| run.status)
                    }
                };
                UnitReport { unit, status, found, bytes: bytes(unit), last_run, facts, facts_state }
            })
            .chain(plan.not_yet_exported.iter().map(|unit| UnitReport {
                unit,
                status: UnitStatus::NotYetExported,
                found: Found::Missing,
                bytes: None,
                last_run: None,
                facts: None,
                facts_state: None,
            }))
            .collect();
        Ok(Survey { plan, units })
    }

    /// The units with `status`.
    pub fn count(&self, status: UnitStatus) -> usize {
        self.units.iter().filter(|unit| unit.status == status).count()
    }

    /// The units not stored: missing, failed or interrupted.
    pub fn missing(&self) -> usize {
        self.units.iter().filter(|unit| unit.is_missing()).count()
    }

    /// What `missing --check` counts: the units not stored, and those stored unverified.
    pub fn gaps(&self) -> (usize, usize) {
        (self.missing(), self.count(UnitStatus::StoredUnverified))
    }

    /// The report `missing` writes, made at `generated_at` for the selection `download`.
    pub fn report(
        &'a self,
        download: &'a DownloadConfig,
        generated_at: DateTime<Utc>,
    ) -> MissingReport<'a> {
        let plan = self.plan;
        let lines = |wanted: &dyn Fn(&UnitReport<'_>) -> bool| -> Vec<UnitLine> {
            self.units.iter().filter(|unit| wanted(unit)).map(UnitReport::line).collect()
        };
        MissingReport {
            generated_at,
            from: plan.range.start,
            to: plan.range.end,
            data_types: download.data_types.iter().map(|data_type| data_type.as_str()).collect(),
            venues: &download.venues,
            exported_until: &plan.exported_until,
            planned: plan.units.len(),
            present: plan.units.len() - self.missing() - self.count(UnitStatus::NotOffered),
            stored_verified: self.count(UnitStatus::StoredVerified),
            adopted: self.count(UnitStatus::Adopted),
            missing: lines(&|unit| unit.is_missing()),
            unverified: lines(&|unit| unit.status == UnitStatus::StoredUnverified),
            not_offered: lines(&|unit| unit.status == UnitStatus::NotOffered),
            not_yet_exported: lines(&|unit| unit.status == UnitStatus::NotYetExported),
            days_not_exported: &plan.days_not_exported,
            incidents: lines(&|unit| unit.unit.incident.is_some()),
            empty: lines(&|unit| unit.status == UnitStatus::Empty),
            flagged: lines(&|unit| unit.facts.as_ref().is_some_and(flagged)),
        }
    }

    /// The original system's two reports of every day of the range: the units with an object absent are missing.
    pub fn day_reports(
        &self,
        download: &DownloadConfig,
        generated_at: DateTime<Utc>,
    ) -> Vec<DayReports> {
        let missing: HashSet<*const Unit> = self
            .units
            .iter()
            .filter(|unit| unit.found == Found::Missing)
            .map(|unit| std::ptr::from_ref(unit.unit))
            .collect();
        reports::day_reports(
            self.plan,
            |unit| missing.contains(&std::ptr::from_ref(unit)),
            &ReportFilters::of(download),
            generated_at,
        )
    }

    /// The coverage page's model of the survey.
    pub fn coverage(&self, generated_at: DateTime<Utc>) -> page::Coverage<'_> {
        let plan = self.plan;
        page::Coverage {
            from: plan.range.start,
            to: plan.range.end,
            generated_at,
            exported_until: plan.exported_until.clone(),
            days_not_exported: plan.days_not_exported.clone(),
            units: self
                .units
                .iter()
                .map(|unit| page::CoverageUnit {
                    date: unit.unit.date,
                    exchange: &unit.unit.exchange,
                    data_type: unit.unit.data_type.as_str(),
                    instrument_key: &unit.unit.instrument_key,
                    status: unit.status,
                    bytes: unit.bytes,
                    facts: unit.facts.as_ref(),
                })
                .collect(),
        }
    }

    /// Writes the report (replacing an earlier one of the range) and the original's per-day reports.
    ///
    /// # Errors
    /// [`Error::Sink`] naming the object that cannot be written, [`Error::Parquet`].
    ///
    /// # Cancel safety
    /// Each object is replaced atomically; dropping the future leaves some written and others not.
    pub async fn write_reports(
        &'a self,
        sink: &ObjectSink,
        download: &'a DownloadConfig,
        generated_at: DateTime<Utc>,
    ) -> Result<Written<'a>, Error> {
        let report = self.report(download, generated_at);
        let object = MissingReport::object_name(report.from, report.to);
        let body = serde_json::to_vec_pretty(&report).expect("the report serializes");
        sink.put_bytes(&object, body, WriteMode::Replace)
            .await
            .map_err(|source| Error::sink("write the report", &object, source))?;
        let days = reports::write(sink, &self.day_reports(download, generated_at)).await?.len() / 2;
        Ok(Written { report, object, days })
    }

    /// The coverage page of the survey ([`page::render`]), made at `generated_at`.
    pub fn page(&self, generated_at: DateTime<Utc>) -> String {
        page::render(&self.coverage(generated_at))
    }

    /// Writes a coverage page of the survey to the sink (replacing an earlier one of the range); returns its
    /// object name.
    ///
    /// # Errors
    /// [`Error::Sink`] naming the object.
    ///
    /// # Cancel safety
    /// The write is atomic.
    pub async fn write_page(&self, sink: &ObjectSink, page: String) -> Result<String, Error> {
        let object = page::object_name(self.plan.range.start, self.plan.range.end);
        sink.put_bytes(&object, page, WriteMode::Replace)
            .await
            .map_err(|source| Error::sink("write the report", &object, source))?;
        Ok(object)
    }
}

/// What [`Survey::write_reports`] wrote.
#[derive(Debug)]
pub struct Written<'a> {
    /// The report.
    pub report: MissingReport<'a>,
    /// Its object name.
    pub object: String,
    /// The days whose two per-day reports were written.
    pub days: usize,
}

/// The report `missing` writes to `reports/missing/` ([`MissingReport::object_name`]).
#[derive(Debug, Serialize)]
pub struct MissingReport<'a> {
    /// When it was made.
    pub generated_at: DateTime<Utc>,
    /// First day of the range.
    pub from: NaiveDate,
    /// Last day of the range (inclusive).
    pub to: NaiveDate,
    /// The data types selected.
    pub data_types: Vec<&'static str>,
    /// The venues selected (empty: all).
    pub venues: &'a [String],
    /// Each exchange's `exportedUntil` the plan was made against.
    pub exported_until: &'a BTreeMap<String, DateTime<Utc>>,
    /// Units planned.
    pub planned: usize,
    /// Planned units with an object stored (or adopted), or empty at the source.
    pub present: usize,
    /// Units stored and verified.
    pub stored_verified: usize,
    /// Units stored by another writer and adopted by a download.
    pub adopted: usize,
    /// Units not stored (missing, failed or interrupted).
    pub missing: Vec<UnitLine>,
    /// Units stored unverified.
    pub unverified: Vec<UnitLine>,
    /// Units Tardis does not offer.
    pub not_offered: Vec<UnitLine>,
    /// Units of days Tardis has not exported yet.
    pub not_yet_exported: Vec<UnitLine>,
    /// Days with nothing exported yet and no stored definitions.
    pub days_not_exported: &'a [NaiveDate],
    /// Units of days inside an incident Tardis reports.
    pub incidents: Vec<UnitLine>,
    /// Units stored from a file without rows (empty at the source), with their facts.
    pub empty: Vec<UnitLine>,
    /// Stored units whose files have crossed book rows or a `local_timestamp` going backwards ([`flagged`]), with
    /// their facts.
    pub flagged: Vec<UnitLine>,
}

impl MissingReport<'_> {
    /// The report's object name for a range.
    pub fn object_name(from: NaiveDate, to: NaiveDate) -> String {
        format!("{}.json", report_stem(from, to))
    }
}
