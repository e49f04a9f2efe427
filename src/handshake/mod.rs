//! The opening handshake (RFC 6455 section 4).
//!
//! A WebSocket connection starts as an HTTP/1.1 `GET` whose `Upgrade: websocket` and
//! `Connection: Upgrade` headers ask to switch protocols, carrying a random 16-byte
//! `Sec-WebSocket-Key` and `Sec-WebSocket-Version: 13`. The server agrees with
//! `101 Switching Protocols` and proves it understood the request by returning
//! `Sec-WebSocket-Accept`, the base64 SHA-1 of the key and a fixed GUID ([`accept_key`]); it may
//! pick one of the client's subprotocols and answer its extension offers. Any other status is a
//! refusal, after which the connection is plain HTTP. After the 101, both sides speak frames.

// The connection state machine is the only caller of the crate-private half of this module;
// until it lands, only the tests use it. Remove this once it does.

mod client;
mod negotiated;
mod server;
mod url;

use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

use crate::error::HandshakeError;

pub use client::{ClientRequest, Response};
pub use negotiated::Negotiated;
pub use server::{Accept, Request};
pub use url::{UrlError, WsUrl, parse_url};

// The connection state machine drives these; they are not part of the public API.
pub(crate) use client::{new_key, parse_response, validate_response, write_request};
#[cfg(feature = "deflate")]
pub(crate) use negotiated::server_deflate;
#[cfg(feature = "http")]
pub(crate) use server::request_from_parts;
pub(crate) use server::{
    parse_request, validate_request, write_accept, write_error_response, write_reject,
};

/// The GUID that RFC 6455 section 1.3 appends to the key, so that only a WebSocket-aware server
/// can compute the answer.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`: base64(SHA-1(key ++ GUID)).
///
/// Useful when another HTTP stack (hyper, axum, ...) performs the upgrade and only the frames are
/// left to this crate.
///
/// ```
/// assert_eq!(wsproto::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> String {
    String::from_utf8_lossy(&accept_key_bytes(key)).into_owned()
}

/// [`accept_key`] without allocating: base64 of a 20-byte digest is 28 ASCII bytes.
pub(crate) fn accept_key_bytes(key: &[u8]) -> [u8; 28] {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID);
    let mut out = [0u8; 28];
    // 20 bytes always encode to exactly 28; the error case cannot happen.
    let _ = STANDARD.encode_slice(sha.finalize(), &mut out);
    out
}

/// One header of a received handshake head, borrowed from its [`Headers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The name as sent; compare it ASCII-case-insensitively.
    pub name: &'a str,
    /// The value with surrounding whitespace removed. HTTP allows non-UTF-8 bytes here.
    pub value: &'a [u8],
}

impl<'a> Header<'a> {
    /// The value as text, or `None` if it is not UTF-8.
    pub fn value_str(&self) -> Option<&'a str> {
        core::str::from_utf8(self.value).ok()
    }
}

/// The headers of a received head, in the order received. They live in one buffer, so a head
/// costs two allocations however many headers it has.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers {
    /// Names and values back to back.
    bytes: Vec<u8>,
    /// Per header: where its name starts, where it ends and where its value ends in `bytes`.
    spans: Vec<(usize, usize, usize)>,
}

impl Headers {
    /// Headers from names and values of another HTTP stack (the `http` feature's requests).
    #[cfg(feature = "http")]
    pub(crate) fn from_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a [u8])>) -> Headers {
        let mut headers = Headers::default();
        for (name, value) in pairs {
            headers.push(name, value);
        }
        headers
    }

    fn push(&mut self, name: &str, value: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(name.as_bytes());
        let name_end = self.bytes.len();
        self.bytes.extend_from_slice(trim_ows(value));
        self.spans.push((start, name_end, self.bytes.len()));
    }

    fn from_parsed(parsed: &[httparse::Header<'_>]) -> Headers {
        let size = parsed
            .iter()
            .map(|h| h.name.len() + trim_ows(h.value).len())
            .sum();
        let mut headers = Headers {
            bytes: Vec::with_capacity(size),
            spans: Vec::with_capacity(parsed.len()),
        };
        for h in parsed {
            headers.push(h.name, h.value);
        }
        headers
    }

    /// The headers in the order received.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Header<'_>> + '_ {
        self.raw().map(|(name, value)| Header {
            // Names were `&str` from httparse, so they are UTF-8; the fallback cannot happen.
            name: core::str::from_utf8(name).unwrap_or_default(),
            value,
        })
    }

    /// Names and values as bytes: the lookups compare names as bytes, without converting.
    fn raw(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> + '_ {
        self.spans.iter().map(|&(start, name_end, end)| {
            (
                self.bytes.get(start..name_end).unwrap_or_default(),
                self.bytes.get(name_end..end).unwrap_or_default(),
            )
        })
    }

    /// How many headers there are.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The value of the first header called `name` (ASCII-case-insensitive).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        values(self, name).next()
    }
}

