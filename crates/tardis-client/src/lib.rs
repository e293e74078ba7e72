//! A rate-limited, retrying Tardis.dev client: CSV dataset downloads as byte streams, and the metadata API.
//!
//! Built from md-config's [`md_config::TardisConfig`] and nothing else; it knows nothing of storage.
//! Dependency position: `md-config` (and the pure `instruments` types) <- `tardis-client` <- `downloader`.
