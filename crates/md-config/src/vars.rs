//! The registry of every variable md-config reads: its name, section, YAML key, default and meaning.
//!
//! This table is the single source of truth: loading, `md-cli config`, the YAML mapping, the misspelling check and
//! `.env.example` are all derived from it, so a variable cannot be read without being documented.

/// A configuration section, as it appears in YAML files and in `md-cli config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// Tardis API access.
    Tardis,
    /// Google Cloud (project, bucket, credentials, emulator).
    Gcp,
    /// The sink URL and object store tuning, plus S3 settings.
    Sink,
    /// Logging and process-wide service settings.
    Service,
    /// Which shard of the work this process takes.
    Sharding,
    /// The instrument-definitions job.
    Instruments,
    /// The tick-download job.
    Download,
}

impl Section {
    /// Returns the section's key in YAML files.
    pub fn yaml_key(self) -> &'static str {
        match self {
            Section::Tardis => "tardis",
            Section::Gcp => "gcp",
            Section::Sink => "sink",
            Section::Service => "service",
            Section::Sharding => "sharding",
            Section::Instruments => "instruments",
            Section::Download => "download",
        }
    }

    /// Returns every section in display order.
    pub fn all() -> [Section; 7] {
        [
            Section::Tardis,
            Section::Gcp,
            Section::Sink,
            Section::Service,
            Section::Sharding,
            Section::Instruments,
            Section::Download,
        ]
    }

    fn title(self) -> &'static str {
        match self {
            Section::Tardis => "Tardis API",
            Section::Gcp => "Google Cloud",
            Section::Sink => "Sink (where objects are written)",
            Section::Service => "Service: logging, concurrency, caching",
            Section::Sharding => "Sharding (fleet mode)",
            Section::Instruments => "Instrument definitions (md-cli instruments)",
            Section::Download => "Tick download (md-cli download)",
        }
    }
}

/// Declares [`Var`], one variant per variable, with its name.
macro_rules! variables {
    ($($variant:ident = $name:literal,)+) => {
        /// A variable md-config reads: the names are a contract with existing deployments, so code refers to them
        /// through this enum (a misspelt variant does not compile) and [`Var::name`] is the one place each is spelt.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs, reason = "each variant is documented by its entry in `VARS`")]
        pub enum Var {
            $($variant,)+
        }

        impl Var {
            /// Every variable, in `.env.example` order.
            pub const ALL: &'static [Var] = &[$(Var::$variant,)+];

            /// Returns the environment variable's name (`TARDIS_API_KEY`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Var::$variant => $name,)+
                }
            }
        }
    };
}

impl Var {
    /// Returns the variable's entry in [`VARS`]: section, YAML key, default and meaning.
    pub fn spec(self) -> &'static VarSpec {
        VARS.iter().find(|spec| spec.var == self).expect("every variable has an entry in VARS")
    }

    /// Returns the variable of a name, if md-config knows it.
    pub fn from_name(name: &str) -> Option<Var> {
        Var::ALL.iter().copied().find(|var| var.name() == name)
    }
}

impl std::fmt::Display for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One variable md-config knows.
#[derive(Debug, Clone, Copy)]
pub struct VarSpec {
    /// The variable.
    pub var: Var,
    /// Environment variable name (the contract with existing deployments): `var.name()`.
    pub name: &'static str,
    /// Section it belongs to.
    pub section: Section,
    /// Key inside the section in YAML files (the seed system's field name where it had one).
    pub yaml_key: &'static str,
    /// Default as text, or `None` when unset by default. The typed defaults of every section are parsed from this
    /// text (see [`crate::Config::defaults`]); no other place holds a default.
    pub default: Option<&'static str>,
    /// What the default means when it is computed or unset (shown instead of an empty value).
    pub default_note: &'static str,
    /// Meaning and unit, one line.
    pub doc: &'static str,
    /// Whether the value is a secret (never printed).
    pub secret: bool,
    /// Set by a batch engine rather than by a person.
    pub engine: bool,
}

const fn var(
    var: Var,
    section: Section,
    yaml_key: &'static str,
    default: Option<&'static str>,
    doc: &'static str,
) -> VarSpec {
    VarSpec {
        var,
        name: var.name(),
        section,
        yaml_key,
        default,
        default_note: "",
        doc,
        secret: false,
        engine: false,
    }
}

