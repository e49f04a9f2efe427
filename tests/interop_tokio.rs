//! The tokio adapter against tokio-tungstenite over loopback TCP, in both roles.
#![cfg(feature = "tokio")]

use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as TMessage;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{
    CloseCode as TCloseCode, Data, OpCode,
};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame as TCloseFrame, Frame};
use wsproto::bytes::Bytes;
use wsproto::io::tokio::{WebSocketStream, connect};
use wsproto::io::{Message, WsError};
use wsproto::{CloseCode, Config, DataKind};

const SIZES: [usize; 8] = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20];

/// Every test is bounded.
async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(120), f)
        .await
        .expect("test timed out")
}

fn text_of(size: usize) -> String {
    // Multi-byte characters where they fit, so UTF-8 is really exercised.
    let mut s = String::with_capacity(size);
    let mut i = 0usize;
    while s.len() < size {
        let c = if size - s.len() >= 2 && i.is_multiple_of(3) {
            'é'
        } else {
            char::from(b'a' + (i % 26) as u8)
        };
        s.push(c);
        i += 1;
    }
    s
}

fn binary_of(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 31 % 251) as u8).collect()
}

async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    (listener, url)
}

/// Our server: echoes data messages; returns every message it received, close included, and
/// the error that ended it (`None` for the clean end).
async fn our_echo_server(listener: TcpListener) -> (Vec<Message>, Option<WsError>) {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut ws = WebSocketStream::accept(tcp, Config::default())
        .await
        .unwrap();
    let mut seen = Vec::new();
    loop {
        match ws.recv().await {
            Ok(Some(msg)) => {
                if matches!(msg, Message::Text(_) | Message::Binary(_)) {
                    ws.send(msg.clone()).await.unwrap();
                }
                seen.push(msg);
            }
            Ok(None) => return (seen, None),
            Err(e) => return (seen, Some(e)),
        }
    }
}

/// A tungstenite server: echoes data messages until the stream ends; returns what it saw.
async fn tung_echo_server(listener: TcpListener) -> Vec<TMessage> {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
    let mut seen = Vec::new();
    while let Some(Ok(msg)) = ws.next().await {
        if msg.is_text() || msg.is_binary() {
            ws.send(msg.clone()).await.unwrap();
        }
        seen.push(msg);
    }
    seen
}

async fn tung_client(url: &str) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let tcp = TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches('/'))
        .await
        .unwrap();
    let (ws, _) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
    ws
}

/// The next data or pong message from a tungstenite stream (it answers pings itself).
async fn tung_next(ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>) -> TMessage {
    loop {
        let msg = ws.next().await.unwrap().unwrap();
        if !msg.is_ping() {
            return msg;
        }
    }
}

#[tokio::test]
async fn our_server_tungstenite_client_sizes() {
    bounded(async {
        let (listener, url) = bind().await;
        let server = tokio::spawn(our_echo_server(listener));
        let mut ws = tung_client(&url).await;
        for size in SIZES {
            let text = text_of(size);
            ws.send(TMessage::text(text.clone())).await.unwrap();
            assert_eq!(tung_next(&mut ws).await, TMessage::text(text), "text {size}");
            let data = binary_of(size);
            ws.send(TMessage::binary(data.clone())).await.unwrap();
            assert_eq!(tung_next(&mut ws).await, TMessage::binary(data), "binary {size}");
        }
        ws.close(None).await.unwrap();
        while ws.next().await.is_some() {}
        let (seen, end) = server.await.unwrap();
        assert_eq!(seen.len(), SIZES.len() * 2 + 1);
        assert!(matches!(seen.last(), Some(Message::Close(f)) if f.code() == CloseCode::NO_STATUS_RECEIVED));
        assert!(end.is_none(), "not a clean end: {end:?}");
    })
    .await;
}

