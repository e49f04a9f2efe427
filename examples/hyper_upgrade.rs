//! hyper 1.x serves HTTP; `wsproto::http` answers its WebSocket upgrades, with permessage-deflate.
//!
//! `cargo run --features http,tokio --example hyper_upgrade -- [ADDR]` (default
//! `127.0.0.1:9003`), then connect a WebSocket client, e.g. `cargo run --features tokio
//! --example client -- ws://127.0.0.1:9003/`. Plain HTTP requests get a short text answer.
//!
//! [`UpgradeRequest`] checks the request and negotiates the subprotocol and compression; hyper
//! sends the response it returns and hands over the connection, where
//! [`WebSocketStream::upgraded_negotiated`] runs an echo with what was agreed.

use std::convert::Infallible;
use std::io;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use wsproto::http::UpgradeRequest;
use wsproto::io::tokio::WebSocketStream;
use wsproto::{Config, DeflateConfig, Role};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1);
    let listener = TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:9003")).await?;
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
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service_fn(handle))
                .with_upgrades();
            if let Err(e) = connection.await {
                eprintln!("http error: {e}");
            }
        });
    }
}

async fn handle(mut request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if !UpgradeRequest::is_websocket(&request, None) {
        return Ok(Response::new(Full::from("this server speaks WebSocket\n")));
    }
    // 400, 405 or 426 (with `Sec-WebSocket-Version: 13`) for a bad upgrade.
    let upgrade = match UpgradeRequest::from_request(&request) {
        Ok(upgrade) => upgrade,
        Err(refused) => return Ok(refused.response().map(Full::from)),
    };
    let config = Config::default().deflate(DeflateConfig::default());
    // No subprotocol: `upgrade.protocols()` lists the client's offers to choose from.
    let (response, negotiated) = match upgrade.accept(&config, None) {
        Ok(answer) => answer,
        Err(e) => return Ok(Response::new(Full::from(format!("cannot accept: {e}\n")))),
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let echo = async {
            let io = TokioIo::new(on_upgrade.await?);
            let mut ws =
                WebSocketStream::upgraded_negotiated(io, Role::Server, config, negotiated)?;
            while let Some(message) = ws.recv().await? {
                if message.is_text() || message.is_binary() {
                    ws.send(message).await?;
                }
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        };
        if let Err(e) = echo.await {
            eprintln!("websocket: {e}");
        }
    });
    Ok(response.map(|()| Full::default()))
}
