//! Command-line flags, and how they map onto md-config variables.

use std::path::PathBuf;
use std::sync::LazyLock;

use chrono::NaiveDate;
use clap::{ArgAction, Args, Parser, Subcommand};
use md_config::{DataType, LoadOptions, LogFormat, Override, Var};

/// What `--version` prints after the name: the version and the inflater this build has, as tardis-client reports it
/// (`0.1.0 (inflate: ISA-L)`, or `zlib-rs` when built without the `isal` feature).
static VERSION: LazyLock<String> = LazyLock::new(|| {
    format!("{} (inflate: {})", env!("CARGO_PKG_VERSION"), tardis_client::gzip::Backend::DEFAULT)
});

/// Mirror Tardis.dev historical crypto market data into Google Cloud Storage.
///
/// Configuration comes from, highest first: these flags, the environment, .env (--env-file), a YAML file
/// (--config) and defaults. Every variable is documented in .env.example; `md-cli config` shows the effective
/// values and where each came from.
#[derive(Debug, Parser)]
#[command(name = "md-cli", version = VERSION.as_str(), about, long_about = None, max_term_width = 120)]
pub(crate) struct Cli {
    /// Read variables from this .env file instead of ./.env (it must exist).
    #[arg(long, global = true, value_name = "PATH", help_heading = GLOBAL)]
    pub(crate) env_file: Option<PathBuf>,

    /// Read this YAML file instead of searching ./config.yaml, ~/.tick-data/config.yaml, /etc/tick-data/config.yaml.
    #[arg(long, global = true, value_name = "PATH", help_heading = GLOBAL)]
    pub(crate) config: Option<PathBuf>,

    /// Where objects go: gs://bucket[/prefix], s3://bucket[/prefix], file:///path or a path, memory:// [env: MD_SINK]
    #[arg(long, global = true, value_name = "URL", help_heading = GLOBAL)]
    pub(crate) sink: Option<String>,

    /// More log output (-v debug, -vv trace) [env: LOG_LEVEL]
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet", help_heading = GLOBAL)]
    pub(crate) verbose: u8,

    /// Less log output (-q warnings, -qq errors only) [env: LOG_LEVEL]
    #[arg(short, long, global = true, action = ArgAction::Count, help_heading = GLOBAL)]
    pub(crate) quiet: u8,

    /// Log line format on stderr [env: MD_LOG_FORMAT]
    #[arg(long, global = true, value_name = "FORMAT", value_parser = parse_log_format, help_heading = GLOBAL)]
    pub(crate) log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The help heading of the options every command takes.
const GLOBAL: &str = "Global options";

fn parse_log_format(text: &str) -> Result<LogFormat, String> {
    text.parse()
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show the effective configuration, each value with its source (flag, env, .env, file, engine, default).
    Config(ConfigArgs),
    /// Download one Tardis dataset file byte-exact, check that it decompresses completely, and write it atomically
    /// (nothing is left at --output when the fetch fails or is interrupted).
    ///
    /// The API key comes from TARDIS_API_KEY (env, .env or the config file); without it only the first day of each
    /// month can be fetched. Endpoints, timeouts, retries and rate limits come from the TARDIS_* variables
    /// (see `md-cli config`).
    Fetch(FetchArgs),
    /// Write the instrument definitions of every day of a range: each instrument Tardis lists gets its canonical
    /// key, and the instruments available each day go to
    /// instrument_availability/by_date/day-YYYY-MM-DD/instruments.parquet in the sink (plus one aggregate for the
    /// range). Without TARDIS_API_KEY the free exchange details and per-venue symbol parsers are used.
    Instruments(InstrumentsArgs),
    /// Download this shard's dataset files of a range from Tardis straight into the sink (raw .csv.gz, or
    /// Parquet), skipping what is stored and verifies, then write the shard's manifest.
    /// Needs the stored definitions of every day (`md-cli instruments`, or `md-cli pipeline`).
    Download(DownloadArgs),
    /// Print the plan: every unit (dataset file) of the range with its shard and object name, and the counts per
    /// shard.
    Plan(PlanArgs),
    /// Compare the stored definitions x data types x days with the objects present; print what is missing and
    /// write the report to the sink under reports/missing/.
    Missing(MissingArgs),
    /// Run `instruments` then `download` for the same range: the whole job in one command.
    Pipeline(PipelineArgs),
    /// Check, before a run costs anything, that it will work: the configuration and where each credential and proxy
    /// setting comes from, Tardis reachable (with round-trip times, and the proxy each request takes), the API key
    /// accepted, not in use from another IP address, and what it covers, the sink writable
    /// (a create-only probe object written, read back, refused a second time, deleted), the clock against Tardis',
    /// today's quota ledger of this shard, and the plan. One line per check, with a fix when it fails.
    /// Exit 0 when every check holds (warnings allowed), 1 when one fails, 2 for a bad configuration.
    Doctor(DoctorArgs),
}

/// Which units: the download selection, each flag overriding its variable.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct SelectionArgs {
    /// Tardis exchange ids to download, comma-separated (default: every venue with stored definitions)
    /// [env: DOWNLOAD_VENUES]
    #[arg(long, value_name = "IDS")]
    pub(crate) venues: Option<String>,

