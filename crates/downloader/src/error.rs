//! The crate's one public error type: what stopped an operation of the orchestrator (writing or reading the stored
//! definitions, planning, running a shard), with the object, day or unit it concerns.
//!
//! A unit's own failure is not an error of the run: it is counted in the manifest, and the other units go on. The
//! Parquet converter's detailed errors ([`crate::convert::ConvertError`]) travel inside a unit's failure.

use chrono::NaiveDate;

/// Everything that can stop an operation of the orchestrator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A sink operation failed.
    #[error("{operation} {object} failed")]
    Sink {
        /// What was being done (`read`, `write`, `write the manifest`, ...).
        operation: &'static str,
        /// The object.
        object: String,
        /// The sink's error (boxed: it is large).
        #[source]
        source: Box<gcs_sink::Error>,
    },
    /// A stored file is not a definitions file this version can read.
    #[error(
        "{object} is not a definitions file md can read ({detail}); rerun `md-cli instruments --force` for that day"
    )]
    Foreign {
        /// The object.
        object: String,
        /// What is wrong.
        detail: String,
    },
    /// A day's definitions were written by the system md replaces; md plans only from its own.
    #[error(
        "{object} was written by market-tick-data-handler, the system md replaces, whose keys md does not plan from: run `md-cli instruments --from {date} --to {date}` first (it replaces the file, no --force needed), or `md-cli pipeline` which does both"
    )]
    OriginalDefinitions {
        /// The object.
        object: String,
        /// Its day.
        date: NaiveDate,
    },
    /// Encoding or decoding Parquet failed.
    #[error("cannot encode or decode {object}")]
    Parquet {
        /// The object.
        object: String,
        /// The Parquet or Arrow error (boxed: it is large).
        #[source]
        source: Box<CodecError>,
    },
    /// Days in the range have no stored instrument definitions (`exchanges` empty), or have definitions that do
    /// not cover some selected exchanges (`exchanges`: an `md-cli instruments` run could not fetch them).
    #[error("{}", missing_definitions(*date, *last, *days, object, exchanges))]
    MissingDefinitions {
        /// The first such day.
        date: NaiveDate,
        /// The last such day.
        last: NaiveDate,
        /// How many days of the range, from `date` to `last`, have none.
        days: usize,
        /// The object that was looked for on the first day.
        object: String,
        /// The exchanges the days' definitions do not cover; empty when the days have no definitions at all.
        exchanges: Vec<String>,
    },
    /// Two units would be written to the same object (a layout template that cannot tell them apart).
    #[error(
        "units {first} and {second} would both be written to {object}: the layout must tell them apart"
    )]
    ObjectCollision {
        /// The object name.
        object: String,
        /// One unit.
        first: String,
        /// The other unit.
        second: String,
    },
    /// What Tardis has exported could not be learnt for an exchange (`GET /v1/exchanges/{exchange}`).
    #[error("cannot learn what Tardis has exported for {exchange}")]
    Freshness {
        /// The exchange.
        exchange: String,
        /// The client's error (boxed: it is large).
        #[source]
        source: Box<tardis_client::Error>,
    },
    /// `latest` was asked for, and Tardis gives no `exportedUntil` for at least one selected exchange.
    #[error(
        "cannot resolve the days of this run: `latest` needs every selected exchange's exportedUntil, and Tardis gives none for at least one"
    )]
    LatestUnknown,
    /// A configured span of days does not resolve to a range (a first day after the last, ...).
    #[error("cannot resolve the days of this run: {what} days ({span}): {reason}")]
    DaysUnresolvable {
        /// Whose days: the instrument definitions' or the download's.
        what: &'static str,
        /// The span as configured.
        span: String,
        /// Why (md-config's message).
        reason: String,
    },
    /// The run id's record of its days was made for other days (a run id reused with another configuration).
    #[error(
        "cannot resolve the days of this run: the run {run_id} was resolved for other days (instruments {recorded_instruments}, download {recorded_download}; this task asks for {instruments} and {download}): use a new MD_RUN_ID"
    )]
    RunReused {
        /// The run id.
        run_id: String,
        /// The instrument days the record was made for.
        recorded_instruments: String,
        /// The download days the record was made for.
        recorded_download: String,
        /// The instrument days this task asks for.
        instruments: String,
        /// The download days this task asks for.
        download: String,
    },
    /// The object at a run id's record is not a record of a run's days.
    #[error("cannot resolve the days of this run: {object} is not a run record")]
    NotARunRecord {
        /// The object.
        object: String,
        /// What JSON decoding said.
        #[source]
        source: serde_json::Error,
    },
    /// A sink race: another task of the run won the create-only write of the run's record of its days, and the
    /// record was gone when read back (another writer removed or replaced it meanwhile). Work failed, not bad input:
    /// a rerun may succeed.
    #[error("cannot resolve the days of this run: {object} was written and is gone")]
    RunRecordGone {
        /// The record's object name.
        object: String,
    },
    /// The shard's manifest could not be written (the run itself is over).
    #[error("cannot write the manifest {object}")]
    Manifest {
        /// The manifest's object name.
        object: String,
        /// The sink's error (boxed: it is large).
        #[source]
        source: Box<gcs_sink::Error>,
    },
    /// A stored download manifest is not one this version can read.
    #[error("the download manifest {object} is not a manifest md can read")]
    NotAManifest {
        /// The manifest's object name.
        object: String,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
    /// Tardis refused the API key because it is in use from another IP address, for longer than
    /// `TARDIS_IP_LOCK_MAX_WAIT_SECS`: the run stopped (nothing was written).
    #[error("stopped: {source}")]
    IpLocked {
        /// The client's error (shared: it is large, and one stops every exchange's fetch).
        #[source]
        source: std::sync::Arc<tardis_client::Error>,
    },
    /// The shard's quota ledger could not be read or written, or is not a ledger of its day.
    #[error("quota ledger {object}: {problem}")]
    Ledger {
        /// The ledger's object name.
        object: String,
        /// What went wrong.
        #[source]
        problem: LedgerProblem,
    },
}

