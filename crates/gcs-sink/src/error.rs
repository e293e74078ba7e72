//! The crate's one error type, with the object, the store and the cause of every failure.

use crate::digest::Digest;

/// Result alias with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a sink or its store (see [`Error::is_retryable`]).
///
/// A failing source stream is not a sink error: [`crate::ObjectSink::put_stream`] hands the stream's own error back,
/// typed, in [`PutError::Source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The sink configuration cannot be turned into a store.
    #[error("cannot build the {store} sink: {detail}")]
    Config {
        /// The sink, as configured (`gs://bucket/prefix`, a path, ...).
        store: String,
        /// What is wrong.
        detail: String,
        /// The store builder's error, when there is one.
        #[source]
        source: Option<Box<object_store::Error>>,
    },

    /// The object name cannot be stored.
    #[error("invalid object name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// A store operation failed.
    #[error("{operation} {name} on {store} failed")]
    Store {
        /// What the sink was doing (`put`, `copy`, `head`, ...).
        operation: &'static str,
        /// The object (or prefix) concerned.
        name: String,
        /// The sink (`gs://bucket/prefix`, ...).
        store: String,
        /// The store's error (boxed: object_store's errors are large).
        #[source]
        source: Box<object_store::Error>,
    },

    /// The object does not exist.
    #[error("{name} does not exist on {store}")]
    NotFound {
        /// The object.
        name: String,
        /// The sink.
        store: String,
    },

    /// A create-only write found an object with different content under the name.
    #[error(
        "{name} already exists on {store} with different content: existing {existing}, new {new}; nothing was replaced"
    )]
    Mismatch {
        /// The object.
        name: String,
        /// The sink.
        store: String,
        /// Size and CRC32C of the object already stored (actual size; CRC32C recorded, or computed by reading it).
        existing: Digest,
        /// Size and CRC32C of what was just streamed.
        new: Digest,
    },

    /// An object's content does not match the size and CRC32C recorded with it.
    #[error("{name} on {store} is corrupt: recorded {recorded}, actual {actual}")]
    Corrupt {
        /// The object.
        name: String,
        /// The sink.
        store: String,
        /// What was recorded when it was written.
        recorded: Digest,
        /// What its bytes are now.
        actual: Digest,
    },

    /// The object changed (its ETag or size) between two steps that needed the same version: a check and its
    /// record, a ranged read and the head it started from, a copy and its source.
    #[error("{name} on {store} changed while it was being read")]
    Changed {
        /// The object.
        name: String,
        /// The sink.
        store: String,
    },

    /// The recorded size/CRC32C (custom metadata or sidecar) cannot be parsed.
    #[error("the recorded digest of {name} on {store} is unreadable: {detail}")]
    BadRecord {
        /// The object.
        name: String,
        /// The sink.
        store: String,
        /// What is wrong with it.
        detail: String,
    },

    /// An object read whole into memory ([`crate::ObjectSink::read_small`]) holds more than the reader's limit.
    #[error(
        "{name} on {store} is larger than {limit} bytes, the most md reads of it into memory; not read"
    )]
    TooLarge {
        /// The object.
        name: String,
        /// The sink.
        store: String,
        /// The reader's limit, in bytes.
        limit: u64,
    },
}

impl Error {
    /// Returns whether trying the same sink operation again may succeed: transient store failures (network, 5xx,
    /// timeouts once object_store's own retries are spent). Mismatches, corruption, missing objects, bad names and
    /// configuration are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Store { source, .. } => is_transient(source),
            Error::Config { .. }
            | Error::InvalidName { .. }
            | Error::NotFound { .. }
            | Error::Mismatch { .. }
            | Error::Corrupt { .. }
            | Error::Changed { .. }
            | Error::BadRecord { .. }
            | Error::TooLarge { .. } => false,
        }
    }

    pub(crate) fn store(
        operation: &'static str,
        name: impl Into<String>,
        store: impl Into<String>,
        source: object_store::Error,
    ) -> Self {
        let name = name.into();
        let store = store.into();
        match source {
            object_store::Error::NotFound { .. } => Error::NotFound { name, store },
            source => Error::Store { operation, name, store, source: Box::new(source) },
        }
    }
}

/// Why a [`crate::ObjectSink::put_stream`] failed: the caller's stream, with its own error type `E` as it was yielded
/// (never boxed or downcast, so the caller matches it directly), or the sink. Either way nothing was stored under
/// the final name (a stream failure) or the sink reports what happened.
#[derive(Debug, thiserror::Error)]
pub enum PutError<E> {
    /// The source stream yielded an error: nothing was stored under the final name.
    #[error("the source stream for {name} failed after {bytes} bytes; nothing was stored")]
    Source {
        /// The object being written.
        name: String,
        /// Bytes received before the failure.
        bytes: u64,
        /// The stream's error, as it was yielded.
        #[source]
        source: E,
    },
    /// The sink or its store failed.
    #[error(transparent)]
    Sink(#[from] Error),
}

/// Whether an object_store error is worth another attempt: connection failures, 5xx and timeouts surface as
/// `Generic` once object_store's retries are spent; every other kind (not found, exists, precondition, permission,
/// bad path, unsupported) answers the same again.
fn is_transient(error: &object_store::Error) -> bool {
    matches!(error, object_store::Error::Generic { .. } | object_store::Error::JoinError { .. })
}
