//! `wsproto::io::futures` on smol and on async-std against tungstenite (blocking, in a std
//! thread) on loopback TCP, in both roles: text and binary echoes of 0 B to 16 MiB, fragments
//! both ways, pings both ways, the close handshake started by either side; plus the Stream and
//! Sink impls, timers, rejection, `upgraded` and `connect`'s URL errors.
#![cfg(feature = "async-io")]

mod interop_peer;

use std::future::poll_fn;
use std::net::TcpListener as StdListener;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use futures_sink::Sink;
use interop_peer::{
    Act, check, check_peer_close, script, tungstenite_client, tungstenite_server, watchdog,
};
use smol::stream::StreamExt;
use wsproto::handshake::UrlError;
use wsproto::io::futures::{
    Answer, AsyncIoTimer, NoTimer, Reject, Timer, WebSocketStream, connect,
};
use wsproto::io::{Message, WsError};
use wsproto::{ClientRequest, CloseCode, Config, Role, TimeoutKind};

/// Runs the script on our side, then expects the connection to end cleanly.
async fn converse<S, T>(ws: &mut WebSocketStream<S, T>, we_close: bool)
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: Timer,
{
    for (i, (act, expect)) in script(we_close).into_iter().enumerate() {
        match act {
            Act::Send(msg) => ws.send(msg).await.unwrap(),
            Act::Fragments(kind, parts) => {
                let n = parts.len();
                for (j, part) in parts.iter().enumerate() {
                    ws.send_fragment(kind, part, j + 1 == n).await.unwrap();
                }
            }
            Act::Close(code, reason) => ws.close(code, reason).await.unwrap(),
        }
        for want in &expect {
            let got = ws.recv().await.unwrap();
            let got = got.unwrap_or_else(|| panic!("step {i}: the connection ended early"));
            check(i, &got, want);
        }
    }
    match ws.recv().await {
        Ok(None) => {}
        other => panic!("expected the clean end, got {other:?}"),
    }
    assert!(!ws.is_open());
}

fn accept_interop(req: &wsproto::Request) -> Answer {
    assert_eq!(req.path(), "/interop");
    Answer::accept()
}

#[test]
fn smol_server_vs_tungstenite_client() {
    watchdog("smol server", || {
        smol::block_on(async {
            let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let peer = tungstenite_client(listener.local_addr().unwrap());
            let (stream, _) = listener.accept().await.unwrap();
            let mut ws = WebSocketStream::accept_with(
                stream,
                Config::default(),
                AsyncIoTimer,
                accept_interop,
            )
            .await
            .unwrap();
            converse(&mut ws, true).await;
            check_peer_close(peer.join().unwrap(), true);
        })
    });
}

#[test]
fn smol_client_vs_tungstenite_server() {
    watchdog("smol client", || {
        smol::block_on(async {
            let listener = StdListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let peer = tungstenite_server(listener);
            let (mut ws, response) = connect(format!("ws://{addr}/interop"), Config::default())
                .await
                .unwrap();
            assert_eq!(response.status(), 101);
            converse(&mut ws, false).await;
            check_peer_close(peer.join().unwrap(), false);
        })
    });
}

#[test]
fn async_std_server_vs_tungstenite_client() {
    watchdog("async-std server", || {
        async_std::task::block_on(async {
            let listener = async_std::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap();
            let peer = tungstenite_client(listener.local_addr().unwrap());
            let (stream, _) = listener.accept().await.unwrap();
            let mut ws = WebSocketStream::accept_with(
                stream,
                Config::default(),
                AsyncIoTimer,
                accept_interop,
            )
            .await
            .unwrap();
            converse(&mut ws, false).await;
            // async-std's `TcpStream::poll_close` only flushes: the socket closes (and the
            // client sees the server end the transport) when it is dropped, as a handler
            // task's stream is when the task ends.
            drop(ws);
            check_peer_close(peer.join().unwrap(), false);
        })
    });
}

#[test]
fn async_std_client_vs_tungstenite_server() {
    watchdog("async-std client", || {
        async_std::task::block_on(async {
            let listener = StdListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let peer = tungstenite_server(listener);
            let stream = async_std::net::TcpStream::connect(addr).await.unwrap();
            let request = ClientRequest::new(addr.to_string(), "/interop");
            let (mut ws, _) =
                WebSocketStream::client(stream, request, Config::default(), AsyncIoTimer)
                    .await
                    .unwrap();
            converse(&mut ws, true).await;
            check_peer_close(peer.join().unwrap(), true);
        })
    });
}

