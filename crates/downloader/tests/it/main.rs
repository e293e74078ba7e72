//! downloader: planning, sharding, the streaming pipeline and Parquet conversion, end to end.

mod convert;
mod pipeline;
mod plan;
