//! `cargo xtask smoke`: the README's main job against the real Tardis, on the latest free day, for anyone with
//! internet. It writes only to a temporary directory (or to `--keep DIR`).
//!
//! 1. Builds md-cli (`cargo build -p md-cli`), unless `--md-cli PATH` names one.
//! 2. Reachability and the day, in one bounded step ([`REACH_BOUND`]): `md-cli instruments --exchanges E --from
//!    latest --to latest` with a run id, 5 s connect and idle-read timeouts and no retries, into a scratch sink.
//!    md-cli resolves `latest` from `datasets.exportedUntil` of `GET {api}/v1/exchanges/E` (the last day exported
//!    whole: exportedUntil's date minus one day) and records it in `manifests/runs/{run id}.json`. md-cli is the
//!    HTTP client here because it speaks TLS and honours proxies, which xtask's loopback client does not. When the
//!    step fails or runs out of time, the task fails with one line that names the URL and the cause.
//! 3. The day D is the latest first of a month that Tardis has exported whole (`D.day() == 1` and
//!    `D + 1 day <= exportedUntil`): the 1st of the last exported day's month ([`free_day`]). It needs no API key.
//! 4. Runs `md-cli pipeline --exchanges E --instrument-types T --data-types DT --from D --to D` into a temporary
//!    local sink, then `md-cli missing` for the same selection.
//! 5. Checks: both exit 0; `missing` prints `0 of N planned units missing` with N >= 1; the download manifest is
//!    complete, done exactly what the sink holds, and records the exchange's `exportedUntil`, by which D is the
//!    latest free day; under `raw_tick_data/` the sink holds N objects, each a complete file (gzip or Parquet) whose size and CRC32C
//!    match its sidecar record (`.md-meta/<name>`, how local sinks record them).
//! 6. Prints the exchange, day, units, bytes, seconds and where the output went (removed, or kept).
//!
//! md-cli runs in a scratch directory (no `.env` there), with an empty `--config` file and `HOME` there, and without
//! any variable md-config reads (nor any other `TARDIS_*` or `MD_*`) from this process's environment: no
//! `TARDIS_API_KEY` (the free day needs none), no sink, shard or engine variables. Proxy and TLS variables pass
//! through. `--timeout-secs` bounds the whole run after the build: md-cli is stopped when the time runs out.
//!
//! `cargo xtask test` runs [`against_stand_in`]: the smoke against `tardis-stub` on 127.0.0.1, then against
//! endpoints that cannot be reached (`cargo xtask smoke --against-stand-in` runs that step alone).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use downloader::download::RunDays;
use downloader::download::manifest::{self, Manifest, RunStatus};

use crate::cargo;

/// The longest the reachability step may take, whatever the network does (refused, unresolvable, silent).
const REACH_BOUND: Duration = Duration::from_secs(25);
/// md-cli's connect and idle-read timeouts in the reachability step, in seconds.
const REACH_TIMEOUT_SECS: &str = "5";
/// The run id of the reachability step, naming its record `manifests/runs/{RUN_ID}.json`.
const RUN_ID: &str = "md-smoke-reach";
/// How long `cargo xtask test` waits for a smoke against an unreachable endpoint to give up.
const UNREACHABLE_LIMIT: Duration = Duration::from_secs(30);

/// Needs internet: md-cli pipeline against the real Tardis on the latest free day, checked.
///
/// Runs the README's main job (md-cli pipeline) against the real Tardis for one exchange, instrument type and data
/// type on the latest free day: the latest 1st of a month that the exchange has exported whole (D + 1 day <= its
/// datasets.exportedUntil), which needs no API key. It writes to a temporary directory only, then checks every
/// object under raw_tick_data/ (a complete Parquet file or gzip, its size and CRC32C recorded), that `md-cli
/// missing` reports 0 of N >= 1 planned units missing, and that the download manifest is complete; it prints
/// exchange, day, units, bytes, seconds and where the output went. Needs internet: it first asks Tardis what it has
/// exported (GET {api}/v1/exchanges/{ID}, through md-cli, with 5 s timeouts and no retries) and, when that fails,
/// exits 1 within 30 s with one line saying Tardis cannot be reached from this machine. Deribit's perpetual trades
/// take a minute or a few, depending on the link.
///
/// TARDIS_API_KEY is never passed on (the free day needs none), nor any other variable md-config reads; proxy and
/// TLS variables are.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) options: Options,
    /// The check `cargo xtask test` runs, instead of the smoke: the smoke against tardis-stub on 127.0.0.1 (it must
    /// pass), then against `http://127.0.0.1:1` and `http://md-smoke-unreachable.invalid` (each must fail within 30 s
    /// with one line on stderr naming the URL).
    #[arg(long)]
    pub(crate) against_stand_in: bool,
}

