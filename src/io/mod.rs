//! I/O adapters: thin loops over the public core API (std feature and up).
//!
//! The three adapters run one driver: it owns a read buffer (small by default, grown while reads
//! fill it, freed when it drains), writes the output queue vectored, honours
//! [`Connection::poll_timeout`], flushes the automatic replies (pongs, the close echo), and shuts
//! the transport down when [`Connection::wants_transport_close`] says so. Each adapter adds only
//! what its runtime needs: how to read, write and sleep.
//!
//! Messages are [`Message`]s of [`Bytes`](bytes::Bytes) and [`Utf8Bytes`](crate::Utf8Bytes): a
//! message that arrived whole is split off the read buffer without a copy, a reassembled one is
//! moved out of the core, and text is validated once, by the core. Sending takes anything that
//! converts into a `Message`; a server's large payload goes out as header plus the caller's bytes
//! in one vectored write, and [`PreparedFrame`](crate::PreparedFrame) frames a broadcast once for
//! every connection.
//!
//! Adapters turn on the four timers the core leaves off, unless the [`Config`] sets them
//! (`Duration::ZERO` turns one off; [`Config::no_keepalive`] turns off both keepalive timers):
//!
//! | timer | adapter default | why |
//! | --- | --- | --- |
//! | [`handshake_timeout`](Config::handshake_timeout) | [`DEFAULT_HANDSHAKE_TIMEOUT`], 10 s | a slowloris client cannot hold a connection forever |
//! | [`keepalive_interval`](Config::keepalive_interval) | [`DEFAULT_KEEPALIVE_INTERVAL`], 20 s | a ping after 20 s without input |
//! | [`pong_timeout`](Config::pong_timeout) | [`DEFAULT_PONG_TIMEOUT`], 20 s | a dead peer is closed with 1011 after 20 s more of silence |
//! | [`close_timeout`](Config::close_timeout) | [`DEFAULT_CLOSE_TIMEOUT`], 5 s | a peer that never answers a close, or never stops sending, is let go |
//!
//! The keepalive defaults are Python websockets' (`ping_interval=20, ping_timeout=20`); unlike
//! it, any input (not only the pong) shows the peer is alive, so a peer busy sending a large
//! frame ahead of its pong is not failed.
//!
//! They always deliver whole messages ([`Delivery::Messages`](crate::Delivery)); to stream
//! chunks, drive the core directly.
//!
//! ## How a connection ends
//!
//! Once the core has queued a close (the application's, the echo of the peer's, or the one a
//! failure sends, such as 1009 for a message over the limit) and wants the transport closed,
//! the adapter writes it out, shuts down its write side (TCP FIN), and then keeps reading and
//! discarding input until the peer ends its side or the close timeout passes; only then is the
//! stream done, and `recv` returns. Closing a socket with unread input makes the kernel answer
//! with a TCP reset, and a reset destroys what the peer has not read yet, close frame
//! included: the peer would see a broken pipe instead of the reason. RFC 6455 7.1.1 has the
//! server close the TCP connection first, so that the client learns the close frame arrived;
//! draining until then is what keeps that frame alive when the peer is still sending. A timer
//! that fails the connection (handshake or pong timeout) writes what it can without waiting:
//! that peer has had its time. Keep calling `recv` until it returns `Ok(None)` or an error,
//! even after sending a close.
//!
//! - [`blocking`]: any `Read + Write` stream, timers through the read timeout.
//! - `tokio` (feature `tokio`): any `AsyncRead + AsyncWrite` stream.
//! - `futures` (feature `futures-io`): any `futures-io` stream, for any executor, with a small
//!   timer trait (`AsyncIoTimer` for smol and async-std with feature `async-io`).
//!
//! Both async adapters are the same [`WebSocketStream`] on their own runtime, with the same
//! surface: `recv`/`poll_recv`, `send`, `send_prepared`, `Stream`/`Sink`, `into_split`,
//! `get_ref`/`get_mut`/`into_inner`, and the same high-water mark.
//!
//! Every adapter, the same way:
//!
//! - **Clients** `connect` to a URL or an [`IntoClientRequest`] ([`ClientRequest`] with
//!   headers, `Origin` and subprotocol offers) and get the server's
//!   [`Response`](crate::Response) back; `client` runs the handshake over a stream you opened.
//! - **Servers** `accept` any request, `accept_with` a closure that returns an [`Accept`], a
//!   [`Reject`] or an [`Answer`], or (async) read the request with `incoming`, await what the
//!   decision needs, and [`Incoming::accept`] or [`Incoming::reject`]. The client always gets
//!   an HTTP answer: a subprotocol it did not offer is refused with a 500.
//! - **Errors** are [`WsError`]: who caused a failure and what went on the wire (the close code
//!   sent, the HTTP status). `recv` returns `Ok(None)` at the clean end, so the loop is
//!   `while let Some(message) = ws.recv().await? { .. }`.

use alloc::string::String;
use alloc::string::ToString;
use core::time::Duration;
use std::io;

use crate::config::Config;
use crate::connection::Connection;
use crate::entropy::Seed;
use crate::handshake::{ClientRequest, WsUrl};

mod answer;
pub mod blocking;
mod driver;
mod error;
#[cfg(feature = "futures-io")]
pub mod futures;
mod message;
mod read_buffer;
#[cfg(any(feature = "tokio", feature = "futures-io"))]
mod split;
#[cfg(any(feature = "tokio", feature = "futures-io"))]
mod stream;
#[cfg(feature = "tokio")]
mod tls;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use crate::handshake::Accept;
pub(crate) use answer::apply_answer;
pub use answer::{Answer, Reject};
pub use driver::{DEFAULT_HIGH_WATER_MARK, Runtime};
pub use error::{MAX_REFUSAL_BODY, WsError};
pub use message::Message;
pub use read_buffer::ReadBuffer;
#[cfg(any(feature = "tokio", feature = "futures-io"))]
pub use split::{ReadHalf, ReuniteError, WriteHalf};
#[cfg(any(feature = "tokio", feature = "futures-io"))]
pub use stream::{Incoming, WebSocketStream};

