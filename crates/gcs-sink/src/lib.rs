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

mod adopt;
mod build;
mod cleanup;
pub mod digest;
mod error;
mod gcs_copy;
mod inspect;
pub mod names;
mod options;
mod probe;
mod read;
mod records;
pub mod secret_manager;
mod upload;
mod write;

use std::path::PathBuf;
use std::sync::Arc;

use md_config::SinkConfig;
use object_store::ObjectStore;

pub use crate::adopt::{Adoption, CopyStatus};
pub use crate::digest::{Digest, Hasher};
pub use crate::error::{Error, PutError, Result};
pub use crate::inspect::{ObjectInfo, Verified};
use crate::names::Names;
pub use crate::options::{SinkOptions, StoreKind, WriteMode};
pub use crate::probe::ProbeError;
pub use crate::write::{PutOutcome, PutStatus};

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
}
