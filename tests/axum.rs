//! `wsproto::axum` through a real axum server on loopback: the echo example, refusals with the
//! RFC's statuses, subprotocols, compression on and off, limits, a failed upgrade, and a
//! WebSocket over HTTP/2 (RFC 8441) through the same extractor.
#![cfg(feature = "axum")]

#[allow(dead_code)]
#[path = "../examples/axum_echo.rs"]
mod example;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::ext::Protocol;
use hyper::{Method, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsproto::axum::{Message, WebSocket, WebSocketUpgrade, WebSocketUpgradeRejection};
use wsproto::handshake::Negotiated;
use wsproto::io::WsError;
use wsproto::io::tokio::{WebSocketStream, connect};
use wsproto::{ClientRequest, CloseCode, Config, DeflateConfig, Role};

async fn bounded<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("test timed out")
}

async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A raw request head and the server's whole answer head, lowercased.
async fn raw_exchange(addr: SocketAddr, head: &str) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n\r\n") {
        assert_eq!(tcp.read(&mut byte).await.unwrap(), 1, "{reply:?}");
        reply.push(byte[0]);
    }
    (tcp, String::from_utf8_lossy(&reply).to_ascii_lowercase())
}

fn upgrade_head(extra: &str) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    )
}

#[tokio::test]
async fn echo_example_round_trips_and_compresses() {
    bounded(async {
        let addr = serve(example::app()).await;
        let config = Config::default().deflate(DeflateConfig::default());
        let (mut ws, response) = connect(format!("ws://{addr}/"), config).await.unwrap();
        assert_eq!(response.status(), 101);
        assert!(
            response
                .header_str("Sec-WebSocket-Extensions")
                .is_some_and(|e| e.starts_with("permessage-deflate")),
            "compression on by default"
        );
        assert!(ws.connection().deflate_params().is_some());
        for text in ["你好，世界", "🦀🎉 emoji", "Ünïcödé and ASCII"] {
            ws.send(Message::text(text)).await.unwrap();
            assert_eq!(ws.recv().await.unwrap(), Some(Message::text(text)));
        }
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        ws.send(Message::binary(big.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Some(Message::binary(big)));
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
        assert!(matches!(
            ws.recv().await.unwrap(),
            Some(Message::Close(f)) if f.code() == CloseCode::NORMAL
        ));
        assert!(matches!(ws.recv().await, Ok(None)));
    })
    .await;
}

/// The server's echo of a compressible text frame comes back with RSV1 set: compressed on the
/// wire, not only agreed.
#[tokio::test]
async fn compressed_frames_on_the_wire() {
    bounded(async {
        let addr = serve(example::app()).await;
        let head = upgrade_head(
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
        );
        let (mut tcp, reply) = raw_exchange(addr, &head).await;
        assert!(reply.starts_with("http/1.1 101"), "{reply}");
        assert!(reply.contains("sec-websocket-extensions: permessage-deflate"), "{reply}");
        // An uncompressed, masked text frame (mask key zero: the payload as it is).
        let text = "聊天消息 chat message 🎉 ".repeat(40);
        let mut frame = vec![0x81, 0x80 | 126];
        frame.extend_from_slice(&(text.len() as u16).to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0, 0]);
        frame.extend_from_slice(text.as_bytes());
        tcp.write_all(&frame).await.unwrap();
        let mut header = [0u8; 2];
        tcp.read_exact(&mut header).await.unwrap();
        assert_eq!(header[0], 0xC1, "FIN, RSV1 (compressed), text");
        let len = usize::from(header[1] & 0x7f);
        assert!(len < 126 && len * 4 < text.len(), "{len} bytes for {}", text.len());
    })
    .await;
}

#[tokio::test]
async fn no_deflate_declines_the_offer() {
    bounded(async {
        let app = Router::new().route(
            "/",
            get(|ws: WebSocketUpgrade| async { ws.no_deflate().on_upgrade(|_| async {}) }),
        );
        let addr = serve(app).await;
        let head = upgrade_head(
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n",
        );
        let (_tcp, reply) = raw_exchange(addr, &head).await;
        assert!(reply.starts_with("http/1.1 101"), "{reply}");
        assert!(!reply.contains("sec-websocket-extensions"), "{reply}");
    })
    .await;
}

