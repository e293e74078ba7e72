//! [`Job`]: the sink, the Tardis client, the run's days and the plan every command of the main job starts from.

use std::collections::BTreeSet;

use anyhow::anyhow;
use downloader::definitions::{self, DefinitionsStore};
use downloader::download::days::selected_exchanges;
use downloader::download::plan::{self, Plan};
use downloader::download::{Freshness, RunDays};
use gcs_sink::GcsSink;
use md_config::{Config, Loaded};
use tardis_client::TardisClient;

use crate::exit::Failure;

/// The objects every command of the main job needs, built from the configuration.
pub(crate) struct Job {
    pub(crate) config: Config,
    pub(crate) sink: GcsSink,
    pub(crate) client: TardisClient,
}

impl Job {
    /// Builds the sink and the Tardis client and installs logging; what cannot be built is a configuration problem
    /// (exit 2).
    pub(crate) fn new(loaded: &Loaded) -> Result<Job, Failure> {
        crate::logging::init(&loaded.config.service).map_err(Failure::BadInput)?;
        let sink = GcsSink::from_config(&loaded.config.sink)
            .map_err(|error| Failure::BadInput(anyhow!(error).context("cannot open the sink")))?;
        let client = TardisClient::new(&loaded.config.tardis)
            .map_err(|error| Failure::BadInput(anyhow!(error)))?;
        Ok(Job { config: loaded.config.clone(), sink, client })
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
                Failure::Work(
                    anyhow!(error).context("cannot read the stored instrument definitions"),
                )
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
