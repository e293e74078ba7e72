//! Deployment mode 2: the image `cargo xtask image` builds, run with podman (or docker) on the host network against
//! the Tardis stand-in and the GCS fake, and `deploy/compose/compose.yaml` run with podman-compose the same way.
//!
//! `cargo xtask test` builds the image and passes `MD_TEST_IMAGE` (the tag), `MD_TEST_CONTAINER_ENGINE`
//! (`podman` or `docker`, with `CONTAINERS_CONF` for podman) and `MD_TEST_COMPOSE` (the compose program). Without
//! them the tests print a notice and return under plain `cargo test`, and fail under `MD_TEST_REQUIRE_SERVERS=1`,
//! unless `MD_TEST_CONTAINER_SKIP` (or `MD_TEST_COMPOSE_SKIP`) gives the reason the test command could not get a
//! container engine (or a compose program) outside CI.

#![allow(clippy::disallowed_methods, reason = "the tests read what xtask passes")]
#![allow(clippy::print_stderr, reason = "the notice of a skipped suite")]

use std::path::Path;
use std::process::{Command, Output};

use downloader::download::summary::UnitLine;
use test_support::tardis::StubConfig;

use crate::support::{Stand, TestEnv, dataset_requests, plan_lines};

const KEY: &str = "TD.container-key-5";
const FROM: &str = "2026-10-01";
const TO: &str = "2026-10-02";
const VENUES: &str = "deribit,binance-futures";
const TYPES: &str = "perpetual,option";
const DATA_TYPES: &str = "trades,book_snapshot_5,options_chain";

/// How to run containers here, from the variables `cargo xtask test` sets.
struct Engine {
    program: String,
    image: String,
}

/// The engine and image, or `None` (after a notice) when this run has none; panics when one is required.
fn engine() -> Option<Engine> {
    let what = "container tests";
    let image = test_support::handed_over_unless_skipped(
        "MD_TEST_IMAGE",
        Some("MD_TEST_CONTAINER_SKIP"),
        what,
    )?;
    let program = test_support::handed_over("MD_TEST_CONTAINER_ENGINE", what)?;
    Some(Engine { program, image })
}

fn stand() -> Stand {
    Stand::start(StubConfig {
        api_key: Some(KEY.into()),
        file_size: 16 * 1024,
        ..StubConfig::default()
    })
    .with_gcs()
}

/// The variables every containerised run gets, pointing at the stand-ins on the host network.
fn variables(stand: &Stand, bucket: &str) -> Vec<(&'static str, String)> {
    let url = stand.stub.base_url();
    vec![
        ("TARDIS_API_KEY", KEY.to_owned()),
        ("TARDIS_BASE_URL", url.clone()),
        ("TARDIS_API_URL", url),
        ("TARDIS_TIMEOUT", "5".into()),
        ("STORAGE_EMULATOR_HOST", stand.gcs.as_ref().expect("the GCS fake").url()),
        ("GCS_BUCKET", bucket.to_owned()),
        ("INSTRUMENT_EXCHANGES", VENUES.into()),
        ("INSTRUMENT_START_DATE", FROM.into()),
        ("INSTRUMENT_END_DATE", TO.into()),
        ("DOWNLOAD_VENUES", VENUES.into()),
        ("DOWNLOAD_INSTRUMENT_TYPES", TYPES.into()),
        ("DOWNLOAD_DATA_TYPES", DATA_TYPES.into()),
        // The objects are held to the stand-in's bytes, so the raw `.csv.gz` (the default is Parquet).
        ("MD_OUTPUT_FORMAT", "raw".into()),
    ]
}

