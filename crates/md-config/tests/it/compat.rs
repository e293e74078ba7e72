//! The original system's configuration: the API key from Secret Manager, and its `env.example` as a `.env`.

use std::path::Path;

use md_config::{SECRET_MANAGER_PENDING, Source};
use rstest::rstest;

use super::{dir_with, load_in, setting};

/// The original's `env.example`, copied unchanged (test-support's fixtures).
const ENV_EXAMPLE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../test-support/fixtures/original/env.example");

fn problems(dir: &Path, environment: &[(&str, &str)]) -> Vec<String> {
    match load_in(dir, environment, vec![]) {
        Ok(_) => Vec::new(),
        Err(error) => error.problems.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_key_is_read_from_secret_manager_when_only_its_name_is_set() {
    let dir = dir_with(&[(".env", "TARDIS_SECRET_NAME=tardis-api-key\n")]);
    let loaded = load_in(
        dir.path(),
        &[("GCP_PROJECT_ID", "proj-1"), ("SECRET_MANAGER_EMULATOR_HOST", "127.0.0.1:9")],
        vec![],
    )
    .unwrap();
    let secret = loaded.config.api_key_secret.as_ref().expect("a secret to read");
    assert_eq!(secret.resource(), "projects/proj-1/secrets/tardis-api-key/versions/latest");
    assert_eq!(secret.emulator_host.as_ref().map(|url| url.as_str()), Some("http://127.0.0.1:9/"));
    assert!(loaded.config.tardis.api_key.is_none());
    // `md-cli config` shows where the key will come from.
    let key = loaded.settings.iter().find(|setting| setting.name == "TARDIS_API_KEY").unwrap();
    assert_eq!(key.value.as_deref(), Some(SECRET_MANAGER_PENDING));
    assert_eq!(key.source, Source::SecretManager);
    assert_eq!(
        key.origin.as_deref(),
        Some("projects/proj-1/secrets/tardis-api-key/versions/latest")
    );
    assert_eq!(setting(&loaded, "TARDIS_SECRET_NAME"), (Some("tardis-api-key"), Source::DotEnv));
    assert_eq!(setting(&loaded, "USE_SECRET_MANAGER"), (Some("true"), Source::Default));
}

#[rstest]
#[case::explicit_key_wins(&[("TARDIS_API_KEY", "TD.explicit")])]
#[case::turned_off(&[("USE_SECRET_MANAGER", "false")])]
#[case::turned_off_spelt_no(&[("USE_SECRET_MANAGER", "no")])]
fn secret_manager_is_not_asked(#[case] extra: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let mut environment = vec![("TARDIS_SECRET_NAME", "tardis-api-key"), ("GCP_PROJECT_ID", "p")];
    environment.extend_from_slice(extra);
    let loaded = load_in(dir.path(), &environment, vec![]).unwrap();
    assert!(loaded.config.api_key_secret.is_none());
    let key = loaded.settings.iter().find(|setting| setting.name == "TARDIS_API_KEY").unwrap();
    assert_ne!(key.source, Source::SecretManager);
}

#[rstest]
#[case::no_project(&[("TARDIS_SECRET_NAME", "tardis-api-key")], "GCP_PROJECT_ID")]
#[case::bad_secret_id(&[("TARDIS_SECRET_NAME", "projects/p/secrets/x"), ("GCP_PROJECT_ID", "p")], "TARDIS_SECRET_NAME")]
#[case::bad_switch(&[("TARDIS_SECRET_NAME", "k"), ("GCP_PROJECT_ID", "p"), ("USE_SECRET_MANAGER", "perhaps")], "USE_SECRET_MANAGER")]
#[case::bad_emulator(&[("TARDIS_SECRET_NAME", "k"), ("GCP_PROJECT_ID", "p"), ("SECRET_MANAGER_EMULATOR_HOST", "not a url")], "SECRET_MANAGER_EMULATOR_HOST")]
#[case::missing_credentials_for_secret_manager(&[("TARDIS_SECRET_NAME", "k"), ("GCP_PROJECT_ID", "p"), ("GCP_CREDENTIALS_PATH", "/nonexistent/key.json")], "GCP_CREDENTIALS_PATH")]
#[case::missing_credentials_for_gcs(&[("MD_SINK", "gs://md-bucket"), ("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/adc.json")], "GOOGLE_APPLICATION_CREDENTIALS")]
fn a_bad_secret_manager_setting_names_its_variable(
    #[case] environment: &[(&str, &str)],
    #[case] culprit: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let problems = problems(dir.path(), environment);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with(culprit), "{problems:?}");
}

/// A credentials file nothing uses is no problem: a local sink, or both Google services on emulators.
#[rstest]
#[case::local_sink(&[("GCP_CREDENTIALS_PATH", "/nonexistent/key.json")])]
#[case::gcs_emulator(&[("MD_SINK", "gs://md-bucket"), ("STORAGE_EMULATOR_HOST", "127.0.0.1:9"), ("GCP_CREDENTIALS_PATH", "/nonexistent/key.json")])]
#[case::both_emulators(&[("MD_SINK", "gs://md-bucket"), ("STORAGE_EMULATOR_HOST", "127.0.0.1:9"), ("TARDIS_SECRET_NAME", "k"), ("GCP_PROJECT_ID", "p"), ("SECRET_MANAGER_EMULATOR_HOST", "127.0.0.1:9"), ("GCP_CREDENTIALS_PATH", "/nonexistent/key.json")])]
fn an_unused_credentials_file_need_not_exist(#[case] environment: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(problems(dir.path(), environment), Vec::<String>::new());
}

/// The original's `env.example`, copied to `.env` as its run script does, loads without error: its own variables are
/// known (or not md's to judge), its inline comments are comments, and the placeholders nothing uses are no problem.
#[test]
fn the_originals_env_example_loads_as_a_dotenv() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(ENV_EXAMPLE, dir.path().join(".env")).unwrap();
    // The placeholder bucket and credentials would be used by a gs:// sink: point the sink at a directory.
    let loaded = load_in(dir.path(), &[("MD_SINK", "data")], vec![]).unwrap();
    let config = &loaded.config;
    assert_eq!(setting(&loaded, "LOG_DESTINATION"), (Some("both"), Source::DotEnv));
    assert_eq!(config.service.batch_size.get(), 1);
    assert!(config.service.memory_efficient);
    assert_eq!(
        config.tardis.api_key.as_ref().map(|key| key.expose()),
        Some("TD.your_api_key_here")
    );
    // USE_SECRET_MANAGER=false in the file: the secret it names is not read.
    assert!(config.api_key_secret.is_none());
    assert_eq!(setting(&loaded, "TARDIS_SECRET_NAME"), (Some("tardis-api-key"), Source::DotEnv));
    // The values the original ignored and md applies.
    assert_eq!((config.sharding.shard_index, config.sharding.total_shards.get()), (0, 30));
    assert_eq!(config.sharding.instruments_per_shard.map(|n| n.get()), Some(2));
    assert_eq!(config.download.max_instruments.map(|n| n.get()), Some(10));
    assert_eq!(config.download.venues, ["deribit", "binance-futures"]);
}
