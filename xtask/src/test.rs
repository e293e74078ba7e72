//! `cargo xtask test`: the one command CI runs. It does its own set-up and fails loudly when a step fails.
//!
//! The set-up: the build tools of ISA-L (nasm, autotools; installed with apt-get when missing, see [`crate::tools`]),
//! third-party test servers (moto's S3 server, fake-gcs-server) are installed into `.venv/` and started
//! on free loopback ports for the test run, then stopped (see [`servers`]); a container engine (podman installed with
//! apt-get when missing), the image and podman-compose for the container tests (see [`container`]); headless
//! Chromium for the coverage page's browser test (installed with apt-get when missing, see [`browser`]).
//! After the tests it runs tardis-client's and downloader's tests again without the `isal` feature (the zlib-rs
//! fallback; with md-cli's check that its `--version` then names zlib-rs), then the fleet simulator
//! (`cargo xtask fleet --shards 8`), then the smoke's check against the
//! Tardis stand-in and unreachable endpoints (`cargo xtask smoke --against-stand-in`; no internet needed).

mod browser;
mod container;
mod servers;

use anyhow::Result;

use crate::{cargo, run_checked};

pub(crate) fn run(_args: &[String]) -> Result<()> {
    run_checked(cargo().args(["fmt", "--all", "--", "--check"]), "cargo fmt --check")?;
    crate::tools::ensure_isal_tools()?;
    run_checked(
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
        "cargo clippy -D warnings",
    )?;
    // The fallback without ISA-L (zlib-rs) must build clean too.
    run_checked(
        cargo().args([
            "clippy",
            "--locked",
            "--all-targets",
            "--no-default-features",
            "-p",
            "tardis-client",
            "-p",
            "downloader",
            "-p",
            "md-cli",
            "--",
            "-D",
            "warnings",
        ]),
        "cargo clippy --no-default-features -D warnings (tardis-client, downloader, md-cli: zlib-rs)",
    )?;
    let containers = container::prepare(&crate::root())?;
    let browser = browser::prepare()?;
    let servers = servers::Servers::start(&crate::root())?;
    let mut nextest = cargo();
    nextest.args([
        "nextest",
        "run",
        "--workspace",
        "--locked",
        "--profile",
        "ci",
        "--no-fail-fast",
    ]);
    for (name, value) in servers.env().iter().chain(containers.env()).chain(browser.env()) {
        eprintln!("xtask: {name}={value}");
        nextest.env(name, value);
    }
    run_checked(&mut nextest, "cargo nextest run")?;
    drop(servers);
    run_checked(
        cargo().args([
            "nextest",
            "run",
            "--locked",
            "--profile",
            "ci",
            "--no-default-features",
            "-p",
            "tardis-client",
            "-p",
            "downloader",
            "-p",
            "md-cli",
            "-E",
            "package(tardis-client) | package(downloader) | test(the_version_names_the_inflater_of_this_build)",
        ]),
        "cargo nextest run --no-default-features (tardis-client, downloader, and md-cli's version line: the zlib-rs \
         fallback)",
    )?;
    run_checked(cargo().args(["test", "--workspace", "--locked", "--doc"]), "cargo test --doc")?;
    run_checked(
        cargo()
            .args(["doc", "--workspace", "--no-deps", "--locked"])
            .env("RUSTDOCFLAGS", "-D warnings"),
        "cargo doc -D warnings",
    )?;
    crate::env_example(&["--check".to_owned()])?;
    let fleet = crate::fleet::Options {
        shards: 8,
        parallel: 4,
        like_workspace_tests: true,
        ..crate::fleet::Options::default()
    };
    eprintln!("xtask: cargo xtask fleet --shards {} --parallel {}", fleet.shards, fleet.parallel);
    eprintln!("{}", crate::fleet::simulate(&fleet)?);
    eprintln!("xtask: cargo xtask smoke --against-stand-in");
    eprintln!("{}", crate::smoke::against_stand_in(true)?);
    eprintln!("xtask: all checks passed");
    Ok(())
}
