//! The crate's only `unsafe` code: raw DEFLATE streams from zlib-rs, through the zlib-compatible
//! API of `libz-rs-sys`, driven by the `alloc` crate's global allocator.
//!
//! Why the C-style API: zlib-rs's safe wrappers (`zlib_rs::Deflate`/`Inflate`) can only allocate
//! through `std` or the C library's `malloc`. The C-style API takes the allocator as a pair of
//! function pointers, so here zlib-rs allocates with [`alloc::alloc`], which keeps the crate
//! `#![no_std]` + `alloc` and makes its memory visible to the program's global allocator.
//!
//! The safe surface is [`Deflater`] and [`Inflater`]: they own their `z_stream` (boxed, so its
//! address never changes), write only into a `Vec`'s spare capacity, and end the stream on drop.
//! The `tests` module checks both against miniz_oxide, an independent safe implementation.

#![allow(unsafe_code)]

use alloc::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ffi::{c_int, c_uint, c_void};

use libz_rs_sys as z;

/// Bytes placed before each block that zlib-rs asks for, holding the block's full size (zlib's
/// `zfree` is not told the size, Rust's `dealloc` needs it). Also the blocks' alignment, which is
/// what `malloc` guarantees on 64-bit targets; zlib-rs aligns its own structures inside.
const HEADER: usize = 16;

/// zlib's `zalloc`: `items * size` bytes from the global allocator, or null.
///
/// # Safety
/// Safe to call with any arguments; it reads no pointer.
unsafe extern "C" fn zalloc(_opaque: *mut c_void, items: c_uint, size: c_uint) -> *mut c_void {
    let Some(bytes) = (items as usize)
        .checked_mul(size as usize)
        .and_then(|n| n.checked_add(HEADER))
    else {
        return core::ptr::null_mut();
    };
    let Ok(layout) = Layout::from_size_align(bytes, HEADER) else {
        return core::ptr::null_mut();
    };
    // SAFETY: `layout` has a non-zero size (at least HEADER bytes).
    let base = unsafe { alloc(layout) };
    if base.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: `base` is valid for `bytes >= HEADER` bytes and aligned to HEADER (16), which is at
    // least `usize`'s alignment, so the size fits in front; `base + HEADER` is within (or one
    // past the end of) the block.
    unsafe {
        base.cast::<usize>().write(bytes);
        base.add(HEADER).cast()
    }
}

