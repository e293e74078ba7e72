//! Incremental gzip verification: inflates the body as it arrives, discards the output, and checks every member's
//! trailer (CRC-32 and ISIZE), so a corrupt or truncated file is caught before its last byte is handed out.
//!
//! Multi-member files (several gzip members back to back, as `cat a.gz b.gz` makes) are accepted; anything else after
//! a member is rejected. A valid empty gzip (a member holding zero bytes) is accepted.

use crc32fast::Hasher as Crc;
use flate2::{Decompress, FlushDecompress, Status};

/// What is wrong with the gzip, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GzipError {
    /// Offset in the compressed body where the problem was found.
    pub(crate) offset: u64,
    /// What is wrong.
    pub(crate) reason: String,
}

const FTEXT_MASK_RESERVED: u8 = 0xE0;
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

/// Where in the gzip format the verifier is.
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

/// Verifies a gzip body fed in arbitrary chunks.
pub(crate) struct GzipVerifier {
    phase: Phase,
    flags: u8,
    fixed: [u8; 10],
    extra_len: [u8; 2],
    trailer: [u8; 8],
    inflater: Decompress,
    crc: Crc,
    /// Bytes inflated in the current member.
    member_bytes: u64,
    scratch: Box<[u8]>,
    offset: u64,
    members: u32,
    uncompressed: u64,
}

impl std::fmt::Debug for GzipVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipVerifier")
            .field("phase", &self.phase)
            .field("offset", &self.offset)
            .field("members", &self.members)
            .finish()
    }
}

impl GzipVerifier {
    /// Returns a verifier expecting the first byte of a gzip file.
    pub(crate) fn new() -> Self {
        GzipVerifier {
            phase: Phase::Fixed { seen: 0 },
            flags: 0,
            fixed: [0; 10],
            extra_len: [0; 2],
            trailer: [0; 8],
            inflater: Decompress::new(false),
            crc: Crc::new(),
            member_bytes: 0,
            scratch: vec![0; 64 * 1024].into_boxed_slice(),
            offset: 0,
            members: 0,
            uncompressed: 0,
        }
    }

    /// Returns the number of complete members verified so far.
    #[cfg(test)]
    pub(crate) fn members(&self) -> u32 {
        self.members
    }

    /// Returns the number of uncompressed bytes inflated so far.
    pub(crate) fn uncompressed_bytes(&self) -> u64 {
        self.uncompressed
    }

    fn fail(&self, reason: impl Into<String>) -> GzipError {
        GzipError { offset: self.offset, reason: reason.into() }
    }

    /// Feeds the next bytes of the body.
    pub(crate) fn update(&mut self, mut input: &[u8]) -> Result<(), GzipError> {
        while !input.is_empty() {
            if self.phase == Phase::Deflate {
                let used = self.inflate(input)?;
                if used == 0 && self.phase == Phase::Deflate {
                    // zlib always progresses with input and output room; guard against looping forever anyway.
                    return Err(self.fail("the deflate stream makes no progress"));
                }
                input = &input[used..];
                self.offset += used as u64;
                continue;
            }
            let byte = input[0];
            input = &input[1..];
            self.header_or_trailer_byte(byte)?;
            self.offset += 1;
        }
        Ok(())
    }

    /// Checks that the body ended at the end of a complete member.
    pub(crate) fn finish(&self) -> Result<(), GzipError> {
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
        self.inflater.reset(false);
        self.crc = Crc::new();
        self.member_bytes = 0;
        Phase::Deflate
    }

