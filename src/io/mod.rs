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
    // Lend whole frames from the read buffer rather than copying them in pieces.
    if config.whole_frame_limit == 0 {
        config.whole_frame_limit = config.max_frame_size;
    }
    config
}

/// Queues `msg` on `conn`. The clock is read only for a close, the one send that arms a timer.
pub(crate) fn queue_message(
    conn: &mut Connection,
    now: impl FnOnce() -> crate::Instant,
    msg: Message,
) -> Result<(), crate::SendError> {
    match msg {
        Message::Text(text) => conn.send_owned(DataKind::Text, text.into_bytes()),
        Message::Binary(data) => conn.send_owned(DataKind::Binary, data),
        Message::Ping(p) => conn.ping(p.as_bytes()),
        Message::Pong(p) => conn.pong(p.as_bytes()),
        Message::Close(frame) => conn.close(now(), frame.code(), frame.reason()),
    }
}

/// Slices per vectored write: the output queue rarely holds more than a few segments.
pub(crate) const MAX_IOSLICES: usize = 16;

/// Whether all queued output is in one piece: then a plain write does, without filling an
/// array of `IoSlice`s (the common case: small frames share one buffer).
pub(crate) fn is_contiguous(conn: &Connection) -> bool {
    conn.transmit().len() == conn.transmit_len()
}

/// Fills `slots` with the queued output, in order, without allocating; returns how many.
pub(crate) fn output_slices<'a>(conn: &'a Connection, slots: &mut [io::IoSlice<'a>]) -> usize {
    let mut count = 0;
    for (slot, chunk) in slots.iter_mut().zip(conn.transmit_slices()) {
        *slot = io::IoSlice::new(chunk);
        count += 1;
    }
    count
}

/// The read buffer the adapters use, public for custom transports that drive the core
/// themselves.
///
/// `data[start..end]` holds bytes the core has not consumed yet. It starts at
/// [`DEFAULT_READ_BUFFER`], doubles while reads fill it (up to [`MAX_READ_BUFFER`], or past
/// it up to what [`Connection::input_needed`] asks for, so a large frame is lent in place). It is
/// freed by [`release_if_empty`](ReadBuffer::release_if_empty) (the async adapters call it
/// before waiting, so an idle connection holds none) or
/// [`shrink_if_empty`](ReadBuffer::shrink_if_empty) (the blocking adapter, after a large
/// message). It grows only as bytes arrive: a frame's declared length is never allocated up
/// front.
///
/// ```
/// # use wsproto::io::ReadBuffer;
/// # use wsproto::{Config, Connection, Instant, Role, Seed};
/// let mut conn = Connection::upgraded(Role::Client, Config::default(), Seed([7; 32]), Instant::ZERO);
/// let mut buf = ReadBuffer::new();
/// let wire = [0x81, 0x02, b'h', b'i']; // an unmasked text frame from the server
/// let spare = buf.spare(conn.input_needed());
/// spare[..wire.len()].copy_from_slice(&wire); // a transport read
/// buf.filled_by(wire.len());
/// let recv = conn.recv(Instant::ZERO, buf.filled())?;
/// let consumed = recv.consumed;
/// assert!(recv.event.is_some());
/// buf.consume(consumed);
/// assert!(buf.is_empty());
/// # Ok::<(), wsproto::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct ReadBuffer {
    data: Vec<u8>,
    start: usize,
    end: usize,
    /// The last read filled all the space it was given: more is probably waiting.
    grow: bool,
    /// The length of the space the last [`spare`](ReadBuffer::spare) offered.
    offered: usize,
}

impl ReadBuffer {
    /// An empty buffer; nothing is allocated until the first [`spare`](ReadBuffer::spare).
    pub fn new() -> Self {
        ReadBuffer::default()
    }

    /// The unconsumed bytes: pass them to [`Connection::recv`].
    pub fn filled(&mut self) -> &mut [u8] {
        &mut self.data[self.start..self.end]
    }

    /// Whether every byte read has been consumed.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The bytes allocated (for memory accounting).
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// Marks the first `n` unconsumed bytes as used (`Recv::consumed`).
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Frees the buffer if it holds no unconsumed bytes: call it before waiting for the
    /// transport, so an idle connection holds no read buffer at all.
    pub fn release_if_empty(&mut self) {
        if self.start == self.end {
            *self = ReadBuffer::new();
        }
    }

    /// Frees the buffer if it holds no unconsumed bytes and grew past [`DEFAULT_READ_BUFFER`]:
    /// for a caller that cannot tell when it will wait, after each message.
    pub fn shrink_if_empty(&mut self) {
        if self.data.len() > DEFAULT_READ_BUFFER {
            self.release_if_empty();
        }
    }

    /// Space to read into. `needed` is [`Connection::input_needed`]: when the unconsumed bytes
    /// are the start of a frame of that many bytes, the buffer may grow past
    /// [`MAX_READ_BUFFER`] to hold it whole, and, when more than [`DEFAULT_READ_BUFFER`] of it
    /// is still to come, the space offered ends a little past the frame's end, so the next
    /// frame does not straddle the buffer's end and get moved.
    ///
    /// Unconsumed bytes move to the front only when the space behind them is less than half
    /// the buffer or than what is awaited.
    pub fn spare(&mut self, needed: usize) -> &mut [u8] {
        let pending = self.end - self.start;
        let room_behind = self.data.len() - self.end;
        let awaited = needed.saturating_sub(pending);
        if self.start > 0 && (room_behind < awaited || room_behind < self.data.len() / 2) {
            self.data.copy_within(self.start..self.end, 0);
            self.end = pending;
            self.start = 0;
        }
        let cap = MAX_READ_BUFFER.max(needed);
        let want = if self.data.is_empty() {
            DEFAULT_READ_BUFFER
        } else if self.grow || self.end == self.data.len() {
            // Doubling as reads fill it, so memory follows the bytes that actually arrived.
            (self.data.len() * 2)
                .min(cap)
                .max(self.end + DEFAULT_READ_BUFFER)
        } else {
            self.data.len()
        };
        if want > self.data.len() {
            self.data.resize(want, 0);
        }
        // Only a large awaited frame caps the read: small frames are many to a read, and
        // capping at each one's end would turn one large read into many small ones.
        let limit = if awaited > DEFAULT_READ_BUFFER {
            self.end
                .saturating_add(awaited)
                .saturating_add(DEFAULT_READ_BUFFER)
        } else {
            usize::MAX
        };
        let stop = self.data.len().min(limit);
        self.offered = stop - self.end;
        &mut self.data[self.end..stop]
    }

    /// Records that a read put `n` bytes into [`spare`](ReadBuffer::spare).
    pub fn filled_by(&mut self, n: usize) {
        self.grow = n > 0 && n == self.offered;
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
