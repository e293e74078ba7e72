//! Temporary storage for the sort: bytes kept in memory up to a limit, then in an unnamed temporary file (created
//! in `MD_PARQUET_SPILL_DIR`, removed by the system as soon as it is closed, also when the process dies).

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use parquet::file::reader::{ChunkReader, Length};

use super::error::ConvertError;

/// Write buffer of the temporary file.
const FILE_BUFFER_BYTES: usize = 256 << 10;

/// Bytes written in memory until `limit`, then to a temporary file.
#[derive(Debug)]
pub(crate) struct Spill {
    dir: PathBuf,
    limit: usize,
    memory: Vec<u8>,
    file: Option<BufWriter<File>>,
    len: u64,
    /// The first I/O error, kept to report it as [`ConvertError::Spill`] when it reaches the caller through a
    /// writer that wraps it.
    error: SpillErrors,
}

/// The first I/O error of a [`Spill`], shared, so it can be reported once the writer around the spill is gone.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpillErrors {
    dir: PathBuf,
    first: Arc<std::sync::Mutex<Option<(std::io::ErrorKind, String)>>>,
}

impl SpillErrors {
    /// Returns the error to report for a failure of a writer writing into the spill: the spill's own I/O error
    /// if it had one, else `otherwise`.
    pub(crate) fn explain(&self, otherwise: ConvertError) -> ConvertError {
        let first = self.first.lock().map(|first| first.clone()).unwrap_or_default();
        match first {
            Some((kind, message)) => ConvertError::Spill {
                dir: self.dir.clone(),
                source: std::io::Error::new(kind, message),
            },
            None => otherwise,
        }
    }

    fn record(&self, error: &std::io::Error) {
        if let Ok(mut first) = self.first.lock()
            && first.is_none()
        {
            *first = Some((error.kind(), error.to_string()));
        }
    }
}

impl Spill {
    /// Returns an empty store that moves to a file in `dir` once it holds more than `limit` bytes.
    pub(crate) fn new(dir: &Path, limit: usize) -> Self {
        Spill {
            dir: dir.to_path_buf(),
            limit,
            memory: Vec::new(),
            file: None,
            len: 0,
            error: SpillErrors { dir: dir.to_path_buf(), first: Arc::default() },
        }
    }

    /// Returns the handle on the store's first I/O error.
    pub(crate) fn errors(&self) -> SpillErrors {
        self.error.clone()
    }

    /// Returns the bytes written, for reading.
    pub(crate) fn into_stored(self) -> Result<Stored, ConvertError> {
        let dir = self.dir.clone();
        let failed = |source| ConvertError::Spill { dir: dir.clone(), source };
        match self.file {
            None => Ok(Stored::Memory(Bytes::from(self.memory))),
            Some(file) => {
                let file = file.into_inner().map_err(|error| failed(error.into_error()))?;
                Ok(Stored::File(Arc::new(file), self.len))
            }
        }
    }

    fn remember<T>(&mut self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(error) = &result {
            self.error.record(error);
        }
        result
    }

    fn write_inner(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.file.is_none() && self.memory.len() + buf.len() > self.limit {
            let mut file =
                BufWriter::with_capacity(FILE_BUFFER_BYTES, tempfile::tempfile_in(&self.dir)?);
            file.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some(file);
        }
        match &mut self.file {
            Some(file) => file.write_all(buf)?,
            None => self.memory.extend_from_slice(buf),
        }
        self.len += buf.len() as u64;
        Ok(())
    }
}

impl Write for Spill {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let result = self.write_inner(buf);
        self.remember(result)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let result = match &mut self.file {
            Some(file) => file.flush(),
            None => Ok(()),
        };
        self.remember(result)
    }
}

/// What a [`Spill`] holds, readable at any offset (by several readers at once).
#[derive(Debug, Clone)]
pub(crate) enum Stored {
    Memory(Bytes),
    File(Arc<File>, u64),
}

impl Stored {
    /// Returns up to `max` bytes from `offset` (fewer only at the end).
    pub(crate) fn read_chunk(&self, offset: u64, max: usize) -> std::io::Result<Bytes> {
        let remaining = self.len().saturating_sub(offset);
        let length = usize::try_from(remaining).unwrap_or(usize::MAX).min(max);
        match self {
            Stored::Memory(bytes) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
                Ok(bytes.slice(start..start + length))
            }
            Stored::File(file, _) => {
                let mut buffer = vec![0; length];
                file.read_exact_at(&mut buffer, offset)?;
                Ok(Bytes::from(buffer))
            }
        }
    }
}

impl Length for Stored {
    fn len(&self) -> u64 {
        match self {
            Stored::Memory(bytes) => bytes.len() as u64,
            Stored::File(_, len) => *len,
        }
    }
}

/// Reads a [`Stored`] from an offset on.
pub(crate) struct StoredRead {
    stored: Stored,
    offset: u64,
}

impl Read for StoredRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let remaining = self.stored.len().saturating_sub(self.offset);
        let length = usize::try_from(remaining).unwrap_or(usize::MAX).min(buf.len());
        let read = match &self.stored {
            Stored::Memory(bytes) => {
                let start = usize::try_from(self.offset).unwrap_or(usize::MAX);
                buf[..length].copy_from_slice(&bytes[start..start + length]);
                length
            }
            Stored::File(file, _) => file.read_at(&mut buf[..length], self.offset)?,
        };
        self.offset += read as u64;
        Ok(read)
    }
}

impl ChunkReader for Stored {
    type T = StoredRead;

    fn get_read(&self, start: u64) -> parquet::errors::Result<StoredRead> {
        Ok(StoredRead { stored: self.clone(), offset: start })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let bytes = self.read_chunk(start, length)?;
        if bytes.len() != length {
            return Err(parquet::errors::ParquetError::EOF(format!(
                "expected {length} bytes at {start}, found {}",
                bytes.len()
            )));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_to_a_file_past_its_limit_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        for limit in [0, 5, 1 << 20] {
            let mut spill = Spill::new(dir.path(), limit);
            spill.write_all(b"hello ").unwrap();
            spill.write_all(b"world").unwrap();
            spill.flush().unwrap();
            let stored = spill.into_stored().unwrap();
            assert_eq!(matches!(stored, Stored::File(..)), limit < 11, "limit {limit}");
            assert_eq!(stored.len(), 11);
            assert_eq!(&stored.read_chunk(6, 100).unwrap()[..], b"world");
            assert_eq!(&stored.get_bytes(0, 5).unwrap()[..], b"hello");
            assert!(stored.get_bytes(8, 5).is_err());
            let mut text = String::new();
            stored.get_read(3).unwrap().read_to_string(&mut text).unwrap();
            assert_eq!(text, "lo world");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "unnamed files");
    }

    #[test]
    fn a_missing_directory_is_reported_as_the_spill_directory() {
        let mut spill = Spill::new(Path::new("/nonexistent/md-spill"), 0);
        assert!(spill.write_all(b"x").is_err());
        let error = spill.errors().explain(ConvertError::Worker);
        assert!(
            matches!(&error, ConvertError::Spill { dir, .. } if dir == Path::new("/nonexistent/md-spill")),
            "{error:?}"
        );
    }
}
