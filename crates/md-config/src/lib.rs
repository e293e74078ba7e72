//! Typed configuration for `md`, loaded once from every source the seed system used.
//!
//! md-config is the **only** crate that reads the environment. Everything else receives plain structs
//! ([`TardisConfig`], [`SinkConfig`], [`DownloadConfig`], ...) at construction.
//!
//! Sources, highest precedence first: command-line flags (passed in by md-cli as [`Override`]s) > process
//! environment > `.env` (`--env-file`) > a YAML file (`--config`, else `./config.yaml`, `~/.tick-data/config.yaml`,
//! `/etc/tick-data/config.yaml`) > defaults. Every variable is listed, with its meaning and default, in [`VARS`]
//! (and so in `.env.example`). Validation collects every problem before failing; each names its variable.
//!
//! ```
//! use std::collections::BTreeMap;
//! use md_config::{LoadOptions, Source};
//!
//! let environment = BTreeMap::from([
//!     ("TARDIS_API_KEY".to_owned(), "TD.secret".to_owned()),
//!     ("DOWNLOAD_DATA_TYPES".to_owned(), "trades,quotes".to_owned()),
//! ]);
//! let loaded = md_config::load(&LoadOptions {
//!     environment: Some(environment),
//!     working_dir: Some(std::env::temp_dir().join("md-config-doc-test-nothing-here")),
//!     skip_system_config: true,
//!     ..LoadOptions::default()
//! })
//! .unwrap();
//! assert_eq!(loaded.config.download.data_types.len(), 2);
//! assert_eq!(format!("{:?}", loaded.config.tardis.api_key), "Some(<redacted>)");
//! let key = loaded.settings.iter().find(|setting| setting.name == "TARDIS_API_KEY").unwrap();
//! assert_eq!((key.value.as_deref(), key.source), (Some("<redacted>"), Source::Env));
//! ```

#[cfg(feature = "cli")]
pub mod compat;
mod dates;
mod error;
pub mod flags;
mod keywords;
mod layout;
mod load;
mod types;
mod vars;

pub use dates::{DateRange, DateSpan, DaySpec, latest_free_day};
pub use error::{Error, Problem, Result, Source};
pub use keywords::{
    DataType, InstrumentType, LogDestination, LogFormat, LogLevel, OutputFormat, OutputFormats,
    ParquetCompression, ParquetSchema, SplitGrouped,
};
pub use layout::{
    DefinitionsLayout, ENCODED_COLON, HIVE_TEMPLATE, Layout, NotAnEncodedKey, ObjectFields,
    Placeholder, Preset, decode_instrument_key, encode_instrument_key,
};
pub use load::{
    LoadOptions, Loaded, MIN_PART_SIZE, Override, SECRET_MANAGER_PENDING, Setting, load,
};
pub use types::{
    ApiKey, Config, DownloadConfig, GcsOptions, InstrumentsConfig, ParquetOptions, ProxyConfig,
    ProxyUrl, REDACTED, RunConfig, S3Options, Secret, SecretManagerConfig, ServiceConfig,
    ShardOrigin, ShardingConfig, SinkConfig, SinkLocation, TardisConfig, redact_url_password,
    validate_gcs_bucket, validate_s3_bucket,
};
pub use vars::{Section, VARS, Var, VarSpec, env_example, spec};

/// Which of glibc malloc's settings the operator set in the environment (glibc applied them before `main`), so
/// md-cli's allocator tuning leaves them alone: `MALLOC_ARENA_MAX` and `MALLOC_MMAP_THRESHOLD_`, or the same
/// tunables in `GLIBC_TUNABLES` (`glibc.malloc.arena_max`, `glibc.malloc.mmap_threshold`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MallocOverrides {
    /// The arena limit is set.
    pub arena_max: bool,
    /// The mmap threshold is set.
    pub mmap_threshold: bool,
}

impl MallocOverrides {
    /// Reads the process environment. Read here because md-config is the one place that reads the environment.
    #[allow(
        clippy::disallowed_methods,
        reason = "md-config is the crate that reads the environment"
    )]
    pub fn from_env() -> Self {
        let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
        MallocOverrides::from_values(
            std::env::var_os("MALLOC_ARENA_MAX").is_some(),
            std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some(),
            &tunables,
        )
    }

    /// The overrides given whether each variable is set and the value of `GLIBC_TUNABLES`
    /// (`name=value` pairs separated by `:`).
    pub fn from_values(arena_max: bool, mmap_threshold: bool, glibc_tunables: &str) -> Self {
        let tuned = |name: &str| {
            glibc_tunables
                .split(':')
                .any(|pair| pair.split_once('=').is_some_and(|(key, _)| key.trim() == name))
        };
        MallocOverrides {
            arena_max: arena_max || tuned("glibc.malloc.arena_max"),
            mmap_threshold: mmap_threshold || tuned("glibc.malloc.mmap_threshold"),
        }
    }
}
