//! Building sinks from md-config's `SinkConfig`.

use std::path::PathBuf;

use gcs_sink::{Error, ObjectSink, StoreKind, WriteMode};
use md_config::{SinkConfig, SinkLocation};
use rstest::rstest;

fn config(location: &str) -> SinkConfig {
    SinkConfig {
        location: SinkLocation::parse(location).expect("valid sink"),
        ..SinkConfig::default()
    }
}

#[tokio::test]
async fn a_local_sink_creates_its_directory_and_writes_files_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("not/yet/there");
    let sink = ObjectSink::from_config(&config(root.to_str().expect("utf-8"))).expect("builds");
    assert!(matches!(sink.options().kind, StoreKind::Local { .. }));
    sink.put_bytes("day-2024-01-01/a.csv", "a,b\n", WriteMode::CreateOnly).await.expect("put");
    assert_eq!(std::fs::read(root.join("day-2024-01-01/a.csv")).expect("file"), b"a,b\n");
    assert!(root.join(".md-meta/day-2024-01-01/a.csv").exists(), "the digest sidecar");
}

#[rstest]
#[case::memory("memory://", "memory://")]
#[case::gcs("gs://md-bucket/some/prefix", "gs://md-bucket/some/prefix")]
#[case::s3("s3://md-bucket", "s3://md-bucket")]
fn sinks_are_named_by_their_url(#[case] location: &str, #[case] label: &str) {
    let mut config = config(location);
    // No network at build time: an emulator for GCS, fixed keys for S3.
    config.gcs.emulator_host = Some("http://127.0.0.1:9".parse().expect("url"));
    config.s3.access_key_id = Some("key".into());
    config.s3.secret_access_key = Some(md_config::Secret::new("secret"));
    let sink = ObjectSink::from_config(&config).expect("builds");
    assert_eq!(sink.options().label, label);
    assert_eq!(sink.options().part_size, SinkConfig::default().part_size);
}

#[rstest]
#[case::zero_part_size(SinkConfig { part_size: 0, ..config("memory://") }, "part size")]
#[case::missing_key_file(
    {
        let mut config = config("gs://md-bucket");
        config.gcs.credentials_path = Some(PathBuf::from("/nonexistent/key.json"));
        config
    },
    "GCS client"
)]
#[case::root_is_a_file(config("/proc/version"), "/proc/version")]
fn bad_configurations_fail_naming_the_sink(#[case] config: SinkConfig, #[case] detail: &str) {
    match ObjectSink::from_config(&config) {
        Err(error @ Error::Config { .. }) => {
            let message = format!("{error}");
            assert!(message.contains(detail), "{message:?} should mention {detail:?}");
            assert!(!error.is_retryable());
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn secrets_never_appear_in_errors() {
    let mut config = config("s3://md-bucket");
    config.s3.secret_access_key = Some(md_config::Secret::new("hunter2-secret"));
    config.part_size = 0;
    let error = ObjectSink::from_config(&config).expect_err("zero part size");
    assert!(!format!("{error} {error:?}").contains("hunter2"));
}

#[rstest]
#[case::gcs(
    "gs://md-bucket/raw/day-2024-01-01/trades.csv.gz",
    "gs://md-bucket",
    "raw/day-2024-01-01/trades.csv.gz"
)]
#[case::s3("s3://md-bucket/a/b.csv.gz", "s3://md-bucket", "a/b.csv.gz")]
#[case::relative_file("out.csv.gz", ".", "out.csv.gz")]
fn a_sink_url_naming_an_object_splits_into_sink_and_name(
    #[case] url: &str,
    #[case] sink_label: &str,
    #[case] name: &str,
) {
    let mut config = config(url);
    config.gcs.emulator_host = Some("http://127.0.0.1:9".parse().expect("url"));
    config.s3.access_key_id = Some("key".into());
    config.s3.secret_access_key = Some(md_config::Secret::new("secret"));
    let (sink, object) = ObjectSink::for_object(&config).expect("names an object");
    assert_eq!((sink.options().label.as_str(), object.as_str()), (sink_label, name));
}

#[rstest]
#[case::bucket_only("gs://md-bucket")]
#[case::memory("memory://")]
fn a_sink_url_without_an_object_is_refused(#[case] url: &str) {
    assert!(matches!(ObjectSink::for_object(&config(url)), Err(Error::InvalidName { .. })));
}

#[tokio::test]
async fn an_object_url_on_disk_writes_that_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("out/trades.csv.gz");
    let (sink, name) =
        ObjectSink::for_object(&config(target.to_str().expect("utf-8"))).expect("sink");
    sink.put_bytes(&name, "gzip bytes", WriteMode::CreateOnly).await.expect("put");
    assert_eq!(std::fs::read(&target).expect("written"), b"gzip bytes");
}
