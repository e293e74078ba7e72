//! The command-line flags that set variables, each declared once, in [`FLAGS`]: its name, what it takes, its help,
//! the commands that take it and the variables it sets.
//!
//! Everything else is derived from that row: md-cli's arguments (with the `cli` feature, [`augment`] adds them to
//! md-cli's clap command, each help ending in the `[env: X]` of [`Flag::env`]), the mapping of a command line onto
//! [`Override`]s ([`overrides`]), and the table of flags in docs/DEPLOYMENT.md ([`markdown`], kept current by a
//! test). clap never reads the environment: md-config does, in its order of sources, so that `md-cli config` can
//! say where each value came from.

use crate::Override;
use crate::vars::Var;

/// An md-cli command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs, reason = "each is the md-cli command of its name")]
pub enum Command {
    Config,
    Fetch,
    Instruments,
    Download,
    Plan,
    Missing,
    Pipeline,
    Doctor,
    Sql,
}

impl Command {
    /// Every command, in md-cli's order.
    pub const ALL: [Command; 9] = [
        Command::Config,
        Command::Fetch,
        Command::Instruments,
        Command::Download,
        Command::Plan,
        Command::Missing,
        Command::Pipeline,
        Command::Doctor,
        Command::Sql,
    ];

    /// Returns the command's name on the command line (`download`).
    pub fn name(self) -> &'static str {
        match self {
            Command::Config => "config",
            Command::Fetch => "fetch",
            Command::Instruments => "instruments",
            Command::Download => "download",
            Command::Plan => "plan",
            Command::Missing => "missing",
            Command::Pipeline => "pipeline",
            Command::Doctor => "doctor",
            Command::Sql => "sql",
        }
    }

    /// Returns the command of a name.
    pub fn from_name(name: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|command| command.name() == name)
    }
}

/// What a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// A value (`--venues IDS`, the placeholder shown in the help), which becomes the variable's text.
    Value(&'static str),
    /// Nothing: given, it sets the variable to `true`.
    Switch,
    /// Repeated (`-v`, `-vv`): given n times, it sets the n-th of these values (the last one when given more often),
    /// each with the spelling errors name it by.
    Count(&'static [(&'static str, &'static str)]),
}

/// A command-line flag that sets variables.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// The long name, as typed (`--venues`).
    pub long: &'static str,
    /// The short name (`-v`), if any.
    pub short: Option<char>,
    /// What it takes.
    pub takes: Takes,
    /// The help, without the variables (md-cli's help appends `[env: X]`, [`Flag::env`]).
    pub help: &'static str,
    /// The commands that take it; empty: every command (a global option).
    pub commands: &'static [Command],
    /// The variable it sets, then any it sets too unless a flag given on the same command line sets that one first
    /// (`pipeline --exchanges` sets `INSTRUMENT_EXCHANGES`, and `DOWNLOAD_VENUES` unless `--venues` is given).
    pub vars: &'static [Var],
    /// The variable read when the first of [`Flag::vars`] is unset (`DOWNLOAD_START_DATE`, else
    /// `INSTRUMENT_START_DATE`), which the help names too.
    pub fallback: Option<Var>,
    /// A flag it cannot be given with (its long name without dashes).
    pub conflicts_with: Option<&'static str>,
    /// Checks a value and spells it as md-config does, refusing a bad one as a usage error of the command line.
    pub spell: Option<Spell>,
}

/// Checks a flag's value and spells it as md-config does (`JSON` -> `json`), or says what is wrong with it.
pub type Spell = fn(&str) -> Result<String, String>;

/// How often, or with which value, a flag was given on a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Given {
    /// Its value.
    Value(String),
    /// How often a switch or a counted flag was given (at least once).
    Times(u8),
}

