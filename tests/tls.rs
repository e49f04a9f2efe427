//! `wss://`: our server and our client over tokio-rustls, with a certificate made at test time.
#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName,
};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use wsproto::handshake::Accept;
use wsproto::io::tokio::WebSocketStream;
use wsproto::io::{Answer, Message};
use wsproto::{ClientRequest, CloseCode, Config};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A self-signed certificate for `localhost`, and TLS configs trusting it.
fn tls_configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let server = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

#[tokio::test]
async fn wss_round_trip() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let (server_config, client_config) = tls_configs();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let tls = TlsAcceptor::from(server_config).accept(tcp).await.unwrap();
            let mut ws = WebSocketStream::accept(tls, Config::default(), |req| {
                assert_eq!(req.path(), "/secure");
                Answer::Accept(Accept::new())
            })
            .await
            .unwrap();
            let mut echoed = 0;
            while let Ok(message) = ws.recv().await {
                if matches!(message, Message::Text(_) | Message::Binary(_)) {
                    ws.send(message).await.unwrap();
                    echoed += 1;
                }
            }
            echoed
        });

        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let tls = TlsConnector::from(client_config)
            .connect(name, tcp)
            .await
            .unwrap();
        let request = ClientRequest::new(format!("localhost:{}", addr.port()), "/secure");
        let (mut ws, response) = WebSocketStream::client(tls, request, Config::default())
            .await
            .unwrap();
        assert_eq!(response.status(), 101);
        ws.send(Message::text("hello over TLS")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Message::text("hello over TLS"));
        // Larger than a TLS record, so writes are split across records and partial writes.
        let big: Vec<u8> = (0..(1 << 20)).map(|i: u32| (i % 251) as u8).collect();
        ws.send(Message::binary(big.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Message::binary(big));
        ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert!(
            matches!(ws.recv().await.unwrap(), Message::Close(f) if f.code() == CloseCode::NORMAL)
        );
        assert_eq!(
            ws.recv().await.unwrap_err().kind(),
            std::io::ErrorKind::NotConnected
        );
        assert_eq!(server.await.unwrap(), 2);
    })
    .await
    .expect("test timed out");
}
