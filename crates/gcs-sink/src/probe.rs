//! The sink's self-test ([`ObjectSink::probe`]): a create-only probe object written, read back, verified, refused a
//! second time and deleted, so a run learns before it downloads anything that the store and its credentials allow
//! every operation a run needs. `md-cli doctor` reports it.

use crate::{Error, ObjectSink, PutStatus, WriteMode};

/// What the self-test found wrong, naming the probe object.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The probe could not be written.
    #[error("cannot write {name}")]
    Write {
        /// The probe's name.
        name: String,
        /// The sink's error.
        #[source]
        source: Error,
    },
    /// An object was already stored under the probe's name.
    #[error("{name} was already there")]
    AlreadyThere {
        /// The probe's name.
        name: String,
    },
    /// The probe could not be read back.
    #[error("cannot read {name} back")]
    Read {
        /// The probe's name.
        name: String,
        /// The sink's error.
        #[source]
        source: Error,
    },
    /// The probe read back other bytes than were written.
    #[error("{name} reads back different bytes")]
    Differs {
        /// The probe's name.
        name: String,
    },
    /// The probe could not be verified against its record.
    #[error("cannot verify {name}")]
    Verify {
        /// The probe's name.
        name: String,
        /// The sink's error.
        #[source]
        source: Error,
    },
    /// The probe was stored without md's record (size and CRC32C).
    #[error("{name} has no recorded size and CRC32C")]
    Unrecorded {
        /// The probe's name.
        name: String,
    },
    /// A second create-only write of the probe succeeded: the store would let a run overwrite objects.
    #[error("a second create-only write of {name} was not refused: objects could be overwritten")]
    Overwritable {
        /// The probe's name.
        name: String,
    },
    /// A second create-only write failed otherwise than by being refused.
    #[error("a second create-only write of {name} failed oddly")]
    SecondWrite {
        /// The probe's name.
        name: String,
        /// The sink's error.
        #[source]
        source: Error,
    },
    /// The probe could not be deleted.
    #[error("cannot delete the probe {name}")]
    Delete {
        /// The probe's name.
        name: String,
        /// The sink's error.
        #[source]
        source: Error,
    },
}

impl ObjectSink {
    /// Writes a create-only probe object `name`, reads it back, verifies its record, checks that a second
    /// create-only write is refused, and deletes it (also when a check failed; the first failure is returned). An
    /// object already stored under `name` is left as it is.
    ///
    /// # Errors
    /// [`ProbeError`]: the first step that failed.
    ///
    /// # Cancel safety
    /// Dropping the future may leave the probe object behind.
    pub async fn probe(&self, name: &str) -> Result<(), ProbeError> {
        let owned = || name.to_owned();
        let body = format!("md-cli doctor probe {name}\n");
        let written = self
            .put_bytes(name, body.clone(), WriteMode::CreateOnly)
            .await
            .map_err(|source| ProbeError::Write { name: owned(), source })?;
        if written.status != PutStatus::Created {
            return Err(ProbeError::AlreadyThere { name: owned() });
        }
        let checked = self.probe_checks(name, &body).await;
        let deleted =
            self.delete(name).await.map_err(|source| ProbeError::Delete { name: owned(), source });
        checked.and(deleted)
    }

    /// The probe's checks once it is written: read back, verified, refused a second time.
    async fn probe_checks(&self, name: &str, body: &str) -> Result<(), ProbeError> {
        let owned = || name.to_owned();
        let read = self
            .read_small(name, 64 * 1024)
            .await
            .and_then(|read| {
                read.ok_or_else(|| Error::NotFound {
                    name: owned(),
                    store: self.label().to_owned(),
                })
            })
            .map_err(|source| ProbeError::Read { name: owned(), source })?;
        if read != body.as_bytes() {
            return Err(ProbeError::Differs { name: owned() });
        }
        let verified = self
            .verify(name)
            .await
            .map_err(|source| ProbeError::Verify { name: owned(), source })?;
        if !verified.recorded {
            return Err(ProbeError::Unrecorded { name: owned() });
        }
        match self.put_bytes(name, "other bytes".to_owned(), WriteMode::CreateOnly).await {
            Err(Error::Mismatch { .. }) => Ok(()),
            Ok(_) => Err(ProbeError::Overwritable { name: owned() }),
            Err(source) => Err(ProbeError::SecondWrite { name: owned(), source }),
        }
    }
}
