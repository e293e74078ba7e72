//! `md-cli pipeline`: the instrument definitions of the range, then the tick download over them.

use anyhow::anyhow;
use md_config::Loaded;

use crate::cli::PipelineArgs;
use crate::commands::job::Job;
use crate::commands::{download, instruments};
use crate::exit::Failure;

pub(crate) fn run(loaded: &Loaded, _args: &PipelineArgs) -> Result<(), Failure> {
    let job = Job::new(loaded)?;
    crate::runtime::run_graceful(move |token| async move {
        let days = job.days(true).await?;
        let definitions = tokio::select! {
            report = instruments::write(&job, days.instruments) => report?,
            () = token.cancelled() => return Err(Failure::Interrupted),
        };
        if !definitions {
            tracing::warn!(
                "some exchanges could not be fetched; downloading what their stored definitions allow"
            );
        }
        let plan = job.plan(&days).await?;
        let outcome = download::run_download(&job, &plan, token).await;
        match (outcome, definitions) {
            (Ok(()), false) => Err(Failure::Work(anyhow!(
                "the download finished, but some exchanges' definitions could not be written"
            ))),
            (outcome, _) => outcome,
        }
    })
}
