//! Streaming gzip decoding: the gzip check of every downloaded body and the converter's inflate.
//!
//! [`GzipDecoder`] inflates a gzip file fed in arbitrary pieces and checks every member's trailer (CRC-32 and
//! ISIZE) as it ends, so a corrupt or truncated file is caught before its last byte is handed out. Multi-member
//! files (several gzip members back to back, as `cat a.gz b.gz` makes) are accepted; anything else after a member
//! is rejected. A valid empty gzip (a member holding zero bytes) is accepted.
//!
//! The deflate data is inflated by ISA-L when the `isal` feature is on (the default), else by zlib-rs
//! ([`Backend`]); the framing and the checks here are the same for both. The client's gzip check inflates and
//! discards; [`GzipReader`] is the decoder as a [`std::io::Read`], for the Parquet converter.
//!
//! ```
//! use std::io::{Read, Write};
//!
//! let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
//! encoder.write_all(b"exchange,symbol\n").unwrap();
//! let body = encoder.finish().unwrap();
//! let mut text = String::new();
//! tardis_client::gzip::GzipReader::new(body.as_slice()).read_to_string(&mut text).unwrap();
//! assert_eq!(text, "exchange,symbol\n");
//! ```

use std::cell::RefCell;
use std::io::BufRead;

use crc32fast::Hasher as Crc;

use crate::facts::{FactsScanner, FileFacts};
pub use crate::inflate::Backend;
use crate::inflate::RawInflater;

/// What is wrong with the gzip, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GzipError {
    /// Offset in the compressed body where the problem was found.
    pub(crate) offset: u64,
    /// What is wrong.
    pub(crate) reason: String,
}

impl GzipError {
    /// Returns the offset in the compressed body where the problem was found.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Returns what is wrong, in words.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl std::fmt::Display for GzipError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at byte {} of the gzip data: {}", self.offset, self.reason)
    }
}

impl std::error::Error for GzipError {}

const FTEXT_MASK_RESERVED: u8 = 0xE0;
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

/// Where in the gzip format the decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the fixed 10-byte header; `seen` bytes read so far.
    Fixed { seen: usize },
    /// Reading the 2-byte FEXTRA length.
    ExtraLen { seen: usize },
    /// Skipping FEXTRA data.
    Extra { remaining: u16 },
    /// Skipping the zero-terminated file name.
    Name,
    /// Skipping the zero-terminated comment.
    Comment,
    /// Skipping the 2-byte header CRC.
    HeaderCrc { seen: usize },
    /// Inflating the deflate data.
    Deflate,
    /// Reading the 8-byte trailer.
    Trailer { seen: usize },
    /// A member ended; only another member may follow.
    BetweenMembers,
}

/// Decodes a gzip file fed in arbitrary pieces, checking every member's CRC-32 and size.
///
/// Feed it with [`decompress`](GzipDecoder::decompress) until the body ends, then call
/// [`finish`](GzipDecoder::finish), which fails unless the body ended right after a complete member.
pub struct GzipDecoder {
    phase: Phase,
    flags: u8,
    fixed: [u8; 10],
    extra_len: [u8; 2],
    trailer: [u8; 8],
    inflater: RawInflater,
    crc: Crc,
    /// Bytes inflated in the current member.
    member_bytes: u64,
    offset: u64,
    members: u32,
    uncompressed: u64,
}

impl std::fmt::Debug for GzipDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipDecoder")
            .field("backend", &self.inflater.backend())
            .field("phase", &self.phase)
            .field("offset", &self.offset)
            .field("members", &self.members)
            .finish()
    }
}

impl Default for GzipDecoder {
    fn default() -> Self {
        GzipDecoder::new(Backend::DEFAULT)
    }
}

