//! The HTTP side: one hyper connection per client connection, one handler for every request.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;
use http::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, LAST_MODIFIED, RANGE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use percent_encoding::percent_decode_str;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::faults::{Fault, RequestKind};
use super::xml::{self, ListedEntry};
use super::{Shared, StoredObject, Upload};
use crate::serve::parse_range;

const META_PREFIX: &str = "x-goog-meta-";
const GENERATION: &str = "x-goog-generation";
const IF_GENERATION_MATCH: &str = "x-goog-if-generation-match";
const COPY_SOURCE: &str = "x-goog-copy-source";
const METADATA_DIRECTIVE: &str = "x-goog-metadata-directive";

type Body = Full<Bytes>;

/// The connection is dropped without an answer.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = service_fn(move |request| handle(Arc::clone(&shared), request));
                    // Errors are dropped connections (injected or by the client): nothing to report.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Dropped> {
    let (parts, body) = request.into_parts();
    let target = Target::parse(parts.uri.path(), parts.uri.query().unwrap_or(""));
    let kind = classify(&parts.method, &parts.headers, &target);
    let fault = shared.faults.on_request(kind);
    match fault {
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return Ok(error(status, "InjectedFault", "fault injected by the test"));
        }
        Some(Fault::DropBefore) => return Err(Dropped),
        Some(Fault::Stall(duration)) => tokio::time::sleep(duration).await,
        Some(Fault::DropAfter) | None => {}
    }
    let body = match body.collect().await {
        Ok(collected) => shared.keep(kind, collected.to_bytes()),
        Err(_) => return Err(Dropped),
    };
    let response = answer(&shared, kind, &parts.method, &parts.headers, &target, body);
    if fault == Some(Fault::DropAfter) {
        return Err(Dropped);
    }
    Ok(response)
}

/// A request's decoded bucket, object and query.
#[derive(Debug)]
struct Target {
    bucket: String,
    object: Option<String>,
    query: BTreeMap<String, String>,
}

impl Target {
    fn parse(path: &str, query: &str) -> Target {
        let path = path.trim_start_matches('/');
        let (bucket, object) = match path.split_once('/') {
            Some((bucket, object)) if !object.is_empty() => (bucket, Some(decode(object))),
            Some((bucket, _)) => (bucket, None),
            None => (path, None),
        };
        let query = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode_query(key), decode_query(value))
            })
            .collect();
        Target { bucket: decode(bucket), object, query }
    }
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

fn decode_query(text: &str) -> String {
    decode(&text.replace('+', " "))
}

fn classify(method: &Method, headers: &HeaderMap, target: &Target) -> RequestKind {
    let has = |key: &str| target.query.contains_key(key);
    match (method, target.object.is_some()) {
        (&Method::GET, false) if has("list-type") => RequestKind::List,
        (&Method::GET, true) => RequestKind::Get,
        (&Method::HEAD, true) => RequestKind::Head,
        (&Method::PUT, true) if has("uploadId") && has("partNumber") => RequestKind::UploadPart,
        (&Method::PUT, true) if headers.contains_key(COPY_SOURCE) => RequestKind::Copy,
        (&Method::PUT, true) => RequestKind::Put,
        (&Method::POST, true) if has("uploads") => RequestKind::InitiateMultipart,
        (&Method::POST, true) if has("uploadId") => RequestKind::CompleteMultipart,
        (&Method::DELETE, true) if has("uploadId") => RequestKind::AbortMultipart,
        (&Method::DELETE, true) => RequestKind::Delete,
        _ => RequestKind::Other,
    }
}

