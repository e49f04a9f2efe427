//! An axum WebSocket extractor that negotiates permessage-deflate (feature `axum`).
//!
//! [`WebSocketUpgrade`] has the shape of `axum::extract::ws::WebSocketUpgrade`, so a handler
//! written for axum's own module changes its imports and little else, and gains what axum's
//! module lacks: permessage-deflate (on by default when the client offers it, with the
//! crate's memory-conscious defaults), the adapters' keepalive (a ping after 20 s of silence,
//! close 1011 after 20 s more), a close that reaches the peer, and WebSockets over HTTP/2
//! (RFC 8441) when axum serves HTTP/2.
//!
//! ```no_run
//! use axum::{Router, response::Response, routing::get};
//! use wsproto::axum::{Message, WebSocket, WebSocketUpgrade};
//!
//! async fn handler(ws: WebSocketUpgrade) -> Response {
//!     ws.on_upgrade(handle_socket)
//! }
//!
//! async fn handle_socket(mut socket: WebSocket) {
//!     while let Some(msg) = socket.recv().await {
//!         let Ok(msg) = msg else {
//!             return; // the client went away or broke the protocol
//!         };
//!         if matches!(msg, Message::Text(_) | Message::Binary(_)) && socket.send(msg).await.is_err() {
//!             return;
//!         }
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let app = Router::new().route("/ws", get(handler));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! Differences from axum's module: messages are [`Message`] (the crate's own: `Text` holds a
//! [`Utf8Bytes`](crate::Utf8Bytes), `Close` a boxed [`CloseFrame`](crate::CloseFrame)), errors
//! are [`WsError`], which says who failed and what close code went on the wire; pings are
//! answered and closes echoed by the crate, and [`WebSocket::recv`] still reports them.
//!
//! HTTP/2: serve with hyper-util's auto builder and `http2().enable_connect_protocol()` over
//! TLS with ALPN `h2` (see `examples/h2_chat.rs`); the extractor takes both the HTTP/1.1
//! upgrade and the extended CONNECT. Route the WebSocket with `any` (or `get` plus `connect`
//! in `on`), since over HTTP/2 the method is `CONNECT`.

use std::borrow::Cow;
use std::fmt;
use std::format;
use std::future::Future;
use std::pin::Pin;
use std::string::String;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use futures_core::Stream;
use futures_sink::Sink;
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;

use crate::config::Config;
#[cfg(feature = "deflate")]
use crate::deflate::DeflateConfig;
use crate::handshake::Request;
use crate::http::{UpgradeError, UpgradeRequest};
use crate::io::tokio::WebSocketStream;
pub use crate::io::{Message, WsError};
use crate::{CloseCode, Role};

/// The adapter stream under a [`WebSocket`]: hyper's upgraded connection (or HTTP/2 stream).
pub type Inner = WebSocketStream<TokioIo<Upgraded>>;

/// Extractor for a WebSocket upgrade: checks the request, and
/// [`on_upgrade`](WebSocketUpgrade::on_upgrade) answers it and runs the socket.
///
/// The request is checked in full when extracted (RFC 6455 4.2.1, or RFC 8441 over HTTP/2);
/// a bad one is refused with [`WebSocketUpgradeRejection`]: 400 naming the header, 405, or 426
/// with `Sec-WebSocket-Version: 13`.
///
/// Defaults: the adapters' limits and timers ([`Config::default`] with the `io` module's
/// keepalive, close and handshake timeouts), and permessage-deflate with
/// [`DeflateConfig::default`] when the client offers it.
pub struct WebSocketUpgrade<F = DefaultOnFailedUpgrade> {
    upgrade: UpgradeRequest,
    on_upgrade: OnUpgrade,
    config: Config,
    protocol: Option<String>,
    on_failed_upgrade: F,
}

