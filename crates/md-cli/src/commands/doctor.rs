//! `md-cli doctor`: whether a run will work, checked in order before it costs anything, one line per check with a
//! fix when it fails (`--json`: one object per check).
//!
//! A check holds (`ok`), holds with a caveat (`warn`: the run works, but not as the operator may expect), or fails
//! (`fail`: the run will not work). Exit 0 when no check fails, 1 otherwise; a configuration that does not load exits
//! 2 before any check, naming every problem. The checks change nothing but a probe object under `.md-doctor/` in
//! the sink, which they delete.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::time::Duration;

use anyhow::anyhow;
use chrono::{DateTime, NaiveDate, Utc};
use downloader::download::RunDays;
use downloader::download::days::selected_exchanges;
use downloader::download::quota;
use futures::TryStreamExt;
use gcs_sink::secret_manager::SecretError;
use gcs_sink::{PutStatus, WriteMode};
use md_config::{Loaded, SinkLocation, Source};
use serde::Serialize;
use tardis_client::{Endpoint, Probe};

use crate::cli::DoctorArgs;
use crate::commands::job::Job;
use crate::exit::Failure;

/// Clocks further apart than this make Tardis' day boundaries and the quota's day differ from the machine's.
const MAX_SKEW: Duration = Duration::from_secs(30);

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    Warn,
    Fail,
}

/// One check's line.
#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    status: Status,
    summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, summary: impl Into<String>) -> Check {
        Check { name, status: Status::Ok, summary: summary.into(), fix: None }
    }

    fn warn(name: &'static str, summary: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name, status: Status::Warn, summary: summary.into(), fix: Some(fix.into()) }
    }

    fn fail(name: &'static str, summary: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name, status: Status::Fail, summary: summary.into(), fix: Some(fix.into()) }
    }
}

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
        let mut checks = vec![configuration(&loaded, &job)];
        // Only when there is something to point out: a set-up without these has no such line.
        checks.extend(applied_settings(&loaded));
        let (tardis, probes) = reachability(&job).await;
        // Without Tardis the checks that ask it would only wait out their retries.
        let reachable = tardis.status != Status::Fail;
        checks.push(tardis);
        checks.push(match &secret {
            Err(error) => unread_key(error),
            Ok(()) if reachable => api_key(&job).await,
            Ok(()) => unasked("api key"),
        });
        checks.push(sink(&job).await);
        checks.push(clock(&probes));
        checks.push(quota_ledger(&job).await);
        checks.push(if reachable { plan(&job).await } else { unasked("plan") });
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

/// A check that needs Tardis, which did not answer.
fn unasked(name: &'static str) -> Check {
    Check::warn(name, "not checked: Tardis did not answer", "fix the tardis check first")
}

fn print(checks: &[Check], json: bool) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
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
        text.push_str(&format!("{status}  {:<13} {}\n", check.name, check.summary));
        if let Some(fix) = &check.fix {
            text.push_str(&format!("      {:<13} fix: {fix}\n", ""));
        }
    }
    match out.write_all(text.as_bytes()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::Work(error.into()))
        }
        _ => Ok(()),
    }
}

/// Settings the original system parsed but ignored, which md applies (its `env.example` sets them all): a warning
/// naming each, when any is set.
fn applied_settings(loaded: &Loaded) -> Option<Check> {
    let applied = crate::commands::share::applied_settings(loaded);
    (!applied.is_empty()).then(|| {
        Check::warn(
            "migration",
            format!("set, ignored by the original, applied by md: {}", applied.join("; ")),
            "unset them (remove them from the .env copied from the original's env.example) to download the whole plan, as the original did",
        )
    })
}

/// The API key to be read from Secret Manager could not be read.
fn unread_key(error: &SecretError) -> Check {
    let fix = match error {
        SecretError::NotFound { .. } => {
            "create the secret (gcloud secrets create NAME --data-file=-), or fix TARDIS_SECRET_NAME and GCP_PROJECT_ID"
        }
        SecretError::Denied { .. } | SecretError::Refused { .. } => {
            "grant the credentials roles/secretmanager.secretAccessor on the secret, or set TARDIS_API_KEY"
        }
        SecretError::Credentials { .. } => {
            "check GCP_CREDENTIALS_PATH / GOOGLE_APPLICATION_CREDENTIALS (the sink's Google credentials)"
        }
        SecretError::Unavailable { .. } => {
            "retry later; check the network to secretmanager.googleapis.com"
        }
        SecretError::BadPayload { .. } => "store the API key itself as the secret's latest version",
    };
    Check::fail("api key", error.to_string(), fix)
}

