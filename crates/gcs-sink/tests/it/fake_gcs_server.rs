//! The read paths against fake-gcs-server, the third-party GCS emulator (`MD_TEST_FAKE_GCS_URL`): objects seeded
//! through its JSON API are listed, headed, read and verified through the sink. (It implements no XML writes.)

use bytes::Bytes;
use futures::TryStreamExt;
use gcs_sink::{Digest, Error, ObjectSink};
use md_config::{SinkConfig, SinkLocation};
use test_support::generated::Generated;
use url::Url;

use crate::support::{list_names, read_all, server_url, unique};

struct Seeded {
    url: String,
    bucket: String,
    client: reqwest::Client,
}

impl Seeded {
    async fn new() -> Option<Seeded> {
        let url = server_url("MD_TEST_FAKE_GCS_URL", "fake-gcs-server")?;
        let bucket = format!("md-seed-{}", unique());
        let client = reqwest::Client::new();
        let response = client
            .post(format!("{url}/storage/v1/b"))
            .header("content-type", "application/json")
            .body(serde_json::json!({ "name": bucket }).to_string())
            .send()
            .await
            .unwrap_or_else(|error| panic!("fake-gcs-server at {url} does not answer: {error}"));
        assert!(response.status().is_success(), "creating bucket {bucket}: {}", response.status());
        Some(Seeded { url, bucket, client })
    }

    /// Uploads an object through the JSON API (multipart upload, so custom metadata can be set).
    async fn seed(&self, name: &str, data: &[u8], metadata: serde_json::Value) {
        let boundary = "md-test-boundary";
        let resource = serde_json::json!({ "name": name, "metadata": metadata });
        let mut body = format!(
            "--{boundary}\r\nContent-Type: application/json\r\n\r\n{resource}\r\n--{boundary}\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let response = self
            .client
            .post(format!(
                "{}/upload/storage/v1/b/{}/o?uploadType=multipart",
                self.url, self.bucket
            ))
            .header("content-type", format!("multipart/related; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .expect("seed upload");
        assert!(response.status().is_success(), "seeding {name}: {}", response.status());
    }

    fn sink(&self, prefix: &str) -> ObjectSink {
        let mut config = SinkConfig {
            location: SinkLocation::Gcs { bucket: self.bucket.clone(), prefix: prefix.into() },
            max_retries: 1,
            ..SinkConfig::default()
        };
        config.gcs.emulator_host = Some(Url::parse(&self.url).expect("url"));
        ObjectSink::from_config(&config).expect("sink")
    }
}

fn recorded(digest: Digest) -> serde_json::Value {
    serde_json::json!({ "md-size": digest.size.to_string(), "md-crc32c": digest.crc32c_hex() })
}

#[tokio::test]
async fn seeded_objects_are_listed_headed_read_and_verified() {
    let Some(seeded) = Seeded::new().await else { return };
    let large = Generated { size: 3 << 20, chunk_size: 1 << 20, seed: 11, delay: None };
    let large_bytes: Vec<u8> = {
        let chunks: Vec<Bytes> = large.stream().try_collect().await.expect("generated");
        chunks.concat()
    };
    let small = b"exchange,symbol\nbinance,BTCUSDT\n".as_slice();
    seeded.seed("mirror/day-2024-01-01/large.csv.gz", &large_bytes, recorded(large.digest())).await;
    seeded.seed("mirror/day-2024-01-01/small.csv", small, recorded(Digest::of(small))).await;
    seeded.seed("mirror/day-2024-01-02/unrecorded.csv", b"no record", serde_json::json!({})).await;
    seeded
        .seed("mirror/day-2024-01-02/with space+plus.csv", b"odd name", serde_json::json!({}))
        .await;
    seeded.seed("elsewhere/other.csv", b"outside the prefix", serde_json::json!({})).await;
    let sink = seeded.sink("mirror");

    assert_eq!(
        list_names(&sink, "").await,
        vec![
            "day-2024-01-01/large.csv.gz",
            "day-2024-01-01/small.csv",
            "day-2024-01-02/unrecorded.csv",
            "day-2024-01-02/with space+plus.csv",
        ]
    );
    assert_eq!(list_names(&sink, "day-2024-01-02").await.len(), 2);

    let info = sink.head("day-2024-01-01/large.csv.gz").await.expect("head");
    assert_eq!((info.size, info.recorded), (large.size, Some(large.digest())));
    assert_eq!(Digest::of(&read_all(&sink, "day-2024-01-01/large.csv.gz").await), large.digest());
    assert!(sink.verify("day-2024-01-01/large.csv.gz").await.expect("verify").recorded);

    assert_eq!(read_all(&sink, "day-2024-01-01/small.csv").await, small);
    assert_eq!(
        sink.head("day-2024-01-01/small.csv").await.expect("head").recorded,
        Some(Digest::of(small))
    );

    let unrecorded = sink.verify("day-2024-01-02/unrecorded.csv").await.expect("verify");
    assert_eq!((unrecorded.digest, unrecorded.recorded), (Digest::of(b"no record"), false));
    assert_eq!(read_all(&sink, "day-2024-01-02/with space+plus.csv").await, b"odd name");
    assert!(matches!(sink.head("day-2024-01-03/missing.csv").await, Err(Error::NotFound { .. })));
}

#[tokio::test]
async fn a_seeded_object_whose_record_disagrees_is_reported_corrupt() {
    let Some(seeded) = Seeded::new().await else { return };
    let wrong = Digest { size: 5, crc32c: 0x1234_5678 };
    seeded.seed("bad.csv", b"hello", recorded(wrong)).await;
    let sink = seeded.sink("");
    match sink.verify("bad.csv").await {
        Err(Error::Corrupt { recorded, actual, .. }) => {
            assert_eq!(recorded, wrong);
            assert_eq!(actual, Digest::of(b"hello"));
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}