impl Flag {
    /// Returns the flag's id: its long name without dashes (`venues`).
    pub fn id(&self) -> &'static str {
        self.long.trim_start_matches('-')
    }

    /// Returns whether `command` takes it.
    pub fn is_taken_by(&self, command: Command) -> bool {
        self.commands.is_empty() || self.commands.contains(&command)
    }

    /// Returns what the help shows in `[env: ...]`: the variable, and the one read when it is unset
    /// (`DOWNLOAD_START_DATE, else INSTRUMENT_START_DATE`).
    pub fn env(&self) -> String {
        match self.fallback {
            Some(fallback) => format!("{}, else {fallback}", self.vars[0]),
            None => self.vars[0].name().to_owned(),
        }
    }

    /// Returns the help as md-cli shows it: the text, then `[env: ...]`.
    pub fn help_with_env(&self) -> String {
        format!("{} [env: {}]", self.help, self.env())
    }

    /// Returns the value it sets and its spelling in errors (`-vv`), given `given`.
    fn value(&self, given: &Given) -> Option<(&'static str, String)> {
        match (self.takes, given) {
            (Takes::Value(_), Given::Value(value)) => Some((self.long, value.clone())),
            (Takes::Switch, Given::Times(1..)) => Some((self.long, "true".to_owned())),
            (Takes::Count(levels), Given::Times(times @ 1..)) => {
                let (flag, value) = levels[usize::from(*times).min(levels.len()) - 1];
                Some((flag, value.to_owned()))
            }
            _ => None,
        }
    }
}

const fn flag(
    long: &'static str,
    takes: Takes,
    help: &'static str,
    commands: &'static [Command],
    vars: &'static [Var],
) -> Flag {
    Flag {
        long,
        short: None,
        takes,
        help,
        commands,
        vars,
        fallback: None,
        conflicts_with: None,
        spell: None,
    }
}

const fn else_from(mut flag: Flag, fallback: Var) -> Flag {
    flag.fallback = Some(fallback);
    flag
}

const fn counted(mut flag: Flag, short: char, conflicts_with: Option<&'static str>) -> Flag {
    flag.short = Some(short);
    flag.conflicts_with = conflicts_with;
    flag
}

fn log_format(text: &str) -> Result<String, String> {
    text.parse::<crate::LogFormat>().map(|format| format.to_string())
}

use Command::{Doctor, Download, Fetch, Instruments, Missing, Pipeline, Plan, Sql};
use Takes::{Count, Switch, Value};

/// `-v` and `-q`: the log level of each count.
const VERBOSE: Takes = Count(&[("-v", "debug"), ("-vv", "trace")]);
const QUIET: Takes = Count(&[("-q", "warning"), ("-qq", "error")]);
const LOG: &[Var] = &[Var::LogLevel];

/// Every command.
const EVERY: &[Command] = &[];
/// The commands that select units.
const SELECTING: &[Command] = &[Download, Plan, Missing, Doctor, Pipeline];
/// The commands that select data types: those that select units, and `sql` (one view per data type).
const TYPED: &[Command] = &[Download, Plan, Missing, Doctor, Pipeline, Sql];
/// The commands of the download alone.
const DOWNLOADS: &[Command] = &[Download, Plan, Missing];
/// The commands that name objects (tick objects, or the definitions' under the layout's preset), and `sql`, which reads
/// them.
const LAYOUT: &[Command] = &[Instruments, Download, Plan, Missing, Doctor, Pipeline, Sql];
/// The commands of both jobs, whose range is one.
const BOTH_JOBS: &[Command] = &[Doctor, Pipeline];

const FROM: &str = "First day, inclusive: YYYY-MM-DD, latest (the last day every selected venue has exported), yesterday, today or today-N; relative days are resolved once when the run starts (with MD_RUN_ID, once for every task of the run)";
const TO: &str = "Last day, inclusive, spelt as --from (default: --from)";

