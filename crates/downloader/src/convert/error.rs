//! Errors of the conversion: what went wrong, and where in the CSV.

use md_config::DataType;

/// Why a conversion failed. When a conversion fails, no Parquet footer has been emitted.
///
/// A failure of the input stream is not a conversion error: the streaming converter hands it back as it came.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// The input is not valid gzip (or is truncated).
    #[error("bad gzip data after {uncompressed_bytes} uncompressed bytes")]
    Gzip {
        /// How many bytes had been inflated before the failure.
        uncompressed_bytes: u64,
        /// What the decoder reported.
        #[source]
        source: std::io::Error,
    },
    /// The first line is not the header Tardis writes for the data type.
    #[error(
        "the CSV header does not match {data_type}: column {column} should be {expected:?}, found {found:?}"
    )]
    Header {
        /// The data type being converted.
        data_type: DataType,
        /// The 1-based position of the first column that differs.
        column: usize,
        /// The header cell Tardis writes there, or "(end of line)".
        expected: String,
        /// The header cell found there (shortened when very long), or "(end of line)".
        found: String,
    },
    /// A row has the wrong number of fields.
    #[error("line {line}: expected {expected} fields, found {found}")]
    FieldCount {
        /// 1-based line number in the CSV (the header is line 1).
        line: u64,
        /// Fields in the header.
        expected: usize,
        /// Fields on this line.
        found: usize,
    },
    /// A cell cannot be parsed as its column's type.
    #[error("line {line}, column {column}: {problem}: {text:?}")]
    Cell {
        /// 1-based line number in the CSV (the header is line 1).
        line: u64,
        /// The column, as the CSV header names it.
        column: String,
        /// What is wrong, e.g. "not a number".
        problem: &'static str,
        /// The cell's text (shortened when very long).
        text: String,
    },
    /// A row's exchange or symbol is not the unit's (original schema, which drops those columns after checking them).
    #[error("line {line}, column {column}: {found:?} is not the unit's {expected:?}")]
    NotTheUnit {
        /// 1-based line number in the CSV (the header is line 1).
        line: u64,
        /// `exchange` or `symbol`.
        column: String,
        /// The unit's Tardis exchange or dataset symbol.
        expected: String,
        /// The cell's text (shortened when very long).
        found: String,
    },
    /// A temporary file of the sort could not be created, written or read back.
    #[error("cannot use a temporary file in {dir} (MD_PARQUET_SPILL_DIR)")]
    Spill {
        /// The directory of the temporary files.
        dir: std::path::PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A line is longer than the converter accepts.
    #[error("line {line} is longer than {limit} bytes")]
    LineTooLong {
        /// 1-based line number in the CSV.
        line: u64,
        /// The limit in bytes.
        limit: usize,
    },
    /// Arrow or Parquet refused the data (a bug rather than bad input).
    #[error("cannot encode Parquet")]
    Parquet {
        /// The encoder's error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Arrow refused a batch (a bug rather than bad input).
    #[error("cannot build an Arrow batch")]
    Arrow {
        /// The error.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// A conversion thread stopped without reporting (it panicked).
    #[error("the conversion worker stopped unexpectedly")]
    Worker,
    /// The output could not be written (synchronous helpers only).
    #[error("cannot write the output")]
    Output {
        /// The writer's error.
        #[source]
        source: std::io::Error,
    },
}

impl ConvertError {
    /// Returns whether trying the same unit again may succeed: a corrupt or cut gzip (damaged on the way) is
    /// retryable; bad rows are not.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ConvertError::Gzip { .. })
    }
}

impl From<parquet::errors::ParquetError> for ConvertError {
    fn from(source: parquet::errors::ParquetError) -> Self {
        ConvertError::Parquet { source }
    }
}

impl From<arrow::error::ArrowError> for ConvertError {
    fn from(source: arrow::error::ArrowError) -> Self {
        ConvertError::Arrow { source }
    }
}

/// Returns `bytes` as text for an error message, shortened to about 100 characters.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    const LIMIT: usize = 100;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(LIMIT)]).into_owned();
    if bytes.len() > LIMIT { format!("{text}...") } else { text }
}
