//! I/O adapters: thin loops over the public core API (std feature and up).
//!
//! Each adapter owns a read buffer (small by default, grown while reads fill it, shrunk back when
//! it drains), writes the output queue vectored, honours [`Connection::poll_timeout`], flushes the
//! automatic replies (pongs, the close echo), and shuts the transport down when
//! [`Connection::wants_transport_close`] says so.
//!
//! Adapters turn on two timers the core leaves off: an opening-handshake timeout of
//! [`DEFAULT_HANDSHAKE_TIMEOUT`] (so a slowloris client cannot hold a connection forever) and a
//! close timeout of [`DEFAULT_CLOSE_TIMEOUT`], unless the [`Config`] already sets them. They
//! deliver whole messages: [`Config::delivery`] is set to [`Delivery::Messages`].
//!
//! - [`blocking`]: any `Read + Write` stream, timers through the read timeout.
//! - `tokio` (feature `tokio`): any `AsyncRead + AsyncWrite` stream, with `Stream`/`Sink` and
//!   `split`.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;
use std::io;

use crate::close::CloseFrame;
use crate::config::{Config, Delivery};
use crate::connection::Connection;
use crate::error::{Error, SendError};
use crate::event::{ControlPayload, DataKind, Message as CoreMessage};
use crate::handshake::Accept;

pub mod blocking;
#[cfg(feature = "tokio")]
pub mod tokio;

/// The opening-handshake timeout the adapters use unless the config sets one.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The close-handshake timeout the adapters use unless the config sets one.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// The read buffer an adapter starts with and shrinks back to.
pub const DEFAULT_READ_BUFFER: usize = 4 << 10;
/// The largest the read buffer grows while reads keep filling it.
pub const MAX_READ_BUFFER: usize = 256 << 10;

/// An owned message, as the adapters deliver and accept them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A ping from the peer (already answered) or, to send, a ping.
    Ping(ControlPayload),
    /// A pong from the peer or, to send, an unsolicited pong.
    Pong(ControlPayload),
    /// The peer's close frame (already echoed) or, to send, our close.
    Close(CloseFrame),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Message {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Vec<u8>>) -> Message {
        Message::Binary(data.into())
    }

    pub(crate) fn from_core(msg: CoreMessage<'_>) -> Message {
        match msg.kind {
            DataKind::Binary => Message::Binary(msg.payload.into_vec()),
            // The core validated the text; a failed conversion cannot happen.
            DataKind::Text => match String::from_utf8(msg.payload.into_vec()) {
                Ok(text) => Message::Text(text),
                Err(e) => Message::Binary(e.into_bytes()),
            },
        }
    }
}

/// A server's answer to an opening request: accept, or reject with an HTTP response.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Accept, choosing a subprotocol and adding headers.
    Accept(Accept),
    /// Reject with this status, headers and body.
    Reject {
        /// The HTTP status, e.g. 401 or 403.
        status: u16,
        /// Extra response headers.
        headers: Vec<(String, String)>,
        /// The response body.
        body: Vec<u8>,
    },
}

/// Converts a core error into an `io::Error` that keeps it as its source.
pub fn io_error(e: Error) -> io::Error {
    let kind = match e {
        Error::AbnormalClosure => io::ErrorKind::UnexpectedEof,
        Error::Timeout(_) => io::ErrorKind::TimedOut,
        Error::Closed => io::ErrorKind::NotConnected,
        _ => io::ErrorKind::InvalidData,
    };
    io::Error::new(kind, e)
}

/// Converts a send error into an `io::Error` that keeps it as its source.
pub fn send_error(e: SendError) -> io::Error {
    let kind = match e {
        SendError::NotOpen => io::ErrorKind::NotConnected,
        SendError::OutputFull => io::ErrorKind::WouldBlock,
        _ => io::ErrorKind::InvalidInput,
    };
    io::Error::new(kind, e)
}

/// Queues the application's answer to the pending request: `Ok(true)` if it accepted (the 101
/// is queued), `Ok(false)` if it rejected (the HTTP response is queued and the connection has
/// ended).
pub(crate) fn apply_answer(
    conn: &mut Connection,
    now: crate::Instant,
    answer: Answer,
) -> Result<bool, SendError> {
    match answer {
        Answer::Accept(accept) => conn.accept(now, &accept).map(|()| true),
        Answer::Reject {
            status,
            headers,
            body,
        } => {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            conn.reject(status, &headers, &body).map(|()| false)
        }
    }
}

/// The error an adapter's `accept` returns after the application rejected the request.
pub(crate) fn rejected_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        "handshake rejected by the application",
    )
}

/// The error for a seed the OS could not provide.
pub(crate) fn seed_error(e: getrandom::Error) -> io::Error {
    io::Error::other(alloc::string::ToString::to_string(&e))
}

/// The config an adapter runs with: the caller's, with the adapter's default timers filled in
/// and whole-message delivery (the adapters have no way to hand out chunks).
pub(crate) fn adapter_config(mut config: Config) -> Config {
    config
        .handshake_timeout
        .get_or_insert(DEFAULT_HANDSHAKE_TIMEOUT);
    config.close_timeout.get_or_insert(DEFAULT_CLOSE_TIMEOUT);
    config.delivery = Delivery::Messages;
    config
}

/// Queues `msg` on `conn`. `now` is needed for close.
pub(crate) fn queue_message(
    conn: &mut Connection,
    now: crate::Instant,
    msg: Message,
) -> Result<(), crate::SendError> {
    match msg {
        Message::Text(text) => conn.send_owned(DataKind::Text, text.into_bytes()),
        Message::Binary(data) => conn.send_owned(DataKind::Binary, data),
        Message::Ping(p) => conn.ping(p.as_bytes()),
        Message::Pong(p) => conn.pong(p.as_bytes()),
        Message::Close(frame) => conn.close(now, frame.code(), frame.reason()),
    }
}

/// A read buffer: `data[start..end]` holds bytes not yet consumed by the core.
#[derive(Debug)]
pub(crate) struct ReadBuffer {
    data: Vec<u8>,
    start: usize,
    end: usize,
    /// The last read filled all the space it was given: more is probably waiting.
    grow: bool,
}

impl ReadBuffer {
    pub(crate) fn new() -> Self {
        ReadBuffer {
            data: Vec::new(),
            start: 0,
            end: 0,
            grow: false,
        }
    }

    /// The unconsumed bytes.
    pub(crate) fn filled(&mut self) -> &mut [u8] {
        &mut self.data[self.start..self.end]
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            // Shrink after a large message so idle connections stay small.
            if self.data.len() > DEFAULT_READ_BUFFER {
                self.data = Vec::new();
            }
        }
    }

    /// Space to read into, after moving unconsumed bytes to the front. The buffer starts
    /// small and doubles (up to [`MAX_READ_BUFFER`]) when a read filled it completely.
    pub(crate) fn spare(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let want = if self.data.is_empty() {
            DEFAULT_READ_BUFFER
        } else if self.grow || self.end == self.data.len() {
            (self.data.len() * 2)
                .min(MAX_READ_BUFFER)
                .max(self.end + DEFAULT_READ_BUFFER)
        } else {
            self.data.len()
        };
        if want > self.data.len() {
            self.data.resize(want, 0);
        }
        &mut self.data[self.end..]
    }

    /// Records that a read put `n` bytes into [`spare`](ReadBuffer::spare).
    pub(crate) fn filled_by(&mut self, n: usize) {
        self.grow = self.end + n == self.data.len();
        self.end = (self.end + n).min(self.data.len());
    }
}
