//! `cargo xtask bench formats`: `md-cli download` of the mirror bench's 16 files (about 32 MiB each, loopback,
//! unthrottled) into a local directory in each output format: `raw` (the default gzip check), `parquet` (the
//! converter's inflate is the check) and `raw,parquet` (one download teed into both objects). The question is what
//! the second object costs: `raw,parquet` should take little more CPU than `parquet` alone, since the inflate and
//! the gzip check are shared and the raw object only adds CRC32C and writing the bytes.
//!
//! Every run is checked: each raw object equals the file the stand-in served, and each unit has its Parquet object.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use downloader::download::summary::UnitLine;

use super::job::sixteen::{EXCHANGE, FILES, FROM, SELECTION, TO};
use super::job::{Job, UnitFiles, Warmed, plan_and_warm};
use super::measure::{Meter, Row, max, median, mib};
use super::stand::{self, StubOptions};
use super::{Binaries, Options, remove_dir, target_dir};

/// The formats compared, as `MD_OUTPUT_FORMAT` spells them.
const FORMATS: [&str; 3] = ["raw", "parquet", "raw,parquet"];

/// The most CPU `raw,parquet` may take over `parquet` alone to count as "little more".
const GOAL: f64 = 1.15;

/// Runs the formats; returns the Markdown section body.
pub(crate) fn run(options: &Options, binaries: &Binaries, meter: &Meter) -> Result<String> {
    let work = target_dir().join("bench/formats");
    remove_dir(&work)?;
    std::fs::create_dir_all(&work)?;
    let stub = stand::bench_tardis_stub(binaries, &StubOptions::bench("32M", "0"), "formats")?;
    let url = stub.url().to_owned();
    let job = |dir: &Path, format: &str| -> Result<Job> {
        let sink = dir.join("sink");
        Ok(Job::new(&binaries.md_cli, &url, sink.to_str().context("UTF-8 path")?, dir)
            .select(EXCHANGE, FROM, TO, SELECTION)
            .var("MD_OUTPUT_FORMAT", format))
    };
    let planning = work.join("plan");
    let Warmed { units, reference, total } =
        plan_and_warm(&job(&planning, "raw,parquet")?, &planning, &work, meter, &url, "formats")?;

    let mut results: BTreeMap<&str, Vec<Row>> = BTreeMap::new();
    for round in 0..options.runs() {
        for offset in 0..FORMATS.len() {
            let format = FORMATS[(round + offset) % FORMATS.len()];
            eprintln!("xtask: bench formats {format} (round {})", round + 1);
            let dir = work.join(format!("run-{round}-{}", format.replace(',', "-")));
            remove_dir(&dir)?;
            let job = job(&dir, format)?;
            job.instruments()?;
            let measured = job.download(meter, FILES)?;
            check(&dir.join("sink"), format, &units, &reference)?;
            remove_dir(&dir)?;
            results.entry(format).or_default().push(measured.row(total, None));
        }
    }
    stub.stop()?;
    remove_dir(&work)?;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "`md-cli download` of 16 files of about 32 MiB ({:.0} MB in all; binance-futures, trades, \
         incremental_book_L2, quotes and book_snapshot_5 of BTCUSDC and BTCUSDT, {FROM} and {TO}) into a local \
         directory, loopback without throttling, `MAX_CONCURRENT_REQUESTS=16`, each `MD_OUTPUT_FORMAT`; median \
         of {} runs (best in brackets), formats interleaved round by round. MB/s: 10^6 bytes of downloaded \
         files per second of wall time; CPU: user + system seconds.\n",
        total as f64 / 1e6,
        options.runs()
    );
    out.push_str(
        "| MD_OUTPUT_FORMAT | objects per unit | MB/s (best) | wall s | CPU s | peak RSS MiB | CPU vs parquet |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    let column = |format: &str, pick: fn(&Row) -> f64| {
        median(&results[format].iter().map(pick).collect::<Vec<_>>())
    };
    let parquet_cpu = column("parquet", |row| row.cpu());
    for format in FORMATS {
        let _ = writeln!(
            out,
            "| `{format}` | {} | {:.0} ({:.0}) | {:.2} | {:.2} | {:.0} | {:.2}x |",
            format.split(',').count(),
            column(format, |row| row.mb_s()),
            max(&results[format].iter().map(|row| row.mb_s()).collect::<Vec<_>>()),
            column(format, |row| row.seconds()),
            column(format, |row| row.cpu()),
            mib(column(format, |row| row.rss_kib())),
            column(format, |row| row.cpu()) / parquet_cpu,
        );
    }
    let ratio = column("raw,parquet", |row| row.cpu()) / parquet_cpu;
    let _ = writeln!(
        out,
        "\nGoal: `raw,parquet` costs little more CPU than `parquet` alone ({ratio:.2}x, goal <= {GOAL:.2}x): **{}**",
        if ratio <= GOAL { "met" } else { "missed" }
    );
    Ok(out)
}

/// Every unit has its objects: the raw one byte-exact, the Parquet one present and non-empty.
fn check(sink: &Path, format: &str, units: &[UnitLine], reference: &Path) -> Result<()> {
    for unit in units {
        let raw = unit.object.replace(".parquet", ".csv.gz");
        let parquet = unit.object.replace(".csv.gz", ".parquet");
        if format.contains("raw") {
            let stored =
                std::fs::read(sink.join(&raw)).with_context(|| format!("{raw} ({format})"))?;
            if stored != std::fs::read(reference.join(unit.file_name()))? {
                bail!("{raw} ({format}) differs from what the stand-in served");
            }
        }
        if format.contains("parquet") {
            let size = std::fs::metadata(sink.join(&parquet))
                .with_context(|| format!("{parquet} ({format})"))?
                .len();
            if size == 0 {
                bail!("{parquet} ({format}) is empty");
            }
        }
    }
    Ok(())
}
