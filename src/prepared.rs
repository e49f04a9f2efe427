//! [`PreparedFrame`]: a server message framed once and queued on many connections.

use bytes::Bytes;

use crate::event::DataKind;
use crate::frame::{self, FrameHeader, MAX_HEADER_LEN, OpCode};
use crate::text::Utf8Bytes;

/// A whole data message framed once, for a server to send to many connections (a chat room's
/// fan-out): [`Connection::send_prepared`](crate::Connection::send_prepared) queues the same
/// frame bytes on each, with no per-connection framing, validation or copy of a large payload.
///
/// The frame is what a server sends: unmasked, final, no reserved bits. Cloning it shares the
/// payload. On each connection:
///
/// - **a server without permessage-deflate** queues the header and payload as they are: a small
///   payload is copied into the queue next to other small frames (one contiguous write, cheaper
///   than a write of its own), a large one (4 KiB and up) is queued by reference;
/// - **a server with permessage-deflate negotiated** compresses a payload at or above its
///   [`compression_threshold`](crate::DeflateConfig::compression_threshold) for that
///   connection and queues a smaller one as prepared (uncompressed messages are always
///   allowed, RFC 7692 section 6). A frame made with
///   [`with_compression`](PreparedFrame::with_compression) is compressed once instead, and each
///   connection whose agreed window is at least the frame's queues those same compressed bytes:
///   see there;
/// - **a client** (whose frames must be masked with a fresh key, RFC 6455 section 5.3) masks
///   the payload into its queue, as for any send.
///
/// ```
/// use wsproto::{Config, Connection, Instant, PreparedFrame, Role, Seed};
///
/// let frame = PreparedFrame::text("héllo, 世界 👋");
/// let mut room: Vec<Connection> = (0..3)
///     .map(|_| Connection::upgraded(Role::Server, Config::default(), Seed([0; 32]), Instant::ZERO))
///     .collect();
/// for conn in &mut room {
///     conn.send_prepared(&frame)?;
///     assert_eq!(conn.transmit(), frame.wire_bytes());
/// }
/// # Ok::<(), wsproto::SendError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedFrame {
    kind: DataKind,
    header: [u8; MAX_HEADER_LEN],
    header_len: u8,
    payload: Bytes,
    /// Header and payload in one piece, built once, for small frames.
    wire: Bytes,
    /// The payload compressed once, for every connection that can take it.
    #[cfg(feature = "deflate")]
    compressed: Option<SharedDeflate>,
}

/// A message's payload compressed from an empty window, with the window it was compressed in.
#[cfg(feature = "deflate")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharedDeflate {
    /// The LZ77 window's bits (9..=15): the frame suits a connection whose own agreed window
    /// is at least this.
    pub(crate) bits: u8,
    /// The compressed payload, without the `00 00 ff ff` tail.
    pub(crate) payload: Bytes,
}

/// Payloads below this are also kept framed in one piece (header + payload), so a connection
/// copies one slice into its queue.
pub(crate) const INLINE_FRAME_MAX: usize = crate::output::OWNED_SEGMENT_MIN;

impl PreparedFrame {
    /// A text message, from a `String` (uncopied), a `&'static str` or [`Utf8Bytes`].
    pub fn text(text: impl Into<Utf8Bytes>) -> PreparedFrame {
        PreparedFrame::new(DataKind::Text, text.into().into_bytes())
    }

    /// A binary message, from a `Vec<u8>` (uncopied), [`Bytes`] or a `&'static [u8]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::PreparedFrame;
    ///
    /// let frame = PreparedFrame::binary(vec![0u8; 8 << 10]);
    /// // 8 KiB: too large to be worth copying next to its header, so each connection queues
    /// // the header and then these very bytes.
    /// assert!(frame.wire_bytes().is_empty());
    /// assert_eq!(frame.header(), [0x82, 126, 0x20, 0x00]); // binary, 16-bit length 8192
    /// assert_eq!(frame.payload().len(), 8 << 10);
    /// ```
    pub fn binary(data: impl Into<Bytes>) -> PreparedFrame {
        PreparedFrame::new(DataKind::Binary, data.into())
    }