/// httparse's header slots: on the stack for up to this many headers, else on the heap.
const STACK_HEADERS: usize = 64;

/// Runs `parse` with `max_headers` empty httparse header slots.
fn with_slots<'h, T>(
    max_headers: usize,
    parse: impl FnOnce(&mut [httparse::Header<'h>]) -> T,
) -> T {
    if max_headers <= STACK_HEADERS {
        let mut slots: [httparse::Header<'h>; STACK_HEADERS] =
            [httparse::EMPTY_HEADER; STACK_HEADERS];
        parse(slots.get_mut(..max_headers).unwrap_or_default())
    } else {
        parse(&mut alloc::vec![httparse::EMPTY_HEADER; max_headers])
    }
}

/// The index just past the first `\r\n\r\n` in `buf`. `searched` bytes of `buf` were already
/// searched in vain, so only the 3 bytes of a terminator that may straddle that point are
/// rescanned: a head that arrives byte by byte costs linear, not quadratic, time.
pub(crate) fn find_head_end(buf: &[u8], searched: usize) -> Option<usize> {
    let start = searched.saturating_sub(3);
    let pos = buf
        .get(start..)?
        .windows(4)
        .position(|w| w == b"\r\n\r\n")?;
    Some(start + pos + 4)
}

/// Whether the comma-separated list `value` holds `token`, ignoring ASCII case and the optional
/// whitespace around elements (RFC 7230 section 7).
pub(crate) fn header_has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|element| trim_ows(element).eq_ignore_ascii_case(token.as_bytes()))
}

/// Whether `name` is a non-empty RFC 7230 token: what a header name, or a subprotocol, may be.
pub(crate) fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `value` can be written without ending the header line early, which would let a
/// caller-supplied value inject headers or a body.
pub(crate) fn valid_header_value(value: &str) -> bool {
    !value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

/// Whether `headers` may be appended to a head: well formed, and none of the `reserved` names
/// the core writes itself (a second copy would contradict it).
fn valid_extra_headers<'a>(
    mut headers: impl Iterator<Item = (&'a str, &'a str)>,
    reserved: &[&str],
) -> bool {
    headers.all(|(name, value)| {
        valid_header_name(name)
            && valid_header_value(value)
            && !reserved.iter().any(|r| r.eq_ignore_ascii_case(name))
    })
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// httparse's verdict on a head that ends with its blank line: complete, or the error.
fn whole_head(parsed: httparse::Result<usize>) -> Result<(), HandshakeError> {
    match parsed.map_err(parse_error)? {
        httparse::Status::Complete(_) => Ok(()),
        httparse::Status::Partial => Err(HandshakeError::Malformed("incomplete head")),
    }
}

fn parse_error(err: httparse::Error) -> HandshakeError {
    HandshakeError::Malformed(match err {
        httparse::Error::TooManyHeaders => return HandshakeError::HeadersTooLarge,
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status code",
        httparse::Error::Token => "invalid method",
        httparse::Error::Version => "invalid HTTP version",
    })
}

/// The first header called `name`, ignoring ASCII case.
fn find<'a>(headers: &'a Headers, name: &str) -> Option<Header<'a>> {
    headers.iter().find(|h| h.name.eq_ignore_ascii_case(name))
}

/// The values of every header called `name`: a list header may be split over several lines,
/// which mean the same as one comma-joined line (RFC 7230 section 3.2.2).
fn values<'a, 'n>(
    headers: &'a Headers,
    name: &'n str,
) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
    headers
        .raw()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, value)| value)
}

