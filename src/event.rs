//! What the connection reports: [`Event`]s that lend the caller's input buffer.

use alloc::vec::Vec;
use core::fmt;

use crate::close::CloseFrame;
use crate::handshake::{Request, Response};

/// The most bytes a control frame (ping, pong, close) may carry (RFC 6455 section 5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The payload of a ping or pong: at most 125 bytes, held inline and `Copy`.
#[derive(Clone, Copy)]
pub struct ControlPayload {
    len: u8,
    bytes: [u8; MAX_CONTROL_PAYLOAD],
}

impl ControlPayload {
    /// The empty payload.
    pub const EMPTY: ControlPayload = ControlPayload {
        len: 0,
        bytes: [0; MAX_CONTROL_PAYLOAD],
    };

    /// A payload holding `data`, or `None` if it is longer than 125 bytes.
    pub fn new(data: &[u8]) -> Option<ControlPayload> {
        let mut out = ControlPayload::EMPTY;
        if data.len() > MAX_CONTROL_PAYLOAD {
            return None;
        }
        out.extend(data);
        Some(out)
    }

    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The number of payload bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends as much of `data` as fits; callers check lengths first.
    pub(crate) fn extend(&mut self, data: &[u8]) {
        let start = usize::from(self.len);
        let n = data.len().min(MAX_CONTROL_PAYLOAD - start);
        self.bytes[start..start + n].copy_from_slice(&data[..n]);
        // n <= 125 - start, so this stays <= 125 and fits a u8.
        self.len += n as u8;
    }
}

impl PartialEq for ControlPayload {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for ControlPayload {}

impl fmt::Debug for ControlPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ControlPayload")
            .field(&self.as_bytes())
            .finish()
    }
}

impl AsRef<[u8]> for ControlPayload {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Whether a data message is text (UTF-8) or binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "fuzzing", derive(arbitrary::Arbitrary))]
#[non_exhaustive]
pub enum DataKind {
    /// Opcode 0x1: the payload is UTF-8 text, validated by the receiver.
    Text,
    /// Opcode 0x2: arbitrary bytes.
    Binary,
}

/// Message bytes: borrowed from the caller's input when the message arrived whole in one
/// frame, or owned when it was reassembled from several frames or reads (or decompressed).
/// Either way the connection is not borrowed, so the caller may send while holding it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Payload<'a> {
    /// Unmasked in place in the caller's input buffer.
    Borrowed(&'a [u8]),
    /// Reassembled; the connection handed over its buffer.
    Owned(Vec<u8>),
}

impl Payload<'_> {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Payload::Borrowed(b) => b,
            Payload::Owned(v) => v,
        }
    }

    /// The bytes as an owned vector (copies only if borrowed).
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            Payload::Borrowed(b) => b.to_vec(),
            Payload::Owned(v) => v,
        }
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }
}

impl core::ops::Deref for Payload<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for Payload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if matches!(self, Payload::Borrowed(_)) {
            "Borrowed"
        } else {
            "Owned"
        };
        write!(f, "Payload::{kind}({} bytes)", self.len())
    }
}

/// A whole data message, delivered in [`Delivery::Messages`](crate::Delivery) mode.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message<'a> {
    /// Text or binary.
    pub kind: DataKind,
    /// The payload; for text, valid UTF-8.
    pub payload: Payload<'a>,
}

impl Message<'_> {
    /// The text of a text message (`None` for binary).
    pub fn as_text(&self) -> Option<&str> {
        match self.kind {
            // Text messages are validated before they are delivered.
            DataKind::Text => core::str::from_utf8(&self.payload).ok(),
            DataKind::Binary => None,
        }
    }
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("kind", &self.kind)
            .field("payload", &self.payload)
            .finish()
    }
}

/// A piece of a data message, delivered in [`Delivery::Chunks`](crate::Delivery) mode as it
/// arrives, unmasked in place; memory stays bounded for any message size.
///
/// For text, the concatenation of a message's chunks is valid UTF-8, but one chunk may end in
/// the middle of a character.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Chunk<'a> {
    /// Text or binary (the kind of the whole message).
    pub kind: DataKind,
    /// The bytes of this piece; may be empty (e.g. for an empty message or a final empty frame).
    pub data: Payload<'a>,
    /// The first chunk of its message.
    pub first: bool,
    /// The last chunk of its message.
    pub last: bool,
}

/// Something that happened on the connection.
///
/// # Examples
///
/// The protocol's duties are done before an event is reported, so an application matches
/// only on what it cares about:
///
/// ```
/// use wsproto::{Config, Connection, Event, Instant, Role, Seed};
///
/// let now = Instant::ZERO;
/// let mut server = Connection::upgraded(Role::Server, Config::default(), Seed([7; 32]), now);
/// # let mut client = Connection::upgraded(Role::Client, Config::default(), Seed([7; 32]), now);
/// # client.send_text("hi")?;
/// # client.ping(b"1")?;
/// # client.close(now, wsproto::CloseCode::NORMAL, "bye")?;
/// # let mut input: Vec<u8> = client.transmit_slices().flatten().copied().collect();
/// let (mut seen, mut at) = (Vec::new(), 0);
/// while at < input.len() {
///     let recv = server.recv(now, &mut input[at..])?;
///     at += recv.consumed;
///     match recv.event {
///         Some(Event::Message(msg)) => seen.push(format!("text {}", msg.as_text().unwrap())),
///         // The pong and the close echo are already queued: there is nothing to answer.
///         Some(Event::Ping(payload)) => seen.push(format!("ping {}", payload.len())),
///         Some(Event::Close(frame)) => seen.push(format!("close {}", frame.code())),
///         Some(_) | None => {}
///     }
/// }
/// assert_eq!(seen, ["text hi", "ping 1", "close 1000"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Server: a complete, valid opening-handshake request. Answer it with
    /// [`Connection::accept`](crate::Connection::accept) or
    /// [`Connection::reject`](crate::Connection::reject).
    Request(Request),
    /// The connection is open. Client: the server's 101 response, validated. Server: sent after
    /// [`Connection::accept`](crate::Connection::accept) is never reported; this is client-only.
    Connected(Response),
    /// A whole data message.
    Message(Message<'a>),
    /// A piece of a data message.
    Chunk(Chunk<'a>),
    /// The peer pinged; the pong is already queued.
    Ping(ControlPayload),
    /// The peer's pong (solicited or not).
    Pong(ControlPayload),
    /// The peer's close frame. If we had not closed, the echo is already queued.
    Close(CloseFrame),
}
