//! `md-cli missing --html PATH`: the classified units as the neutral model of [`super::html`], written to `PATH` and
//! to the sink beside the JSON report. How a unit is classified (failed, not offered and interrupted units told
//! apart by the latest download manifest that mentions them) is `missing`'s; the page shows its statuses.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::anyhow;
use chrono::{DateTime, NaiveDate, Utc};
use downloader::download::UnitStatus;
use downloader::download::plan::{Plan, Unit};
use gcs_sink::{ObjectSink, WriteMode};

use super::Found;
use super::html::{Coverage, CoverageUnit};
use crate::exit::Failure;
use crate::output::LocalFileWriter;

/// The object the page is stored under, beside `reports/missing/missing_{from}_{to}.json`.
pub(crate) fn object_name(from: NaiveDate, to: NaiveDate) -> String {
    format!("reports/missing/missing_{from}_{to}.html")
}

/// Checks, before any work, that `--html PATH` names a file in an existing directory.
///
/// # Errors
/// [`Failure::BadInput`] naming the flag and the path.
pub(crate) fn check_path(path: &Path) -> Result<(), Failure> {
    if path.file_name().is_none() || path.is_dir() {
        return Err(Failure::BadInput(anyhow!("--html {} is not a file path", path.display())));
    }
    let parent =
        path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(Failure::BadInput(anyhow!(
            "--html {}: the directory {} does not exist",
            path.display(),
            parent.display()
        )));
    }
    Ok(())
}

/// Renders the page of `classified` (with each stored object's size from `stored`) and writes it to `path`
/// (atomically) and to the sink; returns the object name.
///
/// # Errors
/// A manifest that cannot be listed, read or parsed, a file or object that cannot be written: each named.
///
/// # Cancel safety
/// Dropping the future leaves nothing at `path`; the sink's write is atomic.
pub(crate) async fn write(
    sink: &ObjectSink,
    plan: &Plan,
    classified: &[(&Unit, UnitStatus)],
    stored: &BTreeMap<String, (Found, u64)>,
    generated_at: DateTime<Utc>,
    path: &Path,
) -> Result<String, Failure> {
    let coverage = Coverage {
        from: plan.range.start,
        to: plan.range.end,
        generated_at,
        exported_until: plan.exported_until.clone(),
        days_not_exported: plan.days_not_exported.clone(),
        units: classified
            .iter()
            .map(|(unit, status)| CoverageUnit {
                date: unit.date,
                exchange: &unit.exchange,
                data_type: unit.data_type.as_str(),
                instrument_key: &unit.instrument_key,
                status: *status,
                // The sizes of the unit's objects that are stored (with several output formats, a missing unit
                // may have one of its objects).
                bytes: unit
                    .object_names()
                    .filter_map(|name| match stored.get(name) {
                        Some((Found::Verified | Found::Adopted | Found::Unverified, size)) => {
                            Some(*size)
                        }
                        _ => None,
                    })
                    .reduce(|a, b| a + b),
            })
            .collect(),
    };
    let page = super::html::render(&coverage);
    let written = async {
        let mut file = LocalFileWriter::create(path).await?;
        file.write(page.as_bytes()).await?;
        file.commit().await
    };
    written.await.map_err(|error| {
        Failure::Work(anyhow!(error).context(format!("cannot write {}", path.display())))
    })?;
    let object = object_name(plan.range.start, plan.range.end);
    let bytes = page.len();
    sink.put_bytes(&object, page, WriteMode::Replace).await.map_err(|error| {
        Failure::Work(anyhow!(error).context(format!("cannot write the report {object}")))
    })?;
    tracing::info!(path = %path.display(), object = %object, bytes, "coverage page written");
    Ok(object)
}
