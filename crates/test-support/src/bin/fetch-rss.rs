//! `fetch-rss MD_CLI SIZE...`: peak RSS of `md-cli fetch` per file size, fetched from the Tardis stand-in.
//!
//! Sizes take K, M or G suffixes. Example: `fetch-rss target/release/md-cli 64K 512M`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a developer tool that reports to the terminal"
)]

use std::path::PathBuf;

use clap::Parser;
use test_support::parse_size;
use test_support::tardis::measure::measure_fetch;

/// Peak RSS of `md-cli fetch` per file size.
#[derive(Debug, Parser)]
#[command(name = "fetch-rss")]
struct Args {
    /// The md-cli binary to measure.
    md_cli: PathBuf,
    /// File sizes, with K, M or G suffixes (1024-based).
    #[arg(required = true, value_parser = parse_size)]
    sizes: Vec<u64>,
}

fn main() -> std::process::ExitCode {
    let Args { md_cli, sizes } = Args::parse();
    let work_dir = std::env::temp_dir().join(format!("md-fetch-rss-{}", std::process::id()));
    if let Err(error) = std::fs::create_dir_all(&work_dir) {
        eprintln!("fetch-rss: {error}");
        return std::process::ExitCode::FAILURE;
    }
    println!("{:>14} {:>14} {:>10}", "file_bytes", "peak_rss_kib", "seconds");
    for size in sizes {
        match measure_fetch(&md_cli, size, &work_dir) {
            Ok(m) => println!(
                "{:>14} {:>14} {:>10.2}",
                m.file_bytes,
                m.peak_rss_kib,
                m.elapsed.as_secs_f64()
            ),
            Err(error) => {
                eprintln!("fetch-rss: {size}: {error}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work_dir);
    std::process::ExitCode::SUCCESS
}
