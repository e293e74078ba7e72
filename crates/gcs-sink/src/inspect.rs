//! Reading what is stored: an object's metadata and record, listings, verification, whole and ranged reads.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectMeta, ObjectStoreExt};

use crate::digest::SidecarRecord;
use crate::{Adoption, Digest, Error, Hasher, ObjectSink, Result};

/// An object's metadata: what [`ObjectSink::head`] reports, and each item of [`ObjectSink::list`] (listings carry
/// no custom metadata, so a listed object's `recorded` and `adopted` are always `None`: head it for them).
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

impl ObjectInfo {
    /// The store's metadata of an object, with no record looked at.
    fn unrecorded(name: String, meta: ObjectMeta) -> Self {
        ObjectInfo {
            name,
            size: meta.size,
            last_modified: meta.last_modified,
            e_tag: meta.e_tag,
            recorded: None,
            adopted: None,
        }
    }
}

/// The result of [`ObjectSink::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Size and CRC32C of the object's bytes as read now.
    pub digest: Digest,
    /// Whether a recorded digest was found (and matched); `false` for objects written by something else.
    pub recorded: bool,
}

impl ObjectSink {
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

    pub(crate) async fn head_path(&self, name: &str, path: &Path) -> Result<ObjectInfo> {
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
        Ok(ObjectInfo { recorded, adopted, ..ObjectInfo::unrecorded(name.to_owned(), meta) })
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

    pub(crate) async fn read_digest(&self, name: &str, path: &Path) -> Result<Digest> {
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

    pub(crate) async fn get_path(
        &self,
        name: &str,
        path: &Path,
    ) -> Result<BoxStream<'static, Result<Bytes>>> {
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
            object_store::Error::Precondition { .. } => self.changed(name),
            source => Error::store("read a range of", name, self.label(), source),
        };
        let result = self.inner.store.get_opts(&path, options).await.map_err(read_error)?;
        result.bytes().await.map_err(read_error)
    }

    /// Lists the data objects under a prefix (segment-wise: `a/b` matches `a/b/...`, not `a/bc`; `""` lists
    /// everything). Staging objects and sidecars are never listed.
    ///
    /// Listings carry no custom metadata: use [`ObjectSink::head`] for recorded digests.
    pub fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectInfo>> {
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
                    Ok(meta) => names
                        .relative(&meta.location)
                        .map(|name| Ok(ObjectInfo::unrecorded(name, meta))),
                    Err(source) => {
                        Some(Err(Error::store("list", prefix.clone(), label.clone(), source)))
                    }
                };
                futures::future::ready(result)
            })
            .boxed()
    }
}
