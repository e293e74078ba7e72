//! `cargo xtask bench adopt`: adopting a bucket of 10,000 Parquet objects another writer left at planned names,
//! on the GCS fake: objects checked per second. downloader's `adopt_bench` example fills test-support's GCS fake (in
//! its process) with trades files in the original system's schema (100,000 rows, about 1.7 MB each), plans one
//! unit per object and times `Downloader::run` over them: every object read from its footer alone (ranged reads of
//! its end), its schema and row count checked, its adoption recorded, and no Tardis request (the run fails if one
//! is made). The goal: 1,000 objects/s or better, so years of history adopt in minutes.

use std::fmt::Write as _;

use anyhow::{Context, Result};

use super::measure::{Meter, json_number, max, median, min};
use super::{Binaries, Options};

/// The objects adopted per run (2,000 with `--quick`).
const OBJECTS: usize = 10_000;

/// Rows per object: one row group of the original's 100,000.
const ROWS: usize = 100_000;

/// `MAX_CONCURRENT_REQUESTS` of the runs: md's default, and a wider queue.
const CONCURRENCY: [usize; 2] = [16, 64];

/// The goal, objects per second.
const GOAL: f64 = 1_000.0;

/// What one run of `adopt_bench` printed.
#[derive(Debug, Clone)]
struct Run {
    objects_per_second: f64,
    seconds: f64,
    cpu_seconds: f64,
    requests_per_object: f64,
    bytes_per_object: f64,
    object_bytes: f64,
}

fn parse(stdout: &str, ticks: f64) -> Result<Run> {
    let line = stdout
        .lines()
        .rev()
        .find(|line| line.trim_start().starts_with('{'))
        .with_context(|| format!("adopt_bench printed no JSON line:\n{stdout}"))?;
    let number = |field: &str| {
        json_number(line, field)
            .with_context(|| format!("adopt_bench's line has no {field}: {line}"))
    };
    let objects = number("objects")?;
    Ok(Run {
        objects_per_second: number("objects_per_second")?,
        seconds: number("seconds")?,
        cpu_seconds: number("cpu_ticks")? / ticks,
        requests_per_object: number("requests_total")? / objects,
        bytes_per_object: number("served_bytes")? / objects,
        object_bytes: number("object_bytes")?,
    })
}

/// Runs the adoption `--runs` times per concurrency; returns the Markdown section body.
pub(crate) fn run(options: &Options, binaries: &Binaries, meter: &Meter) -> Result<String> {
    let objects = if options.quick { 2_000 } else { OBJECTS };
    let ticks = super::stand::clock_ticks()?;
    let mut rows: Vec<(usize, Vec<Run>)> = Vec::new();
    for concurrency in CONCURRENCY {
        let mut runs = Vec::new();
        for round in 0..options.runs() {
            eprintln!(
                "xtask: bench adopt: {objects} objects, concurrency {concurrency} (round {})",
                round + 1
            );
            let command = [
                binaries.adopt_bench.display().to_string(),
                "--objects".into(),
                objects.to_string(),
                "--rows".into(),
                ROWS.to_string(),
                "--concurrency".into(),
                concurrency.to_string(),
            ];
            let measured = meter.run(&command)?;
            runs.push(parse(&measured.stdout, ticks)?);
        }
        rows.push((concurrency, runs));
    }
    let mut out = String::new();
    let object_mb = rows[0].1[0].object_bytes / 1e6;
    let _ = writeln!(
        out,
        "`adopt_bench --objects {objects} --rows {ROWS}` (release; downloader's example), median of {} runs \
         (min-max): {objects} trades objects of {object_mb:.1} MB in the original's schema on test-support's GCS \
         fake (in the same process: its CPU is in the CPU column), each adopted from its footer; no Tardis \
         request.\n",
        options.runs()
    );
    out.push_str(
        "| `MAX_CONCURRENT_REQUESTS` | objects/s | wall, s | CPU per object (md and the fake), ms | requests per object | bytes read per object | goal (1,000 objects/s) |\n\
         |---:|---:|---:|---:|---:|---:|---|\n",
    );
    for (concurrency, runs) in &rows {
        let rates: Vec<f64> = runs.iter().map(|run| run.objects_per_second).collect();
        let seconds: Vec<f64> = runs.iter().map(|run| run.seconds).collect();
        let cpu: Vec<f64> =
            runs.iter().map(|run| run.cpu_seconds * 1000.0 / objects as f64).collect();
        let requests: Vec<f64> = runs.iter().map(|run| run.requests_per_object).collect();
        let bytes: Vec<f64> = runs.iter().map(|run| run.bytes_per_object).collect();
        let verdict = if median(&rates) >= GOAL { "met" } else { "**not met**" };
        let _ = writeln!(
            out,
            "| {concurrency} | {:.0} ({:.0}-{:.0}) | {:.2} | {:.3} | {:.1} | {:.0} KiB of {object_mb:.1} MB | {verdict} |",
            median(&rates),
            min(&rates),
            max(&rates),
            median(&seconds),
            median(&cpu),
            median(&requests),
            median(&bytes) / 1024.0,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_adopt_bench_lines() {
        let stdout = "{\"adopted\":500,\"concurrency\":16,\"cpu_ticks\":104,\"object_bytes\":508494,\"objects\":500,\
                      \"objects_per_second\":457.1,\"requests\":{\"copy\":0,\"get\":1000,\"head\":500,\"list\":1,\
                      \"put\":501},\"requests_total\":2002,\"rows\":20000,\"seconds\":1.09,\"served_bytes\":32768000}\n";
        let run = parse(stdout, 100.0).unwrap();
        assert_eq!((run.objects_per_second, run.seconds, run.cpu_seconds), (457.1, 1.09, 1.04));
        assert_eq!((run.requests_per_object, run.bytes_per_object), (4.004, 65_536.0));
        assert!(parse("no json", 100.0).is_err());
    }
}
