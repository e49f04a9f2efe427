//! permessage-deflate (RFC 7692): compressed messages, negotiated in the opening handshake.
//!
//! A message is compressed as a whole with raw DEFLATE (RFC 1951), flushed with an empty stored
//! block whose 4-byte tail `00 00 ff ff` is then cut off; its first frame carries RSV1. With
//! *context takeover* (the default) the LZ77 window survives from one message to the next, so a
//! run of similar messages compresses far better, at the price of keeping the window between
//! messages.
//!
//! Settings are in [`DeflateConfig`]; the agreed parameters in [`DeflateParams`].
//!
//! ## Backend
//!
//! zlib-rs, a pure-Rust zlib, through its zlib-compatible
//! API with this crate's own allocator hooks, so that it needs neither `std` nor a C library:
//! the crate stays `#![no_std]` + `alloc`. It compresses and decompresses with any window of
//! 2^9 to 2^15 bytes.
//!
//! ## Window bits 8
//!
//! RFC 7692 allows a window of 2^8 = 256 bytes, but zlib (and zlib-rs) cannot compress with
//! it. When 8 is negotiated for our side the compressor uses 9 bits, which is still within the
//! agreement: zlib never refers further back than the window size minus 262 bytes, i.e. 250
//! bytes with a 512-byte window, so everything it produces decodes with a 256-byte window (a
//! test checks this). A live decompressor accepts the full 32 KiB window (see
//! `Decompressor::new`), which covers every conforming peer and the zlib-based peers that
//! silently turn 8 into 9; across an idle release it keeps 2^9 bytes for an agreed 8.
//!
//! ## Memory
//!
//! Both zlib streams are created lazily, at the first compressed message in their direction,
//! and freed once [`DeflateConfig::release_after`] (1 s) passes without a compressed message
//! in either direction (checked from [`Connection::handle_timeout`](crate::Connection::handle_timeout),
//! which the adapters call; never in the middle of a message). A release keeps what context
//! takeover needs, the last 2^window_bits bytes of each direction's uncompressed data, and the
//! next message's stream is primed with it (`deflateSetDictionary` / `inflateSetDictionary`),
//! so the peer sees one continuous stream; without context takeover nothing is kept.
//!
//! Heap bytes per stream, measured by the test `memory_table` with a counting allocator after
//! a 100 KB message, for every window size and memory level (bytes; `docs/deflate-memory.md` has
//! the same tables with the decompressor's by window size and the release costs):
//!
//! | window bits | mem_level 1 | mem_level 2 | mem_level 3 | mem_level 4 | mem_level 5 (default) | mem_level 6 | mem_level 7 | mem_level 8 (zlib's default) | mem_level 9 | released |
//! | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
//! | 9 | 137,353 | 138,249 | 140,041 | 143,625 | 150,793 | 165,129 | 193,801 | 251,145 | 365,833 | 512 |
//! | 10 | 139,401 | 140,297 | 142,089 | 145,673 | 152,841 | 167,177 | 195,849 | 253,193 | 367,881 | 1,024 |
//! | 11 | 143,497 | 144,393 | 146,185 | 149,769 | 156,937 | 171,273 | 199,945 | 257,289 | 371,977 | 2,048 |
//! | 12 | 151,689 | 152,585 | 154,377 | 157,961 | 165,129 | 179,465 | 208,137 | 265,481 | 380,169 | 4,096 |
//! | 13 | 168,073 | 168,969 | 170,761 | 174,345 | 181,513 | 195,849 | 224,521 | 281,865 | 396,553 | 8,192 |
//! | 14 | 200,841 | 201,737 | 203,529 | 207,113 | 214,281 | 228,617 | 257,289 | 314,633 | 429,321 | 16,384 |
//! | 15 | 266,377 | 267,273 | 269,065 | 272,649 | 279,817 | 294,153 | 322,825 | 380,169 | 494,857 | 32,768 |
//!
//! A live compressor is 128 KiB of hash table (zlib-rs fixes it at 2^16 entries whatever the
//! memory level), 4 × 2^window_bits bytes of window and hash chains, and 7 bytes per symbol of
//! a 2^(mem_level + 6)-symbol block. A live decompressor is 47,689 B whatever the window (zlib-rs
//! always allocates 32 KiB); released it keeps 2^window_bits bytes (2^9 for 8 bits). With a
//! server's defaults (12 bits, memory level 5) a connection holds 212,818 B while messages
//! flow and 8,192 B of history once idle; nothing before its first compressed message.
//!
//! With `*_no_context_takeover` the stream is reset after each message while it is live and
//! nothing is kept when it is released. Buffers for the messages themselves come on top.
//!
//! On chat-like JSON (100-300 byte messages, mostly CJK and emoji text, test
//! `ratio_of_small_windows`) 12 bits with memory level 5 compress to 24.7% of the input against
//! 22.5% for 15 bits with memory level 8 (9.7% larger output); on the Autobahn 12.x data the
//! difference is under 1% for messages of 256 B and more (`docs/deflate-memory.md`).

