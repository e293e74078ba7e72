//! `cargo xtask bench convert`: CSV.gz -> Parquet throughput, peak memory and output size against DuckDB, pyarrow
//! and pandas doing the same job, on a large trades file, and md's memory from 32 MiB to 1 GiB files.
//!
//! The job is the original schema's (md's default): drop `exchange` and `symbol`, rename the book levels
//! (`ask_price_1`...), sort by `timestamp`, 100,000-row groups, zstd. The files come from `downloader`'s
//! `convert_bench` generator (deterministic, in arrival order with exchange timestamps behind by milliseconds,
//! seconds in lag spikes and hours for a rare row, as Tardis files are), cached under `target/bench-convert/`:
//!
//! 1. trades and book_snapshot_5 of about 32 MiB of gzip each: md (original schema, and typed for comparison),
//!    DuckDB, pyarrow and pandas, and md built without the `isal` feature (zlib-rs inflates), tools interleaved
//!    round by round, median of the runs with the best in brackets, ratios to DuckDB;
//! 2. a large trades file (381 MB of gzip, as in issue 23): md against DuckDB, and md with snappy once for the
//!    size;
//! 3. md's peak RSS on a trades file of `--large-gib` GiB (1 by default) generated on the fly and piped into it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use super::measure::{Meter, capture, json_number};
use super::{Binaries, Options, target_dir};
use crate::run_checked;

/// The compressed size of the large trades file (the file of issue 23 was 381 MB).
const LARGE_BYTES: u64 = 381_000_000;

/// Peak RSS goal of one conversion, MiB.
const RSS_GOAL_MIB: f64 = 150.0;

/// Speed goal against DuckDB on the large file.
const SPEED_GOAL: f64 = 2.0;

/// "Flat": the 1 GiB file's peak RSS at most this many times the 32 MiB file's (the memory report's rule).
const FLAT: f64 = 1.25;

/// The same job in DuckDB: `argv[1]` input, `argv[2]` output, `argv[3]` the select list.
const DUCKDB: &str = "import duckdb, sys; duckdb.sql(f\"COPY (SELECT {sys.argv[3]} FROM read_csv('{sys.argv[1]}') \
                      ORDER BY timestamp) TO '{sys.argv[2]}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)\")";
/// The same job in pyarrow: `argv[3]` the output names, in CSV order after `exchange` and `symbol`.
const PYARROW: &str = "import sys, pyarrow.csv, pyarrow.parquet; \
                       t = pyarrow.csv.read_csv(sys.argv[1]).drop_columns(['exchange', 'symbol']); \
                       t = t.rename_columns(sys.argv[3].split(',')).sort_by('timestamp'); \
                       pyarrow.parquet.write_table(t, sys.argv[2], compression='zstd', row_group_size=100000)";
/// The same job in pandas, as the replaced system did it (with zstd).
const PANDAS: &str = "import sys, pandas; d = pandas.read_csv(sys.argv[1]).drop(columns=['exchange', 'symbol']); \
                      d.columns = sys.argv[3].split(','); d = d.sort_values('timestamp', kind='stable'); \
                      d.to_parquet(sys.argv[2], engine='pyarrow', compression='zstd', row_group_size=100000, index=False)";

/// One tool under test.
struct Tool {
    name: &'static str,
    /// The command, with `{input}`, `{output}`, `{data_type}`, `{select}` and `{names}` placeholders.
    command: Vec<String>,
}

/// One measured run.
#[derive(Debug, Clone, Copy)]
struct Run {
    seconds: f64,
    peak_rss_kib: u64,
    output_bytes: u64,
    late_rows: f64,
}

/// A generated input file.
struct Input {
    data_type: &'static str,
    path: PathBuf,
    csv_bytes: f64,
    gzip_bytes: f64,
}

/// The original schema's names of a data type's columns after `exchange` and `symbol`, and DuckDB's select list.
fn columns(data_type: &str) -> (String, String) {
    let mut pairs: Vec<(String, String)> = vec![
        ("timestamp".into(), "timestamp".into()),
        ("local_timestamp".into(), "local_timestamp".into()),
    ];
    match data_type {
        "trades" => {
            for name in ["id", "side", "price", "amount"] {
                pairs.push((name.into(), name.into()));
            }
        }
        _ => {
            let levels = if data_type == "book_snapshot_25" { 25 } else { 5 };
            for level in 0..levels {
                for (side, field, short, name) in [
                    ("asks", "price", "ask", "price"),
                    ("asks", "amount", "ask", "volume"),
                    ("bids", "price", "bid", "price"),
                    ("bids", "amount", "bid", "volume"),
                ] {
                    pairs.push((
                        format!("\"{side}[{level}].{field}\""),
                        format!("{short}_{name}_{}", level + 1),
                    ));
                }
            }
        }
    }
    let names = pairs.iter().map(|(_, name)| name.as_str()).collect::<Vec<_>>().join(",");
    let select = pairs
        .iter()
        .map(|(csv, name)| if csv == name { csv.clone() } else { format!("{csv} AS {name}") })
        .collect::<Vec<_>>()
        .join(", ");
    (names, select)
}

