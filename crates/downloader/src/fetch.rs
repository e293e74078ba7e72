//! One dataset file, fetched byte-exact (`md-cli fetch`): downloaded, checked to decompress completely, and written
//! atomically to a local path ([`LocalFileWriter`]) or to an object in a sink, restarted whole after a retryable
//! stream error with every attempt drawn from one retry budget for the file.
//!
//! ```no_run
//! # async fn example(client: tardis_client::TardisClient, sink: md_config::SinkConfig) -> Result<(), downloader::fetch::FetchError> {
//! use downloader::fetch::{FetchOutput, fetch};
//! let request = tardis_client::DatasetRequest::new("deribit", md_config::DataType::Trades,
//!     chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(), "BTC-PERPETUAL");
//! let output = FetchOutput::parse(std::path::Path::new("trades.csv.gz"), &sink, false)?;
//! let summary = fetch(&client, &request, &output, tokio_util::sync::CancellationToken::new()).await?;
//! println!("{} bytes, crc32c {:08x}", summary.bytes, summary.crc32c);
//! # Ok(()) }
//! ```

use std::io;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use gcs_sink::{ObjectSink, PutError, PutStatus, WriteMode};
use md_config::{SinkConfig, SinkLocation};
use tardis_client::{DatasetRequest, DatasetSummary, Retry, TardisClient};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

/// Why a fetch did not produce the file. [`FetchError::is_bad_input`] says which are the request's fault.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The path given with `flag` names no file (a directory, or no file name).
    #[error("{flag} {} is not a file path", path.display())]
    NotAFilePath {
        /// The flag that gave it (`--output`, `--html`).
        flag: &'static str,
        /// The path.
        path: PathBuf,
    },
    /// The directory of the path given with `flag` does not exist.
    #[error("{flag} {}: the directory {} does not exist", path.display(), directory.display())]
    NoDirectory {
        /// The flag that gave it.
        flag: &'static str,
        /// The path.
        path: PathBuf,
        /// Its directory.
        directory: PathBuf,
    },
    /// The output is a URL md cannot read as a sink location.
    #[error("--output {output}: {reason}")]
    BadLocation {
        /// The output.
        output: String,
        /// Why.
        reason: String,
    },
    /// The output's sink cannot be opened.
    #[error("--output {output}")]
    OpenSink {
        /// The output.
        output: String,
        /// The sink's error.
        #[source]
        source: Box<gcs_sink::Error>,
    },
    /// Tardis refused the request itself (bad input: retrying cannot help).
    #[error(transparent)]
    Refused(Box<tardis_client::Error>),
    /// The file could not be downloaded within the retry budget.
    #[error("fetching {request} failed")]
    Download {
        /// The request.
        request: String,
        /// The last error.
        #[source]
        source: Box<tardis_client::Error>,
    },
    /// The local file could not be written.
    #[error("fetching {request}: cannot write {output}")]
    Write {
        /// The request.
        request: String,
        /// The output.
        output: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The object could not be stored.
    #[error("fetching {request}: cannot store {output}")]
    Store {
        /// The request.
        request: String,
        /// The output.
        output: String,
        /// The sink's error.
        #[source]
        source: Box<gcs_sink::Error>,
    },
    /// The token was cancelled while waiting to retry.
    #[error("interrupted")]
    Interrupted,
}

impl FetchError {
    /// Returns whether nothing was done because of what was asked: the output, or a request Tardis refuses.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            FetchError::NotAFilePath { .. }
                | FetchError::NoDirectory { .. }
                | FetchError::BadLocation { .. }
                | FetchError::OpenSink { .. }
                | FetchError::Refused(_)
        )
    }
}

/// Where the file goes.
#[derive(Debug)]
pub enum FetchOutput {
    /// A local path: a temporary name beside it, then a rename, replacing what was there.
    Local(PathBuf),
    /// An object in a sink (`gs://`, `s3://`), written create-only unless `mode` replaces it.
    Object {
        /// The object's sink.
        sink: ObjectSink,
        /// The object's name in it.
        name: String,
        /// The output as given.
        url: String,
        /// Create-only, or replace (`--force`).
        mode: WriteMode,
    },
}

