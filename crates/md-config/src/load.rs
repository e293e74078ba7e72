//! Loading: layering the sources, then parsing and validating every value while collecting all problems.
//!
//! Precedence, highest first: command-line flags > process environment > `.env` > YAML file > defaults.
//! The process environment is read once, here, and never mutated; `.env` is read into a map.

use std::collections::BTreeMap;
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use url::Url;

use crate::dates::{DateSpan, DaySpec};
use crate::error::{Error, Problem, Result, Source};
use crate::keywords::{
    DataType, InstrumentType, LogDestination, LogFormat, LogLevel, OutputFormats,
    ParquetCompression, ParquetSchema, SplitGrouped,
};
use crate::layout::{Layout, Placeholder, Preset};
use crate::types::{
    Config, DownloadConfig, GcsOptions, InstrumentsConfig, ParquetOptions, ProxyConfig, ProxyUrl,
    RunConfig, S3Options, Secret, SecretManagerConfig, ServiceConfig, ShardOrigin, ShardingConfig,
    SinkConfig, SinkLocation, TardisConfig, redact_url_password, validate_gcs_bucket,
};
use crate::vars::{self, Section, VARS, Var, VarSpec};

/// A value given on the command line, mapped to the variable it overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// The variable it sets.
    pub var: Var,
    /// The flag as the user typed it (`--from`), for error messages.
    pub flag: &'static str,
    /// The value.
    pub value: String,
}

/// What to load from. `Default` reads the process environment, `./.env` and the usual YAML locations.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--env-file`: this file must exist. `None`: `./.env` when present.
    pub env_file: Option<PathBuf>,
    /// `--config`: this YAML file must exist. `None`: the first of `./config.yaml`, `~/.tick-data/config.yaml`,
    /// `/etc/tick-data/config.yaml` that exists.
    pub config_file: Option<PathBuf>,
    /// Command-line flags, highest precedence.
    pub overrides: Vec<Override>,
    /// The environment to read; `None` reads the process environment. Tests pass a map.
    pub environment: Option<BTreeMap<String, String>>,
    /// Directory for `./.env` and `./config.yaml`; `None` is the current directory.
    pub working_dir: Option<PathBuf>,
    /// Home directory for `~/.tick-data/config.yaml`; `None` is `$HOME` from the environment above.
    pub home_dir: Option<PathBuf>,
    /// Whether `/etc/tick-data/config.yaml` is searched (default loaders do; tests may not).
    pub skip_system_config: bool,
    /// Today's UTC date, for date defaults; `None` is the clock.
    pub today: Option<NaiveDate>,
}

/// One variable's effective value and where it came from, as `md-cli config` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Setting {
    /// Variable name.
    pub name: &'static str,
    /// Its section.
    #[serde(skip)]
    pub section: Section,
    /// Effective value as text (`<redacted>` for secrets), `None` when unset.
    pub value: Option<String>,
    /// Where it came from.
    pub source: Source,
    /// The flag or file it came from, when that is not obvious from the source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// A loaded configuration plus the provenance of every value.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The typed configuration.
    pub config: Config,
    /// Every variable, in [`VARS`] order, with its effective value and source.
    pub settings: Vec<Setting>,
    /// The YAML file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// The `.env` file that was read, if any.
    pub env_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
struct Raw {
    value: String,
    source: Source,
    /// The flag name for flags, the file for files.
    origin: Option<String>,
}

/// Loads, parses and validates the configuration.
///
/// # Errors
/// Every problem found (bad values, unknown `TARDIS_*`/`MD_*` variables, unreadable files, inconsistent values),
/// each naming its variable or flag and its value (secrets excepted).
pub fn load(options: &LoadOptions) -> Result<Loaded> {
    let mut problems = Vec::new();
    let environment = match &options.environment {
        Some(map) => map.clone(),
        None => process_environment(),
    };
    let working_dir = options.working_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let home_dir = options.home_dir.clone().or_else(|| environment.get("HOME").map(PathBuf::from));

    let mut raw: BTreeMap<Var, Raw> = BTreeMap::new();

    // YAML file (lowest of the explicit sources).
    let config_file = find_config_file(options, &working_dir, home_dir.as_deref(), &mut problems);
    if let Some(path) = &config_file {
        read_yaml(path, &mut raw, &mut problems);
    }

    // .env file.
    let env_file = match &options.env_file {
        Some(path) if path.is_file() => Some(path.clone()),
        Some(path) => {
            problems.push(Problem {
                culprit: "--env-file".into(),
                value: Some(path.display().to_string()),
                message: "file not found".into(),
            });
            None
        }
        None => Some(working_dir.join(".env")).filter(|path| path.is_file()),
    };
    if let Some(path) = &env_file {
        read_dotenv(path, &mut raw, &mut problems);
    }

    // Process environment.
    for (name, value) in &environment {
        match vars::spec(name) {
            Some(spec) => {
                let source = if spec.engine { Source::Engine } else { Source::Env };
                raw.insert(spec.var, Raw { value: value.clone(), source, origin: None });
            }
            None => check_unknown(name, "environment", &mut problems),
        }
    }

    // Command-line flags.
    for flag in &options.overrides {
        let spec = flag.var.spec();
        // An empty variable counts as unset, but an empty flag is a mistake, not a request for the default.
        if flag.value.trim().is_empty() {
            problems.push(Problem {
                culprit: format!("{} ({})", flag.flag, spec.name),
                value: Some(flag.value.clone()),
                message: "empty value (omit the flag to use the default)".into(),
            });
            continue;
        }
        raw.insert(
            spec.var,
            Raw { value: flag.value.clone(), source: Source::Flag, origin: Some(flag.flag.into()) },
        );
    }

    let today = options.today.unwrap_or_else(|| Utc::now().date_naive());
    let mut resolver = Resolver { raw: &raw, problems, derived: BTreeMap::new() };
    let config = resolver.config(today);
    if !resolver.problems.is_empty() {
        return Err(Error { problems: resolver.problems });
    }
    let config = config.expect("a config is built whenever no problem was recorded");
    let settings = VARS
        .iter()
        .map(|spec| match (raw.get(&spec.var), resolver.derived.get(&spec.var)) {
            (Some(given), _) => Setting {
                name: spec.name,
                section: spec.section,
                value: Some(shown(spec, &given.value)),
                source: given.source,
                origin: given.origin.clone(),
            },
            (None, Some((value, source))) => Setting {
                name: spec.name,
                section: spec.section,
                value: Some(value.clone()),
                source: *source,
                origin: None,
            },
            (None, None) => Setting {
                name: spec.name,
                section: spec.section,
                value: spec.default.map(str::to_owned),
                source: Source::Default,
                origin: None,
            },
        })
        .collect::<Vec<Setting>>();
    let mut settings = settings;
    if let Some(secret) = &config.api_key_secret
        && let Some(key) =
            settings.iter_mut().find(|setting| setting.name == Var::TardisApiKey.name())
    {
        // Not read yet (md-config does no IO): where it will come from.
        key.value = Some(SECRET_MANAGER_PENDING.to_owned());
        key.source = Source::SecretManager;
        key.origin = Some(secret.resource());
    }
    Ok(Loaded { config, settings, config_file, env_file })
}

