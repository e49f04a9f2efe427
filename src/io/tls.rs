//! `wss://` for the tokio adapter: [`MaybeTlsStream`], what [`connect`](super::tokio::connect)
//! returns, and [`Connector`], how it opens TLS.

use core::pin::Pin;
use core::task::{Context, Poll};
use std::io::{self, IoSlice};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

#[allow(unused_imports)]
use super::WsError;
use super::{WsResult, no_tls};
use crate::handshake::WsUrl;

/// A stream that is plain TCP for `ws://` or TLS for `wss://`.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream<S> {
    /// `ws://`: the stream as it is.
    Plain(S),
}

/// How [`connect_with`](super::tokio::connect_with) opens a `wss://` connection.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Connector {
    /// No TLS: `wss://` URLs fail with [`WsError::Tls`].
    Plain,
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Opens the transport for `url`: TCP, then TLS for `wss://` with `connector` (or the one the
/// enabled feature provides).
pub(crate) async fn open(
    url: &WsUrl,
    connector: Option<Connector>,
) -> WsResult<MaybeTlsStream<TcpStream>> {
    let stream = TcpStream::connect((url.host(), url.port())).await?;
    stream.set_nodelay(true)?;
    if !url.is_secure() {
        return Ok(MaybeTlsStream::Plain(stream));
    }
    match connector {
        Some(Connector::Plain) | None => Err(no_tls(
            "enable one of the features rustls-tls-webpki-roots, rustls-tls-native-roots or \
             native-tls, or pass a Connector to connect_with",
        )),
    }
}
