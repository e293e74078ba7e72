//! The stand-ins as child processes: the Tardis stand-in (`tardis-stub`) and the GCS fake (`fake-gcs`), each on a
//! free loopback port, stopped with SIGINT (by their own pid) when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use anyhow::{Context, Result, bail};

/// A server started by the bench; stopped (SIGINT, then waited for) on drop.
#[derive(Debug)]
pub(crate) struct Server {
    name: &'static str,
    child: Child,
    /// Kept open so the server never meets a closed stdout.
    _stdout: BufReader<ChildStdout>,
    url: String,
    stats: Option<PathBuf>,
}

impl Server {
    /// Starts `program` with `args`, its stderr appended to `log`, and waits for the line
    /// `<name> listening on <url>` on its stdout.
    fn start(
        name: &'static str,
        program: &Path,
        args: &[String],
        log: &Path,
        stats: Option<PathBuf>,
    ) -> Result<Server> {
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let mut stdout = BufReader::new(child.stdout.take().context("piped stdout")?);
        let mut line = String::new();
        let prefix = format!("{name} listening on ");
        loop {
            line.clear();
            if stdout.read_line(&mut line)? == 0 {
                let status = child.wait()?;
                bail!("{name} exited during start-up ({status}); see {}", log.display());
            }
            if let Some(url) = line.trim().strip_prefix(&prefix) {
                let url = url.to_owned();
                return Ok(Server { name, child, _stdout: stdout, url, stats });
            }
        }
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The server's CPU time so far (user + system, all its threads), from `/proc/PID/stat` in clock ticks.
    pub(crate) fn cpu_seconds(&self) -> Result<f64> {
        let path = format!("/proc/{}/stat", self.child.id());
        let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        cpu_seconds(&stat, clock_ticks()?).with_context(|| format!("{path} holds {stat:?}"))
    }

    /// Stops the server (SIGINT, so it reports) and returns its `--stats` JSON, if it was asked for one.
    pub(crate) fn stop(mut self) -> Result<Option<String>> {
        self.interrupt()?;
        let status = self.child.wait()?;
        if !status.success() {
            bail!("{} ended with {status}", self.name);
        }
        match &self.stats {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("{} wrote no {}", self.name, path.display()))?;
                Ok(Some(text))
            }
            None => Ok(None),
        }
    }

    fn interrupt(&mut self) -> Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        // Our own child, by its pid.
        let status = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status()?;
        if !status.success() {
            bail!("kill -INT {} failed", self.child.id());
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.interrupt();
            let _ = self.child.wait();
        }
    }
}

/// How the Tardis stand-in serves.
#[derive(Debug, Clone)]
pub(crate) struct StubOptions {
    pub(crate) key: String,
    /// `--file-size` (K, M or G suffix).
    pub(crate) file_size: String,
    pub(crate) cache_dir: PathBuf,
    /// Files up to this size stay in memory (`--memory-cache-limit`); "0" serves every file from the disk cache.
    pub(crate) memory_cache_limit: String,
    /// Bytes per second per response.
    pub(crate) bandwidth: Option<u64>,
    pub(crate) first_byte_delay_ms: u64,
    pub(crate) shared_bodies: bool,
    /// Where the counters go at shutdown.
    pub(crate) stats: Option<PathBuf>,
}

impl StubOptions {
    /// The benches' stand-in: their key, `file_size` files cached under `target/bench/stub-cache`, those up to
    /// `memory_cache_limit` in memory, no bandwidth cap or delay, no shared bodies, no counters file.
    pub(crate) fn bench(file_size: &str, memory_cache_limit: &str) -> StubOptions {
        StubOptions {
            key: super::job::KEY.into(),
            file_size: file_size.into(),
            cache_dir: super::target_dir().join("bench/stub-cache"),
            memory_cache_limit: memory_cache_limit.into(),
            bandwidth: None,
            first_byte_delay_ms: 0,
            shared_bodies: false,
            stats: None,
        }
    }
}

/// Starts the Tardis stand-in of the benchmark part `part`, its log in `target/bench/logs/{part}-tardis-stub.log`.
pub(crate) fn bench_tardis_stub(
    binaries: &super::Binaries,
    options: &StubOptions,
    part: &str,
) -> Result<Server> {
    tardis_stub(
        &binaries.tardis_stub,
        options,
        &super::log_file(&format!("{part}-tardis-stub.log"))?,
    )
}

/// Starts the Tardis stand-in.
pub(crate) fn tardis_stub(binary: &Path, options: &StubOptions, log: &Path) -> Result<Server> {
    let mut args: Vec<String> = vec![
        "--port".into(),
        "0".into(),
        "--key".into(),
        options.key.clone(),
        "--file-size".into(),
        options.file_size.clone(),
        "--cache-dir".into(),
        options.cache_dir.to_str().context("UTF-8 path")?.into(),
        "--memory-cache-limit".into(),
        options.memory_cache_limit.clone(),
        "--first-byte-delay-ms".into(),
        options.first_byte_delay_ms.to_string(),
    ];
    if let Some(bandwidth) = options.bandwidth {
        args.extend(["--bandwidth".into(), bandwidth.to_string()]);
    }
    if options.shared_bodies {
        args.push("--shared-bodies".into());
    }
    if let Some(stats) = &options.stats {
        let _ = std::fs::remove_file(stats);
        args.extend(["--stats".into(), stats.to_str().context("UTF-8 path")?.into()]);
    }
    Server::start("tardis-stub", binary, &args, log, options.stats.clone())
}

/// The GCS fake keeps bodies up to this size (definitions, manifests) and drops larger ones (the parts of dataset
/// files), so what it costs the shared cores is receiving them, as the real GCS costs nothing of ours.
pub(crate) const DISCARD_OVER: u64 = 4 << 20;

/// Starts the GCS fake; `discard_over` drops bodies of puts and parts above that many bytes.
pub(crate) fn fake_gcs(binary: &Path, discard_over: Option<u64>, log: &Path) -> Result<Server> {
    let mut args = Vec::new();
    if let Some(limit) = discard_over {
        args.extend(["--discard-over".to_owned(), limit.to_string()]);
    }
    Server::start("fake-gcs", binary, &args, log, None)
}

/// User + system seconds from the text of `/proc/PID/stat` (fields 14 and 15, after the parenthesised command
/// name, which may hold spaces), at `ticks` clock ticks per second.
fn cpu_seconds(stat: &str, ticks: f64) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / ticks)
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`).
pub(crate) fn clock_ticks() -> Result<f64> {
    let output =
        Command::new("getconf").arg("CLK_TCK").output().context("running getconf CLK_TCK")?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|ticks| *ticks > 0.0)
        .with_context(|| format!("getconf CLK_TCK printed {text:?}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        // Fields 14 and 15 (utime, stime) are 11 and 12 after the name; a name with spaces and parentheses.
        let stat =
            "4242 (tardis (stub) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 150 37 0 0 20 0 9 0 12345";
        assert_eq!(super::cpu_seconds(stat, 100.0), Some(1.87));
        assert_eq!(super::cpu_seconds("4242 (stub) S 1", 100.0), None);
    }
}
