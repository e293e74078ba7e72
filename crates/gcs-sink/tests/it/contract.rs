//! The write and read guarantees, on every backend: memory, local directory, our GCS fake (over HTTP through
//! object_store's GCS backend) and moto's S3 server.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gcs_sink::{Digest, Error, ObjectSink, PutError, PutStatus, SinkOptions, StoreKind, WriteMode};
use rstest::rstest;
use rstest_reuse::apply;
use test_support::generated::Generated;

use crate::support::{Backend, Harness, every_backend, list_names, read_all};

/// Object sizes that take different paths through the sink.
#[derive(Debug, Clone, Copy)]
enum Size {
    /// No bytes at all.
    Empty,
    /// One small put.
    Small,
    /// Exactly one part: still one put.
    OnePart,
    /// More than a part: multipart to staging, then a copy.
    Large,
}

fn data(backend: Backend, size: Size, seed: u64) -> Generated {
    let part = Harness::part_size(backend) as u64;
    let bytes = match size {
        Size::Empty => 0,
        Size::Small => 1000,
        Size::OnePart => part,
        Size::Large => 2 * part + 12_345,
    };
    Generated { size: bytes, chunk_size: 16 * 1024 + 7, seed, delay: None }
}

/// The backend matrix of [`every_backend`] times an object written in one put and one written in parts:
/// `#[apply(every_backend_and_size)]` runs an async test once per pair, as its `backend` and `size` arguments.
#[rstest_reuse::template]
#[rstest::rstest]
#[tokio::test]
async fn every_backend_and_size(
    #[values(Backend::Memory, Backend::Local, Backend::FakeGcs, Backend::Moto)] backend: Backend,
    #[values(Size::Small, Size::Large)] size: Size,
) {
}

const NAME: &str = "day-2024-01-01/data_type-trades/BINANCE:SPOT_PAIR:BTC-USDT.csv.gz";

/// A fresh sink on `backend` that holds [`NAME`], created from `size` bytes of seed `seed`; `None` when the backend's
/// server is not available.
async fn holding_one_object(
    backend: Backend,
    size: Size,
    seed: u64,
) -> Option<(Harness, Generated)> {
    let harness = Harness::new(backend).await?;
    let generated = data(backend, size, seed);
    harness
        .sink
        .put_stream(NAME, generated.stream(), WriteMode::CreateOnly)
        .await
        .expect("first put");
    Some((harness, generated))
}

#[apply(every_backend)]
async fn a_written_object_reads_back_with_its_recorded_digest(
    backend: Backend,
    #[values(Size::Empty, Size::Small, Size::OnePart, Size::Large)] size: Size,
) {
    let Some(harness) = Harness::new(backend).await else { return };
    let sink = &harness.sink;
    let generated = data(backend, size, 1);

    let outcome =
        sink.put_stream(NAME, generated.stream(), WriteMode::CreateOnly).await.expect("put");
    assert_eq!(outcome.status, PutStatus::Created);
    assert_eq!(outcome.digest, generated.digest());

    let info = sink.head(NAME).await.expect("head");
    assert_eq!(info.size, generated.size);
    assert_eq!(info.recorded, Some(generated.digest()), "digest recorded with the object");
    assert_eq!(Digest::of(&read_all(sink, NAME).await), generated.digest());
    assert_eq!(sink.verify(NAME).await.expect("verify").digest, generated.digest());
    assert!(sink.verify(NAME).await.expect("verify").recorded);
    assert_eq!(list_names(sink, "").await, vec![NAME.to_owned()], "only the data object is listed");
    let leftovers: Vec<String> = harness
        .raw_listing()
        .await
        .into_iter()
        .filter(|name| name.contains(".md-staging"))
        .collect();
    assert!(leftovers.is_empty(), "staging objects left behind: {leftovers:?}");
}

