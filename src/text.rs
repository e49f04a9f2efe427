//! [`Utf8Bytes`]: text as shared [`Bytes`] that carries its proof of valid UTF-8.
//!
//! A received text message is validated once, by the core, as it arrives; a text message sent
//! from a `String` or `&str` is valid by its type. Carrying that proof in the type is what lets
//! the adapters hand text out and take it in without a second validation pass, and [`Bytes`]
//! lets them do it without a copy: a message that arrived whole shares the read buffer, and a
//! clone (for a broadcast) is a reference-count increment.
//!
//! This module holds the crate's one `unsafe` outside the masking and deflate back ends: the
//! `str::from_utf8_unchecked` in [`Utf8Bytes::as_str`]. It is sound because every constructor
//! either validates or takes bytes whose validity is already proven (a `String`, a `&str`, or a
//! text payload the core validated), and nothing hands out mutable access to the bytes. A test
//! compares `as_str` with the checked conversion on every constructor; Miri runs this module's
//! tests.
#![allow(unsafe_code)]

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Deref;

use bytes::Bytes;

/// UTF-8 text in a [`Bytes`]: cheap to clone, and never validated twice.
///
/// Build it from a `String` or a `&'static str` (no copy, no validation), or check bytes with
/// [`Utf8Bytes::try_from`]. It derefs to `str`.
///
/// ```
/// use wsproto::Utf8Bytes;
///
/// let text = Utf8Bytes::from("héllo, 世界 👋");
/// let copy = text.clone(); // shares the bytes
/// assert_eq!(copy.as_str(), "héllo, 世界 👋");
/// assert!(text.starts_with("hé"));
/// assert!(Utf8Bytes::try_from(vec![0xff]).is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utf8Bytes(Bytes);

/// Bytes that are not valid UTF-8, handed back by [`Utf8Bytes::try_from`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotUtf8 {
    /// The bytes that were given.
    pub bytes: Bytes,
    /// How many leading bytes are valid UTF-8.
    pub valid_up_to: usize,
}

impl fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid UTF-8 after {} of {} bytes",
            self.valid_up_to,
            self.bytes.len()
        )
    }
}

#[cfg(feature = "std")]
impl std::error::Error for NotUtf8 {}

impl Utf8Bytes {
    /// Empty text.
    pub const fn new() -> Utf8Bytes {
        Utf8Bytes(Bytes::new())
    }

    /// Text from a string literal, without allocating.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{PreparedFrame, Utf8Bytes};
    ///
    /// // `const`: a reply sent on every connection costs no allocation, however often it goes.
    /// const WELCOME: Utf8Bytes = Utf8Bytes::from_static("welcome to the room");
    /// let frame = PreparedFrame::text(WELCOME);
    /// assert_eq!(frame.payload(), WELCOME.as_bytes());
    /// ```
    pub const fn from_static(text: &'static str) -> Utf8Bytes {
        Utf8Bytes(Bytes::from_static(text.as_bytes()))
    }

    /// Wraps bytes the core has already validated as UTF-8 (a received text payload).
    ///
    /// Only for bytes proven valid: `as_str` relies on it. Debug builds check it again.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    #[inline]
    pub(crate) fn from_validated(bytes: Bytes) -> Utf8Bytes {
        debug_assert!(core::str::from_utf8(&bytes).is_ok());
        Utf8Bytes(bytes)
    }

    /// The text.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::Utf8Bytes;
    ///
    /// let text = Utf8Bytes::try_from(b"h\xc3\xa9llo".to_vec())?;
    /// // Validated once, when it was made: reading it as `&str` costs nothing.
    /// assert_eq!(text.as_str(), "héllo");
    /// assert_eq!(text.as_str().chars().count(), 5);
    /// # Ok::<(), wsproto::NotUtf8>(())
    /// ```
    #[inline]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor of `Utf8Bytes` either validates its bytes (`try_from`) or
        // takes bytes that are valid UTF-8 by construction (`String`, `&str`, or a text payload
        // the core validated as it arrived, `from_validated`), and the bytes are never mutated
        // afterwards: `Bytes` is immutable and no method hands out `&mut`.
        unsafe { core::str::from_utf8_unchecked(&self.0) }
    }

    /// The text's bytes, shared.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The underlying bytes (no copy).
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl core::borrow::Borrow<str> for Utf8Bytes {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Utf8Bytes {
    /// Takes the string's buffer: no copy, no validation.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::Utf8Bytes;
    ///
    /// let reply = format!("{} users online", 3);
    /// let at = reply.as_ptr();
    /// let text = Utf8Bytes::from(reply);
    /// // The very same bytes: a large message built as a `String` is not copied to be sent.
    /// assert_eq!(text.as_ptr(), at);
    /// assert_eq!(text, "3 users online");
    /// ```
    fn from(text: String) -> Utf8Bytes {
        Utf8Bytes(Bytes::from(text.into_bytes()))
    }
}

impl From<&'static str> for Utf8Bytes {
    /// Borrows the literal: no allocation.
    fn from(text: &'static str) -> Utf8Bytes {
        Utf8Bytes::from_static(text)
    }
}

