//! Adopting a bucket: objects at planned names that md did not write, kept instead of downloaded again.
//!
//! An object md wrote carries md's record (gcs-sink's recorded size and CRC32C). One without a record was written by
//! something else (the Python system md replaces, or md killed before its record) and is a *candidate*:
//! - a Parquet object is read from its footer alone (ranged reads of the object's end, never the whole object): it
//!   is adopted when the footer parses, its schema is the one md writes for the data type (the converter's
//!   [`convert::schema_mismatch`], under `MD_PARQUET_SCHEMA`) and its row count is positive, or it is a valid empty
//!   file;
//! - a `.csv.gz` object is read whole (a read, never a Tardis request): it is adopted when it inflates completely
//!   (every gzip member's CRC-32 and size) and starts with the data type's Tardis header.
//!
//! An adopted object gets an adoption record ([`gcs_sink::ObjectSink::record_adopted`]: how it was checked, and for a
//! `.csv.gz` its CRC32C), so later runs skip it and `md-cli missing` counts it apart. Anything else is left alone
//! and reported ([`LeftAlone`]); a `--force` run replaces it.
//!
//! A planned name with no object may have one under a historical spelling of its key (`PERP` for `PERPETUAL`,
//! `SPOT_ASSET` for `SPOT_PAIR`, `OKEX` for `OKX`: [`historical_spellings`]): that object, when md wrote it or it
//! checks out as above, is copied to the planned name on the store's side (create-only; the old object stays).
//!
//! None of this costs quota: no Tardis request is made.

use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use gcs_sink::{Digest, Hasher, ObjectInfo, ObjectSink};
use instruments::ObjectKey;
use md_config::{DataType, ParquetOptions};
use parquet::arrow::async_reader::MetadataFetch;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use serde::{Deserialize, Serialize};
use tardis_client::gzip::GzipDecoder;

use crate::convert;

/// How an adopted Parquet object was checked: its footer alone.
pub const PARQUET_FOOTER: &str = "parquet-footer";
/// How an adopted `.csv.gz` object was checked: inflated whole, header compared.
pub const CSV_GZIP: &str = "csv-gzip";
/// How a copy of an object md wrote under a historical spelling was checked: by md's record, which the copy keeps.
pub const MD_RECORD: &str = "md-record";

/// Bytes read from the end of a Parquet object in the first request: most footers fit, so most objects cost one
/// ranged read (a larger footer costs a second one).
pub const FOOTER_READ: u64 = 64 * 1024;

/// Uncompressed bytes the header line may take before a `.csv.gz` is judged to have none.
const MAX_HEADER: usize = 64 * 1024;

/// An object this run adopted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptedObject {
    /// The planned object name.
    pub object: String,
    /// How it was checked: [`PARQUET_FOOTER`], [`CSV_GZIP`] or [`MD_RECORD`].
    pub checked: String,
    /// The name it was copied from (a historical spelling of its key), when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copied_from: Option<String>,
}

/// An object md did not write, at a planned name, that did not check out: left alone (a `--force` run replaces it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftAlone {
    /// The unit (`date/exchange/data_type/symbol`).
    pub unit: String,
    /// The object.
    pub object: String,
    /// Why it was not adopted.
    pub reason: String,
}

/// What a candidate's check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Fit to keep, checked as `checked`; `digest` when the check read the whole object.
    Fit {
        /// How it was checked ([`PARQUET_FOOTER`] or [`CSV_GZIP`]).
        checked: &'static str,
        /// Its size and CRC32C, when the check read it whole.
        digest: Option<Digest>,
    },
    /// Not fit: why.
    Unfit(String),
}

/// Other spellings under which a bucket may hold the object of `key`: the venue (`OKEX*` / `OKX*`) and the type
/// (`PERP` / `PERPETUAL`, `SPOT_ASSET` / `SPOT_PAIR`) as the systems writing buckets spelt them over time, in the key
/// grammar's fixed order, without `key` itself; none for a text that is not a key.
///
/// This is the one seam between adoption and the key grammar's history ([`ObjectKey::historical_spellings`]).
pub fn historical_spellings(key: &str) -> Vec<String> {
    let spellings = ObjectKey::parse(key).map(|parsed| parsed.historical_spellings());
    spellings.unwrap_or_default().into_iter().filter(|spelling| spelling != key).collect()
}

