//! The same echo server on tokio-tungstenite: the peer `benches/loopback.sh` measures
//! `tokio_echo_server` against.
//!
//! `cargo run --release -p wsproto-benches --example peer_echo_server -- [ADDR]` (default
//! `127.0.0.1:9003`). A task per connection on the multi-thread runtime, echoing every text and
//! binary message through tokio-tungstenite's `Stream`/`Sink` (its message API), as
//! `tokio_echo_server` does through wsproto's `recv`/`send`.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9003".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!(
        "peer_echo_server (tokio-tungstenite) listening on ws://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, _peer) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            while let Some(Ok(message)) = ws.next().await {
                if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                    break;
                }
            }
        });
    }
}
