//! The sink against our GCS XML-API fake: the request sequence, faults and retries, encoding, pagination, records
//! written by others, corruption.

use gcs_sink::{Digest, Error, PutStatus, WriteMode};
use rstest::rstest;
use test_support::gcs::{Fault, RequestKind};
use test_support::generated::Generated;

use crate::support::{BUCKET, Backend, Harness, list_names, read_all};

async fn harness() -> Harness {
    Harness::new(Backend::FakeGcs).await.expect("the fake always starts")
}

fn large(seed: u64) -> Generated {
    let part = Harness::part_size(Backend::FakeGcs) as u64;
    Generated { size: 3 * part + 1, chunk_size: 32 * 1024, seed, delay: None }
}

#[tokio::test]
async fn small_objects_are_one_conditional_put_with_metadata() {
    let harness = harness().await;
    let outcome =
        harness.sink.put_bytes("a.csv", "x,y\n", WriteMode::CreateOnly).await.expect("put");
    let counters = harness.fake().counters();
    assert_eq!(counters.of(RequestKind::Put), 1);
    assert_eq!(counters.of(RequestKind::InitiateMultipart), 0);
    let stored = harness.fake().object(BUCKET, &harness.fake_name("a.csv")).expect("stored");
    assert_eq!(stored.metadata.get("md-size").map(String::as_str), Some("4"));
    assert_eq!(stored.metadata.get("md-crc32c"), Some(&outcome.digest.crc32c_hex()));
    assert_eq!(harness.fake().object_names(BUCKET), vec![harness.fake_name("a.csv")], "no sidecar");
}

#[tokio::test]
async fn large_objects_go_through_staging_then_a_create_only_copy_carrying_the_digest() {
    let harness = harness().await;
    let generated = large(1);
    harness
        .sink
        .put_stream("big.bin", generated.stream(), WriteMode::CreateOnly)
        .await
        .expect("put");
    let counters = harness.fake().counters();
    assert_eq!(counters.of(RequestKind::InitiateMultipart), 1);
    assert_eq!(counters.of(RequestKind::UploadPart), 4);
    assert_eq!(counters.of(RequestKind::CompleteMultipart), 1);
    assert_eq!(counters.of(RequestKind::Copy), 1);
    assert_eq!(counters.of(RequestKind::Put), 0, "no sidecar: the copy replaced the metadata");
    assert_eq!(harness.fake().object_names(BUCKET), vec![harness.fake_name("big.bin")]);
    let stored = harness.fake().object(BUCKET, &harness.fake_name("big.bin")).expect("stored");
    assert_eq!(stored.metadata.get("md-size"), Some(&generated.size.to_string()));
    assert_eq!(stored.metadata.get("md-crc32c"), Some(&generated.digest().crc32c_hex()));
    assert_eq!(harness.fake().open_uploads(), 0);
}

#[tokio::test]
async fn an_injected_store_without_the_copy_hook_records_large_digests_in_a_sidecar() {
    let harness = harness().await;
    // The same GCS store, wrapped by `ObjectSink::new`: no connector hook, so the sink falls back to a sidecar.
    let options = gcs_sink::SinkOptions {
        part_size: Harness::part_size(Backend::FakeGcs),
        ..gcs_sink::SinkOptions::new(gcs_sink::StoreKind::Gcs)
    };
    let sink = gcs_sink::ObjectSink::new(harness.sink.store().clone(), &harness.prefix, options);
    let generated = large(1);
    sink.put_stream("big.bin", generated.stream(), WriteMode::CreateOnly).await.expect("put");
    assert_eq!(
        harness.fake().object_names(BUCKET),
        vec![harness.fake_name(".md-meta/big.bin"), harness.fake_name("big.bin")]
    );
    assert_eq!(sink.head("big.bin").await.expect("head").recorded, Some(generated.digest()));
    assert_eq!(list_names(&sink, "").await, vec!["big.bin"]);
}

#[rstest]
#[case::part_503(RequestKind::UploadPart, Fault::Status(503))]
#[case::part_429(RequestKind::UploadPart, Fault::Status(429))]
#[case::part_dropped(RequestKind::UploadPart, Fault::DropBefore)]
#[case::initiate_503(RequestKind::InitiateMultipart, Fault::Status(503))]
#[case::complete_503(RequestKind::CompleteMultipart, Fault::Status(503))]
#[case::complete_dropped(RequestKind::CompleteMultipart, Fault::DropBefore)]
#[case::copy_503(RequestKind::Copy, Fault::Status(503))]
#[case::put_503(RequestKind::Put, Fault::Status(503))]
#[tokio::test]
async fn transient_faults_are_retried_and_the_object_verifies(
    #[case] kind: RequestKind,
    #[case] fault: Fault,
) {
    let harness = harness().await;
    harness.fake().faults().inject(Some(kind), 2, fault);
    // Small objects are one put; large ones go through multipart and a copy.
    let generated =
        if kind == RequestKind::Put { Generated { size: 1000, ..large(2) } } else { large(2) };
    let outcome = harness
        .sink
        .put_stream("big.bin", generated.stream(), WriteMode::CreateOnly)
        .await
        .expect("put");
    assert_eq!(outcome.status, PutStatus::Created);
    assert_eq!(harness.fake().faults().pending(), 0, "both faults were hit");
    assert_eq!(harness.fake().counters().faults, 2);
    assert!(harness.sink.verify("big.bin").await.expect("verify").recorded);
}

