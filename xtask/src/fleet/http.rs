//! A minimal HTTP/1.0 client over `std::net` for reading back from the loopback stand-ins (the GCS fake's XML API),
//! so xtask needs no HTTP dependency. One request per connection; `Content-Length` and chunked bodies.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// A response: status, headers (names lowercased) and body.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (lowercase).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// `GET {base}{path_and_query}`; `base` is `http://127.0.0.1:PORT`.
pub(crate) fn get(base: &str, path_and_query: &str) -> Result<Response> {
    let authority = base
        .strip_prefix("http://")
        .with_context(|| format!("{base} is not an http:// URL"))?
        .trim_end_matches('/');
    let mut stream =
        TcpStream::connect(authority).with_context(|| format!("connecting to {authority}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "GET {path_and_query} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).with_context(|| format!("reading GET {base}{path_and_query}"))?;
    parse(&raw).with_context(|| format!("GET {base}{path_and_query}"))
}

fn parse(raw: &[u8]) -> Result<Response> {
    let Some(end) = raw.windows(4).position(|window| window == b"\r\n\r\n") else {
        bail!("no complete response head in {} bytes", raw.len())
    };
    let head = std::str::from_utf8(&raw[..end]).context("response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let mut response = Response { status, headers, body: raw[end + 4..].to_vec() };
    if response.header("transfer-encoding").is_some_and(|value| value.contains("chunked")) {
        response.body = dechunk(&response.body)?;
    } else if let Some(length) = response.header("content-length") {
        let length: usize = length.parse().context("bad Content-Length")?;
        if response.body.len() != length {
            bail!("body has {} bytes, Content-Length says {length}", response.body.len());
        }
    }
    Ok(response)
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end =
            body.windows(2).position(|window| window == b"\r\n").context("truncated chunk size")?;
        let size_text = std::str::from_utf8(&body[..line_end])?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).context("bad chunk size")?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).context("truncated chunk")?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).context("truncated chunk")?;
    }
}

/// Percent-encodes an object name for a URL path, keeping `/` and RFC 3986 unreserved characters.
pub(crate) fn encode_path(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_responses_and_refuses_short_bodies() {
        let plain =
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Goog-Meta-Md-Size: 3\r\n\r\nabc")
                .unwrap();
        assert_eq!((plain.status, plain.body.as_slice()), (200, &b"abc"[..]));
        assert_eq!(plain.header("x-goog-meta-md-size"), Some("3"));
        let chunked =
            parse(b"HTTP/1.1 206 Partial\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n")
                .unwrap();
        assert_eq!((chunked.status, chunked.body.as_slice()), (206, &b"abcde"[..]));
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc").is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\n").is_err());
    }

    #[test]
    fn encodes_object_names_for_paths() {
        assert_eq!(
            encode_path("raw/day-2026-10-01/DERIBIT:PERP:BTC-USD.csv.gz"),
            "raw/day-2026-10-01/DERIBIT%3APERP%3ABTC-USD.csv.gz"
        );
        assert_eq!(encode_path("a b+c~"), "a%20b%2Bc~");
    }
}