/// Sends through the `Sink` impl: ready, start, flush.
async fn sink_send<K: Sink<Message, Error = WsError> + Unpin>(sink: &mut K, msg: Message) {
    poll_fn(|cx| Pin::new(&mut *sink).poll_ready(cx))
        .await
        .unwrap();
    Pin::new(&mut *sink).start_send(msg).unwrap();
    poll_fn(|cx| Pin::new(&mut *sink).poll_flush(cx))
        .await
        .unwrap();
}

#[test]
fn smol_stream_and_sink_impls() {
    watchdog("smol stream and sink", || {
        smol::block_on(async {
            let listener = StdListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let peer = tungstenite_server(listener);
            let (mut ws, _) = connect(format!("ws://{addr}/"), Config::default())
                .await
                .unwrap();
            // Queue several without flushing in between, then read the echoes as a stream.
            for i in 0..10 {
                poll_fn(|cx| Pin::new(&mut ws).poll_ready(cx))
                    .await
                    .unwrap();
                Pin::new(&mut ws)
                    .start_send(Message::text(format!("m{i}")))
                    .unwrap();
            }
            sink_send(&mut ws, Message::binary(vec![7; 100_000])).await;
            for i in 0..10 {
                assert_eq!(
                    ws.next().await.unwrap().unwrap(),
                    Message::text(format!("m{i}"))
                );
            }
            assert_eq!(
                ws.next().await.unwrap().unwrap(),
                Message::binary(vec![7; 100_000])
            );
            // Closing the sink sends 1000; the stream yields the echo, then ends.
            poll_fn(|cx| Pin::new(&mut ws).poll_close(cx))
                .await
                .unwrap();
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => assert_eq!(frame.code(), CloseCode::NORMAL),
                other => panic!("expected the close echo, got {other:?}"),
            }
            assert!(ws.next().await.is_none());
            assert!(ws.next().await.is_none());
            let close = peer.join().unwrap().expect("peer got our close");
            assert_eq!(u16::from(close.code), 1000);
        })
    });
}

#[test]
fn smol_handshake_timeout_fires() {
    watchdog("smol handshake timeout", || {
        smol::block_on(async {
            let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            // A client that connects and says nothing.
            let _silent = smol::net::TcpStream::connect(addr).await.unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            let config = Config::default().handshake_timeout(Duration::from_millis(200));
            let start = Instant::now();
            let err = WebSocketStream::accept(stream, config, AsyncIoTimer)
                .await
                .unwrap_err();
            assert!(
                matches!(err, WsError::Timeout(TimeoutKind::Handshake)),
                "{err}"
            );
            let took = start.elapsed();
            assert!(
                took >= Duration::from_millis(200) && took < Duration::from_secs(5),
                "{took:?}"
            );
        })
    });
}

#[test]
fn async_std_keepalive_pings_then_pong_timeout() {
    watchdog("async-std keepalive", || {
        async_std::task::block_on(async {
            let listener = StdListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            // A server that completes the handshake, then stops reading (so never pongs).
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let peer = std::thread::spawn(move || {
                let (stream, _) = listener.accept().unwrap();
                let ws = tungstenite::accept(stream).unwrap();
                let _ = rx.recv_timeout(Duration::from_secs(10));
                drop(ws);
            });
            let stream = async_std::net::TcpStream::connect(addr).await.unwrap();
            let config =
                Config::default().keepalive(Duration::from_millis(50), Duration::from_millis(200));
            let (mut ws, _) =
                WebSocketStream::client(stream, ClientRequest::new("x", "/"), config, AsyncIoTimer)
                    .await
                    .unwrap();
            let start = Instant::now();
            let err = ws.recv().await.unwrap_err();
            assert!(matches!(err, WsError::Timeout(TimeoutKind::Pong)), "{err}");
            assert!(
                start.elapsed() >= Duration::from_millis(250),
                "{:?}",
                start.elapsed()
            );
            tx.send(()).unwrap();
            peer.join().unwrap();
        })
    });
}

