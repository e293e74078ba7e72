//! Runs the fake GCS XML API until killed: `fake-gcs [--port N]` (default: a free port).
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
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().map(|value| value.parse::<u16>())) {
            ("--port", Some(Ok(value))) => port = value,
            _ => {
                eprintln!("usage: fake-gcs [--port N]");
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
        println!("fake-gcs listening on {}", fake.url());
        let _ = std::io::stdout().flush();
        let _ = tokio::signal::ctrl_c().await;
        ExitCode::SUCCESS
    })
}
