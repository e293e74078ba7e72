//! A rate-limited, retrying Tardis.dev client: CSV dataset downloads as byte streams, and the metadata API.
//!
//! Built from md-config's [`md_config::TardisConfig`] and nothing else; it knows nothing of storage.
//! Dependency position: `md-config` <- `tardis-client` <- `downloader`; it depends on no other workspace crate.
//!
//! - [`TardisClient::dataset`] opens one file (`{exchange}/{data_type}/{YYYY}/{MM}/{DD}/{symbol}.csv.gz`) as a
//!   [`DatasetStream`]: the body exactly as sent, never decompressed, with its byte count and CRC32C computed and its
//!   gzip verified on the way. The stream holds back its last chunk until the file is proven complete and intact.
//! - [`TardisClient::exchanges`], [`TardisClient::exchange_details`] and [`TardisClient::instruments`] return the
//!   metadata wire types of [`wire`] (exported as `tardis_client::wire`), cached for `metadata_cache_ttl`; [`wire`]
//!   also holds the dataset-symbol normalisation of download URLs ([`wire::normalize_dataset_symbol`]).
//! - Every request passes one shared set of limits (in flight, per second, per day) and the [`RetryPolicy`];
//!   [`Error::is_retryable`] says whether restarting can help.
//! - [`gzip`] is the gzip decoder of that check (ISA-L's inflate with the default `isal` feature, else zlib-rs),
//!   exported for callers that inflate the body themselves ([`gzip::GzipReader`], the Parquet converter's).
//! - The API key is sent as `Authorization: Bearer` to the configured origin only, and never appears in `Debug`,
//!   errors or logs. Without a key only the first day of each month can be downloaded; other days fail before
//!   anything is sent.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use futures::StreamExt;
//! use tardis_client::{DatasetRequest, TardisClient};
//!
//! let client = TardisClient::new(&md_config::TardisConfig::default())?;
//! let date = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
//! let request = DatasetRequest::new("deribit", md_config::DataType::Trades, date, "BTC-PERPETUAL");
//! let mut stream = client.dataset(&request).await?;
//! while let Some(chunk) = stream.next().await {
//!     let _bytes = chunk?; // write it somewhere; commit only when the stream ends without error
//! }
//! let summary = stream.summary().expect("ended without error");
//! println!("{} bytes, crc32c {:08x}", summary.bytes, summary.crc32c);
//! # Ok(())
//! # }
//! ```

mod client;
mod dataset;
mod error;
pub mod facts;
pub mod gzip;
mod http;
mod inflate;
mod ip_lock;
pub mod limits;
mod metadata;
mod readiness;
mod retry;
mod urls;
pub mod wire;

pub use client::{Endpoint, Probe, TardisClient};
pub use dataset::{DatasetRequest, DatasetStream, DatasetSummary, SummaryHandle};
pub use error::{Error, Result, codes};
pub use metadata::InstrumentFilter;
pub use readiness::{ClockSkew, CoverageGap, KeyStanding, MAX_CLOCK_SKEW, coverage_gaps};
pub use retry::{Retry, RetryClass, RetryPolicy};
pub use urls::encode_dataset_symbol;