#[tokio::test]
async fn a_create_put_whose_answer_is_lost_is_answered_by_verification() {
    let harness = harness().await;
    // The put takes effect but the client never hears back; whatever object_store does next (retry and get 412,
    // or report the error), the object must end up stored once and verified.
    harness.fake().faults().inject(Some(RequestKind::Put), 1, Fault::DropAfter);
    let first = harness.sink.put_bytes("a.csv", "payload", WriteMode::CreateOnly).await;
    match &first {
        Ok(outcome) => {
            assert_eq!(outcome.status, PutStatus::AlreadyPresent, "a retry met our own object")
        }
        Err(error) => assert!(error.is_retryable(), "a lost answer is retryable: {error:?}"),
    }
    let again =
        harness.sink.put_bytes("a.csv", "payload", WriteMode::CreateOnly).await.expect("retry");
    assert_eq!(again.status, PutStatus::AlreadyPresent);
    assert_eq!(read_all(&harness.sink, "a.csv").await, b"payload");
}

#[tokio::test]
async fn a_publishing_copy_that_keeps_failing_leaves_nothing() {
    let harness = harness().await;
    harness.fake().faults().inject(Some(RequestKind::Copy), 100, Fault::Status(503));
    let error = harness
        .sink
        .put_stream("big.bin", large(3).stream(), WriteMode::CreateOnly)
        .await
        .expect_err("the copy never succeeds");
    assert!(
        matches!(&error, gcs_sink::PutError::Sink(error) if error.is_retryable()),
        "a retryable sink error, not a source error: {error:?}"
    );
    harness.fake().faults().clear();
    assert!(harness.fake().object_names(BUCKET).is_empty(), "no final object, staging removed");
    assert_eq!(harness.fake().open_uploads(), 0);
}

#[tokio::test]
async fn seeded_random_connection_drops_on_parts_are_survived() {
    let harness = harness().await;
    harness.fake().faults().random(Some(RequestKind::UploadPart), 0.3, Fault::DropBefore, 42);
    let generated =
        Generated { size: 12 * Harness::part_size(Backend::FakeGcs) as u64, ..large(4) };
    harness
        .sink
        .put_stream("big.bin", generated.stream(), WriteMode::CreateOnly)
        .await
        .expect("put");
    assert!(harness.fake().counters().faults > 0, "the seed drops some parts");
    assert_eq!(harness.sink.verify("big.bin").await.expect("verify").digest, generated.digest());
}

#[tokio::test]
async fn names_are_percent_encoded_on_the_wire() {
    let harness = harness().await;
    let names = [
        "with space/a+b=c.csv",
        "percent%41/ü.csv",
        "deribit/BTC-27DEC24-50000-C.csv.gz",
        "q?x&y#z.csv",
    ];
    for name in names {
        harness.sink.put_bytes(name, name.to_owned(), WriteMode::CreateOnly).await.expect("put");
        assert_eq!(read_all(&harness.sink, name).await, name.as_bytes());
        assert!(
            harness.fake().object(BUCKET, &harness.fake_name(name)).is_some(),
            "stored as {name:?}"
        );
    }
    let mut expected: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    expected.sort();
    assert_eq!(list_names(&harness.sink, "").await, expected);
}

#[tokio::test]
async fn listings_follow_continuation_tokens() {
    let harness = harness().await;
    harness.fake().set_page_size(2);
    let names: Vec<String> = (0..7).map(|i| format!("d/{i}.csv")).collect();
    for name in &names {
        harness.sink.put_bytes(name, "x", WriteMode::CreateOnly).await.expect("put");
    }
    assert_eq!(list_names(&harness.sink, "d").await, names);
    assert!(harness.fake().counters().of(RequestKind::List) >= 4, "seven objects in pages of two");
}

#[tokio::test]
async fn objects_written_by_others_are_verified_by_content() {
    let harness = harness().await;
    let fake = harness.fake();
    fake.insert(BUCKET, &harness.fake_name("theirs.csv"), "their bytes", &[]);

    let info = harness.sink.head("theirs.csv").await.expect("head");
    assert_eq!((info.size, info.recorded), (11, None));
    let verified = harness.sink.verify("theirs.csv").await.expect("verify");
    assert_eq!((verified.digest, verified.recorded), (Digest::of(b"their bytes"), false));

    let error = harness.sink.put_bytes("theirs.csv", "other bytes!", WriteMode::CreateOnly).await;
    assert!(
        matches!(error, Err(Error::Mismatch { existing, .. }) if existing == Digest::of(b"their bytes")),
        "the existing digest is computed by reading it"
    );
    let same = harness
        .sink
        .put_bytes("theirs.csv", "their bytes", WriteMode::CreateOnly)
        .await
        .expect("same");
    assert_eq!(same.status, PutStatus::AlreadyPresent);
    assert_eq!(
        harness.sink.head("theirs.csv").await.expect("head").recorded,
        Some(Digest::of(b"their bytes")),
        "the record is repaired with a sidecar"
    );
}

