//! The days of a run, resolved once when it starts: the configuration may name them relative to the run (`latest`,
//! `yesterday`, `today-N`), and every task of a fleet must download the same days.
//!
//! A process resolves against its run time (`MD_RUN_TIME`, else the clock) and, for `latest`, the last day every
//! selected exchange has exported. With a run id (`MD_RUN_ID`, or Cloud Run's execution), the first task of the run
//! to resolve records the result in the sink, create-only, at `manifests/runs/{run_id}.json`, and every task of the
//! run uses that record instead of its own clock: tasks started on either side of a UTC midnight (or of the 06:00
//! export) agree. A record made for other days (a run id reused with another configuration) is refused.

use chrono::{DateTime, NaiveDate, Utc};
use gcs_sink::{ObjectSink, WriteMode};
use md_config::{Config, DateRange, DateSpan};
use serde::{Deserialize, Serialize};
use tardis_client::TardisClient;

use super::freshness::Freshness;
use crate::error::Error;

/// The days a run covers, and how they were resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunDays {
    /// The run id, when tasks share one.
    pub run_id: Option<String>,
    /// The moment the days were resolved against.
    pub resolved_at: DateTime<Utc>,
    /// The instrument definitions' days as asked for (`latest-free to latest-free`, `2024-03-01 to latest`).
    pub instruments_asked: String,
    /// The instrument definitions' days.
    pub instruments: DateRange,
    /// The tick download's days as asked for.
    pub download_asked: String,
    /// The tick download's days.
    pub download: DateRange,
    /// The last day every selected exchange had exported, when `latest` needed it.
    pub latest_exported: Option<NaiveDate>,
}

impl RunDays {
    /// The largest run record md reads (a record is a few hundred bytes).
    pub const MAX_BYTES: u64 = 1024 * 1024;

    /// The object a run's days are recorded in.
    pub fn object_name(run_id: &str) -> String {
        format!("manifests/runs/{run_id}.json")
    }

    /// Returns the days a run would resolve now, without recording them: the run's record when there is one, else
    /// a fresh resolution (for `md-cli doctor`, which must change nothing).
    ///
    /// # Errors
    /// As [`RunDays::resolve`].
    ///
    /// # Cancel safety
    /// Read-only.
    pub async fn peek(
        config: &Config,
        client: &TardisClient,
        sink: &ObjectSink,
    ) -> Result<RunDays, Error> {
        if let Some(id) = &config.run.id
            && let Some(recorded) = read(sink, id).await?
        {
            return recorded.checked(config.instruments.dates, config.download.dates);
        }
        RunDays::compute(config, client).await
    }

    /// Resolves the configured days once, as described in the module docs.
    ///
    /// # Errors
    /// [`Error::LatestUnknown`] for `latest` without an exchange that says what it exported,
    /// [`Error::DaysUnresolvable`] for a first day after the last, [`Error::RunReused`] when a run's record was made
    /// for other days, [`Error::NotARunRecord`] when it is not a record; [`Error::RunRecordGone`] when another task
    /// won the record's create-only write and the record is gone (a sink race); [`Error::Freshness`] when an
    /// exchange's exports cannot be fetched for `latest`; [`Error::Sink`] when the run's record cannot be read or
    /// written.
    ///
    /// # Cancel safety
    /// The record is written atomically, create-only.
    pub async fn resolve(
        config: &Config,
        client: &TardisClient,
        sink: &ObjectSink,
    ) -> Result<RunDays, Error> {
        let (instruments, download) = (config.instruments.dates, config.download.dates);
        let run_id = config.run.id.clone();
        if let Some(id) = &run_id
            && let Some(recorded) = read(sink, id).await?
        {
            return recorded.checked(instruments, download);
        }
        let days = RunDays::compute(config, client).await?;
        let Some(id) = &run_id else { return Ok(days) };
        let object = RunDays::object_name(id);
        let body = serde_json::to_vec_pretty(&days).expect("the days serialize");
        match sink.put_bytes(&object, body, WriteMode::CreateOnly).await {
            Ok(_) => Ok(days),
            // Another task of the run recorded its resolution first: use it.
            Err(gcs_sink::Error::Mismatch { .. }) => match read(sink, id).await? {
                Some(recorded) => recorded.checked(instruments, download),
                None => Err(Error::RunRecordGone { object }),
            },
            Err(source) => Err(Error::sink("write", &object, source)),
        }
    }

    /// Resolves the configured days against the run time and, for `latest`, the exchanges' exports.
    async fn compute(config: &Config, client: &TardisClient) -> Result<RunDays, Error> {
        let (instruments, download) = (config.instruments.dates, config.download.dates);
        let resolved_at = config.run.time.unwrap_or_else(Utc::now);
        let latest_exported = if instruments.needs_latest() || download.needs_latest() {
            let freshness = Freshness::fetch(client, &selected_exchanges(config)).await?;
            Some(freshness.latest_common_day().ok_or(Error::LatestUnknown)?)
        } else {
            None
        };
        let today = resolved_at.date_naive();
        let resolve = |span: DateSpan, what: &'static str| {
            span.resolve(today, latest_exported).map_err(|reason| Error::DaysUnresolvable {
                what,
                span: span.to_string(),
                reason,
            })
        };
        Ok(RunDays {
            run_id: config.run.id.clone(),
            resolved_at,
            instruments_asked: instruments.to_string(),
            instruments: resolve(instruments, "the instrument definitions'")?,
            download_asked: download.to_string(),
            download: resolve(download, "the download's")?,
            latest_exported,
        })
    }

    /// Returns the record, or an error when it was made for other days than these.
    fn checked(self, instruments: DateSpan, download: DateSpan) -> Result<RunDays, Error> {
        if self.instruments_asked != instruments.to_string()
            || self.download_asked != download.to_string()
        {
            return Err(Error::RunReused {
                run_id: self.run_id.unwrap_or_default(),
                recorded_instruments: self.instruments_asked,
                recorded_download: self.download_asked,
                instruments: instruments.to_string(),
                download: download.to_string(),
            });
        }
        Ok(self)
    }
}

/// The exchanges whose exports `latest` waits for: the download's venues when set, else the instrument exchanges.
pub fn selected_exchanges(config: &Config) -> Vec<String> {
    if config.download.venues.is_empty() {
        config.instruments.exchanges.clone()
    } else {
        config.download.venues.clone()
    }
}

async fn read(sink: &ObjectSink, run_id: &str) -> Result<Option<RunDays>, Error> {
    let object = RunDays::object_name(run_id);
    let Some(body) = sink
        .read_small(&object, RunDays::MAX_BYTES)
        .await
        .map_err(|source| Error::sink("read", &object, source))?
    else {
        return Ok(None);
    };
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|source| Error::NotARunRecord { object, source })
}
