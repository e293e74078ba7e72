//! Running the `md-cli` binary in a clean environment and a temporary working directory.

use std::path::PathBuf;
use std::process::{Command, Output};

use test_support::gcs::FakeGcs;
use test_support::tardis::{StubConfig, TardisStub, dataset_path};

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

/// A Tardis stand-in (and, on demand, a GCS fake) on its own runtime, alive while the test runs the binary.
pub(crate) struct Stand {
    pub(crate) stub: TardisStub,
    pub(crate) gcs: Option<FakeGcs>,
    pub(crate) runtime: tokio::runtime::Runtime,
}

impl Stand {
    pub(crate) fn start(config: StubConfig) -> Stand {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let stub = runtime.block_on(TardisStub::start(config)).expect("the stand-in starts");
        Stand { stub, gcs: None, runtime }
    }

    /// Also starts the GCS XML-API fake.
    pub(crate) fn with_gcs(mut self) -> Stand {
        self.gcs = Some(self.runtime.block_on(FakeGcs::start()).expect("the GCS fake starts"));
        self
    }

    /// An environment pointing md-cli at the stand-in (and the GCS fake, through STORAGE_EMULATOR_HOST).
    pub(crate) fn env(&self, key: Option<&str>) -> TestEnv {
        let url = self.stub.base_url();
        let mut env = TestEnv::new()
            .var("TARDIS_BASE_URL", &url)
            .var("TARDIS_API_URL", &url)
            .var("TARDIS_TIMEOUT", "5")
            .var("TARDIS_MAX_RETRIES", "8");
        if let Some(gcs) = &self.gcs {
            env = env.var("STORAGE_EMULATOR_HOST", &gcs.url());
        }
        match key {
            Some(key) => env.var("TARDIS_API_KEY", key),
            None => env,
        }
    }

    /// The exact bytes the stand-in serves for a dataset file.
    pub(crate) fn served(
        &self,
        exchange: &str,
        data_type: &str,
        date: &str,
        symbol: &str,
    ) -> Vec<u8> {
        let path = dataset_path(exchange, data_type, date.parse().expect("a date"), symbol);
        self.runtime
            .block_on(self.stub.expected_body(&path))
            .expect("readable")
            .expect("served")
            .to_vec()
    }
}
