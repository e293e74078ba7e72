//! Builds the object store for a [`SinkConfig`]: the only place that knows the backends' builder settings.

use std::sync::Arc;

use md_config::{SinkConfig, SinkLocation};
use object_store::aws::{AmazonS3Builder, Checksum, S3ConditionalPut, S3CopyIfNotExists};
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use crate::error::{Error, Result};
use crate::gcs_copy::CopyMetadata;
use crate::{SinkOptions, StoreKind};

/// Part size for local directories, whatever `MD_SINK_PART_SIZE` says (it exists for object stores' minimums).
const LOCAL_PART_SIZE: usize = 1024 * 1024;

/// A store built from configuration, with what the sink needs to know about it.
pub(crate) struct Built {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) prefix: String,
    pub(crate) options: SinkOptions,
    /// Set for GCS: attaches the digest to publishing copies.
    pub(crate) copy_metadata: Option<CopyMetadata>,
}

impl Built {
    fn new(store: impl ObjectStore, prefix: &str, options: SinkOptions) -> Built {
        Built { store: Arc::new(store), prefix: prefix.to_owned(), options, copy_metadata: None }
    }
}

pub(crate) fn build(config: &SinkConfig) -> Result<Built> {
    let label = config.location.to_string();
    let config_error = |detail: String, source: Option<object_store::Error>| Error::Config {
        store: label.clone(),
        detail,
        source: source.map(Box::new),
    };
    let retry = RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: config.max_retries as usize,
        retry_timeout: RetryConfig::default().retry_timeout,
    };
    let client = ClientOptions::new()
        .with_timeout(config.request_timeout)
        .with_connect_timeout(config.connect_timeout);
    // The proxy for the store's endpoint scheme (`HTTPS_PROXY` for https, `HTTP_PROXY` for an http emulator or
    // endpoint), with `NO_PROXY`: md-config's values, never the environment's behind its back.
    let proxied = |client: ClientOptions, endpoint_scheme: &str| {
        let Some(proxy) = config.proxy.for_scheme(endpoint_scheme) else { return client };
        let client = client.with_proxy_url(proxy.expose().as_str());
        match &config.proxy.no_proxy {
            Some(excludes) => client.with_proxy_excludes(excludes.as_str()),
            None => client,
        }
    };
    if config.part_size == 0 {
        return Err(config_error("part size must be positive".into(), None));
    }
    let options = |kind: StoreKind| SinkOptions {
        // A local directory has no smallest part: small pieces keep the memory of many uploads low.
        part_size: match kind {
            StoreKind::Local { .. } => config.part_size.min(LOCAL_PART_SIZE),
            _ => config.part_size,
        },
        buffer_memory: config.buffer_memory,
        label: label.clone(),
        ..SinkOptions::new(kind)
    };

    match &config.location {
        SinkLocation::Gcs { bucket, prefix } => {
            let copy_metadata = CopyMetadata::default();
            let mut builder = GoogleCloudStorageBuilder::new()
                .with_bucket_name(bucket)
                .with_retry(retry)
                .with_http_connector(copy_metadata.connector());
            let client = if let Some(emulator) = &config.gcs.emulator_host {
                // An emulator takes no credentials: a fixed bearer token keeps object_store from asking the GCE
                // metadata server for one (INFRA.md, verified against fake-gcs-server and our fake).
                let base_url = emulator.as_str().trim_end_matches('/');
                builder = builder.with_base_url(base_url).with_bearer_token("emulator");
                proxied(client, emulator.scheme()).with_allow_http(emulator.scheme() == "http")
            } else {
                if let Some(path) = &config.gcs.credentials_path {
                    builder = builder.with_service_account_path(path.to_string_lossy());
                }
                // Without a key file, object_store uses application default credentials (the gcloud ADC file, else
                // the metadata server).
                proxied(client, "https")
            };
            let store = builder.with_client_options(client).build().map_err(|source| {
                config_error("the GCS client cannot be built".into(), Some(source))
            })?;
            Ok(Built {
                copy_metadata: Some(copy_metadata),
                ..Built::new(store, prefix, options(StoreKind::Gcs))
            })
        }
        SinkLocation::S3 { bucket, prefix } => {
            let mut builder = AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(&config.s3.region)
                .with_retry(retry)
                // Create-only small objects: `If-None-Match: *` (AWS, MinIO, moto).
                .with_conditional_put(S3ConditionalPut::ETagMatch)
                // Create-only publication of staged objects: a one-part multipart copy completed with
                // `If-None-Match: *` (native AWS).
                .with_copy_if_not_exists(S3CopyIfNotExists::Multipart)
                // The server checks every request body against this hash.
                .with_checksum_algorithm(Checksum::SHA256);
            let scheme = config.s3.endpoint.as_ref().map_or("https", |endpoint| endpoint.scheme());
            let mut client = proxied(client, scheme);
            if let Some(endpoint) = &config.s3.endpoint {
                builder = builder
                    .with_endpoint(endpoint.as_str().trim_end_matches('/'))
                    .with_virtual_hosted_style_request(false);
                client = client.with_allow_http(endpoint.scheme() == "http");
            }
            if let Some(key) = &config.s3.access_key_id {
                builder = builder.with_access_key_id(key);
            }
            if let Some(secret) = &config.s3.secret_access_key {
                builder = builder.with_secret_access_key(secret.expose());
            }
            if let Some(token) = &config.s3.session_token {
                builder = builder.with_token(token.expose());
            }
            let store = builder.with_client_options(client).build().map_err(|source| {
                config_error("the S3 client cannot be built".into(), Some(source))
            })?;
            Ok(Built::new(store, prefix, options(StoreKind::S3)))
        }
        SinkLocation::Local { root } => {
            std::fs::create_dir_all(root).map_err(|error| {
                config_error(
                    format!("cannot create the directory {}: {error}", root.display()),
                    None,
                )
            })?;
            let store = LocalFileSystem::new_with_prefix(root)
                .map_err(|source| {
                    config_error(
                        format!("cannot use the directory {}", root.display()),
                        Some(source),
                    )
                })?
                .with_automatic_cleanup(true);
            let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.clone());
            Ok(Built::new(store, "", options(StoreKind::Local { root })))
        }
        SinkLocation::Memory => Ok(Built::new(InMemory::new(), "", options(StoreKind::Memory))),
    }
}
