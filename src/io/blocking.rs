//! The blocking adapter: a [`WebSocket`] over any [`Transport`] (`Read + Write`).
//!
//! It runs the same driver as the async adapters (read buffer, output, timers, message
//! conversion), polled to completion: its transport blocks inside each read instead of
//! returning `Pending`. Timers use the transport's read timeout: before each read, the timeout
//! is set to the time left until [`Connection::poll_timeout`]. [`TcpStream`] and `UnixStream` implement
//! [`Transport`]; for another stream (a TLS stream, a serial port) implement it in a line or two.

use core::task::{Context, Poll, Waker};
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant as StdInstant};

use super::driver::private::Io;
use super::driver::{Driver, Polled, content_length};
use super::{
    IntoClientRequest, Message, ReadBuffer, WsError, apply_answer, dial_url, new_client,
    new_server, new_upgraded, no_tls,
};
use crate::connection::{Connection, Role, State};
use crate::error::HandshakeError;
use crate::event::DataKind;
use crate::handshake::{ClientRequest, Request};
use crate::prepared::PreparedFrame;
use crate::{CloseCode, Config, Instant};

pub use super::{Accept, Answer, Reject};

/// A byte stream the blocking adapter can drive.
pub trait Transport: Read + Write {
    /// Sets the read timeout (`None`: block). The default ignores it, which disables timers.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }
    /// Shuts down the write side once the connection is closing (TCP: sends FIN); the adapter
    /// then drains the peer's input until it ends or the close timeout passes, so that the
    /// close frame is not destroyed by a reset. The default only flushes.
    fn shutdown(&mut self) -> io::Result<()> {
        self.flush()
    }
}

impl Transport for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
    fn shutdown(&mut self) -> io::Result<()> {
        TcpStream::shutdown(self, Shutdown::Write)
    }
}

#[cfg(unix)]
impl Transport for std::os::unix::net::UnixStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout)
    }
    fn shutdown(&mut self) -> io::Result<()> {
        std::os::unix::net::UnixStream::shutdown(self, Shutdown::Write)
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_read_timeout(timeout)
    }
    fn shutdown(&mut self) -> io::Result<()> {
        (**self).shutdown()
    }
}

/// The blocking runtime: a [`Transport`] and the clock.
#[derive(Debug)]
pub struct Blocking<S> {
    stream: S,
    epoch: StdInstant,
}

// Nothing is ever pinned: the blocking runtime is never polled through a pin.
impl<S> Unpin for Blocking<S> {}

impl<S: Transport> Io for Blocking<S> {
    type Stream = S;
    const BLOCKING: bool = true;

    fn stream(&self) -> &S {
        &self.stream
    }

    fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    fn into_stream(self) -> S {
        self.stream
    }

