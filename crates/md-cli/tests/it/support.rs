//! Running the `md-cli` binary in a clean environment and a temporary working directory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use downloader::download::summary::UnitLine;
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

    /// Drops a variable set earlier (to run with its default).
    pub(crate) fn without(mut self, name: &str) -> Self {
        self.vars.retain(|(set, _)| set != name);
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
            .var("TARDIS_MAX_RETRIES", "8")
            // Most suites hold stored objects to the stand-in's bytes, so they store the raw `.csv.gz`; the default
            // (Parquet) has its own tests (`formats::`), which drop this with `TestEnv::without`.
            .var("MD_OUTPUT_FORMAT", "raw");
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
        self.served_at(&dataset_path(exchange, data_type, date.parse().expect("a date"), symbol))
    }

    /// The exact bytes the stand-in serves for a planned unit.
    pub(crate) fn served_unit(&self, unit: &UnitLine) -> Vec<u8> {
        self.served_at(&unit_path(unit))
    }

    fn served_at(&self, path: &str) -> Vec<u8> {
        self.runtime
            .block_on(self.stub.expected_body(path))
            .expect("readable")
            .expect("served")
            .to_vec()
    }
}

/// The main job's fixtures, shared by `download` and `chaos`: the key, the range and the selection.
pub(crate) const KEY: &str = "TD.main-job-key-77";
pub(crate) const FROM: &str = "2026-10-01";
pub(crate) const TO: &str = "2026-10-02";

/// The selection the main-job tests download: two venues, perpetuals and options, three data types (one only
/// grouped).
pub(crate) const SELECTION: &[&str] = &[
    "--from",
    FROM,
    "--to",
    TO,
    "--venues",
    "deribit,binance-futures",
    "--instrument-types",
    "perpetual,option",
    "--data-types",
    "trades,book_snapshot_5,options_chain",
];

/// A plan's selection: `--from from --to to --venues venues --instrument-types types --data-types data_types`.
pub(crate) fn selection<'a>(
    [from, to]: [&'a str; 2],
    venues: &'a str,
    types: &'a str,
    data_types: &'a str,
) -> Vec<&'a str> {
    let flags = ["--from", "--to", "--venues", "--instrument-types", "--data-types"];
    flags
        .into_iter()
        .zip([from, to, venues, types, data_types])
        .flat_map(<[&str; 2]>::from)
        .collect()
}

/// A stand-in that expects [`KEY`], otherwise configured by `config`.
pub(crate) fn main_job_stand(config: StubConfig) -> Stand {
    Stand::start(StubConfig { api_key: Some(KEY.into()), ..config })
}

/// The stand-in's defaults with 16 KiB files, which keep the main-job tests fast.
pub(crate) fn small_files() -> StubConfig {
    StubConfig { file_size: 16 * 1024, ..StubConfig::default() }
}

/// Runs `md-cli instruments` over [`FROM`] to [`TO`] (the main job's definitions), which must succeed.
pub(crate) fn write_definitions(env: &TestEnv) -> Run {
    ok(env.run(&args("instruments", &["--from", FROM, "--to", TO])))
}

/// A main-job stand-in serving 48 KiB files at `bandwidth` bytes/s each (slow, so that a signal lands mid-upload),
/// and its local environment with `concurrency` requests at once and the definitions written.
pub(crate) fn slow_job(bandwidth: u64, concurrency: &str) -> (Stand, TestEnv) {
    let config =
        StubConfig { file_size: 48 * 1024, bandwidth: Some(bandwidth), ..StubConfig::default() };
    let stand = main_job_stand(config);
    let env = local_env(&stand).var("MAX_CONCURRENT_REQUESTS", concurrency);
    write_definitions(&env);
    (stand, env)
}

/// The main job's [`SELECTION`] downloaded by `md-cli pipeline` into the local sink from a stand-in serving small
/// files: the stand-in, the environment and the plan's units.
pub(crate) fn downloaded() -> (Stand, TestEnv, Vec<UnitLine>) {
    let stand = main_job_stand(small_files());
    let env = local_env(&stand);
    ok(env.run(&args("pipeline", SELECTION)));
    let units = plan(&env);
    (stand, env, units)
}

/// The main job split into `total` shards (`TOTAL_SHARDS`, and `SHARD_INDEX=0` for `plan`) from a stand-in serving
/// small files, its definitions written: the stand-in, the environment and the plan's units.
pub(crate) fn sharded_job(total: u32) -> (Stand, TestEnv, Vec<UnitLine>) {
    let stand = main_job_stand(small_files());
    let env = local_env(&stand).var("TOTAL_SHARDS", &total.to_string()).var("SHARD_INDEX", "0");
    write_definitions(&env);
    let units = plan(&env);
    (stand, env, units)
}

/// An environment for the main job into the local directory `sink`.
pub(crate) fn local_env(stand: &Stand) -> TestEnv {
    stand
        .env(Some(KEY))
        .var("MD_SINK", "sink")
        .var("INSTRUMENT_EXCHANGES", "deribit,binance-futures")
}

/// `md-cli fetch` of deribit trades of `symbol` on `date` into `output`.
pub(crate) fn fetch_trades<'a>(date: &'a str, symbol: &'a str, output: &'a str) -> [&'a str; 11] {
    [
        "fetch",
        "--exchange",
        "deribit",
        "--data-type",
        "trades",
        "--date",
        date,
        "--symbol",
        symbol,
        "--output",
        output,
    ]
}

/// `md-cli fetch` of deribit trades of BTC-PERPETUAL on 2026-10-02 into `output`.
pub(crate) fn fetch_btc_trades(output: &str) -> [&str; 11] {
    fetch_trades("2026-10-02", "BTC-PERPETUAL", output)
}

