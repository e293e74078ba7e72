//! The typed configuration: one [`Config`] with a plain-data struct per section.
//!
//! Other crates receive these structs (or one section of them) at construction and never read the environment.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use url::Url;

use crate::dates::DateSpan;
use crate::keywords::{
    DataType, InstrumentType, LogDestination, LogFormat, LogLevel, OutputFormats,
    ParquetCompression, ParquetSchema, SplitGrouped,
};
use crate::layout::Layout;

/// The whole effective configuration of one `md-cli` process.
#[derive(Debug, Clone)]
pub struct Config {
    /// Tardis API access.
    pub tardis: TardisConfig,
    /// Where objects are written.
    pub sink: SinkConfig,
    /// Logging and process-wide settings.
    pub service: ServiceConfig,
    /// This process's shard.
    pub sharding: ShardingConfig,
    /// The run this process belongs to.
    pub run: RunConfig,
    /// The instrument-definitions job.
    pub instruments: InstrumentsConfig,
    /// The tick-download job.
    pub download: DownloadConfig,
    /// Where the Tardis API key is read from when `TARDIS_API_KEY` is unset: a Secret Manager secret
    /// (`TARDIS_SECRET_NAME`, unless `USE_SECRET_MANAGER=false`); `None` when no secret is to be read.
    pub api_key_secret: Option<SecretManagerConfig>,
}

/// A Secret Manager secret to read the Tardis API key from (`TARDIS_SECRET_NAME` in `GCP_PROJECT_ID`), with the
/// sink's Google credentials. Read by gcs-sink's `secret_manager` module; md-config does no IO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretManagerConfig {
    /// `GCP_PROJECT_ID`.
    pub project_id: String,
    /// The secret's id (`TARDIS_SECRET_NAME`).
    pub secret: String,
    /// `SECRET_MANAGER_EMULATOR_HOST`: the base URL to ask instead of Google's, with no credentials.
    pub emulator_host: Option<Url>,
    /// The service-account key file (`GCP_CREDENTIALS_PATH`, else `GOOGLE_APPLICATION_CREDENTIALS`); `None` is
    /// application default credentials.
    pub credentials_path: Option<PathBuf>,
}

impl SecretManagerConfig {
    /// The version md reads, as Secret Manager names it: `projects/P/secrets/S/versions/latest`.
    pub fn resource(&self) -> String {
        format!("projects/{}/secrets/{}/versions/latest", self.project_id, self.secret)
    }
}

/// A secret string whose `Debug` and `Display` never show it.
///
/// Read it with [`Secret::expose`] at the one place that must send it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Returns the secret itself. Never log or format the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// What redacted values print as.
pub const REDACTED: &str = "<redacted>";

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// The Tardis API key (`TARDIS_API_KEY`), redacted in `Debug`, `Display`, errors and logs.
pub type ApiKey = Secret;

/// Tardis API access, for `tardis-client`.
#[derive(Debug, Clone)]
pub struct TardisConfig {
    /// API key; `None` restricts downloads to the first day of each month.
    pub api_key: Option<ApiKey>,
    /// Datasets service base URL (`TARDIS_BASE_URL`).
    pub datasets_url: Url,
    /// Metadata API base URL (`TARDIS_API_URL`).
    pub api_url: Url,
    /// Idle-read timeout (`TARDIS_TIMEOUT`).
    pub read_timeout: Duration,
    /// Connect timeout (`TARDIS_CONNECT_TIMEOUT`).
    pub connect_timeout: Duration,
    /// Retries after the first attempt (`TARDIS_MAX_RETRIES`).
    pub max_retries: u32,
    /// Requests in flight (`TARDIS_MAX_CONCURRENT`).
    pub max_concurrent: NonZeroUsize,
    /// Requests started per second (`TARDIS_RATE_LIMIT_PER_SECOND`).
    pub rate_limit_per_second: NonZeroU32,
    /// Requests per day (`RATE_LIMIT_PER_VM`).
    pub rate_limit_per_day: NonZeroU32,
    /// Fleet-wide compressed bytes per day (`TARDIS_DAILY_QUOTA_BYTES`).
    pub daily_quota_bytes: Option<NonZeroU64>,
    /// How long metadata responses are cached in the process: `CACHE_TTL` when `ENABLE_CACHING`, else `None`.
    pub metadata_cache_ttl: Option<Duration>,
    /// Inflate every dataset body while it streams and check its gzip CRC-32 and length (`TARDIS_VERIFY_GZIP`).
    pub verify_gzip: bool,
    /// How long new requests wait after Tardis says the key is in use from another IP (`TARDIS_IP_LOCK_PAUSE_SECS`).
    pub ip_lock_pause: Duration,
    /// How long the key may stay in use from another IP before the client gives up (`TARDIS_IP_LOCK_MAX_WAIT_SECS`).
    pub ip_lock_max_wait: Duration,
    /// Proxies for Tardis requests (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`).
    pub proxy: ProxyConfig,
}

