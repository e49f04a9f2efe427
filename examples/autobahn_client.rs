//! Drives every case of the Autobahn TestSuite's `fuzzingserver` as a client.
//!
//! `cargo run --release --example autobahn_client -- [URL] [AGENT]`, default
//! `ws://127.0.0.1:9001` and agent `wsproto`. Also reads `AUTOBAHN_URL` and `AUTOBAHN_AGENT`.

use std::error::Error;

use wsproto::Config;
use wsproto::io::blocking::connect;
use wsproto::io::{Message, WsError};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .or_else(|| std::env::var("AUTOBAHN_URL").ok())
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    let agent = args
        .next()
        .or_else(|| std::env::var("AUTOBAHN_AGENT").ok())
        .unwrap_or_else(|| "wsproto".to_owned());

    let (mut ws, _) = connect(format!("{url}/getCaseCount"), config())?;
    let count: u32 = match ws.recv()? {
        Some(Message::Text(text)) => text.trim().parse()?,
        other => return Err(format!("unexpected case count reply: {other:?}").into()),
    };
    while ws.recv()?.is_some() {}
    eprintln!("running {count} cases as agent {agent}");

    for case in 1..=count {
        // Many cases break the protocol on purpose, so an error here is expected: the
        // fuzzingserver's report judges each case.
        let _ = echo(&format!("{url}/runCase?case={case}&agent={agent}"));
    }

    let (mut ws, _) = connect(format!("{url}/updateReports?agent={agent}"), config())?;
    while ws.recv()?.is_some() {}
    eprintln!("reports updated");
    Ok(())
}

/// Echoes text and binary messages until the connection ends.
fn echo(url: &str) -> Result<(), WsError> {
    let (mut ws, _) = connect(url, config())?;
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
