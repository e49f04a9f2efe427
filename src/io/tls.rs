//! `wss://` for the tokio adapter: [`MaybeTlsStream`], what [`connect`](super::tokio::connect)
//! returns, and [`Connector`], how it opens TLS. The features and defaults are described in
//! the [`tokio`](super::tokio) module docs.

use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::io::{self, IoSlice};
#[cfg(any(feature = "__rustls-tls", feature = "native-tls"))]
use std::sync::OnceLock;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::{WsError, WsResult, no_tls};
use crate::error::TimeoutKind;
use crate::handshake::WsUrl;

#[cfg(feature = "native-tls")]
use native_tls_crate as native_tls;
use std::boxed::Box;
#[cfg(feature = "__rustls-tls")]
use std::string::String;
#[cfg(feature = "rustls-tls-native-roots")]
use std::string::ToString;
#[cfg(feature = "__rustls-tls")]
use std::sync::Arc;
#[cfg(feature = "__rustls-tls")]
use tokio_rustls::rustls;

/// A stream that is plain TCP for `ws://` or TLS for `wss://`: what
/// [`connect`](super::tokio::connect) returns. It forwards `AsyncRead` and `AsyncWrite`
/// (vectored writes included) to the stream it holds.
///
/// The TLS variants exist with their features; match with a `_` arm, as more may be added.
#[derive(Debug)]
#[non_exhaustive]
// The TLS variants hold the TLS session inline. One lives per connection, inside its
// `WebSocketStream`; a box would add an indirection to every read and write.
#[allow(clippy::large_enum_variant)]
pub enum MaybeTlsStream<S> {
    /// `ws://`: the stream as it is.
    Plain(S),
    /// `wss://` over rustls (features `rustls-tls-webpki-roots`, `rustls-tls-native-roots`).
    #[cfg(feature = "__rustls-tls")]
    Rustls(tokio_rustls::client::TlsStream<S>),
    /// `wss://` over native-tls (feature `native-tls`).
    #[cfg(feature = "native-tls")]
    NativeTls(tokio_native_tls::TlsStream<S>),
}

/// How [`connect_with`](super::tokio::connect_with) opens a `wss://` connection. A `ws://` URL
/// is always plain TCP, whatever the connector.
///
/// A private root, with the re-exported rustls:
///
/// ```no_run
/// # #[cfg(feature = "__rustls-tls")]
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use wsproto::Config;
/// use wsproto::io::tokio::rustls::{self, pki_types::CertificateDer, pki_types::pem::PemObject};
/// use wsproto::io::tokio::{Connector, connect_with};
///
/// // Trust only the CA certificates in ca.pem.
/// let mut roots = rustls::RootCertStore::empty();
/// for cert in CertificateDer::pem_file_iter("ca.pem")? {
///     roots.add(cert?)?;
/// }
/// let provider = Arc::new(rustls::crypto::ring::default_provider());
/// let tls = rustls::ClientConfig::builder_with_provider(provider)
///     .with_safe_default_protocol_versions()?
///     .with_root_certificates(roots)
///     .with_no_client_auth();
/// let connector = Some(Connector::Rustls(Arc::new(tls)));
/// let url = "wss://internal.example:8443/";
/// let (mut ws, _response) = connect_with(url, Config::default(), connector).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Connector {
    /// No TLS: `wss://` URLs fail with [`WsError::Tls`].
    Plain,
    /// rustls with this config; the server name checked is the URL's host (a name or an IP
    /// address). Build the config with the re-exported
    /// [`rustls`](super::tokio::rustls), so the versions match.
    #[cfg(feature = "__rustls-tls")]
    Rustls(Arc<rustls::ClientConfig>),
    /// native-tls with this connector; the host name checked is the URL's host. Build it with
    /// the re-exported [`native_tls`](super::tokio::native_tls).
    #[cfg(feature = "native-tls")]
    NativeTls(native_tls::TlsConnector),
}

/// Runs `$body` with `$s` bound to the stream inside whichever variant `$stream` is.
macro_rules! each_stream {
    ($stream:expr, $s:ident => $body:expr) => {
        match $stream {
            MaybeTlsStream::Plain($s) => $body,
            #[cfg(feature = "__rustls-tls")]
            MaybeTlsStream::Rustls($s) => $body,
            #[cfg(feature = "native-tls")]
            MaybeTlsStream::NativeTls($s) => $body,
        }
    };
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each_stream!(self.get_mut(), s => Pin::new(s).poll_read(cx, buf))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self.get_mut(), s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self.get_mut(), s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        each_stream!(self, s => s.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self.get_mut(), s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self.get_mut(), s => Pin::new(s).poll_shutdown(cx))
    }
}

