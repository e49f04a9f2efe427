//! Tokio echo server: a task per connection on the multi-thread runtime.
//!
//! `cargo run --release --features tokio --example tokio_echo_server -- [ADDR]` (default
//! `127.0.0.1:9002`). It echoes every text and binary message unchanged and answers close (the
//! adapter echoes the peer's close frame itself).

use tokio::net::{TcpListener, TcpStream};
use wsproto::Config;
use wsproto::io::tokio::WebSocketStream;
use wsproto::io::{Message, WsError};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!(
        "tokio_echo_server listening on ws://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, peer) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            if let Err(e) = echo(stream).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

/// Echoes text and binary messages until the connection ends: `Ok` for a clean close.
pub async fn echo(stream: TcpStream) -> Result<(), WsError> {
    let mut ws = WebSocketStream::accept(stream, config()).await?;
    while let Some(message) = ws.recv().await? {
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            ws.send(message).await?;
        }
    }
    Ok(())
}

/// The default config, with permessage-deflate offered or accepted when the feature is on.
fn config() -> Config {
    let config = Config::default();
    #[cfg(feature = "deflate")]
    let config = config.deflate(wsproto::deflate::DeflateConfig::default());
    config
}
