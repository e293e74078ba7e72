//! Custom metadata for objects published by copy on GCS.
//!
//! A multipart upload's metadata is fixed when it starts, before the content (and so its CRC32C) is known, and
//! object_store's copy cannot set metadata. On GCS the XML API's copy takes `x-goog-metadata-directive: REPLACE`
//! with new `x-goog-meta-*` headers, so the publishing copy can attach the digest atomically with the object.
//! This HTTP connector (object_store's documented extension point, wrapping its reqwest client) adds those
//! headers to the copy whose source is a staging object registered by the sink; every other request passes
//! unchanged. GCS authenticates with a bearer token, so adding headers does not invalidate a signature (this is
//! why S3, whose SigV4 signs `x-amz-*` headers, keeps sidecars instead).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use http::{HeaderName, HeaderValue, Method};
use object_store::ClientOptions;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpRequest, HttpResponse, HttpService, ReqwestConnector,
};

use crate::digest::{Digest, META_CRC32C, META_SIZE};

const COPY_SOURCE: &str = "x-goog-copy-source";

/// Staging objects whose publishing copy must carry a digest, shared by the sink and its HTTP client.
#[derive(Debug, Clone, Default)]
pub(crate) struct CopyMetadata {
    pending: Arc<Mutex<HashMap<String, Digest>>>,
}

impl CopyMetadata {
    fn pending(&self) -> MutexGuard<'_, HashMap<String, Digest>> {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes the next copy from `staging` (a full object path in the bucket) replace its metadata with `digest`.
    /// The registration ends when the guard is dropped.
    pub(crate) fn register(&self, staging: &str, digest: Digest) -> Registration {
        self.pending().insert(staging.to_owned(), digest);
        Registration { owner: self.clone(), staging: staging.to_owned() }
    }

    /// Returns the connector to give to the GCS builder.
    pub(crate) fn connector(&self) -> Connector {
        Connector { metadata: self.clone() }
    }

    fn headers_for(&self, copy_source: &str) -> Option<Vec<(HeaderName, HeaderValue)>> {
        // The header is `{bucket}/{object}`, both percent-encoded.
        let decoded = percent_decode(copy_source);
        let (_, object) = decoded.split_once('/')?;
        let digest = *self.pending().get(object)?;
        let meta = |key: &str| HeaderName::try_from(format!("x-goog-meta-{key}")).ok();
        Some(vec![
            (
                HeaderName::from_static("x-goog-metadata-directive"),
                HeaderValue::from_static("REPLACE"),
            ),
            (meta(META_SIZE)?, HeaderValue::try_from(digest.size.to_string()).ok()?),
            (meta(META_CRC32C)?, HeaderValue::try_from(digest.crc32c_hex()).ok()?),
        ])
    }
}

/// Ends a registration on drop (also when the publishing future is cancelled).
#[derive(Debug)]
pub(crate) struct Registration {
    owner: CopyMetadata,
    staging: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.owner.pending().remove(&self.staging);
    }
}

/// object_store's reqwest connector plus the copy-metadata headers.
#[derive(Debug)]
pub(crate) struct Connector {
    metadata: CopyMetadata,
}

impl HttpConnector for Connector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let inner = ReqwestConnector::default().connect(options)?;
        Ok(HttpClient::new(Service { inner, metadata: self.metadata.clone() }))
    }
}

#[derive(Debug)]
struct Service {
    inner: HttpClient,
    metadata: CopyMetadata,
}

#[async_trait]
impl HttpService for Service {
    async fn call(&self, mut request: HttpRequest) -> Result<HttpResponse, HttpError> {
        if request.method() == Method::PUT {
            let headers = request
                .headers()
                .get(COPY_SOURCE)
                .and_then(|source| source.to_str().ok())
                .and_then(|source| self.metadata.headers_for(source));
            for (name, value) in headers.into_iter().flatten() {
                request.headers_mut().insert(name, value);
            }
        }
        self.inner.execute(request).await
    }
}

/// Decodes the `%XX` escapes object_store puts in a copy source; a `%` not followed by two hex digits stays.
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_object_store_copy_sources() {
        assert_eq!(
            percent_decode("md%2Dbucket/p%2F%2Emd%2Dstaging%2F0001%2Dab"),
            "md-bucket/p/.md-staging/0001-ab"
        );
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn only_registered_sources_get_headers_and_only_while_registered() {
        let metadata = CopyMetadata::default();
        let source = "b/p%2F%2Emd%2Dstaging%2F1";
        assert!(metadata.headers_for(source).is_none());
        let registration = metadata.register("p/.md-staging/1", Digest { size: 3, crc32c: 0xabc });
        let headers = metadata.headers_for(source).expect("registered");
        assert!(
            headers
                .iter()
                .any(|(name, value)| name == "x-goog-meta-md-crc32c" && value == "00000abc")
        );
        assert!(
            headers
                .iter()
                .any(|(name, value)| name == "x-goog-metadata-directive" && value == "REPLACE")
        );
        drop(registration);
        assert!(metadata.headers_for(source).is_none());
    }
}
