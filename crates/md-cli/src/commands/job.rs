//! [`Job`]: the sink, the Tardis client, the run's days and the plan every command of the main job starts from.

use std::collections::BTreeSet;

use anyhow::anyhow;
use downloader::definitions::{self, DefinitionsStore};
use downloader::download::days::selected_exchanges;
use downloader::download::plan::{self, Plan};
use downloader::download::{Freshness, RunDays};
use gcs_sink::ObjectSink;
use gcs_sink::secret_manager::SecretError;
use md_config::{Config, Loaded};
use tardis_client::TardisClient;

use crate::commands::api_key::{self, KeyOrigin};
use crate::commands::share;
use crate::exit::Failure;

/// The objects every command of the main job needs, built from the configuration.
pub(crate) struct Job {
    pub(crate) config: Config,
    pub(crate) sink: ObjectSink,
    pub(crate) client: TardisClient,
    /// Where the Tardis API key came from.
    pub(crate) key: KeyOrigin,
    /// The shard settings a file (`.env`, YAML) gave, which a run names with the share of the plan it did.
    pub(crate) shard_files: Option<String>,
}

impl Job {
    /// Installs logging, reads the API key from Secret Manager when it is to come from there, and builds the sink
    /// and the Tardis client; what cannot be built is a configuration problem (exit 2), a key Secret Manager does not
    /// give stops the command ([`api_key::failure`]).
    pub(crate) fn new(loaded: &Loaded) -> Result<Job, Failure> {
        crate::logging::init(&loaded.config.service).map_err(Failure::BadInput)?;
        let mut config = loaded.config.clone();
        // Nothing is built (no sink directory appears) when the key cannot be read.
        let key = api_key::resolve(loaded, &mut config).map_err(api_key::failure)?;
        Job::build(loaded, config, key)
    }

    /// As [`Job::new`], but a key Secret Manager does not give is handed back (the job runs without a key) for the
    /// caller to report: `doctor` makes it a check.
    pub(crate) fn with_key_outcome(
        loaded: &Loaded,
    ) -> Result<(Job, Result<(), Box<SecretError>>), Failure> {
        crate::logging::init(&loaded.config.service).map_err(Failure::BadInput)?;
        let mut config = loaded.config.clone();
        let (key, outcome) = match api_key::resolve(loaded, &mut config) {
            Ok(key) => (key, Ok(())),
            Err(error) => {
                let resource = config.api_key_secret.as_ref().map(|secret| secret.resource());
                (KeyOrigin::Unreadable(resource.unwrap_or_default()), Err(error))
            }
        };
        Ok((Job::build(loaded, config, key)?, outcome))
    }

    fn build(loaded: &Loaded, config: Config, key: KeyOrigin) -> Result<Job, Failure> {
        let sink = ObjectSink::from_config(&config.sink)
            .map_err(|error| Failure::BadInput(anyhow!(error).context("cannot open the sink")))?;
        let client =
            TardisClient::new(&config.tardis).map_err(|error| Failure::BadInput(anyhow!(error)))?;
        let shard_files = share::shard_settings_from_files(loaded);
        Ok(Job { config, sink, client, key, shard_files })
    }

    fn definitions(&self) -> DefinitionsStore {
        DefinitionsStore::new(self.sink.clone(), false)
    }

    /// Resolves the run's days once (`latest`, `yesterday`, `today-N`; shared by every task of a run with a run
    /// id, through the run's record, which `record` lets this command write when it is the first) and says which
    /// they are. Commands that only report (`plan`, `missing`) read the record but never write it.
    pub(crate) async fn days(&self, record: bool) -> Result<RunDays, Failure> {
        let days = if record {
            RunDays::resolve(&self.config, &self.client, &self.sink).await
        } else {
            RunDays::peek(&self.config, &self.client, &self.sink).await
        }
        .map_err(failure)?;
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

    /// Reads the stored definitions of the run's download days, learns what Tardis has exported for their
    /// exchanges, and builds the plan over every shard.
    pub(crate) async fn plan(&self, days: &RunDays) -> Result<Plan, Failure> {
        let stored = definitions::read_days(&self.definitions(), days.download.days())
            .await
            .map_err(|error| {
                if error.is_bad_input() {
                    // A day the original system wrote: the message says what to run.
                    failure(error)
                } else {
                    Failure::Work(
                        anyhow!(error).context("cannot read the stored instrument definitions"),
                    )
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
        // Without what Tardis has exported the plan is made as if every day were: a day not yet exported then
        // fails its units instead of being set apart. When the key is in use from another IP address past the max
        // wait, the client sends nothing more: a download then records every unit as interrupted and stops.
        let freshness = match Freshness::fetch(&self.client, &exchanges).await {
            Ok(freshness) => freshness,
            Err(error) => {
                tracing::warn!(error = %error, "planning without knowing what Tardis has exported");
                Freshness::default()
            }
        };
        let mut plan = plan::build(
            &stored,
            download,
            days.download,
            &self.config.sharding,
            &freshness,
            definitions::day_object,
        )
        .map_err(failure)?;
        plan.days = Some(days.clone());
        Ok(plan)
    }
}

/// Nothing was done for a bad request (the message says what to change); anything else is work that failed.
fn failure(error: downloader::Error) -> Failure {
    if let downloader::Error::IpLocked { source } = &error
        && let tardis_client::Error::IpLocked { waited, .. } = source.as_ref()
    {
        return Failure::key_in_use(*waited, None);
    }
    if error.is_bad_input() {
        Failure::BadInput(anyhow!(error))
    } else {
        Failure::Work(anyhow!(error))
    }
}
