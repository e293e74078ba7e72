//! Reading one secret from Google Secret Manager, with the sink's Google credentials.
//!
//! The one call is `AccessSecretVersion` over REST: `GET {base}/v1/projects/{project}/secrets/{secret}/versions/latest:access`,
//! whose JSON answer carries the value base64-encoded in `payload.data` (and its CRC32C in `payload.dataCrc32c`,
//! checked here). The credentials are the ones a `gs://` sink uses, obtained through object_store's GCP credential
//! provider: a service-account key file (`GCP_CREDENTIALS_PATH` or `GOOGLE_APPLICATION_CREDENTIALS`, a self-signed JWT
//! with the `cloud-platform` scope, no token exchange), else application default credentials (the gcloud ADC file,
//! else the metadata server). With an emulator (`SECRET_MANAGER_EMULATOR_HOST`) no credentials are used.
//!
//! This module lives in gcs-sink because gcs-sink is the crate that holds Google credentials; it knows nothing of
//! what the secret is for. The value comes back as an [`md_config::Secret`] and never appears in errors or logs.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use md_config::{Secret, SecretManagerConfig};
use object_store::gcp::{GcpCredentialProvider, GoogleCloudStorageBuilder};

/// Google's Secret Manager endpoint.
pub const DEFAULT_BASE_URL: &str = "https://secretmanager.googleapis.com";

/// How long one request may take (connect, headers and body).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Retries after the first attempt, for timeouts, connection errors, 429 and 5xx.
const MAX_RETRIES: u32 = 3;
/// The first pause between attempts; it doubles each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// Why a secret could not be read. None of these carries the secret's value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The Google credentials could not be loaded or could not give a token.
    #[error(
        "cannot get Google credentials to read secret {secret} of project {project} from Secret Manager: {source}"
    )]
    Credentials {
        /// The project.
        project: String,
        /// The secret's id.
        secret: String,
        /// What object_store's credential provider said.
        #[source]
        source: object_store::Error,
    },
    /// No such secret, or it has no enabled version (404).
    #[error(
        "Secret Manager has no secret {secret} in project {project} (or no enabled version of it): {message}"
    )]
    NotFound {
        /// The project.
        project: String,
        /// The secret's id.
        secret: String,
        /// Google's message.
        message: String,
    },
    /// The credentials may not read the secret (403).
    #[error(
        "Secret Manager denies reading secret {secret} of project {project} (the credentials need roles/secretmanager.secretAccessor on it): {message}"
    )]
    Denied {
        /// The project.
        project: String,
        /// The secret's id.
        secret: String,
        /// Google's message.
        message: String,
    },
    /// Any other refusal (401, 400, ...), final.
    #[error(
        "Secret Manager refused reading secret {secret} of project {project}: HTTP {status}: {message}"
    )]
    Refused {
        /// The project.
        project: String,
        /// The secret's id.
        secret: String,
        /// The HTTP status.
        status: u16,
        /// Google's message.
        message: String,
    },
    /// Timeouts, connection errors, 429 or 5xx on every attempt.
    #[error(
        "Secret Manager did not answer for secret {secret} of project {project} after {attempts} attempt(s): {last}"
    )]
    Unavailable {
        /// The project.
        project: String,
        /// The secret's id.
        secret: String,
        /// Requests made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The answer is not what Secret Manager sends (no payload, bad base64, CRC32C mismatch, not UTF-8, empty).
    #[error(
        "Secret Manager's answer for secret {secret} of project {project} is unusable: {reason}"
    )]
    BadPayload {
        /// The project.
        project: String,
        /// The secret's id.
        secret: String,
        /// What is wrong (never the value).
        reason: &'static str,
    },
}

impl SecretError {
    /// Whether trying again later may succeed (the service did not answer); every other error needs a change of
    /// configuration or permissions.
    pub fn is_transient(&self) -> bool {
        matches!(self, SecretError::Unavailable { .. })
    }
}

