//! Object-store sinks (`gs://`, `s3://`, local directory, memory) with atomic, verified, create-only writes.
//!
//! Built from md-config's [`md_config::SinkConfig`] ([`ObjectSink::from_config`]) or around any
//! `Arc<dyn ObjectStore>` ([`ObjectSink::new`]); never reads the environment.
//! Dependency position: `md-config` <- `gcs-sink` <- `downloader`.
//!
//! # Guarantees of [`ObjectSink::put_stream`]
//! - **Streaming**: the object arrives as a stream and is never held whole in memory. Objects up to
//!   [`SinkOptions::part_size`] are buffered (at most one part) and written with one conditional put; larger ones
//!   are uploaded in parts (at most [`SinkOptions::upload_concurrency`] in flight) to a staging name under
//!   [`names::STAGING_DIR`], then copied to the final name, then the staging object is deleted.
//! - **Atomic**: no partial object is ever visible under the final name, whatever fails and whenever the process
//!   dies: a put either happens whole or not at all, and a copy publishes a complete object. An upload that fails or
//!   whose future is dropped is aborted; staging objects left by killed processes are removed by a later
//!   [`ObjectSink::cleanup_staging`]. On GCS, also give the bucket a lifecycle rule with the
//!   `AbortIncompleteMultipartUpload` action: the parts of an upload whose process was killed are not objects,
//!   so no listing can find them.
//! - **Create-only** ([`WriteMode::CreateOnly`]): an existing object is never overwritten. The put carries
//!   `x-goog-if-generation-match: 0` (S3: `If-None-Match: *`, local: a hard link); the publishing copy is a
//!   copy-if-not-exists. An existing object is answered by verification: same size and CRC32C as what was just
//!   streamed gives [`PutStatus::AlreadyPresent`], different gives [`Error::Mismatch`] naming both.
//!   [`WriteMode::Replace`] (`--force`) replaces deliberately, still atomically.
//! - **Integrity**: size and CRC32C are computed while streaming, returned in [`PutOutcome`] and recorded with
//!   the object as custom metadata ([`digest::META_SIZE`], [`digest::META_CRC32C`]; on GCS `x-goog-meta-md-size`
//!   and `x-goog-meta-md-crc32c`). Where the store cannot attach them (local directories; objects published by
//!   copy, whose metadata is fixed before their content is known) a sidecar `.md-meta/<name>` records the digest
//!   and the ETag of the object it describes, so a stale sidecar is ignored. S3 requests carry
//!   `x-amz-checksum-sha256`, which the server checks; object_store sends no checksum to GCS.
//! - **Errors**: a failing source stream stores nothing and hands the stream's own error back, typed, in
//!   [`PutError::Source`]; every other error is the sink's ([`PutError::Sink`], [`Error::is_retryable`]).
//!
//! # Limits
//! - A create-only write that finds the name taken trusts the *recorded* digest of the existing object (one `HEAD`);
//!   it reads the object back only when nothing is recorded. [`ObjectSink::verify`] re-reads to detect corruption.
//! - S3 publishes staged objects with a one-part multipart copy (`S3CopyIfNotExists::Multipart`, the only
//!   create-only copy AWS offers) and replaces with `CopyObject`: both stop at 5 GiB per object.
//! - Local directories publish with hard links (create-only) and renames (replace): the directory must be on a
//!   filesystem that has them.
//!
//! # Tests and benchmarks
//! This crate holds product code only; its test and benchmark helpers live in the `test-support` crate (a
//! dev-dependency): deterministic generated streams and the peak-memory probe in `test_support::generated`, one
//! generated upload described by command-line flags in `test_support::upload`, run by test-support's
//! `gcs-sink-upload` binary (the memory benchmark). The uploader child process of the kill test
//! (`tests/it/kill.rs`) is this crate's integration-test binary itself, run again to execute one test.
//!
//! # Example
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use bytes::Bytes;
//! use gcs_sink::{ObjectSink, PutStatus, WriteMode};
//! use md_config::{SinkConfig, SinkLocation};
//!
//! let config = SinkConfig { location: SinkLocation::Memory, ..SinkConfig::default() };
//! let sink = ObjectSink::from_config(&config)?;
//! let chunks = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from("a,b\n1,2\n"))]);
//! let outcome = sink.put_stream("day-2024-01-01/trades.csv", chunks, WriteMode::CreateOnly).await?;
//! assert_eq!(outcome.status, PutStatus::Created);
//! assert_eq!(sink.head("day-2024-01-01/trades.csv").await?.recorded, Some(outcome.digest));
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod build;
pub mod digest;
mod error;
mod gcs_copy;
pub mod names;
mod read;
pub mod secret_manager;
mod upload;

use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use md_config::SinkConfig;
use object_store::path::Path;
use object_store::{
    CopyMode, CopyOptions, GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode,
    PutMultipartOptions, PutOptions, PutPayload,
};
use tracing::Instrument;

use crate::digest::SidecarRecord;
pub use crate::digest::{Digest, Hasher};
pub use crate::error::{Error, PutError, Result};
use crate::names::Names;
use crate::upload::StagedUpload;