/// What to run: by default the real Tardis, Deribit perpetuals' trades, 10 minutes.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Options {
    /// Datasets service.
    #[arg(long, value_name = "URL", default_value = "https://datasets.tardis.dev")]
    pub(crate) datasets_url: String,
    /// Metadata API.
    #[arg(long, value_name = "URL", default_value = "https://api.tardis.dev")]
    pub(crate) api_url: String,
    /// Tardis exchange id.
    #[arg(long, value_name = "ID", default_value = "deribit")]
    pub(crate) exchange: String,
    /// spot, perpetual, future, option or combo.
    #[arg(long, value_name = "TYPE", default_value = "perpetual")]
    pub(crate) instrument_type: String,
    /// Tardis data type.
    #[arg(long, value_name = "TYPE", default_value = "trades")]
    pub(crate) data_type: String,
    /// Bound of the whole run after building md-cli, in seconds; md-cli is stopped then.
    #[arg(long, value_name = "N", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) timeout_secs: u64,
    /// Write the output to DIR (absent or empty) and keep it, instead of a removed temporary directory.
    #[arg(long, value_name = "DIR")]
    pub(crate) keep: Option<PathBuf>,
    /// Run this md-cli instead of building one (cargo build -p md-cli).
    #[arg(long, value_name = "PATH")]
    pub(crate) md_cli: Option<PathBuf>,
}

impl Default for Options {
    /// What the flags default to.
    fn default() -> Self {
        crate::defaults()
    }
}

pub(crate) fn run(args: Args) -> Result<()> {
    if args.against_stand_in {
        println!("{}", against_stand_in(false)?);
        return Ok(());
    }
    let mut options = args.options;
    for url in [&mut options.datasets_url, &mut options.api_url] {
        *url = url.trim_end_matches('/').to_owned();
    }
    println!("{}", smoke(&options)?);
    Ok(())
}

/// Runs the smoke and its checks; the summary is what to print.
pub(crate) fn smoke(options: &Options) -> Result<Summary> {
    let md_cli = match &options.md_cli {
        Some(path) => path.clone(),
        None => build_md_cli()?,
    };
    let scratch = Scratch::create()?;
    let sink = match &options.keep {
        Some(dir) => prepare_kept(dir)?,
        None => scratch.root.join("sink"),
    };
    let run = Run::new(&md_cli, options, &scratch.root)?;

    let last_exported = run.reach()?;
    let day = free_day(last_exported);
    if std::env::var_os("TARDIS_API_KEY").is_some() {
        eprintln!("smoke: TARDIS_API_KEY is set and not passed on: the free day needs no key");
    }
    let selection = [
        "--instrument-types",
        &options.instrument_type,
        "--data-types",
        &options.data_type,
        "--from",
        &day.to_string(),
        "--to",
        &day.to_string(),
    ];
    eprintln!(
        "smoke: Tardis answered; {} {} {} on {day} into {}",
        options.exchange,
        options.instrument_type,
        options.data_type,
        sink.display()
    );

    let pipeline_started = Instant::now();
    let mut pipeline = run.md_cli(&["pipeline", "--exchanges", &options.exchange], &sink);
    pipeline.args(selection);
    run.finish(pipeline, "pipeline")?;
    let pipeline_secs = pipeline_started.elapsed().as_secs_f64();

    let mut missing = run.md_cli(&["missing", "--venues", &options.exchange], &sink);
    missing.args(selection);
    let missing = run.finish(missing, "missing")?;
    let counts = parse_missing_summary(&missing.stdout).with_context(|| {
        format!("md-cli missing printed no summary line; its output:\n{}", missing.stdout)
    })?;

    let mut violations = Vec::new();
    if counts.missing != 0 {
        violations.push(format!(
            "md-cli missing reports {} of {} planned units missing ({})",
            counts.missing, counts.planned, counts.report
        ));
    }
    if counts.planned == 0 {
        violations.push("md-cli missing reports no planned unit: nothing was tested".into());
    }
    let stored = check_objects(&sink, &mut violations)?;
    let missing_line = missing
        .stdout
        .lines()
        .rev()
        .find(|line| line.contains(" planned units missing; "))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let exported_until = check_manifest(&sink, &options.exchange, day, &stored, &mut violations)?;
    if stored.names.len() as u64 != counts.planned {
        violations.push(format!(
            "the sink holds {} objects under raw_tick_data/, md-cli missing planned {}",
            stored.names.len(),
            counts.planned
        ));
    }
    ensure!(
        violations.is_empty(),
        "smoke: {} check(s) failed for {} on {day} (output in {}):\n  - {}",
        violations.len(),
        options.exchange,
        sink.display(),
        violations.join("\n  - ")
    );
    let output = match &options.keep {
        Some(_) => format!("kept in {}", sink.display()),
        None => format!("removed (was {})", sink.display()),
    };
    Ok(Summary {
        exchange: options.exchange.clone(),
        instrument_type: options.instrument_type.clone(),
        data_type: options.data_type.clone(),
        day,
        exported_until,
        units: counts.planned,
        bytes: stored.bytes,
        seconds: run.started.elapsed().as_secs_f64(),
        pipeline_secs,
        output,
        objects: stored
            .names
            .iter()
            .map(|name| {
                let size = fs::metadata(sink.join(name)).map(|meta| meta.len()).unwrap_or_default();
                (name.clone(), size)
            })
            .collect(),
        missing_line,
    })
}