const fn noted(mut spec: VarSpec, note: &'static str) -> VarSpec {
    spec.default_note = note;
    spec
}

const fn secret(mut spec: VarSpec) -> VarSpec {
    spec.secret = true;
    spec
}

const fn engine(mut spec: VarSpec) -> VarSpec {
    spec.engine = true;
    spec
}

use Section::{Download, Gcp, Instruments, Service, Sharding, Sink, Tardis};

variables! {
    TardisApiKey = "TARDIS_API_KEY",
    TardisSecretName = "TARDIS_SECRET_NAME",
    UseSecretManager = "USE_SECRET_MANAGER",
    TardisBaseUrl = "TARDIS_BASE_URL",
    TardisApiUrl = "TARDIS_API_URL",
    TardisTimeout = "TARDIS_TIMEOUT",
    TardisConnectTimeout = "TARDIS_CONNECT_TIMEOUT",
    TardisMaxRetries = "TARDIS_MAX_RETRIES",
    TardisMaxConcurrent = "TARDIS_MAX_CONCURRENT",
    TardisVerifyGzip = "TARDIS_VERIFY_GZIP",
    TardisRateLimitPerSecond = "TARDIS_RATE_LIMIT_PER_SECOND",
    RateLimitPerVm = "RATE_LIMIT_PER_VM",
    TardisDailyQuotaBytes = "TARDIS_DAILY_QUOTA_BYTES",
    TardisIpLockPauseSecs = "TARDIS_IP_LOCK_PAUSE_SECS",
    TardisIpLockMaxWaitSecs = "TARDIS_IP_LOCK_MAX_WAIT_SECS",
    HttpsProxy = "HTTPS_PROXY",
    HttpsProxyLower = "https_proxy",
    HttpProxy = "HTTP_PROXY",
    HttpProxyLower = "http_proxy",
    NoProxy = "NO_PROXY",
    NoProxyLower = "no_proxy",
    GcpProjectId = "GCP_PROJECT_ID",
    GcsBucket = "GCS_BUCKET",
    GcsRegion = "GCS_REGION",
    GcpCredentialsPath = "GCP_CREDENTIALS_PATH",
    GoogleApplicationCredentials = "GOOGLE_APPLICATION_CREDENTIALS",
    StorageEmulatorHost = "STORAGE_EMULATOR_HOST",
    SecretManagerEmulatorHost = "SECRET_MANAGER_EMULATOR_HOST",
    MdSink = "MD_SINK",
    MdSinkMaxRetries = "MD_SINK_MAX_RETRIES",
    MdSinkTimeout = "MD_SINK_TIMEOUT",
    MdSinkConnectTimeout = "MD_SINK_CONNECT_TIMEOUT",
    MdSinkPartSize = "MD_SINK_PART_SIZE",
    MdSinkBufferMemory = "MD_SINK_BUFFER_MEMORY",
    AwsEndpointUrl = "AWS_ENDPOINT_URL",
    AwsAccessKeyId = "AWS_ACCESS_KEY_ID",
    AwsSecretAccessKey = "AWS_SECRET_ACCESS_KEY",
    AwsSessionToken = "AWS_SESSION_TOKEN",
    AwsRegion = "AWS_REGION",
    AwsDefaultRegion = "AWS_DEFAULT_REGION",
    LogLevel = "LOG_LEVEL",
    LogDestination = "LOG_DESTINATION",
    MdLogFormat = "MD_LOG_FORMAT",
    MdLogFile = "MD_LOG_FILE",
    MaxConcurrentRequests = "MAX_CONCURRENT_REQUESTS",
    BatchSize = "BATCH_SIZE",
    MemoryEfficient = "MEMORY_EFFICIENT",
    EnableCaching = "ENABLE_CACHING",
    CacheTtl = "CACHE_TTL",
    ShardIndex = "SHARD_INDEX",
    TotalShards = "TOTAL_SHARDS",
    InstrumentsPerShard = "INSTRUMENTS_PER_SHARD",
    CloudRunTaskIndex = "CLOUD_RUN_TASK_INDEX",
    CloudRunTaskCount = "CLOUD_RUN_TASK_COUNT",
    BatchTaskIndex = "BATCH_TASK_INDEX",
    BatchTaskCount = "BATCH_TASK_COUNT",
    JobCompletionIndex = "JOB_COMPLETION_INDEX",
    CloudRunExecution = "CLOUD_RUN_EXECUTION",
    MdRunId = "MD_RUN_ID",
    MdRunTime = "MD_RUN_TIME",
    InstrumentExchanges = "INSTRUMENT_EXCHANGES",
    InstrumentStartDate = "INSTRUMENT_START_DATE",
    InstrumentEndDate = "INSTRUMENT_END_DATE",
    DownloadVenues = "DOWNLOAD_VENUES",
    DownloadInstrumentTypes = "DOWNLOAD_INSTRUMENT_TYPES",
    DownloadDataTypes = "DOWNLOAD_DATA_TYPES",
    DownloadMaxInstruments = "DOWNLOAD_MAX_INSTRUMENTS",
    DownloadStartDate = "DOWNLOAD_START_DATE",
    DownloadEndDate = "DOWNLOAD_END_DATE",
    MdOutputFormat = "MD_OUTPUT_FORMAT",
    MdParquetSchema = "MD_PARQUET_SCHEMA",
    MdParquetCompression = "MD_PARQUET_COMPRESSION",
    MdParquetRowGroupSize = "MD_PARQUET_ROW_GROUP_SIZE",
    MdParquetSpillDir = "MD_PARQUET_SPILL_DIR",
    MdLayout = "MD_LAYOUT",
    MdForce = "MD_FORCE",
    MdFileFacts = "MD_FILE_FACTS",
    MdSplitGrouped = "MD_SPLIT_GROUPED",
    MdSplitOpenParts = "MD_SPLIT_OPEN_PARTS",
}