/// What the adapters return.
pub(crate) type WsResult<T> = Result<T, WsError>;

/// The opening-handshake timeout the adapters use unless the config sets one.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The close-handshake timeout the adapters use unless the config sets one. It also bounds how
/// long an adapter drains a peer's input after its close (see the module docs), even when the
/// config turns the close timeout off.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// The keepalive interval the adapters use unless the config sets one: a ping after this long
/// without input.
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(20);
/// The pong timeout the adapters use unless the config sets one: after a keepalive ping, this
/// long without any input fails the connection with 1011.
pub const DEFAULT_PONG_TIMEOUT: Duration = Duration::from_secs(20);
/// The read buffer an adapter starts with and shrinks back to.
pub const DEFAULT_READ_BUFFER: usize = 4 << 10;
/// The largest the read buffer grows while reads keep filling it.
pub const MAX_READ_BUFFER: usize = 256 << 10;

/// The config an adapter runs with: the caller's, with the adapter's default timers filled in.
pub(crate) fn adapter_config(mut config: Config) -> Config {
    // The adapters deliver whole messages; streaming chunks need the core API directly.
    config.delivery = crate::Delivery::Messages;
    config
        .handshake_timeout
        .get_or_insert(DEFAULT_HANDSHAKE_TIMEOUT);
    config.close_timeout.get_or_insert(DEFAULT_CLOSE_TIMEOUT);
    config
        .keepalive_interval
        .get_or_insert(DEFAULT_KEEPALIVE_INTERVAL);
    config.pong_timeout.get_or_insert(DEFAULT_PONG_TIMEOUT);
    // Lend whole frames from the read buffer rather than copying them in pieces.
    if config.whole_frame_limit == 0 {
        config.whole_frame_limit = config.max_frame_size;
    }
    config
}

/// A fresh seed for a client's masking keys, from the OS.
fn os_seed() -> WsResult<Seed> {
    Seed::from_os().map_err(|e| WsError::Io(io::Error::other(e.to_string())))
}

/// The core connection an adapter's `client` drives: the adapter's config, a seed from the OS,
/// and the adapter's clock, which starts at zero.
pub(crate) fn new_client(config: Config, request: ClientRequest) -> WsResult<Connection> {
    Ok(Connection::client(
        adapter_config(config),
        request,
        os_seed()?,
        crate::Instant::ZERO,
    )?)
}

/// The core connection an adapter's `accept` drives.
pub(crate) fn new_server(config: Config) -> Connection {
    Connection::server(adapter_config(config), crate::Instant::ZERO)
}

/// The core connection an adapter's `upgraded` drives.
pub(crate) fn new_upgraded(role: crate::Role, config: Config) -> WsResult<Connection> {
    Ok(Connection::upgraded(
        role,
        adapter_config(config),
        os_seed()?,
        crate::Instant::ZERO,
    ))
}

/// What `connect` takes: a URL (`&str`, `String`) or a [`ClientRequest`] made with
/// [`ClientRequest::from_url`], which carries headers (`Authorization`, `Cookie`), an `Origin`
/// and the subprotocols to offer.
///
/// ```
/// use wsproto::ClientRequest;
/// use wsproto::io::IntoClientRequest;
///
/// let request = ClientRequest::from_url("wss://example.com/chat?room=1")?
///     .header("Authorization", "Bearer abc")
///     .origin("https://example.com")
///     .subprotocol("chat.v2");
/// let request = request.into_client_request()?;
/// assert_eq!(request.url().map(|url| url.port()), Some(443));
/// # Ok::<(), wsproto::io::WsError>(())
/// ```
pub trait IntoClientRequest {
    /// The request, with the URL to dial.
    ///
    /// # Errors
    /// [`WsError::Url`] for an invalid URL, or for a [`ClientRequest`] made with
    /// [`ClientRequest::new`], which has no URL to dial.
    fn into_client_request(self) -> WsResult<ClientRequest>;
}

impl IntoClientRequest for ClientRequest {
    fn into_client_request(self) -> WsResult<ClientRequest> {
        if self.url().is_none() {
            // Made with `new`: a Host header, but nothing to dial.
            return Err(WsError::Url(crate::handshake::UrlError::MissingHost));
        }
        Ok(self)
    }
}

impl IntoClientRequest for &str {
    fn into_client_request(self) -> WsResult<ClientRequest> {
        Ok(ClientRequest::from_url(self)?)
    }
}

impl IntoClientRequest for &String {
    fn into_client_request(self) -> WsResult<ClientRequest> {
        self.as_str().into_client_request()
    }
}

impl IntoClientRequest for String {
    fn into_client_request(self) -> WsResult<ClientRequest> {
        self.as_str().into_client_request()
    }
}

/// The URL a `connect` dials.
pub(crate) fn dial_url(request: &ClientRequest) -> WsResult<&WsUrl> {
    request
        .url()
        .ok_or(WsError::Url(crate::handshake::UrlError::MissingHost))
}

/// The error a `connect` without TLS returns for `wss://`: `how` says what to do instead.
pub(crate) fn no_tls(how: &'static str) -> WsError {
    WsError::TlsUnavailable(how)
}
