//! The blocking adapter: a [`WebSocket`] over any [`Transport`] (`Read + Write`).
//!
//! Timers use the transport's read timeout: before each read, the timeout is set to the time
//! left until [`Connection::poll_timeout`]. [`TcpStream`] and `UnixStream` implement
//! [`Transport`]; for another stream (a TLS stream, a serial port) implement it in a line or two.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant as StdInstant};
use std::vec::Vec;

pub use super::{Answer, io_error, send_error};
use super::{
    Message, ReadBuffer, adapter_config, apply_answer, queue_message, rejected_error, seed_error,
};
use crate::connection::{Connection, Role, State};
use crate::error::Error;
use crate::event::Event;
use crate::handshake::{ClientRequest, Request, WsUrl, parse_url};
use crate::{CloseCode, Config, Instant, Seed};

/// A byte stream the blocking adapter can drive.
pub trait Transport: Read + Write {
    /// Sets the read timeout (`None`: block). The default ignores it, which disables timers.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }
    /// Shuts the transport down once the connection has ended. The default only flushes.
    fn shutdown(&mut self) -> io::Result<()> {
        self.flush()
    }
}

impl Transport for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
    fn shutdown(&mut self) -> io::Result<()> {
        TcpStream::shutdown(self, Shutdown::Both)
    }
}

#[cfg(unix)]
impl Transport for std::os::unix::net::UnixStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout)
    }
    fn shutdown(&mut self) -> io::Result<()> {
        std::os::unix::net::UnixStream::shutdown(self, Shutdown::Both)
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

/// A WebSocket over a blocking stream.
#[derive(Debug)]
pub struct WebSocket<S> {
    stream: S,
    conn: Connection,
    buf: ReadBuffer,
    epoch: StdInstant,
    shut_down: bool,
}

/// Connects to a `ws://` URL over TCP and completes the opening handshake.
///
/// # Errors
/// `InvalidInput` for a bad URL or a `wss://` URL (use [`WebSocket::client`] over your TLS
/// stream); connection and handshake errors otherwise.
pub fn connect(url: &str, config: Config) -> io::Result<(WebSocket<TcpStream>, crate::Response)> {
    let parsed: WsUrl =
        parse_url(url).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    if parsed.secure {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "wss:// needs a TLS stream: use WebSocket::client",
        ));
    }
    let addr = (parsed.host.as_str(), parsed.port)
        .to_socket_addrs()?
        .next();
    let addr =
        addr.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "host name did not resolve"))?;
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let request = ClientRequest::new(parsed.host_header(), parsed.resource.clone());
    WebSocket::client(stream, request, config)
}

impl<S: Transport> WebSocket<S> {
    /// Runs the client handshake on `stream`, seeding masking keys from the OS.
    ///
    /// # Errors
    /// I/O errors, and the handshake error (as the source of an `InvalidData` error).
    pub fn client(
        stream: S,
        request: ClientRequest,
        config: Config,
    ) -> io::Result<(Self, crate::Response)> {
        let epoch = StdInstant::now();
        let seed = Seed::from_os().map_err(seed_error)?;
        let conn = Connection::client(adapter_config(config), request, seed, Instant::ZERO)
            .map_err(send_error)?;
        let mut ws = WebSocket {
            stream,
            conn,
            buf: ReadBuffer::new(),
            epoch,
            shut_down: false,
        };
        loop {
            ws.flush()?;
            let now = ws.now();
            let recv = ws.conn.recv(now, ws.buf.filled()).map_err(io_error)?;
            let consumed = recv.consumed;
            let response = match recv.event {
                Some(Event::Connected(response)) => Some(response),
                _ => None,
            };
            ws.buf.consume(consumed);
            match response {
                Some(response) => return Ok((ws, response)),
                None if consumed == 0 => ws.fill()?,
                None => {}
            }
        }
    }

    /// Runs the server handshake on `stream`; `answer` sees the request and accepts or rejects.
    ///
    /// # Errors
    /// I/O errors; a bad request (after the core's HTTP error reply is written); a rejection
    /// (`PermissionDenied`, after the response is written).
    pub fn accept(
        stream: S,
        config: Config,
        answer: impl FnOnce(&Request) -> Answer,
    ) -> io::Result<Self> {
        let epoch = StdInstant::now();
        let conn = Connection::server(adapter_config(config), Instant::ZERO);
        let mut ws = WebSocket {
            stream,
            conn,
            buf: ReadBuffer::new(),
            epoch,
            shut_down: false,
        };
        let request = loop {
            let now = ws.now();
            let recv = ws.conn.recv(now, ws.buf.filled());
            let recv = match recv {
                Ok(recv) => recv,
                Err(e) => {
                    ws.flush_and_shutdown();
                    return Err(io_error(e));
                }
            };
            let consumed = recv.consumed;
            let request = match recv.event {
                Some(Event::Request(request)) => Some(request),
                _ => None,
            };
            ws.buf.consume(consumed);
            match request {
                Some(request) => break request,
                None if consumed == 0 => ws.fill()?,
                None => {}
            }
        };
        let now = ws.now();
        let accepted = apply_answer(&mut ws.conn, now, answer(&request)).map_err(send_error)?;
        if accepted {
            ws.flush()?;
            Ok(ws)
        } else {
            ws.flush_and_shutdown();
            Err(rejected_error())
        }
    }