/// The configuration loaded (else md-cli exited 2 before), and where each credential comes from.
fn configuration(loaded: &Loaded, job: &Job) -> Check {
    let source = |name: &str| {
        loaded.settings.iter().find(|setting| setting.name == name && setting.value.is_some()).map(
            |setting| match (&setting.origin, setting.source) {
                (Some(origin), Source::DotEnv | Source::File) => {
                    format!("{} ({origin})", setting.source)
                }
                _ => setting.source.to_string(),
            },
        )
    };
    let config = &loaded.config;
    let key = job.key.describe();
    let sink = match &config.sink.location {
        SinkLocation::Gcs { .. } => {
            match (&config.sink.gcs.emulator_host, &config.sink.gcs.credentials_path) {
                (Some(emulator), _) => format!("the GCS emulator {emulator} (no credentials)"),
                (None, Some(path)) => {
                    let from = source("GCP_CREDENTIALS_PATH")
                        .map(|from| format!("GCP_CREDENTIALS_PATH from {from}"))
                        .or_else(|| {
                            source("GOOGLE_APPLICATION_CREDENTIALS")
                                .map(|from| format!("GOOGLE_APPLICATION_CREDENTIALS from {from}"))
                        })
                        .unwrap_or_default();
                    format!("the service-account key {} ({from})", path.display())
                }
                (None, None) => "application default credentials (the metadata server)".to_owned(),
            }
        }
        SinkLocation::S3 { .. } => match source("AWS_ACCESS_KEY_ID") {
            Some(from) => format!("AWS_ACCESS_KEY_ID from {from}"),
            None => "no AWS_ACCESS_KEY_ID (the store's own credentials chain)".to_owned(),
        },
        SinkLocation::Local { .. } | SinkLocation::Memory => "no credentials needed".to_owned(),
    };
    let file = loaded
        .config_file
        .as_ref()
        .map_or_else(String::new, |path| format!("; file {}", path.display()));
    // Each proxy variable that is set, its value with the password redacted, and where it came from.
    let proxies: Vec<String> = loaded
        .settings
        .iter()
        .filter(|setting| {
            matches!(
                setting.name,
                "HTTPS_PROXY"
                    | "https_proxy"
                    | "HTTP_PROXY"
                    | "http_proxy"
                    | "NO_PROXY"
                    | "no_proxy"
            )
        })
        .filter_map(|setting| {
            let value = setting.value.as_deref()?;
            Some(format!("{} from {} ({value})", setting.name, source(setting.name)?))
        })
        .collect();
    let proxies = if proxies.is_empty() {
        "no proxy".to_owned()
    } else {
        format!("proxies: {}", proxies.join(", "))
    };
    Check::ok(
        "configuration",
        format!("loaded{file}; {key}; sink {} with {sink}; {proxies}", config.sink.location),
    )
}

/// The proxy a request to `url` takes, as `through the proxy ...` (password redacted), when one applies.
fn through_proxy(job: &Job, url: &str) -> Option<String> {
    let proxies = &job.config.tardis.proxy;
    let scheme = url.split_once("://").map_or("https", |(scheme, _)| scheme);
    let proxy = proxies.for_scheme(scheme)?;
    let excluded =
        proxies.no_proxy.as_deref().map_or(String::new(), |hosts| format!(", except for {hosts}"));
    Some(format!("through the proxy {proxy}{excluded}"))
}

