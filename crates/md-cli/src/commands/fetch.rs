//! `md-cli fetch`: download one dataset file byte-exact, verify it decompresses completely, write it atomically.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use futures::StreamExt;
use gcs_sink::{ObjectSink, PutError, PutStatus, WriteMode};
use md_config::{Loaded, SinkConfig, SinkLocation};
use tardis_client::{DatasetRequest, DatasetSummary, Retry, TardisClient};
use tokio_util::sync::CancellationToken;

use crate::cli::FetchArgs;
use crate::exit::Failure;
use crate::output::LocalFileWriter;

/// Why one attempt at the file ended.
enum AttemptError {
    Tardis(tardis_client::Error),
    Write(std::io::Error),
    Sink(gcs_sink::Error),
}

/// Where the file goes: a local path (temporary name, then rename, replacing what was there) or an object in a sink
/// (`gs://`, `s3://`), written create-only unless forced.
enum Output {
    Local(PathBuf),
    Object { sink: ObjectSink, name: String, url: String, mode: WriteMode },
}

impl Output {
    /// A URL with a scheme names an object in a sink; anything else is a local path.
    fn from_arg(output: &Path, sink: &SinkConfig, force: bool) -> Result<Output, Failure> {
        let text = output.to_string_lossy();
        if !text.contains("://") {
            crate::output::check_file_path("--output", output)?;
            return Ok(Output::Local(output.to_path_buf()));
        }
        let location = SinkLocation::parse(&text)
            .map_err(|reason| Failure::BadInput(anyhow!("--output {text}: {reason}")))?;
        let config = SinkConfig { location, ..sink.clone() };
        let (sink, name) = ObjectSink::for_object(&config).map_err(|error| {
            Failure::BadInput(anyhow!(error).context(format!("--output {text}")))
        })?;
        let mode = if force { WriteMode::Replace } else { WriteMode::CreateOnly };
        Ok(Output::Object { sink, name, url: text.into_owned(), mode })
    }

    fn describe(&self) -> String {
        match self {
            Output::Local(path) => path.display().to_string(),
            Output::Object { url, .. } => url.clone(),
        }
    }
}

pub(crate) fn run(loaded: &Loaded, args: &FetchArgs) -> Result<(), Failure> {
    let request = DatasetRequest::new(&args.exchange, args.data_type, args.date, &args.symbol);
    let mut config = loaded.config.clone();
    if config.api_key_secret.is_some() {
        // Reading the key is a request: logged like the others.
        crate::logging::init(&config.service).map_err(Failure::BadInput)?;
        crate::commands::api_key::resolve(loaded, &mut config)
            .map_err(crate::commands::api_key::failure)?;
    }
    let client =
        TardisClient::new(&config.tardis).map_err(|error| Failure::BadInput(anyhow!(error)))?;
    // Everything that can be refused is refused before a request is sent.
    client.check_dataset_request(&request).map_err(|error| Failure::BadInput(anyhow!(error)))?;
    crate::logging::init(&loaded.config.service).map_err(Failure::BadInput)?;
    let output = Output::from_arg(&args.output, &loaded.config.sink, loaded.config.download.force)?;
    let summary =
        crate::runtime::run(
            move |token| async move { fetch(&client, &request, &output, token).await },
        )?;
    tracing::info!(
        output = %args.output.display(),
        bytes = summary.bytes,
        uncompressed_bytes = ?summary.uncompressed_bytes,
        crc32c = format!("{:08x}", summary.crc32c),
        attempts = summary.attempts,
        elapsed_ms = summary.elapsed.as_millis() as u64,
        "fetched"
    );
    Ok(())
}

/// Downloads the file, restarting it whole after a retryable stream error, every attempt drawn from one retry
/// budget for the whole file.
async fn fetch(
    client: &TardisClient,
    request: &DatasetRequest,
    output: &Output,
    token: CancellationToken,
) -> Result<DatasetSummary, Failure> {
    let retry = client.retry();
    loop {
        let error = match fetch_once(client, request, output, &retry).await {
            Ok(summary) => return Ok(summary),
            Err(AttemptError::Write(error)) => {
                return Err(Failure::Work(
                    anyhow!(error)
                        .context(format!("fetching {request}: cannot write {}", output.describe())),
                ));
            }
            Err(AttemptError::Sink(error)) => {
                return Err(Failure::Work(
                    anyhow!(error)
                        .context(format!("fetching {request}: cannot store {}", output.describe())),
                ));
            }
            Err(AttemptError::Tardis(error)) => error,
        };
        if error.is_bad_input() {
            return Err(Failure::BadInput(anyhow!(error)));
        }
        tokio::select! {
            () = token.cancelled() => return Err(Failure::Interrupted),
            again = retry.back_off(error.retry_class(), "the file (restarting it)", &error) => {
                if !again {
                    return Err(Failure::Work(
                        anyhow!(error).context(format!("fetching {request} failed")),
                    ));
                }
            }
        }
    }
}

/// One pass over the file: stream it into a temporary file (or a sink's staging), commit only after the stream
/// ended without error.
async fn fetch_once(
    client: &TardisClient,
    request: &DatasetRequest,
    output: &Output,
    retry: &Retry,
) -> Result<DatasetSummary, AttemptError> {
    let mut stream = client.dataset_with(request, retry).await.map_err(AttemptError::Tardis)?;
    let no_summary =
        || AttemptError::Write(std::io::Error::other("the stream ended without a summary"));
    match output {
        Output::Local(path) => {
            let mut writer = LocalFileWriter::create(path)
                .await
                .with_context(|| format!("creating a temporary file beside {}", path.display()))
                .map_err(|error| {
                    AttemptError::Write(std::io::Error::other(format!("{error:#}")))
                })?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(AttemptError::Tardis)?;
                writer.write(&chunk).await.map_err(AttemptError::Write)?;
            }
            let summary = stream.summary().ok_or_else(no_summary)?;
            writer.commit().await.map_err(AttemptError::Write)?;
            Ok(summary)
        }
        Output::Object { sink, name, mode, .. } => {
            // The sink publishes the object only when the stream ends cleanly (verified gzip). Create-only: an
            // existing object is verified against what was downloaded; `--force` replaces it.
            match sink.put_stream(name, &mut stream, *mode).await {
                Ok(outcome) => {
                    if outcome.status == PutStatus::AlreadyPresent {
                        tracing::info!(object = %name, "the object was already stored with the same size and CRC32C; left as it is");
                    }
                    stream.summary().ok_or_else(no_summary)
                }
                Err(PutError::Source { source, .. }) => Err(AttemptError::Tardis(source)),
                Err(PutError::Sink(error)) => Err(AttemptError::Sink(error)),
            }
        }
    }
}
