//! The tokio adapter: a [`WebSocketStream`] over any `AsyncRead + AsyncWrite + Unpin` stream.
//!
//! ```no_run
//! use wsproto::Config;
//! use wsproto::io::Message;
//! use wsproto::io::tokio::connect;
//!
//! # async fn run() -> Result<(), wsproto::io::WsError> {
//! let (mut ws, _response) = connect("ws://127.0.0.1:9002/", Config::default()).await?;
//! ws.send(Message::text("hello")).await?;
//! // `Ok(None)` is the clean end; `?` keeps every real failure.
//! while let Some(message) = ws.recv().await? {
//!     println!("{message:?}");
//!     if ws.is_open() {
//!         ws.close(wsproto::CloseCode::NORMAL, "bye").await?;
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! [`WebSocketStream<S>`] is the shared async stream ([`io::WebSocketStream`]) on the
//! [`Tokio`] runtime: its `recv`/`send`, `Stream`/`Sink`, `into_split` and cancel-safety notes are
//! documented there. Timers run on a [`tokio::time::Sleep`] armed at the core's next deadline,
//! so the runtime must have its time driver enabled (`#[tokio::main]` and `#[tokio::test]` do).
//! Reads go into the read buffer's uninitialized room (`AsyncReadExt::read_buf`), so nothing is
//! zeroed before a read.
//!
//! # `wss://`
//!
//! [`connect`] opens TLS for `wss://` with the TLS feature you enable, named as in
//! tokio-tungstenite:
//!
//! - `rustls-tls-webpki-roots`: rustls (ring provider), trusting the Mozilla roots compiled in
//!   (webpki-roots);
//! - `rustls-tls-native-roots`: rustls, trusting the platform's roots through rustls-native-certs;
//!   when `SSL_CERT_FILE` or `SSL_CERT_DIR` is set, the certificates there replace the
//!   platform's store;
//! - `native-tls`: the platform's TLS (OpenSSL, Secure Transport, SChannel) and its roots.
//!
//! With both rustls features both sets of roots are trusted; with a rustls feature and
//! `native-tls`, `connect` uses rustls. Its default config is built on the first `wss://`
//! `connect` and shared by every later one in the process. The certificate is checked against
//! the URL's host, a name or an IP address. [`connect_with`] takes a [`Connector`] of your own:
//! a `rustls::ClientConfig` built with the re-exported `io::tokio::rustls` (a private root,
//! client certificates) or a `native_tls::TlsConnector` built with the re-exported
//! `io::tokio::native_tls`, so the versions always match this crate's. The TLS handshake is
//! bounded by the config's handshake timeout, as the WebSocket handshake after it is.
//!
//! A server serves `wss://` by running the TLS handshake itself and handing the TLS stream to
//! [`WebSocketStream::accept`] (or `accept_with`, `incoming`): any `AsyncRead + AsyncWrite +
//! Unpin` stream works. With tokio-rustls:
//!
//! ```no_run
//! use std::sync::Arc;
//! use tokio::net::TcpListener;
//! use tokio_rustls::TlsAcceptor;
//! use tokio_rustls::rustls::ServerConfig;
//! use wsproto::Config;
//! use wsproto::io::tokio::WebSocketStream;
//!
//! async fn serve(listener: TcpListener, tls: Arc<ServerConfig>) -> std::io::Result<()> {
//!     let acceptor = TlsAcceptor::from(tls);
//!     loop {
//!         let (tcp, _) = listener.accept().await?;
//!         let acceptor = acceptor.clone();
//!         tokio::spawn(async move {
//!             let Ok(tls) = acceptor.accept(tcp).await else { return };
//!             let Ok(mut ws) = WebSocketStream::accept(tls, Config::default()).await else {
//!                 return;
//!             };
//!             while let Ok(Some(message)) = ws.recv().await {
//!                 if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! }
//! ```
//!
//! `examples/tls_echo_server.rs` is a whole one.
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
use super::{
    IntoClientRequest, ReadBuffer, WsError, dial_url, new_client, new_server, new_upgraded,
};
use crate::connection::Role;
use crate::handshake::{ClientRequest, Request, Response};
use crate::{Config, Instant};

pub use super::DEFAULT_HIGH_WATER_MARK;
pub use super::tls::{Connector, MaybeTlsStream};
pub use super::{Accept, Answer, Reject};
/// The native-tls that [`Connector::NativeTls`] takes a connector of (feature `native-tls`):
/// build a `native_tls::TlsConnector` with it, and the versions match.
#[cfg(feature = "native-tls")]
pub use native_tls_crate as native_tls;
/// The rustls that [`Connector::Rustls`] takes a config of (feature `rustls-tls-webpki-roots` or
/// `rustls-tls-native-roots`): build a `rustls::ClientConfig` with it, and the versions match.
#[cfg(feature = "__rustls-tls")]
pub use tokio_rustls::rustls;

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

/// Connects to a `ws://` or `wss://` URL (or a [`ClientRequest`] with headers and
/// subprotocols, see [`IntoClientRequest`]) and completes the opening handshake. `wss://` uses
/// the TLS of the enabled feature (`rustls-tls-webpki-roots`, `rustls-tls-native-roots` or
/// `native-tls`); [`connect_with`] takes a [`Connector`] of your own.
///
/// The [`Response`] has the status, headers, and the subprotocol and extensions the server
/// chose.
///
/// # Errors
/// [`WsError::Url`] for a bad URL; [`WsError::TlsUnavailable`] for `wss://` without a TLS
/// feature; [`WsError::Tls`] for a default root store that could not be loaded or is empty,
/// or a failed TLS handshake (an untrusted certificate, a wrong host); [`WsError::Timeout`]
/// when the TLS or the WebSocket handshake takes longer than the config's handshake timeout;
/// [`WsError::Refused`] when the server refused (with its response and body, see
/// [`WsError::response`]), [`WsError::Handshake`] when it answered wrongly; [`WsError::Io`]
/// when the connection failed.
pub async fn connect(
    request: impl IntoClientRequest,
    config: Config,
) -> Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response), WsError> {
    connect_with(request, config, None).await
}