    /// Wraps a stream whose HTTP upgrade happened elsewhere.
    ///
    /// # Errors
    /// When the OS cannot provide a seed for a client's masking keys.
    pub fn upgraded(stream: S, role: Role, config: Config) -> io::Result<Self> {
        let seed = Seed::from_os().map_err(seed_error)?;
        let conn = Connection::upgraded(role, adapter_config(config), seed, Instant::ZERO);
        Ok(WebSocket {
            stream,
            conn,
            buf: ReadBuffer::new(),
            epoch: StdInstant::now(),
            shut_down: false,
        })
    }

    /// The core connection, for its getters.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Receives the next message, ping, pong or close. Pings are answered and the close is
    /// echoed before they are returned. After a [`Message::Close`], keep calling until it
    /// returns an error of kind `NotConnected` (the transport is then shut down).
    ///
    /// # Errors
    /// The core's error as the source: `InvalidData` for a protocol error (the close frame was
    /// sent), `UnexpectedEof` for a transport that ended without a close, `TimedOut`, or
    /// `NotConnected` once the connection has ended.
    pub fn recv(&mut self) -> io::Result<Message> {
        loop {
            self.flush()?;
            if self.conn.wants_transport_close() {
                self.flush_and_shutdown();
                return Err(io_error(Error::Closed));
            }
            let now = self.now();
            let recv = match self.conn.recv(now, self.buf.filled()) {
                Ok(recv) => recv,
                Err(e) => {
                    self.flush_and_shutdown();
                    return Err(io_error(e));
                }
            };
            let consumed = recv.consumed;
            let message = match recv.event {
                Some(Event::Message(msg)) => Some(Message::from_core(msg)),
                Some(Event::Ping(p)) => Some(Message::Ping(p)),
                Some(Event::Pong(p)) => Some(Message::Pong(p)),
                Some(Event::Close(frame)) => Some(Message::Close(frame)),
                Some(_) => None,
                None => {
                    self.buf.consume(consumed);
                    if consumed == 0 {
                        self.fill()?;
                    }
                    continue;
                }
            };
            self.buf.consume(consumed);
            if let Some(message) = message {
                self.flush()?;
                return Ok(message);
            }
        }
    }

    /// Sends a message and flushes it.
    ///
    /// # Errors
    /// The send error (`NotConnected` after close) or an I/O error.
    pub fn send(&mut self, message: Message) -> io::Result<()> {
        let now = self.now();
        queue_message(&mut self.conn, now, message).map_err(send_error)?;
        self.flush()
    }

    /// Starts the close handshake; keep calling [`recv`](WebSocket::recv) to finish it.
    ///
    /// # Errors
    /// As [`send`](WebSocket::send).
    pub fn close(&mut self, code: CloseCode, reason: &str) -> io::Result<()> {
        let now = self.now();
        self.conn.close(now, code, reason).map_err(send_error)?;
        self.flush()
    }

    /// Writes all queued output, vectored.
    ///
    /// # Errors
    /// I/O errors from the stream.
    pub fn flush(&mut self) -> io::Result<()> {
        while self.conn.transmit_len() > 0 {
            let slices: Vec<IoSlice<'_>> = self
                .conn
                .transmit_slices()
                .take(64)
                .map(IoSlice::new)
                .collect();
            let n = self.stream.write_vectored(&slices)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.conn.advance_transmit(n);
        }
        self.stream.flush()
    }

    fn now(&self) -> Instant {
        Instant::from_duration(self.epoch.elapsed())
    }

    /// Reads more input, waiting at most until the next deadline; acts on timers and EOF.
    fn fill(&mut self) -> io::Result<()> {
        let timeout = self.conn.poll_timeout().map(|at| {
            // A zero timeout means "block" to the OS; wait at least a millisecond.
            (at - self.now()).max(Duration::from_millis(1))
        });
        self.stream.set_read_timeout(timeout)?;
        let result = self.stream.read(self.buf.spare());
        match result {
            Ok(0) => {
                let now = self.now();
                let eof = self.conn.recv_eof(now);
                self.flush_and_shutdown();
                eof.map_err(io_error)?;
                Err(io_error(Error::Closed))
            }
            Ok(n) => {
                self.buf.filled_by(n);
                Ok(())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) && timeout.is_some() =>
            {
                let now = self.now();
                if let Err(e) = self.conn.handle_timeout(now) {
                    self.flush_and_shutdown();
                    return Err(io_error(e));
                }
                if self.conn.wants_transport_close() {
                    self.flush_and_shutdown();
                    return Err(io_error(Error::Closed));
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn flush_and_shutdown(&mut self) {
        // Best effort: the peer may already be gone.
        let _ = self.flush();
        if !self.shut_down {
            self.shut_down = true;
            let _ = self.stream.shutdown();
        }
    }

    /// Whether the connection is open for sending.
    pub fn is_open(&self) -> bool {
        self.conn.state() == State::Open
    }
}
