//! Reading a secret from Secret Manager, against test-support's stand-in on 127.0.0.1.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use gcs_sink::secret_manager::{SecretError, SecretManager, google_credentials};
use md_config::SecretManagerConfig;
use rstest::rstest;
use test_support::secret_manager::{SecretFault, SecretManagerStub};

const PROJECT: &str = "md-project";
const SECRET: &str = "tardis-api-key";

/// The throwaway service-account key of test-support's fixtures.
fn key_file() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-support/fixtures/google/test-service-account.json"
    ))
}

fn config(stub: &SecretManagerStub, secret: &str) -> SecretManagerConfig {
    SecretManagerConfig {
        project_id: PROJECT.to_owned(),
        secret: secret.to_owned(),
        emulator_host: Some(stub.url().parse().expect("a URL")),
        credentials_path: None,
    }
}

/// The client of `from_config`, with short pauses so that retries take milliseconds.
fn client(stub: &SecretManagerStub, secret: &str) -> SecretManager {
    SecretManager::from_config(&config(stub, secret))
        .expect("an emulator needs no credentials")
        .with_timing(Duration::from_millis(300), Duration::from_millis(10))
}

#[tokio::test]
async fn the_latest_version_is_read_through_the_emulator_without_credentials() {
    let stub = SecretManagerStub::start().await.unwrap();
    stub.insert(PROJECT, SECRET, b"TD.old");
    stub.insert(PROJECT, SECRET, b"TD.current-key\n");
    let secret = client(&stub, SECRET).read_latest().await.unwrap();
    // The newest version, without the newline `echo | gcloud secrets create` leaves.
    assert_eq!(secret.expose(), "TD.current-key");
    assert_eq!(format!("{secret:?} {secret}"), "<redacted> <redacted>");
    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].path,
        "/v1/projects/md-project/secrets/tardis-api-key/versions/latest:access"
    );
    assert_eq!(requests[0].authorization, None);
}

#[rstest]
#[case::missing(false, "no secret tardis-api-key in project md-project")]
#[case::denied(true, "denies reading secret tardis-api-key of project md-project")]
#[tokio::test]
async fn a_missing_or_denied_secret_is_final_and_named(
    #[case] denied: bool,
    #[case] expected: &str,
) {
    let stub = SecretManagerStub::start().await.unwrap();
    stub.insert(PROJECT, "another-secret", b"TD.other");
    if denied {
        stub.insert(PROJECT, SECRET, b"TD.hidden");
        stub.deny(PROJECT, SECRET);
    }
    let error = client(&stub, SECRET).read_latest().await.unwrap_err();
    assert!(
        matches!(error, SecretError::NotFound { .. } | SecretError::Denied { .. }),
        "{error:?}"
    );
    assert!(!error.is_transient());
    let message = error.to_string();
    assert!(message.contains(expected), "{message}");
    assert!(!message.contains("TD.hidden"), "{message}");
    assert_eq!(stub.requests().len(), 1, "a final answer is not retried");
}

#[rstest]
#[case::two_503s(SecretFault::Status(503), 2, Ok(3))]
#[case::a_500_and_a_429(SecretFault::Status(500), 1, Ok(3))]
#[case::a_stall_past_the_timeout(SecretFault::Stall(Duration::from_secs(3)), 1, Ok(2))]
#[case::always_503(SecretFault::Status(503), 10, Err(4))]
#[case::always_stalled(SecretFault::Stall(Duration::from_secs(3)), 10, Err(4))]
#[tokio::test]
async fn timeouts_and_server_errors_are_retried_a_few_times(
    #[case] fault: SecretFault,
    #[case] count: usize,
    #[case] outcome: Result<usize, u32>,
) {
    let stub = SecretManagerStub::start().await.unwrap();
    stub.insert(PROJECT, SECRET, b"TD.key");
    stub.push_faults(fault, count);
    if fault == SecretFault::Status(500) {
        stub.push_faults(SecretFault::Status(429), 1);
    }
    let result = client(&stub, SECRET).read_latest().await;
    match outcome {
        Ok(requests) => {
            assert_eq!(result.unwrap().expose(), "TD.key");
            assert_eq!(stub.requests().len(), requests);
        }
        Err(attempts) => {
            let error = result.unwrap_err();
            assert!(error.is_transient(), "{error:?}");
            assert!(
                matches!(&error, SecretError::Unavailable { attempts: made, .. } if *made == attempts),
                "{error:?}"
            );
            assert!(error.to_string().contains("tardis-api-key"), "{error}");
        }
    }
}

/// With a service-account key file (what `GCP_CREDENTIALS_PATH` names for the sink), every request carries the
/// bearer token object_store's GCP credential provider makes from it: a self-signed JWT with the cloud-platform
/// scope, issued by the key's service account.
#[tokio::test]
async fn requests_carry_the_sinks_google_credentials() {
    let stub = SecretManagerStub::start().await.unwrap();
    stub.insert(PROJECT, SECRET, b"TD.signed");
    stub.require_bearer(true);
    let with_key =
        SecretManagerConfig { credentials_path: Some(key_file()), ..config(&stub, SECRET) };
    let credentials = google_credentials(&with_key).expect("the key file is usable");
    let client = SecretManager::new(&stub.url(), &with_key, Some(credentials));
    assert_eq!(client.read_latest().await.unwrap().expose(), "TD.signed");
    let authorization = stub.requests()[0].authorization.clone().expect("a bearer token");
    let jwt = authorization.strip_prefix("Bearer ").expect("a bearer token");
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], "md-test@md-test-project.iam.gserviceaccount.com");
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/cloud-platform");

    // Without credentials the stand-in, like Google, answers 401: final, named.
    let anonymous = SecretManager::new(&stub.url(), &with_key, None);
    let error = anonymous.read_latest().await.unwrap_err();
    assert!(matches!(error, SecretError::Refused { status: 401, .. }), "{error:?}");
}

#[test]
fn an_unreadable_key_file_is_a_credentials_error_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("key.json");
    std::fs::write(&bad, "{ not a key").unwrap();
    let config = SecretManagerConfig {
        project_id: PROJECT.to_owned(),
        secret: SECRET.to_owned(),
        emulator_host: None,
        credentials_path: Some(bad),
    };
    let error = SecretManager::from_config(&config).unwrap_err();
    assert!(matches!(error, SecretError::Credentials { .. }), "{error:?}");
    assert!(error.to_string().contains("tardis-api-key"), "{error}");
}
