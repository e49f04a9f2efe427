//! Client on smol: the futures-io adapter's `connect` (feature `async-io`), split into a read
//! half and a write half.
//!
//! `cargo run --features async-io --example smol_client -- [URL]` (default
//! `ws://127.0.0.1:9005/`). Each line of stdin is sent as a text message while a second task
//! prints whatever arrives; end of input (Ctrl-D) closes the connection normally and exits once
//! the server has answered the close.
//!
//! Try it against the smol echo server (or `echo_server`, `tokio_echo_server`):
//!
//! ```text
//! cargo run --features async-io --example smol_echo_server &
//! printf 'hello\n你好，世界\n🦀🎉\n' | cargo run --features async-io --example smol_client
//! ```

use std::process::ExitCode;

use smol::io::{AsyncBufReadExt, BufReader};
use smol::stream::StreamExt;
use wsproto::io::futures::connect;
use wsproto::io::{Message, WsError};
use wsproto::{CloseCode, Config};

fn main() -> ExitCode {
    // Errors are printed with `Display`: a refusal shows its status and body.
    match smol::block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), WsError> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9005/".to_owned());
    let (ws, _response) = connect(&url, Config::default()).await?;
    eprintln!("connected to {url}");
    let (mut read, mut write) = ws.into_split();

    // The read half prints what arrives. It also drives the connection (answers pings, runs
    // the timers, finishes the close handshake), so it runs until the clean end, `Ok(None)`.
    let reader = smol::spawn(async move {
        while let Some(message) = read.recv().await? {
            match message {
                Message::Text(text) => println!("< {text}"),
                Message::Binary(data) => println!("< [{} bytes]", data.len()),
                Message::Close(frame) => {
                    eprintln!("closed with {} {:?}", frame.code(), frame.reason());
                }
                _ => {}
            }
        }
        Ok::<(), WsError>(())
    });

    // The write half sends each line of stdin (read on smol's blocking-I/O thread pool).
    let mut lines = BufReader::new(smol::Unblock::new(std::io::stdin())).lines();
    while let Some(line) = lines.next().await {
        write.send(line?).await?;
    }
    write.close(CloseCode::NORMAL, "bye").await?;
    reader.await
}
