//! The runtime-agnostic async adapter: a [`WebSocketStream`] over any `futures-io` stream
//! (feature `futures-io`; `async-std` turns it on too).
//!
//! It runs on any executor. The only runtime service it needs is a [`Timer`] for the core's
//! deadlines ([`Connection::poll_timeout`](crate::Connection::poll_timeout)): [`AsyncIoTimer`] (feature `async-io`) works under
//! smol and async-std, which both run on the async-io reactor; [`NoTimer`] turns timers off; any
//! other runtime's sleep fits the trait in a few lines.
//!
//! [`WebSocketStream<S, T>`] is the shared async stream ([`io::WebSocketStream`]) on the
//! [`Futures`] runtime: its `recv`/`send`, `Stream`/`Sink`, `into_split` and cancel-safety notes are
//! documented there. Receiving drives the connection: it writes automatic replies (pongs, the
//! close echo), reads, and acts on timers. Keep receiving (or polling the stream) for as long
//! as the connection lives, even if the application only sends.
//!
//! [`io::WebSocketStream`]: super::WebSocketStream
//!
//! When the connection ends the adapter closes the transport with `AsyncWrite::poll_close`.
//! For async-net's (smol's) `TcpStream` that shuts the socket down, but async-std's `TcpStream`
//! (like async-io's `Async<TcpStream>`) only flushes there: its socket closes when it is dropped.
//! So drop the [`WebSocketStream`] once it reports the end (or call `shutdown` through
//! [`get_ref`](WebSocketStream::get_ref)), or a client peer waits for its close timeout.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::io::{self, IoSlice};
use std::time::Instant as StdInstant;

use futures_io::{AsyncRead, AsyncWrite};

use super::driver::private::Io;
#[cfg(feature = "async-io")]
use super::{IntoClientRequest, dial_url};
use super::{ReadBuffer, WsError, new_client, new_server, new_upgraded};
use crate::connection::Role;
use crate::handshake::{ClientRequest, Negotiated, Request};
use crate::{Config, Instant};

pub use super::{Accept, Answer, Reject};

/// A WebSocket over a `futures-io` stream with timer `T`. See [`super::WebSocketStream`].
pub type WebSocketStream<S, T> = super::WebSocketStream<Futures<S, T>>;
/// The receiving half of a split [`WebSocketStream`].
pub type ReadHalf<S, T> = super::ReadHalf<Futures<S, T>>;
/// The sending half of a split [`WebSocketStream`].
pub type WriteHalf<S, T> = super::WriteHalf<Futures<S, T>>;

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

/// Connects to a `ws://` URL (or a [`ClientRequest`] with headers and subprotocols, see
/// [`IntoClientRequest`]) over TCP (async-net) and completes the opening handshake, with
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
///     Ok::<(), wsproto::io::WsError>(())
/// })?;
/// # Ok::<(), wsproto::io::WsError>(())
/// ```
///
/// # Errors
/// [`WsError::Url`] for a bad URL, [`WsError::Tls`] for `wss://`: this function does no TLS,
/// so open the TLS stream yourself (e.g. futures-rustls) and call [`WebSocketStream::client`]
/// over it. [`WsError::Refused`] when the server refused, [`WsError::Handshake`] when it answered wrongly,
/// [`WsError::Io`] when the connection failed.
#[cfg(feature = "async-io")]
pub async fn connect(
    request: impl IntoClientRequest,
    config: Config,
) -> Result<
    (
        WebSocketStream<async_net::TcpStream, AsyncIoTimer>,
        crate::Response,
    ),
    WsError,
> {
    let request = request.into_client_request()?;
    let url = dial_url(&request)?;
    if url.is_secure() {
        return Err(super::no_tls(
            "the futures-io adapter does no TLS: open the TLS stream yourself (e.g. with \
             futures-rustls) and call `WebSocketStream::client`",
        ));
    }
    let stream = async_net::TcpStream::connect((url.host(), url.port())).await?;
    stream.set_nodelay(true)?;
    WebSocketStream::client(stream, request, config, AsyncIoTimer).await
}

/// A server connection whose request awaits an answer. See [`super::Incoming`].
pub type Incoming<S, T> = super::Incoming<Futures<S, T>>;

/// The futures-io runtime of a [`WebSocketStream`]: the stream, and a [`Timer`] for the core's
/// deadlines.
pub struct Futures<S, T: Timer> {
    stream: S,
    epoch: StdInstant,
    timer: T,
    /// The sleep for the deadline it was made for.
    sleep: Option<(Instant, T::Sleep)>,
}

// No field is ever pinned: the stream and the sleep are polled through `Pin::new`, which needs
// them `Unpin`, so the runtime may move freely whatever the timer type is.
impl<S: Unpin, T: Timer> Unpin for Futures<S, T> {}

