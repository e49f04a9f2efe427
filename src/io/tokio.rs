//! The tokio adapter: a [`WebSocketStream`] over any `AsyncRead + AsyncWrite + Unpin` stream.
//!
//! ```no_run
//! use wsproto::Config;
//! use wsproto::io::Message;
//! use wsproto::io::tokio::connect;
//!
//! # async fn run() -> std::io::Result<()> {
//! let (mut ws, _response) = connect("ws://127.0.0.1:9002/", Config::default()).await?;
//! ws.send(Message::text("hello")).await?;
//! // Ends with a `NotConnected` error once the connection is over.
//! while let Ok(message) = ws.recv().await {
//!     println!("{message:?}");
//!     ws.close(wsproto::CloseCode::NORMAL, "bye").await?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Three ways to drive it, which may be mixed:
//!
//! - `async fn`s: [`recv`](WebSocketStream::recv), [`send`](WebSocketStream::send),
//!   [`close`](WebSocketStream::close), [`flush`](WebSocketStream::flush);
//! - [`Stream`]`<Item = io::Result<Message>>` and [`Sink`]`<Message>` (from `futures-core` and
//!   `futures-sink`, so `StreamExt`/`SinkExt` and `forward` work). The stream ends (`None`)
//!   where `recv` returns `NotConnected`. [`Sink::poll_ready`] applies backpressure: it waits
//!   while more than [`high_water_mark`](WebSocketStream::set_high_water_mark) bytes are queued;
//!   [`Sink::poll_close`] sends a normal close frame (keep reading the stream to finish the close
//!   handshake);
//! - [`split`](WebSocketStream::split) into a [`ReadHalf`] and a [`WriteHalf`] for two tasks.
//!
//! # Protocol duties
//!
//! Reading is what drives the connection: `recv` (or polling the stream) writes out queued
//! output, answers pings, echoes the peer's close, runs the timers (the opening-handshake,
//! keepalive, pong and close timeouts, through a [`tokio::time::Sleep`] armed at
//! [`Connection::poll_timeout`]), and shuts the transport down once
//! [`Connection::wants_transport_close`] says so. Keep reading until the connection ends, even
//! after sending a close. The runtime must have its time driver enabled (`#[tokio::main]` and
//! `#[tokio::test]` do).
//!
//! # Cancel safety
//!
//! `recv` is cancel safe: all state lives in the [`Connection`] and the adapter's read buffer,
//! and a message is taken out of them only in the same poll that returns it. Dropping a `recv`
//! future (say, the losing branch of `tokio::select!`) loses nothing: the next `recv` continues
//! where it left off. `send` is not cancel safe in the same sense: once its future has been
//! polled past backpressure the message is queued, and cancelling it only stops the flush; the
//! message is still written by the next `recv`, `send` or `flush`.
//!
//! # Splitting
//!
//! [`WebSocketStream::split`] puts the connection, the read buffer and the stream behind an
//! internal [`std::sync::Mutex`] shared by the two halves. A `std` mutex, not tokio's, because
//! the lock is only ever held for one synchronous poll step and never across an `.await`:
//! nothing blocks on it for long, and a poll function cannot await an async lock. The halves
//! poll the stream with a waker that wakes both of them, so neither steals the other's wakeup
//! (a stream keeps one waker per direction, and the read half also writes).
//!
//! The duties cross between the halves like this:
//!
//! - The [`ReadHalf`] writes out everything queued, so pongs and the close echo are flushed
//!   even while the [`WriteHalf`] is idle; it also runs all timers and shuts the transport down
//!   at the end. Keep a task reading (and drop the read half only when you are done): without
//!   it, pings go unanswered and a close handshake never completes.
//! - The [`WriteHalf`] queues and flushes messages; its [`close`](WriteHalf::close) (or
//!   [`Sink::poll_close`]) sends the close frame, and the read half then sees the peer's answer
//!   and ends. A close or send that arms or moves a timer wakes the read half so its sleep is
//!   re-armed.
//! - Once the read half has seen the peer's close, sends from the write half fail with
//!   `NotConnected`.
//!
//! [`ReadHalf::reunite`] puts the halves back together.