    /// Instrument types: spot, perpetual, future, option, combo (default: all) [env: DOWNLOAD_INSTRUMENT_TYPES]
    #[arg(long, value_name = "TYPES")]
    pub(crate) instrument_types: Option<String>,

    /// Data types, comma-separated: trades, incremental_book_L2, book_snapshot_25, book_snapshot_5, quotes,
    /// book_ticker, derivative_ticker, options_chain, liquidations [env: DOWNLOAD_DATA_TYPES]
    #[arg(long, value_name = "TYPES")]
    pub(crate) data_types: Option<String>,

    /// First day, inclusive: YYYY-MM-DD, latest (the last day every selected venue has exported), yesterday,
    /// today or today-N; relative days are resolved once when the run starts (with MD_RUN_ID, once for every task
    /// of the run) [env: DOWNLOAD_START_DATE, else INSTRUMENT_START_DATE]
    #[arg(long, value_name = "DAY")]
    pub(crate) from: Option<String>,

    /// Last day, inclusive, spelt as --from (default: --from) [env: DOWNLOAD_END_DATE, else INSTRUMENT_END_DATE]
    #[arg(long, value_name = "DAY")]
    pub(crate) to: Option<String>,

    /// At most this many instruments per venue and day [env: DOWNLOAD_MAX_INSTRUMENTS]
    #[arg(long, value_name = "N")]
    pub(crate) max_instruments: Option<String>,
}

/// `md-cli download`.
#[derive(Debug, Clone, Args)]
pub(crate) struct DownloadArgs {
    #[command(flatten)]
    pub(crate) selection: SelectionArgs,

    /// Download and replace every object, even those stored and verified [env: MD_FORCE]
    #[arg(long)]
    pub(crate) force: bool,

    /// Output format: parquet (the default: converted while streaming, where the original system stored it), raw
    /// (the .csv.gz exactly as sent) or raw,parquet (both objects from one download) [env: MD_OUTPUT_FORMAT]
    #[arg(long, value_name = "FORMAT")]
    pub(crate) format: Option<String>,
}

/// `md-cli plan`.
#[derive(Debug, Clone, Args)]
pub(crate) struct PlanArgs {
    #[command(flatten)]
    pub(crate) selection: SelectionArgs,

    /// Output format of object names: raw, parquet or raw,parquet [env: MD_OUTPUT_FORMAT]
    #[arg(long, value_name = "FORMAT")]
    pub(crate) format: Option<String>,

    /// Print one JSON object per unit (date, exchange, data_type, symbol, instrument_key, object, objects, shard).
    #[arg(long)]
    pub(crate) json: bool,
}

/// `md-cli missing`.
#[derive(Debug, Clone, Args)]
pub(crate) struct MissingArgs {
    #[command(flatten)]
    pub(crate) selection: SelectionArgs,

    /// Output format of object names: raw, parquet or raw,parquet (a unit is missing unless all its objects are
    /// stored) [env: MD_OUTPUT_FORMAT]
    #[arg(long, value_name = "FORMAT")]
    pub(crate) format: Option<String>,

    /// Print one JSON object per unit that is not stored and verified, or that lies inside an incident (date,
    /// exchange, data_type, symbol, instrument_key, object, shard, status: missing, unverified, not_offered,
    /// not_yet_exported or stored (docs/STATUSES.md); for a missing unit last_run failed or interrupted when the
    /// latest manifest says so; for a unit not offered Tardis's http_status, code and message; the incident's
    /// status and details).
    #[arg(long)]
    pub(crate) json: bool,

