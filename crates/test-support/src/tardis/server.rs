//! The HTTP side of the stand-in: routing, auth, availability, ranges, faults and paced bodies.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use futures::StreamExt;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::generate::{self, FileSpec};
use super::{
    AuthSeen, Fault, InFlight, RequestRecord, Shared, StubConfig, StubIncident, fixtures, lock,
};
use crate::serve::parse_range;

/// What Python's `quote(s, safe='')` leaves alone.
pub(crate) const UNRESERVED: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'_').remove(b'.').remove(b'-').remove(b'~');

const CHUNK: usize = 64 * 1024;

/// Body chunk size for files served from memory without a bandwidth cap.
const MEMORY_CHUNK: usize = 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// A response before faults: status, headers and body.
struct Plain {
    status: StatusCode,
    headers: HeaderMap,
    body: Source,
    /// Whether the body is a dataset file (range and validators apply).
    dataset: bool,
}

/// A body: in memory, or a generated file in the disk cache.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Memory(Bytes),
    File { path: PathBuf, len: u64 },
}

impl Source {
    fn len(&self) -> u64 {
        match self {
            Source::Memory(bytes) => bytes.len() as u64,
            Source::File { len, .. } => *len,
        }
    }

    pub(crate) async fn read_all(&self) -> io::Result<Bytes> {
        match self {
            Source::Memory(bytes) => Ok(bytes.clone()),
            Source::File { path, .. } => Ok(tokio::fs::read(path).await?.into()),
        }
    }

    pub(crate) async fn crc32c(&self) -> io::Result<(u64, u32)> {
        match self {
            Source::Memory(bytes) => Ok((bytes.len() as u64, crc32c::crc32c(bytes))),
            Source::File { path, .. } => {
                let mut file = tokio::fs::File::open(path).await?;
                let mut buffer = vec![0u8; 1 << 20];
                let (mut len, mut crc) = (0u64, 0u32);
                loop {
                    let n = file.read(&mut buffer).await?;
                    if n == 0 {
                        return Ok((len, crc));
                    }
                    crc = crc32c::crc32c_append(crc, &buffer[..n]);
                    len += n as u64;
                }
            }
        }
    }
}

fn json(status: StatusCode, text: impl Into<Bytes>) -> Plain {
    let mut headers = HeaderMap::new();
    headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    Plain { status, headers, body: Source::Memory(text.into()), dataset: false }
}

fn error(status: StatusCode, message: &str) -> Plain {
    json(status, serde_json::json!({ "code": status.as_u16(), "message": message }).to_string())
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let headers = request.headers().clone();
    let auth = shared.judge_auth(headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()));
    let (index, guard) = shared.arrive(RequestRecord {
        path: path.clone(),
        query: query.clone(),
        auth,
        range: headers.get(header::RANGE).and_then(|v| v.to_str().ok()).map(str::to_owned),
        at: Duration::ZERO,
        fault: None,
        status: 0,
    });
    if !shared.config.first_byte_delay.is_zero() {
        tokio::time::sleep(shared.config.first_byte_delay).await;
    }
    let is_dataset = path.ends_with(".csv.gz");
    let fault = shared.next_fault(&path, is_dataset);
    let plain = match &fault {
        Some(Fault::Coded { status, code, message, retry_after_secs }) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST);
            let mut body = serde_json::json!({ "code": code, "message": message });
            if let Some(seconds) = retry_after_secs {
                body["retryAfterSeconds"] = serde_json::json!(seconds);
            }
            Some(json(status, body.to_string()))
        }
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(error(status, "injected failure"))
        }
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let mut plain = error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
            plain.headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            Some(plain)
        }
        Some(Fault::Redirect) => {
            let target = shared.config.redirect_to.as_deref().unwrap_or(&shared.self_url);
            let location = match &query {
                Some(query) => format!("{target}{path}?{query}"),
                None => format!("{target}{path}"),
            };
            let mut plain = json(StatusCode::FOUND, "");
            plain
                .headers
                .insert(header::LOCATION, HeaderValue::from_str(&location).expect("ascii URL"));
            Some(plain)
        }
        _ => None,
    };
    let mut plain = match plain {
        Some(plain) => plain,
        None => route(&shared, &path, query.as_deref(), auth).await,
    };
    if fault == Some(Fault::UnconvertibleRow) && plain.dataset && plain.status == StatusCode::OK {
        plain.body = Source::Memory(unconvertible_file(&path));
    }
    let body_fault = fault.clone().filter(|fault| {
        matches!(
            fault,
            Fault::DropMidBody | Fault::Stall | Fault::CorruptByte | Fault::TruncatedGzip
        )
    });
    let mut response = respond(&shared, plain, &headers, body_fault, guard);
    let now = chrono::Utc::now() + shared.config.clock_skew;
    if let Ok(date) = HeaderValue::from_str(&now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
        response.headers_mut().insert(header::DATE, date);
    }
    shared.set_outcome(index, response.status().as_u16(), fault);
    response
}

