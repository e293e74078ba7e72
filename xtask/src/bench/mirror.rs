//! `cargo xtask bench mirror`: mirror throughput of `md-cli download` against the official Python client and
//! parallel curl, in two profiles.
//!
//! - (a) loopback, unthrottled: the machine's own limit;
//! - (b) WAN-like: the stand-in caps each response at 25 MB/s and delays every response by 50 ms, as a far CDN.
//!
//! The files: 16 of about 32 MiB (4 data types x 2 symbols x 2 days of `binance-futures`, the plan of
//! `md-cli plan` for the selection below), generated once into the stand-in's disk cache under
//! `target/bench/stub-cache/` and fetched once untimed before any tool runs, which loads them into the stand-in's
//! memory: it then serves slices of memory, the cheapest it can (about 0.2 s of CPU per run of md instead of 0.7 s
//! read from the disk cache), because on 2 cores every CPU second the stand-in takes is taken from the tool measured,
//! while the real Tardis spends its own. The tools, interleaved round by round:
//! - `md-cli download` into a local directory and into the GCS fake (`STORAGE_EMULATOR_HOST`; it drops the bodies
//!   of parts over 4 MiB, the dataset files' 5 MiB parts, instead of keeping 537 MB per run in memory, which cost
//!   it 1.5 to 2 s of CPU on the cores md runs on), definitions written first (untimed), default settings
//!   (`MAX_CONCURRENT_REQUESTS=16`), and again with `TARDIS_VERIFY_GZIP=false`
//!   (no inflate: the gzip check is most of md's CPU, and on a 2-core machine it, not the network, sets the pace);
//! - `md-cli download` built without the `isal` feature (zlib-rs inflates; a second build in its own target
//!   directory, see `bench.rs`) into a local directory, so ISA-L's gain is measured in the same run;
//! - the official client, `tardis_dev.download_datasets(..., endpoint=...)` (PyPI `tardis-dev`), into a directory;
//! - curl, 16 at a time (`xargs -P16`), into a directory: the practical limit;
//! - the inflate limit: `igzip -dc` (ISA-L's own tool, the inflater md uses) over the same 16 files read from disk
//!   (page cache), one process per core, all at once, output discarded: what the machine's cores can inflate, which
//!   a verified download cannot beat. Every verified md row is given as a ratio to it.
//!
//! Throughput is megabytes (10^6) of files per second of wall time, process start included.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::job::sixteen::{EXCHANGE, FILES, FROM, SELECTION, TO};
use super::job::{Job, KEY, UnitFiles, Warmed, curl, plan_and_warm};
use super::measure::{Meter, Row, capture, max, median, mib, ratio_goal};
use super::stand::{self, StubOptions};
use super::{Binaries, Options, log_file, remove_dir, target_dir};

/// The official client's `to_date` is exclusive.
const TO_EXCLUSIVE: &str = "2026-10-04";

/// The official client, as its documentation shows it, pointed at the stand-in.
const OFFICIAL: &str = "\
import sys
from tardis_dev import download_datasets
endpoint, key, out, exchange, start, end, symbols, types = sys.argv[1:]
download_datasets(exchange, types.split(','), symbols.split(','), start, end, api_key=key, download_dir=out,
                  endpoint=endpoint)
";

/// One network profile.
#[derive(Debug, Clone, Copy)]
struct Profile {
    name: &'static str,
    /// Bytes per second per response.
    bandwidth: Option<u64>,
    first_byte_delay_ms: u64,
}

