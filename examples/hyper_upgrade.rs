//! hyper 1.x answers the WebSocket upgrade; wsproto runs the frames on the upgraded I/O.
//!
//! `cargo run --features tokio --example hyper_upgrade -- [ADDR]` (default `127.0.0.1:9003`),
//! then connect a WebSocket client, e.g. `cargo run --features tokio --example client --
//! ws://127.0.0.1:9003/`. Plain HTTP requests get a short text answer.
//!
//! hyper parses the request and sends the `101 Switching Protocols` itself, with the
//! `Sec-WebSocket-Accept` from [`wsproto::handshake::accept_key`]. Once hyper hands over the
//! connection, [`WebSocketStream::upgraded`] runs an echo server on it.

use std::convert::Infallible;
use std::io;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::Upgraded;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use wsproto::handshake::accept_key;
use wsproto::io::WsError;
use wsproto::io::tokio::WebSocketStream;
use wsproto::{Config, Role};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9003".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!(
        "hyper_upgrade listening on ws://{}/",
        listener.local_addr()?
    );
    serve(listener).await
}

/// Serves HTTP/1.1 connections from `listener` with upgrades enabled.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        let (tcp, _) = listener.accept().await?;
        tokio::spawn(async move {
            let service = service_fn(handle);
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            if let Err(e) = connection.await {
                eprintln!("http error: {e}");
            }
        });
    }
}

/// Whether a comma-separated header of `name` lists `token` (ASCII case-insensitive).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}

async fn handle(mut request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let headers = request.headers();
    let is_upgrade = request.method() == hyper::Method::GET
        && has_token(headers, header::UPGRADE, "websocket")
        && has_token(headers, header::CONNECTION, "upgrade");
    if !is_upgrade {
        return Ok(text(StatusCode::OK, "this server speaks WebSocket\n"));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        let mut response = text(StatusCode::UPGRADE_REQUIRED, "WebSocket version 13 only\n");
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return Ok(response);
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Ok(text(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key\n"));
    };
    let accept = accept_key(key.as_bytes());

    // hyper completes the upgrade after it has sent the 101 below.
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                if let Err(e) = echo(upgraded).await {
                    eprintln!("websocket: {e}");
                }
            }
            Err(e) => eprintln!("upgrade failed: {e}"),
        }
    });

    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    // A base64 string is always a valid header value.
    if let Ok(value) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    Ok(response)
}

/// Echoes text and binary messages on the connection hyper upgraded, until the clean end.
async fn echo(upgraded: Upgraded) -> Result<(), WsError> {
    let io = TokioIo::new(upgraded);
    let mut ws = WebSocketStream::upgraded(io, Role::Server, Config::default())?;
    while let Some(message) = ws.recv().await? {
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}