fn answer(
    shared: &Shared,
    kind: RequestKind,
    method: &Method,
    headers: &HeaderMap,
    target: &Target,
    body: Bytes,
) -> Response<Body> {
    let object = target.object.as_deref().unwrap_or_default();
    match kind {
        RequestKind::List => list(shared, target),
        RequestKind::Get | RequestKind::Head => {
            get(shared, target, headers, object, method == Method::HEAD)
        }
        RequestKind::Put => {
            let metadata = metadata_of(headers);
            let content_type = content_type_of(headers);
            write(shared, &target.bucket, object, headers, body, metadata, content_type)
        }
        RequestKind::Copy => copy(shared, target, headers, object),
        RequestKind::InitiateMultipart => {
            let mut store = shared.store();
            store.next_upload += 1;
            let upload_id = format!("upload-{:08}", store.next_upload);
            let upload = Upload {
                bucket: target.bucket.clone(),
                object: object.to_owned(),
                metadata: metadata_of(headers),
                content_type: content_type_of(headers),
                parts: BTreeMap::new(),
            };
            store.uploads.insert(upload_id.clone(), upload);
            let document = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><InitiateMultipartUploadResult><Bucket>{}</Bucket>\
                 <Key>{}</Key><UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>",
                xml::escape(&target.bucket),
                xml::escape(object)
            );
            xml_response(StatusCode::OK, document)
        }
        RequestKind::UploadPart => {
            let upload_id = &target.query["uploadId"];
            let Ok(number) = target.query["partNumber"].parse::<u32>() else {
                return error(StatusCode::BAD_REQUEST, "InvalidArgument", "bad partNumber");
            };
            let mut store = shared.store();
            let Some(upload) = store.uploads.get_mut(upload_id) else {
                return error(StatusCode::NOT_FOUND, "NoSuchUpload", "no such upload");
            };
            let head = &body[..body.len().min(1 << 16)];
            let e_tag = format!("\"part-{number}-{:08x}-{}\"", crc32c::crc32c(head), body.len());
            upload.parts.insert(number, (e_tag.clone(), body));
            let mut response = empty(StatusCode::OK);
            set(&mut response, ETAG.as_str(), &e_tag);
            response
        }
        RequestKind::CompleteMultipart => complete(shared, target, headers, body),
        RequestKind::AbortMultipart => {
            let removed = shared.store().uploads.remove(&target.query["uploadId"]);
            match removed {
                Some(_) => empty(StatusCode::NO_CONTENT),
                None => error(StatusCode::NOT_FOUND, "NoSuchUpload", "no such upload"),
            }
        }
        RequestKind::Delete => {
            let mut store = shared.store();
            let objects = store.buckets.entry(target.bucket.clone()).or_default();
            if let Some(failed) = check_generation(headers, objects.get(object)) {
                return failed;
            }
            match objects.remove(object) {
                Some(_) => empty(StatusCode::NO_CONTENT),
                None => error(StatusCode::NOT_FOUND, "NoSuchKey", "no such object"),
            }
        }
        RequestKind::Other => {
            error(StatusCode::BAD_REQUEST, "InvalidRequest", "not part of the fake's contract")
        }
    }
}

/// Answers 412 when `x-goog-if-generation-match` does not hold for `existing`.
fn check_generation(
    headers: &HeaderMap,
    existing: Option<&StoredObject>,
) -> Option<Response<Body>> {
    let wanted = headers.get(IF_GENERATION_MATCH)?.to_str().ok()?.trim().parse::<u64>().ok();
    let holds = match (wanted, existing) {
        (Some(0), None) => true,
        (Some(generation), Some(object)) => generation == object.generation,
        _ => false,
    };
    (!holds).then(|| {
        error(StatusCode::PRECONDITION_FAILED, "PreconditionFailed", "generation match failed")
    })
}

fn write(
    shared: &Shared,
    bucket: &str,
    object: &str,
    headers: &HeaderMap,
    data: Bytes,
    metadata: BTreeMap<String, String>,
    content_type: String,
) -> Response<Body> {
    let mut store = shared.store();
    let generation = store.generation();
    let objects = store.buckets.entry(bucket.to_owned()).or_default();
    if let Some(failed) = check_generation(headers, objects.get(object)) {
        return failed;
    }
    let stored =
        StoredObject { data, metadata, content_type, generation, last_modified: Utc::now() };
    let e_tag = stored.e_tag();
    objects.insert(object.to_owned(), stored);
    let mut response = empty(StatusCode::OK);
    set(&mut response, ETAG.as_str(), &e_tag);
    set(&mut response, GENERATION, &generation.to_string());
    response
}