impl<F> fmt::Debug for WebSocketUpgrade<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("request", self.upgrade.request())
            .field("http2", &self.upgrade.is_http2())
            .field("config", &self.config)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl<F> WebSocketUpgrade<F> {
    /// The subprotocols this endpoint speaks, most preferred first: the first one the client
    /// offered is chosen (as axum does); none matching, no subprotocol is sent.
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Cow<'static, str>>,
    {
        self.protocol = protocols
            .into_iter()
            .map(Into::into)
            .find(|ours| self.upgrade.protocols().any(|offered| offered == ours))
            .map(Cow::into_owned);
        self
    }

    /// The subprotocol [`protocols`](Self::protocols) chose, if any.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The request: path, query, `Origin`, headers, offered subprotocols and extensions.
    pub fn request(&self) -> &Request {
        self.upgrade.request()
    }

    /// Whether the client came over HTTP/2 (an RFC 8441 extended CONNECT).
    pub fn is_http2(&self) -> bool {
        self.upgrade.is_http2()
    }

    /// The largest message accepted, whole or reassembled (default 64 MiB); a bigger one
    /// closes the connection with 1009.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.config = self.config.max_message_size(bytes as u64);
        self
    }

    /// The largest frame accepted (default 16 MiB); a bigger one closes with 1009.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.config = self.config.max_frame_size(bytes as u64);
        self
    }

    /// permessage-deflate settings, used when the client offers the extension.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, deflate: DeflateConfig) -> Self {
        self.config = self.config.deflate(deflate);
        self
    }

    /// Declines permessage-deflate even when the client offers it.
    pub fn no_deflate(mut self) -> Self {
        #[cfg(feature = "deflate")]
        {
            self.config.deflate = None;
        }
        self
    }

    /// Pings after `interval` without input and closes with 1011 after `pong_timeout` more
    /// (defaults 20 s and 20 s; `Duration::ZERO` turns one off).
    pub fn keepalive(mut self, interval: Duration, pong_timeout: Duration) -> Self {
        self.config = self.config.keepalive(interval, pong_timeout);
        self
    }

    /// No keepalive pings.
    pub fn no_keepalive(mut self) -> Self {
        self.config = self.config.no_keepalive();
        self
    }

    /// How long a close may take once started (default 5 s).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.config = self.config.close_timeout(timeout);
        self
    }

    /// Replaces every setting with `config` (its unset timers get the adapters' defaults;
    /// its `deflate`, set or not, is used as it is).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The settings the socket will run with.
    pub fn get_config(&self) -> &Config {
        &self.config
    }

    /// What to do when hyper cannot complete the upgrade (the client went away before it, or
    /// the server was not started with upgrades). By default the error is dropped.
    pub fn on_failed_upgrade<C: OnFailedUpgrade>(self, callback: C) -> WebSocketUpgrade<C> {
        WebSocketUpgrade {
            upgrade: self.upgrade,
            on_upgrade: self.on_upgrade,
            config: self.config,
            protocol: self.protocol,
            on_failed_upgrade: callback,
        }
    }

    /// Answers the upgrade (101, or 200 over HTTP/2, with the chosen subprotocol and the
    /// agreed permessage-deflate) and, once hyper hands over the connection, runs `callback`
    /// with the socket on a new task. Return the response from the handler.
    pub fn on_upgrade<C, Fut>(self, callback: C) -> Response
    where
        C: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
        F: OnFailedUpgrade,
    {
        let WebSocketUpgrade {
            upgrade,
            on_upgrade,
            config,
            protocol,
            on_failed_upgrade,
        } = self;
        // `protocols` only chooses offered subprotocols, so this cannot fail; if it ever did,
        // the client gets a 500 rather than a socket that disagrees with the response.
        let (response, negotiated) = match upgrade.accept(&config, protocol.as_deref()) {
            Ok(answer) => answer,
            Err(err) => {
                let mut response = Response::new(Body::from(format!("{err}\n")));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                return response;
            }
        };
        tokio::spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(err) => return on_failed_upgrade.call(axum::Error::new(err)),
            };
            let io = TokioIo::new(upgraded);
            match Inner::upgraded_negotiated(io, Role::Server, config, negotiated) {
                Ok(inner) => callback(WebSocket { inner }).await,
                Err(err) => on_failed_upgrade.call(axum::Error::new(err)),
            }
        });
        response.map(|()| Body::empty())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade<DefaultOnFailedUpgrade> {
    type Rejection = WebSocketUpgradeRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let protocol = parts.extensions.get::<hyper::ext::Protocol>();
        let upgrade = UpgradeRequest::from_parts(parts, protocol.map(|p| p.as_str()))
            .map_err(WebSocketUpgradeRejection::Invalid)?;
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(WebSocketUpgradeRejection::ConnectionNotUpgradable)?;
        Ok(WebSocketUpgrade {
            upgrade,
            on_upgrade,
            config: default_config(),
            protocol: None,
            on_failed_upgrade: DefaultOnFailedUpgrade,
        })
    }
}

