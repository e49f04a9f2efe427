//! Message compression and decompression (RFC 7692 sections 7.2.1 and 7.2.2).
//!
//! The heap used by each side, by window bits, is tabled in the [module docs](super).

use alloc::vec::Vec;

use super::InflateError;
use super::backend::{Deflater, Flush, Inflater};

/// The empty stored block that ends every sync flush; cut from each compressed message and put
/// back by the receiver (RFC 7692 section 7.2.1).
pub(crate) const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The most output one inflate step may write: the granularity at which the message limit is
/// checked, and the most a decompression bomb can make us write past it.
pub(crate) const STEP: usize = 16 * 1024;

/// The window bits given to zlib for a negotiated value: 8 becomes 9 (see the module docs of
/// [`deflate`](super) for why that still honours an agreed 8).
fn zlib_bits(bits: u8) -> u8 {
    bits.clamp(9, 15)
}

/// Compresses messages, keeping the LZ77 window between them unless told not to.
///
/// The zlib stream is created at the first message, not with the compressor, and
/// [`release`](Compressor::release) frees it between messages, keeping only the history that
/// context takeover needs (the last 2^window_bits bytes of input), which the next stream is
/// primed with. The peer's inflater sees one continuous stream either way: every message
/// starts on a byte boundary after the previous one's sync flush, and refers back at most
/// the window into what the peer already has.
#[derive(Debug)]
pub(crate) struct Compressor {
    /// The live stream, or `None` before the first message and after a release.
    deflater: Option<Deflater>,
    /// After a release with context takeover: the stream's history, restored into the next.
    history: Vec<u8>,
    level: u8,
    bits: u8,
    mem_level: u8,
    no_context_takeover: bool,
    /// Fragments of a message have been compressed but not its last one.
    in_message: bool,
}

impl Compressor {
    /// A compressor at `level` (0..=9) with a window of at most 2^`window_bits` bytes (8..=15;
    /// 8 compresses with 9, which stays within 256-byte distances) and zlib's `mem_level`
    /// (1..=9; clamped). With `no_context_takeover` the window is forgotten after each
    /// message. Allocates nothing until the first message.
    pub(crate) fn new(
        level: u8,
        window_bits: u8,
        mem_level: u8,
        no_context_takeover: bool,
    ) -> Compressor {
        Compressor {
            deflater: None,
            history: Vec::new(),
            level,
            bits: zlib_bits(window_bits),
            mem_level,
            no_context_takeover,
            in_message: false,
        }
    }

    /// The live stream, created (and primed with the kept history) if there is none.
    fn deflater(&mut self) -> &mut Deflater {
        let (level, bits, mem_level) = (self.level, self.bits, self.mem_level);
        let history = &mut self.history;
        self.deflater.get_or_insert_with(|| {
            let mut d = Deflater::new(level, bits, mem_level);
            if !history.is_empty() {
                d.set_dictionary(history);
                *history = Vec::new();
            }
            d
        })
    }

    /// Frees the zlib stream, keeping the history that context takeover needs (nothing
    /// without it). Returns `false`, and frees nothing, in the middle of a fragmented message.
    pub(crate) fn release(&mut self) -> bool {
        if self.in_message {
            return false;
        }
        // The stream is freed either way; the history is kept only for context takeover.
        if let Some(d) = self.deflater.take()
            && !self.no_context_takeover
        {
            self.history = d.dictionary();
        }
        true
    }

    /// Frees the zlib stream and its history: the next message starts from an empty window.
    /// For after the peer's window took in a message this compressor never saw. Not in the
    /// middle of a fragmented message (the caller sends whole messages only).
    pub(crate) fn forget(&mut self) {
        debug_assert!(!self.in_message);
        self.deflater = None;
        self.history = Vec::new();
    }

    /// Whether a zlib stream is allocated now.
    #[cfg(test)]
    pub(crate) fn is_live(&self) -> bool {
        self.deflater.is_some()
    }

    /// Appends the payload of a whole compressed message to `out` (without the `00 00 ff ff`
    /// tail). An empty message becomes the single byte `00` (RFC 7692 section 7.2.3.6).
    pub(crate) fn compress_message(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.compress_fragment(input, out, true);
    }

    /// Appends the compressed payload of one fragment of a message to `out`.
    ///
    /// Each fragment is sync-flushed, so it can be sent at once and the receiver can inflate it
    /// on arrival. When `last`, the message ends: the final `00 00 ff ff` is cut, so the
    /// fragments' payloads together are the message's compressed data (RFC 7692 section
    /// 7.2.1). If nothing would remain of the last fragment, it is `00` instead: the start of
    /// an empty stored block that the receiver's appended tail completes (section 7.2.3.6), so
    /// the stream stays aligned for the next message.
    pub(crate) fn compress_fragment(&mut self, input: &[u8], out: &mut Vec<u8>, last: bool) {
        let start = out.len();
        self.sync_flush(input, out);
        self.in_message = !last;
        if last {
            if out[start..].ends_with(&TAIL) {
                out.truncate(out.len() - TAIL.len());
            }
            if out.len() == start {
                out.push(0x00);
            }
            if self.no_context_takeover {
                self.deflater().reset();
            }
        }
    }

    /// Compresses all of `input` into `out`, ending with a sync flush.
    fn sync_flush(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut rest = input;
        loop {
            // Half the input is plenty for typical messages; the loop grows the buffer for
            // incompressible ones.
            out.reserve(rest.len() / 2 + 64);
            let room = out.capacity() - out.len();
            let Ok(step) = self.deflater().deflate(rest, out, Flush::Sync) else {
                // zlib-rs reports errors only for misuse, which cannot happen here.
                debug_assert!(false, "deflate failed");
                return;
            };
            rest = &rest[step.consumed..];
            // The flush is complete once all input is taken and output room was left over.
            // No progress at all means a repeated flush with nothing new: also complete.
            if (rest.is_empty() && step.written < room) || (step.consumed == 0 && step.written == 0)
            {
                return;
            }
        }
    }
}

