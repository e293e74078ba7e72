//! The Tardis API key read from Secret Manager (`TARDIS_SECRET_NAME`), through the binary, against the Tardis
//! stand-in and test-support's Secret Manager stand-in (`SECRET_MANAGER_EMULATOR_HOST`).

use rstest::rstest;
use test_support::secret_manager::{SecretFault, SecretManagerStub};

use crate::support::{
    KEY, Stand, TestEnv, args, fetch_btc_trades, main_job_stand, ok, plan_of, selection,
    small_files, stored_data_files,
};

const PROJECT: &str = "md-project";
const SECRET: &str = "tardis-api-key";
const RESOURCE: &str = "projects/md-project/secrets/tardis-api-key/versions/latest";

/// One day; one not the first of a month (2026-10-02): without the key, Tardis refuses its files.
fn on(day: &str) -> Vec<&str> {
    selection([day; 2], "deribit", "perpetual", "trades")
}

/// The Tardis stand-in expecting [`KEY`], and a Secret Manager stand-in on the same runtime.
fn stands() -> (Stand, SecretManagerStub) {
    let stand = main_job_stand(small_files());
    let secrets = stand.runtime.block_on(SecretManagerStub::start()).expect("it starts");
    (stand, secrets)
}

/// An environment without `TARDIS_API_KEY` whose key is the secret [`SECRET`] of [`PROJECT`].
fn secret_env(stand: &Stand, secrets: &SecretManagerStub) -> TestEnv {
    stand
        .env(None)
        .var("MD_SINK", "sink")
        .var("INSTRUMENT_EXCHANGES", "deribit")
        .var("TARDIS_SECRET_NAME", SECRET)
        .var("GCP_PROJECT_ID", PROJECT)
        .var("SECRET_MANAGER_EMULATOR_HOST", &secrets.url())
}

fn assert_no_key(text: &str, what: &str) {
    assert!(!text.contains(KEY), "the key appears in {what}:\n{text}");
}

/// The key is read from Secret Manager (once per process, through the emulator, without credentials), the download
/// that needs it works, and no output of any command shows it; `config` and `doctor` say where it came from.
#[test]
fn the_key_from_secret_manager_downloads_and_is_never_printed() {
    let (stand, secrets) = stands();
    secrets.insert(PROJECT, SECRET, format!("{KEY}\n").as_bytes());
    let env = secret_env(&stand, &secrets);

    // Trace logs: every HTTP detail the stack logs.
    let run = ok(env.run(&args("-vv", &[&["pipeline"], &on("2026-10-02")[..]].concat())));
    assert_eq!(secrets.requests().len(), 1, "one read per process");
    assert_eq!(secrets.requests()[0].authorization, None, "an emulator gets no credentials");
    assert_eq!(
        secrets.requests()[0].path,
        format!("/v1/projects/{PROJECT}/secrets/{SECRET}/versions/latest:access")
    );
    assert!(run.stderr.contains("Tardis API key read from Secret Manager"), "{}", run.stderr);
    assert_no_key(&run.stdout, "pipeline's stdout");
    assert_no_key(&run.stderr, "pipeline's stderr (trace logs)");
    // Every unit of the day was stored, which the stand-in allows only with the key.
    let units = plan_of(&env, &on("2026-10-02"));
    assert!(!units.is_empty());
    assert_eq!(
        stored_data_files(&env.dir.path().join("sink")).len(),
        units.len(),
        "{}",
        run.stdout
    );

    // `config` names the secret it will read, without reading it.
    let before = secrets.requests().len();
    let table = ok(env.run(&["config"]));
    let json = ok(env.run(&["config", "--json"]));
    assert_eq!(secrets.requests().len(), before, "config asks nothing");
    let line = table.stdout.lines().find(|line| line.starts_with("TARDIS_API_KEY ")).unwrap();
    assert!(
        line.contains("<read from Secret Manager>") && line.contains("secret-manager"),
        "{line}"
    );
    assert!(line.contains(RESOURCE), "{line}");
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["TARDIS_API_KEY"]["source"], "secret-manager");
    assert_eq!(json["TARDIS_API_KEY"]["origin"], RESOURCE);

    // `doctor` reads it, says so, and Tardis accepts it.
    let doctor = env.run(&["doctor", "--exchanges", "deribit", "--from", "2026-10-02"]);
    assert_eq!(secrets.requests().len(), before + 1);
    let configuration = doctor.stdout.lines().find(|line| line.contains("configuration")).unwrap();
    assert!(
        configuration
            .contains(&format!("the Tardis API key read from Secret Manager ({RESOURCE})")),
        "{}",
        doctor.stdout
    );
    let api_key = doctor.stdout.lines().find(|line| line.contains("api key")).unwrap();
    assert!(api_key.starts_with("ok"), "{}", doctor.stdout);
    for run in [&table, &doctor] {
        assert_no_key(&run.stdout, "stdout");
        assert_no_key(&run.stderr, "stderr");
    }
}

