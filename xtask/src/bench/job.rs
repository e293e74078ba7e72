//! The main job as the benches run it: `md-cli instruments` (untimed), `md-cli plan --json`, and a measured
//! `md-cli download`, each in a clean environment (only the variables given, in a directory of its own, so no
//! developer `.env` or `config.yaml` is read).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use downloader::download::summary::UnitLine;

use super::measure::{Measured, Meter, capture};

/// The Tardis key the stand-in expects in every bench.
pub(crate) const KEY: &str = "TD.bench-key";

/// The 16-file plan of the mirror and memory benches: 4 data types x 2 symbols x 2 days of one venue.
pub(crate) mod sixteen {
    pub(crate) const EXCHANGE: &str = "binance-futures";
    pub(crate) const FROM: &str = "2026-10-02";
    pub(crate) const TO: &str = "2026-10-03";
    /// `md-cli` flags that select the 16 units.
    pub(crate) const SELECTION: &[&str] = &[
        "--venues",
        EXCHANGE,
        "--instrument-types",
        "perpetual",
        "--data-types",
        "trades,incremental_book_L2,quotes,book_snapshot_5",
        "--max-instruments",
        "2",
    ];
    pub(crate) const FILES: usize = 16;
}

/// What the benches derive from a planned unit (a line of `md-cli plan --json`, read as downloader's own type).
pub(crate) trait UnitFiles {
    /// The dataset URL on a Tardis-like server.
    fn url(&self, base: &str) -> String;
    /// A file name for the unit (what the official client names it).
    fn file_name(&self) -> String;
}

impl UnitFiles for UnitLine {
    fn url(&self, base: &str) -> String {
        let date = self.date.format("%Y/%m/%d");
        format!("{base}/v1/{}/{}/{date}/{}.csv.gz", self.exchange, self.data_type, self.symbol)
    }

    fn file_name(&self) -> String {
        format!("{}_{}_{}_{}.csv.gz", self.exchange, self.data_type, self.date, self.symbol)
    }
}

/// What to download and where from.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) md_cli: PathBuf,
    /// Variables for every md-cli command (Tardis URLs and key, the sink, ...).
    pub(crate) env: Vec<(String, String)>,
    /// The exchanges whose definitions are written.
    pub(crate) exchanges: String,
    pub(crate) from: String,
    pub(crate) to: String,
    /// Flags selecting the units (`--venues`, `--data-types`, ...), besides `--from`/`--to`.
    pub(crate) selection: Vec<String>,
    /// Where md-cli runs (its working directory).
    pub(crate) dir: PathBuf,
}

impl Job {
    /// A job against the stand-in at `tardis_url`, writing to `sink`.
    pub(crate) fn new(md_cli: &Path, tardis_url: &str, sink: &str, dir: &Path) -> Job {
        let env = [
            ("TARDIS_BASE_URL", tardis_url),
            ("TARDIS_API_URL", tardis_url),
            ("TARDIS_API_KEY", KEY),
            ("MD_SINK", sink),
            ("LOG_LEVEL", "WARNING"),
            // The benchmarks measure the raw download unless a part sets another format (the default is Parquet).
            ("MD_OUTPUT_FORMAT", "raw"),
        ];
        Job {
            md_cli: md_cli.to_path_buf(),
            env: env
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            exchanges: String::new(),
            from: String::new(),
            to: String::new(),
            selection: Vec::new(),
            dir: dir.to_path_buf(),
        }
    }