/// The body of [`Fault::UnconvertibleRow`] for a dataset path (`/v1/{exchange}/{data_type}/...`): the data type's
/// header and one row of `x` cells, gzipped.
fn unconvertible_file(path: &str) -> Bytes {
    let data_type = path.trim_start_matches('/').split('/').nth(2).unwrap_or_default();
    let header = super::generate::header(data_type).unwrap_or_else(|| "exchange,symbol".to_owned());
    let row = vec!["x"; header.split(',').count()].join(",");
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gzip, format!("{header}\n{row}\n").as_bytes())
        .expect("writing to memory");
    Bytes::from(gzip.finish().expect("writing to memory"))
}

async fn route(shared: &Arc<Shared>, path: &str, query: Option<&str>, auth: AuthSeen) -> Plain {
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        ["v1", "exchanges"] => json(StatusCode::OK, fixtures::EXCHANGE_LIST),
        ["v1", "exchanges", id] => match shared.fixtures.exchange(id) {
            Some(exchange) => {
                let ends: Vec<(String, NaiveDate)> = lock(&shared.listing_ends)
                    .iter()
                    .filter(|((listed, _), _)| listed == id)
                    .map(|((_, symbol), day)| (symbol.clone(), *day))
                    .collect();
                json(StatusCode::OK, exchange_details(&shared.config, exchange, &ends))
            }
            None => error(StatusCode::NOT_FOUND, &format!("Invalid 'exchange' param: {id}")),
        },
        ["v1", "api-key-info"] if auth != AuthSeen::Valid || shared.config.api_key.is_none() => {
            error(StatusCode::UNAUTHORIZED, "Invalid API key")
        }
        ["v1", "api-key-info"] => {
            let access = shared.config.api_key_access.clone().unwrap_or_else(|| {
                fixtures::EXCHANGES
                    .iter()
                    .map(|(exchange, _, _)| {
                        serde_json::json!({
                            "exchange": exchange, "accessType": "full", "from": "2019-01-01T00:00:00.000Z",
                            "to": null, "symbols": [], "dataPlan": "business",
                        })
                    })
                    .collect()
            });
            json(StatusCode::OK, access.to_string())
        }
        ["v1", "instruments", id] => {
            let keyed = auth == AuthSeen::Valid
                || (shared.config.api_key.is_none() && auth != AuthSeen::Invalid);
            if !keyed && *id != "bitmex" {
                return error(
                    StatusCode::UNAUTHORIZED,
                    "Instruments metadata requires a valid API key",
                );
            }
            let Some(exchange) = shared.fixtures.exchange(id) else {
                return error(StatusCode::NOT_FOUND, &format!("Invalid 'exchange' param: {id}"));
            };
            let filter = query.and_then(|query| {
                url::form_urlencoded::parse(query.as_bytes())
                    .find(|(key, _)| key == "filter")
                    .and_then(|(_, value)| serde_json::from_str::<serde_json::Value>(&value).ok())
            });
            let kept = fixtures::filter_instruments(&exchange.instruments, filter.as_ref());
            json(StatusCode::OK, kept.to_string())
        }
        ["v1", _, _, _, _, _, file] if file.ends_with(".csv.gz") => {
            dataset(shared, path, auth).await
        }
        _ => error(StatusCode::NOT_FOUND, "Not found"),
    }
}

