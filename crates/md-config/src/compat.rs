//! The original system's command line, run unchanged: `md-cli --mode download --start-date D --end-date D --venues
//! deribit binance-futures --data-types trades book_snapshot_5` does what
//! `python -m market_data_tick_handler.main` with the same flags did, as the md command it corresponds to.
//!
//! The form is recognised by `--mode` (before any md subcommand) and parsed by its own parser, which takes the
//! original's flags as its argparse did: space-separated lists (`nargs='+'`; comma-separated items are split too),
//! and unambiguous prefixes (`--force` for `--force-download`, argparse's `allow_abbrev`). It is translated into
//! md's own command line (`md-cli download --from D --to D --venues deribit,binance-futures ...`), which md's parser
//! then reads (md-cli parses [`Translation::argv`]), so every value is checked as md checks it; errors name the original's flags. `md-cli --help` shows md's
//! commands only; the mapping is in docs/MIGRATING.md ("Configuration and commands").
//!
//! The modes md runs: `instruments` (`md-cli instruments`), `download` (`md-cli download`), `full-pipeline`
//! (`md-cli pipeline`), `missing-reports` (`md-cli missing`). Any other mode exits 2 naming it and md's nearest
//! command, if there is one.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Parser};

use crate::flags::Command;
use crate::{LoadOptions, Override, Var};

/// The original's modes md runs, with md's command.
const MODES: &[(&str, Command)] = &[
    ("instruments", Command::Instruments),
    ("download", Command::Download),
    ("full-pipeline", Command::Pipeline),
    ("missing-reports", Command::Missing),
];

/// The original's other modes (and the ones its documents name but its parser rejects), with what md offers instead.
const OTHER_MODES: &[(&str, &str)] = &[
    (
        "available-tick-reports",
        "`md-cli missing` writes the available-data report (available_tick_data/by_date/day-D/available_data.parquet) with the missing-data report",
    ),
    (
        "validate",
        "`md-cli missing --check` reports what is missing and exits 1 when a planned file is missing or unverified",
    ),
    ("check-gaps", "`md-cli missing` lists every planned file that is not stored"),
    (
        "full-pipeline-ticks",
        "`--mode full-pipeline` (md-cli pipeline); the original's own parser rejects full-pipeline-ticks too",
    ),
];

/// What md does not do at all: candles, BigQuery, live streams.
const OUT_OF_SCOPE: &str = "there is no md equivalent (md mirrors Tardis datasets into the bucket; candles, BigQuery uploads and live streams are outside it)";

/// The original's venue names (its canonical `VENUE` spellings) and the Tardis exchange ids md takes; any other name
/// is lower-cased, as the original did.
const VENUES: &[(&str, &str)] =
    &[("OKX", "okex"), ("OKX-FUTURES", "okex-futures"), ("OKX-SWAP", "okex-swap")];