#[tokio::test]
async fn our_client_tungstenite_server_sizes() {
    bounded(async {
        let (listener, url) = bind().await;
        let server = tokio::spawn(tung_echo_server(listener));
        let (mut ws, response) = connect(&url, Config::default()).await.unwrap();
        assert_eq!(response.status(), 101);
        for size in SIZES {
            let text = text_of(size);
            ws.send(Message::text(text.clone())).await.unwrap();
            assert_eq!(
                ws.recv().await.unwrap().unwrap(),
                Message::text(text),
                "text {size}"
            );
            let data = binary_of(size);
            ws.send(Message::binary(data.clone())).await.unwrap();
            assert_eq!(
                ws.recv().await.unwrap().unwrap(),
                Message::binary(data),
                "binary {size}"
            );
        }
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
        let close = ws.recv().await.unwrap().unwrap();
        assert!(matches!(close, Message::Close(f) if f.code() == CloseCode::NORMAL));
        assert!(ws.recv().await.unwrap().is_none(), "the clean end");
        let seen = server.await.unwrap();
        assert_eq!(seen.len(), SIZES.len() * 2 + 1);
        match seen.last() {
            Some(TMessage::Close(Some(frame))) => {
                assert_eq!(frame.code, TCloseCode::Normal);
                assert_eq!(frame.reason.as_str(), "done");
            }
            other => panic!("expected close, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn fragmented_messages_both_ways() {
    bounded(async {
        // tungstenite sends fragments to our server.
        let (listener, url) = bind().await;
        let server = tokio::spawn(our_echo_server(listener));
        let mut ws = tung_client(&url).await;
        let parts = ["frag", "mént", "ed ", "", "text"];
        for (i, part) in parts.iter().enumerate() {
            let opcode = if i == 0 {
                OpCode::Data(Data::Text)
            } else {
                OpCode::Data(Data::Continue)
            };
            let frame = Frame::message(part.as_bytes().to_vec(), opcode, i == parts.len() - 1);
            ws.send(TMessage::Frame(frame)).await.unwrap();
            // A ping in the middle of a fragmented message is allowed.
            if i == 1 {
                ws.send(TMessage::Ping(b"mid".to_vec().into()))
                    .await
                    .unwrap();
            }
        }
        assert_eq!(
            tung_next(&mut ws).await,
            TMessage::Pong(b"mid".to_vec().into())
        );
        assert_eq!(tung_next(&mut ws).await, TMessage::text(parts.concat()));
        ws.close(None).await.unwrap();
        while ws.next().await.is_some() {}
        let (seen, _) = server.await.unwrap();
        assert_eq!(seen[1], Message::text(parts.concat()));

        // Our client sends fragments to tungstenite.
        let (listener, url) = bind().await;
        let server = tokio::spawn(tung_echo_server(listener));
        let (mut ws, _) = connect(&url, Config::default()).await.unwrap();
        ws.send_fragment(DataKind::Binary, &[1, 2, 3], false)
            .await
            .unwrap();
        ws.send(Message::Ping(Bytes::from_static(b"x")))
            .await
            .unwrap();
        ws.send_fragment(DataKind::Binary, &[], false)
            .await
            .unwrap();
        ws.send_fragment(DataKind::Binary, &[4, 5], true)
            .await
            .unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            got.push(ws.recv().await.unwrap().unwrap());
        }
        assert!(got.contains(&Message::binary(vec![1, 2, 3, 4, 5])));
        assert!(
            got.iter()
                .any(|m| matches!(m, Message::Pong(p) if p[..] == b"x"[..]))
        );
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        while ws.recv().await.unwrap().is_some() {}
        let seen = server.await.unwrap();
        assert_eq!(seen[0], TMessage::Ping(b"x".to_vec().into()));
        assert_eq!(seen[1], TMessage::binary(vec![1, 2, 3, 4, 5]));
    })
    .await;
}

#[tokio::test]
async fn pings_are_answered_both_ways() {
    bounded(async {
        // Our client pings a tungstenite server.
        let (listener, url) = bind().await;
        let server = tokio::spawn(tung_echo_server(listener));
        let (mut ws, _) = connect(&url, Config::default()).await.unwrap();
        let payload = Bytes::from_static(b"are you there");
        ws.send(Message::Ping(payload.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::Pong(payload));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        while ws.recv().await.unwrap().is_some() {}
        server.await.unwrap();

        // A tungstenite client pings our server.
        let (listener, url) = bind().await;
        let server = tokio::spawn(our_echo_server(listener));
        let mut ws = tung_client(&url).await;
        ws.send(TMessage::Ping(b"hello?".to_vec().into()))
            .await
            .unwrap();
        assert_eq!(
            tung_next(&mut ws).await,
            TMessage::Pong(b"hello?".to_vec().into())
        );
        ws.close(None).await.unwrap();
        while ws.next().await.is_some() {}
        let (seen, _) = server.await.unwrap();
        assert!(matches!(&seen[0], Message::Ping(p) if p[..] == b"hello?"[..]));
    })
    .await;
}

#[tokio::test]
async fn close_handshake_completes_both_ways() {
    bounded(async {
        // Our server closes; the tungstenite client answers.
        let (listener, url) = bind().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = WebSocketStream::accept(tcp, Config::default())
            .await
            .unwrap();
            ws.close(CloseCode::GOING_AWAY, "shutting down").await.unwrap();
            let echo = ws.recv().await.unwrap().unwrap();
            let end = ws.recv().await.unwrap();
            (echo, end, ws.connection().close_received())
        });
        let mut ws = tung_client(&url).await;
        match ws.next().await {
            Some(Ok(TMessage::Close(Some(frame)))) => {
                assert_eq!(frame.code, TCloseCode::Away);
                assert_eq!(frame.reason.as_str(), "shutting down");
            }
            other => panic!("expected close, got {other:?}"),
        }
        // tungstenite queued its echo; the stream ends once the server closes the transport.
        while ws.next().await.is_some() {}
        let (echo, end, received) = server.await.unwrap();
        assert!(matches!(echo, Message::Close(f) if f.code() == CloseCode::GOING_AWAY));
        assert_eq!(end, None, "the clean end");
        assert_eq!(received.map(|f| f.code()), Some(CloseCode::GOING_AWAY));

        // The tungstenite server closes; our client answers.
        let (listener, url) = bind().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            ws.close(Some(TCloseFrame {
                code: TCloseCode::Normal,
                reason: "bye".into(),
            }))
            .await
            .unwrap();
            let mut rest = Vec::new();
            while let Some(msg) = ws.next().await {
                rest.push(msg.map_err(|e| e.to_string()));
            }
            rest
        });
        let (mut ws, _) = connect(&url, Config::default()).await.unwrap();
        let close = ws.recv().await.unwrap().unwrap();
        assert!(matches!(close, Message::Close(f) if f.code() == CloseCode::NORMAL && f.reason() == "bye"));
        assert!(ws.recv().await.unwrap().is_none(), "the clean end");
        let rest = server.await.unwrap();
        // tungstenite reports our echo, then the stream ends.
        assert!(
            matches!(rest.first(), Some(Ok(TMessage::Close(Some(f)))) if f.code == TCloseCode::Normal),
            "{rest:?}"
        );
        assert_eq!(ws.connection().close_sent().map(|f| f.code()), Some(CloseCode::NORMAL));
    })
    .await;
}