mod backend;
pub(crate) mod codec;
pub(crate) mod negotiate;

use core::time::Duration;

use crate::connection::Role;
use crate::error::ProtocolError;

/// The extension's name in `Sec-WebSocket-Extensions`.
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// permessage-deflate settings: what to offer (client) or accept (server), and how to compress.
///
/// | field | default |
/// | --- | --- |
/// | [`server_no_context_takeover`](DeflateConfig::server_no_context_takeover) | `false` |
/// | [`client_no_context_takeover`](DeflateConfig::client_no_context_takeover) | `false` |
/// | [`server_max_window_bits`](DeflateConfig::server_max_window_bits) | `None`: a client does not limit it (15); a server answers 12 |
/// | [`client_max_window_bits`](DeflateConfig::client_max_window_bits) | `None`: a client offers 15; a server asks for 12 when the client offered the parameter |
/// | [`mem_level`](DeflateConfig::mem_level) | 5 |
/// | [`compression_threshold`](DeflateConfig::compression_threshold) | 64 bytes |
/// | [`level`](DeflateConfig::level) | 3 |
/// | [`release_after`](DeflateConfig::release_after) | 1 s |
///
/// The defaults of a server are chosen for memory, as Python's websockets does: to a browser's
/// offer (`permessage-deflate; client_max_window_bits`) it answers
/// `permessage-deflate; server_max_window_bits=12; client_max_window_bits=12`, compresses
/// with zlib memory level 5, and frees its zlib streams after 1 s without a compressed
/// message, keeping 4 KiB of history per direction (see the [module docs](self) for the
/// figures). The defaults of a client keep its offer the one browsers make, which every
/// server that implements the extension accepts.
///
/// Window bits outside 9..=15, memory levels outside 1..=9 and levels above 9 are clamped
/// where they are used.
///
/// # Examples
///
/// ```
/// use wsproto::{ClientRequest, Config, Connection, DeflateConfig, Instant, Seed};
///
/// let deflate = DeflateConfig::default()
///     .server_max_window_bits(10)
///     .server_no_context_takeover(true);
/// let config = Config::default().deflate(deflate);
/// let request = ClientRequest::new("example.com", "/");
/// let client = Connection::client(config, request, Seed([7; 32]), Instant::ZERO)?;
/// // The settings go to the server as an offer, which it may accept or decline.
/// let head = String::from_utf8_lossy(client.transmit());
/// let offer = "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; \
///     client_max_window_bits";
/// assert!(head.contains(&format!("\r\nSec-WebSocket-Extensions: {offer}\r\n")));
/// # Ok::<(), wsproto::SendError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// The server resets its compressor after every message (no shared window between
    /// messages): less memory use on neither side, but worse compression. A client asks for it
    /// in its offer; a server always grants it when asked, and imposes it on itself when set.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message. A client does so when set (and
    /// tells the server); a server asks the client for it when set.
    pub client_no_context_takeover: bool,
    /// The largest LZ77 window of the server's compressor, as a power of two (9..=15). A client
    /// asks for at most this (when set below 15); a server compresses with at most this, and
    /// with less when the client asks for less. `None` (the default): a client does not ask,
    /// a server answers with at most 12 bits (4 KiB).
    pub server_max_window_bits: Option<u8>,
    /// The largest LZ77 window of the client's compressor, as a power of two (9..=15). A client
    /// compresses with at most this (and says so when below 15); a server asks the client for at
    /// most this when the client supports the parameter. `None` (the default): a client offers
    /// 15, a server asks for 12 bits (4 KiB) when it may.
    pub client_max_window_bits: Option<u8>,
    /// zlib's `memLevel` for our compressor, 1..=9: how many symbols a DEFLATE block gathers
    /// (2^(mem_level + 6)), so the compressor's buffers (7 × 2^(mem_level + 6) bytes: 14 KiB at
    /// 5, 112 KiB at zlib's usual 8). The default 5 is what Python's websockets uses; the
    /// [module docs](self) table the memory and ratio.
    pub mem_level: u8,
    /// Messages shorter than this many bytes are sent uncompressed (RSV1 clear): compressing
    /// tiny messages costs time and rarely saves bytes. Fragmented messages are always
    /// compressed.
    pub compression_threshold: usize,
    /// The compression level, 0 (store only) to 9 (smallest output). The default is 3: on
    /// 2 KB JSON messages with context takeover (measured once on the development machine), zlib-rs at
    /// level 3 compresses about twice as fast as zlib's usual 6 (105 vs 47 MB/s on one core)
    /// for output only 8% larger (15.2% vs 14.1% of the input); level 1 is faster again
    /// (390 MB/s) but its output is 58% larger than level 6's.
    pub level: u8,
    /// How long a zlib stream stays allocated after the last compressed message in its
    /// direction. Once that long has passed without one, the connection frees it at its next
    /// [`handle_timeout`](crate::Connection::handle_timeout) (the adapters call it), keeping
    /// only the history that context takeover needs (2^window_bits bytes, nothing without
    /// context takeover), and primes a new stream with it at the next message. A stream is
    /// freed between 1× and 2× this after its last use (the connection checks once per
    /// period whether a message passed), never in the middle of a message. The default is
    /// 1 s; `None` or zero keeps the streams for the connection's life. Without it an idle
    /// compressed connection holds about 200 KiB (see the [module docs](self)); freeing and
    /// re-creating a stream costs about as much as compressing a few KiB.
    pub release_after: Option<Duration>,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: None,
            client_max_window_bits: None,
            mem_level: DEFAULT_MEM_LEVEL,
            compression_threshold: 64,
            level: 3,
            release_after: Some(Duration::from_secs(1)),
        }
    }
}