/// The value of the header called `name` if it appears exactly once.
fn single<'a>(headers: &'a Headers, name: &'a str) -> Option<&'a [u8]> {
    let mut all = values(headers, name);
    let first = all.next()?;
    all.next().is_none().then_some(first)
}

/// The elements of the comma-separated lists in every header called `name`, trimmed, empty ones
/// skipped. Commas inside a quoted string (an extension parameter value) do not split.
/// Non-UTF-8 values are skipped: no token we compare against can match them.
fn list<'a>(headers: &'a Headers, name: &'a str) -> impl Iterator<Item = &'a str> {
    values(headers, name)
        .filter_map(|v| core::str::from_utf8(v).ok())
        .flat_map(split_unquoted)
}

fn split_unquoted(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    core::iter::from_fn(move || {
        let s = rest.take()?;
        let (mut quoted, mut escaped) = (false, false);
        for (i, b) in s.bytes().enumerate() {
            match b {
                _ if escaped => escaped = false,
                b'\\' if quoted => escaped = true,
                b'"' => quoted = !quoted,
                b',' if !quoted => {
                    let (element, tail) = s.split_at(i);
                    rest = tail.get(1..);
                    return Some(element);
                }
                _ => {}
            }
        }
        Some(s)
    })
    .map(|element| element.trim_matches([' ', '\t']))
    .filter(|element| !element.is_empty())
}

fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_rfc_section_1_3_sample() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn head_end_is_found_whatever_the_split_and_resumes_linearly() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nframes";
        let end = head.len() - "frames".len();
        assert_eq!(find_head_end(head, 0), Some(end));
        for split in 0..=head.len() {
            let mut searched = 0;
            let mut found = None;
            for len in [split, head.len()] {
                found = find_head_end(&head[..len], searched);
                if found.is_some() {
                    break;
                }
                searched = len;
            }
            assert_eq!(found, Some(end), "split at {split}");
        }
        // Byte by byte, each call rescans at most 3 old bytes.
        let mut searched = 0;
        for len in 1..=end {
            let found = find_head_end(&head[..len], searched);
            assert_eq!(found, (len == end).then_some(end));
            searched = len;
        }
    }

    #[test]
    fn head_end_absent_or_searched_past_buffer() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r", 0), None);
        assert_eq!(find_head_end(b"\r\n\r\n", 10), None);
    }

    #[test]
    fn token_lists_ignore_case_and_whitespace() {
        assert!(header_has_token(b"keep-alive, Upgrade", "upgrade"));
        assert!(header_has_token(b"WebSocket", "websocket"));
        assert!(header_has_token(b"\tUPGRADE\t,x", "upgrade"));
        assert!(!header_has_token(b"upgrade-insecure", "upgrade"));
        assert!(!header_has_token(b"", "upgrade"));
    }

    #[test]
    fn header_names_are_tokens_and_values_have_no_line_breaks() {
        assert!(valid_header_name("Set-Cookie"));
        assert!(!valid_header_name(""));
        assert!(!valid_header_name("Bad Name"));
        assert!(!valid_header_name("X:"));
        assert!(valid_header_value("a=b; Path=/"));
        assert!(!valid_header_value("a\r\nInjected: 1"));
        assert!(!valid_header_value("a\0"));
    }

    #[test]
    fn lists_span_headers_and_respect_quotes() {
        let parsed = [
            httparse::Header {
                name: "X-List",
                value: b"a, b;p=\"1,2\"",
            },
            httparse::Header {
                name: "x-list",
                value: b" , c ",
            },
        ];
        let headers = Headers::from_parsed(&parsed);
        assert_eq!(headers.len(), 2);
        assert_eq!(
            list(&headers, "X-LIST").collect::<Vec<_>>(),
            ["a", "b;p=\"1,2\"", "c"]
        );
        assert_eq!(
            split_unquoted(r#"a;q="x\",y",b"#).collect::<Vec<_>>(),
            [r#"a;q="x\",y""#, "b"]
        );
        assert_eq!(single(&headers, "x-list"), None);
        assert_eq!(find(&headers, "X-LIST").map(|h| h.name), Some("X-List"));
    }
}
