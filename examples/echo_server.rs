//! Blocking echo server: a thread per connection.
//!
//! `cargo run --release --example echo_server -- [ADDR]` (default `127.0.0.1:9001`). It echoes
//! every text and binary message unchanged and answers close; the Autobahn TestSuite drives it.

use std::net::TcpListener;
use std::thread;

use wsproto::Config;
use wsproto::handshake::Accept;
use wsproto::io::Message;
use wsproto::io::blocking::{Answer, WebSocket};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("echo_server listening on ws://{addr}");
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        thread::spawn(move || {
            let _ = stream.set_nodelay(true);
            let Ok(mut ws) = WebSocket::accept(stream, config(), |_| Answer::Accept(Accept::new()))
            else {
                return;
            };
            // Ends with an error once the connection is over (closed, failed, or dropped).
            while let Ok(message) = ws.recv() {
                if matches!(message, Message::Text(_) | Message::Binary(_))
                    && ws.send(message).is_err()
                {
                    break;
                }
            }
        });
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
