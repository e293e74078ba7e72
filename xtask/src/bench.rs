//! `cargo xtask bench convert`: CSV.gz -> Parquet throughput, peak memory and output size against DuckDB, pyarrow
//! and pandas, plus a memory check on a 1 GiB compressed file.
//!
//! The bench builds `downloader`'s `convert_bench` example in release mode, generates deterministic trades and
//! book_snapshot_5 files (about 32 MiB compressed each) under `target/bench-convert/`, installs DuckDB, pyarrow and
//! pandas into the git-ignored `.venv/` (reused when present), and runs every tool as a fresh process on the same
//! file with the same codec (zstd), interleaving the tools round by round. Wall time and peak RSS come from the
//! operating system: a small Python runner starts each tool and reads its resource usage with `os.wait4`.
//! It prints the median of the runs per tool and file, with the ratios to DuckDB.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, root, run_checked};

const USAGE: &str = "\
cargo xtask bench convert [--runs N] [--quick] [--large-gib G]

  --runs N       runs per tool and file, the median is reported (default 3)
  --quick        skip the memory check on the large file
  --large-gib G  compressed size of the memory-check file, generated on the fly and streamed (default 1)";

/// One tool under test.
struct Tool {
    name: &'static str,
    /// The command, with `{input}`, `{output}` and `{data_type}` placeholders.
    command: Vec<String>,
}

/// One measured run.
#[derive(Debug, Clone, Copy)]
struct Run {
    seconds: f64,
    peak_rss_kib: u64,
    output_bytes: u64,
}

const DUCKDB: &str = "import duckdb, sys; duckdb.sql(f\"COPY (SELECT * FROM read_csv('{sys.argv[1]}')) TO \
                      '{sys.argv[2]}' (FORMAT parquet, COMPRESSION zstd)\")";
const PYARROW: &str = "import sys, pyarrow.csv, pyarrow.parquet; \
                       pyarrow.parquet.write_table(pyarrow.csv.read_csv(sys.argv[1]), sys.argv[2], compression='zstd')";
const PANDAS: &str = "import sys, pandas; pandas.read_csv(sys.argv[1]).to_parquet(sys.argv[2], engine='pyarrow', \
                      compression='zstd', index=False)";

/// Starts a command (optionally fed by another on stdin), waits for it with `os.wait4` and reports its wall time
/// and peak RSS as measured by the kernel.
const RUNNER: &str = r#"
import os, shlex, subprocess, sys, time
args = sys.argv[1:]
feeder = None
if args[0] == "--stdin-from":
    feeder = subprocess.Popen(shlex.split(args[1]), stdout=subprocess.PIPE)
    args = args[2:]
command = args[1:]
start = time.perf_counter()
child = subprocess.Popen(command, stdin=feeder.stdout if feeder else subprocess.DEVNULL, stdout=subprocess.PIPE)
if feeder:
    feeder.stdout.close()
output = child.stdout.read()
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - start
if feeder:
    feeder.wait()
sys.stdout.write(output.decode())
print(f"\nRUNNER wall={wall:.4f} maxrss_kib={usage.ru_maxrss} status={os.waitstatus_to_exitcode(status)}")
"#;