/// The details of an exchange as served: the fixture, with the configured `exportedUntil`, incidents and listings
/// ended early (`(dataset symbol, first day no longer listed)`).
fn exchange_details(
    config: &StubConfig,
    exchange: &fixtures::Exchange,
    listing_ends: &[(String, NaiveDate)],
) -> String {
    let incidents: Vec<&StubIncident> =
        config.incidents.iter().filter(|incident| incident.exchange == exchange.id).collect();
    if config.exported_until.is_none() && incidents.is_empty() && listing_ends.is_empty() {
        return exchange.details.to_owned();
    }
    let mut details: serde_json::Value =
        serde_json::from_str(exchange.details).expect("fixture JSON");
    if let Some(symbols) = details["datasets"]["symbols"].as_array_mut() {
        for symbol in symbols {
            let id = symbol["id"].as_str().unwrap_or_default().to_owned();
            if let Some((_, day)) = listing_ends.iter().find(|(ended, _)| *ended == id) {
                let end = day.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
                symbol["availableTo"] = serde_json::json!(end.to_rfc3339());
            }
        }
    }
    if let Some(until) = config.exported_until {
        details["datasets"]["exportedUntil"] = serde_json::json!(until.to_rfc3339());
    }
    if let Some(reports) = details
        .as_object_mut()
        .map(|object| object.entry("incidentReports").or_insert_with(|| serde_json::json!([])))
        .and_then(serde_json::Value::as_array_mut)
    {
        reports.extend(incidents.iter().map(|incident| {
            serde_json::json!({
                "from": incident.from.to_rfc3339(), "to": incident.to.to_rfc3339(),
                "status": incident.status, "details": incident.details,
            })
        }));
    }
    details.to_string()
}

/// Checks a dataset path against the fixtures; returns what to generate or the error to answer.
pub(crate) fn dataset_spec(shared: &Shared, path: &str) -> Result<FileSpec, (StatusCode, String)> {
    let not_found = |why: String| (StatusCode::NOT_FOUND, why);
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let [v1, exchange_id, data_type, year, month, day, file] = segments.as_slice() else {
        return Err(not_found(format!("not a dataset path: {path}")));
    };
    let symbol = file.strip_suffix(".csv.gz").unwrap_or(file);
    let date =
        (|| NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?))()
            .filter(|_| v1 == "v1" && year.len() == 4 && month.len() == 2 && day.len() == 2)
            .ok_or_else(|| not_found(format!("bad date in {path}")))?;
    let exchange = shared
        .fixtures
        .exchange(exchange_id)
        .ok_or_else(|| not_found(format!("unknown exchange {exchange_id}")))?;
    if generate::header(data_type).is_none() {
        return Err(not_found(format!("unknown data type {data_type}")));
    }
    let entry =
        exchange.symbol(symbol).ok_or_else(|| not_found(format!("unknown symbol {symbol}")))?;
    let ended = lock(&shared.listing_ends)
        .get(&(exchange_id.clone(), symbol.to_owned()))
        .is_some_and(|end| date >= *end);
    if ended
        || !entry.available(
            data_type,
            date,
            shared.config.exported_until.or(exchange.exported_until),
        )
    {
        return Err(not_found(format!("no {data_type} for {symbol} on {date}")));
    }
    let empty = shared.config.empty_paths.contains(path)
        || shared.config.empty_symbol_days.contains(&(symbol.to_owned(), date));
    let grouped = instruments_grouped(symbol);
    Ok(FileSpec {
        exchange: exchange_id.clone(),
        data_type: data_type.clone(),
        date,
        symbol: symbol.to_owned(),
        row_symbols: if grouped { exchange.row_symbols(symbol, date) } else { Vec::new() },
        target_size: shared.config.file_size,
        empty,
    })
}