/// An HTTP proxy's URL (`http://[user:password@]host:port`). `Debug` and `Display` show it with the password
/// replaced by `<redacted>`; [`ProxyUrl::expose`] gives the URL itself, for the one place that builds a client.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl(Url);

impl ProxyUrl {
    /// Parses a proxy URL: `http://` or `https://` with a host (a URL without a scheme is taken as `http://`).
    ///
    /// # Errors
    /// A message naming what is wrong (never the password).
    pub fn parse(text: &str) -> Result<ProxyUrl, String> {
        let text = text.trim();
        let with_scheme =
            if text.contains("://") { text.to_owned() } else { format!("http://{text}") };
        let url = Url::parse(&with_scheme).map_err(|error| {
            format!("not a proxy URL ({error}); expected http://[user:password@]host:port")
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "unsupported proxy scheme {}: expected http:// or https://",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("the proxy URL has no host".into());
        }
        Ok(ProxyUrl(url))
    }

    /// Returns the URL with its credentials. Never log or format the result.
    pub fn expose(&self) -> &Url {
        &self.0
    }

    /// Returns whether the URL carries a user name or password.
    pub fn has_credentials(&self) -> bool {
        !self.0.username().is_empty() || self.0.password().is_some()
    }
}

/// Returns `text` with the password of a URL in it replaced by `<redacted>` (the user name kept), for showing a
/// proxy setting; text that is not a URL with a password is returned as it is.
pub fn redact_url_password(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let shown =
                if userinfo.contains(':') { format!("{user}:{REDACTED}") } else { user.to_owned() };
            format!("{scheme}://{shown}@{host}{tail}")
        }
        None => text.to_owned(),
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url_password(self.0.as_str()))
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

/// Proxies for outgoing HTTP requests, handed to the Tardis client and the sink (`HTTPS_PROXY`, `HTTP_PROXY`,
/// `NO_PROXY`, or their lower-case spellings). Empty: every request goes direct.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Proxy for `https://` URLs.
    pub https: Option<ProxyUrl>,
    /// Proxy for `http://` URLs.
    pub http: Option<ProxyUrl>,
    /// Hosts reached directly, comma-separated as `NO_PROXY` spells them.
    pub no_proxy: Option<String>,
}

impl ProxyConfig {
    /// Returns whether no proxy is configured.
    pub fn is_empty(&self) -> bool {
        self.https.is_none() && self.http.is_none()
    }

    /// Returns the proxy for a URL scheme (`https` or `http`).
    pub fn for_scheme(&self, scheme: &str) -> Option<&ProxyUrl> {
        match scheme {
            "https" => self.https.as_ref(),
            "http" => self.http.as_ref(),
            _ => None,
        }
    }
}

/// Where a sink writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkLocation {
    /// `gs://bucket[/prefix]`.
    Gcs {
        /// Bucket name.
        bucket: String,
        /// Object-name prefix without leading or trailing `/` (may be empty).
        prefix: String,
    },
    /// `s3://bucket[/prefix]`.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Object-name prefix without leading or trailing `/` (may be empty).
        prefix: String,
    },
    /// A directory on the local disk (`file:///path` or a plain path).
    Local {
        /// Root directory.
        root: PathBuf,
    },
    /// An in-process store that vanishes with the process (`memory://`), for tests and dry runs.
    Memory,
}

