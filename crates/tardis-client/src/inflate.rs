//! Streaming inflate of raw deflate data, behind one interface over two backends: ISA-L's `isal_inflate` (the
//! `isal` feature, on by default; `src/inflate/isal.rs`, the workspace's one module that calls C) and zlib-rs through
//! flate2 (always built: the fallback where ISA-L cannot be, and the reference the tests hold ISA-L to).
//!
//! Only the deflate data is inflated here; the gzip framing (headers, trailers, members, CRC-32 and size) is
//! [`crate::gzip`]'s, the same for both backends.

#[cfg(feature = "isal")]
mod isal;

use flate2::{Decompress, FlushDecompress, Status};

/// Which inflater decodes the deflate data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Intel's ISA-L (`igzip`), built from source into the binary.
    #[cfg(feature = "isal")]
    Isal,
    /// zlib-rs, through flate2.
    ZlibRs,
}

impl Backend {
    /// ISA-L when the `isal` feature is on, else zlib-rs.
    #[cfg(feature = "isal")]
    pub const DEFAULT: Backend = Backend::Isal;
    /// ISA-L when the `isal` feature is on, else zlib-rs.
    #[cfg(not(feature = "isal"))]
    pub const DEFAULT: Backend = Backend::ZlibRs;

    /// Every backend this build has, the default first.
    pub const ALL: &'static [Backend] = &[
        #[cfg(feature = "isal")]
        Backend::Isal,
        Backend::ZlibRs,
    ];

    /// The backend's name, as tools and reports spell it (`ISA-L`, `zlib-rs`).
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "isal")]
            Backend::Isal => "ISA-L",
            Backend::ZlibRs => "zlib-rs",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What one call of [`RawInflater::inflate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Input bytes taken (some may sit in the inflater's bit buffer; see [`RawInflater::overread`]).
    pub(crate) consumed: usize,
    /// Output bytes written to the start of the output buffer.
    pub(crate) produced: usize,
    /// The final deflate block has ended: nothing more is produced until [`RawInflater::reset`].
    pub(crate) end: bool,
}

/// A raw deflate decoder (no zlib or gzip wrapper), fed in arbitrary pieces.
pub(crate) enum RawInflater {
    #[cfg(feature = "isal")]
    Isal(isal::IsalInflater),
    ZlibRs(Box<Decompress>),
}

impl std::fmt::Debug for RawInflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RawInflater").field(&self.backend()).finish()
    }
}

impl RawInflater {
    /// Returns an inflater expecting the first byte of a deflate stream.
    pub(crate) fn new(backend: Backend) -> Self {
        match backend {
            #[cfg(feature = "isal")]
            Backend::Isal => RawInflater::Isal(isal::IsalInflater::new()),
            Backend::ZlibRs => RawInflater::ZlibRs(Box::new(Decompress::new(false))),
        }
    }

    /// Returns which backend this is.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "isal")]
            RawInflater::Isal(_) => Backend::Isal,
            RawInflater::ZlibRs(_) => Backend::ZlibRs,
        }
    }

    /// Starts a new deflate stream.
    pub(crate) fn reset(&mut self) {
        match self {
            #[cfg(feature = "isal")]
            RawInflater::Isal(inflater) => inflater.reset(),
            RawInflater::ZlibRs(inflater) => inflater.reset(false),
        }
    }

    /// Inflates from `input` into `output`. Returns when the input is used up, the output is full, or the stream
    /// ends; a call that takes nothing and gives nothing with input left means the inflater needs output room or is
    /// stuck, which the caller decides.
    ///
    /// # Errors
    ///
    /// The backend's description of invalid deflate data.
    pub(crate) fn inflate(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress, String> {
        match self {
            #[cfg(feature = "isal")]
            RawInflater::Isal(inflater) => inflater.inflate(input, output),
            RawInflater::ZlibRs(inflater) => {
                let (before_in, before_out) = (inflater.total_in(), inflater.total_out());
                let status = inflater
                    .decompress(input, output, FlushDecompress::None)
                    .map_err(|error| error.to_string())?;
                Ok(Progress {
                    consumed: (inflater.total_in() - before_in) as usize,
                    produced: (inflater.total_out() - before_out) as usize,
                    end: status == Status::StreamEnd,
                })
            }
        }
    }

    /// The input bytes taken past the end of the deflate data, in order, once [`Progress::end`] was returned: they
    /// belong to what follows the stream (a gzip trailer). ISA-L reads its input up to 8 bytes ahead into a bit
    /// buffer, possibly in an earlier call than the one that ends the stream; zlib never reads past the end.
    pub(crate) fn overread(&self) -> &[u8] {
        match self {
            #[cfg(feature = "isal")]
            RawInflater::Isal(inflater) => inflater.overread(),
            RawInflater::ZlibRs(_) => &[],
        }
    }
}
