//! [`WebSocketStream`]: the async surface both async adapters share.

use core::future::poll_fn;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::boxed::Box;

use futures_core::Stream;
use futures_sink::Sink;

use super::driver::{Driver, Polled, Runtime, content_length};
use super::split::{ReadHalf, WriteHalf, split};
use super::{Answer, Message, Reject, WsError, WsResult, apply_answer};
use crate::close::CloseCode;
use crate::connection::{Connection, State};
use crate::error::HandshakeError;
use crate::event::DataKind;
use crate::handshake::Accept;
use crate::handshake::{Request, Response};
use crate::prepared::PreparedFrame;

/// A WebSocket over an async byte stream, on runtime `R`: name it as
/// [`tokio::WebSocketStream<S>`](super::tokio::WebSocketStream) or
/// [`futures::WebSocketStream<S, T>`](super::futures::WebSocketStream).
///
/// Three ways to drive it, which may be mixed:
///
/// - `async fn`s: [`recv`](WebSocketStream::recv), [`send`](WebSocketStream::send),
///   [`send_prepared`](WebSocketStream::send_prepared), [`close`](WebSocketStream::close),
///   [`flush`](WebSocketStream::flush), and [`poll_recv`](WebSocketStream::poll_recv);
/// - [`Stream`]`<Item = Result<Message, WsError>>` and [`Sink`]`<Message>` (from `futures-core`
///   and `futures-sink`, so `StreamExt`/`SinkExt`, `forward` and `StreamExt::split` work). The
///   stream ends (`None`) where `recv` returns `Ok(None)`. [`Sink::poll_ready`] applies backpressure: it waits
///   while more than [`high_water_mark`](WebSocketStream::set_high_water_mark) bytes are
///   queued; [`Sink::poll_close`] sends a normal close frame (keep reading the stream to finish
///   the close handshake);
/// - [`into_split`](WebSocketStream::into_split) into a [`ReadHalf`] and a [`WriteHalf`] for
///   two tasks.
///
/// # Protocol duties
///
/// Reading is what drives the connection: `recv` (or polling the stream) writes out queued
/// output, answers pings, echoes the peer's close, runs the timers (the opening-handshake,
/// keepalive, pong and close timeouts, at [`Connection::poll_timeout`]), and shuts the
/// transport down once [`Connection::wants_transport_close`] says so. Keep reading until the
/// connection ends, even after sending a close.
///
/// # Cancel safety
///
/// `recv` is cancel safe: all state lives in the [`Connection`] and the adapter's read buffer,
/// and a message is taken out of them only in the same poll that returns it. Dropping a `recv`
/// future (say, the losing branch of `select!`) loses nothing. `send` is not cancel safe in the
/// same sense: once its future has been polled past backpressure the message is queued, and
/// cancelling it only stops the flush; the message is still written by the next `recv`, `send`
/// or `flush`.
///
/// # Memory
///
/// A received message that arrived whole in the read buffer shares the buffer's allocation (see
/// [`ReadBuffer`](super::ReadBuffer)): keeping one for long keeps that buffer alive.
#[derive(Debug)]
pub struct WebSocketStream<R> {
    pub(crate) driver: Driver<R>,
}

impl<R: Runtime> WebSocketStream<R> {
    /// Drives a client connection until the server's response has been checked.
    pub(crate) async fn client_handshake(io: R, conn: Connection) -> WsResult<(Self, Response)> {
        let mut driver = Driver::new(io, conn);
        loop {
            match poll_fn(|cx| driver.poll_event(cx)).await {
                Ok(Polled::Connected(response)) => {
                    return Ok((WebSocketStream { driver }, *response));
                }
                Ok(Polled::End) => return Err(WsError::Handshake(HandshakeError::Eof)),
                Ok(_) => {}
                Err(WsError::Refused { response, .. }) => {
                    let until = driver.finish_deadline();
                    let length = content_length(&response);
                    let body = poll_fn(|cx| driver.poll_refusal_body(cx, until, length)).await;
                    finish(&mut driver).await;
                    return Err(WsError::Refused { response, body });
                }
                Err(e) => {
                    finish(&mut driver).await;
                    return Err(e);
                }
            }
        }
    }

    /// Drives a server connection until its opening request has arrived.
    pub(crate) async fn read_request(io: R, conn: Connection) -> WsResult<Incoming<R>> {
        let mut driver = Driver::new(io, conn);
        loop {
            match poll_fn(|cx| driver.poll_event(cx)).await {
                Ok(Polled::Request(request)) => return Ok(Incoming { driver, request }),
                Ok(Polled::End) => return Err(WsError::Handshake(HandshakeError::Eof)),
                Ok(_) => {}
                Err(e) => {
                    finish(&mut driver).await;
                    return Err(e);
                }
            }
        }
    }

