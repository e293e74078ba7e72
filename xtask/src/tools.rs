//! The build tools of ISA-L, which `isal-sys` builds from its vendored source (autotools, make and the nasm
//! assembler) for tardis-client's default `isal` feature: checked before a task builds the workspace, and installed
//! with apt-get when missing and we are root. Also the apt-get step the container set-up shares.

use std::process::Command;

use anyhow::{Result, bail};

use crate::image::quietly_succeeds;
use crate::run_checked;

/// Each program ISA-L's build runs, the argument that makes it print its version, and its Debian package.
const ISAL_TOOLS: [(&str, &str, &str); 5] = [
    ("nasm", "-v", "nasm"),
    ("autoreconf", "--version", "autoconf"),
    ("automake", "--version", "automake"),
    ("libtoolize", "--version", "libtool"),
    ("make", "--version", "make"),
];

/// The Debian packages of the ISA-L build tools that do not run here.
pub(crate) fn missing_isal_tools() -> Vec<&'static str> {
    ISAL_TOOLS
        .iter()
        .filter(|(program, version, _)| !quietly_succeeds(Command::new(program).arg(version)))
        .map(|(_, _, package)| *package)
        .collect()
}

/// Makes sure ISA-L can be built: installs the missing tools with apt-get (as root), else fails naming them and the
/// way out (`--no-default-features` builds md with zlib-rs instead).
pub(crate) fn ensure_isal_tools() -> Result<()> {
    let missing = missing_isal_tools();
    if missing.is_empty() {
        return Ok(());
    }
    let why = format!(
        "ISA-L (tardis-client's default `isal` feature) is built from source and needs {}",
        missing.join(", ")
    );
    apt_install(&missing, &why).map_err(|error| {
        error.context(format!(
            "{why}; install them (apt-get install -y {}) or build without ISA-L (cargo ... --no-default-features, \
             which inflates with zlib-rs)",
            missing.join(" ")
        ))
    })?;
    let still = missing_isal_tools();
    if !still.is_empty() {
        bail!("apt-get installed {}, but {} still do not run", missing.join(" "), still.join(", "));
    }
    Ok(())
}

/// `apt-get update && apt-get install -y PACKAGES`, as root only; `why` says what needs them.
pub(crate) fn apt_install(packages: &[&str], why: &str) -> Result<()> {
    let list = packages.join(" ");
    if !quietly_succeeds(Command::new("apt-get").arg("--version")) {
        bail!("{why}, and there is no apt-get to install {list}");
    }
    let uid = Command::new("id").arg("-u").output().map(|output| output.stdout).unwrap_or_default();
    if String::from_utf8_lossy(&uid).trim() != "0" {
        bail!("{why}; not root, so not installing {list}");
    }
    run_checked(
        Command::new("apt-get").args(["update", "-qq"]).env("DEBIAN_FRONTEND", "noninteractive"),
        &format!("apt-get update ({why})"),
    )?;
    run_checked(
        Command::new("apt-get")
            .args(["install", "-y", "-qq"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        &format!("apt-get install -y {list}"),
    )
}