    /// Inflates from `input`, returning how many bytes were consumed.
    fn inflate(&mut self, input: &[u8]) -> Result<usize, GzipError> {
        let mut used = 0usize;
        loop {
            let before_in = self.inflater.total_in();
            let before_out = self.inflater.total_out();
            let status = self
                .inflater
                .decompress(&input[used..], &mut self.scratch, FlushDecompress::None)
                .map_err(|error| GzipError {
                    offset: self.offset + used as u64,
                    reason: format!("invalid deflate data: {error}"),
                })?;
            let consumed = (self.inflater.total_in() - before_in) as usize;
            let produced = (self.inflater.total_out() - before_out) as usize;
            used += consumed;
            self.crc.update(&self.scratch[..produced]);
            self.member_bytes += produced as u64;
            self.uncompressed += produced as u64;
            match status {
                Status::StreamEnd => {
                    self.phase = Phase::Trailer { seen: 0 };
                    return Ok(used);
                }
                Status::Ok | Status::BufError => {
                    let output_full = produced == self.scratch.len();
                    if !output_full && (used == input.len() || (consumed == 0 && produced == 0)) {
                        return Ok(used);
                    }
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
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

    fn verify_in_chunks(body: &[u8], chunk: usize) -> Result<GzipVerifier, GzipError> {
        let mut verifier = GzipVerifier::new();
        for part in body.chunks(chunk.max(1)) {
            verifier.update(part)?;
        }
        verifier.finish()?;
        Ok(verifier)
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8 ^ (i / 1000) as u8).collect()
    }

    #[test]
    fn accepts_valid_files_in_any_chunking() {
        let data = sample(300_000);
        for body in [gzip(&data), gzip_with_header(&data), gzip(b"")] {
            for chunk in [1, 7, 4096, 65_536, body.len()] {
                let verifier = verify_in_chunks(&body, chunk).unwrap();
                assert_eq!(verifier.members(), 1);
            }
        }
        assert_eq!(verify_in_chunks(&gzip(&data), 1000).unwrap().uncompressed_bytes(), 300_000);
    }

    #[test]
    fn accepts_multi_member_files() {
        let mut body = gzip(b"exchange,symbol\n");
        body.extend(gzip_with_header(&sample(100_000)));
        body.extend(gzip(b""));
        for chunk in [1, 13, 8192, body.len()] {
            assert_eq!(verify_in_chunks(&body, chunk).unwrap().members(), 3);
        }
    }

    #[test]
    fn rejects_truncation_anywhere() {
        let body = gzip_with_header(&sample(50_000));
        for cut in [0, 1, 5, 12, 30, body.len() / 2, body.len() - 8, body.len() - 1] {
            let error = verify_in_chunks(&body[..cut], 4096).unwrap_err();
            assert!(
                error.reason.contains("empty") || error.reason.contains("truncated"),
                "{cut}: {error:?}"
            );
        }
    }

    #[test]
    fn rejects_corruption_and_trailing_garbage() {
        let body = gzip(&sample(50_000));
        let mut flipped_crc = body.clone();
        let at = body.len() - 6;
        flipped_crc[at] ^= 0x40;
        assert!(verify_in_chunks(&flipped_crc, 4096).unwrap_err().reason.contains("CRC-32"));
        let mut flipped_size = body.clone();
        let at = body.len() - 2;
        flipped_size[at] ^= 0x01;
        assert!(verify_in_chunks(&flipped_size, 4096).unwrap_err().reason.contains("size"));
        for at in [body.len() / 3, body.len() / 2] {
            let mut corrupt = body.clone();
            corrupt[at] ^= 0xff;
            assert!(verify_in_chunks(&corrupt, 4096).is_err(), "flip at {at}");
        }
        let mut trailing = body.clone();
        trailing.extend_from_slice(b"\0\0");
        assert!(
            verify_in_chunks(&trailing, 4096).unwrap_err().reason.contains("after gzip member")
        );
        assert!(
            verify_in_chunks(b"plain text, not gzip", 4096).unwrap_err().reason.contains("magic")
        );
    }

    mod property_tests {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Any split of a valid (multi-member) file verifies; any cut before the end does not.
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
                let verifier = verify_in_chunks(&body, chunk).expect("valid");
                prop_assert_eq!(verifier.members() as usize, members.len());
                let total: usize = members.iter().map(Vec::len).sum();
                prop_assert_eq!(verifier.uncompressed_bytes(), total as u64);
                let cut = cut.index(body.len());
                // A cut at a member boundary leaves a valid (shorter) multi-member file.
                prop_assume!(!boundaries.contains(&cut));
                prop_assert!(verify_in_chunks(&body[..cut], chunk).is_err());
            }
        }
    }
}