#[tokio::test]
async fn split_reader_alone_answers_pings() {
    bounded(async {
        let (listener, url) = bind().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = WebSocketStream::accept(tcp, Config::default())
                .await
                .unwrap();
            let (mut read, write) = ws.into_split();
            // Only the read half runs; the write half sits idle in another task.
            let reader = tokio::spawn(async move {
                let mut seen = Vec::new();
                while let Some(msg) = read.recv().await.unwrap() {
                    seen.push(msg);
                }
                seen
            });
            let idle = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                drop(write);
            });
            let seen = reader.await.unwrap();
            idle.abort();
            seen
        });
        let mut ws = tung_client(&url).await;
        for i in 0..20u8 {
            let payload = vec![i; usize::from(i)];
            ws.send(TMessage::Ping(payload.clone().into()))
                .await
                .unwrap();
            assert_eq!(tung_next(&mut ws).await, TMessage::Pong(payload.into()));
        }
        ws.close(None).await.unwrap();
        while ws.next().await.is_some() {}
        let seen = server.await.unwrap();
        assert_eq!(seen.len(), 21, "20 pings and the close");
        assert!(matches!(seen.last(), Some(Message::Close(_))));
    })
    .await;
}

#[tokio::test]
async fn split_halves_in_two_tasks_with_tungstenite() {
    bounded(async {
        let (listener, url) = bind().await;
        let server = tokio::spawn(tung_echo_server(listener));
        let (ws, _) = connect(&url, Config::default()).await.unwrap();
        let (mut read, mut write) = ws.into_split();
        let writer = tokio::spawn(async move {
            for i in 0..200u32 {
                write.send(Message::text(format!("m{i}"))).await.unwrap();
            }
            write.close(CloseCode::NORMAL, "all sent").await.unwrap();
            write
        });
        let mut texts = Vec::new();
        loop {
            match read.recv().await.unwrap() {
                Some(Message::Text(t)) => texts.push(t),
                Some(Message::Close(f)) => assert_eq!(f.code(), CloseCode::NORMAL),
                Some(other) => panic!("unexpected {other:?}"),
                None => break,
            }
        }
        let expected: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
        assert_eq!(texts, expected);
        let write = writer.await.unwrap();
        let ws = read.reunite(write).unwrap();
        assert!(!ws.is_open());
        server.await.unwrap();
    })
    .await;
}
