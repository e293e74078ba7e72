//! `cargo xtask bench [PART] [--runs N] [--quick] [--write-docs]`: every measured claim of the project, side by side
//! with the alternatives on the same machine in one run, printed as Markdown tables with ratios.
//!
//! Parts (all of them when none is named):
//! - `mirror`: `md-cli download` against the official Python client and parallel curl, loopback and WAN-like
//!   ([`mirror`]);
//! - `facts`: `md-cli download` with and without the per-file facts of issue 25 ([`facts`]);
//! - `formats`: `md-cli download` in each output format, `raw`, `parquet` and `raw,parquet` ([`formats`]);
//! - `memory`: peak RSS of `md-cli download` over 64 MiB and 1 GiB files, raw and `raw,parquet` ([`memory`]);
//! - `rate`: the per-second rate limiter as the Tardis stand-in saw it ([`rate`]);
//! - `keys`: canonical keys per second ([`keys`]);
//! - `convert`: CSV.gz -> Parquet against DuckDB, pyarrow and pandas ([`convert`]);
//! - `adopt`: adopting a bucket of 10,000 Parquet objects another writer left, on the GCS fake ([`adopt`]);
//! - `lake`: one day of one symbol's trades with DuckDB, default layout against the hive layout and its index
//!   ([`lake`]).
//!
//! Every process is measured by the kernel (`os.wait4` in a small Python runner, [`measure`]); each figure is the
//! median of `--runs` runs. The report goes to stdout and `target/bench/report.md`; `--write-docs` also replaces
//! the generated blocks of `docs/BENCHMARKS.md` (between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`).

mod adopt;
mod convert;
mod facts;
mod formats;
mod job;
mod keys;
mod lake;
mod measure;
mod memory;
mod mirror;
mod rate;
mod stand;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;

use self::measure::Meter;
use crate::{cargo, root, run_checked, target_dir};

/// Every benchmark (or the parts named), side by side with the alternatives.
///
/// Runs every benchmark part (or the parts named, in the order named) side by side with the alternatives on this
/// machine, as Markdown tables with ratios; each figure is the median of --runs runs.
///
/// The report is printed and written to target/bench/report.md. Python tools (tardis-dev, DuckDB, pyarrow, pandas)
/// are installed into the git-ignored .venv/ on first use; large stand-in files are cached under target/bench/.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Options {
    /// The parts to run (default: all of them, in this order).
    #[arg(value_enum, value_name = "PART")]
    parts: Vec<Part>,
    /// Runs per measurement; the median is reported [default: 3, or 1 with --quick].
    #[arg(long, value_name = "N")]
    runs: Option<usize>,
    /// One run each, no 1 GiB files (memory) and no 1 GiB conversion check (convert).
    #[arg(long)]
    pub(crate) quick: bool,
    /// Also replace the generated blocks of docs/BENCHMARKS.md with this run's tables.
    #[arg(long)]
    write_docs: bool,
    /// Compressed size of the conversion memory-check file, GiB (convert).
    #[arg(long, value_name = "G", default_value_t = 1.0)]
    pub(crate) large_gib: f64,
}

/// A benchmark part (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    /// Every part, in order.
    All,
    /// md-cli download against the official Python client and parallel curl, loopback and WAN-like.
    Mirror,
    /// md-cli download with and without the per-file facts.
    Facts,
    /// md-cli download in each output format: raw, parquet and raw,parquet.
    Formats,
    /// Peak RSS of md-cli download over 64 MiB and 1 GiB files, raw and raw,parquet.
    Memory,
    /// The per-second rate limiter as the Tardis stand-in saw it.
    Rate,
    /// Canonical keys per second.
    Keys,
    /// CSV.gz -> Parquet against DuckDB, pyarrow and pandas.
    Convert,
    /// Adopting a bucket of 10,000 Parquet objects another writer left, on the GCS fake.
    Adopt,
    /// One day of one symbol's trades with DuckDB, default layout against the hive layout and its index.
    Lake,
}

impl Part {
    /// Every part but `all`, in the order `cargo xtask bench` runs them.
    fn every() -> impl Iterator<Item = Part> {
        Part::value_variants().iter().copied().filter(|part| *part != Part::All)
    }
}

impl std::fmt::Display for Part {
    /// Its name on the command line, in the report and in docs/BENCHMARKS.md's block markers.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.to_possible_value().expect("no part is skipped").get_name())
    }
}

