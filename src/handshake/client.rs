//! The client side: write the request, parse and check the server's answer.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::url::{UrlError, WsUrl, parse_url};
use super::{
    Header, Headers, accept_key_bytes, find, header_has_token, list, push_header, single, trim_ows,
    valid_header_name, values, whole_head, with_slots,
};
use crate::error::{HandshakeError, SendError};

/// What a client asks for in its opening handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    host: String,
    resource: String,
    origin: Option<String>,
    subprotocols: Vec<String>,
    headers: Vec<(String, String)>,
    /// The URL it was made from: where an adapter's `connect` dials.
    url: Option<WsUrl>,
}

impl ClientRequest {
    /// A request for `resource` (path and query, e.g. `/chat?x=1`) on `host` (the `Host` header,
    /// with `:port` when it is not the scheme's default).
    pub fn new(host: impl Into<String>, resource: impl Into<String>) -> Self {
        ClientRequest {
            host: host.into(),
            resource: resource.into(),
            origin: None,
            subprotocols: Vec::new(),
            headers: Vec::new(),
            url: None,
        }
    }

    /// A request for a `ws://` or `wss://` URL.
    ///
    /// # Errors
    /// When the URL is not a valid WebSocket URL (see [`UrlError`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::ClientRequest;
    /// use wsproto::handshake::UrlError;
    ///
    /// let request = ClientRequest::from_url("wss://example.com:8443/chat?room=1")?;
    /// // The `Host` header keeps a port that is not the scheme's default.
    /// assert_eq!((request.host(), request.resource()), ("example.com:8443", "/chat?room=1"));
    /// // The URL stays with the request, so that an adapter's `connect` knows where to dial.
    /// assert_eq!(request.url().map(|url| url.is_secure()), Some(true));
    /// assert_eq!(ClientRequest::from_url("https://example.com"), Err(UrlError::Scheme));
    /// # Ok::<(), UrlError>(())
    /// ```
    pub fn from_url(url: &str) -> Result<ClientRequest, UrlError> {
        let url = parse_url(url)?;
        let mut request = ClientRequest::new(url.host_header(), url.resource());
        request.url = Some(url);
        Ok(request)
    }

    /// Sets the `Origin` header, as a browser would.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{ClientRequest, Config, Connection, Instant, Seed};
    ///
    /// // Servers that guard against cross-site requests (`Request::origin`) want to see it.
    /// let request = ClientRequest::new("example.com", "/").origin("https://example.com");
    /// assert_eq!(request.origin_header(), Some("https://example.com"));
    /// let client = Connection::client(Config::default(), request, Seed([7; 32]), Instant::ZERO)?;
    /// let head = String::from_utf8_lossy(client.transmit());
    /// assert!(head.contains("\r\nOrigin: https://example.com\r\n"));
    /// # Ok::<(), wsproto::SendError>(())
    /// ```
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Offers a subprotocol; offers are sent in the order added (most preferred first).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{ClientRequest, Config, Connection, Instant, Seed};
    ///
    /// let request = ClientRequest::new("example.com", "/")
    ///     .subprotocol("chat.v2")
    ///     .subprotocol("chat");
    /// let client = Connection::client(Config::default(), request, Seed([7; 32]), Instant::ZERO)?;
    /// let head = String::from_utf8_lossy(client.transmit());
    /// assert!(head.contains("\r\nSec-WebSocket-Protocol: chat.v2, chat\r\n"));
    /// // Which one the server chose is known once the connection opens.
    /// assert_eq!(client.subprotocol(), None);
    /// # Ok::<(), wsproto::SendError>(())
    /// ```
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocols.push(protocol.into());
        self
    }

    /// Adds a request header, e.g. `Authorization` or `Cookie`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::{ClientRequest, Config, Connection, Instant, Seed, SendError};
    ///
    /// let now = Instant::ZERO;
    /// let request = ClientRequest::new("example.com", "/").header("Authorization", "Bearer k3y");
    /// let client = Connection::client(Config::default(), request, Seed([7; 32]), now)?;
    /// let head = String::from_utf8_lossy(client.transmit());
    /// assert!(head.contains("\r\nAuthorization: Bearer k3y\r\n"));
    /// // The handshake's own headers are the core's to write: a second copy would contradict it.
    /// let request = ClientRequest::new("example.com", "/").header("Sec-WebSocket-Key", "x");
    /// let refused = Connection::client(Config::default(), request, Seed([7; 32]), now);
    /// assert_eq!(refused.unwrap_err(), SendError::InvalidHandshakeAnswer);
    /// # Ok::<(), SendError>(())
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The `Host` header value.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The requested resource: path and query.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The `Origin` header value, if set.
    pub fn origin_header(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The offered subprotocols, most preferred first.
    pub fn subprotocols(&self) -> &[String] {
        &self.subprotocols
    }

    /// The extra headers, in the order added.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The URL the request was made from ([`from_url`](ClientRequest::from_url)), which tells
    /// an adapter's `connect` the host, port and scheme to dial; `None` for
    /// [`new`](ClientRequest::new).
    pub fn url(&self) -> Option<&WsUrl> {
        self.url.as_ref()
    }
}

