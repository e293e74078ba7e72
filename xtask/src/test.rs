//! `cargo xtask test`: the one command CI runs. It does its own set-up and fails loudly when a step fails.
//!
//! First it checks that md-cli's default build needs nothing but the Rust toolchain and a C compiler: `cargo check
//! -p md-cli` with nasm, autotools, libtool and cmake hidden from PATH, and no `isal-sys` in its dependency tree (see
//! [`crate::tools::check_fresh_machine_build`]).
//! The set-up: the build tools of ISA-L, the opt-in inflater (nasm, autotools; installed with apt-get when missing,
//! see [`crate::tools`]),
//! third-party test servers (moto's S3 server, fake-gcs-server) are installed into `.venv/` and started
//! on free loopback ports for the test run, then stopped (see [`servers`]); a container engine (podman installed with
//! apt-get when missing), the image and podman-compose for the container tests (see [`container`]); headless
//! Chromium for the coverage page's browser test (installed with apt-get when missing, see [`browser`]).
//! After the tests (default features: zlib-rs) it runs tardis-client's and downloader's tests again with the `isal`
//! feature (every gzip test then runs against both inflaters; with md-cli's check that its `--version` then names
//! ISA-L), then the fleet simulator
//! (`cargo xtask fleet --shards 8`), then the smoke's check against the
//! Tardis stand-in and unreachable endpoints (`cargo xtask smoke --against-stand-in`; no internet needed), then
//! `cargo xtask demo` once.

mod browser;
mod container;
mod servers;

use anyhow::Result;

use crate::{cargo, run_checked};

pub(crate) fn run(_args: &[String]) -> Result<()> {
    run_checked(cargo().args(["fmt", "--all", "--", "--check"]), "cargo fmt --check")?;
    // First, before anything is installed: md-cli's default build needs nothing but the Rust toolchain and a C
    // compiler (the README's first command on a fresh machine).
    crate::tools::check_fresh_machine_build()?;
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
    // The opt-in ISA-L build must be clean too.
    run_checked(
        cargo().args([
            "clippy",
            "--locked",
            "--all-targets",
            "--features",
            ISAL_FEATURES,
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
        "cargo clippy --features isal -D warnings (tardis-client, downloader, md-cli: ISA-L)",
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
            "--features",
            ISAL_FEATURES,
            "-p",
            "tardis-client",
            "-p",
            "downloader",
            "-p",
            "md-cli",
            "-E",
            "package(tardis-client) | package(downloader) | test(the_version_names_the_inflater_of_this_build)",
        ]),
        "cargo nextest run --features isal (tardis-client, downloader, and md-cli's version line: every gzip \
         test against ISA-L and zlib-rs)",
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
    eprintln!("xtask: cargo xtask demo");
    eprintln!("{}", crate::smoke::run_demo(None, true)?);
    eprintln!("xtask: all checks passed");
    Ok(())
}

/// The `isal` feature of every crate that has one (ISA-L inflates the gzip check and the converter).
const ISAL_FEATURES: &str = "tardis-client/isal,downloader/isal,md-cli/isal";