/// The original's flags (`market_data_tick_handler/main.py`, `parse_arguments`), plus md's global options.
#[derive(Debug, Parser)]
#[command(
    name = "md-cli",
    about = "The original system's command line (python -m market_data_tick_handler.main), run by md",
    infer_long_args = true,
    disable_version_flag = true
)]
struct Original {
    /// instruments, download, full-pipeline or missing-reports.
    #[arg(long)]
    mode: String,
    /// YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    start_date: Option<String>,
    /// YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    end_date: Option<String>,
    /// Streaming modes only.
    #[arg(long)]
    symbol: Option<String>,
    /// Streaming modes only.
    #[arg(long)]
    duration: Option<String>,
    /// The .env file (md: --env-file).
    #[arg(long, value_name = "PATH")]
    env_file: Option<PathBuf>,
    /// The YAML file (md: --config).
    #[arg(long, value_name = "PATH")]
    config_file: Option<PathBuf>,
    /// Exchanges of the instrument definitions.
    #[arg(long, num_args = 1.., value_name = "EXCHANGE")]
    exchanges: Vec<String>,
    /// Venues.
    #[arg(long, num_args = 1.., value_name = "VENUE")]
    venues: Vec<String>,
    /// Instrument types.
    #[arg(long, num_args = 1.., value_name = "TYPE")]
    instrument_types: Vec<String>,
    /// Data types.
    #[arg(long, num_args = 1.., value_name = "TYPE")]
    data_types: Vec<String>,
    /// At most this many instruments.
    #[arg(long, value_name = "N")]
    max_instruments: Option<String>,
    /// Download even what is stored (md: --force).
    #[arg(long)]
    force_download: bool,
    /// Candle modes only.
    #[arg(long)]
    upload_to_bigquery: bool,
    /// The original's thread count.
    #[arg(long, value_name = "N")]
    max_workers: Option<String>,
    /// This process's shard (md: SHARD_INDEX).
    #[arg(long, value_name = "N")]
    shard_index: Option<String>,
    /// The number of shards (md: TOTAL_SHARDS).
    #[arg(long, value_name = "N")]
    total_shards: Option<String>,
    /// DEBUG, INFO, WARNING, ERROR or CRITICAL (md: LOG_LEVEL).
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
    /// Debug logs (md: -v).
    #[arg(short, long, action = ArgAction::Count)]
    verbose: u8,
    /// md: less log output.
    #[arg(short, long, action = ArgAction::Count)]
    quiet: u8,
    /// md: where objects go.
    #[arg(long, value_name = "URL")]
    sink: Option<String>,
    /// md: log line format.
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
}

/// Why the original's command line cannot run.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The flags do not parse (clap prints it; `--help` is not an error).
    #[error(transparent)]
    Parse(#[from] clap::Error),
    /// A mode md does not run: the message names it and what md offers instead.
    #[error(
        "--mode {mode} is not run by md: {instead}. The original's modes md runs: {}",
        known_modes()
    )]
    Mode {
        /// The mode given.
        mode: String,
        /// What md offers instead, or why there is nothing.
        instead: &'static str,
    },
}

/// The original's command line, as md runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    /// md's command line, the program's name first.
    pub argv: Vec<String>,
    /// What the run logs once logging is installed: the md command line it became, the variables it set and the
    /// flags it ignored.
    pub notice: String,
    /// md's flag -> the original's flag that gave it, for error messages.
    renames: Vec<(&'static str, &'static str)>,
    /// Variables the original's flags set that md has no flag for.
    overrides: Vec<Override>,
}

/// Whether `args` (without the program name) is the original's form: `--mode` before any md subcommand.
pub fn is_original(args: &[OsString]) -> bool {
    let mut previous: Option<&str> = None;
    for arg in args.iter().map(|arg| arg.to_str().unwrap_or_default()) {
        if arg == "--mode" || arg.starts_with("--mode=") {
            return true;
        }
        if Command::from_name(arg).is_some() && previous != Some("--mode") {
            return false;
        }
        previous = Some(arg);
    }
    false
}

/// Parses the original's command line (`args` without the program name) and translates it into md's.
///
/// # Errors
/// [`Refusal::Parse`] when its flags do not parse (or ask for help), [`Refusal::Mode`] for a mode md does not run.
pub fn translate(args: &[OsString]) -> Result<Translation, Refusal> {
    let original = Original::try_parse_from(
        std::iter::once(OsString::from("md-cli")).chain(args.iter().cloned()),
    )?;
    let Some(&(_, command)) = MODES.iter().find(|(mode, _)| *mode == original.mode) else {
        return Err(Refusal::Mode { instead: instead(&original.mode), mode: original.mode });
    };
    let mut md = Translating { argv: vec!["md-cli".into()], ..Translating::default() };
    md.global_options(&original);
    md.argv.push(command.name().to_owned());
    // The dates: the original required both; md takes one day when only --start-date is given.
    md.flag("--from", "--start-date", original.start_date.clone());
    md.flag("--to", "--end-date", original.end_date.clone());
    if command == Command::Instruments {
        md.instruments(&original);
    } else {
        md.download(&original, command);
    }
    md.unused(&original);
    Ok(md.finish(&original.mode))
}