impl SinkLocation {
    /// Parses a sink URL: `gs://bucket[/prefix]`, `s3://bucket[/prefix]`, `file:///path`, a plain path, or `memory://`.
    ///
    /// # Errors
    /// A message naming what is wrong, for an unknown scheme, a missing or invalid bucket, or a relative `file://` URL.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty sink".into());
        }
        if text == "memory://" || text == "memory:" {
            return Ok(SinkLocation::Memory);
        }
        if let Some(rest) = text.strip_prefix("gs://") {
            let (bucket, prefix) = split_bucket(rest);
            validate_gcs_bucket(bucket)?;
            return Ok(SinkLocation::Gcs { bucket: bucket.to_owned(), prefix });
        }
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = split_bucket(rest);
            validate_s3_bucket(bucket)?;
            return Ok(SinkLocation::S3 { bucket: bucket.to_owned(), prefix });
        }
        if let Some(rest) = text.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err("a file:// URL needs an absolute path (file:///path); use a plain path for a relative one".into());
            }
            return Ok(SinkLocation::Local { root: PathBuf::from(rest) });
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(format!(
                "unknown scheme {scheme:?}: expected gs://, s3://, file://, memory:// or a plain path"
            ));
        }
        Ok(SinkLocation::Local { root: PathBuf::from(text) })
    }
}

impl fmt::Display for SinkLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |scheme: &str, bucket: &str, prefix: &str, f: &mut fmt::Formatter<'_>| {
            if prefix.is_empty() {
                write!(f, "{scheme}://{bucket}")
            } else {
                write!(f, "{scheme}://{bucket}/{prefix}")
            }
        };
        match self {
            SinkLocation::Gcs { bucket, prefix } => join("gs", bucket, prefix, f),
            SinkLocation::S3 { bucket, prefix } => join("s3", bucket, prefix, f),
            SinkLocation::Local { root } => write!(f, "{}", root.display()),
            SinkLocation::Memory => f.write_str("memory://"),
        }
    }
}

fn split_bucket(rest: &str) -> (&str, String) {
    match rest.split_once('/') {
        Some((bucket, prefix)) => (bucket, prefix.trim_matches('/').to_owned()),
        None => (rest, String::new()),
    }
}

/// Checks a bucket name against Google Cloud Storage's naming rules.
///
/// # Errors
/// A message saying which rule the name breaks.
pub fn validate_gcs_bucket(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("missing bucket name".into());
    }
    let max = if name.contains('.') { 222 } else { 63 };
    if name.len() < 3 || name.len() > max {
        return Err(format!("bucket name {name:?} must be 3 to {max} characters long"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "bucket name {name:?} contains {bad:?}: only lowercase letters, digits, '-', '_' and '.' are allowed"
        ));
    }
    let first_last_ok =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !first_last_ok(name.chars().next()) || !first_last_ok(name.chars().last()) {
        return Err(format!("bucket name {name:?} must start and end with a letter or digit"));
    }
    if name.split('.').any(|part| part.is_empty() || part.len() > 63) {
        return Err(format!(
            "bucket name {name:?}: each dot-separated part must be 1 to 63 characters"
        ));
    }
    if name.starts_with("goog") || name.contains("google") || name.contains("g00gle") {
        return Err(format!(
            "bucket name {name:?} may not start with \"goog\" or contain \"google\""
        ));
    }
    if name.split('.').count() == 4 && name.split('.').all(|part| part.parse::<u8>().is_ok()) {
        return Err(format!("bucket name {name:?} may not be an IP address"));
    }
    Ok(())
}

