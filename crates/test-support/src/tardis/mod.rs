//! A Tardis.dev stand-in on `127.0.0.1`: the datasets service and the metadata API on one port.
//!
//! - `GET /v1/exchanges`, `GET /v1/exchanges/{id}` (public) and `GET /v1/instruments/{id}?filter=` (needs the key,
//!   except BitMEX) answer from the fixtures in `fixtures/tardis/` (a copy of `shared/tardis/fixtures`).
//! - `GET /v1/{exchange}/{data_type}/{YYYY}/{MM}/{DD}/{symbol}.csv.gz` answers a deterministic gzip CSV (seeded by
//!   the path) with the right header, realistic rows and about [`StubConfig::file_size`] compressed bytes; 404 for an
//!   unknown exchange, symbol or data type, or a day outside the symbol's availability; an empty gzip on configured
//!   days; 401 (JSON body, as Tardis) without the key on a day that is not the first of a month.
//! - `Range`/`If-Range` (toggle), `ETag`, `Last-Modified`; faults on demand ([`Fault`]), scripted
//!   ([`TardisStub::push_faults`]) or random with a seed ([`FaultRates`]); WAN knobs (bandwidth, first-byte delay).
//! - Counters ([`TardisStub::counters`], [`TardisStub::requests`]): totals, per path, in flight, the busiest second,
//!   whether each request carried `Authorization`.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use test_support::tardis::{Fault, StubConfig, TardisStub};
//!
//! let stub = TardisStub::start(StubConfig { api_key: Some("TD.test".into()), ..StubConfig::default() }).await?;
//! stub.push_faults(Fault::Status(503), 2); // the next two requests fail
//! let config = stub.tardis_config(); // md_config::TardisConfig pointing at the stand-in, with the key
//! # let _ = config;
//! assert_eq!(stub.counters().total, 0);
//! # Ok(())
//! # }
//! ```

mod fixtures;
pub mod generate;
pub mod measure;
mod server;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate};

pub use self::fixtures::EXCHANGES as FIXTURE_EXCHANGES;
use self::generate::SplitMix;
use crate::serve::ServeTask;

/// Serves only 127.0.0.1.
const HOST: [u8; 4] = [127, 0, 0, 1];

/// How the stand-in behaves. `Default`: no key enforced, 64 KiB files, ranges on, no faults.
#[derive(Debug, Clone)]
pub struct StubConfig {
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
    /// The API key the stand-in expects (`Authorization: Bearer KEY`); `None` accepts any request.
    pub api_key: Option<String>,
    /// Target compressed size of generated files, in bytes.
    pub file_size: u64,
    /// Whether `Range` requests are honoured (and `Accept-Ranges: bytes` advertised).
    pub ranges: bool,
    /// Dataset paths (`/v1/deribit/trades/2024/01/02/BTC-PERPETUAL.csv.gz`) served as an empty gzip.
    pub empty_paths: HashSet<String>,
    /// `(symbol, day)` pairs served as an empty gzip, whatever the exchange and data type.
    pub empty_symbol_days: HashSet<(String, NaiveDate)>,
    /// Random faults for dataset requests.
    pub fault_rates: FaultRates,
    /// Seed of the random faults.
    pub seed: u64,
    /// `Retry-After` of random 429s, in seconds.
    pub retry_after_secs: u64,
    /// How long a [`Fault::Stall`] pauses.
    pub stall: Duration,
    /// Base URL (`http://127.0.0.1:PORT`) that [`Fault::Redirect`] sends clients to; `None` redirects to itself.
    pub redirect_to: Option<String>,
    /// Bandwidth cap of each response body in bytes per second; `None` is unlimited.
    pub bandwidth: Option<u64>,
    /// Delay before every response's headers.
    pub first_byte_delay: Duration,
    /// Where files bigger than `memory_cache_limit` are generated (once, then reused); `None` is
    /// `$TMPDIR/md-tardis-stub`.
    pub cache_dir: Option<PathBuf>,
    /// Files up to this size are generated in memory and kept there.
    pub memory_cache_limit: u64,
    /// Serve every dataset file of one exchange, data type and month with the same body (generated for the symbol
    /// `SHARED` on the first of the month), so a benchmark over many large files needs one cached file per data
    /// type instead of one per path. The rows then do not carry the requested symbol and day.
    pub shared_bodies: bool,
    /// Replaces every exchange's `datasets.exportedUntil` (in the details, and for which days are served);
    /// `None` keeps the fixtures' own.
    pub exported_until: Option<chrono::DateTime<chrono::Utc>>,
    /// Incident reports added to an exchange's `incidentReports`: `(exchange, from, to, status, details)`.
    pub incidents: Vec<StubIncident>,
    /// Added to the stand-in's clock in the `Date` header of every response (a server whose clock is off).
    pub clock_skew: chrono::Duration,
    /// The body of `GET /v1/api-key-info` for the valid key; `None`: full access to every fixture exchange since
    /// 2019-01-01.
    pub api_key_access: Option<serde_json::Value>,
}

