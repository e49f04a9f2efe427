//! WebSocket upgrades on the [`http`] crate's types, for any HTTP server (feature `http`).
//!
//! hyper, axum and other servers parse the request and write the response themselves; this
//! module does the WebSocket part with the crate's own rules, the same as the core's
//! [`Connection::accept`](crate::Connection::accept):
//!
//! 1. [`UpgradeRequest::from_request`] checks the request (RFC 6455 4.2.1 over HTTP/1.1, or
//!    RFC 8441's extended CONNECT over HTTP/2) and keeps what the client offered; a bad request
//!    gives an [`UpgradeError`] whose [`response`](UpgradeError::response) is the right
//!    refusal (400, 405, or 426 with `Sec-WebSocket-Version: 13`).
//! 2. [`UpgradeRequest::accept`] picks the subprotocol, negotiates permessage-deflate under the
//!    [`Config`], and returns the response to send (101, or 200 over HTTP/2) with the
//!    [`Negotiated`] parameters.
//! 3. Once the server hands over the upgraded I/O, an adapter's `upgraded_negotiated` runs the
//!    frames with those parameters, e.g.
//!    [`io::tokio::WebSocketStream::upgraded_negotiated`](crate::io::tokio::WebSocketStream::upgraded_negotiated).
//!
//! ```
//! use wsproto::http::UpgradeRequest;
//! use wsproto::{Config, DeflateConfig};
//!
//! let request = http::Request::get("/chat")
//!     .header("Host", "example.com")
//!     .header("Upgrade", "websocket")
//!     .header("Connection", "Upgrade")
//!     .header("Sec-WebSocket-Version", "13")
//!     .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
//!     .header("Sec-WebSocket-Protocol", "chat, superchat")
//!     .header("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")
//!     .body(())?;
//!
//! let upgrade = UpgradeRequest::from_request(&request)?;
//! let config = Config::default().deflate(DeflateConfig::default());
//! let (response, negotiated) = upgrade.accept(&config, Some("chat"))?;
//! assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
//! assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//! assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
//! assert!(negotiated.deflate().is_some());
//! // ...send `response`, then run the upgraded I/O:
//! // WebSocketStream::upgraded_negotiated(io, Role::Server, config, negotiated)
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A refused request:
//!
//! ```
//! use wsproto::http::UpgradeRequest;
//!
//! let request = http::Request::get("/")
//!     .header("Host", "example.com")
//!     .header("Upgrade", "websocket")
//!     .header("Connection", "Upgrade")
//!     .header("Sec-WebSocket-Version", "8")
//!     .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
//!     .body(())?;
//! let refusal = UpgradeRequest::from_request(&request).unwrap_err().response();
//! assert_eq!(refusal.status(), http::StatusCode::UPGRADE_REQUIRED);
//! assert_eq!(refusal.headers()["sec-websocket-version"], "13");
//! # Ok::<(), http::Error>(())
//! ```
//!
//! ## HTTP/2 (RFC 8441)
//!
//! Over HTTP/2 a WebSocket is one stream opened by an extended CONNECT: method `CONNECT`, the
//! pseudo-header `:protocol: websocket`, no `Sec-WebSocket-Key`, and a 200 response. The
//! server must advertise `SETTINGS_ENABLE_CONNECT_PROTOCOL` (hyper:
//! `http2().enable_connect_protocol()`), and the `:protocol` value reaches the application in
//! a type of the server's own (hyper: `hyper::ext::Protocol` in the request's extensions), so
//! pass it to [`UpgradeRequest::from_request_with_protocol`]. Subprotocol and permessage-deflate
//! negotiation are the same; the frames then run over the HTTP/2 stream exactly as over TCP.

use std::fmt;
use std::string::{String, ToString};

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, Version, header};

use crate::config::Config;
use crate::error::{HandshakeError, SendError};
use crate::handshake::{self, Headers, Negotiated};

/// A checked WebSocket upgrade request: HTTP/1.1 `GET` with `Upgrade: websocket`, or HTTP/2
/// extended `CONNECT` with `:protocol: websocket`.
#[derive(Debug, Clone)]
pub struct UpgradeRequest {
    request: handshake::Request,
    http2: bool,
}

