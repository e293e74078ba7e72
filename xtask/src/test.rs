//! `cargo xtask test`: the one command CI runs. It does its own set-up and fails loudly when a step fails.

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
    run_checked(
        cargo().args([
            "nextest",
            "run",
            "--workspace",
            "--locked",
            "--profile",
            "ci",
            "--no-fail-fast",
        ]),
        "cargo nextest run",
    )?;
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