/// A secret that does not exist, or that the credentials may not read, stops every command that needs the key with
/// exit 2, naming the secret and its project, before Tardis is asked or anything is written; `doctor` prints its
/// checks, the api key check failing with a fix, and exits 2 as well.
#[rstest]
#[case::missing(false, "no secret tardis-api-key in project md-project")]
#[case::denied(true, "denies reading secret tardis-api-key of project md-project")]
fn a_missing_or_denied_secret_exits_2_naming_it(#[case] denied: bool, #[case] expected: &str) {
    let (stand, secrets) = stands();
    secrets.insert(PROJECT, "some-other-secret", b"TD.other");
    if denied {
        secrets.insert(PROJECT, SECRET, KEY.as_bytes());
        secrets.deny(PROJECT, SECRET);
    }
    let env = secret_env(&stand, &secrets);
    let instruments: &[&str] = &["instruments", "--from", "2026-10-02", "--exchanges", "deribit"];
    for command in [
        &[&["pipeline"], &on("2026-10-02")[..]].concat(),
        &[&["download"], &on("2026-10-02")[..]].concat(),
        instruments,
    ] {
        let run = env.run(command);
        assert_eq!(run.code, 2, "{command:?}\nstdout: {}\nstderr: {}", run.stdout, run.stderr);
        assert!(run.stderr.contains(expected), "{command:?}: {}", run.stderr);
        assert!(run.stderr.contains("TARDIS_SECRET_NAME"), "{command:?}: {}", run.stderr);
        assert_no_key(&run.stderr, "stderr");
    }
    let fetch = env.run(&fetch_btc_trades("out.csv.gz"));
    assert_eq!(fetch.code, 2, "{}", fetch.stderr);
    assert!(fetch.stderr.contains(expected), "{}", fetch.stderr);
    assert!(stand.stub.requests().is_empty(), "Tardis was asked without a key");
    assert!(!env.dir.path().join("sink").exists() && !env.dir.path().join("out.csv.gz").exists());

    let doctor = env.run(&["doctor", "--exchanges", "deribit", "--from", "2026-10-02"]);
    assert_eq!(doctor.code, 2, "{}\n{}", doctor.stdout, doctor.stderr);
    let api_key = doctor.stdout.lines().position(|line| line.contains("api key")).unwrap();
    let lines: Vec<&str> = doctor.stdout.lines().collect();
    assert!(
        lines[api_key].starts_with("FAIL") && lines[api_key].contains(expected),
        "{}",
        doctor.stdout
    );
    assert!(lines[api_key + 1].contains("fix:"), "{}", doctor.stdout);
}

/// Secret Manager is not asked when `USE_SECRET_MANAGER=false` (the run goes on without a key: free days only), nor
/// when `TARDIS_API_KEY` is set (it wins, although the original asked Secret Manager first).
#[rstest]
#[case::turned_off(&[("USE_SECRET_MANAGER", "false")], false)]
#[case::explicit_key_wins(&[("TARDIS_API_KEY", KEY)], true)]
fn secret_manager_is_not_asked(#[case] vars: &[(&str, &str)], #[case] keyed: bool) {
    let (stand, secrets) = stands();
    // A value that would fail every Tardis request, were it used.
    secrets.insert(PROJECT, SECRET, b"TD.wrong-key");
    let env =
        vars.iter().fold(secret_env(&stand, &secrets), |env, (name, value)| env.var(name, value));
    let day = if keyed { "2026-10-02" } else { "2026-10-01" };
    let run = ok(env.run(&args("pipeline", &on(day))));
    assert!(secrets.requests().is_empty(), "Secret Manager was asked");
    assert!(!stored_data_files(&env.dir.path().join("sink")).is_empty(), "{}", run.stdout);
    let doctor = env.run(&["doctor", "--exchanges", "deribit", "--from", day]);
    let configuration = doctor.stdout.lines().find(|line| line.contains("configuration")).unwrap();
    let expected = if keyed { "TARDIS_API_KEY from env" } else { "no TARDIS_API_KEY" };
    assert!(configuration.contains(expected), "{}", doctor.stdout);
    assert!(secrets.requests().is_empty(), "Secret Manager was asked by doctor");
}

/// Secret Manager answering 503 twice: the third request reads the key and the command works.
#[test]
fn secret_manager_errors_are_retried() {
    let (stand, secrets) = stands();
    secrets.insert(PROJECT, SECRET, KEY.as_bytes());
    secrets.push_faults(SecretFault::Status(503), 2);
    let env = secret_env(&stand, &secrets);
    ok(env.run(&args("instruments", &["--from", "2026-10-02", "--exchanges", "deribit"])));
    assert_eq!(secrets.requests().len(), 3);
}