/// Every flag that sets a variable, in the order md-cli's help shows them.
pub const FLAGS: &[Flag] = &[
    flag(
        "--sink",
        Value("URL"),
        "Where objects go: gs://bucket[/prefix], s3://bucket[/prefix], file:///path or a path, memory://",
        EVERY,
        &[Var::MdSink],
    ),
    counted(
        flag("--verbose", VERBOSE, "More log output (-v debug, -vv trace)", EVERY, LOG),
        'v',
        Some("quiet"),
    ),
    counted(
        flag("--quiet", QUIET, "Less log output (-q warnings, -qq errors only)", EVERY, LOG),
        'q',
        None,
    ),
    Flag {
        spell: Some(log_format),
        ..flag(
            "--log-format",
            Value("FORMAT"),
            "Log line format on stderr",
            EVERY,
            &[Var::MdLogFormat],
        )
    },
    flag(
        "--exchanges",
        Value("IDS"),
        "Tardis exchange ids, comma-separated",
        &[Instruments],
        &[Var::InstrumentExchanges],
    ),
    flag(
        "--exchanges",
        Value("IDS"),
        "Tardis exchange ids of the instrument definitions, comma-separated; also the venues unless --venues is given",
        BOTH_JOBS,
        &[Var::InstrumentExchanges, Var::DownloadVenues],
    ),
    flag(
        "--from",
        Value("DAY"),
        "First day, inclusive: YYYY-MM-DD, latest, yesterday, today or today-N",
        &[Instruments],
        &[Var::InstrumentStartDate],
    ),
    flag("--to", Value("DAY"), TO, &[Instruments], &[Var::InstrumentEndDate]),
    flag(
        "--venues",
        Value("IDS"),
        "Tardis exchange ids to download, comma-separated (default: every venue with stored definitions)",
        SELECTING,
        &[Var::DownloadVenues],
    ),
    flag(
        "--instrument-types",
        Value("TYPES"),
        "Instrument types: spot, perpetual, future, option, combo (default: all)",
        SELECTING,
        &[Var::DownloadInstrumentTypes],
    ),
    flag(
        "--data-types",
        Value("TYPES"),
        "Data types, comma-separated: trades, incremental_book_L2, book_snapshot_25, book_snapshot_5, quotes, book_ticker, derivative_ticker, options_chain, liquidations",
        TYPED,
        &[Var::DownloadDataTypes],
    ),
    else_from(
        flag("--from", Value("DAY"), FROM, DOWNLOADS, &[Var::DownloadStartDate]),
        Var::InstrumentStartDate,
    ),
    // One range for both jobs.
    else_from(
        flag(
            "--from",
            Value("DAY"),
            FROM,
            BOTH_JOBS,
            &[Var::DownloadStartDate, Var::InstrumentStartDate],
        ),
        Var::InstrumentStartDate,
    ),
    else_from(
        flag("--to", Value("DAY"), TO, DOWNLOADS, &[Var::DownloadEndDate]),
        Var::InstrumentEndDate,
    ),
    else_from(
        flag("--to", Value("DAY"), TO, BOTH_JOBS, &[Var::DownloadEndDate, Var::InstrumentEndDate]),
        Var::InstrumentEndDate,
    ),
    flag(
        "--max-instruments",
        Value("N"),
        "At most this many instruments per venue and day",
        SELECTING,
        &[Var::DownloadMaxInstruments],
    ),
    // One meaning in every command: replace what is stored instead of keeping it.
    flag(
        "--force",
        Switch,
        "Replace what is stored instead of keeping it: the object at --output is rewritten even when it exists, with the same content or another",
        &[Fetch],
        &[Var::MdForce],
    ),
    flag(
        "--force",
        Switch,
        "Replace what is stored instead of keeping it: definitions files this version cannot read (for example written by another tool) are replaced",
        &[Instruments],
        &[Var::MdForce],
    ),
    flag(
        "--force",
        Switch,
        "Replace what is stored instead of keeping it: every object is downloaded and rewritten, even one stored and verified or one md did not write",
        &[Download],
        &[Var::MdForce],
    ),
    flag(
        "--force",
        Switch,
        "Replace what is stored instead of keeping it: definitions files this version cannot read are replaced, and every object is downloaded and rewritten, even one stored and verified or one md did not write",
        &[Pipeline],
        &[Var::MdForce],
    ),
    flag(
        "--format",
        Value("FORMAT"),
        "Output format: parquet (the default: converted while streaming, where the original system stored it), raw (the .csv.gz exactly as sent) or raw,parquet (both objects from one download)",
        &[Download],
        &[Var::MdOutputFormat],
    ),
    flag(
        "--format",
        Value("FORMAT"),
        "Output format of object names: raw, parquet or raw,parquet",
        &[Plan],
        &[Var::MdOutputFormat],
    ),
    flag(
        "--format",
        Value("FORMAT"),
        "Output format of object names: raw, parquet or raw,parquet (a unit is missing unless all its objects are stored)",
        &[Missing],
        &[Var::MdOutputFormat],
    ),
    flag(
        "--format",
        Value("FORMAT"),
        "Output format: raw, parquet or raw,parquet (both from one download)",
        &[Pipeline],
        &[Var::MdOutputFormat],
    ),
    flag(
        "--layout",
        Value("LAYOUT"),
        "Object names: hive (Hive partitions: raw_tick_data/data_type=T/exchange=E/date=D/{instrument}.parquet, definitions under instrument_availability/date=D/) or a template with placeholders (docs/DEPLOYMENT.md)",
        LAYOUT,
        &[Var::MdLayout],
    ),
];

