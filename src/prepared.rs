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
///   connection (each compressor has its own window, so a compressed frame cannot be shared)
///   and queues a smaller one as prepared (uncompressed messages are always allowed,
///   RFC 7692 section 6);
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
        }
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
