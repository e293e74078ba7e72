//! Project automation: `cargo xtask <task>`.
//!
//! - `test`: everything CI checks, with its own set-up (fmt, clippy, tests, doc tests, docs, `.env.example`).
//! - `env-example [--check]`: regenerate `.env.example` from md-config's variable table, or fail on drift.
//! - `bench [PART]`: mirror throughput, memory, rate limiter, keys and Parquet conversion, against the alternatives
//!   (see `bench.rs`).
//! - `image`: the `FROM scratch` container image of md-cli (see `image.rs`).
//! - `fleet --shards N`: N `md-cli download` processes against the stand-ins, checked (see `fleet.rs`).
//! - `smoke`: the main job against the real Tardis on the latest free day, checked (see `smoke.rs`).
//! - `demo`: the same main job and checks against the local Tardis stand-in, for a machine without network.
//! - `fresh-machine`: md-cli's default build needs only the Rust toolchain and a C compiler (see `tools.rs`).
//! - `stub [ARGS]`: the Tardis stand-in on 127.0.0.1, every argument passed on to `tardis-stub`.
//!
//! The command line is clap's derive: [`Cli`] with one [`Task`] per task, each task's flags an `Args` struct in its
//! module whose doc comments are the help (`cargo xtask TASK --help`). Where code builds a task's options
//! (`cargo xtask test` runs the fleet, the demo runs the smoke), their `Default` is [`defaults`]: what the flags
//! declare, so each default is written once.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "xtask reports to the terminal")]
#![allow(
    clippy::disallowed_methods,
    reason = "xtask is a developer tool that reads its own environment"
)]

mod bench;
mod fleet;
mod image;
mod smoke;
mod test;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Project automation for md: the checks CI runs, benchmarks, the container image, the fleet simulator, the smoke
/// against the real Tardis and its offline demo, and the Tardis stand-in.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", max_term_width = 120)]
struct Cli {
    /// The task (without one, this help).
    #[command(subcommand)]
    task: Option<Task>,
}

/// The tasks; the help of each task's options is on its `Args` struct.
#[derive(Debug, Subcommand)]
enum Task {
    /// Everything CI runs: fmt, clippy -D warnings, nextest, doc tests, docs, the .env.example check, the fleet,
    /// the smoke against the stand-in and the demo, with its own set-up.
    Test,
    EnvExample(EnvExample),
    Bench(bench::Options),
    Image(image::Args),
    Fleet(fleet::Options),
    Smoke(smoke::Args),
    Demo(smoke::Demo),
    /// Check that md-cli's default build needs only the Rust toolchain and a C compiler (cargo check with nasm,
    /// autotools, libtool and cmake hidden from PATH; no isal-sys in its tree).
    FreshMachine,
    Stub(Stub),
}

fn run(cli: Cli) -> Result<()> {
    match cli.task {
        Some(Task::Test) => test::run(),
        Some(Task::EnvExample(args)) => env_example(args.check),
        Some(Task::Bench(options)) => bench::run(&options),
        Some(Task::Image(args)) => image::run(&args),
        Some(Task::Fleet(options)) => fleet::run(options),
        Some(Task::Smoke(args)) => smoke::run(args),
        Some(Task::Demo(args)) => smoke::demo(args),
        Some(Task::FreshMachine) => tools::check_fresh_machine_build(),
        Some(Task::Stub(args)) => stub(&args.args),
        None => Ok(Cli::command().print_long_help()?),
    }
}

/// The defaults of a task's options: what its flags declare when none is given.
pub(crate) fn defaults<T: clap::Args + FromArgMatches>() -> T {
    let matches = T::augment_args(clap::Command::new("defaults")).get_matches_from(["defaults"]);
    T::from_arg_matches(&matches).expect("every option has a default")
}

/// Write .env.example from md-config's variable table.
#[derive(Debug, clap::Args)]
struct EnvExample {
    /// Write nothing; fail if `.env.example` is stale.
    #[arg(long)]
    check: bool,
}

/// Run the Tardis stand-in on 127.0.0.1 (default port 8700) to try md-cli offline.
///
/// test-support's tardis-stub, built in release, runs until Ctrl-C; every argument is passed on to it.
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
struct Stub {
    /// Passed to tardis-stub as they are (e.g. --key TD.x --file-size 32M --rate-500 0.1; --help lists them).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
    args: Vec<String>,
}

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .to_path_buf()
}

/// The cargo that runs us, so the pinned toolchain is used throughout.
pub(crate) fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    command
}