/// The window bits a server answers with by default (`server_max_window_bits`, and
/// `client_max_window_bits` when the client offered it).
pub(crate) const SERVER_DEFAULT_WINDOW_BITS: u8 = 12;

/// The default [`DeflateConfig::mem_level`].
const DEFAULT_MEM_LEVEL: u8 = 5;

impl DeflateConfig {
    /// Sets [`server_no_context_takeover`](DeflateConfig::server_no_context_takeover).
    pub fn server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }
    /// Sets [`client_no_context_takeover`](DeflateConfig::client_no_context_takeover).
    pub fn client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }
    /// Sets [`server_max_window_bits`](DeflateConfig::server_max_window_bits).
    pub fn server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = Some(bits);
        self
    }
    /// Sets [`client_max_window_bits`](DeflateConfig::client_max_window_bits).
    pub fn client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = Some(bits);
        self
    }
    /// Sets [`mem_level`](DeflateConfig::mem_level).
    pub fn mem_level(mut self, mem_level: u8) -> Self {
        self.mem_level = mem_level;
        self
    }
    /// Sets [`compression_threshold`](DeflateConfig::compression_threshold).
    pub fn compression_threshold(mut self, bytes: usize) -> Self {
        self.compression_threshold = bytes;
        self
    }
    /// Sets [`level`](DeflateConfig::level).
    pub fn level(mut self, level: u8) -> Self {
        self.level = level;
        self
    }
    /// Sets [`release_after`](DeflateConfig::release_after).
    pub fn release_after(mut self, idle: Option<Duration>) -> Self {
        self.release_after = idle;
        self
    }

    /// `server_max_window_bits` for `role` within 9..=15.
    pub(crate) fn server_bits(&self, role: Role) -> u8 {
        self.server_max_window_bits
            .unwrap_or(match role {
                Role::Client => 15,
                Role::Server => SERVER_DEFAULT_WINDOW_BITS,
            })
            .clamp(9, 15)
    }

    /// `client_max_window_bits` for `role` within 9..=15.
    pub(crate) fn client_bits(&self, role: Role) -> u8 {
        self.client_max_window_bits
            .unwrap_or(match role {
                Role::Client => 15,
                Role::Server => SERVER_DEFAULT_WINDOW_BITS,
            })
            .clamp(9, 15)
    }

    /// `mem_level` within 1..=9.
    pub(crate) fn mem_level_clamped(&self) -> u8 {
        self.mem_level.clamp(1, 9)
    }

    /// `release_after`, `None` when zero.
    pub(crate) fn release_delay(&self) -> Option<Duration> {
        self.release_after.filter(|d| !d.is_zero())
    }
}

