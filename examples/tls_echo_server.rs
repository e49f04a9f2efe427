//! A `wss://` echo server: tokio-rustls's `TlsAcceptor` runs the TLS handshake, and this
//! crate's `WebSocketStream::accept` runs over the TLS stream (any `AsyncRead + AsyncWrite +
//! Unpin` stream works).
//!
//! ```text
//! cargo run --features tokio --example tls_echo_server -- [ADDR] [CERT.pem KEY.pem]
//! ```
//!
//! `ADDR` defaults to `127.0.0.1:9443`. Without `CERT.pem KEY.pem` (a certificate chain and
//! its private key, PEM) it makes a self-signed certificate for `localhost` and `127.0.0.1`
//! and writes it to a PEM file whose path it prints, for a client to trust:
//!
//! ```text
//! SSL_CERT_FILE=CERT.pem cargo run --features tokio,rustls-tls-native-roots --example client -- wss://localhost:9443/
//! ```

use std::error::Error;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{ServerConfig, crypto::ring::default_provider};
use wsproto::Config;
use wsproto::io::tokio::WebSocketStream;

type Certified = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (addr, files) = match args.as_slice() {
        [] => ("127.0.0.1:9443", None),
        [addr] => (addr.as_str(), None),
        [cert, key] => ("127.0.0.1:9443", Some((cert, key))),
        [addr, cert, key] => (addr.as_str(), Some((cert, key))),
        _ => {
            eprintln!("usage: tls_echo_server [ADDR] [CERT.pem KEY.pem]");
            std::process::exit(2);
        }
    };
    let (certs, key) = match files {
        Some((cert, key)) => load(cert, key)?,
        None => self_signed()?,
    };
    let tls = ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let listener = TcpListener::bind(addr).await?;
    println!("listening on wss://{}/", listener.local_addr()?);
    loop {
        let (tcp, peer) = listener.accept().await?;
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let result: Result<(), Box<dyn Error + Send + Sync>> = async {
                let tls = acceptor.accept(tcp).await?;
                let mut ws = WebSocketStream::accept(tls, Config::default()).await?;
                while let Some(message) = ws.recv().await? {
                    if message.is_text() || message.is_binary() {
                        ws.send(message).await?;
                    }
                }
                Ok(())
            }
            .await;
            if let Err(e) = result {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

/// The certificate chain and key in two PEM files.
fn load(cert: &str, key: &str) -> Result<Certified, Box<dyn Error>> {
    let certs = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    Ok((certs, PrivateKeyDer::from_pem_file(key)?))
}

/// A fresh self-signed certificate for `localhost` and `127.0.0.1`, written to a PEM file for
/// clients to trust.
fn self_signed() -> Result<Certified, Box<dyn Error>> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let path = std::env::temp_dir().join("wsproto-tls-echo-server-cert.pem");
    std::fs::write(&path, certified.cert.pem())?;
    println!(
        "self-signed certificate for localhost and 127.0.0.1: {}",
        path.display()
    );
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    Ok((vec![certified.cert.der().clone()], key.into()))
}