/// Every variable md-config reads, in `.env.example` order.
pub const VARS: &[VarSpec] = &[
    // Tardis.
    noted(
        secret(var(
            Var::TardisApiKey,
            Tardis,
            "api_key",
            None,
            "Tardis API key (sent as `Authorization: Bearer`). Optional: without it only the first day of each month can be downloaded and instrument definitions come from the free exchange details.",
        )),
        "unset: free days only",
    ),
    noted(
        var(
            Var::TardisSecretName,
            Tardis,
            "secret_name",
            None,
            "Google Secret Manager secret holding the Tardis API key: when TARDIS_API_KEY is unset and USE_SECRET_MANAGER is not false, md reads projects/$GCP_PROJECT_ID/secrets/$TARDIS_SECRET_NAME/versions/latest with the sink's Google credentials (GCP_CREDENTIALS_PATH, GOOGLE_APPLICATION_CREDENTIALS, else application default credentials). An explicit TARDIS_API_KEY wins.",
        ),
        "unset: the key is not read from Secret Manager",
    ),
    var(
        Var::UseSecretManager,
        Tardis,
        "use_secret_manager",
        Some("true"),
        "false: never read the API key from Secret Manager, even with TARDIS_SECRET_NAME set.",
    ),
    var(
        Var::TardisBaseUrl,
        Tardis,
        "base_url",
        Some("https://datasets.tardis.dev"),
        "Base URL of the CSV datasets service (files at {base}/v1/{exchange}/{data_type}/{YYYY}/{MM}/{DD}/{symbol}.csv.gz).",
    ),
    var(
        Var::TardisApiUrl,
        Tardis,
        "api_url",
        Some("https://api.tardis.dev"),
        "Base URL of the metadata API (/v1/exchanges, /v1/instruments).",
    ),
    var(
        Var::TardisTimeout,
        Tardis,
        "timeout",
        Some("30"),
        "Idle-read timeout in seconds: a request fails when no byte arrives for this long. A long, healthy download is never cut.",
    ),
    var(
        Var::TardisConnectTimeout,
        Tardis,
        "connect_timeout",
        Some("10"),
        "TCP and TLS connect timeout in seconds.",
    ),
    var(
        Var::TardisMaxRetries,
        Tardis,
        "max_retries",
        Some("5"),
        "Retries after the first attempt for retryable failures (5xx, 429, connection errors, timeouts, bodies cut short), with exponential backoff and jitter.",
    ),
    var(
        Var::TardisMaxConcurrent,
        Tardis,
        "max_concurrent",
        Some("50"),
        "Most Tardis requests in flight at once in this process, shared by every caller.",
    ),
    var(
        Var::TardisVerifyGzip,
        Tardis,
        "verify_gzip",
        Some("true"),
        "Inflate every dataset file while it streams and check its gzip CRC-32 and size, so a corrupt file is retried and never stored; false trades that check for CPU (inflating is most of the CPU a raw download costs). Parquet output always checks, in the converter.",
    ),
    var(
        Var::TardisRateLimitPerSecond,
        Tardis,
        "rate_limit_per_second",
        Some("50"),
        "Most Tardis requests started per second by this process (one limiter shared by every caller).",
    ),
    var(
        Var::RateLimitPerVm,
        Tardis,
        "rate_limit_per_vm",
        Some("1000000"),
        "Most Tardis requests per day for this process (VM or fleet task).",
    ),
    noted(
        var(
            Var::TardisDailyQuotaBytes,
            Tardis,
            "daily_quota_bytes",
            None,
            "Budget of compressed bytes per day for the whole fleet, split evenly over TOTAL_SHARDS; a shard stops cleanly (exit 1) before it would exceed its share, counted per UTC day across reruns (a ledger per shard in the sink).",
        ),
        "unset: no budget",
    ),
    // The key used from another IP (Tardis code 274), and proxies: one block (docs/TARDIS_ERRORS.md, DEPLOYMENT.md).
    var(
        Var::TardisIpLockPauseSecs,
        Tardis,
        "ip_lock_pause_secs",
        Some("60"),
        "Seconds every new Tardis request waits after Tardis answers 403 with code 274 (the key is active from another IP address; some plans let one key serve one IP at a time), before one request tries again; a shorter retryAfterSeconds from Tardis is used instead.",
    ),
    var(
        Var::TardisIpLockMaxWaitSecs,
        Tardis,
        "ip_lock_max_wait_secs",
        Some("900"),
        "How long, in seconds, the key may stay in use from another IP address before the run stops (exit 1, the units not done recorded as interrupted; a rerun downloads them); 0 stops at the first such answer.",
    ),
    noted(
        var(
            Var::HttpsProxy,
            Service,
            "https_proxy",
            None,
            "Proxy for https:// requests (Tardis and the sink), http://[user:password@]host:port; the password is never printed. Wins over https_proxy.",
        ),
        "unset: direct",
    ),
    noted(
        var(
            Var::HttpsProxyLower,
            Service,
            "https_proxy_lowercase",
            None,
            "Same as HTTPS_PROXY (the lower-case spelling many tools set).",
        ),
        "unset",
    ),
    noted(
        var(
            Var::HttpProxy,
            Service,
            "http_proxy",
            None,
            "Proxy for http:// requests (Tardis and the sink), http://[user:password@]host:port; the password is never printed. Wins over http_proxy.",
        ),
        "unset: direct",
    ),
    noted(
        var(
            Var::HttpProxyLower,
            Service,
            "http_proxy_lowercase",
            None,
            "Same as HTTP_PROXY (the lower-case spelling many tools set).",
        ),
        "unset",
    ),
    noted(
        var(
            Var::NoProxy,
            Service,
            "no_proxy",
            None,
            "Hosts reached directly despite a proxy, comma-separated: host names (a leading dot or none matches subdomains too), IP addresses, CIDR blocks, or * for all. Wins over no_proxy.",
        ),
        "unset: every request through the proxy",
    ),
    noted(
        var(
            Var::NoProxyLower,
            Service,
            "no_proxy_lowercase",
            None,
            "Same as NO_PROXY (the lower-case spelling many tools set).",
        ),
        "unset",
    ),
    // Google Cloud.
    noted(
        var(
            Var::GcpProjectId,
            Gcp,
            "project_id",
            None,
            "Google Cloud project id: the project of TARDIS_SECRET_NAME (required when the key is read from Secret Manager); informational for GCS.",
        ),
        "unset",
    ),
    noted(
        var(
            Var::GcsBucket,
            Gcp,
            "bucket",
            None,
            "GCS bucket; when MD_SINK is unset the sink is gs://$GCS_BUCKET.",
        ),
        "unset: MD_SINK or ./data",
    ),
    var(
        Var::GcsRegion,
        Gcp,
        "region",
        Some("asia-northeast1-c"),
        "Google Cloud region of the bucket and the fleet (informational).",
    ),
    noted(
        var(
            Var::GcpCredentialsPath,
            Gcp,
            "credentials_path",
            None,
            "Service-account JSON key file for GCS and Secret Manager. Without it (and without GOOGLE_APPLICATION_CREDENTIALS) the metadata server's application default credentials are used. It must exist when it is used (a gs:// sink without STORAGE_EMULATOR_HOST, or the key read from Secret Manager without SECRET_MANAGER_EMULATOR_HOST).",
        ),
        "unset: application default credentials",
    ),
    noted(
        var(
            Var::GoogleApplicationCredentials,
            Gcp,
            "google_application_credentials",
            None,
            "Same as GCP_CREDENTIALS_PATH (the Google client libraries' name); GCP_CREDENTIALS_PATH wins when both are set.",
        ),
        "unset",
    ),
    noted(
        var(
            Var::StorageEmulatorHost,
            Gcp,
            "storage_emulator_host",
            None,
            "GCS emulator base URL (http://127.0.0.1:4443); switches gs:// sinks to it with no credentials.",
        ),
        "unset: real GCS",
    ),
    noted(
        var(
            Var::SecretManagerEmulatorHost,
            Gcp,
            "secret_manager_emulator_host",
            None,
            "Secret Manager base URL for tests and emulators (http://127.0.0.1:PORT or host:PORT), like STORAGE_EMULATOR_HOST for the sink: the secret is read there, with no credentials.",
        ),
        "unset: https://secretmanager.googleapis.com",
    ),
    // Sink.
    noted(
        var(
            Var::MdSink,
            Sink,
            "url",
            None,
            "Where objects go: gs://bucket[/prefix], s3://bucket[/prefix], file:///path or a plain path, memory:// (tests).",
        ),
        "gs://$GCS_BUCKET, else ./data",
    ),
    var(
        Var::MdSinkMaxRetries,
        Sink,
        "max_retries",
        Some("10"),
        "Retries of a failed object-store request.",
    ),
    var(
        Var::MdSinkTimeout,
        Sink,
        "timeout",
        Some("120"),
        "Object-store request timeout in seconds (one part or one small object).",
    ),
    var(
        Var::MdSinkConnectTimeout,
        Sink,
        "connect_timeout",
        Some("5"),
        "Object-store connect timeout in seconds.",
    ),
    var(
        Var::MdSinkPartSize,
        Sink,
        "part_size",
        Some("5242880"),
        "Multipart part size in bytes for object stores; smaller objects are written with one conditional put (minimum 5 MiB). Local directories write in pieces of at most 1 MiB.",
    ),
    var(
        Var::MdSinkBufferMemory,
        Sink,
        "buffer_memory",
        Some("41943040"),
        "Bytes of object data the whole process may hold in upload buffers at once (at least MD_SINK_PART_SIZE); uploads wait for room, so memory stays bounded however many units run (20 MiB with MEMORY_EFFICIENT).",
    ),
    noted(
        var(
            Var::AwsEndpointUrl,
            Sink,
            "aws_endpoint_url",
            None,
            "S3 endpoint for s3:// sinks (MinIO, moto); http:// endpoints are allowed.",
        ),
        "unset: AWS",
    ),
    noted(var(Var::AwsAccessKeyId, Sink, "aws_access_key_id", None, "S3 access key id."), "unset"),
    noted(
        secret(var(
            Var::AwsSecretAccessKey,
            Sink,
            "aws_secret_access_key",
            None,
            "S3 secret access key.",
        )),
        "unset",
    ),
    noted(
        secret(var(
            Var::AwsSessionToken,
            Sink,
            "aws_session_token",
            None,
            "S3 session token, for temporary credentials.",
        )),
        "unset",
    ),
    noted(
        var(Var::AwsRegion, Sink, "aws_region", None, "S3 region."),
        "AWS_DEFAULT_REGION, else us-east-1",
    ),
    noted(
        var(
            Var::AwsDefaultRegion,
            Sink,
            "aws_default_region",
            None,
            "S3 region when AWS_REGION is unset.",
        ),
        "unset",
    ),
    // Service.
    var(
        Var::LogLevel,
        Service,
        "log_level",
        Some("INFO"),
        "TRACE, DEBUG, INFO, WARNING, ERROR or CRITICAL.",
    ),
    var(
        Var::LogDestination,
        Service,
        "log_destination",
        Some("local"),
        "local: human-readable lines on stderr; gcp: JSON lines with a `severity` field on stderr, as Cloud Logging reads them; both: the JSON lines on stderr and human-readable lines appended to MD_LOG_FILE.",
    ),
    var(
        Var::MdLogFormat,
        Service,
        "log_format",
        Some("text"),
        "text or json, for LOG_DESTINATION=local.",
    ),
    var(
        Var::MdLogFile,
        Service,
        "log_file",
        Some("md-cli.log"),
        "File for the human-readable copy of the logs when LOG_DESTINATION=both.",
    ),
    var(
        Var::MaxConcurrentRequests,
        Service,
        "max_concurrent_requests",
        Some("16"),
        "Dataset files (units) downloaded and stored at once.",
    ),
    var(
        Var::BatchSize,
        Service,
        "batch_size",
        Some("65536"),
        "Rows per batch when rows are converted (Parquet output, instrument definitions); a tick conversion uses at least 1024 (the original's BATCH_SIZE=1 meant upload at once, which md always does).",
    ),
    var(
        Var::MemoryEfficient,
        Service,
        "memory_efficient",
        Some("false"),
        "true: a smaller upload buffer budget (MD_SINK_BUFFER_MEMORY 20 MiB, multipart parts of 5 MiB) and one Parquet conversion at a time (not one per core) for small machines, at some cost in throughput when the network is slow and in Parquet throughput on more than one core.",
    ),
    var(
        Var::EnableCaching,
        Service,
        "enable_caching",
        Some("true"),
        "Cache Tardis metadata responses in the process for CACHE_TTL seconds.",
    ),
    var(
        Var::CacheTtl,
        Service,
        "cache_ttl",
        Some("3600"),
        "Lifetime of cached metadata responses, in seconds.",
    ),
    // Sharding.
    noted(
        var(
            Var::ShardIndex,
            Sharding,
            "shard_index",
            None,
            "This process's shard, 0-based; needs TOTAL_SHARDS.",
        ),
        "0, or the engine's task index",
    ),
    noted(
        var(
            Var::TotalShards,
            Sharding,
            "total_shards",
            None,
            "Number of shards the work is split into.",
        ),
        "1, or the engine's task count",
    ),
    noted(
        var(
            Var::InstrumentsPerShard,
            Sharding,
            "instruments_per_shard",
            None,
            "The seed system's sharding: shard i takes the units of instruments [i*N, (i+1)*N) of the plan's instrument list. Unset: units are spread evenly over TOTAL_SHARDS.",
        ),
        "unset: balanced by units",
    ),
    noted(
        engine(var(
            Var::CloudRunTaskIndex,
            Sharding,
            "cloud_run_task_index",
            None,
            "Set by Cloud Run Jobs: the task index, used as SHARD_INDEX.",
        )),
        "set by the engine",
    ),
    noted(
        engine(var(
            Var::CloudRunTaskCount,
            Sharding,
            "cloud_run_task_count",
            None,
            "Set by Cloud Run Jobs: the task count, used as TOTAL_SHARDS.",
        )),
        "set by the engine",
    ),
    noted(
        engine(var(
            Var::BatchTaskIndex,
            Sharding,
            "batch_task_index",
            None,
            "Set by Google Cloud Batch: the task index, used as SHARD_INDEX.",
        )),
        "set by the engine",
    ),
    noted(
        engine(var(
            Var::BatchTaskCount,
            Sharding,
            "batch_task_count",
            None,
            "Set by Google Cloud Batch: the task count, used as TOTAL_SHARDS.",
        )),
        "set by the engine",
    ),
    noted(
        engine(var(
            Var::JobCompletionIndex,
            Sharding,
            "job_completion_index",
            None,
            "Set by Kubernetes Indexed Jobs: the completion index, used as SHARD_INDEX (TOTAL_SHARDS must be set).",
        )),
        "set by the engine",
    ),
    noted(
        engine(var(
            Var::CloudRunExecution,
            Sharding,
            "cloud_run_execution",
            None,
            "Set by Cloud Run Jobs: the execution's name, used as MD_RUN_ID.",
        )),
        "set by the engine",
    ),
    noted(
        var(
            Var::MdRunId,
            Sharding,
            "run_id",
            None,
            "The run this task belongs to, the same for every task of one fleet launch (a Kubernetes Job's uid, a Batch job's name): the first task to start resolves the relative days (latest, yesterday, today-N) and records them in the sink under manifests/runs/, and every other task of the run uses that record, so tasks started on either side of a UTC midnight download the same days.",
        ),
        "CLOUD_RUN_EXECUTION, else none: each process resolves its own days",
    ),
    noted(
        var(
            Var::MdRunTime,
            Sharding,
            "run_time",
            None,
            "The moment relative days are resolved against, RFC 3339 (2026-12-04T00:00:00Z): replays a run as of then. Unset: the clock when the run starts.",
        ),
        "the clock",
    ),
    // Instruments.
    var(
        Var::InstrumentExchanges,
        Instruments,
        "exchanges",
        Some("binance,deribit,bybit,okex"),
        "Tardis exchange ids whose instrument definitions are written, comma-separated.",
    ),
    noted(
        var(
            Var::InstrumentStartDate,
            Instruments,
            "start_date",
            None,
            "First day (UTC, inclusive) of md-cli instruments: YYYY-MM-DD, latest (the last day every exchange has exported), yesterday, today or today-N; relative days are resolved once when the run starts.",
        ),
        "the latest free day: the 1st of this month (of last month on the 1st)",
    ),
    noted(
        var(
            Var::InstrumentEndDate,
            Instruments,
            "end_date",
            None,
            "Last day (UTC, inclusive) of md-cli instruments, spelt as INSTRUMENT_START_DATE.",
        ),
        "INSTRUMENT_START_DATE",
    ),
    // Download.
    noted(
        var(
            Var::DownloadVenues,
            Download,
            "venues",
            None,
            "Tardis exchange ids to download, comma-separated.",
        ),
        "every venue with stored definitions",
    ),
    noted(
        var(
            Var::DownloadInstrumentTypes,
            Download,
            "instrument_types",
            None,
            "Instrument types to download: spot, perpetual, future, option, combo (SPOT_PAIR and PERP are accepted).",
        ),
        "all types",
    ),
    var(
        Var::DownloadDataTypes,
        Download,
        "data_types",
        Some("trades,book_snapshot_5"),
        "Tardis data types to download: trades, incremental_book_L2, book_snapshot_25, book_snapshot_5, quotes, book_ticker, derivative_ticker, options_chain, liquidations.",
    ),
    noted(
        var(
            Var::DownloadMaxInstruments,
            Download,
            "max_instruments",
            None,
            "Download at most this many instruments per venue and day (the first in the plan's order).",
        ),
        "unset: no limit",
    ),
    noted(
        var(
            Var::DownloadStartDate,
            Download,
            "start_date",
            None,
            "First day (UTC, inclusive) of md-cli download: YYYY-MM-DD, latest (the last day every selected venue has exported, from Tardis' exportedUntil), yesterday, today or today-N; relative days are resolved once when the run starts and recorded in the manifest.",
        ),
        "INSTRUMENT_START_DATE",
    ),
    noted(
        var(
            Var::DownloadEndDate,
            Download,
            "end_date",
            None,
            "Last day (UTC, inclusive) of md-cli download, spelt as DOWNLOAD_START_DATE.",
        ),
        "INSTRUMENT_END_DATE",
    ),
    var(
        Var::MdOutputFormat,
        Download,
        "output_format",
        Some("parquet"),
        "parquet (the original system's tick files, and its readers' format): Parquet converted while streaming, with the columns of MD_PARQUET_SCHEMA; raw: the .csv.gz exactly as Tardis sends it; raw,parquet: both objects from one download.",
    ),
    var(
        Var::MdParquetSchema,
        Download,
        "parquet_schema",
        Some("original"),
        "Columns of the tick Parquet files: original (the replaced system's: no exchange/symbol, INT64 microsecond timestamps, ask_price_1 level names, rows sorted by timestamp; docs/SCHEMAS.md) typed (md's: every CSV column, TIMESTAMP types, partition columns, file order) or hive (the original's columns plus instrument_key and symbol, no column named like a partition key; the default and the only one with MD_LAYOUT=hive).",
    ),
    var(
        Var::MdParquetCompression,
        Download,
        "parquet_compression",
        Some("zstd"),
        "Parquet codec: zstd (level 1), snappy (the replaced system's codec, files about twice as large) or none (uncompressed).",
    ),
    noted(
        var(
            Var::MdParquetRowGroupSize,
            Download,
            "parquet_row_group_size",
            None,
            "Most rows per Parquet row group; a row group also ends at about 4 MiB encoded (16 MiB with MD_PARQUET_SCHEMA=hive), so wide rows (book_snapshot_25) get fewer.",
        ),
        "100000 with MD_PARQUET_SCHEMA=original (the replaced system's), 1048576 with typed, 262144 with hive",
    ),
    noted(
        var(
            Var::MdParquetSpillDir,
            Download,
            "parquet_spill_dir",
            None,
            "Directory for the temporary files of the original schema's sort (the encoded rows until the file ends, and rows far out of order when they exceed memory): unnamed files, gone when the conversion ends; about the size of the Parquet file being written.",
        ),
        "unset: the system temporary directory ($TMPDIR, else /tmp)",
    ),
    var(
        Var::MdLayout,
        Download,
        "layout",
        Some("raw_tick_data/by_date/day-{date}/data_type-{data_type}/{instrument_key}.{ext}"),
        "Object name template; placeholders {date} {year} {month} {day} {exchange} {venue} {data_type} {symbol} {instrument_key} {instrument} (the key with each ':' as %3A) {ext}. Or the preset hive: raw_tick_data/data_type={data_type}/exchange={exchange}/date={date}/{instrument}.{ext}, definitions at instrument_availability/date={date}/instruments.parquet, Parquet files of MD_PARQUET_SCHEMA=hive (docs/DEPLOYMENT.md, docs/SCHEMAS.md).",
    ),
    var(
        Var::MdForce,
        Download,
        "force",
        Some("false"),
        "true: replace what is stored instead of keeping it (`--force`, one meaning in every command): download and rewrite every object, even one stored and verified or one md did not write, and ask Tardis again for units a previous run found not offered; md-cli fetch rewrites an existing object at --output (without it an object whose content differs fails the fetch, naming both digests); md-cli instruments and pipeline replace definitions files this version cannot read.",
    ),
    var(
        Var::MdFileFacts,
        Download,
        "file_facts",
        Some("true"),
        "true: md-cli download learns what is inside each file while it inflates it, in the gzip check (raw output) or the Parquet converter (rows, first and last timestamps, rows out of order, crossed or locked books), and records it in the download manifest and the lake index (docs/SCHEMAS.md); false skips that scan (the check stays). Nothing is learnt with TARDIS_VERIFY_GZIP=false and raw output only (no inflate).",
    ),
    var(
        Var::MdSplitGrouped,
        Download,
        "split_grouped",
        Some("off"),
        "off: a grouped options file (Deribit OPTIONS) is one Parquet object; underlying_expiry: one Parquet object per underlying × expiry of the day, named by MD_LAYOUT with the part key as {instrument_key} (DERIBIT:OPTION:BTC-USD-261127:ALL) and the grouped symbol and part as {symbol} (OPTIONS-BTC-USD-261127), plus a part list ({grouped object}.parts.json: each part's name, rows and CRC32C) that makes the unit stored (docs/SCHEMAS.md). Parquet output only.",
    ),
    var(
        Var::MdSplitOpenParts,
        Download,
        "split_open_parts",
        Some("128"),
        "With MD_SPLIT_GROUPED=underlying_expiry: most part writers open at once (256 KiB of CSV each; a Deribit day has about 70 parts); a row for a part without a writer when all are taken flushes the least recently used writer to the temporary file. Memory: this × 256 KiB plus one conversion (docs/SCHEMAS.md).",
    ),
];

