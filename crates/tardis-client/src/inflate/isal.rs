//! ISA-L's stateful inflate (`isal_inflate` over a raw deflate stream), through `isal-sys`.
//!
//! The one module of the workspace that allows `unsafe`: each block is an FFI call or the state's allocation, with
//! its `SAFETY` argument. `isal-rs`, the safe wrapper over `isal-sys`, keeps its stream state private and offers
//! only `std::io::Read` decoders, which cannot be fed the pieces of a body as they arrive.
#![allow(unsafe_code)]

use isal_sys::igzip_lib as ffi;

use super::Progress;

/// The most bytes ISA-L's bit buffer (`read_in`, 64 bits) holds.
const BIT_BUFFER_BYTES: usize = 8;

/// One raw deflate stream being inflated by ISA-L.
pub(crate) struct IsalInflater {
    /// About 66 KiB, most of it ISA-L's output staging and history buffer.
    state: Box<ffi::inflate_state>,
    /// Bytes taken past the end of the stream, once it ended (see `RawInflater::overread`).
    overread: [u8; BIT_BUFFER_BYTES],
    overread_len: usize,
}

// SAFETY: the state holds plain data and two raw pointers, `next_in` and `next_out`, which point into caller
// buffers only during `inflate` (which takes `&mut self`) and are null otherwise; ISA-L keeps no thread-local or
// shared state for a stream, so the inflater can move between threads.
unsafe impl Send for IsalInflater {}

impl IsalInflater {
    pub(crate) fn new() -> Self {
        // SAFETY: `inflate_state` is a C struct of integers, integer arrays, a union of integers and two raw
        // pointers: all zero bytes is a valid value for each (null pointers).
        let mut state: Box<ffi::inflate_state> = unsafe { Box::new_zeroed().assume_init() };
        // SAFETY: `state` is a valid, exclusively borrowed `inflate_state`; init only writes its fields.
        unsafe { ffi::isal_inflate_init(&raw mut *state) };
        state.crc_flag = ffi::ISAL_DEFLATE;
        IsalInflater { state, overread: [0; BIT_BUFFER_BYTES], overread_len: 0 }
    }

    pub(crate) fn reset(&mut self) {
        // SAFETY: the state was initialised by `isal_inflate_init`; reset only writes its fields.
        unsafe { ffi::isal_inflate_reset(&raw mut *self.state) };
        self.overread_len = 0;
    }

    pub(crate) fn inflate(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress, String> {
        // ISA-L counts in u32; a longer buffer is offered in part, which the caller sees as partial progress.
        let avail_in = u32::try_from(input.len()).unwrap_or(u32::MAX);
        let avail_out = u32::try_from(output.len()).unwrap_or(u32::MAX);
        let state = &mut *self.state;
        // ISA-L never writes through `next_in`; the field is `*mut` only in its C declaration.
        state.next_in = input.as_ptr().cast_mut();
        state.avail_in = avail_in;
        state.next_out = output.as_mut_ptr();
        state.avail_out = avail_out;
        // SAFETY: `next_in`/`avail_in` describe `input`, which ISA-L only reads, and `next_out`/`avail_out` describe
        // `output`, which it writes only within `avail_out` bytes; both borrows outlive the call, and the pointers
        // are cleared below before they could dangle. The state was initialised by `isal_inflate_init`.
        let code = unsafe { ffi::isal_inflate(&raw mut *state) };
        let consumed = (avail_in - state.avail_in) as usize;
        let produced = (avail_out - state.avail_out) as usize;
        state.next_in = std::ptr::null_mut();
        state.avail_in = 0;
        state.next_out = std::ptr::null_mut();
        state.avail_out = 0;
        if code < 0 {
            return Err(describe(code));
        }
        let end = state.block_state == ffi::isal_block_state_ISAL_BLOCK_FINISH;
        if end && state.read_in_length > 0 {
            // The bit buffer holds the rest of the final block's last byte (padding, below a byte) and then whole
            // bytes read past the end of the stream, least significant first.
            let bits = state.read_in_length as usize;
            let bytes = (bits / 8).min(BIT_BUFFER_BYTES);
            let ahead = (state.read_in >> (bits % 8)).to_le_bytes();
            self.overread[..bytes].copy_from_slice(&ahead[..bytes]);
            self.overread_len = bytes;
            state.read_in = 0;
            state.read_in_length = 0;
        }
        Ok(Progress { consumed, produced, end })
    }

    pub(crate) fn overread(&self) -> &[u8] {
        &self.overread[..self.overread_len]
    }
}

/// What an `isal_inflate` error code means.
fn describe(code: i32) -> String {
    match code {
        ffi::ISAL_INVALID_BLOCK => "invalid deflate block (ISA-L)".into(),
        ffi::ISAL_INVALID_SYMBOL => "invalid deflate symbol (ISA-L)".into(),
        ffi::ISAL_INVALID_LOOKBACK => "invalid deflate distance, too far back (ISA-L)".into(),
        other => format!("ISA-L inflate failed with code {other}"),
    }
}
