//! Behaviour of the tokio adapter itself: cancel safety, timers, backpressure, errors, split.
#![cfg(feature = "tokio")]

use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use wsproto::io::tokio::{WebSocketStream, connect};
use wsproto::io::{Message, Reject, WsError};
use wsproto::{ClientRequest, CloseCode, Config, HandshakeError, ProtocolError, Role, TimeoutKind};

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test timed out")
}

/// A connected client/server pair over an in-memory pipe holding at most `pipe` bytes.
async fn pair(
    pipe: usize,
    client_config: Config,
    server_config: Config,
) -> (WebSocketStream<DuplexStream>, WebSocketStream<DuplexStream>) {
    let (a, b) = tokio::io::duplex(pipe);
    let server = tokio::spawn(WebSocketStream::accept(b, server_config));
    let (client, _) = WebSocketStream::client(a, ClientRequest::new("test", "/"), client_config)
        .await
        .unwrap();
    (client, server.await.unwrap().unwrap())
}

fn payload(i: usize) -> Vec<u8> {
    let len = (i * 397) % 5000;
    (0..len).map(|j| (i + j) as u8).collect()
}

#[tokio::test]
async fn recv_is_cancel_safe() {
    bounded(async {
        // A 64-byte pipe: every message arrives over many reads, so cancellations land in the
        // middle of frames and of headers.
        let (mut client, mut server) = pair(64, Config::default(), Config::default()).await;
        const COUNT: usize = 300;
        let sender = tokio::spawn(async move {
            for i in 0..COUNT {
                let message = if i % 2 == 0 {
                    Message::binary(payload(i))
                } else {
                    Message::text(format!("message {i} {}", "é".repeat(i % 700)))
                };
                client.send(message).await.unwrap();
                if i % 7 == 0 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            client.close(CloseCode::NORMAL, "done").await.unwrap();
            while client.recv().await.unwrap().is_some() {}
        });
        let mut received = Vec::new();
        let mut cancelled = 0u32;
        loop {
            tokio::select! {
                result = server.recv() => match result.unwrap() {
                    Some(Message::Close(_)) => {}
                    Some(message) => received.push(message),
                    None => break,
                },
                () = tokio::time::sleep(Duration::from_micros(200)) => cancelled += 1,
                // Also cancel by yielding: the recv future is dropped after one poll.
                () = tokio::task::yield_now() => cancelled += 1,
            }
        }
        sender.await.unwrap();
        assert!(cancelled > 100, "only {cancelled} cancellations");
        assert_eq!(received.len(), COUNT);
        for (i, message) in received.into_iter().enumerate() {
            let expected = if i % 2 == 0 {
                Message::binary(payload(i))
            } else {
                Message::text(format!("message {i} {}", "é".repeat(i % 700)))
            };
            assert_eq!(message, expected, "message {i}");
        }
    })
    .await;
}

#[tokio::test]
async fn stream_and_sink() {
    bounded(async {
        let (mut client, server) = pair(4096, Config::default(), Config::default()).await;
        // An echo server made of Stream + Sink.
        let echo = tokio::spawn(async move {
            // `StreamExt::split`, as with tokio-tungstenite: (sink, stream).
            let (mut sink, mut stream) = server.split();
            while let Some(message) = stream.next().await {
                let message = message.unwrap();
                if matches!(message, Message::Text(_) | Message::Binary(_)) {
                    sink.send(message).await.unwrap();
                }
            }
        });
        for i in 0..50 {
            client.feed(Message::text(format!("{i}"))).await.unwrap();
        }
        client.flush().await.unwrap();
        for i in 0..50 {
            let next = client.next().await.unwrap().unwrap();
            assert_eq!(next, Message::text(format!("{i}")));
        }
        SinkExt::close(&mut client).await.unwrap();
        let close = client.next().await.unwrap().unwrap();
        assert!(matches!(close, Message::Close(f) if f.code() == CloseCode::NORMAL));
        assert!(
            client.next().await.is_none(),
            "the stream ends after the close"
        );
        echo.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn sink_applies_backpressure() {
    bounded(async {
        let (mut client, mut server) = pair(1024, Config::default(), Config::default()).await;
        client.set_high_water_mark(16 << 10);
        let chunk = vec![7u8; 8 << 10];
        // Nobody reads the server side: the pipe fills, then the queue reaches the mark.
        let mut sent = 0;
        loop {
            // `feed` queues without flushing: only the high-water mark stops it.
            let send = client.feed(Message::binary(chunk.clone()));
            match tokio::time::timeout(Duration::from_millis(100), send).await {
                Ok(result) => {
                    result.unwrap();
                    sent += 1;
                }
                Err(_) => break,
            }
            assert!(sent < 100, "no backpressure");
        }
        assert!(client.connection().transmit_len() < (16 << 10) + chunk.len() + 16);
        // Once the peer reads, everything queued arrives.
        let reader = tokio::spawn(async move {
            let mut n = 0;
            while let Some(Message::Binary(data)) = server.recv().await.unwrap() {
                assert_eq!(data.len(), 8 << 10);
                n += 1;
            }
            n
        });
        client.flush().await.unwrap();
        client.close(CloseCode::NORMAL, "").await.unwrap();
        while client.recv().await.unwrap().is_some() {}
        let received = reader.await.unwrap();
        // The send that timed out may or may not have been queued before it was cancelled.
        assert!(
            received == sent || received == sent + 1,
            "{received} vs {sent}"
        );
    })
    .await;
}

#[tokio::test]
async fn keepalive_keeps_live_peers_and_drops_dead_ones() {
    bounded(async {
        let keepalive =
            Config::default().keepalive(Duration::from_millis(50), Duration::from_millis(200));
        // A live peer answers the pings while it reads.
        let (mut client, mut server) = pair(4096, Config::default(), keepalive.clone()).await;
        let peer = tokio::spawn(async move { while client.recv().await.unwrap().is_some() {} });
        let mut pongs = 0;
        while pongs < 3 {
            match server.recv().await.unwrap() {
                Some(Message::Pong(_)) => pongs += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        server.close(CloseCode::NORMAL, "").await.unwrap();
        while server.recv().await.unwrap().is_some() {}
        peer.await.unwrap();

        // A dead peer (never reads again) is dropped after the pong timeout.
        let (mut client, mut server) = pair(4096, Config::default(), keepalive).await;
        let started = tokio::time::Instant::now();
        let err = server.recv().await.unwrap_err();
        assert!(matches!(err, WsError::Timeout(TimeoutKind::Pong)), "{err}");
        assert_eq!(err.close_code(), Some(CloseCode::INTERNAL_ERROR));
        assert!(started.elapsed() >= Duration::from_millis(250));
        assert!(
            server.recv().await.unwrap().is_none(),
            "ended after the error"
        );
        // Had the peer only been slow, it would find out why: the ping, then a close 1011.
        loop {
            match client.recv().await {
                Ok(Some(Message::Ping(_))) => {}
                Ok(Some(Message::Close(frame))) => {
                    assert_eq!(frame.code(), CloseCode::INTERNAL_ERROR);
                    assert_eq!(frame.reason(), "keepalive ping timeout");
                    break;
                }
                other => panic!("expected the ping and the close frame, got {other:?}"),
            }
        }
    })
    .await;
}

#[tokio::test]
async fn handshake_timeout_drops_silent_clients() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _silent = TcpStream::connect(addr).await.unwrap();
        let (tcp, _) = listener.accept().await.unwrap();
        let config = Config::default().handshake_timeout(Duration::from_millis(100));
        let err = WebSocketStream::accept(tcp, config).await.unwrap_err();
        assert!(
            matches!(err, WsError::Timeout(TimeoutKind::Handshake)),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn rejection_and_bad_requests() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/secret", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let rejected = WebSocketStream::accept_with(tcp, Config::default(), |req| {
                assert_eq!(req.path(), "/secret");
                Reject::forbidden().header("X-Why", "no").body("forbidden")
            })
            .await
            .unwrap_err();
            let (tcp, _) = listener.accept().await.unwrap();
            let bad = WebSocketStream::accept(tcp, Config::default())
                .await
                .unwrap_err();
            (rejected, bad)
        });
        let err = connect(&url, Config::default()).await.unwrap_err();
        assert_eq!(err.http_status(), Some(403));
        assert!(err.is_peer_fault());
        let response = err.response().expect("the refusal's response");
        assert_eq!(response.header_str("X-Why"), Some("no"));
        match &err {
            WsError::Refused { response, body } => {
                assert_eq!(response.status(), 403);
                assert_eq!(&body[..], b"forbidden");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(err.to_string().contains("403: forbidden"), "{err}");
        // A plain HTTP request gets the core's 400 and the connection ends.
        let mut raw =
            TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches("/secret"))
                .await
                .unwrap();
        raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut reply = Vec::new();
        raw.read_to_end(&mut reply).await.unwrap();
        assert!(
            reply.starts_with(b"HTTP/1.1 400"),
            "{}",
            String::from_utf8_lossy(&reply)
        );
        let (rejected, bad) = server.await.unwrap();
        assert!(
            matches!(rejected, WsError::Rejected { status: 403 }),
            "{rejected}"
        );
        assert!(
            matches!(bad, WsError::Handshake(HandshakeError::BadHeader(_))),
            "{bad}"
        );
        assert_eq!(bad.http_status(), Some(400));
    })
    .await;
}

#[tokio::test]
async fn connect_rejects_bad_and_tls_urls() {
    let err = connect("http://example.com/", Config::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, WsError::Url(wsproto::handshake::UrlError::Scheme)),
        "{err}"
    );
    assert!(err.to_string().contains("ws://"), "{err}");
    // A request made from a Host header and a path has nothing to dial.
    let err = connect(ClientRequest::new("example.com", "/"), Config::default())
        .await
        .unwrap_err();
    assert!(matches!(err, WsError::Url(_)), "{err}");
}

