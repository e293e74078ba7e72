//! Single-core inflate throughput of the gzip check on real files, per backend: the measurement behind the choice
//! of inflater in docs/BENCHMARKS.md ("Inflate").
//!
//! ```text
//! cargo run --release -p tardis-client --example inflate -- FILE.csv.gz... [--runs N] [--piece-kib K] [--out-kib K]
//!     [--only LABEL]
//! ```
//!
//! Each file is read into memory, then decoded by [`GzipDecoder`] fed in 64 KiB pieces (`--piece-kib`; about what
//! a download hands the check) into a 256 KiB buffer (`--out-kib`; the check's size) that is discarded, with every backend this build has, and by flate2's
//! `MultiGzDecoder` (zlib-rs, what the converter used before); each backend also with the file-facts scanner
//! (`tardis_client::facts`) reading the output, as the client's check does, and the scanner alone over the inflated
//! CSV (its cost beside the check is the ratio of the two rows' MB/s). Prints MB/s of compressed input per second of the
//! thread's CPU time (`/proc/thread-self/schedstat`, so a busy machine does not lower it) and of wall time, best
//! of `--runs` (3). `--only` keeps the rows whose label contains it (`--only alone`: the scanner alone, to profile).
#![allow(clippy::print_stdout)]

use std::io::Read;
use std::time::{Duration, Instant};

use tardis_client::facts::FactsScanner;
use tardis_client::gzip::{Backend, GzipDecoder};

const PIECE: usize = 64 * 1024;

/// The gzip check's output buffer.
const OUT: usize = 256 * 1024;

/// One way to inflate a whole body; returns the inflated size.
type Inflate = Box<dyn Fn(&[u8]) -> Result<u64, String>>;

fn main() -> Result<(), String> {
    let mut files = Vec::new();
    let mut runs = 3usize;
    let mut sizes = (PIECE, OUT);
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--piece-kib" || arg == "--out-kib" {
            let kib: usize = args
                .next()
                .and_then(|value| value.parse().ok())
                .filter(|kib| *kib > 0)
                .ok_or_else(|| format!("{arg} needs a positive number"))?;
            if arg == "--piece-kib" { sizes.0 = kib << 10 } else { sizes.1 = kib << 10 }
        } else if arg == "--only" {
            only = Some(args.next().ok_or("--only needs a part of a row's label")?);
        } else if arg == "--runs" {
            runs = args
                .next()
                .and_then(|value| value.parse().ok())
                .ok_or("--runs needs a positive number")?;
        } else {
            files.push(arg);
        }
    }
    if files.is_empty() {
        return Err(
            "usage: inflate FILE.csv.gz... [--runs N] [--piece-kib K] [--out-kib K] [--only LABEL]"
                .into(),
        );
    }
    println!(
        "| file | inflater | MB/s of gzip per CPU second (best) | MB/s per wall second (best) | inflated MB |"
    );
    println!("|---|---|---:|---:|---:|");
    for file in &files {
        let body = std::fs::read(file).map_err(|error| format!("reading {file}: {error}"))?;
        let name = std::path::Path::new(file)
            .file_name()
            .map_or(file.clone(), |name| name.to_string_lossy().into());
        let mut tools: Vec<(String, Inflate)> = Backend::ALL
            .iter()
            .flat_map(|&backend| {
                let run: Inflate = Box::new(move |body| check(backend, body, sizes, false));
                let with_facts: Inflate = Box::new(move |body| check(backend, body, sizes, true));
                [
                    (format!("md gzip check, {backend}"), run),
                    (format!("md gzip check + file facts, {backend}"), with_facts),
                ]
            })
            .collect();
        tools.push(("flate2 MultiGzDecoder, zlib-rs".into(), Box::new(multi_gz)));
        // The scanner alone, over the inflated CSV in pieces of the check's output size: its cost without the
        // inflate's, per byte of gzip like the other rows (so its cost beside the check is their ratio).
        let csv = std::rc::Rc::new(inflate_all(&body)?);
        let facts_alone: Inflate = Box::new(move |_| {
            let mut scanner = FactsScanner::new();
            for piece in csv.chunks(sizes.1) {
                scanner.update(piece);
            }
            std::hint::black_box(scanner.finish());
            Ok(csv.len() as u64)
        });
        tools.push(("file facts alone (over the inflated CSV)".into(), facts_alone));
        for (label, run) in tools
            .iter()
            .filter(|(label, _)| only.as_ref().is_none_or(|only| label.contains(only.as_str())))
        {
            let (mut best_cpu, mut best_wall, mut inflated) = (Duration::MAX, Duration::MAX, 0);
            for _ in 0..runs {
                let (cpu, wall) = (thread_cpu()?, Instant::now());
                inflated = run(&body).map_err(|error| format!("{file}: {label}: {error}"))?;
                best_wall = best_wall.min(wall.elapsed());
                best_cpu = best_cpu.min(thread_cpu()? - cpu);
            }
            let mb_s = |time: Duration| body.len() as f64 / time.as_secs_f64() / 1e6;
            println!(
                "| {name} ({:.1} MB) | {label} | {:.0} | {:.0} | {:.1} |",
                body.len() as f64 / 1e6,
                mb_s(best_cpu),
                mb_s(best_wall),
                inflated as f64 / 1e6
            );
        }
    }
    Ok(())
}

/// The gzip check: decode and discard, in pieces; with `facts`, the output goes through the file-facts scanner
/// first, as in the client's check.
fn check(
    backend: Backend,
    body: &[u8],
    (piece, out): (usize, usize),
    facts: bool,
) -> Result<u64, String> {
    let mut decoder = GzipDecoder::new(backend);
    let mut scanner = facts.then(FactsScanner::new);
    let mut scratch = vec![0; out];
    for mut piece in body.chunks(piece) {
        loop {
            let (used, produced) =
                decoder.decompress(piece, &mut scratch).map_err(|error| error.to_string())?;
            if let Some(scanner) = &mut scanner {
                scanner.update(&scratch[..produced]);
            }
            piece = &piece[used..];
            if produced < scratch.len() {
                break;
            }
        }
    }
    decoder.finish().map_err(|error| error.to_string())?;
    if let Some(scanner) = scanner {
        std::hint::black_box(scanner.finish());
    }
    Ok(decoder.uncompressed_bytes())
}

/// The whole file, inflated.
fn inflate_all(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut csv = Vec::new();
    flate2::read::MultiGzDecoder::new(body)
        .read_to_end(&mut csv)
        .map_err(|error| error.to_string())?;
    Ok(csv)
}

fn multi_gz(body: &[u8]) -> Result<u64, String> {
    let mut decoder = flate2::read::MultiGzDecoder::new(body);
    let mut scratch = vec![0; PIECE];
    let mut total = 0u64;
    loop {
        match decoder.read(&mut scratch).map_err(|error| error.to_string())? {
            0 => return Ok(total),
            read => total += read as u64,
        }
    }
}

/// The calling thread's CPU time so far.
fn thread_cpu() -> Result<Duration, String> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
        .map_err(|error| format!("reading /proc/thread-self/schedstat: {error}"))?;
    let nanos = text
        .split_whitespace()
        .next()
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| format!("/proc/thread-self/schedstat holds {text:?}"))?;
    Ok(Duration::from_nanos(nanos))
}
