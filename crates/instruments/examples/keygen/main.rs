//! Measures key generation for synthetic Deribit-shaped instruments (the crate itself reads no clock); `cargo xtask
//! bench keys` runs it.
//!
//! `cargo run --release -p instruments --example keygen -- [INSTRUMENTS] [CHUNK]` (defaults 1000000 and 10000).
//! Listings of CHUNK instruments ([`synthetic`]) are generated untimed, then keyed under the clock, twice: through
//! `assign_keys` (the whole listing path, variants included; each key holds its formatted text) and instrument by
//! instrument through `key_for_instrument`.
//! Both wall-clock time and this thread's CPU time (Linux `/proc/thread-self/schedstat`) are reported, since other
//! processes on a shared machine inflate the first.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashSet;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use instruments::{assign_keys, key_for_instrument};

use crate::synthetic::synthetic_instruments;

mod synthetic;

/// Time this thread has spent on a CPU, if the kernel says.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Wall-clock and CPU time of the sections measured so far.
#[derive(Default)]
struct Meter {
    wall: Duration,
    cpu: Option<Duration>,
}

impl Meter {
    fn measure<T>(&mut self, work: impl FnOnce() -> T) -> T {
        let (clock, cpu) = (Instant::now(), cpu_time());
        let result = work();
        self.wall += clock.elapsed();
        self.cpu = match (cpu, cpu_time()) {
            (Some(before), Some(after)) => {
                Some(self.cpu.unwrap_or_default() + after.saturating_sub(before))
            }
            _ => None,
        };
        result
    }

    fn report(&self, label: &str, keys: usize) {
        let rate = |elapsed: Duration| keys as f64 / elapsed.as_secs_f64();
        let cpu = self.cpu.map_or_else(
            || "cpu time unavailable".to_owned(),
            |cpu| format!("cpu {:.3} s, {:.0} keys/s", cpu.as_secs_f64(), rate(cpu)),
        );
        println!(
            "{label}: wall {:.3} s, {:.0} keys/s; {cpu}",
            self.wall.as_secs_f64(),
            rate(self.wall)
        );
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let parse =
        |arg: Option<String>, default: usize| arg.map_or(Ok(default), |arg| arg.parse::<usize>());
    let (total, chunk) = match (parse(args.next(), 1_000_000), parse(args.next(), 10_000)) {
        (Ok(total), Ok(chunk)) if chunk > 0 => (total, chunk),
        _ => {
            eprintln!("usage: keygen [INSTRUMENTS] [CHUNK]");
            return ExitCode::from(2);
        }
    };

    let mut listing = Meter::default();
    let mut single = Meter::default();
    let mut distinct = HashSet::with_capacity(total);
    let mut bytes = 0usize;
    let mut start = 0usize;
    while start < total {
        let count = chunk.min(total - start);
        let instruments = synthetic_instruments(start as u64, count);
        let keys = match listing.measure(|| {
            assign_keys("deribit", &instruments)
                .into_iter()
                .collect::<instruments::Result<Vec<_>>>()
        }) {
            Ok(keys) => keys,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        };
        let single_bytes: instruments::Result<usize> = single.measure(|| {
            instruments
                .iter()
                .map(|info| key_for_instrument(info).map(|key| key.as_str().len()))
                .sum()
        });
        match single_bytes {
            Ok(single_bytes) => bytes += single_bytes,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        }
        distinct.extend(keys.iter().map(|key| key.as_str().to_owned()));
        start += count;
    }
    println!(
        "instruments: {total} (listings of {chunk}), distinct keys: {}, key bytes: {bytes}",
        distinct.len()
    );
    listing.report("listing path (assign_keys)", total);
    single.report("single path (key_for_instrument)", total);
    if distinct.len() == total { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
