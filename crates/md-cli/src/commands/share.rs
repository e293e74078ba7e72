//! The shard settings the original system ignored and md applies: [`downloader::download::share`].

pub(crate) use downloader::download::share::applied_settings;