/// Runs a command to completion, failing with its description when it fails.
pub(crate) fn run_checked(command: &mut Command, what: &str) -> Result<()> {
    eprintln!("xtask: {what}");
    let status = command.status().with_context(|| format!("cannot start: {what}"))?;
    if !status.success() {
        bail!("failed ({status}): {what}");
    }
    Ok(())
}

/// The target directory of the normal builds (`CARGO_TARGET_DIR`, else `target/`).
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| if dir.is_absolute() { dir } else { root().join(dir) })
        .unwrap_or_else(|| root().join("target"))
}

/// Whether a command runs and succeeds, its output discarded.
pub(crate) fn quietly_succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs the Tardis stand-in binary from test-support until Ctrl-C.
fn stub(args: &[String]) -> Result<()> {
    let mut command = cargo();
    command.args([
        "run",
        "--quiet",
        "--release",
        "--package",
        "test-support",
        "--bin",
        "tardis-stub",
        "--",
    ]);
    command.args(args);
    run_checked(&mut command, "tardis-stub (Ctrl-C to stop)")
}

/// Writes `.env.example`, or with `check` fails when it differs from what would be written.
pub(crate) fn env_example(check: bool) -> Result<()> {
    let path = root().join(".env.example");
    let expected = md_config::env_example();
    if check {
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        if actual != expected {
            bail!(".env.example is stale: run `cargo xtask env-example` and commit the result");
        }
        eprintln!("xtask: .env.example documents all {} variables", md_config::VARS.len());
        return Ok(());
    }
    std::fs::write(&path, expected).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("xtask: wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("xtask").chain(line.split_whitespace()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_documented_command_lines_parse() {
        for line in [
            "",
            "test",
            "env-example",
            "env-example --check",
            "bench",
            "bench facts --runs 7",
            "bench formats convert --write-docs",
            "bench mirror --write-docs --runs 5",
            "bench all --quick --large-gib 0.5",
            "image",
            "image --engine podman --tag localhost/md:test --without-isal",
            "fleet --shards 60",
            "fleet --shards 8 --parallel 2 --rate 3 --engine cloud-run --from 2026-10-01 --to 2026-10-02 \
             --venues deribit --data-types trades --file-size 32K --release --stub-arg --rate-500 --stub-arg 0.05",
            "smoke",
            "smoke --against-stand-in",
            "smoke --md-cli /bin/md-cli --datasets-url http://127.0.0.1:1 --api-url http://127.0.0.1:1 \
             --timeout-secs 300 --exchange binance --instrument-type spot --data-type quotes --keep /tmp/x",
            "demo",
            "demo --keep /tmp/x",
            "fresh-machine",
            "stub",
            "stub --key TD.x --file-size 32M --rate-500 0.1",
        ] {
            if let Err(error) = parse(line) {
                panic!("`cargo xtask {line}` does not parse: {error}");
            }
        }
    }

    #[test]
    fn bad_values_are_refused_naming_the_flag() {
        for (line, flag) in [
            ("fleet --shards 0", "--shards"),
            ("fleet --rate 0", "--rate"),
            ("fleet --engine k8s", "--engine"),
            ("smoke --timeout-secs 0", "--timeout-secs"),
            ("image --engine lxc", "--engine"),
            ("bench --runs many", "--runs"),
            ("bench nothing", "PART"),
            ("fleet --bogus", "--bogus"),
        ] {
            let error = parse(line).map(|_| ()).expect_err(line);
            assert!(error.to_string().contains(flag), "{line}: {error}");
        }
    }

    #[test]
    fn stub_passes_every_argument_on() {
        let Ok(Cli { task: Some(Task::Stub(stub)) }) = parse("stub --help --port 0 -x") else {
            panic!("stub does not parse");
        };
        assert_eq!(stub.args, ["--help", "--port", "0", "-x"]);
    }

    #[test]
    fn fleet_defaults_are_the_flags_defaults() {
        let options = fleet::Options::default();
        assert_eq!((options.shards, options.parallel, options.rate), (8, 4, 4));
        assert_eq!(options.engine, fleet::IndexVars::Batch);
        assert!(!options.release && !options.like_workspace_tests && options.stub_args.is_empty());
        let Ok(Cli { task: Some(Task::Fleet(parsed)) }) = parse("fleet --stub-arg --rate-500")
        else {
            panic!("fleet does not parse");
        };
        assert_eq!(parsed.stub_args, ["--rate-500"]);
        assert_eq!(smoke::Options::default().timeout_secs, 600);
    }
}
