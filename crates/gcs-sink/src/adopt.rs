//! Keeping objects md did not write (adoption records) and copying objects with their records.

use object_store::{CopyMode, CopyOptions, ObjectStore};

use crate::digest::SidecarRecord;
use crate::{Digest, Error, ObjectInfo, ObjectSink, Result, StoreKind};

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

impl ObjectSink {
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
        if digest.is_some_and(|digest| digest.size != checked_info.size) {
            return Err(self.changed(name));
        }
        // The record is bound to the version that was checked: elsewhere its ETag (the checks read by If-Match, so
        // a later rewrite makes the record stale, as for any sidecar); on a local disk, whose identity is the inode,
        // the file is looked at again.
        let identity = match &self.inner.options.kind {
            StoreKind::Local { .. } => {
                let meta = self.head_meta(name, &path).await?;
                if meta.size != checked_info.size || meta.e_tag != checked_info.e_tag {
                    return Err(self.changed(name));
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
            return Err(self.changed(from));
        }
        let kept = copied.recorded == source.recorded && copied.adopted == source.adopted;
        if !kept && (source.recorded.is_some() || source.adopted.is_some()) {
            let identity = self.current_identity(to, &to_path).await?;
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
}
