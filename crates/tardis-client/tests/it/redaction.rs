//! The API key never appears in a log line (at TRACE, including the HTTP stack's own events) or an error.

use std::io::Write;
use std::sync::{Arc, Mutex};

use md_config::DataType;
use test_support::tardis::{Fault, StubConfig, TardisStub};

use crate::support::{KEY, client, download, request, stub};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_key_is_absent_from_every_log_line_and_error_at_trace() {
    // Forward `log` records (reqwest uses `log`) to tracing; everything runs on this thread.
    let _ = tracing_log::LogTracer::init();
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let mut errors = Vec::new();
    runtime.block_on(async {
        let second =
            TardisStub::start(StubConfig { file_size: 16 * 1024, ..StubConfig::default() })
                .await
                .expect("starts");
        let stub = stub(|config| config.redirect_to = Some(second.base_url())).await;
        let client = client(&stub, 3, |_| {});
        errors.push(format!("{client:?}"));
        stub.push_faults(Fault::Status(500), 1);
        stub.push_faults(Fault::DropMidBody, 1);
        let paid = request("deribit", DataType::Trades, "2026-10-02", "BTC-PERPETUAL");
        let drained = download(&client, &paid).await.expect("opens");
        drained.outcome.expect("completes after a retry and a resume");
        stub.push_faults(Fault::Redirect, 1);
        let drained = download(&client, &paid).await.expect("opens");
        drained.outcome.expect("completes after a redirect");
        stub.push_faults(Fault::Status(503), 10);
        let error = download(&client, &paid).await.expect_err("gives up");
        errors.push(format!("{error} | {error:?} | {error:#}"));
        let no_such = request("deribit", DataType::Trades, "2026-10-02", "NOPE");
        let error = download(&client, &no_such).await.expect_err("404");
        errors.push(format!("{error} | {error:?}"));
        let error = client.instruments("nowhere", &Default::default()).await.expect_err("404");
        errors.push(format!("{error} | {error:?}"));
    });
    let logs =
        String::from_utf8(captured.0.lock().expect("capture lock").clone()).expect("utf-8 logs");
    assert!(logs.contains("TRACE"), "TRACE events were captured");
    assert!(logs.contains("/v1/deribit/trades/2026/10/02/BTC-PERPETUAL.csv.gz"), "logs show URLs");
    assert!(logs.contains("attempt") && logs.contains("sleep_ms"), "retry events are logged");
    for (index, line) in logs.lines().enumerate() {
        assert!(!line.contains(KEY), "line {index} shows the key: {line}");
        assert!(!line.contains("test-key"), "line {index} shows part of the key: {line}");
    }
    for error in &errors {
        assert!(
            !error.contains(KEY) && !error.contains("test-key"),
            "an error shows the key: {error}"
        );
    }
}