impl Config {
    /// Returns the configuration with nothing set: every value parsed from its default text in [`VARS`], the date
    /// ranges from the clock (the latest free day). `TardisConfig::default()` and the other sections' `Default` are
    /// cut from it, so the table is the one place a default is written.
    pub fn defaults() -> Config {
        let raw = BTreeMap::new();
        let mut resolver = Resolver { raw: &raw, problems: Vec::new(), derived: BTreeMap::new() };
        let config = resolver.config(Utc::now().date_naive());
        assert!(
            resolver.problems.is_empty(),
            "the defaults in VARS are invalid: {:?}",
            resolver.problems
        );
        config.expect("the defaults in VARS are valid")
    }
}

#[allow(
    clippy::disallowed_methods,
    reason = "md-config is the one crate that reads the process environment"
)]
fn process_environment() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}

/// Prefixes owned by this product: an unknown variable with one of them is a misspelling, not another tool's.
const OWNED_PREFIXES: &[&str] = &["TARDIS_", "MD_"];

fn check_unknown(name: &str, place: &str, problems: &mut Vec<Problem>) {
    if !OWNED_PREFIXES.iter().any(|prefix| name.starts_with(prefix)) {
        return;
    }
    let suggestion = VARS
        .iter()
        .map(|spec| (strsim::levenshtein(name, spec.name), spec.name))
        .min()
        .filter(|(distance, _)| *distance <= 3)
        .map(|(_, known)| format!("; did you mean {known}?"))
        .unwrap_or_default();
    problems.push(Problem::new(
        name.to_owned(),
        format!("unknown variable in the {place}{suggestion}"),
    ));
}

fn find_config_file(
    options: &LoadOptions,
    working_dir: &Path,
    home_dir: Option<&Path>,
    problems: &mut Vec<Problem>,
) -> Option<PathBuf> {
    if let Some(path) = &options.config_file {
        if path.is_file() {
            return Some(path.clone());
        }
        problems.push(Problem {
            culprit: "--config".into(),
            value: Some(path.display().to_string()),
            message: "file not found".into(),
        });
        return None;
    }
    let mut candidates = vec![working_dir.join("config.yaml")];
    if let Some(home) = home_dir {
        candidates.push(home.join(".tick-data").join("config.yaml"));
    }
    if !options.skip_system_config {
        candidates.push(PathBuf::from("/etc/tick-data/config.yaml"));
    }
    candidates.into_iter().find(|path| path.is_file())
}

fn read_yaml(path: &Path, raw: &mut BTreeMap<Var, Raw>, problems: &mut Vec<Problem>) {
    let culprit = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            problems.push(Problem::new(culprit, format!("cannot read the config file: {error}")));
            return;
        }
    };
    let document: serde_norway::Value = match serde_norway::from_str(&text) {
        Ok(document) => document,
        Err(error) => {
            problems.push(Problem::new(culprit, format!("unparsable YAML: {error}")));
            return;
        }
    };
    let mapping = match document {
        serde_norway::Value::Null => return,
        serde_norway::Value::Mapping(mapping) => mapping,
        _ => {
            problems.push(Problem::new(culprit, "the top level must be a mapping"));
            return;
        }
    };
    let mut insert = |spec: &'static VarSpec,
                      key_path: String,
                      value: &serde_norway::Value,
                      problems: &mut Vec<Problem>| {
        match yaml_scalar(value) {
            Ok(Some(text)) => {
                raw.insert(
                    spec.var,
                    Raw { value: text, source: Source::File, origin: Some(culprit.clone()) },
                );
            }
            Ok(None) => {}
            Err(message) => problems.push(Problem::new(format!("{culprit}: {key_path}"), message)),
        }
    };
    for (key, value) in &mapping {
        let Some(key) = key.as_str() else {
            problems.push(Problem::new(culprit.clone(), format!("non-string key {key:?}")));
            continue;
        };
        if let Some(spec) = vars::spec(key) {
            insert(spec, key.to_owned(), value, problems);
            continue;
        }
        let Some(section) = Section::all().into_iter().find(|section| section.yaml_key() == key)
        else {
            problems.push(Problem::new(format!("{culprit}: {key}"), "unknown key: expected a section (tardis, gcp, sink, service, sharding, instruments, download) or a variable name"));
            continue;
        };
        let serde_norway::Value::Mapping(fields) = value else {
            if !value.is_null() {
                problems
                    .push(Problem::new(format!("{culprit}: {key}"), "a section must be a mapping"));
            }
            continue;
        };
        for (field, value) in fields {
            let field = field.as_str().unwrap_or_default();
            match VARS.iter().find(|spec| spec.section == section && spec.yaml_key == field) {
                Some(spec) => insert(spec, format!("{key}.{field}"), value, problems),
                None => {
                    let known: Vec<&str> = VARS
                        .iter()
                        .filter(|spec| spec.section == section)
                        .map(|spec| spec.yaml_key)
                        .collect();
                    problems.push(Problem::new(
                        format!("{culprit}: {key}.{field}"),
                        format!("unknown key; known keys of `{key}`: {}", known.join(", ")),
                    ));
                }
            }
        }
    }
}

