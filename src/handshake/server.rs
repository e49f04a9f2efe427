//! The server side: parse and check the client's request, write the 101 or a refusal.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{
    Header, Headers, accept_key_bytes, find, header_has_token, list, push_header, single, trim_ows,
    whole_head, with_slots,
};
use crate::error::{HandshakeError, SendError};

/// A client's opening-handshake request, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method and the target, back to back (one allocation).
    line: String,
    method_len: usize,
    minor_version: u8,
    headers: Headers,
}

impl Request {
    /// The method; always `GET` in a request the core reports.
    pub fn method(&self) -> &str {
        self.line.get(..self.method_len).unwrap_or_default()
    }

    /// The request-target as sent, e.g. `/chat?room=1`.
    pub fn target(&self) -> &str {
        self.line.get(self.method_len..).unwrap_or_default()
    }

    /// The target before any `?`, e.g. `/chat`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use wsproto::{ClientRequest, Config, Connection, Event, Instant, Seed};
    /// # let now = Instant::ZERO;
    /// # let request = ClientRequest::new("example.com", "/chat?room=1");
    /// # let client = Connection::client(Config::default(), request, Seed([7; 32]), now)?;
    /// # let mut server = Connection::server(Config::default(), now);
    /// # let mut input = client.transmit().to_vec();
    /// # let Some(Event::Request(request)) = server.recv(now, &mut input)?.event else { unreachable!() };
    /// // Route on the path: the query belongs to the endpoint.
    /// assert_eq!(request.path(), "/chat");
    /// assert_eq!(request.target(), "/chat?room=1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> &str {
        let target = self.target();
        target.split_once('?').map_or(target, |(path, _)| path)
    }

    /// The target after the first `?`, e.g. `room=1`; `None` without a `?`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use wsproto::{ClientRequest, Config, Connection, Event, Instant, Seed};
    /// # let now = Instant::ZERO;
    /// # let request = ClientRequest::new("example.com", "/chat?room=caf%C3%A9&lang=en");
    /// # let client = Connection::client(Config::default(), request, Seed([7; 32]), now)?;
    /// # let mut server = Connection::server(Config::default(), now);
    /// # let mut input = client.transmit().to_vec();
    /// # let Some(Event::Request(request)) = server.recv(now, &mut input)?.event else { unreachable!() };
    /// // As sent, still percent-encoded; `query_param` decodes one parameter.
    /// assert_eq!(request.query(), Some("room=caf%C3%A9&lang=en"));
    /// assert_eq!(request.query_param("room").as_deref(), Some("café"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn query(&self) -> Option<&str> {
        self.target().split_once('?').map(|(_, query)| query)
    }

    /// The value of the first query parameter called `name`, decoded as a browser's
    /// `URLSearchParams` encodes it (`%XX` escapes, `+` for a space); `Some("")` for a
    /// parameter without a value, `None` if it is absent or does not decode to UTF-8.
    ///
    /// ```
    /// # use wsproto::{Config, Connection, Event, Instant};
    /// let mut server = Connection::server(Config::default(), Instant::ZERO);
    /// let mut head = b"GET /chat?room=caf%C3%A9+du+coin&token=a%2Bb HTTP/1.1\r\nHost: x\r\n\
    ///     Upgrade: websocket\r\nConnection: Upgrade\r\n\
    ///     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec();
    /// let Some(Event::Request(request)) = server.recv(Instant::ZERO, &mut head)?.event else {
    ///     unreachable!("a whole request head")
    /// };
    /// assert_eq!(request.query_param("room").as_deref(), Some("café du coin"));
    /// assert_eq!(request.query_param("token").as_deref(), Some("a+b"));
    /// assert_eq!(request.query_param("missing"), None);
    /// # Ok::<(), wsproto::Error>(())
    /// ```
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query()?;
        let value = query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(key)? == name).then_some(value)
        })?;
        form_decode(value)
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
    ///
    /// # Examples
    ///
    /// ```
    /// # use wsproto::{ClientRequest, Config, Connection, Event, Instant, Seed};
    /// # let now = Instant::ZERO;
    /// # let request = ClientRequest::new("example.com", "/").header("Authorization", "Bearer s3cr3t");
    /// # let client = Connection::client(Config::default(), request, Seed([7; 32]), now)?;
    /// # let mut server = Connection::server(Config::default(), now);
    /// # let mut input = client.transmit().to_vec();
    /// # let Some(Event::Request(request)) = server.recv(now, &mut input)?.event else { unreachable!() };
    /// // Header names are case-insensitive, as in HTTP.
    /// let token = request.header_str("authorization").and_then(|v| v.strip_prefix("Bearer "));
    /// assert_eq!(token, Some("s3cr3t"));
    /// assert_eq!(request.header_str("Cookie"), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn header_str(&self, name: &str) -> Option<&str> {
        find(&self.headers, name).and_then(|h: Header<'_>| h.value_str())
    }

    /// The `Host` header: the authority the client asked for, possibly with `:port`.
    pub fn host(&self) -> Option<&str> {
        self.header_str("Host")
    }

    /// The `Origin` header, which browsers send. Check it against an allow-list to stop other
    /// sites' pages from connecting with the user's cookies (RFC 6455 section 10.2).
    ///
    /// # Examples
    ///
    /// ```
    /// # use wsproto::{ClientRequest, Config, Connection, Event, Instant, Seed};
    /// # let now = Instant::ZERO;
    /// # let request = ClientRequest::new("example.com", "/").origin("https://evil.example");
    /// # let client = Connection::client(Config::default(), request, Seed([7; 32]), now)?;
    /// # let mut server = Connection::server(Config::default(), now);
    /// # let mut input = client.transmit().to_vec();
    /// let recv = server.recv(now, &mut input)?;
    /// let Some(Event::Request(request)) = recv.event else { unreachable!() };
    ///
    /// const ALLOWED: &[&str] = &["https://example.com"];
    /// // A page on another site must not reach the user's session through their browser.
    /// if !request.origin().is_some_and(|origin| ALLOWED.contains(&origin)) {
    ///     server.reject(403, &[], b"")?;
    /// }
    /// assert!(server.transmit().starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn origin(&self) -> Option<&str> {
        self.header_str("Origin")
    }

    /// The `Sec-WebSocket-Key` header.
    pub fn key(&self) -> Option<&str> {
        self.header_str("Sec-WebSocket-Key")
    }

    /// The subprotocols the client offers, in its order of preference, from every
    /// `Sec-WebSocket-Protocol` header. Choose one with [`Accept::subprotocol`].
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::handshake::Accept;
    ///
    /// # use wsproto::{ClientRequest, Config, Connection, Event, Instant, Seed};
    /// # let now = Instant::ZERO;
    /// # let request = ClientRequest::new("example.com", "/").subprotocol("mqtt").subprotocol("chat");
    /// # let client = Connection::client(Config::default(), request, Seed([7; 32]), now)?;
    /// # let mut server = Connection::server(Config::default(), now);
    /// # let mut input = client.transmit().to_vec();
    /// let recv = server.recv(now, &mut input)?;
    /// let Some(Event::Request(request)) = recv.event else { unreachable!() };
    ///
    /// // The client lists its offers most preferred first: take the first one we speak.
    /// const SUPPORTED: &[&str] = &["chat.v2", "chat"];
    /// let chosen = request.subprotocols().find(|p| SUPPORTED.contains(p));
    /// assert_eq!(chosen, Some("chat"));
    /// let accept = chosen.map_or_else(Accept::new, |p| Accept::new().subprotocol(p));
    /// server.accept(now, &accept)?;
    /// assert_eq!(server.subprotocol(), Some("chat"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subprotocols(&self) -> impl Iterator<Item = &str> {
        list(&self.headers, "Sec-WebSocket-Protocol")
    }

    /// The extension offers from every `Sec-WebSocket-Extensions` header, each with its
    /// parameters, e.g. `permessage-deflate; client_max_window_bits`.
    pub fn extensions(&self) -> impl Iterator<Item = &str> {
        list(&self.headers, "Sec-WebSocket-Extensions")
    }
}

