//! The container set-up of `cargo xtask test`: a container engine (docker when an engine answers, else podman,
//! installed with apt-get when missing and we are root), the image (`cargo xtask image`, built once), and a compose
//! program (podman-compose 1.6.0 from PyPI in `.venv/`, or `docker compose`). Their names reach the container tests
//! (`crates/md-cli/tests/it/container.rs`) as `MD_TEST_IMAGE`, `MD_TEST_CONTAINER_ENGINE` and `MD_TEST_COMPOSE`.
//!
//! Under CI (`CI` set, or `MD_TEST_REQUIRE_SERVERS=1` in our environment) a missing engine that cannot be installed
//! fails the run; elsewhere the run goes on and the tests print the reason they skip (`MD_TEST_CONTAINER_SKIP`).

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use super::{Vars, skipped};
use crate::image::{self, Engine};

/// podman-compose, pinned: Debian's 1.0.3 breaks on `network_mode: host` (see shared/INFRA.md).
const PODMAN_COMPOSE: &str = "podman-compose==1.6.0";

/// Gets an engine (installing podman when it can), builds the image, and finds a compose program.
pub(crate) fn prepare(root: &Path) -> Result<Vars> {
    let engine = match Engine::detect() {
        Some(engine) => engine,
        None => match install_podman() {
            Ok(()) => Engine::Podman,
            Err(reason) => {
                let reason = format!("no container engine: {reason:#}");
                return skipped("MD_TEST_CONTAINER_SKIP", reason, "the container tests");
            }
        },
    };
    image::build(engine, image::TAG, image::Inflater::Isal)?;
    let mut env = vec![
        ("MD_TEST_IMAGE", image::TAG.to_owned()),
        ("MD_TEST_CONTAINER_ENGINE", engine.program().to_owned()),
    ];
    env.extend(engine.env());
    match engine {
        Engine::Podman => {
            let compose = super::servers::venv_program(root, PODMAN_COMPOSE, "podman-compose")?;
            env.push(("MD_TEST_COMPOSE", compose.display().to_string()));
        }
        Engine::Docker
            if crate::quietly_succeeds(Command::new("docker").args(["compose", "version"])) =>
        {
            env.push(("MD_TEST_COMPOSE", "docker compose".into()));
        }
        Engine::Docker => {
            let reason = "docker has no compose plugin (`docker compose version` fails)".to_owned();
            env.extend(skipped("MD_TEST_COMPOSE_SKIP", reason, "the compose test")?);
        }
    }
    Ok(env)
}

/// `apt-get update && apt-get install -y podman buildah runc`, as root only.
fn install_podman() -> Result<()> {
    crate::tools::apt_install(
        &["podman", "buildah", "runc"],
        "`docker info` finds no engine and podman is not installed",
    )
    .map_err(|error| error.context("install podman: apt-get install -y podman buildah runc"))?;
    if !image::podman_installed() {
        bail!("apt-get installed podman, but `podman --version` still fails");
    }
    Ok(())
}
