//! Runs the fake GCS XML API until killed: `fake-gcs [--port N] [--discard-over BYTES]` (default: a free port;
//! `--discard-over`: bodies of puts and parts above BYTES are dropped, for benchmarks that stream gigabytes).
//!
//! Prints `fake-gcs listening on http://127.0.0.1:PORT` on stdout once it accepts connections; point
//! `STORAGE_EMULATOR_HOST` at that URL to try `md-cli` offline.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a command-line tool")]

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use test_support::gcs::FakeGcs;

fn main() -> ExitCode {
    let mut port = 0u16;
    let mut discard_over = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().map(|value| value.parse::<usize>())) {
            ("--port", Some(Ok(value))) if u16::try_from(value).is_ok() => {
                port = u16::try_from(value).unwrap_or_default();
            }
            ("--discard-over", Some(Ok(value))) => discard_over = Some(value),
            _ => {
                eprintln!("usage: fake-gcs [--port N] [--discard-over BYTES]");
                return ExitCode::from(2);
            }
        }
    }
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
        fake.set_discard_over(discard_over);
        println!("fake-gcs listening on {}", fake.url());
        let _ = std::io::stdout().flush();
        let _ = tokio::signal::ctrl_c().await;
        ExitCode::SUCCESS
    })
}
