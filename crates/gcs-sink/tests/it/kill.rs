//! A process killed (SIGKILL) in the middle of an upload never leaves a partial object under the final name, and a
//! later run cleans up what it left. The fake GCS server runs here, outside the killed process.
//!
//! The uploader is a child process: this test binary itself, run again with arguments that select the one test
//! [`uploader`] (`--exact kill::uploader`) and, after `--`, the upload's flags ([`Upload`]). libtest takes the words
//! after `--` for further name filters, which match no test, so the child runs exactly that test, under
//! `cargo test` and `cargo nextest run` alike (both run this same binary). Run as an ordinary test, [`uploader`]
//! starts such a child for a small upload and checks it completes, so a child that never uploads fails there.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gcs_sink::{ObjectSink, PutStatus, WriteMode};
use test_support::gcs::{Fault, RequestKind};
use test_support::generated::Generated;
use test_support::upload::Upload;

use crate::support::{BUCKET, Backend, Harness, eventually, list_names};

const NAME: &str = "day-2024-01-01/big.csv.gz";

/// The name of the test that is the uploader child, as libtest's `--exact` matches it.
const UPLOADER_TEST: &str = "kill::uploader";

/// Returns a command that runs this test binary as the uploader child, uploading as `flags` say.
fn uploader_command(flags: &[&str]) -> Command {
    let test_binary = std::env::current_exe().expect("the path of this test binary");
    let mut command = Command::new(test_binary);
    command.args(["--exact", UPLOADER_TEST, "--nocapture", "--"]).args(flags);
    command
}

/// Starts a slow upload of 16 MiB in 64 KiB chunks, 256 KiB parts, 20 ms per chunk (about 5 s in all); `flags` (the
/// sink, and any other) come after these defaults, so they override them.
fn spawn_uploader(flags: &[&str]) -> Child {
    let mut all =
        vec!["--name", NAME, "--size", "16MiB", "--chunk-size", "64KiB", "--part-size", "256KiB"];
    all.extend(["--delay-ms", "20", "--seed", "3"]);
    all.extend(flags);
    uploader_command(&all)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the uploader starts")
}

/// The uploader child, selected by its arguments. With flags after `--` (from [`uploader_command`]) it runs the
/// upload they describe until it finishes or is killed. Run as an ordinary test (no `--`), it starts itself that way
/// for a small upload to a local directory and checks that the child succeeds and its object reads back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploader() {
    let flags: Vec<String> = std::env::args().skip_while(|arg| arg != "--").skip(1).collect();
    if !flags.is_empty() {
        let upload = Upload::parse(flags).expect("the uploader's flags");
        let outcome = upload.run().await.expect("the upload");
        assert_eq!(outcome.digest, upload.generated.digest());
        return;
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("sink");
    let root_arg = root.to_str().expect("utf-8 path");
    let output = uploader_command(&["--sink", root_arg, "--name", NAME, "--size", "1MiB"])
        .args(["--chunk-size", "64KiB", "--part-size", "256KiB", "--seed", "3"])
        .output()
        .expect("the uploader runs");
    assert!(
        output.status.success(),
        "the uploader child failed: {}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let sink = ObjectSink::from_config(&md_config::SinkConfig {
        location: md_config::SinkLocation::Local { root },
        ..md_config::SinkConfig::default()
    })
    .expect("sink");
    let generated = Generated { size: 1 << 20, chunk_size: 64 << 10, seed: 3, delay: None };
    assert_eq!(sink.verify(NAME).await.expect("the child's object").digest, generated.digest());
}

fn kill(mut child: Child) {
    // std's kill is SIGKILL on Unix: no destructor, no abort, nothing runs.
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("reaped");
    assert!(!status.success(), "the uploader was killed, not finished: {status}");
}