/// What went wrong with a shard's quota ledger ([`Error::Ledger`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerProblem {
    /// The sink could not read it.
    #[error("cannot read it")]
    Read(#[source] Box<gcs_sink::Error>),
    /// It is not JSON of a ledger.
    #[error("not a quota ledger; remove it to start the day's count afresh")]
    NotALedger(#[source] serde_json::Error),
    /// It is a ledger of another day than the one its name says.
    #[error("it is for {found} but is stored under {day}")]
    WrongDay {
        /// The day of its name.
        day: NaiveDate,
        /// The day inside it.
        found: NaiveDate,
    },
    /// The sink could not write it.
    #[error("cannot write it")]
    Write(#[source] Box<gcs_sink::Error>),
}

/// Why Parquet could not be encoded or decoded ([`Error::Parquet`]): Parquet's own error, or Arrow's.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The Parquet reader or writer failed.
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    /// An Arrow kernel or the record-batch reader failed.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

impl Error {
    /// Returns whether nothing was done because of what was asked (a day without definitions, a layout that merges
    /// units, days that do not resolve, a run id reused for other days): the user must change the request, not
    /// retry it. md-cli exits 2 for these and 1 for the others (a sink race, [`Error::RunRecordGone`], included).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Error::MissingDefinitions { .. }
                | Error::OriginalDefinitions { .. }
                | Error::ObjectCollision { .. }
                | Error::LatestUnknown
                | Error::DaysUnresolvable { .. }
                | Error::RunReused { .. }
                | Error::NotARunRecord { .. }
        )
    }

    pub(crate) fn sink(operation: &'static str, object: &str, source: gcs_sink::Error) -> Error {
        Error::Sink { operation, object: object.to_owned(), source: Box::new(source) }
    }

    pub(crate) fn parquet(object: &str, error: impl Into<CodecError>) -> Error {
        Error::Parquet { object: object.to_owned(), source: Box::new(error.into()) }
    }

    pub(crate) fn ledger(object: &str, problem: LedgerProblem) -> Error {
        Error::Ledger { object: object.to_owned(), problem }
    }
}

fn missing_definitions(
    date: NaiveDate,
    last: NaiveDate,
    days: usize,
    object: &str,
    exchanges: &[String],
) -> String {
    let range =
        if days > 1 { format!("{days} days between {date} and {last}") } else { date.to_string() };
    if exchanges.is_empty() {
        return format!(
            "no stored instrument definitions for {range} (looked for {object}): run `md-cli instruments --from {date} --to {last}` first, or `md-cli pipeline` which does both"
        );
    }
    let them = if exchanges.len() > 1 { "them" } else { "it" };
    let exchanges = exchanges.join(",");
    format!(
        "no stored instrument definitions of {exchanges} for {range} ({object} does not cover {them}: the instruments run that wrote it could not fetch {them}): run `md-cli instruments --from {date} --to {last} --exchanges {exchanges}` first, or `md-cli pipeline` which does both"
    )
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Formats an error with its whole chain of causes, `a: b: c`, for manifests and reports.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
