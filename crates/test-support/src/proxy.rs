//! A small HTTP proxy on `127.0.0.1` for tests: plain forwarding (`GET http://host/path`) and `CONNECT` tunnels,
//! optionally requiring Basic credentials (`Proxy-Authorization`), logging every request it sees.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use test_support::proxy::TestProxy;
//!
//! let proxy = TestProxy::start(Some(("ops", "s3cret"))).await?;
//! let url = proxy.url_with_credentials(); // http://ops:s3cret@127.0.0.1:PORT
//! # let _ = url;
//! assert!(proxy.requests().is_empty());
//! # Ok(())
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use crate::serve::ServeTask;

/// One request the proxy saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRecord {
    /// `GET`, `PUT`, `CONNECT`, ...
    pub method: String,
    /// `host:port` of the target.
    pub authority: String,
    /// The path and query (empty for `CONNECT`).
    pub path: String,
    /// Whether it carried the expected credentials (always true when none are required).
    pub authorized: bool,
    /// What the proxy answered (the target's status when forwarded, 200 for a tunnel, 407 when refused, 502 when
    /// the target cannot be reached).
    pub status: u16,
}

type Body = BoxBody<Bytes, hyper::Error>;

#[derive(Debug)]
struct Shared {
    /// `Basic base64(user:password)`, when credentials are required.
    expected: Option<String>,
    credentials: Option<(String, String)>,
    log: Mutex<Vec<ProxyRecord>>,
}

/// A running proxy; dropping it stops accepting connections.
#[derive(Debug)]
pub struct TestProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Serves until dropped.
    _serving: ServeTask,
}

impl TestProxy {
    /// Starts a proxy on `127.0.0.1:0`, requiring `credentials` (user, password) when given.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(credentials: Option<(&str, &str)>) -> std::io::Result<TestProxy> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            expected: credentials.map(|(user, password)| {
                format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
            }),
            credentials: credentials.map(|(user, password)| (user.to_owned(), password.to_owned())),
            log: Mutex::new(Vec::new()),
        });
        let serving = Arc::clone(&shared);
        let task = ServeTask::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let shared = Arc::clone(&serving);
                connections.spawn(async move {
                    let service = service_fn(move |request| handle(Arc::clone(&shared), request));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(TestProxy { addr, shared, _serving: task })
    }

    /// Returns `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Returns `http://user:password@127.0.0.1:PORT` (the plain URL without credentials).
    pub fn url_with_credentials(&self) -> String {
        match &self.shared.credentials {
            Some((user, password)) => format!("http://{user}:{password}@{}", self.addr),
            None => self.url(),
        }
    }

    /// Returns every request seen so far, in arrival order.
    pub fn requests(&self) -> Vec<ProxyRecord> {
        self.shared.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

fn record(shared: &Shared, record: ProxyRecord) {
    shared.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(record);
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(text.as_bytes())).map_err(|never| match never {}).boxed(),
    );
    *response.status_mut() = status;
    response
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, hyper::Error> {
    let method = request.method().to_string();
    let authority = request
        .uri()
        .authority()
        .map(|authority| authority.to_string())
        .or_else(|| {
            request
                .headers()
                .get(hyper::header::HOST)
                .and_then(|host| host.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let path = if request.method() == Method::CONNECT {
        String::new()
    } else {
        request.uri().path_and_query().map(|path| path.to_string()).unwrap_or_else(|| "/".into())
    };
    let authorized = match &shared.expected {
        None => true,
        Some(expected) => request
            .headers()
            .get(hyper::header::PROXY_AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value == expected),
    };
    let mut entry =
        ProxyRecord { method, authority: authority.clone(), path, authorized, status: 0 };
    if !authorized {
        let mut response =
            plain(StatusCode::PROXY_AUTHENTICATION_REQUIRED, "proxy credentials required\n");
        response.headers_mut().insert(
            hyper::header::PROXY_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Basic realm=\"md-test-proxy\""),
        );
        entry.status = 407;
        record(&shared, entry);
        return Ok(response);
    }
    if request.method() == Method::CONNECT {
        let Ok(mut target) = tokio::net::TcpStream::connect(&authority).await else {
            entry.status = 502;
            record(&shared, entry);
            return Ok(plain(StatusCode::BAD_GATEWAY, "cannot reach the target\n"));
        };
        entry.status = 200;
        record(&shared, entry);
        tokio::spawn(async move {
            if let Ok(upgraded) = hyper::upgrade::on(request).await {
                let mut client = TokioIo::new(upgraded);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut target).await;
            }
        });
        return Ok(Response::new(Empty::new().map_err(|never| match never {}).boxed()));
    }
    let Ok(stream) = tokio::net::TcpStream::connect(&authority).await else {
        entry.status = 502;
        record(&shared, entry);
        return Ok(plain(StatusCode::BAD_GATEWAY, "cannot reach the target\n"));
    };
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    // Forward in origin form, without the proxy's own headers.
    let (mut parts, body) = request.into_parts();
    parts.uri = entry.path.parse().unwrap_or_else(|_| hyper::Uri::from_static("/"));
    parts.headers.remove(hyper::header::PROXY_AUTHORIZATION);
    parts.headers.remove("proxy-connection");
    if !parts.headers.contains_key(hyper::header::HOST)
        && let Ok(host) = hyper::header::HeaderValue::from_str(&authority)
    {
        parts.headers.insert(hyper::header::HOST, host);
    }
    let response = sender.send_request(Request::from_parts(parts, body)).await?;
    entry.status = response.status().as_u16();
    record(&shared, entry);
    Ok(response.map(BodyExt::boxed))
}

/// Standard base64 with padding.
fn base64(input: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(input)
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn write(stream: &mut tokio::net::TcpStream, text: &str) {
        stream.write_all(text.as_bytes()).await.expect("the proxy takes the request");
    }

    /// A tunnel carries bytes both ways to the target, and a request without the credentials gets 407.
    #[tokio::test]
    async fn connect_tunnels_and_credentials_are_required() {
        let stub =
            crate::tardis::TardisStub::start(crate::tardis::StubConfig::default()).await.unwrap();
        let target = stub.addr().to_string();
        let proxy = TestProxy::start(Some(("ops", "s3cret"))).await.unwrap();
        let mut stream = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
        let credentials = base64(b"ops:s3cret");
        assert_eq!(credentials, "b3BzOnMzY3JldA==");
        write(
            &mut stream,
            &format!(
                "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nProxy-Authorization: Basic {credentials}\r\n\r\n"
            ),
        )
        .await;
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(stream.read_u8().await.unwrap());
        }
        assert!(head.starts_with(b"HTTP/1.1 200 OK\r\n"), "{}", String::from_utf8_lossy(&head));
        let get =
            format!("GET /v1/exchanges HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
        write(&mut stream, &get).await;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        assert!(answer.contains("deribit"), "the stand-in's exchange list came through");
        assert_eq!(stub.counters().total, 1);

        let mut refused = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
        write(&mut refused, &format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n")).await;
        let mut answer = vec![0u8; 12];
        refused.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"HTTP/1.1 407");
        let log = proxy.requests();
        assert_eq!(log.len(), 2);
        assert_eq!(
            (log[0].method.as_str(), log[0].authorized, log[0].status),
            ("CONNECT", true, 200)
        );
        assert_eq!(log[0].authority, target);
        assert_eq!((log[1].authorized, log[1].status), (false, 407));
    }
}
