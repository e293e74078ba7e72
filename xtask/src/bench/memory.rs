//! `cargo xtask bench memory`: peak RSS of `md-cli download` with `MAX_CONCURRENT_REQUESTS=16` over 16 files of
//! 64 MiB and over 16 files of 1 GiB (loopback, unthrottled), into a local directory and into the GCS fake, with the
//! defaults (5 MiB parts, `MD_SINK_BUFFER_MEMORY` 40 MiB) and with `MEMORY_EFFICIENT=true` (a 20 MiB budget), and
//! into the GCS fake with `MD_OUTPUT_FORMAT=raw,parquet` (one download teed into the raw object and the converter,
//! two uploads per unit).
//!
//! Disk space: the 64 MiB files are cached by the stand-in under `target/bench/stub-cache/` (1 GiB); the 1 GiB
//! files share one body per data type (`tardis-stub --shared-bodies`, 4 GiB of cache instead of 16), and the GCS
//! fake drops bodies above 4 MiB (`fake-gcs --discard-over`) so 16 GiB per run need neither disk nor memory; the
//! local-directory row runs with the 64 MiB files only.

use std::fmt::Write as _;

use anyhow::{Context, Result};

use super::job::sixteen::{EXCHANGE, FILES, FROM, SELECTION, TO};
use super::job::{Job, curl};
use super::measure::{Meter, max, mb_per_s, median, mib, min};
use super::stand::{self, StubOptions};
use super::{Binaries, Options, log_file, remove_dir, target_dir};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sink {
    Local,
    Gcs,
}

/// One configuration measured.
#[derive(Debug, Clone, Copy)]
struct Case {
    /// `--file-size` of the stand-in.
    file_size: &'static str,
    sink: Sink,
    memory_efficient: bool,
    /// `MD_OUTPUT_FORMAT`.
    format: &'static str,
}

/// Measured runs of one case.
#[derive(Debug, Clone)]
struct Outcome {
    case: Case,
    rss_kib: Vec<f64>,
    seconds: Vec<f64>,
    bytes: u64,
}

/// Runs the cases; returns the Markdown section body.
pub(crate) fn run(options: &Options, binaries: &Binaries, meter: &Meter) -> Result<String> {
    let work = target_dir().join("bench/memory");
    remove_dir(&work)?;
    let mut outcomes: Vec<Outcome> = Vec::new();
    let sizes: &[&str] = if options.quick { &["64M"] } else { &["64M", "1G"] };
    for &file_size in sizes {
        let cases: Vec<Case> = [
            (Sink::Local, false, "raw"),
            (Sink::Gcs, false, "raw"),
            (Sink::Gcs, true, "raw"),
            (Sink::Gcs, false, "raw,parquet"),
            (Sink::Gcs, true, "raw,parquet"),
        ]
        .into_iter()
        .filter(|(sink, _, _)| !(file_size == "1G" && *sink == Sink::Local))
        .map(|(sink, memory_efficient, format)| Case { file_size, sink, memory_efficient, format })
        .collect();
        outcomes.extend(run_size(file_size, &cases, options, binaries, meter, &work)?);
    }
    remove_dir(&work)?;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "`md-cli download` with `MAX_CONCURRENT_REQUESTS=16` (the default), 16 files (4 data types x 2 symbols x 2 \
         days), loopback without throttling; peak RSS is `ru_maxrss` from `wait4`, median of {} runs (min-max). \
         The 1 GiB files share one body per data type (the stand-in's `--shared-bodies`) and the GCS fake drops \
         bodies above 4 MiB, so the run needs 4 GiB of disk cache and no sink storage; md-cli cannot tell.\n",
        options.runs()
    );
    out.push_str(
        "| files | sink | MD_OUTPUT_FORMAT | settings | peak RSS MiB (min-max) | wall s | MB/s |\n|---|---|---|---|---:|---:|---:|\n",
    );
    for outcome in &outcomes {
        let Case { file_size, sink, memory_efficient, format } = outcome.case;
        let _ = writeln!(
            out,
            "| 16 x {} | {} | `{format}` | {} | {:.0} ({:.0}-{:.0}) | {:.1} | {:.0} |",
            if file_size == "1G" { "1 GiB" } else { "64 MiB" },
            if sink == Sink::Local { "local directory" } else { "GCS fake" },
            if memory_efficient {
                "`MEMORY_EFFICIENT=true` (20 MiB of part buffers)"
            } else {
                "defaults (40 MiB of part buffers)"
            },
            mib(median(&outcome.rss_kib)),
            mib(min(&outcome.rss_kib)),
            mib(max(&outcome.rss_kib)),
            median(&outcome.seconds),
            mb_per_s(outcome.bytes, median(&outcome.seconds)),
        );
    }
    let find = |file_size: &str, sink: Sink, memory_efficient: bool, format: &str| {
        outcomes
            .iter()
            .find(|o| {
                o.case.file_size == file_size
                    && o.case.sink == sink
                    && o.case.memory_efficient == memory_efficient
                    && o.case.format == format
            })
            .map(|o| mib(median(&o.rss_kib)))
    };
    out.push_str(
        "\nGoals (raw: under 100 MiB; raw,parquet: at most 150 MiB; flat as files grow):\n",
    );
    for (sink, memory_efficient, format, limit, label) in [
        (Sink::Local, false, "raw", 100.0, "local directory, default parts"),
        (Sink::Gcs, false, "raw", 100.0, "GCS, default parts"),
        (Sink::Gcs, true, "raw", 100.0, "GCS, MEMORY_EFFICIENT=true"),
        (
            Sink::Gcs,
            false,
            "raw,parquet",
            150.0,
            "GCS, default parts, MD_OUTPUT_FORMAT=raw,parquet",
        ),
        (
            Sink::Gcs,
            true,
            "raw,parquet",
            150.0,
            "GCS, MEMORY_EFFICIENT=true, MD_OUTPUT_FORMAT=raw,parquet",
        ),
    ] {
        let small = find("64M", sink, memory_efficient, format);
        let large = find("1G", sink, memory_efficient, format);
        let worst = small.into_iter().chain(large).fold(0.0, f64::max);
        let under = if worst <= limit { "met" } else { "missed" };
        let flat = match (small, large) {
            (Some(small), Some(large)) => format!(
                "; 1 GiB vs 64 MiB files {:.2}x: **{}**",
                large / small,
                if large / small <= 1.25 { "flat" } else { "not flat" }
            ),
            _ => String::new(),
        };
        let _ = writeln!(out, "- {label}: highest median {worst:.0} MiB: **{under}**{flat}");
    }
    Ok(out)
}