/// Parses a request head: the bytes up to and including the blank line.
/// A request that another HTTP stack parsed: `minor_version` 1 for HTTP/1.1 (and for HTTP/2,
/// whose checks are the `http` feature's own).
#[cfg(feature = "http")]
pub(crate) fn request_from_parts(
    method: &str,
    target: &str,
    minor_version: u8,
    headers: Headers,
) -> Request {
    let mut line = String::with_capacity(method.len() + target.len());
    line.push_str(method);
    line.push_str(target);
    Request {
        line,
        method_len: method.len(),
        minor_version,
        headers,
    }
}

pub(crate) fn parse_request(head: &[u8], max_headers: usize) -> Result<Request, HandshakeError> {
    with_slots(max_headers, |slots| {
        let mut req = httparse::Request::new(slots);
        whole_head(req.parse(head))?;
        let (Some(method), Some(target), Some(minor_version)) = (req.method, req.path, req.version)
        else {
            return Err(HandshakeError::Malformed("incomplete request line"));
        };
        let mut line = String::with_capacity(method.len() + target.len());
        line.push_str(method);
        line.push_str(target);
        Ok(Request {
            line,
            method_len: method.len(),
            minor_version,
            headers: Headers::from_parsed(req.headers),
        })
    })
}

/// Checks the request against RFC 6455 section 4.2.1, first failure first.
pub(crate) fn validate_request(req: &Request) -> Result<(), HandshakeError> {
    if req.method() != "GET" {
        return Err(HandshakeError::MethodNotAllowed);
    }
    if req.minor_version < 1 {
        return Err(HandshakeError::HttpVersion);
    }
    // Two Host headers could be read differently by a proxy and by us (RFC 7230 section 5.4).
    single(&req.headers, "Host").ok_or(HandshakeError::BadHeader("Host"))?;
    if !super::values(&req.headers, "Upgrade").any(|v| header_has_token(v, "websocket")) {
        return Err(HandshakeError::BadHeader("Upgrade"));
    }
    if !super::values(&req.headers, "Connection").any(|v| header_has_token(v, "upgrade")) {
        return Err(HandshakeError::BadHeader("Connection"));
    }
    if single(&req.headers, "Sec-WebSocket-Version").map(trim_ows) != Some(b"13") {
        return Err(HandshakeError::UnsupportedVersion);
    }
    // The key must decode to 16 bytes; decoded into a stack buffer (a longer key overflows it
    // and fails, as it should).
    let mut decoded = [0u8; 32];
    let key = single(&req.headers, "Sec-WebSocket-Key")
        .and_then(|k| STANDARD.decode_slice(trim_ows(k), &mut decoded).ok());
    if key != Some(16) {
        return Err(HandshakeError::BadHeader("Sec-WebSocket-Key"));
    }
    Ok(())
}