#[tokio::test]
async fn a_sidecar_of_a_replaced_object_is_ignored() {
    let harness = harness().await;
    let fake = harness.fake();
    fake.insert(BUCKET, &harness.fake_name("theirs.csv"), "their bytes", &[]);
    harness
        .sink
        .put_bytes("theirs.csv", "their bytes", WriteMode::CreateOnly)
        .await
        .expect("verified");
    assert!(
        fake.object(BUCKET, &harness.fake_name(".md-meta/theirs.csv")).is_some(),
        "record repaired"
    );
    // Someone else rewrites the object: the sidecar now describes an older generation.
    fake.insert(BUCKET, &harness.fake_name("theirs.csv"), "rewritten", &[]);
    assert_eq!(harness.sink.head("theirs.csv").await.expect("head").recorded, None);
    assert!(!harness.sink.verify("theirs.csv").await.expect("verify").recorded);
}

#[rstest]
#[case::fake_small(Backend::FakeGcs, 1000)]
#[case::fake_large(Backend::FakeGcs, 700_000)]
#[case::local_small(Backend::Local, 1000)]
#[case::local_large(Backend::Local, 700_000)]
#[tokio::test]
async fn silent_corruption_is_detected_by_verify(#[case] backend: Backend, #[case] size: u64) {
    let harness = Harness::new(backend).await.expect("no third-party server needed");
    let generated = Generated { size, chunk_size: 8192, seed: 6, delay: None };
    harness
        .sink
        .put_stream("obj.bin", generated.stream(), WriteMode::CreateOnly)
        .await
        .expect("put");
    let flip = |bytes: &mut Vec<u8>| bytes[size as usize / 2] ^= 0x01;
    match backend {
        Backend::FakeGcs => {
            assert!(harness.fake().corrupt(BUCKET, &harness.fake_name("obj.bin"), flip))
        }
        Backend::Local => {
            // In place, as bit rot would: same file, same size.
            use std::io::{Seek, SeekFrom, Write};
            let path = harness.dir.as_ref().expect("local dir").path().join("sink/obj.bin");
            let mut bytes = std::fs::read(&path).expect("read");
            flip(&mut bytes);
            let mut file = std::fs::OpenOptions::new().write(true).open(&path).expect("open");
            file.seek(SeekFrom::Start(0)).expect("seek");
            file.write_all(&bytes).expect("write");
        }
        Backend::Memory | Backend::Moto => unreachable!("not in the table"),
    }
    match harness.sink.verify("obj.bin").await {
        Err(Error::Corrupt { recorded, actual, .. }) => {
            assert_eq!(recorded, generated.digest());
            assert_eq!(actual.size, size);
            assert_ne!(actual.crc32c, recorded.crc32c);
        }
        other => panic!("corruption must be detected, got {other:?}"),
    }
}

#[tokio::test]
async fn a_fault_free_run_after_faults_sends_no_extra_requests() {
    let harness = harness().await;
    harness.sink.put_bytes("a.csv", "1", WriteMode::CreateOnly).await.expect("put");
    harness.fake().faults().reset_counters();
    harness.sink.head("a.csv").await.expect("head");
    let counters = harness.fake().counters();
    assert_eq!(
        (counters.of(RequestKind::Head), counters.total()),
        (1, 1),
        "head is one request with metadata"
    );
}

#[tokio::test]
async fn the_fake_honours_generation_updates_and_ranges_as_object_store_uses_them() {
    use object_store::{ObjectStoreExt, PutMode, PutOptions, UpdateVersion};
    let harness = harness().await;
    let store = harness.sink.store();
    let path = object_store::path::Path::from(harness.fake_name("v.txt"));
    let first = store.put(&path, "0123456789".into()).await.expect("put");
    assert!(first.version.is_some(), "x-goog-generation is returned");

    let stale = UpdateVersion { e_tag: None, version: Some("1".into()) };
    let options = PutOptions { mode: PutMode::Update(stale), ..PutOptions::default() };
    let error = store.put_opts(&path, "x".into(), options).await.expect_err("stale generation");
    assert!(matches!(error, object_store::Error::Precondition { .. }), "{error:?}");

    let current = UpdateVersion { e_tag: first.e_tag.clone(), version: first.version.clone() };
    let options = PutOptions { mode: PutMode::Update(current), ..PutOptions::default() };
    store.put_opts(&path, "abcdefghij".into(), options).await.expect("current generation");

    assert_eq!(store.get_range(&path, 2..5).await.expect("range").as_ref(), b"cde");
    let meta = store.head(&path).await.expect("head");
    assert_eq!(meta.size, 10);
    assert!(meta.e_tag.is_some());
}