use core::future::poll_fn;
use core::pin::Pin;
use core::task::{Context, Poll, Waker, ready};
use std::boxed::Box;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Wake;

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant as TokioInstant, Sleep};

use super::{
    Answer, MAX_IOSLICES, Message, ReadBuffer, apply_answer, io_error, is_contiguous, new_client,
    new_server, new_upgraded, output_slices, plain_url, queue_message, rejected_error, send_error,
};
use crate::connection::{Connection, Role, State};
use crate::error::Error;
use crate::event::{DataKind, Event};
use crate::handshake::{ClientRequest, Request, Response};
use crate::{CloseCode, Config, Instant};

/// The default [`high_water_mark`](WebSocketStream::set_high_water_mark): 128 KiB.
pub const DEFAULT_HIGH_WATER_MARK: usize = 128 << 10;

/// What one step of reading produced.
enum Polled {
    Request(Request),
    Connected(Response),
    Message(Message),
    /// The connection is over and the transport shut down.
    End,
}

/// Everything a connection needs; shared by the halves after a split.
#[derive(Debug)]
struct Inner<S> {
    stream: S,
    /// Boxed so the stream and the futures that hold it stay small (a task's future is sized
    /// for its largest state; the connection is 1.7 KiB).
    conn: Box<Connection>,
    buf: ReadBuffer,
    /// Core instants count from here.
    epoch: TokioInstant,
    /// When the last read returned bytes: the time `recv` is given for them, so the clock is
    /// read once per read rather than once per message.
    read_at: Instant,
    /// The timer and the core deadline it is armed at.
    sleep: Option<Pin<Box<Sleep>>>,
    armed: Option<Instant>,
    high_water: usize,
    /// Bytes were written since the stream was last flushed.
    unflushed: bool,
    /// The transport was shut down or failed: the connection is over.
    done: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Inner<S> {
    fn new(stream: S, conn: Connection, epoch: TokioInstant) -> Self {
        Inner {
            stream,
            conn: Box::new(conn),
            buf: ReadBuffer::new(),
            epoch,
            read_at: Instant::ZERO,
            sleep: None,
            armed: None,
            high_water: DEFAULT_HIGH_WATER_MARK,
            unflushed: false,
            done: false,
        }
    }

    fn now(&self) -> Instant {
        Instant::from_duration(TokioInstant::now().saturating_duration_since(self.epoch))
    }

    /// Writes queued output until at most `target` bytes remain; `target == 0` also flushes the
    /// stream.
    fn poll_write_to(&mut self, cx: &mut Context<'_>, target: usize) -> Poll<io::Result<()>> {
        while self.conn.transmit_len() > target {
            let stream = Pin::new(&mut self.stream);
            let n = if is_contiguous(&self.conn) {
                ready!(stream.poll_write(cx, self.conn.transmit()))?
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_IOSLICES];
                let count = output_slices(&self.conn, &mut slices);
                ready!(stream.poll_write_vectored(cx, &slices[..count]))?
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.conn.advance_transmit(n);
            self.unflushed = true;
        }
        if target == 0 && self.unflushed {
            ready!(Pin::new(&mut self.stream).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_to(cx, 0)
    }

    /// Shuts the transport down (once) and marks the connection over.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.done {
            // Best effort: the peer may already be gone.
            let _ = ready!(Pin::new(&mut self.stream).poll_shutdown(cx));
            self.done = true;
        }
        Poll::Ready(())
    }

    /// A fatal condition: try once more to write the close frame or HTTP reply the core queued,
    /// without waiting, then give up on the transport.
    fn abort(&mut self, cx: &mut Context<'_>) {
        if self.poll_flush(cx).is_ready() {
            let _ = Pin::new(&mut self.stream).poll_shutdown(cx);
        }
        self.done = true;
    }

    /// Arms the sleep at the core's next deadline and reports whether it has passed.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Option<Instant> {
        let at = self.conn.poll_timeout()?;
        let deadline = self.epoch.checked_add(at.since_epoch())?;
        if self.armed != Some(at) {
            match self.sleep.as_mut() {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = Some(at);
        }
        let sleep = self.sleep.as_mut()?;
        if sleep.as_mut().poll(cx).is_ready() {
            self.armed = None;
            return Some(at);
        }
        None
    }

    /// Whether the sleep is armed at another deadline than the core's (a send moved a timer).
    fn timer_stale(&self) -> bool {
        self.armed != self.conn.poll_timeout()
    }

    /// Drives the connection until the next event the caller sees. Cancel safe: no state is
    /// held outside `self` between polls.
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Polled>> {
        loop {
            if self.done {
                return Poll::Ready(Ok(Polled::End));
            }
            // Write what we can; a peer that is not reading must not stop us from reading.
            let flushed = match self.poll_flush(cx) {
                Poll::Ready(Ok(())) => true,
                Poll::Ready(Err(e)) => {
                    self.done = true;
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => false,
            };
            if self.conn.wants_transport_close() {
                ready!(self.poll_shutdown(cx));
                return Poll::Ready(Ok(Polled::End));
            }
            if let Some(at) = self.poll_timer(cx) {
                // The sleep fired at or after `at`; never report an earlier time.
                let now = self.now().max(at);
                if let Err(e) = self.conn.handle_timeout(now) {
                    self.abort(cx);
                    return Poll::Ready(Err(io_error(e)));
                }
                continue;
            }
            if !flushed && self.conn.state() == State::Closed {
                // Only writing is left; the write or the timer wakes us.
                return Poll::Pending;
            }
            let recv = match self.conn.recv(self.read_at, self.buf.filled()) {
                Ok(recv) => recv,
                Err(Error::Closed) => {
                    self.abort(cx);
                    return Poll::Ready(Ok(Polled::End));
                }
                Err(e) => {
                    self.abort_soft(cx);
                    return Poll::Ready(Err(io_error(e)));
                }
            };
            let consumed = recv.consumed;
            let polled = match recv.event {
                Some(Event::Message(msg)) => Some(Polled::Message(Message::from_core(msg))),
                Some(Event::Ping(p)) => Some(Polled::Message(Message::Ping(p))),
                Some(Event::Pong(p)) => Some(Polled::Message(Message::Pong(p))),
                Some(Event::Close(frame)) => Some(Polled::Message(Message::Close(frame))),
                Some(Event::Request(request)) => Some(Polled::Request(request)),
                Some(Event::Connected(response)) => Some(Polled::Connected(response)),
                // Adapters run with whole-message delivery: no chunks.
                Some(Event::Chunk(_)) => None,
                None => None,
            };
            self.buf.consume(consumed);
            if let Some(polled) = polled {
                // Start writing a pong or close echo now; whatever is left goes next time.
                let _ = self.poll_flush(cx);
                return Poll::Ready(Ok(polled));
            }
            if consumed > 0 {
                continue;
            }
            let needed = self.conn.input_needed();
            let mut read = ReadBuf::new(self.buf.spare(needed));
            match Pin::new(&mut self.stream).poll_read(cx, &mut read) {
                Poll::Pending => {
                    // An idle connection keeps no read buffer.
                    self.buf.release_if_empty();
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => {
                    self.done = true;
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    let now = self.now();
                    let eof = self.conn.recv_eof(now);
                    if let Err(e) = eof {
                        self.abort(cx);
                        return Poll::Ready(Err(io_error(e)));
                    }
                    // Clean end: the loop flushes and shuts down.
                }
                Poll::Ready(Ok(())) => {
                    let n = read.filled().len();
                    self.buf.filled_by(n);
                    self.read_at = self.now();
                }
            }
        }
    }

    /// A protocol or handshake error: the core queued a close frame or HTTP reply. Start
    /// writing it; later polls finish writing and shut the transport down.
    fn abort_soft(&mut self, cx: &mut Context<'_>) {
        if self.poll_flush(cx).is_ready() && self.conn.wants_transport_close() {
            let _ = self.poll_shutdown(cx);
        }
    }

    /// Polls for the next message; `Ok(None)` once the connection is over.
    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Message>>> {
        loop {
            match ready!(self.poll_event(cx))? {
                Polled::Message(message) => return Poll::Ready(Ok(Some(message))),
                Polled::End => return Poll::Ready(Ok(None)),
                // Handshake events do not come after the handshake.
                Polled::Request(_) | Polled::Connected(_) => {}
            }
        }
    }

    /// Sink readiness: room below the high-water mark.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let high_water = self.high_water;
        if self.conn.transmit_len() >= high_water {
            ready!(self.poll_write_to(cx, high_water.saturating_sub(1)))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(&mut self, message: Message) -> io::Result<()> {
        let epoch = self.epoch;
        let now = || Instant::from_duration(TokioInstant::now().saturating_duration_since(epoch));
        queue_message(&mut self.conn, now, message).map_err(send_error)
    }

    fn close(&mut self, code: CloseCode, reason: &str) -> io::Result<()> {
        let now = self.now();
        self.conn.close(now, code, reason).map_err(send_error)
    }

    fn send_fragment(&mut self, kind: DataKind, data: &[u8], last: bool) -> io::Result<()> {
        self.conn
            .send_fragment(kind, data, last)
            .map_err(send_error)
    }

    /// Sink close: a normal close frame (unless one was sent or the connection ended), flushed.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.conn.state() == State::Open {
            self.close(CloseCode::NORMAL, "")?;
        }
        self.poll_flush(cx)
    }

    /// After a handshake failure: write the queued reply (bounded by the close timeout) and shut
    /// the transport down.
    async fn finish(&mut self) {
        let limit = self
            .conn
            .config()
            .close_timeout
            .unwrap_or(super::DEFAULT_CLOSE_TIMEOUT);
        let _ = tokio::time::timeout(limit, async {
            let _ = poll_fn(|cx| self.poll_flush(cx)).await;
            poll_fn(|cx| self.poll_shutdown(cx)).await;
        })
        .await;
        self.done = true;
    }
}

/// A WebSocket over an async byte stream. See the [module docs](self).
#[derive(Debug)]
pub struct WebSocketStream<S> {
    inner: Inner<S>,
}

/// Connects to a `ws://` URL over TCP and completes the opening handshake.
///
/// # Errors
/// `InvalidInput` for a bad URL, or for a `wss://` URL: open the TLS stream yourself (e.g. with
/// tokio-rustls) and call [`WebSocketStream::client`] on it, as `examples/tls_client.rs` does.
/// Connection and handshake errors otherwise.
pub async fn connect(
    url: &str,
    config: Config,
) -> io::Result<(WebSocketStream<TcpStream>, Response)> {
    let (parsed, request) = plain_url(url)?;
    let stream = TcpStream::connect((parsed.host.as_str(), parsed.port)).await?;
    stream.set_nodelay(true)?;
    WebSocketStream::client(stream, request, config).await
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// Runs the client handshake on `stream`, seeding masking keys from the OS.
    ///
    /// # Errors
    /// I/O errors, and the handshake error (as the source of an `InvalidData` error; a timeout
    /// is `TimedOut`).
    pub async fn client(
        stream: S,
        request: ClientRequest,
        config: Config,
    ) -> io::Result<(Self, Response)> {
        let epoch = TokioInstant::now();
        let conn = new_client(config, request)?;
        let mut inner = Inner::new(stream, conn, epoch);
        loop {
            match poll_fn(|cx| inner.poll_event(cx)).await {
                Ok(Polled::Connected(response)) => {
                    return Ok((WebSocketStream { inner }, response));
                }
                Ok(Polled::End) => return Err(io_error(Error::Closed)),
                Ok(_) => {}
                Err(e) => {
                    inner.finish().await;
                    return Err(e);
                }
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
        answer: impl FnOnce(&Request) -> Answer,
    ) -> io::Result<Self> {
        let epoch = TokioInstant::now();
        let conn = new_server(config);
        let mut inner = Inner::new(stream, conn, epoch);
        let request = loop {
            match poll_fn(|cx| inner.poll_event(cx)).await {
                Ok(Polled::Request(request)) => break request,
                Ok(Polled::End) => return Err(io_error(Error::Closed)),
                Ok(_) => {}
                Err(e) => {
                    inner.finish().await;
                    return Err(e);
                }
            }
        };
        let now = inner.now();
        if apply_answer(&mut inner.conn, now, answer(&request))? {
            poll_fn(|cx| inner.poll_flush(cx)).await?;
            Ok(WebSocketStream { inner })
        } else {
            inner.finish().await;
            Err(rejected_error())
        }
    }

    /// Wraps a stream whose HTTP upgrade happened elsewhere (e.g. hyper's `Upgraded` in
    /// `hyper_util::rt::TokioIo`).
    ///
    /// # Errors
    /// When the OS cannot provide a seed for a client's masking keys.
    pub fn upgraded(stream: S, role: Role, config: Config) -> io::Result<Self> {
        let conn = new_upgraded(role, config)?;
        Ok(WebSocketStream {
            inner: Inner::new(stream, conn, TokioInstant::now()),
        })
    }

    /// The core connection, for its getters.
    pub fn connection(&self) -> &Connection {
        &self.inner.conn
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.inner.stream
    }

    /// Whether the connection is open for sending.
    pub fn is_open(&self) -> bool {
        self.inner.conn.state() == State::Open
    }

    /// Sets the backpressure threshold: [`Sink::poll_ready`] (and so [`send`](Self::send))
    /// waits while at least this many bytes are queued. Default
    /// [`DEFAULT_HIGH_WATER_MARK`]; at least 1.
    pub fn set_high_water_mark(&mut self, bytes: usize) {
        self.inner.high_water = bytes.max(1);
    }

    /// Receives the next message, ping, pong or close. Pings are answered and the close is
    /// echoed before they are returned. After a [`Message::Close`], keep calling until it
    /// returns an error of kind `NotConnected` (the transport is then shut down). Cancel safe.
    ///
    /// # Errors
    /// The core's error as the source: `InvalidData` for a protocol error (the close frame is
    /// sent), `UnexpectedEof` for a transport that ended without a close, `TimedOut`, or
    /// `NotConnected` once the connection has ended; I/O errors.
    pub async fn recv(&mut self) -> io::Result<Message> {
        match poll_fn(|cx| self.inner.poll_message(cx)).await? {
            Some(message) => Ok(message),
            None => Err(io_error(Error::Closed)),
        }
    }

    /// Sends a message: waits for room below the high-water mark, queues it, and flushes.
    ///
    /// # Errors
    /// The send error (`NotConnected` after close) or an I/O error.
    pub async fn send(&mut self, message: Message) -> io::Result<()> {
        poll_fn(|cx| self.inner.poll_ready(cx)).await?;
        self.inner.start_send(message)?;
        poll_fn(|cx| self.inner.poll_flush(cx)).await
    }

    /// Sends one fragment of a message sent in pieces (see [`Connection::send_fragment`]) and
    /// flushes it.
    ///
    /// # Errors
    /// As [`send`](Self::send), plus fragment misuse as `InvalidInput`.
    pub async fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        last: bool,
    ) -> io::Result<()> {
        poll_fn(|cx| self.inner.poll_ready(cx)).await?;
        self.inner.send_fragment(kind, data, last)?;
        poll_fn(|cx| self.inner.poll_flush(cx)).await
    }

    /// Starts the close handshake; keep calling [`recv`](Self::recv) to finish it.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> io::Result<()> {
        self.inner.close(code, reason)?;
        poll_fn(|cx| self.inner.poll_flush(cx)).await
    }

    /// Writes all queued output, vectored, and flushes the stream.
    ///
    /// # Errors
    /// I/O errors from the stream.
    pub async fn flush(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.inner.poll_flush(cx)).await
    }

    /// Splits into a read half and a write half that may live in different tasks. See the
    /// [module docs](self#splitting) for who does what.
    pub fn split(self) -> (ReadHalf<S>, WriteHalf<S>) {
        let shared = Arc::new(Shared {
            inner: Mutex::new(self.inner),
            wakers: Arc::new(FanOut::default()),
        });
        (
            ReadHalf {
                shared: Arc::clone(&shared),
            },
            WriteHalf { shared },
        )
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocketStream<S> {
    type Item = io::Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().inner.poll_message(cx).map(Result::transpose)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocketStream<S> {
    type Error = io::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().inner.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> io::Result<()> {
        self.get_mut().inner.start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().inner.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().inner.poll_close(cx)
    }
}

// ---- split ----

/// Which half is polling.
#[derive(Clone, Copy)]
enum Side {
    Read = 0,
    Write = 1,
}

/// A waker that wakes both halves: the stream and the timer keep only the last waker they were
/// polled with, and either half may be the one waiting on a direction.
#[derive(Debug, Default)]
struct FanOut {
    wakers: Mutex<[Option<Waker>; 2]>,
}

impl FanOut {
    fn slots(&self) -> MutexGuard<'_, [Option<Waker>; 2]> {
        self.wakers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(&self, side: Side, waker: &Waker) {
        let mut slots = self.slots();
        let slot = &mut slots[side as usize];
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    fn wake_side(&self, side: Side) {
        let waker = self.slots()[side as usize].take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Wake for FanOut {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let [read, write] = {
            let mut slots = self.slots();
            [slots[0].take(), slots[1].take()]
        };
        for waker in [read, write].into_iter().flatten() {
            waker.wake();
        }
    }
}

#[derive(Debug)]
struct Shared<S> {
    inner: Mutex<Inner<S>>,
    wakers: Arc<FanOut>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, Inner<S>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one poll step on the locked connection with the fan-out waker.
    fn poll_with<R>(
        &self,
        side: Side,
        cx: &mut Context<'_>,
        step: impl FnOnce(&mut Inner<S>, &mut Context<'_>) -> R,
    ) -> R {
        self.wakers.register(side, cx.waker());
        let waker = Waker::from(Arc::clone(&self.wakers));
        let mut cx = Context::from_waker(&waker);
        let (result, wake) = {
            let mut inner = self.lock();
            let before = inner.conn.transmit_len();
            let result = step(&mut inner, &mut cx);
            let after = inner.conn.transmit_len();
            let wake = match side {
                // The writer may be waiting for the room the reader's flush just made.
                Side::Read => (after < before).then_some(Side::Write),
                // The reader may be waiting to shut the transport down after the last write.
                Side::Write => {
                    (after < before && after == 0 && inner.conn.state() == State::Closed)
                        .then_some(Side::Read)
                }
            };
            (result, wake)
        };
        if let Some(other) = wake {
            self.wakers.wake_side(other);
        }
        result
    }

    /// Runs a write-half command; wakes the read half if the command moved a timer.
    fn command<R>(&self, step: impl FnOnce(&mut Inner<S>) -> R) -> R {
        let (result, stale) = {
            let mut inner = self.lock();
            let result = step(&mut inner);
            (result, inner.timer_stale())
        };
        if stale {
            self.wakers.wake_side(Side::Read);
        }
        result
    }
}

/// The receiving half of a split [`WebSocketStream`]: it also flushes automatic replies and
/// runs the timers. See the [module docs](self#splitting).
#[derive(Debug)]
pub struct ReadHalf<S> {
    shared: Arc<Shared<S>>,
}

/// The sending half of a split [`WebSocketStream`]. See the [module docs](self#splitting).
#[derive(Debug)]
pub struct WriteHalf<S> {
    shared: Arc<Shared<S>>,
}

/// [`ReadHalf::reunite`] was given halves of two different streams; both are handed back.
#[derive(Debug)]
pub struct ReuniteError<S>(pub ReadHalf<S>, pub WriteHalf<S>);

impl<S> core::fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("tried to reunite halves of different WebSocket streams")
    }
}

impl<S: core::fmt::Debug> std::error::Error for ReuniteError<S> {}

impl<S: AsyncRead + AsyncWrite + Unpin> ReadHalf<S> {
    /// As [`WebSocketStream::recv`]; cancel safe.
    ///
    /// # Errors
    /// As [`WebSocketStream::recv`].
    pub async fn recv(&mut self) -> io::Result<Message> {
        let message = poll_fn(|cx| {
            self.shared
                .poll_with(Side::Read, cx, |inner, cx| inner.poll_message(cx))
        })
        .await?;
        message.ok_or_else(|| io_error(Error::Closed))
    }

    /// Whether the connection is open for sending.
    pub fn is_open(&self) -> bool {
        self.shared.lock().conn.state() == State::Open
    }

    /// Puts the halves back together.
    ///
    /// # Errors
    /// [`ReuniteError`] if `write` belongs to another stream.
    pub fn reunite(self, write: WriteHalf<S>) -> Result<WebSocketStream<S>, ReuniteError<S>> {
        if !Arc::ptr_eq(&self.shared, &write.shared) {
            return Err(ReuniteError(self, write));
        }
        drop(write);
        match Arc::try_unwrap(self.shared) {
            Ok(shared) => Ok(WebSocketStream {
                inner: shared
                    .inner
                    .into_inner()
                    .unwrap_or_else(PoisonError::into_inner),
            }),
            // Both halves were the only owners; this cannot happen.
            Err(shared) => {
                let read = ReadHalf {
                    shared: Arc::clone(&shared),
                };
                Err(ReuniteError(read, WriteHalf { shared }))
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for ReadHalf<S> {
    type Item = io::Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared
            .poll_with(Side::Read, cx, |inner, cx| inner.poll_message(cx))
            .map(Result::transpose)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WriteHalf<S> {
    /// As [`WebSocketStream::send`].
    ///
    /// # Errors
    /// As [`WebSocketStream::send`].
    pub async fn send(&mut self, message: Message) -> io::Result<()> {
        poll_fn(|cx| Pin::new(&mut *self).poll_ready(cx)).await?;
        Pin::new(&mut *self).start_send(message)?;
        self.flush().await
    }

    /// As [`WebSocketStream::send_fragment`].
    ///
    /// # Errors
    /// As [`WebSocketStream::send_fragment`].
    pub async fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        last: bool,
    ) -> io::Result<()> {
        poll_fn(|cx| Pin::new(&mut *self).poll_ready(cx)).await?;
        self.shared
            .command(|inner| inner.send_fragment(kind, data, last))?;
        self.flush().await
    }

    /// Sends a close frame; the [`ReadHalf`] sees the peer's answer and ends.
    ///
    /// # Errors
    /// As [`WebSocketStream::close`].
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> io::Result<()> {
        self.shared.command(|inner| inner.close(code, reason))?;
        self.flush().await
    }

    /// Writes all queued output and flushes the stream.
    ///
    /// # Errors
    /// I/O errors from the stream.
    pub async fn flush(&mut self) -> io::Result<()> {
        poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }

    /// Whether the connection is open for sending.
    pub fn is_open(&self) -> bool {
        self.shared.lock().conn.state() == State::Open
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WriteHalf<S> {
    type Error = io::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared
            .poll_with(Side::Write, cx, |inner, cx| inner.poll_ready(cx))
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> io::Result<()> {
        self.shared.command(|inner| inner.start_send(item))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared
            .poll_with(Side::Write, cx, |inner, cx| inner.poll_flush(cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let shared = &self.shared;
        let result = shared.poll_with(Side::Write, cx, |inner, cx| inner.poll_close(cx));
        if shared.lock().timer_stale() {
            shared.wakers.wake_side(Side::Read);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn halves_are_send() {
        assert_send::<WebSocketStream<TcpStream>>();
        assert_send::<ReadHalf<TcpStream>>();
        assert_send::<WriteHalf<TcpStream>>();
    }
}