/// The release binaries the parts run.
#[derive(Debug, Clone)]
pub(crate) struct Binaries {
    pub(crate) md_cli: PathBuf,
    /// md-cli built without the `isal` feature: zlib-rs inflates.
    pub(crate) md_cli_zlib_rs: PathBuf,
    pub(crate) tardis_stub: PathBuf,
    pub(crate) fake_gcs: PathBuf,
    pub(crate) keygen: PathBuf,
    pub(crate) convert_bench: PathBuf,
    /// downloader's `convert_bench` built without the `isal` feature: zlib-rs inflates.
    pub(crate) convert_bench_zlib_rs: PathBuf,
    /// downloader's `adopt_bench`.
    pub(crate) adopt_bench: PathBuf,
}

impl Binaries {
    /// Where [`build`] puts each binary (release builds; the zlib-rs ones in their own target directory).
    fn in_target() -> Binaries {
        let release = target_dir().join("release");
        let zlib_rs = target_dir().join("zlib-rs/release");
        Binaries {
            md_cli: release.join("md-cli"),
            md_cli_zlib_rs: zlib_rs.join("md-cli"),
            tardis_stub: release.join("tardis-stub"),
            fake_gcs: release.join("fake-gcs"),
            keygen: release.join("examples/keygen"),
            convert_bench: release.join("examples/convert_bench"),
            convert_bench_zlib_rs: zlib_rs.join("examples/convert_bench"),
            adopt_bench: release.join("examples/adopt_bench"),
        }
    }
}

impl Options {
    /// The parts to run, `all` (or none named) expanded to every part.
    fn parts(&self) -> Vec<Part> {
        let mut parts: Vec<Part> = Vec::new();
        for part in &self.parts {
            match part {
                Part::All => parts.extend(Part::every()),
                part => parts.push(*part),
            }
        }
        if parts.is_empty() {
            parts.extend(Part::every());
        }
        parts
    }

    /// Runs per measurement, at least 1: `--runs`, else 3, or 1 with `--quick`.
    pub(crate) fn runs(&self) -> usize {
        self.runs.unwrap_or(if self.quick { 1 } else { 3 }).max(1)
    }
}

pub(crate) fn run(options: &Options) -> Result<()> {
    let parts = options.parts();
    let started = Instant::now();
    let machine_before = Machine::describe();
    // The adoption part needs only its own example and a Python for the runner: run alone, it builds nothing else;
    // the facts part alone builds only md-cli (ISA-L) and the stand-in.
    let only_adopt = parts.iter().all(|part| *part == Part::Adopt);
    let only_facts = parts.iter().all(|part| *part == Part::Facts);
    // The lake part runs Python alone: run alone, it builds nothing.
    let only_lake = parts.iter().all(|part| *part == Part::Lake);
    let binaries = if only_lake {
        Binaries::in_target()
    } else if only_adopt {
        build_only(ADOPT_ONLY)?
    } else if only_facts {
        crate::tools::ensure_isal_tools()?;
        build_only(FACTS_ONLY)?
    } else {
        build(&parts)?
    };
    let work = target_dir().join("bench");
    let python = if only_lake {
        measure::ensure_venv(
            &root().join(".venv"),
            "import duckdb, pyarrow",
            &["duckdb==1.4.2", "pyarrow==14.0.1", "numpy==1.24.4"],
        )?
    } else if only_adopt || only_facts {
        measure::ensure_venv(&root().join(".venv"), "import sys", &[])?
    } else {
        measure::ensure_venv(
            &root().join(".venv"),
            "import tardis_dev, duckdb, pyarrow, pandas",
            &["tardis-dev", "duckdb", "pyarrow", "pandas"],
        )?
    };
    let meter = Meter::new(python, &work)?;

    let mut sections: Vec<(Part, String)> = Vec::new();
    for part in &parts {
        eprintln!("xtask: bench {part}");
        let body = match *part {
            Part::Mirror => mirror::run(options, &binaries, &meter)?,
            Part::Facts => facts::run(options, &binaries, &meter)?,
            Part::Formats => formats::run(options, &binaries, &meter)?,
            Part::Memory => memory::run(options, &binaries, &meter)?,
            Part::Rate => rate::run(options, &binaries, &meter)?,
            Part::Keys => keys::run(options, &binaries)?,
            Part::Convert => convert::run(options, &binaries, &meter)?,
            Part::Adopt => adopt::run(options, &binaries, &meter)?,
            Part::Lake => lake::run(options, &meter)?,
            Part::All => unreachable!("`all` is expanded above"),
        };
        println!("\n## {part}\n\n{body}");
        sections.push((*part, body));
    }
    let machine = machine_before.with_after(&Machine::describe(), started.elapsed().as_secs_f64());
    // The command line as given (`bench` and what follows it).
    let command = format!("cargo xtask {}", std::env::args().skip(1).collect::<Vec<_>>().join(" "));
    let mut report = format!("Command: `{command}`\n\n{machine}\n");
    for (part, body) in &sections {
        report.push_str(&format!("\n## {part}\n\n{body}"));
    }
    println!("\n{machine}");
    std::fs::write(work.join("report.md"), &report)?;
    eprintln!("xtask: report written to {}", work.join("report.md").display());
    if options.write_docs {
        let path = root().join("docs/BENCHMARKS.md");
        let mut docs = std::fs::read_to_string(&path)?;
        docs = replace_block(&docs, "machine", &format!("Command: `{command}`\n\n{machine}"))?;
        for (part, body) in &sections {
            docs = replace_block(&docs, &part.to_string(), body)?;
        }
        std::fs::write(&path, docs)?;
        eprintln!("xtask: updated {}", path.display());
    }
    Ok(())
}

