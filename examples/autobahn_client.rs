//! Drives every case of the Autobahn TestSuite's `fuzzingserver` as a client.
//!
//! `cargo run --release --example autobahn_client -- [URL] [AGENT]`, default
//! `ws://127.0.0.1:9001` and agent `wsproto`. Also reads `AUTOBAHN_URL` and `AUTOBAHN_AGENT`.

use wsproto::Config;
use wsproto::io::Message;
use wsproto::io::blocking::connect;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .or_else(|| std::env::var("AUTOBAHN_URL").ok())
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    let agent = args
        .next()
        .or_else(|| std::env::var("AUTOBAHN_AGENT").ok())
        .unwrap_or_else(|| "wsproto".to_owned());

    let (mut ws, _) = connect(&format!("{url}/getCaseCount"), config())?;
    let count: u32 = match ws.recv()? {
        Message::Text(text) => text.trim().parse().map_err(std::io::Error::other)?,
        other => {
            return Err(std::io::Error::other(format!(
                "unexpected case count reply: {other:?}"
            )));
        }
    };
    while ws.recv().is_ok() {}
    eprintln!("running {count} cases as agent {agent}");

    for case in 1..=count {
        let Ok((mut ws, _)) = connect(
            &format!("{url}/runCase?case={case}&agent={agent}"),
            config(),
        ) else {
            continue;
        };
        while let Ok(message) = ws.recv() {
            if matches!(message, Message::Text(_) | Message::Binary(_)) && ws.send(message).is_err()
            {
                break;
            }
        }
    }

    let (mut ws, _) = connect(&format!("{url}/updateReports?agent={agent}"), config())?;
    while ws.recv().is_ok() {}
    eprintln!("reports updated");
    Ok(())
}

/// The default config, with permessage-deflate offered or accepted when the feature is on.
fn config() -> Config {
    let config = Config::default();
    #[cfg(feature = "deflate")]
    let config = config.deflate(wsproto::deflate::DeflateConfig::default());
    config
}