/// Decompresses messages, with a bound on each message's inflated size that holds during
/// inflation.
///
/// As with [`Compressor`], the zlib stream exists only from the first message on and
/// [`release`](Decompressor::release) frees it between messages, keeping the last
/// 2^window_bits bytes of output (2^9 for 8 bits), which the next stream is primed with.
#[derive(Debug)]
pub(crate) struct Decompressor {
    /// The live stream, or `None` before the first message and after a release.
    inflater: Option<Inflater>,
    /// After a release with context takeover: the last output, restored into the next stream.
    history: Vec<u8>,
    /// The most history the peer may refer to: 2^window_bits bytes.
    history_len: usize,
    no_context_takeover: bool,
    /// A message has started and not yet finished.
    in_message: bool,
    /// Bytes inflated so far in the current message.
    produced: usize,
    /// The peer ended the DEFLATE stream (a block with BFINAL set) in the current message.
    ended: bool,
}

impl Decompressor {
    /// A decompressor for a peer whose window is at most 2^`window_bits` bytes (8..=15). With
    /// `no_context_takeover` the peer resets its window after each message, and so do we.
    /// Allocates nothing until the first message.
    ///
    /// A live inflater always accepts the full 15-bit window whatever was negotiated: zlib-rs
    /// allocates 32 KiB for any window size anyway, and zlib checks distances against a smaller
    /// window only when a reference reaches back across two inflate calls, so a peer's
    /// overreach would pass or fail depending on how its frames happened to be split. With 15
    /// bits every valid DEFLATE stream inflates, for any split. What is kept across a
    /// [`release`](Decompressor::release) is sized to the agreed window, 2^`window_bits`
    /// bytes, and 2^9 when 8 was agreed (zlib-based peers that silently compress with 9 bits
    /// still refer at most 250 bytes back): every conforming peer's next message decodes,
    /// while one that refers further back than it agreed may then fail (1007).
    pub(crate) fn new(window_bits: u8, no_context_takeover: bool) -> Decompressor {
        Decompressor {
            inflater: None,
            history: Vec::new(),
            history_len: 1 << zlib_bits(window_bits),
            no_context_takeover,
            in_message: false,
            produced: 0,
            ended: false,
        }
    }

    /// The live stream, created (and primed with the kept history) if there is none.
    fn inflater(&mut self) -> &mut Inflater {
        let history = &mut self.history;
        self.inflater.get_or_insert_with(|| {
            let mut i = Inflater::new(15);
            if !history.is_empty() {
                i.set_dictionary(history);
                *history = Vec::new();
            }
            i
        })
    }

    /// Frees the zlib stream, keeping the history that context takeover needs (nothing
    /// without it). Returns `false`, and frees nothing, in the middle of a message.
    pub(crate) fn release(&mut self) -> bool {
        if self.in_message {
            return false;
        }
        // The stream is freed either way; the history is kept only for context takeover.
        if let Some(i) = self.inflater.take()
            && !self.no_context_takeover
        {
            self.history = i.dictionary(self.history_len);
        }
        true
    }

    /// Whether a zlib stream is allocated now.
    #[cfg(test)]
    pub(crate) fn is_live(&self) -> bool {
        self.inflater.is_some()
    }

    /// Inflates a piece of a compressed message's payload (any split) and appends the output to
    /// `out`.
    ///
    /// The message's inflated size is checked as it grows, in steps of at most [`STEP`] bytes,
    /// and `out` grows with it (doubling, but never past the limit): inflating stops at
    /// `max_total + 1` bytes, however much the input would inflate to.
    ///
    /// # Errors
    /// [`InflateError::TooLarge`] once the message passes `max_total` bytes;
    /// [`InflateError::Corrupt`] for invalid DEFLATE data. Either way the message (and, since
    /// the window is lost, the connection) cannot go on.
    pub(crate) fn decompress(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max_total: usize,
    ) -> Result<(), InflateError> {
        self.in_message = true;
        let result = self.inflate(input, out, max_total, Flush::None);
        if result.is_err() {
            self.abandon();
        }
        result
    }

    /// Ends the current message: inflates the `00 00 ff ff` tail that the sender cut (RFC 7692
    /// section 7.2.2), which may complete the last bits of output, then checks that the data
    /// ended on a block boundary and resets the window if context takeover is off.
    ///
    /// # Errors
    /// As [`decompress`](Decompressor::decompress); [`InflateError::Corrupt`] also if the message
    /// stopped in the middle of a block.
    pub(crate) fn finish_message(
        &mut self,
        out: &mut Vec<u8>,
        max_total: usize,
    ) -> Result<(), InflateError> {
        let result = self
            .inflate(&TAIL, out, max_total, Flush::Block)
            .and_then(|()| {
                // After the tail the decoder must wait for a new block with no bits left over;
                // otherwise the message stopped mid-block and the next one would be read as its
                // continuation. A stream ended with BFINAL is complete by definition.
                if self.ended || self.inflater().at_block_boundary() {
                    Ok(())
                } else {
                    Err(InflateError::Corrupt)
                }
            });
        self.produced = 0;
        self.in_message = false;
        // After a final block the peer starts a new stream, so the window goes in any case.
        if self.ended || self.no_context_takeover || result.is_err() {
            self.inflater().reset();
            self.ended = false;
        }
        result
    }

    /// Forgets a message that failed.
    fn abandon(&mut self) {
        if let Some(i) = self.inflater.as_mut() {
            i.reset();
        }
        self.history = Vec::new();
        self.in_message = false;
        self.produced = 0;
        self.ended = false;
    }

    fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        max_total: usize,
        flush: Flush,
    ) -> Result<(), InflateError> {
        loop {
            if self.ended {
                // Bytes after a final block (such as the appended tail) carry nothing.
                return Ok(());
            }
            // One byte past the limit is enough to know that the message is too large.
            let allowed = max_total.saturating_add(1).saturating_sub(self.produced);
            let room = allowed.min(STEP);
            grow(out, room, allowed);
            let step = self
                .inflater()
                .inflate(input, out, room, flush)
                .map_err(|_| InflateError::Corrupt)?;
            input = &input[step.consumed..];
            self.produced = self.produced.saturating_add(step.written);
            if self.produced > max_total {
                return Err(InflateError::TooLarge);
            }
            if step.end {
                self.ended = true;
                return Ok(());
            }
            if step.written < room {
                if input.is_empty() {
                    // All input used and all output flushed.
                    return Ok(());
                }
                if step.consumed == 0 && step.written == 0 {
                    // Input left but no progress with room to write: zlib cannot go on.
                    return Err(InflateError::Corrupt);
                }
            }
        }
    }
}