impl From<&String> for Utf8Bytes {
    /// Copies the string.
    fn from(text: &String) -> Utf8Bytes {
        Utf8Bytes(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(text: Utf8Bytes) -> Bytes {
        text.0
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = NotUtf8;
    /// Validates the bytes (with the crate's SIMD validator) and keeps them, uncopied.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::Utf8Bytes;
    /// use wsproto::bytes::Bytes;
    ///
    /// let text = Utf8Bytes::try_from(Bytes::from_static(b"caf\xc3\xa9"))?;
    /// assert_eq!(text, "café");
    /// // A character cut short: the error says where the text breaks and hands the bytes back.
    /// let err = Utf8Bytes::try_from(Bytes::from_static(b"caf\xc3")).unwrap_err();
    /// assert_eq!(err.valid_up_to, 3);
    /// assert_eq!(err.bytes, b"caf\xc3"[..]);
    /// # Ok::<(), wsproto::NotUtf8>(())
    /// ```
    fn try_from(bytes: Bytes) -> Result<Utf8Bytes, NotUtf8> {
        match crate::utf8::validate(&bytes) {
            Ok(()) => Ok(Utf8Bytes(bytes)),
            Err(valid_up_to) => Err(NotUtf8 { bytes, valid_up_to }),
        }
    }
}

impl TryFrom<Vec<u8>> for Utf8Bytes {
    type Error = NotUtf8;
    /// Validates the bytes and keeps the vector's buffer, uncopied.
    fn try_from(bytes: Vec<u8>) -> Result<Utf8Bytes, NotUtf8> {
        Utf8Bytes::try_from(Bytes::from(bytes))
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Utf8Bytes {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Utf8Bytes> for str {
    fn eq(&self, other: &Utf8Bytes) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Utf8Bytes> for &str {
    fn eq(&self, other: &Utf8Bytes) -> bool {
        *self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    const SAMPLES: [&str; 5] = ["", "ascii", "héllo", "世界 👋🏽", "a\u{10ffff}z"];

    #[test]
    fn as_str_equals_the_checked_conversion_for_every_constructor() {
        for sample in SAMPLES {
            let all = [
                Utf8Bytes::from_static(sample),
                Utf8Bytes::from(sample.to_string()),
                Utf8Bytes::from(&sample.to_string()),
                Utf8Bytes::try_from(Bytes::copy_from_slice(sample.as_bytes())).unwrap(),
                Utf8Bytes::try_from(sample.as_bytes().to_vec()).unwrap(),
                Utf8Bytes::from_validated(Bytes::copy_from_slice(sample.as_bytes())),
            ];
            for text in all {
                assert_eq!(core::str::from_utf8(text.as_bytes()), Ok(sample));
                assert_eq!(text.as_str(), sample);
                assert_eq!(text.clone(), sample);
            }
        }
    }

    #[test]
    fn invalid_bytes_are_refused_with_the_valid_prefix_length() {
        for (bytes, valid) in [
            (vec![0xff], 0),
            (b"ab\xc3".to_vec(), 2),
            (b"\xe4\xb8\x96\xed\xa0\x80".to_vec(), 3),
            (b"ok\xf4\x90\x80\x80".to_vec(), 2),
        ] {
            let err = Utf8Bytes::try_from(bytes.clone()).unwrap_err();
            assert_eq!(err.valid_up_to, valid);
            assert_eq!(err.bytes, bytes);
        }
    }

    #[test]
    fn a_string_is_taken_without_a_copy() {
        let text = "x".repeat(100);
        let ptr = text.as_ptr();
        let bytes = Utf8Bytes::from(text);
        assert_eq!(bytes.as_ptr(), ptr);
        assert_eq!(bytes.clone().into_bytes().as_ptr(), ptr);
    }
}