#[tokio::test]
async fn protocol_error_sends_close_and_ends() {
    bounded(async {
        let (mut raw, b) = tokio::io::duplex(1024);
        let mut server = WebSocketStream::upgraded(b, Role::Server, Config::default()).unwrap();
        // An unmasked frame from a client breaks RFC 6455 section 5.1.
        raw.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
        let err = server.recv().await.unwrap_err();
        assert!(
            matches!(err, WsError::Protocol(ProtocolError::WrongMasking)),
            "{err}"
        );
        assert_eq!(err.close_code(), Some(CloseCode::PROTOCOL_ERROR));
        assert!(
            server.recv().await.unwrap().is_none(),
            "ended after the error"
        );
        let mut reply = Vec::new();
        raw.read_to_end(&mut reply).await.unwrap();
        // A close frame with code 1002.
        assert_eq!(&reply[..4], &[0x88, reply[1], 0x03, 0xEA]);
    })
    .await;
}

#[tokio::test]
async fn split_write_close_arms_the_readers_close_timer() {
    bounded(async {
        let server_config = Config::default().close_timeout(Duration::from_millis(200));
        // The client never reads again, so our close is never answered.
        let (client, server) = pair(4096, Config::default(), server_config).await;
        let (mut read, mut write) = server.into_split();
        let reader = tokio::spawn(async move {
            let err = read.recv().await.unwrap_err();
            (err, read)
        });
        // Let the reader park on its read first, with no timer armed.
        tokio::time::sleep(Duration::from_millis(50)).await;
        write.close(CloseCode::NORMAL, "bye").await.unwrap();
        let (err, read) = reader.await.unwrap();
        assert!(matches!(err, WsError::Timeout(TimeoutKind::Close)), "{err}");
        assert!(!write.is_open());
        assert!(read.reunite(write).is_ok());
        drop(client);
    })
    .await;
}

#[tokio::test]
async fn reunite_refuses_foreign_halves() {
    let (a1, b1) = pair(1024, Config::default(), Config::default()).await;
    let (a2, _b2) = pair(1024, Config::default(), Config::default()).await;
    let (r1, _w1) = a1.into_split();
    let (_r2, w2) = a2.into_split();
    assert!(r1.reunite(w2).is_err());
    drop(b1);
}