/// [`connect`] with a [`Connector`]: e.g. a `rustls::ClientConfig` of your own (client
/// certificates, a private root). `None` is what `connect` uses.
///
/// # Errors
/// As [`connect`].
pub async fn connect_with(
    request: impl IntoClientRequest,
    config: Config,
    connector: Option<Connector>,
) -> Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response), WsError> {
    let request = request.into_client_request()?;
    // The TLS handshake gets the same bound as the WebSocket one that follows.
    let timeout = super::adapter_config(config.clone()).handshake_timeout;
    let timeout = crate::config::enabled(timeout);
    let stream = super::tls::open(dial_url(&request)?, connector, timeout).await?;
    WebSocketStream::client(stream, request, config).await
}

/// Accepts any request on `stream` (an accepted `TcpStream`, a TLS stream from tokio-rustls,
/// a Unix socket) with no subprotocol: [`WebSocketStream::accept`].
///
/// # Errors
/// As [`WebSocketStream::accept`].
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    config: Config,
) -> Result<WebSocketStream<S>, WsError> {
    WebSocketStream::accept(stream, config).await
}

/// A server connection whose request awaits an answer. See [`super::Incoming`].
pub type Incoming<S> = super::Incoming<Tokio<S>>;

impl<S: AsyncRead + AsyncWrite + Unpin> super::WebSocketStream<Tokio<S>> {
    /// Runs the client handshake on `stream` (a `TcpStream`, or a TLS stream you opened),
    /// seeding masking keys from the OS.
    ///
    /// # Errors
    /// As [`connect`], but for the URL and TLS.
    pub async fn client(
        stream: S,
        request: ClientRequest,
        config: Config,
    ) -> Result<(Self, Response), WsError> {
        let conn = new_client(config, request)?;
        Self::client_handshake(Tokio::new(stream), conn).await
    }

    /// Runs the server handshake on `stream` and accepts any request, with no subprotocol.
    ///
    /// # Errors
    /// [`WsError::Handshake`] for a bad request (after the HTTP error reply, e.g. 400 or 426,
    /// was written); [`WsError::Timeout`] when the request does not arrive within the
    /// handshake timeout; [`WsError::Io`].
    pub async fn accept(stream: S, config: Config) -> Result<Self, WsError> {
        Self::incoming(stream, config)
            .await?
            .accept(Accept::new())
            .await
    }

    /// Runs the server handshake on `stream`; `answer` sees the request and accepts or
    /// rejects. To await something before answering (a token lookup), use
    /// [`incoming`](Self::incoming).
    ///
    /// # Errors
    /// As [`accept`](Self::accept), and [`WsError::Rejected`] after a rejection was written,
    /// [`WsError::UnofferedSubprotocol`] or [`WsError::InvalidAnswer`] for an answer the
    /// client cannot be given (it gets a 500).
    pub async fn accept_with<A: Into<Answer>>(
        stream: S,
        config: Config,
        answer: impl FnOnce(&Request) -> A,
    ) -> Result<Self, WsError> {
        let incoming = Self::incoming(stream, config).await?;
        let answer = answer(incoming.request());
        incoming.answer(answer).await
    }

    /// Reads the opening request on `stream` and hands it back unanswered: inspect it, await
    /// what the decision needs, then [`accept`](super::Incoming::accept) or
    /// [`reject`](super::Incoming::reject).
    ///
    /// ```no_run
    /// use wsproto::Config;
    /// use wsproto::handshake::Accept;
    /// use wsproto::io::{Reject, WsError};
    /// use wsproto::io::tokio::WebSocketStream;
    ///
    /// # async fn lookup(_: &str) -> bool { true }
    /// # async fn serve(tcp: tokio::net::TcpStream) -> Result<(), WsError> {
    /// let incoming = WebSocketStream::incoming(tcp, Config::default()).await?;
    /// let token = incoming.request().query_param("token");
    /// let allowed = match token {
    ///     Some(token) => lookup(&token).await,
    ///     None => false,
    /// };
    /// if !allowed {
    ///     return incoming.reject(Reject::unauthorized("Bearer")).await;
    /// }
    /// let speaks_chat = incoming.request().subprotocols().any(|p| p == "chat");
    /// let accept = if speaks_chat { Accept::new().subprotocol("chat") } else { Accept::new() };
    /// let mut ws = incoming.accept(accept).await?;
    /// while let Some(message) = ws.recv().await? {
    ///     ws.send(message).await?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`accept`](Self::accept).
    pub async fn incoming(stream: S, config: Config) -> Result<Incoming<S>, WsError> {
        Self::read_request(Tokio::new(stream), new_server(config)).await
    }

    /// Wraps a stream whose HTTP upgrade happened elsewhere (e.g. hyper's `Upgraded` in
    /// `hyper_util::rt::TokioIo`).
    ///
    /// # Errors
    /// When the OS cannot provide a seed for a client's masking keys.
    pub fn upgraded(stream: S, role: Role, config: Config) -> Result<Self, WsError> {
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