    /// Blocks until bytes arrive or the deadline passes (`Pending`, so the driver runs the
    /// timers and reads again).
    fn poll_read(
        &mut self,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuffer,
        needed: usize,
        deadline: Option<Instant>,
    ) -> Poll<io::Result<usize>> {
        // A zero timeout means "block" to the OS; wait at least a millisecond.
        let timeout = deadline.map(|at| (at - self.now()).max(Duration::from_millis(1)));
        self.stream.set_read_timeout(timeout)?;
        match self.stream.read(buf.spare(needed)) {
            Ok(n) => {
                buf.filled_by(n);
                Poll::Ready(Ok(n))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) && timeout.is_some() =>
            {
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write(&mut self, _cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(self.stream.write(data))
    }

    fn poll_write_vectored(
        &mut self,
        _cx: &mut Context<'_>,
        data: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.stream.write_vectored(data))
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.stream.flush())
    }

    fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.stream.shutdown())
    }

    fn now(&self) -> Instant {
        Instant::from_duration(self.epoch.elapsed())
    }

    fn poll_deadline(&mut self, _cx: &mut Context<'_>, at: Instant) -> Poll<()> {
        if self.now() >= at {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Polls the driver until it is ready. Nothing in the blocking runtime waits for a wake-up: a
/// `Pending` means a read timed out at a deadline, so polling again runs the timer.
fn block<S: Transport, T>(
    driver: &mut Driver<Blocking<S>>,
    mut step: impl FnMut(&mut Driver<Blocking<S>>, &mut Context<'_>) -> Poll<T>,
) -> T {
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = step(driver, &mut cx) {
            return value;
        }
    }
}

/// A WebSocket over a blocking stream.
#[derive(Debug)]
pub struct WebSocket<S> {
    driver: Driver<Blocking<S>>,
}

/// Connects to a `ws://` URL (or a [`ClientRequest`] with headers and subprotocols, see
/// [`IntoClientRequest`]) over TCP and completes the opening handshake.
///
/// # Errors
/// [`WsError::Url`] for a bad URL, [`WsError::Tls`] for `wss://` (this adapter does no TLS:
/// open the TLS stream yourself, implement [`Transport`] for it, and call
/// [`WebSocket::client`]); [`WsError::Refused`] when the server refused, [`WsError::Handshake`] when it answered wrongly;
/// [`WsError::Io`] when the connection failed.
pub fn connect(
    request: impl IntoClientRequest,
    config: Config,
) -> Result<(WebSocket<TcpStream>, crate::Response), WsError> {
    let request = request.into_client_request()?;
    let url = dial_url(&request)?;
    if url.is_secure() {
        return Err(no_tls(
            "the blocking adapter does no TLS: open the TLS stream yourself, implement \
             `Transport` for it, and call `WebSocket::client`",
        ));
    }
    let addr = (url.host(), url.port()).to_socket_addrs()?.next();
    let addr =
        addr.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "host name did not resolve"))?;
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    WebSocket::client(stream, request, config)
}

impl<S: Transport> WebSocket<S> {
    fn new(stream: S, conn: Connection) -> Self {
        let io = Blocking {
            stream,
            epoch: StdInstant::now(),
        };
        WebSocket {
            driver: Driver::new(io, conn),
        }
    }

    /// Runs the client handshake on `stream`, seeding masking keys from the OS.
    ///
    /// # Errors
    /// As [`connect`], but for the URL and TLS.
    pub fn client(
        stream: S,
        request: ClientRequest,
        config: Config,
    ) -> Result<(Self, crate::Response), WsError> {
        let mut ws = WebSocket::new(stream, new_client(config, request)?);
        loop {
            match block(&mut ws.driver, Driver::poll_event) {
                Ok(Polled::Connected(response)) => return Ok((ws, *response)),
                Ok(Polled::End) => return Err(WsError::Handshake(HandshakeError::Eof)),
                Ok(_) => {}
                Err(WsError::Refused { response, .. }) => {
                    let until = ws.driver.finish_deadline();
                    let length = content_length(&response);
                    let body = block(&mut ws.driver, |driver, cx| {
                        driver.poll_refusal_body(cx, until, length)
                    });
                    ws.finish();
                    return Err(WsError::Refused { response, body });
                }
                Err(e) => {
                    ws.finish();
                    return Err(e);
                }
            }
        }
    }

    /// Runs the server handshake on `stream` and accepts any request, with no subprotocol.
    ///
    /// # Errors
    /// [`WsError::Handshake`] for a bad request (after the HTTP error reply was written),
    /// [`WsError::Timeout`] when no request arrives within the handshake timeout,
    /// [`WsError::Io`].
    pub fn accept(stream: S, config: Config) -> Result<Self, WsError> {
        Self::accept_with(stream, config, |_| Accept::new())
    }

    /// Runs the server handshake on `stream`; `answer` sees the request and accepts or
    /// rejects. It may block (a database lookup); that time is not bounded by the handshake
    /// timeout, which covers only the client's request.
    ///
    /// # Errors
    /// As [`accept`](WebSocket::accept), and [`WsError::Rejected`] after a rejection was
    /// written, [`WsError::UnofferedSubprotocol`] or [`WsError::InvalidAnswer`] for an answer
    /// the client cannot be given (it gets a 500).
    pub fn accept_with<A: Into<Answer>>(
        stream: S,
        config: Config,
        answer: impl FnOnce(&Request) -> A,
    ) -> Result<Self, WsError> {
        let mut ws = WebSocket::new(stream, new_server(config));
        let request = loop {
            match block(&mut ws.driver, Driver::poll_event) {
                Ok(Polled::Request(request)) => break *request,
                Ok(Polled::End) => return Err(WsError::Handshake(HandshakeError::Eof)),
                Ok(_) => {}
                Err(e) => {
                    ws.finish();
                    return Err(e);
                }
            }
        };
        let now = ws.driver.now();
        match apply_answer(&mut ws.driver.conn, now, answer(&request).into()) {
            Ok(()) => {
                ws.flush()?;
                Ok(ws)
            }
            Err(e) => {
                ws.finish();
                Err(e)
            }
        }
    }

