//! The runtime-agnostic async adapter: a [`WebSocketStream`] over any `futures-io` stream
//! (feature `futures-io`; `async-std` turns it on too).
//!
//! It runs on any executor. The only runtime service it needs is a [`Timer`] for the core's
//! deadlines ([`Connection::poll_timeout`]): [`AsyncIoTimer`] (feature `async-io`) works under
//! smol and async-std, which both run on the async-io reactor; [`NoTimer`] turns timers off; any
//! other runtime's sleep fits the trait in a few lines.
//!
//! The stream is also a [`Stream`] of received messages and a [`Sink`] of messages to send.
//! Receiving drives the connection: it writes automatic replies (pongs, the close echo), reads,
//! and acts on timers. Keep receiving (or polling the stream) for as long as the connection
//! lives, even if the application only sends.
//!
//! When the connection ends the adapter closes the transport with `AsyncWrite::poll_close`.
//! For async-net's (smol's) `TcpStream` that shuts the socket down, but async-std's `TcpStream`
//! (like async-io's `Async<TcpStream>`) only flushes there: its socket closes when it is dropped.
//! So drop the [`WebSocketStream`] once it reports the end (or call `shutdown` through
//! [`get_ref`](WebSocketStream::get_ref)), or a client peer waits for its close timeout.

use core::fmt;
use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::boxed::Box;
use std::io::{self, IoSlice};
use std::time::Instant as StdInstant;

use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use futures_sink::Sink;

use super::{
    MAX_IOSLICES, Message, ReadBuffer, Step, apply_answer, eof_error, is_contiguous, new_client,
    new_server, new_upgraded, output_slices, queue_message, rejected_error, step,
};
use crate::connection::{Connection, Role, State};
use crate::error::Error;
use crate::event::DataKind;
use crate::handshake::{ClientRequest, Request};
use crate::{CloseCode, Config, Instant};

pub use super::blocking::{Answer, io_error, send_error};

/// The sink accepts more messages while fewer than this many bytes wait to be written.
const WRITE_HIGH_WATER: usize = 64 << 10;

/// A runtime's sleep, for the core's timers (handshake, keepalive, pong and close timeouts).
pub trait Timer {
    /// The future [`sleep_until`](Timer::sleep_until) returns.
    type Sleep: Future<Output = ()> + Unpin;
    /// A future that completes at `deadline` (at once if it has passed).
    fn sleep_until(&self, deadline: StdInstant) -> Self::Sleep;
}

/// A [`Timer`] that never fires: no handshake, keepalive or close timeouts. For runtimes with
/// no timer at hand; prefer a real one for connections to untrusted peers.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTimer;

impl Timer for NoTimer {
    type Sleep = core::future::Pending<()>;
    fn sleep_until(&self, _deadline: StdInstant) -> Self::Sleep {
        core::future::pending()
    }
}

/// A [`Timer`] on the async-io reactor, which smol and async-std both run on.
#[cfg(feature = "async-io")]
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncIoTimer;

/// The sleep of [`AsyncIoTimer`].
#[cfg(feature = "async-io")]
#[derive(Debug)]
pub struct AsyncIoSleep(async_io::Timer);

#[cfg(feature = "async-io")]
impl Future for AsyncIoSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

#[cfg(feature = "async-io")]
impl Timer for AsyncIoTimer {
    type Sleep = AsyncIoSleep;
    fn sleep_until(&self, deadline: StdInstant) -> AsyncIoSleep {
        AsyncIoSleep(async_io::Timer::at(deadline))
    }
}

