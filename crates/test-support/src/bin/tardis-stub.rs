//! `tardis-stub`: the Tardis stand-in as a program, to try `md-cli` offline (`cargo xtask stub`) and to serve
//! `cargo xtask bench`.
//!
//! It prints `tardis-stub listening on http://127.0.0.1:PORT` first, and runs until SIGINT; then it reports its
//! counters on stderr and, with `--stats PATH`, writes them as one JSON object (the benches read it).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a developer tool that reports to the terminal"
)]

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Parser;
use test_support::parse_size;
use test_support::tardis::{FaultRates, StubConfig, TardisStub, busiest_second};

/// Serve the Tardis datasets and metadata API on 127.0.0.1 from fixtures and generated files.
#[derive(Debug, Parser)]
#[command(name = "tardis-stub", max_term_width = 120)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8700)]
    port: u16,
    /// API key to require (`Authorization: Bearer KEY`); without it every request is accepted.
    #[arg(long)]
    key: Option<String>,
    /// Compressed size of generated files: bytes, or with a K, M or G suffix (1024-based).
    #[arg(long, default_value = "64K", value_parser = parse_size)]
    file_size: u64,
    /// Do not honour Range requests.
    #[arg(long)]
    no_ranges: bool,
    /// Probability of HTTP 500 per dataset request.
    #[arg(long, default_value_t = 0.0)]
    rate_500: f64,
    /// Probability of HTTP 429 per dataset request.
    #[arg(long, default_value_t = 0.0)]
    rate_429: f64,
    /// Probability of a connection dropped mid-body.
    #[arg(long, default_value_t = 0.0)]
    rate_drop: f64,
    /// Probability of a stall mid-body.
    #[arg(long, default_value_t = 0.0)]
    rate_stall: f64,
    /// Probability of a corrupt byte.
    #[arg(long, default_value_t = 0.0)]
    rate_corrupt: f64,
    /// Probability of a truncated gzip with a matching Content-Length.
    #[arg(long, default_value_t = 0.0)]
    rate_truncate: f64,
    /// Retry-After of injected 429s, seconds.
    #[arg(long, default_value_t = 1)]
    retry_after: u64,
    /// How long a stall lasts, milliseconds.
    #[arg(long, default_value_t = 5000)]
    stall_ms: u64,
    /// Seed of the random faults.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Bandwidth cap per response, bytes per second.
    #[arg(long, value_parser = parse_size)]
    bandwidth: Option<u64>,
    /// Delay before each response, milliseconds.
    #[arg(long, default_value_t = 0)]
    first_byte_delay_ms: u64,
    /// Directory of the disk cache of generated files (default: $TMPDIR/md-tardis-stub).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Files up to this size are generated in memory, larger ones into the disk cache and served from it.
    #[arg(long, default_value = "64M", value_parser = parse_size)]
    memory_cache_limit: u64,
    /// Serve every file of one exchange, data type and month with the same body (one cached file per data type
    /// for benchmarks over many large files; the rows do not carry the requested symbol and day).
    #[arg(long)]
    shared_bodies: bool,
    /// Replace every exchange's `datasets.exportedUntil` with this moment (RFC 3339, e.g. 2026-12-04T06:00:00Z):
    /// the details report it, and days that end after it are not served (404).
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    exported_until: Option<DateTime<Utc>>,
    /// At shutdown, write the counters as JSON to this file (dataset requests counted apart from metadata ones).
    #[arg(long, value_name = "PATH")]
    stats: Option<PathBuf>,
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| format!("not an RFC 3339 time ({error}): {text:?}"))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let config = StubConfig {
        port: args.port,
        api_key: args.key.clone(),
        file_size: args.file_size,
        ranges: !args.no_ranges,
        fault_rates: FaultRates {
            status_500: args.rate_500,
            too_many_requests: args.rate_429,
            drop_mid_body: args.rate_drop,
            stall: args.rate_stall,
            corrupt_byte: args.rate_corrupt,
            truncated_gzip: args.rate_truncate,
            redirect: 0.0,
        },
        seed: args.seed,
        retry_after_secs: args.retry_after,
        stall: Duration::from_millis(args.stall_ms),
        bandwidth: args.bandwidth,
        first_byte_delay: Duration::from_millis(args.first_byte_delay_ms),
        cache_dir: args.cache_dir.clone(),
        memory_cache_limit: args.memory_cache_limit,
        shared_bodies: args.shared_bodies,
        exported_until: args.exported_until,
        ..StubConfig::default()
    };
    let stub = match TardisStub::start(config).await {
        Ok(stub) => stub,
        Err(error) => {
            eprintln!("tardis-stub: cannot listen on 127.0.0.1:{}: {error}", args.port);
            return std::process::ExitCode::FAILURE;
        }
    };
    let url = stub.base_url();
    println!("tardis-stub listening on {url}");
    let _ = std::io::stdout().flush();
    println!("try:");
    println!("  export TARDIS_BASE_URL={url} TARDIS_API_URL={url}");
    if let Some(key) = &args.key {
        println!("  export TARDIS_API_KEY={key}");
    }
    println!(
        "  md-cli fetch --exchange deribit --data-type trades --date 2024-03-01 --symbol BTC-PERPETUAL --output trades.csv.gz"
    );
    let _ = tokio::signal::ctrl_c().await;
    let counters = stub.counters();
    let datasets = stub.requests().iter().filter(|record| record.path.ends_with(".csv.gz")).count();
    eprintln!(
        "tardis-stub: {} requests ({datasets} for dataset files), at most {} in flight, at most {} in one second",
        counters.total, counters.in_flight_peak, counters.max_per_second
    );
    if let Some(path) = &args.stats {
        let stats = stats_json(&stub);
        if let Err(error) = std::fs::write(path, stats) {
            eprintln!("tardis-stub: cannot write {}: {error}", path.display());
            return std::process::ExitCode::FAILURE;
        }
    }
    std::process::ExitCode::SUCCESS
}

/// The counters as one JSON object: all requests, and dataset requests (`.csv.gz`) apart, with the busiest
/// one-second window and the first and last arrival (milliseconds since the stand-in started).
fn stats_json(stub: &TardisStub) -> String {
    let counters = stub.counters();
    let requests = stub.requests();
    let mut arrivals: Vec<Duration> = requests
        .iter()
        .filter(|record| record.path.ends_with(".csv.gz"))
        .map(|record| record.at)
        .collect();
    let busiest = busiest_second(&mut arrivals);
    let millis = |at: Option<&Duration>| at.map_or(0.0, |at| at.as_secs_f64() * 1000.0);
    let faults = requests.iter().filter(|record| record.fault.is_some()).count();
    let errors = requests.iter().filter(|record| record.status >= 400).count();
    serde_json::json!({
        "total": counters.total,
        "max_per_second": counters.max_per_second,
        "in_flight_peak": counters.in_flight_peak,
        "with_authorization": counters.with_authorization,
        "faults": faults,
        "error_statuses": errors,
        "dataset_requests": arrivals.len(),
        "distinct_paths": counters.per_path.len(),
        "dataset_max_per_second": busiest,
        "dataset_first_ms": millis(arrivals.first()),
        "dataset_last_ms": millis(arrivals.last()),
    })
    .to_string()
}
