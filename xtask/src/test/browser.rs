//! The browser of `cargo xtask test`: headless Chromium for the coverage page's test
//! (`crates/md-cli/tests/it/coverage.rs`, which renders `md-cli missing --html`, checks its DOM and takes a
//! screenshot). `chromium` is taken from PATH, or, when it is not there, installed with
//! `apt-get update && apt-get install -y chromium` if we are root. Its path reaches the test as `MD_TEST_CHROMIUM`.
//!
//! Under CI (`CI` set, or `MD_TEST_REQUIRE_SERVERS=1` in our environment) a browser that cannot be found or
//! installed fails the run; elsewhere the run goes on and the test prints the reason it skips its browser checks
//! (`MD_TEST_CHROMIUM_SKIP`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::{Vars, skipped};

/// The program Debian's `chromium` package installs.
const PROGRAM: &str = "chromium";

/// Finds Chromium (installing it when it can) and checks that it starts.
pub(crate) fn prepare() -> Result<Vars> {
    let found = match on_path(PROGRAM) {
        Some(path) => Ok(path),
        None => install().and_then(|()| {
            on_path(PROGRAM).context("apt-get installed chromium, but it is not on PATH")
        }),
    };
    let checked = found.and_then(|path| {
        let version = version(&path)?;
        eprintln!("xtask: browser for the coverage page: {} ({version})", path.display());
        Ok(path)
    });
    match checked {
        Ok(path) => Ok(vec![("MD_TEST_CHROMIUM", path.display().to_string())]),
        Err(reason) => skipped(
            "MD_TEST_CHROMIUM_SKIP",
            format!("no headless browser: {reason:#}"),
            "the coverage page's browser checks",
        ),
    }
}

/// The first executable file called `program` in a PATH directory.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|directory| directory.join(program)).find(|candidate| {
        std::fs::metadata(candidate).is_ok_and(|metadata| {
            metadata.is_file()
                && std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o111 != 0
        })
    })
}

/// What `chromium --version` prints, or why it cannot run.
fn version(path: &Path) -> Result<String> {
    let output = Command::new(path)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot start {}", path.display()))?;
    if !output.status.success() {
        bail!(
            "`{} --version` failed ({}): {}",
            path.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `apt-get update && apt-get install -y chromium`, as root only.
fn install() -> Result<()> {
    crate::tools::apt_install(&[PROGRAM], "chromium is not on PATH")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_is_found_on_path_and_a_missing_one_is_not() {
        let shell = on_path("sh").expect("sh is on PATH");
        assert!(shell.is_absolute() && shell.ends_with("sh"), "{}", shell.display());
        assert_eq!(on_path("md-no-such-program-7f3a"), None);
    }

    #[test]
    fn a_browser_that_cannot_start_is_named() {
        let error = version(Path::new("/nonexistent/chromium")).expect_err("no such program");
        assert!(format!("{error:#}").contains("/nonexistent/chromium"), "{error:#}");
        let error = version(&on_path("false").expect("false is on PATH")).expect_err("false fails");
        assert!(format!("{error:#}").contains("--version` failed"), "{error:#}");
    }
}