impl GzipDecoder {
    /// Returns a decoder expecting the first byte of a gzip file, inflating with `backend`
    /// ([`Backend::DEFAULT`] is the fastest this build has).
    pub fn new(backend: Backend) -> Self {
        GzipDecoder {
            phase: Phase::Fixed { seen: 0 },
            flags: 0,
            fixed: [0; 10],
            extra_len: [0; 2],
            trailer: [0; 8],
            inflater: RawInflater::new(backend),
            crc: Crc::new(),
            member_bytes: 0,
            offset: 0,
            members: 0,
            uncompressed: 0,
        }
    }

    /// Returns which inflater decodes the deflate data.
    pub fn backend(&self) -> Backend {
        self.inflater.backend()
    }

    /// Returns the number of complete members checked so far.
    pub fn members(&self) -> u32 {
        self.members
    }

    /// Returns the number of uncompressed bytes produced so far.
    pub fn uncompressed_bytes(&self) -> u64 {
        self.uncompressed
    }

    /// Returns the number of compressed bytes taken so far.
    pub fn compressed_bytes(&self) -> u64 {
        self.offset
    }

    fn fail(&self, reason: impl Into<String>) -> GzipError {
        GzipError { offset: self.offset, reason: reason.into() }
    }

    /// Decodes from `input` into `output`; returns how many bytes of `input` it took and how many it wrote to the
    /// start of `output`.
    ///
    /// It returns when every input byte is taken and the inflater has nothing more to give without more input, or
    /// when `output` is full. So a call that fills `output` may have output left to give: call again (with an empty
    /// `input` if the body has ended) until a call leaves room in `output`. The bytes not taken must be offered
    /// again first.
    ///
    /// # Errors
    ///
    /// A [`GzipError`] naming the offset and the problem: not gzip, an unsupported header, invalid deflate data, a
    /// member whose CRC-32 or size differs from its trailer, or bytes after a member that do not start another.
    /// The decoder is not usable after an error.
    pub fn decompress(
        &mut self,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(usize, usize), GzipError> {
        let (mut used, mut produced) = (0usize, 0usize);
        loop {
            if self.phase == Phase::Deflate {
                if produced == output.len() {
                    break;
                }
                let progress = self
                    .inflater
                    .inflate(&input[used..], &mut output[produced..])
                    .map_err(|reason| GzipError {
                        offset: self.offset,
                        reason: format!("invalid deflate data: {reason}"),
                    })?;
                let fresh = &output[produced..produced + progress.produced];
                self.crc.update(fresh);
                self.member_bytes += fresh.len() as u64;
                self.uncompressed += fresh.len() as u64;
                used += progress.consumed;
                produced += progress.produced;
                self.offset += progress.consumed as u64;
                if progress.end {
                    self.phase = Phase::Trailer { seen: 0 };
                    // Bytes the inflater read past the end of the deflate data are the trailer's first bytes.
                    let overread = self.inflater.overread().to_vec();
                    self.offset -= overread.len() as u64;
                    for byte in overread {
                        self.header_or_trailer_byte(byte)?;
                        self.offset += 1;
                    }
                } else if progress.consumed == 0 && progress.produced == 0 {
                    if used == input.len() {
                        break;
                    }
                    // zlib and ISA-L always progress with input and output room; guard against looping forever.
                    return Err(self.fail("the deflate stream makes no progress"));
                }
                continue;
            }
            let Some(&byte) = input.get(used) else { break };
            used += 1;
            self.header_or_trailer_byte(byte)?;
            self.offset += 1;
        }
        Ok((used, produced))
    }

    /// Checks that the body ended at the end of a complete member.
    ///
    /// # Errors
    ///
    /// A [`GzipError`] when the body is empty or ends inside a member (truncated).
    pub fn finish(&self) -> Result<(), GzipError> {
        match self.phase {
            Phase::BetweenMembers => Ok(()),
            Phase::Fixed { seen: 0 } if self.members == 0 => {
                Err(self.fail("the body is empty, which is not a gzip file"))
            }
            Phase::Deflate => {
                Err(self.fail("the gzip data ends inside a compressed block (truncated)"))
            }
            Phase::Trailer { .. } => {
                Err(self.fail("the gzip data ends inside a member trailer (truncated)"))
            }
            _ => Err(self.fail("the gzip data ends inside a member header (truncated)")),
        }
    }

    fn header_or_trailer_byte(&mut self, byte: u8) -> Result<(), GzipError> {
        self.phase = match self.phase {
            Phase::BetweenMembers => {
                if byte != 0x1f {
                    return Err(self.fail(format!(
                        "unexpected byte 0x{byte:02x} after gzip member {}: not the start of another member",
                        self.members
                    )));
                }
                self.fixed[0] = byte;
                Phase::Fixed { seen: 1 }
            }
            Phase::Fixed { seen } => {
                self.fixed[seen] = byte;
                let seen = seen + 1;
                match seen {
                    1 if byte != 0x1f => return Err(self.fail("not a gzip file (bad magic)")),
                    2 if byte != 0x8b => return Err(self.fail("not a gzip file (bad magic)")),
                    3 if byte != 8 => {
                        return Err(
                            self.fail(format!("unsupported gzip compression method {byte}"))
                        );
                    }
                    4 if byte & FTEXT_MASK_RESERVED != 0 => {
                        return Err(self.fail("reserved gzip header flags are set"));
                    }
                    _ => {}
                }
                if seen < 10 {
                    Phase::Fixed { seen }
                } else {
                    self.flags = self.fixed[3];
                    self.after_fixed()
                }
            }
            Phase::ExtraLen { seen } => {
                self.extra_len[seen] = byte;
                if seen == 0 {
                    Phase::ExtraLen { seen: 1 }
                } else {
                    match u16::from_le_bytes(self.extra_len) {
                        0 => self.after_extra(),
                        remaining => Phase::Extra { remaining },
                    }
                }
            }
            Phase::Extra { remaining } => {
                if remaining > 1 {
                    Phase::Extra { remaining: remaining - 1 }
                } else {
                    self.after_extra()
                }
            }
            Phase::Name => {
                if byte == 0 {
                    self.after_name()
                } else {
                    Phase::Name
                }
            }
            Phase::Comment => {
                if byte == 0 {
                    self.after_comment()
                } else {
                    Phase::Comment
                }
            }
            Phase::HeaderCrc { seen } => {
                if seen == 0 {
                    Phase::HeaderCrc { seen: 1 }
                } else {
                    self.start_deflate()
                }
            }
            Phase::Trailer { seen } => {
                self.trailer[seen] = byte;
                if seen + 1 < 8 {
                    Phase::Trailer { seen: seen + 1 }
                } else {
                    self.check_trailer()?;
                    Phase::BetweenMembers
                }
            }
            Phase::Deflate => unreachable!("deflate data is handled by inflate"),
        };
        Ok(())
    }

    fn after_fixed(&mut self) -> Phase {
        if self.flags & FEXTRA != 0 { Phase::ExtraLen { seen: 0 } } else { self.after_extra() }
    }

    fn after_extra(&mut self) -> Phase {
        if self.flags & FNAME != 0 { Phase::Name } else { self.after_name() }
    }

    fn after_name(&mut self) -> Phase {
        if self.flags & FCOMMENT != 0 { Phase::Comment } else { self.after_comment() }
    }

    fn after_comment(&mut self) -> Phase {
        if self.flags & FHCRC != 0 { Phase::HeaderCrc { seen: 0 } } else { self.start_deflate() }
    }

    fn start_deflate(&mut self) -> Phase {
        self.inflater.reset();
        self.crc = Crc::new();
        self.member_bytes = 0;
        Phase::Deflate
    }

    fn check_trailer(&mut self) -> Result<(), GzipError> {
        let crc = u32::from_le_bytes([
            self.trailer[0],
            self.trailer[1],
            self.trailer[2],
            self.trailer[3],
        ]);
        let size = u32::from_le_bytes([
            self.trailer[4],
            self.trailer[5],
            self.trailer[6],
            self.trailer[7],
        ]);
        let actual_crc = self.crc.clone().finalize();
        if crc != actual_crc {
            return Err(self.fail(format!(
                "gzip member {} CRC-32 mismatch: trailer says {crc:08x}, data gives {actual_crc:08x}",
                self.members + 1,
            )));
        }
        // ISIZE is the member's length modulo 2^32.
        let actual_size = self.member_bytes as u32;
        if size != actual_size {
            return Err(self.fail(format!(
                "gzip member {} size mismatch: trailer says {size} bytes, data gives {actual_size}",
                self.members + 1,
            )));
        }
        self.members += 1;
        Ok(())
    }
}

/// The gzip check's output buffer. ISA-L decodes the start of every call into its own buffer (behind the history
/// of the previous call) and copies it out, then saves the last 32 KiB of output as history: a 256 KiB buffer
/// amortises that over more output than 64 KiB does, and still stays in the core's L2 cache for the CRC-32 that
/// reads it next; measured with `cargo run --release -p tardis-client --example inflate -- FILES --piece-kib 384`
/// (a body's pieces as hyper hands them on loopback) on the bench's four data types, 3-5% faster than 64 KiB and
/// than 1 MiB.
///
/// The output is discarded once its CRC-32 is taken, and both inflaters keep the history they need in their own
/// state, so one buffer per thread serves every download that thread polls: 16 downloads in flight on 2 runtime
/// threads hold 512 KiB of it, not 4 MiB.
const SCRATCH_BYTES: usize = 256 * 1024;

thread_local! {
    /// This thread's gzip-check output buffer (see [`SCRATCH_BYTES`]), allocated on first use.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH_BYTES].into_boxed_slice());
}

/// The client's gzip check: a [`GzipDecoder`] whose output is discarded, after the file's facts
/// ([`crate::facts`]) are learnt from it when asked for.
#[derive(Debug)]
pub(crate) struct GzipVerifier {
    decoder: GzipDecoder,
    facts: Option<FactsScanner>,
}

impl GzipVerifier {
    /// Returns a verifier expecting the first byte of a gzip file, inflating with the default backend.
    pub(crate) fn new() -> Self {
        GzipVerifier::with_backend(Backend::DEFAULT)
    }