fn yaml_scalar(value: &serde_norway::Value) -> std::result::Result<Option<String>, String> {
    use serde_norway::Value;
    Ok(match value {
        Value::Null => None,
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => Some(number.to_string()),
        Value::String(text) => Some(text.clone()),
        Value::Sequence(items) => {
            let mut parts = Vec::new();
            for item in items {
                match yaml_scalar(item)? {
                    Some(part) if !matches!(item, Value::Sequence(_)) => parts.push(part),
                    _ => return Err("a list may only hold plain values".into()),
                }
            }
            Some(parts.join(","))
        }
        Value::Mapping(_) | Value::Tagged(_) => {
            return Err("expected a plain value or a list".into());
        }
    })
}

fn read_dotenv(path: &Path, raw: &mut BTreeMap<Var, Raw>, problems: &mut Vec<Problem>) {
    let culprit = path.display().to_string();
    let entries = match dotenvy::from_path_iter(path) {
        Ok(entries) => entries,
        Err(error) => {
            problems.push(Problem::new(culprit, format!("cannot read the .env file: {error}")));
            return;
        }
    };
    for entry in entries {
        match entry {
            Ok((name, value)) => match vars::spec(&name) {
                Some(spec) => {
                    raw.insert(
                        spec.var,
                        Raw { value, source: Source::DotEnv, origin: Some(culprit.clone()) },
                    );
                }
                None => check_unknown(&name, ".env file", problems),
            },
            Err(error) => {
                problems
                    .push(Problem::new(culprit.clone(), format!("unparsable .env line: {error}")));
            }
        }
    }
}

struct Resolver<'a> {
    raw: &'a BTreeMap<Var, Raw>,
    problems: Vec<Problem>,
    /// Effective values that were computed rather than given (shown by `md-cli config` with their source).
    derived: BTreeMap<Var, (String, Source)>,
}

