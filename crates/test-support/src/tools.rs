//! Third-party tools the tests use, found the way `cargo xtask test` hands them over.

use std::path::PathBuf;

/// The Python that has pandas and pyarrow: `MD_TEST_PYTHON`, which `cargo xtask test` sets (installing them into
/// `.venv`). Unset: `None`, after a notice that `skipping` is skipped.
///
/// # Panics
/// When it is unset and `MD_TEST_REQUIRE_SERVERS=1` says every third-party suite must run.
#[allow(
    clippy::disallowed_methods,
    reason = "tests only: xtask hands third-party tools to the test binaries in MD_TEST_* variables"
)]
pub fn python(skipping: &str) -> Option<PathBuf> {
    match std::env::var("MD_TEST_PYTHON") {
        Ok(path) if !path.trim().is_empty() => Some(PathBuf::from(path.trim())),
        _ => {
            let required = std::env::var("MD_TEST_REQUIRE_SERVERS").is_ok_and(|value| value == "1");
            assert!(
                !required,
                "MD_TEST_PYTHON is not set but MD_TEST_REQUIRE_SERVERS=1: cargo xtask test installs pandas and pyarrow into .venv and sets it"
            );
            #[allow(clippy::print_stderr, reason = "the notice of a skipped test")]
            {
                eprintln!(
                    "notice: MD_TEST_PYTHON unset: skipping {skipping} (run `cargo xtask test`)"
                );
            }
            None
        }
    }
}
