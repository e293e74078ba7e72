//! [`Job`]: the downloader's [`downloader::Job`] (configuration, sink, Tardis client) with where the API key came
//! from and the shard settings a file gave, and the mapping of its errors to exit codes.

use anyhow::anyhow;
use downloader::download::{Plan, RunDays};
use downloader::{JobError, PlanError};
use gcs_sink::secret_manager::SecretError;
use md_config::Loaded;

use crate::commands::api_key::{self, KeyOrigin};
use crate::exit::Failure;

/// The library's job, with what md-cli reports about how it was set up; it dereferences to [`downloader::Job`].
pub(crate) struct Job {
    pub(crate) job: downloader::Job,
    /// Where the Tardis API key came from.
    pub(crate) key: KeyOrigin,
    /// The shard settings a file (`.env`, YAML) gave, which a run names with the share of the plan it did.
    pub(crate) shard_files: Option<String>,
}

impl std::ops::Deref for Job {
    type Target = downloader::Job;
    fn deref(&self) -> &downloader::Job {
        &self.job
    }
}

impl std::ops::DerefMut for Job {
    fn deref_mut(&mut self) -> &mut downloader::Job {
        &mut self.job
    }
}

impl Job {
    /// Installs logging, reads the API key from Secret Manager when it is to come from there, and builds the job;
    /// what cannot be built is a configuration problem (exit 2), a key Secret Manager does not give stops the
    /// command ([`api_key::failure`]). Nothing is built (no sink directory appears) when the key cannot be read.
    pub(crate) fn new(loaded: &Loaded) -> Result<Job, Failure> {
        crate::logging::init(&loaded.config.service).map_err(Failure::BadInput)?;
        let mut config = loaded.config.clone();
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

    fn build(loaded: &Loaded, config: md_config::Config, key: KeyOrigin) -> Result<Job, Failure> {
        let job = downloader::Job::new(config).map_err(|error: JobError| bad(error))?;
        let shard_files = downloader::download::share::shard_settings_from_files(loaded);
        Ok(Job { job, key, shard_files })
    }

    /// The run's days ([`downloader::Job::days`]); `record` lets this command write the run's record.
    pub(crate) async fn days(&self, record: bool) -> Result<RunDays, Failure> {
        self.job.days(record).await.map_err(failure)
    }

    /// The plan over every shard ([`downloader::Job::plan`]).
    pub(crate) async fn plan(&self, days: &RunDays) -> Result<Plan, Failure> {
        self.job.plan(days).await.map_err(|error| match error {
            PlanError::Plan(error) => failure(error),
            error @ PlanError::ReadDefinitions(_) => Failure::Work(anyhow!(error)),
        })
    }
}

/// Nothing was done for a bad request (the message says what to change); anything else is work that failed.
pub(crate) fn failure(error: downloader::Error) -> Failure {
    if let downloader::Error::IpLocked { source } = &error
        && let tardis_client::Error::IpLocked { waited, .. } = source.as_ref()
    {
        return Failure::key_in_use(*waited, None);
    }
    if error.is_bad_input() { bad(error) } else { Failure::Work(anyhow!(error)) }
}

fn bad(error: impl std::error::Error + Send + Sync + 'static) -> Failure {
    Failure::BadInput(anyhow!(error))
}