impl Resolver<'_> {
    fn culprit(&self, var: Var) -> String {
        let name = var.name();
        match self.raw.get(&var) {
            Some(Raw { source: Source::Flag, origin: Some(flag), .. }) => {
                format!("{flag} ({name})")
            }
            Some(Raw { source: Source::File, origin: Some(file), .. }) => {
                let spec = var.spec();
                format!("{name} ({}.{} in {file})", spec.section.yaml_key(), spec.yaml_key)
            }
            Some(Raw { source: Source::DotEnv, origin: Some(file), .. }) => {
                format!("{name} (in {file})")
            }
            _ => name.to_owned(),
        }
    }

    fn problem(&mut self, var: Var, message: impl Into<String>) {
        let spec = var.spec();
        let value =
            if spec.secret { None } else { self.raw.get(&var).map(|raw| shown(spec, &raw.value)) };
        let culprit = self.culprit(var);
        self.problems.push(Problem { culprit, value, message: message.into() });
    }

    /// The raw text of a variable, trimmed; an empty value counts as unset.
    fn text(&self, var: Var) -> Option<&str> {
        self.raw.get(&var).map(|raw| raw.value.trim()).filter(|value| !value.is_empty())
    }

    fn is_set(&self, var: Var) -> bool {
        self.text(var).is_some()
    }

    /// Parses a variable, or its table default when unset; records a problem and returns `None` on failure.
    fn parse<T>(
        &mut self,
        name: Var,
        parse: impl Fn(&str) -> std::result::Result<T, String>,
    ) -> Option<T> {
        let text = match self.text(name) {
            Some(text) => text.to_owned(),
            None => name
                .spec()
                .default
                .expect("parse() is used for variables with a default")
                .to_owned(),
        };
        match parse(&text) {
            Ok(value) => Some(value),
            Err(message) => {
                self.problem(name, message);
                None
            }
        }
    }

    /// Parses a variable that has no default; `Some(None)` when unset.
    fn parse_opt<T>(
        &mut self,
        name: Var,
        parse: impl Fn(&str) -> std::result::Result<T, String>,
    ) -> Option<Option<T>> {
        let Some(text) = self.text(name).map(str::to_owned) else { return Some(None) };
        match parse(&text) {
            Ok(value) => Some(Some(value)),
            Err(message) => {
                self.problem(name, message);
                None
            }
        }
    }

    fn config(&mut self, today: NaiveDate) -> Option<Config> {
        let tardis = self.tardis();
        let sink = self.sink();
        let service = self.service();
        let sharding = self.sharding();
        let instruments = self.instruments(today);
        let download =
            instruments.as_ref().and_then(|instruments| self.download(instruments.dates, today));
        let run = self.run();
        let api_key_secret = self.api_key_secret(sink.as_ref());
        if let Some(sink) = &sink
            && !self.check_credentials(sink, api_key_secret.as_ref().and_then(Option::as_ref))
        {
            return None;
        }
        // Cross-section rule: MEMORY_EFFICIENT shrinks multipart parts and the buffer budget unless they were set.
        let mut sink = sink?;
        let service = service?;
        let mut tardis = tardis?;
        let proxy = self.proxy()?;
        tardis.metadata_cache_ttl = service.enable_caching.then_some(service.cache_ttl);
        tardis.proxy = proxy.clone();
        sink.proxy = proxy;
        if service.memory_efficient && !self.is_set(Var::MdSinkPartSize) {
            sink.part_size = MIN_PART_SIZE;
            self.derived.insert(Var::MdSinkPartSize, (MIN_PART_SIZE.to_string(), Source::Default));
        }
        if service.memory_efficient && !self.is_set(Var::MdSinkBufferMemory) {
            sink.buffer_memory = MEMORY_EFFICIENT_BUFFER;
            self.derived.insert(
                Var::MdSinkBufferMemory,
                (MEMORY_EFFICIENT_BUFFER.to_string(), Source::Default),
            );
        }
        if sink.buffer_memory < sink.part_size {
            self.problem(
                Var::MdSinkBufferMemory,
                format!(
                    "{} bytes cannot hold one part of MD_SINK_PART_SIZE ({} bytes): raise it or lower the part size",
                    sink.buffer_memory, sink.part_size
                ),
            );
            return None;
        }
        // Both formats: each unit writes two objects at once, each holding a part buffer until the unit commits.
        if let Some(download) = &download
            && download.output_formats.len() > 1
            && sink.buffer_memory < 2 * sink.part_size
        {
            self.problem(
                Var::MdSinkBufferMemory,
                format!(
                    "{} bytes cannot hold the two part buffers (2 x MD_SINK_PART_SIZE = {} bytes) that each unit needs with MD_OUTPUT_FORMAT={}: raise it or lower the part size",
                    sink.buffer_memory,
                    2 * sink.part_size,
                    download.output_formats
                ),
            );
            return None;
        }
        Some(Config {
            tardis,
            sink,
            service,
            sharding: sharding?,
            run: run?,
            instruments: instruments?,
            download: download?,
            api_key_secret: api_key_secret?,
        })
    }

    fn tardis(&mut self) -> Option<TardisConfig> {
        let api_key = self.text(Var::TardisApiKey).map(Secret::new);
        let datasets_url = self.parse(Var::TardisBaseUrl, parse_http_url);
        let api_url = self.parse(Var::TardisApiUrl, parse_http_url);
        let read_timeout = self.parse(Var::TardisTimeout, parse_seconds);
        let connect_timeout = self.parse(Var::TardisConnectTimeout, parse_seconds);
        let max_retries = self.parse(Var::TardisMaxRetries, parse_count);
        let max_concurrent = self.parse(Var::TardisMaxConcurrent, parse_positive::<NonZeroUsize>);
        let rate_limit_per_second =
            self.parse(Var::TardisRateLimitPerSecond, parse_positive::<NonZeroU32>);
        let rate_limit_per_day = self.parse(Var::RateLimitPerVm, parse_positive::<NonZeroU32>);
        let daily_quota_bytes =
            self.parse_opt(Var::TardisDailyQuotaBytes, parse_positive::<NonZeroU64>);
        let verify_gzip = self.parse(Var::TardisVerifyGzip, parse_bool);
        let ip_lock_pause = self.parse(Var::TardisIpLockPauseSecs, parse_seconds);
        let ip_lock_max_wait = self.parse(Var::TardisIpLockMaxWaitSecs, parse_seconds_or_zero);
        Some(TardisConfig {
            api_key,
            datasets_url: datasets_url?,
            api_url: api_url?,
            read_timeout: read_timeout?,
            connect_timeout: connect_timeout?,
            max_retries: max_retries?,
            max_concurrent: max_concurrent?,
            rate_limit_per_second: rate_limit_per_second?,
            rate_limit_per_day: rate_limit_per_day?,
            daily_quota_bytes: daily_quota_bytes?,
            metadata_cache_ttl: None,
            verify_gzip: verify_gzip?,
            ip_lock_pause: ip_lock_pause?,
            ip_lock_max_wait: ip_lock_max_wait?,
            proxy: ProxyConfig::default(),
        })
    }

    /// The proxies: each upper-case variable wins over its lower-case spelling.
    fn proxy(&mut self) -> Option<ProxyConfig> {
        let mut url = |upper: Var, lower: Var| {
            let var = if self.is_set(upper) { upper } else { lower };
            self.parse_opt(var, ProxyUrl::parse)
        };
        let https = url(Var::HttpsProxy, Var::HttpsProxyLower);
        let http = url(Var::HttpProxy, Var::HttpProxyLower);
        let no_proxy = [Var::NoProxy, Var::NoProxyLower]
            .into_iter()
            .find_map(|var| self.text(var))
            .map(str::to_owned);
        Some(ProxyConfig { https: https?, http: http?, no_proxy })
    }

    fn sink(&mut self) -> Option<SinkConfig> {
        let bucket = self
            .parse_opt(Var::GcsBucket, |text| validate_gcs_bucket(text).map(|()| text.to_owned()));
        let explicit = self.parse_opt(Var::MdSink, SinkLocation::parse);
        let location = match (explicit?, bucket.clone()?) {
            (Some(location), _) => location,
            (None, Some(bucket)) => {
                let location = SinkLocation::Gcs { bucket, prefix: String::new() };
                self.derived
                    .insert(Var::MdSink, (location.to_string(), self.raw[&Var::GcsBucket].source));
                location
            }
            (None, None) => {
                let location = SinkLocation::Local { root: PathBuf::from(DEFAULT_SINK) };
                self.derived.insert(Var::MdSink, (location.to_string(), Source::Default));
                location
            }
        };
        let credentials_path =
            self.credentials_var().map(|var| PathBuf::from(self.text(var).unwrap_or_default()));
        let emulator_host = self.parse_opt(Var::StorageEmulatorHost, parse_emulator_host);
        let gcs = GcsOptions {
            project_id: self.text(Var::GcpProjectId).map(str::to_owned),
            region: self.parse(Var::GcsRegion, |text| Ok(text.to_owned()))?,
            credentials_path,
            emulator_host: emulator_host?,
        };
        let endpoint = self.parse_opt(Var::AwsEndpointUrl, parse_http_url);
        let region = match (self.text(Var::AwsRegion), self.text(Var::AwsDefaultRegion)) {
            (Some(region), _) | (None, Some(region)) => region.to_owned(),
            (None, None) => {
                self.derived.insert(Var::AwsRegion, (AWS_FALLBACK_REGION.into(), Source::Default));
                AWS_FALLBACK_REGION.to_owned()
            }
        };
        let s3 = S3Options {
            endpoint: endpoint?,
            region,
            access_key_id: self.text(Var::AwsAccessKeyId).map(str::to_owned),
            secret_access_key: self.text(Var::AwsSecretAccessKey).map(Secret::new),
            session_token: self.text(Var::AwsSessionToken).map(Secret::new),
        };
        let max_retries = self.parse(Var::MdSinkMaxRetries, parse_count);
        let request_timeout = self.parse(Var::MdSinkTimeout, parse_seconds);
        let connect_timeout = self.parse(Var::MdSinkConnectTimeout, parse_seconds);
        let part_size = self.parse(Var::MdSinkPartSize, |text| {
            let size = parse_positive::<NonZeroUsize>(text)?.get();
            if size < MIN_PART_SIZE {
                return Err(format!("must be at least {MIN_PART_SIZE} bytes (5 MiB), the smallest multipart part object stores accept"));
            }
            Ok(size)
        });
        let buffer_memory = self
            .parse(Var::MdSinkBufferMemory, |text| Ok(parse_positive::<NonZeroUsize>(text)?.get()));
        Some(SinkConfig {
            location,
            gcs,
            s3,
            max_retries: max_retries?,
            request_timeout: request_timeout?,
            connect_timeout: connect_timeout?,
            part_size: part_size?,
            buffer_memory: buffer_memory?,
            proxy: ProxyConfig::default(),
        })
    }

    /// The variable that names the Google credentials file: `GCP_CREDENTIALS_PATH`, else
    /// `GOOGLE_APPLICATION_CREDENTIALS`.
    fn credentials_var(&self) -> Option<Var> {
        [Var::GcpCredentialsPath, Var::GoogleApplicationCredentials]
            .into_iter()
            .find(|&var| self.is_set(var))
    }

    /// The credentials file must exist when something uses it: a `gs://` sink without an emulator, or the API key
    /// read from Secret Manager without its emulator. A file nothing uses (a `.env` copied from a template, with a
    /// local sink) is not a problem.
    fn check_credentials(
        &mut self,
        sink: &SinkConfig,
        secret: Option<&SecretManagerConfig>,
    ) -> bool {
        let (Some(var), Some(path)) = (self.credentials_var(), &sink.gcs.credentials_path) else {
            return true;
        };
        let users: Vec<&str> = [
            (matches!(sink.location, SinkLocation::Gcs { .. }) && sink.gcs.emulator_host.is_none())
                .then_some("the gs:// sink"),
            secret.is_some_and(|secret| secret.emulator_host.is_none()).then_some("Secret Manager"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if users.is_empty() || path.is_file() {
            return true;
        }
        self.problem(
            var,
            format!("credentials file does not exist (used by {})", users.join(" and ")),
        );
        false
    }

    /// The Secret Manager secret to read the API key from: only when `TARDIS_API_KEY` is unset,
    /// `TARDIS_SECRET_NAME` is set and `USE_SECRET_MANAGER` is not false. Its project is `GCP_PROJECT_ID`.
    fn api_key_secret(&mut self, sink: Option<&SinkConfig>) -> Option<Option<SecretManagerConfig>> {
        let use_it = self.parse(Var::UseSecretManager, parse_bool);
        let name = self.parse_opt(Var::TardisSecretName, parse_secret_id);
        let emulator_host = self.parse_opt(Var::SecretManagerEmulatorHost, parse_emulator_host);
        let (use_it, name, emulator_host) = (use_it?, name?, emulator_host?);
        let Some(secret) = name.filter(|_| use_it && !self.is_set(Var::TardisApiKey)) else {
            return Some(None);
        };
        let Some(project_id) = self.text(Var::GcpProjectId).map(str::to_owned) else {
            self.problem(
                Var::GcpProjectId,
                format!(
                    "unset, but the API key is to be read from Secret Manager ({} is set and TARDIS_API_KEY is not): set the secret's project, or USE_SECRET_MANAGER=false",
                    self.culprit(Var::TardisSecretName)
                ),
            );
            return None;
        };
        Some(Some(SecretManagerConfig {
            project_id,
            secret,
            emulator_host,
            credentials_path: sink.and_then(|sink| sink.gcs.credentials_path.clone()),
        }))
    }

    fn service(&mut self) -> Option<ServiceConfig> {
        let log_level = self.parse(Var::LogLevel, LogLevel::from_str);
        let log_destination = self.parse(Var::LogDestination, LogDestination::from_str);
        let log_format = self.parse(Var::MdLogFormat, LogFormat::from_str);
        let log_file = self.parse(Var::MdLogFile, |text| Ok(PathBuf::from(text)));
        let max_concurrent_requests =
            self.parse(Var::MaxConcurrentRequests, parse_positive::<NonZeroUsize>);
        let batch_size = self.parse(Var::BatchSize, parse_positive::<NonZeroUsize>);
        let memory_efficient = self.parse(Var::MemoryEfficient, parse_bool);
        let enable_caching = self.parse(Var::EnableCaching, parse_bool);
        let cache_ttl = self.parse(Var::CacheTtl, parse_seconds);
        Some(ServiceConfig {
            log_level: log_level?,
            log_destination: log_destination?,
            log_format: log_format?,
            log_file: log_file?,
            max_concurrent_requests: max_concurrent_requests?,
            batch_size: batch_size?,
            memory_efficient: memory_efficient?,
            enable_caching: enable_caching?,
            cache_ttl: cache_ttl?,
        })
    }

    fn sharding(&mut self) -> Option<ShardingConfig> {
        // Every source of a shard index and of a shard count; all that are present must agree.
        const INDEX_SOURCES: [(Var, ShardOrigin); 4] = [
            (Var::ShardIndex, ShardOrigin::Explicit),
            (Var::CloudRunTaskIndex, ShardOrigin::CloudRun),
            (Var::BatchTaskIndex, ShardOrigin::CloudBatch),
            (Var::JobCompletionIndex, ShardOrigin::Kubernetes),
        ];
        const COUNT_SOURCES: [Var; 3] =
            [Var::TotalShards, Var::CloudRunTaskCount, Var::BatchTaskCount];
        let mut indices = Vec::new();
        let mut counts = Vec::new();
        let mut parsed = true;
        for (name, origin) in INDEX_SOURCES {
            match self.parse_opt(name, parse_count) {
                Some(Some(index)) => indices.push((name, origin, index)),
                Some(None) => {}
                None => parsed = false,
            }
        }
        for name in COUNT_SOURCES {
            match self.parse_opt(name, parse_positive::<NonZeroU32>) {
                Some(Some(count)) => counts.push((name, count)),
                Some(None) => {}
                None => parsed = false,
            }
        }
        let instruments_per_shard =
            self.parse_opt(Var::InstrumentsPerShard, parse_positive::<NonZeroUsize>);
        if !parsed {
            return None;
        }
        let index_values: Vec<(Var, u32)> =
            indices.iter().map(|&(name, _, index)| (name, index)).collect();
        // Both checked, so that both disagreements are reported.
        let consistent = agree(&mut self.problems, &index_values, "the shard index")
            & agree(&mut self.problems, &counts, "the number of shards");
        let total = counts.first().map(|&(_, count)| count);
        let Some(&(index_name, origin, index)) = indices.first() else {
            if let Some(&(count_name, count)) = counts.first().filter(|(_, count)| count.get() > 1)
            {
                self.problem(count_name, format!("{count} shards but no shard index: set SHARD_INDEX, or run under an engine that sets its task index"));
                return None;
            }
            return consistent.then(|| ShardingConfig {
                shard_index: 0,
                total_shards: total.unwrap_or(NonZeroU32::MIN),
                instruments_per_shard: instruments_per_shard.flatten(),
                origin: ShardOrigin::Unsharded,
            });
        };
        let Some(total) = total else {
            self.problem(
                index_name,
                format!(
                    "{index_name} is set but TOTAL_SHARDS is not: the number of shards is unknown"
                ),
            );
            return None;
        };
        if index >= total.get() {
            self.problem(
                index_name,
                format!("the shard index must be below the number of shards ({total})"),
            );
            return None;
        }
        if !consistent {
            return None;
        }
        if origin != ShardOrigin::Explicit {
            self.derived.insert(Var::ShardIndex, (index.to_string(), Source::Engine));
            if !self.is_set(Var::TotalShards) {
                self.derived.insert(Var::TotalShards, (total.to_string(), Source::Engine));
            }
        }
        Some(ShardingConfig {
            shard_index: index,
            total_shards: total,
            instruments_per_shard: instruments_per_shard.flatten(),
            origin,
        })
    }

    /// Parses a span of days. A span that depends on nothing but the run's day is checked against `today` (the
    /// day the configuration is loaded); one with `latest` is checked when the run resolves it.
    fn date_span(
        &mut self,
        start_var: Var,
        end_var: Var,
        default: DateSpan,
        today: NaiveDate,
    ) -> Option<DateSpan> {
        let start = self.parse_opt(start_var, DaySpec::from_str)?;
        let end = self.parse_opt(end_var, DaySpec::from_str)?;
        // What `md-cli config` shows for a default: the day it is today, where that needs no exchange.
        let shown = |spec: DaySpec| {
            spec.resolve(today, None).map_or_else(|_| spec.to_string(), |day| day.to_string())
        };
        let start = start.unwrap_or_else(|| {
            self.derived.insert(start_var, (shown(default.start), Source::Default));
            default.start
        });
        // An explicit start without an end means that one day.
        let end = end.unwrap_or_else(|| {
            let end = if self.is_set(start_var) { start } else { default.end };
            self.derived.insert(end_var, (shown(end), Source::Default));
            end
        });
        let span = DateSpan { start, end };
        if !span.needs_latest()
            && let Err(message) = span.resolve(today, None)
        {
            self.problems.push(Problem {
                culprit: format!("{} and {}", self.culprit(start_var), self.culprit(end_var)),
                value: Some(format!("{start} to {end}")),
                message,
            });
            return None;
        }
        Some(span)
    }

    fn run(&mut self) -> Option<RunConfig> {
        let id = self.parse_opt(Var::MdRunId, parse_run_id);
        let engine_id = self.parse_opt(Var::CloudRunExecution, parse_run_id);
        let time = self.parse_opt(Var::MdRunTime, |text| {
            DateTime::parse_from_rfc3339(text)
                .map(|time| time.with_timezone(&Utc))
                .map_err(|_| "expected a moment in RFC 3339 (2026-12-04T00:00:00Z)".to_owned())
        });
        let (id, engine_id, time) = (id?, engine_id?, time?);
        let id = id.or_else(|| {
            let engine_id = engine_id?;
            self.derived.insert(Var::MdRunId, (engine_id.clone(), Source::Engine));
            Some(engine_id)
        });
        Some(RunConfig { id, time })
    }

    fn instruments(&mut self, today: NaiveDate) -> Option<InstrumentsConfig> {
        let exchanges = self.parse(Var::InstrumentExchanges, parse_exchanges);
        let latest_free = DateSpan { start: DaySpec::LatestFree, end: DaySpec::LatestFree };
        let dates =
            self.date_span(Var::InstrumentStartDate, Var::InstrumentEndDate, latest_free, today);
        Some(InstrumentsConfig { exchanges: exchanges?, dates: dates? })
    }

    /// `MD_PARQUET_SCHEMA`: with the `hive` preset, `hive` when unset (shown as derived) and only `hive`.
    fn parquet_schema(&mut self, layout: Option<&Layout>) -> Option<ParquetSchema> {
        let preset = layout.and_then(Layout::preset);
        if preset == Some(Preset::Hive) && !self.is_set(Var::MdParquetSchema) {
            let hive = ParquetSchema::Hive;
            self.derived.insert(Var::MdParquetSchema, (hive.to_string(), Source::Default));
            return Some(hive);
        }
        let schema = self.parse(Var::MdParquetSchema, ParquetSchema::from_str)?;
        if preset == Some(Preset::Hive) && schema != ParquetSchema::Hive {
            self.problem(
                Var::MdParquetSchema,
                "MD_LAYOUT=hive writes the hive schema (instrument_key and symbol columns, no column named like a partition key): leave MD_PARQUET_SCHEMA unset or set it to hive",
            );
            return None;
        }
        Some(schema)
    }

    fn download(&mut self, instrument_dates: DateSpan, today: NaiveDate) -> Option<DownloadConfig> {
        let dates =
            self.date_span(Var::DownloadStartDate, Var::DownloadEndDate, instrument_dates, today);
        let venues = self.parse_opt(Var::DownloadVenues, parse_exchanges);
        let instrument_types = self.parse_opt(Var::DownloadInstrumentTypes, |text| {
            parse_list(text, InstrumentType::from_str)
        });
        let data_types = self.parse(Var::DownloadDataTypes, |text| {
            let list = parse_list(text, DataType::from_str)?;
            if list.is_empty() { Err("at least one data type is needed".into()) } else { Ok(list) }
        });
        let max_instruments =
            self.parse_opt(Var::DownloadMaxInstruments, parse_positive::<NonZeroUsize>);
        let output_formats = self.parse(Var::MdOutputFormat, OutputFormats::from_str);
        let mut layout = self.parse(Var::MdLayout, Layout::parse);
        let schema = self.parquet_schema(layout.as_ref());
        let compression = self.parse(Var::MdParquetCompression, ParquetCompression::from_str);
        let row_group_size =
            self.parse_opt(Var::MdParquetRowGroupSize, parse_positive::<NonZeroUsize>);
        let spill_dir = self.parse_opt(Var::MdParquetSpillDir, |text| Ok(PathBuf::from(text)));
        let force = self.parse(Var::MdForce, parse_bool);
        let file_facts = self.parse(Var::MdFileFacts, parse_bool);
        let mut split_grouped = self.parse(Var::MdSplitGrouped, SplitGrouped::from_str);
        let split_open_parts = self.parse(Var::MdSplitOpenParts, parse_positive::<NonZeroUsize>);
        if let (Some(formats), Some(template)) = (&output_formats, &layout)
            && formats.len() > 1
            && !template.uses(Placeholder::Ext)
        {
            let message = format!(
                "with MD_OUTPUT_FORMAT={formats} each unit is stored twice, so the template needs {{ext}} to name the two objects apart"
            );
            self.problem(Var::MdLayout, message);
            layout = None;
        }
        if let (Some(formats), Some(SplitGrouped::UnderlyingExpiry)) =
            (&output_formats, split_grouped)
            && formats.len() > 1
        {
            let message = format!(
                "a split grouped options file is stored as Parquet parts only: MD_OUTPUT_FORMAT={formats} asks for two objects"
            );
            self.problem(Var::MdSplitGrouped, message);
            split_grouped = None;
        }
        Some(DownloadConfig {
            venues: venues?.unwrap_or_default(),
            instrument_types: instrument_types?.unwrap_or_default(),
            data_types: data_types?,
            max_instruments: max_instruments?,
            dates: dates?,
            output_formats: output_formats?,
            parquet: ParquetOptions {
                schema: schema?,
                compression: compression?,
                row_group_size: row_group_size?.unwrap_or_else(|| {
                    schema.unwrap_or(ParquetSchema::Original).default_row_group_size()
                }),
                // The note of MD_PARQUET_SPILL_DIR says so.
                spill_dir: spill_dir?.unwrap_or_else(std::env::temp_dir),
            },
            layout: layout?,
            force: force?,
            file_facts: file_facts?,
            split_grouped: split_grouped?,
            split_open_parts: split_open_parts?,
        })
    }
}

/// Records a problem for every source of a shard setting whose value differs from the first one's (`what` they
/// disagree on); returns whether all agree.
fn agree<T: PartialEq + std::fmt::Display>(
    problems: &mut Vec<Problem>,
    values: &[(Var, T)],
    what: &str,
) -> bool {
    let Some((first_name, first)) = values.first() else {
        return true;
    };
    let disagreeing: Vec<Problem> = values[1..]
        .iter()
        .filter(|(_, value)| value != first)
        .map(|(name, value)| Problem {
            culprit: format!("{first_name} and {name}"),
            value: Some(format!("{first} vs {value}")),
            message: format!("two shard sources disagree on {what}"),
        })
        .collect();
    let agree = disagreeing.is_empty();
    problems.extend(disagreeing);
    agree
}

/// What `md-cli config` shows as `TARDIS_API_KEY` when the key is to be read from Secret Manager (md-cli replaces
/// it with `<redacted>` once read).
pub const SECRET_MANAGER_PENDING: &str = "<read from Secret Manager>";

/// The sink when neither `MD_SINK` nor `GCS_BUCKET` is set (the note of `MD_SINK` in [`VARS`] says so).
const DEFAULT_SINK: &str = "./data";

/// The S3 region when neither `AWS_REGION` nor `AWS_DEFAULT_REGION` is set (the note of `AWS_REGION` says so).
const AWS_FALLBACK_REGION: &str = "us-east-1";

/// The smallest multipart part object stores accept (5 MiB).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// `MD_SINK_BUFFER_MEMORY` under `MEMORY_EFFICIENT` (20 MiB).
pub(crate) const MEMORY_EFFICIENT_BUFFER: usize = 20 * 1024 * 1024;

/// A run id names an object in the sink: letters, digits, `-`, `_` and `.`, at most 128 of them.
fn parse_run_id(text: &str) -> std::result::Result<String, String> {
    if text.len() > 128
        || text.starts_with('.')
        || !text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(
            "expected letters, digits, '-', '_' and '.' (at most 128, not starting with '.')"
                .into(),
        );
    }
    Ok(text.to_owned())
}

