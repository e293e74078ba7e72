//! `cargo xtask image`: the `FROM scratch` container image of `md-cli` (deployment mode 2).
//!
//! 1. A static glibc binary: `RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --target
//!    x86_64-unknown-linux-gnu -p md-cli` in its own target directory (`<target>/static`), so the normal builds keep
//!    their artifacts. Checked to have no ELF interpreter: a scratch image has no dynamic loader. ISA-L (the default
//!    `isal` feature) is linked in statically; its build tools (nasm, autotools) are installed with apt-get when
//!    missing (see `tools.rs`), and `--without-isal` builds md-cli without it (zlib-rs inflates) where they cannot be.
//! 2. The build context `target/image/`: the binary, `/etc/ssl/certs/ca-certificates.crt` (reqwest's rustls client
//!    cannot even be built without a CA bundle) and `deploy/Containerfile`. `deploy/compose/compose.yaml` builds from
//!    the same directory.
//! 3. `localhost/md:latest`, built with docker when a docker engine answers (`docker info`), else with podman and
//!    the settings our machines need (`CONTAINERS_CONF=deploy/containers.conf`, unless `CONTAINERS_CONF` is set).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, quietly_succeeds, root, run_checked, target_dir};

/// The image's name and tag.
pub(crate) const TAG: &str = "localhost/md:latest";

/// The only target whose static build works here (no musl target can be installed).
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// The CA bundle copied into the image.
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Which inflater the image's md-cli is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inflater {
    /// ISA-L, the default `isal` feature.
    Isal,
    /// zlib-rs, the default build (no `isal` feature).
    ZlibRs,
}

/// What builds and runs containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Engine {
    /// A docker client whose engine answers.
    Docker,
    /// podman (daemonless), with `deploy/containers.conf`.
    Podman,
}

impl Engine {
    /// Docker when `docker info` succeeds (an engine answers), else podman when installed, else `None`.
    pub(crate) fn detect() -> Option<Engine> {
        if quietly_succeeds(Command::new("docker").arg("info")) {
            Some(Engine::Docker)
        } else if podman_installed() {
            Some(Engine::Podman)
        } else {
            None
        }
    }

    /// The engine's program name.
    pub(crate) fn program(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
        }
    }

    /// A command for the engine; for podman with `CONTAINERS_CONF` pointing at `deploy/containers.conf` unless the
    /// caller's environment already sets it.
    pub(crate) fn command(self) -> Command {
        let mut command = Command::new(self.program());
        for (name, value) in self.env() {
            command.env(name, value);
        }
        command
    }

    /// The variables the engine's commands need (`CONTAINERS_CONF` for podman).
    pub(crate) fn env(self) -> Vec<(&'static str, String)> {
        match self {
            Engine::Podman if std::env::var_os("CONTAINERS_CONF").is_none() => {
                vec![("CONTAINERS_CONF", containers_conf().display().to_string())]
            }
            _ => Vec::new(),
        }
    }
}

/// Whether `podman --version` runs.
pub(crate) fn podman_installed() -> bool {
    quietly_succeeds(Command::new("podman").arg("--version"))
}

/// The podman settings file our machines need.
pub(crate) fn containers_conf() -> PathBuf {
    root().join("deploy/containers.conf")
}

/// The build context `cargo xtask image` stages (also `deploy/compose/compose.yaml`'s `build.context`).
pub(crate) fn context_dir() -> PathBuf {
    root().join("target/image")
}

/// Static md-cli and the CA bundle in a FROM scratch image (localhost/md:latest).
///
/// Builds a static md-cli (release, crt-static, into the target directory's static/), stages it with the CA bundle and
/// deploy/Containerfile in target/image/, and builds the FROM scratch image with docker when an engine answers,
/// else podman (CONTAINERS_CONF=deploy/containers.conf).
///
/// md-cli inflates with ISA-L, built from source (nasm, autoconf, automake, libtool and make are installed with
/// apt-get when missing and we are root); --without-isal builds it without ISA-L (zlib-rs inflates; into
/// the target directory's static-zlib-rs/).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// The engine to build with [default: docker when `docker info` answers, else podman].
    #[arg(long, value_enum)]
    engine: Option<Engine>,
    /// The image's name.
    #[arg(long, value_name = "NAME", default_value = TAG)]
    tag: String,
    /// Build md-cli without ISA-L (zlib-rs inflates).
    #[arg(long)]
    without_isal: bool,
}