/// An incident report the stand-in adds to an exchange's details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StubIncident {
    /// Tardis exchange id.
    pub exchange: String,
    /// Start of the affected period.
    pub from: chrono::DateTime<chrono::Utc>,
    /// End of the affected period.
    pub to: chrono::DateTime<chrono::Utc>,
    /// `resolved`, `wontfix` or `unresolved`.
    pub status: String,
    /// What happened.
    pub details: String,
}

impl Default for StubConfig {
    fn default() -> Self {
        StubConfig {
            port: 0,
            api_key: None,
            file_size: 64 * 1024,
            ranges: true,
            empty_paths: HashSet::new(),
            empty_symbol_days: HashSet::new(),
            fault_rates: FaultRates::default(),
            seed: 1,
            retry_after_secs: 1,
            stall: Duration::from_secs(5),
            redirect_to: None,
            bandwidth: None,
            first_byte_delay: Duration::ZERO,
            cache_dir: None,
            memory_cache_limit: 64 * 1024 * 1024,
            shared_bodies: false,
            exported_until: None,
            incidents: Vec::new(),
            clock_skew: chrono::Duration::zero(),
            api_key_access: None,
        }
    }
}

/// One injected fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status with a Tardis-like JSON error body.
    Status(u16),
    /// Answer 429 with `Retry-After` in seconds.
    TooManyRequests {
        /// `Retry-After`, seconds.
        retry_after_secs: u64,
    },
    /// Send about half the body (with the full `Content-Length`), then drop the connection.
    DropMidBody,
    /// Send about half the body, pause for [`StubConfig::stall`], then send the rest.
    Stall,
    /// Flip one byte in the middle of the body (same length, same headers).
    CorruptByte,
    /// Send only the first half of the body, with a `Content-Length` that matches what is sent.
    TruncatedGzip,
    /// Redirect (302) to the same path on [`StubConfig::redirect_to`].
    Redirect,
    /// Serve a whole, valid gzip of the data type's CSV header and one row whose every cell is `x`: a file the
    /// raw download stores as it is, but no typed conversion accepts.
    UnconvertibleRow,
    /// Answer a Tardis error with its code in the body, `{"code": N, "message": ..., "retryAfterSeconds": S}`; see
    /// [`Fault::date_outside_listing`], [`Fault::invalid_symbol`], [`Fault::key_in_use`].
    Coded {
        /// HTTP status.
        status: u16,
        /// Tardis's error code.
        code: u32,
        /// Tardis's message.
        message: String,
        /// `retryAfterSeconds` in the body, if any.
        retry_after_secs: Option<u64>,
    },
}

impl Fault {
    /// 400 with code 140, as Tardis answers for a day outside the symbol's listing.
    pub fn date_outside_listing() -> Fault {
        Fault::Coded {
            status: 400,
            code: 140,
            message: "Data available only up to 2026-09-30".into(),
            retry_after_secs: None,
        }
    }

    /// 400 with code 300, as Tardis answers for a symbol it does not know.
    pub fn invalid_symbol() -> Fault {
        Fault::Coded {
            status: 400,
            code: 300,
            message: "Invalid 'symbol' param".into(),
            retry_after_secs: None,
        }
    }