    /// Returns a verifier inflating with `backend`.
    pub(crate) fn with_backend(backend: Backend) -> Self {
        GzipVerifier { decoder: GzipDecoder::new(backend), facts: None }
    }

    /// Learns the file's facts from the inflated bytes when `facts`.
    pub(crate) fn learning_facts(mut self, facts: bool) -> Self {
        self.facts = facts.then(FactsScanner::new);
        self
    }

    /// Returns the number of complete members verified so far.
    #[cfg(test)]
    pub(crate) fn members(&self) -> u32 {
        self.decoder.members()
    }

    /// Returns the number of uncompressed bytes inflated so far.
    pub(crate) fn uncompressed_bytes(&self) -> u64 {
        self.decoder.uncompressed_bytes()
    }

    /// Feeds the next bytes of the body.
    pub(crate) fn update(&mut self, mut input: &[u8]) -> Result<(), GzipError> {
        SCRATCH.with_borrow_mut(|scratch| {
            loop {
                let (used, produced) = self.decoder.decompress(input, scratch)?;
                if let Some(facts) = &mut self.facts {
                    facts.update(&scratch[..produced]);
                }
                input = &input[used..];
                // Room left in the output means every input byte was taken and nothing more is pending.
                if produced < scratch.len() {
                    return Ok(());
                }
            }
        })
    }

