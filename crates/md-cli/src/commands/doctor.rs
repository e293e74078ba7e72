//! `md-cli doctor`: whether a run will work, checked in order before it costs anything, one line per check with a
//! fix when it fails (`--json`: one object per check).
//!
//! The checks and how they are judged are the library's ([`downloader::doctor`]); this module builds the job, prints
//! the checks and picks the exit code: 0 when no check fails, 1 otherwise; a configuration that does not load exits
//! 2 before any check, naming every problem, and so does a secret that is missing, denied or unusable.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use anyhow::anyhow;
use downloader::doctor::{Check, Status};
use md_config::Loaded;

use crate::cli::DoctorArgs;
use crate::commands::job::Job;
use crate::exit::Failure;

pub(crate) fn run(loaded: &Loaded, args: &DoctorArgs) -> Result<(), Failure> {
    let (mut job, secret) = Job::with_key_outcome(loaded)?;
    // The doctor never waits out a key in use from another IP address: the first such answer is its finding.
    job.client = tardis_client::TardisClient::new(&md_config::TardisConfig {
        ip_lock_max_wait: Duration::ZERO,
        ..job.config.tardis.clone()
    })
    .map_err(|error| Failure::BadInput(anyhow!(error)))?;
    let json = args.json;
    let loaded = loaded.clone();
    crate::runtime::run(move |_token| async move {
        let key = job.key.describe();
        let unread = secret.as_ref().err().map(AsRef::as_ref);
        let checks = downloader::doctor::checks(&loaded, &job, &key, unread).await;
        print(&checks, json)?;
        // A secret that is missing, denied or unusable is a configuration to change: exit 2, as every command.
        if let Err(error) = secret
            && !error.is_transient()
        {
            return Err(Failure::BadInput(anyhow!(*error)));
        }
        match checks.iter().filter(|check| check.status == Status::Fail).count() {
            0 => Ok(()),
            failed => Err(Failure::Work(anyhow!("{failed} check(s) failed"))),
        }
    })
}

fn print(checks: &[Check], json: bool) -> Result<(), Failure> {
    let mut text = String::new();
    for check in checks {
        if json {
            text.push_str(&serde_json::to_string(check).expect("a check serializes"));
            text.push('\n');
            continue;
        }
        let status = match check.status {
            Status::Ok => "ok  ",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        };
        let _ = writeln!(text, "{status}  {:<13} {}", check.name, check.summary);
        if let Some(fix) = &check.fix {
            let _ = writeln!(text, "      {:<13} fix: {fix}", "");
        }
    }
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::Work(error.into()))
        }
        _ => Ok(()),
    }
}