/// What a successful smoke found.
#[derive(Debug)]
pub(crate) struct Summary {
    exchange: String,
    instrument_type: String,
    data_type: String,
    day: NaiveDate,
    exported_until: DateTime<Utc>,
    units: u64,
    bytes: u64,
    seconds: f64,
    pipeline_secs: f64,
    output: String,
    /// Every object stored under `raw_tick_data/`, with its size.
    objects: Vec<(String, u64)>,
    /// `md-cli missing`'s summary line.
    missing_line: String,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "smoke: ok: {} {} {} on {}, the latest free day ({} exported until {})",
            self.exchange,
            self.instrument_type,
            self.data_type,
            self.day,
            self.exchange,
            self.exported_until.to_rfc3339()
        )?;
        writeln!(
            f,
            "smoke: {} units planned and stored, 0 missing; {} bytes, every object a complete file with its size and CRC32C recorded",
            self.units, self.bytes
        )?;
        write!(
            f,
            "smoke: {:.1} s (md-cli pipeline {:.1} s); output {}",
            self.seconds, self.pipeline_secs, self.output
        )
    }
}

/// Builds md-cli quietly (cargo's own errors still show) and returns its path.
fn build_md_cli() -> Result<PathBuf> {
    let status = cargo()
        .args(["build", "--quiet", "--locked", "--package", "md-cli", "--bin", "md-cli"])
        .status()
        .context("cannot run cargo build -p md-cli")?;
    ensure!(status.success(), "smoke: cargo build -p md-cli failed ({status})");
    Ok(crate::target_dir().join("debug").join("md-cli"))
}

/// A temporary directory, removed on drop.
struct Scratch {
    root: PathBuf,
}