/// A Secret Manager client bound to one secret's latest version.
#[derive(Debug, Clone)]
pub struct SecretManager {
    http: reqwest::Client,
    url: String,
    project: String,
    secret: String,
    credentials: Option<GcpCredentialProvider>,
    request_timeout: Duration,
    first_backoff: Duration,
}

impl SecretManager {
    /// Builds the client: Google's endpoint with the sink's credentials, or the emulator without any.
    ///
    /// # Errors
    /// [`SecretError::Credentials`] when the key file cannot be used (nothing is sent yet).
    pub fn from_config(config: &SecretManagerConfig) -> Result<SecretManager, SecretError> {
        Ok(match &config.emulator_host {
            Some(emulator) => SecretManager::new(emulator.as_str(), config, None),
            None => SecretManager::new(DEFAULT_BASE_URL, config, Some(google_credentials(config)?)),
        })
    }

    /// A client of `base_url` (`http://127.0.0.1:PORT` in tests) sending the bearer tokens of `credentials`
    /// (`None`: no `Authorization` header).
    pub fn new(
        base_url: &str,
        config: &SecretManagerConfig,
        credentials: Option<GcpCredentialProvider>,
    ) -> SecretManager {
        let url = format!(
            "{}/v1/projects/{}/secrets/{}/versions/latest:access",
            base_url.trim_end_matches('/'),
            config.project_id,
            config.secret
        );
        SecretManager {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            url,
            project: config.project_id.clone(),
            secret: config.secret.clone(),
            credentials,
            request_timeout: REQUEST_TIMEOUT,
            first_backoff: FIRST_BACKOFF,
        }
    }

