//! The build tools of ISA-L, which `isal-sys` builds from its vendored source (autotools, make and the nasm
//! assembler) for the opt-in `isal` feature (tardis-client, downloader, md-cli): checked before a task builds with
//! it, and installed with apt-get when missing and we are root. Also the apt-get step the container set-up shares,
//! and the check that md-cli's default build needs none of them.

use std::process::Command;

use anyhow::{Result, bail};

use crate::quietly_succeeds;
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
/// way out (the default build, without the feature, inflates with zlib-rs).
pub(crate) fn ensure_isal_tools() -> Result<()> {
    let missing = missing_isal_tools();
    if missing.is_empty() {
        return Ok(());
    }
    let why = format!(
        "ISA-L (the opt-in `isal` feature) is built from source and needs {}",
        missing.join(", ")
    );
    apt_install(&missing, &why).map_err(|error| {
        error.context(format!(
            "{why}; install them (apt-get install -y {}) or build without ISA-L (the default build, which \
             inflates with zlib-rs)",
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

/// What a fresh machine of ours lacks that a source build of ISA-L (or another C dependency) might reach for: hidden
/// from PATH by [`check_fresh_machine_build`].
const NOT_ON_A_FRESH_MACHINE: [&str; 12] = [
    "nasm",
    "yasm",
    "autoreconf",
    "autoconf",
    "autoheader",
    "autom4te",
    "automake",
    "aclocal",
    "libtool",
    "libtoolize",
    "cmake",
    "ninja",
];

/// Checks that md-cli's default build needs nothing but the Rust toolchain and a C compiler (the README's first
/// command on a fresh machine): `cargo tree -p md-cli -e normal,build` lists no `isal-sys`, and `cargo check -p
/// md-cli` (which runs every build script) passes with a PATH made of links to every program on this PATH except
/// nasm, autotools, libtool and cmake, in its own target directory (`target/fresh-machine/`), so no build script's
/// output from a machine with those tools is reused.
pub(crate) fn check_fresh_machine_build() -> Result<()> {
    let dir = crate::target_dir().join("fresh-machine");
    let bin = dir.join("bin");
    if bin.exists() {
        std::fs::remove_dir_all(&bin)?;
    }
    std::fs::create_dir_all(&bin)?;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut linked = 0;
    for entry_dir in std::env::split_paths(&path) {
        let Ok(entries) = std::fs::read_dir(&entry_dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let link = bin.join(&name);
            if NOT_ON_A_FRESH_MACHINE.iter().any(|hidden| name == *hidden) || link.exists() {
                continue;
            }
            let is_executable = std::fs::metadata(entry.path()).is_ok_and(|meta| {
                use std::os::unix::fs::PermissionsExt as _;
                meta.is_file() && meta.permissions().mode() & 0o111 != 0
            });
            if is_executable {
                std::os::unix::fs::symlink(entry.path(), &link)?;
                linked += 1;
            }
        }
    }
    let visible: Vec<&str> = NOT_ON_A_FRESH_MACHINE
        .iter()
        .copied()
        .filter(|program| {
            quietly_succeeds(Command::new(program).arg("--version").env("PATH", &bin))
        })
        .collect();
    if !visible.is_empty() {
        bail!("the fresh-machine PATH ({}) still runs {}", bin.display(), visible.join(", "));
    }
    let tree = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(crate::root())
        .args(["tree", "--locked", "-p", "md-cli", "-e", "normal,build", "--prefix", "none"])
        .env("PATH", &bin)
        .output()?;
    if !tree.status.success() {
        bail!("cargo tree -p md-cli failed: {}", String::from_utf8_lossy(&tree.stderr));
    }
    let tree = String::from_utf8_lossy(&tree.stdout);
    if let Some(line) = tree.lines().find(|line| line.starts_with("isal-sys ")) {
        bail!(
            "md-cli's default build depends on {line}, which needs nasm and autotools: ISA-L must stay behind the \
             opt-in `isal` feature"
        );
    }
    run_checked(
        crate::cargo()
            .args(["check", "--locked", "-p", "md-cli", "--target-dir"])
            .arg(dir.join("target"))
            .env("PATH", &bin),
        &format!(
            "cargo check -p md-cli on a fresh machine's PATH ({linked} programs, without {}; no isal-sys in \
             cargo tree -p md-cli -e normal,build)",
            NOT_ON_A_FRESH_MACHINE.join(", ")
        ),
    )
}
