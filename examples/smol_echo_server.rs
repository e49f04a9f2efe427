//! Echo server on smol: the runtime-agnostic futures-io adapter (`io::futures`), with
//! `AsyncIoTimer` for the handshake, keepalive and close timers.
//!
//! `cargo run --features async-io --example smol_echo_server -- [ADDR]` (default
//! `127.0.0.1:9005`). A task per connection; it echoes every text and binary message unchanged
//! (the adapter answers pings and echoes the close itself). The same code runs on async-std:
//! its `TcpListener` yields futures-io streams too.
//!
//! Try it with the smol client, or any other WebSocket client:
//!
//! ```text
//! cargo run --features async-io --example smol_echo_server &
//! printf 'hello\n你好，世界\n🦀🎉\n' | cargo run --features async-io --example smol_client
//! ```

use smol::net::{TcpListener, TcpStream};
use wsproto::Config;
use wsproto::io::futures::{AsyncIoTimer, WebSocketStream};
use wsproto::io::{Message, WsError};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9005".to_owned());
    smol::block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        eprintln!(
            "smol_echo_server listening on ws://{}",
            listener.local_addr()?
        );
        loop {
            let (stream, peer) = listener.accept().await?;
            smol::spawn(async move {
                if let Err(e) = echo(stream).await {
                    eprintln!("{peer}: {e}");
                }
            })
            .detach();
        }
    })
}

/// Echoes text and binary messages until the connection ends: `Ok` for a clean close.
async fn echo(stream: TcpStream) -> Result<(), WsError> {
    stream.set_nodelay(true)?;
    let mut ws = WebSocketStream::accept(stream, Config::default(), AsyncIoTimer).await?;
    while let Some(message) = ws.recv().await? {
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            ws.send(message).await?;
        }
    }
    Ok(())
}