/// Returns the overrides of a command line of `command`: `given` says how each of its flags was given (`None`: not
/// given).
pub fn overrides(command: Command, given: impl Fn(&Flag) -> Option<Given>) -> Vec<Override> {
    let given: Vec<(&Flag, (&'static str, String))> = FLAGS
        .iter()
        .filter(|flag| flag.is_taken_by(command))
        .filter_map(|flag| Some((flag, flag.value(&given(flag)?)?)))
        .collect();
    let mut overrides = Vec::new();
    for (flag, (spelt, value)) in &given {
        for (index, &var) in flag.vars.iter().enumerate() {
            // A flag's further variables yield to a flag given that sets them first.
            if index > 0 && given.iter().any(|(other, _)| other.vars[0] == var) {
                continue;
            }
            overrides.push(Override { var, flag: spelt, value: value.clone() });
        }
    }
    overrides
}

/// Returns docs/DEPLOYMENT.md's table of flags: one row per flag, with its commands, variables and help.
pub fn markdown() -> String {
    let mut out = String::from("| Flag | Commands | Variable | Meaning |\n|---|---|---|---|\n");
    for flag in FLAGS {
        let name = match (flag.short, flag.takes) {
            (Some(short), _) => format!("`-{short}`, `{}`", flag.long),
            (None, Value(placeholder)) => format!("`{} {placeholder}`", flag.long),
            (None, _) => format!("`{}`", flag.long),
        };
        let commands = match flag.commands {
            [] => "every command".to_owned(),
            commands => {
                commands.iter().map(|command| command.name()).collect::<Vec<_>>().join(", ")
            }
        };
        let mut vars = format!("`{}`", flag.vars[0]);
        if let Some(fallback) = flag.fallback {
            vars.push_str(&format!(", else `{fallback}`"));
        }
        for var in &flag.vars[1..] {
            let yields = FLAGS.iter().any(|other| {
                other.vars[0] == *var
                    && flag.commands.iter().any(|command| other.is_taken_by(*command))
            });
            let unless = if yields { ", unless a flag given sets it" } else { "" };
            vars.push_str(&format!("; also sets `{var}`{unless}"));
        }
        out.push_str(&format!("| {name} | {commands} | {vars} | {} |\n", flag.help));
    }
    out
}

/// The help heading of the options every command takes.
pub const GLOBAL_HEADING: &str = "Global options";

/// Adds every flag of [`FLAGS`] to md-cli's clap command: the global ones to it, the others to their subcommands.
///
/// # Panics
/// When a command of the table is not a subcommand of `cli`.
#[cfg(feature = "cli")]
pub fn augment(mut cli: clap::Command) -> clap::Command {
    for flag in FLAGS {
        if flag.commands.is_empty() {
            cli = cli.arg(flag.arg().global(true).help_heading(GLOBAL_HEADING));
        }
        for command in flag.commands {
            cli = cli.mut_subcommand(command.name(), |sub| sub.arg(flag.arg()));
        }
    }
    cli
}

/// Returns the overrides of a command line parsed by a command [`augment`] built.
#[cfg(feature = "cli")]
pub fn overrides_of(matches: &clap::ArgMatches) -> Vec<Override> {
    let Some((command, matches)) =
        matches.subcommand().and_then(|(name, sub)| Some((Command::from_name(name)?, sub)))
    else {
        return Vec::new();
    };
    overrides(command, |flag| match flag.takes {
        Value(_) => matches.try_get_one::<String>(flag.id()).ok()?.cloned().map(Given::Value),
        Switch => matches
            .try_get_one::<bool>(flag.id())
            .ok()?
            .filter(|set| **set)
            .map(|_| Given::Times(1)),
        Count(_) => {
            matches.try_get_one::<u8>(flag.id()).ok()?.copied().filter(|n| *n > 0).map(Given::Times)
        }
    })
}

#[cfg(feature = "cli")]
impl Flag {
    /// Returns the flag as a clap argument, its help ending in `[env: ...]`.
    pub fn arg(&self) -> clap::Arg {
        use clap::ArgAction;
        let mut arg = clap::Arg::new(self.id()).long(self.id()).help(self.help_with_env());
        arg = match self.takes {
            Value(placeholder) => arg.value_name(placeholder).action(ArgAction::Set),
            Switch => arg.action(ArgAction::SetTrue),
            Count(_) => arg.action(ArgAction::Count),
        };
        if let Some(short) = self.short {
            arg = arg.short(short);
        }
        if let Some(other) = self.conflicts_with {
            arg = arg.conflicts_with(other);
        }
        if let Some(spell) = self.spell {
            arg = arg.value_parser(move |text: &str| spell(text));
        }
        arg
    }
}
