//! Errors: who caused them, and what goes on the wire.
//!
//! - [`ProtocolError`]: the peer broke RFC 6455 after the handshake. [`ProtocolError::close_code`]
//!   is the single table that maps each violation to the close code the core already queued.
//! - [`HandshakeError`]: the opening handshake failed. [`HandshakeError::status`] is the HTTP
//!   status the server core already queued, or that the client received.
//! - [`SendError`]: local misuse of a send command; nothing was queued and the connection is
//!   unchanged.
//! - [`Error`]: what `recv`, `recv_eof` and `handle_timeout` return.

use alloc::boxed::Box;
use core::fmt;

use crate::close::CloseCode;
use crate::handshake::Response;

/// The peer violated the WebSocket protocol. The connection has failed: the close frame with
/// [`close_code`](ProtocolError::close_code) is queued, and later input is discarded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A reserved bit (RSV1-3) was set that no negotiated extension defines.
    ReservedBitsSet(u8),
    /// An opcode RFC 6455 reserves (0x3-0x7, 0xB-0xF).
    UnknownOpcode(u8),
    /// A control frame with FIN clear.
    FragmentedControlFrame,
    /// A control frame with more than 125 bytes of payload.
    ControlFrameTooLong,
    /// A continuation frame with no message in progress.
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message was in progress.
    ExpectedContinuation,
    /// A server received an unmasked frame, or a client a masked one (RFC 6455 section 5.1).
    WrongMasking,
    /// A 64-bit payload length with the most significant bit set.
    InvalidLength,
    /// A close frame with a 1-byte payload.
    CloseFrameTooShort,
    /// A close code that may not be sent (0-999, 1004-1006, 1015, 1016-2999, 5000+).
    InvalidCloseCode(u16),
    /// Invalid UTF-8 in a text message or a close reason.
    InvalidUtf8,
    /// A frame longer than [`Config::max_frame_size`](crate::Config::max_frame_size).
    FrameTooLarge,
    /// A message longer than [`Config::max_message_size`](crate::Config::max_message_size).
    MessageTooLarge,
    /// More fragments than [`Config::max_fragments`](crate::Config::max_fragments).
    TooManyFragments,
    /// A compressed message that does not decompress (permessage-deflate).
    BadCompression,
}

impl ProtocolError {
    /// The close code sent to the peer for this violation (1002, 1007 or 1009).
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            ProtocolError::FrameTooLarge
            | ProtocolError::MessageTooLarge
            | ProtocolError::TooManyFragments => CloseCode::MESSAGE_TOO_BIG,
            ProtocolError::BadCompression => CloseCode::INVALID_PAYLOAD,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedBitsSet(b) => write!(
                f,
                "peer set reserved bits {b:#05b} that no extension defines"
            ),
            ProtocolError::UnknownOpcode(op) => write!(f, "peer sent reserved opcode {op:#x}"),
            ProtocolError::FragmentedControlFrame => f.write_str("peer fragmented a control frame"),
            ProtocolError::ControlFrameTooLong => {
                f.write_str("peer sent a control frame over 125 bytes")
            }
            ProtocolError::UnexpectedContinuation => {
                f.write_str("peer sent a continuation frame with no message in progress")
            }
            ProtocolError::ExpectedContinuation => {
                f.write_str("peer started a new message before finishing the fragmented one")
            }
            ProtocolError::WrongMasking => {
                f.write_str("peer's frame masking is wrong for its role")
            }
            ProtocolError::InvalidLength => {
                f.write_str("peer sent a 64-bit length with the top bit set")
            }
            ProtocolError::CloseFrameTooShort => {
                f.write_str("peer sent a close frame with a 1-byte payload")
            }
            ProtocolError::InvalidCloseCode(c) => write!(f, "peer sent invalid close code {c}"),
            ProtocolError::InvalidUtf8 => {
                f.write_str("peer sent invalid UTF-8 in a text message or close reason")
            }
            ProtocolError::FrameTooLarge => {
                f.write_str("peer's frame exceeds the configured max_frame_size")
            }
            ProtocolError::MessageTooLarge => {
                f.write_str("peer's message exceeds the configured max_message_size")
            }
            ProtocolError::TooManyFragments => {
                f.write_str("peer's message exceeds the configured max_fragments")
            }
            ProtocolError::BadCompression => {
                f.write_str("peer's compressed message does not inflate")
            }
        }
    }
}

