//! Incremental UTF-8 validation that fails fast.
//!
//! A text message may be split across frames and reads at any byte, even inside a character.
//! The validator carries at most 3 bytes of an unfinished character between calls and rejects a
//! byte as soon as no valid continuation could follow it (Autobahn 6.4.x: fail inside a frame
//! that is still arriving). `core::str::from_utf8` already distinguishes "invalid" from
//! "truncated" (`error_len() == None`), so short pieces and the last (possibly cut-off)
//! character are validated by the standard library. The bulk of a longer piece, up to that last
//! character, goes to `simdutf8` (SIMD; with the `std` feature it picks AVX2 or SSE4.2 at run
//! time, without it only what the target enables at compile time, else the standard library).

/// Validates a whole text at once: the incremental validator fed once (SIMD for the bulk, a
/// fast path for short ASCII). On failure, returns how many leading bytes are valid (found by
/// the standard library, on the error path only).
pub fn validate(data: &[u8]) -> Result<(), usize> {
    let mut validator = Utf8Validator::new();
    if validator.feed(data).is_ok() && validator.is_complete() {
        return Ok(());
    }
    Err(core::str::from_utf8(data).map_or_else(|e| e.valid_up_to(), |s| s.len()))
}

/// Incremental UTF-8 validator state: the bytes of an unfinished trailing character.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Utf8Validator {
    pending: [u8; 4],
    pending_len: u8,
}

/// The input can never become valid UTF-8, whatever follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// A validator at the start of a text.
    pub const fn new() -> Self {
        Utf8Validator {
            pending: [0; 4],
            pending_len: 0,
        }
    }

    /// Validates the next piece of the text.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), InvalidUtf8> {
        // Short ASCII pieces (most small text messages) need neither SIMD nor `from_utf8`.
        if self.pending_len == 0 && data.len() < SIMD_MIN && data.is_ascii() {
            return Ok(());
        }
        if self.pending_len > 0 {
            let have = usize::from(self.pending_len);
            let width = char_width(self.pending[0]);
            let take = (width - have).min(data.len());
            let mut buf = self.pending;
            buf[have..have + take].copy_from_slice(&data[..take]);
            let filled = have + take;
            match core::str::from_utf8(&buf[..filled]) {
                Ok(_) => {}
                Err(e) if e.error_len().is_none() && filled < width => {
                    self.pending = buf;
                    self.pending_len = filled as u8;
                    return Ok(());
                }
                Err(_) => return Err(InvalidUtf8),
            }
            self.pending_len = 0;
            data = &data[take..];
        }
        if data.len() >= SIMD_MIN {
            // Everything before the last character is whole or invalid, never cut off.
            let cut = last_char_start(data);
            if simdutf8::basic::from_utf8(&data[..cut]).is_err() {
                return Err(InvalidUtf8);
            }
            data = &data[cut..];
        }
        match core::str::from_utf8(data) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &data[e.valid_up_to()..];
                // A truncated character is at most 3 bytes long.
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Whether the text seen so far ends on a character boundary (valid as a whole message).
    pub fn is_complete(&self) -> bool {
        self.pending_len == 0
    }
}

/// Below this many bytes `simdutf8` would fall back to the standard library anyway.
const SIMD_MIN: usize = 64;

/// Where a character cut off at the end of `data` would start: the last byte that is not a
/// continuation byte among the final three (a cut-off character has at most three bytes), or
/// `data.len()` if there is none (the final character, if valid, is then whole).
fn last_char_start(data: &[u8]) -> usize {
    let from = data.len().saturating_sub(3);
    data[from..]
        .iter()
        .rposition(|&b| b & 0xC0 != 0x80)
        .map_or(data.len(), |i| from + i)
}

/// The encoded length announced by a lead byte that `from_utf8` accepted as a truncated prefix.
fn char_width(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn incremental(data: &[u8], cuts: &[usize]) -> Result<bool, InvalidUtf8> {
        let mut v = Utf8Validator::new();
        let mut start = 0;
        for &cut in cuts {
            let cut = cut.clamp(start, data.len());
            v.feed(&data[start..cut])?;
            start = cut;
        }
        v.feed(&data[start..])?;
        Ok(v.is_complete())
    }

    #[test]
    fn character_split_at_every_byte_is_valid() {
        let text = "κόσμε 𝄞 €".as_bytes();
        for cut in 0..=text.len() {
            assert_eq!(incremental(text, &[cut]), Ok(true), "cut at {cut}");
        }
    }

    #[test]
    fn fails_fast_on_code_point_above_u10ffff() {
        // Autobahn 6.4.1: F4 90 can never start a valid character; fail before the rest arrives.
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed("κόσμε".as_bytes()), Ok(()));
        assert_eq!(v.feed(&[0xF4]), Ok(()));
        assert_eq!(v.feed(&[0x90]), Err(InvalidUtf8));
    }

    #[test]
    fn truncated_text_is_incomplete() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[0xE2, 0x82]), Ok(()));
        assert!(!v.is_complete());
    }

    #[test]
    fn surrogates_are_rejected() {
        assert_eq!(incremental(&[0xED, 0xA0, 0x80], &[1]), Err(InvalidUtf8));
    }

    proptest! {
        #[test]
        fn equals_std_for_any_bytes_and_split(data in proptest::collection::vec(any::<u8>(), 0..64), mut cuts in proptest::collection::vec(0usize..64, 0..6)) {
            cuts.sort_unstable();
            let expected = core::str::from_utf8(&data).is_ok();
            let got = incremental(&data, &cuts);
            prop_assert_eq!(got == Ok(true), expected);
        }

        #[test]
        fn long_input_equals_std(text in "\\PC{20,120}", flip in any::<Option<(usize, u8)>>(), mut cuts in proptest::collection::vec(0usize..600, 0..4)) {
            // Past SIMD_MIN bytes the bulk goes to simdutf8: same verdict as std, split anywhere.
            let mut data: Vec<u8> = text.into_bytes();
            if let Some((at, byte)) = flip {
                let at = at % data.len();
                data[at] = byte;
            }
            cuts.sort_unstable();
            let expected = core::str::from_utf8(&data).is_ok();
            prop_assert_eq!(incremental(&data, &cuts) == Ok(true), expected);
            prop_assert_eq!(incremental(&data, &[]) == Ok(true), expected);
        }

        #[test]
        fn valid_text_split_anywhere(text in "\\PC{0,40}", mut cuts in proptest::collection::vec(0usize..200, 0..6)) {
            cuts.sort_unstable();
            let data: Vec<u8> = text.into_bytes();
            prop_assert_eq!(incremental(&data, &cuts), Ok(true));
        }

        #[test]
        fn fails_at_the_first_impossible_byte(data in proptest::collection::vec(any::<u8>(), 1..32)) {
            // Feeding byte by byte must fail exactly when the prefix stops being a valid prefix.
            let mut v = Utf8Validator::new();
            for i in 0..data.len() {
                let prefix_ok = match core::str::from_utf8(&data[..=i]) {
                    Ok(_) => true,
                    Err(e) => e.error_len().is_none(),
                };
                let fed = v.feed(&data[i..=i]);
                prop_assert_eq!(fed.is_ok(), prefix_ok);
                if !prefix_ok { break; }
            }
        }
    }
}