/// Generates (once) a file of about `compressed` bytes of gzip.
fn input(
    bench: &Path,
    work: &Path,
    data_type: &'static str,
    compressed: u64,
    name: &str,
) -> Result<Input> {
    let path = work.join(format!("{name}.csv.gz"));
    let sidecar = work.join(format!("{name}.csv.gz.json"));
    if !sidecar.exists() {
        run_checked(
            Command::new(bench).args(["generate", "--data-type", data_type]).args([
                "--compressed-bytes",
                &compressed.to_string(),
                "--out",
                path.to_str().context("UTF-8 path")?,
            ]),
            &format!("generate {}", path.display()),
        )?;
    }
    let meta = std::fs::read_to_string(&sidecar)?;
    Ok(Input {
        data_type,
        path,
        csv_bytes: json_number(&meta, "csv_bytes").context("csv_bytes in the sidecar")?,
        gzip_bytes: json_number(&meta, "gzip_bytes").context("gzip_bytes in the sidecar")?,
    })
}

fn md(binary: &Path, work: &Path, extra: &[&str]) -> Result<Vec<String>> {
    let mut command = vec![
        binary.to_str().context("UTF-8 path")?.to_owned(),
        "convert".into(),
        "--data-type".into(),
        "{data_type}".into(),
        "--input".into(),
        "{input}".into(),
        "--output".into(),
        "{output}".into(),
        "--spill-dir".into(),
        work.to_str().context("UTF-8 path")?.to_owned(),
    ];
    command.extend(extra.iter().map(|part| (*part).to_owned()));
    Ok(command)
}

fn python(meter: &Meter, script: &str) -> Result<Vec<String>> {
    let python = meter.python.to_str().context("UTF-8 path")?.to_owned();
    Ok(vec![
        python,
        "-c".into(),
        script.into(),
        "{input}".into(),
        "{output}".into(),
        "{names_or_select}".into(),
    ])
}

