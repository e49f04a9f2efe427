//! `wss://` with a rustls config of your own: [`connect_with`] and [`Connector::Rustls`],
//! trusting only the CA certificates in a PEM file (a private CA, a self-signed server).
//!
//! ```text
//! cargo run --features rustls-tls-webpki-roots --example tls_client -- wss://HOST:PORT/PATH CA.pem [TEXT]
//! ```
//!
//! Sends `TEXT` (default `hello`), prints the echo, and closes. Against the TLS echo server
//! example, pass the certificate path it prints: `wss://localhost:9443/ CERT.pem`. For the
//! usual roots, plain `connect` is enough (see the `client` example).

use std::sync::Arc;

use wsproto::Config;
use wsproto::io::Message;
use wsproto::io::tokio::rustls::pki_types::{CertificateDer, pem::PemObject};
use wsproto::io::tokio::{Connector, connect_with, rustls};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, ca, rest @ ..] = args.as_slice() else {
        eprintln!("usage: tls_client wss://HOST:PORT/PATH CA.pem [TEXT]");
        std::process::exit(2);
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca)? {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = Some(Connector::Rustls(Arc::new(tls)));

    let (mut ws, _response) = connect_with(url, Config::default(), connector).await?;
    ws.send(rest.first().map_or("hello", String::as_str).to_owned())
        .await?;
    while let Some(message) = ws.recv().await? {
        match message {
            Message::Text(text) => println!("< {text}"),
            Message::Binary(data) => println!("< [{} bytes]", data.len()),
            _ => continue,
        }
        ws.close(wsproto::CloseCode::NORMAL, "").await?;
    }
    Ok(())
}
