//! Raw TCP echo server: the baseline for `load_test --raw`.
//!
//! `cargo run --release -p wsproto-benches --example raw_echo_server -- [ADDR]` (default
//! `127.0.0.1:9010`). A task per connection on the multi-thread runtime, like
//! `tokio_echo_server`. Messages are a 4-byte big-endian length and that many bytes; each whole
//! message is echoed back, so the server does what a WebSocket echo server does (find message
//! boundaries, wait for whole messages, write them back) without the WebSocket protocol.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The read buffer a connection starts with (as the wsproto adapters do).
const READ_BUFFER: usize = 4 << 10;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9010".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("raw_echo_server listening on {}", listener.local_addr()?);
    loop {
        let (stream, _peer) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let _ = echo(stream).await;
        });
    }
}

/// Reads into a buffer and writes back every whole message in it, in one write per read.
async fn echo(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; READ_BUFFER];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        // Whole messages at the front of the buffer.
        let mut end = 0;
        while let Some(header) = buf[..filled].get(end..end + 4) {
            let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
            if filled < end + 4 + len {
                break;
            }
            end += 4 + len;
        }
        if end > 0 {
            stream.write_all(&buf[..end]).await?;
            buf.copy_within(end..filled, 0);
            filled -= end;
        }
    }
}
