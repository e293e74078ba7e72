//! Grouped options units stored split by underlying × expiry (`MD_SPLIT_GROUPED=underlying_expiry`,
//! docs/SCHEMAS.md "Split grouped options files").
//!
//! Such a unit's planned object is its *part list* (`{grouped object}.parts.json`, [`part_list_name`]): a small JSON
//! object naming each part's object, rows and CRC32C. The parts are written first (by
//! [`crate::convert::split`]), the part list last, so the unit is stored exactly when its part list is; resume
//! ([`parts_intact`] from the pipeline) and `md-cli missing` (the survey) count the unit as stored only when its
//! part list is and every part it lists is stored with the listed size and CRC32C.

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt as _, TryStreamExt as _};
use gcs_sink::{ObjectSink, PutError, PutOutcome, WriteMode};
use md_config::{DownloadConfig, InstrumentType, ObjectFields, OutputFormat, SplitGrouped};
use serde::{Deserialize, Serialize};

use crate::convert::split::{self, SplitError, SplitOptions};
use crate::convert::{ConvertError, ConvertOptions, Partition};
use crate::download::pipeline::SourceError;
use crate::download::plan::Unit;

/// What ends a part list's name.
pub const PART_LIST_SUFFIX: &str = ".parts.json";

/// The most bytes a part list may have when read back (a day has tens of parts, each about 150 bytes).
const PART_LIST_LIMIT: u64 = 4 << 20;

/// Returns whether the download stores a unit of `instrument_type` (`grouped` or not) in `format` split.
pub fn splits(
    download: &DownloadConfig,
    grouped: bool,
    instrument_type: InstrumentType,
    format: OutputFormat,
) -> bool {
    download.split_grouped == SplitGrouped::UnderlyingExpiry
        && grouped
        && instrument_type == InstrumentType::Option
        && format == OutputFormat::Parquet
}

/// Returns the part list's name of a grouped object: its name with `.parquet` replaced by [`PART_LIST_SUFFIX`]
/// (`.../DERIBIT:OPTION:ALL.parquet` gives `.../DERIBIT:OPTION:ALL.parts.json`).
pub fn part_list_name(grouped_object: &str) -> String {
    let stem = grouped_object.strip_suffix(".parquet").unwrap_or(grouped_object);
    format!("{stem}{PART_LIST_SUFFIX}")
}

/// Returns whether `name` is a part list's.
pub fn is_part_list(name: &str) -> bool {
    name.ends_with(PART_LIST_SUFFIX)
}

/// Returns the object name of the part `part_key` of a unit: `MD_LAYOUT` rendered with the part key as
/// `{instrument_key}` and `{symbol}-{part}` as `{symbol}` (`OPTIONS-BTC-USD-261127`).
pub fn part_name(download: &DownloadConfig, unit: &Unit, part_key: &str) -> String {
    let part = part_key.split(':').nth(2).unwrap_or(part_key);
    download.layout.render(&ObjectFields {
        date: unit.date,
        exchange: &unit.exchange,
        data_type: unit.data_type,
        symbol: &format!("{}-{part}", unit.symbol),
        instrument_key: part_key,
        format: OutputFormat::Parquet,
    })
}

/// The part list of a split unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartList {
    /// The unit (`{date} {exchange} {data_type} {symbol}`).
    pub unit: String,
    /// The parts, by part key.
    pub parts: Vec<PartEntry>,
}

/// One part of a split unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartEntry {
    /// The part key (`DERIBIT:OPTION:BTC-USD-261127:ALL`).
    pub key: String,
    /// The object name, relative to the sink's root.
    pub name: String,
    /// Data rows.
    pub rows: u64,
    /// Bytes of the object.
    pub size: u64,
    /// CRC32C of the object, 8 lower-case hex digits.
    pub crc32c: String,
}

/// Reads the part list `name` and checks that every part it lists is stored with its size and CRC32C (as recorded
/// when it was written; read back as well when `read_back`). Returns `Ok(None)` when all are, else why not.
///
/// # Errors
/// The sink's error (other than a missing object or a corrupt part) reading the list or checking a part.
pub async fn parts_intact(
    sink: &ObjectSink,
    name: &str,
    read_back: bool,
) -> Result<Option<String>, gcs_sink::Error> {
    let bytes = match sink.read_small(name, PART_LIST_LIMIT).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(Some(format!("the part list {name} is missing"))),
        Err(error) => return Err(error),
    };
    let list: PartList = match serde_json::from_slice(&bytes) {
        Ok(list) => list,
        Err(error) => return Ok(Some(format!("the part list {name} cannot be read: {error}"))),
    };
    for part in &list.parts {
        let info = match sink.head(&part.name).await {
            Ok(info) => info,
            Err(gcs_sink::Error::NotFound { .. }) => {
                return Ok(Some(format!("part {} is missing", part.name)));
            }
            Err(error) => return Err(error),
        };
        let recorded = info.recorded.map(|digest| (digest.size, digest.crc32c_hex()));
        if info.size != part.size || recorded != Some((part.size, part.crc32c.clone())) {
            return Ok(Some(format!(
                "part {} is not the one listed (size {}, recorded {recorded:?}; listed {} bytes, CRC32C {})",
                part.name, info.size, part.size, part.crc32c
            )));
        }
        if read_back {
            match sink.verify(&part.name).await {
                Ok(verified) if verified.recorded => {}
                Ok(_) => return Ok(Some(format!("part {} has no record", part.name))),
                Err(gcs_sink::Error::NotFound { .. }) => {
                    return Ok(Some(format!("part {} is missing", part.name)));
                }
                Err(error @ gcs_sink::Error::Corrupt { .. }) => return Ok(Some(error.to_string())),
                Err(error) => return Err(error),
            }
        }
    }
    Ok(None)
}

