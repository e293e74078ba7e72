//! Whether a run will work, checked in order before it costs anything: one [`Check`] per thing a run needs, judged
//! [`Status::Ok`], [`Status::Warn`] (the run works, but not as the operator may expect) or [`Status::Fail`] (the
//! run will not work), with a fix when it is not ok. `md-cli doctor` prints them.
//!
//! The probing is done by the crate that owns each thing (tardis-client's probes, key standing, coverage and clock
//! skew; gcs-sink's probe object and Secret Manager errors; this crate's run days, quota ledger and plan); this
//! module judges what they found and says what to do. Nothing changes but a probe object under `.md-doctor/` in the
//! sink, which is deleted.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use gcs_sink::ObjectSink;
use gcs_sink::secret_manager::SecretError;
use md_config::{Config, Loaded, ProxyConfig, SinkLocation, Source};
use serde::Serialize;
use tardis_client::{
    ClockSkew, Endpoint, KeyStanding, MAX_CLOCK_SKEW, Probe, TardisClient, coverage_gaps,
};

use crate::download::RunDays;
use crate::download::days::selected_exchanges;
use crate::download::quota;
use crate::download::share::applied_settings;
use crate::error::{Error, chain};
use crate::job::{Job, PlanError};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It holds.
    Ok,
    /// It holds with a caveat: the run works, but not as the operator may expect.
    Warn,
    /// The run will not work.
    Fail,
}

/// One check's finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked (`configuration`, `tardis`, `api key`, `sink`, `clock`, `quota`, `plan`, `migration`).
    pub name: &'static str,
    /// How it came out.
    pub status: Status,
    /// What was found.
    pub summary: String,
    /// What to do, when it is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
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

/// Every check, in order: the configuration (`key`: where the API key came from), settings the original ignored
/// (only when any is set), Tardis, the API key (`unread`: the Secret Manager error when the key was to come from
/// there and could not be read), the sink, the clock, the quota ledger and the plan. The checks that ask Tardis
/// are skipped (a warning) when it does not answer, rather than waiting out their retries.
///
/// # Cancel safety
/// Dropping the future may leave the sink's probe object behind.
pub async fn checks(
    loaded: &Loaded,
    job: &Job,
    key: &str,
    unread: Option<&SecretError>,
) -> Vec<Check> {
    let mut checks = vec![configuration(loaded, key)];
    checks.extend(migration(&applied_settings(loaded)));
    let (tardis, probes) = tardis(&job.client, &job.config.tardis.proxy).await;
    let reachable = tardis.status != Status::Fail;
    checks.push(tardis);
    checks.push(match unread {
        Some(error) => unread_key(error),
        None if reachable => api_key(&job.client, &job.config, &job.sink).await,
        None => unasked("api key"),
    });
    checks.push(sink(&job.sink, &job.config.sink.location, Utc::now()).await);
    checks.push(clock(&probes, Utc::now()));
    checks.push(quota(&job.sink, &job.config, Utc::now()).await);
    checks.push(if reachable { plan(job).await } else { unasked("plan") });
    checks
}

/// A check that needs Tardis, which did not answer.
fn unasked(name: &'static str) -> Check {
    Check::warn(name, "not checked: Tardis did not answer", "fix the tardis check first")
}

/// Settings the original system parsed but ignored, which md applies (its `env.example` sets them all): a warning
/// naming each, when any is set.
fn migration(applied: &[String]) -> Option<Check> {
    (!applied.is_empty()).then(|| {
        Check::warn(
            "migration",
            format!("set, ignored by the original, applied by md: {}", applied.join("; ")),
            "unset them (remove them from the .env copied from the original's env.example) to download the whole plan, as the original did",
        )
    })
}