/// What kind of store a sink writes to: decides how digests are recorded and how staging leftovers are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    /// Google Cloud Storage (or an emulator of its XML API).
    Gcs,
    /// Amazon S3 or a compatible server.
    S3,
    /// A local directory: no custom metadata (sidecars instead), and cleanup also removes object_store's hidden
    /// partial files under `root`.
    Local {
        /// The directory the store is rooted at.
        root: PathBuf,
    },
    /// object_store's `InMemory`.
    Memory,
    /// Any other store.
    Other {
        /// Whether `put` keeps custom metadata attributes.
        custom_metadata: bool,
    },
}

impl StoreKind {
    fn custom_metadata(&self) -> bool {
        match self {
            StoreKind::Gcs | StoreKind::S3 | StoreKind::Memory => true,
            StoreKind::Local { .. } => false,
            StoreKind::Other { custom_metadata } => *custom_metadata,
        }
    }
}

/// How a sink uploads.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// The store's kind.
    pub kind: StoreKind,
    /// Bytes per multipart part, and the size up to which an object is written with a single put.
    pub part_size: usize,
    /// Parts uploaded concurrently per object; memory per upload is about `(upload_concurrency + 1) * part_size`.
    pub upload_concurrency: usize,
    /// Bytes all uploads of the sink (and its clones) may hold in part buffers at once; a writer waits for room
    /// (at least one part's worth is always allowed).
    pub buffer_memory: usize,
    /// How the sink is named in errors and logs (`gs://bucket/prefix`, a path, ...).
    pub label: String,
}

impl SinkOptions {
    /// Returns the defaults for a store kind: the part size and buffer budget of [`SinkConfig::default`], two parts
    /// in flight.
    pub fn new(kind: StoreKind) -> Self {
        let label = match &kind {
            StoreKind::Gcs => "gs://".to_owned(),
            StoreKind::S3 => "s3://".to_owned(),
            StoreKind::Local { root } => root.display().to_string(),
            StoreKind::Memory => "memory://".to_owned(),
            StoreKind::Other { .. } => "object store".to_owned(),
        };
        let defaults = SinkConfig::default();
        SinkOptions {
            kind,
            part_size: defaults.part_size,
            upload_concurrency: 2,
            buffer_memory: defaults.buffer_memory,
            label,
        }
    }
}

/// What a write does when the name is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Never overwrite: an existing object is verified against what was streamed.
    CreateOnly,
    /// Replace an existing object atomically (`--force`).
    Replace,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutStatus {
    /// The object was created.
    Created,
    /// An existing object was replaced ([`WriteMode::Replace`]), or there was none to replace.
    Replaced,
    /// An object with the same size and CRC32C was already there; nothing was written.
    AlreadyPresent,
}

/// The result of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    /// The object name, relative to the sink.
    pub name: String,
    /// Size and CRC32C of the streamed bytes (and so of the stored object).
    pub digest: Digest,
    /// What happened.
    pub status: PutStatus,
}

/// An object's metadata, as [`ObjectSink::head`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object name, relative to the sink.
    pub name: String,
    /// The actual size in bytes.
    pub size: u64,
    /// When the object was last written.
    pub last_modified: DateTime<Utc>,
    /// The store's ETag, when it gives one.
    pub e_tag: Option<String>,
    /// The size and CRC32C recorded when it was written; `None` for objects written by something else (unless an
    /// adoption that read the whole object recorded them).
    pub recorded: Option<Digest>,
    /// How the object was found fit to keep, when md adopted it rather than wrote it
    /// ([`ObjectSink::record_adopted`]).
    pub adopted: Option<Adoption>,
}

/// The record of an object md did not write but checked and kept ([`ObjectSink::record_adopted`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    /// Its size when it was checked.
    pub size: u64,
    /// How it was checked, in the caller's words (`parquet-footer`, `csv-gzip`, ...).
    pub checked: String,
}

/// What [`ObjectSink::copy_create`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyStatus {
    /// The copy was created, with the source's record (if it had one).
    Copied,
    /// Something already exists under the destination name; nothing was copied.
    Exists,
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// The object name, relative to the sink.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// When the object was last written.
    pub last_modified: DateTime<Utc>,
    /// The store's ETag, when it gives one.
    pub e_tag: Option<String>,
}

/// The result of [`ObjectSink::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Size and CRC32C of the object's bytes as read now.
    pub digest: Digest,
    /// Whether a recorded digest was found (and matched); `false` for objects written by something else.
    pub recorded: bool,
}

/// An object-store sink. Cheap to clone; clones share the store.
#[derive(Debug, Clone)]
pub struct ObjectSink {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn ObjectStore>,
    names: Names,
    options: SinkOptions,
    /// GCS stores built by [`ObjectSink::from_config`]: publishing copies carry the digest as metadata.
    copy_metadata: Option<gcs_copy::CopyMetadata>,
    /// Room for part buffers, shared by every upload.
    budget: upload::BufferBudget,
}

