//! Running the `md-cli` binary in a clean environment and a temporary working directory.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A temporary working directory and a clean environment for one `md-cli` run.
pub(crate) struct TestEnv {
    pub(crate) dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

/// What a run printed and how it ended.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl TestEnv {
    pub(crate) fn new() -> Self {
        TestEnv { dir: tempfile::tempdir().expect("temp dir"), vars: Vec::new() }
    }

    pub(crate) fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write test file");
        path
    }

    /// Returns the command for one run, in the temporary directory with only the variables given.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_md-cli"));
        command.args(args).current_dir(self.dir.path()).env_clear().env("HOME", self.dir.path());
        for (name, value) in &self.vars {
            command.env(name, value);
        }
        command
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        let Output { status, stdout, stderr } = self.command(args).output().expect("md-cli runs");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }
}