/// zlib's `zfree`: returns a block from [`zalloc`].
///
/// # Safety
/// `ptr` must be null or a pointer returned by [`zalloc`] and not yet freed; zlib-rs frees only
/// what it allocated through the stream's `zalloc`, which is always [`zalloc`] here.
unsafe extern "C" fn zfree(_opaque: *mut c_void, ptr: *mut c_void) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr` came from `zalloc`, so the block starts HEADER bytes earlier and begins with
    // its size; that size and HEADER are exactly the layout it was allocated with.
    unsafe {
        let base = ptr.cast::<u8>().sub(HEADER);
        let bytes = base.cast::<usize>().read();
        dealloc(base, Layout::from_size_align_unchecked(bytes, HEADER));
    }
}

/// A `z_stream` with no state yet, set up to allocate through [`zalloc`] and [`zfree`].
fn blank_stream() -> Box<z::z_stream> {
    Box::new(z::z_stream {
        next_in: core::ptr::null(),
        avail_in: 0,
        total_in: 0,
        next_out: core::ptr::null_mut(),
        avail_out: 0,
        total_out: 0,
        msg: core::ptr::null_mut(),
        state: core::ptr::null_mut(),
        zalloc: Some(zalloc),
        zfree: Some(zfree),
        opaque: core::ptr::null_mut(),
        data_type: 0,
        adler: 0,
        reserved: 0,
    })
}

/// The size of `z_stream`, which the init functions check against their own.
const STREAM_SIZE: c_int = core::mem::size_of::<z::z_stream>() as c_int;

/// Initialisation failed. Parameters are validated before they get here, so the only possible
/// cause is a failed allocation: report it the way `Vec` does.
fn init_failed() -> ! {
    handle_alloc_error(Layout::new::<[u8; 1 << 16]>())
}

/// What one call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    /// Input bytes used.
    pub consumed: usize,
    /// Output bytes appended.
    pub written: usize,
    /// Inflate only: the end of the DEFLATE stream (a block with BFINAL set) was reached.
    pub end: bool,
}

/// How far a call must flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flush {
    /// Whatever is convenient.
    None,
    /// Deflate: end with an empty stored block (`00 00 ff ff`), byte-aligned.
    Sync,
    /// Inflate: stop at the end of each block, so that [`Inflater::at_block_boundary`] is
    /// meaningful afterwards.
    Block,
}

/// The stream is in a state zlib-rs rejects: corrupt input (inflate) or misuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamError;

/// Points the stream at `input` and at up to `limit` bytes of `out`'s spare capacity, runs `f`,
/// and appends what `f` wrote to `out`. Returns `f`'s result code and the counts.
fn run(
    strm: &mut z::z_stream,
    input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
    f: impl FnOnce(&mut z::z_stream) -> c_int,
) -> (c_int, usize, usize) {
    let avail_in = input.len().min(c_uint::MAX as usize) as c_uint;
    let spare = out.spare_capacity_mut();
    let avail_out = spare.len().min(limit).min(c_uint::MAX as usize) as c_uint;
    strm.next_in = input.as_ptr();
    strm.avail_in = avail_in;
    strm.next_out = spare.as_mut_ptr().cast();
    strm.avail_out = avail_out;
    let code = f(strm);
    let consumed = (avail_in - strm.avail_in) as usize;
    let written = (avail_out - strm.avail_out) as usize;
    // Leave no pointer into buffers that the caller may free or move.
    strm.next_in = core::ptr::null();
    strm.avail_in = 0;
    strm.next_out = core::ptr::null_mut();
    strm.avail_out = 0;
    let len = out.len() + written;
    // SAFETY: zlib wrote `written <= avail_out` bytes, all initialised, at the start of the
    // spare capacity (zlib writes output strictly in order from `next_out`), so the first `len`
    // elements are initialised and `len <= capacity`.
    unsafe { out.set_len(len) };
    (code, consumed, written)
}

/// A raw DEFLATE compressor (no zlib header).
pub(crate) struct Deflater {
    strm: Box<z::z_stream>,
}

// SAFETY: the stream and everything its `state` points to are owned by this value alone and
// touched only through `&mut self`; zlib-rs keeps no thread-local or shared mutable state per
// stream.
unsafe impl Send for Deflater {}
// SAFETY: no method reads the stream through `&self`.
unsafe impl Sync for Deflater {}

impl Deflater {
    /// A compressor with `level` 0..=9, an LZ77 window of 2^`window_bits` bytes (9..=15) and
    /// zlib's `mem_level` 1..=9. Out-of-range values are clamped.
    pub(crate) fn new(level: u8, window_bits: u8, mem_level: u8) -> Deflater {
        let mut strm = blank_stream();
        let level = c_int::from(level.min(9));
        let window_bits = c_int::from(window_bits.clamp(9, 15));
        let mem_level = c_int::from(mem_level.clamp(1, 9));
        // SAFETY: `strm` is a valid, writable `z_stream` whose `zalloc`, `zfree` and `opaque`
        // are set; the version string and size are the library's own. Negative window bits ask
        // for raw DEFLATE.
        let code = unsafe {
            z::deflateInit2_(
                &mut *strm,
                level,
                z::Z_DEFLATED,
                -window_bits,
                mem_level,
                z::Z_DEFAULT_STRATEGY,
                z::zlibVersion(),
                STREAM_SIZE,
            )
        };
        if code != z::Z_OK {
            init_failed();
        }
        Deflater { strm }
    }

    /// Compresses from `input` into `out`'s spare capacity, appending what it writes.
    pub(crate) fn deflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        flush: Flush,
    ) -> Result<Step, StreamError> {
        let flush = match flush {
            Flush::Sync => z::Z_SYNC_FLUSH,
            Flush::None | Flush::Block => z::Z_NO_FLUSH,
        };
        let (code, consumed, written) = run(&mut self.strm, input, out, usize::MAX, |strm| {
            // SAFETY: `strm` was initialised by `deflateInit2_` and not ended; `run` pointed
            // `next_in`/`avail_in` at a live slice and `next_out`/`avail_out` at writable
            // spare capacity of that length.
            unsafe { z::deflate(strm, flush) }
        });
        match code {
            z::Z_OK | z::Z_BUF_ERROR | z::Z_STREAM_END => Ok(Step {
                consumed,
                written,
                end: false,
            }),
            _ => Err(StreamError),
        }
    }

    /// Forgets the LZ77 window: the next output starts a new stream. Keeps the allocations.
    pub(crate) fn reset(&mut self) {
        // SAFETY: the stream was initialised by `deflateInit2_` and not ended.
        unsafe { z::deflateReset(&mut *self.strm) };
    }

    /// Primes a fresh stream with `history`: the bytes the peer's inflater saw last, which the
    /// next output may refer back to (raw DEFLATE: nothing of it is written). Call it before
    /// any [`deflate`](Deflater::deflate) call; zlib keeps at most the window's size of it.
    pub(crate) fn set_dictionary(&mut self, history: &[u8]) {
        let len = history.len().min(c_uint::MAX as usize) as c_uint;
        let tail = &history[history.len() - len as usize..];
        // SAFETY: the stream was initialised by `deflateInit2_` and not ended; `tail` is a live
        // slice of `len` bytes, which zlib-rs copies into its window before returning.
        let code = unsafe { z::deflateSetDictionary(&mut *self.strm, tail.as_ptr(), len) };
        // It fails only on a stream that has pending input (never: `run` leaves none).
        debug_assert_eq!(code, z::Z_OK);
    }

    /// The stream's history: the last bytes of input, at most the window's size (all input
    /// has been compressed after a sync flush, so this is exactly what the peer's inflater
    /// holds at its end).
    pub(crate) fn dictionary(&self) -> Vec<u8> {
        let mut len: c_uint = 0;
        // SAFETY: the stream was initialised by `deflateInit2_` and not ended; a null buffer
        // asks only for the length, written to `len`.
        let code = unsafe { z::deflateGetDictionary(&*self.strm, core::ptr::null_mut(), &mut len) };
        if code != z::Z_OK || len == 0 {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(len as usize);
        // SAFETY: as above; `out` has room for the `len` bytes the first call reported, and the
        // stream has not changed since (`&self`).
        let code = unsafe { z::deflateGetDictionary(&*self.strm, out.as_mut_ptr(), &mut len) };
        if code == z::Z_OK && len as usize <= out.capacity() {
            // SAFETY: zlib-rs initialised the first `len` bytes, within the capacity.
            unsafe { out.set_len(len as usize) };
        }
        out
    }
}

impl Drop for Deflater {
    fn drop(&mut self) {
        // SAFETY: the stream was initialised by `deflateInit2_` and is ended only here.
        unsafe { z::deflateEnd(&mut *self.strm) };
    }
}

/// A raw DEFLATE decompressor (no zlib header).
pub(crate) struct Inflater {
    strm: Box<z::z_stream>,
}

// SAFETY: as for `Deflater`.
unsafe impl Send for Inflater {}
// SAFETY: as for `Deflater`: `at_block_boundary` reads a plain integer field only.
unsafe impl Sync for Inflater {}

impl Inflater {
    /// A decompressor that accepts back-references up to 2^`window_bits` bytes (8..=15,
    /// clamped).
    pub(crate) fn new(window_bits: u8) -> Inflater {
        let mut strm = blank_stream();
        let window_bits = c_int::from(window_bits.clamp(8, 15));
        // SAFETY: as in `Deflater::new`.
        let code =
            unsafe { z::inflateInit2_(&mut *strm, -window_bits, z::zlibVersion(), STREAM_SIZE) };
        if code != z::Z_OK {
            init_failed();
        }
        Inflater { strm }
    }

    /// Decompresses from `input` into at most `limit` bytes of `out`'s spare capacity,
    /// appending what it writes.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
        flush: Flush,
    ) -> Result<Step, StreamError> {
        let flush = match flush {
            Flush::Block => z::Z_BLOCK,
            Flush::Sync => z::Z_SYNC_FLUSH,
            Flush::None => z::Z_NO_FLUSH,
        };
        let (code, consumed, written) = run(&mut self.strm, input, out, limit, |strm| {
            // SAFETY: as in `Deflater::deflate`, with `inflateInit2_`.
            unsafe { z::inflate(strm, flush) }
        });
        match code {
            z::Z_OK | z::Z_BUF_ERROR => Ok(Step {
                consumed,
                written,
                end: false,
            }),
            z::Z_STREAM_END => Ok(Step {
                consumed,
                written,
                end: true,
            }),
            _ => Err(StreamError),
        }
    }

    /// Whether the input so far ends exactly at the end of a block: the decoder waits for a
    /// block header and holds no leftover bits. Meaningful after a [`Flush::Block`] call.
    pub(crate) fn at_block_boundary(&self) -> bool {
        // zlib's `data_type`: bit 7 set when waiting for a block header, low 6 bits the unused
        // bits of input held.
        self.strm.data_type & 0x80 != 0 && self.strm.data_type & 0x3f == 0
    }

    /// Forgets the window and any partial block: the next input starts a new stream.
    pub(crate) fn reset(&mut self) {
        // SAFETY: the stream was initialised by `inflateInit2_` and not ended.
        unsafe { z::inflateReset(&mut *self.strm) };
    }

    /// Primes a fresh stream with `history`, the output that the input to come may refer back
    /// to (raw DEFLATE: allowed at any block boundary). zlib keeps at most 32 KiB of it.
    pub(crate) fn set_dictionary(&mut self, history: &[u8]) {
        let len = history.len().min(c_uint::MAX as usize) as c_uint;
        let tail = &history[history.len() - len as usize..];
        // SAFETY: the stream was initialised by `inflateInit2_` and not ended; `tail` is a live
        // slice of `len` bytes, which zlib-rs copies into its window before returning.
        let code = unsafe { z::inflateSetDictionary(&mut *self.strm, tail.as_ptr(), len) };
        // It fails only for zlib- or gzip-wrapped streams, never for raw ones.
        debug_assert_eq!(code, z::Z_OK);
    }

    /// The last `max` bytes (or fewer, if less was produced) of the output so far.
    pub(crate) fn dictionary(&self, max: usize) -> Vec<u8> {
        let mut len: c_uint = 0;
        // SAFETY: the stream was initialised by `inflateInit2_` and not ended; a null buffer
        // asks only for the length, written to `len`.
        let code = unsafe { z::inflateGetDictionary(&*self.strm, core::ptr::null_mut(), &mut len) };
        if code != z::Z_OK || len == 0 {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(len as usize);
        // SAFETY: as above; `out` has room for the `len` bytes the first call reported, and the
        // stream has not changed since (`&self`).
        let code = unsafe { z::inflateGetDictionary(&*self.strm, out.as_mut_ptr(), &mut len) };
        if code == z::Z_OK && len as usize <= out.capacity() {
            // SAFETY: zlib-rs initialised the first `len` bytes, within the capacity.
            unsafe { out.set_len(len as usize) };
        }
        if out.len() > max {
            out.drain(..out.len() - max);
            out.shrink_to_fit();
        }
        out
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        // SAFETY: the stream was initialised by `inflateInit2_` and is ended only here.
        unsafe { z::inflateEnd(&mut *self.strm) };
    }
}

impl core::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Deflater")
    }
}

impl core::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Inflater")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::vec;

    /// Deterministic test data: a mix of text-like runs and noise, so that both matches and
    /// literals (and, with noise, stored blocks) occur.
    pub(crate) fn sample(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let words: [&[u8]; 6] = [
            b"{\"id\":",
            b"\"name\":\"",
            b"value",
            b"}, ",
            b"alpha",
            b"42",
        ];
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x.is_multiple_of(4) {
                out.push((x >> 24) as u8);
            } else {
                out.extend_from_slice(words[(x >> 8) as usize % words.len()]);
            }
        }
        out.truncate(len);
        out
    }

    fn deflate_sync(d: &mut Deflater, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = input;
        loop {
            out.reserve(rest.len() / 2 + 64);
            let before = out.capacity() - out.len();
            let step = d.deflate(rest, &mut out, Flush::Sync).unwrap();
            rest = &rest[step.consumed..];
            if rest.is_empty() && step.written < before {
                return out;
            }
        }
    }

    fn inflate_all(i: &mut Inflater, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = input;
        loop {
            out.reserve(4096);
            let room = out.capacity() - out.len();
            let step = i.inflate(rest, &mut out, room, Flush::None).unwrap();
            rest = &rest[step.consumed..];
            if step.end || (rest.is_empty() && step.written < room) {
                return out;
            }
        }
    }

    // Under Miri (where zlib-rs compresses about a hundred bytes a second at level 6 or 9) the
    // tests below use shorter inputs and fewer of them, still longer than the 512-byte window
    // of 9 bits where that matters.

    #[test]
    fn deflater_output_matches_miniz_oxide_reference_inflate() {
        let (bits_range, lens) = if cfg!(miri) {
            ([9u8, 15].as_slice(), [0usize, 1, 100, 600].as_slice())
        } else {
            (
                [9u8, 10, 11, 12, 13, 14, 15].as_slice(),
                [0, 1, 100, 5000, 70_000].as_slice(),
            )
        };
        for &bits in bits_range {
            for level in [0u8, 1, 6, 9] {
                for &len in lens {
                    let data = sample(u64::from(bits) * 31 + u64::from(level) + len as u64, len);
                    let mut d = Deflater::new(level, bits, 8);
                    let mut compressed = deflate_sync(&mut d, &data);
                    assert!(compressed.ends_with(&[0, 0, 0xff, 0xff]));
                    // Close the stream with an empty final fixed block for the one-shot reference.
                    compressed.extend_from_slice(&[0x03, 0x00]);
                    let back = miniz_oxide::inflate::decompress_to_vec(&compressed).unwrap();
                    assert_eq!(back, data, "bits {bits} level {level} len {len}");
                }
            }
        }
    }

    #[test]
    fn inflater_decodes_miniz_oxide_reference_deflate() {
        for level in [0u8, 1, 6, 10] {
            let lens = if cfg!(miri) {
                [0usize, 1, 100, 1000].as_slice()
            } else {
                [0, 1, 100, 5000, 200_000].as_slice()
            };
            for &len in lens {
                let data = sample(u64::from(level) * 7 + len as u64, len);
                let compressed = miniz_oxide::deflate::compress_to_vec(&data, level);
                let mut i = Inflater::new(15);
                assert_eq!(
                    inflate_all(&mut i, &compressed),
                    data,
                    "level {level} len {len}"
                );
            }
        }
    }

    #[test]
    fn nine_bit_window_output_fits_an_eight_bit_window() {
        // zlib cannot compress with a 256-byte window; with 512 bytes its farthest match is
        // 512 - 262 = 250 bytes back, so an 8-bit inflater (which rejects anything farther than
        // 256) must accept all of it.
        let (seeds, len) = if cfg!(miri) { (1, 600) } else { (20, 20_000) };
        for seed in 0..seeds {
            let data = sample(seed, len);
            for level in [1u8, 4, 6, 9] {
                let mut d = Deflater::new(level, 9, 8);
                let compressed = deflate_sync(&mut d, &data);
                let mut i = Inflater::new(8);
                assert_eq!(inflate_all(&mut i, &compressed), data);
            }
        }
    }

    #[test]
    fn writes_never_exceed_the_limit_or_the_capacity() {
        let data = vec![0u8; if cfg!(miri) { 5000 } else { 100_000 }];
        let compressed = miniz_oxide::deflate::compress_to_vec(&data, 6);
        let mut i = Inflater::new(15);
        let mut out = Vec::with_capacity(1000);
        let step = i.inflate(&compressed, &mut out, 10, Flush::None).unwrap();
        assert_eq!(step.written, 10);
        assert_eq!(out.len(), 10);
        let step = i
            .inflate(&compressed[step.consumed..], &mut out, 5000, Flush::None)
            .unwrap();
        assert_eq!(step.written, 990);
        assert_eq!(out.capacity(), 1000);
        assert!(out.iter().all(|&b| b == 0));
    }

    #[test]
    fn reset_starts_a_new_stream() {
        let data = sample(9, if cfg!(miri) { 500 } else { 3000 });
        let mut d = Deflater::new(6, 15, 8);
        let first = deflate_sync(&mut d, &data);
        d.reset();
        let second = deflate_sync(&mut d, &data);
        assert_eq!(first, second);
        let mut i = Inflater::new(15);
        assert_eq!(inflate_all(&mut i, &first), data);
        i.reset();
        assert_eq!(inflate_all(&mut i, &second), data);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut i = Inflater::new(15);
        let mut out = Vec::with_capacity(64);
        // BTYPE 11 is reserved.
        assert_eq!(
            i.inflate(&[0xff; 8], &mut out, 64, Flush::None),
            Err(StreamError)
        );
    }

    #[test]
    fn streams_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Deflater>();
        check::<Inflater>();
    }
}
