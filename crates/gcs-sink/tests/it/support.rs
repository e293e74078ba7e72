//! Sinks on every backend, and the rule for third-party servers: started by `cargo xtask test`, which passes their
//! URLs in `MD_TEST_FAKE_GCS_URL` / `MD_TEST_S3_URL`. Without them a test prints a notice and returns, unless
//! `MD_TEST_REQUIRE_SERVERS=1`, where it fails.

#![allow(clippy::disallowed_methods, reason = "tests read the server addresses xtask passes")]
#![allow(clippy::print_stderr, reason = "the notice of a skipped third-party suite")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use gcs_sink::{ObjectSink, SinkOptions, StoreKind};
use md_config::{Secret, SinkConfig, SinkLocation};
use object_store::ObjectStore;
use object_store::memory::InMemory;
use test_support::gcs::FakeGcs;
pub(crate) use test_support::server_url;
use url::Url;

/// The GCS bucket used on the fakes.
pub(crate) const BUCKET: &str = "md-test-bucket";

/// Where a sink under test writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// `memory://`.
    Memory,
    /// A temporary directory.
    Local,
    /// Our GCS XML-API fake, over HTTP through object_store's GCS backend.
    FakeGcs,
    /// moto's S3 server (third party, started by `cargo xtask test`).
    Moto,
}

/// The backend matrix: `#[apply(every_backend)]` runs an async test once per backend, as its `backend` argument.
#[rstest_reuse::template]
#[rstest::rstest]
#[tokio::test]
pub(crate) async fn every_backend(
    #[values(Backend::Memory, Backend::Local, Backend::FakeGcs, Backend::Moto)] backend: Backend,
) {
}

/// A sink plus whatever keeps its backend alive.
pub(crate) struct Harness {
    pub(crate) sink: ObjectSink,
    pub(crate) backend: Backend,
    pub(crate) fake: Option<FakeGcs>,
    pub(crate) dir: Option<tempfile::TempDir>,
    pub(crate) prefix: String,
}

impl Harness {
    /// A part size the backend accepts (S3 wants at least 5 MiB for every part but the last).
    pub(crate) fn part_size(backend: Backend) -> usize {
        match backend {
            Backend::Moto => 5 * 1024 * 1024,
            _ => 256 * 1024,
        }
    }

    /// Builds a sink on a fresh bucket/prefix/directory, or `None` when a third-party server is not available.
    pub(crate) async fn new(backend: Backend) -> Option<Harness> {
        let prefix = format!("run-{}", unique());
        let mut config = SinkConfig {
            max_retries: 3,
            request_timeout: Duration::from_secs(30),
            part_size: Harness::part_size(backend),
            ..SinkConfig::default()
        };
        let (mut fake, mut dir) = (None, None);
        match backend {
            Backend::Memory => config.location = SinkLocation::Memory,
            Backend::Local => {
                let temp = tempfile::tempdir().expect("temporary directory");
                config.location = SinkLocation::Local { root: temp.path().join("sink") };
                dir = Some(temp);
            }
            Backend::FakeGcs => {
                let server = FakeGcs::start().await.expect("fake GCS starts");
                config.location =
                    SinkLocation::Gcs { bucket: BUCKET.into(), prefix: prefix.clone() };
                config.gcs.emulator_host = Some(Url::parse(&server.url()).expect("url"));
                fake = Some(server);
            }
            Backend::Moto => {
                let url = server_url("MD_TEST_S3_URL", "moto S3 server")?;
                let bucket = format!("md-test-{}", unique());
                create_moto_bucket(&url, &bucket).await;
                config.location = SinkLocation::S3 { bucket, prefix: prefix.clone() };
                config.s3.endpoint = Some(Url::parse(&url).expect("MD_TEST_S3_URL is a URL"));
                config.s3.access_key_id = Some("test".into());
                config.s3.secret_access_key = Some(Secret::new("test"));
            }
        }
        let sink = ObjectSink::from_config(&config).expect("sink builds");
        Some(Harness { sink, backend, fake, dir, prefix })
    }

    /// The fake GCS server (panics on other backends).
    pub(crate) fn fake(&self) -> &FakeGcs {
        self.fake.as_ref().expect("a fake GCS backend")
    }

    /// The full name of a sink object in the fake's bucket.
    pub(crate) fn fake_name(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }

    /// Every object in the store under the sink (data, staging and sidecars), as store paths.
    pub(crate) async fn raw_listing(&self) -> Vec<String> {
        let store = self.sink.store();
        let prefix = match self.backend {
            Backend::FakeGcs | Backend::Moto => {
                Some(object_store::path::Path::from(self.prefix.as_str()))
            }
            Backend::Memory | Backend::Local => None,
        };
        let mut names: Vec<String> = store
            .list(prefix.as_ref())
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .expect("raw listing");
        names.sort();
        names
    }
}

/// A sink over an in-memory store with tiny parts, for tests of the sink's own logic.
pub(crate) fn memory_sink(part_size: usize) -> (ObjectSink, Arc<InMemory>) {
    let store = Arc::new(InMemory::new());
    let options = SinkOptions { part_size, ..SinkOptions::new(StoreKind::Memory) };
    (ObjectSink::new(store.clone() as Arc<dyn ObjectStore>, "", options), store)
}

async fn create_moto_bucket(url: &str, bucket: &str) {
    let response = reqwest::Client::new()
        .put(format!("{url}/{bucket}"))
        .send()
        .await
        .unwrap_or_else(|error| panic!("moto at {url} does not answer: {error}"));
    assert!(
        response.status().is_success(),
        "creating bucket {bucket} on moto: {}",
        response.status()
    );
}

/// A process-unique, run-unique token.
pub(crate) fn unique() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    format!("{}-{nanos:x}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Reads a whole object through the sink.
pub(crate) async fn read_all(sink: &ObjectSink, name: &str) -> Vec<u8> {
    let chunks: Vec<Bytes> = sink.get(name).await.expect("get").try_collect().await.expect("read");
    chunks.concat()
}

/// Lists every data object name under a prefix, sorted.
pub(crate) async fn list_names(sink: &ObjectSink, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> =
        sink.list(prefix).map_ok(|object| object.name).try_collect().await.expect("list");
    names.sort();
    names
}

/// Polls a condition every 20 ms for up to 10 s (for effects of spawned tasks; never a timing assertion).
pub(crate) async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition()
}