impl Scratch {
    fn create() -> Result<Scratch> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default();
        let root = std::env::temp_dir().join(format!("md-smoke-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        Ok(Scratch { root })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// `--keep DIR`: absent or empty, made absolute.
fn prepare_kept(dir: &Path) -> Result<PathBuf> {
    let dir = std::path::absolute(dir).with_context(|| format!("--keep {}", dir.display()))?;
    if dir.exists() {
        let mut entries =
            fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        ensure!(entries.next().is_none(), "--keep {} is not empty", dir.display());
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// One smoke run: md-cli, the endpoints, the scratch directories and the time budget.
struct Run<'a> {
    md_cli: &'a Path,
    options: &'a Options,
    /// md-cli's working directory and `HOME`; holds the empty config file and the logs.
    work: PathBuf,
    config_file: PathBuf,
    /// The scratch sink of the reachability step.
    reach_sink: PathBuf,
    started: Instant,
    deadline: Instant,
}

impl<'a> Run<'a> {
    fn new(md_cli: &'a Path, options: &'a Options, scratch: &Path) -> Result<Run<'a>> {
        let work = scratch.join("work");
        fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
        let config_file = work.join("config.yaml");
        fs::write(&config_file, "")
            .with_context(|| format!("writing {}", config_file.display()))?;
        let started = Instant::now();
        Ok(Run {
            md_cli,
            options,
            work,
            config_file,
            reach_sink: scratch.join("reach"),
            started,
            deadline: started + Duration::from_secs(options.timeout_secs),
        })
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// md-cli with our configuration only (see the module docs).
    fn md_cli(&self, args: &[&str], sink: &Path) -> Command {
        let mut command = Command::new(self.md_cli);
        command.arg("--config").arg(&self.config_file).args(args).current_dir(&self.work);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if md_config::spec(&name).is_some()
                || name.starts_with("TARDIS_")
                || name.starts_with("MD_")
            {
                command.env_remove(&*name);
            }
        }
        command
            .env("HOME", &self.work)
            .env("MD_SINK", sink)
            .env("TARDIS_BASE_URL", &self.options.datasets_url)
            .env("TARDIS_API_URL", &self.options.api_url)
            .env("LOG_LEVEL", "WARNING");
        command
    }

    /// The reachability step: the last day the exchange has exported whole, as md-cli resolves `latest`.
    fn reach(&self) -> Result<NaiveDate> {
        let api = &self.options.api_url;
        let exchange = &self.options.exchange;
        let mut command = self.md_cli(
            &["instruments", "--exchanges", exchange, "--from", "latest", "--to", "latest"],
            &self.reach_sink,
        );
        command
            .env("MD_RUN_ID", RUN_ID)
            .env("TARDIS_CONNECT_TIMEOUT", REACH_TIMEOUT_SECS)
            .env("TARDIS_TIMEOUT", REACH_TIMEOUT_SECS)
            .env("TARDIS_MAX_RETRIES", "0");
        let bound = REACH_BOUND.min(self.remaining());
        let ran = run_bounded(command, bound, &self.work, "reach")?;
        match ran.status {
            None => bail!(unreachable(
                api,
                &format!(
                    "GET {api}/v1/exchanges/{exchange} did not complete within {} s",
                    bound.as_secs()
                )
            )),
            Some(status) if !status.success() => {
                let cause = md_cli_error(&ran.stderr)
                    .unwrap_or_else(|| format!("md-cli instruments exited with {status}"));
                if answered_with_status(&cause) {
                    bail!("smoke: Tardis at {api} answered with an error: {cause}");
                }
                bail!(unreachable(api, &cause));
            }
            Some(_) => {}
        }
        let record = self.reach_sink.join(RunDays::object_name(RUN_ID));
        let text = fs::read_to_string(&record).with_context(|| {
            format!("md-cli instruments wrote no run record {}", record.display())
        })?;
        let days: RunDays = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a run record", record.display()))?;
        days.latest_exported
            .with_context(|| format!("{} has no latest_exported: {text}", record.display()))
    }

    /// Runs an md-cli step within the remaining time; it must exit 0.
    fn finish(&self, command: Command, step: &str) -> Result<Ran> {
        let ran = run_bounded(command, self.remaining(), &self.work, step)?;
        let tail = |ran: &Ran| {
            let lines: Vec<&str> = ran.stderr.lines().chain(ran.stdout.lines()).collect();
            lines[lines.len().saturating_sub(30)..].join("\n")
        };
        match ran.status {
            None => bail!(
                "smoke: md-cli {step} did not finish within --timeout-secs {}; stopped it. Its output:\n{}",
                self.options.timeout_secs,
                tail(&ran)
            ),
            Some(status) if !status.success() => {
                bail!("smoke: md-cli {step} failed ({status}); its output:\n{}", tail(&ran))
            }
            Some(_) => Ok(ran),
        }
    }
}

/// The one line for a Tardis that cannot be reached.
fn unreachable(api: &str, cause: &str) -> String {
    format!(
        "smoke: cannot reach Tardis at {api} ({cause}): this machine has no network access to Tardis"
    )
}

/// md-cli's final error, without its `error: ` prefix.
fn md_cli_error(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .map(|cause| cause.trim().to_owned())
}

/// Whether md-cli's error says an HTTP status came back (`HTTP 404 from ...`): Tardis answered, so the network is
/// not what failed.
fn answered_with_status(cause: &str) -> bool {
    cause.match_indices("HTTP ").any(|(at, _)| {
        let status = &cause.as_bytes()[at + 5..];
        status.len() >= 4 && status[..3].iter().all(u8::is_ascii_digit) && status[3] == b' '
    })
}

/// How a bounded process ended: its status (`None`: stopped at the bound) and output.
struct Ran {
    status: Option<ExitStatus>,
    elapsed: Duration,
    stdout: String,
    stderr: String,
}

/// Runs `command` (stdout and stderr to files in `logs`, so no pipe fills), stopping it (SIGKILL, by its own
/// handle) when it outlives `bound`.
fn run_bounded(mut command: Command, bound: Duration, logs: &Path, name: &str) -> Result<Ran> {
    let program = command.get_program().to_string_lossy().into_owned();
    let stdout_path = logs.join(format!("{name}.stdout"));
    let stderr_path = logs.join(format!("{name}.stderr"));
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path)?)
        .stderr(File::create(&stderr_path)?)
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() >= bound {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read =
        |path: &Path| fs::read(path).map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    Ok(Ran {
        status,
        elapsed: started.elapsed(),
        stdout: read(&stdout_path)?,
        stderr: read(&stderr_path)?,
    })
}

/// The last day exported whole by `exported_until`: the last day D with `D + 1 day <= exported_until` (md-cli's
/// resolution of `latest`).
pub(crate) fn last_exported_day(exported_until: DateTime<Utc>) -> NaiveDate {
    exported_until.date_naive().pred_opt().expect("a day before exists")
}

/// The latest free day exported whole, given the last day exported whole: the 1st of its month.
pub(crate) fn free_day(last_exported: NaiveDate) -> NaiveDate {
    last_exported.with_day(1).expect("day 1 exists")
}

/// `md-cli missing`'s summary line: `{missing} of {planned} planned units missing; report written to {object}`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MissingSummary {
    missing: u64,
    planned: u64,
    report: String,
}

/// Finds the last summary line in `md-cli missing`'s stdout.
fn parse_missing_summary(stdout: &str) -> Option<MissingSummary> {
    stdout.lines().rev().find_map(|line| {
        let (counts, report) =
            line.trim().split_once(" planned units missing; report written to ")?;
        let (missing, planned) = counts.split_once(" of ")?;
        Some(MissingSummary {
            missing: missing.parse().ok()?,
            planned: planned.parse().ok()?,
            report: report.trim().to_owned(),
        })
    })
}

/// The objects under `raw_tick_data/`.
#[derive(Debug, Default)]
struct Stored {
    /// Names relative to the sink, `/`-separated, sorted.
    names: Vec<String>,
    bytes: u64,
}

/// Checks every object under `raw_tick_data/`: a `.csv.gz` is a complete gzip (every member inflates to its end,
/// CRC-32 and size trailers checked), a `.parquet` a complete Parquet file (its magic at both ends, and a footer
/// whose length fits the file); neither empty, each with a sidecar record whose size and CRC32C match the bytes.
fn check_objects(sink: &Path, violations: &mut Vec<String>) -> Result<Stored> {
    let mut names = Vec::new();
    let top = sink.join("raw_tick_data");
    if top.is_dir() {
        files_under(sink, &top, &mut names)?;
    }
    names.sort();
    let mut stored = Stored::default();
    for name in &names {
        let bytes = fs::read(sink.join(name)).with_context(|| format!("reading {name}"))?;
        stored.bytes += bytes.len() as u64;
        if bytes.is_empty() {
            violations.push(format!("{name} is empty"));
        } else if name.ends_with(".parquet") {
            if let Err(why) = check_parquet(&bytes) {
                violations.push(format!("{name} is not a complete Parquet file: {why}"));
            }
        } else if let Err(error) = std::io::copy(
            &mut flate2::read::MultiGzDecoder::new(bytes.as_slice()),
            &mut std::io::sink(),
        ) {
            violations.push(format!("{name} does not decompress completely as gzip: {error}"));
        }
        let sidecar = sink.join(".md-meta").join(name);
        match fs::read_to_string(&sidecar) {
            Ok(text) => match parse_sidecar(&text) {
                Some((size, crc)) => {
                    let actual = (bytes.len() as u64, crc32c::crc32c(&bytes));
                    if (size, crc) != actual {
                        violations.push(format!(
                            "{name}: {} bytes with CRC32C {:08x}, recorded {size} bytes and {crc:08x}",
                            actual.0, actual.1
                        ));
                    }
                }
                None => violations.push(format!("{name}: unreadable record {text:?}")),
            },
            Err(error) => violations.push(format!("{name}: no size and CRC32C recorded ({error})")),
        }
    }
    stored.names = names;
    Ok(stored)
}

/// A Parquet file's frame: `PAR1`, the data, the footer, the footer's length (4 bytes, little-endian), `PAR1`.
fn check_parquet(bytes: &[u8]) -> std::result::Result<(), String> {
    const MAGIC: &[u8] = b"PAR1";
    if bytes.len() < 12 || !bytes.starts_with(MAGIC) || !bytes.ends_with(MAGIC) {
        return Err(format!("no PAR1 magic at both ends of {} bytes", bytes.len()));
    }
    let length = &bytes[bytes.len() - 8..bytes.len() - 4];
    let footer = u32::from_le_bytes(length.try_into().expect("4 bytes")) as usize;
    if footer == 0 || footer + 12 > bytes.len() {
        return Err(format!("a footer of {footer} bytes does not fit in {} bytes", bytes.len()));
    }
    Ok(())
}

/// The files under `dir`, as names relative to `sink`.
fn files_under(sink: &Path, dir: &Path, names: &mut Vec<String>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            files_under(sink, &path, names)?;
        } else {
            let relative = path.strip_prefix(sink).expect("under the sink");
            let parts: Vec<String> = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            names.push(parts.join("/"));
        }
    }
    Ok(())
}