/// Opens the transport for `url`: TCP, then TLS for `wss://` with `connector` (or the one the
/// enabled feature provides), the TLS handshake bounded by `timeout` (`None`: unbounded).
pub(crate) async fn open(
    url: &WsUrl,
    connector: Option<Connector>,
    timeout: Option<Duration>,
) -> WsResult<MaybeTlsStream<TcpStream>> {
    // Settle how to speak TLS before dialing: a missing feature or roots fail without traffic.
    let connector = match (url.is_secure(), connector) {
        (false, _) => None,
        (true, Some(connector)) => Some(connector),
        (true, None) => Some(default_connector().map_err(WsError::Tls)?),
    };
    if matches!(connector, Some(Connector::Plain)) {
        return Err(no_tls(NO_TLS));
    }
    let stream = TcpStream::connect((url.host(), url.port())).await?;
    stream.set_nodelay(true)?;
    let Some(connector) = connector else {
        return Ok(MaybeTlsStream::Plain(stream));
    };
    let handshake = wrap(connector, tls_host(url.host()), stream);
    let Some(timeout) = timeout else {
        return handshake.await;
    };
    match tokio::time::timeout(timeout, handshake).await {
        Ok(stream) => stream,
        Err(_) => Err(WsError::Timeout(TimeoutKind::Handshake)),
    }
}

/// The host to check the certificate against: an IPv6 literal without its brackets.
fn tls_host(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Runs the TLS handshake over `stream`. Any failure of it is a [`WsError::Tls`].
#[cfg_attr(
    not(any(feature = "__rustls-tls", feature = "native-tls")),
    allow(unused_variables)
)]
async fn wrap(
    connector: Connector,
    host: &str,
    stream: TcpStream,
) -> WsResult<MaybeTlsStream<TcpStream>> {
    match connector {
        Connector::Plain => Err(no_tls(NO_TLS)),
        #[cfg(feature = "__rustls-tls")]
        Connector::Rustls(config) => {
            let name =
                rustls::pki_types::ServerName::try_from(String::from(host)).map_err(|e| {
                    WsError::Tls(
                        std::format!("{host:?} is not a valid TLS server name: {e}").into(),
                    )
                })?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await
                .map_err(tls_error)?;
            Ok(MaybeTlsStream::Rustls(tls))
        }
        #[cfg(feature = "native-tls")]
        Connector::NativeTls(connector) => {
            let tls = tokio_native_tls::TlsConnector::from(connector)
                .connect(host, stream)
                .await
                .map_err(|e| WsError::Tls(e.into()))?;
            Ok(MaybeTlsStream::NativeTls(tls))
        }
    }
}

/// A failed rustls handshake: the rustls error (a bad certificate, an alert) when there is
/// one, else the I/O error it ended on.
#[cfg(feature = "__rustls-tls")]
fn tls_error(e: io::Error) -> WsError {
    match e.downcast::<rustls::Error>() {
        Ok(e) => WsError::Tls(e.into()),
        Err(e) => WsError::Tls(e.into()),
    }
}

/// What `wss://` without TLS is refused with.
const NO_TLS: &str = "enable one of the features rustls-tls-webpki-roots, \
    rustls-tls-native-roots or native-tls for the default connector, or pass \
    Connector::Rustls or Connector::NativeTls to connect_with";

/// What a failed TLS setup is reported with, inside [`WsError::Tls`].
type TlsError = Box<dyn std::error::Error + Send + Sync>;

/// What `connect` uses for `wss://`: rustls with the enabled roots, built once per process.
/// A failure is not kept: the next `connect` tries again.
#[cfg(feature = "__rustls-tls")]
fn default_connector() -> Result<Connector, TlsError> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let config = match CONFIG.get() {
        Some(config) => Arc::clone(config),
        None => {
            let config = Arc::new(build_rustls_config()?);
            Arc::clone(CONFIG.get_or_init(|| config))
        }
    };
    Ok(Connector::Rustls(config))
}

