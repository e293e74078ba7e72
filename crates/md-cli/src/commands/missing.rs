//! `md-cli missing`: what the plan holds and the sink does not, told apart from what Tardis has not exported yet
//! and marked where Tardis reports an incident; also written as a report under `reports/missing/`, with the original
//! system's two report objects per day and, with `--html PATH`, the coverage page.
//!
//! What every unit is, the reports and the page are the library's ([`downloader::download::report`]); this command
//! takes the arguments, calls it and prints.

use std::io::Write as _;

use anyhow::anyhow;
use chrono::Utc;
use downloader::download::UnitStatus;
use downloader::download::report::{Survey, UnitReport, flagged};

use crate::cli::MissingArgs;
use crate::commands::download::{ignore_broken_pipe, print_units};
use crate::commands::job::Job;
use crate::exit::Failure;
use crate::output::LocalFileWriter;

pub(crate) fn run(loaded: &md_config::Loaded, args: &MissingArgs) -> Result<(), Failure> {
    if let Some(path) = &args.html {
        crate::output::check_file_path("--html", path)?;
    }
    let job = Job::new(loaded)?;
    let (json, check) = (args.json, args.check);
    let html = args.html.clone();
    crate::runtime::run(move |_token| async move {
        let work = |error: downloader::Error| Failure::Work(anyhow!(error));
        let days = job.days(false).await?;
        let plan = job.plan(&days).await?;
        let survey = Survey::of(&job.sink, &plan).await.map_err(work)?;
        let download = &job.config.download;
        let generated_at = Utc::now();
        let written =
            survey.write_reports(&job.sink, download, generated_at).await.map_err(work)?;
        let (report, object) = (&written.report, &written.object);
        let coverage_page = match &html {
            Some(path) => {
                let page = survey.page(generated_at);
                let bytes = page.len();
                LocalFileWriter::write_all(path, page.as_bytes()).await.map_err(|error| {
                    Failure::Work(
                        anyhow!(error).context(format!("cannot write {}", path.display())),
                    )
                })?;
                let object = survey.write_page(&job.sink, page).await.map_err(work)?;
                tracing::info!(path = %path.display(), object = %object, bytes, "coverage page written");
                Some((path, object))
            }
            None => None,
        };
        // Every unit that is not simply stored and verified: with `--json`, each line says which it is (and a
        // stored unit's file facts); not yet exported and adopted units are counted below, only `--json` lists
        // them, and the stored units whose files have crossed rows or disorder.
        let shown = survey
            .units
            .iter()
            .filter(|unit| {
                let plain =
                    unit.status == UnitStatus::StoredVerified && unit.unit.incident.is_none();
                let quiet = matches!(unit.status, UnitStatus::NotYetExported | UnitStatus::Adopted);
                match json {
                    true => !plain || unit.facts.as_ref().is_some_and(flagged),
                    false => !plain && !quiet,
                }
            })
            .map(UnitReport::line);
        ignore_broken_pipe(print_units(shown, json))?;
        let (missing, unverified) = survey.gaps();
        if !json {
            let mut text = format!(
                "\nstored and verified {}, adopted {}, empty at the source {}, unverified {unverified}, missing {missing} (last run failed {}, interrupted {}), not offered {}, not yet exported {}{}, inside an incident {}\n",
                report.stored_verified,
                report.adopted,
                report.empty.len(),
                survey.count(UnitStatus::Failed),
                survey.count(UnitStatus::Interrupted),
                report.not_offered.len(),
                report.not_yet_exported.len(),
                if plan.days_not_exported.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (and {} day(s) with nothing exported yet)",
                        plan.days_not_exported.len()
                    )
                },
                report.incidents.len(),
            );
            if !report.flagged.is_empty() {
                text.push_str(&format!(
                    "{} stored file(s) with crossed book rows or local_timestamp going backwards (missing --json lists them with their facts)\n",
                    report.flagged.len()
                ));
            }
            for (exchange, until) in &plan.exported_until {
                text.push_str(&format!("{exchange}: exported until {until}\n"));
            }
            text.push_str(&format!(
                "{missing} of {} planned units missing; report written to {object}\n",
                plan.units.len()
            ));
            text.push_str(&format!(
                "per-day reports ({} day(s)) written to missing_data_reports/by_date/ and available_tick_data/by_date/\n",
                written.days
            ));
            if let Some((path, page)) = &coverage_page {
                text.push_str(&format!("coverage page written to {} and {page}\n", path.display()));
            }
            ignore_broken_pipe(std::io::stdout().lock().write_all(text.as_bytes()))?;
        }
        tracing::info!(
            planned = plan.units.len(),
            missing,
            not_offered = report.not_offered.len(),
            not_yet_exported = report.not_yet_exported.len(),
            incidents = report.incidents.len(),
            report = %object,
            "missing data reported"
        );
        if check && (missing > 0 || unverified > 0) {
            return Err(Failure::Work(anyhow!(
                "--check: {missing} missing and {unverified} unverified of {} planned units (report {object})",
                plan.units.len()
            )));
        }
        Ok(())
    })
}
