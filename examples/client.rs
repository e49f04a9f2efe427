//! An interactive client, like wscat.
//!
//! `cargo run --release --features tokio --example client -- URL`
//!
//! Each line read from stdin is sent as a text message; whatever arrives is printed. Commands:
//!
//! - `/ping [payload]` sends a ping (the pong is printed when it comes back);
//! - `/close [code] [reason]` closes the connection (default 1000) and exits.
//!
//! End of input (Ctrl-D) closes normally and exits. When the connection drops, the client
//! reconnects with exponential backoff (250 ms doubling up to 30 s) plus jitter.

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, BufReader, Lines, Stdin};
use tokio::net::TcpStream;
use wsproto::bytes::Bytes;
use wsproto::io::Message;
use wsproto::io::tokio::{WebSocketStream, connect};
use wsproto::{CloseCode, Config};

const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(30);

/// Why a session ended.
enum End {
    /// The user closed or input ended: exit.
    Quit,
    /// The connection dropped: reconnect.
    Dropped(String),
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: client URL   (e.g. ws://127.0.0.1:9002/)");
        std::process::exit(2);
    };
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut jitter = Jitter::new();
    let mut delay = FIRST_DELAY;
    loop {
        match connect(&url, config()).await {
            Ok((ws, response)) => {
                eprintln!("connected to {url} (HTTP {})", response.status());
                delay = FIRST_DELAY;
                match session(ws, &mut lines).await {
                    End::Quit => return,
                    End::Dropped(why) => eprintln!("connection lost: {why}"),
                }
            }
            // A bad URL (or wss:// without TLS) will not get better by retrying.
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                eprintln!("{e}");
                std::process::exit(2);
            }
            Err(e) => eprintln!("connect failed: {e}"),
        }
        // Full jitter over the upper half: spreads reconnecting clients apart.
        let wait = delay / 2 + delay.mul_f64(jitter.next_unit() / 2.0);
        eprintln!("reconnecting in {} ms", wait.as_millis());
        tokio::time::sleep(wait).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
}

async fn session(mut ws: WebSocketStream<TcpStream>, lines: &mut Lines<BufReader<Stdin>>) -> End {
    // Set when the user asked to close: the session then ends as a quit.
    let mut quitting = false;
    loop {
        // Both branches are cancel safe: `recv` keeps its state in the connection, and
        // `next_line` in the reader.
        tokio::select! {
            received = ws.recv() => match received {
                Ok(Message::Text(text)) => println!("< {text}"),
                Ok(Message::Binary(data)) => println!("< [{} bytes] {data:02x?}", data.len()),
                Ok(Message::Ping(p)) => println!("< ping {:?}", String::from_utf8_lossy(&p)),
                Ok(Message::Pong(p)) => println!("< pong {:?}", String::from_utf8_lossy(&p)),
                Ok(Message::Close(frame)) => {
                    println!("< close {} {:?}", frame.code().0, frame.reason());
                }
                Err(e) if quitting => {
                    if e.kind() != io::ErrorKind::NotConnected {
                        eprintln!("{e}");
                    }
                    return End::Quit;
                }
                Err(e) => return End::Dropped(e.to_string()),
            },
            line = lines.next_line(), if !quitting => {
                let sent = match line {
                    Ok(Some(line)) => command(&mut ws, &line, &mut quitting).await,
                    // End of input: close normally, then wait for the handshake to finish.
                    Ok(None) | Err(_) => {
                        quitting = true;
                        ws.close(CloseCode::NORMAL, "").await
                    }
                };
                if let Err(e) = sent {
                    eprintln!("send failed: {e}");
                }
            }
        }
    }
}

async fn command(
    ws: &mut WebSocketStream<TcpStream>,
    line: &str,
    quitting: &mut bool,
) -> io::Result<()> {
    if let Some(rest) = line.strip_prefix("/ping") {
        // The adapter refuses a payload over 125 bytes (`InvalidInput`).
        let payload = Bytes::copy_from_slice(rest.trim().as_bytes());
        return ws.send(Message::Ping(payload)).await;
    }
    if let Some(rest) = line.strip_prefix("/close") {
        let rest = rest.trim();
        let (code, reason) = match rest.split_once(' ') {
            Some((code, reason)) => (code, reason.trim()),
            None => (rest, ""),
        };
        let code = if code.is_empty() {
            CloseCode::NORMAL
        } else {
            match code.parse() {
                Ok(code) => CloseCode(code),
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "usage: /close [code] [reason]",
                    ));
                }
            }
        };
        ws.close(code, reason).await?;
        *quitting = true;
        return Ok(());
    }
    ws.send(Message::text(line.to_owned())).await
}

/// A small xorshift generator seeded from the clock: enough to spread reconnects apart.
struct Jitter(u64);

impl Jitter {
    fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Jitter((nanos ^ u64::from(std::process::id()) << 32) | 1)
    }

    /// A value in `[0, 1)`.
    fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The default config, with permessage-deflate offered or accepted when the feature is on.
fn config() -> Config {
    let config = Config::default();
    #[cfg(feature = "deflate")]
    let config = config.deflate(wsproto::deflate::DeflateConfig::default());
    config
}