/// What `connect` uses for `wss://`: native-tls with the platform's defaults, built once per
/// process.
#[cfg(all(feature = "native-tls", not(feature = "__rustls-tls")))]
fn default_connector() -> Result<Connector, TlsError> {
    static CONNECTOR: OnceLock<native_tls::TlsConnector> = OnceLock::new();
    let connector = match CONNECTOR.get() {
        Some(connector) => connector.clone(),
        None => {
            let connector = native_tls::TlsConnector::new()?;
            CONNECTOR.get_or_init(|| connector).clone()
        }
    };
    Ok(Connector::NativeTls(connector))
}

/// No TLS feature: the default is [`Connector::Plain`], which refuses `wss://`.
#[cfg(not(any(feature = "__rustls-tls", feature = "native-tls")))]
fn default_connector() -> Result<Connector, TlsError> {
    Ok(Connector::Plain)
}

/// A rustls config over the ring provider, trusting the roots of the enabled features.
#[cfg(feature = "__rustls-tls")]
fn build_rustls_config() -> Result<rustls::ClientConfig, TlsError> {
    let roots = default_roots()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The roots of the enabled features; an empty store is an error.
#[cfg(feature = "__rustls-tls")]
fn default_roots() -> Result<rustls::RootCertStore, String> {
    #[allow(unused_mut)]
    let mut roots = rustls::RootCertStore::empty();
    #[cfg(feature = "rustls-tls-webpki-roots")]
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    #[cfg(feature = "rustls-tls-native-roots")]
    add_native_roots(&mut roots, rustls_native_certs::load_native_certs())?;
    if roots.is_empty() {
        return Err(
            "no trusted root certificates: enable rustls-tls-webpki-roots or \
                    rustls-tls-native-roots, or pass a Connector::Rustls of your own"
                .into(),
        );
    }
    Ok(roots)
}

/// Adds the platform's roots (or those of `SSL_CERT_FILE` / `SSL_CERT_DIR`) that rustls can
/// use; an error if the store is still empty, with what went wrong loading them.
#[cfg(feature = "rustls-tls-native-roots")]
fn add_native_roots(
    roots: &mut rustls::RootCertStore,
    loaded: rustls_native_certs::CertificateResult,
) -> Result<(), String> {
    roots.add_parsable_certificates(loaded.certs);
    if !roots.is_empty() {
        return Ok(());
    }
    let mut why = String::from(
        "no trusted root certificates: the platform's store (or SSL_CERT_FILE / SSL_CERT_DIR, \
         when set) has none that rustls can use",
    );
    for e in &loaded.errors {
        why.push_str("; ");
        why.push_str(&e.to_string());
    }
    Err(why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::parse_url;

    #[tokio::test]
    async fn plain_connector_refuses_wss() {
        // Refused before dialing: nothing listens on this port, so a dial would be an Io error.
        let url = parse_url("wss://127.0.0.1:9/").unwrap();
        let open = open(&url, Some(Connector::Plain), Some(Duration::from_secs(5)));
        let result = tokio::time::timeout(Duration::from_secs(10), open)
            .await
            .expect("open timed out");
        assert!(
            matches!(result, Err(WsError::TlsUnavailable(_))),
            "{result:?}"
        );
    }

    #[test]
    fn ipv6_literals_lose_their_brackets() {
        assert_eq!(tls_host("[::1]"), "::1");
        assert_eq!(tls_host("::1"), "::1");
        assert_eq!(tls_host("localhost"), "localhost");
    }

    #[cfg(feature = "__rustls-tls")]
    #[test]
    fn server_names_include_ip_addresses() {
        use rustls::pki_types::ServerName;
        for host in ["localhost", "127.0.0.1", tls_host("[::1]")] {
            assert!(ServerName::try_from(host).is_ok(), "{host}");
        }
    }

    #[cfg(feature = "rustls-tls-native-roots")]
    #[test]
    fn empty_native_roots_are_an_error_that_says_so() {
        let mut roots = rustls::RootCertStore::empty();
        let none = rustls_native_certs::CertificateResult::default();
        let why = add_native_roots(&mut roots, none).unwrap_err();
        assert!(why.contains("no trusted root certificates"), "{why}");
        assert!(why.contains("SSL_CERT_FILE"), "{why}");

        let cert =
            rcgen::generate_simple_self_signed(alloc::vec![String::from("localhost")]).unwrap();
        let mut one = rustls_native_certs::CertificateResult::default();
        one.certs.push(cert.cert.der().clone());
        add_native_roots(&mut roots, one).unwrap();
        assert_eq!(roots.len(), 1);
    }
}