impl FetchOutput {
    /// A URL with a scheme names an object in a sink configured as `sink` but for its location; anything else is a
    /// local path, whose directory must exist. `force` replaces an existing object.
    ///
    /// # Errors
    /// The bad-input variants of [`FetchError`].
    pub fn parse(output: &Path, sink: &SinkConfig, force: bool) -> Result<FetchOutput, FetchError> {
        let text = output.to_string_lossy();
        if !text.contains("://") {
            check_file_path("--output", output)?;
            return Ok(FetchOutput::Local(output.to_path_buf()));
        }
        let output = text.into_owned();
        let location = match SinkLocation::parse(&output) {
            Ok(location) => location,
            Err(reason) => return Err(FetchError::BadLocation { output, reason }),
        };
        let config = SinkConfig { location, ..sink.clone() };
        let (sink, name) = match ObjectSink::for_object(&config) {
            Ok(opened) => opened,
            Err(source) => return Err(FetchError::OpenSink { output, source: source.into() }),
        };
        let mode = if force { WriteMode::Replace } else { WriteMode::CreateOnly };
        Ok(FetchOutput::Object { sink, name, url: output, mode })
    }

    fn describe(&self) -> String {
        match self {
            FetchOutput::Local(path) => path.display().to_string(),
            FetchOutput::Object { url, .. } => url.clone(),
        }
    }
}

/// Checks, before any work, that the path given with `flag` (`--output`, `--html`) names a file in an existing
/// directory.
///
/// # Errors
/// [`FetchError::NotAFilePath`] or [`FetchError::NoDirectory`], naming the flag and the path.
pub fn check_file_path(flag: &'static str, path: &Path) -> Result<(), FetchError> {
    if path.file_name().is_none() || path.is_dir() {
        return Err(FetchError::NotAFilePath { flag, path: path.to_path_buf() });
    }
    let parent = path.parent().filter(|parent| !parent.as_os_str().is_empty());
    let directory = parent.unwrap_or(Path::new("."));
    if !directory.is_dir() {
        let (path, directory) = (path.to_path_buf(), directory.to_path_buf());
        return Err(FetchError::NoDirectory { flag, path, directory });
    }
    Ok(())
}

/// Why one attempt at the file ended.
enum AttemptError {
    Tardis(tardis_client::Error),
    Write(io::Error),
    Sink(gcs_sink::Error),
}