impl ObjectSink {
    /// Builds the sink md-config describes.
    ///
    /// `gs://`: a service-account key file when `credentials_path` is set, else application default credentials;
    /// `emulator_host` points it at an emulator with no credentials. `s3://`: the configured endpoint, region and
    /// keys (plain `http://` endpoints allowed), create-only puts through `If-None-Match`, SHA-256 checksums.
    /// A local directory is created when missing. Retries and timeouts come from the config.
    ///
    /// # Errors
    /// [`Error::Config`] when the store cannot be built (bad key file, uncreatable directory, zero part size).
    pub fn from_config(config: &SinkConfig) -> Result<Self> {
        let built = build::build(config)?;
        tracing::debug!(sink = %built.options.label, "sink built");
        let mut sink = ObjectSink::new(built.store, &built.prefix, built.options);
        if let Some(inner) = Arc::get_mut(&mut sink.inner) {
            inner.copy_metadata = built.copy_metadata;
        }
        Ok(sink)
    }

    /// Builds a sink for a URL that names one object (`md-cli fetch --output gs://bucket/path/file.csv.gz`):
    /// returns the sink of the bucket (or of the file's directory) and the object name within it.
    ///
    /// # Errors
    /// [`Error::InvalidName`] when the location names no object (`gs://bucket`, `memory://`); as
    /// [`ObjectSink::from_config`] otherwise.
    pub fn for_object(config: &SinkConfig) -> Result<(Self, String)> {
        use md_config::SinkLocation;
        let no_object = || Error::InvalidName {
            name: config.location.to_string(),
            reason: "the sink URL names no object".into(),
        };
        let (location, name) = match &config.location {
            SinkLocation::Gcs { bucket, prefix } if !prefix.is_empty() => (
                SinkLocation::Gcs { bucket: bucket.clone(), prefix: String::new() },
                prefix.clone(),
            ),
            SinkLocation::S3 { bucket, prefix } if !prefix.is_empty() => {
                (SinkLocation::S3 { bucket: bucket.clone(), prefix: String::new() }, prefix.clone())
            }
            SinkLocation::Local { root } => {
                let name = root.file_name().and_then(|name| name.to_str()).ok_or_else(no_object)?;
                let parent = root.parent().filter(|parent| !parent.as_os_str().is_empty());
                let directory = parent.map_or_else(|| PathBuf::from("."), PathBuf::from);
                (SinkLocation::Local { root: directory }, name.to_owned())
            }
            _ => return Err(no_object()),
        };
        let sink = ObjectSink::from_config(&SinkConfig { location, ..config.clone() })?;
        sink.inner.names.object(&name)?;
        Ok((sink, name))
    }