fn instruments_grouped(symbol: &str) -> bool {
    matches!(symbol, "OPTIONS" | "FUTURES" | "PERPETUALS" | "SPOT" | "COMBOS")
}

async fn dataset(shared: &Arc<Shared>, path: &str, auth: AuthSeen) -> Plain {
    let spec = match dataset_spec(shared, path) {
        Ok(spec) => spec,
        Err((status, message)) => return error(status, &message),
    };
    if shared.config.api_key.is_some() {
        let free_day = spec.date.day() == 1;
        match auth {
            AuthSeen::Valid => {}
            AuthSeen::Absent if free_day => {}
            AuthSeen::Absent => {
                return error(
                    StatusCode::UNAUTHORIZED,
                    "Missing API key. Only the first day of each month is available without an API key.",
                );
            }
            AuthSeen::Invalid => return error(StatusCode::UNAUTHORIZED, "Invalid API key"),
        }
    }
    let source = match source_for(shared, &spec).await {
        Ok(source) => source,
        Err(failure) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("generation failed: {failure}"),
            );
        }
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/gzip"));
    let tag = generate::fnv1a(&format!("{path}#{}#{}", spec.target_size, spec.empty));
    headers.insert(header::ETAG, HeaderValue::from_str(&format!("\"{tag:016x}\"")).expect("ascii"));
    let modified = Utc
        .from_utc_datetime(
            &(spec.date + chrono::Duration::days(1)).and_hms_opt(6, 0, 0).expect("valid time"),
        )
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    headers.insert(header::LAST_MODIFIED, HeaderValue::from_str(&modified).expect("ascii"));
    Plain { status: StatusCode::OK, headers, body: source, dataset: true }
}

/// Returns the body for a file: from the memory cache, the disk cache, or freshly generated.
pub(crate) async fn source_for(shared: &Arc<Shared>, spec: &FileSpec) -> io::Result<Source> {
    let shared_body;
    let spec = if shared.config.shared_bodies && !spec.empty {
        shared_body = FileSpec {
            symbol: "SHARED".into(),
            row_symbols: Vec::new(),
            date: spec.date.with_day(1).unwrap_or(spec.date),
            ..spec.clone()
        };
        &shared_body
    } else {
        spec
    };
    let key = (
        format!(
            "{}/{}/{}/{}/{}",
            spec.exchange, spec.data_type, spec.date, spec.symbol, spec.empty
        ),
        spec.target_size,
    );
    let dir = shared
        .config
        .cache_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("md-tardis-stub"));
    let name = format!(
        "v{}-{:016x}-{}.csv.gz",
        generate::GENERATOR_VERSION,
        generate::fnv1a(&key.0),
        spec.target_size
    );
    let path = dir.join(name);
    if spec.empty || spec.target_size <= shared.config.memory_cache_limit {
        if let Some(bytes) = lock(&shared.memory).get(&key) {
            return Ok(Source::Memory(bytes.clone()));
        }
        // A file already in the disk cache is loaded rather than generated again: a benchmark that wants the
        // server cheap (serving slices of memory) keeps its files generated once on disk.
        let bytes: Bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes.into(),
            Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
            Err(_) => {
                let owned = spec.clone();
                tokio::task::spawn_blocking(move || generate::generate(&owned))
                    .await
                    .map_err(io::Error::other)?
                    .into()
            }
        };
        let mut memory = lock(&shared.memory);
        let total: usize = memory.values().map(Bytes::len).sum();
        if total > 1 << 30 {
            memory.clear();
        }
        memory.insert(key, bytes.clone());
        return Ok(Source::Memory(bytes));
    }
    if let Ok(metadata) = tokio::fs::metadata(&path).await {
        return Ok(Source::File { path, len: metadata.len() });
    }
    let owned = spec.clone();
    let target = path.clone();
    tokio::task::spawn_blocking(move || -> io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        let partial = dir.join(format!(
            ".{}.{}.partial",
            target.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
            std::process::id()
        ));
        let file = io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&partial)?);
        let mut file = generate::write_file(&owned, file)?;
        io::Write::flush(&mut file)?;
        drop(file);
        std::fs::rename(&partial, &target)
    })
    .await
    .map_err(io::Error::other)??;
    let len = tokio::fs::metadata(&path).await?.len();
    Ok(Source::File { path, len })
}

