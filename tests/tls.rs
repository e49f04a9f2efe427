//! `wss://` through `io::tokio::connect_with`: this crate's server behind tokio-rustls, and its
//! client over rustls and native-tls, with certificates made at test time. Loopback only; each
//! test is bounded in time. The default connector with `SSL_CERT_FILE` is tested in
//! `tls_native_roots.rs`, its own process.
#![cfg(all(feature = "tokio", feature = "__rustls-tls"))]

#[path = "tls/support.rs"]
mod support;

use std::time::Duration;

use support::{Cert, bounded, echo_and_close, echo_server};
use tokio::net::TcpListener;
use wsproto::io::WsError;
use wsproto::io::tokio::{Connector, connect, connect_with, rustls};
use wsproto::{Config, TimeoutKind};

/// The rustls error inside a `WsError::Tls`; fails the test for anything else.
fn rustls_error(result: Result<impl Sized, WsError>) -> rustls::Error {
    match result {
        Err(WsError::Tls(e)) => match e.downcast::<rustls::Error>() {
            Ok(e) => *e,
            Err(e) => panic!("a TLS error, but not from rustls: {e}"),
        },
        Err(e) => panic!("expected WsError::Tls, got {e:?}"),
        Ok(_) => panic!("expected WsError::Tls, but the connection opened"),
    }
}

#[tokio::test]
async fn rustls_connector_echoes_and_closes_cleanly() {
    bounded(async {
        let cert = Cert::new(&["localhost"]);
        let (port, server) = echo_server(&cert).await;
        let connector = Connector::Rustls(cert.client_config());
        let url = format!("wss://localhost:{port}/");
        let (ws, response) = connect_with(url, Config::default(), Some(connector))
            .await
            .unwrap();
        assert_eq!(response.status(), 101);
        assert!(matches!(
            ws.get_ref(),
            wsproto::io::tokio::MaybeTlsStream::Rustls(_)
        ));
        echo_and_close(ws).await;
        assert_eq!(server.await.unwrap(), Ok(2));
    })
    .await;
}

#[tokio::test]
async fn ip_address_urls_are_verified_against_ip_sans() {
    bounded(async {
        let cert = Cert::new(&["127.0.0.1"]);
        let (port, server) = echo_server(&cert).await;
        let connector = Connector::Rustls(cert.client_config());
        let url = format!("wss://127.0.0.1:{port}/");
        let (ws, _) = connect_with(url, Config::default(), Some(connector))
            .await
            .unwrap();
        echo_and_close(ws).await;
        assert_eq!(server.await.unwrap(), Ok(2));

        // A certificate for a name does not cover the address.
        let cert = Cert::new(&["localhost"]);
        let (port, server) = echo_server(&cert).await;
        let connector = Connector::Rustls(cert.client_config());
        let url = format!("wss://127.0.0.1:{port}/");
        let e = rustls_error(connect_with(url, Config::default(), Some(connector)).await);
        assert!(matches!(e, rustls::Error::InvalidCertificate(_)), "{e:?}");
        assert!(server.await.unwrap().is_err());
    })
    .await;
}

#[cfg(feature = "native-tls")]
#[tokio::test]
async fn native_tls_connector_echoes_and_closes_cleanly() {
    use wsproto::io::tokio::native_tls;

    bounded(async {
        let cert = Cert::new(&["localhost"]);
        let (port, server) = echo_server(&cert).await;
        let root = native_tls::Certificate::from_pem(cert.pem.as_bytes()).unwrap();
        let tls = native_tls::TlsConnector::builder()
            .add_root_certificate(root)
            .build()
            .unwrap();
        let url = format!("wss://localhost:{port}/");
        let (ws, response) = connect_with(url, Config::default(), Some(Connector::NativeTls(tls)))
            .await
            .unwrap();
        assert_eq!(response.status(), 101);
        assert!(matches!(
            ws.get_ref(),
            wsproto::io::tokio::MaybeTlsStream::NativeTls(_)
        ));
        echo_and_close(ws).await;
        assert_eq!(server.await.unwrap(), Ok(2));
    })
    .await;
}

#[tokio::test]
async fn wrong_host_is_a_tls_error() {
    bounded(async {
        // Trusted, but issued for another name.
        let cert = Cert::new(&["other.invalid"]);
        let (port, server) = echo_server(&cert).await;
        let connector = Connector::Rustls(cert.client_config());
        let url = format!("wss://localhost:{port}/");
        let e = rustls_error(connect_with(url, Config::default(), Some(connector)).await);
        assert!(
            matches!(
                e,
                rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
                    | rustls::Error::InvalidCertificate(
                        rustls::CertificateError::NotValidForNameContext { .. }
                    )
            ),
            "{e:?}"
        );
        assert!(server.await.unwrap().is_err());
    })
    .await;
}

#[tokio::test]
async fn untrusted_certificate_is_a_tls_error() {
    bounded(async {
        // A custom connector that trusts a different certificate.
        let cert = Cert::new(&["localhost"]);
        let (port, server) = echo_server(&cert).await;
        let other = Cert::new(&["localhost"]);
        let connector = Connector::Rustls(other.client_config());
        let url = format!("wss://localhost:{port}/");
        let e = rustls_error(connect_with(url, Config::default(), Some(connector)).await);
        assert!(
            matches!(
                e,
                rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer
                        | rustls::CertificateError::BadSignature
                )
            ),
            "{e:?}"
        );
        assert!(server.await.unwrap().is_err());

        // The default connector (this process leaves SSL_CERT_FILE alone) does not know it.
        let (port, server) = echo_server(&cert).await;
        let result = connect(format!("wss://localhost:{port}/"), Config::default()).await;
        assert!(matches!(result, Err(WsError::Tls(_))), "{:?}", result.err());
        assert!(server.await.unwrap().is_err());

        #[cfg(feature = "native-tls")]
        {
            // native-tls with the platform's roots only.
            let tls = wsproto::io::tokio::native_tls::TlsConnector::new().unwrap();
            let (port, server) = echo_server(&cert).await;
            let url = format!("wss://localhost:{port}/");
            let result =
                connect_with(url, Config::default(), Some(Connector::NativeTls(tls))).await;
            assert!(matches!(result, Err(WsError::Tls(_))), "{:?}", result.err());
            assert!(server.await.unwrap().is_err());
        }
    })
    .await;
}

#[tokio::test]
async fn plain_connector_refuses_wss() {
    bounded(async {
        // Refused before dialing: nothing needs to listen.
        let result = connect_with(
            "wss://127.0.0.1:9/",
            Config::default(),
            Some(Connector::Plain),
        )
        .await;
        assert!(
            matches!(result, Err(WsError::TlsUnavailable(_))),
            "{:?}",
            result.err()
        );
    })
    .await;
}

#[tokio::test]
async fn a_silent_tls_server_times_out() {
    bounded(async {
        // Accepts TCP, then never speaks TLS.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(20)).await;
            drop(tcp);
        });
        let cert = Cert::new(&["localhost"]);
        let config = Config::default().handshake_timeout(Duration::from_millis(300));
        let connector = Connector::Rustls(cert.client_config());
        let url = format!("wss://localhost:{port}/");
        let result = connect_with(url, config, Some(connector)).await;
        assert!(
            matches!(result, Err(WsError::Timeout(TimeoutKind::Handshake))),
            "{:?}",
            result.err()
        );
        held.abort();
    })
    .await;
}
