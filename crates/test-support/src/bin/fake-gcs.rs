//! Runs the fake GCS XML API until killed: `fake-gcs [--port N] [--discard-over BYTES]` (default: a free port;
//! `--discard-over`: bodies of puts and parts above BYTES are dropped, for benchmarks that stream gigabytes).
//!
//! Prints `fake-gcs listening on http://127.0.0.1:PORT` on stdout once it accepts connections; point
//! `STORAGE_EMULATOR_HOST` at that URL to try `md-cli` offline.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a command-line tool")]

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use test_support::gcs::FakeGcs;
use test_support::parse_size;

/// Runs the fake GCS XML API on 127.0.0.1 until killed.
#[derive(Debug, Parser)]
#[command(name = "fake-gcs")]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Drop the bodies of puts and parts above this many bytes (K, M or G suffixes, 1024-based).
    #[arg(long, value_parser = parse_size)]
    discard_over: Option<u64>,
}

fn main() -> ExitCode {
    let Args { port, discard_over } = Args::parse();
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(runtime) => runtime,
            Err(error) => {
                eprintln!("fake-gcs: cannot start the runtime: {error}");
                return ExitCode::FAILURE;
            }
        };
    runtime.block_on(async {
        let fake = match FakeGcs::start_on(SocketAddr::from(([127, 0, 0, 1], port))).await {
            Ok(fake) => fake,
            Err(error) => {
                eprintln!("fake-gcs: cannot listen on 127.0.0.1:{port}: {error}");
                return ExitCode::FAILURE;
            }
        };
        fake.set_discard_over(
            discard_over.map(|bytes| usize::try_from(bytes).unwrap_or(usize::MAX)),
        );
        println!("fake-gcs listening on {}", fake.url());
        let _ = std::io::stdout().flush();
        let _ = tokio::signal::ctrl_c().await;
        ExitCode::SUCCESS
    })
}
