//! A command-line client, like wscat: sends each line of stdin as a text message and prints
//! each message that arrives.
//!
//! ```text
//! cargo run --features tokio,rustls-tls-native-roots --example client -- \
//!     [-H 'Name: value']... [--protocol NAME]... ws[s]://HOST[:PORT][/PATH]
//! ```
//!
//! - `-H 'Name: value'` adds a request header (repeatable), e.g. `Authorization` or `Cookie`;
//!   `Origin` is sent as the request's origin.
//! - `--protocol NAME` offers a subprotocol (repeatable, most preferred first).
//!
//! `wss://` needs a TLS feature: `rustls-tls-webpki-roots` (the Mozilla roots),
//! `rustls-tls-native-roots` (the platform's roots, or those in `SSL_CERT_FILE` /
//! `SSL_CERT_DIR` when set) or `native-tls`. Text arrives printed as `< text`, binary as
//! `< [N bytes]`; the status line and the close go to stderr. End of input closes normally and
//! the client exits once the server has answered the close. If the server refuses the
//! handshake, its status line and headers are printed. Exit status: 0 after a clean close, 1 on
//! any error, 2 for bad arguments.

use std::process::ExitCode;

use tokio::io::{AsyncBufReadExt, BufReader};
use wsproto::io::tokio::connect;
use wsproto::io::{Message, WsError};
use wsproto::{ClientRequest, CloseCode, Config};

const USAGE: &str =
    "usage: client [-H 'Name: value']... [--protocol NAME]... ws[s]://HOST[:PORT][/PATH]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let request = match request(std::env::args().skip(1)) {
        Ok(request) => request,
        Err(why) => {
            eprintln!("{why}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(request).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if let WsError::Refused { response, body } = &e {
                eprintln!("HTTP {} {}", response.status(), response.reason());
                for header in response.headers().iter() {
                    let value = String::from_utf8_lossy(header.value);
                    eprintln!("{}: {value}", header.name);
                }
                eprintln!("\n{}", String::from_utf8_lossy(body));
            }
            ExitCode::FAILURE
        }
    }
}

/// The request the arguments describe.
fn request(mut args: impl Iterator<Item = String>) -> Result<ClientRequest, String> {
    let (mut url, mut headers, mut protocols) = (None, Vec::new(), Vec::new());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-H" | "--header" => {
                let header = args.next().ok_or("-H needs 'Name: value'")?;
                let (name, value) = header
                    .split_once(':')
                    .ok_or_else(|| format!("not 'Name: value': {header:?}"))?;
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            "--protocol" => protocols.push(args.next().ok_or("--protocol needs a NAME")?),
            _ if url.is_none() && !arg.starts_with('-') => url = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    let url = url.ok_or("no URL given")?;
    let mut request = ClientRequest::from_url(&url).map_err(|e| format!("{url}: {e}"))?;
    for (name, value) in headers {
        request = if name.eq_ignore_ascii_case("origin") {
            request.origin(value)
        } else {
            request.header(name, value)
        };
    }
    Ok(protocols
        .into_iter()
        .fold(request, ClientRequest::subprotocol))
}

/// Connects, then sends stdin's lines and prints what arrives until the connection ends.
async fn run(request: ClientRequest) -> Result<(), WsError> {
    let (mut ws, response) = connect(request, config()).await?;
    match response.subprotocol() {
        Some(protocol) => eprintln!("connected: HTTP {} ({protocol})", response.status()),
        None => eprintln!("connected: HTTP {}", response.status()),
    }
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut reading = true;
    loop {
        // Both branches are cancel safe: `recv` keeps its state in the connection, and
        // `next_line` in the reader.
        tokio::select! {
            received = ws.recv() => match received? {
                Some(Message::Text(text)) => println!("< {text}"),
                Some(Message::Binary(data)) => println!("< [{} bytes]", data.len()),
                Some(Message::Close(frame)) => eprintln!("closed: {} {}", frame.code(), frame.reason()),
                // Pings were answered already; pongs answer ours (we send none).
                Some(_) => {}
                None => return Ok(()),
            },
            line = lines.next_line(), if reading => match line? {
                Some(line) => ws.send(line).await?,
                None => {
                    reading = false;
                    ws.close(CloseCode::NORMAL, "").await?;
                }
            },
        }
    }
}

/// The default config, with permessage-deflate offered when the feature is on.
fn config() -> Config {
    let config = Config::default();
    #[cfg(feature = "deflate")]
    let config = config.deflate(wsproto::deflate::DeflateConfig::default());
    config
}