/// `command` followed by `extra`.
pub(crate) fn args<'a>(command: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![command];
    args.extend_from_slice(extra);
    args
}

/// Asserts the run exited 0.
pub(crate) fn ok(run: Run) -> Run {
    assert_eq!(run.code, 0, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    run
}

/// The dataset path the stand-in serves a planned unit at.
pub(crate) fn unit_path(unit: &UnitLine) -> String {
    dataset_path(&unit.exchange, &unit.data_type, unit.date, &unit.symbol)
}

/// The units of [`SELECTION`], as `md-cli plan --json` prints them.
pub(crate) fn plan(env: &TestEnv) -> Vec<UnitLine> {
    plan_of(env, SELECTION)
}

/// The units of a selection, as `md-cli plan --json` prints them.
pub(crate) fn plan_of(env: &TestEnv, selection: &[&str]) -> Vec<UnitLine> {
    plan_lines(&ok(env.run(&args("plan", &[selection, &["--json"]].concat()))).stdout)
}

/// The units `md-cli plan --json` printed: one JSON object a line, each read as downloader's [`UnitLine`] and
/// written back to the same bytes, with a canonical instrument key.
pub(crate) fn plan_lines(stdout: &str) -> Vec<UnitLine> {
    let unit = |line: &str| -> UnitLine {
        let unit: UnitLine =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"));
        assert_eq!(serde_json::to_string(&unit).expect("a line"), line, "read back as printed");
        assert!(unit.instrument_key.contains(':'), "{line}");
        unit
    };
    stdout.lines().map(unit).collect()
}

/// Where an object of the local sink `sink` lives.
pub(crate) fn sink_path(env: &TestEnv, object: &str) -> PathBuf {
    env.dir.path().join("sink").join(object)
}

/// Asserts every unit's object in the local sink holds exactly what the stand-in serves.
pub(crate) fn assert_byte_exact(stand: &Stand, env: &TestEnv, units: &[UnitLine]) {
    for unit in units {
        let expected = stand.served_unit(unit);
        let stored = std::fs::read(sink_path(env, &unit.object))
            .unwrap_or_else(|error| panic!("{}: {error}", unit.object));
        assert!(stored == expected, "{} is not what the stand-in served", unit.object);
    }
}

/// The paths of the dataset (`.csv.gz`) requests the stand-in saw since its counters were last reset, in order.
pub(crate) fn dataset_paths(stand: &Stand) -> Vec<String> {
    let requests = stand.stub.requests().into_iter();
    requests.filter(|record| record.path.ends_with(".csv.gz")).map(|record| record.path).collect()
}

/// Dataset (`.csv.gz`) requests the stand-in saw since its counters were last reset.
pub(crate) fn dataset_requests(stand: &Stand) -> usize {
    dataset_paths(stand).len()
}

/// The datasets the stand-in was asked for since its counters were last reset.
pub(crate) fn requested_datasets(stand: &Stand) -> BTreeSet<String> {
    dataset_paths(stand).into_iter().collect()
}

/// The values of `field` over the JSON lines of `stdout` (`plan --json`, `missing --json`), as text.
pub(crate) fn json_field(stdout: &str, field: &str) -> BTreeSet<String> {
    let value =
        |line: &str| serde_json::from_str::<serde_json::Value>(line).expect("JSON")[field].clone();
    stdout
        .lines()
        .map(|line| {
            value(line).as_str().unwrap_or_else(|| panic!("no {field} in {line}")).to_owned()
        })
        .collect()
}

/// Every regular file under the sink's data prefix, relative to the sink's root.
pub(crate) fn stored_data_files(root: &Path) -> BTreeSet<String> {
    files_under(root, &root.join("raw_tick_data"))
}

/// Every regular file under `dir` (recursively), relative to `root`; empty when `dir` does not exist.
pub(crate) fn files_under(root: &Path, dir: &Path) -> BTreeSet<String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.insert(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, root, &mut out);
    out
}

/// Starts `md-cli COMMAND SELECTION` with piped output.
pub(crate) fn spawn(env: &TestEnv, command: &str) -> Child {
    env.command(&args(command, SELECTION))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("md-cli starts")
}

/// Runs `md-cli ARGS` as shards `0..total` of `env` (which sets `TOTAL_SHARDS`) at once, returning each shard's
/// output, in shard order.
pub(crate) fn run_shards(env: &TestEnv, args: &[&str], total: u32) -> Vec<std::process::Output> {
    let children: Vec<Child> = (0..total)
        .map(|shard| {
            let mut command = env.command(args);
            command
                .env("SHARD_INDEX", shard.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            command.spawn().expect("md-cli starts")
        })
        .collect();
    children.into_iter().map(|child| child.wait_with_output().expect("md-cli ends")).collect()
}

/// Waits (at most a minute) until the stand-in has seen `at_least` dataset requests.
pub(crate) fn wait_for_requests(stand: &Stand, at_least: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while dataset_requests(stand) < at_least {
        assert!(Instant::now() < deadline, "the download never started");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The JSON objects of a `--json` run's stdout, one a line.
pub(crate) fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

/// The download manifest of the one shard of `from..=to`.
pub(crate) fn shard_manifest(env: &TestEnv, from: &str, to: &str) -> serde_json::Value {
    let path = sink_path(env, &format!("manifests/download/{from}_{to}/shard-0000-of-0001.json"));
    serde_json::from_slice(&std::fs::read(path).expect("the manifest")).expect("JSON")
}
