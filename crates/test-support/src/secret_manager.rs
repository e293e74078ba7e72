//! A Google Secret Manager stand-in on `127.0.0.1`: the one call md makes, `AccessSecretVersion` over REST.
//!
//! - `GET /v1/projects/{project}/secrets/{secret}/versions/{version}:access` answers, as Google does,
//!   `{"name": "projects/{number}/secrets/{secret}/versions/{n}", "payload": {"data": base64, "dataCrc32c": "..."}}`
//!   for a stored secret (`latest` is its newest version); `404 NOT_FOUND` for an unknown secret or version;
//!   `403 PERMISSION_DENIED` for one marked denied ([`SecretManagerStub::deny`]); with
//!   [`SecretManagerStub::require_bearer`], `401 UNAUTHENTICATED` for a request without `Authorization: Bearer`.
//!   Errors have Google's JSON shape: `{"error": {"code", "message", "status"}}`.
//! - Scripted faults for the next requests ([`SecretManagerStub::push_faults`]): a status, or a stall before the
//!   headers.
//! - Every request is recorded with its path and `Authorization` header ([`SecretManagerStub::requests`]), so a
//!   test can check what credentials were sent and that nothing was asked at all.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use test_support::secret_manager::SecretManagerStub;
//!
//! let stub = SecretManagerStub::start().await?;
//! stub.insert("my-project", "tardis-api-key", b"TD.secret");
//! // SECRET_MANAGER_EMULATOR_HOST=stub.url()
//! assert!(stub.requests().is_empty());
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;

use crate::serve::ServeTask;

/// The project number Google puts in the names it answers (it answers numbers, not ids).
const PROJECT_NUMBER: &str = "123456789012";

/// A fault for the next request, whatever it asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretFault {
    /// Answer this status with Google's error body (`503 UNAVAILABLE`, `500 INTERNAL`, ...).
    Status(u16),
    /// Wait this long before answering normally (a client with a shorter timeout gives up first).
    Stall(Duration),
}

/// One request as the stand-in saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRequest {
    /// The path, `/v1/projects/p/secrets/s/versions/latest:access`.
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

/// `(project, secret)` -> its versions' values, oldest first.
type Versions = BTreeMap<(String, String), Vec<Vec<u8>>>;

#[derive(Debug, Default)]
struct Shared {
    secrets: Mutex<Versions>,
    denied: Mutex<BTreeSet<(String, String)>>,
    faults: Mutex<VecDeque<SecretFault>>,
    requests: Mutex<Vec<SecretRequest>>,
    require_bearer: Mutex<bool>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The stand-in, serving until dropped.
#[derive(Debug)]
pub struct SecretManagerStub {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Serves until dropped.
    _serving: ServeTask,
}

impl SecretManagerStub {
    /// Binds a free port on `127.0.0.1` and serves on the current tokio runtime.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start() -> std::io::Result<SecretManagerStub> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let router = Router::new()
            .route("/v1/projects/{project}/secrets/{secret}/versions/{version}", get(access))
            .fallback(|| async { error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such method") })
            .with_state(Arc::clone(&shared));
        let task = ServeTask::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(SecretManagerStub { addr, shared, _serving: task })
    }

    /// The base URL, `http://127.0.0.1:PORT` (what `SECRET_MANAGER_EMULATOR_HOST` takes).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a version of a secret (creating the secret); `latest` is the newest.
    pub fn insert(&self, project: &str, secret: &str, value: &[u8]) {
        lock(&self.shared.secrets)
            .entry((project.to_owned(), secret.to_owned()))
            .or_default()
            .push(value.to_vec());
    }

    /// Refuses every access to a secret with `403 PERMISSION_DENIED`, whether or not it exists (as Google does for a
    /// caller without `secretmanager.versions.access`).
    pub fn deny(&self, project: &str, secret: &str) {
        lock(&self.shared.denied).insert((project.to_owned(), secret.to_owned()));
    }

    /// Answers `401 UNAUTHENTICATED` to requests without `Authorization: Bearer ...` (as Google does).
    pub fn require_bearer(&self, required: bool) {
        *lock(&self.shared.require_bearer) = required;
    }

    /// The next `count` requests meet `fault`, after the faults already queued.
    pub fn push_faults(&self, fault: SecretFault, count: usize) {
        lock(&self.shared.faults).extend(std::iter::repeat_n(fault, count));
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<SecretRequest> {
        lock(&self.shared.requests).clone()
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "error": { "code": status.as_u16(), "message": message, "status": code }
    });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn access(
    State(shared): State<Arc<Shared>>,
    Path((project, secret, version)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let authorization =
        headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).map(str::to_owned);
    lock(&shared.requests).push(SecretRequest {
        path: format!("/v1/projects/{project}/secrets/{secret}/versions/{version}"),
        authorization: authorization.clone(),
    });
    let fault = lock(&shared.faults).pop_front();
    match fault {
        Some(SecretFault::Status(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let code =
                if status == StatusCode::SERVICE_UNAVAILABLE { "UNAVAILABLE" } else { "INTERNAL" };
            return error(status, code, "scripted fault");
        }
        Some(SecretFault::Stall(pause)) => tokio::time::sleep(pause).await,
        None => {}
    }
    let Some(version) = version.strip_suffix(":access") else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "only :access is served");
    };
    if *lock(&shared.require_bearer)
        && !authorization
            .as_deref()
            .is_some_and(|value| value.starts_with("Bearer ") && value.len() > 7)
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Request is missing required authentication credential.",
        );
    }
    let key = (project.clone(), secret.clone());
    if lock(&shared.denied).contains(&key) {
        return error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            &format!(
                "Permission 'secretmanager.versions.access' denied for resource 'projects/{project}/secrets/{secret}/versions/{version}' (or it may not exist)."
            ),
        );
    }
    let secrets = lock(&shared.secrets);
    let versions = secrets.get(&key).map(Vec::as_slice).unwrap_or_default();
    let chosen = match version {
        "latest" => versions.len().checked_sub(1),
        number => number
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .filter(|&i| i < versions.len()),
    };
    let Some(index) = chosen else {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!(
                "Secret [projects/{PROJECT_NUMBER}/secrets/{secret}] not found or has no versions."
            ),
        );
    };
    let data = &versions[index];
    let body = serde_json::json!({
        "name": format!("projects/{PROJECT_NUMBER}/secrets/{secret}/versions/{}", index + 1),
        "payload": {
            "data": base64::engine::general_purpose::STANDARD.encode(data),
            // An int64, which Google's JSON mapping writes as a string.
            "dataCrc32c": crc32c::crc32c(data).to_string(),
        }
    });
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}
