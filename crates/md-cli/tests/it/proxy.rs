//! Behind a proxy: `HTTP_PROXY` (here from a `.env` file, with credentials the proxy requires) carries every request,
//! to Tardis and to the sink, and its password is never printed; `config` shows where it came from and `doctor`
//! checks it.

use test_support::proxy::TestProxy;

use crate::support::{KEY, SELECTION, Stand, args, main_job_stand, ok, plan, small_files};

const PASSWORD: &str = "pr0xy-s3cret";

fn proxy(stand: &Stand) -> TestProxy {
    stand.runtime.block_on(TestProxy::start(Some(("ops", PASSWORD)))).expect("the proxy starts")
}

/// A download through the proxy (Tardis stand-in and GCS fake both plain http, so forwarded, not tunnelled) stores
/// every object byte-exact, and the proxy saw every request the two servers saw, each with the credentials.
#[test]
fn a_download_through_a_proxy_is_byte_exact_and_every_request_goes_through_it() {
    let stand = main_job_stand(small_files()).with_gcs();
    let proxy = proxy(&stand);
    let env = stand
        .env(Some(KEY))
        .var("GCS_BUCKET", "md-ticks")
        .var("INSTRUMENT_EXCHANGES", "deribit,binance-futures");
    env.write(".env", &format!("http_proxy={}\n", proxy.url_with_credentials()));
    let config = ok(env.run(&["config"]));
    let line = config.stdout.lines().find(|line| line.starts_with("http_proxy ")).expect("listed");
    assert!(
        line.contains(&format!(
            "http://ops:<redacted>@{}",
            proxy.url().trim_start_matches("http://")
        )),
        "{line}"
    );
    assert!(line.contains(".env"), "its source: {line}");

    // At trace level: every HTTP detail the stack logs, and still no password.
    let run = ok(env.run(&args("-vv", &[&["pipeline"], SELECTION].concat())));
    assert!(run.stderr.contains("TRACE"), "trace logs are on");
    for output in [&run.stdout, &run.stderr, &config.stdout] {
        assert!(!output.contains(PASSWORD), "the proxy's password was printed");
    }
    let units = plan(&env);
    let gcs = stand.gcs.as_ref().unwrap();
    for unit in &units {
        let stored = gcs.object("md-ticks", &unit.object).expect("in the bucket");
        let expected = stand.served_unit(unit);
        assert!(stored.data.as_ref() == expected.as_slice(), "{} differs", unit.object);
    }
    let log = proxy.requests();
    assert!(log.iter().all(|entry| entry.authorized && entry.method != "CONNECT"), "{log:?}");
    let to = |addr: std::net::SocketAddr| {
        log.iter().filter(|entry| entry.authority == addr.to_string()).count()
    };
    assert_eq!(
        to(stand.stub.addr()),
        stand.stub.counters().total,
        "every Tardis request went through it"
    );
    assert_eq!(to(gcs.addr()) as u64, gcs.counters().total(), "every sink request went through it");
    assert_eq!(to(stand.stub.addr()) + to(gcs.addr()), log.len());
    assert!(log.iter().any(|entry| entry.path.ends_with(".csv.gz")), "datasets too");
}

/// `doctor` says which proxy the Tardis requests take, and fails the tardis check, naming the proxy without its
/// password, when the proxy refuses the credentials.
#[test]
fn doctor_checks_the_proxy() {
    let stand = main_job_stand(small_files());
    let proxy = proxy(&stand);
    let env = stand
        .env(Some(KEY))
        .var("MD_SINK", "sink")
        .var("HTTP_PROXY", &proxy.url_with_credentials());
    let good = env.run(&args("doctor", &["--json"]));
    let checks: Vec<serde_json::Value> =
        good.stdout.lines().map(|line| serde_json::from_str(line).expect("JSON")).collect();
    let tardis = checks.iter().find(|check| check["name"] == "tardis").expect("tardis check");
    assert_eq!(tardis["status"], "ok", "{tardis}");
    assert!(
        tardis["summary"].as_str().unwrap().contains("through the proxy http://ops:<redacted>@"),
        "{tardis}"
    );
    let configuration = checks.iter().find(|check| check["name"] == "configuration").unwrap();
    assert!(
        configuration["summary"].as_str().unwrap().contains("HTTP_PROXY from env"),
        "{configuration}"
    );

    let wrong =
        format!("http://ops:not-the-password@{}", proxy.url().trim_start_matches("http://"));
    let refused = stand
        .env(Some(KEY))
        .var("MD_SINK", "sink")
        .var("HTTP_PROXY", &wrong)
        .run(&args("doctor", &[]));
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(refused.stdout.contains("FAIL  tardis"), "{}", refused.stdout);
    assert!(refused.stdout.contains("HTTP 407"), "{}", refused.stdout);
    for output in [&good.stdout, &good.stderr, &refused.stdout, &refused.stderr] {
        assert!(
            !output.contains(PASSWORD) && !output.contains("not-the-password"),
            "a password was printed"
        );
    }
}