/// Connects to a `ws://` URL over TCP (async-net) and completes the opening handshake, with
/// [`AsyncIoTimer`] for timers.
///
/// ```no_run
/// use wsproto::Config;
/// use wsproto::io::Message;
///
/// smol::block_on(async {
///     let (mut ws, _response) = wsproto::io::futures::connect("ws://127.0.0.1:9001/", Config::default()).await?;
///     ws.send(Message::text("hello")).await?;
///     let reply = ws.recv().await?;
///     println!("{reply:?}");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// `InvalidInput` for a bad URL, or for `wss://`: this function does no TLS, so bring your own
/// TLS stream and call [`WebSocketStream::client`] over it. Connection and handshake errors
/// otherwise.
#[cfg(feature = "async-io")]
pub async fn connect(
    url: &str,
    config: Config,
) -> io::Result<(
    WebSocketStream<async_net::TcpStream, AsyncIoTimer>,
    crate::Response,
)> {
    let (parsed, request) = super::plain_url(url)?;
    let stream = async_net::TcpStream::connect((parsed.host.as_str(), parsed.port)).await?;
    stream.set_nodelay(true)?;
    WebSocketStream::client(stream, request, config, AsyncIoTimer).await
}

/// A WebSocket over an async byte stream (`futures_io::AsyncRead + AsyncWrite`).
///
/// Use [`recv`](WebSocketStream::recv) and [`send`](WebSocketStream::send), or the [`Stream`]
/// and [`Sink`] impls (e.g. with `futures::StreamExt::split`). The stream ends (`None`) after a
/// clean close; an error is yielded once, then the stream ends.
pub struct WebSocketStream<S, T: Timer> {
    stream: S,
    /// Boxed so the stream and the futures that hold it stay small.
    conn: Box<Connection>,
    buf: ReadBuffer,
    epoch: StdInstant,
    timer: T,
    /// The sleep for the deadline it was made for.
    sleep: Option<(Instant, T::Sleep)>,
    /// The connection has ended: report this once the transport is shut down.
    ending: Option<Error>,
    shut_down: bool,
    /// The clean end was reported; the [`Stream`] yields `None` from now on.
    finished: bool,
}

// No field is ever pinned: the stream and the sleep are polled through `Pin::new`, which needs
// them `Unpin`, so the adapter may move freely whatever the timer type is.
impl<S: Unpin, T: Timer> Unpin for WebSocketStream<S, T> {}

