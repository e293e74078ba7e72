//! A multipart upload to a staging name that is aborted whatever happens unless it completes.
//!
//! Parts are uploaded with at most `concurrency` in flight, each owned by a [`JoinSet`], so memory stays at about
//! `(concurrency + 1) * part_size` whatever the object's size, and every buffer takes its room in the process-wide
//! [`BufferBudget`] first. If the upload is dropped before [`StagedUpload::complete`]
//! returns (an error, or the caller's future cancelled), the in-flight parts are cancelled and the upload is
//! aborted by a best-effort task on the current runtime: the one task this crate spawns outside a `JoinSet`, since
//! `Drop` cannot await. A process that dies leaves an incomplete upload, which is never visible as an object (see
//! the crate docs for the bucket lifecycle rule that reclaims its parts).

use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{MultipartUpload, PutPayloadMut, PutResult};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

/// The process's budget of bytes held in part buffers, over every upload of every clone of a sink.
///
/// A buffer takes a whole part's worth before it fills and keeps it until the part is uploaded, so a writer waits
/// for room only while it holds none, and parts in flight always finish: the budget cannot deadlock.
#[derive(Debug, Clone)]
pub(crate) struct BufferBudget {
    permits: Arc<Semaphore>,
    /// Permits (KiB) of one part.
    part_kib: u32,
}

impl BufferBudget {
    /// A budget of `total` bytes for parts of `part_size` bytes (at least one part's worth).
    pub(crate) fn new(total: usize, part_size: usize) -> Self {
        let kib = |bytes: usize| u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX).max(1);
        let part_kib = kib(part_size);
        let total_kib = kib(total).max(part_kib);
        BufferBudget { permits: Arc::new(Semaphore::new(total_kib as usize)), part_kib }
    }

    /// Waits for one part's worth of room.
    pub(crate) async fn part(&self) -> OwnedSemaphorePermit {
        self.permits
            .clone()
            .acquire_many_owned(self.part_kib)
            .await
            .expect("the budget's semaphore is never closed")
    }
}

/// An in-progress multipart upload that aborts itself on drop.
#[derive(Debug)]
pub(crate) struct StagedUpload {
    upload: Option<Box<dyn MultipartUpload>>,
    parts: JoinSet<object_store::Result<()>>,
    buffer: PutPayloadMut,
    /// The room `buffer` holds in the budget (taken before the first byte of each part).
    room: Option<OwnedSemaphorePermit>,
    budget: BufferBudget,
    part_size: usize,
    concurrency: usize,
    path: Path,
    parts_started: usize,
}

impl StagedUpload {
    pub(crate) fn new(
        upload: Box<dyn MultipartUpload>,
        path: Path,
        part_size: usize,
        concurrency: usize,
        budget: BufferBudget,
        room: Option<OwnedSemaphorePermit>,
    ) -> Self {
        StagedUpload {
            upload: Some(upload),
            parts: JoinSet::new(),
            buffer: PutPayloadMut::new(),
            room,
            budget,
            part_size,
            concurrency: concurrency.max(1),
            path,
            parts_started: 0,
        }
    }

    /// Adds bytes, starting a part upload whenever a part is full and waiting while too many are in flight.
    pub(crate) async fn put(&mut self, mut bytes: Bytes) -> object_store::Result<()> {
        while !bytes.is_empty() {
            if self.room.is_none() {
                self.room = Some(self.budget.part().await);
            }
            let room = self.part_size - self.buffer.content_length();
            if bytes.len() < room {
                self.buffer.push(bytes);
                return Ok(());
            }
            self.buffer.push(bytes.split_to(room));
            self.start_part().await?;
        }
        Ok(())
    }

    async fn start_part(&mut self) -> object_store::Result<()> {
        while self.parts.len() >= self.concurrency {
            self.join_one().await?;
        }
        let payload = std::mem::take(&mut self.buffer).freeze();
        let room = self.room.take();
        let upload = self.upload.as_mut().expect("upload present until complete or abort");
        let part = upload.put_part(payload);
        self.parts.spawn(async move {
            let result = part.await;
            // The part's bytes are released once it is sent (or failed).
            drop(room);
            result
        });
        self.parts_started += 1;
        tracing::trace!(staging = %self.path, part = self.parts_started, "part upload started");
        Ok(())
    }

    async fn join_one(&mut self) -> object_store::Result<()> {
        match self.parts.join_next().await {
            Some(Ok(result)) => result,
            Some(Err(join_error)) => Err(object_store::Error::JoinError { source: join_error }),
            None => Ok(()),
        }
    }

    /// Uploads the last part, waits for every part and completes the upload.
    ///
    /// On error the upload is aborted (when this returns, or by the drop guard if this future is dropped).
    pub(crate) async fn complete(mut self) -> object_store::Result<PutResult> {
        if self.buffer.content_length() > 0 {
            self.start_part().await?;
        }
        while !self.parts.is_empty() {
            self.join_one().await?;
        }
        let upload = self.upload.as_mut().expect("upload present until complete or abort");
        let result = upload.complete().await?;
        // Completed: nothing to abort any more.
        self.upload = None;
        Ok(result)
    }

    /// Cancels the parts in flight and aborts the upload now.
    pub(crate) async fn abort(mut self) {
        self.parts.shutdown().await;
        if let Some(mut upload) = self.upload.take() {
            abort_logged(&mut *upload, &self.path).await;
        }
    }
}

async fn abort_logged(upload: &mut dyn MultipartUpload, path: &Path) {
    match upload.abort().await {
        Ok(()) => tracing::debug!(staging = %path, "multipart upload aborted"),
        Err(error) => {
            tracing::warn!(staging = %path, error = %error, "aborting the multipart upload failed")
        }
    }
}

impl Drop for StagedUpload {
    fn drop(&mut self) {
        let Some(mut upload) = self.upload.take() else { return };
        self.parts.abort_all();
        let path = self.path.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                tracing::debug!(staging = %path, "upload dropped before completing: aborting it");
                drop(runtime.spawn(async move { abort_logged(&mut *upload, &path).await }));
            }
            Err(_) => {
                tracing::warn!(staging = %path, "upload dropped outside a runtime: it cannot be aborted")
            }
        }
    }
}
