//! `fetch-rss MD_CLI SIZE...`: peak RSS of `md-cli fetch` per file size, fetched from the Tardis stand-in.
//!
//! Sizes take K, M or G suffixes. Example: `fetch-rss target/release/md-cli 64K 512M`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a developer tool that reports to the terminal"
)]

use std::path::PathBuf;

use test_support::tardis::measure::measure_fetch;

fn parse_size(text: &str) -> Option<u64> {
    let upper = text.trim().to_ascii_uppercase();
    let (number, scale) = match upper.chars().last()? {
        'K' => (&upper[..upper.len() - 1], 1u64 << 10),
        'M' => (&upper[..upper.len() - 1], 1 << 20),
        'G' => (&upper[..upper.len() - 1], 1 << 30),
        _ => (upper.as_str(), 1),
    };
    Some(number.parse::<u64>().ok()? * scale)
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((md_cli, sizes)) = args.split_first().filter(|(_, sizes)| !sizes.is_empty()) else {
        eprintln!(
            "usage: fetch-rss MD_CLI SIZE... (e.g. fetch-rss target/release/md-cli 64K 512M)"
        );
        return std::process::ExitCode::from(2);
    };
    let work_dir = std::env::temp_dir().join(format!("md-fetch-rss-{}", std::process::id()));
    if let Err(error) = std::fs::create_dir_all(&work_dir) {
        eprintln!("fetch-rss: {error}");
        return std::process::ExitCode::FAILURE;
    }
    println!("{:>14} {:>14} {:>10}", "file_bytes", "peak_rss_kib", "seconds");
    for size in sizes {
        let Some(bytes) = parse_size(size) else {
            eprintln!("fetch-rss: not a size: {size}");
            return std::process::ExitCode::from(2);
        };
        match measure_fetch(&PathBuf::from(md_cli), bytes, &work_dir) {
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