/// Ensures `out` has `room` bytes of spare capacity, growing by doubling but never beyond
/// `allowed` bytes past its length: the output buffer stays within the message limit.
fn grow(out: &mut Vec<u8>, room: usize, allowed: usize) {
    let spare = out.capacity() - out.len();
    if spare >= room {
        return;
    }
    let doubled = out.capacity().saturating_mul(2).saturating_sub(out.len());
    out.reserve_exact(doubled.max(room).min(allowed.max(room)));
}

#[cfg(test)]
#[allow(unsafe_code)] // the counting allocator
mod tests {
    extern crate std;

    use super::*;
    use alloc::vec;
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::Cell;
    use std::alloc::System;

    // ---- a counting allocator, per thread so that parallel tests do not disturb it ----

    struct Counting;

    std::thread_local! {
        static HELD: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn count(delta: isize) {
        let _ = HELD.try_with(|held| {
            let now = held.get() + delta;
            held.set(now);
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
        });
    }

    // SAFETY: forwards to the system allocator unchanged; the counters are thread-local cells
    // with constant initialisers, which never allocate.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            count(layout.size() as isize);
            // SAFETY: the caller's contract is passed on.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            count(-(layout.size() as isize));
            // SAFETY: the caller's contract is passed on.
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            count(layout.size() as isize);
            // SAFETY: the caller's contract is passed on.
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            count(new_size as isize - layout.size() as isize);
            // SAFETY: the caller's contract is passed on.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    /// Bytes this thread holds now.
    fn held() -> isize {
        HELD.with(Cell::get)
    }

    /// Restarts peak tracking from the current level; returns the current level.
    fn reset_peak() -> isize {
        let now = held();
        PEAK.with(|p| p.set(now));
        now
    }

    fn peak() -> isize {
        PEAK.with(Cell::get)
    }

    // ---- helpers ----

    use super::super::backend::tests::sample;

    fn compress(c: &mut Compressor, msg: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        c.compress_message(msg, &mut out);
        out
    }

    fn decompress(d: &mut Decompressor, payload: &[u8]) -> Result<Vec<u8>, InflateError> {
        let mut out = Vec::new();
        d.decompress(payload, &mut out, usize::MAX)?;
        d.finish_message(&mut out, usize::MAX)?;
        Ok(out)
    }

    // Under Miri, where zlib-rs compresses [`sample`] at about a hundred bytes a second, the
    // tests use shorter inputs and fewer rounds (`cfg!(miri)`), for the same assertions.

    /// [`sample`] of `len` bytes, or under Miri its first 100 bytes repeated to `len`: the
    /// same lengths, which is what the limit tests are about, with a fraction of the work of
    /// finding matches.
    fn sample_sized(seed: u64, len: usize) -> Vec<u8> {
        if cfg!(miri) {
            sample(seed, len.min(100))
                .into_iter()
                .cycle()
                .take(len)
                .collect()
        } else {
            sample(seed, len)
        }
    }

    /// The bomb tests' "MiB": a quarter of the limit they set. 4 KiB under Miri (a limit of
    /// one decompressor step, so the byte past it is still in the next step).
    const MIB: usize = if cfg!(miri) { 4 << 10 } else { 1 << 20 };

    /// How many "MiB" the bomb inflates to: 1024 (1 GiB), or 64 under Miri (256 KiB, still 16
    /// times the limit).
    const BOMB_MIBS: usize = if cfg!(miri) { 64 } else { 1024 };

    /// A stream that inflates to `chunks` MiB of zeros, with context takeover: one MiB
    /// compressed, then the next MiB compressed against it `chunks - 1` times (every later MiB
    /// compresses to the same bytes, all matches into a window of zeros).
    fn zero_bomb(chunks: usize) -> Vec<u8> {
        let zeros = vec![0u8; MIB];
        let mut c = Compressor::new(9, 15, 8, false);
        let mut first = Vec::new();
        c.compress_fragment(&zeros, &mut first, false);
        let mut repeat = Vec::new();
        c.compress_fragment(&zeros, &mut repeat, false);
        let mut again = Vec::new();
        c.compress_fragment(&zeros, &mut again, false);
        assert_eq!(
            repeat, again,
            "a MiB of zeros after zeros always compresses the same"
        );
        let mut bomb = first;
        for _ in 1..chunks {
            bomb.extend_from_slice(&repeat);
        }
        bomb
    }

    // ---- RFC 7692 section 7.2.3 examples ----

    #[test]
    fn rfc_7_2_3_1_hello_compressed() {
        let mut c = Compressor::new(6, 15, 8, false);
        assert_eq!(
            compress(&mut c, b"Hello"),
            [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
        let mut d = Decompressor::new(15, false);
        assert_eq!(
            decompress(&mut d, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]).unwrap(),
            b"Hello"
        );
    }

    #[test]
    fn rfc_7_2_3_1_hello_in_two_fragments_decodes() {
        // The same compressed data split over two frames.
        let mut d = Decompressor::new(15, false);
        let mut out = Vec::new();
        d.decompress(&[0xf2, 0x48, 0xcd], &mut out, 100).unwrap();
        d.decompress(&[0xc9, 0xc9, 0x07, 0x00], &mut out, 100)
            .unwrap();
        d.finish_message(&mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
    }

    #[test]
    fn rfc_7_2_3_2_context_takeover_shrinks_the_second_hello() {
        let mut c = Compressor::new(6, 15, 8, false);
        assert_eq!(
            compress(&mut c, b"Hello"),
            [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
        assert_eq!(compress(&mut c, b"Hello"), [0xf2, 0x00, 0x11, 0x00, 0x00]);
        let mut d = Decompressor::new(15, false);
        for payload in [
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00][..],
            &[0xf2, 0x00, 0x11, 0x00, 0x00],
        ] {
            assert_eq!(decompress(&mut d, payload).unwrap(), b"Hello");
        }
        // Without context takeover the second message is compressed afresh.
        let mut c = Compressor::new(6, 15, 8, true);
        assert_eq!(compress(&mut c, b"Hello"), compress(&mut c, b"Hello"));
    }

    #[test]
    fn rfc_7_2_3_3_stored_block_decodes() {
        let mut d = Decompressor::new(15, false);
        let payload = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(decompress(&mut d, &payload).unwrap(), b"Hello");
    }

    #[test]
    fn rfc_7_2_3_4_bfinal_block_decodes_and_restarts_the_stream() {
        // "Hello" in a fixed block with BFINAL set, then the appended tail is ignored.
        let payload = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        for no_context_takeover in [false, true] {
            let mut d = Decompressor::new(15, no_context_takeover);
            assert_eq!(decompress(&mut d, &payload).unwrap(), b"Hello");
            // The next message is a new stream.
            assert_eq!(decompress(&mut d, &payload).unwrap(), b"Hello");
            let mut c = Compressor::new(6, 15, 8, false);
            assert_eq!(
                decompress(&mut d, &compress(&mut c, b"Hello")).unwrap(),
                b"Hello"
            );
        }
    }

    #[test]
    fn rfc_7_2_3_5_two_blocks_in_one_message() {
        // "He" and "llo" in two sync-flushed blocks of one message.
        let mut c = Compressor::new(6, 15, 8, false);
        let mut payload = Vec::new();
        c.compress_fragment(b"He", &mut payload, false);
        c.compress_fragment(b"llo", &mut payload, true);
        let mut d = Decompressor::new(15, false);
        assert_eq!(decompress(&mut d, &payload).unwrap(), b"Hello");
    }

    #[test]
    fn rfc_7_2_3_6_empty_message_is_a_single_zero_byte() {
        for no_context_takeover in [false, true] {
            let mut c = Compressor::new(6, 15, 8, no_context_takeover);
            let mut d = Decompressor::new(15, no_context_takeover);
            // Fresh, and again after a message (when zlib has nothing to flush).
            for msg in [&b""[..], b"Hello", b"", b""] {
                let payload = compress(&mut c, msg);
                if msg.is_empty() {
                    assert_eq!(payload, [0x00]);
                }
                assert_eq!(decompress(&mut d, &payload).unwrap(), msg);
            }
        }
    }

    // ---- round trips ----

    #[test]
    fn round_trips_for_every_window_and_context_mode() {
        let (bits_range, sizes, messages) = if cfg!(miri) {
            ([8u8, 15].as_slice(), [0, 1, 10, 100, 200, 500], 6)
        } else {
            (
                [8u8, 9, 10, 11, 12, 13, 14, 15].as_slice(),
                [0, 1, 10, 300, 4000, 70_000],
                12,
            )
        };
        for &bits in bits_range {
            for no_context_takeover in [false, true] {
                let mut c = Compressor::new(6, bits, 8, no_context_takeover);
                let mut d = Decompressor::new(bits, no_context_takeover);
                let mut total_in = 0;
                let mut total_out = 0;
                for i in 0..messages {
                    let msg = sample(i % 3, sizes[i as usize % 6]);
                    let payload = compress(&mut c, &msg);
                    total_in += msg.len();
                    total_out += payload.len();
                    assert_eq!(decompress(&mut d, &payload).unwrap(), msg, "bits {bits}");
                }
                assert!(
                    total_out < total_in / 2,
                    "bits {bits}: {total_out} of {total_in}"
                );
            }
        }
    }

    #[test]
    fn context_takeover_compresses_repeats_better() {
        let msg = sample(5, if cfg!(miri) { 300 } else { 2000 });
        let mut with = Compressor::new(6, 15, 8, false);
        let mut without = Compressor::new(6, 15, 8, true);
        let _ = compress(&mut with, &msg);
        let _ = compress(&mut without, &msg);
        let second_with = compress(&mut with, &msg).len();
        let second_without = compress(&mut without, &msg).len();
        assert!(
            second_with * 10 < second_without,
            "{second_with} vs {second_without}"
        );
    }

    #[test]
    fn fragment_streaming_round_trip() {
        for bits in [9u8, 12, 15] {
            for no_context_takeover in [false, true] {
                let mut c = Compressor::new(6, bits, 8, no_context_takeover);
                let mut d = Decompressor::new(bits, no_context_takeover);
                let (rounds, n) = if cfg!(miri) { (1, 500) } else { (4, 50_000) };
                for round in 0..rounds {
                    let msg = sample(round, n);
                    // Fragments of uneven sizes, including empty ones and an empty last one.
                    let cuts = [0usize, 0, 7, n / 50, n / 50, 2 * n / 5, n, n];
                    let mut received = Vec::new();
                    for (i, w) in cuts.windows(2).enumerate() {
                        let last = i == cuts.len() - 2;
                        let mut frame = Vec::new();
                        c.compress_fragment(&msg[w[0]..w[1]], &mut frame, last);
                        // Each fragment inflates on arrival: the sync flush makes its data
                        // available at once.
                        let before = received.len();
                        d.decompress(&frame, &mut received, usize::MAX).unwrap();
                        if !frame.is_empty() && !last {
                            assert_eq!(received.len(), w[1], "fragment {i} decoded on arrival");
                        }
                        let _ = before;
                    }
                    d.finish_message(&mut received, usize::MAX).unwrap();
                    assert_eq!(received, msg);
                }
            }
        }
    }

    #[test]
    fn last_fragment_after_a_flushed_one_is_the_zero_byte() {
        let mut c = Compressor::new(6, 15, 8, false);
        let mut first = Vec::new();
        c.compress_fragment(b"Hello", &mut first, false);
        assert!(first.ends_with(&TAIL));
        let mut last = Vec::new();
        c.compress_fragment(b"", &mut last, true);
        assert_eq!(last, [0x00]);
        let mut d = Decompressor::new(15, false);
        let mut whole = first;
        whole.extend_from_slice(&last);
        assert_eq!(decompress(&mut d, &whole).unwrap(), b"Hello");
        // The stream stays aligned for the next message.
        assert_eq!(
            decompress(&mut d, &compress(&mut c, b"Hello")).unwrap(),
            b"Hello"
        );
    }

    #[test]
    fn any_split_of_the_payload_decompresses_the_same() {
        let mut c = Compressor::new(6, 15, 8, false);
        let n = if cfg!(miri) { 200 } else { 3000 };
        let first = sample(1, n);
        let second = sample(2, n);
        let p1 = compress(&mut c, &first);
        let p2 = compress(&mut c, &second);
        for split in 0..=p2.len() {
            let mut d = Decompressor::new(15, false);
            assert_eq!(decompress(&mut d, &p1).unwrap(), first);
            let mut out = Vec::new();
            d.decompress(&p2[..split], &mut out, usize::MAX).unwrap();
            d.decompress(&p2[split..], &mut out, usize::MAX).unwrap();
            d.finish_message(&mut out, usize::MAX).unwrap();
            assert_eq!(out, second, "split at {split}");
        }
        // Byte by byte.
        let mut d = Decompressor::new(15, false);
        assert_eq!(decompress(&mut d, &p1).unwrap(), first);
        let mut out = Vec::new();
        for b in &p2 {
            d.decompress(core::slice::from_ref(b), &mut out, usize::MAX)
                .unwrap();
        }
        d.finish_message(&mut out, usize::MAX).unwrap();
        assert_eq!(out, second);
    }

    #[test]
    fn output_is_appended_to_what_the_buffer_holds() {
        let mut c = Compressor::new(6, 15, 8, false);
        let mut out = b"prefix".to_vec();
        c.compress_message(b"Hello", &mut out);
        assert_eq!(out, b"prefix\xf2\x48\xcd\xc9\xc9\x07\x00");
        let mut d = Decompressor::new(15, false);
        let mut text = b"prefix".to_vec();
        d.decompress(&out[6..], &mut text, 5).unwrap();
        d.finish_message(&mut text, 5).unwrap();
        assert_eq!(text, b"prefixHello");
    }

    // ---- limits and bad input ----

    #[test]
    fn exactly_at_the_limit_passes_one_over_fails() {
        // Under Miri, one length past a step of the decompressor rather than four around them.
        let lens = if cfg!(miri) {
            [0usize, 1, 100, STEP + 1].as_slice()
        } else {
            [0, 1, 100, STEP - 1, STEP, STEP + 1, 3 * STEP + 5].as_slice()
        };
        for &len in lens {
            let msg = sample_sized(len as u64, len);
            let mut c = Compressor::new(6, 15, 8, false);
            let payload = compress(&mut c, &msg);
            let mut d = Decompressor::new(15, false);
            let mut out = Vec::new();
            d.decompress(&payload, &mut out, len).unwrap();
            d.finish_message(&mut out, len).unwrap();
            assert_eq!(out, msg);
            assert!(
                out.capacity() <= len + 1,
                "len {len} cap {}",
                out.capacity()
            );
            if len > 0 {
                let mut d = Decompressor::new(15, false);
                let mut out = Vec::new();
                let r = d
                    .decompress(&payload, &mut out, len - 1)
                    .and_then(|()| d.finish_message(&mut out, len - 1));
                assert_eq!(r, Err(InflateError::TooLarge), "len {len}");
                assert!(out.len() <= len, "stops at limit + 1");
            }
        }
    }

    #[test]
    fn the_limit_counts_the_whole_message_across_pieces() {
        let msg = sample_sized(4, 10_000);
        let mut c = Compressor::new(6, 15, 8, false);
        let payload = compress(&mut c, &msg);
        let mut d = Decompressor::new(15, false);
        let (a, b) = payload.split_at(payload.len() / 2);
        // Chunked delivery: a fresh buffer per piece, the limit still spans the message.
        let mut one = Vec::new();
        let mut two = Vec::new();
        let r = d
            .decompress(a, &mut one, 9_999)
            .and_then(|()| d.decompress(b, &mut two, 9_999))
            .and_then(|()| d.finish_message(&mut two, 9_999));
        assert_eq!(r, Err(InflateError::TooLarge));
    }

    #[test]
    fn bomb_of_a_gib_stops_at_the_limit_with_bounded_memory() {
        // 1 GiB of zeros in about 1 MiB of input (under Miri, 256 KiB in about 4 KiB).
        let bomb = zero_bomb(BOMB_MIBS);
        assert!(bomb.len() < MIB + MIB / 16, "{}", bomb.len());
        let limit = 4 * MIB;
        for piece in [bomb.len(), 1 << 16, 1000] {
            let mut d = Decompressor::new(15, false);
            let base = reset_peak();
            let mut out = Vec::new();
            let mut result = Ok(());
            for chunk in bomb.chunks(piece) {
                result = d.decompress(chunk, &mut out, limit);
                if result.is_err() {
                    break;
                }
            }
            assert_eq!(result, Err(InflateError::TooLarge), "piece {piece}");
            assert_eq!(out.len(), limit + 1, "work stops at limit + 1");
            assert!(out.capacity() <= limit + 1, "capacity {}", out.capacity());
            // Everything this thread allocated meanwhile: the output, within the limit, plus
            // the decompressor (about 50 KiB).
            let grew = peak() - base;
            assert!(
                grew <= (limit + STEP + (64 << 10)) as isize,
                "peak growth {grew}"
            );
            drop(out);
        }
        // The same stream is genuine: with no limit it inflates (here, a 4 "MiB" prefix of it).
        let mut small = zero_bomb(4);
        // A message's payload ends without the tail.
        assert!(small.ends_with(&TAIL));
        small.truncate(small.len() - TAIL.len());
        let mut d = Decompressor::new(15, false);
        let out = decompress(&mut d, &small).unwrap();
        assert_eq!(out.len(), 4 * MIB);
        assert!(out.iter().all(|&b| b == 0));
    }

    #[test]
    fn bomb_in_the_tail_bits_is_caught_by_finish_message() {
        // A message whose data is cut right before its end: the limit applies to the output
        // that the appended tail releases, too.
        let n = if cfg!(miri) { 5000 } else { 100_000 };
        let msg = vec![7u8; n];
        let mut c = Compressor::new(6, 15, 8, false);
        let payload = compress(&mut c, &msg);
        let mut d = Decompressor::new(15, false);
        let mut out = Vec::new();
        d.decompress(&payload, &mut out, n - 1).unwrap_or(());
        let r = d.finish_message(&mut out, n - 1);
        assert!(out.len() <= n);
        assert_eq!(
            r.or(Err(InflateError::TooLarge)),
            Err(InflateError::TooLarge)
        );
    }

    #[test]
    fn corrupt_data_is_an_error() {
        for payload in [
            &[0xff, 0xff, 0xff][..],
            // A reserved block type.
            &[0x07],
            // A stored block whose length check fails.
            &[0x00, 0x05, 0x00, 0x00, 0x00, b'H'],
        ] {
            let mut d = Decompressor::new(15, false);
            assert_eq!(
                decompress(&mut d, payload),
                Err(InflateError::Corrupt),
                "{payload:?}"
            );
        }
        // A message cut in the middle of a block (the tail does not end it).
        let mut c = Compressor::new(6, 15, 8, false);
        let payload = compress(&mut c, &sample(8, if cfg!(miri) { 500 } else { 5000 }));
        let mut d = Decompressor::new(15, false);
        assert_eq!(
            decompress(&mut d, &payload[..payload.len() / 2]),
            Err(InflateError::Corrupt)
        );
    }

    #[test]
    fn window_overreach_is_judged_the_same_for_any_split() {
        // The peer agreed to 9 bits but refers 1000 bytes back. zlib would catch that only when
        // the reference crosses an inflate call, so the decompressor always inflates with the
        // full window: the verdict cannot depend on how the frames were split.
        let mut msg = sample(6, 1000);
        msg.extend_from_within(..);
        let mut c = Compressor::new(6, 15, 8, false);
        let payload = compress(&mut c, &msg);
        for split in [0, 1, payload.len() / 2, payload.len()] {
            let mut d = Decompressor::new(9, false);
            let mut out = Vec::new();
            d.decompress(&payload[..split], &mut out, usize::MAX)
                .unwrap();
            d.decompress(&payload[split..], &mut out, usize::MAX)
                .unwrap();
            d.finish_message(&mut out, usize::MAX).unwrap();
            assert_eq!(out, msg, "split at {split}");
        }
    }

    #[test]
    fn fuzzed_payloads_never_panic() {
        let mut x = 0x1234_5678_u32;
        let mut c = Compressor::new(6, 15, 8, false);
        let good = compress(&mut c, &sample(3, if cfg!(miri) { 500 } else { 2000 }));
        for round in 0..if cfg!(miri) { 40 } else { 2000 } {
            let mut payload = good.clone();
            for _ in 0..1 + round % 4 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let at = x as usize % payload.len();
                payload[at] ^= (x >> 24) as u8 | 1;
            }
            let mut d = Decompressor::new(15, round % 2 == 0);
            let mut out = Vec::new();
            let _ = d
                .decompress(&payload, &mut out, 10_000)
                .and_then(|()| d.finish_message(&mut out, 10_000));
            assert!(out.len() <= 10_001);
        }
    }

    // ---- memory ----

    /// Prints the tables in the module docs of `deflate` (run with `--nocapture` to see them)
    /// and checks the figures: live streams after a 100 KB message, and what a release keeps.
    #[test]
    fn memory_table() {
        // Under Miri: the two corners and the default (9/1, 12/5, 15/9) with a 300-byte message
        // (zlib-rs allocates its buffers up front, so the live figures are the same, and a
        // release keeps what was sent, up to the window); the full run takes every pair with
        // 100 KB, more than any window.
        let (compressor_pairs, inflate_bits): (Vec<(u8, u8)>, &[u8]) = if cfg!(miri) {
            (vec![(9, 1), (12, 5), (15, 9)], &[8, 12, 15])
        } else {
            (
                (9u8..=15)
                    .flat_map(|bits| (1u8..=9).map(move |level| (bits, level)))
                    .collect(),
                &[8, 9, 10, 11, 12, 13, 14, 15],
            )
        };
        let msg_for = |bits: u8| {
            if cfg!(miri) {
                let _ = bits;
                sample(1, 300)
            } else {
                sample(1, 100_000)
            }
        };
        std::println!("| window bits | mem_level | compressor live | compressor released |");
        for &(bits, mem_level) in &compressor_pairs {
            {
                let msg = msg_for(bits);
                let before = held();
                let mut c = Compressor::new(3, bits, mem_level, false);
                assert_eq!(held(), before, "nothing before the first message");
                let _ = compress(&mut c, &msg);
                let live = held() - before;
                assert!(c.release());
                let released = held() - before;
                drop(c);
                assert_eq!(held(), before);
                // zlib-rs: a 2^16-entry hash table (128 KiB), a 2 * 2^bits window, 2 bytes of
                // chain per window byte, 7 bytes per symbol of a 2^(mem_level + 6) block,
                // plus the state and alignment.
                let parts = (128 << 10) + (4 << bits) + (7 << (mem_level + 6));
                assert!(
                    live >= parts && live <= parts + 8192,
                    "{bits}/{mem_level}: {live}"
                );
                // A release keeps exactly the window's history (all of a shorter message).
                assert_eq!(
                    released,
                    (1isize << bits).min(msg.len() as isize),
                    "{bits}/{mem_level}"
                );
                // (Printing allocates: after the checks.)
                std::println!("| {bits} | {mem_level} | {live} | {released} |");
            }
        }
        std::println!("| window bits | decompressor live | decompressor released |");
        for &bits in inflate_bits {
            let msg = msg_for(bits);
            let mut c = Compressor::new(3, bits, 8, false);
            let payload = compress(&mut c, &msg);
            let before = held();
            let mut d = Decompressor::new(bits, false);
            assert_eq!(held(), before, "nothing before the first message");
            assert_eq!(decompress(&mut d, &payload).unwrap(), msg);
            let live = held() - before;
            assert!(d.release());
            let released = held() - before;
            drop(d);
            assert_eq!(held(), before);
            // zlib-rs allocates a 32 KiB window whatever the bits; the state is about 14 KiB.
            assert!((32 << 10..50_000).contains(&live), "{bits}: {live}");
            assert_eq!(
                released,
                (1isize << bits.max(9)).min(msg.len() as isize),
                "{bits}"
            );
            std::println!("| {bits} | {live} | {released} |");
        }
    }

    // ---- release and restore ----

    use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

    /// Inflates one message's payload (the tail put back) with `peer`, a long-lived
    /// miniz_oxide raw inflater: an independent decoder with a 32 KiB window, like a browser's.
    fn reference_inflate(
        peer: &mut miniz_oxide::inflate::stream::InflateState,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut input = payload.to_vec();
        input.extend_from_slice(&TAIL);
        let mut rest = &input[..];
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let r = miniz_oxide::inflate::stream::inflate(peer, rest, &mut buf, MZFlush::None);
            out.extend_from_slice(&buf[..r.bytes_written]);
            rest = &rest[r.bytes_consumed..];
            match r.status {
                Ok(MZStatus::Ok) | Err(MZError::Buf) => {}
                other => panic!("reference inflate: {other:?}"),
            }
            if rest.is_empty() && r.bytes_written < buf.len() {
                return out;
            }
        }
    }

    /// Messages that refer back to earlier ones: four kinds repeating, of growing size (under
    /// Miri up to 300 bytes, which still crosses the 8-bit window).
    fn conversation(i: u64) -> Vec<u8> {
        let sizes: &[usize] = if cfg!(miri) {
            &[5, 70, 300]
        } else {
            &[5, 70, 300, 2000, 9000, 40_000]
        };
        sample(i % 4, sizes[(i as usize / 2) % sizes.len()])
    }

    /// The window sizes, memory levels and number of messages of the release tests (under
    /// Miri, which interprets zlib-rs at a few KB a second: the smallest and largest window,
    /// the default level, and every message size once).
    fn release_cases() -> (&'static [u8], &'static [u8], u64) {
        if cfg!(miri) {
            (&[8, 15], &[5], 6)
        } else {
            (&[8, 9, 10, 11, 12, 13, 14, 15], &[1, 5, 9], 36)
        }
    }

    #[test]
    fn released_compressor_output_continues_the_peers_stream() {
        let (bits_range, mem_levels, messages) = release_cases();
        for &bits in bits_range {
            for &mem_level in mem_levels {
                for no_context_takeover in [false, true] {
                    let mut c = Compressor::new(3, bits, mem_level, no_context_takeover);
                    let mut peer =
                        miniz_oxide::inflate::stream::InflateState::new_boxed(DataFormat::Raw);
                    let mut releases = 0;
                    for i in 0..messages {
                        let msg = conversation(i);
                        let payload = compress(&mut c, &msg);
                        if no_context_takeover {
                            // The peer resets too: a fresh decoder proves nothing refers back.
                            peer = miniz_oxide::inflate::stream::InflateState::new_boxed(
                                DataFormat::Raw,
                            );
                        }
                        assert_eq!(
                            reference_inflate(&mut peer, &payload),
                            msg,
                            "bits {bits} mem {mem_level} nct {no_context_takeover} msg {i}"
                        );
                        // Released after most messages, sometimes twice in a row.
                        if i % 5 != 4 {
                            assert!(c.release());
                            assert!(!c.is_live());
                            releases += 1;
                        }
                        if i % 7 == 0 {
                            assert!(c.release());
                        }
                    }
                    assert!(releases > messages * 2 / 3);
                }
            }
        }
    }

    #[test]
    fn a_released_compressor_still_uses_the_history() {
        for bits in 8..=15u8 {
            // Within the window (250 bytes back for 8 bits, see the module docs).
            let msg = sample(3, if bits <= 9 { 200 } else { 400 });
            let mut c = Compressor::new(3, bits, 5, false);
            let first = compress(&mut c, &msg).len();
            assert!(c.release());
            let second = compress(&mut c, &msg).len();
            assert!(second * 10 < first, "bits {bits}: {second} vs {first}");
            let mut c = Compressor::new(3, bits, 5, true);
            let first = compress(&mut c, &msg);
            assert!(c.release());
            assert_eq!(compress(&mut c, &msg), first, "no context takeover: afresh");
        }
    }

    /// Compresses one message with miniz_oxide (a 32 KiB window, sync-flushed, tail cut).
    fn reference_deflate(
        peer: &mut miniz_oxide::deflate::core::CompressorOxide,
        msg: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut rest = msg;
        loop {
            let r = miniz_oxide::deflate::stream::deflate(peer, rest, &mut buf, MZFlush::Sync);
            out.extend_from_slice(&buf[..r.bytes_written]);
            rest = &rest[r.bytes_consumed..];
            assert!(
                matches!(r.status, Ok(_) | Err(MZError::Buf)),
                "{:?}",
                r.status
            );
            if rest.is_empty() && r.bytes_written < buf.len() {
                break;
            }
        }
        assert!(out.ends_with(&TAIL));
        out.truncate(out.len() - TAIL.len());
        out
    }

    #[test]
    fn released_decompressor_decodes_the_rest_of_the_stream() {
        // A long-lived compressor of our own for every window size...
        let (bits_range, _, messages) = release_cases();
        for &bits in bits_range {
            for no_context_takeover in [false, true] {
                let mut c = Compressor::new(6, bits, 8, no_context_takeover);
                let mut d = Decompressor::new(bits, no_context_takeover);
                for i in 0..messages {
                    let msg = conversation(i);
                    let payload = compress(&mut c, &msg);
                    // In two pieces, as two frames might bring it.
                    let (a, b) = payload.split_at(payload.len() / 3);
                    let mut out = Vec::new();
                    d.decompress(a, &mut out, usize::MAX).unwrap();
                    d.decompress(b, &mut out, usize::MAX).unwrap();
                    d.finish_message(&mut out, usize::MAX).unwrap();
                    assert_eq!(out, msg, "bits {bits} nct {no_context_takeover} msg {i}");
                    if i % 5 != 4 {
                        assert!(d.release());
                        assert!(!d.is_live());
                    }
                }
            }
        }
        // ... and miniz_oxide's (15 bits, which it always uses).
        let levels: &[u8] = if cfg!(miri) { &[6] } else { &[1, 6, 9] };
        for &level in levels {
            let flags =
                miniz_oxide::deflate::core::create_comp_flags_from_zip_params(level.into(), -15, 0);
            let mut peer = miniz_oxide::deflate::core::CompressorOxide::new(flags);
            let mut d = Decompressor::new(15, false);
            for i in 0..messages {
                let msg = conversation(i);
                let payload = reference_deflate(&mut peer, &msg);
                assert_eq!(
                    decompress(&mut d, &payload).unwrap(),
                    msg,
                    "level {level} msg {i}"
                );
                if i % 3 != 0 {
                    assert!(d.release());
                }
            }
        }
    }

    #[test]
    fn nothing_is_released_in_the_middle_of_a_message() {
        let mut c = Compressor::new(3, 12, 5, false);
        let mut d = Decompressor::new(12, false);
        let mut first = Vec::new();
        c.compress_fragment(b"the first half, ", &mut first, false);
        assert!(!c.release());
        assert!(c.is_live());
        let mut last = Vec::new();
        c.compress_fragment(b"and the second half", &mut last, true);
        let mut out = Vec::new();
        d.decompress(&first, &mut out, 1000).unwrap();
        assert!(!d.release());
        assert!(d.is_live());
        d.decompress(&last, &mut out, 1000).unwrap();
        assert!(!d.release(), "the message ends with finish_message");
        d.finish_message(&mut out, 1000).unwrap();
        assert_eq!(out, b"the first half, and the second half");
        assert!(c.release() && d.release());
        assert!(!c.is_live() && !d.is_live());
    }

    // ---- compression ratio ----

    /// Chat messages as JSON: `{"type":"message","data":{...}}`, 100-300 bytes, mostly CJK,
    /// Cyrillic and emoji text (multi-byte UTF-8).
    pub(crate) fn chat_message(seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as usize % n
        };
        let users = [
            "小明",
            "さくら",
            "민준",
            "Алёна",
            "李雷",
            "ゆうき",
            "Дмитрий",
            "王芳",
        ];
        let rooms = ["大厅", "ゲーム", "общий", "음악", "技术讨论"];
        let words = [
            "今天",
            "天气",
            "很好",
            "我们",
            "一起",
            "去吃饭",
            "吧",
            "ありがとう",
            "ございます",
            "また",
            "明日",
            "안녕하세요",
            "감사합니다",
            "привет",
            "как дела",
            "😀",
            "🎉",
            "👍",
            "❤️",
            "🔥",
            "😂",
            "没问题",
            "好的",
            "哈哈哈",
            "にゃー",
            "そうですね",
            "진짜",
            "좋아요",
            "，",
            "。",
            "！",
            "？",
            " ",
        ];
        let mut text = alloc::string::String::new();
        let target = 10 + next(150);
        while text.len() < target {
            text.push_str(words[next(words.len())]);
        }
        let reply = if next(3) == 0 {
            alloc::format!(",\"reply_to\":{}", 100_000 + next(900_000))
        } else {
            alloc::string::String::new()
        };
        alloc::format!(
            "{{\"type\":\"message\",\"data\":{{\"id\":{},\"room\":\"{}\",\"user\":\"{}\",\
             \"text\":\"{}\",\"ts\":{}{}}}}}",
            1_000_000 + seed,
            rooms[next(rooms.len())],
            users[next(users.len())],
            text,
            1_733_150_000_000u64 + seed * 1_337 + next(1000) as u64,
            reply
        )
        .into_bytes()
    }

    /// Autobahn 12.x style: runs of one message size (16 B to 256 KiB), text drawn from a
    /// fixed corpus at random offsets, as its cases send 1000 messages each.
    fn autobahn_like(corpus: &[u8], size: usize, i: u64) -> Vec<u8> {
        let start = (i as usize * 7919 * 31) % (corpus.len() - size);
        corpus[start..start + size].to_vec()
    }

    /// Compressed / raw for `messages` with context takeover at (level 3, bits, mem_level).
    fn ratio(bits: u8, mem_level: u8, messages: impl Iterator<Item = Vec<u8>>) -> f64 {
        let mut c = Compressor::new(3, bits, mem_level, false);
        let (mut raw, mut packed) = (0usize, 0usize);
        for msg in messages {
            raw += msg.len();
            packed += compress(&mut c, &msg).len();
        }
        packed as f64 / raw as f64
    }

    /// The ratio figures in the module docs (printed with `--nocapture`); the 12-bit, memory
    /// level 5 default must stay within 10% of 15 bits and memory level 8 on chat JSON.
    #[test]
    fn ratio_of_small_windows() {
        // Under Miri: 16 messages, the default against 15/8 only, one Autobahn-like size.
        let (messages, others, sizes): (u64, &[(u8, u8)], &[usize]) = if cfg!(miri) {
            (16, &[], &[64])
        } else {
            (
                2000,
                &[
                    (9, 1),
                    (9, 5),
                    (10, 5),
                    (11, 5),
                    (12, 8),
                    (13, 5),
                    (14, 5),
                    (15, 5),
                ],
                &[16, 64, 256, 1024, 4096, 16_384, 65_536, 262_144],
            )
        };
        let chat = |b, m| ratio(b, m, (0..messages).map(chat_message));
        let lens = (0..messages).map(|i| chat_message(i).len());
        let (min, max) = lens.fold((usize::MAX, 0), |(a, b), l| (a.min(l), b.max(l)));
        std::println!("chat JSON messages: {min}..={max} bytes");
        assert!(min >= 100 && max <= 300, "{min}..={max}");
        let small = chat(12, 5);
        let big = chat(15, 8);
        std::println!("chat JSON: 12/5 {small:.4}, 15/8 {big:.4}");
        for &(b, m) in others {
            std::println!("chat JSON: {b}/{m} {:.4}", chat(b, m));
        }
        assert!(small <= big * 1.10, "{small} vs {big}");
        assert!(small < 0.6, "{small}");
        let corpus = sample(77, if cfg!(miri) { 2_000 } else { 300_000 });
        let budget = if cfg!(miri) { 1_000 } else { 2_000_000 };
        for &size in sizes {
            let n = (budget / size).clamp(4, 1000) as u64;
            let a = ratio(12, 5, (0..n).map(|i| autobahn_like(&corpus, size, i)));
            let b = ratio(15, 8, (0..n).map(|i| autobahn_like(&corpus, size, i)));
            std::println!("autobahn-like {size} B x {n}: 12/5 {a:.4}, 15/8 {b:.4}");
        }
    }
}
