//! Blocking client: std I/O, no async runtime.
//!
//! `cargo run --example blocking_client -- [URL] [SUBPROTOCOL...]` (default
//! `ws://127.0.0.1:9001/`). Each line of stdin is sent as a text message and the echo is
//! printed; end of input (Ctrl-D) closes the connection normally. Any further arguments are
//! offered as subprotocols, and the one the server chose is printed.
//!
//! Try it against the blocking echo server:
//!
//! ```text
//! cargo run --example echo_server -- 127.0.0.1:9001 &
//! printf 'hello\n你好，世界\n🦀🎉\n' | cargo run --example blocking_client
//! ```
//!
//! or against `auth_server` (`ws://127.0.0.1:9004/?token=alice-secret chat`, and without the
//! token to see the 401 and its body).

use std::io::{self, BufRead};
use std::net::TcpStream;
use std::process::ExitCode;

use wsproto::io::blocking::{WebSocket, connect};
use wsproto::io::{Message, WsError};
use wsproto::{ClientRequest, CloseCode, Config};

fn main() -> ExitCode {
    // Errors are printed with `Display`: a refusal shows its status and body.
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), WsError> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:9001/".to_owned());
    let mut request = ClientRequest::from_url(&url)?;
    for protocol in args {
        request = request.subprotocol(protocol);
    }

    let (mut ws, response) = connect(request, Config::default())?;
    match response.subprotocol() {
        Some(protocol) => eprintln!("connected to {url} (subprotocol {protocol})"),
        None => eprintln!("connected to {url}"),
    }

    for line in io::stdin().lock().lines() {
        ws.send(line?)?;
        match reply(&mut ws)? {
            Some(Message::Text(text)) => println!("< {text}"),
            Some(message) => println!("< [{} bytes]", message.len()),
            // The server ended the connection.
            None => return Ok(()),
        }
    }

    // End of input: close, then read until the server's answer completes the handshake.
    ws.close(CloseCode::NORMAL, "bye")?;
    while ws.recv()?.is_some() {}
    Ok(())
}

/// The next text or binary message; `None` once the server has ended the connection. Pings
/// were answered by the adapter before they are returned, and the close is echoed.
fn reply(ws: &mut WebSocket<TcpStream>) -> Result<Option<Message>, WsError> {
    while let Some(message) = ws.recv()? {
        match message {
            Message::Text(_) | Message::Binary(_) => return Ok(Some(message)),
            Message::Close(frame) => {
                eprintln!("server closed with {} {:?}", frame.code(), frame.reason())
            }
            _ => {}
        }
    }
    Ok(None)
}