/// A local sink's sidecar record (`md-size=N`, `md-crc32c=8 hex digits`, `identity=...`): size and CRC32C.
fn parse_sidecar(text: &str) -> Option<(u64, u32)> {
    let value = |key: &str| {
        text.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix('=')).map(str::trim)
    };
    let size = value("md-size")?.parse().ok()?;
    let crc = value("md-crc32c").filter(|crc| crc.len() == 8)?;
    Some((size, u32::from_str_radix(crc, 16).ok()?))
}

/// Checks the one download manifest (`manifests/download/{D}_{D}/shard-0000-of-0001.json`): complete, nothing
/// failed, done exactly the stored objects, and by the `exportedUntil` it records D is the latest free day.
fn check_manifest(
    sink: &Path,
    exchange: &str,
    day: NaiveDate,
    stored: &Stored,
    violations: &mut Vec<String>,
) -> Result<DateTime<Utc>> {
    let name = manifest::object_name(day, day, 0, 1);
    let text = fs::read_to_string(sink.join(&name))
        .with_context(|| format!("smoke: md-cli pipeline wrote no manifest {name}"))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{name} is not a download manifest"))?;
    if manifest.status != RunStatus::Complete || manifest.units.failed != 0 {
        violations.push(format!(
            "{name}: status {}, failed units {}",
            crate::fleet::status_text(manifest.status),
            manifest.units.failed
        ));
    }
    let mut done = manifest.done_objects.clone();
    done.sort();
    if done != stored.names {
        violations.push(format!(
            "{name} reports {} objects done, the sink holds {} under raw_tick_data/",
            done.len(),
            stored.names.len()
        ));
    }
    let exported_until = *manifest
        .exported_until
        .get(exchange)
        .with_context(|| format!("{name} records no exportedUntil for {exchange}"))?;
    let latest = free_day(last_exported_day(exported_until));
    if latest != day {
        violations.push(format!(
            "{exchange} is exported until {}, so the latest free day is {latest}, not {day}",
            exported_until.to_rfc3339_opts(SecondsFormat::AutoSi, true)
        ));
    }
    Ok(exported_until)
}

