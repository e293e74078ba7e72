//! How every benchmark measures: a process started by a small Python runner that reads its resource usage with
//! `os.wait4` (wall time and peak RSS as the kernel accounts them), medians, and the tools' virtual environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::run_checked;

/// Starts a command (optionally fed by another on stdin), waits for it with `os.wait4` and reports its wall time
/// and peak RSS as measured by the kernel. The command's stdout is passed through, then one `RUNNER` line.
const RUNNER: &str = r#"
import os, shlex, subprocess, sys, time
args = sys.argv[1:]
feeder = None
if args[0] == "--stdin-from":
    feeder = subprocess.Popen(shlex.split(args[1]), stdout=subprocess.PIPE)
    args = args[2:]
command = args[1:]
start = time.perf_counter()
child = subprocess.Popen(command, stdin=feeder.stdout if feeder else subprocess.DEVNULL, stdout=subprocess.PIPE)
if feeder:
    feeder.stdout.close()
output = child.stdout.read()
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - start
if feeder:
    feeder.wait()
sys.stdout.write(output.decode(errors="replace"))
print(f"\nRUNNER wall={wall:.4f} maxrss_kib={usage.ru_maxrss} user={usage.ru_utime:.3f} sys={usage.ru_stime:.3f} status={os.waitstatus_to_exitcode(status)}")
"#;

/// One measured process.
#[derive(Debug, Clone, Default)]
pub(crate) struct Measured {
    /// Wall time, seconds, process start included.
    pub(crate) seconds: f64,
    /// Peak resident set, KiB (`ru_maxrss` of the process; for a shell pipeline, its largest process).
    pub(crate) peak_rss_kib: u64,
    /// CPU time in user mode, seconds.
    pub(crate) user: f64,
    /// CPU time in the kernel, seconds.
    pub(crate) system: f64,
    /// What the process printed on stdout.
    pub(crate) stdout: String,
}

/// The Python interpreter of `.venv` and the runner script.
#[derive(Debug, Clone)]
pub(crate) struct Meter {
    pub(crate) python: PathBuf,
    runner: PathBuf,
}

impl Meter {
    /// Writes the runner under `work` and uses the virtual environment's interpreter.
    pub(crate) fn new(python: PathBuf, work: &Path) -> Result<Meter> {
        std::fs::create_dir_all(work)
            .with_context(|| format!("cannot create {}", work.display()))?;
        let runner = work.join("runner.py");
        std::fs::write(&runner, RUNNER).with_context(|| format!("writing {}", runner.display()))?;
        Ok(Meter { python, runner })
    }

    /// Runs `command` to completion under the runner; fails when it exits non-zero.
    pub(crate) fn run(&self, command: &[String]) -> Result<Measured> {
        self.run_with(command, &[], None, None)
    }

    /// Runs `command` with only `PATH`, `HOME`, `LANG`, `TMPDIR` and `env` in its environment, optionally in `dir` and fed by the `stdin_from` command line.
    pub(crate) fn run_with(
        &self,
        command: &[String],
        env: &[(String, String)],
        dir: Option<&Path>,
        stdin_from: Option<&str>,
    ) -> Result<Measured> {
        let mut runner = Command::new(&self.python);
        runner.arg(&self.runner);
        if let Some(feeder) = stdin_from {
            runner.args(["--stdin-from", feeder]);
        }
        runner.arg("--").args(command);
        // Only what the tools need: no developer variable reaches a measured process.
        runner.env_clear();
        for name in ["PATH", "HOME", "LANG", "TMPDIR"] {
            if let Some(value) = std::env::var_os(name) {
                runner.env(name, value);
            }
        }
        for (name, value) in env {
            runner.env(name, value);
        }
        if let Some(dir) = dir {
            runner.current_dir(dir);
        }
        let output = capture(&mut runner)?;
        let line = output
            .lines()
            .rev()
            .find(|line| line.starts_with("RUNNER "))
            .with_context(|| format!("no measurement from {command:?}"))?;
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|part| part.strip_prefix(name))
                .with_context(|| format!("{name} missing in {line:?}"))
        };
        if field("status=")? != "0" {
            bail!("{command:?} failed: {line}\n{output}");
        }
        let stdout = output[..output.rfind("\nRUNNER ").unwrap_or(output.len())].to_owned();
        Ok(Measured {
            seconds: field("wall=")?.parse()?,
            peak_rss_kib: field("maxrss_kib=")?.parse()?,
            user: field("user=")?.parse()?,
            system: field("sys=")?.parse()?,
            stdout,
        })
    }
}

/// Runs a command and returns its stdout; fails with its stderr when it fails.
pub(crate) fn capture(command: &mut Command) -> Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8(output.stdout)?)
}

