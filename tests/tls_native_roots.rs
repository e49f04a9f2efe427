//! `rustls-tls-native-roots`: plain `connect("wss://...")` with the default connector trusts
//! the certificates in `SSL_CERT_FILE`. Its own test binary with one test, because the default
//! config is built once per process, on the first `wss://` connect: the variable must be set
//! before that.
#![cfg(all(feature = "tokio", feature = "rustls-tls-native-roots"))]

#[path = "tls/support.rs"]
mod support;

use std::path::PathBuf;

use support::{Cert, bounded, echo_and_close, echo_server};
use wsproto::Config;
use wsproto::io::tokio::connect;

#[tokio::test]
async fn default_connector_trusts_ssl_cert_file() {
    let cert = Cert::new(&["localhost"]);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tls-native-roots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("cert.pem");
    std::fs::write(&pem, &cert.pem).unwrap();
    // SAFETY: this binary's only test sets it before anything else here reads the environment;
    // the runtime of `#[tokio::test]` runs on this thread.
    unsafe { std::env::set_var("SSL_CERT_FILE", &pem) };

    bounded(async {
        let (port, server) = echo_server(&cert).await;
        let (ws, response) = connect(format!("wss://localhost:{port}/"), Config::default())
            .await
            .unwrap();
        assert_eq!(response.status(), 101);
        echo_and_close(ws).await;
        assert_eq!(server.await.unwrap(), Ok(2));
    })
    .await;
    std::fs::remove_dir_all(&dir).unwrap();
}
