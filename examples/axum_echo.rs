//! An axum echo server on `wsproto::axum`: the WebSocket at `/` echoes text and binary, with
//! permessage-deflate when the client offers it. The Autobahn server-role target for axum.
//!
//! `cargo run --release --features axum --example axum_echo -- [ADDR]` (default
//! `127.0.0.1:9002`), then e.g. `cargo run --features tokio --example client --
//! ws://127.0.0.1:9002/`.

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use tokio::net::TcpListener;
use wsproto::axum::{Message, WebSocket, WebSocketUpgrade};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1);
    let listener = TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:9002")).await?;
    eprintln!("axum_echo listening on ws://{}/", listener.local_addr()?);
    serve(listener).await
}

/// Serves the echo on `listener` until an accept fails.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    axum::serve(listener, app()).await
}

/// The router: the echo WebSocket at `/`.
pub fn app() -> Router {
    // Autobahn sends messages of up to 16 MiB (9.x); the default limit is 64 MiB.
    Router::new().route("/", get(upgrade))
}

async fn upgrade(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(echo)
}

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        if matches!(message, Message::Text(_) | Message::Binary(_))
            && socket.send(message).await.is_err()
        {
            return;
        }
    }
}
