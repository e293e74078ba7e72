//! [`Job`]: the sink, the configuration and the plan every command of the main job starts from.

use anyhow::anyhow;
use downloader::definitions::{self, DefinitionsStore};
use downloader::download::plan::{self, Plan};
use gcs_sink::GcsSink;
use md_config::{Config, Loaded};
use tardis_client::TardisClient;

use crate::exit::Failure;

/// The objects every command of the main job needs, built from the configuration.
pub(crate) struct Job {
    pub(crate) config: Config,
    pub(crate) sink: GcsSink,
}

impl Job {
    /// Builds the sink and installs logging; a sink that cannot be built is a configuration problem (exit 2).
    pub(crate) fn new(loaded: &Loaded) -> Result<Job, Failure> {
        crate::logging::init(&loaded.config.service).map_err(Failure::BadInput)?;
        let sink = GcsSink::from_config(&loaded.config.sink)
            .map_err(|error| Failure::BadInput(anyhow!(error).context("cannot open the sink")))?;
        Ok(Job { config: loaded.config.clone(), sink })
    }

    /// Builds the Tardis client (exit 2 when the configuration cannot make one).
    pub(crate) fn client(&self) -> Result<TardisClient, Failure> {
        TardisClient::new(&self.config.tardis).map_err(|error| Failure::BadInput(anyhow!(error)))
    }

    fn definitions(&self) -> DefinitionsStore {
        DefinitionsStore::new(self.sink.clone(), false)
    }

    /// Reads the stored definitions of the download range and builds the plan over every shard.
    pub(crate) async fn plan(&self) -> Result<Plan, Failure> {
        let days = definitions::read_days(&self.definitions(), self.config.download.dates.days())
            .await
            .map_err(|error| {
                Failure::Work(
                    anyhow!(error).context("cannot read the stored instrument definitions"),
                )
            })?;
        plan::build(&days, &self.config.download, &self.config.sharding, definitions::day_object)
            .map_err(|error| {
                // Nothing was done, and the message says what to run first.
                if error.is_bad_input() {
                    Failure::BadInput(anyhow!(error))
                } else {
                    Failure::Work(anyhow!(error))
                }
            })
    }
}
