//! Removing objects, and the staging leftovers of killed processes.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use object_store::ObjectStoreExt;

use crate::{Error, ObjectSink, Result, StoreKind};

impl ObjectSink {
    /// Deletes an object and its sidecar record. Deleting a missing object succeeds.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::Store`].
    ///
    /// # Cancel safety
    /// Dropping the future may leave the sidecar record behind; a later write ignores it (its ETag differs).
    pub async fn delete(&self, name: &str) -> Result<()> {
        let path = self.inner.names.object(name)?;
        for target in [path, self.inner.names.sidecar(name)] {
            match self.inner.store.delete(&target).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(source) => return Err(Error::store("delete", name, self.label(), source)),
            }
        }
        tracing::info!(object = name, sink = self.label(), "object deleted");
        Ok(())
    }

    /// Removes staging objects older than `older_than`: the leftovers of processes killed between completing an
    /// upload and publishing it. Local sinks also remove object_store's hidden partial files under the staging
    /// directory. Returns how many were removed.
    ///
    /// Use an age well above the longest upload (an hour, say): a younger staging object may belong to an upload
    /// still running elsewhere in the fleet.
    ///
    /// # Errors
    /// [`Error::Store`] when listing or deleting fails.
    ///
    /// # Cancel safety
    /// Dropping the future stops the cleanup; objects not yet deleted stay for the next run.
    pub async fn cleanup_staging(&self, older_than: Duration) -> Result<usize> {
        let cutoff =
            Utc::now() - chrono::Duration::from_std(older_than).unwrap_or(chrono::Duration::MAX);
        let staging_dir = self.inner.names.staging_dir();
        let mut removed = 0;
        let mut listing = self.inner.store.list(Some(&staging_dir));
        let mut stale = Vec::new();
        while let Some(item) = listing.next().await {
            let meta = item.map_err(|source| {
                Error::store("list", staging_dir.as_ref(), self.label(), source)
            })?;
            if meta.last_modified < cutoff {
                stale.push(meta.location);
            }
        }
        for location in stale {
            match self.inner.store.delete(&location).await {
                Ok(()) => removed += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(source) => {
                    return Err(Error::store("delete", location.as_ref(), self.label(), source));
                }
            }
            tracing::info!(staging = %location, sink = self.label(), "stale staging object removed");
        }
        if let StoreKind::Local { root } = &self.inner.options.kind {
            removed += remove_local_partials(root.join(staging_dir.as_ref()), older_than).await;
        }
        Ok(removed)
    }
}

/// Removes object_store's hidden partial files (`<staging>#<n>`, invisible to listings) older than `older_than`.
async fn remove_local_partials(dir: PathBuf, older_than: Duration) -> usize {
    let task = tokio::task::spawn_blocking(move || {
        let Ok(entries) = std::fs::read_dir(&dir) else { return 0 };
        let mut removed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let old_enough = entry
                .metadata()
                .and_then(|metadata| metadata.modified())
                .ok()
                .and_then(|modified| modified.elapsed().ok())
                .is_some_and(|age| age >= older_than);
            if old_enough && entry.file_type().is_ok_and(|kind| kind.is_file()) {
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        tracing::info!(staging = %path.display(), "stale partial file removed");
                        removed += 1;
                    }
                    Err(error) => {
                        tracing::warn!(staging = %path.display(), %error, "stale partial file not removed")
                    }
                }
            }
        }
        removed
    });
    task.await.unwrap_or(0)
}