    /// A stream over an open connection.
    pub(crate) fn from_parts(io: R, conn: Connection) -> Self {
        WebSocketStream {
            driver: Driver::new(io, conn),
        }
    }

    /// The core connection, for its getters.
    pub fn connection(&self) -> &Connection {
        &self.driver.conn
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &R::Stream {
        self.driver.io.stream()
    }

    /// The underlying stream, mutably. Reading or writing it directly corrupts the connection.
    pub fn get_mut(&mut self) -> &mut R::Stream {
        self.driver.io.stream_mut()
    }

    /// The underlying stream, giving up the connection. Bytes read but not yet processed are
    /// lost, and queued output is not written: call it once the connection has ended.
    pub fn into_inner(self) -> R::Stream {
        self.driver.io.into_stream()
    }

    /// Whether the connection is open for sending.
    pub fn is_open(&self) -> bool {
        self.driver.conn.state() == State::Open
    }

    /// Sets the backpressure threshold: [`Sink::poll_ready`] (and so [`send`](Self::send))
    /// waits while at least this many bytes are queued. Default
    /// [`DEFAULT_HIGH_WATER_MARK`](super::DEFAULT_HIGH_WATER_MARK); at least 1.
    pub fn set_high_water_mark(&mut self, bytes: usize) {
        self.driver.high_water = bytes.max(1);
    }

    /// The backpressure threshold in force.
    pub fn high_water_mark(&self) -> usize {
        self.driver.high_water
    }

    /// Receives the next message, ping, pong or close; `Ok(None)` once the connection has
    /// ended cleanly (the close handshake completed and the transport is shut down), and on
    /// every call after that or after an error. Pings are answered and the close is echoed
    /// before they are returned; after a [`Message::Close`], keep calling until `Ok(None)`.
    /// Cancel safe.
    ///
    /// # Errors
    /// [`WsError::Protocol`] or [`WsError::LimitExceeded`] when the peer broke the protocol or
    /// a limit (the close frame was sent), [`WsError::AbnormalClosure`] for a transport that
    /// ended without a close, [`WsError::Timeout`], [`WsError::Io`] for a transport failure.
    pub async fn recv(&mut self) -> WsResult<Option<Message>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The polling form of [`recv`](Self::recv).
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<WsResult<Option<Message>>> {
        self.driver.poll_message(cx)
    }

    /// Sends a message: waits for room below the high-water mark, queues it, and flushes.
    /// Anything that converts into a [`Message`] will do (`String`, `&'static str`,
    /// [`Utf8Bytes`](crate::Utf8Bytes), `Vec<u8>`, [`Bytes`](bytes::Bytes)); what it owns is not
    /// copied where the frame can carry it as it is (a server's large payloads), and text is
    /// not validated again.
    ///
    /// # Errors
    /// [`WsError::Closed`] (with the peer's close frame) after the connection ended cleanly,
    /// [`WsError::Send`] for a send this side may not make (a control payload over 125 bytes,
    /// or a close already sent), [`WsError::Io`] for a transport failure.
    pub async fn send(&mut self, message: impl Into<Message>) -> WsResult<()> {
        poll_fn(|cx| self.driver.poll_ready(cx)).await?;
        self.driver.start_send(message.into())?;
        poll_fn(|cx| self.driver.poll_flush(cx)).await
    }

    /// Sends a frame prepared once for many connections (a broadcast): see [`PreparedFrame`].
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_prepared(&mut self, frame: &PreparedFrame) -> WsResult<()> {
        poll_fn(|cx| self.driver.poll_ready(cx)).await?;
        self.driver.start_send_prepared(frame)?;
        poll_fn(|cx| self.driver.poll_flush(cx)).await
    }

    /// Sends one fragment of a message sent in pieces (see [`Connection::send_fragment`]) and
    /// flushes it.
    ///
    /// # Errors
    /// As [`send`](Self::send), plus fragment misuse as [`WsError::Send`].
    pub async fn send_fragment(&mut self, kind: DataKind, data: &[u8], last: bool) -> WsResult<()> {
        poll_fn(|cx| self.driver.poll_ready(cx)).await?;
        self.driver.send_fragment(kind, data, last)?;
        poll_fn(|cx| self.driver.poll_flush(cx)).await
    }

    /// Starts the close handshake; keep calling [`recv`](Self::recv) to finish it.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> WsResult<()> {
        self.driver.close(code, reason)?;
        poll_fn(|cx| self.driver.poll_flush(cx)).await
    }