impl<S: fmt::Debug, T: Timer + fmt::Debug> fmt::Debug for WebSocketStream<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketStream")
            .field("stream", &self.stream)
            .field("conn", &self.conn)
            .field("timer", &self.timer)
            .field("shut_down", &self.shut_down)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin, T: Timer> WebSocketStream<S, T> {
    fn new(stream: S, conn: Connection, epoch: StdInstant, timer: T) -> Self {
        WebSocketStream {
            stream,
            conn: Box::new(conn),
            buf: ReadBuffer::new(),
            epoch,
            timer,
            sleep: None,
            ending: None,
            shut_down: false,
            finished: false,
        }
    }

    /// Runs the client handshake on `stream`, seeding masking keys from the OS.
    ///
    /// # Errors
    /// I/O errors, and the handshake error (as the source of an `InvalidData` error).
    pub async fn client(
        stream: S,
        request: ClientRequest,
        config: Config,
        timer: T,
    ) -> io::Result<(Self, crate::Response)> {
        let epoch = StdInstant::now();
        let conn = new_client(config, request)?;
        let mut ws = WebSocketStream::new(stream, conn, epoch, timer);
        loop {
            if let Step::Connected(response) = poll_fn(|cx| ws.poll_step(cx)).await? {
                return Ok((ws, response));
            }
        }
    }

    /// Runs the server handshake on `stream`; `answer` sees the request and accepts or rejects.
    ///
    /// # Errors
    /// I/O errors; a bad request (after the core's HTTP error reply is written); a rejection
    /// (`PermissionDenied`, after the response is written).
    pub async fn accept(
        stream: S,
        config: Config,
        timer: T,
        answer: impl FnOnce(&Request) -> Answer,
    ) -> io::Result<Self> {
        let epoch = StdInstant::now();
        let conn = new_server(config);
        let mut ws = WebSocketStream::new(stream, conn, epoch, timer);
        let request = loop {
            if let Step::Request(request) = poll_fn(|cx| ws.poll_step(cx)).await? {
                break request;
            }
        };
        let now = ws.now();
        if apply_answer(&mut ws.conn, now, answer(&request))? {
            ws.flush().await?;
            Ok(ws)
        } else {
            poll_fn(|cx| ws.poll_shutdown(cx)).await;
            Err(rejected_error())
        }
    }

    /// Wraps a stream whose HTTP upgrade happened elsewhere.
    ///
    /// # Errors
    /// When the OS cannot provide a seed for a client's masking keys.
    pub fn upgraded(stream: S, role: Role, config: Config, timer: T) -> io::Result<Self> {
        let conn = new_upgraded(role, config)?;
        Ok(WebSocketStream::new(stream, conn, StdInstant::now(), timer))
    }

    /// The core connection, for its getters.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The underlying stream, giving up the connection. Bytes read but not yet processed are
    /// lost, and queued output is not written: call it once the connection has ended.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Whether the connection is open for sending.
    pub fn is_open(&self) -> bool {
        self.conn.state() == State::Open
    }

    /// Receives the next message, ping, pong or close. Pings are answered and the close is
    /// echoed by the adapter. After a [`Message::Close`], keep calling until it returns an
    /// error of kind `NotConnected` (the transport is then shut down).
    ///
    /// # Errors
    /// The core's error as the source: `InvalidData` for a protocol error (the close frame was
    /// sent), `UnexpectedEof` for a transport that ended without a close, `TimedOut`, or
    /// `NotConnected` once the connection has ended; or an I/O error.
    pub async fn recv(&mut self) -> io::Result<Message> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The polling form of [`recv`](WebSocketStream::recv).
    ///
    /// # Errors
    /// As [`recv`](WebSocketStream::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Message>> {
        loop {
            if let Step::Message(message) = ready!(self.poll_step(cx))? {
                // Start writing the pong or close echo now; what is left goes on the next call.
                let _ = self.poll_write_out(cx);
                return Poll::Ready(Ok(message));
            }
        }
    }

    /// Sends a message and flushes it.
    ///
    /// # Errors
    /// The send error (`NotConnected` after close) or an I/O error.
    pub async fn send(&mut self, message: Message) -> io::Result<()> {
        let epoch = self.epoch;
        let now = || Instant::from_duration(epoch.elapsed());
        queue_message(&mut self.conn, now, message).map_err(send_error)?;
        self.flush().await
    }

    /// Sends one fragment of a message sent in pieces, and flushes it: the first fragment starts
    /// a message of `kind`, `last` ends it (see [`Connection::send_fragment`]).
    ///
    /// # Errors
    /// As [`send`](WebSocketStream::send).
    pub async fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        last: bool,
    ) -> io::Result<()> {
        self.conn
            .send_fragment(kind, data, last)
            .map_err(send_error)?;
        self.flush().await
    }

    /// Starts the close handshake; keep calling [`recv`](WebSocketStream::recv) to finish it.
    ///
    /// # Errors
    /// As [`send`](WebSocketStream::send).
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> io::Result<()> {
        let now = self.now();
        self.conn.close(now, code, reason).map_err(send_error)?;
        self.flush().await
    }

    /// Writes all queued output and flushes the stream.
    ///
    /// # Errors
    /// I/O errors from the stream.
    pub async fn flush(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_flush_all(cx)).await
    }

    fn now(&self) -> Instant {
        Instant::from_duration(self.epoch.elapsed())
    }

    fn poll_flush_all(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_write_out(cx))?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    /// Writes queued output, vectored, until it is all written or the stream is not ready.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.transmit_len() > 0 {
            let stream = Pin::new(&mut self.stream);
            let written = if is_contiguous(&self.conn) {
                ready!(stream.poll_write(cx, self.conn.transmit()))
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_IOSLICES];
                let count = output_slices(&self.conn, &mut slices);
                ready!(stream.poll_write_vectored(cx, &slices[..count]))
            };
            match written {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.conn.advance_transmit(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// One step of the receive loop: write, check for the end, feed the core, read or wait.
    /// Returns a step with something to report, or the end as an error.
    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Step>> {
        loop {
            if self.ending.is_some() {
                ready!(self.poll_shutdown(cx));
                let error = self.ending.take().unwrap_or(Error::Closed);
                self.finished |= error == Error::Closed;
                return Poll::Ready(Err(io_error(error)));
            }
            // Reading goes on while a peer that does not read holds up our writes.
            if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
                return Poll::Ready(Err(e));
            }
            if self.conn.wants_transport_close() {
                self.ending = Some(Error::Closed);
                continue;
            }
            let now = self.now();
            match step(&mut self.conn, now, &mut self.buf) {
                Ok(Step::NeedInput) => ready!(self.poll_fill(cx))?,
                Ok(Step::Progress) => {}
                Ok(found) => return Poll::Ready(Ok(found)),
                Err(e) => self.ending = Some(e),
            }
        }
    }

    /// Reads more input, or acts on a timer that expired first; records the end of the
    /// connection in `ending`.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(deadline) = self.conn.poll_timeout() {
            let expired = deadline <= self.now() || {
                if self.sleep.as_ref().is_none_or(|(at, _)| *at != deadline) {
                    let at = self.epoch + deadline.since_epoch();
                    self.sleep = Some((deadline, self.timer.sleep_until(at)));
                }
                self.sleep
                    .as_mut()
                    .is_some_and(|(_, sleep)| Pin::new(sleep).poll(cx).is_ready())
            };
            if expired {
                self.sleep = None;
                let now = self.now();
                if let Err(e) = self.conn.handle_timeout(now) {
                    self.ending = Some(e);
                }
                return Poll::Ready(Ok(()));
            }
        } else {
            self.sleep = None;
        }
        let needed = self.conn.input_needed();
        let read = Pin::new(&mut self.stream).poll_read(cx, self.buf.spare(needed));
        let Poll::Ready(read) = read else {
            // An idle connection keeps no read buffer.
            self.buf.release_if_empty();
            return Poll::Pending;
        };
        match read {
            Ok(0) => {
                let now = self.now();
                self.ending = Some(eof_error(&mut self.conn, now));
            }
            Ok(n) => self.buf.filled_by(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
        Poll::Ready(Ok(()))
    }

    /// Writes what it can of the remaining output, then closes the stream. Best effort: the
    /// peer may already be gone.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Err(_gone) = ready!(self.poll_write_out(cx)) {
            let left = self.conn.transmit_len();
            self.conn.advance_transmit(left);
        }
        if !self.shut_down {
            let _ = ready!(Pin::new(&mut self.stream).poll_close(cx));
            self.shut_down = true;
        }
        Poll::Ready(())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin, T: Timer> Stream for WebSocketStream<S, T> {
    type Item = io::Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(None);
        }
        match ready!(this.poll_recv(cx)) {
            Ok(message) => Poll::Ready(Some(Ok(message))),
            Err(_) if this.finished => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin, T: Timer> Sink<Message> for WebSocketStream<S, T> {
    type Error = io::Error;

    /// Ready while little output is queued; otherwise writes first.
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.conn.transmit_len() >= WRITE_HIGH_WATER {
            ready!(this.poll_write_out(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> io::Result<()> {
        let this = self.get_mut();
        let epoch = this.epoch;
        let now = || Instant::from_duration(epoch.elapsed());
        queue_message(&mut this.conn, now, item).map_err(send_error)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_all(cx)
    }

    /// Sends a normal close (1000) if the connection is open, and flushes. Receiving finishes
    /// the close handshake and shuts the transport down.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.conn.state() == State::Open {
            let now = this.now();
            this.conn
                .close(now, CloseCode::NORMAL, "")
                .map_err(send_error)?;
        }
        this.poll_flush_all(cx)
    }
}
