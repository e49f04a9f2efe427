//! Masking (RFC 6455 section 5.3): XOR with a 4-byte key, resumable at any offset.
//!
//! The key is widened to a machine word so the loop works 8 bytes at a time, and the compiler
//! vectorises it: 16 bytes per instruction on baseline x86-64 (SSE2). With `std` on x86-64, the
//! same safe loops are also compiled with AVX2 and with AVX-512 enabled and chosen at run time
//! from what the CPU has (32 or 64 bytes per instruction). All `unsafe` is in `mask::wide`:
//! those calls, each after its CPU check, and the length update of [`extend_masked`]'s one-pass
//! copy. The tests compare every version with the byte-at-a-time definition.

#[cfg(all(feature = "std", target_arch = "x86_64"))]
use core::mem::MaybeUninit;

use alloc::vec::Vec;

/// Below this many bytes the run-time dispatch costs more than the wider loop saves.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
const WIDE_MIN: usize = 128;

/// XORs `buf` with `key`, as if `buf` started `offset` bytes into the masked payload.
///
/// Applying it twice restores the input, so the same function masks and unmasks.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    mask_with(buf, key, offset, |head, wide| {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        if head.len() >= WIDE_MIN {
            wide::xor_words(head, wide);
            return;
        }
        xor_words(head, wide);
    });
}

/// [`apply_mask`] forced onto the baseline loop (no run-time choice of a wider one): the tests
/// and the `mask` fuzz target check both against the naive loop, and the benchmark compares them.
pub fn apply_mask_baseline(buf: &mut [u8], key: [u8; 4], offset: usize) {
    mask_with(buf, key, offset, xor_words_baseline);
}

/// Appends `src`, masked with `key` as if it started `offset` bytes into the payload, to `dst`.
///
/// The same bytes as copying `src` onto the end of `dst` and calling [`apply_mask`] on them, but
/// for large inputs on x86-64 with `std` it takes one pass (read `src`, write `dst`) instead of
/// two. Measured on an AVX-512 machine (`cargo bench --bench throughput -- primitives_16KiB`):
/// 283 ns for 16 KiB, against 437 ns for the copy then the mask and 130 ns for the copy alone.
pub fn extend_masked(dst: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: usize) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if src.len() >= WIDE_MIN {
        wide::extend_masked(dst, src, rotate_key(key, offset));
        return;
    }
    if src.len() < SMALL_MAX {
        extend_masked_words(dst, src, key, offset);
        return;
    }
    extend_masked_two_pass(dst, src, key, offset);
}

/// Below this, [`extend_masked`] masks word by word on the way into `dst`: for a small frame
/// that beats a `memcpy` call and a masking pass over the copy.
const SMALL_MAX: usize = 128;

/// The one-pass masked append for small inputs: eight bytes at a time, then the rest.
fn extend_masked_words(dst: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: usize) {
    let key = rotate_key(key, offset);
    let wide = widen(key);
    dst.reserve(src.len());
    let mut words = src.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        dst.extend_from_slice(&(u64::from_ne_bytes(bytes) ^ wide).to_ne_bytes());
    }
    // Whole words keep the key's phase, so the rest starts at the rotated key's first byte.
    dst.extend(
        words
            .remainder()
            .iter()
            .zip(key.iter().cycle())
            .map(|(b, k)| b ^ k),
    );
}

/// Copies below this take `memcpy` whatever their addresses: the stall below costs little there.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
const ALIAS_COPY_MIN: usize = 4096;

/// Appends `src` to `dst`, as `extend_from_slice` does, but immune to where the two buffers
/// happen to sit.
///
/// A `memcpy` whose destination is less than 64 bytes past its source, modulo 4 KiB, can stall
/// on 4K aliasing (each load waits on a store to the same page offset): measured on this
/// project's AMD EPYC machine, a 64 KiB `memcpy` ran at 2.6-3.2 GB/s at such offsets against
/// 55 GB/s at others, while the one-pass masking loop ran at 42-55 GB/s at every offset. Two
/// adjacent large allocations are exactly such a pair (each starts 16 bytes into its page, and
/// a frame's payload sits a few header bytes in). So on x86-64 with `std`, a large copy at such
/// an offset goes through that loop with a zero key; every other copy is a plain `memcpy`.
pub fn extend_copied(dst: &mut Vec<u8>, src: &[u8]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if src.len() >= ALIAS_COPY_MIN {
        dst.reserve(src.len());
        let to = dst.as_ptr() as usize + dst.len();
        if to.wrapping_sub(src.as_ptr() as usize) % 4096 < 64 {
            wide::extend_masked(dst, src, [0; 4]);
            return;
        }
    }
    dst.extend_from_slice(src);
}

/// [`extend_masked`] as a copy followed by [`apply_mask`]: the portable version, and the
/// reference the one-pass copy is tested against.
pub fn extend_masked_two_pass(dst: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: usize) {
    let start = dst.len();
    dst.extend_from_slice(src);
    if let Some(added) = dst.get_mut(start..) {
        apply_mask(added, key, offset);
    }
}