impl<S: core::fmt::Debug, T: Timer + core::fmt::Debug> core::fmt::Debug for Futures<S, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Futures")
            .field("stream", &self.stream)
            .field("timer", &self.timer)
            .finish_non_exhaustive()
    }
}

impl<S, T: Timer> Futures<S, T> {
    fn new(stream: S, timer: T) -> Self {
        Futures {
            stream,
            epoch: StdInstant::now(),
            timer,
            sleep: None,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin, T: Timer> Io for Futures<S, T> {
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
        let n = ready!(Pin::new(&mut self.stream).poll_read(cx, buf.spare(needed)))?;
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
        Pin::new(&mut self.stream).poll_close(cx)
    }

    fn now(&self) -> Instant {
        Instant::from_duration(self.epoch.elapsed())
    }

    fn poll_deadline(&mut self, cx: &mut Context<'_>, at: Instant) -> Poll<()> {
        if self.sleep.as_ref().is_none_or(|(armed, _)| *armed != at) {
            let Some(deadline) = self.epoch.checked_add(at.since_epoch()) else {
                return Poll::Pending;
            };
            self.sleep = Some((at, self.timer.sleep_until(deadline)));
        }
        match self.sleep.as_mut() {
            Some((_, sleep)) => Pin::new(sleep).poll(cx),
            None => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin, T: Timer> super::WebSocketStream<Futures<S, T>> {
    /// Runs the client handshake on `stream`, seeding masking keys from the OS.
    ///
    /// # Errors
    /// As [`connect`], but for the URL and TLS.
    pub async fn client(
        stream: S,
        request: ClientRequest,
        config: Config,
        timer: T,
    ) -> Result<(Self, crate::Response), WsError> {
        let conn = new_client(config, request)?;
        Self::client_handshake(Futures::new(stream, timer), conn).await
    }

    /// Runs the server handshake on `stream` and accepts any request, with no subprotocol.
    ///
    /// # Errors
    /// As [`tokio`'s `accept`](super::WebSocketStream::accept) (feature `tokio`).
    pub async fn accept(stream: S, config: Config, timer: T) -> Result<Self, WsError> {
        Self::incoming(stream, config, timer)
            .await?
            .accept(Accept::new())
            .await
    }

    /// Runs the server handshake on `stream`; `answer` sees the request and accepts or
    /// rejects. To await something before answering, use [`incoming`](Self::incoming).
    ///
    /// # Errors
    /// As [`accept`](Self::accept), and [`WsError::Rejected`] after a rejection was written,
    /// [`WsError::UnofferedSubprotocol`] or [`WsError::InvalidAnswer`] for an answer the
    /// client cannot be given (it gets a 500).
    pub async fn accept_with<A: Into<Answer>>(
        stream: S,
        config: Config,
        timer: T,
        answer: impl FnOnce(&Request) -> A,
    ) -> Result<Self, WsError> {
        let incoming = Self::incoming(stream, config, timer).await?;
        let answer = answer(incoming.request());
        incoming.answer(answer).await
    }

    /// Reads the opening request on `stream` and hands it back unanswered: inspect it, await
    /// what the decision needs, then [`accept`](super::Incoming::accept) or
    /// [`reject`](super::Incoming::reject).
    ///
    /// # Errors
    /// As [`accept`](Self::accept).
    pub async fn incoming(stream: S, config: Config, timer: T) -> Result<Incoming<S, T>, WsError> {
        Self::read_request(Futures::new(stream, timer), new_server(config)).await
    }

    /// Wraps a stream whose HTTP upgrade happened elsewhere.
    ///
    /// # Errors
    /// When the OS cannot provide a seed for a client's masking keys.
    pub fn upgraded(stream: S, role: Role, config: Config, timer: T) -> Result<Self, WsError> {
        Self::upgraded_negotiated(stream, role, config, Negotiated::new(), timer)
    }

    /// As [`upgraded`](Self::upgraded), with the subprotocol and permessage-deflate parameters
    /// the other HTTP stack's handshake agreed (see [`Negotiated`]).
    ///
    /// # Errors
    /// When the OS cannot provide a seed for a client's masking keys.
    pub fn upgraded_negotiated(
        stream: S,
        role: Role,
        config: Config,
        negotiated: Negotiated,
        timer: T,
    ) -> Result<Self, WsError> {
        let conn = new_upgraded(role, config, negotiated)?;
        Ok(Self::from_parts(Futures::new(stream, timer), conn))
    }

    /// Runs a core [`Connection`](crate::Connection) you built and drove to here yourself (any
    /// state: a server still in its handshake, or one made with
    /// [`Connection::upgraded_negotiated`](crate::Connection::upgraded_negotiated)). The adapter's
    /// timer defaults do not apply: the connection's [`Config`] is used as it is.
    pub fn from_connection(stream: S, conn: crate::Connection, timer: T) -> Self {
        Self::from_parts(Futures::new(stream, timer), conn)
    }
}