impl UpgradeRequest {
    /// Checks an HTTP/1.1 upgrade request (or HTTP/2 extended CONNECT, whose `:protocol` the
    /// server did not report here: use
    /// [`from_request_with_protocol`](Self::from_request_with_protocol) for that).
    ///
    /// # Errors
    /// The first rule of RFC 6455 4.2.1 the request breaks, with its refusal.
    pub fn from_request<B>(request: &Request<B>) -> Result<UpgradeRequest, UpgradeError> {
        Self::from_request_with_protocol(request, None)
    }

    /// As [`from_request`](Self::from_request), with the HTTP/2 `:protocol` pseudo-header the
    /// server reports (with hyper: `request.extensions().get::<hyper::ext::Protocol>()`);
    /// ignored over HTTP/1.
    ///
    /// # Errors
    /// The first rule the request breaks, with its refusal.
    pub fn from_request_with_protocol<B>(
        request: &Request<B>,
        protocol: Option<&str>,
    ) -> Result<UpgradeRequest, UpgradeError> {
        Self::new(
            request.method(),
            request.uri(),
            request.version(),
            request.headers(),
            protocol,
        )
    }

    /// As [`from_request_with_protocol`](Self::from_request_with_protocol), from the parts of a
    /// request (an extractor's `http::request::Parts`, say).
    ///
    /// # Errors
    /// The first rule the request breaks, with its refusal.
    pub fn from_parts(
        parts: &http::request::Parts,
        protocol: Option<&str>,
    ) -> Result<UpgradeRequest, UpgradeError> {
        Self::new(
            &parts.method,
            &parts.uri,
            parts.version,
            &parts.headers,
            protocol,
        )
    }

    /// Checks a request given by its pieces.
    ///
    /// # Errors
    /// The first rule the request breaks, with its refusal.
    pub fn new(
        method: &Method,
        uri: &Uri,
        version: Version,
        headers: &HeaderMap,
        protocol: Option<&str>,
    ) -> Result<UpgradeRequest, UpgradeError> {
        let http2 = version == Version::HTTP_2;
        let fail = |error| UpgradeError { error, http2 };
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        let pairs = headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes()));
        if !http2 {
            let minor_version = match version {
                Version::HTTP_09 | Version::HTTP_10 => 0,
                _ => 1,
            };
            let headers = Headers::from_pairs(pairs);
            let request =
                handshake::request_from_parts(method.as_str(), target, minor_version, headers);
            handshake::validate_request(&request).map_err(fail)?;
            return Ok(UpgradeRequest {
                request,
                http2: false,
            });
        }
        // RFC 8441 section 4: an extended CONNECT whose :protocol is websocket, and section 5:
        // the RFC 6455 headers except those of the HTTP/1.1 upgrade (Key, Upgrade, Connection).
        if method != Method::CONNECT {
            return Err(fail(HandshakeError::MethodNotAllowed));
        }
        if !protocol.is_some_and(|p| p.eq_ignore_ascii_case("websocket")) {
            return Err(fail(HandshakeError::BadHeader(":protocol")));
        }
        let Some(authority) = uri.authority() else {
            return Err(fail(HandshakeError::BadHeader(":authority")));
        };
        let mut versions = headers.get_all(header::SEC_WEBSOCKET_VERSION).iter();
        if versions.next().map(|v| v.as_bytes().trim_ascii()) != Some(b"13")
            || versions.next().is_some()
        {
            return Err(fail(HandshakeError::UnsupportedVersion));
        }
        // `host()` and `origin()` as over HTTP/1.1: :authority stands in for Host.
        let host = ("host", authority.as_str().as_bytes());
        let headers = Headers::from_pairs(
            core::iter::once(host).chain(pairs.filter(|(name, _)| *name != "host")),
        );
        let request = handshake::request_from_parts("CONNECT", target, 1, headers);
        Ok(UpgradeRequest {
            request,
            http2: true,
        })
    }

    /// Whether `request` asks for a WebSocket at all (`Upgrade: websocket` over HTTP/1.1, an
    /// extended CONNECT for `websocket` over HTTP/2), so that a server can answer other
    /// requests normally and refuse bad upgrades with [`from_request`](Self::from_request).
    pub fn is_websocket<B>(request: &Request<B>, protocol: Option<&str>) -> bool {
        if request.version() == Version::HTTP_2 {
            return request.method() == Method::CONNECT
                && protocol.is_some_and(|p| p.eq_ignore_ascii_case("websocket"));
        }
        request
            .headers()
            .get_all(header::UPGRADE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("websocket"))
    }

    /// The request as the core's [`Request`](handshake::Request): path, query, `Origin`,
    /// offered subprotocols and extensions, every header.
    pub fn request(&self) -> &handshake::Request {
        &self.request
    }

    /// The subprotocols the client offered, in its order of preference.
    pub fn protocols(&self) -> impl Iterator<Item = &str> {
        self.request.subprotocols()
    }

    /// Whether this is an HTTP/2 extended CONNECT (RFC 8441).
    pub fn is_http2(&self) -> bool {
        self.http2
    }

    /// Accepts: negotiates permessage-deflate under `config` (when [`Config::deflate`] is set
    /// and the client offered it), takes `subprotocol` (one the client offered), and returns
    /// the response to send (101 Switching Protocols over HTTP/1.1, 200 over HTTP/2) with what
    /// was agreed, for the adapter's `upgraded_negotiated`.
    ///
    /// # Errors
    /// [`SendError::InvalidHandshakeAnswer`] if the client did not offer `subprotocol`.
    pub fn accept(
        &self,
        config: &Config,
        subprotocol: Option<&str>,
    ) -> Result<(Response<()>, Negotiated), SendError> {
        let negotiated = Negotiated::server(&self.request, config, subprotocol)?;
        let mut response = Response::new(());
        *response.status_mut() = if self.http2 {
            StatusCode::OK
        } else {
            StatusCode::SWITCHING_PROTOCOLS
        };
        let headers = response.headers_mut();
        if !self.http2 {
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
            let key = self
                .request
                .key()
                .ok_or(SendError::InvalidHandshakeAnswer)?;
            let accept = handshake::accept_key_bytes(key.as_bytes());
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, header_value(&accept)?);
        }
        if let Some(protocol) = negotiated.subprotocol() {
            headers.insert(
                header::SEC_WEBSOCKET_PROTOCOL,
                header_value(protocol.as_bytes())?,
            );
        }
        if let Some(extensions) = negotiated.extensions_header() {
            headers.insert(
                header::SEC_WEBSOCKET_EXTENSIONS,
                header_value(extensions.as_bytes())?,
            );
        }
        Ok((response, negotiated))
    }
}