/// Both Tardis base URLs answer, with their round-trip times.
async fn reachability(job: &Job) -> (Check, Vec<Probe>) {
    let mut probes = Vec::new();
    let mut lines = Vec::new();
    for endpoint in [Endpoint::Metadata, Endpoint::Datasets] {
        match job.client.probe(endpoint).await {
            Ok(probe) if probe.status == 407 => {
                let proxy = through_proxy(job, &probe.url).unwrap_or_else(|| "a proxy".to_owned());
                let check = Check::fail(
                    "tardis",
                    format!(
                        "{} answered HTTP 407 {proxy}: the proxy refuses the credentials",
                        probe.url
                    ),
                    "check the user and password in HTTPS_PROXY / HTTP_PROXY (md-cli config shows where they come from, the password redacted)",
                );
                return (check, probes);
            }
            Ok(probe) => {
                let proxy = through_proxy(job, &probe.url)
                    .map_or_else(String::new, |proxy| format!(" {proxy}"));
                lines.push(format!(
                    "{} answered HTTP {} in {} ms{proxy}",
                    probe.url,
                    probe.status,
                    probe.round_trip.as_millis()
                ));
                probes.push(probe);
            }
            Err(error) => {
                let fix = if job.config.tardis.proxy.is_empty() {
                    "check the network (a proxy or firewall? set HTTPS_PROXY) and TARDIS_API_URL / TARDIS_BASE_URL (see md-cli config)"
                } else {
                    "check the proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY), the network and TARDIS_API_URL / TARDIS_BASE_URL (see md-cli config)"
                };
                let check = Check::fail("tardis", format!("{:#}", anyhow::Error::new(error)), fix);
                return (check, probes);
            }
        }
    }
    (Check::ok("tardis", lines.join("; ")), probes)
}

/// The key is accepted, and covers the configured exchanges and days.
async fn api_key(job: &Job) -> Check {
    const NAME: &str = "api key";
    if !job.client.has_api_key() {
        return Check::warn(
            NAME,
            "no API key: only the first day of each month can be downloaded, and definitions come from the free exchange details",
            "set TARDIS_API_KEY to download any day",
        );
    }
    let access = match job.client.api_key_info().await {
        Ok(access) => access,
        Err(error) if error.is_ip_locked() => {
            return Check::fail(
                NAME,
                format!(
                    "Tardis says the key is in use from another IP address (HTTP 403, code 274): {}",
                    error.message().unwrap_or_default()
                ),
                "on some plans one key serves one IP address at a time: stop the other machine or process using this key, or send the whole fleet through one egress IP (docs/SCALING.md)",
            );
        }
        Err(error) if error.status() == Some(401) || error.status() == Some(403) => {
            return Check::fail(
                NAME,
                format!("Tardis refuses the key: {error}"),
                "check TARDIS_API_KEY (md-cli config shows where it comes from, redacted)",
            );
        }
        Err(error) => {
            return Check::fail(
                NAME,
                format!("cannot ask Tardis what the key covers: {error}"),
                "retry later, or check TARDIS_API_URL",
            );
        }
    };
    let config = &job.config;
    let exchanges: BTreeSet<String> =
        config.instruments.exchanges.iter().chain(&config.download.venues).cloned().collect();
    let days = RunDays::peek(config, &job.client, &job.sink).await.ok();
    let mut gaps = Vec::new();
    for exchange in &exchanges {
        let Some(entry) = access.iter().find(|entry| &entry.exchange == exchange) else {
            gaps.push(format!("{exchange} is not covered"));
            continue;
        };
        let Some(days) = &days else { continue };
        let start = days.download.start.and_hms_opt(0, 0, 0).map(|time| time.and_utc());
        let end = days
            .download
            .end
            .succ_opt()
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
        let before = matches!((entry.from, start), (Some(from), Some(start)) if start < from);
        let after = matches!((entry.to, end), (Some(to), Some(end)) if end > to);
        if before || after {
            gaps.push(format!(
                "{exchange} is covered from {} to {}, not all of {}",
                entry
                    .from
                    .map_or_else(|| "the start".to_owned(), |from| from.date_naive().to_string()),
                entry.to.map_or_else(|| "now".to_owned(), |to| to.date_naive().to_string()),
                days.download
            ));
        }
    }
    let plans: BTreeSet<&str> = access.iter().map(|entry| entry.data_plan.as_str()).collect();
    let summary = format!(
        "accepted ({} exchange(s), plan {})",
        access.len(),
        plans.into_iter().collect::<Vec<_>>().join(", ")
    );
    if gaps.is_empty() {
        Check::ok(NAME, summary)
    } else {
        Check::warn(
            NAME,
            format!("{summary}; {}", gaps.join("; ")),
            "units outside the key's access fail with 401/403: narrow the exchanges or days, or extend the plan",
        )
    }
}