/// Returns the spec of a variable by name.
pub fn spec(name: &str) -> Option<&'static VarSpec> {
    VARS.iter().find(|spec| spec.name == name)
}

/// Renders `.env.example`: every variable, grouped by section, with its meaning and default.
pub fn env_example() -> String {
    let mut out = String::from(
        "# md: every environment variable md-config reads, with its default and meaning.\n\
         # Generated from crates/md-config/src/vars.rs by `cargo xtask env-example`; do not edit by hand.\n\
         # Precedence, highest first: command-line flags > process environment > .env (--env-file) > YAML (--config) > defaults.\n\
         # Copy to .env and uncomment what you need.\n",
    );
    for section in Section::all() {
        out.push_str(&format!(
            "\n# ---- {} (YAML section `{}`) ----\n",
            section.title(),
            section.yaml_key()
        ));
        for spec in VARS.iter().filter(|spec| spec.section == section) {
            out.push('\n');
            for line in wrap(spec.doc, 110) {
                out.push_str("# ");
                out.push_str(&line);
                out.push('\n');
            }
            match spec.default {
                Some(default) => {
                    out.push_str(&format!("# Default: {default}\n#{}={default}\n", spec.name))
                }
                None => {
                    out.push_str(&format!("# Default: {}\n#{}=\n", spec.default_note, spec.name))
                }
            }
        }
    }
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("lines is never empty");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}
