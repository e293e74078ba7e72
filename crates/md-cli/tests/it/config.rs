//! `md-cli config` and the configuration contract: sources, redaction, and bad configurations exiting 2.

use rstest::rstest;

use crate::support::TestEnv;

fn json(run: &crate::support::Run) -> serde_json::Value {
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("config --json prints JSON")
}

#[test]
fn config_shows_each_value_with_its_source_and_redacts_the_key() {
    let env = TestEnv::new()
        .var("TARDIS_API_KEY", "TD.super-secret-key-123")
        .var("TARDIS_MAX_RETRIES", "7")
        .var("CLOUD_RUN_TASK_INDEX", "3")
        .var("CLOUD_RUN_TASK_COUNT", "60");
    env.write(".env", "DOWNLOAD_DATA_TYPES=trades,quotes\nTARDIS_MAX_RETRIES=1\n");
    env.write(
        "config.yaml",
        "tardis:\n  timeout: 45\ndownload:\n  venues: [deribit, binance-futures]\n",
    );
    let run = env.run(&["--sink", "memory://", "config", "--json"]);
    let value = json(&run);
    let check = |name: &str, expected_value: &str, expected_source: &str| {
        assert_eq!(value[name]["value"], expected_value, "{name}");
        assert_eq!(value[name]["source"], expected_source, "{name}");
    };
    check("TARDIS_API_KEY", "<redacted>", "env");
    check("TARDIS_MAX_RETRIES", "7", "env");
    check("DOWNLOAD_DATA_TYPES", "trades,quotes", ".env");
    check("TARDIS_TIMEOUT", "45", "file");
    check("DOWNLOAD_VENUES", "deribit,binance-futures", "file");
    check("MD_SINK", "memory://", "flag");
    check("SHARD_INDEX", "3", "engine");
    check("TOTAL_SHARDS", "60", "engine");
    check("TARDIS_BASE_URL", "https://datasets.tardis.dev", "default");
    assert!(!run.stdout.contains("super-secret"), "the key leaked: {}", run.stdout);

    let table = env.run(&["config"]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(!table.stdout.contains("super-secret"));
    let line =
        table.stdout.lines().find(|line| line.starts_with("TARDIS_API_KEY ")).expect("a key line");
    assert!(line.contains("<redacted>") && line.trim_end().ends_with("env"), "{line}");
}

#[test]
fn env_file_flag_replaces_dot_env_and_must_exist() {
    let env = TestEnv::new();
    env.write(".env", "TARDIS_MAX_RETRIES=1\n");
    env.write("other.env", "TARDIS_MAX_RETRIES=9\n");
    let value = json(&env.run(&["--env-file", "other.env", "config", "--json"]));
    assert_eq!(value["TARDIS_MAX_RETRIES"]["value"], "9");
    let missing = env.run(&["--env-file", "nope.env", "config"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("--env-file"), "{}", missing.stderr);
}

/// Each bad configuration exits 2 and names its culprit; `expect` must appear in stderr.
#[rstest]
#[case::malformed_date(&[("INSTRUMENT_START_DATE", "2024-13-01")], "INSTRUMENT_START_DATE")]
#[case::malformed_end_date(&[("INSTRUMENT_END_DATE", "yesterday")], "INSTRUMENT_END_DATE")]
#[case::start_after_end(&[("INSTRUMENT_START_DATE", "2024-05-02"), ("INSTRUMENT_END_DATE", "2024-05-01")], "INSTRUMENT_START_DATE and INSTRUMENT_END_DATE")]
#[case::download_start_after_end(&[("DOWNLOAD_START_DATE", "2024-05-02"), ("DOWNLOAD_END_DATE", "2024-05-01")], "DOWNLOAD_START_DATE")]
#[case::shard_index_too_big(&[("SHARD_INDEX", "4"), ("TOTAL_SHARDS", "4")], "SHARD_INDEX")]
#[case::shard_index_without_total(&[("SHARD_INDEX", "1")], "TOTAL_SHARDS")]
#[case::zero_total_shards(&[("SHARD_INDEX", "0"), ("TOTAL_SHARDS", "0")], "TOTAL_SHARDS")]
#[case::negative_concurrency(&[("MAX_CONCURRENT_REQUESTS", "-1")], "MAX_CONCURRENT_REQUESTS")]
#[case::zero_concurrency(&[("TARDIS_MAX_CONCURRENT", "0")], "TARDIS_MAX_CONCURRENT")]
#[case::negative_retries(&[("TARDIS_MAX_RETRIES", "-2")], "TARDIS_MAX_RETRIES")]
#[case::zero_timeout(&[("TARDIS_TIMEOUT", "0")], "TARDIS_TIMEOUT")]
#[case::zero_batch(&[("BATCH_SIZE", "0")], "BATCH_SIZE")]
#[case::zero_rate(&[("RATE_LIMIT_PER_VM", "0")], "RATE_LIMIT_PER_VM")]
#[case::zero_max_instruments(&[("DOWNLOAD_MAX_INSTRUMENTS", "0")], "DOWNLOAD_MAX_INSTRUMENTS")]
#[case::zero_instruments_per_shard(&[("INSTRUMENTS_PER_SHARD", "0")], "INSTRUMENTS_PER_SHARD")]
#[case::not_a_number(&[("CACHE_TTL", "an hour")], "CACHE_TTL")]
#[case::unknown_data_type(&[("DOWNLOAD_DATA_TYPES", "trades,orderbook")], "DOWNLOAD_DATA_TYPES")]
#[case::unknown_instrument_type(&[("DOWNLOAD_INSTRUMENT_TYPES", "swapz")], "DOWNLOAD_INSTRUMENT_TYPES")]
#[case::unknown_log_destination(&[("LOG_DESTINATION", "syslog")], "LOG_DESTINATION")]
#[case::unknown_log_level(&[("LOG_LEVEL", "LOUD")], "LOG_LEVEL")]
#[case::bad_boolean(&[("MEMORY_EFFICIENT", "maybe")], "MEMORY_EFFICIENT")]
#[case::malformed_sink_scheme(&[("MD_SINK", "ftp://bucket/x")], "MD_SINK")]
#[case::malformed_sink_no_bucket(&[("MD_SINK", "gs://")], "MD_SINK")]
#[case::relative_file_url(&[("MD_SINK", "file://data")], "MD_SINK")]
#[case::refused_bucket_upper(&[("GCS_BUCKET", "My_Bucket")], "GCS_BUCKET")]
#[case::refused_bucket_short(&[("GCS_BUCKET", "ab")], "GCS_BUCKET")]
#[case::refused_bucket_google(&[("GCS_BUCKET", "google-data")], "GCS_BUCKET")]
#[case::refused_bucket_in_sink(&[("MD_SINK", "gs://-bad-")], "MD_SINK")]
#[case::missing_credentials(&[("GCP_CREDENTIALS_PATH", "/nonexistent/key.json")], "GCP_CREDENTIALS_PATH")]
#[case::missing_adc_credentials(&[("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/adc.json")], "GOOGLE_APPLICATION_CREDENTIALS")]
#[case::conflicting_shards(&[("SHARD_INDEX", "1"), ("TOTAL_SHARDS", "4"), ("CLOUD_RUN_TASK_INDEX", "2"), ("CLOUD_RUN_TASK_COUNT", "4")], "SHARD_INDEX and CLOUD_RUN_TASK_INDEX")]
#[case::conflicting_engines(&[("BATCH_TASK_INDEX", "1"), ("BATCH_TASK_COUNT", "4"), ("CLOUD_RUN_TASK_INDEX", "1"), ("CLOUD_RUN_TASK_COUNT", "5")], "CLOUD_RUN_TASK_COUNT and BATCH_TASK_COUNT")]
#[case::kubernetes_without_total(&[("JOB_COMPLETION_INDEX", "3")], "TOTAL_SHARDS")]
#[case::misspelled_tardis_var(&[("TARDIS_API_KYE", "x")], "TARDIS_API_KYE")]
#[case::bad_url(&[("TARDIS_BASE_URL", "datasets.tardis.dev")], "TARDIS_BASE_URL")]
#[case::bad_layout(&[("MD_LAYOUT", "ticks/{date}/{nonsense}.csv.gz")], "MD_LAYOUT")]
#[case::small_part(&[("MD_SINK_PART_SIZE", "1024")], "MD_SINK_PART_SIZE")]
fn bad_configuration_exits_2_naming_the_variable(
    #[case] vars: &[(&str, &str)],
    #[case] culprit: &str,
) {
    let env = vars.iter().fold(TestEnv::new(), |env, (name, value)| env.var(name, value));
    let run = env.run(&["config"]);
    assert_eq!(run.code, 2, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(run.stderr.contains(culprit), "stderr does not name {culprit}: {}", run.stderr);
    assert!(run.stdout.is_empty(), "nothing is printed on stdout: {}", run.stdout);
}

#[test]
fn unparsable_yaml_exits_2_naming_the_file() {
    let env = TestEnv::new();
    env.write("config.yaml", "tardis: [unclosed\n");
    let run = env.run(&["config"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("config.yaml") && run.stderr.contains("unparsable YAML"),
        "{}",
        run.stderr
    );
}

#[test]
fn unknown_yaml_key_exits_2_naming_it() {
    let env = TestEnv::new();
    env.write("settings.yaml", "tardis:\n  time_out: 3\n");
    let run = env.run(&["--config", "settings.yaml", "config"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("tardis.time_out"), "{}", run.stderr);
}

#[test]
fn every_problem_is_reported_at_once_and_secrets_never_are() {
    let env = TestEnv::new()
        .var("TARDIS_API_KEY", "TD.do-not-print-me")
        .var("LOG_DESTINATION", "nowhere")
        .var("BATCH_SIZE", "0")
        .var("INSTRUMENT_START_DATE", "2024-02-30");
    let run = env.run(&["config"]);
    assert_eq!(run.code, 2);
    for culprit in ["LOG_DESTINATION", "BATCH_SIZE", "INSTRUMENT_START_DATE", "\"nowhere\""] {
        assert!(run.stderr.contains(culprit), "missing {culprit}: {}", run.stderr);
    }
    assert!(!run.stderr.contains("do-not-print-me"));
}

#[test]
fn flags_name_themselves_in_errors() {
    let run = TestEnv::new().run(&["--sink", "gs://UPPER", "config"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--sink (MD_SINK)"), "{}", run.stderr);
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let env = TestEnv::new();
    assert_eq!(env.run(&["no-such-command"]).code, 2);
    assert_eq!(env.run(&["config", "--no-such-flag"]).code, 2);
    let help = env.run(&["--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("MD_SINK"), "{}", help.stdout);
}

#[test]
fn shard_from_each_engine() {
    for (vars, index, total) in [
        (vec![("SHARD_INDEX", "2"), ("TOTAL_SHARDS", "8")], "2", "8"),
        (vec![("CLOUD_RUN_TASK_INDEX", "5"), ("CLOUD_RUN_TASK_COUNT", "60")], "5", "60"),
        (vec![("BATCH_TASK_INDEX", "59"), ("BATCH_TASK_COUNT", "60")], "59", "60"),
        (vec![("JOB_COMPLETION_INDEX", "7"), ("TOTAL_SHARDS", "10")], "7", "10"),
        (
            vec![
                ("SHARD_INDEX", "3"),
                ("TOTAL_SHARDS", "4"),
                ("BATCH_TASK_INDEX", "3"),
                ("BATCH_TASK_COUNT", "4"),
            ],
            "3",
            "4",
        ),
    ] {
        let env = vars.iter().fold(TestEnv::new(), |env, (name, value)| env.var(name, value));
        let value = json(&env.run(&["config", "--json"]));
        assert_eq!(value["SHARD_INDEX"]["value"], index, "{vars:?}");
        assert_eq!(value["TOTAL_SHARDS"]["value"], total, "{vars:?}");
    }
}

#[test]
fn default_sink_is_gcs_bucket_then_local_data() {
    let value = json(&TestEnv::new().var("GCS_BUCKET", "my-ticks").run(&["config", "--json"]));
    assert_eq!(value["MD_SINK"]["value"], "gs://my-ticks");
    assert_eq!(value["MD_SINK"]["source"], "env");
    let value = json(&TestEnv::new().run(&["config", "--json"]));
    assert_eq!(value["MD_SINK"]["value"], "./data");
    assert_eq!(value["MD_SINK"]["source"], "default");
}