#[apply(every_backend_and_size)]
async fn create_only_answers_an_existing_object_by_verification(backend: Backend, size: Size) {
    let Some((harness, first)) = holding_one_object(backend, size, 1).await else { return };
    let sink = &harness.sink;

    let same =
        sink.put_stream(NAME, first.stream(), WriteMode::CreateOnly).await.expect("same content");
    assert_eq!(same.status, PutStatus::AlreadyPresent);
    assert_eq!(same.digest, first.digest());

    let other = data(backend, size, 2);
    let error = sink
        .put_stream(NAME, other.stream(), WriteMode::CreateOnly)
        .await
        .expect_err("different content must not pass");
    match &error {
        PutError::Sink(Error::Mismatch { name, existing, new, .. }) => {
            assert_eq!(name, NAME);
            assert_eq!(*existing, first.digest());
            assert_eq!(*new, other.digest());
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains(&first.digest().crc32c_hex())
            && message.contains(&other.digest().crc32c_hex())
    );
    assert!(matches!(&error, PutError::Sink(error) if !error.is_retryable()));
    assert_eq!(
        sink.verify(NAME).await.expect("verify").digest,
        first.digest(),
        "the original is untouched"
    );
    assert_eq!(list_names(sink, "").await, vec![NAME.to_owned()]);
}

#[apply(every_backend)]
async fn replace_swaps_the_object_and_its_record(
    backend: Backend,
    #[values(Size::Small, Size::Large)] first_size: Size,
    #[values(Size::Small, Size::Large)] second_size: Size,
) {
    let Some((harness, _)) = holding_one_object(backend, first_size, 1).await else { return };
    let sink = &harness.sink;
    let second = data(backend, second_size, 2);

    let outcome =
        sink.put_stream(NAME, second.stream(), WriteMode::Replace).await.expect("replace");
    assert_eq!(outcome.status, PutStatus::Replaced);
    assert_eq!(sink.head(NAME).await.expect("head").recorded, Some(second.digest()));
    assert_eq!(Digest::of(&read_all(sink, NAME).await), second.digest());
    assert!(sink.verify(NAME).await.expect("verify").recorded);
}

/// A stream that yields some bytes, then an error.
fn failing_stream(
    generated: Generated,
    fail_after: u64,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    use futures::StreamExt;
    let mut sent = 0u64;
    generated.stream().map(move |chunk| {
        let chunk = chunk.expect("generated data never fails");
        sent += chunk.len() as u64;
        if sent > fail_after {
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "tardis went away"))
        } else {
            Ok(chunk)
        }
    })
}

#[apply(every_backend_and_size)]
async fn a_failing_source_stores_nothing(backend: Backend, size: Size) {
    let Some(harness) = Harness::new(backend).await else { return };
    let sink = &harness.sink;
    let generated = data(backend, size, 1);
    let fail_after = generated.size - 100;

    let error = sink
        .put_stream(NAME, failing_stream(generated, fail_after), WriteMode::CreateOnly)
        .await
        .expect_err("the source failed");
    assert!(
        matches!(&error, PutError::Source { name, .. } if name == NAME),
        "a source error, not a sink error: {error:?}"
    );
    assert!(matches!(sink.head(NAME).await, Err(Error::NotFound { .. })));
    assert_eq!(
        harness.raw_listing().await,
        Vec::<String>::new(),
        "nothing stored, not even staging"
    );
    if backend == Backend::FakeGcs {
        assert_eq!(harness.fake().open_uploads(), 0, "the multipart upload was aborted");
    }
}

#[apply(every_backend)]
async fn a_dropped_upload_leaves_no_object_and_is_aborted(backend: Backend) {
    let Some(harness) = Harness::new(backend).await else { return };
    let sink = &harness.sink;
    let part = Harness::part_size(backend) as u64;
    // Three parts arrive at once; then the producer stalls forever.
    let head = Generated { size: 3 * part, chunk_size: 64 * 1024, seed: 1, delay: None };
    let stalled = futures::StreamExt::chain(head.stream(), futures::stream::pending());
    let upload = sink.put_stream(NAME, stalled, WriteMode::CreateOnly);
    let cancelled = tokio::time::timeout(Duration::from_millis(1500), upload).await;
    assert!(cancelled.is_err(), "the upload waits for the stalled source until dropped");

    assert!(matches!(sink.head(NAME).await, Err(Error::NotFound { .. })));
    assert!(list_names(sink, "").await.is_empty());
    if backend == Backend::FakeGcs {
        let fake = harness.fake();
        assert!(
            crate::support::eventually(|| fake.open_uploads() == 0).await,
            "the drop guard aborts the upload"
        );
    }
}

#[apply(every_backend_and_size)]
async fn delete_removes_the_object_and_its_record(backend: Backend, size: Size) {
    let Some((harness, _)) = holding_one_object(backend, size, 1).await else { return };
    let sink = &harness.sink;

    sink.delete(NAME).await.expect("delete");
    sink.delete(NAME).await.expect("deleting a missing object succeeds");
    assert!(matches!(sink.head(NAME).await, Err(Error::NotFound { .. })));
    assert_eq!(harness.raw_listing().await, Vec::<String>::new(), "no sidecar left");
}

/// A small object reads whole up to its reader's limit; a larger one is refused naming it, a missing one is `None`.
#[apply(every_backend)]
async fn a_small_object_reads_whole_within_the_limit(
    backend: Backend,
    #[values(Size::Empty, Size::Small, Size::Large)] size: Size,
) {
    let Some(harness) = Harness::new(backend).await else { return };
    let sink = &harness.sink;
    let generated = data(backend, size, 3);
    sink.put_stream(NAME, generated.stream(), WriteMode::CreateOnly).await.expect("put");
    for limit in [generated.size, generated.size + 1, u64::MAX] {
        let body = sink.read_small(NAME, limit).await.expect("read").expect("there");
        assert_eq!(Digest::of(&body), generated.digest(), "limit {limit}");
    }
    if generated.size > 0 {
        let error = sink.read_small(NAME, generated.size - 1).await.expect_err("too large");
        assert!(
            matches!(&error, Error::TooLarge { name, limit, .. } if name == NAME && *limit == generated.size - 1),
            "{error:?}"
        );
        assert!(error.to_string().contains(NAME), "{error}");
    }
    assert_eq!(sink.read_small("elsewhere.json", 1024).await.expect("read"), None);
}