    /// Also write the coverage of the range as one self-contained HTML page (no network fetches; open it in any
    /// browser): a heatmap of days x exchange and data type, each row expandable to its instruments, each cell
    /// one of the statuses of docs/STATUSES.md (stored and verified, not offered, not yet exported, unverified,
    /// interrupted, missing, failed in the last download manifest, ...), with counts and bytes on hover. The same page goes to the sink as reports/missing/missing_{from}_{to}.html.
    /// No environment variable: like --json, it is an output of this one run, not configuration.
    #[arg(long, value_name = "PATH")]
    pub(crate) html: Option<PathBuf>,

    /// Exit 1, after printing and writing the reports, when a planned unit is missing (failed and interrupted ones
    /// included) or stored unverified (units Tardis does not offer, and units and days not exported yet, do not
    /// count): a gate for cron jobs and CI. No environment variable, like --json.
    #[arg(long)]
    pub(crate) check: bool,
}

/// `md-cli doctor`.
#[derive(Debug, Clone, Args)]
pub(crate) struct DoctorArgs {
    /// Tardis exchange ids of the instrument definitions, comma-separated; also the venues unless --venues is
    /// given [env: INSTRUMENT_EXCHANGES]
    #[arg(long, value_name = "IDS")]
    pub(crate) exchanges: Option<String>,

    #[command(flatten)]
    pub(crate) selection: SelectionArgs,

    /// Print one JSON object per check (name, status: ok, warn or fail, summary, fix).
    #[arg(long)]
    pub(crate) json: bool,
}

/// `md-cli instruments`.
#[derive(Debug, Clone, Args)]
pub(crate) struct InstrumentsArgs {
    /// Tardis exchange ids, comma-separated [env: INSTRUMENT_EXCHANGES]
    #[arg(long, value_name = "IDS")]
    pub(crate) exchanges: Option<String>,

    /// First day, inclusive: YYYY-MM-DD, latest, yesterday, today or today-N [env: INSTRUMENT_START_DATE]
    #[arg(long, value_name = "DAY")]
    pub(crate) from: Option<String>,

    /// Last day, inclusive, spelt as --from (default: --from) [env: INSTRUMENT_END_DATE]
    #[arg(long, value_name = "DAY")]
    pub(crate) to: Option<String>,

    /// Replace stored definitions files this version cannot read (for example written by another tool)
    #[arg(long)]
    pub(crate) force: bool,
}

/// `md-cli pipeline`.
#[derive(Debug, Clone, Args)]
pub(crate) struct PipelineArgs {
    /// Tardis exchange ids whose definitions are written, comma-separated; also the venues downloaded unless
    /// --venues is given [env: INSTRUMENT_EXCHANGES]
    #[arg(long, value_name = "IDS")]
    pub(crate) exchanges: Option<String>,

    #[command(flatten)]
    pub(crate) selection: SelectionArgs,

    /// Download and replace every object, even those stored and verified [env: MD_FORCE]
    #[arg(long)]
    pub(crate) force: bool,

    /// Output format: raw, parquet or raw,parquet (both from one download) [env: MD_OUTPUT_FORMAT]
    #[arg(long, value_name = "FORMAT")]
    pub(crate) format: Option<String>,
}

/// One dataset file: exchange × data type × day × symbol.
#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// Tardis exchange id, e.g. deribit, binance-futures, okex-swap.
    #[arg(long, value_name = "ID")]
    pub(crate) exchange: String,

    /// Data type: trades, incremental_book_L2, book_snapshot_25, book_snapshot_5, quotes, book_ticker,
    /// derivative_ticker, options_chain, liquidations.
    #[arg(long, value_name = "TYPE", value_parser = parse_data_type)]
    pub(crate) data_type: DataType,

    /// UTC day, YYYY-MM-DD. Without TARDIS_API_KEY only the first day of a month is allowed.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub(crate) date: NaiveDate,

    /// Dataset symbol (datasetId, e.g. BTC-PERPETUAL, BTCUSDT) or a grouped one (OPTIONS, PERPETUALS, FUTURES,
    /// SPOT); it is upper-cased and ':' and '/' become '-', as Tardis expects.
    #[arg(long, value_name = "SYMBOL")]
    pub(crate) symbol: String,

    /// File to write (its directory must exist), or an object URL (gs://bucket/path/file.csv.gz,
    /// s3://bucket/path). Nothing is written unless the whole file arrives verified. A local file is replaced
    /// atomically, like curl -o. An object is create-only: an existing one is verified against the download (same
    /// size and CRC32C: success, nothing rewritten; different: an error naming both, exit 1) unless --force. The
    /// API key is read from the environment [env: TARDIS_API_KEY].
    #[arg(long, value_name = "PATH")]
    pub(crate) output: PathBuf,

    /// Replace an existing object at --output even when its content differs [env: MD_FORCE].
    #[arg(long)]
    pub(crate) force: bool,
}