/// Builds every release binary the parts need, in one cargo invocation (one feature resolution), and md-cli and
/// `convert_bench` again without the `isal` feature in their own target directory (`<target>/zlib-rs`), so neither
/// build undoes the other.
fn build(parts: &[Part]) -> Result<Binaries> {
    crate::tools::ensure_isal_tools()?;
    // `convert` alone needs only the converter's bench worker, built both ways.
    let only_convert = parts.iter().all(|part| *part == Part::Convert);
    let zlib_rs = target_dir().join("zlib-rs");
    let mut zlib_rs_build = cargo();
    zlib_rs_build.args(["build", "--release", "--locked"]);
    if only_convert {
        zlib_rs_build.args(["-p", "downloader", "--example", "convert_bench"]);
    } else {
        zlib_rs_build.args(["-p", "md-cli"]).args([
            "-p",
            "downloader",
            "--bin",
            "md-cli",
            "--example",
            "convert_bench",
        ]);
    }
    run_checked(
        zlib_rs_build.arg("--target-dir").arg(&zlib_rs),
        &format!(
            "cargo build --release (md-cli, convert_bench; default features: zlib-rs; target dir {})",
            zlib_rs.display()
        ),
    )?;
    let mut isal_build = cargo();
    isal_build.args(["build", "--release", "--locked"]);
    if only_convert {
        isal_build.args([
            "-p",
            "downloader",
            "--example",
            "convert_bench",
            "--features",
            "downloader/isal",
        ]);
    } else {
        isal_build.args([
            "-p",
            "md-cli",
            "-p",
            "test-support",
            "-p",
            "instruments",
            "-p",
            "downloader",
            "--bin",
            "md-cli",
            "--bin",
            "tardis-stub",
            "--bin",
            "fake-gcs",
            "--example",
            "keygen",
            "--example",
            "convert_bench",
            "--example",
            "adopt_bench",
            "--features",
            "md-cli/isal,downloader/isal",
        ]);
    }
    run_checked(
        &mut isal_build,
        "cargo build --release --features md-cli/isal,downloader/isal (md-cli, tardis-stub, fake-gcs, keygen, convert_bench, adopt_bench)",
    )?;
    let binaries = Binaries::in_target();
    let md_clis = [(&binaries.md_cli, "ISA-L"), (&binaries.md_cli_zlib_rs, "zlib-rs")];
    for (md_cli, inflater) in md_clis.into_iter().filter(|_| !only_convert) {
        let version = output(Command::new(md_cli).arg("--version"));
        if !version.contains(&format!("(inflate: {inflater})")) {
            bail!(
                "{} should inflate with {inflater}, but --version says {version:?}",
                md_cli.display()
            );
        }
    }
    Ok(binaries)
}

/// What `cargo xtask bench adopt` alone builds: only downloader's `adopt_bench`.
const ADOPT_ONLY: (&[&str], &str) =
    (&["-p", "downloader", "--example", "adopt_bench"], "-p downloader --example adopt_bench");

/// What `cargo xtask bench facts` alone builds: only md-cli (with ISA-L, as [`build`] does) and the Tardis stand-in.
const FACTS_ONLY: (&[&str], &str) = (
    &[
        "-p",
        "md-cli",
        "-p",
        "test-support",
        "--bin",
        "md-cli",
        "--bin",
        "tardis-stub",
        "--features",
        "md-cli/isal",
    ],
    "--features md-cli/isal (md-cli, tardis-stub)",
);

/// Builds only what `args` select (release, locked; `what` names them in an error): a part run alone. The other
/// binaries' paths are where [`build`] puts them, unbuilt.
fn build_only((args, what): (&[&str], &str)) -> Result<Binaries> {
    run_checked(
        cargo().args(["build", "--release", "--locked"]).args(args),
        &format!("cargo build --release {what}"),
    )?;
    Ok(Binaries::in_target())
}