/// Every value here is base64, an offered token or our own extension answer; a byte no header
/// may hold would be a bug, reported as an invalid answer rather than a panic.
fn header_value(bytes: &[u8]) -> Result<HeaderValue, SendError> {
    HeaderValue::from_bytes(bytes).map_err(|_| SendError::InvalidHandshakeAnswer)
}

/// A request that is not a valid WebSocket upgrade: what is wrong (the client's fault, always)
/// and the HTTP refusal to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeError {
    error: HandshakeError,
    http2: bool,
}

impl UpgradeError {
    /// The rule the request broke.
    pub fn error(&self) -> &HandshakeError {
        &self.error
    }

    /// The status of the refusal: 400, 405 (not GET, or not CONNECT over HTTP/2) or 426
    /// (`Sec-WebSocket-Version` other than 13).
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.error.status()).unwrap_or(StatusCode::BAD_REQUEST)
    }

    /// The refusal: the status, a one-line text body naming the problem, `Allow` with a 405
    /// and `Sec-WebSocket-Version: 13` with a 426 (RFC 6455 4.4).
    pub fn response(&self) -> Response<String> {
        let mut response = Response::new(self.error.to_string() + "\n");
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        match self.status() {
            StatusCode::UPGRADE_REQUIRED => {
                headers.insert(
                    header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static("13"),
                );
            }
            StatusCode::METHOD_NOT_ALLOWED => {
                let allow = if self.http2 { "CONNECT" } else { "GET" };
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            _ => {}
        }
        response
    }
}

impl fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refused WebSocket upgrade ({}): {}",
            self.status(),
            self.error
        )
    }
}

