//! The write path: streaming an object in, as one conditional put or a staged multipart upload published by copy,
//! and answering a create-only write that finds the name taken.

use std::pin::pin;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyMode, CopyOptions, GetOptions, ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions,
    PutPayload,
};
use tracing::Instrument;

use tokio::sync::OwnedSemaphorePermit;

use crate::upload::StagedUpload;
use crate::{Digest, Error, Hasher, ObjectSink, PutError, Result, WriteMode};

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

impl ObjectSink {
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
        // Takes the stream in (`Incoming::push`), then stores what came (`Incoming::store`); a failing source or
        // part upload abandons what was staged (`Incoming::abandon`). Boxed: the future is large.
        let put = async move {
            let mut stream = pin!(stream);
            let to = Destination { name, path: &path, mode };
            let mut incoming = Incoming::new(self, name);
            while let Some(item) = stream.next().await {
                let pushed = match item {
                    Ok(chunk) => incoming.push(chunk).await,
                    Err(source) => {
                        let bytes = incoming.abandon().await;
                        tracing::warn!(
                            object = name,
                            bytes,
                            "source stream failed; nothing stored"
                        );
                        return Err(PutError::Source { name: name.to_owned(), bytes, source });
                    }
                };
                if let Err(error) = pushed {
                    incoming.abandon().await;
                    return Err(error.into());
                }
            }
            Ok(incoming.store(&to).await?)
        };
        Box::pin(put.instrument(span)).await
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

    /// One conditional put carrying the digest as custom metadata.
    async fn put_small(
        &self,
        to: &Destination<'_>,
        payload: PutPayload,
        digest: Digest,
    ) -> Result<PutOutcome> {
        let Destination { name, path, mode } = *to;
        let options = PutOptions {
            mode: if mode == WriteMode::Replace { PutMode::Overwrite } else { PutMode::Create },
            attributes: digest.to_attributes(),
            ..PutOptions::default()
        };
        match self.inner.store.put_opts(path, payload, options).await {
            Ok(_) => Ok(self.written(to, digest)),
            Err(object_store::Error::AlreadyExists { .. }) => {
                self.answer_existing(name, path, digest).await
            }
            Err(source) => Err(Error::store("put", name, self.label(), source)),
        }
    }

    /// Copies a complete staging object to its final name, records its digest, and removes the staging object.
    async fn publish(
        &self,
        to: &Destination<'_>,
        staging: &Path,
        digest: Digest,
    ) -> Result<PutOutcome> {
        let Destination { name, path, mode } = *to;
        let copy_mode =
            if mode == WriteMode::Replace { CopyMode::Overwrite } else { CopyMode::Create };
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
                Ok(()) => Ok(self.written(to, digest)),
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

    fn written(&self, to: &Destination<'_>, digest: Digest) -> PutOutcome {
        let name = to.name;
        let status = match to.mode {
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

    async fn delete_staging(&self, staging: &Path) {
        match self.inner.store.delete(staging).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => {
                tracing::warn!(staging = %staging, error = %error, "staging object not deleted; cleanup_staging will remove it")
            }
        }
    }
}

/// Where a write goes, and what it does when the name is taken.
#[derive(Debug, Clone, Copy)]
struct Destination<'a> {
    /// The object name, relative to the sink.
    name: &'a str,
    /// Its path in the store.
    path: &'a Path,
    mode: WriteMode,
}

/// The bytes of one write as they arrive: held in memory up to one part, then streamed into a multipart upload to
/// a staging name.
struct Incoming<'a> {
    sink: &'a ObjectSink,
    name: &'a str,
    hasher: Hasher,
    body: Body,
    /// The first part's room in the budget, taken with the first byte.
    room: Option<OwnedSemaphorePermit>,
}

/// Where the bytes of a write are so far.
enum Body {
    /// In memory: at most one part's worth.
    Buffered { chunks: Vec<Bytes>, len: usize },
    /// In a multipart upload to `staging`.
    Staged { upload: StagedUpload, staging: Path },
}

