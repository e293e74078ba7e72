//! A fake of the Google Cloud Storage **XML API**, as object_store's GCS backend speaks it, over real HTTP on
//! 127.0.0.1, with fault injection and request counters.
//!
//! The contract (from `shared/INFRA.md`):
//! - `/{bucket}/{object}` with both segments percent-encoded (`a%2Fb%2Ec`); buckets exist implicitly;
//! - `PUT` answers `ETag` and `x-goog-generation`; `GET`/`HEAD` answer `ETag`, `Last-Modified`,
//!   `x-goog-generation`, `Content-Length` and the stored `x-goog-meta-*`; `Range: bytes=a-b` answers 206;
//!   `If-Match` with another ETag answers 412; a missing object answers 404;
//! - `x-goog-if-generation-match: 0` means create-only, `=<gen>` update-if-generation; a mismatch answers 412;
//! - `GET /{bucket}?list-type=2&prefix=&delimiter=&continuation-token=&start-after=&max-keys=` answers a
//!   `ListBucketResult` (page size [`FakeGcs::set_page_size`]);
//! - multipart: `POST ?uploads` (metadata taken from its headers), `PUT ?partNumber=&uploadId=`,
//!   `POST ?uploadId=` with `CompleteMultipartUpload` (ETags checked), `DELETE ?uploadId=`;
//! - copy: `PUT` with `x-goog-copy-source: {bucket}/{object}` (encoded), honouring the generation match and
//!   `x-goog-metadata-directive: REPLACE` (else the source's metadata is copied).
//!
//! Faults ([`Faults`]) answer a status (e.g. 503), drop the connection before or after the request takes effect,
//! or stall it, scripted (the next N matching requests) or at random with a seed. [`Counters`] count requests by
//! [`RequestKind`] and injected faults.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use test_support::gcs::{FakeGcs, Fault, RequestKind};
//! let fake = FakeGcs::start().await?;
//! fake.faults().inject(Some(RequestKind::UploadPart), 2, Fault::Status(503));
//! let base_url = fake.url(); // http://127.0.0.1:PORT, for STORAGE_EMULATOR_HOST or with_base_url
//! # Ok(()) }
//! ```

mod faults;
mod server;
mod xml;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::serve::ServeTask;

pub use faults::{Counters, Fault, Faults, RequestKind};

/// A stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The bytes.
    pub data: Bytes,
    /// Custom metadata (`x-goog-meta-<key>`), keys lowercase without the prefix.
    pub metadata: BTreeMap<String, String>,
    /// `Content-Type`.
    pub content_type: String,
    /// Generation: changes on every write.
    pub generation: u64,
    /// When it was written.
    pub last_modified: DateTime<Utc>,
}

impl StoredObject {
    /// Returns the object's ETag (quoted, as sent in headers).
    pub fn e_tag(&self) -> String {
        format!("\"{:016x}\"", self.generation)
    }
}

/// A multipart upload in progress.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub(crate) bucket: String,
    pub(crate) object: String,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) content_type: String,
    pub(crate) parts: BTreeMap<u32, (String, Bytes)>,
}

/// The fake's whole state.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) buckets: HashMap<String, BTreeMap<String, StoredObject>>,
    pub(crate) uploads: HashMap<String, Upload>,
    pub(crate) next_generation: u64,
    pub(crate) next_upload: u64,
    pub(crate) page_size: usize,
    /// Bodies of puts and parts above this size are counted and dropped ([`FakeGcs::set_discard_over`]).
    pub(crate) discard_over: Option<usize>,
    pub(crate) discarded_bytes: u64,
    /// Body bytes sent by `GET`s (whole objects and ranges).
    pub(crate) served_bytes: u64,
}

impl Store {
    pub(crate) fn generation(&mut self) -> u64 {
        if self.next_generation == 0 {
            self.next_generation = 1_700_000_000_000_000;
        }
        self.next_generation += 1;
        self.next_generation
    }
}

#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: Faults,
}

impl Shared {
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns the body to keep for a request: empty when it is a put or a part above the discard size.
    pub(crate) fn keep(&self, kind: RequestKind, body: Bytes) -> Bytes {
        if !matches!(kind, RequestKind::Put | RequestKind::UploadPart) {
            return body;
        }
        let mut store = self.store();
        match store.discard_over {
            Some(limit) if body.len() > limit => {
                store.discarded_bytes += body.len() as u64;
                Bytes::new()
            }
            _ => body,
        }
    }
}

