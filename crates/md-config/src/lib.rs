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

mod dates;
mod error;
mod layout;
mod load;
mod types;
mod vars;

pub use dates::{DateRange, DateSpan, DaySpec, latest_free_day};
pub use error::{Error, Problem, Result, Source};
pub use layout::{Layout, ObjectFields, Placeholder};
pub use load::{LoadOptions, Loaded, MIN_PART_SIZE, Override, Setting, load};
pub use types::{
    ApiKey, Config, DataType, DownloadConfig, GcsOptions, InstrumentType, InstrumentsConfig,
    LogDestination, LogFormat, LogLevel, OutputFormat, OutputFormats, ParquetCompression,
    ParquetOptions, REDACTED, RunConfig, S3Options, Secret, ServiceConfig, ShardOrigin,
    ShardingConfig, SinkConfig, SinkLocation, TardisConfig, validate_gcs_bucket,
    validate_s3_bucket,
};
pub use vars::{Section, VARS, Var, VarSpec, env_example, spec};

/// Whether the operator set glibc's own `MALLOC_ARENA_MAX` (which glibc has already applied): md-cli then leaves
/// malloc's arena limit alone. Read here because md-config is the one place that reads the environment.
#[allow(clippy::disallowed_methods, reason = "md-config is the crate that reads the environment")]
pub fn malloc_arena_max_is_set() -> bool {
    std::env::var_os("MALLOC_ARENA_MAX").is_some()
}