/// Headers the core writes into every request; a caller's copy would contradict them.
const REQUEST_RESERVED: &[&str] = &[
    "Host",
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Origin",
];

/// The `Sec-WebSocket-Key` for a 16-byte random nonce.
pub(crate) fn new_key(nonce: [u8; 16]) -> String {
    STANDARD.encode(nonce)
}

/// Appends the request to `out`, or nothing if a part of `req` cannot be written safely.
pub(crate) fn write_request(
    req: &ClientRequest,
    key: &str,
    extension_offer: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<(), SendError> {
    // Visible ASCII only: a space would end the request-target, and non-ASCII must be
    // percent-encoded anyway.
    let visible = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
    let extra = req.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    let valid = visible(&req.host)
        && req.resource.starts_with('/')
        && visible(&req.resource)
        && !req.resource.contains('#')
        && visible(key)
        && req.origin.as_deref().is_none_or(super::valid_header_value)
        && req.subprotocols.iter().all(|p| valid_header_name(p))
        && extension_offer.is_none_or(super::valid_header_value)
        && super::valid_extra_headers(extra, REQUEST_RESERVED);
    if !valid {
        return Err(SendError::InvalidHandshakeAnswer);
    }
    for part in ["GET ", &req.resource, " HTTP/1.1\r\n"] {
        out.extend_from_slice(part.as_bytes());
    }
    push_header(out, "Host", &req.host);
    out.extend_from_slice(b"Upgrade: websocket\r\nConnection: Upgrade\r\n");
    push_header(out, "Sec-WebSocket-Key", key);
    out.extend_from_slice(b"Sec-WebSocket-Version: 13\r\n");
    if let Some(origin) = &req.origin {
        push_header(out, "Origin", origin);
    }
    if !req.subprotocols.is_empty() {
        push_header(out, "Sec-WebSocket-Protocol", &req.subprotocols.join(", "));
    }
    if let Some(offer) = extension_offer {
        push_header(out, "Sec-WebSocket-Extensions", offer);
    }
    for (name, value) in &req.headers {
        push_header(out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// The server's answer to the opening handshake.
///
/// Made by the core from the bytes received; read it with [`status`](Response::status),
/// [`reason`](Response::reason), [`headers`](Response::headers) and the lookups below.
///
/// # Examples
///
/// ```
/// use wsproto::handshake::Accept;
/// use wsproto::{ClientRequest, Config, Connection, Event, Instant, Seed};
///
/// let now = Instant::ZERO;
/// let request = ClientRequest::new("example.com", "/").subprotocol("chat");
/// let mut client = Connection::client(Config::default(), request, Seed([7; 32]), now)?;
/// # let mut server = Connection::server(Config::default(), now);
/// # let mut input = client.transmit().to_vec();
/// # server.recv(now, &mut input)?;
/// # server.accept(now, &Accept::new().subprotocol("chat").header("X-Server", "demo/1"))?;
/// # let mut input = server.transmit().to_vec();
/// // `input` holds the server's 101, which chose "chat" and added `X-Server: demo/1`.
/// let Some(Event::Connected(response)) = client.recv(now, &mut input)?.event else { panic!() };
/// assert_eq!((response.status(), response.reason()), (101, "Switching Protocols"));
/// assert_eq!(response.subprotocol(), Some("chat"));
/// assert_eq!(response.header_str("x-server"), Some("demo/1"));
/// assert_eq!(response.extensions().count(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code: 101 when the connection opened.
    status: u16,
    /// The reason phrase, e.g. `Switching Protocols` (informational only).
    reason: String,
    /// All headers, in the order received.
    headers: Headers,
}

impl Response {
    /// The status code: 101 when the connection opened.
    ///
    /// # Examples
    ///
    /// A refusal (any status but 101) is an error that carries the whole response:
    ///
    /// ```
    /// use wsproto::{ClientRequest, Config, Connection, Error, HandshakeError, Instant, Seed};
    ///
    /// let now = Instant::ZERO;
    /// let request = ClientRequest::new("example.com", "/");
    /// let mut client = Connection::client(Config::default(), request, Seed([7; 32]), now)?;
    /// # let mut server = Connection::server(Config::default(), now);
    /// # let mut input = client.transmit().to_vec();
    /// # server.recv(now, &mut input)?;
    /// # server.reject(401, &[("WWW-Authenticate", "Bearer")], b"")?;
    /// # let mut input = server.transmit().to_vec();
    /// // `input` holds the server's `401 Unauthorized`.
    /// let refused = client.recv(now, &mut input);
    /// let Err(Error::Handshake(HandshakeError::Rejected(response))) = refused else { panic!() };
    /// assert_eq!(response.status(), 401);
    /// // The challenge says how to authenticate on the next attempt.
    /// assert_eq!(response.header_str("WWW-Authenticate"), Some("Bearer"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase, e.g. `Switching Protocols` (informational only).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// All headers, in the order received.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The value of the first header called `name` (ASCII-case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name)
    }

    /// The value of the first header called `name`, if it is UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        find(&self.headers, name).and_then(|h: Header<'_>| h.value_str())
    }

    /// The subprotocol the server chose (`Sec-WebSocket-Protocol`), if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.header_str("Sec-WebSocket-Protocol")
            .map(|p| p.trim_matches([' ', '\t']))
    }

    /// The extensions the server accepted, each with its parameters, e.g.
    /// `permessage-deflate; server_no_context_takeover`.
    pub fn extensions(&self) -> impl Iterator<Item = &str> {
        list(&self.headers, "Sec-WebSocket-Extensions")
    }
}