/// Runs `tools` on `input` `runs` times, interleaved; returns every tool's runs.
fn measure(
    meter: &Meter,
    work: &Path,
    tools: &[Tool],
    input: &Input,
    runs: usize,
) -> Result<Vec<Vec<Run>>> {
    let (names, select) = columns(input.data_type);
    let mut results: Vec<Vec<Run>> = vec![Vec::new(); tools.len()];
    for round in 0..runs {
        for offset in 0..tools.len() {
            let index = (round + offset) % tools.len();
            let tool = &tools[index];
            let output = work.join(format!("{}.{index}.parquet", input.data_type));
            let command: Vec<String> = tool
                .command
                .iter()
                .map(|part| {
                    let argument = if tool.name.starts_with("DuckDB") { &select } else { &names };
                    part.replace("{input}", input.path.to_str().unwrap_or_default())
                        .replace("{output}", output.to_str().unwrap_or_default())
                        .replace("{data_type}", input.data_type)
                        .replace("{names_or_select}", argument)
                })
                .collect();
            eprintln!(
                "xtask: bench convert {} ({:.0} MB gz) {} (round {})",
                input.data_type,
                input.gzip_bytes / 1e6,
                tool.name,
                round + 1
            );
            let measured = meter.run(&command)?;
            let output_bytes = std::fs::metadata(&output)
                .with_context(|| format!("{} wrote no {}", tool.name, output.display()))?
                .len();
            std::fs::remove_file(&output)?;
            results[index].push(Run {
                seconds: measured.seconds,
                peak_rss_kib: measured.peak_rss_kib,
                output_bytes,
                late_rows: json_number(&measured.stdout, "late_rows").unwrap_or(f64::NAN),
            });
        }
    }
    Ok(results)
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

fn best(runs: &[Run]) -> f64 {
    runs.iter().map(|run| run.seconds).fold(f64::INFINITY, f64::min)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Appends one table row per tool; the ratios are to `reference`.
fn rows(table: &mut String, input: &Input, tools: &[Tool], results: &[Vec<Run>], reference: usize) {
    let medians: Vec<Run> = results.iter().map(|runs| median_run(runs)).collect();
    let (base, base_best) = (medians[reference], best(&results[reference]));
    let (csv_mb, gzip_mib) = (input.csv_bytes / 1e6, input.gzip_bytes / f64::from(1 << 20));
    for ((tool, run), runs) in tools.iter().zip(&medians).zip(results) {
        let late =
            if run.late_rows.is_nan() { "-".to_owned() } else { format!("{:.0}", run.late_rows) };
        table.push_str(&format!(
            "| {} ({gzip_mib:.0} MiB gz, {csv_mb:.0} MB CSV) | {} | {:.0} ({:.0}) | {:.2} | {:.0} | {:.1} | {late} | {:.2}x ({:.2}x) | {:.2}x | {:.2}x |\n",
            input.data_type,
            tool.name,
            csv_mb / run.seconds,
            csv_mb / best(runs),
            run.seconds,
            mib(run.peak_rss_kib),
            run.output_bytes as f64 / f64::from(1 << 20),
            base.seconds / run.seconds,
            base_best / best(runs),
            run.peak_rss_kib as f64 / base.peak_rss_kib as f64,
            run.output_bytes as f64 / base.output_bytes as f64,
        ));
    }
}

const HEADER: &str = "| file | tool | MB/s of CSV (best) | wall s | peak RSS MiB | output MiB | late rows | speed vs DuckDB (best vs best) | RSS vs DuckDB | size vs DuckDB |\n\
                      |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";

/// Runs the conversion bench; returns its Markdown section body.
pub(crate) fn run(options: &Options, binaries: &Binaries, meter: &Meter) -> Result<String> {
    let bench = &binaries.convert_bench;
    let work = target_dir().join("bench-convert");
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let runs = options.runs();
    let md_original = md(bench, &work, &["--schema", "original"])?;
    let tools = [
        Tool { name: "md, original schema (sorted)", command: md_original.clone() },
        Tool { name: "DuckDB", command: python(meter, DUCKDB)? },
        Tool { name: "pyarrow", command: python(meter, PYARROW)? },
        Tool { name: "pandas", command: python(meter, PANDAS)? },
        Tool {
            name: "md, original schema, zlib-rs (built without isal)",
            command: md(&binaries.convert_bench_zlib_rs, &work, &["--schema", "original"])?,
        },
        Tool {
            name: "md, typed schema (file order)",
            command: md(bench, &work, &["--schema", "typed"])?,
        },
    ];
    let (md_index, duckdb_index, zlib_rs_index) = (0, 1, 4);
    let versions = capture(Command::new(&meter.python).args([
        "-c",
        "import duckdb, pyarrow, pandas; print(f'DuckDB {duckdb.__version__}, pyarrow {pyarrow.__version__}, \
         pandas {pandas.__version__}')",
    ]))?;
    let mut table = format!(
        "The job: the original schema (drop `exchange` and `symbol`, book levels renamed, sorted by `timestamp`, \
         100,000-row groups), zstd, for every tool (md's typed schema, file order, for comparison). Median of {runs} \
         runs (best in brackets), each tool a fresh process; {}. Late rows: rows md merged in at the end (behind \
         its 8 MiB reorder window).\n\n{HEADER}",
        versions.trim()
    );
    let mut goals = String::new();
    let mut small_rss = 0u64;
    for (data_type, name) in [("trades", "trades"), ("book_snapshot_5", "book_snapshot_5")] {
        let input = input(bench, &work, data_type, 32 << 20, name)?;
        let results = measure(meter, &work, &tools, &input, runs)?;
        rows(&mut table, &input, &tools, &results, duckdb_index);
        let medians: Vec<Run> = results.iter().map(|runs| median_run(runs)).collect();
        if data_type == "trades" {
            small_rss = medians[md_index].peak_rss_kib;
        }
        let versus_zlib_rs = medians[zlib_rs_index].seconds / medians[md_index].seconds;
        goals.push_str(&format!(
            "- {data_type}: md with ISA-L vs md with zlib-rs {versus_zlib_rs:.2}x (goal >= 1.0x, no slower): **{}**\n",
            if versus_zlib_rs >= 1.0 { "met" } else { "missed" }
        ));
    }

    // The large file: md against DuckDB, the same job.
    let large = input(bench, &work, "trades", LARGE_BYTES, "trades-381MB")?;
    let large_tools = [
        Tool { name: "md, original schema (sorted)", command: md_original.clone() },
        Tool { name: "DuckDB", command: python(meter, DUCKDB)? },
    ];
    let results = measure(meter, &work, &large_tools, &large, runs)?;
    rows(&mut table, &large, &large_tools, &results, 1);
    let medians: Vec<Run> = results.iter().map(|runs| median_run(runs)).collect();
    let (large_md, large_duckdb) = (medians[0], medians[1]);
    let snappy_tool = [Tool {
        name: "md, snappy",
        command: md(bench, &work, &["--schema", "original", "--compression", "snappy"])?,
    }];
    let snappy = median_run(&measure(meter, &work, &snappy_tool, &large, 1)?[0]);
    let speed = large_duckdb.seconds / large_md.seconds;
    goals.push_str(&format!(
        "- {:.0} MB trades file: md {speed:.2}x DuckDB's speed on the same sorted job (goal >= {SPEED_GOAL:.1}x): **{}**\n",
        large.gzip_bytes / 1e6,
        if speed >= SPEED_GOAL { "met" } else { "missed" }
    ));
    table.push_str(&format!(
        "\nCodec on the {:.0} MB trades file, same sorted rows: zstd {:.0} MB, snappy {:.0} MB ({:.2}x).\n",
        large.gzip_bytes / 1e6,
        large_md.output_bytes as f64 / 1e6,
        snappy.output_bytes as f64 / 1e6,
        snappy.output_bytes as f64 / large_md.output_bytes as f64,
    ));

    // Memory from 32 MiB to the largest file.
    let mut sizes = vec![
        ("32 MiB of gzip".to_owned(), small_rss),
        (format!("{:.0} MB of gzip", large.gzip_bytes / 1e6), large_md.peak_rss_kib),
    ];
    if !options.quick {
        let (label, rss, text) = large_file(meter, bench, &work, options.large_gib)?;
        table.push('\n');
        table.push_str(&text);
        sizes.push((label, rss));
    }
    let highest = sizes.iter().map(|(_, rss)| *rss).max().unwrap_or(0);
    let listed: Vec<String> =
        sizes.iter().map(|(label, rss)| format!("{label} {:.0} MiB", mib(*rss))).collect();
    goals.push_str(&format!(
        "- md's peak RSS, original schema: {} (goal <= {RSS_GOAL_MIB:.0} MiB): **{}**\n",
        listed.join(", "),
        if mib(highest) <= RSS_GOAL_MIB { "met" } else { "missed" }
    ));
    if let (Some((_, first)), Some((last_label, last))) = (sizes.first(), sizes.last()) {
        let ratio = *last as f64 / *first as f64;
        goals.push_str(&format!(
            "- flat: {last_label} vs 32 MiB files {ratio:.2}x (goal <= {FLAT:.2}x): **{}**\n",
            if ratio <= FLAT { "flat" } else { "not flat" }
        ));
    }
    table.push_str(&format!("\nGoals:\n{goals}"));
    Ok(table)
}

/// Converts a large trades file generated on the fly and piped into the converter; returns its label, peak RSS and
/// the sentence reporting it.
fn large_file(meter: &Meter, bench: &Path, work: &Path, gib: f64) -> Result<(String, u64, String)> {
    let compressed = (gib * f64::from(1 << 30)) as u64;
    let generator = format!(
        "{} generate --data-type trades --compressed-bytes {compressed} --level 1 --out -",
        bench.display()
    );
    let output = work.join("large.parquet");
    let mut command = md(bench, work, &["--schema", "original"])?;
    for part in &mut command {
        *part = part
            .replace("{data_type}", "trades")
            .replace("{input}", "-")
            .replace("{output}", output.to_str().context("UTF-8 path")?);
    }
    eprintln!(
        "xtask: bench convert memory check: {gib} GiB of gzip generated on the fly into the converter"
    );
    let measured = meter.run_with(&command, &[], None, Some(&generator))?;
    let csv_bytes = json_number(&measured.stdout, "csv_bytes")
        .context("csv_bytes in the converter's summary")?;
    let late_rows = json_number(&measured.stdout, "late_rows").unwrap_or(f64::NAN);
    let rewritten = json_number(&measured.stdout, "rewritten_row_groups").unwrap_or(f64::NAN);
    let row_groups = json_number(&measured.stdout, "row_groups").unwrap_or(f64::NAN);
    let parquet_bytes = std::fs::metadata(&output)?.len();
    std::fs::remove_file(&output)?;
    let label = format!("{gib} GiB of gzip");
    let text = format!(
        "Memory check: trades, {gib} GiB of gzip (level 1) generated on the fly and piped into md's converter \
         (original schema), {:.1} GB of CSV, {:.0} MiB of Parquet in {row_groups:.0} row groups ({late_rows:.0} late \
         rows merged into {rewritten:.0} of them), {:.1} s (bounded by the generator): peak RSS {:.0} MiB.\n",
        csv_bytes / 1e9,
        parquet_bytes as f64 / f64::from(1 << 20),
        measured.seconds,
        mib(measured.peak_rss_kib),
    );
    Ok((label, measured.peak_rss_kib, text))
}
