//! `tardis-stub`: the Tardis stand-in as a program, to try `md-cli` offline (`cargo xtask stub`).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a developer tool that reports to the terminal"
)]

use std::time::Duration;

use clap::Parser;
use test_support::tardis::{FaultRates, StubConfig, TardisStub};

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
}

fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let number: u64 = number.trim().parse().map_err(|_| format!("not a size: {text:?}"))?;
    let scale = match unit.to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?}: use K, M or G")),
    };
    Ok(number * scale)
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
    eprintln!(
        "tardis-stub: {} requests, at most {} in flight, at most {} in one second",
        counters.total, counters.in_flight_peak, counters.max_per_second
    );
    std::process::ExitCode::SUCCESS
}