/// The configuration loaded, and where each credential comes from; `key` says where the API key came from.
fn configuration(loaded: &Loaded, key: &str) -> Check {
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
    let sink = match &config.sink.location {
        SinkLocation::Gcs { .. } => {
            match (&config.sink.gcs.emulator_host, &config.sink.gcs.credentials_path) {
                (Some(emulator), _) => format!("the GCS emulator {emulator} (no credentials)"),
                (None, Some(path)) => {
                    let from = ["GCP_CREDENTIALS_PATH", "GOOGLE_APPLICATION_CREDENTIALS"]
                        .into_iter()
                        .find_map(|name| source(name).map(|from| format!("{name} from {from}")))
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
    const PROXY_VARIABLES: [&str; 6] =
        ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"];
    let proxies: Vec<String> = loaded
        .settings
        .iter()
        .filter(|setting| PROXY_VARIABLES.contains(&setting.name))
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

/// The API key that was to be read from Secret Manager could not be read.
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

/// The proxy a request to `url` takes, as `through the proxy ...` (password redacted), when one applies.
fn through_proxy(proxies: &ProxyConfig, url: &str) -> Option<String> {
    let scheme = url.split_once("://").map_or("https", |(scheme, _)| scheme);
    let proxy = proxies.for_scheme(scheme)?;
    let excluded =
        proxies.no_proxy.as_deref().map_or(String::new(), |hosts| format!(", except for {hosts}"));
    Some(format!("through the proxy {proxy}{excluded}"))
}

/// Both Tardis base URLs answer, with their round-trip times; the probes that answered, for [`clock`].
async fn tardis(client: &TardisClient, proxies: &ProxyConfig) -> (Check, Vec<Probe>) {
    const NAME: &str = "tardis";
    let mut probes = Vec::new();
    let mut lines = Vec::new();
    for endpoint in [Endpoint::Metadata, Endpoint::Datasets] {
        match client.probe(endpoint).await {
            Ok(probe) if probe.proxy_refused() => {
                let proxy =
                    through_proxy(proxies, &probe.url).unwrap_or_else(|| "a proxy".to_owned());
                let check = Check::fail(
                    NAME,
                    format!(
                        "{} answered HTTP 407 {proxy}: the proxy refuses the credentials",
                        probe.url
                    ),
                    "check the user and password in HTTPS_PROXY / HTTP_PROXY (md-cli config shows where they come from, the password redacted)",
                );
                return (check, probes);
            }
            Ok(probe) => {
                let proxy = through_proxy(proxies, &probe.url)
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
                let fix = if proxies.is_empty() {
                    "check the network (a proxy or firewall? set HTTPS_PROXY) and TARDIS_API_URL / TARDIS_BASE_URL (see md-cli config)"
                } else {
                    "check the proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY), the network and TARDIS_API_URL / TARDIS_BASE_URL (see md-cli config)"
                };
                return (Check::fail(NAME, chain(&error), fix), probes);
            }
        }
    }
    (Check::ok(NAME, lines.join("; ")), probes)
}

/// The key is accepted, and covers the configured exchanges and days.
async fn api_key(client: &TardisClient, config: &Config, sink: &ObjectSink) -> Check {
    const NAME: &str = "api key";
    let access = match client.key_standing().await {
        KeyStanding::Accepted(access) => access,
        KeyStanding::NoKey => {
            return Check::warn(
                NAME,
                "no API key: only the first day of each month can be downloaded, and definitions come from the free exchange details",
                "set TARDIS_API_KEY to download any day",
            );
        }
        KeyStanding::InUseElsewhere(error) => {
            return Check::fail(
                NAME,
                format!(
                    "Tardis says the key is in use from another IP address (HTTP 403, code 274): {}",
                    error.message().unwrap_or_default()
                ),
                "on some plans one key serves one IP address at a time: stop the other machine or process using this key, or send the whole fleet through one egress IP (docs/SCALING.md)",
            );
        }
        KeyStanding::Refused(error) => {
            return Check::fail(
                NAME,
                format!("Tardis refuses the key: {error}"),
                "check TARDIS_API_KEY (md-cli config shows where it comes from, redacted)",
            );
        }
        KeyStanding::Unknown(error) => {
            return Check::fail(
                NAME,
                format!("cannot ask Tardis what the key covers: {error}"),
                "retry later, or check TARDIS_API_URL",
            );
        }
    };
    let exchanges: BTreeSet<&String> =
        config.instruments.exchanges.iter().chain(&config.download.venues).collect();
    let days = RunDays::peek(config, client, sink).await.ok().map(|days| days.download);
    let gaps: Vec<String> =
        coverage_gaps(&access, exchanges, days).iter().map(ToString::to_string).collect();
    let plans: BTreeSet<&str> = access.iter().map(|entry| entry.data_plan.as_str()).collect();
    let summary = format!(
        "accepted ({} exchange(s), plan {})",
        access.len(),
        plans.into_iter().collect::<Vec<_>>().join(", ")
    );
    if gaps.is_empty() {
        return Check::ok(NAME, summary);
    }
    Check::warn(
        NAME,
        format!("{summary}; {}", gaps.join("; ")),
        "units outside the key's access fail with 401/403: narrow the exchanges or days, or extend the plan",
    )
}

/// A create-only probe object is written, read back, verified, refused a second time, and deleted
/// ([`ObjectSink::probe`]); `now` names it.
async fn sink(sink: &ObjectSink, location: &SinkLocation, now: DateTime<Utc>) -> Check {
    let name =
        format!(".md-doctor/probe-{}-{}", now.format("%Y%m%dT%H%M%S%.3f"), std::process::id());
    match sink.probe(&name).await {
        Ok(()) => Check::ok(
            "sink",
            format!(
                "{location} writable: a create-only probe was written, read back, verified and refused a second time"
            ),
        ),
        Err(error) => Check::fail(
            "sink",
            chain(&error),
            "check the sink's URL and its credentials' permissions (create, read and delete objects)",
        ),
    }
}

/// The machine's clock against the servers' `Date` ([`ClockSkew`]), at `now`.
fn clock(probes: &[Probe], now: DateTime<Utc>) -> Check {
    const NAME: &str = "clock";
    let Some(skew) = ClockSkew::worst(probes, now) else {
        return Check::warn(
            NAME,
            "no server sent its time (Date)",
            "check the clock by other means (NTP)",
        );
    };
    let summary = format!("{:+} s against {}", skew.seconds, skew.url);
    if !skew.is_too_large() {
        return Check::ok(NAME, summary);
    }
    Check::warn(
        NAME,
        format!("{summary}: more than {} s apart", MAX_CLOCK_SKEW.as_secs()),
        "synchronise this machine's clock (NTP): UTC days, relative days and the quota day follow it",
    )
}

/// Today's quota ledger of this shard: used and left ([`quota::share_use`]).
async fn quota(sink: &ObjectSink, config: &Config, now: DateTime<Utc>) -> Check {
    const NAME: &str = "quota";
    match quota::share_use(sink, config, now).await {
        Ok(None) => Check::ok(NAME, "no TARDIS_DAILY_QUOTA_BYTES: no budget is kept"),
        Ok(Some(share)) => {
            let summary = format!(
                "shard {}/{} today: used {} of its {} bytes, {} left",
                share.shard_index,
                share.total_shards,
                share.used,
                share.share,
                share.left()
            );
            if share.is_spent() {
                Check::warn(
                    NAME,
                    summary,
                    "this shard's share is spent for today: it stops at once until 00:00 UTC",
                )
            } else {
                Check::ok(NAME, summary)
            }
        }
        Err(error) => {
            Check::fail(NAME, chain(&error), "remove the ledger object it names if it is damaged")
        }
    }
}

/// The plan this configuration would run: units, shards, days not exported yet. Days without stored definitions are
/// a warning (`md-cli pipeline` writes them first), any other error planning fails.
async fn plan(job: &Job) -> Check {
    const NAME: &str = "plan";
    let days = match RunDays::peek(&job.config, &job.client, &job.sink).await {
        Ok(days) => days,
        Err(error) => {
            return Check::fail(NAME, chain(&error), "change --from/--to (or their variables)");
        }
    };
    let plan = match job.plan(&days).await {
        Ok(plan) => plan,
        Err(PlanError::Plan(Error::MissingDefinitions {
            date,
            last,
            days: count,
            object,
            exchanges,
        })) => {
            return without_definitions(
                &job.config,
                &days,
                (date, last),
                count,
                &object,
                &exchanges,
            );
        }
        Err(error) => {
            return Check::fail(
                NAME,
                format!("days {} ({}): {}", days.download, days.download_asked, chain(&error)),
                "`md-cli plan` stops with the same error: change what it names",
            );
        }
    };
    let counts = plan.counts_per_shard();
    let (least, most) =
        (counts.iter().min().copied().unwrap_or(0), counts.iter().max().copied().unwrap_or(0));
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
    if !plan.units.is_empty() {
        return Check::ok(NAME, summary);
    }
    let exchanges = selected_exchanges(&job.config).join(",");
    Check::warn(
        NAME,
        summary,
        format!(
            "nothing to download for {exchanges}: check --venues, --instrument-types, --data-types and the days"
        ),
    )
}

/// The plan check's summary and fix when days of the range have no stored definitions (a warning: `md-cli pipeline`
/// writes them before it downloads): how many, and the one `md-cli instruments` command that writes them all.
fn without_definitions(
    config: &Config,
    days: &RunDays,
    (first, last): (NaiveDate, NaiveDate),
    count: usize,
    object: &str,
    uncovered: &[String],
) -> Check {
    let range = days.download;
    let which =
        if count > 1 { format!(" between {first} and {last}") } else { format!(": {first}") };
    // Definitions that exist but do not cover some venues (their metadata fetch failed): name those.
    let (of, exchanges) = if uncovered.is_empty() {
        (String::new(), config.instruments.exchanges.as_slice())
    } else {
        (format!(" of {}", uncovered.join(",")), uncovered)
    };
    let exchanges = if exchanges.is_empty() {
        String::new()
    } else {
        format!(" --exchanges {}", exchanges.join(","))
    };
    Check::warn(
        "plan",
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
