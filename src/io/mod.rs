//! I/O adapters: thin loops over the public core API (std feature and up).
//!
//! Each adapter owns a read buffer (small by default, grown while reads fill it, shrunk back when
//! it drains), writes the output queue vectored, honours [`Connection::poll_timeout`], flushes the
//! automatic replies (pongs, the close echo), and shuts the transport down when
//! [`Connection::wants_transport_close`] says so.
//!
//! Adapters turn on two timers the core leaves off: an opening-handshake timeout of
//! [`DEFAULT_HANDSHAKE_TIMEOUT`] (so a slowloris client cannot hold a connection forever) and a
//! close timeout of [`DEFAULT_CLOSE_TIMEOUT`], unless the [`Config`] already sets them. They always
//! deliver whole messages ([`Delivery::Messages`](crate::Delivery)); to stream chunks, drive the
//! core directly.
//!
//! - [`blocking`]: any `Read + Write` stream, timers through the read timeout.
//! - `tokio` (feature `tokio`): any `AsyncRead + AsyncWrite` stream, with `Stream`/`Sink` and
//!   `split`.
//! - `futures` (feature `futures-io`): any `futures-io` stream, for any executor, with a small
//!   timer trait (`AsyncIoTimer` for smol and async-std with feature `async-io`).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;
use std::io;

use crate::close::CloseFrame;
use crate::config::Config;
use crate::connection::Connection;
use crate::entropy::Seed;
use crate::error::Error;
use crate::event::{ControlPayload, DataKind, Event, Message as CoreMessage};
use crate::handshake::{ClientRequest, Request, Response, WsUrl, parse_url};
pub use blocking::{Answer, io_error, send_error};

pub mod blocking;
#[cfg(feature = "futures-io")]
pub mod futures;
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

/// The config an adapter runs with: the caller's, with the adapter's default timers filled in.
pub(crate) fn adapter_config(mut config: Config) -> Config {
    // The adapters deliver whole messages; streaming chunks need the core API directly.
    config.delivery = crate::Delivery::Messages;
    config
        .handshake_timeout
        .get_or_insert(DEFAULT_HANDSHAKE_TIMEOUT);
    config.close_timeout.get_or_insert(DEFAULT_CLOSE_TIMEOUT);
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

/// Slices per vectored write: the output queue rarely holds more than a few segments.
pub(crate) const MAX_IOSLICES: usize = 16;

/// Fills `slots` with the queued output, in order, without allocating; returns how many.
pub(crate) fn output_slices<'a>(conn: &'a Connection, slots: &mut [io::IoSlice<'a>]) -> usize {
    let mut count = 0;
    for (slot, chunk) in slots.iter_mut().zip(conn.transmit_slices()) {
        *slot = io::IoSlice::new(chunk);
        count += 1;
    }
    count
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

/// What one [`step`] of an adapter's receive loop produced.
#[derive(Debug)]
pub(crate) enum Step {
    /// A message, ping, pong or close for the application.
    Message(Message),
    /// Server: the opening request, awaiting `accept` or `reject`.
    Request(Request),
    /// Client: the opening handshake completed.
    Connected(Response),
    /// Input was used but nothing is reported: step again.
    Progress,
    /// The buffered input is used up: read more.
    NeedInput,
}

/// Feeds the buffered input to the core once and turns the event into an owned [`Step`]. Both
/// adapters' receive loops are this, plus their own way of writing, reading and waiting.
pub(crate) fn step(
    conn: &mut Connection,
    now: crate::Instant,
    buf: &mut ReadBuffer,
) -> Result<Step, Error> {
    let recv = conn.recv(now, buf.filled())?;
    let consumed = recv.consumed;
    let step = match recv.event {
        Some(Event::Message(msg)) => Step::Message(Message::from_core(msg)),
        Some(Event::Ping(p)) => Step::Message(Message::Ping(p)),
        Some(Event::Pong(p)) => Step::Message(Message::Pong(p)),
        Some(Event::Close(frame)) => Step::Message(Message::Close(frame)),
        Some(Event::Request(request)) => Step::Request(request),
        Some(Event::Connected(response)) => Step::Connected(response),
        // The adapters deliver whole messages; chunks are dropped as before.
        Some(Event::Chunk(_)) => Step::Progress,
        None if consumed == 0 => Step::NeedInput,
        None => Step::Progress,
    };
    buf.consume(consumed);
    Ok(step)
}

/// The error to report when the transport ended: the core's verdict on the EOF, or
/// [`Error::Closed`] after a clean close.
pub(crate) fn eof_error(conn: &mut Connection, now: crate::Instant) -> Error {
    conn.recv_eof(now).err().unwrap_or(Error::Closed)
}

/// A fresh seed for a client's masking keys, from the OS.
fn os_seed() -> io::Result<Seed> {
    Seed::from_os().map_err(|e| io::Error::other(e.to_string()))
}

/// The core connection an adapter's `client` drives: the adapter's config, a seed from the OS,
/// and the adapter's clock, which starts at zero.
pub(crate) fn new_client(config: Config, request: ClientRequest) -> io::Result<Connection> {
    Connection::client(
        adapter_config(config),
        request,
        os_seed()?,
        crate::Instant::ZERO,
    )
    .map_err(blocking::send_error)
}

/// The core connection an adapter's `accept` drives.
pub(crate) fn new_server(config: Config) -> Connection {
    Connection::server(adapter_config(config), crate::Instant::ZERO)
}

/// The core connection an adapter's `upgraded` drives.
pub(crate) fn new_upgraded(role: crate::Role, config: Config) -> io::Result<Connection> {
    Ok(Connection::upgraded(
        role,
        adapter_config(config),
        os_seed()?,
        crate::Instant::ZERO,
    ))
}

/// Hands the application's [`Answer`] to the core: `Ok(true)` if the connection is now open,
/// `Ok(false)` if the rejection is queued (write it out, shut down, then report
/// [`rejected_error`]).
pub(crate) fn apply_answer(
    conn: &mut Connection,
    now: crate::Instant,
    answer: Answer,
) -> io::Result<bool> {
    match answer {
        Answer::Accept(accept) => {
            conn.accept(now, &accept).map_err(blocking::send_error)?;
            Ok(true)
        }
        Answer::Reject {
            status,
            headers,
            body,
        } => {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            conn.reject(status, &headers, &body)
                .map_err(blocking::send_error)?;
            Ok(false)
        }
    }
}

/// The error `accept` returns after the application rejected the request.
pub(crate) fn rejected_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        "handshake rejected by the application",
    )
}

/// Parses a URL for a plain-TCP `connect`: `InvalidInput` for a bad URL or for `wss://`.
pub(crate) fn plain_url(url: &str) -> io::Result<(WsUrl, ClientRequest)> {
    let parsed = parse_url(url).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    if parsed.secure {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "wss:// needs TLS, which connect does not do: bring your own TLS stream and call \
             the adapter's `client` over it",
        ));
    }
    let request = ClientRequest::new(parsed.host_header(), parsed.resource.clone());
    Ok((parsed, request))
}