    /// Checks that the body ended at the end of a complete member.
    pub(crate) fn finish(&self) -> Result<(), GzipError> {
        self.decoder.finish()
    }

    /// Returns the facts of the file, once it is complete, when they were asked for.
    pub(crate) fn take_facts(&mut self) -> Option<FileFacts> {
        self.facts.take().map(FactsScanner::finish)
    }
}

/// A [`GzipDecoder`] over a [`BufRead`], as a [`std::io::Read`] of the uncompressed bytes: what the Parquet
/// converter inflates with.
///
/// A read fails with [`std::io::ErrorKind::InvalidData`] on bad gzip and [`std::io::ErrorKind::UnexpectedEof`] when
/// the input ends inside a member (or holds nothing at all); the error's inner error is the [`GzipError`].
pub struct GzipReader<R> {
    inner: R,
    decoder: GzipDecoder,
    finished: bool,
    /// The file's facts, learnt from what is read, when asked for ([`GzipReader::with_facts`]).
    facts: Option<FactsScanner>,
    /// The facts of the whole file, once it has been read to its end.
    complete_facts: Option<FileFacts>,
}

impl<R> std::fmt::Debug for GzipReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipReader").field("decoder", &self.decoder).finish_non_exhaustive()
    }
}

impl<R: BufRead> GzipReader<R> {
    /// Returns a reader of the gzip file `inner` holds, inflating with the default backend.
    pub fn new(inner: R) -> Self {
        GzipReader::with_backend(inner, Backend::DEFAULT)
    }

