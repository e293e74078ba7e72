//! What adopting an object md did not write needs from the sink, on every backend: a record of how it was checked
//! (bound to the object, so a rewrite drops it), ranged reads that stop at the range, and a create-only copy on
//! the store's side that carries the source's record.

use bytes::Bytes;
use gcs_sink::{Adoption, CopyStatus, Digest, Error, WriteMode};
use object_store::{ObjectStoreExt, PutPayload};
use rstest_reuse::apply;

use crate::support::{Backend, Harness, every_backend, list_names, read_all};

const NAME: &str =
    "raw_tick_data/by_date/day-2024-01-01/data_type-trades/DERIBIT:PERPETUAL:BTC-USD.parquet";
const OLD_NAME: &str =
    "raw_tick_data/by_date/day-2024-01-01/data_type-trades/DERIBIT:PERP:BTC-USD.parquet";

/// Writes an object straight into the store, as another program would: no md record.
async fn plant(harness: &Harness, name: &str, bytes: &[u8]) {
    let path = match harness.backend {
        Backend::FakeGcs | Backend::Moto => format!("{}/{name}", harness.prefix),
        Backend::Memory | Backend::Local => name.to_owned(),
    };
    harness
        .sink
        .store()
        .put(&object_store::path::Path::from(path), PutPayload::from(Bytes::copy_from_slice(bytes)))
        .await
        .expect("planted");
}

fn foreign(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 31 % 251) as u8).collect()
}

#[apply(every_backend)]
async fn an_adoption_is_recorded_with_how_it_was_checked_and_dropped_when_the_object_is_rewritten(
    backend: Backend,
    #[values(None, Some(()))] whole: Option<()>,
) {
    let Some(harness) = Harness::new(backend).await else { return };
    let sink = &harness.sink;
    let bytes = foreign(5000);
    plant(&harness, NAME, &bytes).await;
    let info = sink.head(NAME).await.expect("head");
    assert_eq!((info.size, info.recorded, info.adopted.clone()), (5000, None, None));

    // A footer check knows no CRC32C; a check that read the whole object does.
    let digest = whole.map(|()| Digest::of(&bytes));
    let checked = if whole.is_some() { "csv-gzip" } else { "parquet-footer" };
    sink.record_adopted(NAME, &info, checked, digest).await.expect("recorded");
    let adopted = sink.head(NAME).await.expect("head");
    assert_eq!(adopted.adopted, Some(Adoption { size: 5000, checked: checked.into() }));
    assert_eq!(adopted.recorded, digest);
    assert_eq!(
        list_names(sink, "raw_tick_data").await,
        vec![NAME.to_owned()],
        "no record is listed"
    );

    // Someone rewrites it: the record describes another object and is ignored.
    plant(&harness, NAME, &foreign(4000)).await;
    let rewritten = sink.head(NAME).await.expect("head");
    assert_eq!((rewritten.recorded, rewritten.adopted), (None, None));
}

#[apply(every_backend)]
async fn an_object_that_changed_after_its_check_gets_no_record(backend: Backend) {
    let Some(harness) = Harness::new(backend).await else { return };
    let sink = &harness.sink;
    plant(&harness, NAME, &foreign(5000)).await;
    let info = sink.head(NAME).await.expect("head");
    plant(&harness, NAME, &foreign(6000)).await;
    // Refused (a local file is looked at again), or recorded for the version that was checked, which the current
    // one is not.
    let recorded = sink.record_adopted(NAME, &info, "parquet-footer", None).await;
    match backend {
        Backend::Local => assert!(matches!(recorded, Err(Error::Changed { .. })), "{recorded:?}"),
        _ => assert!(recorded.is_ok(), "{recorded:?}"),
    }
    assert_eq!(sink.head(NAME).await.expect("head").adopted, None);
    let wrong = Some(Digest { size: 1, crc32c: 0 });
    let error = sink.record_adopted(NAME, &info, "csv-gzip", wrong).await;
    assert!(matches!(error, Err(Error::Changed { .. })), "{error:?}");
    let bad = sink.record_adopted(NAME, &info, "two\nlines", None).await;
    assert!(matches!(bad, Err(Error::InvalidName { .. })), "{bad:?}");
}