fn run_size(
    file_size: &'static str,
    cases: &[Case],
    options: &Options,
    binaries: &Binaries,
    meter: &Meter,
    work: &std::path::Path,
) -> Result<Vec<Outcome>> {
    let large = file_size == "1G";
    let stub_options = StubOptions { shared_bodies: large, ..StubOptions::bench(file_size, "0") };
    let stub = stand::bench_tardis_stub(binaries, &stub_options, "memory")?;
    let url = stub.url().to_owned();
    let planning = work.join("plan");
    let job = Job::new(
        &binaries.md_cli,
        &url,
        planning.join("sink").to_str().context("UTF-8 path")?,
        &planning,
    )
    .select(EXCHANGE, FROM, TO, SELECTION);
    job.instruments()?;
    let units = job.plan()?;
    anyhow::ensure!(units.len() == FILES, "the plan has {} units, expected {FILES}", units.len());
    remove_dir(&planning)?;
    // Generate and cache the files before anything is measured.
    eprintln!("xtask: bench memory: stand-in files of {file_size} (generated once, then cached)");
    // One at a time for 1 GiB files: the plan's order may put two units of one shared body side by side.
    let warm = curl(meter, &units, &url, None, if large { 1 } else { 2 })?;
    let bytes = units.len() as u64 * {
        // Every file has about the target size; the exact total comes from the downloads' reports below.
        if large { 1 << 30 } else { 64 << 20 }
    };
    eprintln!("xtask: bench memory: warm-up took {:.0} s", warm.seconds);

    let mut outcomes: Vec<Outcome> = cases
        .iter()
        .map(|&case| Outcome { case, rss_kib: Vec::new(), seconds: Vec::new(), bytes })
        .collect();
    for round in 0..options.runs() {
        for outcome in &mut outcomes {
            let case = outcome.case;
            eprintln!("xtask: bench memory {case:?} (round {})", round + 1);
            let dir = work.join("run");
            remove_dir(&dir)?;
            std::fs::create_dir_all(&dir)?;
            let gcs = match case.sink {
                Sink::Gcs => Some(stand::fake_gcs(
                    &binaries.fake_gcs,
                    Some(stand::DISCARD_OVER),
                    &log_file("memory-fake-gcs.log")?,
                )?),
                Sink::Local => None,
            };
            let sink = match &gcs {
                Some(_) => "gs://md-bench".to_owned(),
                None => dir.join("sink").to_str().context("UTF-8 path")?.to_owned(),
            };
            let mut job = Job::new(&binaries.md_cli, &url, &sink, &dir)
                .select(EXCHANGE, FROM, TO, SELECTION)
                .var("MAX_CONCURRENT_REQUESTS", "16");
            if let Some(gcs) = &gcs {
                job = job.var("STORAGE_EMULATOR_HOST", gcs.url());
            }
            if case.memory_efficient {
                job = job.var("MEMORY_EFFICIENT", "true");
            }
            job = job.var("MD_OUTPUT_FORMAT", case.format);
            job.instruments()?;
            let measured = job.download(meter, FILES)?;
            if let Some(gcs) = gcs {
                gcs.stop()?;
            }
            remove_dir(&dir)?;
            outcome.rss_kib.push(measured.peak_rss_kib as f64);
            outcome.seconds.push(measured.seconds);
        }
    }
    stub.stop()?;
    Ok(outcomes)
}