pub(crate) fn run(args: &Args) -> Result<()> {
    let inflater = if args.without_isal { Inflater::ZlibRs } else { Inflater::Isal };
    let tag = &args.tag;
    let engine = match args.engine {
        Some(engine) => engine,
        None => Engine::detect().context(
            "no container engine: `docker info` finds no docker engine and podman is not installed; \
             install podman: apt-get install -y podman buildah runc",
        )?,
    };
    build(engine, tag, inflater)
}

/// Builds the static binary, stages the context and builds the image `tag` with `engine`.
pub(crate) fn build(engine: Engine, tag: &str, inflater: Inflater) -> Result<()> {
    let binary = static_binary(inflater)?;
    let context = stage(&binary)?;
    let mut build = engine.command();
    build.args(["build", "--tag", tag, "--file"]).arg(context.join("Containerfile")).arg(&context);
    run_checked(
        &mut build,
        &format!("{} build --tag {tag} {}", engine.program(), context.display()),
    )?;
    let size = engine
        .command()
        .args(["image", "inspect", "--format", "{{.Size}}", tag])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_else(|| "?".into());
    eprintln!("xtask: built {tag} with {} ({size} bytes)", engine.program());
    Ok(())
}

/// Builds `md-cli` statically linked and returns its path.
fn static_binary(inflater: Inflater) -> Result<PathBuf> {
    let (target_dir, features) = match inflater {
        Inflater::Isal => {
            crate::tools::ensure_isal_tools()?;
            (target_dir().join("static"), " --features isal")
        }
        Inflater::ZlibRs => (target_dir().join("static-zlib-rs"), ""),
    };
    run_checked(
        cargo()
            .args(["build", "--release", "--locked", "--target", TARGET, "--package", "md-cli"])
            .args(features.split_whitespace())
            .arg("--target-dir")
            .arg(&target_dir)
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            // The release profile keeps line tables for profiling; the image needs symbols (panic backtraces name
            // functions) but not 140 MB of debug info.
            .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
            .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo"),
        &format!(
            "RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --release --target {TARGET} -p md-cli{features} \
             (target dir {})",
            target_dir.display()
        ),
    )?;
    let binary = target_dir.join(TARGET).join("release/md-cli");
    if has_interpreter(&binary)? {
        bail!(
            "{} is dynamically linked (it names an ELF interpreter); a FROM scratch image cannot run it",
            binary.display()
        );
    }
    Ok(binary)
}

/// Stages the build context: binary, CA bundle, Containerfile.
fn stage(binary: &Path) -> Result<PathBuf> {
    let context = context_dir();
    std::fs::create_dir_all(&context).with_context(|| format!("creating {}", context.display()))?;
    if !Path::new(CA_BUNDLE).is_file() {
        bail!("{CA_BUNDLE} is missing: install it with apt-get install -y ca-certificates");
    }
    for (from, to) in [
        (binary.to_path_buf(), "md-cli"),
        (PathBuf::from(CA_BUNDLE), "ca-certificates.crt"),
        (root().join("deploy/Containerfile"), "Containerfile"),
    ] {
        std::fs::copy(&from, context.join(to))
            .with_context(|| format!("copying {} to {}", from.display(), context.display()))?;
    }
    Ok(context)
}

/// Whether an ELF file has a `PT_INTERP` program header (a dynamic loader it needs).
fn has_interpreter(path: &Path) -> Result<bool> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let field = |at: usize, len: usize| -> Result<u64> {
        let slice = bytes
            .get(at..at + len)
            .with_context(|| format!("{} is not a complete ELF file", path.display()))?;
        Ok(slice.iter().rev().fold(0u64, |value, byte| value << 8 | u64::from(*byte)))
    };
    if bytes.get(..4) != Some(b"\x7fELF") || bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
        bail!("{} is not a 64-bit little-endian ELF file", path.display());
    }
    let (offset, entry_size, entries) = (field(0x20, 8)?, field(0x36, 2)?, field(0x38, 2)?);
    for index in 0..entries {
        let at = usize::try_from(offset + index * entry_size)?;
        const PT_INTERP: u64 = 3;
        if field(at, 4)? == PT_INTERP {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_xtask_binary_itself_is_dynamically_linked_and_recognised_as_such() {
        // Test builds are never crt-static here, so the running test binary names an interpreter.
        let me = std::env::current_exe().unwrap();
        assert!(has_interpreter(&me).unwrap());
    }

    #[test]
    fn a_file_that_is_not_elf_is_refused() {
        let error = has_interpreter(&root().join("deploy/Containerfile")).unwrap_err();
        assert!(format!("{error:#}").contains("not a 64-bit"), "{error:#}");
    }
}
