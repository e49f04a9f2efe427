//! Blocking echo server: a thread per connection.
//!
//! `cargo run --release --example echo_server -- [ADDR]` (default `127.0.0.1:9001`). It echoes
//! every text and binary message unchanged and answers close; the Autobahn TestSuite drives it.

use std::net::{TcpListener, TcpStream};
use std::thread;

use wsproto::Config;
use wsproto::io::WsError;
use wsproto::io::blocking::WebSocket;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("echo_server listening on ws://{addr}");
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        thread::spawn(move || {
            if let Err(e) = echo(stream) {
                eprintln!("connection failed: {e}");
            }
        });
    }
    Ok(())
}

/// Echoes one connection until its clean end (`Ok(None)`); `?` passes on any failure.
fn echo(stream: TcpStream) -> Result<(), WsError> {
    stream.set_nodelay(true)?;
    let mut ws = WebSocket::accept(stream, config())?;
    while let Some(message) = ws.recv()? {
        if message.is_text() || message.is_binary() {
            ws.send(message)?;
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