/// Decodes an `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte; a
/// `%` not followed by two hex digits stays as it is. `None` if the bytes are not UTF-8.
fn form_decode(component: &str) -> Option<String> {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |at: usize| bytes.get(at).and_then(|&h| (h as char).to_digit(16));
        match b {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(hi), Some(lo)) => {
                    // Two hex digits: at most 0xFF.
                    out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// How to accept a request: the chosen subprotocol and extra response headers.
///
/// Built with [`Accept::new`] and the builder methods [`subprotocol`](Accept::subprotocol) and
/// [`header`](Accept::header); read back with [`chosen_subprotocol`](Accept::chosen_subprotocol)
/// and [`headers`](Accept::headers).
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
/// let mut server = Connection::server(Config::default(), now);
/// # let mut input = client.transmit().to_vec();
/// # client.advance_transmit(input.len());
/// # server.recv(now, &mut input)?;
/// let accept = Accept::new().subprotocol("chat").header("Set-Cookie", "session=42");
/// server.accept(now, &accept)?;
/// # let mut input = server.transmit().to_vec();
/// // The 101 reaches the client.
/// let Some(Event::Connected(response)) = client.recv(now, &mut input)?.event else { panic!() };
/// assert_eq!(response.subprotocol(), Some("chat"));
/// assert_eq!(response.header_str("set-cookie"), Some("session=42"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accept {
    /// The subprotocol to speak; it must be one the client offered ([`Request::subprotocols`]).
    subprotocol: Option<String>,
    /// Extra headers for the 101 response, e.g. `Set-Cookie`. The headers the handshake itself
    /// needs are written by the core and may not be repeated here.
    headers: Vec<(String, String)>,
}

impl Accept {
    /// Accepts with no subprotocol and no extra headers.
    pub fn new() -> Self {
        Accept::default()
    }

    /// Chooses the subprotocol to speak; it must be one the client offered
    /// ([`Request::subprotocols`]). A second call replaces the first choice.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsproto::SendError;
    /// use wsproto::handshake::Accept;
    ///
    /// # use wsproto::{ClientRequest, Config, Connection, Event, Instant, Seed};
    /// # let now = Instant::ZERO;
    /// # let request = ClientRequest::new("example.com", "/").subprotocol("chat");
    /// # let client = Connection::client(Config::default(), request, Seed([7; 32]), now)?;
    /// # let mut server = Connection::server(Config::default(), now);
    /// # let mut input = client.transmit().to_vec();
    /// let recv = server.recv(now, &mut input)?;
    /// let Some(Event::Request(request)) = recv.event else { unreachable!() };
    /// assert_eq!(request.subprotocols().collect::<Vec<_>>(), ["chat"]);
    ///
    /// // A client cannot speak a protocol it did not offer: the answer is refused, not sent.
    /// let unoffered = server.accept(now, &Accept::new().subprotocol("mqtt"));
    /// assert_eq!(unoffered, Err(SendError::InvalidHandshakeAnswer));
    /// server.accept(now, &Accept::new().subprotocol("chat"))?;
    /// assert_eq!(server.subprotocol(), Some("chat"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocol = Some(protocol.into());
        self
    }

    /// Adds a header to the 101 response, e.g. `Set-Cookie`. The headers the handshake itself
    /// needs are written by the core and may not be repeated here.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The subprotocol chosen with [`subprotocol`](Accept::subprotocol), if any.
    pub fn chosen_subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The extra response headers added with [`header`](Accept::header), in the order added.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }
}