    /// Writes all queued output, vectored, and flushes the stream.
    ///
    /// # Errors
    /// [`WsError::Io`] from the stream.
    pub async fn flush(&mut self) -> WsResult<()> {
        poll_fn(|cx| self.driver.poll_flush(cx)).await
    }

    /// Splits into a read half and a write half that may live in different tasks, without
    /// the `BiLock` of `StreamExt::split` (which works too, and returns `(sink, stream)`). See
    /// [`ReadHalf`] for who does what.
    pub fn into_split(self) -> (ReadHalf<R>, WriteHalf<R>) {
        split(self)
    }
}

/// After a handshake failure: write the queued reply (bounded by the close timeout) and shut
/// the transport down.
async fn finish<R: Runtime>(driver: &mut Driver<R>) {
    let until = driver.finish_deadline();
    poll_fn(|cx| driver.poll_finish(cx, until)).await;
}

impl<R: Runtime> Stream for WebSocketStream<R> {
    type Item = WsResult<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut()
            .driver
            .poll_message(cx)
            .map(Result::transpose)
    }
}

impl<R: Runtime> Sink<Message> for WebSocketStream<R> {
    type Error = WsError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WsResult<()>> {
        self.get_mut().driver.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> WsResult<()> {
        self.get_mut().driver.start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WsResult<()>> {
        self.get_mut().driver.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WsResult<()>> {
        self.get_mut().driver.poll_close(cx)
    }
}

/// A server connection whose opening request has arrived and awaits the application's answer:
/// look at the request (path, query, headers, `Origin`, offered subprotocols and extensions),
/// await whatever the decision needs (a token lookup), then [`accept`](Incoming::accept) or
/// [`reject`](Incoming::reject). Made by the adapters' `incoming`.
///
/// Dropping it closes the transport without an answer; reject instead to tell the client why.
/// The opening-handshake timeout bounds how long the client may take to send its request; the
/// application's decision is not timed (nothing is read meanwhile), so bound a slow lookup
/// yourself (`tokio::time::timeout`) and reject with a 503 when it takes too long.
#[derive(Debug)]
pub struct Incoming<R> {
    driver: Driver<R>,
    request: Box<Request>,
}

impl<R: Runtime> Incoming<R> {
    /// The opening request.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The underlying stream, e.g. for the peer's address.
    pub fn get_ref(&self) -> &R::Stream {
        self.driver.io.stream()
    }

    /// Accepts: writes the 101 response and returns the open connection.
    ///
    /// # Errors
    /// [`WsError::UnofferedSubprotocol`] when `accept` names a subprotocol the client did not
    /// offer, [`WsError::InvalidAnswer`] for a header the response cannot carry: in both the
    /// client gets `500 Internal Server Error`. [`WsError::Io`] if the response cannot be
    /// written.
    pub async fn accept(self, accept: Accept) -> WsResult<WebSocketStream<R>> {
        self.answer(accept).await
    }

    /// Rejects: writes the HTTP response and shuts the transport down.
    ///
    /// # Errors
    /// [`WsError::InvalidAnswer`] for a status outside 200-599 or a header the response cannot
    /// carry (the client gets a 500 instead).
    pub async fn reject(self, reject: impl Into<Reject>) -> WsResult<()> {
        match self.answer(Answer::Reject(reject.into())).await {
            Err(WsError::Rejected { .. }) => Ok(()),
            Err(e) => Err(e),
            // A rejection never opens the connection.
            Ok(_) => Ok(()),
        }
    }

    /// Answers with `answer`: the open connection, or, for a rejection, [`WsError::Rejected`]
    /// once the response is written.
    ///
    /// # Errors
    /// As [`accept`](Incoming::accept) and [`reject`](Incoming::reject), and
    /// [`WsError::Rejected`] for a rejection.
    pub async fn answer(self, answer: impl Into<Answer>) -> WsResult<WebSocketStream<R>> {
        let Incoming { mut driver, .. } = self;
        let now = driver.now();
        match apply_answer(&mut driver.conn, now, answer.into()) {
            Ok(()) => {
                poll_fn(|cx| driver.poll_flush(cx)).await?;
                Ok(WebSocketStream { driver })
            }
            Err(e) => {
                finish(&mut driver).await;
                Err(e)
            }
        }
    }
}
