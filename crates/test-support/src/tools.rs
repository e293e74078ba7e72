//! Third-party tools the tests use, found the way `cargo xtask test` hands them over.

use std::path::PathBuf;

/// The Python that has pandas and pyarrow: `MD_TEST_PYTHON`, which `cargo xtask test` sets (installing them into
/// `.venv`). Unset: `None`, after a notice that `skipping` is skipped.
///
/// # Panics
/// When it is unset and `MD_TEST_REQUIRE_SERVERS=1` says every third-party suite must run.
pub fn python(skipping: &str) -> Option<PathBuf> {
    crate::handed_over("MD_TEST_PYTHON", &format!("Python with pandas and pyarrow for {skipping}"))
        .map(PathBuf::from)
}