/// The opening handshake failed.
///
/// On a server, the core has already queued the HTTP error reply with
/// [`status`](HandshakeError::status). On a client, the server's answer is kept so that, for
/// example, a 401 is told apart from a bad `Sec-WebSocket-Accept`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The head is not valid HTTP/1.1 (400).
    Malformed(&'static str),
    /// The method is not GET (405).
    MethodNotAllowed,
    /// The request's HTTP version is older than 1.1 (400).
    HttpVersion,
    /// A required header is missing or wrong (400); names the header.
    BadHeader(&'static str),
    /// `Sec-WebSocket-Version` is not 13 (426, with `Sec-WebSocket-Version: 13`).
    UnsupportedVersion,
    /// The head exceeds [`Config::max_handshake_size`](crate::Config::max_handshake_size) or has
    /// more than [`Config::max_headers`](crate::Config::max_headers) headers (431).
    HeadersTooLarge,
    /// Client: the server answered with a status other than 101. The response is kept.
    Rejected(Box<Response>),
    /// Client: a 101 response whose `Sec-WebSocket-Accept` does not match our key.
    BadAccept,
    /// Client: the server chose a subprotocol we did not offer.
    UnofferedSubprotocol,
    /// Client: the server answered with an extension we did not offer, or with bad parameters.
    UnofferedExtension,
    /// The transport ended before the handshake completed.
    Eof,
}

impl HandshakeError {
    /// The HTTP status of the failure: the status the server core replied with, or the status
    /// the client received (101 for a 101 response that failed validation; 0 for [`Eof`]).
    ///
    /// [`Eof`]: HandshakeError::Eof
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::Malformed(_)
            | HandshakeError::HttpVersion
            | HandshakeError::BadHeader(_) => 400,
            HandshakeError::MethodNotAllowed => 405,
            HandshakeError::UnsupportedVersion => 426,
            HandshakeError::HeadersTooLarge => 431,
            HandshakeError::Rejected(r) => r.status(),
            HandshakeError::BadAccept
            | HandshakeError::UnofferedSubprotocol
            | HandshakeError::UnofferedExtension => 101,
            HandshakeError::Eof => 0,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Malformed(why) => write!(f, "malformed handshake: {why}"),
            HandshakeError::MethodNotAllowed => f.write_str("handshake request method is not GET"),
            HandshakeError::HttpVersion => f.write_str("handshake request is older than HTTP/1.1"),
            HandshakeError::BadHeader(name) => {
                write!(f, "handshake header {name} is missing or invalid")
            }
            HandshakeError::UnsupportedVersion => f.write_str("Sec-WebSocket-Version is not 13"),
            HandshakeError::HeadersTooLarge => {
                f.write_str("handshake head exceeds the configured size or header count")
            }
            HandshakeError::Rejected(r) => {
                write!(f, "server rejected the handshake with HTTP {}", r.status())
            }
            HandshakeError::BadAccept => {
                f.write_str("server's Sec-WebSocket-Accept does not match the key")
            }
            HandshakeError::UnofferedSubprotocol => {
                f.write_str("server chose a subprotocol the client did not offer")
            }
            HandshakeError::UnofferedExtension => {
                f.write_str("server chose an extension the client did not offer")
            }
            HandshakeError::Eof => f.write_str("transport ended during the opening handshake"),
        }
    }
}

/// Which timer expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// The opening handshake did not complete in [`Config::handshake_timeout`](crate::Config::handshake_timeout).
    Handshake,
    /// No pong answered a keepalive ping within [`Config::pong_timeout`](crate::Config::pong_timeout).
    Pong,
    /// The close handshake did not complete in [`Config::close_timeout`](crate::Config::close_timeout).
    Close,
}