const PROFILES: [Profile; 2] = [
    Profile { name: "(a) loopback, unthrottled", bandwidth: None, first_byte_delay_ms: 0 },
    Profile {
        name: "(b) WAN-like: 25 MB/s per connection, 50 ms first byte",
        bandwidth: Some(25_000_000),
        first_byte_delay_ms: 50,
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tool {
    MdLocal,
    MdGcs,
    MdLocalUnchecked,
    MdGcsUnchecked,
    MdLocalZlib,
    Official,
    Curl,
    InflateLimit,
}

const TOOLS: [Tool; 8] = [
    Tool::MdLocal,
    Tool::MdGcs,
    Tool::MdLocalUnchecked,
    Tool::MdGcsUnchecked,
    Tool::MdLocalZlib,
    Tool::Official,
    Tool::Curl,
    Tool::InflateLimit,
];

impl Tool {
    fn label(self) -> &'static str {
        match self {
            Tool::MdLocal => "md-cli download | local directory",
            Tool::MdGcs => "md-cli download | GCS fake (XML API)",
            Tool::MdLocalUnchecked => "md-cli download, TARDIS_VERIFY_GZIP=false | local directory",
            Tool::MdGcsUnchecked => {
                "md-cli download, TARDIS_VERIFY_GZIP=false | GCS fake (XML API)"
            }
            Tool::MdLocalZlib => "md-cli download, zlib-rs (built without isal) | local directory",
            Tool::Official => "official client (tardis-dev) | local directory",
            Tool::Curl => "curl, 16 at a time | local directory",
            Tool::InflateLimit => {
                "inflate limit: igzip -dc, one process per core | output discarded"
            }
        }
    }

    /// Whether the tool is md with the gzip check on, whose speed the inflate limit bounds.
    fn verifies(self) -> bool {
        matches!(self, Tool::MdLocal | Tool::MdGcs | Tool::MdLocalZlib)
    }
}

/// Runs both profiles; returns the Markdown section body.
pub(crate) fn run(options: &Options, binaries: &Binaries, meter: &Meter) -> Result<String> {
    let work = target_dir().join("bench/mirror");
    remove_dir(&work)?;
    std::fs::create_dir_all(&work)?;
    let versions = capture(std::process::Command::new(&meter.python).args([
        "-c",
        "import importlib.metadata as m, sys; print(f\"tardis-dev {m.version('tardis-dev')}, Python {sys.version.split()[0]}\")",
    ]))?;
    let curl_version = capture(std::process::Command::new("curl").arg("--version"))?;
    let curl_version = curl_version.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    if !crate::quietly_succeeds(std::process::Command::new("igzip").arg("--version")) {
        crate::tools::apt_install(
            &["isal"],
            "the inflate limit runs igzip, which is not installed",
        )?;
    }
    let igzip_version = capture(std::process::Command::new("igzip").arg("--version"))?;
    let igzip_version = igzip_version.split_whitespace().last().unwrap_or("?").to_owned();

    let mut out = String::new();
    let _ = writeln!(
        out,
        "16 files of about 32 MiB (binance-futures, trades, incremental_book_L2, quotes and book_snapshot_5 of BTCUSDC \
         and BTCUSDT, {FROM} and {TO}), served by `tardis-stub` from memory; median of \
         {} runs, best in brackets, tools interleaved round by round; {}, {curl_version}, igzip {igzip_version} \
         ({} processes). MB/s: 10^6 bytes of files per second of wall time, process start included; \
         CPU: user + system seconds of the tool's processes; stand-ins' CPU: user + system seconds the Tardis \
         stand-in (and the GCS fake, for the GCS rows; it drops part bodies over 4 MiB) spent meanwhile, on the \
         same cores; peak RSS: `ru_maxrss` from `wait4`; \
         vs inflate limit: MB/s of md with the gzip check on over the inflate limit's in the same profile.\n",
        options.runs(),
        versions.trim(),
        cores()
    );
    let mut goals = String::new();
    for profile in PROFILES {
        let results = run_profile(profile, options, binaries, meter, &work)?;
        let _ = writeln!(out, "**Profile {}**\n", profile.name);
        out.push_str(
            "| tool | sink | MB/s (best) | wall s | CPU s | stand-ins' CPU s | peak RSS MiB | vs curl | vs official client | vs inflate limit |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        let speed =
            |tool: Tool| median(&results[&tool].iter().map(|r| r.mb_s()).collect::<Vec<_>>());
        let (curl, official) = (speed(Tool::Curl), speed(Tool::Official));
        let limit = speed(Tool::InflateLimit);
        for tool in TOOLS {
            let runs = &results[&tool];
            let column = |pick: fn(&Row) -> f64| median(&runs.iter().map(pick).collect::<Vec<_>>());
            let (label, sink) = tool.label().split_once(" | ").unwrap_or((tool.label(), ""));
            let rss = if matches!(tool, Tool::Curl | Tool::InflateLimit) {
                "-".to_owned()
            } else {
                format!("{:.0}", mib(column(|r| r.rss_kib())))
            };
            let stand_ins = runs
                .iter()
                .map(|r| r.stand_ins_cpu)
                .collect::<Option<Vec<f64>>>()
                .map_or_else(|| "-".to_owned(), |cpu| format!("{:.2}", median(&cpu)));
            let versus_limit = if tool.verifies() {
                format!("{:.2}x", column(|r| r.mb_s()) / limit)
            } else {
                "-".to_owned()
            };
            let _ = writeln!(
                out,
                "| {label} | {sink} | {:.0} ({:.0}) | {:.2} | {:.2} | {stand_ins} | {rss} | {:.2}x | {:.2}x | {versus_limit} |",
                column(|r| r.mb_s()),
                max(&runs.iter().map(|r| r.mb_s()).collect::<Vec<_>>()),
                column(|r| r.seconds()),
                column(|r| r.cpu()),
                column(|r| r.mb_s()) / curl,
                column(|r| r.mb_s()) / official,
            );
        }
        out.push('\n');
        let name = &profile.name[..3];
        if profile.bandwidth.is_none() {
            let (md, zlib) = (speed(Tool::MdLocal), speed(Tool::MdLocalZlib));
            for (what, ratio, goal) in [
                ("md vs the all-cores inflate limit", md / limit, 0.85),
                ("md with ISA-L vs md with zlib-rs", md / zlib, 1.7),
            ] {
                let _ = writeln!(
                    goals,
                    "{}",
                    ratio_goal(&format!("{name} local: {what}"), ratio, goal)
                );
            }
        }
        for tool in [Tool::MdLocal, Tool::MdGcs, Tool::MdLocalUnchecked, Tool::MdGcsUnchecked] {
            let md = speed(tool);
            let sink = match tool {
                Tool::MdLocal => "local",
                Tool::MdGcs => "GCS fake",
                Tool::MdLocalUnchecked => "local, TARDIS_VERIFY_GZIP=false",
                _ => "GCS fake, TARDIS_VERIFY_GZIP=false",
            };
            let what = format!("{name} {sink}: md vs curl");
            let _ = writeln!(goals, "{}", ratio_goal(&what, md / curl, 0.8));
            if profile.bandwidth.is_some() {
                let what = format!("{name} {sink}: md vs the official client");
                let _ = writeln!(goals, "{}", ratio_goal(&what, md / official, 5.0));
            }
        }
    }
    let _ = write!(out, "Goals:\n{goals}");
    remove_dir(&work)?;
    Ok(out)
}

fn run_profile(
    profile: Profile,
    options: &Options,
    binaries: &Binaries,
    meter: &Meter,
    work: &Path,
) -> Result<BTreeMap<Tool, Vec<Row>>> {
    let stub_options = StubOptions {
        bandwidth: profile.bandwidth,
        first_byte_delay_ms: profile.first_byte_delay_ms,
        // The files (32 MiB) are loaded from the disk cache into memory on the warming fetch.
        ..StubOptions::bench("32M", "64M")
    };
    let stub = stand::bench_tardis_stub(binaries, &stub_options, "mirror")?;
    let url = stub.url().to_owned();

    // The units, from md-cli's own plan.
    let planning = work.join("plan");
    let sink = planning.join("sink");
    let job = Job::new(&binaries.md_cli, &url, sink.to_str().context("UTF-8 path")?, &planning)
        .select(EXCHANGE, FROM, TO, SELECTION);
    // Fetch every file once (untimed): generated into the disk cache if new, then loaded into the stand-in's memory.
    let part = format!("mirror {}", profile.name);
    let Warmed { units, reference, .. } = plan_and_warm(&job, &planning, work, meter, &url, &part)?;
    let sizes: BTreeMap<String, u64> = units
        .iter()
        .map(|unit| {
            let size = std::fs::metadata(reference.join(unit.file_name()))?.len();
            Ok((unit.file_name(), size))
        })
        .collect::<Result<_>>()?;
    let total: u64 = sizes.values().sum();

    let mut results: BTreeMap<Tool, Vec<Row>> = BTreeMap::new();
    for round in 0..options.runs() {
        for offset in 0..TOOLS.len() {
            let tool = TOOLS[(round + offset) % TOOLS.len()];
            eprintln!(
                "xtask: bench mirror {} {} (round {})",
                &profile.name[..3],
                tool.label(),
                round + 1
            );
            let dir = work.join(format!("run-{round}-{tool:?}"));
            remove_dir(&dir)?;
            std::fs::create_dir_all(&dir)?;
            let stub_cpu = stub.cpu_seconds()?;
            let mut gcs_cpu = None;
            let measured = match tool {
                Tool::MdLocal | Tool::MdLocalUnchecked | Tool::MdLocalZlib => {
                    let sink = dir.join("sink");
                    let md_cli = if tool == Tool::MdLocalZlib {
                        &binaries.md_cli_zlib_rs
                    } else {
                        &binaries.md_cli
                    };
                    let job = Job::new(md_cli, &url, sink.to_str().context("UTF-8 path")?, &dir)
                        .select(EXCHANGE, FROM, TO, SELECTION)
                        .var("TARDIS_VERIFY_GZIP", &(tool != Tool::MdLocalUnchecked).to_string());
                    job.instruments()?;
                    let measured = job.download(meter, FILES)?;
                    for unit in &units {
                        same_bytes(&sink.join(&unit.object), &reference.join(unit.file_name()))?;
                    }
                    measured
                }
                Tool::MdGcs | Tool::MdGcsUnchecked => {
                    let gcs = stand::fake_gcs(
                        &binaries.fake_gcs,
                        Some(stand::DISCARD_OVER),
                        &log_file("mirror-fake-gcs.log")?,
                    )?;
                    let job = Job::new(&binaries.md_cli, &url, "gs://md-bench", &dir)
                        .select(EXCHANGE, FROM, TO, SELECTION)
                        .var("STORAGE_EMULATOR_HOST", gcs.url())
                        .var("TARDIS_VERIFY_GZIP", &(tool == Tool::MdGcs).to_string());
                    job.instruments()?;
                    let before = gcs.cpu_seconds()?;
                    let measured = job.download(meter, FILES)?;
                    gcs_cpu = Some(gcs.cpu_seconds()? - before);
                    gcs.stop()?;
                    measured
                }
                Tool::Official => {
                    let out = dir.join("datasets");
                    let mut symbols: Vec<&str> =
                        units.iter().map(|unit| unit.symbol.as_str()).collect();
                    symbols.sort_unstable();
                    symbols.dedup();
                    let mut types: Vec<&str> =
                        units.iter().map(|unit| unit.data_type.as_str()).collect();
                    types.sort_unstable();
                    types.dedup();
                    let command: Vec<String> = [
                        meter.python.to_str().context("UTF-8 path")?,
                        "-c",
                        OFFICIAL,
                        &format!("{url}/v1"),
                        KEY,
                        out.to_str().context("UTF-8 path")?,
                        EXCHANGE,
                        FROM,
                        TO_EXCLUSIVE,
                        &symbols.join(","),
                        &types.join(","),
                    ]
                    .iter()
                    .map(|part| (*part).to_owned())
                    .collect();
                    let measured = meter.run_with(&command, &[], Some(&dir), None)?;
                    check_sizes(&out, &sizes)?;
                    measured
                }
                Tool::Curl => {
                    let out = dir.join("curl");
                    let measured = curl(meter, &units, &url, Some(&out), 16)?;
                    check_sizes(&out, &sizes)?;
                    measured
                }
                Tool::InflateLimit => {
                    let files: Vec<_> =
                        units.iter().map(|unit| reference.join(unit.file_name())).collect();
                    meter.run(&["sh".into(), "-c".into(), inflate_script(&files, cores())?])?
                }
            };
            // The stand-in also answers md's untimed `instruments` calls: a few metadata requests, far below a tick.
            let stand_ins_cpu = if tool == Tool::InflateLimit {
                None
            } else {
                Some(stub.cpu_seconds()? - stub_cpu + gcs_cpu.unwrap_or(0.0))
            };
            remove_dir(&dir)?;
            results.entry(tool).or_default().push(measured.row(total, stand_ins_cpu));
        }
    }
    stub.stop()?;
    remove_dir(&reference)?;
    Ok(results)
}

/// The cores the inflate limit uses, one `igzip` process each.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// A shell script that inflates `files` with `processes` `igzip -dc` processes at once (file i goes to process
/// i mod `processes`), discarding the output, and fails if any of them fails.
fn inflate_script(files: &[std::path::PathBuf], processes: usize) -> Result<String> {
    let mut script = String::new();
    let mut waits = Vec::new();
    for process in 0..processes.min(files.len()) {
        let mine = files
            .iter()
            .skip(process)
            .step_by(processes)
            .map(|file| Ok(format!("'{}'", file.to_str().context("UTF-8 path")?)))
            .collect::<Result<Vec<_>>>()?;
        let _ = writeln!(script, "igzip -dc {} > /dev/null & p{process}=$!", mine.join(" "));
        waits.push(format!("wait $p{process}"));
    }
    script.push_str(&waits.join(" && "));
    Ok(script)
}

/// Every file the tool should have written is there with the size the stand-in serves.
fn check_sizes(dir: &Path, sizes: &BTreeMap<String, u64>) -> Result<()> {
    for (name, size) in sizes {
        let path = dir.join(name);
        let actual = std::fs::metadata(&path)
            .with_context(|| format!("{} is missing", path.display()))?
            .len();
        if actual != *size {
            bail!("{} has {actual} bytes, the stand-in served {size}", path.display());
        }
    }
    Ok(())
}

fn same_bytes(stored: &Path, reference: &Path) -> Result<()> {
    let (a, b) = (std::fs::read(stored), std::fs::read(reference));
    let (a, b) = (a.with_context(|| format!("reading {}", stored.display()))?, b?);
    if a != b {
        bail!("{} differs from what the stand-in served", stored.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inflate_limit_deals_every_file_to_one_process_and_waits_for_all() {
        let files: Vec<std::path::PathBuf> =
            (0..5).map(|i| format!("/f/{i}.csv.gz").into()).collect();
        let script = inflate_script(&files, 2).unwrap();
        assert_eq!(
            script,
            "igzip -dc '/f/0.csv.gz' '/f/2.csv.gz' '/f/4.csv.gz' > /dev/null & p0=$!\n\
             igzip -dc '/f/1.csv.gz' '/f/3.csv.gz' > /dev/null & p1=$!\n\
             wait $p0 && wait $p1"
        );
        let script = inflate_script(&files[..1], 4).unwrap();
        assert_eq!(script, "igzip -dc '/f/0.csv.gz' > /dev/null & p0=$!\nwait $p0");
    }
}