    /// Returns a reader inflating with `backend`.
    pub fn with_backend(inner: R, backend: Backend) -> Self {
        GzipReader {
            inner,
            decoder: GzipDecoder::new(backend),
            finished: false,
            facts: None,
            complete_facts: None,
        }
    }

    /// Learns the file's facts ([`crate::facts`]) from the bytes read, as the client's gzip check does.
    pub fn with_facts(mut self) -> Self {
        self.facts = Some(FactsScanner::new());
        self
    }

    /// Returns the file's facts once it has been read to its end (and its gzip found complete); `None` before, or
    /// without [`GzipReader::with_facts`].
    pub fn facts(&self) -> Option<FileFacts> {
        self.complete_facts
    }

    /// Returns the decoder (counts of bytes and members so far).
    pub fn decoder(&self) -> &GzipDecoder {
        &self.decoder
    }

    /// Returns the underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }
}

impl<R: BufRead> std::io::Read for GzipReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() || self.finished {
            return Ok(0);
        }
        loop {
            let input = self.inner.fill_buf()?;
            let ended = input.is_empty();
            let (used, produced) = self
                .decoder
                .decompress(input, buf)
                .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))?;
            self.inner.consume(used);
            if produced > 0 {
                if let Some(facts) = &mut self.facts {
                    facts.update(&buf[..produced]);
                }
                return Ok(produced);
            }
            if ended {
                self.decoder.finish().map_err(|error| {
                    std::io::Error::new(std::io::ErrorKind::UnexpectedEof, error)
                })?;
                self.finished = true;
                self.complete_facts = self.facts.take().map(FactsScanner::finish);
                return Ok(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        gzip_at(data, Compression::fast())
    }

    fn gzip_at(data: &[u8], level: Compression) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), level);
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn gzip_with_header(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::GzBuilder::new()
            .filename("file.csv")
            .comment("a comment")
            .extra(vec![1, 2, 3])
            .write(Vec::new(), Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn verify_in_chunks(
        backend: Backend,
        body: &[u8],
        chunk: usize,
    ) -> Result<GzipVerifier, GzipError> {
        let mut verifier = GzipVerifier::with_backend(backend);
        for part in body.chunks(chunk.max(1)) {
            verifier.update(part)?;
        }
        verifier.finish()?;
        Ok(verifier)
    }

    /// Decodes `body` fed in pieces of `chunk` bytes into an output buffer of `room` bytes, as a caller with
    /// small buffers does; returns the output.
    fn decode(
        backend: Backend,
        body: &[u8],
        chunk: usize,
        room: usize,
    ) -> Result<Vec<u8>, GzipError> {
        let mut decoder = GzipDecoder::new(backend);
        let mut output = Vec::new();
        let mut buf = vec![0; room.max(1)];
        let mut rest = body;
        loop {
            let piece = &rest[..rest.len().min(chunk.max(1))];
            let (used, produced) = decoder.decompress(piece, &mut buf)?;
            output.extend_from_slice(&buf[..produced]);
            rest = &rest[used..];
            if rest.is_empty() && produced < buf.len() {
                break;
            }
        }
        decoder.finish()?;
        assert_eq!(decoder.compressed_bytes(), body.len() as u64);
        assert_eq!(decoder.uncompressed_bytes(), output.len() as u64);
        Ok(output)
    }

    /// Text that compresses like a CSV file: repeats, digits, and some noise.
    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8 ^ (i / 1000) as u8).collect()
    }

    #[test]
    fn the_default_backend_is_the_fastest_built() {
        assert_eq!(Backend::ALL[0], Backend::DEFAULT);
        assert_eq!(
            Backend::DEFAULT.name(),
            if cfg!(feature = "isal") { "ISA-L" } else { "zlib-rs" }
        );
        assert_eq!(GzipDecoder::default().backend(), Backend::DEFAULT);
    }

    #[test]
    fn accepts_valid_files_in_any_chunking() {
        let data = sample(300_000);
        for &backend in Backend::ALL {
            for body in [gzip(&data), gzip_with_header(&data), gzip(b"")] {
                for chunk in [1, 7, 4096, 65_536, body.len()] {
                    let verifier = verify_in_chunks(backend, &body, chunk).unwrap();
                    assert_eq!(verifier.members(), 1, "{backend} {chunk}");
                }
            }
            let verifier = verify_in_chunks(backend, &gzip(&data), 1000).unwrap();
            assert_eq!(verifier.uncompressed_bytes(), 300_000, "{backend}");
        }
    }

    #[test]
    fn decodes_every_level_and_stored_blocks_with_any_buffers() {
        let data = sample(200_000);
        for &backend in Backend::ALL {
            for level in [0, 1, 6, 9] {
                let body = gzip_at(&data, Compression::new(level));
                for (chunk, room) in
                    [(1, 1), (3, 7), (8, 64), (4096, 3), (700, 70_000), (body.len(), 1 << 20)]
                {
                    let output = decode(backend, &body, chunk, room).unwrap();
                    assert!(output == data, "{backend} level {level} chunk {chunk} room {room}");
                }
            }
        }
    }

    #[test]
    fn accepts_multi_member_files() {
        let mut body = gzip(b"exchange,symbol\n");
        body.extend(gzip_with_header(&sample(100_000)));
        body.extend(gzip(b""));
        for &backend in Backend::ALL {
            for chunk in [1, 13, 8192, body.len()] {
                assert_eq!(verify_in_chunks(backend, &body, chunk).unwrap().members(), 3);
            }
        }
    }

    #[test]
    fn rejects_truncation_anywhere() {
        let body = gzip_with_header(&sample(50_000));
        for &backend in Backend::ALL {
            for cut in [0, 1, 5, 12, 30, body.len() / 2, body.len() - 8, body.len() - 1] {
                let error = verify_in_chunks(backend, &body[..cut], 4096).unwrap_err();
                assert!(
                    error.reason.contains("empty") || error.reason.contains("truncated"),
                    "{backend} {cut}: {error:?}"
                );
            }
        }
    }

    #[test]
    fn verifiers_sharing_a_thread_interleave_without_mixing_their_streams() {
        // Many downloads are polled on one runtime thread and share its output buffer: each keeps its own result.
        let (one, two) = (sample(700_000), sample(900_000).into_iter().rev().collect::<Vec<_>>());
        let (one, two) = (gzip(&one), gzip_at(&two, Compression::best()));
        let mut corrupt = gzip(&sample(800_000));
        let at = corrupt.len() / 2;
        corrupt[at] ^= 0x10;
        for &backend in Backend::ALL {
            let bodies = [&one, &two, &corrupt];
            let mut verifiers: Vec<_> =
                bodies.iter().map(|_| GzipVerifier::with_backend(backend)).collect();
            let mut results: Vec<Result<(), GzipError>> = bodies.iter().map(|_| Ok(())).collect();
            // Pieces of different sizes, so one verifier's call often ends mid-buffer between two of another's.
            let mut offsets = [0usize; 3];
            let sizes = [10_007, 65_536, 31_337];
            while (0..3).any(|i| offsets[i] < bodies[i].len()) {
                for i in 0..3 {
                    let end = (offsets[i] + sizes[i]).min(bodies[i].len());
                    if offsets[i] < end && results[i].is_ok() {
                        results[i] = verifiers[i].update(&bodies[i][offsets[i]..end]);
                    }
                    offsets[i] = end;
                }
            }
            for i in 0..2 {
                assert!(results[i].is_ok(), "{backend} body {i}: {:?}", results[i]);
                verifiers[i].finish().unwrap_or_else(|error| panic!("{backend} body {i}: {error}"));
            }
            assert_eq!(verifiers[0].uncompressed_bytes(), 700_000, "{backend}");
            assert_eq!(verifiers[1].uncompressed_bytes(), 900_000, "{backend}");
            assert!(
                results[2].is_err() || verifiers[2].finish().is_err(),
                "{backend}: the corrupt body must fail"
            );
        }
    }

    #[test]
    fn rejects_corruption_and_trailing_garbage() {
        let body = gzip(&sample(50_000));
        for &backend in Backend::ALL {
            let verify = |body: &[u8]| verify_in_chunks(backend, body, 4096);
            let mut flipped_crc = body.clone();
            let at = body.len() - 6;
            flipped_crc[at] ^= 0x40;
            let error = verify(&flipped_crc).unwrap_err();
            assert!(error.reason.contains("member 1 CRC-32 mismatch"), "{backend}: {error}");
            assert_eq!(error.offset, body.len() as u64 - 1, "{backend}: the trailer's last byte");
            let mut flipped_size = body.clone();
            let at = body.len() - 2;
            flipped_size[at] ^= 0x01;
            assert!(verify(&flipped_size).unwrap_err().reason.contains("size"), "{backend}");
            for at in [body.len() / 3, body.len() / 2] {
                let mut corrupt = body.clone();
                corrupt[at] ^= 0xff;
                assert!(verify(&corrupt).is_err(), "{backend}: flip at {at}");
            }
            let mut trailing = body.clone();
            trailing.extend_from_slice(b"\0\0");
            let error = verify(&trailing).unwrap_err();
            assert!(error.reason.contains("after gzip member 1"), "{backend}: {error}");
            assert_eq!(
                error.offset,
                body.len() as u64,
                "{backend}: the first byte after the member"
            );
            let error = verify(b"plain text, not gzip").unwrap_err();
            assert!(error.reason.contains("magic"), "{backend}: {error}");
        }
    }

    #[test]
    fn invalid_deflate_data_names_the_inflater_problem() {
        // A header, then a deflate block of the reserved type 3.
        let mut body = gzip(b"")[..10].to_vec();
        body.extend_from_slice(&[0x07, 0, 0, 0]);
        for &backend in Backend::ALL {
            let error = verify_in_chunks(backend, &body, 4096).unwrap_err();
            assert!(error.reason.starts_with("invalid deflate data: "), "{backend}: {error}");
            assert_eq!(error.offset, 10, "{backend}: {error}");
        }
    }

    #[test]
    fn the_reader_reads_what_was_written_and_names_what_is_wrong() {
        let data = sample(300_000);
        let mut body = gzip(&data);
        body.extend(gzip_with_header(b"second member\n"));
        let mut expected = data.clone();
        expected.extend_from_slice(b"second member\n");
        for &backend in Backend::ALL {
            // A small BufReader buffer, so reads cross chunk and member boundaries.
            let reader = std::io::BufReader::with_capacity(333, body.as_slice());
            let mut reader = GzipReader::with_backend(reader, backend);
            let mut output = Vec::new();
            let mut buf = [0; 1000];
            loop {
                let read = reader.read(&mut buf).unwrap();
                if read == 0 {
                    break;
                }
                output.extend_from_slice(&buf[..read]);
            }
            assert!(output == expected, "{backend}");
            assert_eq!(reader.decoder().members(), 2);
            assert_eq!(reader.read(&mut buf).unwrap(), 0, "{backend}: stays at the end");

            let cut = &body[..body.len() - 3];
            let error =
                GzipReader::with_backend(cut, backend).read_to_end(&mut Vec::new()).unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof, "{backend}: {error}");
            assert!(error.to_string().contains("truncated"), "{backend}: {error}");
            let error = GzipReader::with_backend(&b""[..], backend)
                .read_to_end(&mut Vec::new())
                .unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof, "{backend}: {error}");
            let mut corrupt = body.clone();
            let at = corrupt.len() / 3;
            corrupt[at] ^= 0xff;
            let error = GzipReader::with_backend(corrupt.as_slice(), backend)
                .read_to_end(&mut Vec::new())
                .unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{backend}: {error}");
            let inner = error.get_ref().and_then(|inner| inner.downcast_ref::<GzipError>());
            assert!(inner.is_some(), "{backend}: the GzipError is the source: {error:?}");
        }
    }

    mod property_tests {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Any split of a valid (multi-member) file verifies, with every backend; any cut before the end does
            /// not.
            #[test]
            fn prop_chunking_never_matters(
                members in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..3000), 1..4),
                chunk in 1usize..700,
                cut in any::<proptest::sample::Index>(),
            ) {
                let encoded: Vec<Vec<u8>> = members.iter().map(|data| gzip(data)).collect();
                let boundaries: Vec<usize> = encoded
                    .iter()
                    .scan(0, |end, member| {
                        *end += member.len();
                        Some(*end)
                    })
                    .collect();
                let body: Vec<u8> = encoded.concat();
                let cut = cut.index(body.len());
                for &backend in Backend::ALL {
                    let verifier = verify_in_chunks(backend, &body, chunk).expect("valid");
                    prop_assert_eq!(verifier.members() as usize, members.len());
                    let total: usize = members.iter().map(Vec::len).sum();
                    prop_assert_eq!(verifier.uncompressed_bytes(), total as u64);
                    // A cut at a member boundary leaves a valid (shorter) multi-member file.
                    if !boundaries.contains(&cut) {
                        prop_assert!(verify_in_chunks(backend, &body[..cut], chunk).is_err());
                    }
                }
            }

            /// Every backend gives back exactly the data, member after member, whatever the input pieces and the
            /// output room (ISA-L reads ahead into its bit buffer, so a member's end can be found in a call after
            /// the one that took the trailer's first bytes).
            #[test]
            fn prop_every_backend_decodes_the_data_with_any_buffers(
                members in proptest::collection::vec(
                    (proptest::collection::vec(0u8..8, 0..20_000), 0u32..10),
                    1..4,
                ),
                chunk in 1usize..5000,
                room in 1usize..5000,
            ) {
                let body: Vec<u8> = members
                    .iter()
                    .map(|(data, level)| gzip_at(data, Compression::new(*level)))
                    .collect::<Vec<_>>()
                    .concat();
                let expected: Vec<u8> = members.iter().flat_map(|(data, _)| data.iter().copied()).collect();
                for &backend in Backend::ALL {
                    let output = decode(backend, &body, chunk, room).expect("valid");
                    prop_assert!(output == expected, "{}", backend);
                }
            }
        }
    }
}
