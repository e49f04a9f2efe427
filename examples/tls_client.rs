//! `wss://` with the tokio adapter over tokio-rustls.
//!
//! ```text
//! cargo run --features tokio --example tls_client                              # self-contained demo
//! cargo run --features tokio --example tls_client -- wss://HOST:PORT/PATH CA.pem [TEXT]
//! ```
//!
//! The adapter runs over any `AsyncRead + AsyncWrite` stream, so TLS is: connect TCP, run the
//! TLS handshake, hand the TLS stream to [`WebSocketStream::client`] (or, on a server, accept TLS
//! and hand the stream to [`WebSocketStream::accept`]).
//!
//! Without arguments the example generates a self-signed certificate for `localhost`, starts a
//! TLS echo server on a loopback port, and connects to it. With a URL it trusts only the CA
//! certificates in the PEM file (this example ships no root store), sends `TEXT` (default
//! `hello`) and prints the answer.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName,
};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use wsproto::handshake::{Accept, parse_url};
use wsproto::io::tokio::WebSocketStream;
use wsproto::io::{Answer, Message};
use wsproto::{ClientRequest, CloseCode, Config};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_config(roots: RootCertStore) -> io::Result<Arc<ClientConfig>> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Connects to a `wss://` URL through TLS and completes the WebSocket handshake.
async fn connect_tls(
    url: &str,
    config: Arc<ClientConfig>,
) -> io::Result<WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>> {
    let url = parse_url(url).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    if !url.is_secure() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "this example speaks wss:// only; for ws:// use wsproto::io::tokio::connect",
        ));
    }
    let tcp = TcpStream::connect((url.host(), url.port())).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(url.host().to_owned())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let tls = TlsConnector::from(config).connect(name, tcp).await?;
    let request = ClientRequest::new(url.host_header(), url.resource());
    let (ws, _response) = WebSocketStream::client(tls, request, Config::default()).await?;
    Ok(ws)
}

/// Sends `text`, prints the first data message that comes back, and closes.
async fn talk(
    mut ws: WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>,
    text: &str,
) -> io::Result<()> {
    ws.send(Message::text(text.to_owned())).await?;
    loop {
        match ws.recv().await? {
            Message::Text(reply) => {
                println!("< {reply}");
                break;
            }
            Message::Binary(data) => {
                println!("< [{} bytes]", data.len());
                break;
            }
            Message::Close(frame) => {
                println!("< close {}", frame.code().0);
                break;
            }
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    ws.close(CloseCode::NORMAL, "").await?;
    // Finish the close handshake: recv ends with NotConnected.
    while ws.recv().await.is_ok() {}
    Ok(())
}

/// A TLS echo server on a loopback port, with a fresh self-signed certificate; returns its
/// address and the certificate to trust.
async fn demo_server() -> io::Result<(SocketAddr, CertificateDer<'static>)> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .map_err(io::Error::other)?;
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .map_err(io::Error::other)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let accepted = WebSocketStream::accept(tls, Config::default(), |_| {
                    Answer::Accept(Accept::new())
                })
                .await;
                let Ok(mut ws) = accepted else { return };
                while let Ok(message) = ws.recv().await {
                    if matches!(message, Message::Text(_) | Message::Binary(_))
                        && ws.send(message).await.is_err()
                    {
                        break;
                    }
                }
            });
        }
    });
    Ok((addr, cert))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {
            let (addr, cert) = demo_server().await?;
            let mut roots = RootCertStore::empty();
            roots.add(cert).map_err(io::Error::other)?;
            let url = format!("wss://localhost:{}/", addr.port());
            println!("demo: TLS echo server with a self-signed certificate at {url}");
            let ws = connect_tls(&url, client_config(roots)?).await?;
            talk(ws, "hello over TLS").await
        }
        [url, ca, rest @ ..] => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca).map_err(io::Error::other)? {
                roots
                    .add(cert.map_err(io::Error::other)?)
                    .map_err(io::Error::other)?;
            }
            let text = rest.first().map_or("hello", String::as_str);
            let ws = connect_tls(url, client_config(roots)?).await?;
            talk(ws, text).await
        }
        _ => {
            eprintln!("usage: tls_client [wss://HOST:PORT/PATH CA.pem [TEXT]]");
            std::process::exit(2);
        }
    }
}
