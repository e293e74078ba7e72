//! What a sink is built with: the store's kind, upload sizes, and what a write does when the name is taken.

use std::path::PathBuf;

use md_config::SinkConfig;

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
    pub(crate) fn custom_metadata(&self) -> bool {
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