/// Checks a Parquet object from its footer alone: one ranged read of its last [`FOOTER_READ`] bytes (a second one
/// when the footer is larger), from the version `info` describes. Its schema must be the one md writes for
/// `data_type` under `settings` (the converter's [`convert::schema_mismatch`]: columns by name, order, physical and
/// logical type, as readers see them; a file the original system wrote with pandas for the data type matches the
/// `original` schema).
///
/// # Errors
/// The sink's error when a read fails (the object cannot be judged); a footer that does not parse, a different
/// schema or an inconsistent row count is a [`Verdict::Unfit`], not an error.
///
/// # Cancel safety
/// Read-only.
pub async fn check_parquet(
    sink: &ObjectSink,
    name: &str,
    info: &ObjectInfo,
    data_type: DataType,
    settings: &ParquetOptions,
) -> Result<Verdict, gcs_sink::Error> {
    if info.size < 12 {
        return Ok(Verdict::Unfit(format!("{} bytes is too small for a Parquet file", info.size)));
    }
    let mut fetch = Fetch { sink, name, e_tag: info.e_tag.as_deref(), failed: None };
    let loaded = ParquetMetaDataReader::new()
        .with_page_index_policy(PageIndexPolicy::Skip)
        .with_prefetch_hint(Some(FOOTER_READ as usize))
        .load_and_finish(&mut fetch, info.size)
        .await;
    let metadata = match (loaded, fetch.failed) {
        (_, Some(error)) => return Err(error),
        (Ok(metadata), None) => metadata,
        (Err(error), None) => {
            return Ok(Verdict::Unfit(format!("its Parquet footer does not read: {error}")));
        }
    };
    Ok(match judge_footer(&metadata, info.size, data_type, settings) {
        Ok(()) => Verdict::Fit { checked: PARQUET_FOOTER, digest: None },
        Err(reason) => Verdict::Unfit(reason),
    })
}

/// The footer's verdict: the schema, the row count (positive, or an empty file without rows in any row group),
/// and every column chunk inside the file.
fn judge_footer(
    metadata: &ParquetMetaData,
    size: u64,
    data_type: DataType,
    settings: &ParquetOptions,
) -> Result<(), String> {
    let file = metadata.file_metadata();
    if let Some(difference) = convert::schema_mismatch(data_type, settings, file.schema_descr()) {
        return Err(format!(
            "its schema is not the {} schema md writes: {difference}",
            settings.schema
        ));
    }
    let rows = file.num_rows();
    let in_groups: i64 = metadata.row_groups().iter().map(|group| group.num_rows()).sum();
    if rows < 0 || in_groups != rows {
        return Err(format!("its footer counts {rows} rows, its row groups {in_groups}"));
    }
    let end = size.saturating_sub(8);
    for group in metadata.row_groups() {
        for column in group.columns() {
            let (start, length) = column.byte_range();
            if start < 4 || start.saturating_add(length) > end {
                return Err(format!(
                    "column chunk `{}` lies outside the file ({start}+{length} of {size} bytes)",
                    column.column_path()
                ));
            }
        }
    }
    Ok(())
}

/// Ranged reads for the footer reader, keeping the sink's own error (a failed read is not a bad footer).
struct Fetch<'a> {
    sink: &'a ObjectSink,
    name: &'a str,
    e_tag: Option<&'a str>,
    failed: Option<gcs_sink::Error>,
}

impl MetadataFetch for &mut Fetch<'_> {
    fn fetch(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        Box::pin(async move {
            match self.sink.read_range(self.name, range, self.e_tag).await {
                Ok(bytes) => Ok(bytes),
                Err(error) => {
                    let message = error.to_string();
                    self.failed = Some(error);
                    Err(parquet::errors::ParquetError::General(message))
                }
            }
        })
    }
}