/// `https://` targets go through the proxy as CONNECT tunnels: a download from the TLS stand-in (trusted through
/// `SSL_CERT_FILE`, as a container's CA bundle would be) is byte-exact, the proxy tunnelled every connection, and
/// with credentials the proxy refuses nothing reaches the stand-in.
#[test]
fn a_download_from_tls_tunnels_through_the_proxy() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let stub = runtime
        .block_on(test_support::tardis::TardisStub::start_tls(test_support::tardis::StubConfig {
            api_key: Some(KEY.into()),
            ..small_files()
        }))
        .expect("the TLS stand-in starts");
    let stand = Stand { stub, gcs: None, runtime };
    assert!(stand.stub.base_url().starts_with("https://"));
    let proxy = proxy(&stand);
    let env = stand
        .env(Some(KEY))
        .var("MD_SINK", "sink")
        .var("INSTRUMENT_EXCHANGES", "deribit,binance-futures")
        .var("HTTPS_PROXY", &proxy.url_with_credentials());
    let ca = env.write("test-ca.pem", test_support::tardis::TEST_CA_PEM);
    let env = env.var("SSL_CERT_FILE", ca.to_str().unwrap());
    let run = ok(env.run(&args("pipeline", SELECTION)));
    assert!(!run.stderr.contains(PASSWORD) && !run.stdout.contains(PASSWORD));
    let units = plan(&env);
    crate::support::assert_byte_exact(&stand, &env, &units);
    let log = proxy.requests();
    assert!(!log.is_empty());
    for entry in &log {
        assert_eq!(entry.method, "CONNECT", "{entry:?}");
        assert_eq!(entry.authority, stand.stub.addr().to_string());
        assert!(entry.authorized && entry.status == 200, "{entry:?}");
    }
    assert!(stand.stub.counters().total > log.len(), "requests share tunnels: {log:?}");

    stand.stub.reset_counters();
    let wrong =
        format!("http://ops:not-the-password@{}", proxy.url().trim_start_matches("http://"));
    let refused = env
        .var("HTTPS_PROXY", &wrong)
        .var("TARDIS_MAX_RETRIES", "0")
        .var("MD_FORCE", "true")
        .run(&args("download", SELECTION));
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert_eq!(stand.stub.counters().total, 0, "nothing went around the proxy");
    assert!(!refused.stderr.contains("not-the-password"), "{}", refused.stderr);
}

/// The key read from Secret Manager goes through the proxy too, as every other request.
#[test]
fn the_secret_manager_request_goes_through_the_proxy() {
    let stand = main_job_stand(small_files());
    let secrets = stand
        .runtime
        .block_on(test_support::secret_manager::SecretManagerStub::start())
        .expect("it starts");
    secrets.insert("md-project", "tardis-api-key", KEY.as_bytes());
    let proxy = proxy(&stand);
    let env = stand
        .env(None)
        .var("MD_SINK", "sink")
        .var("TARDIS_SECRET_NAME", "tardis-api-key")
        .var("GCP_PROJECT_ID", "md-project")
        .var("SECRET_MANAGER_EMULATOR_HOST", &secrets.url())
        .var("HTTP_PROXY", &proxy.url_with_credentials());
    let run = env.run(&args("doctor", &["--json"]));
    assert!(!run.stdout.contains(PASSWORD) && !run.stderr.contains(PASSWORD));
    let secret_host = secrets.url().trim_start_matches("http://").trim_end_matches('/').to_owned();
    let log = proxy.requests();
    assert!(
        log.iter()
            .any(|entry| entry.authority == secret_host && entry.path.contains("tardis-api-key")),
        "{log:?}"
    );
    assert!(log.iter().all(|entry| entry.authorized), "{log:?}");
}
