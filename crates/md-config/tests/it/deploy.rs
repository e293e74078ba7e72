//! The deployment files under deploy/ parse, every environment variable they set is one md-config knows, and the
//! environment each one gives a task loads cleanly, with the shard the engine's task index names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_norway::Value;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn read(relative: &str) -> String {
    let path = deploy_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn yaml(relative: &str) -> Value {
    serde_norway::from_str(&read(relative))
        .unwrap_or_else(|error| panic!("{relative} does not parse: {error}"))
}

/// Collects the variables a manifest sets, with their literal values (`None` for secret references), whatever the
/// engine's shape: Kubernetes / Cloud Run `env: [{name, value | valueFrom}]`, Cloud Batch
/// `environment: {variables: {...}, secretVariables: {...}}`, compose `environment: {NAME: value}`.
fn collect_env(value: &Value, vars: &mut BTreeMap<String, Option<String>>) {
    let text = |value: &Value| match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    };
    match value {
        Value::Mapping(mapping) => {
            for (key, child) in mapping {
                match (key.as_str(), child) {
                    (Some("env"), Value::Sequence(items)) => {
                        for item in items {
                            let name = item
                                .get("name")
                                .and_then(Value::as_str)
                                .expect("env entries have a name");
                            vars.insert(name.to_owned(), item.get("value").and_then(text));
                        }
                    }
                    (Some("secretVariables"), Value::Mapping(secrets)) => {
                        for name in secrets.keys().filter_map(Value::as_str) {
                            vars.insert(name.to_owned(), None);
                        }
                    }
                    (Some("variables"), Value::Mapping(plain))
                    | (Some("environment"), Value::Mapping(plain))
                        if !plain.contains_key("variables") =>
                    {
                        for (name, value) in plain {
                            if let Some(name) = name.as_str() {
                                vars.insert(name.to_owned(), text(value));
                            }
                        }
                    }
                    _ => collect_env(child, vars),
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|item| collect_env(item, vars)),
        _ => {}
    }
}

fn env_of(relative: &str) -> BTreeMap<String, Option<String>> {
    let mut vars = BTreeMap::new();
    collect_env(&yaml(relative), &mut vars);
    vars
}

/// A compose value as compose interpolates it in a shell that exports none of its names: `${NAME:-default}` is
/// `default`.
fn interpolated(value: &str) -> String {
    match value.strip_prefix("${").and_then(|rest| rest.strip_suffix('}')) {
        Some(inner) => {
            inner.split_once(":-").map(|(_, default)| default.to_owned()).unwrap_or_default()
        }
        None => value.to_owned(),
    }
}

fn known(name: &str) -> bool {
    md_config::spec(name).is_some()
}

/// Loads md-config from exactly these variables (secrets replaced by a placeholder key), as a task would.
fn load(vars: &BTreeMap<String, Option<String>>) -> md_config::Result<md_config::Loaded> {
    let dir = tempfile::tempdir().unwrap();
    let environment = vars
        .iter()
        .map(|(name, value)| {
            (name.clone(), value.clone().unwrap_or_else(|| "TD.from-secret".into()))
        })
        .collect();
    md_config::load(&md_config::LoadOptions {
        environment: Some(environment),
        working_dir: Some(dir.path().to_path_buf()),
        home_dir: Some(dir.path().to_path_buf()),
        skip_system_config: true,
        today: Some(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()),
        ..md_config::LoadOptions::default()
    })
}

const FLEET: &[&str] = &[
    "fleet/cloud-batch-job.yaml",
    "fleet/cloud-batch-instruments.yaml",
    "fleet/cloud-run-job.yaml",
    "fleet/k8s-indexed-job.yaml",
    "fleet/k8s-instruments-job.yaml",
];

#[test]
fn every_manifest_parses_and_sets_only_known_variables() {
    let every_file: BTreeSet<String> = ["fleet", "compose"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(deploy_dir().join(dir)).unwrap())
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .map(|path| path.strip_prefix(deploy_dir()).unwrap().to_string_lossy().into_owned())
        .collect();
    let checked: BTreeSet<String> =
        FLEET.iter().chain(&["compose/compose.yaml"]).map(|file| (*file).to_owned()).collect();
    assert_eq!(every_file, checked, "every manifest under deploy/ is checked here");
    for file in &checked {
        let names = env_of(file);
        assert!(names.len() >= 7, "{file}: found only {names:?}");
        let unknown: Vec<&String> = names.keys().filter(|name| !known(name)).collect();
        assert!(unknown.is_empty(), "{file} sets variables md-config does not know: {unknown:?}");
        assert!(
            names.contains_key("TARDIS_API_KEY") && names.contains_key("GCS_BUCKET"),
            "{file}: {names:?}"
        );
        // The engines set the shard index themselves; a fixed SHARD_INDEX would make every task the same shard.
        if file.starts_with("fleet/") {
            assert!(
                !names.contains_key("SHARD_INDEX"),
                "{file} must rely on the engine's task index"
            );
            assert_eq!(names["TARDIS_API_KEY"], None, "{file}: the key comes from a secret");
        }
    }
}

/// Each fleet manifest's environment, plus what its engine sets in task `index`, loads into md-config as that shard.
#[test]
fn each_engine_task_index_becomes_the_shard() {
    let cases: [(&str, &[(&str, &str)]); 3] = [
        ("fleet/cloud-batch-job.yaml", &[("BATCH_TASK_INDEX", "7"), ("BATCH_TASK_COUNT", "60")]),
        (
            "fleet/cloud-run-job.yaml",
            &[("CLOUD_RUN_TASK_INDEX", "7"), ("CLOUD_RUN_TASK_COUNT", "60")],
        ),
        // Kubernetes sets only the index; TOTAL_SHARDS comes from the manifest.
        ("fleet/k8s-indexed-job.yaml", &[("JOB_COMPLETION_INDEX", "7")]),
    ];
    for (file, engine_vars) in cases {
        let mut vars = env_of(file);
        for &(name, value) in engine_vars {
            vars.insert(name.to_owned(), Some(value.to_owned()));
        }
        let loaded = load(&vars).unwrap_or_else(|error| panic!("{file}: {error}"));
        let sharding = &loaded.config.sharding;
        assert_eq!((sharding.shard_index, sharding.total_shards.get()), (7, 60), "{file}");
        assert!(loaded.config.tardis.api_key.is_some(), "{file}");
        assert_eq!(loaded.config.sink.location.to_string(), "gs://my-tick-bucket", "{file}");
    }
    for file in ["fleet/cloud-batch-instruments.yaml", "fleet/k8s-instruments-job.yaml"] {
        load(&env_of(file)).unwrap_or_else(|error| panic!("{file}: {error}"));
    }
    // Compose with nothing exported: every value is empty, so md-config's own defaults apply.
    let compose: BTreeMap<String, Option<String>> = env_of("compose/compose.yaml")
        .into_iter()
        .map(|(name, value)| (name, value.as_deref().map(interpolated)))
        .collect();
    assert!(compose.values().all(|value| value.as_deref() == Some("")), "{compose:?}");
    let loaded = load(&compose).unwrap();
    assert_eq!(loaded.config.sink.location.to_string(), "./data");
}

/// The one-off `instruments` job writes the definitions the download fleet plans from: same range, its venues.
#[test]
fn each_instruments_job_covers_its_download_fleet() {
    for (instruments, download) in [
        ("fleet/cloud-batch-instruments.yaml", "fleet/cloud-batch-job.yaml"),
        ("fleet/k8s-instruments-job.yaml", "fleet/k8s-indexed-job.yaml"),
        // Cloud Run runs both commands from one job definition (`--args instruments`).
        ("fleet/cloud-run-job.yaml", "fleet/cloud-run-job.yaml"),
    ] {
        let written = load(&env_of(instruments)).unwrap().config;
        let mut download_env = env_of(download);
        download_env.insert("SHARD_INDEX".into(), Some("0".into()));
        download_env.entry("TOTAL_SHARDS".into()).or_insert(Some("60".into()));
        let planned = load(&download_env).unwrap().config;
        assert_eq!(
            written.instruments.dates, planned.download.dates,
            "{instruments} must write the days {download} downloads"
        );
        for venue in &planned.download.venues {
            assert!(
                written.instruments.exchanges.contains(venue),
                "{download} downloads {venue}, which {instruments} does not define"
            );
        }
    }
}

#[test]
fn the_kubernetes_job_declares_as_many_shards_as_completions() {
    let job = yaml("fleet/k8s-indexed-job.yaml");
    let completions = job["spec"]["completions"].as_u64().expect("completions");
    assert_eq!(job["spec"]["completionMode"].as_str(), Some("Indexed"));
    let env = env_of("fleet/k8s-indexed-job.yaml");
    assert_eq!(env["TOTAL_SHARDS"].as_deref().map(str::parse::<u64>), Some(Ok(completions)));
    let rules = job["spec"]["podFailurePolicy"]["rules"].as_sequence().unwrap();
    assert_eq!(rules[0]["action"].as_str(), Some("FailJob"));
    assert_eq!(rules[0]["onExitCodes"]["values"][0].as_u64(), Some(2));
}

#[test]
fn the_batch_jobs_use_the_secret_manager_for_the_key_and_fail_fast_on_bad_config() {
    for (file, tasks) in
        [("fleet/cloud-batch-job.yaml", 60), ("fleet/cloud-batch-instruments.yaml", 1)]
    {
        let job = yaml(file);
        let group = &job["taskGroups"][0];
        let secret = group["taskSpec"]["environment"]["secretVariables"]["TARDIS_API_KEY"]
            .as_str()
            .expect("secret");
        assert!(
            secret.starts_with("projects/") && secret.contains("/secrets/"),
            "{file}: {secret}"
        );
        assert!(group["taskCount"].as_u64().unwrap() >= tasks, "{file}");
        let exit_codes = &group["taskSpec"]["lifecyclePolicies"][0]["actionCondition"]["exitCodes"];
        assert_eq!(exit_codes[0].as_u64(), Some(2), "{file}");
        assert_eq!(
            group["taskSpec"]["runnables"][0]["container"]["commands"][0].as_str(),
            Some(if tasks == 1 { "instruments" } else { "download" }),
            "{file}"
        );
    }
}

/// `cargo xtask image` stages `target/image/` with the binary, the CA bundle and the Containerfile; the compose file
/// builds from exactly there, and every service uses host networking and mounts credentials read-only.
#[test]
fn the_compose_file_builds_from_what_xtask_image_stages() {
    let compose = yaml("compose/compose.yaml");
    let services = compose["services"].as_mapping().expect("services");
    let names: BTreeSet<&str> = services.keys().filter_map(Value::as_str).collect();
    assert_eq!(names, BTreeSet::from(["instruments", "download", "pipeline"]));
    // serde_norway keeps `<<` merge keys as data: look through them.
    let field = |service: &Value, key: &str| -> Value {
        service
            .get(key)
            .or_else(|| service.get("<<").and_then(|base| base.get(key)))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let mut built = 0;
    for (name, service) in services {
        assert_eq!(field(service, "network_mode").as_str(), Some("host"), "{name:?}");
        assert_eq!(field(service, "image").as_str(), Some("localhost/md:latest"), "{name:?}");
        let volumes = field(service, "volumes");
        for volume in volumes.as_sequence().expect("volumes") {
            assert!(volume.as_str().unwrap().ends_with(":/secrets:ro"), "{name:?}: {volume:?}");
        }
        let build = field(service, "build");
        if !build.is_null() {
            built += 1;
            assert_eq!(build["context"].as_str(), Some("../../target/image"));
            assert_eq!(build["dockerfile"].as_str(), Some("Containerfile"));
        }
    }
    assert_eq!(built, 1, "one service builds the image, the others reuse it");

    let containerfile = read("Containerfile");
    let copied: BTreeSet<&str> = containerfile
        .lines()
        .filter_map(|line| line.strip_prefix("COPY "))
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(copied, BTreeSet::from(["md-cli", "ca-certificates.crt"]));
    assert!(
        containerfile.contains("FROM scratch")
            && containerfile.contains("ENTRYPOINT [\"/md-cli\"]")
    );
    let image_task = std::fs::read_to_string(deploy_dir().join("../xtask/src/image.rs"))
        .expect("xtask/src/image.rs");
    for staged in ["\"target/image\"", "\"md-cli\"", "\"ca-certificates.crt\"", "\"Containerfile\""]
    {
        assert!(image_task.contains(staged), "xtask image no longer stages {staged}");
    }
}

/// md-cli refuses unknown `MD_*`/`TARDIS_*` variables, so a compose setting with such a name that md-config does
/// not know would break md-cli in the shell that exports it.
#[test]
fn compose_interpolates_only_known_or_unowned_names() {
    let text = read("compose/compose.yaml");
    let mut names = BTreeSet::new();
    for piece in text.split("${").skip(1) {
        let name: String =
            piece.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        names.insert(name);
    }
    assert!(names.contains("CREDENTIALS_DIR") && names.contains("TARDIS_API_KEY"), "{names:?}");
    for name in names {
        let owned = name.starts_with("MD_") || name.starts_with("TARDIS_");
        assert!(known(&name) || !owned, "compose.yaml interpolates {name}, unknown to md-config");
    }
}

#[test]
fn the_vm_environment_file_loads_and_the_unit_restarts_only_what_can_succeed() {
    let text = read("vm/md.env.example");
    let vars: BTreeMap<String, Option<String>> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.split_once('=').expect("NAME=value"))
        .map(|(name, value)| (name.to_owned(), Some(value.to_owned())))
        .collect();
    assert!(vars.len() >= 8);
    for name in vars.keys() {
        assert!(known(name), "deploy/vm/md.env.example sets unknown {name}");
    }
    assert!(
        !vars.contains_key("TARDIS_API_KEY"),
        "the key comes from Secret Manager, not metadata"
    );
    let loaded = load(&vars).unwrap();
    assert_eq!(loaded.config.sharding.total_shards.get(), 1);

    let unit = read("vm/md-download.service");
    for line in [
        "EnvironmentFile=/etc/md/md.env",
        "ExecStart=/usr/local/bin/md-daily 3",
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
        "StandardError=journal",
        "KillSignal=SIGTERM",
    ] {
        assert!(unit.lines().any(|unit_line| unit_line == line), "the unit lacks {line}");
    }
    assert!(read("vm/md-download.timer").contains("OnCalendar="));
}

/// Every instance-metadata key startup.sh reads is passed by the documented `gcloud compute instances create`.
#[test]
fn the_startup_script_is_given_everything_it_reads() {
    let script = read("vm/startup.sh");
    let read_keys: BTreeSet<String> = script
        .split("metadata ")
        .skip(1)
        .map(|rest| rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect())
        .filter(|key: &String| key.starts_with("md-"))
        .collect();
    assert!(read_keys.len() >= 6, "{read_keys:?}");
    let create = script
        .lines()
        .skip_while(|line| !line.contains("gcloud compute instances create"))
        .take_while(|line| line.trim_end().ends_with('\\') || line.contains("--metadata"))
        .collect::<Vec<_>>()
        .join("\n");
    for key in &read_keys {
        assert!(create.contains(&format!("{key}=")), "the create command does not pass {key}");
    }
    for file in ["md-download.service", "md-download.timer", "md-daily.sh", "startup.sh"] {
        assert!(
            create.contains(&format!("deploy/vm/{file}")),
            "the create command does not pass {file}"
        );
        assert!(deploy_dir().join("vm").join(file).is_file());
    }
}

#[test]
fn the_collector_sees_each_engine_shape() {
    let manifest: Value = serde_norway::from_str(
        "a: {env: [{name: K8S_VAR, value: x}, {name: K8S_SECRET, valueFrom: {secretKeyRef: {name: s}}}]}\n\
         b: {environment: {variables: {BATCH_VAR: 5}, secretVariables: {SECRET_VAR: y}}}\nc: {environment: {COMPOSE_VAR: z}}\n",
    )
    .unwrap();
    let mut vars = BTreeMap::new();
    collect_env(&manifest, &mut vars);
    let expected: BTreeMap<String, Option<String>> = [
        ("K8S_VAR", Some("x")),
        ("K8S_SECRET", None),
        ("BATCH_VAR", Some("5")),
        ("SECRET_VAR", None),
        ("COMPOSE_VAR", Some("z")),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.map(str::to_owned)))
    .collect();
    assert_eq!(vars, expected);
    assert!(!known("K8S_VAR") && known("TARDIS_API_KEY"));
}