/// The median of some values (the upper one of the middle two for an even count); 0 for none.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

/// The smallest value; 0 for none.
pub(crate) fn min(values: &[f64]) -> f64 {
    values.iter().copied().reduce(f64::min).unwrap_or(0.0)
}

/// The largest value; 0 for none.
pub(crate) fn max(values: &[f64]) -> f64 {
    values.iter().copied().reduce(f64::max).unwrap_or(0.0)
}

/// Returns the number after `"key":` in a flat JSON object (integers and decimals).
pub(crate) fn json_number(text: &str, key: &str) -> Option<f64> {
    let start = text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let number: String = text[start..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E' | '+'))
        .collect();
    number.parse().ok()
}

/// Returns the text after `"key":"` up to the next quote in a flat JSON object (no escapes expected).
pub(crate) fn json_text<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let rest = &text[start..];
    Some(&rest[..rest.find('"')?])
}

/// Creates `.venv` when missing and installs `packages` (pip requirement strings) unless `probe` (Python code)
/// already runs; returns its interpreter.
pub(crate) fn ensure_venv(venv: &Path, probe: &str, packages: &[&str]) -> Result<PathBuf> {
    let python = venv.join("bin/python");
    if !python.exists() {
        run_checked(
            Command::new("python3").arg("-m").arg("venv").arg(venv),
            &format!("python3 -m venv {} (needs python3 with the venv module)", venv.display()),
        )?;
    }
    let present = Command::new(&python)
        .args(["-c", probe])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !present {
        run_checked(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .args(packages),
            &format!("pip install {} into {}", packages.join(" "), venv.display()),
        )?;
    }
    Ok(python)
}

/// Megabytes (10^6) per second.
/// One measured download and what it moved: a row of the throughput tables.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    measured: Measured,
    bytes: u64,
    /// CPU seconds the stand-ins (the Tardis stand-in, and the GCS fake when used) spent during the run, where
    /// measured.
    pub(crate) stand_ins_cpu: Option<f64>,
}

impl Measured {
    /// The row of a run that moved `bytes`.
    pub(crate) fn row(self, bytes: u64, stand_ins_cpu: Option<f64>) -> Row {
        Row { measured: self, bytes, stand_ins_cpu }
    }
}

impl Row {
    pub(crate) fn mb_s(&self) -> f64 {
        mb_per_s(self.bytes, self.measured.seconds)
    }

    pub(crate) fn seconds(&self) -> f64 {
        self.measured.seconds
    }

    /// CPU seconds, user and kernel.
    pub(crate) fn cpu(&self) -> f64 {
        self.measured.user + self.measured.system
    }

    pub(crate) fn rss_kib(&self) -> f64 {
        self.measured.peak_rss_kib as f64
    }
}

/// One line of a bench's goals: `- {what} {ratio:.2}x (goal >= {goal}x): **met**` (or `**missed**`).
pub(crate) fn ratio_goal(what: &str, ratio: f64, goal: f64) -> String {
    let verdict = if ratio >= goal { "met" } else { "missed" };
    format!("- {what} {ratio:.2}x (goal >= {goal}x): **{verdict}**")
}

pub(crate) fn mb_per_s(bytes: u64, seconds: f64) -> f64 {
    let bytes = bytes as f64;
    if seconds > 0.0 { bytes / 1e6 / seconds } else { 0.0 }
}

/// KiB to MiB.
pub(crate) fn mib(kib: f64) -> f64 {
    kib / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fields() {
        let text = r#"{"total":12,"rate":0.5,"name":"x y","neg":-3}"#;
        assert_eq!(json_number(text, "total"), Some(12.0));
        assert_eq!(json_number(text, "rate"), Some(0.5));
        assert_eq!(json_number(text, "neg"), Some(-3.0));
        assert_eq!(json_number(text, "missing"), None);
        assert_eq!(json_text(text, "name"), Some("x y"));
    }

    #[test]
    fn goal_lines_say_met_or_missed() {
        assert_eq!(
            ratio_goal("fast: md vs curl", 0.8, 0.8),
            "- fast: md vs curl 0.80x (goal >= 0.8x): **met**"
        );
        assert_eq!(ratio_goal("x", 4.994, 5.0), "- x 4.99x (goal >= 5x): **missed**");
    }

    #[test]
    fn medians() {
        assert!((median(&[3.0, 1.0, 2.0]) - 2.0).abs() < f64::EPSILON);
        assert!((median(&[4.0, 1.0]) - 4.0).abs() < f64::EPSILON);
        assert!(median(&[]).abs() < f64::EPSILON);
        assert!((min(&[2.0, 1.0]) - 1.0).abs() < f64::EPSILON);
        assert!((max(&[2.0, 1.0]) - 2.0).abs() < f64::EPSILON);
    }
}
