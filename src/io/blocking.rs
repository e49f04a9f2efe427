//! The blocking adapter: a [`WebSocket`] over any [`Transport`] (`Read + Write`).
//!
//! Timers use the transport's read timeout: before each read, the timeout is set to the time
//! left until [`Connection::poll_timeout`]. [`TcpStream`] and `UnixStream` implement
//! [`Transport`]; for another stream (a TLS stream, a serial port) implement it in a line or two.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant as StdInstant};
use std::vec::Vec;

use super::{
    MAX_IOSLICES, Message, ReadBuffer, Step, apply_answer, eof_error, is_contiguous, new_client,
    new_server, new_upgraded, output_slices, plain_url, queue_message, rejected_error, step,
};
use crate::connection::{Connection, Role, State};
use crate::error::{Error, SendError};
use crate::event::DataKind;
use crate::handshake::{Accept, ClientRequest, Request};
use crate::{CloseCode, Config, Instant};

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
        headers: Vec<(std::string::String, std::string::String)>,
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
    let (parsed, request) = plain_url(url)?;
    let addr = (parsed.host.as_str(), parsed.port)
        .to_socket_addrs()?
        .next();
    let addr =
        addr.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "host name did not resolve"))?;
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
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
        let conn = new_client(config, request)?;
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
            match step(&mut ws.conn, now, &mut ws.buf).map_err(io_error)? {
                Step::Connected(response) => return Ok((ws, response)),
                Step::NeedInput => ws.fill()?,
                _ => {}
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
        let conn = new_server(config);
        let mut ws = WebSocket {
            stream,
            conn,
            buf: ReadBuffer::new(),
            epoch,
            shut_down: false,
        };
        let request = loop {
            let now = ws.now();
            match step(&mut ws.conn, now, &mut ws.buf) {
                Ok(Step::Request(request)) => break request,
                Ok(Step::NeedInput) => ws.fill()?,
                Ok(_) => {}
                Err(e) => {
                    ws.flush_and_shutdown();
                    return Err(io_error(e));
                }
            }
        };
        let now = ws.now();
        if apply_answer(&mut ws.conn, now, answer(&request))? {
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
        let conn = new_upgraded(role, config)?;
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
            match step(&mut self.conn, now, &mut self.buf) {
                Ok(Step::Message(message)) => {
                    self.flush()?;
                    return Ok(message);
                }
                Ok(Step::NeedInput) => self.fill()?,
                Ok(_) => {}
                Err(e) => {
                    self.flush_and_shutdown();
                    return Err(io_error(e));
                }
            }
        }
    }

    /// Sends a message and flushes it.
    ///
    /// # Errors
    /// The send error (`NotConnected` after close) or an I/O error.
    pub fn send(&mut self, message: Message) -> io::Result<()> {
        let epoch = self.epoch;
        let now = || Instant::from_duration(epoch.elapsed());
        queue_message(&mut self.conn, now, message).map_err(send_error)?;
        self.flush()
    }

    /// Sends one fragment of a message sent in pieces, and flushes it: the first fragment starts
    /// a message of `kind`, `last` ends it (see [`Connection::send_fragment`]).
    ///
    /// # Errors
    /// As [`send`](WebSocket::send).
    pub fn send_fragment(&mut self, kind: DataKind, data: &[u8], last: bool) -> io::Result<()> {
        self.conn
            .send_fragment(kind, data, last)
            .map_err(send_error)?;
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
            let n = if is_contiguous(&self.conn) {
                self.stream.write(self.conn.transmit())?
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_IOSLICES];
                let count = output_slices(&self.conn, &mut slices);
                self.stream.write_vectored(&slices[..count])?
            };
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
        // After a large message, go back to a small buffer before waiting.
        self.buf.shrink_if_empty();
        let result = self.stream.read(self.buf.spare(self.conn.input_needed()));
        match result {
            Ok(0) => {
                let now = self.now();
                let eof = eof_error(&mut self.conn, now);
                self.flush_and_shutdown();
                Err(io_error(eof))
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
