//! The log subscriber, installed once from md-config's [`ServiceConfig`]; logs always go to stderr.
//!
//! - `LOG_DESTINATION=local`: human-readable lines, or one JSON object per line with `MD_LOG_FORMAT=json`.
//! - `LOG_DESTINATION=gcp`: JSON lines with a `severity` field (`DEBUG`, `INFO`, `WARNING`, `ERROR`) as Cloud Logging
//!   reads them.
//! - `LOG_DESTINATION=both`: the gcp lines on stderr, plus human-readable lines appended to `MD_LOG_FILE`.
//!
//! `LOG_LEVEL` becomes the filter: `debug` shows this project's debug events (dependencies stay at info), `trace`
//! shows everything, including the HTTP stack.

use std::fs::OpenOptions;
use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::Context as _;
use md_config::{LogDestination, LogFormat, LogLevel, ServiceConfig};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The crates whose debug events `LOG_LEVEL=debug` shows.
const OUR_CRATES: &[&str] =
    &["md_cli", "md_config", "tardis_client", "gcs_sink", "downloader", "instruments"];

/// Returns the filter directive for a level.
pub(crate) fn filter_directive(level: LogLevel) -> String {
    match level {
        LogLevel::Trace => "trace".into(),
        LogLevel::Debug => std::iter::once("info".to_owned())
            .chain(OUR_CRATES.iter().map(|name| format!("{name}=debug")))
            .collect::<Vec<_>>()
            .join(","),
        LogLevel::Info => "info".into(),
        LogLevel::Warning => "warn".into(),
        LogLevel::Error => "error".into(),
    }
}

/// Installs the subscriber. A second call (or another subscriber already installed) is a no-op.
///
/// # Errors
/// When `MD_LOG_FILE` cannot be opened for `LOG_DESTINATION=both`.
pub(crate) fn init(service: &ServiceConfig) -> anyhow::Result<()> {
    let filter = || EnvFilter::new(filter_directive(service.log_level));
    let installed = match (service.log_destination, service.log_format) {
        (LogDestination::Local, LogFormat::Text) => tracing_subscriber::registry()
            .with(filter())
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        (LogDestination::Local, LogFormat::Json) => tracing_subscriber::registry()
            .with(filter())
            .with(tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr))
            .try_init(),
        (LogDestination::Gcp, _) => tracing_subscriber::registry()
            .with(filter())
            .with(
                tracing_subscriber::fmt::layer().event_format(GcpJson).with_writer(std::io::stderr),
            )
            .try_init(),
        (LogDestination::Both, _) => {
            let file =
                OpenOptions::new().create(true).append(true).open(&service.log_file).with_context(
                    || format!("cannot open MD_LOG_FILE {}", service.log_file.display()),
                )?;
            tracing_subscriber::registry()
                .with(filter())
                .with(
                    tracing_subscriber::fmt::layer()
                        .event_format(GcpJson)
                        .with_writer(std::io::stderr),
                )
                .with(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(Arc::new(file)))
                .try_init()
        }
    };
    // Already installed (a second call): keep the first.
    if installed.is_ok()
        && let Some(notice) = crate::cli::notice()
    {
        tracing::info!("{notice}");
    }
    Ok(())
}

/// Cloud Logging's severity for a tracing level.
pub(crate) fn severity(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

/// One JSON object per event: `severity`, `time`, `message`, `target`, the event's fields, and the span path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GcpJson;

impl<S, N> FormatEvent<S, N> for GcpJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut fields = JsonFields(serde_json::Map::new());
        event.record(&mut fields);
        let mut object = serde_json::Map::new();
        object.insert("severity".into(), severity(event.metadata().level()).into());
        object.insert(
            "time".into(),
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true).into(),
        );
        object.insert("message".into(), fields.0.remove("message").unwrap_or_default());
        object.insert("target".into(), event.metadata().target().into());
        if let Some(scope) = ctx.event_scope() {
            let spans: Vec<String> = scope
                .from_root()
                .map(|span| {
                    let extensions = span.extensions();
                    match extensions.get::<FormattedFields<N>>().filter(|fields| !fields.is_empty())
                    {
                        Some(fields) => format!("{}{{{fields}}}", span.name()),
                        None => span.name().to_owned(),
                    }
                })
                .collect();
            if !spans.is_empty() {
                object.insert("spans".into(), spans.join(":").into());
            }
        }
        for (key, value) in fields.0 {
            object.entry(key).or_insert(value);
        }
        writeln!(writer, "{}", serde_json::Value::Object(object))
    }
}

struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl Visit for JsonFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}").into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
}