pub(crate) fn run(args: &[String]) -> Result<()> {
    let Some((what, rest)) = args.split_first() else { bail!("{USAGE}") };
    if what != "convert" {
        bail!("unknown benchmark {what:?}\n\n{USAGE}");
    }
    let mut runs = 3usize;
    let mut quick = false;
    let mut large_gib = 1.0f64;
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--runs" => runs = rest.next().context("--runs needs a number")?.parse()?,
            "--quick" => quick = true,
            "--large-gib" => {
                large_gib = rest.next().context("--large-gib needs a number")?.parse()?
            }
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    convert(runs.max(1), quick, large_gib)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

fn convert(runs: usize, quick: bool, large_gib: f64) -> Result<()> {
    run_checked(
        cargo().args(["build", "--release", "-p", "downloader", "--example", "convert_bench"]),
        "cargo build --release -p downloader --example convert_bench",
    )?;
    let bench = target_dir().join("release/examples/convert_bench");
    let work = target_dir().join("bench-convert");
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let python = ensure_venv(&root().join(".venv"))?;
    let runner = work.join("runner.py");
    std::fs::write(&runner, RUNNER)?;

    let files = [("trades", "trades"), ("book_snapshot_5", "book_snapshot_5")];
    let mut inputs = Vec::new();
    for (data_type, name) in files {
        let path = work.join(format!("{name}.csv.gz"));
        let sidecar = work.join(format!("{name}.csv.gz.json"));
        if !sidecar.exists() {
            run_checked(
                Command::new(&bench).args(["generate", "--data-type", data_type]).args([
                    "--compressed-bytes",
                    &(32u64 << 20).to_string(),
                    "--out",
                    path.to_str().context("UTF-8 path")?,
                ]),
                &format!("generate {}", path.display()),
            )?;
        }
        let meta = std::fs::read_to_string(&sidecar)?;
        let csv_bytes = json_number(&meta, "csv_bytes").context("csv_bytes in the sidecar")?;
        let gzip_bytes = json_number(&meta, "gzip_bytes").context("gzip_bytes in the sidecar")?;
        inputs.push((data_type, path, csv_bytes, gzip_bytes));
    }

    let python_arg = python.to_str().context("UTF-8 path")?.to_owned();
    let bench_arg = bench.to_str().context("UTF-8 path")?.to_owned();
    let strings = |parts: &[&str]| parts.iter().map(|part| (*part).to_owned()).collect::<Vec<_>>();
    let tools = [
        Tool {
            name: "md",
            command: strings(&[
                &bench_arg,
                "convert",
                "--data-type",
                "{data_type}",
                "--input",
                "{input}",
                "--output",
                "{output}",
            ]),
        },
        Tool {
            name: "DuckDB",
            command: strings(&[&python_arg, "-c", DUCKDB, "{input}", "{output}"]),
        },
        Tool {
            name: "pyarrow",
            command: strings(&[&python_arg, "-c", PYARROW, "{input}", "{output}"]),
        },
        Tool {
            name: "pandas",
            command: strings(&[&python_arg, "-c", PANDAS, "{input}", "{output}"]),
        },
    ];

    let versions = capture(Command::new(&python).args([
        "-c",
        "import duckdb, pyarrow, pandas; print(f'DuckDB {duckdb.__version__}, pyarrow {pyarrow.__version__}, \
         pandas {pandas.__version__}')",
    ]))?;
    let mut table = String::new();
    table.push_str(&format!(
        "Median of {runs} runs (best in brackets), each tool a fresh process, zstd; {}.\n\n",
        versions.trim()
    ));
    table.push_str(
        "| file | tool | MB/s of CSV (best) | peak RSS MiB | output MiB | speed vs DuckDB (best vs best) | RSS vs DuckDB | size vs DuckDB |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut md_peak_rss = 0u64;
    for (data_type, input, csv_bytes, gzip_bytes) in &inputs {
        let mut results: Vec<Vec<Run>> = vec![Vec::new(); tools.len()];
        for round in 0..runs {
            for offset in 0..tools.len() {
                let index = (round + offset) % tools.len();
                let tool = &tools[index];
                let output = work.join(format!("{data_type}.{}.parquet", tool.name));
                let command: Vec<String> = tool
                    .command
                    .iter()
                    .map(|part| {
                        part.replace("{input}", input.to_str().unwrap_or_default())
                            .replace("{output}", output.to_str().unwrap_or_default())
                            .replace("{data_type}", data_type)
                    })
                    .collect();
                eprintln!("xtask: bench {data_type} {} (round {})", tool.name, round + 1);
                let (seconds, peak_rss_kib, _) = measure(&python, &runner, None, &command)?;
                let output_bytes = std::fs::metadata(&output)
                    .with_context(|| format!("{} wrote no {}", tool.name, output.display()))?
                    .len();
                std::fs::remove_file(&output)?;
                results[index].push(Run { seconds, peak_rss_kib, output_bytes });
            }
        }
        let medians: Vec<Run> = results.iter().map(|runs| median(runs)).collect();
        let bests: Vec<f64> = results
            .iter()
            .map(|runs| runs.iter().map(|run| run.seconds).fold(f64::INFINITY, f64::min))
            .collect();
        let duckdb = medians[1];
        let duckdb_best = bests[1];
        #[allow(clippy::cast_precision_loss, reason = "sizes far below 2^52")]
        let (csv_mb, gzip_mib) = (*csv_bytes as f64 / 1e6, *gzip_bytes as f64 / f64::from(1 << 20));
        for ((tool, run), best) in tools.iter().zip(&medians).zip(&bests) {
            if tool.name == "md" && *data_type == "trades" {
                md_peak_rss = run.peak_rss_kib;
            }
            #[allow(clippy::cast_precision_loss, reason = "sizes far below 2^52")]
            let row = format!(
                "| {data_type} ({gzip_mib:.0} MiB gz, {csv_mb:.0} MB CSV) | {} | {:.0} ({:.0}) | {:.0} | {:.1} | {:.2}x ({:.2}x) | {:.2}x | {:.2}x |\n",
                tool.name,
                csv_mb / run.seconds,
                csv_mb / best,
                run.peak_rss_kib as f64 / 1024.0,
                run.output_bytes as f64 / f64::from(1 << 20),
                duckdb.seconds / run.seconds,
                duckdb_best / best,
                run.peak_rss_kib as f64 / duckdb.peak_rss_kib as f64,
                run.output_bytes as f64 / duckdb.output_bytes as f64,
            );
            table.push_str(&row);
        }
    }
    println!("\n{table}");

    if !quick {
        let memory = large_file(&python, &runner, &bench, &work, large_gib, md_peak_rss)?;
        println!("{memory}");
    }
    Ok(())
}

/// Converts a large trades file generated on the fly and piped into the converter; reports its peak RSS.
fn large_file(
    python: &Path,
    runner: &Path,
    bench: &Path,
    work: &Path,
    gib: f64,
    small_peak_rss_kib: u64,
) -> Result<String> {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a positive size in bytes"
    )]
    let compressed = (gib * f64::from(1 << 30)) as u64;
    let generator = format!(
        "{} generate --data-type trades --compressed-bytes {compressed} --level 1 --out -",
        bench.display()
    );
    let output = work.join("large.parquet");
    let command = [
        bench.to_str().context("UTF-8 path")?.to_owned(),
        "convert".into(),
        "--data-type".into(),
        "trades".into(),
        "--input".into(),
        "-".into(),
        "--output".into(),
        output.to_str().context("UTF-8 path")?.to_owned(),
    ];
    eprintln!(
        "xtask: bench memory check: {gib} GiB of gzip generated on the fly into the converter"
    );
    let (seconds, peak_rss_kib, stdout) = measure(python, runner, Some(&generator), &command)?;
    let csv_bytes =
        json_number(&stdout, "csv_bytes").context("csv_bytes in the converter's summary")?;
    let parquet_bytes = std::fs::metadata(&output)?.len();
    std::fs::remove_file(&output)?;
    #[allow(clippy::cast_precision_loss, reason = "sizes far below 2^52")]
    Ok(format!(
        "Memory check: trades, {gib} GiB of gzip (level 1) generated on the fly and piped into the converter, \
         {:.1} GB of CSV, {:.0} MiB of Parquet, {seconds:.1} s (bounded by the generator): peak RSS {:.0} MiB \
         (the 32 MiB trades file: {:.0} MiB).\n",
        csv_bytes as f64 / 1e9,
        parquet_bytes as f64 / f64::from(1 << 20),
        peak_rss_kib as f64 / 1024.0,
        small_peak_rss_kib as f64 / 1024.0,
    ))
}