/// The downloaded body as a blocking `Read` for the split's thread: pieces sent by the async side; the end of the
/// channel is the end of the body.
struct BodyReader {
    pieces: tokio::sync::mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl std::io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.pieces.blocking_recv() {
                Some(piece) => self.current = piece,
                None => return Ok(0),
            }
        }
        let amount = self.current.len().min(buf.len());
        buf[..amount].copy_from_slice(&self.current.split_to(amount));
        Ok(amount)
    }
}

/// Splits the grouped options file `file` of `unit` into its parts, stores each (replacing what is stored under its
/// name), then the part list `list_name` with `mode`; returns the part list's outcome.
///
/// The split and the conversions run on blocking threads, one part at a time; each part is converted into a
/// temporary file in `MD_PARQUET_SPILL_DIR` and streamed from it to the sink.
///
/// # Errors
/// The body's own error as it came, the split's or a conversion's ([`SourceError::Split`]), or the sink's.
pub(crate) async fn store_split(
    sink: &ObjectSink,
    download: &DownloadConfig,
    unit: &Unit,
    mut file: BoxStream<'static, Result<Bytes, SourceError>>,
    list_name: &str,
    mode: WriteMode,
    options: ConvertOptions,
) -> Result<PutOutcome, PutError<SourceError>> {
    let failed =
        |source: SourceError| PutError::Source { name: list_name.to_owned(), bytes: 0, source };
    let split_error = |error: SplitError| failed(SourceError::Split(error));
    let (pieces, received) = tokio::sync::mpsc::channel::<Bytes>(16);
    let exchange = unit.exchange.clone();
    let split_options =
        SplitOptions { open_parts: download.split_open_parts, ..SplitOptions::default() };
    let dir = options.spill_dir.clone();
    let splitting = tokio::task::spawn_blocking(move || {
        split::split_reader(
            BodyReader { pieces: received, current: Bytes::new() },
            &exchange,
            split_options,
            &dir,
        )
    });
    let mut source_error = None;
    while let Some(piece) = file.next().await {
        match piece {
            Ok(piece) => {
                if pieces.send(piece).await.is_err() {
                    break;
                }
            }
            Err(error) => {
                source_error = Some(error);
                break;
            }
        }
    }
    drop(pieces);
    let parts = splitting.await.map_err(|_| split_error(ConvertError::Worker.into()));
    if let Some(error) = source_error {
        return Err(failed(error));
    }
    let mut parts = parts?.map_err(split_error)?;
    let mut list = PartList { unit: unit.id(), parts: Vec::with_capacity(parts.parts().len()) };
    for index in 0..parts.parts().len() {
        let key = parts.parts()[index].key().to_owned();
        let name = part_name(download, unit, &key);
        let (data_type, part_options) = (unit.data_type, options.clone());
        let partition = Partition {
            date: unit.date,
            venue: unit.exchange.to_ascii_uppercase(),
            instrument_key: key.clone(),
            exchange: unit.exchange.clone(),
            symbol: None,
        };
        let converted = tokio::task::spawn_blocking(move || {
            let result = tempfile::tempfile_in(&part_options.spill_dir)
                .map_err(|source| ConvertError::Spill {
                    dir: part_options.spill_dir.clone(),
                    source,
                })
                .and_then(|output| {
                    parts.convert(index, output, data_type, &partition, &part_options)
                });
            (parts, result)
        })
        .await
        .map_err(|_| split_error(ConvertError::Worker.into()))?;
        parts = converted.0;
        let (mut output, summary) = converted.1.map_err(|error| split_error(error.into()))?;
        let spill_error = |source| ConvertError::Spill { dir: options.spill_dir.clone(), source };
        std::io::Seek::rewind(&mut output)
            .map_err(|source| split_error(spill_error(source).into()))?;
        let body =
            tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(output), 1 << 20)
                .map_err(move |source| SourceError::Split(spill_error(source).into()));
        let stored = sink.put_stream(&name, body, WriteMode::Replace).await?;
        list.parts.push(PartEntry {
            key,
            name,
            rows: summary.rows,
            size: stored.digest.size,
            crc32c: stored.digest.crc32c_hex(),
        });
    }
    let json = serde_json::to_vec_pretty(&list).expect("a part list serialises");
    Ok(sink.put_bytes(list_name, json, mode).await?)
}
