//! Command-line flags, and how they map onto md-config variables.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{ArgAction, Args, Parser, Subcommand};
use md_config::{DataType, LoadOptions, LogFormat, Override};

/// Mirror Tardis.dev historical crypto market data into Google Cloud Storage.
///
/// Configuration comes from, highest first: these flags, the environment, .env (--env-file), a YAML file
/// (--config) and defaults. Every variable is documented in .env.example; `md-cli config` shows the effective
/// values and where each came from.
#[derive(Debug, Parser)]
#[command(name = "md-cli", version, about, long_about = None, max_term_width = 120)]
pub(crate) struct Cli {
    /// Read variables from this .env file instead of ./.env (it must exist).
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) env_file: Option<PathBuf>,

    /// Read this YAML file instead of searching ./config.yaml, ~/.tick-data/config.yaml, /etc/tick-data/config.yaml.
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,

    /// Where objects go: gs://bucket[/prefix], s3://bucket[/prefix], file:///path or a path, memory:// [env: MD_SINK]
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) sink: Option<String>,

    /// More log output (-v debug, -vv trace) [env: LOG_LEVEL]
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub(crate) verbose: u8,

    /// Less log output (-q warnings, -qq errors only) [env: LOG_LEVEL]
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub(crate) quiet: u8,

    /// Log line format on stderr [env: MD_LOG_FORMAT]
    #[arg(long, global = true, value_name = "FORMAT", value_parser = parse_log_format)]
    pub(crate) log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

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

    /// File to write (its directory must exist); replaced atomically when the fetch succeeds. The API key is
    /// read from the environment [env: TARDIS_API_KEY].
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

impl Cli {
    /// Returns what md-config should load, with this command line's flags as overrides.
    pub(crate) fn load_options(&self) -> LoadOptions {
        let mut overrides = Vec::new();
        let mut push = |var: &'static str, flag: &'static str, value: Option<String>| {
            if let Some(value) = value {
                overrides.push(Override { var, flag, value });
            }
        };
        push("MD_SINK", "--sink", self.sink.clone());
        push("MD_LOG_FORMAT", "--log-format", self.log_format.map(|format| format.to_string()));
        let level = match (self.verbose, self.quiet) {
            (0, 0) => None,
            (1, _) => Some(("-v", "debug")),
            (_, 0) => Some(("-vv", "trace")),
            (0, 1) => Some(("-q", "warning")),
            (0, _) => Some(("-qq", "error")),
            _ => None,
        };
        if let Some((flag, level)) = level {
            push("LOG_LEVEL", flag, Some(level.to_owned()));
        }
        LoadOptions {
            env_file: self.env_file.clone(),
            config_file: self.config.clone(),
            overrides,
            ..LoadOptions::default()
        }
    }
}