/// What `recv`, `recv_eof` and `handle_timeout` return on failure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer violated RFC 6455; the close frame is queued.
    Protocol(ProtocolError),
    /// The opening handshake failed.
    Handshake(HandshakeError),
    /// A timer expired; the transport should be closed (see
    /// [`Connection::wants_transport_close`](crate::Connection::wants_transport_close)).
    /// An unanswered keepalive ping queues a close frame with 1011 for the peer; the other
    /// timeouts send nothing and are reported as close code 1006.
    Timeout(TimeoutKind),
    /// The transport ended without a completed close handshake (close code 1006, never sent).
    AbnormalClosure,
    /// The connection already ended (failed, timed out, or closed); only flushing output remains.
    Closed,
    /// Server: input arrived while the application had not yet answered the request with
    /// `accept` or `reject`. The bytes were not consumed.
    AwaitingAccept,
}

impl Error {
    /// The close code the application should see for this error: the code sent for a protocol
    /// error or a keepalive timeout (1011), 1006 for the other timeouts and abnormal closure,
    /// `None` otherwise.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Protocol(e) => Some(e.close_code()),
            Error::Timeout(TimeoutKind::Pong) => Some(CloseCode::INTERNAL_ERROR),
            Error::Timeout(_) | Error::AbnormalClosure => Some(CloseCode::ABNORMAL),
            _ => None,
        }
    }

    /// The HTTP status of a handshake failure.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Handshake(e) => Some(e.status()),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Protocol(e) => write!(f, "{e} (closed with {})", e.close_code()),
            Error::Handshake(e) => e.fmt(f),
            Error::Timeout(TimeoutKind::Handshake) => f.write_str("opening handshake timed out"),
            Error::Timeout(TimeoutKind::Pong) => {
                f.write_str("peer did not answer a keepalive ping in time")
            }
            Error::Timeout(TimeoutKind::Close) => f.write_str("close handshake timed out"),
            Error::AbnormalClosure => {
                f.write_str("transport ended without a close handshake (1006)")
            }
            Error::Closed => f.write_str("the connection has ended"),
            Error::AwaitingAccept => {
                f.write_str("the handshake request must be accepted or rejected first")
            }
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Error::Handshake(e)
    }
}

/// A send command was misused; nothing was queued and the connection is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is not open for sending (handshake pending, or close sent or failed).
    NotOpen,
    /// A ping, pong or close payload over 125 bytes (close: reason over 123 bytes).
    ControlTooLong,
    /// A close code that may not be sent (see [`CloseCode::is_sendable`]).
    InvalidCloseCode(u16),
    /// Queuing this would exceed [`Config::max_pending_output`](crate::Config::max_pending_output):
    /// write out [`Connection::transmit`](crate::Connection::transmit) first.
    OutputFull,
    /// A whole message was sent while a fragmented one is still open.
    MessageInProgress,
    /// A fragment's kind differs from the kind of the message it continues.
    FragmentKindMismatch,
    /// The fragments of a text message are not valid UTF-8.
    InvalidUtf8,
    /// A handshake request or answer is invalid: a subprotocol not offered, a reject status
    /// outside 200-599, a header with CR, LF or a bad name, or a header the core writes itself.
    InvalidHandshakeAnswer,
    /// `accept` or `reject` called when no request is waiting for an answer.
    NoRequestPending,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NotOpen => f.write_str("the connection is not open for sending"),
            SendError::ControlTooLong => {
                f.write_str("control payload over 125 bytes (close reason over 123)")
            }
            SendError::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            SendError::OutputFull => {
                f.write_str("pending output would exceed max_pending_output; flush first")
            }
            SendError::MessageInProgress => {
                f.write_str("a fragmented message is in progress; finish it first")
            }
            SendError::FragmentKindMismatch => {
                f.write_str("fragment kind differs from the message in progress")
            }
            SendError::InvalidUtf8 => f.write_str("text fragments are not valid UTF-8"),
            SendError::InvalidHandshakeAnswer => {
                f.write_str("invalid handshake request or answer (subprotocol, status, or header)")
            }
            SendError::NoRequestPending => {
                f.write_str("no handshake request is waiting for an answer")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ProtocolError {}
#[cfg(feature = "std")]
impl std::error::Error for HandshakeError {}
#[cfg(feature = "std")]
impl std::error::Error for Error {}
#[cfg(feature = "std")]
impl std::error::Error for SendError {}
