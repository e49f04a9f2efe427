//! A chat page and its WebSocket over HTTPS, on HTTP/2 (RFC 8441) and HTTP/1.1 alike: hyper
//! serves the connection, [`wsproto::http`] answers the WebSocket request of either version, and
//! [`WebSocketStream::upgraded_negotiated`] runs the frames, compressed with permessage-deflate
//! when the browser offers it.
//!
//! ```text
//! cargo run --features http,tokio --example h2_chat -- [ADDR] [CERT.pem KEY.pem]
//! ```
//!
//! `ADDR` defaults to `127.0.0.1:8443`. Without `CERT.pem KEY.pem` (a certificate chain and its
//! private key, PEM) it makes a self-signed certificate for `localhost` and `127.0.0.1` at
//! start, so a browser has to be told to accept it (or started with
//! `--ignore-certificate-errors`). Open `https://127.0.0.1:8443/`: the page shows which HTTP
//! version it was loaded over and the extensions its WebSocket (`/ws`) agreed; the server logs,
//! for each WebSocket, the HTTP version it came over. Every message is sent to everyone
//! connected.
//!
//! # WebSockets over HTTP/2
//!
//! A browser opens a WebSocket as a stream of an HTTP/2 connection it already has (an extended
//! CONNECT with `:protocol: websocket`, answered with 200) only when the server allows it, so
//! three things turn it on:
//!
//! 1. TLS with ALPN offering `h2` (and `http/1.1` for the rest), so the page itself comes over
//!    HTTP/2;
//! 2. hyper's `http2().enable_connect_protocol()`, which sends `SETTINGS_ENABLE_CONNECT_PROTOCOL`
//!    (RFC 8441 section 3); without it the browser falls back to an HTTP/1.1 connection;
//! 3. a handler that takes the extended CONNECT: hyper reports `:protocol` as the
//!    `hyper::ext::Protocol` request extension, which goes to
//!    [`UpgradeRequest::from_request_with_protocol`]; its
//!    [`accept`](UpgradeRequest::accept) gives the 200 (101 with `Sec-WebSocket-Accept` over
//!    HTTP/1.1), and `hyper::upgrade::on` the stream once the response is sent.

use std::convert::Infallible;
use std::error::Error;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::upgrade::Upgraded;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{ServerConfig, crypto::ring::default_provider};
use wsproto::http::UpgradeRequest;
use wsproto::io::tokio::WebSocketStream;
use wsproto::io::{Message, WsError};
use wsproto::{Config, DeflateConfig, Role};

/// A certificate chain and its private key.
pub type Certified = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The WebSocket's stream: hyper's upgraded HTTP/1.1 connection or HTTP/2 stream.
type Socket = WebSocketStream<TokioIo<Upgraded>>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (addr, files) = match args.as_slice() {
        [] => ("127.0.0.1:8443", None),
        [addr] => (addr.as_str(), None),
        [cert, key] => ("127.0.0.1:8443", Some((cert, key))),
        [addr, cert, key] => (addr.as_str(), Some((cert, key))),
        _ => {
            eprintln!("usage: h2_chat [ADDR] [CERT.pem KEY.pem]");
            std::process::exit(2);
        }
    };
    let certified = match files {
        Some((cert, key)) => load(cert, key)?,
        None => {
            eprintln!("self-signed certificate for localhost and 127.0.0.1");
            self_signed()?
        }
    };
    let tls = tls_config(certified)?;
    let listener = TcpListener::bind(addr).await?;
    eprintln!("h2_chat listening on https://{}/", listener.local_addr()?);
    serve(listener, Arc::new(tls)).await?;
    Ok(())
}

/// The certificate chain and key in two PEM files.
fn load(cert: &str, key: &str) -> Result<Certified, Box<dyn Error>> {
    let certs = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    Ok((certs, PrivateKeyDer::from_pem_file(key)?))
}

/// A fresh self-signed certificate for `localhost` and `127.0.0.1`.
pub fn self_signed() -> Result<Certified, rcgen::Error> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    Ok((vec![certified.cert.der().clone()], key.into()))
}

/// The TLS server config: the certificate, and ALPN offering `h2` first, then `http/1.1`.
pub fn tls_config((certs, key): Certified) -> Result<ServerConfig, Box<dyn Error>> {
    let mut tls = ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tls)
}

/// Serves HTTPS connections from `listener`: HTTP/2 with extended CONNECT enabled, or HTTP/1.1
/// with upgrades, whichever the client speaks. Every WebSocket joins the same chat.
pub async fn serve(listener: TcpListener, tls: Arc<ServerConfig>) -> io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let (hub, _) = broadcast::channel::<Message>(64);
    loop {
        let (tcp, peer) = listener.accept().await?;
        let acceptor = acceptor.clone();
        let hub = hub.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(e) => return eprintln!("{peer}: TLS: {e}"),
            };
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // SETTINGS_ENABLE_CONNECT_PROTOCOL: lets the client open WebSockets on the connection.
            builder.http2().enable_connect_protocol();
            let service = service_fn(move |request| handle(request, peer, hub.clone()));
            if let Err(e) = builder
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await
            {
                eprintln!("{peer}: HTTP: {e}");
            }
        });
    }
}

type Body = Full<Bytes>;

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