/// Masks `buf` with the key rotated to `offset`: its multiple-of-8 head through `words` (with
/// the key widened to a word), the rest byte by byte.
#[inline(always)]
fn mask_with(buf: &mut [u8], key: [u8; 4], offset: usize, words: impl FnOnce(&mut [u8], u64)) {
    let key = rotate_key(key, offset);
    let (head, tail) = buf.split_at_mut(buf.len() - buf.len() % 8);
    words(head, widen(key));
    // `head` has a multiple of 8 bytes, so the key phase of `tail` starts at 0 again.
    for (byte, k) in tail.iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

/// The key repeated to fill a word.
#[inline(always)]
fn widen(key: [u8; 4]) -> u64 {
    u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ])
}

/// The baseline word loop, out of line: compiled for the target's baseline features only.
#[inline(never)]
fn xor_words_baseline(head: &mut [u8], wide: u64) {
    xor_words(head, wide);
}

/// The key as seen from `offset` bytes into the payload: rotated left by `offset % 4` bytes,
/// done on a `u32` (one instruction) rather than a slice rotation (an out-of-line call).
#[inline(always)]
fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    // Little-endian, byte 0 is the low byte: moving bytes left means rotating the bits right.
    let shift = 8 * (offset % 4) as u32;
    u32::from_le_bytes(key).rotate_right(shift).to_le_bytes()
}

/// XORs every 8-byte word of `head` (a multiple of 8 bytes long) with `wide`. Safe code that
/// the compiler vectorises to whatever width the enclosing function's target features allow.
#[inline(always)]
fn xor_words(head: &mut [u8], wide: u64) {
    for chunk in head.chunks_exact_mut(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ wide).to_ne_bytes());
    }
}

/// Writes `src` masked with `key` (already rotated to the offset) into `dst`, which has the
/// same length: **every** element of `dst` is written, which `wide::extend_masked` relies on.
/// Safe code, vectorised like [`xor_words`].
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[inline(always)]
fn xor_into(dst: &mut [MaybeUninit<u8>], src: &[u8], key: [u8; 4]) {
    debug_assert_eq!(dst.len(), src.len());
    let wide = widen(key);
    let mut dst_words = dst.chunks_exact_mut(8);
    let mut src_words = src.chunks_exact(8);
    for (d, s) in (&mut dst_words).zip(&mut src_words) {
        let mut word = [0u8; 8];
        word.copy_from_slice(s);
        let masked = (u64::from_ne_bytes(word) ^ wide).to_ne_bytes();
        for (d, m) in d.iter_mut().zip(masked) {
            d.write(m);
        }
    }
    // Equal lengths, so equal remainders (fewer than 8 bytes), starting at key phase 0.
    let tail = dst_words
        .into_remainder()
        .iter_mut()
        .zip(src_words.remainder());
    for ((d, s), k) in tail.zip(key.iter().cycle()) {
        d.write(s ^ k);
    }
}

/// The word loops compiled for AVX2 and AVX-512, chosen at run time.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[allow(unsafe_code)]
mod wide {
    use super::MaybeUninit;
    use alloc::vec::Vec;

    /// [`super::xor_words`] with AVX2 enabled: the same safe loop, widened by the compiler.
    #[target_feature(enable = "avx2")]
    unsafe fn xor_words_avx2(head: &mut [u8], wide: u64) {
        super::xor_words(head, wide);
    }

    /// [`super::xor_words`] with AVX-512 (foundation) enabled.
    #[target_feature(enable = "avx512f")]
    unsafe fn xor_words_avx512(head: &mut [u8], wide: u64) {
        super::xor_words(head, wide);
    }

    /// [`super::xor_words`], 64 bytes per instruction with AVX-512, 32 with AVX2.
    #[inline]
    pub(super) fn xor_words(head: &mut [u8], wide: u64) {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: `xor_words_avx512` needs only AVX-512F, which the CPU was just checked to
            // support; its body is safe code with no other requirement.
            unsafe { xor_words_avx512(head, wide) }
        } else if std::is_x86_feature_detected!("avx2") {
            // SAFETY: as above, for AVX2.
            unsafe { xor_words_avx2(head, wide) }
        } else {
            super::xor_words(head, wide);
        }
    }

    /// [`super::xor_into`] with AVX2 enabled.
    #[target_feature(enable = "avx2")]
    unsafe fn xor_into_avx2(dst: &mut [MaybeUninit<u8>], src: &[u8], key: [u8; 4]) {
        super::xor_into(dst, src, key);
    }

    /// [`super::xor_into`] with AVX-512 (foundation) enabled.
    #[target_feature(enable = "avx512f")]
    unsafe fn xor_into_avx512(dst: &mut [MaybeUninit<u8>], src: &[u8], key: [u8; 4]) {
        super::xor_into(dst, src, key);
    }

    /// [`super::extend_masked`] in one pass: masks `src` straight into `dst`'s spare capacity.
    /// `key` is already rotated to the offset.
    pub(super) fn extend_masked(dst: &mut Vec<u8>, src: &[u8], key: [u8; 4]) {
        let n = src.len();
        dst.reserve(n);
        let len = dst.len();
        let Some(spare) = dst.spare_capacity_mut().get_mut(..n) else {
            // `reserve` guarantees the room; kept safe rather than assumed.
            super::extend_masked_two_pass(dst, src, key, 0);
            return;
        };
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the function needs only AVX-512F, just checked; its body is safe code.
            unsafe { xor_into_avx512(spare, src, key) }
        } else if std::is_x86_feature_detected!("avx2") {
            // SAFETY: as above, for AVX2.
            unsafe { xor_into_avx2(spare, src, key) }
        } else {
            super::xor_into(spare, src, key);
        }
        // SAFETY: `spare` is the `n` elements right after the first `len`, inside the capacity,
        // and `xor_into` initialised every one of them (`spare.len() == src.len() == n`).
        unsafe { dst.set_len(len + n) }
    }
}

