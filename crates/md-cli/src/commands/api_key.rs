//! The Tardis API key: `TARDIS_API_KEY` as configured, or read from Google Secret Manager (`TARDIS_SECRET_NAME`,
//! through gcs-sink's `secret_manager`, with the sink's Google credentials) before a command needs it.
//!
//! md-config decides whether a secret is to be read (`Config::api_key_secret`: `TARDIS_API_KEY` unset,
//! `TARDIS_SECRET_NAME` set, `USE_SECRET_MANAGER` not false); this module reads it once per process, on a
//! short-lived runtime of its own (commands build theirs afterwards), and says where the key came from.

use anyhow::anyhow;
use gcs_sink::secret_manager::{SecretError, SecretManager};
use md_config::{Config, Loaded, Source, Var};

use crate::exit::Failure;

/// Where the key a command runs with came from, as `doctor` and the logs say it.
#[derive(Debug, Clone)]
pub(crate) enum KeyOrigin {
    /// `TARDIS_API_KEY`, from this source (`env`, `.env (path)`, `file (path)`, `flag`).
    Setting(String),
    /// Read from Secret Manager: this resource (`projects/P/secrets/S/versions/latest`).
    SecretManager(String),
    /// To be read from Secret Manager, which failed.
    Unreadable(String),
    /// No key: free days only.
    None,
}

impl KeyOrigin {
    /// One phrase for `doctor`'s configuration line.
    pub(crate) fn describe(&self) -> String {
        match self {
            KeyOrigin::Setting(from) => format!("TARDIS_API_KEY from {from}"),
            KeyOrigin::SecretManager(resource) => {
                format!("the Tardis API key read from Secret Manager ({resource})")
            }
            KeyOrigin::Unreadable(resource) => {
                format!("the Tardis API key NOT read from Secret Manager ({resource})")
            }
            KeyOrigin::None => "no TARDIS_API_KEY (free days only)".to_owned(),
        }
    }
}

/// Reads the key into `config` when it is to come from Secret Manager, and says where the key came from. Logging is
/// installed first, so retries and the outcome are logged (never the key).
///
/// The error is Secret Manager's own, for the caller to report: as a failure ([`failure`]) or as a doctor check.
pub(crate) fn resolve(loaded: &Loaded, config: &mut Config) -> Result<KeyOrigin, Box<SecretError>> {
    let Some(secret) = config.api_key_secret.clone() else {
        return Ok(configured(loaded, config));
    };
    let resource = secret.resource();
    let proxies = config.sink.proxy.clone();
    let outcome = SecretManager::from_config(&secret).map(|client| client.with_proxy(&proxies)).and_then(|client| {
        tracing::info!(secret = %resource, url = client.url(), "reading the Tardis API key from Secret Manager");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime builds");
        runtime.block_on(client.read_latest())
    });
    match outcome {
        Ok(key) => {
            config.tardis.api_key = Some(key);
            tracing::info!(secret = %resource, "Tardis API key read from Secret Manager");
            Ok(KeyOrigin::SecretManager(resource))
        }
        Err(error) => Err(Box::new(error)),
    }
}

/// The failure a command stops with when the key cannot be read: exit 2 for a secret that is missing, denied or
/// unusable (the configuration must change), exit 1 when Secret Manager did not answer (a later run may work).
#[allow(
    clippy::boxed_local,
    reason = "the error comes boxed from resolve, whose callers map it with this"
)]
pub(crate) fn failure(error: Box<SecretError>) -> Failure {
    let transient = error.is_transient();
    let error = anyhow!(*error).context(
        "cannot read the Tardis API key from Secret Manager (TARDIS_SECRET_NAME; set TARDIS_API_KEY, or USE_SECRET_MANAGER=false to run without a key)",
    );
    if transient { Failure::Work(error) } else { Failure::BadInput(error) }
}

/// The key as configured: where `TARDIS_API_KEY` came from, and a note when a secret name is set but not used.
fn configured(loaded: &Loaded, config: &Config) -> KeyOrigin {
    let setting = |var: Var| {
        loaded.settings.iter().find(|setting| setting.name == var.name() && setting.value.is_some())
    };
    let Some(key) = setting(Var::TardisApiKey).filter(|_| config.tardis.api_key.is_some()) else {
        return KeyOrigin::None;
    };
    let from = match (&key.origin, key.source) {
        (Some(origin), Source::DotEnv | Source::File) => format!("{} ({origin})", key.source),
        _ => key.source.to_string(),
    };
    if let Some(name) =
        setting(Var::TardisSecretName).filter(|setting| setting.source != Source::Default)
    {
        // The original asked Secret Manager first; md takes the explicit key (docs/MIGRATING.md).
        tracing::info!(
            secret = name.value.as_deref().unwrap_or_default(),
            "TARDIS_API_KEY is set, so Secret Manager is not asked (TARDIS_SECRET_NAME is ignored)"
        );
    }
    KeyOrigin::Setting(from)
}
