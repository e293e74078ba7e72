//! Local files: written atomically ([`downloader::fetch::LocalFileWriter`]), and checked before any work.

pub(crate) use downloader::fetch::LocalFileWriter;

/// Checks, before any work, that the path given with `flag` (`--output`, `--html`) names a file in an existing
/// directory ([`downloader::fetch::check_file_path`]).
///
/// # Errors
/// [`Failure::BadInput`](crate::exit::Failure::BadInput) naming the flag and the path.
pub(crate) fn check_file_path(
    flag: &'static str,
    path: &std::path::Path,
) -> Result<(), crate::exit::Failure> {
    downloader::fetch::check_file_path(flag, path)
        .map_err(|error| crate::exit::Failure::BadInput(anyhow::anyhow!(error)))
}