/// The key the stand-in requires in `--against-stand-in`; the smoke's child gets another in `TARDIS_API_KEY`, which a
/// smoke that passed it on would send and have refused.
const STAND_IN_KEY: &str = "TD.smoke-stand-in";

/// The check `cargo xtask test` runs: the smoke against `tardis-stub` on 127.0.0.1 with `exportedUntil` now (it
/// must pass, on the 1st of this month, or of the previous month on a 1st), then against endpoints that cannot be
/// reached (each must fail within 30 s, with exactly one line on stderr naming the URL). Returns the report.
pub(crate) fn against_stand_in(like_workspace_tests: bool) -> Result<String> {
    let fleet = crate::fleet::Options { like_workspace_tests, ..crate::fleet::Options::default() };
    let binaries = crate::fleet::Binaries::build(&fleet)?;
    let md_cli = binaries.md_cli.to_string_lossy().into_owned();
    let work = crate::target_dir().join("xtask-smoke");
    if work.exists() {
        fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    }
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let xtask = std::env::current_exe().context("cannot find the running xtask")?;
    let smoke = |urls: &str, bound: Duration, name: &str| {
        let mut command = Command::new(&xtask);
        command
            .args(["smoke", "--md-cli", &md_cli, "--datasets-url", urls, "--api-url", urls])
            .args(["--timeout-secs", "300"])
            .env("TARDIS_API_KEY", "TD.not-for-the-smoke");
        run_bounded(command, bound, &work, name)
    };

    let now = Utc::now();
    let stub =
        start_stand_in(&binaries, &work, now, &["--key", STAND_IN_KEY, "--file-size", "16K"])?;
    let day = free_day(last_exported_day(now));
    let ran = smoke(&stub.url, Duration::from_secs(360), "smoke-stand-in")?;
    ensure!(
        ran.status.is_some_and(|status| status.success()),
        "cargo xtask smoke against the stand-in {} ({:?}); stderr:\n{}\nstdout:\n{}",
        if ran.status.is_some() { "failed" } else { "did not finish" },
        ran.status,
        ran.stderr,
        ran.stdout
    );
    let expected = format!(" on {day}, the latest free day");
    ensure!(
        ran.stdout.contains(&expected),
        "cargo xtask smoke against the stand-in did not report {expected:?}:\n{}",
        ran.stdout
    );
    drop(stub);
    let mut report = format!(
        "smoke against the stand-in ({}, exportedUntil {}): passed in {:.1} s\n{}",
        binaries.tardis_stub.display(),
        now.to_rfc3339(),
        ran.elapsed.as_secs_f64(),
        ran.stdout.trim_end()
    );

    for (index, url) in
        ["http://127.0.0.1:1", "http://md-smoke-unreachable.invalid"].iter().enumerate()
    {
        let ran = smoke(url, UNREACHABLE_LIMIT * 2, &format!("smoke-unreachable-{index}"))?;
        let lines: Vec<&str> = ran.stderr.lines().filter(|line| !line.trim().is_empty()).collect();
        ensure!(
            ran.status.is_some_and(|status| !status.success())
                && ran.elapsed < UNREACHABLE_LIMIT
                && lines.len() == 1
                && lines[0].contains(url),
            "cargo xtask smoke against {url} must fail within {UNREACHABLE_LIMIT:?} with one line on stderr naming \
             the URL; it ended {:?} after {:.1} s with stderr:\n{}",
            ran.status,
            ran.elapsed.as_secs_f64(),
            ran.stderr
        );
        report.push_str(&format!(
            "\nsmoke against {url}: {} after {:.2} s: {}",
            ran.status.map_or_else(|| "stopped".to_owned(), |status| status.to_string()),
            ran.elapsed.as_secs_f64(),
            lines[0]
        ));
    }
    Ok(report)
}

/// Starts `tardis-stub` on a free loopback port with every exchange's `exportedUntil` at `exported_until` (so the
/// latest free day is this month's 1st, or last month's on a 1st), logging to `work/tardis-stub.log`.
fn start_stand_in(
    binaries: &crate::fleet::Binaries,
    work: &Path,
    exported_until: DateTime<Utc>,
    extra: &[&str],
) -> Result<crate::fleet::Server> {
    let mut stub = crate::fleet::command_with(&binaries.tardis_stub, &["--port", "0"]);
    stub.args(extra).args(["--exported-until", &exported_until.to_rfc3339()]);
    crate::fleet::Server::start(stub, "tardis-stub listening on ", &work.join("tardis-stub.log"))
}