    /// Sends the requests to Secret Manager through md-config's proxies (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`),
    /// given explicitly as to every other client, with reqwest's own reading of the environment off. (The access
    /// token is fetched by object_store's credentials provider, which takes no proxy setting.)
    pub fn with_proxy(mut self, proxies: &md_config::ProxyConfig) -> Self {
        let mut builder =
            reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).no_proxy();
        let no_proxy = proxies.no_proxy.as_deref().and_then(reqwest::NoProxy::from_string);
        for (scheme, proxy) in [("https", &proxies.https), ("http", &proxies.http)] {
            let Some(proxy) = proxy else { continue };
            let url = proxy.expose().as_str();
            let built = if scheme == "https" {
                reqwest::Proxy::https(url)
            } else {
                reqwest::Proxy::http(url)
            };
            match built {
                Ok(built) => builder = builder.proxy(built.no_proxy(no_proxy.clone())),
                Err(_) => {
                    tracing::warn!(proxy = %proxy, "a proxy Secret Manager's client cannot use")
                }
            }
        }
        if let Ok(http) = builder.build() {
            self.http = http;
        }
        self
    }

    /// Replaces the per-request timeout and the first pause between attempts (tests).
    pub fn with_timing(
        mut self,
        request_timeout: Duration,
        first_backoff: Duration,
    ) -> SecretManager {
        self.request_timeout = request_timeout;
        self.first_backoff = first_backoff;
        self
    }

    /// The URL asked.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Reads the latest version of the secret: its value, surrounding whitespace removed (a key stored with
    /// `echo ... | gcloud secrets create` ends with a newline).
    ///
    /// # Errors
    /// [`SecretError::NotFound`] (404) and [`SecretError::Denied`] (403) name the secret and project; timeouts,
    /// connection errors, 429 and 5xx are retried three times (10 s per request) before [`SecretError::Unavailable`].
    pub async fn read_latest(&self) -> Result<Secret, SecretError> {
        let mut backoff = self.first_backoff;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let last = match self.attempt().await {
                Ok(Answer::Done(secret)) => return Ok(secret),
                Ok(Answer::Final { status, message }) => return Err(self.refusal(status, message)),
                Ok(Answer::BadPayload(reason)) => {
                    return Err(SecretError::BadPayload {
                        project: self.project.clone(),
                        secret: self.secret.clone(),
                        reason,
                    });
                }
                Ok(Answer::Retry(last)) | Err(last) => last,
            };
            if attempts > MAX_RETRIES {
                return Err(SecretError::Unavailable {
                    project: self.project.clone(),
                    secret: self.secret.clone(),
                    attempts,
                    last,
                });
            }
            tracing::warn!(
                secret = %self.secret,
                project = %self.project,
                attempt = attempts,
                error = %last,
                "Secret Manager did not answer; retrying"
            );
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }

    /// One request; `Err` is a transient failure (described).
    async fn attempt(&self) -> Result<Answer, String> {
        let mut request = self.http.get(&self.url).timeout(self.request_timeout);
        if let Some(credentials) = &self.credentials {
            let credential = credentials.get_credential().await.map_err(|source| {
                // Reported as a final error below: a provider that fails once fails again.
                format!("credentials: {source}")
            });
            match credential {
                Ok(credential) => request = request.bearer_auth(&credential.bearer),
                Err(message) => return Ok(Answer::Final { status: 0, message }),
            }
        }
        let response = request.send().await.map_err(describe)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(describe)?;
        if status == 200 {
            return Ok(match Self::decode(&body) {
                Ok(secret) => Answer::Done(secret),
                Err(reason) => Answer::BadPayload(reason),
            });
        }
        let message = google_message(&body);
        if status == 429 || status >= 500 {
            return Ok(Answer::Retry(format!("HTTP {status}: {message}")));
        }
        Ok(Answer::Final { status, message })
    }

    fn refusal(&self, status: u16, message: String) -> SecretError {
        let (project, secret) = (self.project.clone(), self.secret.clone());
        match status {
            404 => SecretError::NotFound { project, secret, message },
            403 => SecretError::Denied { project, secret, message },
            0 => SecretError::Credentials {
                project,
                secret,
                source: object_store::Error::Generic { store: "GCS", source: message.into() },
            },
            status => SecretError::Refused { project, secret, status, message },
        }
    }

    /// The value of a 200 answer.
    fn decode(body: &[u8]) -> Result<Secret, &'static str> {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| "HTTP 200 with a body that is not JSON")?;
        let payload = &value["payload"];
        let data = payload["data"].as_str().ok_or("no payload.data in the answer")?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| "payload.data is not base64")?;
        let recorded = match &payload["dataCrc32c"] {
            serde_json::Value::String(text) => text.parse::<u64>().ok(),
            other => other.as_u64(),
        };
        if recorded.is_some_and(|crc| crc != u64::from(crc32c::crc32c(&bytes))) {
            return Err("payload.data does not match payload.dataCrc32c");
        }
        let text = String::from_utf8(bytes).map_err(|_| "the value is not UTF-8")?;
        match text.trim() {
            "" => Err("the value is empty"),
            trimmed => Ok(Secret::new(trimmed)),
        }
    }
}

/// The Google credentials a `gs://` sink with the same settings uses, from object_store's GCP credential provider:
/// the service-account key file of `config.credentials_path`, else application default credentials.
///
/// # Errors
/// [`SecretError::Credentials`] when the key file cannot be read or parsed (nothing is sent).
pub fn google_credentials(
    config: &SecretManagerConfig,
) -> Result<GcpCredentialProvider, SecretError> {
    // The builder requires a bucket name, which is never used here.
    let mut builder = GoogleCloudStorageBuilder::new().with_bucket_name("md-secret-manager");
    if let Some(path) = &config.credentials_path {
        builder = builder.with_service_account_path(path.to_string_lossy());
    }
    let store = builder.build().map_err(|source| SecretError::Credentials {
        project: config.project_id.clone(),
        secret: config.secret.clone(),
        source,
    })?;
    Ok(Arc::clone(store.credentials()))
}

/// How one request ended, when it got an answer.
enum Answer {
    Done(Secret),
    Retry(String),
    Final { status: u16, message: String },
    BadPayload(&'static str),
}

/// Google's `error.message`, else the start of the body.
fn google_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_owned())
}

fn describe(error: reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        format!(
            "cannot connect: {}",
            std::error::Error::source(&error)
                .map_or_else(|| error.to_string(), ToString::to_string)
        )
    } else {
        error.to_string()
    }
}
