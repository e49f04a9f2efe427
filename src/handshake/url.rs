//! `ws://` and `wss://` URLs (RFC 6455 section 3).

use alloc::format;
use alloc::string::String;
use core::fmt;

/// A parsed WebSocket URL, made by [`parse_url`].
///
/// # Examples
///
/// An IPv6 host is bracketed where HTTP and socket addresses need it, and only there:
///
/// ```
/// use wsproto::handshake::parse_url;
///
/// let url = parse_url("ws://[::1]:9001/echo")?;
/// assert_eq!((url.host(), url.port(), url.resource()), ("::1", 9001, "/echo"));
/// assert_eq!(url.host_header(), "[::1]:9001");
/// // `authority` always has the port: it is what `TcpStream::connect` takes.
/// assert_eq!(url.authority(), "[::1]:9001");
/// assert!(!url.is_secure());
/// # Ok::<(), wsproto::handshake::UrlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// `wss://`: the connection runs over TLS.
    secure: bool,
    /// The host name or address; an IPv6 address without its brackets.
    host: String,
    /// The port, the scheme's default (80 or 443) when the URL names none.
    port: u16,
    /// The path and query to request, `/` when the URL has no path.
    resource: String,
}

impl WsUrl {
    /// Whether the scheme is `wss://`: the connection runs over TLS.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host name or address; an IPv6 address without its brackets (`::1`, not `[::1]`).
    /// See [`host_header`](WsUrl::host_header) and [`authority`](WsUrl::authority) for the
    /// bracketed forms.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port: the one the URL names, else the scheme's default (80 or 443).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path and query to request, e.g. `/chat?room=1`; `/` when the URL has no path.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The `Host` header: the host, bracketed if IPv6, with `:port` only when it is not the
    /// scheme's default (as browsers send it).
    pub fn host_header(&self) -> String {
        if self.port == default_port(self.secure) {
            self.bracketed_host()
        } else {
            self.authority()
        }
    }

    /// Where to connect: `host:port`, the host bracketed if IPv6.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.bracketed_host(), self.port)
    }

    fn bracketed_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

/// Why a string is not a usable WebSocket URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// The scheme is not `ws` or `wss`.
    Scheme,
    /// Nothing between `//` and the port or path.
    MissingHost,
    /// The port is not a number from 1 to 65535.
    BadPort,
    /// The URL has a `#fragment`, which RFC 6455 section 3 forbids.
    Fragment,
    /// The URL has `user:password@`, which a WebSocket request cannot carry.
    UserInfo,
    /// A space, control, non-ASCII or otherwise invalid character.
    InvalidCharacter,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::Scheme => "URL scheme must be ws:// or wss://",
            UrlError::MissingHost => "URL has no host; expected ws://host[:port][/path]",
            UrlError::BadPort => "URL port must be a number from 1 to 65535",
            UrlError::Fragment => "WebSocket URLs must not have a #fragment (RFC 6455 section 3)",
            UrlError::UserInfo => {
                "URL must not contain user:password@; send credentials in an Authorization header"
            }
            UrlError::InvalidCharacter => {
                "URL contains a space, control, non-ASCII or invalid character; percent-encode it"
            }
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for UrlError {}

fn default_port(secure: bool) -> u16 {
    if secure { 443 } else { 80 }
}

