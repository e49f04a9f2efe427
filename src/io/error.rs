//! [`WsError`]: what the adapters return, by who caused it and what went on the wire.

use std::boxed::Box;

use bytes::Bytes;
use std::string::String;
use std::{fmt, io};

use crate::close::{CloseCode, CloseFrame};
use crate::error::{Error, HandshakeError, ProtocolError, SendError, TimeoutKind};
use crate::handshake::{Response, UrlError};

/// The most of a refused handshake's response body [`WsError::Refused`] keeps.
pub const MAX_REFUSAL_BODY: usize = 64 << 10;

/// Everything an adapter call can fail with.
///
/// Each variant says who caused the failure and what was sent about it: the close code for a
/// failed connection ([`close_code`](WsError::close_code)), the HTTP status for a failed
/// handshake ([`http_status`](WsError::http_status)). `recv` does not return an error for the
/// clean end of a connection: it returns `Ok(None)`.
///
/// ```no_run
/// use wsproto::io::{Message, WsError};
///
/// # async fn run(mut ws: wsproto::io::tokio::WebSocketStream<tokio::net::TcpStream>) -> Result<(), WsError> {
/// // `?` keeps real failures; the loop ends on the clean close.
/// while let Some(message) = ws.recv().await? {
///     if let Message::Text(text) = message {
///         ws.send(text).await?;
///     }
/// }
/// # Ok(())
/// # }
/// ```
///
/// It converts into an [`io::Error`] (the `WsError` is kept as the source), so `?` works in a
/// function that returns `io::Result`.
///
/// # Examples
///
/// Who caused a failure decides what to log and whether to retry:
///
/// ```
/// use wsproto::Config;
/// use wsproto::io::WsError;
/// use wsproto::io::blocking::WebSocket;
/// # use std::io::{self, Read, Write};
/// # #[derive(Debug)] struct Memory { input: io::Cursor<Vec<u8>>, output: Vec<u8> }
/// # impl Memory { fn new(input: &[u8]) -> Memory { Memory { input: io::Cursor::new(input.to_vec()), output: Vec::new() } } }
/// # impl Read for Memory { fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> { self.input.read(buf) } }
/// # impl Write for Memory {
/// #     fn write(&mut self, buf: &[u8]) -> io::Result<usize> { self.output.write(buf) }
/// #     fn flush(&mut self) -> io::Result<()> { Ok(()) }
/// # }
/// # impl wsproto::io::blocking::Transport for Memory {}
///
/// // A plain HTTP request, with no `Upgrade`, reaches a WebSocket endpoint.
/// let mut socket = Memory::new(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
/// let err = WebSocket::accept(&mut socket, Config::default()).unwrap_err();
/// let blame = match err {
///     WsError::Handshake(_) | WsError::Protocol(_) | WsError::LimitExceeded(_) => "peer",
///     WsError::Io(_) | WsError::AbnormalClosure | WsError::Timeout(_) => "network",
///     _ => "us",
/// };
/// assert_eq!(blame, "peer");
/// // The client was answered before the error was returned.
/// assert!(socket.output.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum WsError {
    /// The connection has ended after a completed close handshake, and this call needs an
    /// open one (a send after the end). Holds the peer's close frame, if it sent one.
    Closed(Option<Box<CloseFrame>>),
    /// Client: the server refused the opening handshake with a response other than 101 (401,
    /// 403, 404, a proxy's 502...).
    Refused {
        /// The status line and headers.
        response: Box<Response>,
        /// The body: up to its `Content-Length`, or until the server closed, at most
        /// [`MAX_REFUSAL_BODY`] bytes, read within the close timeout. A chunked body is given
        /// as it came, undecoded.
        body: Bytes,
    },
    /// The opening handshake failed otherwise. A client: the server's 101 response was wrong
    /// (its `Sec-WebSocket-Accept`, an unoffered subprotocol or extension) or the transport
    /// ended first. A server: the request was bad, and the HTTP error
    /// [`HandshakeError::status`] was sent.
    Handshake(HandshakeError),
    /// Server: the application rejected the request; this HTTP status was sent.
    Rejected {
        /// The status the application chose (401, 403, ...).
        status: u16,
    },
    /// Server: the application accepted with a subprotocol the client did not offer. The
    /// client got `500 Internal Server Error`, not a silent drop.
    UnofferedSubprotocol(String),
    /// Server: the application's answer could not be written (a header with CR or LF, a
    /// header the core writes itself, a status outside 200-599). The client got a 500.
    InvalidAnswer(SendError),
    /// The peer violated RFC 6455; the close frame with [`ProtocolError::close_code`] (1002 or
    /// 1007) was sent.
    Protocol(ProtocolError),
    /// The peer exceeded a configured limit (frame or message size, fragment count): the close
    /// frame 1009 was sent. The error names the limit.
    LimitExceeded(ProtocolError),
    /// A timer expired: the opening handshake, the keepalive pong, or the close handshake.
    /// The transport was closed: after an unanswered keepalive ping with a close frame 1011
    /// sent first, otherwise with nothing sent (close code 1006).
    Timeout(TimeoutKind),
    /// The transport ended without a close handshake (close code 1006): the peer went away or
    /// the network failed.
    AbnormalClosure,
    /// This side misused a send: a control payload over 125 bytes, a fragment out of order, a
    /// send while the close handshake is running, or output over the configured limit.
    /// Nothing was queued.
    Send(SendError),
    /// The URL given to `connect` is not a valid `ws://` or `wss://` URL, or a request built
    /// without a URL was given to `connect`.
    Url(UrlError),
    /// The TLS handshake or TLS setup (the root certificates) failed.
    Tls(Box<dyn std::error::Error + Send + Sync>),
    /// `wss://` was asked of an adapter that has no TLS here: the message says what to enable
    /// or how to bring a TLS stream.
    TlsUnavailable(&'static str),
    /// The transport failed (connection refused, reset, broken pipe, ...).
    Io(io::Error),
}

