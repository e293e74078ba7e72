//! Exit codes and how failures are reported.

use std::process::ExitCode;

/// The command did what was asked.
pub(crate) const SUCCESS: u8 = 0;
/// The run finished but some work failed.
pub(crate) const WORK_FAILED: u8 = 1;
/// Bad input or configuration; nothing was done.
pub(crate) const BAD_INPUT: u8 = 2;
/// Interrupted by SIGINT or SIGTERM.
pub(crate) const INTERRUPTED: u8 = 130;

/// Why a command did not succeed, deciding the exit code.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The configuration is invalid (exit 2).
    Config(md_config::Error),
    /// The request is invalid (exit 2).
    BadInput(anyhow::Error),
    /// The run failed (exit 1).
    Work(anyhow::Error),
    /// Interrupted (exit 130).
    Interrupted,
}

impl Failure {
    /// The one line a run ends with (exit 1) when Tardis refused the API key because it is in use from another IP
    /// address for longer than `max_wait`: what happened, why, and what to do. `interrupted`: the units it stopped.
    pub(crate) fn key_in_use(max_wait: std::time::Duration, interrupted: Option<usize>) -> Failure {
        let stopped = match interrupted {
            Some(count) => format!(
                "; the {count} unit(s) not done are recorded as interrupted and a rerun downloads them"
            ),
            None => String::new(),
        };
        Failure::Work(anyhow::anyhow!(
            "stopped: Tardis refused the API key for {:.1} s (HTTP 403, code 274): it is in use from another IP address, \
             and on some plans one key serves one IP address at a time; stop the other machine or process using this \
             key, or send the whole fleet through one egress IP (docs/SCALING.md), then run again{stopped}",
            max_wait.as_secs_f64()
        ))
    }

    /// Prints the failure to stderr and returns the exit code.
    #[allow(clippy::print_stderr, reason = "the CLI reports its final error on stderr")]
    pub(crate) fn report(self) -> ExitCode {
        let code = match &self {
            Failure::Config(error) => {
                eprintln!("error: {error}");
                BAD_INPUT
            }
            Failure::BadInput(error) => {
                eprintln!("error: {error:#}");
                BAD_INPUT
            }
            Failure::Work(error) => {
                eprintln!("error: {error:#}");
                WORK_FAILED
            }
            Failure::Interrupted => {
                eprintln!("interrupted");
                INTERRUPTED
            }
        };
        ExitCode::from(code)
    }
}