/// Checks a bucket name against S3's naming rules.
///
/// # Errors
/// A message saying which rule the name breaks.
pub fn validate_s3_bucket(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("missing bucket name".into());
    }
    if name.len() < 3 || name.len() > 63 {
        return Err(format!("bucket name {name:?} must be 3 to 63 characters long"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.')))
    {
        return Err(format!(
            "bucket name {name:?} contains {bad:?}: only lowercase letters, digits, '-' and '.' are allowed"
        ));
    }
    let first_last_ok =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !first_last_ok(name.chars().next()) || !first_last_ok(name.chars().last()) {
        return Err(format!("bucket name {name:?} must start and end with a letter or digit"));
    }
    Ok(())
}

/// Google Cloud settings used by `gs://` sinks.
#[derive(Debug, Clone, Default)]
pub struct GcsOptions {
    /// `GCP_PROJECT_ID`.
    pub project_id: Option<String>,
    /// `GCS_REGION`.
    pub region: String,
    /// Service-account key file (`GCP_CREDENTIALS_PATH`, else `GOOGLE_APPLICATION_CREDENTIALS`).
    pub credentials_path: Option<PathBuf>,
    /// Emulator base URL (`STORAGE_EMULATOR_HOST`): no credentials are used when set.
    pub emulator_host: Option<Url>,
}

/// S3 settings used by `s3://` sinks.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// `AWS_ENDPOINT_URL`.
    pub endpoint: Option<Url>,
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<Secret>,
    /// `AWS_SESSION_TOKEN`.
    pub session_token: Option<Secret>,
}

/// The sink, for `gcs-sink`.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Where objects go.
    pub location: SinkLocation,
    /// Google Cloud settings.
    pub gcs: GcsOptions,
    /// S3 settings.
    pub s3: S3Options,
    /// Retries of a failed request (`MD_SINK_MAX_RETRIES`).
    pub max_retries: u32,
    /// Request timeout (`MD_SINK_TIMEOUT`).
    pub request_timeout: Duration,
    /// Connect timeout (`MD_SINK_CONNECT_TIMEOUT`).
    pub connect_timeout: Duration,
    /// Multipart part size in bytes (`MD_SINK_PART_SIZE`, 5 MiB with `MEMORY_EFFICIENT`).
    pub part_size: usize,
    /// Bytes all uploads may hold in part buffers at once (`MD_SINK_BUFFER_MEMORY`, 20 MiB with `MEMORY_EFFICIENT`).
    pub buffer_memory: usize,
    /// Proxies for object-store requests (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`).
    pub proxy: ProxyConfig,
}

/// Logging and process-wide service settings.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// `LOG_LEVEL`.
    pub log_level: LogLevel,
    /// `LOG_DESTINATION`.
    pub log_destination: LogDestination,
    /// `MD_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `MD_LOG_FILE`.
    pub log_file: PathBuf,
    /// Units in flight (`MAX_CONCURRENT_REQUESTS`).
    pub max_concurrent_requests: NonZeroUsize,
    /// Rows per converted batch (`BATCH_SIZE`).
    pub batch_size: NonZeroUsize,
    /// `MEMORY_EFFICIENT`.
    pub memory_efficient: bool,
    /// `ENABLE_CACHING`.
    pub enable_caching: bool,
    /// `CACHE_TTL`.
    pub cache_ttl: Duration,
}

/// Where the shard numbers came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShardOrigin {
    /// No sharding: one shard of one.
    Unsharded,
    /// `SHARD_INDEX` / `TOTAL_SHARDS`.
    Explicit,
    /// Cloud Run Jobs.
    CloudRun,
    /// Google Cloud Batch.
    CloudBatch,
    /// Kubernetes Indexed Job.
    Kubernetes,
}

/// This process's shard of the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardingConfig {
    /// 0-based index, below `total_shards`.
    pub shard_index: u32,
    /// Number of shards.
    pub total_shards: NonZeroU32,
    /// The seed system's instrument-count sharding, when set.
    pub instruments_per_shard: Option<NonZeroUsize>,
    /// Where the numbers came from.
    pub origin: ShardOrigin,
}