/// The parameters both sides agreed on in the handshake.
///
/// Window bits are 8..=15 as negotiated (see the [module docs](self) for how 8 is handled).
/// [`DeflateParams::new`] (and `Default`) is the RFC's default: context takeover both ways,
/// 15-bit windows.
///
/// The core negotiates these itself ([`Connection::deflate_params`](crate::Connection::deflate_params)
/// reports them). When the upgrade happened elsewhere, build the agreed parameters for
/// [`Connection::upgraded_with_deflate`](crate::Connection::upgraded_with_deflate) with the
/// `with_*` methods:
///
/// ```
/// use wsproto::DeflateParams;
///
/// // The response said `permessage-deflate; server_no_context_takeover; server_max_window_bits=10`.
/// let params = DeflateParams::new()
///     .with_server_no_context_takeover(true)
///     .with_server_max_window_bits(10);
/// assert!(params.server_no_context_takeover() && !params.client_no_context_takeover());
/// assert_eq!((params.server_max_window_bits(), params.client_max_window_bits()), (10, 15));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The server resets its compressor after every message.
    server_no_context_takeover: bool,
    /// The client resets its compressor after every message.
    client_no_context_takeover: bool,
    /// The server compresses with an LZ77 window of at most 2^this bytes.
    server_max_window_bits: u8,
    /// The client compresses with an LZ77 window of at most 2^this bytes.
    client_max_window_bits: u8,
}

impl Default for DeflateParams {
    fn default() -> Self {
        DeflateParams::new()
    }
}

/// `bits` within the 8..=15 that RFC 7692 allows for window bits.
const fn window_bits(bits: u8) -> u8 {
    if bits < 8 {
        8
    } else if bits > 15 {
        15
    } else {
        bits
    }
}