/// Parses a response head: the bytes up to and including the blank line.
pub(crate) fn parse_response(head: &[u8], max_headers: usize) -> Result<Response, HandshakeError> {
    with_slots(max_headers, |slots| {
        let mut resp = httparse::Response::new(slots);
        whole_head(resp.parse(head))?;
        let (Some(minor_version), Some(status)) = (resp.version, resp.code) else {
            return Err(HandshakeError::Malformed("incomplete status line"));
        };
        // Only HTTP/1.1 can switch protocols; an older server's refusal (a 403 from a plain
        // HTTP/1.0 server) is still a refusal, reported with its status.
        if minor_version < 1 && status == 101 {
            return Err(HandshakeError::Malformed("HTTP version"));
        }
        Ok(Response {
            status,
            reason: resp.reason.unwrap_or_default().into(),
            headers: Headers::from_parsed(resp.headers),
        })
    })
}

/// Checks the server's answer against what we sent (RFC 6455 section 4.1, last list).
pub(crate) fn validate_response(
    resp: &Response,
    key: &str,
    offered_protocols: &[String],
    extension_offered: bool,
) -> Result<(), HandshakeError> {
    let headers = &resp.headers;
    if resp.status != 101 {
        return Err(HandshakeError::Rejected(Box::new(resp.clone())));
    }
    if !values(headers, "Upgrade").any(|v| header_has_token(v, "websocket")) {
        return Err(HandshakeError::BadHeader("Upgrade"));
    }
    if !values(headers, "Connection").any(|v| header_has_token(v, "upgrade")) {
        return Err(HandshakeError::BadHeader("Connection"));
    }
    if single(headers, "Sec-WebSocket-Accept").map(trim_ows)
        != Some(&accept_key_bytes(key.as_bytes())[..])
    {
        return Err(HandshakeError::BadAccept);
    }
    let mut protocols = values(headers, "Sec-WebSocket-Protocol");
    if let Some(chosen) = protocols.next() {
        let chosen = trim_ows(chosen);
        // One value, chosen among ours: anything else means the server speaks something we can't.
        if protocols.next().is_some() || !offered_protocols.iter().any(|p| p.as_bytes() == chosen) {
            return Err(HandshakeError::UnofferedSubprotocol);
        }
    }
    if !extension_offered && find(headers, "Sec-WebSocket-Extensions").is_some() {
        return Err(HandshakeError::UnofferedExtension);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    const RFC_ANSWER: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
        Sec-WebSocket-Protocol: chat\r\n\r\n";

    fn offered() -> Vec<String> {
        vec!["chat".to_string(), "superchat".to_string()]
    }

    /// The RFC answer with `from` replaced by `to`, validated as an answer to the RFC request.
    fn answer(from: &str, to: &str) -> Result<Response, HandshakeError> {
        let text = core::str::from_utf8(RFC_ANSWER).unwrap().replace(from, to);
        let resp = parse_response(text.as_bytes(), 64)?;
        validate_response(&resp, KEY, &offered(), false).map(|()| resp)
    }

    #[test]
    fn key_is_base64_of_the_nonce() {
        assert_eq!(new_key(*b"the sample nonce"), KEY);
    }

    #[test]
    fn request_bytes_are_exact() {
        let req = ClientRequest::new("server.example.com", "/chat")
            .origin("http://example.com")
            .subprotocol("chat")
            .subprotocol("superchat")
            .header("Authorization", "Bearer t");
        let mut out = Vec::new();
        write_request(&req, KEY, Some("permessage-deflate"), &mut out).unwrap();
        let expected = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
            Sec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n\
            Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\
            Authorization: Bearer t\r\n\r\n";
        assert_eq!(core::str::from_utf8(&out), Ok(expected));
    }

    #[test]
    fn request_refuses_what_cannot_be_written_safely() {
        let base = || ClientRequest::new("example.com", "/");
        let bad = [
            ClientRequest::new("", "/"),
            ClientRequest::new("a b", "/"),
            ClientRequest::new("example.com", "chat"),
            ClientRequest::new("example.com", "/a b"),
            ClientRequest::new("example.com", "/\r\nX: 1"),
            ClientRequest::new("example.com", "/#frag"),
            base().subprotocol("a,b"),
            base().subprotocol(""),
            base().origin("x\r\n"),
            base().header("Cookie", "a\nb"),
            base().header("Bad Name", "v"),
            base().header("sec-websocket-key", "x"),
        ];
        for req in bad {
            let mut out = Vec::new();
            assert_eq!(
                write_request(&req, KEY, None, &mut out),
                Err(SendError::InvalidHandshakeAnswer),
                "{req:?}"
            );
            assert!(out.is_empty());
        }
    }

    #[test]
    fn request_from_url() {
        let req = ClientRequest::from_url("wss://example.com:8443/chat?x=1").unwrap();
        assert_eq!(
            (req.host(), req.resource()),
            ("example.com:8443", "/chat?x=1")
        );
        let req = ClientRequest::from_url("ws://[::1]").unwrap();
        assert_eq!((req.host(), req.resource()), ("[::1]", "/"));
        assert_eq!(
            ClientRequest::from_url("http://example.com"),
            Err(UrlError::Scheme)
        );
    }

    #[test]
    fn rfc_answer_is_valid() {
        let resp = answer("", "").unwrap();
        assert_eq!(
            (resp.status, resp.reason.as_str()),
            (101, "Switching Protocols")
        );
        assert_eq!(resp.subprotocol(), Some("chat"));
        assert_eq!(resp.extensions().count(), 0);
    }

    #[test]
    fn non_101_is_rejected_with_its_headers_kept() {
        let head = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n";
        let resp = parse_response(head, 64).unwrap();
        let err = validate_response(&resp, KEY, &[], false).unwrap_err();
        assert_eq!(err.status(), 401);
        let HandshakeError::Rejected(kept) = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            kept.header_str("www-authenticate"),
            Some("Basic realm=\"x\"")
        );
        assert_eq!(kept.reason, "Unauthorized");
    }

    #[test]
    fn upgrade_and_connection_are_required() {
        assert_eq!(
            answer("Upgrade: websocket", "Upgrade: h2c"),
            Err(HandshakeError::BadHeader("Upgrade"))
        );
        assert_eq!(
            answer("Connection: Upgrade", "Connection: close"),
            Err(HandshakeError::BadHeader("Connection"))
        );
        assert!(answer("Upgrade: websocket", "UPGRADE: WebSocket").is_ok());
    }

    #[test]
    fn wrong_or_missing_accept_is_bad_accept() {
        let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
        assert_eq!(
            answer(accept, "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            Err(HandshakeError::BadAccept)
        );
        assert_eq!(
            answer("Sec-WebSocket-Accept", "X-Accept"),
            Err(HandshakeError::BadAccept)
        );
        let twice =
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
        assert_eq!(answer(accept, twice), Err(HandshakeError::BadAccept));
    }

    #[test]
    fn subprotocol_must_be_one_we_offered() {
        let unoffered = Err(HandshakeError::UnofferedSubprotocol);
        assert_eq!(answer("Protocol: chat", "Protocol: mqtt"), unoffered);
        assert_eq!(
            answer("Protocol: chat", "Protocol: chat, superchat"),
            unoffered
        );
        assert_eq!(
            answer(
                "Protocol: chat",
                "Protocol: chat\r\nSec-WebSocket-Protocol: chat"
            ),
            unoffered
        );
        assert!(answer("Protocol: chat", "Protocol: superchat").is_ok());
        assert!(answer("Sec-WebSocket-Protocol: chat\r\n", "").is_ok());
    }

    #[test]
    fn extension_we_did_not_offer_fails() {
        let with_ext = "Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate";
        assert_eq!(
            answer("Protocol: chat", with_ext),
            Err(HandshakeError::UnofferedExtension)
        );
        let text = core::str::from_utf8(RFC_ANSWER)
            .unwrap()
            .replace("Protocol: chat", with_ext);
        let resp = parse_response(text.as_bytes(), 64).unwrap();
        assert_eq!(validate_response(&resp, KEY, &offered(), true), Ok(()));
        assert_eq!(
            resp.extensions().collect::<Vec<_>>(),
            ["permessage-deflate"]
        );
    }

    #[test]
    fn http_1_0_refusal_is_a_rejection_with_its_status() {
        let head = b"HTTP/1.0 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
        let resp = parse_response(head, 64).unwrap();
        assert_eq!(resp.status(), 403);
        let err = validate_response(&resp, "dGhlIHNhbXBsZSBub25jZQ==", &[], false).unwrap_err();
        assert!(matches!(err, HandshakeError::Rejected(r) if r.status() == 403));
    }

    #[test]
    fn http_1_0_response_is_malformed() {
        let head = b"HTTP/1.0 101 Switching Protocols\r\n\r\n";
        assert_eq!(
            parse_response(head, 64),
            Err(HandshakeError::Malformed("HTTP version"))
        );
        assert_eq!(
            parse_response(RFC_ANSWER, 2),
            Err(HandshakeError::HeadersTooLarge)
        );
    }
}