fn default_config() -> Config {
    #[cfg(feature = "deflate")]
    return Config::default().deflate(DeflateConfig::default());
    #[cfg(not(feature = "deflate"))]
    Config::default()
}

/// Why [`WebSocketUpgrade`] refused a request; as a response, the refusal to send.
#[derive(Debug)]
#[non_exhaustive]
pub enum WebSocketUpgradeRejection {
    /// The client's request is not a valid WebSocket upgrade (400, 405 or 426).
    Invalid(UpgradeError),
    /// The request is valid but hyper cannot upgrade this connection: the server was not
    /// built with upgrades (axum's `serve` is), or the request was already upgraded (426).
    ConnectionNotUpgradable,
}

impl WebSocketUpgradeRejection {
    /// The status of the refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            WebSocketUpgradeRejection::Invalid(err) => err.status(),
            WebSocketUpgradeRejection::ConnectionNotUpgradable => StatusCode::UPGRADE_REQUIRED,
        }
    }
}

impl fmt::Display for WebSocketUpgradeRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebSocketUpgradeRejection::Invalid(err) => err.fmt(f),
            WebSocketUpgradeRejection::ConnectionNotUpgradable => {
                f.write_str("this connection cannot be upgraded (server without upgrades)")
            }
        }
    }
}

impl std::error::Error for WebSocketUpgradeRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WebSocketUpgradeRejection::Invalid(err) => Some(err),
            WebSocketUpgradeRejection::ConnectionNotUpgradable => None,
        }
    }
}

impl IntoResponse for WebSocketUpgradeRejection {
    fn into_response(self) -> Response {
        match self {
            WebSocketUpgradeRejection::Invalid(err) => err.response().map(Body::from),
            WebSocketUpgradeRejection::ConnectionNotUpgradable => {
                let mut response = Response::new(Body::from(format!("{self}\n")));
                *response.status_mut() = self.status();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                response
            }
        }
    }
}

/// What to do when an upgrade fails after the response was sent; see
/// [`WebSocketUpgrade::on_failed_upgrade`]. Any `FnOnce(axum::Error) + Send + 'static` is one.
pub trait OnFailedUpgrade: Send + 'static {
    /// Called with the failure.
    fn call(self, error: axum::Error);
}

impl<F: FnOnce(axum::Error) + Send + 'static> OnFailedUpgrade for F {
    fn call(self, error: axum::Error) {
        self(error)
    }
}

/// The default [`OnFailedUpgrade`]: drops the error.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct DefaultOnFailedUpgrade;

impl OnFailedUpgrade for DefaultOnFailedUpgrade {
    fn call(self, _error: axum::Error) {}
}

/// An upgraded WebSocket, with the method shapes of axum's: `recv` gives
/// `Option<Result<Message, _>>`, and it is a `Stream` and a `Sink` (split it with
/// `futures::StreamExt::split`, or [`into_inner`](WebSocket::into_inner) and the adapter's
/// `into_split`).
#[derive(Debug)]
pub struct WebSocket {
    inner: Inner,
}

impl WebSocket {
    /// The next message; `None` once the connection ended cleanly. Pings are answered and a
    /// close is echoed before they are returned.
    pub async fn recv(&mut self) -> Option<Result<Message, WsError>> {
        self.inner.recv().await.transpose()
    }

    /// Sends a message (text, binary, ping, pong, or a close).
    ///
    /// # Errors
    /// [`WsError`]: the connection ended or the transport failed.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), WsError> {
        self.inner.send(message).await
    }

    /// Starts the close handshake with `code` and `reason`; keep calling
    /// [`recv`](Self::recv) until `None` to let the peer's echo arrive.
    ///
    /// # Errors
    /// [`WsError`]: the code may not be sent, the reason is too long, or the transport failed.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), WsError> {
        self.inner.close(code, reason).await
    }

    /// The subprotocol agreed, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.inner.connection().subprotocol()
    }

    /// The adapter stream, for everything else (`send_prepared`, `connection()`, ...).
    pub fn inner_mut(&mut self) -> &mut Inner {
        &mut self.inner
    }

    /// The adapter stream, e.g. for `into_split`.
    pub fn into_inner(self) -> Inner {
        self.inner
    }
}

impl Stream for WebSocket {
    type Item = Result<Message, WsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.get_mut().inner).poll_next(cx)
    }
}

impl Sink<Message> for WebSocket {
    type Error = WsError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut self.get_mut().inner).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), WsError> {
        Pin::new(&mut self.get_mut().inner).start_send(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