    /// Wraps a store: objects are named `<prefix>/<name>` in it.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, options: SinkOptions) -> Self {
        let options = SinkOptions {
            part_size: options.part_size.max(1),
            upload_concurrency: options.upload_concurrency.max(1),
            ..options
        };
        let names = Names::new(prefix);
        let budget = upload::BufferBudget::new(options.buffer_memory, options.part_size);
        ObjectSink { inner: Arc::new(Inner { store, names, options, copy_metadata: None, budget }) }
    }

    /// Returns the underlying store (its paths include the sink prefix), for inspecting what the sink keeps
    /// beside its objects (staging, sidecars): the test suites list and plant raw objects through it.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.inner.store
    }

    /// Returns the sink's options.
    pub fn options(&self) -> &SinkOptions {
        &self.inner.options
    }

    fn label(&self) -> &str {
        &self.inner.options.label
    }

    /// Streams an object into the sink; see the crate docs for the guarantees.
    ///
    /// # Errors
    /// [`PutError::Source`] with the stream's own error when the stream yields one (nothing is stored);
    /// [`PutError::Sink`] with [`Error::Mismatch`] when [`WriteMode::CreateOnly`] finds different content under the
    /// name, [`Error::InvalidName`] or [`Error::Store`].
    ///
    /// # Cancel safety
    /// Dropping the future never leaves a partial object under the final name. A multipart upload in progress is
    /// aborted by a task spawned on drop; a staging object already completed stays until
    /// [`ObjectSink::cleanup_staging`]. If the future is dropped after the publishing put or copy was sent, the object
    /// may exist complete.
    pub async fn put_stream<S, E>(
        &self,
        name: &str,
        stream: S,
        mode: WriteMode,
    ) -> std::result::Result<PutOutcome, PutError<E>>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send,
        E: Send,
    {
        let path = self.inner.names.object(name)?;
        let span = tracing::info_span!("sink_put", object = name, sink = self.label(), ?mode);
        Box::pin(self.put_stream_at(name, path, stream, mode).instrument(span)).await
    }

    /// Writes a small object (a manifest, a report) held in memory, with the same guarantees as
    /// [`ObjectSink::put_stream`].
    ///
    /// # Errors
    /// As [`ObjectSink::put_stream`]'s [`PutError::Sink`].
    ///
    /// # Cancel safety
    /// As [`ObjectSink::put_stream`].
    pub async fn put_bytes(
        &self,
        name: &str,
        bytes: impl Into<Bytes>,
        mode: WriteMode,
    ) -> Result<PutOutcome> {
        let chunk = futures::stream::iter([Ok::<_, std::convert::Infallible>(bytes.into())]);
        self.put_stream(name, chunk, mode).await.map_err(|error| match error {
            PutError::Sink(error) => error,
            PutError::Source { source, .. } => match source {},
        })
    }

    async fn put_stream_at<S, E>(
        &self,
        name: &str,
        path: Path,
        stream: S,
        mode: WriteMode,
    ) -> std::result::Result<PutOutcome, PutError<E>>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send,
        E: Send,
    {
        let options = &self.inner.options;
        let mut stream = pin!(stream);
        let mut hasher = Hasher::default();
        let mut buffered: Vec<Bytes> = Vec::new();
        let mut buffered_len = 0usize;
        let mut staged: Option<(StagedUpload, Path)> = None;
        // The first part's room in the budget, taken with the first byte.
        let mut room = None;

        while let Some(item) = stream.next().await {
            let chunk = match item {
                Ok(chunk) => chunk,
                Err(source) => {
                    if let Some((upload, _)) = staged.take() {
                        upload.abort().await;
                    }
                    let bytes = hasher.finish().size;
                    tracing::warn!(object = name, bytes, "source stream failed; nothing stored");
                    return Err(PutError::Source { name: name.to_owned(), bytes, source });
                }
            };
            if chunk.is_empty() {
                continue;
            }
            hasher.update(&chunk);
            if let Some((upload, staging)) = staged.as_mut() {
                if let Err(source) = upload.put(chunk).await {
                    let staging = staging.to_string();
                    if let Some((upload, _)) = staged.take() {
                        upload.abort().await;
                    }
                    return Err(
                        Error::store("upload part of", staging, self.label(), source).into()
                    );
                }
                continue;
            }
            if room.is_none() {
                room = Some(self.inner.budget.part().await);
            }
            buffered_len += chunk.len();
            buffered.push(chunk);
            if buffered_len > options.part_size {
                let staging = self.inner.names.new_staging();
                tracing::debug!(object = name, staging = %staging, "object exceeds one part: multipart upload to staging");
                let upload = self
                    .inner
                    .store
                    .put_multipart_opts(&staging, PutMultipartOptions::default())
                    .await
                    .map_err(|source| {
                        Error::store(
                            "start multipart upload of",
                            staging.as_ref(),
                            self.label(),
                            source,
                        )
                    })?;
                let mut upload = StagedUpload::new(
                    upload,
                    staging.clone(),
                    options.part_size,
                    options.upload_concurrency,
                    self.inner.budget.clone(),
                    room.take(),
                );
                for chunk in buffered.drain(..) {
                    if let Err(source) = upload.put(chunk).await {
                        upload.abort().await;
                        return Err(Error::store(
                            "upload part of",
                            staging.as_ref(),
                            self.label(),
                            source,
                        )
                        .into());
                    }
                }
                staged = Some((upload, staging));
            }
        }

        let digest = hasher.finish();
        match staged {
            Some((upload, staging)) => {
                if let Err(source) = upload.complete().await {
                    // The complete may have taken effect with its answer lost (a dropped connection): the staging
                    // object would then exist whole, with no one left to publish or delete it.
                    self.delete_staging(&staging).await;
                    return Err(Error::store(
                        "complete multipart upload of",
                        staging.as_ref(),
                        self.label(),
                        source,
                    )
                    .into());
                }
                Ok(self.publish(name, &path, &staging, digest, mode).await?)
            }
            None if options.kind.custom_metadata() => Ok(self
                .put_small(name, &path, PutPayload::from_iter(buffered), digest, mode)
                .await?),
            None => {
                // No custom metadata (local): stage, then publish by copy, so partial files stay under staging.
                let staging = self.inner.names.new_staging();
                self.inner
                    .store
                    .put_opts(&staging, PutPayload::from_iter(buffered), PutOptions::default())
                    .await
                    .map_err(|source| {
                        Error::store("put", staging.as_ref(), self.label(), source)
                    })?;
                Ok(self.publish(name, &path, &staging, digest, mode).await?)
            }
        }
    }

    /// One conditional put carrying the digest as custom metadata.
    async fn put_small(
        &self,
        name: &str,
        path: &Path,
        payload: PutPayload,
        digest: Digest,
        mode: WriteMode,
    ) -> Result<PutOutcome> {
        let put_mode = match mode {
            WriteMode::CreateOnly => PutMode::Create,
            WriteMode::Replace => PutMode::Overwrite,
        };
        let options = PutOptions {
            mode: put_mode,
            attributes: digest.to_attributes(),
            ..PutOptions::default()
        };
        match self.inner.store.put_opts(path, payload, options).await {
            Ok(_) => Ok(self.written(name, digest, mode)),
            Err(object_store::Error::AlreadyExists { .. }) => {
                self.answer_existing(name, path, digest).await
            }
            Err(source) => Err(Error::store("put", name, self.label(), source)),
        }
    }

    /// Copies a complete staging object to its final name, records its digest, and removes the staging object.
    async fn publish(
        &self,
        name: &str,
        path: &Path,
        staging: &Path,
        digest: Digest,
        mode: WriteMode,
    ) -> Result<PutOutcome> {
        let copy_mode = match mode {
            WriteMode::CreateOnly => CopyMode::Create,
            WriteMode::Replace => CopyMode::Overwrite,
        };
        let registration =
            self.inner.copy_metadata.as_ref().map(|m| m.register(staging.as_ref(), digest));
        let copied = self
            .inner
            .store
            .copy_opts(staging, path, CopyOptions::new().with_mode(copy_mode))
            .await;
        let attached = registration.is_some();
        drop(registration);
        let outcome = match copied {
            Ok(()) => match self.record_after_copy(name, path, digest, attached).await {
                Ok(()) => Ok(self.written(name, digest, mode)),
                Err(error) => Err(error),
            },
            Err(object_store::Error::AlreadyExists { .. }) => {
                self.answer_existing(name, path, digest).await
            }
            Err(source) => Err(Error::store("copy staging object to", name, self.label(), source)),
        };
        self.delete_staging(staging).await;
        outcome
    }

    /// Makes sure a copied object has its digest recorded: confirms the metadata the copy attached (GCS), else
    /// writes a sidecar.
    async fn record_after_copy(
        &self,
        name: &str,
        path: &Path,
        digest: Digest,
        attached: bool,
    ) -> Result<()> {
        if attached {
            let options = GetOptions { head: true, ..GetOptions::default() };
            let result = self
                .inner
                .store
                .get_opts(path, options)
                .await
                .map_err(|source| Error::store("head", name, self.label(), source))?;
            if Digest::from_attributes(&result.attributes) == Ok(Some(digest)) {
                return Ok(());
            }
            tracing::warn!(
                object = name,
                "the copy did not keep the digest metadata: recording a sidecar"
            );
        }
        self.record_sidecar(name, path, digest).await
    }

    fn written(&self, name: &str, digest: Digest, mode: WriteMode) -> PutOutcome {
        let status = match mode {
            WriteMode::CreateOnly => PutStatus::Created,
            WriteMode::Replace => PutStatus::Replaced,
        };
        tracing::debug!(object = name, sink = self.label(), size = digest.size, crc32c = %digest.crc32c_hex(), ?status, "object stored");
        PutOutcome { name: name.to_owned(), digest, status }
    }

    /// Answers a create-only write that found the name taken: verified equal, or a mismatch naming both.
    async fn answer_existing(&self, name: &str, path: &Path, new: Digest) -> Result<PutOutcome> {
        let info = self.head_path(name, path).await?;
        let existing = match info.recorded {
            // A record whose size disagrees with the object describes other bytes: report the actual size.
            Some(recorded) => Digest { size: info.size, crc32c: recorded.crc32c },
            None => {
                let actual = self.read_digest(name, path).await?;
                if actual == new {
                    // Written by something that recorded no digest (or killed before its sidecar): record it now.
                    self.record_sidecar(name, path, actual).await?;
                }
                actual
            }
        };
        if existing != new {
            // Not a warning: the caller may expect it (a doctor probe, a run's days recorded by another task,
            // definitions replaced) and the error names both digests.
            tracing::debug!(object = name, sink = self.label(), %existing, %new, "existing object differs");
            return Err(Error::Mismatch {
                name: name.to_owned(),
                store: self.label().to_owned(),
                existing,
                new,
            });
        }
        tracing::info!(object = name, sink = self.label(), size = new.size, crc32c = %new.crc32c_hex(), "object already present and verified");
        Ok(PutOutcome { name: name.to_owned(), digest: new, status: PutStatus::AlreadyPresent })
    }

    /// Writes the sidecar record of an object, bound to its current identity.
    async fn record_sidecar(&self, name: &str, path: &Path, digest: Digest) -> Result<()> {
        let meta = self
            .inner
            .store
            .head(path)
            .await
            .map_err(|source| Error::store("head", name, self.label(), source))?;
        let identity = self.identity(name, path, &meta).await?;
        self.put_sidecar(name, &SidecarRecord::of_digest(digest, identity)).await
    }

    async fn put_sidecar(&self, name: &str, record: &SidecarRecord) -> Result<()> {
        let sidecar = self.inner.names.sidecar(name);
        self.inner
            .store
            .put_opts(&sidecar, PutPayload::from(record.encode()), PutOptions::default())
            .await
            .map_err(|source| Error::store("record digest of", name, self.label(), source))?;
        Ok(())
    }

    /// What a sidecar record is bound to: the ETag, or on local disks the inode (an in-place change keeps it, so
    /// corruption stays detectable; every write through the sink makes a new file).
    async fn identity(&self, name: &str, path: &Path, meta: &ObjectMeta) -> Result<String> {
        if let StoreKind::Local { root } = &self.inner.options.kind {
            let file = root.join(path.as_ref());
            let metadata = tokio::fs::metadata(&file).await.map_err(|error| Error::BadRecord {
                name: name.to_owned(),
                store: self.label().to_owned(),
                detail: format!("cannot stat {}: {error}", file.display()),
            })?;
            return Ok(format!("inode:{}", std::os::unix::fs::MetadataExt::ino(&metadata)));
        }
        meta.e_tag.clone().ok_or_else(|| Error::BadRecord {
            name: name.to_owned(),
            store: self.label().to_owned(),
            detail: "the store gives no ETag to bind a sidecar record to".into(),
        })
    }

    async fn delete_staging(&self, staging: &Path) {
        match self.inner.store.delete(staging).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => {
                tracing::warn!(staging = %staging, error = %error, "staging object not deleted; cleanup_staging will remove it")
            }
        }
    }

    /// Returns an object's size, ETag and recorded digest.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::BadRecord`] for unreadable metadata, [`Error::Store`].
    ///
    /// # Cancel safety
    /// Read-only: dropping the future has no effect on the store.
    pub async fn head(&self, name: &str) -> Result<ObjectInfo> {
        let path = self.inner.names.object(name)?;
        self.head_path(name, &path).await
    }

    async fn head_path(&self, name: &str, path: &Path) -> Result<ObjectInfo> {
        let store = &self.inner.store;
        let options = GetOptions { head: true, ..GetOptions::default() };
        let result = store
            .get_opts(path, options)
            .await
            .map_err(|source| Error::store("head", name, self.label(), source))?;
        let bad_record = |detail: String| Error::BadRecord {
            name: name.to_owned(),
            store: self.label().to_owned(),
            detail,
        };
        let meta = result.meta.clone();
        let mut recorded = Digest::from_attributes(&result.attributes).map_err(bad_record)?;
        let mut adopted = None;
        drop(result);
        if recorded.is_none() {
            let sidecar = self.inner.names.sidecar(name);
            match store.get(&sidecar).await {
                Ok(found) => {
                    let bytes = found.bytes().await.map_err(|source| {
                        Error::store("read digest record of", name, self.label(), source)
                    })?;
                    let text = String::from_utf8_lossy(&bytes);
                    let record = SidecarRecord::decode(&text).map_err(bad_record)?;
                    if self.identity(name, path, &meta).await? == record.identity {
                        recorded = record.digest();
                        adopted = record
                            .checked
                            .clone()
                            .map(|checked| Adoption { size: record.size, checked });
                    } else {
                        tracing::debug!(
                            object = name,
                            "sidecar record describes an older object; ignored"
                        );
                    }
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(source) => {
                    return Err(Error::store("read digest record of", name, self.label(), source));
                }
            }
        }
        Ok(ObjectInfo {
            name: name.to_owned(),
            size: meta.size,
            last_modified: meta.last_modified,
            e_tag: meta.e_tag,
            recorded,
            adopted,
        })
    }

    /// Reads an object back and checks its size and CRC32C against the recorded ones.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when they differ, [`Error::NotFound`], [`Error::Store`].
    ///
    /// # Cancel safety
    /// Read-only: dropping the future has no effect on the store.
    pub async fn verify(&self, name: &str) -> Result<Verified> {
        let path = self.inner.names.object(name)?;
        let info = self.head_path(name, &path).await?;
        let actual = self.read_digest(name, &path).await?;
        match info.recorded {
            Some(recorded) if recorded != actual => {
                tracing::warn!(object = name, sink = self.label(), %recorded, %actual, "object is corrupt");
                Err(Error::Corrupt {
                    name: name.to_owned(),
                    store: self.label().to_owned(),
                    recorded,
                    actual,
                })
            }
            Some(_) => Ok(Verified { digest: actual, recorded: true }),
            None => Ok(Verified { digest: actual, recorded: false }),
        }
    }

    async fn read_digest(&self, name: &str, path: &Path) -> Result<Digest> {
        let mut stream = self.get_path(name, path).await?;
        let mut hasher = Hasher::default();
        while let Some(chunk) = stream.next().await {
            hasher.update(&chunk?);
        }
        Ok(hasher.finish())
    }

    /// Returns an object's bytes as a stream.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Store`]; the stream yields [`Error::Store`] when reading fails midway.
    ///
    /// # Cancel safety
    /// Read-only: dropping the future or the stream has no effect on the store.
    pub async fn get(&self, name: &str) -> Result<BoxStream<'static, Result<Bytes>>> {
        let path = self.inner.names.object(name)?;
        self.get_path(name, &path).await
    }

    async fn get_path(&self, name: &str, path: &Path) -> Result<BoxStream<'static, Result<Bytes>>> {
        let result = self
            .inner
            .store
            .get(path)
            .await
            .map_err(|source| Error::store("get", name, self.label(), source))?;
        let (name, label) = (name.to_owned(), self.label().to_owned());
        Ok(result
            .into_stream()
            .map_err(move |source| Error::store("read", name.clone(), label.clone(), source))
            .boxed())
    }

    /// Reads the bytes `range` of an object with one ranged request (only those bytes travel), from the version
    /// whose ETag is `e_tag` when one is given. A range reaching past the end returns the bytes up to it.
    ///
    /// # Errors
    /// [`Error::Changed`] when the object no longer has that ETag, [`Error::NotFound`], [`Error::Store`] (also for
    /// a range that starts past the end).
    ///
    /// # Cancel safety
    /// Read-only: dropping the future has no effect on the store.
    pub async fn read_range(
        &self,
        name: &str,
        range: std::ops::Range<u64>,
        e_tag: Option<&str>,
    ) -> Result<Bytes> {
        let path = self.inner.names.object(name)?;
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            if_match: e_tag.map(str::to_owned),
            ..GetOptions::default()
        };
        let read_error = |source: object_store::Error| match source {
            object_store::Error::Precondition { .. } => {
                Error::Changed { name: name.to_owned(), store: self.label().to_owned() }
            }
            source => Error::store("read a range of", name, self.label(), source),
        };
        let result = self.inner.store.get_opts(&path, options).await.map_err(read_error)?;
        result.bytes().await.map_err(read_error)
    }

    /// Records that an object md did not write was checked and found fit to keep: a sidecar bound to the object's
    /// identity (as every sidecar is) holding its size, how it was `checked` and, when the check read the whole
    /// object, its `digest`. [`ObjectSink::head`] then reports it in [`ObjectInfo::adopted`] (and, with a digest, in
    /// [`ObjectInfo::recorded`]). `checked_info` is the head the check started from, and the record describes that
    /// version only: bound to its ETag, a record of an object rewritten since is ignored (on a local disk the file
    /// is looked at again, and a changed one is not recorded).
    ///
    /// # Errors
    /// [`Error::Changed`] when the digest's size is not the checked size or a local file changed,
    /// [`Error::InvalidName`] for a `checked` that is empty or holds control characters, [`Error::BadRecord`] when
    /// the store gives no ETag, [`Error::NotFound`], [`Error::Store`].
    ///
    /// # Cancel safety
    /// Dropping the future leaves either no record or a complete one.
    pub async fn record_adopted(
        &self,
        name: &str,
        checked_info: &ObjectInfo,
        checked: &str,
        digest: Option<Digest>,
    ) -> Result<()> {
        let path = self.inner.names.object(name)?;
        if checked.trim().is_empty() || checked.chars().any(char::is_control) {
            return Err(Error::InvalidName {
                name: checked.to_owned(),
                reason: "how an object was checked is one non-empty line".into(),
            });
        }
        let changed = || Error::Changed { name: name.to_owned(), store: self.label().to_owned() };
        if digest.is_some_and(|digest| digest.size != checked_info.size) {
            return Err(changed());
        }
        // The record is bound to the version that was checked: elsewhere its ETag (the checks read by If-Match, so
        // a later rewrite makes the record stale, as for any sidecar); on a local disk, whose identity is the inode,
        // the file is looked at again.
        let identity = match &self.inner.options.kind {
            StoreKind::Local { .. } => {
                let meta = self
                    .inner
                    .store
                    .head(&path)
                    .await
                    .map_err(|source| Error::store("head", name, self.label(), source))?;
                if meta.size != checked_info.size || meta.e_tag != checked_info.e_tag {
                    return Err(changed());
                }
                self.identity(name, &path, &meta).await?
            }
            _ => checked_info.e_tag.clone().ok_or_else(|| Error::BadRecord {
                name: name.to_owned(),
                store: self.label().to_owned(),
                detail: "the store gives no ETag to bind an adoption record to".into(),
            })?,
        };
        let record = SidecarRecord {
            size: checked_info.size,
            crc32c: digest.map(|digest| digest.crc32c),
            identity,
            checked: Some(checked.trim().to_owned()),
        };
        self.put_sidecar(name, &record).await?;
        tracing::debug!(
            object = name,
            sink = self.label(),
            size = checked_info.size,
            checked,
            "adoption recorded"
        );
        Ok(())
    }

    /// Copies an object to a new name on the store's side (no bytes pass through this process) only if nothing
    /// exists under the new name, and carries the source's record (its size and CRC32C, or its adoption) over to
    /// the copy: kept by the copy itself where the store copies custom metadata (GCS, S3, memory), else as a
    /// sidecar. The source is left in place.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the source does not exist, [`Error::Changed`] when the copy's size differs from
    /// the source's as headed just before (it changed meanwhile), [`Error::InvalidName`], [`Error::Store`].
    ///
    /// # Cancel safety
    /// If the future is dropped after the copy was sent, the copy may exist without its record (the source's
    /// record is then looked for again by whoever finds it unrecorded).
    pub async fn copy_create(&self, from: &str, to: &str) -> Result<CopyStatus> {
        let from_path = self.inner.names.object(from)?;
        let to_path = self.inner.names.object(to)?;
        let source = self.head_path(from, &from_path).await?;
        let options = CopyOptions::new().with_mode(CopyMode::Create);
        match self.inner.store.copy_opts(&from_path, &to_path, options).await {
            Ok(()) => {}
            Err(object_store::Error::AlreadyExists { .. }) => return Ok(CopyStatus::Exists),
            Err(error) => return Err(Error::store("copy", from, self.label(), error)),
        }
        let copied = self.head_path(to, &to_path).await?;
        if copied.size != source.size {
            return Err(Error::Changed { name: from.to_owned(), store: self.label().to_owned() });
        }
        let kept = copied.recorded == source.recorded && copied.adopted == source.adopted;
        if !kept && (source.recorded.is_some() || source.adopted.is_some()) {
            let meta = self
                .inner
                .store
                .head(&to_path)
                .await
                .map_err(|error| Error::store("head", to, self.label(), error))?;
            let identity = self.identity(to, &to_path, &meta).await?;
            let record = SidecarRecord {
                size: source.size,
                crc32c: source.recorded.map(|digest| digest.crc32c),
                identity,
                checked: source.adopted.map(|adoption| adoption.checked),
            };
            self.put_sidecar(to, &record).await?;
        }
        tracing::info!(from, to, sink = self.label(), size = source.size, "object copied");
        Ok(CopyStatus::Copied)
    }

    /// Lists the data objects under a prefix (segment-wise: `a/b` matches `a/b/...`, not `a/bc`; `""` lists
    /// everything). Staging objects and sidecars are never listed.
    ///
    /// Listings carry no custom metadata: use [`ObjectSink::head`] for recorded digests.
    pub fn list(&self, prefix: &str) -> BoxStream<'static, Result<ListedObject>> {
        let full = match self.inner.names.list_prefix(prefix) {
            Ok(full) => full,
            Err(error) => return futures::stream::once(async move { Err(error) }).boxed(),
        };
        let names = self.inner.names.clone();
        let (label, prefix) = (self.label().to_owned(), prefix.to_owned());
        self.inner
            .store
            .list(full.as_ref())
            .filter_map(move |item| {
                let result = match item {
                    Ok(meta) => names.relative(&meta.location).map(|name| {
                        Ok(ListedObject {
                            name,
                            size: meta.size,
                            last_modified: meta.last_modified,
                            e_tag: meta.e_tag,
                        })
                    }),
                    Err(source) => {
                        Some(Err(Error::store("list", prefix.clone(), label.clone(), source)))
                    }
                };
                futures::future::ready(result)
            })
            .boxed()
    }

    /// Deletes an object and its sidecar record. Deleting a missing object succeeds.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::Store`].
    ///
    /// # Cancel safety
    /// Dropping the future may leave the sidecar record behind; a later write ignores it (its ETag differs).
    pub async fn delete(&self, name: &str) -> Result<()> {
        let path = self.inner.names.object(name)?;
        for target in [path, self.inner.names.sidecar(name)] {
            match self.inner.store.delete(&target).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(source) => return Err(Error::store("delete", name, self.label(), source)),
            }
        }
        tracing::info!(object = name, sink = self.label(), "object deleted");
        Ok(())
    }

    /// Removes staging objects older than `older_than`: the leftovers of processes killed between completing an
    /// upload and publishing it. Local sinks also remove object_store's hidden partial files under the staging
    /// directory. Returns how many were removed.
    ///
    /// Use an age well above the longest upload (an hour, say): a younger staging object may belong to an upload
    /// still running elsewhere in the fleet.
    ///
    /// # Errors
    /// [`Error::Store`] when listing or deleting fails.
    ///
    /// # Cancel safety
    /// Dropping the future stops the cleanup; objects not yet deleted stay for the next run.
    pub async fn cleanup_staging(&self, older_than: Duration) -> Result<usize> {
        let cutoff =
            Utc::now() - chrono::Duration::from_std(older_than).unwrap_or(chrono::Duration::MAX);
        let staging_dir = self.inner.names.staging_dir();
        let mut removed = 0;
        let mut listing = self.inner.store.list(Some(&staging_dir));
        let mut stale = Vec::new();
        while let Some(item) = listing.next().await {
            let meta = item.map_err(|source| {
                Error::store("list", staging_dir.as_ref(), self.label(), source)
            })?;
            if meta.last_modified < cutoff {
                stale.push(meta.location);
            }
        }
        for location in stale {
            match self.inner.store.delete(&location).await {
                Ok(()) => removed += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(source) => {
                    return Err(Error::store("delete", location.as_ref(), self.label(), source));
                }
            }
            tracing::info!(staging = %location, sink = self.label(), "stale staging object removed");
        }
        if let StoreKind::Local { root } = &self.inner.options.kind {
            removed += remove_local_partials(root.join(staging_dir.as_ref()), older_than).await;
        }
        Ok(removed)
    }
}

/// Removes object_store's hidden partial files (`<staging>#<n>`, invisible to listings) older than `older_than`.
async fn remove_local_partials(dir: PathBuf, older_than: Duration) -> usize {
    let task = tokio::task::spawn_blocking(move || {
        let Ok(entries) = std::fs::read_dir(&dir) else { return 0 };
        let mut removed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let old_enough = entry
                .metadata()
                .and_then(|metadata| metadata.modified())
                .ok()
                .and_then(|modified| modified.elapsed().ok())
                .is_some_and(|age| age >= older_than);
            if old_enough && entry.file_type().is_ok_and(|kind| kind.is_file()) {
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        tracing::info!(staging = %path.display(), "stale partial file removed");
                        removed += 1;
                    }
                    Err(error) => {
                        tracing::warn!(staging = %path.display(), %error, "stale partial file not removed")
                    }
                }
            }
        }
        removed
    });
    task.await.unwrap_or(0)
}