impl WsError {
    /// The close code of the end: the one the peer sent for [`Closed`](WsError::Closed), the one
    /// sent to the peer for a protocol violation, a limit or a keepalive timeout (1011), 1006 for
    /// the other timeouts and abnormal closure, `None` otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::io::blocking::WebSocket;
    /// use wsproto::{CloseCode, Config, Role};
    /// # use std::io::{self, Read, Write};
    /// # #[derive(Debug)] struct Memory { input: io::Cursor<Vec<u8>>, output: Vec<u8> }
    /// # impl Memory { fn new(input: &[u8]) -> Memory { Memory { input: io::Cursor::new(input.to_vec()), output: Vec::new() } } }
    /// # impl Read for Memory { fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> { self.input.read(buf) } }
    /// # impl Write for Memory {
    /// #     fn write(&mut self, buf: &[u8]) -> io::Result<usize> { self.output.write(buf) }
    /// #     fn flush(&mut self) -> io::Result<()> { Ok(()) }
    /// # }
    /// # impl wsproto::io::blocking::Transport for Memory {}
    ///
    /// // Clients must mask their frames: this one does not.
    /// let mut socket = Memory::new(b"\x81\x02hi");
    /// let mut ws = WebSocket::upgraded(&mut socket, Role::Server, Config::default())?;
    /// let err = ws.recv().unwrap_err();
    /// assert_eq!(err.close_code(), Some(CloseCode::PROTOCOL_ERROR));
    /// drop(ws);
    /// // The peer was told the same code: a close frame carrying 1002 (0x03ea).
    /// assert_eq!(socket.output, [0x88, 0x02, 0x03, 0xea]);
    /// # Ok::<(), wsproto::io::WsError>(())
    /// ```
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            WsError::Closed(frame) => frame.as_deref().map(CloseFrame::code),
            WsError::Protocol(e) | WsError::LimitExceeded(e) => Some(e.close_code()),
            WsError::Timeout(TimeoutKind::Pong) => Some(CloseCode::INTERNAL_ERROR),
            WsError::Timeout(_) | WsError::AbnormalClosure => Some(CloseCode::ABNORMAL),
            _ => None,
        }
    }

    /// The HTTP status of a failed handshake: received (client) or sent (server).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::Config;
    /// use wsproto::io::blocking::{Reject, WebSocket};
    /// # use std::io::{self, Read, Write};
    /// # #[derive(Debug)] struct Memory { input: io::Cursor<Vec<u8>>, output: Vec<u8> }
    /// # impl Memory { fn new(input: &[u8]) -> Memory { Memory { input: io::Cursor::new(input.to_vec()), output: Vec::new() } } }
    /// # impl Read for Memory { fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> { self.input.read(buf) } }
    /// # impl Write for Memory {
    /// #     fn write(&mut self, buf: &[u8]) -> io::Result<usize> { self.output.write(buf) }
    /// #     fn flush(&mut self) -> io::Result<()> { Ok(()) }
    /// # }
    /// # impl wsproto::io::blocking::Transport for Memory {}
    /// # let request = wsproto::ClientRequest::new("example.com", "/");
    /// # let client = wsproto::Connection::client(wsproto::Config::default(), request, wsproto::Seed([7; 32]), wsproto::Instant::ZERO)?;
    /// # let request_bytes = client.transmit().to_vec();
    ///
    /// let mut socket = Memory::new(&request_bytes);
    /// // No credentials in the request: refuse it.
    /// let err = WebSocket::accept_with(&mut socket, Config::default(), |_| Reject::forbidden());
    /// assert_eq!(err.unwrap_err().http_status(), Some(403));
    /// assert!(socket.output.starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn http_status(&self) -> Option<u16> {
        match self {
            WsError::Refused { response, .. } => Some(response.status()),
            WsError::Handshake(e) => Some(e.status()),
            WsError::Rejected { status } => Some(*status),
            WsError::UnofferedSubprotocol(_) | WsError::InvalidAnswer(_) => Some(500),
            _ => None,
        }
    }

    /// Client: the server's response to a refused handshake (status, headers and body).
    pub fn response(&self) -> Option<&Response> {
        match self {
            WsError::Refused { response, .. } => Some(response),
            _ => None,
        }
    }

    /// Whether the peer caused this: a refusal, a bad request or response, a protocol
    /// violation, an exceeded limit, or a timeout waiting for it. `false` for this side's
    /// misuse and for transport failures.
    pub fn is_peer_fault(&self) -> bool {
        matches!(
            self,
            WsError::Refused { .. }
                | WsError::Handshake(_)
                | WsError::Protocol(_)
                | WsError::LimitExceeded(_)
                | WsError::Timeout(_)
        )
    }

    /// The [`io::ErrorKind`] this maps to when converted into an [`io::Error`].
    pub fn io_kind(&self) -> io::ErrorKind {
        match self {
            WsError::Io(e) => e.kind(),
            WsError::Closed(_) => io::ErrorKind::NotConnected,
            WsError::Rejected { .. } | WsError::Refused { .. } => io::ErrorKind::PermissionDenied,
            WsError::AbnormalClosure => io::ErrorKind::UnexpectedEof,
            WsError::Timeout(_) => io::ErrorKind::TimedOut,
            WsError::Send(SendError::OutputFull) => io::ErrorKind::WouldBlock,
            WsError::Send(SendError::NotOpen) => io::ErrorKind::NotConnected,
            WsError::Send(_)
            | WsError::Url(_)
            | WsError::UnofferedSubprotocol(_)
            | WsError::TlsUnavailable(_)
            | WsError::InvalidAnswer(_) => io::ErrorKind::InvalidInput,
            WsError::Tls(_)
            | WsError::Handshake(_)
            | WsError::Protocol(_)
            | WsError::LimitExceeded(_) => io::ErrorKind::InvalidData,
        }
    }

    /// A core error as the adapters report it; `Closed` becomes the clean end with the peer's
    /// close frame.
    pub(crate) fn from_core(e: Error, peer_close: Option<CloseFrame>) -> WsError {
        match e {
            Error::Protocol(
                p @ (ProtocolError::FrameTooLarge
                | ProtocolError::MessageTooLarge
                | ProtocolError::TooManyFragments),
            ) => WsError::LimitExceeded(p),
            Error::Protocol(p) => WsError::Protocol(p),
            Error::Handshake(HandshakeError::Rejected(response)) => WsError::Refused {
                response,
                body: Bytes::new(),
            },
            Error::Handshake(h) => WsError::Handshake(h),
            Error::Timeout(kind) => WsError::Timeout(kind),
            Error::AbnormalClosure => WsError::AbnormalClosure,
            Error::Closed => WsError::Closed(peer_close.map(Box::new)),
            // The adapters always answer before reading on; anything else is the core's.
            other => WsError::Io(io::Error::other(other)),
        }
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsError::Closed(Some(frame)) => write!(
                f,
                "the connection is closed (the peer closed with {}{}{})",
                frame.code(),
                if frame.reason().is_empty() { "" } else { ": " },
                frame.reason()
            ),
            WsError::Closed(None) => f.write_str("the connection is closed"),
            WsError::Refused { response, body } => {
                write!(
                    f,
                    "the server refused the handshake with HTTP {}",
                    response.status()
                )?;
                match core::str::from_utf8(body) {
                    Ok(text) if !text.trim().is_empty() && text.len() <= 200 => {
                        write!(f, ": {}", text.trim())
                    }
                    _ => Ok(()),
                }
            }
            WsError::Handshake(e) => write!(f, "opening handshake failed: {e}"),
            WsError::Rejected { status } => {
                write!(
                    f,
                    "the application rejected the handshake with HTTP {status}"
                )
            }
            WsError::UnofferedSubprotocol(p) => write!(
                f,
                "accepted with subprotocol {p:?}, which the client did not offer (sent HTTP 500)"
            ),
            WsError::InvalidAnswer(e) => write!(f, "invalid handshake answer (sent HTTP 500): {e}"),
            WsError::Protocol(e) => write!(f, "{e} (closed with {})", e.close_code()),
            WsError::LimitExceeded(e) => write!(f, "{e} (closed with {})", e.close_code()),
            WsError::Timeout(kind) => f.write_str(match kind {
                TimeoutKind::Handshake => "opening handshake timed out",
                TimeoutKind::Pong => "peer did not answer a keepalive ping in time",
                TimeoutKind::Close => "close handshake timed out",
            }),
            WsError::AbnormalClosure => {
                f.write_str("the transport ended without a close handshake (1006)")
            }
            WsError::Send(e) => write!(f, "send refused: {e}"),
            WsError::Url(e) => e.fmt(f),
            WsError::Tls(e) => write!(f, "TLS: {e}"),
            WsError::TlsUnavailable(why) => write!(f, "wss:// is not available: {why}"),
            WsError::Io(e) => write!(f, "transport: {e}"),
        }
    }
}

