//! `cargo xtask bench facts`: the cost of the per-file facts (issue 25) in the verified download: `md-cli download`
//! of the mirror bench's 16 files into a local directory, with the gzip check on, once as it runs by default (the
//! check learns each file's facts for the manifest) and once with `MD_FILE_FACTS=false` (the check alone),
//! interleaved round by round, loopback without throttling (where md is CPU-bound, so any cost shows).
//!
//! Each run's manifest is read back: with facts it must record all 16 files (`facts_state: learnt`), without none
//! (`turned_off`). The goal: the throughput with facts at least 0.90x of without (issue 25: within 10%).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use downloader::download::manifest::{self, FactsState, Manifest};

use super::job::sixteen::{EXCHANGE, FILES, FROM, SELECTION, TO};
use super::job::{Job, KEY, Warmed, plan_and_warm};
use super::measure::{Meter, max, mb_per_s, median, mib};
use super::stand::{self, StubOptions};
use super::{Binaries, Options, log_file, remove_dir, target_dir};

/// The two settings measured.
const SETTINGS: [(&str, bool); 2] =
    [("with per-file facts (default)", true), ("MD_FILE_FACTS=false", false)];

/// One measured run.
#[derive(Debug, Clone, Copy)]
struct Row {
    mb_s: f64,
    seconds: f64,
    cpu: f64,
    rss_kib: f64,
}

/// Runs the part; returns the Markdown block.
pub(crate) fn run(options: &Options, binaries: &Binaries, meter: &Meter) -> Result<String> {
    let work = target_dir().join("bench/facts");
    remove_dir(&work)?;
    std::fs::create_dir_all(&work)?;
    let stub_options = StubOptions {
        key: KEY.into(),
        file_size: "32M".into(),
        cache_dir: target_dir().join("bench/stub-cache"),
        memory_cache_limit: "64M".into(),
        bandwidth: None,
        first_byte_delay_ms: 0,
        shared_bodies: false,
        stats: None,
    };
    let stub = stand::tardis_stub(
        &binaries.tardis_stub,
        &stub_options,
        &log_file("facts-tardis-stub.log")?,
    )?;
    let url = stub.url().to_owned();
    let job = |dir: &std::path::Path, facts: bool| -> Result<Job> {
        let sink = dir.join("sink");
        Ok(Job::new(&binaries.md_cli, &url, sink.to_str().context("UTF-8 path")?, dir)
            .select(EXCHANGE, FROM, TO, SELECTION)
            .var("TARDIS_VERIFY_GZIP", "true")
            .var("MD_FILE_FACTS", &facts.to_string()))
    };
    let planning = work.join("plan");
    let Warmed { total, .. } =
        plan_and_warm(&job(&planning, true)?, &planning, &work, meter, &url, "facts")?;

    let mut results: BTreeMap<bool, Vec<Row>> = BTreeMap::new();
    let mut rows_learnt = 0;
    for round in 0..options.runs() {
        for offset in 0..SETTINGS.len() {
            let (label, facts) = SETTINGS[(round + offset) % SETTINGS.len()];
            eprintln!("xtask: bench facts: {label} (round {})", round + 1);
            let dir = work.join(format!("run-{round}-{facts}"));
            remove_dir(&dir)?;
            std::fs::create_dir_all(&dir)?;
            let job = job(&dir, facts)?;
            job.instruments()?;
            let measured = job.download(meter, FILES)?;
            let rows = check_manifest(&dir.join("sink"), facts)?;
            if facts {
                rows_learnt = rows;
            }
            remove_dir(&dir)?;
            results.entry(facts).or_default().push(Row {
                mb_s: mb_per_s(total, measured.seconds),
                seconds: measured.seconds,
                cpu: measured.user + measured.system,
                rss_kib: measured.peak_rss_kib as f64,
            });
        }
    }
    stub.stop()?;
    remove_dir(&work)?;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "`md-cli download` of the mirror bench's 16 files of about 32 MiB ({:.0} MB; binance-futures, trades, \
         incremental_book_L2, quotes and book_snapshot_5 of BTCUSDC and BTCUSDT, {FROM} and {TO}) from `tardis-stub` \
         (served from memory) into a local directory, loopback without throttling, `MD_OUTPUT_FORMAT=raw`, \
         `TARDIS_VERIFY_GZIP=true`, with the per-file facts (the default) and with `MD_FILE_FACTS=false`; median of \
         {} runs (best in brackets), settings interleaved round by round. Each run's manifest was checked: 16 \
         records with facts ({rows_learnt} rows in all), none without. MB/s: 10^6 bytes of files per second of wall \
         time, process start included; CPU: user + system seconds.\n",
        total as f64 / 1e6,
        options.runs()
    );
    out.push_str(
        "| md-cli download | MB/s (best) | wall s | CPU s | peak RSS MiB | vs without facts |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    let speed = |facts: bool| median(&results[&facts].iter().map(|r| r.mb_s).collect::<Vec<_>>());
    for (label, facts) in SETTINGS {
        let runs = &results[&facts];
        let column = |pick: fn(&Row) -> f64| median(&runs.iter().map(pick).collect::<Vec<_>>());
        let _ = writeln!(
            out,
            "| {label} | {:.0} ({:.0}) | {:.2} | {:.2} | {:.0} | {:.2}x |",
            column(|r| r.mb_s),
            max(&runs.iter().map(|r| r.mb_s).collect::<Vec<_>>()),
            column(|r| r.seconds),
            column(|r| r.cpu),
            mib(column(|r| r.rss_kib)),
            speed(facts) / speed(false),
        );
    }
    let ratio = speed(true) / speed(false);
    let _ = write!(
        out,
        "\nGoal: the verified download with the per-file facts at least 0.90x of its throughput without them \
         ({ratio:.2}x): **{}**\n",
        if ratio >= 0.90 { "met" } else { "missed" }
    );
    Ok(out)
}

/// Checks the run's manifest says what the setting promises; returns the rows its facts count.
fn check_manifest(sink: &std::path::Path, facts: bool) -> Result<u64> {
    let name = manifest::object_name(FROM.parse()?, TO.parse()?, 0, 1);
    let text = std::fs::read(sink.join(&name)).with_context(|| format!("reading {name}"))?;
    let manifest: Manifest =
        serde_json::from_slice(&text).with_context(|| format!("parsing {name}"))?;
    let expected = if facts { (FactsState::Learnt, FILES) } else { (FactsState::TurnedOff, 0) };
    if (manifest.facts_state, manifest.facts.len()) != expected {
        bail!(
            "{name}: facts_state {:?} with {} records, expected {expected:?}",
            manifest.facts_state,
            manifest.facts.len()
        );
    }
    Ok(manifest.facts.iter().map(|record| record.facts.rows).sum())
}
