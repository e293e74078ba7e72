//! `cargo xtask bench rate`: the per-second rate limiter as the server sees it.
//!
//! `md-cli download` with `TARDIS_RATE_LIMIT_PER_SECOND=R` over a few hundred tiny files (about 80 KB each: every
//! venue of the fixtures, every data type, two days), each run against a fresh stand-in that records when every
//! dataset request arrived (`tardis-stub --stats`). Reported: the most dataset requests that arrived within any
//! one-second window (goal: never above R) and the share of R used, `(requests - 1) / (last - first arrival) / R`
//! (goal: at least 95%).

use std::fmt::Write as _;

use anyhow::{Context, Result, bail};

use super::job::Job;
use super::measure::{Meter, json_number, max, median, min};
use super::stand::{self, StubOptions};
use super::{Binaries, Options, remove_dir, target_dir};

/// The limit under test.
const RATE: u32 = 20;
const EXCHANGES: &str = "deribit,binance-futures,bybit,okex-swap";
const FROM: &str = "2026-10-02";
const TO: &str = "2026-10-03";
const SELECTION: &[&str] = &[
    "--data-types",
    "trades,quotes,book_snapshot_5,book_snapshot_25,derivative_ticker,incremental_book_L2,liquidations,options_chain,book_ticker",
];

/// Runs the rate bench; returns the Markdown section body.
pub(crate) fn run(options: &Options, binaries: &Binaries, meter: &Meter) -> Result<String> {
    let work = target_dir().join("bench/rate");
    let stats_path = work.join("stats.json");
    let (mut busiest, mut share, mut seconds) = (Vec::new(), Vec::new(), Vec::new());
    let mut requests = 0.0;
    let mut units = 0;
    for round in 0..options.runs() {
        eprintln!("xtask: bench rate R={RATE} (round {})", round + 1);
        remove_dir(&work)?;
        std::fs::create_dir_all(&work)?;
        let stub_options =
            StubOptions { stats: Some(stats_path.clone()), ..StubOptions::bench("1K", "64M") };
        let stub = stand::bench_tardis_stub(binaries, &stub_options, "rate")?;
        let sink = work.join("sink");
        let job =
            Job::new(&binaries.md_cli, stub.url(), sink.to_str().context("UTF-8 path")?, &work)
                .select(EXCHANGES, FROM, TO, SELECTION)
                .var("TARDIS_RATE_LIMIT_PER_SECOND", &RATE.to_string());
        job.instruments()?;
        units = job.plan()?.len();
        if units < 10 * RATE as usize {
            bail!("only {units} units: too few to hold the limit for ten seconds");
        }
        let measured = job.download(meter, units)?;
        let stats = stub.stop()?.context("the stand-in's counters")?;
        let field = |name: &str| {
            json_number(&stats, name).with_context(|| format!("no {name} in the counters: {stats}"))
        };
        let count = field("dataset_requests")?;
        let span = (field("dataset_last_ms")? - field("dataset_first_ms")?) / 1000.0;
        if count < units as f64 || span <= 0.0 {
            bail!("the stand-in saw {count} dataset requests over {span} s for {units} units");
        }
        requests = count;
        busiest.push(field("dataset_max_per_second")?);
        share.push((count - 1.0) / span / f64::from(RATE));
        seconds.push(measured.seconds);
    }
    remove_dir(&work)?;

    let highest = max(&busiest);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "`TARDIS_RATE_LIMIT_PER_SECOND={RATE}`, {units} units (every venue of {EXCHANGES}, every data type, \
         {FROM} and {TO}; files of about 80 KB), {} runs, each against a fresh stand-in that timestamps every \
         dataset request on arrival.\n",
        options.runs()
    );
    out.push_str(
        "| R | dataset requests | wall s (median) | busiest one-second window, all runs (goal <= R) | share of R used, median (min-max) (goal >= 95%) |\n\
         |---:|---:|---:|---:|---:|\n",
    );
    let _ = writeln!(
        out,
        "| {RATE} | {requests:.0} | {:.1} | {highest:.0} | {:.1}% ({:.1}-{:.1}%) |",
        median(&seconds),
        median(&share) * 100.0,
        min(&share) * 100.0,
        max(&share) * 100.0,
    );
    let _ = writeln!(
        out,
        "\nGoals: never above R: **{}** (busiest window {highest:.0} for R = {RATE}); at least 95% of R used: **{}** \
         (median {:.1}%).",
        if highest <= f64::from(RATE) { "met" } else { "missed" },
        if median(&share) >= 0.95 { "met" } else { "missed" },
        median(&share) * 100.0
    );
    Ok(out)
}
