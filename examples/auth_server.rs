//! A tokio server that authenticates before it accepts: `incoming` reads the opening request,
//! an async lookup decides, then the server accepts (with the `chat` subprotocol if the client
//! offers it) or rejects with `401 Unauthorized`.
//!
//! `cargo run --features tokio --example auth_server -- [ADDR]` (default `127.0.0.1:9004`).
//!
//! A client shows a token in the query, `ws://127.0.0.1:9004/?token=alice-secret` (browsers
//! cannot set headers on a WebSocket), or in an `Authorization: Bearer alice-secret` header.
//! The demo tokens are `alice-secret` and `bob-secret`. Without a known token the answer is
//! `401` with `WWW-Authenticate: Bearer` and a one-line body. Once accepted, each text message
//! comes back prefixed with the user's name; binary messages are echoed unchanged.
//!
//! Try:
//!
//! ```text
//! cargo run --features tokio --example auth_server &
//! echo 'hi 👋' | cargo run --example blocking_client -- 'ws://127.0.0.1:9004/?token=alice-secret' chat
//! echo 'hi' | cargo run --example blocking_client -- ws://127.0.0.1:9004/    # refused: 401
//! curl -i -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
//!     -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' http://127.0.0.1:9004/
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use wsproto::handshake::Accept;
use wsproto::io::tokio::WebSocketStream;
use wsproto::io::{Message, Reject, WsError};
use wsproto::{Config, Request};

/// Stands in for a user database or a token service: the lookup is async, as a real one is.
struct Users {
    by_token: HashMap<&'static str, &'static str>,
}

impl Users {
    /// The user a token belongs to.
    async fn lookup(&self, token: &str) -> Option<&'static str> {
        // A round trip to the database.
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.by_token.get(token).copied()
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9004".to_owned());
    let users = Arc::new(Users {
        by_token: HashMap::from([("alice-secret", "alice"), ("bob-secret", "bob")]),
    });
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("auth_server listening on ws://{}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        let users = Arc::clone(&users);
        tokio::spawn(async move {
            if let Err(e) = serve(stream, peer, &users).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

async fn serve(stream: TcpStream, peer: SocketAddr, users: &Users) -> Result<(), WsError> {
    let incoming = WebSocketStream::incoming(stream, Config::default()).await?;
    // The opening-handshake timeout keeps running while the lookup is awaited.
    let user = match token(incoming.request()) {
        Some(token) => users.lookup(&token).await,
        None => None,
    };
    let Some(user) = user else {
        eprintln!("{peer}: no valid token, rejected");
        let reject = Reject::unauthorized("Bearer").body("a valid token is required\n");
        return incoming.reject(reject).await;
    };
    let speaks_chat = incoming.request().subprotocols().any(|p| p == "chat");
    let accept = if speaks_chat {
        Accept::new().subprotocol("chat")
    } else {
        Accept::new()
    };
    let mut ws = incoming.accept(accept).await?;
    eprintln!("{peer}: {user} connected (chat: {speaks_chat})");
    while let Some(message) = ws.recv().await? {
        match message {
            Message::Text(text) => ws.send(format!("{user}: {text}")).await?,
            Message::Binary(_) => ws.send(message).await?,
            _ => {}
        }
    }
    eprintln!("{peer}: {user} left");
    Ok(())
}

/// The token from the query (`?token=...`) or the `Authorization: Bearer ...` header.
fn token(request: &Request) -> Option<String> {
    let in_header = || request.header_str("Authorization")?.strip_prefix("Bearer ");
    request
        .query_param("token")
        .or_else(|| in_header().map(str::to_owned))
}