#[apply(every_backend)]
async fn a_ranged_read_returns_the_range_of_the_version_it_names(backend: Backend) {
    let Some(harness) = Harness::new(backend).await else { return };
    let sink = &harness.sink;
    let bytes = foreign(100_000);
    plant(&harness, NAME, &bytes).await;
    let info = sink.head(NAME).await.expect("head");
    let served_before = harness.fake.as_ref().map(|fake| fake.served_bytes());
    let tail = sink.read_range(NAME, 99_000..100_000, info.e_tag.as_deref()).await.expect("tail");
    assert_eq!(tail.as_ref(), &bytes[99_000..]);
    if let (Some(fake), Some(before)) = (&harness.fake, served_before) {
        assert_eq!(fake.served_bytes() - before, 1000, "only the range travelled");
    }
    let middle = sink.read_range(NAME, 10..20, None).await.expect("middle");
    assert_eq!(middle.as_ref(), &bytes[10..20]);

    plant(&harness, NAME, &foreign(100_001)).await;
    let stale = sink.read_range(NAME, 0..10, info.e_tag.as_deref()).await;
    assert!(matches!(stale, Err(Error::Changed { .. })), "{stale:?}");
    let missing = sink.read_range("no/such.parquet", 0..10, None).await;
    assert!(matches!(missing, Err(Error::NotFound { .. })), "{missing:?}");
}

#[apply(every_backend)]
async fn a_create_only_copy_carries_the_record_and_leaves_the_source(backend: Backend) {
    let Some(harness) = Harness::new(backend).await else { return };
    let sink = &harness.sink;

    // An object md wrote under an old spelling: the copy is verified as the source was.
    let written =
        sink.put_bytes(OLD_NAME, foreign(3000), WriteMode::CreateOnly).await.expect("put");
    assert_eq!(sink.copy_create(OLD_NAME, NAME).await.expect("copy"), CopyStatus::Copied);
    let copy = sink.head(NAME).await.expect("head");
    assert_eq!((copy.recorded, copy.adopted), (Some(written.digest), None));
    assert_eq!(read_all(sink, NAME).await, foreign(3000));
    assert_eq!(sink.head(OLD_NAME).await.expect("the source stays").recorded, Some(written.digest));

    // Create-only: a second copy finds the name taken and changes nothing.
    plant(&harness, "other.parquet", &foreign(10)).await;
    assert_eq!(sink.copy_create("other.parquet", NAME).await.expect("copy"), CopyStatus::Exists);
    assert_eq!(read_all(sink, NAME).await, foreign(3000));

    // An adopted object: its adoption comes along.
    let adopted_name = "adopted/DERIBIT:PERP:ETH-USD.parquet";
    let new_name = "adopted/DERIBIT:PERPETUAL:ETH-USD.parquet";
    plant(&harness, adopted_name, &foreign(2000)).await;
    let info = sink.head(adopted_name).await.expect("head");
    sink.record_adopted(adopted_name, &info, "parquet-footer", None).await.expect("recorded");
    assert_eq!(sink.copy_create(adopted_name, new_name).await.expect("copy"), CopyStatus::Copied);
    let copy = sink.head(new_name).await.expect("head");
    assert_eq!(
        (copy.recorded, copy.adopted),
        (None, Some(Adoption { size: 2000, checked: "parquet-footer".into() }))
    );

    // A foreign object without a record is copied as it is, unrecorded.
    plant(&harness, "theirs/a.parquet", &foreign(50)).await;
    assert_eq!(
        sink.copy_create("theirs/a.parquet", "theirs/b.parquet").await.expect("copy"),
        CopyStatus::Copied
    );
    let copy = sink.head("theirs/b.parquet").await.expect("head");
    assert_eq!((copy.size, copy.recorded, copy.adopted), (50, None, None));

    let missing = sink.copy_create("no/such.parquet", "x/y.parquet").await;
    assert!(matches!(missing, Err(Error::NotFound { .. })), "{missing:?}");
}
