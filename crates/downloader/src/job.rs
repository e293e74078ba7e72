//! [`Job`]: the configuration, the sink and the Tardis client every operation of the main job starts from, and the
//! steps a run takes with them: resolve its days ([`Job::days`]), write the instrument definitions
//! ([`Job::write_definitions`]), assemble the plan over every shard ([`Job::plan`]) and download this shard of it
//! ([`Job::downloader`]).
//!
//! ```no_run
//! # async fn example(config: md_config::Config) -> Result<(), Box<dyn std::error::Error>> {
//! let job = downloader::Job::new(config)?;
//! let days = job.days(false).await?;
//! let plan = job.plan(&days).await?;
//! println!("{} units, fingerprint {}", plan.units.len(), plan.fingerprint());
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;

use gcs_sink::ObjectSink;
use md_config::{Config, DateRange};
use tardis_client::TardisClient;

use crate::definitions::{self, DefinitionsReport, DefinitionsStore};
use crate::download::days::selected_exchanges;
use crate::download::{Downloader, Freshness, Plan, RunDays, plan};
use crate::error::{Error, chain};

/// The objects every operation of the main job needs, built from the configuration.
#[derive(Debug, Clone)]
pub struct Job {
    /// The configuration the job was built from.
    pub config: Config,
    /// Where objects go (`gs://`, `s3://`, a local directory).
    pub sink: ObjectSink,
    /// The Tardis client, with the configured key, retries and proxies.
    pub client: TardisClient,
}

/// Why a [`Job`] cannot be built: the configuration names a sink or a client that cannot be made (bad input).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The sink cannot be opened (a bad location, missing credentials).
    #[error("cannot open the sink")]
    Sink(#[source] gcs_sink::Error),
    /// The Tardis client cannot be built (a bad URL or proxy).
    #[error(transparent)]
    Client(tardis_client::Error),
}

/// Why [`Job::plan`] made no plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The stored definitions could not be read (a sink failure: the work failed, the request may be right).
    #[error("cannot read the stored instrument definitions")]
    ReadDefinitions(#[source] Error),
    /// The request cannot be planned ([`Error::is_bad_input`]: a day without definitions, a day the original
    /// system wrote, a layout that merges units), or Tardis refused the key ([`Error::IpLocked`]).
    #[error(transparent)]
    Plan(Error),
}

impl Job {
    /// Builds the sink and the Tardis client of `config`.
    ///
    /// # Errors
    /// [`JobError`] when either cannot be built; nothing is written.
    pub fn new(config: Config) -> Result<Job, JobError> {
        let sink = ObjectSink::from_config(&config.sink).map_err(JobError::Sink)?;
        let client = TardisClient::new(&config.tardis).map_err(JobError::Client)?;
        Ok(Job { config, sink, client })
    }

    /// Resolves the run's days once (`latest`, `yesterday`, `today-N`), shared by every task of a run with a run id
    /// through the run's record, which `record` lets this call write when it is the first ([`RunDays::resolve`]);
    /// without `record` the record is read, never written ([`RunDays::peek`], for commands that only report).
    ///
    /// # Errors
    /// As [`RunDays::resolve`].
    pub async fn days(&self, record: bool) -> Result<RunDays, Error> {
        let days = if record {
            RunDays::resolve(&self.config, &self.client, &self.sink).await
        } else {
            RunDays::peek(&self.config, &self.client, &self.sink).await
        }?;
        tracing::info!(
            instruments = %days.instruments,
            download = %days.download,
            asked = %days.download_asked,
            run_id = days.run_id.as_deref().unwrap_or("-"),
            resolved_at = %days.resolved_at,
            latest_exported = ?days.latest_exported,
            "days of this run"
        );
        Ok(days)
    }

    /// Writes the instrument definitions of the configured exchanges over `dates` ([`definitions::write_definitions`]);
    /// `force` rewrites days whose stored file is not md's own.
    ///
    /// # Errors
    /// As [`definitions::write_definitions`].
    pub async fn write_definitions(
        &self,
        dates: DateRange,
        force: bool,
    ) -> Result<DefinitionsReport, Error> {
        let store = self.definitions_store(force);
        let exchanges = &self.config.instruments.exchanges;
        tracing::info!(
            exchanges = %exchanges.join(","),
            from = %dates.start,
            to = %dates.end,
            "writing instrument definitions"
        );
        definitions::write_definitions(&self.client, &store, exchanges, dates).await
    }

    /// Reads the stored definitions of the run's download days, learns what Tardis has exported for their exchanges
    /// ([`Freshness`]), and builds the plan over every shard ([`plan::build`]), recording `days` in it.
    ///
    /// Without what Tardis has exported (it cannot be learnt: logged as a warning) the plan is made as if every day
    /// were: a day not yet exported then fails its units instead of being set apart.
    ///
    /// # Errors
    /// [`PlanError`].
    pub async fn plan(&self, days: &RunDays) -> Result<Plan, PlanError> {
        let store = self.definitions_store(false);
        let stored =
            definitions::read_days(&store, days.download.days()).await.map_err(|error| {
                if error.is_bad_input() {
                    PlanError::Plan(error)
                } else {
                    PlanError::ReadDefinitions(error)
                }
            })?;
        let download = &self.config.download;
        let exchanges: BTreeSet<String> = if download.venues.is_empty() {
            let stored_exchanges = stored.values().flat_map(|day| {
                day.instruments.iter().chain(&day.grouped).map(|i| i.exchange.clone())
            });
            stored_exchanges.chain(selected_exchanges(&self.config)).collect()
        } else {
            download.venues.iter().cloned().collect()
        };
        let exchanges: Vec<String> = exchanges.into_iter().collect();
        let freshness = Freshness::fetch(&self.client, &exchanges).await.unwrap_or_else(|error| {
            tracing::warn!(error = %chain(&error), "planning without knowing what Tardis has exported");
            Freshness::default()
        });
        let mut plan = plan::build(
            &stored,
            download,
            days.download,
            &self.config.sharding,
            &freshness,
            |date| store.layout().day_object(date),
        )
        .map_err(PlanError::Plan)?;
        plan.days = Some(days.clone());
        Ok(plan)
    }

    /// The store of the instrument definitions, named as the layout says (`MD_LAYOUT`'s preset); `force` replaces
    /// files this version cannot read.
    pub fn definitions_store(&self, force: bool) -> DefinitionsStore {
        DefinitionsStore::new(self.sink.clone(), force)
            .with_layout(self.config.download.layout.definitions())
    }

    /// The downloader of this job's shard: [`Downloader::run`] takes it through a plan and writes its manifest.
    pub fn downloader(&self) -> Downloader {
        Downloader::new(&self.config, self.client.clone(), self.sink.clone())
    }
}

impl PlanError {
    /// The underlying error of the crate.
    pub fn error(&self) -> &Error {
        match self {
            PlanError::ReadDefinitions(error) | PlanError::Plan(error) => error,
        }
    }
}
