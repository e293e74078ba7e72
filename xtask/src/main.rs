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

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) =
        args.split_first().map(|(task, rest)| (task.as_str(), rest)).unwrap_or(("help", &[]));
    match task {
        "test" => test::run(rest),
        "bench" => bench::run(rest),
        "image" => image::run(rest),
        "fleet" => fleet::run(rest),
        "smoke" => smoke::run(rest),
        "demo" => smoke::demo(rest),
        "fresh-machine" => tools::check_fresh_machine_build(),
        "env-example" => env_example(rest),
        "stub" => stub(rest),
        "help" | "--help" | "-h" => {
            println!("{HELP}");
            Ok(())
        }
        other => bail!("unknown task {other:?}\n\n{HELP}"),
    }
}

const HELP: &str = "\
cargo xtask <task>

tasks:
  test                  everything CI runs: fmt, clippy -D warnings, nextest, doc tests, docs, .env.example check
  env-example [--check] write .env.example from md-config's variable table (--check: fail if it is stale)
  bench [mirror|formats|memory|rate|keys|convert] [--runs N] [--quick] [--write-docs]
                        every benchmark (or one), side by side with the alternatives: md-cli download vs the official
                        Python client and curl (loopback and WAN-like), raw vs parquet vs raw,parquet output, peak
                        RSS over 64 MiB and 1 GiB files (raw and raw,parquet), the rate
                        limiter, keys/s, CSV.gz -> Parquet vs DuckDB/pyarrow/pandas; tables with ratios on stdout and
                        in target/bench/report.md (--write-docs: docs/BENCHMARKS.md); Python tools go into .venv
  image [--engine docker|podman] [--tag NAME]
                        static md-cli + CA bundle in a FROM scratch image (localhost/md:latest), built with docker
                        when an engine answers, else podman (CONTAINERS_CONF=deploy/containers.conf)
  fleet [--shards N] [--parallel P] [--rate R] [--engine batch|cloud-run|kubernetes|plain] ...
                        N md-cli download processes against the Tardis stand-in and the GCS fake; checks every unit
                        was done exactly once and prints units, bytes, wall time and peak request rate (--help)
  smoke [--exchange ID] [--instrument-type TYPE] [--data-type TYPE] [--timeout-secs N] [--keep DIR] ...
                        needs internet: md-cli pipeline against the real Tardis (--api-url, --datasets-url) for
                        deribit perpetual trades on the latest free day (the latest 1st of a month exported whole),
                        into a temporary directory; checks every object (complete gzip, size and CRC32C recorded)
                        and that md-cli missing reports nothing missing; prints a summary. Without network access it
                        fails within 30 s with one line saying so. TARDIS_API_KEY is not passed on (--help)
  demo [--keep DIR]     no network needed: starts the local Tardis stand-in, runs the README's main job (md-cli
                        pipeline) against it into a temporary directory, checks it as smoke does, and prints the
                        objects stored (bytes, verified) and md-cli missing's summary; --keep DIR keeps the output
  fresh-machine         check that md-cli's default build needs only the Rust toolchain and a C compiler (cargo
                        check with nasm, autotools, libtool and cmake hidden from PATH; no isal-sys in its tree)
  stub [ARGS]           run the Tardis stand-in on 127.0.0.1 (default port 8700) to try md-cli offline;
                        ARGS go to tardis-stub (e.g. --key TD.x --file-size 32M --rate-500 0.1; --help lists them)";

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

fn env_example(args: &[String]) -> Result<()> {
    let path = root().join(".env.example");
    let expected = md_config::env_example();
    if args.iter().any(|arg| arg == "--check") {
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