#[tokio::test]
async fn killed_during_the_parts_leaves_no_object_under_the_final_name() {
    let harness = Harness::new(Backend::FakeGcs).await.expect("fake");
    let fake = harness.fake();
    let sink = format!("gs://{BUCKET}/{}", harness.prefix);
    let child = spawn_uploader(&["--sink", &sink, "--emulator-host", &fake.url()]);
    assert!(
        eventually(|| fake.counters().of(RequestKind::UploadPart) >= 3).await,
        "the child uploads parts"
    );
    kill(child);

    assert!(fake.object(BUCKET, &harness.fake_name(NAME)).is_none(), "no partial object");
    assert!(matches!(harness.sink.head(NAME).await, Err(gcs_sink::Error::NotFound { .. })));
    assert!(list_names(&harness.sink, "").await.is_empty());
    assert_eq!(
        fake.open_uploads(),
        1,
        "the killed upload stays open (parts are reclaimed by a lifecycle rule)"
    );
    assert_eq!(fake.counters().of(RequestKind::CompleteMultipart), 0);

    // A later run writes the object whole.
    let generated = Generated { size: 16 << 20, chunk_size: 64 << 10, seed: 3, delay: None };
    let outcome = harness
        .sink
        .put_stream(NAME, generated.stream(), WriteMode::CreateOnly)
        .await
        .expect("rerun");
    assert_eq!(outcome.status, PutStatus::Created);
    assert_eq!(harness.sink.verify(NAME).await.expect("verify").digest, generated.digest());
}

#[tokio::test]
async fn killed_while_publishing_leaves_a_staging_object_that_cleanup_removes() {
    let harness = Harness::new(Backend::FakeGcs).await.expect("fake");
    let fake = harness.fake();
    // The publishing copy hangs, so the child is killed with its staging object complete but not yet copied.
    fake.faults().inject(Some(RequestKind::Copy), 1, Fault::Stall(Duration::from_secs(300)));
    let sink = format!("gs://{BUCKET}/{}", harness.prefix);
    let child =
        spawn_uploader(&["--sink", &sink, "--emulator-host", &fake.url(), "--delay-ms", "0"]);
    assert!(
        eventually(|| fake.counters().of(RequestKind::Copy) >= 1).await,
        "the child reaches the copy"
    );
    kill(child);

    assert!(
        fake.object(BUCKET, &harness.fake_name(NAME)).is_none(),
        "no object under the final name"
    );
    let staged: Vec<String> = fake
        .object_names(BUCKET)
        .into_iter()
        .filter(|name| name.contains("/.md-staging/"))
        .collect();
    assert_eq!(
        staged.len(),
        1,
        "one complete staging object left: {:?}",
        fake.object_names(BUCKET)
    );
    assert!(list_names(&harness.sink, "").await.is_empty(), "staging objects are never listed");

    // A later run removes it (age 0 here; in production an hour or more).
    assert_eq!(harness.sink.cleanup_staging(Duration::from_secs(3600)).await.expect("cleanup"), 0);
    assert_eq!(harness.sink.cleanup_staging(Duration::ZERO).await.expect("cleanup"), 1);
    assert!(fake.object_names(BUCKET).is_empty());
}

#[tokio::test]
async fn killed_local_uploads_leave_only_hidden_partials_that_cleanup_removes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("sink");
    let child = spawn_uploader(&["--sink", root.to_str().expect("utf-8 path")]);
    let staging = root.join(".md-staging");
    assert!(
        eventually(|| bytes_under(&staging) >= 1 << 20).await,
        "the child writes its staging file"
    );
    kill(child);

    assert!(!root.join(NAME).exists(), "no file under the final name");
    let sink = ObjectSink::from_config(&md_config::SinkConfig {
        location: md_config::SinkLocation::Local { root: root.clone() },
        ..md_config::SinkConfig::default()
    })
    .expect("sink");
    assert!(list_names(&sink, "").await.is_empty());
    assert_eq!(sink.cleanup_staging(Duration::ZERO).await.expect("cleanup"), 1);
    assert_eq!(bytes_under(&staging), 0);
}

fn bytes_under(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.flatten().filter_map(|entry| entry.metadata().ok()).map(|meta| meta.len()).sum()
        })
        .unwrap_or(0)
}