    /// Wraps a stream whose HTTP upgrade happened elsewhere.
    ///
    /// # Errors
    /// When the OS cannot provide a seed for a client's masking keys.
    pub fn upgraded(stream: S, role: Role, config: Config) -> Result<Self, WsError> {
        Ok(WebSocket::new(stream, new_upgraded(role, config)?))
    }

    /// The core connection, for its getters.
    pub fn connection(&self) -> &Connection {
        &self.driver.conn
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        self.driver.io.stream()
    }

    /// The underlying stream, mutably. Reading or writing it directly corrupts the connection.
    pub fn get_mut(&mut self) -> &mut S {
        self.driver.io.stream_mut()
    }

    /// The underlying stream, giving up the connection. Bytes read but not yet processed are
    /// lost, and queued output is not written: call it once the connection has ended.
    pub fn into_inner(self) -> S {
        self.driver.io.into_stream()
    }

    /// Whether the connection is open for sending.
    pub fn is_open(&self) -> bool {
        self.driver.conn.state() == State::Open
    }

    /// Receives the next message, ping, pong or close; `Ok(None)` once the connection has
    /// ended cleanly (and on every call after the end or an error). Pings are answered and the
    /// close is echoed before they are returned; after a [`Message::Close`], keep calling
    /// until `Ok(None)` (the transport is then shut down).
    ///
    /// # Errors
    /// As [`WebSocketStream::recv`](super::WebSocketStream::recv).
    pub fn recv(&mut self) -> Result<Option<Message>, WsError> {
        block(&mut self.driver, Driver::poll_message)
    }

    /// Sends a message and flushes it. Anything that converts into a [`Message`] will do; see
    /// [`WebSocketStream::send`](super::WebSocketStream::send).
    ///
    /// # Errors
    /// As [`WebSocketStream::send`](super::WebSocketStream::send).
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), WsError> {
        self.driver.start_send(message.into())?;
        self.flush()
    }

    /// Sends a frame prepared once for many connections (see [`PreparedFrame`]) and flushes it.
    ///
    /// # Errors
    /// As [`send`](WebSocket::send).
    pub fn send_prepared(&mut self, frame: &PreparedFrame) -> Result<(), WsError> {
        self.driver.start_send_prepared(frame)?;
        self.flush()
    }

    /// Sends one fragment of a message sent in pieces, and flushes it: the first fragment starts
    /// a message of `kind`, `last` ends it (see [`Connection::send_fragment`]).
    ///
    /// # Errors
    /// As [`send`](WebSocket::send).
    pub fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        last: bool,
    ) -> Result<(), WsError> {
        self.driver.send_fragment(kind, data, last)?;
        self.flush()
    }

    /// Starts the close handshake; keep calling [`recv`](WebSocket::recv) to finish it.
    ///
    /// # Errors
    /// As [`send`](WebSocket::send).
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), WsError> {
        self.driver.close(code, reason)?;
        self.flush()
    }

    /// Writes all queued output, vectored, and flushes the stream.
    ///
    /// # Errors
    /// [`WsError::Io`] from the stream.
    pub fn flush(&mut self) -> Result<(), WsError> {
        block(&mut self.driver, Driver::poll_flush)
    }

    /// After a handshake failure: writes the queued reply and shuts the transport down.
    fn finish(&mut self) {
        let until = self.driver.finish_deadline();
        block(&mut self.driver, |driver, cx| driver.poll_finish(cx, until));
    }
}
