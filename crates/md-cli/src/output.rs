//! Writing a local file atomically: [`downloader::fetch::LocalFileWriter`].

pub(crate) use downloader::fetch::LocalFileWriter;

use std::path::Path;

use anyhow::anyhow;

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
