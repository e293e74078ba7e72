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
        /// The Parquet or Arrow error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
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
    #[error("cannot learn what Tardis has exported for {exchange}: {reason}")]
    Freshness {
        /// The exchange.
        exchange: String,
        /// Why.
        reason: String,
    },
    /// The run's days cannot be resolved.
    #[error("cannot resolve the days of this run: {reason}")]
    Days {
        /// Why.
        reason: String,
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
    /// The shard's quota ledger could not be read or written.
    #[error("quota ledger {object}: {reason}")]
    Ledger {
        /// The ledger's object name.
        object: String,
        /// What went wrong.
        reason: String,
    },
}

impl Error {
    /// Returns whether nothing was done because of what was asked (a day without definitions, a layout that merges
    /// units): the user must change the request, not retry it.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Error::MissingDefinitions { .. }
                | Error::OriginalDefinitions { .. }
                | Error::ObjectCollision { .. }
                | Error::Days { .. }
        )
    }

    pub(crate) fn sink(operation: &'static str, object: &str, source: gcs_sink::Error) -> Error {
        Error::Sink { operation, object: object.to_owned(), source: Box::new(source) }
    }

    pub(crate) fn parquet(
        object: &str,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Parquet { object: object.to_owned(), source: Box::new(error) }
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