async fn handle(
    request: Request<Incoming>,
    peer: SocketAddr,
    hub: broadcast::Sender<Message>,
) -> Result<Response<Body>, Infallible> {
    // Every CONNECT goes to the WebSocket handler, which refuses those that are not WebSockets
    // (a plain CONNECT has no path).
    if request.method() == Method::CONNECT || request.uri().path() == "/ws" {
        return Ok(websocket(request, peer, hub));
    }
    Ok(match (request.method(), request.uri().path()) {
        (&Method::GET, "/") => {
            let mut response = Response::new(Full::new(Bytes::from_static(PAGE.as_bytes())));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
        }
        (_, "/") => text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n"),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    })
}

/// Answers a WebSocket request of either HTTP version with `wsproto::http`, and runs the chat
/// on the stream hyper hands over once the answer is sent.
fn websocket(
    mut request: Request<Incoming>,
    peer: SocketAddr,
    hub: broadcast::Sender<Message>,
) -> Response<Body> {
    let protocol = request
        .extensions()
        .get::<hyper::ext::Protocol>()
        .map(|p| p.as_str());
    let upgrade = match UpgradeRequest::from_request_with_protocol(&request, protocol) {
        Ok(upgrade) => upgrade,
        Err(refused) => {
            eprintln!("{peer}: {refused}");
            return refused.response().map(|body| Full::new(Bytes::from(body)));
        }
    };
    let config = Config::default().deflate(DeflateConfig::default());
    let (response, negotiated) = match upgrade.accept(&config, None) {
        Ok(accepted) => accepted,
        Err(e) => {
            eprintln!("{peer}: cannot accept: {e}");
            return text(StatusCode::INTERNAL_SERVER_ERROR, "cannot accept\n");
        }
    };
    let version = if upgrade.is_http2() {
        "HTTP/2"
    } else {
        "HTTP/1.1"
    };
    // hyper completes the upgrade (the HTTP/1.1 connection, or the HTTP/2 stream) after it has
    // sent the response below.
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                eprintln!(
                    "{peer}: WebSocket over {version}, extensions: {}",
                    negotiated.extensions_header().unwrap_or("none")
                );
                let io = TokioIo::new(upgraded);
                let result =
                    WebSocketStream::upgraded_negotiated(io, Role::Server, config, negotiated);
                match result {
                    Ok(ws) => match chat(ws, hub).await {
                        Ok(()) => eprintln!("{peer}: WebSocket over {version} closed"),
                        Err(e) => eprintln!("{peer}: WebSocket over {version}: {e}"),
                    },
                    Err(e) => eprintln!("{peer}: {e}"),
                }
            }
            Err(e) => eprintln!("{peer}: upgrade failed: {e}"),
        }
    });
    response.map(|()| Full::new(Bytes::new()))
}

/// Sends every text message this socket receives to every socket (this one too), until the
/// clean end. `recv` is cancel safe, so it can lose the `select!` without losing data.
async fn chat(mut ws: Socket, hub: broadcast::Sender<Message>) -> Result<(), WsError> {
    let mut inbox = hub.subscribe();
    loop {
        tokio::select! {
            message = ws.recv() => match message? {
                Some(message) if message.is_text() => {
                    // No receiver is impossible: this socket's own inbox is one.
                    let _ = hub.send(message);
                }
                Some(_) => {}
                None => return Ok(()),
            },
            out = inbox.recv() => match out {
                Ok(message) => ws.send(message).await?,
                // Too slow to keep up: the missed messages are skipped.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
        }
    }
}

/// The chat page: a name, a text box and the messages, all shown with `textContent`.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>wsproto chat over HTTP/2</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40em; margin: 2em auto; padding: 0 1em; }
  #info { color: #555; font-size: 0.9em; }
  #log { list-style: none; padding: 0; border: 1px solid #ccc; min-height: 10em; }
  #log li { padding: 0.3em 0.6em; border-bottom: 1px solid #eee; }
  #log .name { font-weight: bold; margin-right: 0.5em; }
  form { display: flex; gap: 0.5em; margin-top: 1em; }
  #text { flex: 1; }
</style>
</head>
<body>
<h1>wsproto chat</h1>
<p id="info">page over <span id="proto">?</span>; WebSocket <span id="status">connecting</span>;
extensions: <span id="ext">none</span></p>
<ul id="log"></ul>
<form id="form">
  <input id="name" placeholder="name" value="guest" size="10" maxlength="32">
  <input id="text" placeholder="message" autocomplete="off" maxlength="2000">
  <button>Send</button>
</form>
<script>
"use strict";
const nav = performance.getEntriesByType("navigation")[0];
document.getElementById("proto").textContent = (nav && nav.nextHopProtocol) || "unknown";
const log = document.getElementById("log");
function show(name, text) {
  const li = document.createElement("li");
  const who = document.createElement("span");
  who.className = "name";
  who.textContent = name;
  const what = document.createElement("span");
  what.className = "text";
  what.textContent = text;
  li.append(who, what);
  log.append(li);
}
const ws = new WebSocket(`wss://${location.host}/ws`);
ws.onopen = () => {
  document.getElementById("status").textContent = "connected";
  document.getElementById("ext").textContent = ws.extensions || "none";
};
ws.onclose = (e) => {
  document.getElementById("status").textContent = `closed (${e.code})`;
};
ws.onmessage = (e) => {
  let message;
  try {
    message = JSON.parse(e.data);
  } catch {
    return;
  }
  if (typeof message.name === "string" && typeof message.text === "string") {
    show(message.name, message.text);
  }
};
document.getElementById("form").onsubmit = (e) => {
  e.preventDefault();
  const text = document.getElementById("text");
  if (!text.value || ws.readyState !== WebSocket.OPEN) return;
  const name = document.getElementById("name").value || "guest";
  ws.send(JSON.stringify({ name, text: text.value }));
  text.value = "";
};
</script>
</body>
</html>
"#;
