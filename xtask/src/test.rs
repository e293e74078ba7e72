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

use anyhow::{Result, bail};

use crate::{cargo, run_checked};

/// The variables a suite reads (`MD_TEST_*`), as set-up steps hand them to nextest.
pub(crate) type Vars = Vec<(&'static str, String)>;

/// Whether this run must not skip anything: `CI` is set (and not `false`/`0`), or `MD_TEST_REQUIRE_SERVERS=1`.
pub(crate) fn required() -> bool {
    let ci = std::env::var("CI")
        .is_ok_and(|value| !matches!(value.trim(), "" | "0" | "false" | "FALSE" | "False"));
    ci || std::env::var("MD_TEST_REQUIRE_SERVERS").is_ok_and(|value| value == "1")
}

/// What a suite gets when what it needs cannot be had: under CI an error, elsewhere a notice and `skip_var` set to
/// the reason (the suite prints it when it skips). `what` names the checks that would be skipped.
pub(crate) fn skipped(skip_var: &'static str, reason: String, what: &str) -> Result<Vars> {
    if required() {
        bail!("{reason} (CI must run {what})");
    }
    eprintln!("xtask: notice: {reason}; {what} will be skipped");
    Ok(vec![(skip_var, reason)])
}

pub(crate) fn run() -> Result<()> {
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
        cargo()
            .args(["clippy", "--locked", "--all-targets"])
            .args(ISAL_BUILD)
            .args(["--", "-D", "warnings"]),
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
    for (name, value) in servers.env().iter().chain(&containers).chain(&browser) {
        eprintln!("xtask: {name}={value}");
        nextest.env(name, value);
    }
    run_checked(&mut nextest, "cargo nextest run")?;
    drop(servers);
    run_checked(
        cargo().args(["nextest", "run", "--locked", "--profile", "ci"]).args(ISAL_BUILD).args([
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
    crate::env_example(true)?;
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

/// The crates with an `isal` feature, built with it (ISA-L inflates the gzip check and the converter).
const ISAL_BUILD: [&str; 8] = [
    "--features",
    "tardis-client/isal,downloader/isal,md-cli/isal",
    "-p",
    "tardis-client",
    "-p",
    "downloader",
    "-p",
    "md-cli",
];