    /// 403 with code 274, as Tardis answers when the key is active from another IP address.
    pub fn key_in_use(retry_after_secs: Option<u64>) -> Fault {
        Fault::Coded {
            status: 403,
            code: 274,
            message: "This Data API key is already active from another IP address. Use one API key from one IP \
                      address at a time."
                .into(),
            retry_after_secs,
        }
    }
}

/// How often a [`Fault`] scripted for a path ([`TardisStub::script_path`]) applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// The next `n` requests for the path, then it is served.
    Next(usize),
    /// Every request for the path until the script is removed.
    Always,
}

/// Probabilities (0..=1) of each fault per dataset request; their sum must stay at or below 1.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultRates {
    /// HTTP 500.
    pub status_500: f64,
    /// HTTP 429 with `Retry-After` [`StubConfig::retry_after_secs`].
    pub too_many_requests: f64,
    /// Connection dropped mid-body.
    pub drop_mid_body: f64,
    /// A stall mid-body.
    pub stall: f64,
    /// One corrupt byte.
    pub corrupt_byte: f64,
    /// A truncated gzip with a matching `Content-Length`.
    pub truncated_gzip: f64,
    /// A cross-origin redirect.
    pub redirect: f64,
}

impl FaultRates {
    fn pick(&self, draw: f64, retry_after_secs: u64) -> Option<Fault> {
        let table = [
            (self.status_500, Fault::Status(500)),
            (self.too_many_requests, Fault::TooManyRequests { retry_after_secs }),
            (self.drop_mid_body, Fault::DropMidBody),
            (self.stall, Fault::Stall),
            (self.corrupt_byte, Fault::CorruptByte),
            (self.truncated_gzip, Fault::TruncatedGzip),
            (self.redirect, Fault::Redirect),
        ];
        let mut edge = 0.0;
        for (rate, fault) in table {
            edge += rate;
            if draw < edge {
                return Some(fault);
            }
        }
        None
    }
}

/// Whether a request carried the expected key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthSeen {
    /// No `Authorization` header.
    Absent,
    /// `Bearer` with the expected key (or any key when none is expected).
    Valid,
    /// Some other `Authorization`.
    Invalid,
}

/// One request the stand-in saw.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// Path, percent-encoded as sent.
    pub path: String,
    /// Query string, if any.
    pub query: Option<String>,
    /// The `Authorization` header, judged.
    pub auth: AuthSeen,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// When it arrived, since the stand-in started.
    pub at: Duration,
    /// The fault applied, if any.
    pub fault: Option<Fault>,
    /// The status answered.
    pub status: u16,
}

/// Totals over the requests seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests seen.
    pub total: usize,
    /// Requests per path (without query).
    pub per_path: BTreeMap<String, usize>,
    /// The most requests in flight at once (from arrival to the end of the body).
    pub in_flight_peak: usize,
    /// The most requests that arrived within any one-second window.
    pub max_per_second: usize,
    /// Requests that carried an `Authorization` header.
    pub with_authorization: usize,
}

