//! `cargo xtask bench convert`: CSV.gz -> Parquet throughput, peak memory and output size against DuckDB, pyarrow
//! and pandas, plus a memory check on a 1 GiB compressed file.
//!
//! Generates deterministic trades and book_snapshot_5 files (about 32 MiB compressed each) under
//! `target/bench-convert/` with `downloader`'s `convert_bench` example, and runs every tool as a fresh process on
//! the same file with the same codec (zstd), interleaving the tools round by round. It reports the median of the
//! runs per tool and file (the best run in brackets), with the ratios to DuckDB. md runs twice: as built (ISA-L
//! inflates) and built without the `isal` feature (zlib-rs inflates), so the inflaters are compared in one run.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use super::measure::{Meter, capture, json_number};
use super::{Binaries, Options, target_dir};
use crate::run_checked;

const DUCKDB: &str = "import duckdb, sys; duckdb.sql(f\"COPY (SELECT * FROM read_csv('{sys.argv[1]}')) TO \
                      '{sys.argv[2]}' (FORMAT parquet, COMPRESSION zstd)\")";
const PYARROW: &str = "import sys, pyarrow.csv, pyarrow.parquet; \
                       pyarrow.parquet.write_table(pyarrow.csv.read_csv(sys.argv[1]), sys.argv[2], compression='zstd')";
const PANDAS: &str = "import sys, pandas; pandas.read_csv(sys.argv[1]).to_parquet(sys.argv[2], engine='pyarrow', \
                      compression='zstd', index=False)";

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

/// Runs the conversion bench; returns its Markdown section body.
pub(crate) fn run(options: &Options, binaries: &Binaries, meter: &Meter) -> Result<String> {
    let bench = &binaries.convert_bench;
    let work = target_dir().join("bench-convert");
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let python = &meter.python;
    let runs = options.runs;

    let files = [("trades", "trades"), ("book_snapshot_5", "book_snapshot_5")];
    let mut inputs = Vec::new();
    for (data_type, name) in files {
        let path = work.join(format!("{name}.csv.gz"));
        let sidecar = work.join(format!("{name}.csv.gz.json"));
        if !sidecar.exists() {
            run_checked(
                Command::new(bench).args(["generate", "--data-type", data_type]).args([
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
    let bench_zlib_rs_arg =
        binaries.convert_bench_zlib_rs.to_str().context("UTF-8 path")?.to_owned();
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
        Tool {
            name: "md, zlib-rs (built without isal)",
            command: strings(&[
                &bench_zlib_rs_arg,
                "convert",
                "--data-type",
                "{data_type}",
                "--input",
                "{input}",
                "--output",
                "{output}",
            ]),
        },
    ];
    // Where the tools above are: md first, DuckDB second, md with zlib-rs last.
    let (duckdb_index, zlib_rs_index) = (1, tools.len() - 1);
    let mut goals = String::new();

    let versions = capture(Command::new(python).args([
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
                let output = work.join(format!("{data_type}.{index}.parquet"));
                let command: Vec<String> = tool
                    .command
                    .iter()
                    .map(|part| {
                        part.replace("{input}", input.to_str().unwrap_or_default())
                            .replace("{output}", output.to_str().unwrap_or_default())
                            .replace("{data_type}", data_type)
                    })
                    .collect();
                eprintln!("xtask: bench convert {data_type} {} (round {})", tool.name, round + 1);
                let measured = meter.run(&command)?;
                let output_bytes = std::fs::metadata(&output)
                    .with_context(|| format!("{} wrote no {}", tool.name, output.display()))?
                    .len();
                std::fs::remove_file(&output)?;
                results[index].push(Run {
                    seconds: measured.seconds,
                    peak_rss_kib: measured.peak_rss_kib,
                    output_bytes,
                });
            }
        }
        let medians: Vec<Run> = results.iter().map(|runs| median_run(runs)).collect();
        let bests: Vec<f64> = results
            .iter()
            .map(|runs| runs.iter().map(|run| run.seconds).fold(f64::INFINITY, f64::min))
            .collect();
        let duckdb = medians[duckdb_index];
        let duckdb_best = bests[duckdb_index];
        let versus_zlib_rs = medians[zlib_rs_index].seconds / medians[0].seconds;
        goals.push_str(&format!(
            "- {data_type}: md with ISA-L vs md with zlib-rs {versus_zlib_rs:.2}x (goal >= 1.0x, no slower): **{}**\n",
            if versus_zlib_rs >= 1.0 { "met" } else { "missed" }
        ));
        let (csv_mb, gzip_mib) = (csv_bytes / 1e6, gzip_bytes / f64::from(1 << 20));
        for ((tool, run), best) in tools.iter().zip(&medians).zip(&bests) {
            if tool.name == "md" && *data_type == "trades" {
                md_peak_rss = run.peak_rss_kib;
            }
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
    table.push_str(&format!("\nGoals:\n{goals}"));
    if !options.quick {
        let memory = large_file(meter, bench, &work, options.large_gib, md_peak_rss)?;
        table.push('\n');
        table.push_str(&memory);
    }
    Ok(table)
}

/// Converts a large trades file generated on the fly and piped into the converter; reports its peak RSS.
fn large_file(
    meter: &Meter,
    bench: &Path,
    work: &Path,
    gib: f64,
    small_peak_rss_kib: u64,
) -> Result<String> {
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
        "xtask: bench convert memory check: {gib} GiB of gzip generated on the fly into the converter"
    );
    let measured = meter.run_with(&command, &[], None, Some(&generator))?;
    let csv_bytes = json_number(&measured.stdout, "csv_bytes")
        .context("csv_bytes in the converter's summary")?;
    let parquet_bytes = std::fs::metadata(&output)?.len();
    std::fs::remove_file(&output)?;
    Ok(format!(
        "Memory check: trades, {gib} GiB of gzip (level 1) generated on the fly and piped into the converter, \
         {:.1} GB of CSV, {:.0} MiB of Parquet, {:.1} s (bounded by the generator): peak RSS {:.0} MiB \
         (the 32 MiB trades file: {:.0} MiB).\n",
        csv_bytes / 1e9,
        parquet_bytes as f64 / f64::from(1 << 20),
        measured.seconds,
        measured.peak_rss_kib as f64 / 1024.0,
        small_peak_rss_kib as f64 / 1024.0,
    ))
}

/// The run of median time, with the median peak RSS.
fn median_run(runs: &[Run]) -> Run {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let mut middle = sorted[sorted.len() / 2];
    let mut rss: Vec<u64> = runs.iter().map(|run| run.peak_rss_kib).collect();
    rss.sort_unstable();
    middle.peak_rss_kib = rss[rss.len() / 2];
    middle
}
