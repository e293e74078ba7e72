//! Writing a downloaded file to the local disk atomically: a temporary name in the same directory, fsync, rename.
//!
//! Nothing appears at the final path unless [`LocalFileWriter::commit`] succeeds; a writer dropped before that
//! (an error, Ctrl-C) removes its temporary file. A later sink abstraction (`gs://`, `s3://`) slots in beside this.

use std::io;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use tokio::io::AsyncWriteExt;

use crate::exit::Failure;

/// Checks, before any work, that the path given with `flag` (`--output`, `--html`) names a file in an existing
/// directory.
///
/// # Errors
/// [`Failure::BadInput`] naming the flag and the path.
pub(crate) fn check_file_path(flag: &str, path: &Path) -> Result<(), Failure> {
    if path.file_name().is_none() || path.is_dir() {
        return Err(Failure::BadInput(anyhow!("{flag} {} is not a file path", path.display())));
    }
    let parent =
        path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(Failure::BadInput(anyhow!(
            "{flag} {}: the directory {} does not exist",
            path.display(),
            parent.display()
        )));
    }
    Ok(())
}

/// A file being written under a temporary name.
#[derive(Debug)]
pub(crate) struct LocalFileWriter {
    target: PathBuf,
    temporary: PathBuf,
    file: Option<tokio::fs::File>,
}

impl LocalFileWriter {
    /// Creates the temporary file beside `target`.
    ///
    /// # Errors
    /// When the directory is missing or not writable.
    pub(crate) async fn create(target: &Path) -> io::Result<Self> {
        let name = target.file_name().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "the output path has no file name")
        })?;
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or_default();
        let temporary = target.with_file_name(format!(
            ".{}.{}.{nonce:08x}.partial",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file =
            tokio::fs::OpenOptions::new().write(true).create_new(true).open(&temporary).await?;
        Ok(LocalFileWriter { target: target.to_path_buf(), temporary, file: Some(file) })
    }

    /// Writes `bytes` to `target` atomically: a whole file at `target`, or nothing.
    ///
    /// # Errors
    /// As [`LocalFileWriter::create`], [`LocalFileWriter::write`] and [`LocalFileWriter::commit`].
    ///
    /// # Cancel safety
    /// Dropping the future before the rename leaves nothing at `target`.
    pub(crate) async fn write_all(target: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut file = LocalFileWriter::create(target).await?;
        file.write(bytes).await?;
        file.commit().await
    }

    /// Appends bytes.
    ///
    /// # Errors
    /// Write errors.
    ///
    /// # Cancel safety
    /// Not cancel safe: a cancelled write may leave part of `bytes` written; drop the writer afterwards.
    pub(crate) async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let file = self.file.as_mut().ok_or_else(|| io::Error::other("the writer is closed"))?;
        file.write_all(bytes).await
    }

    /// Flushes, fsyncs and renames the file into place, then fsyncs the directory.
    ///
    /// # Errors
    /// Any of those steps; the temporary file is removed and nothing is left at the target.
    ///
    /// # Cancel safety
    /// Not cancel safe once the rename has started; dropping before leaves nothing at the target.
    pub(crate) async fn commit(mut self) -> io::Result<()> {
        let mut file = self.file.take().ok_or_else(|| io::Error::other("the writer is closed"))?;
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&self.temporary, &self.target).await?;
        if let Some(directory) =
            self.target.parent().filter(|parent| !parent.as_os_str().is_empty())
        {
            // Make the rename durable; not every platform lets a directory be opened, so this is best effort.
            if let Ok(directory) = tokio::fs::File::open(directory).await {
                let _ = directory.sync_all().await;
            }
        }
        self.temporary = PathBuf::new();
        Ok(())
    }
}

impl Drop for LocalFileWriter {
    fn drop(&mut self) {
        if !self.temporary.as_os_str().is_empty() {
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}