/// Downloads the file into `output`, restarting it whole after a retryable stream error, until done, out of
/// retries, or `token` is cancelled between attempts.
///
/// # Errors
/// [`FetchError`]; nothing appears at the output unless the whole file arrived and checked out.
///
/// # Cancel safety
/// Dropping the future leaves nothing at the output (the temporary file or the sink's staging is abandoned).
pub async fn fetch(
    client: &TardisClient,
    request: &DatasetRequest,
    output: &FetchOutput,
    token: CancellationToken,
) -> Result<DatasetSummary, FetchError> {
    let retry = client.retry();
    let (request_name, output_name) = (|| request.to_string(), || output.describe());
    loop {
        let error = match fetch_once(client, request, output, &retry).await {
            Ok(summary) => return Ok(summary),
            Err(AttemptError::Write(source)) => {
                let (request, output) = (request_name(), output_name());
                return Err(FetchError::Write { request, output, source });
            }
            Err(AttemptError::Sink(source)) => {
                let (request, output) = (request_name(), output_name());
                return Err(FetchError::Store { request, output, source: source.into() });
            }
            Err(AttemptError::Tardis(error)) if error.is_bad_input() => {
                return Err(FetchError::Refused(error.into()));
            }
            Err(AttemptError::Tardis(error)) => error,
        };
        tokio::select! {
            () = token.cancelled() => return Err(FetchError::Interrupted),
            again = retry.back_off(error.retry_class(), "the file (restarting it)", &error) => {
                if !again {
                    return Err(FetchError::Download { request: request_name(), source: error.into() });
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
    output: &FetchOutput,
    retry: &Retry,
) -> Result<DatasetSummary, AttemptError> {
    let mut stream = client.dataset_with(request, retry).await.map_err(AttemptError::Tardis)?;
    let no_summary = || AttemptError::Write(io::Error::other("the stream ended without a summary"));
    match output {
        FetchOutput::Local(path) => {
            let mut writer = LocalFileWriter::create(path).await.map_err(|error| {
                let beside = format!("creating a temporary file beside {}", path.display());
                AttemptError::Write(io::Error::other(format!("{beside}: {error}")))
            })?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(AttemptError::Tardis)?;
                writer.write(&chunk).await.map_err(AttemptError::Write)?;
            }
            let summary = stream.summary().ok_or_else(no_summary)?;
            writer.commit().await.map_err(AttemptError::Write)?;
            Ok(summary)
        }
        FetchOutput::Object { sink, name, mode, .. } => {
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

/// A local file written atomically: a temporary name in the same directory, fsync, rename.
///
/// Nothing appears at the final path unless [`LocalFileWriter::commit`] succeeds; a writer dropped before that
/// (an error, Ctrl-C) removes its temporary file.
#[derive(Debug)]
pub struct LocalFileWriter {
    target: PathBuf,
    temporary: PathBuf,
    file: Option<tokio::fs::File>,
}

impl LocalFileWriter {
    /// Creates the temporary file beside `target`.
    ///
    /// # Errors
    /// When the directory is missing or not writable.
    pub async fn create(target: &Path) -> io::Result<Self> {
        let name = target.file_name().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "the output path has no file name")
        })?;
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or_default();
        let temporary = target.with_file_name(format!(
            ".{}.{}.{nonce:08x}.partial",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file =
            tokio::fs::OpenOptions::new().write(true).create_new(true).open(&temporary).await?;
        Ok(LocalFileWriter { target: target.to_path_buf(), temporary, file: Some(file) })
    }

    /// Writes `bytes` to `target` atomically: a whole file at `target`, or nothing.
    ///
    /// # Errors
    /// As [`LocalFileWriter::create`], [`LocalFileWriter::write`] and [`LocalFileWriter::commit`].
    ///
    /// # Cancel safety
    /// Dropping the future before the rename leaves nothing at `target`.
    pub async fn write_all(target: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut file = LocalFileWriter::create(target).await?;
        file.write(bytes).await?;
        file.commit().await
    }

    /// Appends bytes.
    ///
    /// # Errors
    /// Write errors.
    ///
    /// # Cancel safety
    /// Not cancel safe: a cancelled write may leave part of `bytes` written; drop the writer afterwards.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let file = self.file.as_mut().ok_or_else(|| io::Error::other("the writer is closed"))?;
        file.write_all(bytes).await
    }

    /// Flushes, fsyncs and renames the file into place, then fsyncs the directory.
    ///
    /// # Errors
    /// Any of those steps; the temporary file is removed and nothing is left at the target.
    ///
    /// # Cancel safety
    /// Not cancel safe once the rename has started; dropping before leaves nothing at the target.
    pub async fn commit(mut self) -> io::Result<()> {
        let mut file = self.file.take().ok_or_else(|| io::Error::other("the writer is closed"))?;
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&self.temporary, &self.target).await?;
        if let Some(directory) =
            self.target.parent().filter(|parent| !parent.as_os_str().is_empty())
        {
            // Make the rename durable; not every platform lets a directory be opened, so this is best effort.
            if let Ok(directory) = tokio::fs::File::open(directory).await {
                let _ = directory.sync_all().await;
            }
        }
        self.temporary = PathBuf::new();
        Ok(())
    }
}

impl Drop for LocalFileWriter {
    fn drop(&mut self) {
        if !self.temporary.as_os_str().is_empty() {
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}