fn check(output: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The planned units, from the host's `md-cli plan --json` reading the same bucket.
fn plan(stand: &Stand, bucket: &str) -> Vec<UnitLine> {
    let mut env = TestEnv::new();
    for (name, value) in variables(stand, bucket) {
        env = env.var(name, &value);
    }
    let run = env.run(&["plan", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    plan_lines(&run.stdout)
}

/// Every planned object is in the bucket with exactly the bytes the stand-in served; the shard's manifest says so.
fn assert_landed_byte_exact(stand: &Stand, bucket: &str) -> usize {
    let units = plan(stand, bucket);
    assert!(units.len() >= 20, "{} units", units.len());
    let gcs = stand.gcs.as_ref().unwrap();
    for unit in &units {
        let stored = gcs
            .object(bucket, &unit.object)
            .unwrap_or_else(|| panic!("{} is not in gs://{bucket}", unit.object));
        let served = stand.served_unit(unit);
        assert!(
            stored.data.as_ref() == served.as_slice(),
            "{} differs from what was served",
            unit.object
        );
    }
    let data_objects =
        gcs.object_names(bucket).iter().filter(|name| name.starts_with("raw_tick_data/")).count();
    assert_eq!(data_objects, units.len(), "exactly the planned objects");
    let manifest = gcs
        .object(bucket, &format!("manifests/download/{FROM}_{TO}/shard-0000-of-0001.json"))
        .expect("the manifest");
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.data).unwrap();
    assert_eq!(manifest["status"], "complete");
    assert_eq!(manifest["units"]["planned"].as_u64(), Some(units.len() as u64));
    units.len()
}

#[test]
fn the_image_runs_the_pipeline_on_the_host_network_into_gcs_byte_exact() {
    let Some(engine) = engine() else { return };
    let stand = stand();
    let bucket = "md-container";
    let mut run = Command::new(&engine.program);
    run.args(["run", "--rm", "--network", "host"]);
    for (name, value) in variables(&stand, bucket) {
        run.arg("--env").arg(format!("{name}={value}"));
    }
    run.arg(&engine.image).arg("pipeline");
    let stdout = check(&run.output().expect("the engine runs"), "the containerised pipeline");
    assert!(stdout.contains("Complete"), "{stdout}");
    let units = assert_landed_byte_exact(&stand, bucket);
    assert_eq!(dataset_requests(&stand), units, "one request per unit");

    // The image's user is not root, and its entrypoint is md-cli: `config` runs without arguments to the engine.
    let user = Command::new(&engine.program)
        .args([
            "image",
            "inspect",
            "--format",
            "{{.Config.User}} {{.Config.Entrypoint}}",
            &engine.image,
        ])
        .output()
        .expect("inspect");
    let user = check(&user, "image inspect");
    assert!(user.starts_with("65532:65532 ") && user.contains("/md-cli"), "{user}");
}

#[test]
fn the_compose_file_runs_instruments_then_download_against_the_stand_ins() {
    let Some(_engine) = engine() else { return };
    let Some(compose) = test_support::handed_over_unless_skipped(
        "MD_TEST_COMPOSE",
        Some("MD_TEST_COMPOSE_SKIP"),
        "compose test",
    ) else {
        return;
    };
    let stand = stand();
    let bucket = "md-compose";
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/compose/compose.yaml");
    let credentials = tempfile::tempdir().unwrap();
    let compose_run = |service: &str| {
        let mut words = compose.split_whitespace();
        let mut command = Command::new(words.next().expect("a compose program"));
        command.args(words).arg("--file").arg(&file).args(["run", "--rm", service]);
        // Only what the compose file interpolates reaches the container.
        command.env("CREDENTIALS_DIR", credentials.path());
        for (name, value) in variables(&stand, bucket) {
            command.env(name, value);
        }
        command.output().expect("the compose program runs")
    };
    check(&compose_run("instruments"), "compose run instruments");
    let stdout = check(&compose_run("download"), "compose run download");
    assert!(stdout.contains("Complete"), "{stdout}");
    let units = assert_landed_byte_exact(&stand, bucket);
    assert_eq!(dataset_requests(&stand), units);
}