/// A create-only probe object is written, read back, verified, refused a second time, and deleted.
async fn sink(job: &Job) -> Check {
    const NAME: &str = "sink";
    let fix =
        "check the sink's URL and its credentials' permissions (create, read and delete objects)";
    let name = format!(
        ".md-doctor/probe-{}-{}",
        Utc::now().format("%Y%m%dT%H%M%S%.3f"),
        std::process::id()
    );
    let body = format!("md-cli doctor probe {name}\n");
    let outcome: Result<String, String> = async {
        let written = job
            .sink
            .put_bytes(&name, body.clone(), WriteMode::CreateOnly)
            .await
            .map_err(|error| format!("cannot write {name}: {error}"))?;
        if written.status != PutStatus::Created {
            return Err(format!("{name} was already there"));
        }
        let read: Vec<u8> = job
            .sink
            .get(&name)
            .await
            .map_err(|error| format!("cannot read {name} back: {error}"))?
            .map_ok(|chunk| chunk.to_vec())
            .try_concat()
            .await
            .map_err(|error| format!("cannot read {name} back: {error}"))?;
        if read != body.as_bytes() {
            return Err(format!("{name} reads back different bytes"));
        }
        let verified =
            job.sink.verify(&name).await.map_err(|error| format!("cannot verify {name}: {error}"))?;
        if !verified.recorded {
            return Err(format!("{name} has no recorded size and CRC32C"));
        }
        match job.sink.put_bytes(&name, "other bytes".to_owned(), WriteMode::CreateOnly).await {
            Err(gcs_sink::Error::Mismatch { .. }) => {}
            Ok(_) => return Err(format!("a second create-only write of {name} was not refused: objects could be overwritten")),
            Err(error) => return Err(format!("a second create-only write of {name} failed oddly: {error}")),
        }
        Ok(format!("{} writable: a create-only probe was written, read back, verified and refused a second time", job.config.sink.location))
    }
    .await;
    let deleted = job.sink.delete(&name).await;
    match (outcome, deleted) {
        (Ok(summary), Ok(())) => Check::ok(NAME, summary),
        (Ok(_), Err(error)) => {
            Check::fail(NAME, format!("cannot delete the probe {name}: {error}"), fix)
        }
        (Err(problem), _) => Check::fail(NAME, problem, fix),
    }
}

/// The plan check's summary and fix when days of the range have no stored definitions (a warning: `md-cli pipeline`
/// writes them before it downloads): how many, and the one `md-cli instruments` command that writes them all.
fn without_definitions(
    job: &Job,
    days: &RunDays,
    first: NaiveDate,
    last: NaiveDate,
    count: usize,
    object: &str,
    uncovered: &[String],
) -> (String, String) {
    let range = days.download;
    let which =
        if count > 1 { format!(" between {first} and {last}") } else { format!(": {first}") };
    // Definitions that exist but do not cover some venues (their metadata fetch failed): name those.
    let (of, exchanges) = if uncovered.is_empty() {
        (String::new(), job.config.instruments.exchanges.as_slice())
    } else {
        (format!(" of {}", uncovered.join(",")), uncovered)
    };
    let exchanges = if exchanges.is_empty() {
        String::new()
    } else {
        format!(" --exchanges {}", exchanges.join(","))
    };
    (
        format!(
            "days {range} ({}): no stored instrument definitions{of} for {count} of {} day(s){which} (looked for {object})",
            days.download_asked,
            range.days().count(),
        ),
        format!(
            "run `md-cli instruments --from {first} --to {last}{exchanges}` first, or `md-cli pipeline`, which writes them before it downloads"
        ),
    )
}

