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
//! [`WebSocketStream<S>`] is the shared async stream ([`io::WebSocketStream`]) on the
//! [`Tokio`] runtime: its `recv`/`send`, `Stream`/`Sink`, `split` and cancel-safety notes are
//! documented there. Timers run on a [`tokio::time::Sleep`] armed at the core's next deadline,
//! so the runtime must have its time driver enabled (`#[tokio::main]` and `#[tokio::test]` do).
//! Reads go into the read buffer's uninitialized room (`AsyncReadExt::read_buf`), so nothing is
//! zeroed before a read.
//!
//! [`io::WebSocketStream`]: super::WebSocketStream

use core::future::Future;
use core::pin::{Pin, pin};
use core::task::{Context, Poll, ready};
use std::boxed::Box;
use std::io::{self, IoSlice};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant as TokioInstant, Sleep};

use super::driver::private::Io;
use super::{Answer, ReadBuffer, new_client, new_server, new_upgraded, plain_url};
use crate::connection::Role;
use crate::handshake::{ClientRequest, Request, Response};
use crate::{Config, Instant};

pub use super::DEFAULT_HIGH_WATER_MARK;

/// A WebSocket over a tokio `AsyncRead + AsyncWrite` stream. See [`super::WebSocketStream`].
pub type WebSocketStream<S> = super::WebSocketStream<Tokio<S>>;
/// The receiving half of a split [`WebSocketStream`].
pub type ReadHalf<S> = super::ReadHalf<Tokio<S>>;
/// The sending half of a split [`WebSocketStream`].
pub type WriteHalf<S> = super::WriteHalf<Tokio<S>>;
/// [`ReadHalf::reunite`](super::ReadHalf::reunite) was given halves of two different streams.
pub type ReuniteError<S> = super::ReuniteError<Tokio<S>>;

/// The tokio runtime of a [`WebSocketStream`]: the stream, and a sleep for the core's timers.
#[derive(Debug)]
pub struct Tokio<S> {
    stream: S,
    /// Core instants count from here.
    epoch: TokioInstant,
    /// The timer and the core deadline it is armed at.
    sleep: Option<Pin<Box<Sleep>>>,
    armed: Option<Instant>,
}

impl<S> Tokio<S> {
    fn new(stream: S) -> Self {
        Tokio {
            stream,
            epoch: TokioInstant::now(),
            sleep: None,
            armed: None,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Io for Tokio<S> {
    type Stream = S;
    const BLOCKING: bool = false;

    fn stream(&self) -> &S {
        &self.stream
    }

    fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    fn into_stream(self) -> S {
        self.stream
    }

    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuffer,
        needed: usize,
        _deadline: Option<Instant>,
    ) -> Poll<io::Result<usize>> {
        let n = {
            let mut room = buf.spare_uninit(needed);
            ready!(pin!(self.stream.read_buf(&mut room)).poll(cx))?
        };
        buf.filled_by(n);
        Poll::Ready(Ok(n))
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, data)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        data: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, data)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn now(&self) -> Instant {
        Instant::from_duration(TokioInstant::now().saturating_duration_since(self.epoch))
    }

    fn poll_deadline(&mut self, cx: &mut Context<'_>, at: Instant) -> Poll<()> {
        let Some(deadline) = self.epoch.checked_add(at.since_epoch()) else {
            // Past what the clock can represent: never.
            return Poll::Pending;
        };
        if self.armed != Some(at) {
            match self.sleep.as_mut() {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = Some(at);
        }
        match self.sleep.as_mut() {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
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
    let stream = TcpStream::connect((parsed.host(), parsed.port())).await?;
    stream.set_nodelay(true)?;
    WebSocketStream::client(stream, request, config).await
}

impl<S: AsyncRead + AsyncWrite + Unpin> super::WebSocketStream<Tokio<S>> {
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
        let conn = new_client(config, request)?;
        Self::client_handshake(Tokio::new(stream), conn).await
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
        Self::server_handshake(Tokio::new(stream), new_server(config), answer).await
    }

    /// Wraps a stream whose HTTP upgrade happened elsewhere (e.g. hyper's `Upgraded` in
    /// `hyper_util::rt::TokioIo`).
    ///
    /// # Errors
    /// When the OS cannot provide a seed for a client's masking keys.
    pub fn upgraded(stream: S, role: Role, config: Config) -> io::Result<Self> {
        let conn = new_upgraded(role, config)?;
        Ok(Self::from_parts(Tokio::new(stream), conn))
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
