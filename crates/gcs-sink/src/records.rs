//! Sidecar records: the digest (or adoption) of an object the store cannot attach metadata to, bound to the
//! object's identity (its ETag, or its inode on a local disk).

use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStoreExt, PutOptions, PutPayload};

use crate::digest::SidecarRecord;
use crate::{Digest, Error, ObjectSink, Result, StoreKind};

impl ObjectSink {
    /// Writes the sidecar record of an object, bound to its current identity.
    pub(crate) async fn record_sidecar(
        &self,
        name: &str,
        path: &Path,
        digest: Digest,
    ) -> Result<()> {
        let identity = self.current_identity(name, path).await?;
        self.put_sidecar(name, &SidecarRecord::of_digest(digest, identity)).await
    }

    /// The store's metadata of an object (one `HEAD`; no record looked at).
    pub(crate) async fn head_meta(&self, name: &str, path: &Path) -> Result<ObjectMeta> {
        self.inner
            .store
            .head(path)
            .await
            .map_err(|source| Error::store("head", name, self.label(), source))
    }

    /// What a sidecar record written now would be bound to.
    pub(crate) async fn current_identity(&self, name: &str, path: &Path) -> Result<String> {
        let meta = self.head_meta(name, path).await?;
        self.identity(name, path, &meta).await
    }

    /// The error of an object that changed while it was being looked at.
    pub(crate) fn changed(&self, name: &str) -> Error {
        Error::Changed { name: name.to_owned(), store: self.label().to_owned() }
    }

    pub(crate) async fn put_sidecar(&self, name: &str, record: &SidecarRecord) -> Result<()> {
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
    pub(crate) async fn identity(
        &self,
        name: &str,
        path: &Path,
        meta: &ObjectMeta,
    ) -> Result<String> {
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
}