    fn new(kind: DataKind, payload: Bytes) -> PreparedFrame {
        let opcode = match kind {
            DataKind::Text => OpCode::Text,
            DataKind::Binary => OpCode::Binary,
        };
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            len: payload.len() as u64,
        };
        let (header, n) = frame::encode_header(&header);
        let wire = if payload.len() < INLINE_FRAME_MAX {
            let mut wire = alloc::vec::Vec::with_capacity(n + payload.len());
            wire.extend_from_slice(&header[..n]);
            wire.extend_from_slice(&payload);
            Bytes::from(wire)
        } else {
            Bytes::new()
        };
        PreparedFrame {
            kind,
            header,
            // A header is at most 14 bytes.
            header_len: n as u8,
            payload,
            wire,
            #[cfg(feature = "deflate")]
            compressed: None,
        }
    }

    /// The same frame, its payload also compressed once for permessage-deflate, so that a room's
    /// fan-out compresses a message once instead of once per member.
    ///
    /// The payload is compressed from an empty window with `config`'s level and memory level, in
    /// a window of the bits a server answers with (`server_max_window_bits`, 12 by default). It
    /// refers back only into itself, so it is valid on any connection whose agreed window for
    /// our side is at least that large, whatever that connection sent before. Such a connection
    /// queues the shared bytes and then forgets its own compressor's window, since the peer's
    /// window now holds a message ours never saw: its next message of its own starts from an
    /// empty window too (RFC 7692 section 7.2.1 lets a sender use less of the window than
    /// agreed). On the other connections, and below the threshold, the frame is sent as
    /// without this.
    ///
    /// Nothing is compressed below `config`'s
    /// [`compression_threshold`](crate::DeflateConfig::compression_threshold).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{DeflateConfig, PreparedFrame};
    ///
    /// let json = r#"{"type":"message","data":{"from":"ana","text":"你好，世界！你好，世界！"}}"#;
    /// let frame = PreparedFrame::text(json).with_compression(&DeflateConfig::default());
    /// assert!(frame.compressed_len().is_some_and(|n| n < json.len()));
    /// ```
    #[cfg(feature = "deflate")]
    pub fn with_compression(mut self, config: &crate::DeflateConfig) -> PreparedFrame {
        if self.payload.len() < config.compression_threshold {
            self.compressed = None;
            return self;
        }
        let bits = config.server_bits(crate::Role::Server);
        let mut compressor = crate::deflate::codec::Compressor::new(
            config.level,
            bits,
            config.mem_level_clamped(),
            true,
        );
        let mut out = alloc::vec::Vec::new();
        compressor.compress_message(&self.payload, &mut out);
        self.compressed = Some(SharedDeflate {
            bits,
            payload: Bytes::from(out),
        });
        self
    }

    /// The size of the payload compressed once by
    /// [`with_compression`](PreparedFrame::with_compression), if it was.
    #[cfg(feature = "deflate")]
    pub fn compressed_len(&self) -> Option<usize> {
        self.compressed.as_ref().map(|c| c.payload.len())
    }

    #[cfg(feature = "deflate")]
    pub(crate) fn shared_deflate(&self) -> Option<&SharedDeflate> {
        self.compressed.as_ref()
    }

    /// Text or binary.
    pub fn kind(&self) -> DataKind {
        self.kind
    }

    /// The payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The encoded frame header.
    pub fn header(&self) -> &[u8] {
        &self.header[..usize::from(self.header_len)]
    }

    /// The whole frame in one piece, as a server without compression sends it, for a payload
    /// under 4 KiB; empty for a larger one (sent as [`header`](PreparedFrame::header) and
    /// [`payload`](PreparedFrame::payload)).
    pub fn wire_bytes(&self) -> &[u8] {
        &self.wire
    }
}