impl std::error::Error for WsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WsError::Handshake(e) => Some(e),
            WsError::Protocol(e) | WsError::LimitExceeded(e) => Some(e),
            WsError::Send(e) | WsError::InvalidAnswer(e) => Some(e),
            WsError::Url(e) => Some(e),
            WsError::Tls(e) => Some(e.as_ref()),
            WsError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for WsError {
    fn from(e: io::Error) -> WsError {
        WsError::Io(e)
    }
}

impl From<SendError> for WsError {
    fn from(e: SendError) -> WsError {
        WsError::Send(e)
    }
}

impl From<UrlError> for WsError {
    fn from(e: UrlError) -> WsError {
        WsError::Url(e)
    }
}

impl From<WsError> for io::Error {
    fn from(e: WsError) -> io::Error {
        match e {
            // Already an I/O error: hand it back as it was.
            WsError::Io(e) => e,
            e => io::Error::new(e.io_kind(), e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn limits_are_told_apart_from_violations() {
        let limit = WsError::from_core(Error::Protocol(ProtocolError::MessageTooLarge), None);
        assert!(matches!(limit, WsError::LimitExceeded(_)));
        assert_eq!(limit.close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
        let violation = WsError::from_core(Error::Protocol(ProtocolError::InvalidUtf8), None);
        assert!(matches!(violation, WsError::Protocol(_)));
        assert_eq!(violation.close_code(), Some(CloseCode::INVALID_PAYLOAD));
        assert!(limit.is_peer_fault() && violation.is_peer_fault());
    }

    #[test]
    fn clean_end_carries_the_peer_close_frame() {
        let frame = CloseFrame::new(CloseCode::GOING_AWAY, "bye").unwrap();
        let e = WsError::from_core(Error::Closed, Some(frame));
        assert_eq!(e.close_code(), Some(CloseCode::GOING_AWAY));
        assert_eq!(e.io_kind(), io::ErrorKind::NotConnected);
        assert!(e.to_string().contains("bye"));
    }

    #[test]
    fn stays_small_to_move() {
        // `recv` returns `Result<Option<Message>, WsError>` for every message: the error must
        // not make that much larger than the 40-byte message.
        let size = size_of::<Result<Option<crate::io::Message>, WsError>>();
        assert!(size <= 56, "{size}");
    }

    #[test]
    fn io_errors_round_trip_unchanged() {
        let e: io::Error = WsError::Io(io::ErrorKind::ConnectionReset.into()).into();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        assert!(e.get_ref().is_none());
        let e: io::Error = WsError::Timeout(TimeoutKind::Pong).into();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        let inner = e.get_ref().and_then(|s| s.downcast_ref::<WsError>());
        assert!(matches!(inner, Some(WsError::Timeout(TimeoutKind::Pong))));
    }

    #[test]
    fn http_status_of_each_handshake_failure() {
        assert_eq!(WsError::Rejected { status: 401 }.http_status(), Some(401));
        assert_eq!(
            WsError::UnofferedSubprotocol("mqtt".into()).http_status(),
            Some(500)
        );
        let bad = WsError::Handshake(HandshakeError::UnsupportedVersion);
        assert_eq!(bad.http_status(), Some(426));
        assert_eq!(WsError::AbnormalClosure.http_status(), None);
    }
}