/// Checks a `.csv.gz` object by reading it whole: every gzip member inflates with its CRC-32 and size, and the
/// CSV starts with the Tardis header of `data_type` (a byte order mark and a CRLF line end tolerated, as the
/// converter does). A fit object's digest is returned, so its record is as complete as if md had written it.
///
/// # Errors
/// The sink's error when reading fails, or [`gcs_sink::Error::Changed`] when fewer or more bytes than `info`
/// says arrive.
///
/// # Cancel safety
/// Read-only.
pub async fn check_csv_gzip(
    sink: &ObjectSink,
    name: &str,
    info: &ObjectInfo,
    data_type: DataType,
) -> Result<Verdict, gcs_sink::Error> {
    let expected = convert::csv_header(data_type);
    let mut body = sink.get(name).await?;
    let mut decoder = GzipDecoder::default();
    let mut hasher = Hasher::default();
    let mut output = vec![0u8; 256 * 1024];
    let mut header: Vec<u8> = Vec::new();
    let mut header_done = false;
    let mut broken: Option<String> = None;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        hasher.update(&chunk);
        if broken.is_some() {
            continue;
        }
        let mut input: &[u8] = &chunk;
        loop {
            match decoder.decompress(input, &mut output) {
                Ok((used, produced)) => {
                    input = &input[used..];
                    if !header_done {
                        let fresh = &output[..produced];
                        match memchr::memchr(b'\n', fresh) {
                            Some(end) => {
                                header.extend_from_slice(&fresh[..end]);
                                header_done = true;
                            }
                            None => header.extend_from_slice(fresh),
                        }
                        if !header_done && header.len() > MAX_HEADER {
                            broken =
                                Some(format!("no header line in its first {MAX_HEADER} bytes"));
                            break;
                        }
                    }
                    if input.is_empty() && produced < output.len() {
                        break;
                    }
                }
                Err(error) => {
                    broken = Some(format!("it does not inflate: {error}"));
                    break;
                }
            }
        }
    }
    let digest = hasher.finish();
    if digest.size != info.size {
        return Err(gcs_sink::Error::Changed {
            name: name.to_owned(),
            store: sink.options().label.clone(),
        });
    }
    if let Some(reason) = broken {
        return Ok(Verdict::Unfit(reason));
    }
    if let Err(error) = decoder.finish() {
        return Ok(Verdict::Unfit(format!("it does not inflate completely: {error}")));
    }
    let line = header.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&header);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line != expected.as_bytes() {
        return Ok(Verdict::Unfit(format!(
            "its header {:?} is not the {data_type} header",
            String::from_utf8_lossy(&line[..line.len().min(200)])
        )));
    }
    Ok(Verdict::Fit { checked: CSV_GZIP, digest: Some(digest) })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case("DERIBIT:PERPETUAL:BTC-USD", &["DERIBIT:PERP:BTC-USD"])]
    #[case("BINANCE:SPOT_PAIR:BTC-USDT", &["BINANCE:SPOT_ASSET:BTC-USDT"])]
    #[case(
        "OKX-SWAP:PERPETUAL:BTC-USDT",
        &["OKX-SWAP:PERP:BTC-USDT", "OKEX-SWAP:PERPETUAL:BTC-USDT", "OKEX-SWAP:PERP:BTC-USDT"]
    )]
    #[case(
        "OKX:SPOT_PAIR:BTC-USDT",
        &["OKX:SPOT_ASSET:BTC-USDT", "OKEX:SPOT_PAIR:BTC-USDT", "OKEX:SPOT_ASSET:BTC-USDT"]
    )]
    #[case("OKX-FUTURES:FUTURE:BTC-USD-241227", &["OKEX-FUTURES:FUTURE:BTC-USD-241227"])]
    #[case("BINANCE:PERPETUAL:ALL", &["BINANCE:PERP:ALL"])]
    #[case("DERIBIT:OPTION:BTC-USD-241227-50000-CALL", &[])]
    #[case("DERIBIT:OPTION:ALL", &[])]
    // A key already in an older spelling is not its own other spelling.
    #[case("DERIBIT:PERP:BTC-USD", &[])]
    #[case("not a key", &[])]
    fn historical_spellings_cover_every_combination(#[case] key: &str, #[case] expected: &[&str]) {
        assert_eq!(historical_spellings(key), expected);
    }
}