/// md's command line as it is assembled from the original's.
#[derive(Debug, Default)]
struct Translating {
    argv: Vec<String>,
    renames: Vec<(&'static str, &'static str)>,
    /// The original's flags md ignores, each with why.
    ignored: Vec<String>,
    overrides: Vec<Override>,
}

impl Translating {
    /// Adds md's `flag` with `value`, if any; errors name it `original`.
    fn flag(&mut self, flag: &'static str, original: &'static str, value: Option<String>) {
        if let Some(value) = value {
            self.argv.extend([flag.to_owned(), value]);
            if flag != original {
                self.renames.push((flag, original));
            }
        }
    }

    /// Sets a variable md has no flag for.
    fn variable(&mut self, var: Var, flag: &'static str, value: Option<&String>) {
        if let Some(value) = value {
            self.overrides.push(Override { var, flag, value: value.clone() });
        }
    }

    /// The files, the sink and logging, before md's command.
    fn global_options(&mut self, original: &Original) {
        let path = |path: &Option<PathBuf>| path.as_ref().map(|path| path.display().to_string());
        self.flag("--env-file", "--env-file", path(&original.env_file));
        self.flag("--config", "--config-file", path(&original.config_file));
        self.flag("--sink", "--sink", original.sink.clone());
        self.flag("--log-format", "--log-format", original.log_format.clone());
        self.argv.extend(std::iter::repeat_n("-v".to_owned(), original.verbose.into()));
        self.argv.extend(std::iter::repeat_n("-q".to_owned(), original.quiet.into()));
        match &original.log_level {
            Some(level) if original.verbose > 0 => self
                .ignored
                .push(format!("--log-level {level} (--verbose wins, as in the original)")),
            level => self.variable(Var::LogLevel, "--log-level", level.as_ref()),
        }
        self.variable(Var::ShardIndex, "--shard-index", original.shard_index.as_ref());
        self.variable(Var::TotalShards, "--total-shards", original.total_shards.as_ref());
    }

    /// `--mode instruments`: the original wrote the definitions of the exchanges its --venues name (its --exchanges
    /// was ignored); md takes --exchanges when given.
    fn instruments(&mut self, original: &Original) {
        match (
            list(&original.exchanges, venue_to_exchange),
            list(&original.venues, venue_to_exchange),
        ) {
            (Some(exchanges), _) => self.flag("--exchanges", "--exchanges", Some(exchanges)),
            (None, venues) => self.flag("--exchanges", "--venues", venues),
        }
        for (flag, given) in [
            ("--instrument-types", !original.instrument_types.is_empty()),
            ("--data-types", !original.data_types.is_empty()),
            ("--max-instruments", original.max_instruments.is_some()),
            ("--force-download", original.force_download),
        ] {
            if given {
                self.ignored.push(format!(
                    "{flag} (instruments mode has no use for it, as in the original)"
                ));
            }
        }
    }

    /// The modes that download or report: the selection, and whether to replace what is stored.
    fn download(&mut self, original: &Original, command: Command) {
        let venues = list(&original.venues, venue_to_exchange);
        let exchanges = list(&original.exchanges, venue_to_exchange);
        if command == Command::Pipeline {
            // The original's full pipeline wrote the definitions of its venues' exchanges.
            self.flag("--exchanges", "--exchanges", exchanges.or_else(|| venues.clone()));
        } else if exchanges.is_some() {
            self.ignored.push(format!(
                "--exchanges (the original ignores it in {} mode too)",
                original.mode
            ));
        }
        self.flag("--venues", "--venues", venues);
        let types = list(&original.instrument_types, str::to_owned);
        self.flag("--instrument-types", "--instrument-types", types);
        self.flag("--data-types", "--data-types", list(&original.data_types, str::to_owned));
        self.flag("--max-instruments", "--max-instruments", original.max_instruments.clone());
        match (original.force_download, command) {
            (false, _) => {}
            (true, Command::Missing) => {
                self.ignored
                    .push("--force-download (missing-reports downloads nothing)".to_owned());
            }
            (true, _) => {
                self.argv.push("--force".to_owned());
                self.renames.push(("--force", "--force-download"));
            }
        }
    }

