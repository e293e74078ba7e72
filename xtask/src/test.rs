//! `cargo xtask test`: the one command CI runs. It does its own set-up and fails loudly when a step fails.
//!
//! The set-up: third-party test servers (moto's S3 server, fake-gcs-server) are installed into `.venv/` and started
//! on free loopback ports for the test run, then stopped (see [`servers`]).

mod servers;

use anyhow::Result;

use crate::{cargo, run_checked};

pub(crate) fn run(_args: &[String]) -> Result<()> {
    run_checked(cargo().args(["fmt", "--all", "--", "--check"]), "cargo fmt --check")?;
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
    for (name, value) in servers.env() {
        eprintln!("xtask: {name}={value}");
        nextest.env(name, value);
    }
    run_checked(&mut nextest, "cargo nextest run")?;
    drop(servers);
    run_checked(cargo().args(["test", "--workspace", "--locked", "--doc"]), "cargo test --doc")?;
    run_checked(
        cargo()
            .args(["doc", "--workspace", "--no-deps", "--locked"])
            .env("RUSTDOCFLAGS", "-D warnings"),
        "cargo doc -D warnings",
    )?;
    crate::env_example(&["--check".to_owned()])?;
    eprintln!("xtask: all checks passed");
    Ok(())
}
