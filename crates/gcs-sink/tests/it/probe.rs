//! The sink's self-test (`ObjectSink::probe`, which `md-cli doctor` reports): on every backend the probe object is
//! written, read back, verified, refused a second time and deleted, leaving nothing; a name already taken fails it
//! at the first write, naming the step, and the object stored there is kept.

use gcs_sink::{ProbeError, WriteMode};
use rstest::rstest;
use rstest_reuse::apply;

use crate::support::{Backend, Harness, every_backend, list_names, memory_sink, read_all};

const PROBE: &str = ".md-doctor/probe-test";

#[apply(every_backend)]
async fn the_probe_passes_and_leaves_nothing(backend: Backend) {
    let Some(harness) = Harness::new(backend).await else { return };
    harness.sink.probe(PROBE).await.expect("the probe passes");
    assert!(list_names(&harness.sink, "").await.is_empty(), "the probe is deleted");
}

#[rstest]
#[case::other_bytes("someone else's object\n")]
#[case::the_same_bytes("md-cli doctor probe .md-doctor/probe-test\n")]
#[tokio::test]
async fn a_name_already_taken_fails_the_first_write_and_keeps_the_object(#[case] stored: &str) {
    let (sink, _) = memory_sink(1 << 20);
    sink.put_bytes(PROBE, stored.to_owned(), WriteMode::CreateOnly).await.expect("stored");
    let error = sink.probe(PROBE).await.expect_err("the name is taken");
    assert!(
        matches!(&error, ProbeError::Write { name, .. } | ProbeError::AlreadyThere { name } if name == PROBE),
        "{error:?}"
    );
    assert_eq!(read_all(&sink, PROBE).await, stored.as_bytes(), "the stored object is kept");
}