#[tokio::test]
async fn refusals_carry_the_rfc_status() {
    bounded(async {
        let addr = serve(example::app()).await;
        // RFC 6455 4.4: an unsupported version gets 426 naming the version we speak.
        let (_tcp, reply) = raw_exchange(addr, &upgrade_head("Sec-WebSocket-Version: 8\r\n")).await;
        assert!(reply.starts_with("http/1.1 426"), "{reply}");
        assert!(reply.contains("sec-websocket-version: 13\r\n"), "{reply}");
        // A key that is not 16 bytes of base64: 400.
        let head = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                    Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: c2hvcnQ=\r\n\r\n";
        let (_tcp, reply) = raw_exchange(addr, head).await;
        assert!(reply.starts_with("http/1.1 400"), "{reply}");
        // A plain GET of the WebSocket route: 400 naming the Upgrade header.
        let (mut tcp, reply) =
            raw_exchange(addr, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
        assert!(reply.starts_with("http/1.1 400"), "{reply}");
        let mut body = Vec::new();
        tcp.read_to_end(&mut body).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("Upgrade"), "{body:?}");
        // Another method on a `get` route is axum's 405.
        let (_tcp, reply) =
            raw_exchange(addr, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n").await;
        assert!(reply.starts_with("http/1.1 405"), "{reply}");
    })
    .await;
}

#[tokio::test]
async fn a_request_hyper_cannot_upgrade_is_refused_with_426() {
    let (mut parts, ()) = http::Request::get("/")
        .header("Host", "localhost")
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .body(())
        .unwrap()
        .into_parts();
    let rejection = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .unwrap_err();
    assert!(matches!(
        rejection,
        WebSocketUpgradeRejection::ConnectionNotUpgradable
    ));
    assert_eq!(
        rejection.into_response().status(),
        StatusCode::UPGRADE_REQUIRED
    );
}

#[tokio::test]
async fn on_failed_upgrade_is_called_when_hyper_cannot_upgrade() {
    bounded(async {
        let failures = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&failures);
        let app = Router::new().route(
            "/",
            get(move |ws: WebSocketUpgrade| async move {
                ws.on_failed_upgrade(move |_error| {
                    seen.fetch_add(1, Ordering::SeqCst);
                })
                .on_upgrade(|_| async { panic!("never upgraded") })
            }),
        );
        // hyper without `with_upgrades`: the 101 goes out but the connection is never handed over.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
        let (_tcp, reply) =
            raw_exchange(addr, &upgrade_head("Sec-WebSocket-Version: 13\r\n")).await;
        assert!(reply.starts_with("http/1.1 101"), "{reply}");
        for _ in 0..500 {
            if failures.load(Ordering::SeqCst) == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("on_failed_upgrade was not called");
    })
    .await;
}

#[tokio::test]
async fn subprotocol_is_our_first_choice_among_the_offers() {
    bounded(async {
        let app = Router::new().route(
            "/",
            get(|ws: WebSocketUpgrade| async {
                let ws = ws.protocols(["superchat", "chat"]);
                assert_eq!(ws.selected_protocol(), Some("superchat"));
                ws.on_upgrade(|mut socket: WebSocket| async move {
                    let chosen = socket.protocol().unwrap_or("none").to_owned();
                    let _ = socket.send(Message::text(chosen)).await;
                    while socket.recv().await.is_some() {}
                })
            }),
        );
        let addr = serve(app).await;
        let request = ClientRequest::from_url(&format!("ws://{addr}/"))
            .unwrap()
            .subprotocol("chat")
            .subprotocol("superchat");
        let (mut ws, response) = connect(request, Config::default()).await.unwrap();
        assert_eq!(
            response.header_str("Sec-WebSocket-Protocol"),
            Some("superchat")
        );
        assert_eq!(ws.recv().await.unwrap(), Some(Message::text("superchat")));
    })
    .await;
}

#[tokio::test]
async fn a_message_over_max_message_size_closes_with_1009() {
    bounded(async {
        let app = Router::new().route(
            "/",
            get(|ws: WebSocketUpgrade| async {
                ws.max_message_size(1000)
                    .on_upgrade(|mut socket: WebSocket| async move {
                        while let Some(Ok(_)) = socket.recv().await {}
                    })
            }),
        );
        let addr = serve(app).await;
        let (mut ws, _) = connect(format!("ws://{addr}/"), Config::default())
            .await
            .unwrap();
        ws.send(Message::text("x".repeat(1001))).await.unwrap();
        let end = loop {
            match ws.recv().await {
                Ok(Some(Message::Close(frame))) => break Some(frame.code()),
                Ok(Some(_)) => {}
                Ok(None) => break None,
                Err(WsError::Closed(frame)) => break frame.map(|f| f.code()),
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(end, Some(CloseCode::MESSAGE_TOO_BIG));
    })
    .await;
}

/// axum over HTTP/2 (h2c, prior knowledge) with the extended CONNECT enabled: the same
/// extractor answers 200 and the frames run over the HTTP/2 stream.
#[tokio::test]
async fn rfc8441_websocket_through_axum_over_http2() {
    bounded(async {
        let app = Router::new().route(
            "/ws",
            any(|ws: WebSocketUpgrade| async {
                assert!(ws.is_http2());
                ws.on_upgrade(|mut socket: WebSocket| async move {
                    while let Some(Ok(message)) = socket.recv().await {
                        if socket.send(message).await.is_err() {
                            return;
                        }
                    }
                })
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let service = hyper_util::service::TowerToHyperService::new(app);
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder.http2().enable_connect_protocol();
            let _ = builder
                .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                .await;
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (mut send, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
                .await
                .unwrap();
        tokio::spawn(connection);
        // The server's SETTINGS (with ENABLE_CONNECT_PROTOCOL) arrive with its first answer.
        let probe = http::Request::get(format!("http://{addr}/missing"))
            .version(Version::HTTP_2)
            .body(Empty::<Bytes>::new())
            .unwrap();
        assert_eq!(
            send.send_request(probe).await.unwrap().status(),
            StatusCode::NOT_FOUND
        );
        let mut request = http::Request::builder()
            .method(Method::CONNECT)
            .version(Version::HTTP_2)
            .uri(format!("http://{addr}/ws"))
            .header("sec-websocket-version", "13")
            .body(Empty::<Bytes>::new())
            .unwrap();
        request
            .extensions_mut()
            .insert(Protocol::from_static("websocket"));
        let response = send.send_request(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let upgraded = hyper::upgrade::on(response).await.unwrap();
        let mut ws = WebSocketStream::upgraded_negotiated(
            TokioIo::new(upgraded),
            Role::Client,
            Config::default(),
            Negotiated::new(),
        )
        .unwrap();
        ws.send(Message::text("over HTTP/2 你好 🎉")).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap(),
            Some(Message::text("over HTTP/2 你好 🎉"))
        );
    })
    .await;
}

/// A TCP stream that counts the bytes it carries each way.
struct Counted {
    tcp: TcpStream,
    read: Arc<AtomicUsize>,
    written: Arc<AtomicUsize>,
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.tcp).poll_read(cx, buf);
        self.read
            .fetch_add(buf.filled().len() - before, Ordering::Relaxed);
        polled
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.tcp).poll_write(cx, data);
        if let std::task::Poll::Ready(Ok(n)) = &polled {
            self.written.fetch_add(*n, Ordering::Relaxed);
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Chat messages as a chat server sends them: JSON, mostly CJK, Cyrillic and emoji text.
fn chat_json(i: usize) -> String {
    const ROOMS: [&str; 3] = ["общий", "开发", "random"];
    const FROM: [&str; 5] = ["李雷", "韩梅梅", "Алиса", "田中", "bob"];
    const TEXT: [&str; 8] = [
        "今天的会议改到下午三点 🎉",
        "好的，我马上到",
        "Кто-нибудь видел новый релиз? 🚀",
        "明日の予定を確認してください",
        "收到 👍",
        "这个问题我昨天也遇到了，重启一下服务就好了",
        "Спасибо! 😊",
        "lol 😂😂",
    ];
    format!(
        r#"{{"type":"message","data":{{"room":"{}","id":{},"from":"{}","text":"{}","ts":{}}}}}"#,
        ROOMS[i % 3],
        100_000 + i,
        FROM[i % 5],
        TEXT[(i * 7) % 8],
        1_764_700_000_000u64 + (i as u64) * 1_337
    )
}

/// Bytes on the wire for 200 chat messages echoed through axum, with and without
/// permessage-deflate (printed with `--nocapture`); compression must save at least a third.
#[tokio::test]
async fn chat_json_costs_fewer_bytes_with_compression() {
    bounded(async {
        let addr = serve(example::app()).await;
        let mut totals = Vec::new();
        for config in [
            Config::default(),
            Config::default().deflate(DeflateConfig::default()),
        ] {
            let compressed = config.deflate.is_some();
            let (read, written) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let tcp = Counted {
                tcp: TcpStream::connect(addr).await.unwrap(),
                read: Arc::clone(&read),
                written: Arc::clone(&written),
            };
            let request = ClientRequest::from_url(&format!("ws://{addr}/")).unwrap();
            let (mut ws, _) = WebSocketStream::client(tcp, request, config).await.unwrap();
            assert_eq!(ws.connection().deflate_params().is_some(), compressed);
            let (handshake_in, handshake_out) = (
                read.load(Ordering::Relaxed),
                written.load(Ordering::Relaxed),
            );
            let mut raw = 0;
            for i in 0..200 {
                let message = chat_json(i);
                raw += message.len();
                ws.send(Message::text(message.clone())).await.unwrap();
                assert_eq!(ws.recv().await.unwrap(), Some(Message::text(message)));
            }
            let sent = written.load(Ordering::Relaxed) - handshake_out;
            let received = read.load(Ordering::Relaxed) - handshake_in;
            println!(
                "chat JSON x200 ({raw} bytes of text), compression {compressed}: \
                 client sent {sent} B, received {received} B"
            );
            totals.push((sent, received));
            ws.close(CloseCode::NORMAL, "").await.unwrap();
            while let Ok(Some(_)) = ws.recv().await {}
        }
        let (plain, deflated) = (totals[0], totals[1]);
        println!(
            "compressed / plain: sent {:.3}, received {:.3}",
            deflated.0 as f64 / plain.0 as f64,
            deflated.1 as f64 / plain.1 as f64
        );
        assert!(deflated.1 * 3 < plain.1 * 2, "{deflated:?} vs {plain:?}");
        assert!(deflated.0 * 3 < plain.0 * 2, "{deflated:?} vs {plain:?}");
    })
    .await;
}
