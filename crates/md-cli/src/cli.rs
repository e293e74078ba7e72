//! Command-line flags. Those that set a variable are declared in md-config's table (`md_config::flags::FLAGS`), which
//! adds them to this command with their `[env: X]` help and maps them onto overrides; the ones here are this run's
//! own (files to read, outputs, what one `fetch` downloads).

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{LazyLock, OnceLock};

use chrono::NaiveDate;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use md_config::flags::GLOBAL_HEADING;
use md_config::{DataType, LoadOptions};

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
    #[arg(long, global = true, value_name = "PATH", help_heading = GLOBAL_HEADING)]
    pub(crate) env_file: Option<PathBuf>,

    /// Read this YAML file instead of searching ./config.yaml, ~/.tick-data/config.yaml, /etc/tick-data/config.yaml.
    #[arg(long, global = true, value_name = "PATH", help_heading = GLOBAL_HEADING)]
    pub(crate) config: Option<PathBuf>,

    #[command(subcommand)]
    pub(crate) command: Command,
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
    /// Print the SQL that makes the lake queryable where it is: for DuckDB, the extension and secret lines a bucket
    /// needs (placeholders or the credential chain, never a key) and one view per data type of DOWNLOAD_DATA_TYPES
    /// (`trades`, `book_snapshot_5`, ...) plus `instruments`, each over read_parquet(..., hive_partitioning = true);
    /// for BigQuery, one hive-partitioned external table each (partition columns exchange and date, a partition
    /// filter required). Needs MD_LAYOUT=hive (a key=value layout) and Parquet output; BigQuery needs a gs:// sink.
    /// Prints only: run the output in `duckdb` or `bq query`. docs/LAKE.md explains the statements.
    Sql(SqlArgs),
}

/// `md-cli download`, `instruments` and `pipeline`: every flag they take is md-config's.
#[derive(Debug, Clone, Args)]
pub(crate) struct JobArgs {}

pub(crate) type DownloadArgs = JobArgs;
pub(crate) type InstrumentsArgs = JobArgs;
pub(crate) type PipelineArgs = JobArgs;

/// `md-cli plan`.
#[derive(Debug, Clone, Args)]
pub(crate) struct PlanArgs {
    /// Print one JSON object per unit (date, exchange, data_type, symbol, instrument_key, object, objects, shard).
    #[arg(long, display_order = 100)]
    pub(crate) json: bool,
}

/// `md-cli doctor`.
#[derive(Debug, Clone, Args)]
pub(crate) struct DoctorArgs {
    /// Print one JSON object per check (name, status: ok, warn or fail, summary, fix).
    #[arg(long, display_order = 100)]
    pub(crate) json: bool,
}

/// `md-cli sql`.
#[derive(Debug, Clone, Args)]
pub(crate) struct SqlArgs {
    /// The engine to write statements for: duckdb (views) or bigquery (external tables).
    #[arg(long, value_name = "ENGINE", value_parser = parse_engine, display_order = 100)]
    pub(crate) engine: downloader::sql::Engine,

    /// BigQuery only: the dataset the tables go into, [project.]dataset. No environment variable: an output of
    /// this one run, not configuration.
    #[arg(long, value_name = "DATASET", default_value = downloader::sql::Dataset::DEFAULT, display_order = 101)]
    pub(crate) dataset: String,
}

fn parse_engine(text: &str) -> Result<downloader::sql::Engine, String> {
    text.parse().map_err(|error: downloader::sql::SqlError| error.to_string())
}

/// `md-cli missing`.
#[derive(Debug, Clone, Args)]
pub(crate) struct MissingArgs {
    /// Print one JSON object per unit that is not stored and verified, or that lies inside an incident (date,
    /// exchange, data_type, symbol, instrument_key, object, shard, status: missing, unverified, not_offered,
    /// not_yet_exported or stored (docs/STATUSES.md); for a missing unit last_run failed or interrupted when the
    /// latest manifest says so; for a unit not offered Tardis's http_status, code and message; the incident's
    /// status and details).
    #[arg(long, display_order = 100)]
    pub(crate) json: bool,

    /// Also write the coverage of the range as one self-contained HTML page (no network fetches; open it in any
    /// browser): a heatmap of days x exchange and data type, each row expandable to its instruments, each cell
    /// one of the statuses of docs/STATUSES.md (stored and verified, not offered, not yet exported, unverified,
    /// interrupted, missing, failed in the last download manifest, ...), with counts and bytes on hover. The same page goes to the sink as reports/missing/missing_{from}_{to}.html.
    /// No environment variable: like --json, it is an output of this one run, not configuration.
    #[arg(long, value_name = "PATH", display_order = 101)]
    pub(crate) html: Option<PathBuf>,

    /// Exit 1, after printing and writing the reports, when a planned unit is missing (failed and interrupted ones
    /// included) or stored unverified (units Tardis does not offer, and units and days not exported yet, do not
    /// count): a gate for cron jobs and CI. No environment variable, like --json.
    #[arg(long, display_order = 102)]
    pub(crate) check: bool,
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
    /// API key is read from TARDIS_API_KEY.
    #[arg(long, value_name = "PATH")]
    pub(crate) output: PathBuf,
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

/// The original's command line, as md runs it, for the first log line (`--mode download ...`).
static NOTICE: OnceLock<String> = OnceLock::new();

/// Records the notice of this process's translation of the original's command line.
pub(crate) fn set_notice(notice: String) {
    let _ = NOTICE.set(notice);
}

/// The notice of this process's translation, if its command line was the original's.
pub(crate) fn notice() -> Option<&'static str> {
    NOTICE.get().map(String::as_str)
}

/// Parses md's command line (`args` with the program's name first): the flags, and what md-config should load, with
/// the flags that set variables as overrides.
pub(crate) fn parse<I, T>(args: I) -> Result<(Cli, LoadOptions), clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = md_config::flags::augment(Cli::command()).try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let options = LoadOptions {
        env_file: cli.env_file.clone(),
        config_file: cli.config.clone(),
        overrides: md_config::flags::overrides_of(&matches),
        ..LoadOptions::default()
    };
    Ok((cli, options))
}
