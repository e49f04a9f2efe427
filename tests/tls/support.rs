//! What the `wss://` tests share: certificates made at test time, a tokio-rustls server running
//! this crate's `accept`, and the exchange every client runs against it.

#![allow(dead_code)] // Each test binary uses part of it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use wsproto::io::Message;
use wsproto::io::tokio::WebSocketStream;
use wsproto::{CloseCode, Config};

/// How long any one test may take.
pub const BOUND: Duration = Duration::from_secs(30);

/// Runs `test`, failing if it takes longer than [`BOUND`].
pub async fn bounded<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, test)
        .await
        .expect("test timed out")
}

/// A self-signed certificate and its key.
pub struct Cert {
    pub der: CertificateDer<'static>,
    pub pem: String,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Cert {
    /// A fresh self-signed certificate for `names` (host names or IP addresses).
    pub fn new(names: &[&str]) -> Cert {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let certified = rcgen::generate_simple_self_signed(names).unwrap();
        Cert {
            der: certified.cert.der().clone(),
            pem: certified.cert.pem(),
            key: PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()),
        }
    }

    /// A rustls client config that trusts this certificate only.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }

    fn server_config(&self) -> Arc<ServerConfig> {
        let key = PrivateKeyDer::Pkcs8(self.key.clone_key());
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.der.clone()], key)
            .unwrap();
        Arc::new(config)
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS echo server for one connection on a loopback port, presenting `cert`: tokio-rustls's
/// `TlsAcceptor`, then this crate's `WebSocketStream::accept` over the TLS stream. The task
/// returns how many text and binary messages it echoed before the clean end, or what failed.
pub async fn echo_server(cert: &Cert) -> (u16, JoinHandle<Result<usize, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = TlsAcceptor::from(cert.server_config());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let tls = acceptor
            .accept(tcp)
            .await
            .map_err(|e| format!("TLS accept: {e}"))?;
        let mut ws = WebSocketStream::accept(tls, Config::default())
            .await
            .map_err(|e| format!("accept: {e}"))?;
        let mut echoed = 0;
        while let Some(message) = ws.recv().await.map_err(|e| format!("recv: {e}"))? {
            if message.is_text() || message.is_binary() {
                ws.send(message).await.map_err(|e| format!("send: {e}"))?;
                echoed += 1;
            }
        }
        Ok(echoed)
    });
    (port, server)
}

/// Sends text and a binary message larger than a TLS record, checks each echo, closes, and
/// checks that the close handshake ends cleanly (`Ok(None)`).
pub async fn echo_and_close<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocketStream<S>) {
    let text = "hello over TLS: 你好, 🔒";
    ws.send(Message::text(text)).await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), Some(Message::text(text)));
    // 1 MiB: split across many TLS records, and written in partial writes.
    let big: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
    ws.send(Message::binary(big.clone())).await.unwrap();
    assert_eq!(ws.recv().await.unwrap(), Some(Message::binary(big)));
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
    match ws.recv().await.unwrap() {
        Some(Message::Close(frame)) => assert_eq!(frame.code(), CloseCode::NORMAL),
        other => panic!("expected the close echo, got {other:?}"),
    }
    assert_eq!(ws.recv().await.unwrap(), None, "the clean end");
}