#[test]
fn smol_rejection_reaches_tungstenite_as_http_status() {
    watchdog("smol reject", || {
        smol::block_on(async {
            let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let client = std::thread::spawn(move || {
                let stream = std::net::TcpStream::connect(addr).unwrap();
                match tungstenite::client(format!("ws://{addr}/"), stream) {
                    Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
                        resp.status().as_u16()
                    }
                    other => panic!("expected an HTTP error, got {:?}", other.map(|_| ())),
                }
            });
            let (stream, _) = listener.accept().await.unwrap();
            let err = WebSocketStream::accept_with(stream, Config::default(), AsyncIoTimer, |_| {
                Reject::unauthorized("Bearer").body("who are you")
            })
            .await
            .unwrap_err();
            assert!(matches!(err, WsError::Rejected { status: 401 }), "{err}");
            assert_eq!(client.join().unwrap(), 401);
        })
    });
}

#[test]
fn smol_upgraded_client_with_no_timer() {
    watchdog("smol upgraded", || {
        smol::block_on(async {
            let listener = StdListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            // The upgrade "happened elsewhere": both sides start with frames.
            let peer = std::thread::spawn(move || {
                let (stream, _) = listener.accept().unwrap();
                let ws = tungstenite::WebSocket::from_raw_socket(
                    stream,
                    tungstenite::protocol::Role::Server,
                    None,
                );
                interop_peer::tungstenite_peer(ws)
            });
            let stream = smol::net::TcpStream::connect(addr).await.unwrap();
            let mut ws =
                WebSocketStream::upgraded(stream, Role::Client, Config::default(), NoTimer)
                    .unwrap();
            assert!(ws.is_open());
            ws.send(Message::text("hello")).await.unwrap();
            assert_eq!(ws.recv().await.unwrap(), Some(Message::text("hello")));
            ws.close(CloseCode::NORMAL, "bye").await.unwrap();
            assert!(matches!(ws.recv().await.unwrap(), Some(Message::Close(_))));
            assert!(matches!(ws.recv().await, Ok(None)));
            check_peer_close(peer.join().unwrap(), true);
        })
    });
}

#[test]
fn connect_rejects_bad_urls_and_wss() {
    smol::block_on(async {
        for (bad, why) in [
            ("http://example.com/", UrlError::Scheme),
            ("ws://", UrlError::MissingHost),
            ("ws://host:99999/", UrlError::BadPort),
            ("ws://a b/", UrlError::InvalidCharacter),
        ] {
            let err = connect(bad, Config::default()).await.unwrap_err();
            assert!(matches!(err, WsError::Url(e) if e == why), "{bad}: {err}");
        }
        let err = connect("wss://example.com/", Config::default())
            .await
            .unwrap_err();
        assert!(matches!(err, WsError::TlsUnavailable(_)), "{err}");
        assert!(
            err.to_string().contains("open the TLS stream yourself"),
            "{err}"
        );
    });
}

/// The futures adapter splits like the tokio one: a write task and a read task share one
/// connection (against tungstenite echoing), then the halves reunite.
#[test]
fn smol_split_halves_send_and_receive_from_two_tasks() {
    watchdog("smol split", || {
        smol::block_on(async {
            let listener = StdListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let peer = std::thread::spawn(move || {
                let (stream, _) = listener.accept().unwrap();
                let ws = tungstenite::WebSocket::from_raw_socket(
                    stream,
                    tungstenite::protocol::Role::Server,
                    None,
                );
                interop_peer::tungstenite_peer(ws)
            });
            let stream = smol::net::TcpStream::connect(addr).await.unwrap();
            let ws =
                WebSocketStream::upgraded(stream, Role::Client, Config::default(), AsyncIoTimer)
                    .unwrap();
            let (mut read, mut write) = ws.into_split();
            let writer = smol::spawn(async move {
                for i in 0..200u32 {
                    write.send(format!("message {i} — 世界")).await.unwrap();
                }
                write
            });
            for i in 0..200u32 {
                let got = read.recv().await.unwrap().expect("a message");
                assert_eq!(got.as_text(), Some(format!("message {i} — 世界").as_str()));
            }
            let write = writer.await;
            let mut ws = read.reunite(write).unwrap();
            ws.close(CloseCode::NORMAL, "bye").await.unwrap();
            assert!(matches!(ws.recv().await.unwrap(), Some(Message::Close(_))));
            assert!(matches!(ws.recv().await, Ok(None)));
            check_peer_close(peer.join().unwrap(), true);
        })
    });
}