/// The state shared by the handler and the [`TardisStub`] handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: StubConfig,
    pub(crate) self_url: String,
    pub(crate) fixtures: fixtures::Fixtures,
    started: Instant,
    log: Mutex<Vec<RequestRecord>>,
    scripted: Mutex<VecDeque<Fault>>,
    scripted_datasets: Mutex<VecDeque<Fault>>,
    /// Faults by path (without query), checked first.
    by_path: Mutex<HashMap<String, (Fault, Times)>>,
    /// A fault for every request, until cleared.
    standing: Mutex<Option<Fault>>,
    /// `(exchange, dataset symbol)` listed only before this day, overriding the fixtures.
    pub(crate) listing_ends: Mutex<HashMap<(String, String), NaiveDate>>,
    rates: Mutex<(FaultRates, SplitMix)>,
    in_flight: AtomicUsize,
    in_flight_peak: AtomicUsize,
    pub(crate) memory: Mutex<HashMap<(String, u64), bytes::Bytes>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// Records a request's arrival; returns its index in the log and the in-flight guard.
    pub(crate) fn arrive(self: &Arc<Self>, record: RequestRecord) -> (usize, InFlight) {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.in_flight_peak.fetch_max(now, Ordering::SeqCst);
        let mut log = lock(&self.log);
        log.push(RequestRecord { at: self.started.elapsed(), ..record });
        (log.len() - 1, InFlight(Arc::clone(self)))
    }

    pub(crate) fn set_outcome(&self, index: usize, status: u16, fault: Option<Fault>) {
        if let Some(record) = lock(&self.log).get_mut(index) {
            record.status = status;
            record.fault = fault;
        }
    }

    /// The next fault: the standing fault, the path's script, the scripted queue, then (for dataset requests) the
    /// dataset queue and the random rates.
    pub(crate) fn next_fault(&self, path: &str, dataset: bool) -> Option<Fault> {
        if let Some(fault) = lock(&self.standing).clone() {
            return Some(fault);
        }
        {
            let mut by_path = lock(&self.by_path);
            if let Some((fault, times)) = by_path.get_mut(path) {
                let fault = fault.clone();
                match times {
                    Times::Always => {}
                    Times::Next(left) if *left > 1 => *left -= 1,
                    Times::Next(_) => {
                        by_path.remove(path);
                    }
                }
                return Some(fault);
            }
        }
        if let Some(fault) = lock(&self.scripted).pop_front() {
            return Some(fault);
        }
        if !dataset {
            return None;
        }
        if let Some(fault) = lock(&self.scripted_datasets).pop_front() {
            return Some(fault);
        }
        let mut rates = lock(&self.rates);
        let draw = rates.1.unit();
        rates.0.pick(draw, self.config.retry_after_secs)
    }

    pub(crate) fn judge_auth(&self, header: Option<&str>) -> AuthSeen {
        match (header, &self.config.api_key) {
            (None, _) => AuthSeen::Absent,
            (Some(_), None) => AuthSeen::Valid,
            (Some(value), Some(key)) => {
                if value.strip_prefix("Bearer ") == Some(key.as_str()) {
                    AuthSeen::Valid
                } else {
                    AuthSeen::Invalid
                }
            }
        }
    }
}

/// Counts a request in flight until dropped.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The most arrivals within one second (any window `[t, t + 1 s)`); sorts `arrivals`.
pub fn busiest_second(arrivals: &mut [Duration]) -> usize {
    arrivals.sort();
    let (mut busiest, mut first) = (0, 0);
    for last in 0..arrivals.len() {
        while arrivals[last] - arrivals[first] >= Duration::from_secs(1) {
            first += 1;
        }
        busiest = busiest.max(last - first + 1);
    }
    busiest
}

/// A running stand-in. Dropping it stops accepting connections.
#[derive(Debug)]
pub struct TardisStub {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Serves until dropped.
    _serving: ServeTask,
}

