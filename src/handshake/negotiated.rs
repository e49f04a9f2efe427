//! What a server's opening handshake agreed, for HTTP stacks that answer the upgrade themselves.

use alloc::string::String;

use super::Request;
use crate::config::Config;
#[cfg(feature = "deflate")]
use crate::deflate::{DeflateParams, negotiate};
use crate::error::SendError;

/// What the opening handshake agreed: the subprotocol and the permessage-deflate parameters.
///
/// The core's own [`Connection::accept`](crate::Connection::accept) negotiates internally. When
/// another HTTP stack (hyper, axum, an HTTP/2 server) answers the upgrade, build this with
/// [`Negotiated::server`] from the client's [`Request`], put
/// [`extensions_header`](Negotiated::extensions_header) and the subprotocol in the response, and
/// start the connection with [`Connection::upgraded_negotiated`](crate::Connection::upgraded_negotiated)
/// (or an adapter's `upgraded_negotiated`). The crate's `http` feature does all of this for
/// `http::Request`s.
///
/// ```
/// use wsproto::handshake::Negotiated;
/// use wsproto::{Config, Connection, Instant, Role, Seed};
///
/// # let now = Instant::ZERO;
/// # let request = wsproto::ClientRequest::new("example.com", "/").subprotocol("chat");
/// # let client = Connection::client(Config::default().deflate(wsproto::DeflateConfig::default()), request, Seed([7; 32]), now)?;
/// # let mut server = Connection::server(Config::default(), now);
/// # let mut input = client.transmit().to_vec();
/// # let Some(wsproto::Event::Request(request)) = server.recv(now, &mut input)?.event else { unreachable!() };
/// // `request` came from the client; the subprotocol must be one it offered.
/// let config = Config::default().deflate(wsproto::DeflateConfig::default());
/// let agreed = Negotiated::server(&request, &config, Some("chat"))?;
/// assert_eq!(agreed.subprotocol(), Some("chat"));
/// // Browsers offer permessage-deflate; the answer goes into `Sec-WebSocket-Extensions`.
/// assert!(agreed.extensions_header().unwrap().starts_with("permessage-deflate"));
/// let conn = Connection::upgraded_negotiated(Role::Server, config, Seed([0; 32]), now, agreed);
/// assert_eq!(conn.subprotocol(), Some("chat"));
/// assert!(conn.deflate_params().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Negotiated {
    subprotocol: Option<String>,
    /// The agreed parameters and the response's `Sec-WebSocket-Extensions` element.
    #[cfg(feature = "deflate")]
    deflate: Option<(DeflateParams, String)>,
}

impl Negotiated {
    /// Nothing agreed: no subprotocol, no extension.
    pub fn new() -> Negotiated {
        Negotiated::default()
    }

    /// A server's answer to `request` under `config`: `subprotocol` (which the client must have
    /// offered), and permessage-deflate when [`Config::deflate`] is set and the client offered
    /// it, with the parameters [`Connection::accept`](crate::Connection::accept) would choose.
    ///
    /// # Errors
    /// [`SendError::InvalidHandshakeAnswer`] if the client did not offer `subprotocol`.
    pub fn server(
        request: &Request,
        config: &Config,
        subprotocol: Option<&str>,
    ) -> Result<Negotiated, SendError> {
        if let Some(chosen) = subprotocol
            && !request.subprotocols().any(|offered| offered == chosen)
        {
            return Err(SendError::InvalidHandshakeAnswer);
        }
        #[cfg(not(feature = "deflate"))]
        let _ = config;
        Ok(Negotiated {
            subprotocol: subprotocol.map(String::from),
            #[cfg(feature = "deflate")]
            deflate: server_deflate(config, request),
        })
    }

    /// The subprotocol agreed, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The permessage-deflate parameters agreed, if compression was.
    #[cfg(feature = "deflate")]
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate.as_ref().map(|(params, _)| *params)
    }

    /// The value of the response's `Sec-WebSocket-Extensions` header, if an extension was
    /// agreed (the header must then be sent: a client fails a connection whose frames use an
    /// extension it was not told about).
    pub fn extensions_header(&self) -> Option<&str> {
        #[cfg(feature = "deflate")]
        return self.deflate.as_ref().map(|(_, element)| element.as_str());
        #[cfg(not(feature = "deflate"))]
        None
    }

    pub(crate) fn into_parts(self) -> (Option<String>, NegotiatedDeflate) {
        #[cfg(feature = "deflate")]
        return (self.subprotocol, self.deflate.map(|(params, _)| params));
        #[cfg(not(feature = "deflate"))]
        (self.subprotocol, ())
    }
}

/// The deflate half of [`Negotiated::into_parts`]: nothing without the feature.
#[cfg(feature = "deflate")]
pub(crate) type NegotiatedDeflate = Option<DeflateParams>;
#[cfg(not(feature = "deflate"))]
pub(crate) type NegotiatedDeflate = ();

/// The server's permessage-deflate answer to `request`: the parameters and the response element.
#[cfg(feature = "deflate")]
pub(crate) fn server_deflate(
    config: &Config,
    request: &Request,
) -> Option<(DeflateParams, String)> {
    config
        .deflate
        .as_ref()
        .and_then(|cfg| negotiate::server_negotiate(cfg, request.extensions()))
}
