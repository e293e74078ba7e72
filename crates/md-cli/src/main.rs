//! `md-cli`: mirror Tardis.dev historical market data into Google Cloud Storage (or S3, or a local directory).
//!
//! This binary is thin on purpose: it parses flags, loads the configuration through md-config, owns the tokio
//! runtime and the log subscriber, builds the library objects, runs one command and maps its outcome to an exit code:
//! 0 success, 1 the run finished but work failed, 2 bad input or configuration (nothing was done), 130 interrupted.

mod allocator;
mod cli;
mod commands;
mod exit;
mod logging;
mod output;
mod progress;
mod runtime;

use std::ffi::OsString;
use std::process::ExitCode;

use md_config::compat;

use crate::cli::{Cli, Command};
use crate::exit::Failure;

fn main() -> ExitCode {
    allocator::tune();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // The original system's command line (`--mode download ...`) runs as the md command it corresponds to.
    let parsed = if compat::is_original(&args) {
        match compat::translate(&args) {
            Ok(translation) => cli::parse(&translation.argv).map(|(cli, options)| {
                cli::set_notice(translation.notice.clone());
                (cli, translation.load_options(options))
            }),
            Err(compat::Refusal::Parse(error)) => Err(error),
            Err(refusal) => return Failure::BadInput(refusal.into()).report(),
        }
    } else {
        cli::parse(std::iter::once(OsString::from("md-cli")).chain(args))
    };
    let (cli, options) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            // clap prints help and version to stdout with exit 0, and usage errors to stderr with exit 2.
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                exit::BAD_INPUT
            } else {
                exit::SUCCESS
            });
        }
    };
    match run(&cli, &options) {
        Ok(()) => ExitCode::from(exit::SUCCESS),
        Err(failure) => failure.report(),
    }
}

fn run(cli: &Cli, options: &md_config::LoadOptions) -> Result<(), Failure> {
    let loaded = md_config::load(options).map_err(Failure::Config)?;
    match &cli.command {
        // `config` runs before logging is set up: it only prints, and must work with any log settings.
        Command::Config(args) => commands::config::run(&loaded, args),
        Command::Fetch(args) => commands::fetch::run(&loaded, args),
        Command::Instruments(args) => commands::instruments::run(&loaded, args),
        Command::Download(args) => commands::download::download(&loaded, args),
        Command::Plan(args) => commands::download::plan(&loaded, args),
        Command::Missing(args) => commands::missing::run(&loaded, args),
        Command::Pipeline(args) => commands::pipeline::run(&loaded, args),
        Command::Doctor(args) => commands::doctor::run(&loaded, args),
        Command::Sql(args) => commands::sql::run(&loaded, args),
    }
}