/// Parses a `ws://` or `wss://` URL, e.g. `wss://example.com/chat?room=1` or `ws://[::1]:9001`.
///
/// # Errors
/// See [`UrlError`].
///
/// # Examples
///
/// ```
/// use wsproto::handshake::{UrlError, parse_url};
///
/// let url = parse_url("wss://example.com/chat?room=1")?;
/// assert!(url.is_secure());
/// // No port in the URL: the scheme's, which the `Host` header then leaves out.
/// assert_eq!((url.port(), url.host_header()), (443, "example.com".to_string()));
/// assert_eq!(url.resource(), "/chat?room=1");
/// // RFC 6455 forbids fragments: a server would never see one.
/// assert_eq!(parse_url("ws://example.com/#top"), Err(UrlError::Fragment));
/// # Ok::<(), UrlError>(())
/// ```
pub fn parse_url(url: &str) -> Result<WsUrl, UrlError> {
    let (scheme, rest) = url.split_once("://").ok_or(UrlError::Scheme)?;
    let secure = match scheme {
        s if s.eq_ignore_ascii_case("ws") => false,
        s if s.eq_ignore_ascii_case("wss") => true,
        _ => return Err(UrlError::Scheme),
    };
    if !rest.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(UrlError::InvalidCharacter);
    }
    if rest.contains('#') {
        return Err(UrlError::Fragment);
    }
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, resource) = rest.split_at(split);
    if authority.contains('@') {
        return Err(UrlError::UserInfo);
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or(UrlError::InvalidCharacter)?;
        if !host
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(UrlError::InvalidCharacter);
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(UrlError::InvalidCharacter)?),
        };
        (host, port)
    } else {
        let (host, port) = authority
            .split_once(':')
            .map_or((authority, None), |(h, p)| (h, Some(p)));
        // RFC 3986 reg-name: unreserved, percent-encoded and sub-delims characters.
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b))
        {
            return Err(UrlError::InvalidCharacter);
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    let port = match port {
        // RFC 3986 allows an empty port, meaning the default.
        None | Some("") => default_port(secure),
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => p
            .parse()
            .ok()
            .filter(|&p| p != 0)
            .ok_or(UrlError::BadPort)?,
        Some(_) => return Err(UrlError::BadPort),
    };
    let resource = match resource {
        "" => "/".into(),
        query if query.starts_with('?') => format!("/{query}"),
        path => path.into(),
    };
    Ok(WsUrl {
        secure,
        host: host.into(),
        port,
        resource,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(secure: bool, host: &str, port: u16, resource: &str) -> Result<WsUrl, UrlError> {
        Ok(WsUrl {
            secure,
            host: host.into(),
            port,
            resource: resource.into(),
        })
    }

    #[test]
    fn default_ports_and_root_resource() {
        assert_eq!(
            parse_url("ws://example.com"),
            url(false, "example.com", 80, "/")
        );
        assert_eq!(
            parse_url("wss://example.com/chat?room=1"),
            url(true, "example.com", 443, "/chat?room=1")
        );
        assert_eq!(
            parse_url("ws://example.com?x"),
            url(false, "example.com", 80, "/?x")
        );
        assert_eq!(
            parse_url("ws://example.com:/"),
            url(false, "example.com", 80, "/")
        );
    }

    #[test]
    fn explicit_port_and_host_header() {
        let u = parse_url("ws://example.com:9001/x").unwrap();
        assert_eq!(
            (u.port(), u.host_header(), u.authority()),
            (9001, "example.com:9001".into(), "example.com:9001".into())
        );
        let u = parse_url("wss://example.com:443").unwrap();
        assert_eq!(
            (u.host_header(), u.authority()),
            ("example.com".into(), "example.com:443".into())
        );
    }

    #[test]
    fn ipv6_hosts_are_bracketed_in_headers_only() {
        let u = parse_url("ws://[::1]:9001/").unwrap();
        assert_eq!((u.host(), u.port()), ("::1", 9001));
        assert_eq!(
            (u.host_header(), u.authority()),
            ("[::1]:9001".into(), "[::1]:9001".into())
        );
        assert_eq!(
            parse_url("wss://[2001:db8::1]").map(|u| u.host_header()),
            Ok("[2001:db8::1]".into())
        );
        assert_eq!(parse_url("ws://[::1"), Err(UrlError::InvalidCharacter));
        assert_eq!(parse_url("ws://[::1]x"), Err(UrlError::InvalidCharacter));
    }

    #[test]
    fn scheme_must_be_ws_or_wss_in_any_case() {
        assert_eq!(
            parse_url("WSS://Example.com").map(|u| u.is_secure()),
            Ok(true)
        );
        assert_eq!(parse_url("Ws://a").map(|u| u.port()), Ok(80));
        assert_eq!(parse_url("http://example.com"), Err(UrlError::Scheme));
        assert_eq!(parse_url("example.com"), Err(UrlError::Scheme));
    }

    #[test]
    fn fragments_are_forbidden() {
        assert_eq!(parse_url("ws://example.com/#top"), Err(UrlError::Fragment));
    }

    #[test]
    fn port_must_be_1_to_65535() {
        for bad in [
            "ws://a:0",
            "ws://a:65536",
            "ws://a:+80",
            "ws://a:http",
            "ws://[::1]:x",
        ] {
            assert_eq!(parse_url(bad), Err(UrlError::BadPort), "{bad}");
        }
    }

    #[test]
    fn host_is_required() {
        for bad in ["ws://", "ws:///chat", "ws://:80/", "ws://[]:80"] {
            assert_eq!(parse_url(bad), Err(UrlError::MissingHost), "{bad}");
        }
    }

    #[test]
    fn userinfo_and_bad_characters_are_refused() {
        assert_eq!(
            parse_url("ws://user:pw@example.com"),
            Err(UrlError::UserInfo)
        );
        assert_eq!(
            parse_url("ws://example.com/a b"),
            Err(UrlError::InvalidCharacter)
        );
        assert_eq!(
            parse_url("ws://exämple.com"),
            Err(UrlError::InvalidCharacter)
        );
        assert_eq!(parse_url("ws://a\r\n/"), Err(UrlError::InvalidCharacter));
        assert_eq!(parse_url("ws://a\"b/"), Err(UrlError::InvalidCharacter));
    }
}