impl TardisStub {
    /// Binds `127.0.0.1:{config.port}` and serves on the current tokio runtime.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start(config: StubConfig) -> std::io::Result<TardisStub> {
        Self::serve(config, None).await
    }

    /// As [`TardisStub::start`], over TLS (`https://127.0.0.1:PORT`) with the test certificate of
    /// `fixtures/tls/server.pem` (for `127.0.0.1` and `localhost`), issued by the test CA of [`TEST_CA_PEM`]: a
    /// client trusts it through `SSL_CERT_FILE` pointing at a copy of that CA.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start_tls(config: StubConfig) -> std::io::Result<TardisStub> {
        Self::serve(config, Some(tls_acceptor()?)).await
    }

    async fn serve(
        config: StubConfig,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> std::io::Result<TardisStub> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((HOST, config.port))).await?;
        let addr = listener.local_addr()?;
        let seed = config.seed;
        let rates = config.fault_rates;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let shared = Arc::new(Shared {
            config,
            self_url: format!("{scheme}://{addr}"),
            fixtures: fixtures::Fixtures::load(),
            started: Instant::now(),
            log: Mutex::new(Vec::new()),
            scripted: Mutex::new(VecDeque::new()),
            scripted_datasets: Mutex::new(VecDeque::new()),
            by_path: Mutex::new(HashMap::new()),
            standing: Mutex::new(None),
            listing_ends: Mutex::new(HashMap::new()),
            rates: Mutex::new((rates, SplitMix::new(seed))),
            in_flight: AtomicUsize::new(0),
            in_flight_peak: AtomicUsize::new(0),
            memory: Mutex::new(HashMap::new()),
        });
        let router = server::router(Arc::clone(&shared));
        let task = match tls {
            None => ServeTask::spawn(async move {
                let _ = axum::serve(listener, router).await;
            }),
            Some(acceptor) => ServeTask::spawn(async move {
                let mut connections = tokio::task::JoinSet::new();
                loop {
                    let Ok((stream, _)) = listener.accept().await else { continue };
                    let (acceptor, router) = (acceptor.clone(), router.clone());
                    connections.spawn(async move {
                        let Ok(stream) = acceptor.accept(stream).await else { return };
                        let service = hyper_util::service::TowerToHyperService::new(router);
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                    while connections.try_join_next().is_some() {}
                }
            }),
        };
        Ok(TardisStub { addr, shared, _serving: task })
    }

    /// Returns the base URL of both services, `http://127.0.0.1:PORT` (datasets at `/v1/{exchange}/...`, the API
    /// at `/v1/exchanges` and `/v1/instruments`).
    pub fn base_url(&self) -> String {
        self.shared.self_url.clone()
    }

    /// Returns the address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Returns a Tardis configuration pointing at the stand-in, with its key (if any), 5 s timeouts and the other
    /// defaults of [`md_config::TardisConfig`]; no metadata cache.
    pub fn tardis_config(&self) -> md_config::TardisConfig {
        let url = url::Url::parse(&self.base_url()).expect("valid URL");
        md_config::TardisConfig {
            api_key: self.shared.config.api_key.clone().map(md_config::Secret::new),
            datasets_url: url.clone(),
            api_url: url,
            read_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            metadata_cache_ttl: None,
            ..md_config::TardisConfig::default()
        }
    }

    /// Makes the next `count` requests (of any kind) fail with `fault`, after those already queued.
    pub fn push_faults(&self, fault: Fault, count: usize) {
        let mut queue = lock(&self.shared.scripted);
        queue.extend(std::iter::repeat_n(fault, count));
    }

    /// Queues `count` copies of `fault` for the next dataset requests only (metadata requests pass them by).
    pub fn push_dataset_faults(&self, fault: Fault, count: usize) {
        let mut queue = lock(&self.shared.scripted_datasets);
        queue.extend(std::iter::repeat_n(fault, count));
    }

    /// Answers requests for `path` (as [`dataset_path`] spells it, or a metadata path such as `/v1/exchanges/deribit`)
    /// with `fault`, the next `n` times or always; scripting a path again replaces its script.
    pub fn script_path(&self, path: &str, fault: Fault, times: Times) {
        if times == Times::Next(0) {
            lock(&self.shared.by_path).remove(path);
            return;
        }
        lock(&self.shared.by_path).insert(path.to_owned(), (fault, times));
    }

    /// Removes every path's script.
    pub fn clear_path_scripts(&self) {
        lock(&self.shared.by_path).clear();
    }

    /// Answers every request (datasets and metadata) with `fault` until called with `None`: a stand-in for a key
    /// locked to another IP address "for good".
    pub fn set_standing_fault(&self, fault: Option<Fault>) {
        *lock(&self.shared.standing) = fault;
    }

    /// Lists `symbol` of `exchange` only before `day` from now on: the exchange details say `availableTo` is that
    /// day's midnight, and files of that day and later answer 404, as for any day outside a symbol's listing.
    pub fn end_listing(&self, exchange: &str, symbol: &str, day: NaiveDate) {
        lock(&self.shared.listing_ends).insert((exchange.to_owned(), symbol.to_owned()), day);
    }

    /// Replaces the random fault rates (the seeded sequence continues).
    pub fn set_fault_rates(&self, rates: FaultRates) {
        lock(&self.shared.rates).0 = rates;
    }

    /// Returns every request seen so far, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.log).clone()
    }

    /// Returns how many requests asked for `path` (without query).
    pub fn attempts(&self, path: &str) -> usize {
        lock(&self.shared.log).iter().filter(|record| record.path == path).count()
    }

    /// Returns the totals so far.
    pub fn counters(&self) -> Counters {
        let log = lock(&self.shared.log);
        let mut per_path = BTreeMap::new();
        for record in log.iter() {
            *per_path.entry(record.path.clone()).or_insert(0) += 1;
        }
        let mut arrivals: Vec<Duration> = log.iter().map(|record| record.at).collect();
        let max_per_second = busiest_second(&mut arrivals);
        Counters {
            total: log.len(),
            per_path,
            in_flight_peak: self.shared.in_flight_peak.load(Ordering::SeqCst),
            max_per_second,
            with_authorization: log.iter().filter(|record| record.auth != AuthSeen::Absent).count(),
        }
    }

    /// Forgets the requests seen and the in-flight peak.
    pub fn reset_counters(&self) {
        lock(&self.shared.log).clear();
        self.shared
            .in_flight_peak
            .store(self.shared.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// Returns the exact bytes the stand-in serves (without faults) for a dataset path, or `None` for a path it
    /// answers 404. Files above the memory-cache limit are read from the disk cache.
    ///
    /// # Errors
    /// Disk cache errors.
    pub async fn expected_body(&self, path: &str) -> std::io::Result<Option<bytes::Bytes>> {
        let Some(spec) = server::dataset_spec(&self.shared, path).ok() else { return Ok(None) };
        let source = server::source_for(&self.shared, &spec).await?;
        source.read_all().await.map(Some)
    }

    /// Returns the length and CRC32C of what the stand-in serves for a dataset path, reading large files as a stream.
    ///
    /// # Errors
    /// Disk cache errors, or a path the stand-in answers 404.
    pub async fn expected_crc32c(&self, path: &str) -> std::io::Result<(u64, u32)> {
        let spec = server::dataset_spec(&self.shared, path)
            .map_err(|_| std::io::Error::other(format!("no dataset at {path}")))?;
        server::source_for(&self.shared, &spec).await?.crc32c().await
    }
}

/// The test CA (PEM) that issued the TLS stand-in's certificate ([`TardisStub::start_tls`]).
pub const TEST_CA_PEM: &str = include_str!("../../fixtures/tls/ca.pem");

/// The TLS acceptor of the test certificate (`fixtures/tls/`: a CA and a server certificate for `127.0.0.1` and
/// `localhost`, both valid for 100 years, made once with openssl; test material, never a secret).
fn tls_acceptor() -> std::io::Result<tokio_rustls::TlsAcceptor> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |error: &dyn std::fmt::Display| std::io::Error::other(error.to_string());
    let certificates =
        CertificateDer::pem_slice_iter(include_bytes!("../../fixtures/tls/server.pem"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| invalid(&error))?;
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("../../fixtures/tls/server.key"))
        .map_err(|error| invalid(&error))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| invalid(&error))?
    .with_no_client_auth()
    .with_single_cert(certificates, key)
    .map_err(|error| invalid(&error))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The path of a dataset file as the stand-in (and Tardis) serves it, with the symbol normalised and encoded.
pub fn dataset_path(exchange: &str, data_type: &str, date: NaiveDate, symbol: &str) -> String {
    let normalized: String = symbol
        .chars()
        .map(|c| if c == ':' || c == '/' { '-' } else { c.to_ascii_uppercase() })
        .collect();
    let encoded =
        percent_encoding::utf8_percent_encode(&normalized, server::UNRESERVED).to_string();
    format!(
        "/v1/{exchange}/{data_type}/{:04}/{:02}/{:02}/{encoded}.csv.gz",
        date.year(),
        date.month(),
        date.day()
    )
}