/// A Secret Manager secret id: letters, digits, `-` and `_`, at most 255 of them.
fn parse_secret_id(text: &str) -> std::result::Result<String, String> {
    if text.len() > 255
        || !text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        return Err(
            "expected a Secret Manager secret id: letters, digits, '-' and '_' (at most 255)"
                .into(),
        );
    }
    Ok(text.to_owned())
}

fn parse_http_url(text: &str) -> std::result::Result<Url, String> {
    let url = Url::parse(text).map_err(|error| format!("not a URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("expected an http:// or https:// URL with a host".into());
    }
    Ok(url)
}

fn parse_emulator_host(text: &str) -> std::result::Result<Url, String> {
    // The Google client libraries accept both `host:port` and a full URL.
    let with_scheme = if text.contains("://") { text.to_owned() } else { format!("http://{text}") };
    parse_http_url(&with_scheme)
}

/// A variable's value as `md-cli config` and error messages show it: secrets as `<redacted>`, the password of a
/// proxy URL as `<redacted>`.
fn shown(spec: &VarSpec, value: &str) -> String {
    if spec.secret {
        crate::types::REDACTED.to_owned()
    } else if matches!(
        spec.var,
        Var::HttpsProxy | Var::HttpsProxyLower | Var::HttpProxy | Var::HttpProxyLower
    ) {
        redact_url_password(value)
    } else {
        value.to_owned()
    }
}

/// Seconds, where 0 is allowed.
fn parse_seconds_or_zero(text: &str) -> std::result::Result<Duration, String> {
    if text.parse::<f64>().is_ok_and(|seconds| seconds == 0.0) {
        return Ok(Duration::ZERO);
    }
    parse_seconds(text)
}

fn parse_seconds(text: &str) -> std::result::Result<Duration, String> {
    let seconds = text.parse::<f64>().map_err(|_| "expected a number of seconds".to_owned())?;
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err("must be a positive number of seconds".into());
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_count(text: &str) -> std::result::Result<u32, String> {
    if text.starts_with('-') {
        return Err("must not be negative".into());
    }
    text.parse::<u32>().map_err(|_| "expected a whole number".into())
}

fn parse_positive<T: FromStr>(text: &str) -> std::result::Result<T, String> {
    if text.starts_with('-') {
        return Err("must be positive, not negative".into());
    }
    if text.chars().all(|c| c == '0') {
        return Err("must be positive, not zero".into());
    }
    text.replace('_', "").parse::<T>().map_err(|_| "expected a positive whole number".into())
}

fn parse_bool(text: &str) -> std::result::Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

fn parse_list<T>(
    text: &str,
    parse: impl Fn(&str) -> std::result::Result<T, String>,
) -> std::result::Result<Vec<T>, String>
where
    T: PartialEq,
{
    let mut items = Vec::new();
    for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
        let item = parse(part)?;
        if !items.contains(&item) {
            items.push(item);
        }
    }
    Ok(items)
}

fn parse_exchanges(text: &str) -> std::result::Result<Vec<String>, String> {
    let list = parse_list(text, |part| {
        let id = part.to_ascii_lowercase();
        if id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            Ok(id)
        } else {
            Err(format!("{part:?} is not a Tardis exchange id (letters, digits and '-' only)"))
        }
    })?;
    if list.is_empty() { Err("at least one exchange is needed".into()) } else { Ok(list) }
}
