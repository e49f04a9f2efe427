//! WebSockets over HTTP/2 (RFC 8441) without a browser: the `h2_chat` example's server over TLS
//! with ALPN `h2`, hyper's HTTP/2 client sending extended CONNECTs, and wsproto running the
//! frames on both ends of each HTTP/2 stream.
#![cfg(all(feature = "http", feature = "tokio"))]

#[allow(dead_code)]
#[path = "../examples/h2_chat.rs"]
mod example;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http2::SendRequest;
use hyper::ext::Protocol;
use hyper::{Method, Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::crypto::ring::default_provider;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use wsproto::handshake::Negotiated;
use wsproto::io::Message;
use wsproto::io::tokio::WebSocketStream;
use wsproto::{CloseCode, Config, Role};

const LIMIT: Duration = Duration::from_secs(60);

struct Server {
    addr: SocketAddr,
    roots: RootCertStore,
    task: JoinHandle<std::io::Result<()>>,
}

/// The example's server on a free loopback port, with a fresh certificate the client trusts.
async fn start() -> Server {
    let (certs, key) = example::self_signed().unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(certs[0].clone()).unwrap();
    let tls = example::tls_config((certs, key)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(example::serve(listener, Arc::new(tls)));
    Server { addr, roots, task }
}

/// An HTTP/2 connection to the server (TLS, ALPN `h2`), after a plain GET of the page: by then
/// the server's SETTINGS, with SETTINGS_ENABLE_CONNECT_PROTOCOL, have arrived, which the client
/// needs before it may send an extended CONNECT.
async fn h2_client(server: &Server) -> SendRequest<Empty<Bytes>> {
    let mut config = ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(server.roots.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);

    let page = Request::get(format!("https://localhost:{}/", server.addr.port()))
        .version(Version::HTTP_2)
        .body(Empty::new())
        .unwrap();
    let response = send.send_request(page).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_2);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(
        String::from_utf8_lossy(&body).contains("new WebSocket("),
        "the chat page"
    );
    send
}

/// An extended CONNECT for `/ws`: `:protocol` as given, `Sec-WebSocket-Version` as given.
fn connect(
    server: &Server,
    protocol: Option<&'static str>,
    version: Option<&str>,
) -> Request<Empty<Bytes>> {
    let mut request = Request::builder()
        .method(Method::CONNECT)
        .version(Version::HTTP_2)
        .uri(format!("https://localhost:{}/ws", server.addr.port()));
    if let Some(version) = version {
        request = request.header("sec-websocket-version", version);
    }
    let mut request = request.body(Empty::new()).unwrap();
    if let Some(protocol) = protocol {
        request
            .extensions_mut()
            .insert(Protocol::from_static(protocol));
    }
    request
}

/// Opens a WebSocket as a stream of the HTTP/2 connection: 200, then wsproto's client on it.
async fn open(
    server: &Server,
    send: &mut SendRequest<Empty<Bytes>>,
) -> WebSocketStream<TokioIo<hyper::upgrade::Upgraded>> {
    let response = send
        .send_request(connect(server, Some("websocket"), Some("13")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "RFC 8441 answers 200");
    assert_eq!(response.version(), Version::HTTP_2);
    assert!(!response.headers().contains_key("sec-websocket-accept"));
    // No extension offered, so none agreed: the client runs with nothing negotiated.
    assert!(!response.headers().contains_key("sec-websocket-extensions"));
    let upgraded = hyper::upgrade::on(response).await.unwrap();
    WebSocketStream::upgraded_negotiated(
        TokioIo::new(upgraded),
        Role::Client,
        Config::default(),
        Negotiated::new(),
    )
    .unwrap()
}

async fn status_of(response: Response<hyper::body::Incoming>) -> (StatusCode, String, String) {
    let status = response.status();
    let version = response
        .headers()
        .get("sec-websocket-version")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, version, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn websocket_over_http2_echoes_and_broadcasts() {
    tokio::time::timeout(LIMIT, async {
        let server = start().await;
        let mut send = h2_client(&server).await;
        let mut alice = open(&server, &mut send).await;
        let message = Message::text(r#"{"name":"测试者","text":"你好，世界 🌏🎉"}"#);
        alice.send(message.clone()).await.unwrap();
        assert_eq!(alice.recv().await.unwrap(), Some(message));

        // A second WebSocket on the same HTTP/2 connection: another stream, the same chat.
        let mut bob = open(&server, &mut send).await;
        let big = Message::text("🙂".repeat(50_000));
        bob.send(big.clone()).await.unwrap();
        assert_eq!(bob.recv().await.unwrap(), Some(big.clone()));
        assert_eq!(alice.recv().await.unwrap(), Some(big));
        // Binary messages are not chat messages: nothing comes back, the next text does.
        alice.send(Message::binary(vec![1, 2, 3])).await.unwrap();
        alice.send(Message::text("after")).await.unwrap();
        assert_eq!(bob.recv().await.unwrap(), Some(Message::text("after")));
        assert_eq!(alice.recv().await.unwrap(), Some(Message::text("after")));

        // The close handshake runs over the stream, and the connection stays usable.
        alice.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert!(matches!(
            alice.recv().await.unwrap(),
            Some(Message::Close(f)) if f.code() == CloseCode::NORMAL
        ));
        assert!(matches!(alice.recv().await, Ok(None)));
        bob.send(Message::text("still here")).await.unwrap();
        assert_eq!(bob.recv().await.unwrap(), Some(Message::text("still here")));
        server.task.abort();
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn http2_websocket_offer_gets_permessage_deflate() {
    tokio::time::timeout(LIMIT, async {
        let server = start().await;
        let mut send = h2_client(&server).await;
        let mut request = connect(&server, Some("websocket"), Some("13"));
        request.headers_mut().insert(
            "sec-websocket-extensions",
            "permessage-deflate; client_max_window_bits"
                .parse()
                .unwrap(),
        );
        let response = send.send_request(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let agreed = response.headers()["sec-websocket-extensions"]
            .to_str()
            .unwrap();
        assert!(agreed.starts_with("permessage-deflate"), "{agreed}");
        server.task.abort();
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn http2_refusals() {
    tokio::time::timeout(LIMIT, async {
        let server = start().await;
        let mut send = h2_client(&server).await;

        // A plain CONNECT (no :protocol, so no path either): not a WebSocket, 400.
        let response = send
            .send_request(connect(&server, None, Some("13")))
            .await
            .unwrap();
        let (status, _, body) = status_of(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains(":protocol"), "{body}");

        // Another :protocol: 400.
        let response = send
            .send_request(connect(&server, Some("webtransport"), Some("13")))
            .await
            .unwrap();
        assert_eq!(status_of(response).await.0, StatusCode::BAD_REQUEST);

        // Version 8, or none: 426 naming 13.
        for version in [Some("8"), None] {
            let response = send
                .send_request(connect(&server, Some("websocket"), version))
                .await
                .unwrap();
            let (status, supported, body) = status_of(response).await;
            assert_eq!(status, StatusCode::UPGRADE_REQUIRED, "{version:?}: {body}");
            assert_eq!(supported, "13");
        }

        // GET /ws over HTTP/2 is not how a WebSocket is opened there: 405, Allow: CONNECT.
        let get = Request::get(format!("https://localhost:{}/ws", server.addr.port()))
            .version(Version::HTTP_2)
            .body(Empty::new())
            .unwrap();
        let response = send.send_request(get).await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()["allow"], "CONNECT");

        // After all that the connection still opens WebSockets.
        let mut ws = open(&server, &mut send).await;
        ws.send(Message::text("ok")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(Message::text("ok")));
        server.task.abort();
    })
    .await
    .expect("test timed out");
}