/// The machine's clock against the servers' `Date`.
fn clock(probes: &[Probe]) -> Check {
    const NAME: &str = "clock";
    let now = Utc::now();
    let skews: Vec<(String, i64)> = probes
        .iter()
        .filter_map(|probe| {
            let server: DateTime<Utc> = probe.server_time?;
            // The answer's Date was set during the round trip: compare with its middle.
            let middle = now - chrono::Duration::from_std(probe.round_trip / 2).unwrap_or_default();
            Some((probe.url.clone(), (middle - server).num_seconds()))
        })
        .collect();
    let Some((url, worst)) = skews.iter().max_by_key(|(_, skew)| skew.abs()).cloned() else {
        return Check::warn(
            NAME,
            "no server sent its time (Date)",
            "check the clock by other means (NTP)",
        );
    };
    let summary = format!("{worst:+} s against {url}");
    if worst.unsigned_abs() > MAX_SKEW.as_secs() {
        Check::warn(
            NAME,
            format!("{summary}: more than {} s apart", MAX_SKEW.as_secs()),
            "synchronise this machine's clock (NTP): UTC days, relative days and the quota day follow it",
        )
    } else {
        Check::ok(NAME, summary)
    }
}

/// Today's quota ledger of this shard: used and left.
async fn quota_ledger(job: &Job) -> Check {
    const NAME: &str = "quota";
    let sharding = &job.config.sharding;
    let Some(quota) = job.config.tardis.daily_quota_bytes else {
        return Check::ok(NAME, "no TARDIS_DAILY_QUOTA_BYTES: no budget is kept");
    };
    let share = quota.get() / u64::from(sharding.total_shards.get());
    let today = Utc::now().date_naive();
    match quota::used_on(&job.sink, today, sharding.shard_index, sharding.total_shards.get()).await
    {
        Ok(used) => {
            let summary = format!(
                "shard {}/{} today: used {used} of its {share} bytes, {} left",
                sharding.shard_index,
                sharding.total_shards,
                share.saturating_sub(used)
            );
            if used >= share {
                Check::warn(
                    NAME,
                    summary,
                    "this shard's share is spent for today: it stops at once until 00:00 UTC",
                )
            } else {
                Check::ok(NAME, summary)
            }
        }
        Err(error) => Check::fail(
            NAME,
            error.to_string(),
            "remove the ledger object it names if it is damaged",
        ),
    }
}

/// The plan this configuration would run: units, shards, days not exported yet.
async fn plan(job: &Job) -> Check {
    const NAME: &str = "plan";
    let days = match RunDays::peek(&job.config, &job.client, &job.sink).await {
        Ok(days) => days,
        Err(error) => {
            return Check::fail(NAME, error.to_string(), "change --from/--to (or their variables)");
        }
    };
    let plan = match job.plan(&days).await {
        Ok(plan) => plan,
        Err(Failure::Work(ref error) | Failure::BadInput(ref error))
            if let Some(&downloader::Error::MissingDefinitions {
                date,
                last,
                days: count,
                ref object,
                ref exchanges,
            }) = error.downcast_ref::<downloader::Error>() =>
        {
            let (summary, fix) =
                without_definitions(job, &days, date, last, count, object, exchanges);
            return Check::warn(NAME, summary, fix);
        }
        Err(failure) => {
            let message = match failure {
                Failure::Work(error) | Failure::BadInput(error) => format!("{error:#}"),
                Failure::Config(error) => error.to_string(),
                Failure::Interrupted => "interrupted".to_owned(),
            };
            return Check::fail(
                NAME,
                format!("days {} ({}): {message}", days.download, days.download_asked),
                "`md-cli plan` stops with the same error: change what it names",
            );
        }
    };
    let counts = plan.counts_per_shard();
    let (least, most) =
        (counts.iter().min().copied().unwrap_or(0), counts.iter().max().copied().unwrap_or(0));
    let exchanges = selected_exchanges(&job.config).join(",");
    let mut summary = format!(
        "days {} ({}): {} unit(s) over {} shard(s) ({least} to {most} each), bytes unknown until Tardis sends them",
        days.download,
        days.download_asked,
        plan.units.len(),
        counts.len()
    );
    if !plan.not_yet_exported.is_empty() || !plan.days_not_exported.is_empty() {
        summary.push_str(&format!(
            "; not yet exported: {} unit(s), {} day(s) with nothing exported",
            plan.not_yet_exported.len(),
            plan.days_not_exported.len()
        ));
    }
    if plan.units.is_empty() {
        return Check::warn(
            NAME,
            summary,
            format!(
                "nothing to download for {exchanges}: check --venues, --instrument-types, --data-types and the days"
            ),
        );
    }
    Check::ok(NAME, summary)
}