/// The byte-at-a-time definition, kept as the reference the fast version is tested against.
#[cfg(any(test, feature = "fuzzing"))]
pub fn apply_mask_naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    #[test]
    fn extend_copied_is_a_plain_append_at_every_offset_modulo_4_kib() {
        // Under Miri, a shorter copy (still past `ALIAS_COPY_MIN`, 4096) at the distances either
        // side of the 64-byte boundary instead of all of the first 80.
        let len = if cfg!(miri) { 4200 } else { 9000u32 };
        let near: Vec<usize> = if cfg!(miri) {
            alloc::vec![0, 1, 7, 8, 63, 64, 65]
        } else {
            (0..80).collect()
        };
        let src: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let mut dst = Vec::with_capacity(src.len() + 8192);
        let src_at = src.as_ptr() as usize % 4096;
        for k in near.into_iter().chain([1000, 4095]) {
            dst.clear();
            // Lead with bytes that put the copy's destination `k` past the source.
            let lead = (k + src_at + 8192 - dst.as_ptr() as usize % 4096) % 4096;
            dst.resize(lead, 0xee);
            extend_copied(&mut dst, &src);
            assert!(dst[..lead].iter().all(|&b| b == 0xee));
            assert_eq!(&dst[lead..], &src[..], "offset {k}");
        }
    }

    #[test]
    fn rfc_5_7_masked_hello() {
        // RFC 6455 5.7: "Hello" masked with 37 fa 21 3d.
        let mut data = *b"Hello";
        apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    /// Proptest's defaults, except under Miri: 8 cases instead of 256 (generating and masking
    /// the inputs is slow when interpreted), and no failure file (finding it needs the working
    /// directory, which Miri's isolation hides).
    fn config() -> ProptestConfig {
        let mut config = ProptestConfig::default();
        if cfg!(miri) {
            config.cases = 8;
            config.failure_persistence = None;
        }
        config
    }

    /// The longest input the properties try: past `WIDE_MIN` (128) either way.
    const MAX_LEN: usize = if cfg!(miri) { 300 } else { 1200 };

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn equals_naive_at_any_offset(data in proptest::collection::vec(any::<u8>(), 0..MAX_LEN), key: [u8; 4], offset in 0usize..16) {
            let mut fast = data.clone();
            let mut slow = data.clone();
            apply_mask(&mut fast, key, offset);
            apply_mask_naive(&mut slow, key, offset);
            prop_assert_eq!(&fast, &slow);
            let mut baseline = data.clone();
            apply_mask_baseline(&mut baseline, key, offset);
            prop_assert_eq!(&baseline, &slow);
        }

        #[test]
        fn extend_masked_equals_copy_then_mask(
            data in proptest::collection::vec(any::<u8>(), 0..MAX_LEN),
            prefix in proptest::collection::vec(any::<u8>(), 0..20),
            key: [u8; 4],
            offset in 0usize..16,
        ) {
            let mut slow = prefix.clone();
            slow.extend_from_slice(&data);
            apply_mask_naive(&mut slow[prefix.len()..], key, offset);
            let mut fast = prefix.clone();
            extend_masked(&mut fast, &data, key, offset);
            prop_assert_eq!(&fast, &slow);
            let mut two_pass = prefix.clone();
            extend_masked_two_pass(&mut two_pass, &data, key, offset);
            prop_assert_eq!(&two_pass, &slow);
        }

        #[test]
        fn split_anywhere_equals_whole(data in proptest::collection::vec(any::<u8>(), 0..300), key: [u8; 4], cut in 0usize..300) {
            let cut = cut.min(data.len());
            let mut whole = data.clone();
            apply_mask(&mut whole, key, 0);
            let mut parts: Vec<u8> = data.clone();
            let (a, b) = parts.split_at_mut(cut);
            apply_mask(a, key, 0);
            apply_mask(b, key, cut);
            prop_assert_eq!(whole, parts);
        }
    }
}