/// Replaces the text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`.
fn replace_block(docs: &str, name: &str, body: &str) -> Result<String> {
    let open = format!("<!-- bench:{name} -->");
    let close = format!("<!-- /bench:{name} -->");
    let (Some(start), Some(end)) = (docs.find(&open), docs.find(&close)) else {
        bail!("docs/BENCHMARKS.md has no {open} ... {close} block");
    };
    if end < start {
        bail!("docs/BENCHMARKS.md: {close} comes before {open}");
    }
    Ok(format!("{}{open}\n{}\n{}", &docs[..start], body.trim_end(), &docs[end..]))
}

/// The machine and its load, as the report states them.
#[derive(Debug, Clone)]
struct Machine {
    text: String,
    load: String,
}

impl Machine {
    fn describe() -> Machine {
        let cores = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
        let lscpu = output(&mut Command::new("lscpu"));
        let field = |name: &str| {
            lscpu
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .map(|value| value.trim_start_matches(':').trim().to_owned())
                .unwrap_or_else(|| "?".into())
        };
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_gib = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or_else(|| "?".into(), |kib| format!("{:.1}", kib / 1024.0 / 1024.0));
        let os = std::fs::read_to_string("/etc/os-release")
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("PRETTY_NAME="))
            .map(|name| name.trim_matches('"').to_owned())
            .unwrap_or_else(|| "?".into());
        let rustc = output(Command::new("rustc").arg("--version").current_dir(root()));
        let date =
            output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])).trim().to_owned();
        let text = format!(
            "Machine: {date}; `nproc` {cores}; CPU {} ({} socket(s), {} core(s) per socket, {} thread(s) per core{}); \
             {memory_gib} GiB of memory; {os}; {}.",
            field("Model name"),
            field("Socket(s)"),
            field("Core(s) per socket"),
            field("Thread(s) per core"),
            match field("Hypervisor vendor").as_str() {
                "?" => String::new(),
                vendor => format!(", {vendor} guest"),
            },
            rustc.trim(),
        );
        let load = std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        Machine { text: text.replace('\n', " "), load }
    }

    fn with_after(&self, after: &Machine, seconds: f64) -> String {
        let busiest = |load: &str| {
            load.split_whitespace()
                .filter_map(|value| value.parse::<f64>().ok())
                .fold(0.0, f64::max)
        };
        let loaded = busiest(&self.load).max(busiest(&after.load));
        let cores =
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get) as f64;
        let verdict = if loaded > cores * 0.5 {
            "the machine was shared with other work (load average above half the cores): figures are lower and \
             noisier than on an idle machine"
        } else {
            "the machine was otherwise idle"
        };
        format!(
            "{}\nLoad average (1, 5, 15 min) before: {}, after: {}; {verdict}. The whole run took {:.0} s.\n",
            self.text, self.load, after.load, seconds
        )
    }
}

/// A command's stdout, or empty when it cannot run.
fn output(command: &mut Command) -> String {
    command
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default()
}

/// A log file of a server started by the benches, under `target/bench/logs/` (kept after the run).
pub(crate) fn log_file(name: &str) -> Result<PathBuf> {
    let dir = target_dir().join("bench/logs");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir.join(name))
}

/// Removes a directory tree if it exists.
pub(crate) fn remove_dir(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error).with_context(|| format!("removing {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Bench {
        #[command(flatten)]
        options: Options,
    }

    fn parse(line: &str) -> Options {
        Bench::parse_from(std::iter::once("bench").chain(line.split_whitespace())).options
    }

    #[test]
    fn quick_means_one_run_unless_runs_is_given() {
        assert_eq!(parse("").runs(), 3);
        assert_eq!(parse("--quick").runs(), 1);
        assert_eq!(parse("--quick --runs 5").runs(), 5);
        assert_eq!(parse("--runs 0").runs(), 1);
    }

    #[test]
    fn all_or_no_part_is_every_part_in_order() {
        let every: Vec<Part> = Part::every().collect();
        assert_eq!(every.len(), 9);
        assert_eq!(every.first(), Some(&Part::Mirror));
        assert_eq!(parse("").parts(), every);
        assert_eq!(parse("all").parts(), every);
        assert_eq!(parse("convert facts").parts(), [Part::Convert, Part::Facts]);
        assert_eq!(Part::Convert.to_string(), "convert");
    }

    #[test]
    fn blocks_are_replaced_in_place() {
        let docs = "a\n<!-- bench:x -->\nold\n<!-- /bench:x -->\nb\n";
        let new = replace_block(docs, "x", "new\n").unwrap();
        assert_eq!(new, "a\n<!-- bench:x -->\nnew\n<!-- /bench:x -->\nb\n");
        assert!(replace_block(docs, "y", "z").is_err());
    }
}