fn copy(shared: &Shared, target: &Target, headers: &HeaderMap, object: &str) -> Response<Body> {
    let source = headers.get(COPY_SOURCE).and_then(|value| value.to_str().ok()).unwrap_or_default();
    let Some((source_bucket, source_object)) = source.trim_start_matches('/').split_once('/')
    else {
        return error(StatusCode::BAD_REQUEST, "InvalidArgument", "bad x-goog-copy-source");
    };
    let (source_bucket, source_object) = (decode(source_bucket), decode(source_object));
    let found = shared
        .store()
        .buckets
        .get(&source_bucket)
        .and_then(|objects| objects.get(&source_object))
        .cloned();
    let Some(found) = found else {
        return error(StatusCode::NOT_FOUND, "NoSuchKey", "no such source object");
    };
    let replace = headers
        .get(METADATA_DIRECTIVE)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"REPLACE"));
    let (metadata, content_type) = if replace {
        (metadata_of(headers), content_type_of(headers))
    } else {
        (found.metadata, found.content_type)
    };
    let written =
        write(shared, &target.bucket, object, headers, found.data, metadata, content_type);
    if written.status() != StatusCode::OK {
        return written;
    }
    let e_tag = header(&written, ETAG.as_str());
    let generation = header(&written, GENERATION);
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CopyObjectResult><LastModified>{}</LastModified>\
         <ETag>{}</ETag></CopyObjectResult>",
        Utc::now().to_rfc3339(),
        xml::escape(&e_tag)
    );
    let mut response = xml_response(StatusCode::OK, document);
    set(&mut response, GENERATION, &generation);
    response
}

fn complete(shared: &Shared, target: &Target, headers: &HeaderMap, body: Bytes) -> Response<Body> {
    let upload_id = &target.query["uploadId"];
    let listed = match xml::complete_parts(&String::from_utf8_lossy(&body)) {
        Ok(listed) if !listed.is_empty() => listed,
        Ok(_) => return error(StatusCode::BAD_REQUEST, "MalformedXML", "no parts"),
        Err(message) => return error(StatusCode::BAD_REQUEST, "MalformedXML", &message),
    };
    let upload = shared.store().uploads.get(upload_id).cloned();
    let Some(upload) = upload else {
        return error(StatusCode::NOT_FOUND, "NoSuchUpload", "no such upload");
    };
    if upload.bucket != target.bucket || Some(upload.object.as_str()) != target.object.as_deref() {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "upload belongs to another object",
        );
    }
    let mut data = Vec::new();
    let mut previous = 0;
    for (number, e_tag) in &listed {
        if *number <= previous {
            return error(StatusCode::BAD_REQUEST, "InvalidPartOrder", "parts out of order");
        }
        previous = *number;
        match upload.parts.get(number) {
            Some((stored_tag, bytes)) if stored_tag == e_tag => data.extend_from_slice(bytes),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidPart",
                    &format!("part {number} does not match"),
                );
            }
        }
    }
    let written = write(
        shared,
        &upload.bucket,
        &upload.object,
        headers,
        Bytes::from(data),
        upload.metadata,
        upload.content_type,
    );
    if written.status() != StatusCode::OK {
        return written;
    }
    shared.store().uploads.remove(upload_id);
    let e_tag = header(&written, ETAG.as_str());
    let generation = header(&written, GENERATION);
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUploadResult><Bucket>{}</Bucket>\
         <Key>{}</Key><ETag>{}</ETag></CompleteMultipartUploadResult>",
        xml::escape(&upload.bucket),
        xml::escape(&upload.object),
        xml::escape(&e_tag)
    );
    let mut response = xml_response(StatusCode::OK, document);
    set(&mut response, GENERATION, &generation);
    response
}

fn get(
    shared: &Shared,
    target: &Target,
    headers: &HeaderMap,
    object: &str,
    head: bool,
) -> Response<Body> {
    let found =
        shared.store().buckets.get(&target.bucket).and_then(|objects| objects.get(object)).cloned();
    let Some(found) = found else {
        return error(StatusCode::NOT_FOUND, "NoSuchKey", "no such object");
    };
    let if_match = headers.get(http::header::IF_MATCH).and_then(|value| value.to_str().ok());
    if if_match.is_some_and(|wanted| wanted.trim() != "*" && wanted.trim() != found.e_tag()) {
        return error(StatusCode::PRECONDITION_FAILED, "PreconditionFailed", "ETag does not match");
    }
    let total = found.data.len();
    let range = headers
        .get(RANGE)
        .and_then(|value| value.to_str().ok())
        // An empty object is served whole whatever the range (as before any range support).
        .filter(|_| total > 0)
        .and_then(|value| parse_range(value, total as u64))
        .map(|range| range.map(|(first, last)| (first as usize, last as usize)));
    let (status, data) = match range {
        Some(Err(())) => {
            return error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                "range not satisfiable",
            );
        }
        Some(Ok((start, end))) => (StatusCode::PARTIAL_CONTENT, found.data.slice(start..=end)),
        None => (StatusCode::OK, found.data.clone()),
    };
    let length = data.len();
    if !head {
        shared.store().served_bytes += length as u64;
    }
    let mut response = Response::new(if head { Full::new(Bytes::new()) } else { Full::new(data) });
    *response.status_mut() = status;
    set(&mut response, ETAG.as_str(), &found.e_tag());
    set(
        &mut response,
        LAST_MODIFIED.as_str(),
        &found.last_modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
    );
    set(&mut response, GENERATION, &found.generation.to_string());
    set(&mut response, CONTENT_TYPE.as_str(), &found.content_type);
    set(&mut response, CONTENT_LENGTH.as_str(), &length.to_string());
    set(&mut response, "x-goog-stored-content-length", &total.to_string());
    if let Some(Ok((start, end))) = range {
        set(&mut response, CONTENT_RANGE.as_str(), &format!("bytes {start}-{end}/{total}"));
    }
    for (key, value) in &found.metadata {
        set(&mut response, &format!("{META_PREFIX}{key}"), value);
    }
    response
}