/// The run this process belongs to: what every task of one fleet launch shares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunConfig {
    /// The run's identity (`MD_RUN_ID`, else Cloud Run's `CLOUD_RUN_EXECUTION`): tasks of one run resolve relative
    /// days once, together, through a record in the sink.
    pub id: Option<String>,
    /// The moment relative days are resolved against (`MD_RUN_TIME`); `None` is the clock when the run starts.
    pub time: Option<DateTime<Utc>>,
}

/// The instrument-definitions job.
#[derive(Debug, Clone)]
pub struct InstrumentsConfig {
    /// Tardis exchange ids (`INSTRUMENT_EXCHANGES`).
    pub exchanges: Vec<String>,
    /// Days (`INSTRUMENT_START_DATE`..=`INSTRUMENT_END_DATE`), resolved when a run starts.
    pub dates: DateSpan,
}

/// Parquet output settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetOptions {
    /// `MD_PARQUET_SCHEMA`.
    pub schema: ParquetSchema,
    /// `MD_PARQUET_COMPRESSION`.
    pub compression: ParquetCompression,
    /// `MD_PARQUET_ROW_GROUP_SIZE`, else [`ParquetSchema::default_row_group_size`].
    pub row_group_size: NonZeroUsize,
    /// `MD_PARQUET_SPILL_DIR`, else the system temporary directory.
    pub spill_dir: PathBuf,
}

/// The tick-download job.
#[derive(Debug, Clone)]
pub struct DownloadConfig {
    /// Venues to download; empty means every venue with stored definitions (`DOWNLOAD_VENUES`).
    pub venues: Vec<String>,
    /// Instrument types; empty means all (`DOWNLOAD_INSTRUMENT_TYPES`).
    pub instrument_types: Vec<InstrumentType>,
    /// Data types (`DOWNLOAD_DATA_TYPES`).
    pub data_types: Vec<DataType>,
    /// Instruments per venue and day (`DOWNLOAD_MAX_INSTRUMENTS`).
    pub max_instruments: Option<NonZeroUsize>,
    /// Days (`DOWNLOAD_START_DATE`..=`DOWNLOAD_END_DATE`), resolved when a run starts.
    pub dates: DateSpan,
    /// The formats each unit is stored in (`MD_OUTPUT_FORMAT`).
    pub output_formats: OutputFormats,
    /// Parquet settings.
    pub parquet: ParquetOptions,
    /// Object name template (`MD_LAYOUT`).
    pub layout: Layout,
    /// Replace what is stored instead of keeping it (`MD_FORCE`, `--force`): objects even when they verify, and
    /// definitions files this version cannot read.
    pub force: bool,
    /// Learn each raw file's facts while the gzip check inflates it, for the download manifest (`MD_FILE_FACTS`).
    pub file_facts: bool,
    /// Whether grouped options files are split by underlying × expiry (`MD_SPLIT_GROUPED`).
    pub split_grouped: SplitGrouped,
    /// Most part writers of a split open at once (`MD_SPLIT_OPEN_PARTS`).
    pub split_open_parts: NonZeroUsize,
}

/// Implements `Default` for sections of the configuration as their part of [`Config::defaults`], so that the table
/// [`crate::VARS`] is the one place a default is written.
macro_rules! default_from_the_table {
    ($($(#[$doc:meta])* $section:ty => $($field:ident).+;)+) => {$(
        impl Default for $section {
            $(#[$doc])*
            fn default() -> Self {
                Config::defaults().$($field).+
            }
        }
    )+};
}

default_from_the_table! {
    /// The defaults of [`crate::VARS`]: the real Tardis endpoints, no key, 30 s idle timeout, 5 retries, 50 in flight,
    /// 50/s.
    TardisConfig => tardis;
    /// The defaults of [`crate::VARS`]: `./data` on the local disk.
    SinkConfig => sink;
    /// The defaults of [`crate::VARS`].
    ServiceConfig => service;
    /// One shard of one.
    ShardingConfig => sharding;
    /// The defaults of [`crate::VARS`]: the original schema, zstd, 100,000 rows per row group, the system
    /// temporary directory.
    ParquetOptions => download.parquet;
}