impl std::error::Error for UpgradeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Connection, Instant, Role, Seed};
    use std::format;
    use std::vec::Vec;

    fn h1() -> http::request::Builder {
        Request::get("/chat?room=1")
            .header("Host", "example.com")
            .header("Upgrade", "websocket")
            .header("Connection", "keep-alive, Upgrade")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
    }

    fn h2() -> http::request::Builder {
        Request::builder()
            .method(Method::CONNECT)
            .version(Version::HTTP_2)
            .uri("https://example.com/chat?room=1")
            .header("Sec-WebSocket-Version", "13")
    }

    fn refused(builder: http::request::Builder, protocol: Option<&str>) -> Response<String> {
        let request = builder.body(()).unwrap();
        UpgradeRequest::from_request_with_protocol(&request, protocol)
            .unwrap_err()
            .response()
    }

    #[test]
    fn rfc_sample_gets_101_with_the_accept_key() {
        let request = h1().body(()).unwrap();
        let upgrade = UpgradeRequest::from_request(&request).unwrap();
        assert!(!upgrade.is_http2());
        assert_eq!(upgrade.request().path(), "/chat");
        assert_eq!(upgrade.request().query(), Some("room=1"));
        let (response, negotiated) = upgrade.accept(&Config::default(), None).unwrap();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        let h = response.headers();
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["connection"], "Upgrade");
        assert_eq!(h["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert!(!h.contains_key("sec-websocket-protocol"));
        assert!(!h.contains_key("sec-websocket-extensions"));
        assert_eq!(negotiated, Negotiated::new());
    }

    #[test]
    fn method_must_be_get_405_with_allow() {
        let response = refused(h1().method(Method::POST), None);
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()["allow"], "GET");
    }

    #[test]
    fn http_1_0_is_refused_400() {
        let response = refused(h1().version(Version::HTTP_10), None);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn version_other_than_13_is_426_naming_13() {
        let response = refused(h1().header("Sec-WebSocket-Version", "8"), None);
        assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(response.headers()["sec-websocket-version"], "13");
        assert!(response.body().contains("13"), "{}", response.body());
    }

    #[test]
    fn key_must_decode_to_16_bytes_400() {
        let request = Request::get("/")
            .header("Host", "example.com")
            .header("Upgrade", "websocket")
            .header("Connection", "Upgrade")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", "c2hvcnQ=")
            .body(())
            .unwrap();
        let err = UpgradeRequest::from_request(&request).unwrap_err();
        assert_eq!(err.error(), &HandshakeError::BadHeader("Sec-WebSocket-Key"));
        assert_eq!(err.response().status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn upgrade_and_connection_headers_are_required() {
        let no_upgrade = Request::get("/")
            .header("Host", "example.com")
            .header("Connection", "Upgrade")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(())
            .unwrap();
        assert!(!UpgradeRequest::is_websocket(&no_upgrade, None));
        let err = UpgradeRequest::from_request(&no_upgrade).unwrap_err();
        assert_eq!(err.error(), &HandshakeError::BadHeader("Upgrade"));
        let no_connection = Request::get("/")
            .header("Host", "example.com")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(())
            .unwrap();
        assert!(UpgradeRequest::is_websocket(&no_connection, None));
        let err = UpgradeRequest::from_request(&no_connection).unwrap_err();
        assert_eq!(err.error(), &HandshakeError::BadHeader("Connection"));
    }

    #[test]
    fn subprotocol_must_be_one_offered() {
        let request = h1()
            .header("Sec-WebSocket-Protocol", "chat, superchat")
            .body(())
            .unwrap();
        let upgrade = UpgradeRequest::from_request(&request).unwrap();
        assert_eq!(
            upgrade.protocols().collect::<Vec<_>>(),
            ["chat", "superchat"]
        );
        assert_eq!(
            upgrade
                .accept(&Config::default(), Some("mqtt"))
                .unwrap_err(),
            SendError::InvalidHandshakeAnswer
        );
        let (response, negotiated) = upgrade
            .accept(&Config::default(), Some("superchat"))
            .unwrap();
        assert_eq!(response.headers()["sec-websocket-protocol"], "superchat");
        assert_eq!(negotiated.subprotocol(), Some("superchat"));
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn permessage_deflate_is_negotiated_as_the_core_does() {
        use crate::DeflateConfig;
        let offer = "permessage-deflate; client_max_window_bits";
        let request = h1()
            .header("Sec-WebSocket-Extensions", offer)
            .body(())
            .unwrap();
        let upgrade = UpgradeRequest::from_request(&request).unwrap();
        // Without Config::deflate: declined.
        let (response, negotiated) = upgrade.accept(&Config::default(), None).unwrap();
        assert!(!response.headers().contains_key("sec-websocket-extensions"));
        assert_eq!(negotiated.deflate(), None);
        // With it: the same answer as the core's own accept.
        let config = Config::default().deflate(DeflateConfig::default());
        let (response, negotiated) = upgrade.accept(&config, None).unwrap();
        let answer = response.headers()["sec-websocket-extensions"]
            .to_str()
            .unwrap();
        assert_eq!(Some(answer), negotiated.extensions_header());
        let mut core = Connection::server(config.clone(), Instant::ZERO);
        let mut head = alloc_head(offer);
        core.recv(Instant::ZERO, &mut head).unwrap();
        core.accept(Instant::ZERO, &crate::handshake::Accept::new())
            .unwrap();
        let written = String::from_utf8_lossy(core.transmit()).into_owned();
        assert!(
            written.contains(&format!("Sec-WebSocket-Extensions: {answer}\r\n")),
            "{written}"
        );
        assert_eq!(core.deflate_params(), negotiated.deflate());
        // And the connection built from it compresses.
        let conn = Connection::upgraded_negotiated(
            Role::Server,
            config,
            Seed([0; 32]),
            Instant::ZERO,
            negotiated,
        );
        assert!(conn.deflate_params().is_some());
    }

    #[cfg(feature = "deflate")]
    fn alloc_head(extensions: &str) -> Vec<u8> {
        format!(
            "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Extensions: {extensions}\r\n\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn rfc8441_extended_connect_gets_200_without_accept() {
        let request = h2()
            .header("Sec-WebSocket-Protocol", "chat")
            .header("Origin", "https://example.com")
            .body(())
            .unwrap();
        assert!(UpgradeRequest::is_websocket(&request, Some("websocket")));
        let upgrade =
            UpgradeRequest::from_request_with_protocol(&request, Some("websocket")).unwrap();
        assert!(upgrade.is_http2());
        assert_eq!(upgrade.request().host(), Some("example.com"));
        assert_eq!(upgrade.request().origin(), Some("https://example.com"));
        assert_eq!(upgrade.request().path(), "/chat");
        let (response, negotiated) = upgrade.accept(&Config::default(), Some("chat")).unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let h = response.headers();
        for absent in ["upgrade", "connection", "sec-websocket-accept"] {
            assert!(!h.contains_key(absent), "{absent}");
        }
        assert_eq!(h["sec-websocket-protocol"], "chat");
        assert_eq!(negotiated.subprotocol(), Some("chat"));
    }

    #[test]
    fn rfc8441_needs_connect_and_the_websocket_protocol() {
        let get = refused(h2().method(Method::GET), Some("websocket"));
        assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(get.headers()["allow"], "CONNECT");
        assert_eq!(refused(h2(), None).status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            refused(h2(), Some("webtransport")).status(),
            StatusCode::BAD_REQUEST
        );
        let request = h2().body(()).unwrap();
        assert!(!UpgradeRequest::is_websocket(&request, None));
    }

    #[test]
    fn rfc8441_still_requires_version_13() {
        let old = Request::builder()
            .method(Method::CONNECT)
            .version(Version::HTTP_2)
            .uri("https://example.com/")
            .header("Sec-WebSocket-Version", "8")
            .body(())
            .unwrap();
        let err = UpgradeRequest::from_request_with_protocol(&old, Some("websocket")).unwrap_err();
        assert_eq!(err.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(err.response().headers()["sec-websocket-version"], "13");
        let missing = h2().body(()).unwrap();
        let mut missing = missing;
        missing.headers_mut().remove("sec-websocket-version");
        let err =
            UpgradeRequest::from_request_with_protocol(&missing, Some("websocket")).unwrap_err();
        assert_eq!(err.status(), StatusCode::UPGRADE_REQUIRED);
    }

    #[test]
    fn errors_are_send_sync_and_name_the_status() {
        fn check<T: Send + Sync + std::error::Error>() {}
        check::<UpgradeError>();
        let request = h1().method(Method::PUT).body(()).unwrap();
        let err = UpgradeRequest::from_request(&request).unwrap_err();
        assert!(err.to_string().contains("405"), "{err}");
    }
}