    /// The original's flags md has no use for.
    fn unused(&mut self, original: &Original) {
        let concurrency = "(md's concurrency is TARDIS_MAX_CONCURRENT and MAX_CONCURRENT_REQUESTS)";
        for (flag, value) in [
            ("--max-workers", original.max_workers.as_ref().map(|n| format!("{n} {concurrency}"))),
            ("--symbol", original.symbol.as_ref().map(|s| format!("{s} (streaming modes only)"))),
            (
                "--duration",
                original.duration.as_ref().map(|d| format!("{d} (streaming modes only)")),
            ),
            (
                "--upload-to-bigquery",
                original.upload_to_bigquery.then(|| "(candle modes only)".to_owned()),
            ),
        ] {
            if let Some(value) = value {
                self.ignored.push(format!("{flag} {value}"));
            }
        }
    }

    /// The translation, with the notice that names the md command line it became.
    fn finish(self, mode: &str) -> Translation {
        let mut notice = format!(
            "the original's command line (--mode {mode}) runs as: {}",
            self.argv.iter().map(|arg| quote(arg)).collect::<Vec<_>>().join(" ")
        );
        for Override { flag, var, value } in &self.overrides {
            notice.push_str(&format!(", with {var}={value} ({flag})"));
        }
        if !self.ignored.is_empty() {
            notice.push_str(&format!("; ignored: {}", self.ignored.join("; ")));
        }
        Translation { argv: self.argv, notice, renames: self.renames, overrides: self.overrides }
    }
}

impl Translation {
    /// md's load options for this command line: `options` (those of [`Translation::argv`]), with the original's
    /// flag names in errors and the variables md has no flag for.
    pub fn load_options(&self, mut options: LoadOptions) -> LoadOptions {
        for flag in &mut options.overrides {
            if let Some(&(_, original)) = self.renames.iter().find(|(md, _)| *md == flag.flag) {
                flag.flag = original;
            }
        }
        options.overrides.extend(self.overrides.iter().cloned());
        options
    }
}

/// The original's modes md runs, with md's command: the end of [`Refusal::Mode`]'s message.
fn known_modes() -> String {
    MODES
        .iter()
        .map(|(mode, md)| format!("{mode} (md-cli {})", md.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What md offers instead of a mode it does not run.
fn instead(mode: &str) -> &'static str {
    match OTHER_MODES.iter().find(|(other, _)| *other == mode) {
        Some((_, instead)) => instead,
        None if ["candle", "bigquery", "streaming", "live-"]
            .iter()
            .any(|part| mode.contains(part)) =>
        {
            OUT_OF_SCOPE
        }
        None => "it is not one of the original's modes",
    }
}

/// A space-separated list as md takes it: comma-joined (items may themselves be comma-separated, as the deploy
/// scripts pass them); `None` when empty.
fn list(items: &[String], map: fn(&str) -> String) -> Option<String> {
    let parts: Vec<String> = items
        .iter()
        .flat_map(|item| item.split(','))
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(map)
        .collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

/// The Tardis exchange id of one of the original's venue names (`OKX-SWAP` -> `okex-swap`, `DERIBIT` -> `deribit`).
fn venue_to_exchange(venue: &str) -> String {
    VENUES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(venue))
        .map_or_else(|| venue.to_ascii_lowercase(), |(_, id)| (*id).to_owned())
}

fn quote(arg: &str) -> String {
    if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_.,/:=@".contains(c)) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}
