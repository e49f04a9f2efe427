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
//! Adapters turn on two timers the core leaves off: an opening-handshake timeout of
//! [`DEFAULT_HANDSHAKE_TIMEOUT`] (so a slowloris client cannot hold a connection forever) and a
//! close timeout of [`DEFAULT_CLOSE_TIMEOUT`], unless the [`Config`] already sets them. They always
//! deliver whole messages ([`Delivery::Messages`](crate::Delivery)); to stream chunks, drive the
//! core directly.
//!
//! - [`blocking`]: any `Read + Write` stream, timers through the read timeout.
//! - `tokio` (feature `tokio`): any `AsyncRead + AsyncWrite` stream.
//! - `futures` (feature `futures-io`): any `futures-io` stream, for any executor, with a small
//!   timer trait (`AsyncIoTimer` for smol and async-std with feature `async-io`).
//!
//! Both async adapters are the same [`WebSocketStream`] on their own runtime, with the same
//! surface: `recv`/`poll_recv`, `send`, `send_prepared`, `Stream`/`Sink`, `split`,
//! `get_ref`/`get_mut`/`into_inner`, and the same high-water mark.

use alloc::string::ToString;
use alloc::vec::Vec;
use core::time::Duration;
use std::io;

use crate::config::Config;
use crate::connection::Connection;
use crate::entropy::Seed;
use crate::error::{Error, SendError};
use crate::handshake::{Accept, ClientRequest, WsUrl, parse_url};

pub mod blocking;
mod driver;
#[cfg(feature = "futures-io")]
pub mod futures;
mod message;
mod read_buffer;
#[cfg(any(feature = "tokio", feature = "futures-io"))]
mod split;
#[cfg(any(feature = "tokio", feature = "futures-io"))]
mod stream;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use driver::{DEFAULT_HIGH_WATER_MARK, Runtime};
pub use message::Message;
pub use read_buffer::ReadBuffer;
#[cfg(any(feature = "tokio", feature = "futures-io"))]
pub use split::{ReadHalf, ReuniteError, WriteHalf};
#[cfg(any(feature = "tokio", feature = "futures-io"))]
pub use stream::WebSocketStream;

/// The opening-handshake timeout the adapters use unless the config sets one.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The close-handshake timeout the adapters use unless the config sets one.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// The read buffer an adapter starts with and shrinks back to.
pub const DEFAULT_READ_BUFFER: usize = 4 << 10;
/// The largest the read buffer grows while reads keep filling it.
pub const MAX_READ_BUFFER: usize = 256 << 10;

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

/// The config an adapter runs with: the caller's, with the adapter's default timers filled in.
pub(crate) fn adapter_config(mut config: Config) -> Config {
    // The adapters deliver whole messages; streaming chunks need the core API directly.
    config.delivery = crate::Delivery::Messages;
    config
        .handshake_timeout
        .get_or_insert(DEFAULT_HANDSHAKE_TIMEOUT);
    config.close_timeout.get_or_insert(DEFAULT_CLOSE_TIMEOUT);
    // Lend whole frames from the read buffer rather than copying them in pieces.
    if config.whole_frame_limit == 0 {
        config.whole_frame_limit = config.max_frame_size;
    }
    config
}

/// A fresh seed for a client's masking keys, from the OS.
fn os_seed() -> io::Result<Seed> {
    Seed::from_os().map_err(|e| io::Error::other(e.to_string()))
}

/// The core connection an adapter's `client` drives: the adapter's config, a seed from the OS,
/// and the adapter's clock, which starts at zero.
pub(crate) fn new_client(config: Config, request: ClientRequest) -> io::Result<Connection> {
    Connection::client(
        adapter_config(config),
        request,
        os_seed()?,
        crate::Instant::ZERO,
    )
    .map_err(send_error)
}

/// The core connection an adapter's `accept` drives.
pub(crate) fn new_server(config: Config) -> Connection {
    Connection::server(adapter_config(config), crate::Instant::ZERO)
}

/// The core connection an adapter's `upgraded` drives.
pub(crate) fn new_upgraded(role: crate::Role, config: Config) -> io::Result<Connection> {
    Ok(Connection::upgraded(
        role,
        adapter_config(config),
        os_seed()?,
        crate::Instant::ZERO,
    ))
}

/// Hands the application's [`Answer`] to the core: `Ok(true)` if the connection is now open,
/// `Ok(false)` if the rejection is queued (write it out, shut down, then report
/// [`rejected_error`]).
pub(crate) fn apply_answer(
    conn: &mut Connection,
    now: crate::Instant,
    answer: Answer,
) -> io::Result<bool> {
    match answer {
        Answer::Accept(accept) => {
            conn.accept(now, &accept).map_err(send_error)?;
            Ok(true)
        }
        Answer::Reject {
            status,
            headers,
            body,
        } => {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            conn.reject(status, &headers, &body).map_err(send_error)?;
            Ok(false)
        }
    }
}

/// The error `accept` returns after the application rejected the request.
pub(crate) fn rejected_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        "handshake rejected by the application",
    )
}

/// Parses a URL for a plain-TCP `connect`: `InvalidInput` for a bad URL or for `wss://`.
pub(crate) fn plain_url(url: &str) -> io::Result<(WsUrl, ClientRequest)> {
    let parsed = parse_url(url).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    if parsed.is_secure() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "wss:// needs TLS, which connect does not do: bring your own TLS stream and call \
             the adapter's `client` over it",
        ));
    }
    let request = ClientRequest::new(parsed.host_header(), parsed.resource());
    Ok((parsed, request))
}
