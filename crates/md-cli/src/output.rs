//! Writing a local file atomically: [`downloader::fetch::LocalFileWriter`].

pub(crate) use downloader::fetch::LocalFileWriter;