impl<'a> Incoming<'a> {
    fn new(sink: &'a ObjectSink, name: &'a str) -> Self {
        Incoming {
            sink,
            name,
            hasher: Hasher::default(),
            body: Body::Buffered { chunks: Vec::new(), len: 0 },
            room: None,
        }
    }

    /// Takes one chunk: hashes it, then uploads it as part of a staged upload or buffers it, starting the staged
    /// upload when the buffer outgrows one part.
    async fn push(&mut self, chunk: Bytes) -> Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.hasher.update(&chunk);
        match &mut self.body {
            Body::Staged { upload, staging } => {
                let label = self.sink.label();
                upload.put(chunk).await.map_err(|source| {
                    Error::store("upload part of", staging.as_ref(), label, source)
                })
            }
            Body::Buffered { chunks, len } => {
                if self.room.is_none() {
                    self.room = Some(self.sink.inner.budget.part().await);
                }
                *len += chunk.len();
                chunks.push(chunk);
                if *len > self.sink.inner.options.part_size {
                    let chunks = std::mem::take(chunks);
                    self.start_staging(chunks).await?;
                }
                Ok(())
            }
        }
    }

    /// Starts the multipart upload to a new staging name and uploads what was buffered.
    async fn start_staging(&mut self, buffered: Vec<Bytes>) -> Result<()> {
        let (sink, options) = (self.sink, &self.sink.inner.options);
        let staging = sink.inner.names.new_staging();
        tracing::debug!(object = self.name, staging = %staging, "object exceeds one part: multipart upload to staging");
        let upload = sink
            .inner
            .store
            .put_multipart_opts(&staging, PutMultipartOptions::default())
            .await
            .map_err(|source| {
                Error::store("start multipart upload of", staging.as_ref(), sink.label(), source)
            })?;
        let mut upload = StagedUpload::new(
            upload,
            staging.clone(),
            options.part_size,
            options.upload_concurrency,
            sink.inner.budget.clone(),
            self.room.take(),
        );
        let mut uploaded = Ok(());
        for chunk in buffered {
            if let Err(source) = upload.put(chunk).await {
                uploaded =
                    Err(Error::store("upload part of", staging.as_ref(), sink.label(), source));
                break;
            }
        }
        // Staged even when a part failed, so that abandoning the write aborts the upload.
        self.body = Body::Staged { upload, staging };
        uploaded
    }

    /// Gives the write up: aborts a staged upload. Returns how many bytes had come.
    async fn abandon(self) -> u64 {
        if let Body::Staged { upload, .. } = self.body {
            upload.abort().await;
        }
        self.hasher.finish().size
    }

    /// Stores what came under `path`: a staged upload is completed and published by copy; buffered bytes are
    /// written with one conditional put where the store keeps custom metadata, else staged and published (so
    /// partial files stay under staging).
    async fn store(self, to: &Destination<'_>) -> Result<PutOutcome> {
        let sink = self.sink;
        let digest = self.hasher.finish();
        match self.body {
            Body::Staged { upload, staging } => {
                if let Err(source) = upload.complete().await {
                    // The complete may have taken effect with its answer lost (a dropped connection): the staging
                    // object would then exist whole, with no one left to publish or delete it.
                    sink.delete_staging(&staging).await;
                    return Err(Error::store(
                        "complete multipart upload of",
                        staging.as_ref(),
                        sink.label(),
                        source,
                    ));
                }
                sink.publish(to, &staging, digest).await
            }
            Body::Buffered { chunks, .. } if sink.inner.options.kind.custom_metadata() => {
                sink.put_small(to, PutPayload::from_iter(chunks), digest).await
            }
            Body::Buffered { chunks, .. } => {
                let staging = sink.inner.names.new_staging();
                sink.inner
                    .store
                    .put_opts(&staging, PutPayload::from_iter(chunks), PutOptions::default())
                    .await
                    .map_err(|source| {
                        Error::store("put", staging.as_ref(), sink.label(), source)
                    })?;
                sink.publish(to, &staging, digest).await
            }
        }
    }
}
