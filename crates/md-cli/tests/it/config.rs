//! `md-cli config` and the configuration contract: sources, redaction, every problem reported at once.
//! The table of bad configurations (exit 2, culprit named, nothing written) is in `chaos`.

use crate::support::TestEnv;

fn json(run: &crate::support::Run) -> serde_json::Value {
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("config --json prints JSON")
}

/// An environment with these variables set.
fn env_with(vars: &[(&str, &str)]) -> TestEnv {
    vars.iter().fold(TestEnv::new(), |env, (name, value)| env.var(name, value))
}

#[test]
fn config_shows_each_value_with_its_source_and_redacts_the_key() {
    let env = env_with(&[
        ("TARDIS_API_KEY", "TD.super-secret-key-123"),
        ("TARDIS_MAX_RETRIES", "7"),
        ("CLOUD_RUN_TASK_INDEX", "3"),
        ("CLOUD_RUN_TASK_COUNT", "60"),
    ]);
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

#[test]
fn every_problem_is_reported_at_once_and_secrets_never_are() {
    let env = env_with(&[
        ("TARDIS_API_KEY", "TD.do-not-print-me"),
        ("LOG_DESTINATION", "nowhere"),
        ("BATCH_SIZE", "0"),
        ("INSTRUMENT_START_DATE", "2024-02-30"),
    ]);
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

/// `--version` names the inflater the binary was built with, and it is the one md-cli's `isal` feature asks for (a
/// dependency that kept its default features would bring ISA-L into a build without it).
#[test]
fn the_version_names_the_inflater_of_this_build() {
    let run = TestEnv::new().run(&["--version"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let inflater = if cfg!(feature = "isal") { "ISA-L" } else { "zlib-rs" };
    assert_eq!(run.stdout, format!("md-cli {} (inflate: {inflater})\n", env!("CARGO_PKG_VERSION")));
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
        let value = json(&env_with(&vars).run(&["config", "--json"]));
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

/// Every flag that sets a variable shows it in its command's help as md-config's table of flags declares it, and no
/// other help claims a variable: the help and the table cannot disagree.
#[test]
fn each_flags_help_names_the_variable_of_its_table_entry() {
    use md_config::flags::{Command, FLAGS};
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    for command in Command::ALL {
        let help =
            words(&crate::support::ok(TestEnv::new().run(&[command.name(), "--help"])).stdout);
        let flags: Vec<_> = FLAGS.iter().filter(|flag| flag.is_taken_by(command)).collect();
        for flag in &flags {
            let shown = words(&flag.help_with_env());
            assert!(help.contains(&shown), "`{} --help` lacks {shown:?}:\n{help}", command.name());
        }
        assert_eq!(help.matches("[env: ").count(), flags.len(), "{}: {help}", command.name());
    }
}

/// `--force` means one thing in every command: replace what is stored instead of keeping it. A definitions file this
/// version cannot read fails `instruments` and is left alone; `instruments --force`, `MD_FORCE=true` and
/// `pipeline --force` replace it (the last two since `instruments --force` became `MD_FORCE`).
#[rstest::rstest]
#[case::instruments_flag(&["instruments", "--force"], &[])]
#[case::the_variable(&["instruments"], &[("MD_FORCE", "true")])]
#[case::pipeline_flag(&["pipeline", "--force"], &[])]
fn force_replaces_a_definitions_file_md_cannot_read(
    #[case] line: &[&str],
    #[case] vars: &[(&str, &str)],
) {
    use crate::support::{FROM, main_job_stand, ok, sink_path, small_files};
    let stand = main_job_stand(small_files());
    let env = crate::support::local_env(&stand);
    let object = format!("instrument_availability/by_date/day-{FROM}/instruments.parquet");
    let path = sink_path(&env, &object);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "not a definitions file").unwrap();
    let range = ["--from", FROM, "--to", FROM];
    let kept = env.run(&[&["instruments"][..], &range].concat());
    assert_ne!(kept.code, 0, "{}", kept.stderr);
    assert!(kept.stderr.contains(&object), "{}", kept.stderr);
    assert_eq!(std::fs::read(&path).unwrap(), b"not a definitions file", "left alone");
    let env = vars.iter().fold(env, |env, (name, value)| env.var(name, value));
    ok(env.run(&[line, &range].concat()));
    assert_ne!(std::fs::read(&path).unwrap(), b"not a definitions file", "{line:?} {vars:?}");
}