/// A running fake GCS XML API server. Stops when dropped.
#[derive(Debug)]
pub struct FakeGcs {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    /// Serves until dropped; `Drop` sends `stop` first.
    _serving: ServeTask,
}

impl FakeGcs {
    /// Starts a server on a free port of 127.0.0.1.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start() -> std::io::Result<FakeGcs> {
        FakeGcs::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a server on the given address (port 0 picks a free one).
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<FakeGcs> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        shared.store().page_size = 1000;
        let (stop, stopped) = oneshot::channel();
        let task = ServeTask::spawn(server::serve(listener, Arc::clone(&shared), stopped));
        Ok(FakeGcs { addr, shared, stop: Some(stop), _serving: task })
    }

    /// Returns the listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Returns the base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Returns the fault injector.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Returns a snapshot of the request counters.
    pub fn counters(&self) -> Counters {
        self.shared.faults.counters()
    }

    /// Sets how many entries a list page holds at most (default 1000), to exercise pagination.
    pub fn set_page_size(&self, page_size: usize) {
        self.shared.store().page_size = page_size.max(1);
    }

    /// Drops the bodies of puts and parts larger than `limit` bytes (the objects are stored empty, with their
    /// metadata), so a benchmark can stream gigabytes through the fake without holding them; `None` keeps every
    /// byte (the default). Small objects (definitions, manifests) stay readable with a limit of a few MiB.
    pub fn set_discard_over(&self, limit: Option<usize>) {
        self.shared.store().discard_over = limit;
    }

    /// Returns how many bytes were dropped under [`FakeGcs::set_discard_over`].
    pub fn discarded_bytes(&self) -> u64 {
        self.shared.store().discarded_bytes
    }

    /// Returns how many body bytes `GET`s have sent (whole objects and ranges), to show that a reader read only
    /// what it needed.
    pub fn served_bytes(&self) -> u64 {
        self.shared.store().served_bytes
    }

    /// Returns a stored object.
    pub fn object(&self, bucket: &str, name: &str) -> Option<StoredObject> {
        self.shared.store().buckets.get(bucket)?.get(name).cloned()
    }

    /// Returns the names of every object in a bucket, sorted.
    pub fn object_names(&self, bucket: &str) -> Vec<String> {
        self.shared
            .store()
            .buckets
            .get(bucket)
            .map(|objects| objects.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Returns how many multipart uploads are initiated and neither completed nor aborted.
    pub fn open_uploads(&self) -> usize {
        self.shared.store().uploads.len()
    }

    /// Stores an object directly (no request), as if written by someone else.
    pub fn insert(
        &self,
        bucket: &str,
        name: &str,
        data: impl Into<Bytes>,
        metadata: &[(&str, &str)],
    ) {
        let mut store = self.shared.store();
        let generation = store.generation();
        let object = StoredObject {
            data: data.into(),
            metadata: metadata
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
                .collect(),
            content_type: "application/octet-stream".into(),
            generation,
            last_modified: Utc::now(),
        };
        store.buckets.entry(bucket.to_owned()).or_default().insert(name.to_owned(), object);
    }

    /// Changes an object's bytes in place, keeping its metadata and generation: silent corruption.
    ///
    /// Returns `false` when the object does not exist.
    pub fn corrupt(&self, bucket: &str, name: &str, change: impl FnOnce(&mut Vec<u8>)) -> bool {
        let mut store = self.shared.store();
        let Some(object) = store.buckets.get_mut(bucket).and_then(|objects| objects.get_mut(name))
        else {
            return false;
        };
        let mut bytes = object.data.to_vec();
        change(&mut bytes);
        object.data = Bytes::from(bytes);
        true
    }

    /// Sets an object's last-modified time (e.g. to age a staging object for cleanup tests).
    ///
    /// Returns `false` when the object does not exist.
    pub fn set_last_modified(&self, bucket: &str, name: &str, when: DateTime<Utc>) -> bool {
        let mut store = self.shared.store();
        match store.buckets.get_mut(bucket).and_then(|objects| objects.get_mut(name)) {
            Some(object) => {
                object.last_modified = when;
                true
            }
            None => false,
        }
    }
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