/// Runs `command` through the runner; returns wall seconds, peak RSS in KiB and the command's stdout.
fn measure(
    python: &Path,
    runner: &Path,
    stdin_from: Option<&str>,
    command: &[String],
) -> Result<(f64, u64, String)> {
    let mut runner_command = Command::new(python);
    runner_command.arg(runner);
    if let Some(feeder) = stdin_from {
        runner_command.args(["--stdin-from", feeder]);
    }
    runner_command.arg("--").args(command);
    let output = capture(&mut runner_command)?;
    let line = output
        .lines()
        .rev()
        .find(|line| line.starts_with("RUNNER "))
        .with_context(|| format!("no measurement from {command:?}"))?;
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|part| part.strip_prefix(name))
            .with_context(|| format!("{name} missing in {line:?}"))
    };
    if field("status=")? != "0" {
        bail!("{command:?} failed: {line}");
    }
    Ok((field("wall=")?.parse()?, field("maxrss_kib=")?.parse()?, output))
}

fn capture(command: &mut Command) -> Result<String> {
    let output = command.output().with_context(|| format!("cannot start {command:?}"))?;
    if !output.status.success() {
        bail!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8(output.stdout)?)
}

fn median(runs: &[Run]) -> Run {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let mut middle = sorted[sorted.len() / 2];
    let mut rss: Vec<u64> = runs.iter().map(|run| run.peak_rss_kib).collect();
    rss.sort_unstable();
    middle.peak_rss_kib = rss[rss.len() / 2];
    middle
}

/// Returns the number after `"key":` in a flat JSON object.
fn json_number(text: &str, key: &str) -> Option<u64> {
    let start = text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = text[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Creates `.venv` when missing and installs DuckDB, pyarrow and pandas unless they import; returns its python.
fn ensure_venv(venv: &Path) -> Result<PathBuf> {
    let python = venv.join("bin/python");
    if !python.exists() {
        run_checked(
            Command::new("python3").arg("-m").arg("venv").arg(venv),
            &format!("python3 -m venv {}", venv.display()),
        )?;
    }
    let present = Command::new(&python)
        .args(["-c", "import duckdb, pyarrow, pandas"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !present {
        run_checked(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "duckdb", "pyarrow", "pandas"]),
            "pip install duckdb pyarrow pandas into .venv",
        )?;
    }
    Ok(python)
}