#[apply(every_backend)]
async fn listing_is_by_prefix_and_hides_reserved_objects(backend: Backend) {
    let Some(harness) = Harness::new(backend).await else { return };
    let sink = &harness.sink;
    let names = ["a/1.csv.gz", "a/2.csv.gz", "a/sub/3.csv.gz", "ab/4.csv.gz", "b.json"];
    for (seed, name) in names.iter().enumerate() {
        sink.put_bytes(name, format!("object {seed}"), WriteMode::CreateOnly).await.expect("put");
    }
    // A large object writes a sidecar; a leftover staging object sits under the staging prefix.
    let large = data(backend, Size::Large, 9);
    sink.put_stream("c/large.bin", large.stream(), WriteMode::CreateOnly).await.expect("large put");

    let mut all: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    all.push("c/large.bin".into());
    all.sort();
    assert_eq!(list_names(sink, "").await, all);
    assert_eq!(list_names(sink, "a").await, vec!["a/1.csv.gz", "a/2.csv.gz", "a/sub/3.csv.gz"]);
    assert_eq!(list_names(sink, "a/sub/").await, vec!["a/sub/3.csv.gz"]);
    assert!(list_names(sink, "zzz").await.is_empty());
    let listed: Vec<gcs_sink::ObjectInfo> =
        futures::TryStreamExt::try_collect(sink.list("c")).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].size, large.size);
    assert_eq!(
        (listed[0].recorded, listed[0].adopted.as_ref()),
        (None, None),
        "listings carry no records"
    );
}

#[apply(every_backend)]
async fn cleanup_removes_only_old_staging_objects(backend: Backend) {
    let Some(harness) = Harness::new(backend).await else { return };
    let sink = &harness.sink;
    sink.put_bytes("kept.csv", "data", WriteMode::CreateOnly).await.expect("put");
    // What a process killed after completing its upload leaves behind.
    let staging =
        if harness.prefix.is_empty() || matches!(backend, Backend::Memory | Backend::Local) {
            ".md-staging/0000000000001-00000000000000aa".to_owned()
        } else {
            format!("{}/.md-staging/0000000000001-00000000000000aa", harness.prefix)
        };
    object_store::ObjectStoreExt::put(
        sink.store().as_ref(),
        &object_store::path::Path::from(staging.as_str()),
        "half a file".into(),
    )
    .await
    .expect("plant a staging object");

    assert_eq!(
        sink.cleanup_staging(Duration::from_secs(3600)).await.expect("cleanup"),
        0,
        "young ones stay"
    );
    assert!(harness.raw_listing().await.contains(&staging));
    assert_eq!(sink.cleanup_staging(Duration::ZERO).await.expect("cleanup"), 1);
    assert!(!harness.raw_listing().await.contains(&staging));
    assert_eq!(list_names(sink, "").await, vec!["kept.csv"]);
}

#[rstest]
#[tokio::test]
async fn invalid_names_are_refused_before_any_request(
    #[values("", "/abs", "dir/", "a//b", "a/../b", ".md-staging/x", ".md-meta/x")] name: &str,
) {
    let (sink, _) = crate::support::memory_sink(1024);
    let error = sink.put_bytes(name, "x", WriteMode::CreateOnly).await.expect_err("invalid name");
    assert!(
        matches!(&error, Error::InvalidName { name: culprit, .. } if culprit == name),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_share_one_buffer_budget_and_all_complete() {
    // Room for two parts in the whole process, eight uploads of ten parts each in flight at once: every upload waits
    // its turn for room and none deadlocks, whatever order their chunks arrive in.
    let store = Arc::new(object_store::memory::InMemory::new());
    let options =
        SinkOptions { part_size: 1024, buffer_memory: 2048, ..SinkOptions::new(StoreKind::Memory) };
    let sink = ObjectSink::new(store as Arc<dyn object_store::ObjectStore>, "", options);
    let uploads = (0..8u8).map(|index| {
        let sink = sink.clone();
        tokio::spawn(async move {
            let body: Vec<u8> = (0..10_240u32).map(|at| (at % 251) as u8 ^ index).collect();
            let chunks: Vec<Result<Bytes, std::io::Error>> =
                body.chunks(100).map(|chunk| Ok(Bytes::copy_from_slice(chunk))).collect();
            let name = format!("budget/{index}.bin");
            sink.put_stream(&name, futures::stream::iter(chunks), WriteMode::CreateOnly)
                .await
                .unwrap();
            let stored = sink.verify(&name).await.unwrap();
            assert_eq!(stored.digest, Digest::of(&body), "{name}");
            assert!(stored.recorded, "{name}");
        })
    });
    let all = futures::future::try_join_all(uploads);
    tokio::time::timeout(std::time::Duration::from_secs(20), all)
        .await
        .expect("the budget never deadlocks")
        .unwrap();
}