impl DeflateParams {
    /// The RFC's default parameters: context takeover both ways, 15-bit windows (what an offer
    /// and an answer without parameters agree on).
    pub const fn new() -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }

    /// Sets whether the server resets its compressor after every message
    /// (`server_no_context_takeover` was agreed).
    pub const fn with_server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }

    /// Sets whether the client resets its compressor after every message
    /// (`client_no_context_takeover` was agreed).
    pub const fn with_client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }

    /// Sets the agreed `server_max_window_bits`; values outside 8..=15 are clamped into it.
    pub const fn with_server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = window_bits(bits);
        self
    }

    /// Sets the agreed `client_max_window_bits`; values outside 8..=15 are clamped into it.
    pub const fn with_client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = window_bits(bits);
        self
    }

    /// Whether the server resets its compressor after every message.
    pub const fn server_no_context_takeover(&self) -> bool {
        self.server_no_context_takeover
    }

    /// Whether the client resets its compressor after every message.
    pub const fn client_no_context_takeover(&self) -> bool {
        self.client_no_context_takeover
    }

    /// The server compresses with an LZ77 window of at most 2^this bytes (8..=15).
    pub const fn server_max_window_bits(&self) -> u8 {
        self.server_max_window_bits
    }

    /// The client compresses with an LZ77 window of at most 2^this bytes (8..=15).
    pub const fn client_max_window_bits(&self) -> u8 {
        self.client_max_window_bits
    }
}

/// Why a compressed message could not be inflated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// It inflates to more than the limit (close code 1009).
    TooLarge,
    /// It is not valid DEFLATE data, or it stops in the middle of a block (1007).
    Corrupt,
}

impl From<InflateError> for ProtocolError {
    fn from(e: InflateError) -> Self {
        match e {
            InflateError::TooLarge => ProtocolError::MessageTooLarge,
            InflateError::Corrupt => ProtocolError::BadCompression,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::close::CloseCode;

    #[test]
    fn inflate_errors_map_to_1009_and_1007() {
        assert_eq!(
            ProtocolError::from(InflateError::TooLarge).close_code(),
            CloseCode::MESSAGE_TOO_BIG
        );
        assert_eq!(
            ProtocolError::from(InflateError::Corrupt).close_code(),
            CloseCode::INVALID_PAYLOAD
        );
    }

    #[test]
    fn defaults_and_builder() {
        let c = DeflateConfig::default();
        // A client does not limit windows by default; a server answers with 12 bits.
        assert_eq!(
            (c.server_bits(Role::Client), c.client_bits(Role::Client)),
            (15, 15)
        );
        assert_eq!(
            (c.server_bits(Role::Server), c.client_bits(Role::Server)),
            (12, 12)
        );
        assert_eq!((c.mem_level, c.level), (5, 3));
        assert_eq!(c.release_delay(), Some(Duration::from_secs(1)));
        let c = DeflateConfig::default()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true)
            .server_max_window_bits(3)
            .client_max_window_bits(200)
            .mem_level(0)
            .compression_threshold(0)
            .level(1)
            .release_after(Some(Duration::ZERO));
        assert!(c.server_no_context_takeover && c.client_no_context_takeover);
        for role in [Role::Client, Role::Server] {
            assert_eq!((c.server_bits(role), c.client_bits(role)), (9, 15));
        }
        assert_eq!((c.compression_threshold, c.level), (0, 1));
        assert_eq!(c.mem_level_clamped(), 1);
        assert_eq!(c.clone().mem_level(20).mem_level_clamped(), 9);
        // Zero means never.
        assert_eq!(c.release_delay(), None);
        assert_eq!(c.release_after(None).release_delay(), None);
        assert_eq!(
            DeflateParams::default(),
            DeflateParams {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
                server_max_window_bits: 15,
                client_max_window_bits: 15,
            }
        );
    }

    #[test]
    fn params_builder_sets_and_clamps_and_getters_read() {
        let p = DeflateParams::new()
            .with_server_no_context_takeover(true)
            .with_client_no_context_takeover(true)
            .with_server_max_window_bits(8)
            .with_client_max_window_bits(12);
        assert!(p.server_no_context_takeover() && p.client_no_context_takeover());
        assert_eq!(
            (p.server_max_window_bits(), p.client_max_window_bits()),
            (8, 12)
        );
        let p = DeflateParams::new()
            .with_server_max_window_bits(0)
            .with_client_max_window_bits(200);
        assert_eq!(
            (p.server_max_window_bits(), p.client_max_window_bits()),
            (8, 15)
        );
        assert!(!p.server_no_context_takeover() && !p.client_no_context_takeover());
    }
}