    /// Adds or replaces a variable.
    pub(crate) fn var(mut self, name: &str, value: &str) -> Job {
        self.env.retain(|(existing, _)| existing != name);
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the range and the selection flags.
    pub(crate) fn select(mut self, exchanges: &str, from: &str, to: &str, flags: &[&str]) -> Job {
        self.exchanges = exchanges.to_owned();
        self.from = from.to_owned();
        self.to = to.to_owned();
        self.selection = flags.iter().map(|flag| (*flag).to_owned()).collect();
        self
    }

    fn command(&self, args: &[String]) -> Command {
        let mut command = Command::new(&self.md_cli);
        command.args(args).current_dir(&self.dir).env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        command.env("HOME", &self.dir);
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    fn args(&self, command: &str, extra: &[&str]) -> Vec<String> {
        let mut args = vec![command.to_owned(), "--from".into(), self.from.clone()];
        args.extend(["--to".into(), self.to.clone()]);
        if command == "instruments" {
            args.extend(["--exchanges".into(), self.exchanges.clone()]);
        } else {
            args.extend(self.selection.iter().cloned());
        }
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        args
    }

    /// Writes the instrument definitions of the range (untimed).
    pub(crate) fn instruments(&self) -> Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        capture(&mut self.command(&self.args("instruments", &[]))).context("md-cli instruments")?;
        Ok(())
    }

    /// Returns the plan's units.
    pub(crate) fn plan(&self) -> Result<Vec<UnitLine>> {
        let stdout =
            capture(&mut self.command(&self.args("plan", &["--json"]))).context("md-cli plan")?;
        stdout
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).with_context(|| format!("plan line {line:?}")))
            .collect()
    }

    /// Runs `md-cli download` under the meter and checks every planned unit was done.
    pub(crate) fn download(&self, meter: &Meter, units: usize) -> Result<Measured> {
        let mut command = vec![self.md_cli.to_str().context("UTF-8 path")?.to_owned()];
        command.extend(self.args("download", &[]));
        let mut env = self.env.clone();
        env.push(("HOME".into(), self.dir.to_string_lossy().into_owned()));
        let measured = meter.run_with(&command, &env, Some(&self.dir), None)?;
        let expected = format!("done {units}, skipped 0");
        if !measured.stdout.contains(&expected) {
            bail!("md-cli download did not do all {units} units:\n{}", measured.stdout);
        }
        Ok(measured)
    }
}

/// A bench's sixteen files, planned by md-cli and fetched once (untimed) into `reference`, which also warms the
/// stand-in (a new file is generated into its disk cache, then loaded into its memory).
pub(crate) struct Warmed {
    /// The plan's units.
    pub(crate) units: Vec<UnitLine>,
    /// The directory holding each file as the stand-in served it.
    pub(crate) reference: PathBuf,
    /// Bytes of all the files.
    pub(crate) total: u64,
}

/// Writes the definitions and plans with `planner` (whose directory `planning` is removed afterwards), checks the
/// plan has [`sixteen::FILES`] units, and fetches them once with curl into `work/reference`; `part` names the bench
/// part in the progress line.
pub(crate) fn plan_and_warm(
    planner: &Job,
    planning: &Path,
    work: &Path,
    meter: &Meter,
    url: &str,
    part: &str,
) -> Result<Warmed> {
    planner.instruments()?;
    let units = planner.plan()?;
    if units.len() != sixteen::FILES {
        bail!("the plan has {} units, expected {}: {units:?}", units.len(), sixteen::FILES);
    }
    super::remove_dir(planning)?;
    eprintln!("xtask: bench {part}: warming the stand-in");
    let reference = work.join("reference");
    curl(meter, &units, url, Some(&reference), 16)?;
    let total = units
        .iter()
        .map(|unit| Ok(std::fs::metadata(reference.join(unit.file_name()))?.len()))
        .sum::<Result<u64>>()?;
    Ok(Warmed { units, reference, total })
}

/// Fetches every unit with curl, `parallel` at a time (`xargs -P`), into `out` (named as the official client names
/// them) or to `/dev/null`.
pub(crate) fn curl(
    meter: &Meter,
    units: &[UnitLine],
    url: &str,
    out: Option<&Path>,
    parallel: usize,
) -> Result<Measured> {
    let scratch = super::target_dir().join("bench");
    std::fs::create_dir_all(&scratch)?;
    if let Some(out) = out {
        std::fs::create_dir_all(out)?;
    }
    let list = scratch.join(format!("curl-{}.list", std::process::id()));
    let mut lines = String::new();
    for unit in units {
        let target = out.map_or_else(|| "/dev/null".into(), |out| out.join(unit.file_name()));
        let _ = writeln!(lines, "{} -o {}", unit.url(url), target.display());
    }
    std::fs::write(&list, lines)?;
    let script = format!(
        "xargs -P{parallel} -n3 curl -sSf -H 'Authorization: Bearer {KEY}' < '{}'",
        list.display()
    );
    let measured = meter.run(&["sh".into(), "-c".into(), script]);
    std::fs::remove_file(&list)?;
    measured
}