/// Builds the response: range, faults, pacing; the in-flight guard lives until the body ends.
fn respond(
    shared: &Arc<Shared>,
    plain: Plain,
    request: &HeaderMap,
    fault: Option<Fault>,
    guard: InFlight,
) -> Response {
    let Plain { mut status, mut headers, body, dataset } = plain;
    let len = body.len();
    let (mut start, mut end) = (0u64, len); // [start, end)
    if dataset && status == StatusCode::OK && shared.config.ranges {
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        let if_range_ok = match request.get(header::IF_RANGE) {
            None => true,
            Some(value) => {
                Some(value) == headers.get(header::ETAG)
                    || Some(value) == headers.get(header::LAST_MODIFIED)
            }
        };
        if let Some(range) =
            request.get(header::RANGE).and_then(|v| v.to_str().ok()).filter(|_| if_range_ok)
        {
            match parse_range(range, len) {
                Some(Ok((first, last))) => {
                    status = StatusCode::PARTIAL_CONTENT;
                    headers.insert(
                        header::CONTENT_RANGE,
                        HeaderValue::from_str(&format!("bytes {first}-{last}/{len}"))
                            .expect("ascii"),
                    );
                    (start, end) = (first, last + 1);
                }
                Some(Err(())) => {
                    let mut response = Response::new(Body::empty());
                    *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
                    response.headers_mut().insert(
                        header::CONTENT_RANGE,
                        HeaderValue::from_str(&format!("bytes */{len}")).expect("ascii"),
                    );
                    return response;
                }
                None => {}
            }
        }
    }
    let middle = start + (end - start) / 2;
    let mut plan = Plan { cut_at: None, stall_at: None, flip_at: None, stall: shared.config.stall };
    match fault {
        Some(Fault::DropMidBody) if end > start => plan.cut_at = Some(middle),
        Some(Fault::Stall) if end > start => plan.stall_at = Some(middle),
        Some(Fault::CorruptByte) if end > start => plan.flip_at = Some(middle),
        Some(Fault::TruncatedGzip) => end = middle,
        _ => {}
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    let stream = body_stream(body, start, end, plan, shared.config.bandwidth, guard);
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// Where a body misbehaves (absolute offsets).
#[derive(Debug, Clone, Copy)]
struct Plan {
    cut_at: Option<u64>,
    stall_at: Option<u64>,
    flip_at: Option<u64>,
    stall: Duration,
}

struct Sending {
    source: Source,
    file: Option<tokio::fs::File>,
    position: u64,
    end: u64,
    plan: Plan,
    bandwidth: Option<u64>,
    started: Instant,
    sent: u64,
    /// Released when the last byte is produced (or the body is dropped), before the client can see the end.
    guard: Option<InFlight>,
}

fn body_stream(
    source: Source,
    start: u64,
    end: u64,
    plan: Plan,
    bandwidth: Option<u64>,
    guard: InFlight,
) -> impl futures::Stream<Item = io::Result<Bytes>> + Send + 'static {
    let state = Sending {
        source,
        file: None,
        position: start,
        end,
        plan,
        bandwidth,
        started: Instant::now(),
        sent: 0,
        guard: Some(guard),
    };
    futures::stream::unfold(state, |mut state| async move {
        let item = state.next_chunk().await?;
        Some((item, state))
    })
    .fuse()
}

impl Sending {
    async fn next_chunk(&mut self) -> Option<io::Result<Bytes>> {
        if self.position >= self.end {
            self.guard = None;
            return None;
        }
        if self.plan.cut_at == Some(self.position) {
            // Let the bytes already produced reach the client before the connection drops (hyper flushes while
            // the body is pending), so the cut is really mid-body.
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.end = self.position;
            return Some(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "injected: connection dropped",
            )));
        }
        if self.plan.stall_at == Some(self.position) {
            self.plan.stall_at = None;
            tokio::time::sleep(self.plan.stall).await;
        }
        let mut limit = self.end;
        for event in [self.plan.cut_at, self.plan.stall_at].into_iter().flatten() {
            if event > self.position {
                limit = limit.min(event);
            }
        }
        let chunk_size = match (&self.source, self.bandwidth) {
            (_, Some(_)) => 16 * 1024,
            // Slices of memory cost nothing to cut: large ones spare the server a write per 64 KiB.
            (Source::Memory(_), None) => MEMORY_CHUNK,
            (Source::File { .. }, None) => CHUNK,
        } as u64;
        let len = (limit - self.position).min(chunk_size) as usize;
        let chunk = match self.read(len).await {
            Ok(chunk) => chunk,
            Err(error) => {
                self.end = self.position;
                return Some(Err(error));
            }
        };
        let chunk = match self.plan.flip_at {
            Some(at) if at >= self.position && at < self.position + len as u64 => {
                let mut bytes = chunk.to_vec();
                bytes[(at - self.position) as usize] ^= 0x5a;
                Bytes::from(bytes)
            }
            _ => chunk,
        };
        self.position += len as u64;
        self.sent += len as u64;
        if self.position >= self.end {
            self.guard = None;
        }
        if let Some(rate) = self.bandwidth.filter(|rate| *rate > 0) {
            let due = Duration::from_secs_f64(self.sent as f64 / rate as f64);
            let elapsed = self.started.elapsed();
            if due > elapsed {
                tokio::time::sleep(due - elapsed).await;
            }
        }
        Some(Ok(chunk))
    }

    async fn read(&mut self, len: usize) -> io::Result<Bytes> {
        match &self.source {
            Source::Memory(bytes) => {
                Ok(bytes.slice(self.position as usize..self.position as usize + len))
            }
            Source::File { path, .. } => {
                if self.file.is_none() {
                    let mut file = tokio::fs::File::open(path).await?;
                    file.seek(io::SeekFrom::Start(self.position)).await?;
                    self.file = Some(file);
                }
                let file = self.file.as_mut().expect("opened above");
                let mut buffer = vec![0u8; len];
                file.read_exact(&mut buffer).await?;
                Ok(Bytes::from(buffer))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_cache_loads_what_the_disk_cache_holds() {
        let dir = std::env::temp_dir().join(format!("md-stub-cache-test-{}", std::process::id()));
        let config = |memory_cache_limit| super::super::StubConfig {
            cache_dir: Some(dir.clone()),
            memory_cache_limit,
            ..super::super::StubConfig::default()
        };
        let date = NaiveDate::from_ymd_opt(2026, 10, 2).unwrap();
        let path = super::super::dataset_path("binance-futures", "trades", date, "BTCUSDT");
        let on_disk = super::super::TardisStub::start(config(0)).await.unwrap();
        let generated = on_disk.expected_body(&path).await.unwrap().unwrap();
        // Mark the cached file: a file generated again would not carry the mark.
        let cached: Vec<_> =
            std::fs::read_dir(&dir).unwrap().map(|entry| entry.unwrap().path()).collect();
        assert_eq!(cached.len(), 1, "{cached:?}");
        let mut marked = generated.to_vec();
        marked.extend_from_slice(b"from the disk cache");
        std::fs::write(&cached[0], &marked).unwrap();
        let in_memory = super::super::TardisStub::start(config(1 << 20)).await.unwrap();
        let served = in_memory.expected_body(&path).await.unwrap().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(served, marked);
    }

    #[test]
    fn dataset_paths_are_normalised_and_encoded() {
        let date = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        assert_eq!(
            super::super::dataset_path("okex-swap", "trades", date, "btc/usdt:swap"),
            "/v1/okex-swap/trades/2024/03/01/BTC-USDT-SWAP.csv.gz"
        );
        assert_eq!(
            super::super::dataset_path("x", "quotes", date, "a b"),
            "/v1/x/quotes/2024/03/01/A%20B.csv.gz"
        );
    }
}