/// Headers the 101 response carries from the core; a caller's copy would contradict them.
const ACCEPT_RESERVED: &[&str] = &[
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
];

/// Headers that frame a refusal's body; a caller's copy could make the peer misread where it ends.
const REJECT_RESERVED: &[&str] = &["Content-Length", "Transfer-Encoding", "Connection"];

/// Appends the 101 response to `out`, or nothing if `accept` is invalid for `req`.
pub(crate) fn write_accept(
    req: &Request,
    accept: &Accept,
    extensions: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<(), SendError> {
    let key = req.key().ok_or(SendError::InvalidHandshakeAnswer)?;
    let offered = |chosen: &String| req.subprotocols().any(|p| p == chosen);
    let extra = accept.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    let valid = accept.subprotocol.as_ref().is_none_or(offered)
        && extensions.is_none_or(super::valid_header_value)
        && super::valid_extra_headers(extra, ACCEPT_RESERVED);
    if !valid {
        return Err(SendError::InvalidHandshakeAnswer);
    }
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
    );
    out.extend_from_slice(b"Sec-WebSocket-Accept: ");
    out.extend_from_slice(&accept_key_bytes(key.as_bytes()));
    out.extend_from_slice(b"\r\n");
    if let Some(protocol) = &accept.subprotocol {
        push_header(out, "Sec-WebSocket-Protocol", protocol);
    }
    if let Some(extensions) = extensions {
        push_header(out, "Sec-WebSocket-Extensions", extensions);
    }
    for (name, value) in &accept.headers {
        push_header(out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends a refusal (a final, non-101 response with `body`), or nothing if it is invalid.
pub(crate) fn write_reject(
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), SendError> {
    if !(200..=599).contains(&status)
        || !super::valid_extra_headers(headers.iter().copied(), REJECT_RESERVED)
    {
        return Err(SendError::InvalidHandshakeAnswer);
    }
    write_response(status, headers, body, out);
    Ok(())
}

/// Appends the server's own refusal of a request that failed [`validate_request`] or parsing.
pub(crate) fn write_error_response(err: &HandshakeError, out: &mut Vec<u8>) {
    // Client-side errors carry statuses a server cannot send; a server never has them to report.
    let status = match err.status() {
        status @ 400..=599 => status,
        _ => 400,
    };
    let mut headers = vec![("Content-Type", "text/plain; charset=utf-8")];
    match status {
        426 => headers.push(("Sec-WebSocket-Version", "13")),
        405 => headers.push(("Allow", "GET")),
        _ => {}
    }
    write_response(status, &headers, format!("{err}\n").as_bytes(), out);
}

fn write_response(status: u16, headers: &[(&str, &str)], body: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status)).as_bytes());
    for (name, value) in headers {
        push_header(out, name, value);
    }
    push_header(out, "Content-Length", &format!("{}", body.len()));
    // The connection is useless after a refusal; closing also frees us from parsing a next request.
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(body);
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => match status / 100 {
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            _ => "Server Error",
        },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_decode_keeps_bad_escapes_and_refuses_bad_utf8() {
        assert_eq!(form_decode("a%20b+c").as_deref(), Some("a b c"));
        assert_eq!(form_decode("100%").as_deref(), Some("100%"));
        assert_eq!(form_decode("%4").as_deref(), Some("%4"));
        assert_eq!(form_decode("%zz").as_deref(), Some("%zz"));
        assert_eq!(form_decode("%E4%B8%AD").as_deref(), Some("中"));
        assert_eq!(form_decode("%C3"), None, "a lone lead byte is not UTF-8");
        assert_eq!(form_decode("").as_deref(), Some(""));
    }

    use super::*;

    const RFC_SAMPLE: &[u8] = b"GET /chat HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    fn sample() -> Request {
        parse_request(RFC_SAMPLE, 64).unwrap()
    }

    /// The RFC sample with `from` replaced by `to` (an empty `to` drops the line).
    fn edited(from: &str, to: &str) -> Result<(), HandshakeError> {
        let text = core::str::from_utf8(RFC_SAMPLE).unwrap();
        let text = if to.is_empty() {
            text.replace(&format!("{from}\r\n"), "")
        } else {
            text.replace(from, to)
        };
        validate_request(&parse_request(text.as_bytes(), 64)?)
    }

    #[test]
    fn rfc_sample_request_is_valid() {
        assert_eq!(validate_request(&sample()), Ok(()));
    }

    #[test]
    fn method_must_be_get_405() {
        let err = edited("GET /chat", "POST /chat").unwrap_err();
        assert_eq!(
            (err.clone(), err.status()),
            (HandshakeError::MethodNotAllowed, 405)
        );
    }

    #[test]
    fn http_1_0_is_refused_400() {
        let err = edited("HTTP/1.1", "HTTP/1.0").unwrap_err();
        assert_eq!(
            (err.clone(), err.status()),
            (HandshakeError::HttpVersion, 400)
        );
    }

    #[test]
    fn host_must_appear_exactly_once() {
        assert_eq!(
            edited("Host: server.example.com", ""),
            Err(HandshakeError::BadHeader("Host"))
        );
        let twice = "Host: a\r\nHost: b";
        assert_eq!(
            edited("Host: server.example.com", twice),
            Err(HandshakeError::BadHeader("Host"))
        );
    }

    #[test]
    fn upgrade_must_name_websocket() {
        assert_eq!(
            edited("Upgrade: websocket", ""),
            Err(HandshakeError::BadHeader("Upgrade"))
        );
        assert_eq!(
            edited("Upgrade: websocket", "Upgrade: h2c"),
            Err(HandshakeError::BadHeader("Upgrade"))
        );
        assert_eq!(edited("Upgrade: websocket", "UPGRADE: WebSocket"), Ok(()));
    }

    #[test]
    fn connection_must_include_upgrade() {
        let err = edited("Connection: Upgrade", "Connection: keep-alive").unwrap_err();
        assert_eq!(
            (err.clone(), err.status()),
            (HandshakeError::BadHeader("Connection"), 400)
        );
        assert_eq!(
            edited("Connection: Upgrade", "Connection: keep-alive, Upgrade"),
            Ok(())
        );
    }

    #[test]
    fn version_other_than_13_is_426() {
        let err = edited("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8").unwrap_err();
        assert_eq!(
            (err.clone(), err.status()),
            (HandshakeError::UnsupportedVersion, 426)
        );
        assert_eq!(
            edited("Sec-WebSocket-Version: 13", ""),
            Err(HandshakeError::UnsupportedVersion)
        );
        let twice = "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13";
        assert_eq!(
            edited("Sec-WebSocket-Version: 13", twice),
            Err(HandshakeError::UnsupportedVersion)
        );
    }

    #[test]
    fn key_must_decode_to_16_bytes_400() {
        let bad = Err(HandshakeError::BadHeader("Sec-WebSocket-Key"));
        let fifteen = "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA"; // 15 bytes
        assert_eq!(
            edited("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", fifteen),
            bad
        );
        assert_eq!(
            edited("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", ""),
            bad
        );
        assert_eq!(edited("dGhlIHNhbXBsZSBub25jZQ==", "not base64!"), bad);
        let two = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";
        assert_eq!(
            edited("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", two),
            bad
        );
    }

    #[test]
    fn too_many_headers_is_431() {
        let err = parse_request(RFC_SAMPLE, 3).unwrap_err();
        assert_eq!(
            (err.clone(), err.status()),
            (HandshakeError::HeadersTooLarge, 431)
        );
    }

    #[test]
    fn malformed_heads_are_400() {
        for head in [
            &b"GET /chat HTTP/1.1\r\nHost: a\r\n"[..],
            b"GET /chat HTTP/1.1\r\nBad Name: a\r\n\r\n",
            b"\xff\r\n\r\n",
        ] {
            let err = parse_request(head, 64).unwrap_err();
            assert!(matches!(err, HandshakeError::Malformed(_)), "{err:?}");
            assert_eq!(err.status(), 400);
        }
    }

    #[test]
    fn request_accessors() {
        let head = b"GET /chat?room=1&x HTTP/1.1\r\nhost: example.com:8080\r\n\
            Sec-WebSocket-Protocol: chat, superchat\r\nsec-websocket-protocol: v2\r\n\
            Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x; list=\"a,b\"\r\n\
            X-Bin: \xff\r\n\r\n";
        let req = parse_request(head, 64).unwrap();
        assert_eq!(
            (req.method(), req.target(), req.path(), req.query()),
            ("GET", "/chat?room=1&x", "/chat", Some("room=1&x"))
        );
        assert_eq!(req.host(), Some("example.com:8080"));
        assert_eq!((req.origin(), req.key()), (None, None));
        assert_eq!(
            req.subprotocols().collect::<Vec<_>>(),
            ["chat", "superchat", "v2"]
        );
        let offers: Vec<_> = req.extensions().collect();
        assert_eq!(
            offers,
            [
                "permessage-deflate; client_max_window_bits",
                "x; list=\"a,b\""
            ]
        );
        assert_eq!(req.header("x-bin"), Some(&b"\xff"[..]));
        assert_eq!(req.header_str("X-Bin"), None);
        assert_eq!(req.headers().len(), 5);
        assert_eq!(sample().query(), None);
        assert_eq!(sample().origin(), Some("http://example.com"));
    }

    #[test]
    fn accept_of_rfc_sample_is_exact() {
        let mut out = Vec::new();
        write_accept(
            &sample(),
            &Accept::new().subprotocol("chat"),
            None,
            &mut out,
        )
        .unwrap();
        let expected = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
            Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n";
        assert_eq!(core::str::from_utf8(&out), Ok(expected));
    }

    #[test]
    fn accept_writes_extensions_and_extra_headers() {
        let mut out = Vec::new();
        let accept = Accept::new().header("Set-Cookie", "id=1");
        write_accept(&sample(), &accept, Some("permessage-deflate"), &mut out).unwrap();
        let text = core::str::from_utf8(&out).unwrap();
        assert!(
            text.ends_with(
                "=\r\nSec-WebSocket-Extensions: permessage-deflate\r\nSet-Cookie: id=1\r\n\r\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn accept_refuses_unoffered_subprotocol_and_injection() {
        let refused = Err(SendError::InvalidHandshakeAnswer);
        let mut out = b"kept".to_vec();
        assert_eq!(
            write_accept(
                &sample(),
                &Accept::new().subprotocol("mqtt"),
                None,
                &mut out
            ),
            refused
        );
        let injected = Accept::new().header("X", "1\r\nSet-Cookie: evil=1");
        assert_eq!(write_accept(&sample(), &injected, None, &mut out), refused);
        let duplicate = Accept::new().header("sec-websocket-protocol", "mqtt");
        assert_eq!(write_accept(&sample(), &duplicate, None, &mut out), refused);
        let keyless = parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 8).unwrap();
        assert_eq!(
            write_accept(&keyless, &Accept::new(), None, &mut out),
            refused
        );
        assert_eq!(out, b"kept");
    }

    #[test]
    fn reject_401_with_body() {
        let mut out = Vec::new();
        write_reject(
            401,
            &[("WWW-Authenticate", "Bearer")],
            b"login first",
            &mut out,
        )
        .unwrap();
        let expected = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\n\
            Content-Length: 11\r\nConnection: close\r\n\r\nlogin first";
        assert_eq!(core::str::from_utf8(&out), Ok(expected));
    }

    #[test]
    fn reject_refuses_bad_status_and_headers() {
        let mut out = Vec::new();
        for status in [101, 199, 600, 0] {
            assert_eq!(
                write_reject(status, &[], b"", &mut out),
                Err(SendError::InvalidHandshakeAnswer)
            );
        }
        assert_eq!(
            write_reject(400, &[("X", "a\nb")], b"", &mut out),
            Err(SendError::InvalidHandshakeAnswer)
        );
        assert_eq!(
            write_reject(400, &[("Content-Length", "0")], b"", &mut out),
            Err(SendError::InvalidHandshakeAnswer)
        );
        assert!(out.is_empty());
        write_reject(418, &[], b"", &mut out).unwrap();
        assert!(out.starts_with(b"HTTP/1.1 418 Client Error\r\n"));
    }

    #[test]
    fn error_response_426_names_version_13() {
        let mut out = Vec::new();
        write_error_response(&HandshakeError::UnsupportedVersion, &mut out);
        let expected = "HTTP/1.1 426 Upgrade Required\r\nContent-Type: text/plain; charset=utf-8\r\n\
            Sec-WebSocket-Version: 13\r\nContent-Length: 32\r\nConnection: close\r\n\r\n\
            Sec-WebSocket-Version is not 13\n";
        assert_eq!(core::str::from_utf8(&out), Ok(expected));
    }

    #[test]
    fn error_response_405_allows_get() {
        let mut out = Vec::new();
        write_error_response(&HandshakeError::MethodNotAllowed, &mut out);
        let text = core::str::from_utf8(&out).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n")
                && text.contains("\r\nAllow: GET\r\n"),
            "{text}"
        );
    }
}
