//! The deployment files under deploy/ parse, and every environment variable they set is one md-config knows.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_norway::Value;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn yaml(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_norway::from_str(&text)
        .unwrap_or_else(|error| panic!("{} does not parse: {error}", path.display()))
}

/// Collects variable names a manifest sets, whatever the engine's shape:
/// Kubernetes / Cloud Run `env: [{name: ...}]`, Cloud Batch `environment: {variables: {...}, secretVariables: {...}}`,
/// compose `environment: {NAME: value}`.
fn collect_env(value: &Value, names: &mut BTreeSet<String>) {
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
                            names.insert(name.to_owned());
                        }
                    }
                    (Some("variables" | "secretVariables"), Value::Mapping(vars))
                    | (Some("environment"), Value::Mapping(vars))
                        if !vars.contains_key("variables") =>
                    {
                        names.extend(vars.keys().filter_map(Value::as_str).map(str::to_owned));
                    }
                    _ => collect_env(child, names),
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|item| collect_env(item, names)),
        _ => {}
    }
}

fn known(name: &str) -> bool {
    md_config::spec(name).is_some()
}

#[test]
fn every_manifest_parses_and_sets_only_known_variables() {
    let manifests = [
        ("fleet/cloud-batch-job.yaml", 10),
        ("fleet/cloud-run-job.yaml", 8),
        ("fleet/k8s-indexed-job.yaml", 7),
        ("compose/compose.yaml", 15),
    ];
    for (file, at_least) in manifests {
        let mut names = BTreeSet::new();
        collect_env(&yaml(&deploy_dir().join(file)), &mut names);
        assert!(names.len() >= at_least, "{file}: found only {names:?}");
        let unknown: Vec<&String> = names.iter().filter(|name| !known(name)).collect();
        assert!(unknown.is_empty(), "{file} sets variables md-config does not know: {unknown:?}");
        assert!(
            names.contains("TARDIS_API_KEY") && names.contains("GCS_BUCKET"),
            "{file}: {names:?}"
        );
        // The engines set the shard index themselves; a fixed SHARD_INDEX would make every task the same shard.
        if file.starts_with("fleet/") {
            assert!(!names.contains("SHARD_INDEX"), "{file} must rely on the engine's task index");
        }
    }
}

#[test]
fn the_kubernetes_job_declares_as_many_shards_as_completions() {
    let job = yaml(&deploy_dir().join("fleet/k8s-indexed-job.yaml"));
    let completions = job["spec"]["completions"].as_u64().expect("completions");
    assert_eq!(job["spec"]["completionMode"].as_str(), Some("Indexed"));
    let env = job["spec"]["template"]["spec"]["containers"][0]["env"].as_sequence().expect("env");
    let total = env
        .iter()
        .find(|entry| entry["name"].as_str() == Some("TOTAL_SHARDS"))
        .expect("TOTAL_SHARDS");
    assert_eq!(total["value"].as_str().map(str::parse::<u64>), Some(Ok(completions)));
}

#[test]
fn the_batch_job_uses_the_secret_manager_for_the_key_and_fails_fast_on_bad_config() {
    let job = yaml(&deploy_dir().join("fleet/cloud-batch-job.yaml"));
    let group = &job["taskGroups"][0];
    let secret = group["taskSpec"]["environment"]["secretVariables"]["TARDIS_API_KEY"]
        .as_str()
        .expect("secret");
    assert!(secret.starts_with("projects/") && secret.contains("/secrets/"), "{secret}");
    assert!(group["taskCount"].as_u64().unwrap() >= 60);
    let exit_codes = &group["taskSpec"]["lifecyclePolicies"][0]["actionCondition"]["exitCodes"];
    assert_eq!(exit_codes[0].as_u64(), Some(2));
}

#[test]
fn the_vm_environment_file_holds_only_known_variables() {
    let text = std::fs::read_to_string(deploy_dir().join("vm/md.env.example")).unwrap();
    let names: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.split_once('=').expect("NAME=value").0)
        .collect();
    assert!(names.len() >= 8);
    for name in names {
        assert!(known(name), "deploy/vm/md.env.example sets unknown {name}");
    }
    let unit = std::fs::read_to_string(deploy_dir().join("vm/md-download.service")).unwrap();
    for line in [
        "EnvironmentFile=/etc/md/md.env",
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
        "StandardError=journal",
    ] {
        assert!(unit.contains(line), "the unit lacks {line}");
    }
}

#[test]
fn the_collector_sees_each_engine_shape() {
    let manifest: Value = serde_norway::from_str(
        "a: {env: [{name: K8S_VAR, value: x}]}\nb: {environment: {variables: {BATCH_VAR: x}, secretVariables: {SECRET_VAR: y}}}\nc: {environment: {COMPOSE_VAR: z}}\n",
    )
    .unwrap();
    let mut names = BTreeSet::new();
    collect_env(&manifest, &mut names);
    assert_eq!(
        names,
        BTreeSet::from(["K8S_VAR", "BATCH_VAR", "SECRET_VAR", "COMPOSE_VAR"].map(String::from))
    );
    assert!(!known("K8S_VAR") && known("TARDIS_API_KEY"));
}
