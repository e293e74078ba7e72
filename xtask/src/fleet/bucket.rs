//! Reading the GCS fake's bucket back over its XML API (ureq; no proxy, loopback only), independently of gcs-sink,
//! so the fleet's checks do not trust the code they check.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

/// What a path segment keeps unencoded: `/` and RFC 3986's unreserved characters.
const PATH: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/');
/// What a query value keeps unencoded: the unreserved characters.
const QUERY: &AsciiSet = &PATH.add(b'/');

/// One bucket of the GCS fake at `http://127.0.0.1:PORT`.
pub(crate) struct Bucket {
    base: String,
    bucket: String,
    agent: ureq::Agent,
}

/// One object as the XML API serves it.
pub(crate) struct Object {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    /// `x-goog-meta-md-size`, as sent.
    pub(crate) recorded_size: Option<String>,
    /// `x-goog-meta-md-crc32c`, as sent.
    pub(crate) recorded_crc32c: Option<String>,
}

/// A `ListBucketResult` page: only what the listing needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListBucketResult {
    #[serde(default)]
    contents: Vec<Contents>,
    next_continuation_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Contents {
    key: String,
}

impl Bucket {
    pub(crate) fn new(base: &str, bucket: &str) -> Bucket {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        Bucket { base: base.trim_end_matches('/').to_owned(), bucket: bucket.to_owned(), agent }
    }

    fn get(&self, path_and_query: &str) -> Result<(u16, ureq::http::HeaderMap, Vec<u8>)> {
        let url = format!("{}{path_and_query}", self.base);
        let mut response = self.agent.get(&url).call().with_context(|| format!("GET {url}"))?;
        let body = response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .with_context(|| format!("reading GET {url}"))?;
        Ok((response.status().as_u16(), response.headers().clone(), body))
    }

    /// Reads an object with the digest headers it was stored with.
    pub(crate) fn object(&self, name: &str) -> Result<Object> {
        let path = format!("/{}/{}", self.bucket, utf8_percent_encode(name, PATH));
        let (status, headers, body) = self.get(&path)?;
        let header =
            |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
        Ok(Object {
            status,
            body,
            recorded_size: header("x-goog-meta-md-size"),
            recorded_crc32c: header("x-goog-meta-md-crc32c"),
        })
    }

    /// Every object name under `prefix` (`list-type=2`, following continuation tokens).
    pub(crate) fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = format!(
                "/{}?list-type=2&prefix={}",
                self.bucket,
                utf8_percent_encode(prefix, QUERY)
            );
            if let Some(token) = &token {
                query.push_str(&format!(
                    "&continuation-token={}",
                    utf8_percent_encode(token, QUERY)
                ));
            }
            let (status, _, body) = self.get(&query)?;
            ensure!(status == 200, "listing the bucket answered {status}");
            let page = parse_list(&String::from_utf8(body)?)?;
            names.extend(page.contents.into_iter().map(|contents| contents.key));
            token = page.next_continuation_token.filter(|token| !token.is_empty());
            if token.is_none() {
                return Ok(names);
            }
        }
    }
}

fn parse_list(xml: &str) -> Result<ListBucketResult> {
    quick_xml::de::from_str(xml).context("the listing is not a ListBucketResult")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_keys_from_a_list_bucket_result() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>b</Name>\
                   <Contents><Key>a/b&amp;c</Key><Size>1</Size></Contents><Contents><Key>d</Key></Contents>\
                   <NextContinuationToken>t1</NextContinuationToken></ListBucketResult>";
        let page = parse_list(xml).expect("a listing");
        let keys: Vec<&str> = page.contents.iter().map(|contents| contents.key.as_str()).collect();
        assert_eq!(keys, ["a/b&c", "d"]);
        assert_eq!(page.next_continuation_token.as_deref(), Some("t1"));
        let last = parse_list("<ListBucketResult><KeyCount>0</KeyCount></ListBucketResult>")
            .expect("empty");
        assert!(last.contents.is_empty() && last.next_continuation_token.is_none());
    }

    #[test]
    fn encodes_object_names_for_paths_and_queries() {
        let name = "raw/day-2026-10-01/DERIBIT:PERP:BTC-USD.csv.gz";
        assert_eq!(
            utf8_percent_encode(name, PATH).to_string(),
            "raw/day-2026-10-01/DERIBIT%3APERP%3ABTC-USD.csv.gz"
        );
        assert_eq!(utf8_percent_encode("a b+c~", PATH).to_string(), "a%20b%2Bc~");
        assert_eq!(utf8_percent_encode("a/b", QUERY).to_string(), "a%2Fb");
    }
}
