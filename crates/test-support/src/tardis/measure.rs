//! Memory measurement for benchmarks: the peak resident set of `md-cli fetch` for a file of a given size.
//!
//! `cargo xtask bench` (or `fetch-rss`) calls [`measure_fetch`] for a small and a large size and compares the peaks:
//! a streaming download keeps them within a few MiB of each other, whatever the file size. Linux only (it polls
//! `VmHWM` in `/proc/PID/status`, which only grows, so the last reading before exit is the peak).

use std::io;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use super::{StubConfig, TardisStub, dataset_path};

/// What one measured fetch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchMeasurement {
    /// Bytes of the file fetched.
    pub file_bytes: u64,
    /// Peak resident set of the `md-cli` process, KiB.
    pub peak_rss_kib: u64,
    /// Wall time of the fetch (the file was generated beforehand).
    pub elapsed: Duration,
}

/// Serves one file of about `file_size` compressed bytes from a fresh stand-in, fetches it with the `md-cli`
/// binary at `md_cli` into `work_dir`, checks the result is byte-exact (length and CRC32C), removes it, and
/// returns the peak resident set of the `md-cli` process.
///
/// # Errors
/// When the stand-in, the fetch or the check fails.
pub fn measure_fetch(
    md_cli: &Path,
    file_size: u64,
    work_dir: &Path,
) -> io::Result<FetchMeasurement> {
    let md_cli = md_cli.canonicalize()?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let stub = runtime.block_on(TardisStub::start(StubConfig {
        api_key: Some("TD.measure".into()),
        file_size,
        ..StubConfig::default()
    }))?;
    let date = NaiveDate::from_ymd_opt(2026, 10, 2).expect("valid date");
    let path = dataset_path("deribit", "trades", date, "BTC-PERPETUAL");
    // Generate (or find in the disk cache) the file first, so only the fetch is measured.
    let (expected_len, expected_crc) = runtime.block_on(stub.expected_crc32c(&path))?;
    let output = work_dir.join(format!("measure-{file_size}.csv.gz"));
    let url = stub.base_url();
    let started = Instant::now();
    let mut child = Command::new(&md_cli)
        .args(["fetch", "--exchange", "deribit", "--data-type", "trades", "--date", "2026-10-02"])
        .args(["--symbol", "BTC-PERPETUAL", "--output"])
        .arg(&output)
        .env_clear()
        .env("HOME", work_dir)
        .env("TARDIS_BASE_URL", &url)
        .env("TARDIS_API_URL", &url)
        .env("TARDIS_API_KEY", "TD.measure")
        .env("LOG_LEVEL", "warning")
        .current_dir(work_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_rss_kib = 0;
    let status = loop {
        let reading = std::fs::read_to_string(&status_file).ok().and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        });
        if let Some(kib) = reading {
            peak_rss_kib = peak_rss_kib.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    if !status.success() {
        return Err(io::Error::other(format!("md-cli fetch failed: {status}")));
    }
    let (len, crc) = crc32c_of_file(&output)?;
    std::fs::remove_file(&output)?;
    if (len, crc) != (expected_len, expected_crc) {
        return Err(io::Error::other(format!(
            "the fetched file differs: {len} bytes crc32c {crc:08x}, expected {expected_len} bytes {expected_crc:08x}"
        )));
    }
    drop(stub);
    Ok(FetchMeasurement { file_bytes: len, peak_rss_kib, elapsed })
}

fn crc32c_of_file(path: &Path) -> io::Result<(u64, u32)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buffer = vec![0u8; 1 << 20];
    let (mut len, mut crc) = (0u64, 0u32);
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok((len, crc));
        }
        crc = crc32c::crc32c_append(crc, &buffer[..n]);
        len += n as u64;
    }
}