fn list(shared: &Shared, target: &Target) -> Response<Body> {
    let query = &target.query;
    let prefix = query.get("prefix").cloned().unwrap_or_default();
    let delimiter = query.get("delimiter").cloned().filter(|delimiter| !delimiter.is_empty());
    let store = shared.store();
    let page_size = query
        .get("max-keys")
        .and_then(|value| value.parse::<usize>().ok())
        .unwrap_or(store.page_size)
        .clamp(1, store.page_size);
    // Resume strictly after the token (or start-after); a token ending in the delimiter skips that whole prefix.
    let after = query.get("continuation-token").or_else(|| query.get("start-after")).cloned();
    let empty_bucket = BTreeMap::new();
    let objects = store.buckets.get(&target.bucket).unwrap_or(&empty_bucket);
    let mut entries = Vec::new();
    let mut common_prefixes: Vec<String> = Vec::new();
    let mut next = None;
    for (key, object) in objects.range(prefix.clone()..) {
        if !key.starts_with(&prefix) {
            break;
        }
        if let Some(after) = &after {
            let skipped_prefix = delimiter
                .as_ref()
                .is_some_and(|d| after.ends_with(d.as_str()) && key.starts_with(after.as_str()));
            if key.as_str() <= after.as_str() || skipped_prefix {
                continue;
            }
        }
        let rolled_up = delimiter.as_ref().and_then(|delimiter| {
            let rest = &key[prefix.len()..];
            rest.find(delimiter.as_str())
                .map(|at| format!("{prefix}{}", &rest[..at + delimiter.len()]))
        });
        if let Some(common) = &rolled_up
            && common_prefixes.last() == Some(common)
        {
            continue;
        }
        if entries.len() + common_prefixes.len() == page_size {
            next = Some(match (entries.last(), common_prefixes.last()) {
                (Some(ListedEntry { key, .. }), Some(common)) if *key > common.as_str() => {
                    (*key).to_owned()
                }
                (_, Some(common)) => common.clone(),
                (Some(ListedEntry { key, .. }), None) => (*key).to_owned(),
                (None, None) => String::new(),
            });
            break;
        }
        match rolled_up {
            Some(common) => common_prefixes.push(common),
            None => entries.push(ListedEntry {
                key,
                size: object.data.len(),
                last_modified: object.last_modified,
                e_tag: object.e_tag(),
            }),
        }
    }
    let document = xml::list(&target.bucket, &prefix, &entries, &common_prefixes, next.as_deref());
    xml_response(StatusCode::OK, document)
}

fn metadata_of(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let key = name.as_str().strip_prefix(META_PREFIX)?;
            Some((key.to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect()
}

fn content_type_of(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned()
}

fn header(response: &Response<Body>, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn set(response: &mut Response<Body>, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (http::HeaderName::try_from(name), HeaderValue::try_from(value))
    {
        response.headers_mut().insert(name, value);
    }
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

fn xml_response(status: StatusCode, document: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(document)));
    *response.status_mut() = status;
    set(&mut response, CONTENT_TYPE.as_str(), "application/xml; charset=UTF-8");
    response
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    xml_response(status, xml::error(code, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_encoded_segments_and_queries() {
        let target =
            Target::parse("/test%2Dbucket/a%2Fb%2Ec", "list-type=2&prefix=x%2Fy+z&uploads");
        assert_eq!(target.bucket, "test-bucket");
        assert_eq!(target.object.as_deref(), Some("a/b.c"));
        assert_eq!(target.query["prefix"], "x/y z");
        assert!(target.query.contains_key("uploads"));
    }
}