/// No network needed: the smoke's main job and checks against the local Tardis stand-in.
///
/// Shows md at work on a machine without network: starts the local Tardis stand-in (test-support's tardis-stub, on
/// 127.0.0.1, serving generated files in the real shapes and the real metadata fixtures), runs the README's main
/// job against it (md-cli pipeline --exchanges deribit --instrument-types perpetual --data-types trades on the
/// latest free day) into a temporary directory, checks every object as `cargo xtask smoke` does, and prints what
/// was stored (objects, bytes, verified) and md-cli missing's summary. The directory is removed afterwards unless
/// --keep is given.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Demo {
    /// Write the output to DIR (absent or empty) and keep it.
    #[arg(long, value_name = "DIR")]
    pub(crate) keep: Option<PathBuf>,
}

/// `cargo xtask demo`: the smoke's main job and checks, against the local Tardis stand-in (see [`Demo`]).
pub(crate) fn demo(args: Demo) -> Result<()> {
    println!("{}", run_demo(args.keep, false)?);
    Ok(())
}

/// Runs the demo (building md-cli and the stand-in as the workspace tests do when `like_workspace_tests`, so that
/// `cargo xtask test` rebuilds nothing) and returns what to print.
pub(crate) fn run_demo(keep: Option<PathBuf>, like_workspace_tests: bool) -> Result<String> {
    let fleet = crate::fleet::Options { like_workspace_tests, ..crate::fleet::Options::default() };
    let binaries = crate::fleet::Binaries::build(&fleet)?;
    let logs = crate::target_dir().join("xtask-demo");
    fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let stub = start_stand_in(&binaries, &logs, Utc::now(), &["--file-size", "256K"])?;
    eprintln!(
        "demo: the Tardis stand-in answers on {} (generated files, no network); running md-cli pipeline \
         --exchanges deribit --instrument-types perpetual --data-types trades against it",
        stub.url
    );
    let options = Options {
        datasets_url: stub.url.clone(),
        api_url: stub.url.clone(),
        timeout_secs: 300,
        keep,
        md_cli: Some(binaries.md_cli.clone()),
        ..Options::default()
    };
    let summary = smoke(&options).map_err(|error| {
        error.context(format!(
            "demo: the run against the stand-in failed (its log: {})",
            stub.log.display()
        ))
    })?;
    let mut out = format!(
        "demo: md-cli pipeline stored {} objects, {} bytes, for {} {} {} on {}; each verified (a complete file, \
         its size and CRC32C recorded):\n",
        summary.objects.len(),
        summary.bytes,
        summary.exchange,
        summary.instrument_type,
        summary.data_type,
        summary.day
    );
    for (name, size) in &summary.objects {
        out.push_str(&format!("  {name}  {size} bytes\n"));
    }
    out.push_str(&format!("demo: md-cli missing: {}\n", summary.missing_line));
    out.push_str(&format!("demo: {:.1} s; output {}", summary.seconds, summary.output));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_day_is_the_latest_first_of_a_month_exported_whole() {
        for (exported_until, expected) in [
            // The 1st is exported whole once exportedUntil reaches the 2nd.
            ("2026-12-02T00:00:00Z", "2026-12-01"),
            ("2026-12-02T06:10:00Z", "2026-12-01"),
            ("2026-12-01T23:59:59Z", "2026-11-01"),
            ("2026-12-01T00:00:00Z", "2026-11-01"),
            ("2026-11-24T00:00:00Z", "2026-11-01"),
            ("2027-01-01T06:00:00Z", "2026-12-01"),
            ("2024-03-01T00:00:00Z", "2024-02-01"),
        ] {
            let chosen = free_day(last_exported_day(time(exported_until)));
            assert_eq!(chosen, day(expected), "exportedUntil {exported_until}");
            let whole =
                |d: NaiveDate| d.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
            assert!(chosen.day() == 1 && whole(chosen) <= time(exported_until));
            let next_first = chosen.checked_add_months(chrono::Months::new(1)).unwrap();
            assert!(whole(next_first) > time(exported_until), "{next_first} is exported too");
        }
    }

    #[test]
    fn with_fresh_exports_the_day_is_md_configs_clock_rule() {
        // Tardis exports day D around 06:00 on D + 1: then exportedUntil gives md-config's latest_free_day(today).
        for today in
            ["2026-12-01", "2026-12-02", "2026-12-04", "2026-12-31", "2027-01-01", "2024-03-01"]
        {
            let exported_until = day(today).and_hms_opt(6, 0, 0).unwrap().and_utc();
            assert_eq!(
                free_day(last_exported_day(exported_until)),
                md_config::latest_free_day(day(today)),
                "today {today}"
            );
        }
    }

    #[test]
    fn reads_the_missing_summary_line() {
        let stdout = "2026-11-01 deribit trades BTC-PERPETUAL ... missing\n\n\
            stored and verified 2, unverified 0, missing 1, not yet exported 0, inside an incident 0\n\
            deribit: exported until 2026-11-24 00:00:00 UTC\n\
            1 of 3 planned units missing; report written to reports/missing/missing_2026-11-01_2026-11-01.json\n";
        assert_eq!(
            parse_missing_summary(stdout),
            Some(MissingSummary {
                missing: 1,
                planned: 3,
                report: "reports/missing/missing_2026-11-01_2026-11-01.json".into()
            })
        );
        let none = "\n0 of 0 planned units missing; report written to reports/missing/x.json";
        assert_eq!(parse_missing_summary(none).map(|summary| summary.planned), Some(0));
        for broken in
            ["", "3 planned units missing", "x of 3 planned units missing; report written to r"]
        {
            assert_eq!(parse_missing_summary(broken), None, "{broken:?}");
        }
    }

    #[test]
    fn tells_an_http_answer_from_no_answer() {
        assert!(answered_with_status(
            "GET /v1/exchanges/nosuch: HTTP 404 from http://127.0.0.1:9/v1/exchanges/nosuch after 1 attempt(s)"
        ));
        assert!(!answered_with_status(
            "cannot connect for http://127.0.0.1:1/v1/exchanges/deribit: tcp connect error: Connection refused"
        ));
        assert!(!answered_with_status("error sending request for HTTP 1.1 upgrade"));
        assert_eq!(
            md_cli_error("WARN x\nerror: cannot learn what Tardis has exported: refused\n")
                .as_deref(),
            Some("cannot learn what Tardis has exported: refused")
        );
        assert_eq!(md_cli_error("thread panicked\n"), None);
    }

    #[test]
    fn checks_gzip_completeness_and_recorded_digests() {
        use std::io::Write;
        let sink = std::env::temp_dir().join(format!("md-smoke-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&sink);
        let dir = "raw_tick_data/by_date/day-2026-11-01/data_type-trades";
        fs::create_dir_all(sink.join(dir)).unwrap();
        fs::create_dir_all(sink.join(".md-meta").join(dir)).unwrap();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"exchange,symbol,timestamp\nderibit,BTC-PERPETUAL,1\n").unwrap();
        let good = encoder.finish().unwrap();
        let record = |bytes: &[u8]| {
            format!(
                "md-size={}\nmd-crc32c={:08x}\nidentity=inode:1\n",
                bytes.len(),
                crc32c::crc32c(bytes)
            )
        };
        let truncated = &good[..good.len() - 6];
        let objects: [(&str, &[u8], Option<String>); 4] = [
            ("A.csv.gz", &good, Some(record(&good))),
            ("B.csv.gz", truncated, Some(record(truncated))),
            ("C.csv.gz", &good, Some(record(b"other bytes"))),
            ("D.csv.gz", &good, None),
        ];
        for (name, bytes, sidecar) in objects {
            fs::write(sink.join(dir).join(name), bytes).unwrap();
            if let Some(sidecar) = sidecar {
                fs::write(sink.join(".md-meta").join(dir).join(name), sidecar).unwrap();
            }
        }
        let mut violations = Vec::new();
        let stored = check_objects(&sink, &mut violations).unwrap();
        fs::remove_dir_all(&sink).unwrap();
        assert_eq!(stored.names.len(), 4);
        assert_eq!(stored.names[0], format!("{dir}/A.csv.gz"));
        assert_eq!(stored.bytes, 3 * good.len() as u64 + truncated.len() as u64);
        assert_eq!(violations.len(), 3, "{violations:#?}");
        assert!(
            violations[0].contains("B.csv.gz does not decompress completely"),
            "{violations:#?}"
        );
        assert!(
            violations[1].contains("C.csv.gz: ") && violations[1].contains("recorded 11 bytes")
        );
        assert!(violations[2].contains("D.csv.gz: no size and CRC32C recorded"));
    }

    #[test]
    fn checks_the_frame_of_parquet_objects() {
        let mut good = b"PAR1".to_vec();
        good.extend_from_slice(&[7; 20]); // data
        good.extend_from_slice(&[9; 10]); // footer
        good.extend_from_slice(&10u32.to_le_bytes());
        good.extend_from_slice(b"PAR1");
        assert_eq!(check_parquet(&good), Ok(()));
        let cut = &good[..good.len() - 3];
        assert!(check_parquet(cut).unwrap_err().contains("no PAR1 magic"));
        let mut long_footer = good.clone();
        let at = long_footer.len() - 8;
        long_footer[at..at + 4].copy_from_slice(&1000u32.to_le_bytes());
        assert!(check_parquet(&long_footer).unwrap_err().contains("does not fit"));
        assert!(check_parquet(b"PAR1PAR1").is_err());
    }

    #[test]
    fn reads_sidecar_records() {
        assert_eq!(
            parse_sidecar("md-size=42\nmd-crc32c=00abcdef\nidentity=etag\n"),
            Some((42, 0xabcdef))
        );
        assert_eq!(parse_sidecar("md-size=42\nmd-crc32c=abc\n"), None);
        assert_eq!(parse_sidecar("md-crc32c=00abcdef\n"), None);
    }
}
