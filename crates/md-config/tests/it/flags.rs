//! The table of flags: how a command line maps onto variables, the clap arguments built from it, and the docs
//! table generated from it.

use std::path::Path;

use md_config::Var;
use md_config::flags::{Command, FLAGS, Flag, Given, Takes, overrides};
use rstest::rstest;

/// The overrides of `line` (`--flag value`, `--switch`, `-vv`) given to `command`, as (flag, variable, value).
fn mapped(command: Command, line: &[&str]) -> Vec<(&'static str, Var, String)> {
    let given = |flag: &Flag| -> Option<Given> {
        let short = flag.short.map(|short| format!("-{short}"));
        let times = line
            .iter()
            .map(|word| match &short {
                Some(short) if word.starts_with(short.as_str()) && !word.starts_with("--") => {
                    word.len() - 1
                }
                _ => usize::from(*word == flag.long),
            })
            .sum::<usize>();
        match flag.takes {
            Takes::Value(_) => line
                .iter()
                .position(|word| *word == flag.long)
                .map(|at| Given::Value(line[at + 1].to_owned())),
            _ => (times > 0).then(|| Given::Times(u8::try_from(times).unwrap())),
        }
    };
    overrides(command, given).into_iter().map(|o| (o.flag, o.var, o.value)).collect()
}

#[rstest]
#[case::download_from(Command::Download, &["--from", "2024-01-02"], &[("--from", Var::DownloadStartDate, "2024-01-02")])]
#[case::instruments_from(Command::Instruments, &["--from", "today"], &[("--from", Var::InstrumentStartDate, "today")])]
#[case::pipeline_range_is_one(
    Command::Pipeline,
    &["--from", "2024-01-02", "--to", "2024-01-03"],
    &[
        ("--from", Var::DownloadStartDate, "2024-01-02"),
        ("--from", Var::InstrumentStartDate, "2024-01-02"),
        ("--to", Var::DownloadEndDate, "2024-01-03"),
        ("--to", Var::InstrumentEndDate, "2024-01-03"),
    ]
)]
#[case::exchanges_are_the_venues(
    Command::Doctor,
    &["--exchanges", "deribit"],
    &[("--exchanges", Var::InstrumentExchanges, "deribit"), ("--exchanges", Var::DownloadVenues, "deribit")]
)]
#[case::venues_win_over_exchanges(
    Command::Pipeline,
    &["--exchanges", "deribit", "--venues", "binance"],
    &[("--exchanges", Var::InstrumentExchanges, "deribit"), ("--venues", Var::DownloadVenues, "binance")]
)]
#[case::instruments_exchanges(Command::Instruments, &["--exchanges", "deribit"], &[("--exchanges", Var::InstrumentExchanges, "deribit")])]
#[case::verbose(Command::Config, &["-v"], &[("-v", Var::LogLevel, "debug")])]
#[case::very_verbose(Command::Plan, &["-vvv"], &[("-vv", Var::LogLevel, "trace")])]
#[case::quiet(Command::Fetch, &["-q"], &[("-q", Var::LogLevel, "warning")])]
#[case::very_quiet(Command::Fetch, &["-q", "-q"], &[("-qq", Var::LogLevel, "error")])]
#[case::force_download(Command::Download, &["--force"], &[("--force", Var::MdForce, "true")])]
#[case::force_fetch(Command::Fetch, &["--force"], &[("--force", Var::MdForce, "true")])]
#[case::force_instruments(Command::Instruments, &["--force"], &[("--force", Var::MdForce, "true")])]
#[case::no_force_for_plan(Command::Plan, &["--force"], &[])]
#[case::sink_everywhere(Command::Missing, &["--sink", "memory://"], &[("--sink", Var::MdSink, "memory://")])]
#[case::format(Command::Plan, &["--format", "raw"], &[("--format", Var::MdOutputFormat, "raw")])]
#[case::nothing(Command::Pipeline, &[], &[])]
fn a_command_line_maps_onto_variables(
    #[case] command: Command,
    #[case] line: &[&str],
    #[case] expected: &[(&str, Var, &str)],
) {
    let expected: Vec<(&str, Var, String)> =
        expected.iter().map(|(flag, var, value)| (*flag, *var, (*value).to_owned())).collect();
    assert_eq!(mapped(command, line), expected, "{} {line:?}", command.name());
}

/// Each command takes a flag once, under one spelling, and the table's references hold.
#[test]
fn the_table_is_consistent() {
    for command in Command::ALL {
        let taken: Vec<&Flag> = FLAGS.iter().filter(|flag| flag.is_taken_by(command)).collect();
        for (index, flag) in taken.iter().enumerate() {
            assert!(flag.long.starts_with("--") && !flag.vars.is_empty(), "{flag:?}");
            assert!(
                taken[index + 1..].iter().all(|other| other.long != flag.long),
                "{} takes {} twice",
                command.name(),
                flag.long
            );
            if let Some(other) = flag.conflicts_with {
                assert!(taken.iter().any(|taken| taken.id() == other), "{flag:?}");
            }
        }
    }
    assert_eq!(Command::from_name("pipeline"), Some(Command::Pipeline));
    assert_eq!(Command::from_name("mode"), None);
}

/// The clap arguments built from the table: each flag under its subcommands, its help ending in its variable.
#[test]
fn the_arguments_carry_the_variables_in_their_help() {
    let cli = Command::ALL.iter().fold(clap::Command::new("md-cli"), |cli, command| {
        cli.subcommand(clap::Command::new(command.name()))
    });
    let mut cli = md_config::flags::augment(cli);
    cli.build();
    for command in Command::ALL {
        let sub = cli.find_subcommand(command.name()).unwrap();
        for flag in FLAGS.iter().filter(|flag| flag.is_taken_by(command)) {
            let arg = sub.get_arguments().find(|arg| arg.get_id() == flag.id()).unwrap();
            let help = arg.get_help().unwrap().to_string();
            assert!(help.ends_with(&format!("[env: {}]", flag.env())), "{help}");
        }
    }
    let from =
        FLAGS.iter().find(|flag| flag.is_taken_by(Command::Pipeline) && flag.long == "--from");
    assert_eq!(from.unwrap().env(), "DOWNLOAD_START_DATE, else INSTRUMENT_START_DATE");
    // Parsed by clap, mapped by the table.
    let matches = cli
        .try_get_matches_from(["md-cli", "-vv", "pipeline", "--exchanges", "deribit", "--force"])
        .unwrap();
    let overrides: Vec<(Var, String)> =
        md_config::flags::overrides_of(&matches).into_iter().map(|o| (o.var, o.value)).collect();
    assert_eq!(
        overrides,
        [
            (Var::LogLevel, "trace".to_owned()),
            (Var::InstrumentExchanges, "deribit".to_owned()),
            (Var::DownloadVenues, "deribit".to_owned()),
            (Var::MdForce, "true".to_owned()),
        ]
    );
}

/// docs/DEPLOYMENT.md's table of flags is the table's; when it is not, this test rewrites it (commit the result).
#[test]
fn the_docs_table_of_flags_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/DEPLOYMENT.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- flags:start -->\n", "<!-- flags:end -->");
    let from = text.find(start).expect("the start marker") + start.len();
    let to = text.find(end).expect("the end marker");
    let expected = md_config::flags::markdown();
    if text[from..to] != expected {
        std::fs::write(&path, format!("{}{expected}{}", &text[..from], &text[to..])).unwrap();
        panic!(
            "docs/DEPLOYMENT.md's table of flags was stale; it is rewritten now: review and commit it"
        );
    }
}