fn parse_data_type(text: &str) -> Result<DataType, String> {
    text.parse()
}

fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|error| format!("expected a day as YYYY-MM-DD: {error}"))
}

#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// Print one JSON object keyed by variable name: {"VAR": {"value": ..., "source": ...}}.
    #[arg(long)]
    pub(crate) json: bool,
}

impl Cli {
    /// Returns what md-config should load, with this command line's flags as overrides.
    pub(crate) fn load_options(&self) -> LoadOptions {
        let mut overrides = Vec::new();
        let mut push = |var: Var, flag: &'static str, value: Option<String>| {
            if let Some(value) = value {
                overrides.push(Override { var, flag, value });
            }
        };
        push(Var::MdSink, "--sink", self.sink.clone());
        push(Var::MdLogFormat, "--log-format", self.log_format.map(|format| format.to_string()));
        let level = match (self.verbose, self.quiet) {
            (0, 0) => None,
            (1, _) => Some(("-v", "debug")),
            (_, 0) => Some(("-vv", "trace")),
            (0, 1) => Some(("-q", "warning")),
            (0, _) => Some(("-qq", "error")),
            _ => None,
        };
        if let Some((flag, level)) = level {
            push(Var::LogLevel, flag, Some(level.to_owned()));
        }
        let selection =
            |selection: &SelectionArgs, push: &mut dyn FnMut(Var, &'static str, Option<String>)| {
                push(Var::DownloadVenues, "--venues", selection.venues.clone());
                push(
                    Var::DownloadInstrumentTypes,
                    "--instrument-types",
                    selection.instrument_types.clone(),
                );
                push(Var::DownloadDataTypes, "--data-types", selection.data_types.clone());
                push(Var::DownloadStartDate, "--from", selection.from.clone());
                push(Var::DownloadEndDate, "--to", selection.to.clone());
                push(
                    Var::DownloadMaxInstruments,
                    "--max-instruments",
                    selection.max_instruments.clone(),
                );
            };
        let force = |force: bool| force.then(|| "true".to_owned());
        match &self.command {
            Command::Config(_) => {}
            Command::Fetch(args) => push(Var::MdForce, "--force", force(args.force)),
            Command::Instruments(args) => {
                push(Var::InstrumentExchanges, "--exchanges", args.exchanges.clone());
                push(Var::InstrumentStartDate, "--from", args.from.clone());
                push(Var::InstrumentEndDate, "--to", args.to.clone());
            }
            Command::Download(args) => {
                selection(&args.selection, &mut push);
                push(Var::MdForce, "--force", force(args.force));
                push(Var::MdOutputFormat, "--format", args.format.clone());
            }
            Command::Plan(PlanArgs { selection: args, format, .. })
            | Command::Missing(MissingArgs { selection: args, format, .. }) => {
                selection(args, &mut push);
                push(Var::MdOutputFormat, "--format", format.clone());
            }
            Command::Doctor(args) => {
                selection(&args.selection, &mut push);
                push(Var::InstrumentExchanges, "--exchanges", args.exchanges.clone());
                if args.selection.venues.is_none() {
                    push(Var::DownloadVenues, "--exchanges", args.exchanges.clone());
                }
                push(Var::InstrumentStartDate, "--from", args.selection.from.clone());
                push(Var::InstrumentEndDate, "--to", args.selection.to.clone());
            }
            Command::Pipeline(args) => {
                selection(&args.selection, &mut push);
                push(Var::InstrumentExchanges, "--exchanges", args.exchanges.clone());
                if args.selection.venues.is_none() {
                    push(Var::DownloadVenues, "--exchanges", args.exchanges.clone());
                }
                // One range for both jobs.
                push(Var::InstrumentStartDate, "--from", args.selection.from.clone());
                push(Var::InstrumentEndDate, "--to", args.selection.to.clone());
                push(Var::MdForce, "--force", force(args.force));
                push(Var::MdOutputFormat, "--format", args.format.clone());
            }
        }
        LoadOptions {
            env_file: self.env_file.clone(),
            config_file: self.config.clone(),
            overrides,
            ..LoadOptions::default()
        }
    }
}
